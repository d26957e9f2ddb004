//! One upstream (CoreDNS's `proxy.Proxy`): its address, its health, and
//! the health-check probe. Health is shared by every worker; the probe runs
//! on a thread of its own while the upstream fails.

use super::connection::Transport;
use super::exchange;
use super::metrics;
use super::tls::TlsClient;
use hickory_proto::rr::Name;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    Dns,
    Tls,
}

#[derive(Clone, Debug)]
pub struct HealthConfig {
    pub interval: Duration,
    /// `. IN NS` unless `health_check ... domain` says otherwise.
    pub domain: Name,
    /// RD on the probe (off with `no_rec`).
    pub rec: bool,
    /// `force_tcp` (for plain DNS upstreams) probes over TCP.
    pub tcp: bool,
}

pub struct Upstream {
    /// `forward` (or `proxy`), the metrics' `proxy_name`.
    pub proxy_name: &'static str,
    /// `host:port` as configured: the metrics' `to`.
    pub addr_text: String,
    pub addr: SocketAddr,
    pub tls: Option<Arc<TlsClient>>,
    pub source: Option<IpAddr>,
    hc: HealthConfig,
    fails: AtomicU32,
    probing: AtomicBool,
    /// Set when the plugin instance goes away: probes stop.
    stopped: Arc<AtomicBool>,
    /// CoreDNS's moving average of dial times, in nanoseconds.
    avg_dial: AtomicI64,
}

const MIN_DIAL: Duration = Duration::from_secs(1);
const MAX_DIAL: Duration = Duration::from_secs(30);
/// The probe's read and write timeouts (CoreDNS's health checker).
pub const HC_TIMEOUT: Duration = Duration::from_secs(1);

impl Upstream {
    /// One exchange's time, by the reply's rcode
    /// (`coredns_proxy_request_duration_seconds`).
    pub fn observe(&self, worker: &crate::plugin::Worker, rcode: u16, start: std::time::Instant) {
        let rc = crate::wire::mnemonics::rcode_text(rcode);
        worker.metrics(|s| {
            s.observe(
                &metrics::PROXY_REQUEST_DURATION,
                &[self.proxy_name, &self.addr_text, &rc],
                start.elapsed().as_secs_f64(),
            )
        });
    }

    pub fn new(
        proxy_name: &'static str,
        addr_text: String,
        addr: SocketAddr,
        tls: Option<Arc<TlsClient>>,
        hc: HealthConfig,
        source: Option<IpAddr>,
        stopped: Arc<AtomicBool>,
    ) -> Self {
        Self {
            proxy_name,
            addr_text,
            addr,
            tls,
            source,
            hc,
            fails: AtomicU32::new(0),
            probing: AtomicBool::new(false),
            stopped,
            avg_dial: AtomicI64::new((MAX_DIAL / 2).as_nanos() as i64),
        }
    }

    pub fn fails(&self) -> u32 {
        self.fails.load(Ordering::Relaxed)
    }

    /// Down: more consecutive failed probes than `max_fails` (never with 0).
    pub fn down(&self, max_fails: u32) -> bool {
        max_fails != 0 && self.fails() > max_fails
    }

    /// The dial timeout: twice the average dial time, within 1s..30s.
    pub fn dial_timeout(&self) -> Duration {
        let avg = Duration::from_nanos(self.avg_dial.load(Ordering::Relaxed).max(0) as u64);
        if avg < MIN_DIAL {
            MIN_DIAL
        } else if avg < MAX_DIAL / 2 {
            2 * avg
        } else {
            MAX_DIAL
        }
    }

    pub fn dialed(&self, took: Duration) {
        let avg = self.avg_dial.load(Ordering::Relaxed);
        let delta = (took.as_nanos() as i64 - avg) / 4;
        self.avg_dial.fetch_add(delta, Ordering::Relaxed);
    }

    /// Starts probing unless a probe is already running: one probe every
    /// health-check interval until one gets a reply.
    pub fn healthcheck(self: &Arc<Self>) {
        if self.stopped.load(Ordering::Relaxed) || self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let up = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("forward-hc".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(_) => {
                        up.probing.store(false, Ordering::Release);
                        return;
                    }
                };
                rt.block_on(up.probe_loop());
            });
        if spawned.is_err() {
            self.probing.store(false, Ordering::Release);
        }
    }

    async fn probe_loop(&self) {
        loop {
            if self.check().await {
                break;
            }
            tokio::time::sleep(self.hc.interval).await;
            if self.stopped.load(Ordering::Relaxed) {
                // Like CoreDNS's stopped probe: never idle again.
                return;
            }
        }
        self.probing.store(false, Ordering::Release);
    }

    /// One probe: any reply at all means healthy.
    pub async fn check(&self) -> bool {
        let transport = match (&self.tls, self.hc.tcp) {
            (Some(_), _) => Transport::Tls,
            (None, true) => Transport::Tcp,
            (None, false) => Transport::Udp,
        };
        let ok = exchange::probe(self, transport, &self.hc.domain, self.hc.rec).await;
        if ok {
            self.fails.store(0, Ordering::Relaxed);
        } else {
            crate::metrics::with(crate::metrics::global(), |s| {
                s.inc(
                    &metrics::PROXY_HEALTHCHECK_FAILURES,
                    &[self.proxy_name, &self.addr_text],
                )
            });
            let _ = self
                .fails
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |f| f.checked_add(1));
        }
        ok
    }
}
