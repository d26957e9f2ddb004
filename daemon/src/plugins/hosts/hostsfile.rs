//! Hosts file text to lookup maps, as CoreDNS's `hostsfile.go` (a modified
//! copy of Go's `net/hosts.go`) reads it, and the on-disk file kept fresh.

use crate::gocompat::names::is_fqdn;
use crate::plugin::names;
use crate::plugin::prepared::Prepared;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Go's `bufio.Scanner` gives up on a line this long (its default maximum
/// token size); CoreDNS then keeps what it parsed before it.
const MAX_LINE: usize = 64 * 1024;

/// Addresses by name and names by address. Names are lowercased and fully
/// qualified, in their presentation form.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Map {
    name4: HashMap<String, Vec<Ipv4Addr>>,
    name6: HashMap<String, Vec<Ipv6Addr>>,
    /// Owner names starting with `*.`: they match one more label.
    wild4: HashMap<String, Vec<Ipv4Addr>>,
    wild6: HashMap<String, Vec<Ipv6Addr>>,
    /// For PTR; empty with `no_reverse`. IPv4-mapped IPv6 addresses are
    /// keyed as IPv4, as Go prints them.
    addr: HashMap<IpAddr, Vec<String>>,
}

impl Map {
    /// Every address and reverse name held (CoreDNS's `Map.Len`).
    pub fn len(&self) -> usize {
        fn count<K, V>(m: &HashMap<K, Vec<V>>) -> usize {
            m.values().map(Vec::len).sum()
        }
        count(&self.name4)
            + count(&self.name6)
            + count(&self.wild4)
            + count(&self.wild6)
            + count(&self.addr)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The IPv4 addresses of `host`: an exact entry, else the wildcard one
    /// level up.
    pub fn v4(&self, host: &str) -> &[Ipv4Addr] {
        lookup(&self.name4, &self.wild4, host)
    }

    pub fn v6(&self, host: &str) -> &[Ipv6Addr] {
        lookup(&self.name6, &self.wild6, host)
    }

    /// The names that have `ip` (for PTR).
    pub fn names(&self, ip: &IpAddr) -> &[String] {
        self.addr.get(ip).map_or(&[], Vec::as_slice)
    }

    /// The names with addresses of their own (not wildcards).
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.name4
            .keys()
            .chain(self.name6.keys())
            .map(String::as_str)
    }

    /// The addresses with names (for PTR).
    pub fn addresses(&self) -> impl Iterator<Item = &IpAddr> {
        self.addr.keys()
    }
}

fn lookup<'a, T>(
    exact: &'a HashMap<String, Vec<T>>,
    wild: &'a HashMap<String, Vec<T>>,
    host: &str,
) -> &'a [T] {
    if let Some(v) = exact.get(host) {
        return v;
    }
    match asterisk_label(host) {
        Some(pattern) => wild.get(&pattern).map_or(&[], Vec::as_slice),
        None => &[],
    }
}

/// Whether `name` is a wildcard owner name (`*.example.org.`).
fn is_wildcard(name: &str) -> bool {
    name.starts_with("*.")
}

/// `qname` with its leftmost label replaced by `*`; None when it has a
/// single label (or none).
fn asterisk_label(qname: &str) -> Option<String> {
    let b = qname.as_bytes();
    if b.is_empty() {
        return None;
    }
    // The first unescaped dot that is not the final byte (miekg's NextLabel).
    for i in 0..b.len() - 1 {
        if b[i] != b'.' {
            continue;
        }
        let backslashes = b[..i].iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes % 2 == 1 {
            continue;
        }
        return Some(format!("*.{}", &qname[i + 1..]));
    }
    None
}

/// An address from a hosts file: an IPv6 zone (`%eth0`) is dropped, and an
/// IPv4-mapped IPv6 address is the IPv4 address (Go's `To4`).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = match s.find('%') {
        Some(i) => &s[..i],
        None => s,
    };
    parse_ip_exact(s)
}

/// Go's `net.ParseIP`, with IPv4-mapped addresses made IPv4.
fn parse_ip_exact(s: &str) -> Option<IpAddr> {
    if let Ok(v4) = s.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    let v6 = s.parse::<Ipv6Addr>().ok()?;
    Some(match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    })
}

/// CoreDNS's `plugin.Name(s).Normalize()`: fully qualified, lowercased.
fn normalize(s: &str) -> String {
    let mut n = if is_fqdn(s) {
        s.to_string()
    } else {
        format!("{s}.")
    };
    n = n.to_lowercase();
    n
}

/// Parses hosts file text. Lines are `IP NAME...`; `#` starts a comment;
/// lines with a bad address or no name are skipped, and so are names outside
/// `origins`. With `auto_reverse`, non-wildcard names also go in the
/// reverse map.
pub fn parse(data: &[u8], origins: &[String], auto_reverse: bool) -> Map {
    let mut m = Map::default();
    let mut lines = data.split(|&b| b == b'\n').peekable();
    while let Some(raw) = lines.next() {
        if lines.peek().is_none() && raw.is_empty() {
            break;
        }
        if raw.len() >= MAX_LINE {
            break;
        }
        let mut line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(i) = line.iter().position(|&b| b == b'#') {
            line = &line[..i];
        }
        let text = String::from_utf8_lossy(line);
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        let Some(ip) = parse_ip(fields[0]) else {
            continue;
        };
        for f in &fields[1..] {
            let name = normalize(f);
            if names::zone_match(origins, &name).is_none() {
                continue;
            }
            let wild = is_wildcard(&name);
            match ip {
                IpAddr::V4(a) if wild => m.wild4.entry(name).or_default().push(a),
                IpAddr::V6(a) if wild => m.wild6.entry(name).or_default().push(a),
                IpAddr::V4(a) => push_name(&mut m.name4, &mut m.addr, name, a, auto_reverse),
                IpAddr::V6(a) => push_name(&mut m.name6, &mut m.addr, name, a, auto_reverse),
            }
        }
    }
    m
}

fn push_name<T: Copy + Into<IpAddr>>(
    by_name: &mut HashMap<String, Vec<T>>,
    by_addr: &mut HashMap<IpAddr, Vec<String>>,
    name: String,
    ip: T,
    auto_reverse: bool,
) {
    by_name.entry(name.clone()).or_default().push(ip);
    if auto_reverse {
        by_addr.entry(ip.into()).or_default().push(name);
    }
}

/// The address a reverse name stands for (CoreDNS's
/// `dnsutil.ExtractAddressFromReverse`): `4.3.2.1.in-addr.arpa.` is
/// 1.2.3.4; an `ip6.arpa.` name takes its labels four at a time.
pub fn address_from_reverse(name: &str) -> Option<IpAddr> {
    if let Some(search) = name.strip_suffix(".in-addr.arpa.") {
        let labels: Vec<&str> = search.split('.').rev().collect();
        return match parse_ip_exact(&labels.join("."))? {
            v4 @ IpAddr::V4(_) => Some(v4),
            IpAddr::V6(_) => None,
        };
    }
    if let Some(search) = name.strip_suffix(".ip6.arpa.") {
        let labels: Vec<&str> = search.split('.').rev().collect();
        let groups: Vec<String> = labels.chunks_exact(4).map(|c| c.concat()).collect();
        return parse_ip_exact(&groups.join(":"));
    }
    None
}

/// A parse of the file, and the answers prepared from it (see `super::fast`).
#[derive(Default)]
pub struct Loaded {
    pub map: Map,
    pub fast: Prepared,
}

/// What prepares the answers of a parse.
pub type Prepare<'a> = &'a dyn Fn(&Map) -> Prepared;

/// A hosts file on disk: its last parse, swapped in whole on reload with
/// the answers prepared from it.
pub struct Hostsfile {
    pub path: PathBuf,
    origins: Vec<String>,
    auto_reverse: bool,
    loaded: ArcSwap<Loaded>,
    /// Modification time and size of the file when last parsed.
    stamp: Mutex<Option<(Option<SystemTime>, u64)>>,
}

impl Hostsfile {
    pub fn new(path: PathBuf, origins: Vec<String>, auto_reverse: bool) -> Self {
        Self {
            path,
            origins,
            auto_reverse,
            loaded: ArcSwap::from_pointee(Loaded::default()),
            stamp: Mutex::new(None),
        }
    }

    pub fn parse(&self, data: &[u8]) -> Map {
        parse(data, &self.origins, self.auto_reverse)
    }

    /// The last parse and its answers.
    pub fn loaded(&self) -> arc_swap::Guard<Arc<Loaded>> {
        self.loaded.load()
    }

    /// Swaps in `map` with its answers.
    pub fn store(&self, map: Map, prepare: Prepare<'_>) {
        let fast = prepare(&map);
        self.loaded.store(Arc::new(Loaded { map, fast }));
    }

    /// Re-reads the file when its modification time or size changed
    /// (CoreDNS's `readHosts`). A file that cannot be opened leaves the
    /// data as it was, silently: setup already warned about it.
    pub fn read_hosts(&self, prepare: Prepare<'_>) {
        let Ok(mut f) = File::open(&self.path) else {
            return;
        };
        let Ok(meta) = f.metadata() else {
            return;
        };
        let now = (meta.modified().ok(), meta.len());
        let mut stamp = self.stamp.lock().unwrap_or_else(|e| e.into_inner());
        if *stamp == Some(now) {
            return;
        }
        let mut data = Vec::new();
        if let Err(e) = f.read_to_end(&mut data) {
            // CoreDNS keeps what its scanner read before the error.
            crate::log::warning(
                Some("hosts"),
                &format!("Reading hosts file {}: {e}", self.path.display()),
            );
        }
        let map = self.parse(&data);
        crate::log::line(
            crate::log::Level::Debug,
            Some("hosts"),
            &format!("Parsed hosts file into {} entries", map.len()),
        );
        self.store(map, prepare);
        *stamp = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Vec<String> {
        vec![".".to_string()]
    }

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    const EXAMPLE: &str = "\
# comment line
127.0.0.1\tlocalhost   # trailing comment
255.255.255.255\tbroadcasthost
::1             localhost ip6-localhost
10.0.0.1 Example.ORG example.org.  alias
fe80::1%lo0     Linklocal.example
::ffff:10.0.0.2 mapped.example
not-an-ip       bad.example
10.0.0.3
10.0.0.4 #only-a-comment
01.2.3.4 leading-zero.example
\t10.0.0.5\t\ttabs.example\r
";

    #[test]
    fn parses_lines() {
        let m = parse(EXAMPLE.as_bytes(), &root(), true);
        assert_eq!(m.v4("localhost."), &[v4("127.0.0.1")]);
        assert_eq!(m.v6("localhost."), &[v6("::1")]);
        assert_eq!(m.v6("ip6-localhost."), &[v6("::1")]);
        assert_eq!(m.v4("broadcasthost."), &[v4("255.255.255.255")]);
        // Names are lowercased and made fully qualified; repeats are kept.
        assert_eq!(m.v4("example.org."), &[v4("10.0.0.1"), v4("10.0.0.1")]);
        assert_eq!(m.v4("alias."), &[v4("10.0.0.1")]);
        // The zone is dropped.
        assert_eq!(m.v6("linklocal.example."), &[v6("fe80::1")]);
        // IPv4-mapped is IPv4.
        assert_eq!(m.v4("mapped.example."), &[v4("10.0.0.2")]);
        assert!(m.v6("mapped.example.").is_empty());
        assert!(m.v4("bad.example.").is_empty());
        assert!(m.v4("leading-zero.example.").is_empty());
        assert_eq!(m.v4("tabs.example."), &[v4("10.0.0.5")]);
        assert!(m.v4("#only-a-comment.").is_empty());
        assert_eq!(
            m.names(&"10.0.0.1".parse().unwrap()),
            &["example.org.", "example.org.", "alias."]
        );
        assert_eq!(
            m.names(&"::1".parse().unwrap()),
            &["localhost.", "ip6-localhost."]
        );
        assert_eq!(m.names(&"10.0.0.2".parse().unwrap()), &["mapped.example."]);
    }

    #[test]
    fn no_reverse_and_origins() {
        let m = parse(EXAMPLE.as_bytes(), &root(), false);
        assert!(m.names(&"10.0.0.1".parse().unwrap()).is_empty());
        assert_eq!(m.v4("alias."), &[v4("10.0.0.1")]);

        let m = parse(EXAMPLE.as_bytes(), &["org.".to_string()], true);
        assert_eq!(m.v4("example.org."), &[v4("10.0.0.1"), v4("10.0.0.1")]);
        assert!(m.v4("alias.").is_empty());
        assert!(m.v4("localhost.").is_empty());
        assert_eq!(
            m.names(&"10.0.0.1".parse().unwrap()),
            &["example.org.", "example.org."]
        );
    }

    #[test]
    fn wildcards() {
        let text = "192.168.1.10 *.example.com\n192.168.1.11 a.example.com\n::2 *.example.com\n";
        let m = parse(text.as_bytes(), &root(), true);
        assert_eq!(m.v4("a.example.com."), &[v4("192.168.1.11")]);
        assert_eq!(m.v4("apps.example.com."), &[v4("192.168.1.10")]);
        // a.example.com has no AAAA of its own: the wildcard's applies.
        assert_eq!(m.v6("a.example.com."), &[v6("::2")]);
        assert!(m.v4("example.com.").is_empty());
        assert!(m.v4("deep.apps.example.com.").is_empty());
        // No PTR for wildcard owners.
        assert!(m.names(&"192.168.1.10".parse().unwrap()).is_empty());
        assert_eq!(
            m.names(&"192.168.1.11".parse().unwrap()),
            &["a.example.com."]
        );
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn long_line_stops_parsing() {
        let mut text = String::from("10.0.0.1 before.\n");
        text.push_str(&"x".repeat(MAX_LINE));
        text.push_str("\n10.0.0.2 after.\n");
        let m = parse(text.as_bytes(), &root(), true);
        assert_eq!(m.v4("before."), &[v4("10.0.0.1")]);
        assert!(m.v4("after.").is_empty());
    }

    #[test]
    fn labels() {
        assert_eq!(
            asterisk_label("a.example.org."),
            Some("*.example.org.".into())
        );
        assert_eq!(asterisk_label("a\\.b.org."), Some("*.org.".into()));
        assert_eq!(asterisk_label("org."), None);
        assert_eq!(asterisk_label("."), None);
        assert_eq!(normalize("A\\."), "a\\..");
    }

    #[test]
    fn reverse_names() {
        let a = |s: &str| address_from_reverse(s);
        assert_eq!(
            a("1.0.0.10.in-addr.arpa."),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(a("0.10.in-addr.arpa."), None);
        assert_eq!(a("in-addr.arpa."), None);
        assert_eq!(a("example.org."), None);
        let six = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
        assert_eq!(a(six), Some("2001:db8::1".parse().unwrap()));
        // A stray 33rd label is dropped, as CoreDNS groups four at a time.
        assert_eq!(a(&format!("x.{six}")), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(a(&six[2..]), None);
    }
}
