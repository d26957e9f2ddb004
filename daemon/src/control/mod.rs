//! The HTTP side: the endpoints of the *prometheus* (`/metrics`), *health*
//! (`/health`) and *ready* (`/ready`) plugins.
//!
//! Each distinct listen address is served once, with the routes of every
//! plugin that named it, by a small HTTP/1.1 server on a thread of its own
//! (a single-threaded tokio runtime): nothing here touches the DNS workers.
//! Addresses are bound in the caller's thread, so a bind failure is an
//! error of [`Endpoints::start`] (or [`Endpoints::update`] on reload).

pub mod addr;
pub mod http;
pub mod readiness;

use crate::gocompat::{duration, errno};
use crate::metrics::{self, HEALTH_DURATION, HEALTH_FAILURES};
use arc_swap::ArcSwap;
use http::{ParseError, Response};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};

/// Go's http.Server Read/Write/IdleTimeout in these plugins.
const TIMEOUT: Duration = Duration::from_secs(5);
/// What promhttp answers a client that states no preference.
pub const METRICS_CONTENT_TYPE: &str =
    "text/plain; version=0.0.4; charset=utf-8; escaping=underscores";

/// What a plugin serves at an address.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// prometheus: `/metrics`.
    Metrics,
    /// health: `/health`, and the wait before shutting down.
    Health { lameduck: Duration },
    /// ready: `/ready`; `monitor continuously` asks ready plugins again.
    Ready { continuously: bool },
}

/// One plugin's endpoint, as set up from the Corefile.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpSpec {
    /// As written (`localhost:9153`, `:8080`).
    pub addr: String,
    pub route: Route,
}

/// Everything the HTTP side needs from one Corefile.
#[derive(Default)]
pub struct HttpConfig {
    pub specs: Vec<HttpSpec>,
    /// `coredns_plugin_enabled` series: server, zone, view, plugin name.
    pub plugin_enabled: Vec<[String; 4]>,
    /// The readiness of the plugins of the blocks that load *ready*.
    pub readiness: Vec<(&'static str, readiness::Flag)>,
    /// The `monitor` of the last *ready* set up.
    pub ready_continuously: bool,
}

impl HttpConfig {
    /// Adds a block's endpoint. prometheus and ready named twice at one
    /// address serve once; every health is kept, as each waits out its own
    /// lameduck at shutdown.
    pub fn add(&mut self, spec: HttpSpec) {
        if let Route::Ready { continuously } = spec.route {
            self.ready_continuously = continuously;
        }
        let health = matches!(spec.route, Route::Health { .. });
        if health || !self.specs.contains(&spec) {
            self.specs.push(spec);
        }
    }

    /// The total lameduck wait: each health waits its own, one after the other.
    pub fn lameduck(&self) -> Duration {
        self.specs
            .iter()
            .map(|s| match s.route {
                Route::Health { lameduck } => lameduck,
                _ => Duration::ZERO,
            })
            .sum()
    }
}

/// A start or reload failure, worded like Go's (`listen tcp :8080: bind: address already in use`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Routes {
    metrics: bool,
    health: bool,
    ready: bool,
}

struct Listener {
    addr: SocketAddr,
    routes: Arc<ArcSwap<Routes>>,
    /// Dropping it stops the listener and its connections.
    _stop: watch::Sender<bool>,
}

struct HealthCheck {
    lameduck: Duration,
    _stop: watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    listeners: Vec<Listener>,
    health: Vec<HealthCheck>,
}

/// The running endpoints.
pub struct Endpoints {
    handle: tokio::runtime::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
    quit: Option<oneshot::Sender<()>>,
    state: Mutex<State>,
    /// Set by [`Endpoints::enter_lameduck`]: `/ready` answers 503.
    shutting_down: Arc<AtomicBool>,
}

impl Endpoints {
    /// Binds every address of `cfg` and serves them; sets the metrics that
    /// CoreDNS sets at start (build info, plugin_enabled).
    pub fn start(cfg: &HttpConfig) -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error(format!("http runtime: {e}")))?;
        let handle = rt.handle().clone();
        let (quit, quit_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ferrodns-http".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = quit_rx.await;
                });
            })
            .map_err(|e| Error(format!("http thread: {e}")))?;
        let e = Endpoints {
            handle,
            thread: Some(thread),
            quit: Some(quit),
            state: Mutex::new(State::default()),
            shutting_down: Arc::new(AtomicBool::new(false)),
        };
        metrics::with(metrics::global(), |m| {
            m.set(
                &metrics::BUILD_INFO,
                &[
                    env!("CARGO_PKG_VERSION"),
                    option_env!("FERRODNS_COMMIT").unwrap_or(""),
                    "rustc",
                ],
                1.0,
            );
            // Unlabelled Go counters exist from the start.
            m.add(&metrics::PANICS, &[], 0.0);
        });
        e.update(cfg)?;
        Ok(e)
    }

    /// Applies a new configuration (on reload): listeners whose address is
    /// unchanged keep running with the new routes, new addresses are bound
    /// (nothing changes if one fails), removed ones are closed.
    pub fn update(&self, cfg: &HttpConfig) -> Result<(), Error> {
        let wanted = group(&cfg.specs)?;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut fresh = Vec::new();
        for (a, text, routes) in &wanted {
            if st.listeners.iter().any(|l| l.addr == *a) {
                continue;
            }
            match bind(*a) {
                Ok(l) => fresh.push((*a, *routes, l)),
                Err(e) => {
                    let msg = format!(
                        "listen tcp {}: bind: {}",
                        addr::listen_text(*a),
                        errno::text(&e)
                    );
                    if routes.metrics {
                        crate::log::error(
                            Some("prometheus"),
                            &format!("Failed to start metrics handler: {msg}"),
                        );
                    }
                    let _ = text;
                    return Err(Error(msg));
                }
            }
        }
        st.listeners
            .retain(|l| wanted.iter().any(|(a, _, _)| *a == l.addr));
        for l in &st.listeners {
            if let Some((_, _, r)) = wanted.iter().find(|(a, _, _)| *a == l.addr) {
                l.routes.store(Arc::new(*r));
            }
        }
        for (a, routes, std) in fresh {
            let (stop, stop_rx) = watch::channel(false);
            let routes = Arc::new(ArcSwap::from_pointee(routes));
            self.spawn_listener(std, Arc::clone(&routes), stop_rx);
            st.listeners.push(Listener {
                addr: a,
                routes,
                _stop: stop,
            });
        }
        // CoreDNS restarts each health's self check on reload.
        st.health.clear();
        for s in &cfg.specs {
            if let Route::Health { lameduck } = s.route {
                let (stop, stop_rx) = watch::channel(false);
                let target = addr::resolve(&s.addr).map_err(Error)?;
                self.spawn_health_check(s.addr.clone(), target, stop_rx);
                st.health.push(HealthCheck {
                    lameduck,
                    _stop: stop,
                });
            }
        }
        drop(st);
        metrics::with(metrics::global(), |m| {
            m.clear(&metrics::PLUGIN_ENABLED);
            for [server, zone, view, name] in &cfg.plugin_enabled {
                m.set(&metrics::PLUGIN_ENABLED, &[server, zone, view, name], 1.0);
            }
            if !st_health_empty(cfg) {
                m.add(&HEALTH_FAILURES, &[], 0.0);
            }
        });
        readiness::install(&cfg.readiness, cfg.ready_continuously);
        Ok(())
    }

    /// The addresses served now.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.listeners.iter().map(|l| l.addr).collect()
    }

    /// The total lameduck wait of the running health endpoints, if any.
    pub fn lameduck(&self) -> Option<Duration> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let total: Duration = st.health.iter().map(|h| h.lameduck).sum();
        (!total.is_zero()).then_some(total)
    }

    /// What CoreDNS does on SIGTERM and SIGINT before it stops serving DNS:
    /// `/ready` stops answering, then each health with a lameduck logs
    /// `Going into lameduck mode for D` and waits D. Blocks meanwhile; the
    /// caller keeps serving DNS and shuts down afterwards.
    pub fn enter_lameduck(&self) {
        self.shutting_down.store(true, Ordering::Release);
        let waits: Vec<Duration> = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            // ready shuts its server down first (it comes before health in plugin.cfg).
            st.listeners.retain(|l| {
                let r = l.routes.load();
                !(r.ready && !r.metrics && !r.health)
            });
            st.health.iter().map(|h| h.lameduck).collect()
        };
        for d in waits.into_iter().filter(|d| !d.is_zero()) {
            crate::log::info(
                Some("health"),
                &format!("Going into lameduck mode for {}", duration::format(d)),
            );
            std::thread::sleep(d);
        }
    }

    /// Closes every endpoint and stops the HTTP thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.listeners.clear();
            st.health.clear();
        }
        if let Some(q) = self.quit.take() {
            let _ = q.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn spawn_listener(
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

    /// CoreDNS's health self check: once a second, GET its own `/health`,
    /// timing it into `coredns_health_request_duration_seconds`.
    fn spawn_health_check(
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
                    .unwrap_or_else(|_| {
                        Err("Client.Timeout exceeded while awaiting headers".into())
                    });
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

fn st_health_empty(cfg: &HttpConfig) -> bool {
    !cfg.specs
        .iter()
        .any(|s| matches!(s.route, Route::Health { .. }))
}

impl Drop for Endpoints {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The listeners to run: one per resolved address, with the union of the
/// routes named there.
fn group(specs: &[HttpSpec]) -> Result<Vec<(SocketAddr, String, Routes)>, Error> {
    let mut out: Vec<(SocketAddr, String, Routes)> = Vec::new();
    for s in specs {
        let a = addr::resolve(&s.addr).map_err(Error)?;
        let i = match out.iter().position(|(x, _, _)| *x == a && a.port() != 0) {
            Some(i) => i,
            None => {
                out.push((a, s.addr.clone(), Routes::default()));
                out.len() - 1
            }
        };
        let r = &mut out[i].2;
        match s.route {
            Route::Metrics => r.metrics = true,
            Route::Health { .. } => r.health = true,
            Route::Ready { .. } => r.ready = true,
        }
    }
    Ok(out)
}

/// Go's reuseport.Listen: SO_REUSEADDR and SO_REUSEPORT, dual stack for `:PORT`.
fn bind(a: SocketAddr) -> std::io::Result<std::net::TcpListener> {
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

fn loopback_if_any(a: SocketAddr) -> SocketAddr {
    if !a.ip().is_unspecified() {
        return a;
    }
    match a.ip() {
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), a.port()),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), a.port()),
    }
}

async fn get_health(target: SocketAddr, host: &str) -> Result<(), String> {
    let mut s = TcpStream::connect(target)
        .await
        .map_err(|e| format!("dial tcp {host}: connect: {}", errno::text(&e)))?;
    let req = format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    if buf.starts_with(b"HTTP/1.") {
        Ok(())
    } else {
        Err("malformed HTTP response".into())
    }
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
                Err(list) => {
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

    #[test]
    fn groups_addresses() {
        let specs = [
            HttpSpec {
                addr: "127.0.0.1:9153".into(),
                route: Route::Metrics,
            },
            HttpSpec {
                addr: "127.0.0.1:9153".into(),
                route: Route::Health {
                    lameduck: Duration::ZERO,
                },
            },
            HttpSpec {
                addr: ":8181".into(),
                route: Route::Ready {
                    continuously: false,
                },
            },
        ];
        let g = group(&specs).unwrap();
        assert_eq!(g.len(), 2);
        assert!(g[0].2.metrics && g[0].2.health && !g[0].2.ready);
        let mut c = HttpConfig::default();
        for s in specs.iter().chain(specs.iter()) {
            c.add(s.clone());
        }
        assert_eq!(c.specs.len(), 4, "health kept per block");
    }
}
