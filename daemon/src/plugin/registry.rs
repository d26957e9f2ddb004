//! Every directive CoreDNS 1.14 knows, in execution order (its plugin.cfg),
//! and the setup of the ones ferrodns has. A server block's plugins run in
//! this order whatever order the Corefile lists them in.

use crate::corefile::{Directive, Error};
use crate::plugins::{self, Handler};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Parses one plugin's directives of a block (every occurrence, in Corefile
/// order) into `BlockSetup`. Errors carry the token's position; the registry
/// prefixes `plugin/NAME: `.
pub type SetupFn = fn(&mut BlockSetup, &[&Directive]) -> Result<(), Error>;

pub struct Entry {
    pub name: &'static str,
    /// None: a CoreDNS plugin that ferrodns does not have yet.
    pub setup: Option<SetupFn>,
}

const fn has(name: &'static str, setup: SetupFn) -> Entry {
    Entry {
        name,
        setup: Some(setup),
    }
}

const fn lacks(name: &'static str) -> Entry {
    Entry { name, setup: None }
}

/// CoreDNS v1.14.7 plugin.cfg, top to bottom.
pub static ORDER: &[Entry] = &[
    has("root", plugins::root::setup),
    lacks("metadata"),
    lacks("geoip"),
    lacks("cancel"),
    lacks("proxyproto"),
    lacks("quic"),
    lacks("grpc_server"),
    lacks("https"),
    lacks("https3"),
    lacks("timeouts"),
    lacks("multisocket"),
    lacks("reload"),
    has("nsid", plugins::nsid::setup),
    has("bufsize", plugins::bufsize::setup),
    has("bind", plugins::bind::setup),
    has("debug", plugins::debug::setup),
    lacks("trace"),
    lacks("ready"),
    lacks("health"),
    lacks("pprof"),
    lacks("shed"),
    lacks("prometheus"),
    has("errors", plugins::errors::setup),
    has("log", plugins::log::setup),
    lacks("dnstap"),
    lacks("local"),
    lacks("dns64"),
    has("any", plugins::any::setup),
    has("chaos", plugins::chaos::setup),
    lacks("loadbalance"),
    lacks("tsig"),
    lacks("rewrite"),
    lacks("autopath"),
    lacks("acl"),
    lacks("cache"),
    lacks("header"),
    lacks("dnssec"),
    lacks("tls"),
    has("minimal", plugins::minimal::setup),
    lacks("template"),
    lacks("transfer"),
    has("hosts", plugins::hosts::setup),
    lacks("route53"),
    lacks("azure"),
    lacks("clouddns"),
    lacks("k8s_external"),
    lacks("kubernetes"),
    has("file", plugins::file::setup),
    lacks("auto"),
    lacks("secondary"),
    lacks("etcd"),
    lacks("loop"),
    has("forward", plugins::forward::setup),
    // Not in CoreDNS 1.14: the old proxy plugin, accepted and read as forward.
    has("proxy", plugins::forward::setup_proxy),
    lacks("grpc"),
    lacks("erratic"),
    has("whoami", plugins::whoami::setup),
    lacks("on"),
    lacks("sign"),
    lacks("view"),
    lacks("nomad"),
];

/// Whether `name` is a directive at all (for the parser).
pub fn is_directive(name: &str) -> bool {
    ORDER.iter().any(|e| e.name == name)
}

/// The plugins ferrodns has, in execution order.
pub fn available() -> impl Iterator<Item = &'static str> {
    // proxy is only read as forward: CoreDNS 1.14 does not list it.
    ORDER
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

/// What the setup of one server block builds: block-level settings and the
/// plugins' handlers, pushed in execution order.
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
    handlers: Vec<Handler>,
    /// The next per-worker state slot (see `Worker::state`), counted across
    /// every block of one Corefile.
    next_slot: usize,
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
            handlers: Vec::new(),
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

    /// The slot the next block starts from.
    pub fn slots_used(&self) -> usize {
        self.next_slot
    }

    pub fn add(&mut self, h: Handler) {
        self.handlers.push(h);
    }

    pub fn into_handlers(self) -> Vec<Handler> {
        self.handlers
    }

    /// A file name from the Corefile: relative ones are under `root` when set.
    pub fn path(&self, name: &str) -> PathBuf {
        let p = Path::new(name);
        match &self.root {
            Some(r) if p.is_relative() => r.join(p),
            _ => p.to_path_buf(),
        }
    }

    /// Runs the setup of every directive in `directives`, in execution order.
    pub fn run(&mut self, directives: &[Directive]) -> Result<(), Error> {
        for entry in ORDER {
            let mine: Vec<&Directive> = directives
                .iter()
                .filter(|d| d.name() == entry.name)
                .collect();
            let Some(first) = mine.first() else { continue };
            let Some(setup) = entry.setup else {
                return Err(Error::new(
                    first.pos(),
                    format!(
                        "plugin/{}: this CoreDNS plugin is not available in ferrodns",
                        entry.name
                    ),
                ));
            };
            setup(self, &mine).map_err(|e| prefixed(entry.name, e))?;
        }
        Ok(())
    }
}

fn prefixed(name: &str, e: Error) -> Error {
    let prefix = format!("plugin/{name}: ");
    if e.msg.starts_with(&prefix) {
        e
    } else {
        Error {
            pos: e.pos,
            msg: format!("{prefix}{}", e.msg),
        }
    }
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
