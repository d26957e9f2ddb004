//! `forward FROM TO... { ... }`, checked as CoreDNS 1.14.7's `parseStanza`
//! and `parseBlock` do. Every occurrence of the directive in a block is one
//! stanza; each becomes its own handler, in Corefile order.

use super::exchange::LookupError;
use super::tls::{self, TlsArgs, TlsError};
use super::upstream::{HealthConfig, Trans, Upstream};
use super::{Forward, Policy};
use crate::corefile::{parse_key, Directive, Dispenser, Error, Token};
use crate::gocompat::names::is_domain_name;
use crate::gocompat::net::{join_host_port, split_host_port};
use crate::gocompat::{duration, strconv};
use crate::plugin::BlockSetup;
use crate::wire::mnemonics;
use hickory_proto::rr::Name;
use hickory_proto::ProtoError;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// At most this many upstreams per stanza.
pub const MAX_UPSTREAMS: usize = 15;
pub const DEFAULT_EXPIRE: Duration = Duration::from_secs(10);
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_HC_INTERVAL: Duration = Duration::from_millis(500);

/// A stanza's options as parsed, before the upstreams are built.
#[derive(Debug, Clone)]
pub struct Config {
    pub from: String,
    pub ignored: Vec<String>,
    /// `host:port` per upstream, transport prefix removed, with the TLS
    /// server name given with `%NAME`.
    pub to: Vec<(Trans, String, Option<String>)>,
    pub force_tcp: bool,
    pub prefer_udp: bool,
    pub expire: Duration,
    pub max_age: Duration,
    pub max_idle_conns: usize,
    pub read_timeout: Duration,
    pub max_fails: u32,
    pub max_connect_attempts: Option<u32>,
    pub tls: TlsArgs,
    pub tls_servername: Option<String>,
    pub policy: PolicyKind,
    pub hc_interval: Duration,
    pub hc_domain: String,
    pub hc_rec: bool,
    pub max_concurrent: i64,
    /// The text of `max_concurrent`'s argument, for the error message.
    pub limit_text: String,
    pub next_rcodes: Vec<u16>,
    pub next_on_nodata: bool,
    pub failfast: bool,
    pub failover_rcodes: Vec<u16>,
    pub source: Option<IpAddr>,
    pub resolver: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    Random,
    RoundRobin,
    Sequential,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            from: ".".into(),
            ignored: Vec::new(),
            to: Vec::new(),
            force_tcp: false,
            prefer_udp: false,
            expire: DEFAULT_EXPIRE,
            max_age: Duration::ZERO,
            max_idle_conns: 0,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_fails: 2,
            max_connect_attempts: None,
            tls: TlsArgs::default(),
            tls_servername: None,
            policy: PolicyKind::Random,
            hc_interval: DEFAULT_HC_INTERVAL,
            hc_domain: ".".into(),
            hc_rec: true,
            max_concurrent: 0,
            limit_text: String::new(),
            next_rcodes: Vec::new(),
            next_on_nodata: false,
            failfast: false,
            failover_rcodes: Vec::new(),
            source: None,
            resolver: Vec::new(),
        }
    }
}

pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Vec<Forward>, Error> {
    setup_named(b, ds, "forward")
}

/// The legacy `proxy` directive: read as `forward`, with a warning.
pub fn setup_proxy(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Vec<Forward>, Error> {
    crate::log::warning(
        Some("proxy"),
        "the proxy plugin is deprecated and not part of CoreDNS 1.14; read as forward: use forward",
    );
    setup_named(b, ds, "proxy")
}

fn setup_named(
    b: &mut BlockSetup,
    ds: &[&Directive],
    name: &'static str,
) -> Result<Vec<Forward>, Error> {
    let mut built = Vec::new();
    for d in ds {
        let c = parse(b, d)?;
        let pos = d.pos().clone();
        built.push((c, pos));
    }
    let n = built.len();
    let mut out = Vec::with_capacity(n);
    let taps = b.shared::<crate::plugins::dnstap::Taps>().cloned();
    for (i, (c, pos)) in built.into_iter().enumerate() {
        let slot = b.slot();
        out.push(
            Forward::new(c, slot, i + 1 < n, name)
                .map_err(|e| Error::new(&pos, e.to_string()))?
                .with_taps(taps.clone()),
        );
    }
    Ok(out)
}

/// One stanza, from its directive token to the end of its block.
pub fn parse(b: &BlockSetup, dir: &Directive) -> Result<Config, Error> {
    let mut c = Config::default();
    let mut d = Dispenser::new(dir);
    d.next();
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    let from = d.val().to_string();
    let zones = normalize_exact(d.token());
    let Some(first) = zones.first() else {
        return Err(d.err(format!("unable to normalize '{from}'")));
    };
    c.from = first.clone();
    if zones.len() > 1 {
        crate::log::warning(
            Some("forward"),
            &format!(
                "Unsupported CIDR notation: '{from}' expands to multiple zones. Using only '{}'.",
                c.from
            ),
        );
    }
    let to = d.remaining_args();
    if to.is_empty() {
        return Err(d.arg_err());
    }
    let to_pos = d.pos().clone();

    while d.next_block() {
        parse_block(b, &mut d, &mut c)?;
    }
    let end = d.pos().clone();
    let err = |m: String| Error::new(&end, m);

    if !c.max_age.is_zero() && c.max_age < c.expire {
        return Err(err(format!(
            "max_age ({}) must not be less than expire ({})",
            duration::format(c.max_age),
            duration::format(c.expire)
        )));
    }
    for a in &to {
        if let Some(h) = a.strip_prefix("https://") {
            if h.contains('/') {
                return Err(err(format!("paths are not allowed in HTTPS upstream addresses (the /dns-query path is used by default): {a}")));
            }
        }
    }
    let entries = classify(&to).map_err(|e| err(e.to_string()))?;
    if entries.len() > MAX_UPSTREAMS {
        return Err(Error::new(
            &to_pos,
            format!(
                "more than {MAX_UPSTREAMS} TOs configured: {}",
                entries.len()
            ),
        ));
    }
    let hosts = expand_dedup(&entries, &c.resolver).map_err(|e| err(e.to_string()))?;
    if hosts.is_empty() {
        return Err(err("no valid upstream addresses found".into()));
    }
    for h in hosts {
        let (host, server_name) = split_zone(&h);
        let (scheme, addr) = transport(&host);
        let trans = match scheme {
            "dns" => Trans::Dns,
            "tls" => Trans::Tls,
            "https" => {
                return Err(err(format!(
                    "'https' (DNS over HTTPS) is not available in ferrodns: {host}"
                )))
            }
            other => {
                return Err(err(format!(
                    "'{other}' is not supported as a destination protocol in forward: {host}"
                )))
            }
        };
        let name = if trans == Trans::Tls && !server_name.is_empty() {
            if let Some(n) = &c.tls_servername {
                return Err(err(format!("both forward ('{n}') and proxy level ('{server_name}') TLS servernames are set for upstream proxy '{host}'")));
            }
            Some(server_name)
        } else {
            None
        };
        c.to.push((trans, addr.to_string(), name));
    }
    Ok(c)
}

fn parse_block(b: &BlockSetup, d: &mut Dispenser<'_>, c: &mut Config) -> Result<(), Error> {
    match d.val() {
        "except" => {
            let args = d.remaining_args();
            if args.is_empty() {
                return Err(d.arg_err());
            }
            let pos = d.pos().clone();
            for a in args {
                c.ignored.extend(normalize_exact(&Token {
                    text: a,
                    pos: pos.clone(),
                }));
            }
        }
        "max_fails" => {
            let v = one_arg(d)?;
            c.max_fails = uint32(d, v)?;
        }
        "max_connect_attempts" => {
            let v = one_arg(d)?;
            c.max_connect_attempts = Some(uint32(d, v)?);
        }
        "health_check" => {
            let v = one_arg(d)?;
            let (neg, dur) = duration::parse_signed(v).map_err(|e| d.err(e.to_string()))?;
            if neg {
                return Err(d.err(format!(
                    "health_check can't be negative: -{}",
                    dur.as_nanos()
                )));
            }
            c.hc_interval = dur;
            c.hc_domain = ".".into();
            while d.next_arg() {
                match d.val() {
                    "no_rec" => c.hc_rec = false,
                    "domain" => {
                        if !d.next_arg() {
                            return Err(d.arg_err());
                        }
                        let dom = d.val();
                        if !is_domain_name(dom) {
                            return Err(d.err(format!("health_check: invalid domain name {dom}")));
                        }
                        c.hc_domain = crate::plugin::names::fqdn(&dom.to_ascii_lowercase());
                    }
                    other => return Err(d.err(format!("health_check: unknown option {other}"))),
                }
            }
        }
        "force_tcp" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            c.force_tcp = true;
        }
        "prefer_udp" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            c.prefer_udp = true;
        }
        "tls" => {
            let args = d.remaining_args();
            if args.len() > 3 {
                return Err(d.arg_err());
            }
            let files: Vec<_> = args.iter().map(|a| b.path(a)).collect();
            c.tls = TlsArgs::new(files);
            // Loaded now so that a bad file fails the setup, as in CoreDNS.
            tls::client_config(&c.tls, None).map_err(|e| d.err(e.to_string()))?;
        }
        "tls_servername" => {
            let v = one_arg(d)?;
            c.tls_servername = Some(v.to_string());
        }
        "expire" => {
            let v = one_arg(d)?;
            let (neg, dur) = duration::parse_signed(v).map_err(|e| d.err(e.to_string()))?;
            if neg {
                return Err(d.err(format!(
                    "expire can't be negative: -{}",
                    duration::format(dur)
                )));
            }
            c.expire = dur;
        }
        "max_age" => {
            let v = one_arg(d)?;
            let (neg, dur) = duration::parse_signed(v).map_err(|e| d.err(e.to_string()))?;
            if neg {
                return Err(d.err(format!(
                    "max_age can't be negative: -{}",
                    duration::format(dur)
                )));
            }
            c.max_age = dur;
        }
        "max_idle_conns" => {
            let v = one_arg(d)?;
            let n = strconv::atoi(v).map_err(|e| d.err(e.to_string()))?;
            if n < 0 {
                return Err(d.err(format!("max_idle_conns can't be negative: {n}")));
            }
            c.max_idle_conns = n as usize;
        }
        "read_timeout" => {
            let v = one_arg(d)?;
            let (neg, dur) = duration::parse_signed(v).map_err(|e| d.err(e.to_string()))?;
            if neg || dur.is_zero() {
                let sign = if neg { "-" } else { "" };
                return Err(d.err(format!(
                    "read_timeout must be positive: {sign}{}",
                    duration::format(dur)
                )));
            }
            c.read_timeout = dur;
        }
        "doh_method" => {
            let v = one_arg(d)?;
            if v != "GET" && v != "POST" {
                return Err(d.err("doh_method must be either POST or GET"));
            }
        }
        "policy" => {
            let v = one_arg(d)?;
            c.policy = match v {
                "random" => PolicyKind::Random,
                "round_robin" => PolicyKind::RoundRobin,
                "sequential" => PolicyKind::Sequential,
                x => return Err(d.err(format!("unknown policy '{x}'"))),
            };
        }
        "max_concurrent" => {
            let v = one_arg(d)?;
            let n = strconv::atoi(v).map_err(|e| d.err(e.to_string()))?;
            if n < 0 {
                return Err(d.err(format!("max_concurrent can't be negative: {n}")));
            }
            c.limit_text = v.to_string();
            c.max_concurrent = n;
        }
        "next" => {
            let args = d.remaining_args();
            if args.is_empty() {
                return Err(d.arg_err());
            }
            for a in args {
                let rc = mnemonics::rcode_from_str(&a.to_ascii_uppercase())
                    .ok_or_else(|| d.err(format!("{a} is not a valid rcode")))?;
                c.next_rcodes.push(rc);
            }
        }
        "next_on_nodata" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            c.next_on_nodata = true;
        }
        "failfast_all_unhealthy_upstreams" => {
            if !d.remaining_args().is_empty() {
                return Err(d.arg_err());
            }
            c.failfast = true;
        }
        "failover" => {
            let args = d.remaining_args();
            if args.is_empty() {
                return Err(d.arg_err());
            }
            for a in args {
                let rc = mnemonics::rcode_from_str(&a.to_ascii_uppercase())
                    .ok_or_else(|| d.err(format!("{a} is not a valid rcode")))?;
                if rc == 0 {
                    return Err(d.err("NoError cannot be used in failover"));
                }
                c.failover_rcodes.push(rc);
            }
        }
        "resolver" => {
            let args = d.remaining_args();
            if args.is_empty() {
                return Err(d.arg_err());
            }
            for a in &args {
                let host = split_host_port(a).map_or(a.as_str(), |(h, _)| h);
                if parse_ip(host).is_none() {
                    return Err(d.err(format!(
                        "resolver must be an IP address or IP:port: \"{a}\""
                    )));
                }
            }
            c.resolver = args;
        }
        "source_address" => {
            let v = one_arg(d)?;
            c.source = Some(parse_ip(v).ok_or_else(|| d.err(format!("invalid IP address: {v}")))?);
        }
        other => return Err(d.err(format!("unknown property '{other}'"))),
    }
    Ok(())
}

/// The property's single argument (further ones are read as the next
/// property, as Caddy does).
fn one_arg<'a>(d: &mut Dispenser<'a>) -> Result<&'a str, Error> {
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    Ok(d.val())
}

/// Go's `strconv.ParseUint(v, 10, 32)`, its error at the dispenser's line.
fn uint32(d: &Dispenser<'_>, v: &str) -> Result<u32, Error> {
    let n = strconv::parse_uint(v, 10, 32).map_err(|e| d.err(e.to_string()))?;
    Ok(n as u32)
}

/// CoreDNS's `plugin.Host(s).NormalizeExact()`: the zones of a key-like
/// text (CIDRs expand), empty when it does not parse.
fn normalize_exact(t: &Token) -> Vec<String> {
    parse_key(t, 53)
        .map(|zs| zs.into_iter().map(|z| z.zone).collect())
        .unwrap_or_default()
}

/// CoreDNS's `parse.Transport`: the scheme (dns when none) and the rest.
fn transport(s: &str) -> (&str, &str) {
    for scheme in ["tls", "dns", "quic", "grpc", "https3", "https", "unix"] {
        if let Some(rest) = s.strip_prefix(scheme).and_then(|r| r.strip_prefix("://")) {
            return (scheme, rest);
        }
    }
    ("dns", s)
}

/// CoreDNS's `splitZone`: `tls://1.1.1.1%name:853` to (`tls://1.1.1.1:853`, `name`).
pub(super) fn split_zone(h: &str) -> (String, String) {
    let (trans, host) = match h.split_once("://") {
        Some((t, rest)) => (t, rest),
        None => ("", h),
    };
    let mut new_host = host.to_string();
    let mut zone = String::new();
    if let Some(p) = host.rfind('%') {
        new_host = host[..p].to_string();
        if new_host.starts_with('[') {
            new_host.push(']');
        }
        zone = host[p + 1..].to_string();
        if let Some(c) = zone.rfind(':') {
            new_host.push_str(&zone[c..]);
            zone.truncate(c);
            if zone.ends_with(']') {
                zone.pop();
            }
        }
    }
    if !trans.is_empty() {
        new_host = format!("{trans}://{new_host}");
    }
    (new_host, zone)
}

fn strip_zone(h: &str) -> &str {
    h.rsplit_once('%').map_or(h, |(a, _)| a)
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    strip_zone(s).parse().ok()
}

/// One **TO** argument: addresses known now, or a host name to resolve.
enum Entry {
    Static(Vec<String>),
    Host {
        name: String,
        port: String,
        scheme: String,
        zone: String,
    },
}

/// What is wrong with a **TO** address; `Display` is CoreDNS's wording.
#[derive(Debug, thiserror::Error)]
pub enum ToError {
    #[error("invalid address: \"{0}\"")]
    Address(String),
    #[error("invalid port in \"{0}\"")]
    Port(String),
    /// Neither an address nor a file that can be read: perhaps a host name.
    #[error("not an IP address or file \"{arg}\": {source}")]
    NotIpOrFile { arg: String, source: FileError },
    #[error("not an IP address, file, or valid domain: \"{0}\"")]
    NotDomain(String),
    #[error("failed to resolve \"{name}\": {source}")]
    Resolve { name: String, source: ResolveError },
}

/// A resolv.conf-style file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Go's `*os.PathError` text, quoted, as CoreDNS words it.
    #[error("failed to open file \"{0}\": \"open {0}: no such file or directory\"")]
    NotFound(String),
    #[error("open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
}

/// Why a host name in **TO** has no addresses.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The system resolver's error.
    #[error(transparent)]
    System(std::io::Error),
    #[error(transparent)]
    Name(ProtoError),
    #[error("no addresses found for \"{0}\"")]
    NoAddresses(String),
    /// Every `resolver` failed or had none; the last one's error.
    #[error("no addresses found for \"{name}\": {source}")]
    Lookup { name: String, source: LookupError },
}

/// Why a stanza's upstreams could not be built.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Address(#[from] ToError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// CoreDNS's `classifyToAddrs` on top of `parse.HostPortOrFile`.
fn classify(to: &[String]) -> Result<Vec<Entry>, ToError> {
    let mut out = Vec::new();
    for h in to {
        match host_port_or_file(h) {
            Ok(v) if v.is_empty() => {} // a file with no nameservers
            Ok(v) => out.push(Entry::Static(v)),
            Err(ToError::NotIpOrFile { .. }) => {
                let (clean, zone) = split_zone(h);
                let (scheme, host) = transport(&clean);
                let default = match scheme {
                    "dns" => "53",
                    "tls" => "853",
                    "https" => "443",
                    _ => return Err(ToError::NotDomain(h.clone())),
                };
                let (name, port) = match split_host_port(host) {
                    Ok((n, p)) => (n.to_string(), p.to_string()),
                    Err(_) => (host.to_string(), default.to_string()),
                };
                let name = name.trim_matches(|c| c == '[' || c == ']').to_string();
                if name.is_empty() || !is_domain_name(&name) || parse_ip(&name).is_some() {
                    return Err(ToError::NotDomain(h.clone()));
                }
                out.push(Entry::Host {
                    name,
                    port,
                    scheme: scheme.to_string(),
                    zone,
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// CoreDNS's `parse.HostPortOrFile` for one argument: the upstreams it
/// names (empty for a resolv.conf without nameservers).
pub(super) fn host_port_or_file(h: &str) -> Result<Vec<String>, ToError> {
    let (scheme, host) = transport(h);
    if host.is_empty() {
        return Err(ToError::Address(h.to_string()));
    }
    if scheme == "unix" {
        return Ok(vec![format!("unix://{host}")]);
    }
    match split_host_port(host).ok() {
        None => {
            let bare = host.trim_matches(|c| c == '[' || c == ']');
            if parse_ip(bare).is_none() {
                return try_file(bare).map_err(|source| ToError::NotIpOrFile {
                    arg: bare.to_string(),
                    source,
                });
            }
            let port = match scheme {
                "tls" | "quic" => "853",
                "grpc" | "https" => "443",
                _ => "53",
            };
            let joined = join_host_port(bare, port);
            Ok(vec![if scheme == "dns" {
                joined
            } else {
                format!("{scheme}://{joined}")
            }])
        }
        Some((addr, _)) => {
            if parse_ip(addr).is_none() {
                return try_file(host).map_err(|source| ToError::NotIpOrFile {
                    arg: host.to_string(),
                    source,
                });
            }
            Ok(vec![h.to_string()])
        }
    }
}

/// A resolv.conf-style file's nameservers, port 53.
pub(super) fn try_file(path: &str) -> Result<Vec<String>, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            FileError::NotFound(path.to_string())
        } else {
            FileError::Open {
                path: path.to_string(),
                source: e,
            }
        }
    })?;
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() == Some(&"nameserver") {
            if let Some(ns) = f.get(1) {
                if parse_ip(ns).is_some() {
                    out.push(join_host_port(strip_zone(ns), "53"));
                }
            }
        }
    }
    Ok(out)
}

/// CoreDNS's `expandAndDedup`: entries in order, host names resolved,
/// duplicates (by `host:port`) dropped.
fn expand_dedup(entries: &[Entry], resolver: &[String]) -> Result<Vec<String>, ToError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for e in entries {
        let addrs = match e {
            Entry::Static(v) => v.clone(),
            Entry::Host {
                name,
                port,
                scheme,
                zone,
            } => resolve(name, resolver)
                .map_err(|source| ToError::Resolve {
                    name: name.clone(),
                    source,
                })?
                .into_iter()
                .map(|ip| {
                    let ip = ip.to_string();
                    match scheme.as_str() {
                        "dns" => join_host_port(&ip, port),
                        _ if !zone.is_empty() && ip.contains(':') => {
                            format!("{scheme}://[{ip}%{zone}]:{port}")
                        }
                        _ if !zone.is_empty() => format!("{scheme}://{ip}%{zone}:{port}"),
                        _ => format!("{scheme}://{}", join_host_port(&ip, port)),
                    }
                })
                .collect(),
        };
        for a in addrs {
            let (h, _) = split_zone(&a);
            let key = transport(&h).1.to_string();
            if seen.insert(key) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// A host name's addresses: the system resolver, or A and AAAA queries to
/// the `resolver` addresses in turn.
fn resolve(name: &str, resolver: &[String]) -> Result<Vec<IpAddr>, ResolveError> {
    if resolver.is_empty() {
        let addrs: Vec<IpAddr> = (name, 0)
            .to_socket_addrs()
            .map_err(ResolveError::System)?
            .map(|a| a.ip())
            .collect();
        if addrs.is_empty() {
            return Err(ResolveError::NoAddresses(name.to_string()));
        }
        return Ok(addrs);
    }
    let qname = Name::from_ascii(crate::plugin::names::fqdn(name)).map_err(ResolveError::Name)?;
    let mut last = None;
    for r in resolver {
        let addr: SocketAddr = match split_host_port(r).ok() {
            Some((h, p)) => match (parse_ip(h), p.parse()) {
                (Some(ip), Ok(p)) => SocketAddr::new(ip, p),
                _ => continue,
            },
            None => match parse_ip(r) {
                Some(ip) => SocketAddr::new(ip, 53),
                None => continue,
            },
        };
        match super::exchange::blocking_lookup(&qname, addr) {
            Ok(ips) if !ips.is_empty() => return Ok(ips),
            Ok(_) => {}
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(source) => ResolveError::Lookup {
            name: name.to_string(),
            source,
        },
        None => ResolveError::NoAddresses(name.to_string()),
    })
}

/// The upstreams of a parsed stanza.
pub fn build_upstreams(
    c: &Config,
    name: &'static str,
    stopped: &Arc<std::sync::atomic::AtomicBool>,
) -> Result<Vec<Arc<Upstream>>, UpstreamError> {
    let hc = HealthConfig {
        interval: c.hc_interval,
        domain: Name::from_ascii(&c.hc_domain).unwrap_or_else(|_| Name::root()),
        rec: c.hc_rec,
        tcp: c.force_tcp,
    };
    let mut out = Vec::new();
    for (trans, addr, sni) in &c.to {
        let sock = resolve_addr(addr)?;
        let tls = match trans {
            Trans::Tls => {
                let server_name = c.tls_servername.clone().or_else(|| sni.clone());
                Some(tls::client_config(&c.tls, server_name.as_deref())?)
            }
            Trans::Dns => None,
        };
        out.push(Arc::new(Upstream::new(
            name,
            addr.clone(),
            sock,
            tls,
            hc.clone(),
            c.source,
            Arc::clone(stopped),
        )));
    }
    Ok(out)
}

/// `host:port` (IPv6 in brackets, an optional `%zone`) to a socket address.
fn resolve_addr(a: &str) -> Result<SocketAddr, ToError> {
    let (h, p) = split_host_port(a).map_err(|_| ToError::Address(a.to_string()))?;
    let ip = parse_ip(h).ok_or_else(|| ToError::Address(a.to_string()))?;
    let port: u16 = p.parse().map_err(|_| ToError::Port(a.to_string()))?;
    let scope = match (ip, h.rsplit_once('%')) {
        (IpAddr::V6(_), Some((_, zone))) => zone.parse().unwrap_or(0),
        _ => 0,
    };
    Ok(match ip {
        IpAddr::V6(v6) => SocketAddr::V6(std::net::SocketAddrV6::new(v6, port, 0, scope)),
        v4 => SocketAddr::new(v4, port),
    })
}

impl Policy {
    pub fn from_kind(k: PolicyKind) -> Self {
        match k {
            PolicyKind::Random => Policy::Random,
            PolicyKind::RoundRobin => Policy::RoundRobin(std::sync::atomic::AtomicU32::new(0)),
            PolicyKind::Sequential => Policy::Sequential,
        }
    }
}
