//! A parsed Corefile turned into listeners, each with its zones and the
//! compiled chain behind every zone.

use super::{fastpath, route};
use crate::control::{HttpConfig, Route as HttpRoute};
use crate::corefile::{self, parse_key, Error, ServerBlock, Transport, ZoneAddr};
use crate::plugin::registry::{self, Entry, Event, KernelPath, ListenHost};
use crate::plugin::{BlockSetup, Chain, Plugin};
use crate::runtime::{Listen, TcpTimeouts};
use sha2::{Digest, Sha512};
use std::collections::HashMap;
use std::fmt::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;

/// One server block after setup. Several keys of a block share it.
pub struct Block {
    pub chain: Chain,
    /// `debug`: panics in this block's plugins are not recovered.
    pub debug: bool,
    /// `cancel`: each query's deadline.
    pub cancel: Option<Duration>,
    /// `metadata`: queries carry a metadata map.
    pub metadata: bool,
    /// `metadata`'s zones: the queries its providers describe.
    pub metadata_zones: Vec<String>,
    /// The name of the block's view (CoreDNS's `Config.ViewName`).
    pub view: Option<Arc<str>>,
    /// The plugins (indexes into the chain) whose `filter` a query must
    /// pass to be served here (CoreDNS's `FilterFuncs`), in chain order.
    pub filters: Vec<usize>,
    /// How the raw-bytes path serves this block; None: every query takes
    /// the chain.
    pub fast: Option<fastpath::Plan>,
    /// `xdp`: its hot hits answered in the kernel (checked to be allowed).
    pub xdp: Option<KernelPath>,
}

/// Where a zone on a listener leads.
#[derive(Default)]
pub struct Route {
    /// Indexes into `Config::blocks`, in Corefile order.
    pub blocks: Vec<usize>,
    /// One of them has no view: no other block without one may join.
    pub unfiltered: bool,
}

/// One address and port, serving UDP and TCP.
pub struct Listener {
    pub addr: SocketAddr,
    /// `timeouts` of the blocks on it (the first block that sets them wins).
    pub tcp: TcpTimeouts,
    /// Keyed by lowercased, fully qualified zone.
    pub zones: HashMap<String, Route>,
    /// Some block on this listener loads `chaos`: non-IN classes are let in.
    pub class_chaos: bool,
    /// The bound on each UDP socket's queued replies (`shed`), from the
    /// last block on the listener whose plugin sets one.
    pub udp_reply_bound: Option<usize>,
    /// That plugin (block, index in its chain): it is told of the replies
    /// dropped.
    pub reply_drops: Option<(usize, usize)>,
    /// `dns://:53` style, for log lines and the metrics' `server` label.
    pub name: Arc<str>,
    /// The zones in wire form: where queries go.
    pub fast: route::Zones,
}

pub struct Config {
    pub listeners: Vec<Listener>,
    /// Every server block's chain; routes point here by index.
    pub blocks: Vec<Arc<Block>>,
    /// Some block has `debug`.
    pub debug: bool,
    /// Some block has `reload`: how often to look for a changed Corefile.
    pub reload: Option<Duration>,
    /// SHA-512 (hex) of the parsed Corefile, as the reload plugin compares.
    pub digest: String,
    /// `multisocket`: how many workers (the largest any block asks for).
    pub workers: Option<usize>,
    /// The endpoints of prometheus, health and ready of every block.
    pub http: HttpConfig,
    /// Every block's `on` commands, in Corefile order.
    pub events: Vec<Event>,
}

/// Parses and sets up a Corefile with the plugins of `order` (the
/// execution-order table). `file` names it in errors; `default_port` is the
/// `-dns.port` flag.
pub fn load(src: &str, file: &str, default_port: u16, order: &[Entry]) -> Result<Config, Error> {
    let blocks = parse(src, file, order)?;
    build(&blocks, default_port, order)
}

fn parse(src: &str, file: &str, order: &[Entry]) -> Result<Vec<ServerBlock>, Error> {
    let env = |k: &str| std::env::var(k).ok();
    corefile::parse(src, file, &env, &|name| registry::is_directive(order, name))
}

/// The parsed Corefile's digest: keys and tokens, not layout or comments,
/// so only a change in meaning reloads (CoreDNS hashes its JSON form).
pub fn digest(src: &str, file: &str, order: &[Entry]) -> Result<String, Error> {
    Ok(digest_blocks(&parse(src, file, order)?))
}

fn digest_blocks(blocks: &[ServerBlock]) -> String {
    let mut h = Sha512::new();
    for b in blocks {
        for k in &b.keys {
            h.update(k.text.as_bytes());
            h.update([0]);
        }
        h.update([1]);
        for d in &b.directives {
            for t in &d.tokens {
                h.update(t.text.as_bytes());
                h.update([0]);
            }
            h.update([2]);
        }
        h.update([3]);
    }
    h.finalize()
        .iter()
        .fold(String::with_capacity(128), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Whether the kernel may answer block `b`'s hot hits (`xdp` at `k`): the
/// rule of the raw-bytes path, with no plugin before the cache that must
/// see each query in userspace, and no view (the kernel does not know
/// which client a view takes).
fn kernel_allowed(b: &Block, k: &KernelPath) -> Result<(), Error> {
    use fastpath::{KernelStop, Plan};
    let why = if !b.chain.plugins().iter().any(|p| p.kernel_answers()) {
        "the kernel answers cache hits only: xdp needs cache in the server block".to_string()
    } else if b.view.is_some() {
        "a view picks this server block by client, which the kernel cannot: \
         xdp cannot serve a block with view"
            .to_string()
    } else {
        let stop = match Plan::of(b) {
            Ok(plan) => plan.kernel(b).err(),
            Err("nothing answers") => Some(KernelStop::Answer("nothing")),
            Err(name) => Some(KernelStop::Hook(name)),
        };
        match stop {
            None => return Ok(()),
            Some(KernelStop::Hook(name)) => format!(
                "{name} must see every query in userspace, so the kernel cannot answer \
                 this server block's queries: remove {name} or xdp from the block"
            ),
            Some(KernelStop::Answer(name)) => format!(
                "the kernel answers cache hits only, and {name} answers this server \
                 block's queries before any cache: xdp needs cache in the block"
            ),
        }
    };
    Err(Error::new(&k.pos, format!("plugin/xdp: {why}")))
}

fn wildcard(port: u16) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0))
}

fn socket_addr(h: &ListenHost, port: u16) -> SocketAddr {
    match h.ip {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V4(v4), port),
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, h.scope_id)),
    }
}

pub fn build(blocks: &[ServerBlock], default_port: u16, order: &[Entry]) -> Result<Config, Error> {
    let mut listeners: Vec<Listener> = Vec::new();
    let mut chains: Vec<Arc<Block>> = Vec::new();
    let mut debug = false;
    let mut reload: Option<Duration> = None;
    let mut workers: Option<usize> = None;
    let mut slots = 0;
    let mut http = HttpConfig::default();
    let mut events = Vec::new();
    // Blocks by zones and port, for `BlockSetup::nth`.
    let mut seen: HashMap<(Vec<String>, u16), usize> = HashMap::new();
    for sb in blocks {
        let mut addrs: Vec<(ZoneAddr, &corefile::Token)> = Vec::new();
        for key in &sb.keys {
            for za in parse_key(key, default_port)? {
                if za.transport != Transport::Dns {
                    return Err(Error::new(
                        &key.pos,
                        format!(
                            "{}:// servers are not supported by ferrodns yet: {}",
                            za.transport.scheme(),
                            key.text
                        ),
                    ));
                }
                addrs.push((za, key));
            }
        }
        let origins: Vec<String> = addrs.iter().map(|(za, _)| za.zone.clone()).collect();
        let port = addrs.first().map_or(default_port, |(za, _)| za.port);
        let twins = seen.entry((origins.clone(), port)).or_insert(0);
        let mut setup = BlockSetup::new(origins).with_first_slot(slots);
        setup.port = port;
        setup.nth = *twins;
        *twins += 1;
        setup.run(order, &sb.directives)?;
        slots = setup.slots_used();
        debug |= setup.debug;
        reload = match (reload, setup.reload) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let class_chaos = setup.class_chaos;
        workers = workers.max(setup.multisocket);
        let tcp = setup.tcp_timeouts;
        let hosts = setup.listen_hosts.clone();
        let block_debug = setup.debug;
        let (cancel, metadata) = (setup.cancel, setup.metadata);
        let metadata_zones = std::mem::take(&mut setup.metadata_zones);
        let block_http = std::mem::take(&mut setup.http);
        events.append(&mut setup.events);
        let xdp = setup.xdp.take();
        let mut plugins = setup.into_plugins()?;
        let view: Option<Arc<str>> = plugins.iter().find_map(|p| p.view().map(Arc::from));
        let filters: Vec<usize> = (plugins.iter().enumerate())
            .filter(|(_, p)| p.view().is_some())
            .map(|(i, _)| i)
            .collect();
        if let Some(v) = &view {
            for p in &mut plugins {
                p.in_view(v);
            }
        }
        let view_label = view.as_deref().unwrap_or("");
        observe(&mut http, block_http, &addrs, &hosts, &plugins, view_label);
        let block = chains.len();
        let bound = plugins
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, p)| p.udp_reply_bound().map(|b| (b, i)));
        let filtered = !filters.is_empty();
        let mut b = Block {
            debug: block_debug,
            cancel,
            metadata,
            metadata_zones,
            view,
            filters,
            chain: Chain::new(plugins),
            fast: None,
            xdp: None,
        };
        b.fast = fastpath::Plan::of(&b).ok();
        if let Some(k) = xdp {
            kernel_allowed(&b, &k)?;
            b.xdp = Some(k);
        }
        chains.push(Arc::new(b));
        for (za, key) in &addrs {
            let sockets: Vec<SocketAddr> = if hosts.is_empty() {
                vec![wildcard(za.port)]
            } else {
                hosts.iter().map(|h| socket_addr(h, za.port)).collect()
            };
            for addr in sockets {
                let l = match listeners.iter_mut().position(|l| l.addr == addr) {
                    Some(i) => &mut listeners[i],
                    None => {
                        listeners.push(Listener {
                            addr,
                            tcp: tcp_timeouts(tcp),
                            zones: HashMap::new(),
                            class_chaos: false,
                            udp_reply_bound: None,
                            reply_drops: None,
                            name: listener_name(addr),
                            fast: route::Zones::default(),
                        });
                        listeners.last_mut().expect("just pushed")
                    }
                };
                // Blocks with a view may share a zone with any others;
                // two without one may not (CoreDNS's check of unfiltered
                // configs).
                let route = l.zones.entry(za.zone.clone()).or_default();
                if !filtered && route.unfiltered {
                    return Err(Error::new(
                        &key.pos,
                        format!("cannot serve {za} - it is already defined"),
                    ));
                }
                route.unfiltered |= !filtered;
                route.blocks.push(block);
                l.class_chaos |= class_chaos;
                if let Some((b, i)) = bound {
                    l.udp_reply_bound = Some(b);
                    l.reply_drops = Some((block, i));
                }
            }
        }
    }
    let mut route_ids = 0;
    for l in &mut listeners {
        l.fast = route::Zones::of(l, &chains, &mut route_ids).map_err(|zone| {
            let key = &blocks[0].keys[0];
            Error::new(&key.pos, format!("not a domain name: {zone}"))
        })?;
    }
    Ok(Config {
        listeners,
        blocks: chains,
        debug,
        reload,
        digest: digest_blocks(blocks),
        workers,
        http,
        events,
    })
}

/// A block's endpoints into `http`; with prometheus, the block's
/// `coredns_plugin_enabled` series (CoreDNS sets them for the block's first
/// key only, once per `bind` address, with the block's view); with ready,
/// its plugins' readiness.
fn observe(
    http: &mut HttpConfig,
    specs: Vec<crate::control::HttpSpec>,
    addrs: &[(ZoneAddr, &corefile::Token)],
    hosts: &[ListenHost],
    plugins: &[Box<dyn Plugin>],
    view: &str,
) {
    let metrics = specs.iter().any(|s| s.route == HttpRoute::Metrics);
    let ready = specs
        .iter()
        .any(|s| matches!(s.route, HttpRoute::Ready { .. }));
    if let (true, Some((first, _))) = (metrics, addrs.first()) {
        let servers: Vec<String> = if hosts.is_empty() {
            vec![format!("dns://:{}", first.port)]
        } else {
            hosts
                .iter()
                .map(|h| format!("dns://{}", SocketAddr::new(h.ip, first.port)))
                .collect()
        };
        for server in servers {
            for h in plugins {
                http.plugin_enabled.push([
                    server.clone(),
                    first.zone.clone(),
                    view.to_string(),
                    h.name().to_string(),
                ]);
            }
        }
    }
    if ready {
        for h in plugins {
            if let Some(f) = h.readiness() {
                http.readiness.push((h.name(), f));
            }
        }
    }
    for s in specs {
        http.add(s);
    }
}

fn listener_name(addr: SocketAddr) -> Arc<str> {
    if addr.ip().is_unspecified() {
        format!("dns://:{}", addr.port()).into()
    } else {
        format!("dns://{addr}").into()
    }
}

impl Config {
    /// Every block's plugins (`Plugin::start`, `Plugin::stop`).
    pub fn plugins(&self) -> impl Iterator<Item = &dyn Plugin> {
        self.blocks
            .iter()
            .flat_map(|b| b.chain.plugins().iter().map(|p| &**p))
    }

    /// What the runtime binds.
    pub fn listen(&self) -> Vec<Listen> {
        self.listeners
            .iter()
            .map(|l| Listen {
                addr: l.addr,
                tcp: l.tcp,
                udp_reply_bound: l.udp_reply_bound,
            })
            .collect()
    }

    /// What CoreDNS prints at start: one `zone:port` line per zone and
    /// listener, `on ADDRESS` for listeners bound to an address.
    pub fn banner(&self) -> String {
        let mut out = String::new();
        for l in &self.listeners {
            let mut zones: Vec<&String> = l.zones.keys().collect();
            zones.sort();
            for z in zones {
                if l.addr.ip().is_unspecified() {
                    let _ = writeln!(out, "{z}:{}", l.addr.port());
                } else {
                    let _ = writeln!(out, "{z}:{} on {}", l.addr.port(), l.addr.ip());
                }
            }
        }
        out
    }
}

/// A listener's TCP timeouts: what the block's `timeouts` set, the
/// runtime's defaults (CoreDNS's) for the rest.
fn tcp_timeouts(set: crate::plugin::registry::TcpTimeouts) -> TcpTimeouts {
    let d = TcpTimeouts::default();
    TcpTimeouts {
        read: set.read.unwrap_or(d.read),
        write: set.write.unwrap_or(d.write),
        idle: set.idle.unwrap_or(d.idle),
        max_queries: set.max_queries.unwrap_or(d.max_queries),
    }
}
