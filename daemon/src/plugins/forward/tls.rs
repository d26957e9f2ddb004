//! The client side of DNS over TLS (`tls://` upstreams): CoreDNS's
//! `tls CERT KEY CA` arguments made into a rustls client configuration.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::PathBuf;
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

fn read_certs(p: &PathBuf) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(p)
        .map_err(|e| format!("open {}: {e}", p.display()))?
        .collect();
    let certs = certs.map_err(|e| format!("{}: {e}", p.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificates found", p.display()));
    }
    Ok(certs)
}

/// The client configuration for `args`, checking `server_name` when given.
pub fn client_config(args: &TlsArgs, server_name: Option<&str>) -> Result<Arc<TlsClient>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match &args.ca {
        Some(ca) => {
            for c in read_certs(ca).map_err(|e| format!("error reading CA file: {e}"))? {
                roots
                    .add(c)
                    .map_err(|e| format!("error parsing CA file {}: {e}", ca.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert).map_err(|e| format!("could not load TLS cert: {e}"))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("could not load TLS cert: {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("could not load TLS cert: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    let server_name = match server_name {
        Some(n) => Some(
            ServerName::try_from(n.to_string())
                .map_err(|e| format!("invalid tls_servername '{n}': {e}"))?,
        ),
        None => None,
    };
    Ok(Arc::new(TlsClient {
        config: Arc::new(config),
        server_name,
    }))
}
