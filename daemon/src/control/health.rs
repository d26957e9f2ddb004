//! health's self check: once a second the server asks its own `/health`,
//! as CoreDNS does, into the health metrics and the log.

use super::Endpoints;
use crate::gocompat::{duration, errno};
use crate::metrics::{self, HEALTH_DURATION, HEALTH_FAILURES};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

impl Endpoints {
    /// CoreDNS's health self check: once a second, GET its own `/health`,
    /// timing it into `coredns_health_request_duration_seconds`.
    pub(super) fn spawn_health_check(
        &self,
        text: String,
        target: SocketAddr,
        mut stop: watch::Receiver<bool>,
    ) {
        self.handle.spawn(async move {
            let url = format!("http://{text}/health");
            let target = loopback_if_any(target);
            let start = tokio::time::Instant::now() + Duration::from_secs(1);
            let mut tick = tokio::time::interval_at(start, Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tick.tick() => {}
                }
                let t0 = std::time::Instant::now();
                let r = tokio::time::timeout(Duration::from_secs(3), get_health(target, &text))
                    .await
                    .unwrap_or(Err(HealthError::Timeout));
                let took = t0.elapsed();
                metrics::with(metrics::global(), |m| {
                    m.observe(&HEALTH_DURATION, &[], took.as_secs_f64());
                    if r.is_err() {
                        m.inc(&HEALTH_FAILURES, &[]);
                    }
                });
                match r {
                    Err(e) => crate::log::warning(
                        Some("health"),
                        &format!("Local health request to {url:?} failed: Get {url:?}: {e}"),
                    ),
                    Ok(()) if took > Duration::from_secs(1) => crate::log::warning(
                        Some("health"),
                        &format!(
                            "Local health request to {url:?} took more than 1s: {}",
                            duration::format(took)
                        ),
                    ),
                    Ok(()) => {}
                }
            }
        });
    }
}

fn loopback_if_any(a: SocketAddr) -> SocketAddr {
    if !a.ip().is_unspecified() {
        return a;
    }
    match a.ip() {
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), a.port()),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), a.port()),
    }
}

/// Why the self check failed, in the words of Go's HTTP client.
#[derive(Debug, thiserror::Error)]
enum HealthError {
    #[error("dial tcp {host}: connect: {}", errno::text(.source))]
    Connect {
        host: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("malformed HTTP response")]
    Malformed,
    #[error("Client.Timeout exceeded while awaiting headers")]
    Timeout,
}

async fn get_health(target: SocketAddr, host: &str) -> Result<(), HealthError> {
    let mut s = TcpStream::connect(target)
        .await
        .map_err(|source| HealthError::Connect {
            host: host.to_string(),
            source,
        })?;
    let req = format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    if buf.starts_with(b"HTTP/1.") {
        Ok(())
    } else {
        Err(HealthError::Malformed)
    }
}
