//! The client side of DNS over TLS (`tls://` upstreams): CoreDNS's
//! `tls CERT KEY CA` arguments made into a rustls client configuration.

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, InvalidDnsNameError, PrivateKeyDer, ServerName};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `tls` with 0 to 3 files: none (system roots, no client certificate),
/// CA, CERT KEY, or CERT KEY CA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsArgs {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub ca: Option<PathBuf>,
}

impl TlsArgs {
    pub fn new(files: Vec<PathBuf>) -> Self {
        let mut it = files.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(ca), None, None) => Self {
                ca: Some(ca),
                ..Self::default()
            },
            (Some(cert), Some(key), ca) => Self {
                cert: Some(cert),
                key: Some(key),
                ca,
            },
            _ => Self::default(),
        }
    }
}

/// What one TLS upstream needs to connect.
pub struct TlsClient {
    pub config: Arc<rustls::ClientConfig>,
    /// The name checked against the certificate; None: the upstream's IP.
    pub server_name: Option<ServerName<'static>>,
}

/// A PEM file of certificates that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("open {}: {source}", .path.display())]
    Open { path: PathBuf, source: pem::Error },
    #[error("{}: {source}", .path.display())]
    Pem { path: PathBuf, source: pem::Error },
    #[error("{}: no certificates found", .0.display())]
    Empty(PathBuf),
}

/// Why `tls`'s files or a TLS server name are refused.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("error reading CA file: {0}")]
    ReadCa(CertError),
    #[error("error parsing CA file {}: {source}", .path.display())]
    ParseCa {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error(transparent)]
    Protocols(rustls::Error),
    #[error("could not load TLS cert: {0}")]
    Cert(CertError),
    #[error("could not load TLS cert: {}: {source}", .path.display())]
    Key { path: PathBuf, source: pem::Error },
    #[error("could not load TLS cert: {0}")]
    ClientAuth(rustls::Error),
    #[error("invalid tls_servername '{name}': {source}")]
    ServerName {
        name: String,
        source: InvalidDnsNameError,
    },
}

fn read_certs(p: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(p)
        .map_err(|source| CertError::Open {
            path: p.to_path_buf(),
            source,
        })?
        .collect();
    let certs = certs.map_err(|source| CertError::Pem {
        path: p.to_path_buf(),
        source,
    })?;
    if certs.is_empty() {
        return Err(CertError::Empty(p.to_path_buf()));
    }
    Ok(certs)
}

/// The client configuration for `args`, checking `server_name` when given.
pub fn client_config(
    args: &TlsArgs,
    server_name: Option<&str>,
) -> Result<Arc<TlsClient>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match &args.ca {
        Some(ca) => {
            for c in read_certs(ca).map_err(TlsError::ReadCa)? {
                roots.add(c).map_err(|source| TlsError::ParseCa {
                    path: ca.clone(),
                    source,
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocols)?
        .with_root_certificates(roots);
    let config = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert).map_err(TlsError::Cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key {
                path: key.clone(),
                source,
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(TlsError::ClientAuth)?
        }
        _ => builder.with_no_client_auth(),
    };
    let server_name =
        match server_name {
            Some(n) => Some(ServerName::try_from(n.to_string()).map_err(|source| {
                TlsError::ServerName {
                    name: n.to_string(),
                    source,
                }
            })?),
            None => None,
        };
    Ok(Arc::new(TlsClient {
        config: Arc::new(config),
        server_name,
    }))
}
