//! NodeLocal DNSCache's node-cache, as a mode of ferrodns: with `-localip`
//! the flags of node-cache's DaemonSet set up the node's side as node-cache
//! does — the Corefile written from its template (`-basecorefile`, the
//! kube-dns ConfigMap's stub domains and upstreams, the upstream Service's
//! cluster IP), a dummy interface holding the local addresses
//! (`-setupinterface`, `-interfacename`), rules that keep the DNS traffic
//! of those addresses out of conntrack and let it in (`-setupiptables`:
//! nftables, or iptables where only that is there), checked again every
//! `-syncinterval` — and takes it down on exit (unless `-skipteardown`),
//! and on the next start after a crash.

mod net;
mod template;

use crate::metrics::Kind;

crate::metrics::families! {
    SETUP_ERRORS "coredns_nodecache_setup_errors_total" Kind::Counter, ["errortype"],
        "The number of errors during periodic network setup for node-cache";
}

/// node-cache's error types, counted from 0.
pub const ERROR_TYPES: [&str; 5] = [
    "iptables",
    "iptables_lock",
    "interface_add",
    "interface_check",
    "configmap",
];

pub use net::{Firewall, NetError};

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// node-cache's flags, as its DaemonSet gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flags {
    /// `-localip`: comma-separated addresses to serve (and hold on the
    /// interface); node-local mode is on when given.
    pub localip: Option<String>,
    pub setup_interface: bool,
    pub interface: String,
    pub sync_interval: Duration,
    pub setup_rules: bool,
    pub base_corefile: PathBuf,
    pub kubedns_cm: Option<PathBuf>,
    pub upstream_svc: String,
    pub health_port: u16,
    pub skip_teardown: bool,
    pub reload_with_signal: bool,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            localip: None,
            setup_interface: true,
            interface: "nodelocaldns".into(),
            sync_interval: Duration::from_secs(60),
            setup_rules: true,
            base_corefile: "/etc/coredns/Corefile.base".into(),
            kubedns_cm: None,
            upstream_svc: "kube-dns".into(),
            health_port: 8080,
            skip_teardown: false,
            reload_with_signal: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("invalid localip specified - {0:?}")]
    LocalIp(String),
    #[error("unexpected IP Family for localIP - {ip:?}, want IPv6={v6}")]
    Family { ip: String, v6: bool },
    #[error(transparent)]
    Net(#[from] NetError),
}

/// The node's side of a node-local cache, set up.
pub struct NodeLocal {
    node: Arc<Node>,
    stop: Arc<AtomicBool>,
    sync: Option<std::thread::JoinHandle<()>>,
}

/// What the setup and the periodic check share.
struct Node {
    flags: Flags,
    ips: Vec<IpAddr>,
    port: u16,
    /// The Corefile the server reads (`-conf`).
    corefile: PathBuf,
    firewall: Option<Firewall>,
}

/// What went wrong with one of node-cache's steps, for
/// `coredns_nodecache_setup_errors_total`'s `errortype` label and the log.
pub type Report = Arc<dyn Fn(&'static str, String) + Send + Sync>;

impl NodeLocal {
    /// Reads the flags, takes down what a crashed run left, writes the
    /// Corefile from its template (where there is one) and makes the
    /// interface. The rules come once the server serves
    /// ([`NodeLocal::serving`]), as node-cache adds them only once
    /// CoreDNS runs.
    pub fn setup(
        flags: Flags,
        corefile: PathBuf,
        port: u16,
        report: &Report,
    ) -> Result<NodeLocal, NodeError> {
        let text = flags.localip.clone().unwrap_or_default();
        let mut ips = Vec::new();
        for s in text.split(',') {
            ips.push(
                s.parse::<IpAddr>()
                    .map_err(|_| NodeError::LocalIp(s.to_string()))?,
            );
        }
        let v6 = ips[0].is_ipv6();
        if let Some(ip) = ips.iter().find(|ip| ip.is_ipv6() != v6) {
            return Err(NodeError::Family {
                ip: ip.to_string(),
                v6,
            });
        }
        let firewall = flags
            .setup_rules
            .then(|| Firewall::new(&ips, port, flags.health_port))
            .transpose()?;
        // A run that was killed left its rules: they go first.
        if let Some(f) = &firewall {
            f.remove()?;
        }
        let node = Node {
            ips,
            port,
            corefile,
            firewall,
            flags,
        };
        node.write(report);
        if node.flags.setup_interface {
            net::ensure_interface(&node.flags.interface, &node.ips)?;
        }
        Ok(NodeLocal {
            node: Arc::new(node),
            stop: Arc::default(),
            sync: None,
        })
    }

    /// The server serves: the rules go in, and a thread checks every
    /// `-syncinterval` that the interface and the rules are still there
    /// and whether the template or the kube-dns ConfigMap changed (the
    /// Corefile is written again; with `-reloadwithsignal` the server is
    /// told with SIGUSR1, else its `reload` plugin picks it up).
    pub fn serving(&mut self, report: Report) {
        self.node.ensure(&report);
        let stop = Arc::clone(&self.stop);
        let node = Arc::clone(&self.node);
        let every = node.flags.sync_interval.max(Duration::from_millis(100));
        self.sync = std::thread::Builder::new()
            .name("nodelocal".into())
            .spawn(move || {
                let step = Duration::from_millis(50);
                let mut waited = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(step);
                    waited += step;
                    if waited >= every {
                        waited = Duration::ZERO;
                        node.ensure(&report);
                        if node.write(&report) && node.flags.reload_with_signal {
                            // SAFETY: this process's own id, a valid signal.
                            unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
                        }
                    }
                }
            })
            .ok();
    }

    /// Takes the rules and the interface down (unless `-skipteardown`).
    pub fn teardown(mut self) -> Result<(), NodeError> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.sync.take() {
            let _ = t.join();
        }
        let n = &self.node;
        if n.flags.skip_teardown {
            return Ok(());
        }
        if let Some(f) = &n.firewall {
            f.remove()?;
        }
        if n.flags.setup_interface {
            net::remove_interface(&n.flags.interface)?;
        }
        Ok(())
    }
}

impl Node {
    /// The interface and the rules are there (again).
    fn ensure(&self, report: &Report) {
        if self.flags.setup_interface {
            if let Err(e) = net::ensure_interface(&self.flags.interface, &self.ips) {
                report("interface_check", e.to_string());
            }
        }
        if let Some(f) = &self.firewall {
            if let Err(e) = f.ensure() {
                report("iptables", e.to_string());
            }
        }
    }

    /// The Corefile from the template, where the template is there (as in
    /// node-cache, a missing one leaves the Corefile as it is, and says
    /// so). Whether it changed.
    fn write(&self, report: &Report) -> bool {
        let upstream = template::cluster_dns(&self.flags.upstream_svc);
        let text = match template::render(&self.flags, &self.ips, self.port, upstream.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                report("configmap", e);
                return false;
            }
        };
        if std::fs::read_to_string(&self.corefile).is_ok_and(|old| old == text) {
            return false;
        }
        if let Err(e) = std::fs::write(&self.corefile, &text) {
            report(
                "configmap",
                format!(
                    "Failed to write config file {} - err {e}",
                    self.corefile.display()
                ),
            );
            return false;
        }
        true
    }
}
