//! The setup of a server block: the execution-order table's entries (the
//! table itself is `crate::plugins::ORDER`, handed in), what each plugin's
//! setup may set for its block, and the plugins it places in the chain. A
//! server block's plugins run in the table's order whatever order the
//! Corefile lists them in.

use super::Plugin;
use crate::corefile::{Directive, Error};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Parses one plugin's directives of a block (every occurrence, in Corefile
/// order) into `BlockSetup`. Errors carry the token's position; the registry
/// prefixes `plugin/NAME: `.
pub type SetupFn = fn(&mut BlockSetup, &[&Directive]) -> Result<(), Error>;

/// One directive of the execution-order table.
#[derive(Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    /// None: a CoreDNS plugin that ferrodns does not have.
    pub setup: Option<SetupFn>,
    /// For a plugin ferrodns will not have: what it offers instead.
    pub instead: Option<&'static str>,
}

impl Entry {
    pub const fn has(name: &'static str, setup: SetupFn) -> Entry {
        Entry {
            name,
            setup: Some(setup),
            instead: None,
        }
    }

    /// A CoreDNS plugin that ferrodns does not have yet.
    pub const fn lacks(name: &'static str) -> Entry {
        Entry {
            name,
            setup: None,
            instead: None,
        }
    }

    /// A CoreDNS plugin that ferrodns will not have (it is Go's or a
    /// tracer's own), and what ferrodns offers instead.
    pub const fn refuses(name: &'static str, instead: &'static str) -> Entry {
        Entry {
            name,
            setup: None,
            instead: Some(instead),
        }
    }
}

/// What a plugin's setup returns: the plugin itself (placed in the chain),
/// several (forward, once per directive), or nothing (a setup-only
/// directive that changes the block's settings).
pub trait Placed {
    fn place(self, b: &mut BlockSetup);
}

impl Placed for () {
    fn place(self, _: &mut BlockSetup) {}
}

impl<P: Plugin> Placed for P {
    fn place(self, b: &mut BlockSetup) {
        b.plugins.push(Box::new(self));
    }
}

impl<P: Plugin> Placed for Vec<P> {
    fn place(self, b: &mut BlockSetup) {
        for p in self {
            p.place(b);
        }
    }
}

/// Whether `name` is a directive of `order` at all (for the parser).
pub fn is_directive(order: &[Entry], name: &str) -> bool {
    order.iter().any(|e| e.name == name)
}

/// The plugins of `order` ferrodns has, in execution order.
pub fn available(order: &'static [Entry]) -> impl Iterator<Item = &'static str> {
    // proxy is only read as forward: CoreDNS 1.14 does not list it.
    order
        .iter()
        .filter(|e| e.setup.is_some() && e.name != "proxy")
        .map(|e| e.name)
}

/// An address a block listens on (the `bind` plugin); IPv6 link-local
/// addresses keep their interface's scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenHost {
    pub ip: IpAddr,
    pub scope_id: u32,
}

/// The TCP timeouts a block's `timeouts` sets; None: the server's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpTimeouts {
    pub read: Option<std::time::Duration>,
    pub write: Option<std::time::Duration>,
    pub idle: Option<std::time::Duration>,
    /// `maxtcpqueries`: Some(None) when set to -1 (unlimited, the default).
    pub max_queries: Option<Option<u32>>,
}

/// When an [`Event`]'s command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Once the server serves: at start-up and after each reload.
    Startup,
    /// When the process shuts down (SIGTERM, SIGINT), before it stops serving.
    Shutdown,
    /// Never in ferrodns (it renews no certificates); accepted as caddy does.
    CertRenew,
}

/// A command a block asks the server to run on an event (`on`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub when: When,
    pub command: String,
    pub args: Vec<String>,
    /// Started without waiting for it (a last argument `&`).
    pub background: bool,
    /// A random UUID naming it in log lines, as caddy names its hooks.
    pub id: String,
}

/// How the kernel fast path (`xdp`, ferrodns's own directive) serves a
/// block's hot cache hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelPath {
    /// Interfaces to attach to; none: every interface that is up, but
    /// loopback.
    pub interfaces: Vec<String>,
    pub mode: XdpMode,
    /// The most entries the kernel's map holds.
    pub entries: u32,
    /// Hits in userspace before an entry is handed to the kernel.
    pub promote: u32,
    /// Fail start-up (or the reload) when the program cannot be attached,
    /// rather than serve from userspace only.
    pub required: bool,
    /// Where the directive is, for errors about the block.
    pub pos: crate::corefile::Pos,
}

/// How the XDP program is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// In the driver (fails where the driver has no XDP support).
    Native,
    /// After the kernel built its socket buffer: any interface, slower.
    Generic,
    /// Native where the driver can, else generic.
    Auto,
}

/// What the setup of one server block builds: block-level settings and the
/// plugins, placed in execution order.
pub struct BlockSetup {
    /// The zones of the block's keys, lowercased and fully qualified.
    pub origins: Vec<String>,
    /// The `root` directory for relative file names; None: the working directory.
    pub root: Option<PathBuf>,
    /// `bind`: empty means every address.
    pub listen_hosts: Vec<ListenHost>,
    /// `debug`: no panic recovery, [DEBUG] lines on.
    pub debug: bool,
    /// `errors { stacktrace }`.
    pub stacktrace: bool,
    /// `chaos` is loaded: CH class queries are let through to the chain.
    pub class_chaos: bool,
    /// `reload`: how often to check the Corefile for changes.
    pub reload: Option<std::time::Duration>,
    /// The port of the block's first key.
    pub port: u16,
    /// How many blocks before this one in the Corefile have the same zones
    /// and port (blocks with views share them): with those, what tells
    /// the block apart across reloads (cache keeps its stores by it).
    pub nth: usize,
    /// `cancel`: every query's deadline.
    pub cancel: Option<std::time::Duration>,
    /// `multisocket`: how many workers.
    pub multisocket: Option<usize>,
    /// `timeouts`: the listeners' TCP timeouts the Corefile sets (the
    /// server's defaults for the rest).
    pub tcp_timeouts: TcpTimeouts,
    /// `metadata`: queries carry a metadata map.
    pub metadata: bool,
    /// `metadata`'s zones: the queries its providers describe.
    pub metadata_zones: Vec<String>,
    /// The HTTP endpoints of prometheus, health and ready.
    pub http: Vec<super::endpoint::HttpSpec>,
    /// Commands to run on start-up or shutdown (`on`).
    pub events: Vec<Event>,
    /// Zones a plugin of the block finds it serves while running (auto's
    /// zone files), which the block's metrics label queries with as they
    /// do with its keys.
    pub added_zones: std::sync::Arc<AddedZones>,
    /// `xdp`: hot cache hits answered in the kernel.
    pub xdp: Option<KernelPath>,
    plugins: Vec<Box<dyn Plugin>>,
    /// What a plugin's setup leaves for the setups after it in the same
    /// block, one value per type (dnstap's taps, which forward sends its
    /// upstream exchanges to).
    shared: Vec<Box<dyn std::any::Any + Send + Sync>>,
    /// The next per-worker state slot (see `Worker::state`), counted across
    /// every block of one Corefile.
    next_slot: usize,
}

/// The zones a plugin serves beyond the block's keys, set while it runs
/// (CoreDNS's `metrics.AddZone` and `RemoveZone`): lowercased, fully
/// qualified. Reading costs one relaxed load while none was ever set.
#[derive(Default)]
pub struct AddedZones {
    any: std::sync::atomic::AtomicBool,
    zones: arc_swap::ArcSwap<Vec<String>>,
}

impl AddedZones {
    /// The zones now served, in place of those set before.
    pub fn set(&self, zones: Vec<String>) {
        self.any
            .fetch_or(!zones.is_empty(), std::sync::atomic::Ordering::Relaxed);
        self.zones.store(std::sync::Arc::new(zones));
    }

    /// The longest of the added zones that holds `name`, if longer than
    /// `than` (the match among the block's keys).
    pub fn longer(&self, name: &str, than: Option<&str>) -> Option<String> {
        if !self.any.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let zones = self.zones.load();
        let z = super::names::zone_match(&zones, name)?;
        (z.len() > than.map_or(0, str::len)).then(|| z.to_string())
    }
}

impl BlockSetup {
    pub fn new(origins: Vec<String>) -> Self {
        Self {
            origins,
            root: None,
            listen_hosts: Vec::new(),
            debug: false,
            stacktrace: false,
            class_chaos: false,
            reload: None,
            port: 53,
            nth: 0,
            cancel: None,
            multisocket: None,
            tcp_timeouts: TcpTimeouts::default(),
            metadata: false,
            metadata_zones: Vec::new(),
            http: Vec::new(),
            events: Vec::new(),
            added_zones: Default::default(),
            xdp: None,
            plugins: Vec::new(),
            shared: Vec::new(),
            next_slot: 0,
        }
    }

    /// Continues slot numbering from the previous block of the Corefile.
    pub fn with_first_slot(mut self, slot: usize) -> Self {
        self.next_slot = slot;
        self
    }

    /// A per-worker state slot for a plugin instance (see `Worker::state`).
    pub fn slot(&mut self) -> usize {
        self.next_slot += 1;
        self.next_slot - 1
    }

    /// Leaves `value` for the setups of the plugins after this one in the
    /// execution order (a later value of the same type replaces it).
    pub fn share<T: Send + Sync + 'static>(&mut self, value: T) {
        self.shared.retain(|v| !v.is::<T>());
        self.shared.push(Box::new(value));
    }

    /// What an earlier setup of this block shared, of type `T`.
    pub fn shared<T: 'static>(&self) -> Option<&T> {
        self.shared.iter().find_map(|v| v.downcast_ref::<T>())
    }

    /// The slot the next block starts from.
    pub fn slots_used(&self) -> usize {
        self.next_slot
    }

    /// The plugins placed, in execution order, once each has been told
    /// the others (`Plugin::link`).
    pub fn into_plugins(self) -> Result<Vec<Box<dyn Plugin>>, Error> {
        for p in &self.plugins {
            p.link(&self.plugins)?;
        }
        Ok(self.plugins)
    }

    /// A file name from the Corefile: relative ones are under `root` when set.
    pub fn path(&self, name: &str) -> PathBuf {
        let p = Path::new(name);
        match &self.root {
            Some(r) if p.is_relative() => r.join(p),
            _ => p.to_path_buf(),
        }
    }

    /// Runs the setup of every directive in `directives`, in the order of
    /// `order`.
    pub fn run(&mut self, order: &[Entry], directives: &[Directive]) -> Result<(), Error> {
        for entry in order {
            let mine: Vec<&Directive> = directives
                .iter()
                .filter(|d| d.name() == entry.name)
                .collect();
            let Some(first) = mine.first() else { continue };
            let Some(setup) = entry.setup else {
                let msg = match entry.instead {
                    Some(instead) => format!(
                        "plugin/{}: this CoreDNS plugin is not part of ferrodns: {instead}",
                        entry.name
                    ),
                    None => format!(
                        "plugin/{}: this CoreDNS plugin is not available in ferrodns",
                        entry.name
                    ),
                };
                return Err(Error::new(first.pos(), msg));
            };
            setup(self, &mine).map_err(|e| prefixed(entry.name, e))?;
        }
        Ok(())
    }
}

fn prefixed(name: &str, e: Error) -> Error {
    let prefix = format!("plugin/{name}: ");
    if e.bare || e.msg.starts_with(&prefix) {
        e
    } else {
        Error {
            msg: format!("{prefix}{}", e.msg),
            ..e
        }
    }
}

/// For plugins that take no arguments: an argument error at the first one.
pub fn no_args(directives: &[&Directive]) -> Result<(), Error> {
    for dir in directives {
        let mut d = crate::corefile::Dispenser::new(dir);
        d.next();
        if d.next_arg() {
            return Err(d.arg_err());
        }
    }
    Ok(())
}

/// An error CoreDNS wraps in `plugin.Error` twice (in the plugin's parse
/// and again in its setup): it reads `plugin/NAME: plugin/NAME: ...`.
pub fn wrapped_twice(name: &str, e: Error) -> Error {
    Error {
        msg: format!("plugin/{name}: plugin/{name}: {}", e.msg),
        ..e
    }
}

/// An error CoreDNS returns without `plugin.Error` (caddy's own plugins,
/// such as `on`): no `plugin/NAME: ` before it.
pub fn bare(e: Error) -> Error {
    Error { bare: true, ..e }
}

/// CoreDNS's `plugin.ErrOnce`, at the second occurrence.
pub fn only_once(directives: &[&Directive]) -> Result<(), Error> {
    match directives.get(1) {
        Some(d) => Err(Error::new(
            d.pos(),
            "this plugin can only be used once per Server Block",
        )),
        None => Ok(()),
    }
}
