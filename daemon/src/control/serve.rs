//! Serving the endpoints: the listening sockets, one HTTP/1.1 connection
//! at a time per client, and what each path answers.

use super::config::Routes;
use super::http::{self, ParseError, Response};
use super::{readiness, Endpoints};
use crate::metrics;
use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Go's http.Server Read/Write/IdleTimeout in these plugins.
const TIMEOUT: Duration = Duration::from_secs(5);
/// What promhttp answers a client that states no preference.
pub const METRICS_CONTENT_TYPE: &str =
    "text/plain; version=0.0.4; charset=utf-8; escaping=underscores";

impl Endpoints {
    pub(super) fn spawn_listener(
        &self,
        std: std::net::TcpListener,
        routes: Arc<ArcSwap<Routes>>,
        mut stop: watch::Receiver<bool>,
    ) {
        let shutting = Arc::clone(&self.shutting_down);
        self.handle.spawn(async move {
            let Ok(l) = tokio::net::TcpListener::from_std(std) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    r = l.accept() => {
                        if let Ok((s, _)) = r {
                            tokio::spawn(serve_conn(
                                s,
                                Arc::clone(&routes),
                                Arc::clone(&shutting),
                                stop.clone(),
                            ));
                        }
                    }
                }
            }
        });
    }
}

/// Go's reuseport.Listen: SO_REUSEADDR and SO_REUSEPORT, dual stack for `:PORT`.
pub(super) fn bind(a: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(a), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if a.is_ipv6() && a.ip().is_unspecified() {
        let _ = s.set_only_v6(false);
    }
    s.bind(&a.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

async fn serve_conn(
    mut s: TcpStream,
    routes: Arc<ArcSwap<Routes>>,
    shutting: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let head = loop {
            match http::parse(&buf) {
                Ok(h) => break h,
                Err(ParseError::Bad(why)) => {
                    let _ = write(&mut s, &http::bad_request(why)).await;
                    return;
                }
                Err(ParseError::Partial) if buf.len() > http::MAX_HEAD => {
                    let _ = write(&mut s, &http::too_large()).await;
                    return;
                }
                Err(ParseError::Partial) => {
                    let n = tokio::select! {
                        _ = stop.changed() => return,
                        r = tokio::time::timeout(TIMEOUT, s.read(&mut chunk)) => match r {
                            Ok(Ok(n)) if n > 0 => n,
                            _ => return,
                        },
                    };
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        };
        let end = http::head_end(&buf).unwrap_or(buf.len());
        buf.drain(..end);
        // Discard a body.
        let mut left = head.content_length;
        let take = left.min(buf.len());
        buf.drain(..take);
        left -= take;
        while left > 0 {
            match tokio::time::timeout(TIMEOUT, s.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => return,
            }
        }
        let resp = respond(&head.path, **routes.load(), &shutting);
        let close = !head.keep_alive || head.chunked;
        if write(&mut s, &resp.encode(head.method == "HEAD", close))
            .await
            .is_err()
            || close
        {
            return;
        }
    }
}

async fn write(s: &mut TcpStream, bytes: &[u8]) -> Result<(), ()> {
    match tokio::time::timeout(TIMEOUT, s.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

fn respond(path: &str, routes: Routes, shutting: &AtomicBool) -> Response {
    match path {
        "/metrics" if routes.metrics => Response {
            status: 200,
            content_type: METRICS_CONTENT_TYPE,
            body: metrics::render().into_bytes(),
            nosniff: false,
        },
        "/health" if routes.health => Response::text(200, "OK"),
        "/ready" if routes.ready => {
            if shutting.load(Ordering::Acquire) {
                return Response::text(503, "Shutting down");
            }
            match readiness::check() {
                Ok(()) => Response::text(200, "OK"),
                Err(not_ready) => {
                    let list = not_ready.to_string();
                    crate::log::info(Some("ready"), &format!("Plugins not ready: {list:?}"));
                    Response::text(503, list)
                }
            }
        }
        _ => Response::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_path() {
        let _g = readiness::test_lock();
        readiness::install(&[], false);
        let all = Routes {
            metrics: true,
            health: true,
            ready: true,
        };
        let no = AtomicBool::new(false);
        assert_eq!(respond("/health", all, &no).body, b"OK");
        assert_eq!(respond("/ready", all, &no).status, 200);
        let m = respond("/metrics", all, &no);
        assert_eq!(m.content_type, METRICS_CONTENT_TYPE);
        assert_eq!(respond("/", all, &no).status, 404);
        let only_health = Routes {
            health: true,
            ..Routes::default()
        };
        assert_eq!(respond("/metrics", only_health, &no).status, 404);
        let f = readiness::flag();
        readiness::install(&[("forward", f)], false);
        let r = respond("/ready", all, &no);
        assert_eq!((r.status, r.body), (503, b"forward".to_vec()));
        readiness::install(&[], false);
        let yes = AtomicBool::new(true);
        let r = respond("/ready", all, &yes);
        assert_eq!((r.status, r.body), (503, b"Shutting down".to_vec()));
    }
}
