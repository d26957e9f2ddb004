//! The API server's address and credentials, from what the directive
//! names: a kubeconfig file (and context), `endpoint` with `tls`'s files,
//! or the pod's service account (in-cluster). Read at setup, so a missing
//! file fails start-up with client-go's words, as CoreDNS's does.

use super::setup::Source;
use crate::gocompat::errno;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};
use std::path::Path;

/// Why the API server's configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// client-go's `ErrNotInCluster`.
    #[error("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined")]
    NotInCluster,
    /// A file that cannot be read: Go's `*os.PathError` text.
    #[error("{0}")]
    File(String),
    /// client-go's words for a context the kubeconfig lacks.
    #[error("context {0:?} does not exist")]
    NoContext(String),
    /// client-go's check of `tls`'s files: each one that cannot be read.
    #[error("invalid configuration: {}", aggregate(.0))]
    Invalid(Vec<String>),
    /// A kubeconfig that does not read (kube's words after client-go's).
    #[error("error loading config file {path:?}: {why}")]
    Load { path: String, why: String },
    /// What kube says of a kubeconfig it cannot use (its own words).
    #[error("{0}")]
    Kube(String),
}

/// Where the in-cluster credentials are (client-go's and kube's).
const TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The client configuration `source` describes.
pub fn config(source: &Source) -> Result<kube::Config, ClientError> {
    match source {
        Source::InCluster => {
            let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
            if !set("KUBERNETES_SERVICE_HOST") || !set("KUBERNETES_SERVICE_PORT") {
                return Err(ClientError::NotInCluster);
            }
            readable("open", Path::new(TOKEN_FILE))?;
            kube::Config::incluster().map_err(|e| ClientError::Kube(e.to_string()))
        }
        Source::Kubeconfig { path, context } => {
            // client-go stats the explicit path first.
            if let Err(e) = std::fs::metadata(path) {
                return Err(ClientError::File(errno::path_error("stat", path, &e)));
            }
            let kc = Kubeconfig::read_from(path).map_err(|e| ClientError::Load {
                path: path.display().to_string(),
                why: e.to_string(),
            })?;
            if let Some(ctx) = context {
                if !kc.contexts.iter().any(|c| &c.name == ctx) {
                    return Err(ClientError::NoContext(ctx.clone()));
                }
            }
            load(
                kc,
                &KubeConfigOptions {
                    context: context.clone(),
                    ..Default::default()
                },
            )
        }
        Source::Endpoint { url, tls } => {
            let (cert, key, ca) = match tls {
                Some((c, k, a)) => (Some(c.clone()), Some(k.clone()), Some(a.clone())),
                None => (None, None, None),
            };
            let unreadable: Vec<String> = [
                ("client-cert", &cert),
                ("client-key", &key),
                ("certificate-authority", &ca),
            ]
            .into_iter()
            .filter_map(|(what, f)| {
                let f = f.as_deref()?;
                let e = std::fs::File::open(f).err()?;
                Some(format!(
                    "unable to read {what} {f} for  due to {}",
                    errno::path_error("open", Path::new(f), &e)
                ))
            })
            .collect();
            if !unreadable.is_empty() {
                return Err(ClientError::Invalid(unreadable));
            }
            let kc = Kubeconfig {
                clusters: vec![NamedCluster {
                    name: "coredns".into(),
                    cluster: Some(Cluster {
                        server: Some(url.clone()),
                        certificate_authority: ca,
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                auth_infos: vec![NamedAuthInfo {
                    name: "coredns".into(),
                    auth_info: Some(AuthInfo {
                        client_certificate: cert,
                        client_key: key,
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                contexts: vec![NamedContext {
                    name: "coredns".into(),
                    context: Some(Context {
                        cluster: "coredns".into(),
                        user: Some("coredns".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                current_context: Some("coredns".into()),
                ..Default::default()
            };
            load(kc, &KubeConfigOptions::default())
        }
    }
}

fn readable(op: &str, path: &Path) -> Result<(), ClientError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| ClientError::File(errno::path_error(op, path, &e)))
}

/// apimachinery's `utilerrors.Aggregate` text: one error alone, several in brackets.
fn aggregate(errs: &[String]) -> String {
    match errs {
        [one] => one.clone(),
        _ => format!("[{}]", errs.join(", ")),
    }
}

/// kube's loader is async (exec credentials may run a command); setup is
/// not, so it runs on a runtime of its own for the moment.
fn load(kc: Kubeconfig, opts: &KubeConfigOptions) -> Result<kube::Config, ClientError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Kube(e.to_string()))?;
    rt.block_on(kube::Config::from_custom_kubeconfig(kc, opts))
        .map_err(|e| ClientError::Kube(e.to_string()))
}
