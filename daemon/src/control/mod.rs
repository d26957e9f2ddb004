//! The HTTP side: the endpoints of the *prometheus* (`/metrics`), *health*
//! (`/health`) and *ready* (`/ready`) plugins.
//!
//! Each distinct listen address is served once, with the routes of every
//! plugin that named it, by a small HTTP/1.1 server on a thread of its own
//! (a single-threaded tokio runtime): nothing here touches the DNS workers.
//! Addresses are bound in the caller's thread, so a bind failure is an
//! error of [`Endpoints::start`] (or [`Endpoints::update`] on reload).

pub mod addr;
mod config;
mod health;
pub mod http;
pub mod readiness;
mod serve;

pub use config::{HttpConfig, HttpSpec, Route};
pub use serve::METRICS_CONTENT_TYPE;

use crate::gocompat::{duration, errno};
use crate::metrics::{self, HEALTH_FAILURES};
use arc_swap::ArcSwap;
use config::{group, st_health_empty, Routes};
use serve::bind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// A start or reload failure, worded like Go's (`listen tcp :8080: bind: address already in use`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("http runtime: {0}")]
    Runtime(std::io::Error),
    #[error("http thread: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Address(#[from] addr::ListenError),
    #[error("listen tcp {}: bind: {}", addr::listen_text(*.addr), errno::text(.source))]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
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
            .map_err(Error::Runtime)?;
        let handle = rt.handle().clone();
        let (quit, quit_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ferrodns-http".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = quit_rx.await;
                });
            })
            .map_err(Error::Thread)?;
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
                Err(source) => {
                    let e = Error::Bind { addr: *a, source };
                    if routes.metrics {
                        crate::log::error(
                            Some("prometheus"),
                            &format!("Failed to start metrics handler: {e}"),
                        );
                    }
                    let _ = text;
                    return Err(e);
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
                let target = addr::resolve(&s.addr)?;
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

    /// Closes every endpoint's listener (the thread stays: `update` binds
    /// them again).
    pub fn close(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.listeners.clear();
        st.health.clear();
    }

    /// Closes every endpoint and stops the HTTP thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.close();
        if let Some(q) = self.quit.take() {
            let _ = q.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Endpoints {
    fn drop(&mut self) {
        self.stop();
    }
}
