//! The node's network side of a node-local cache, with the system's own
//! tools (`ip`, `nft`, or `iptables`/`ip6tables` where nftables is not
//! there): the dummy interface holding the local addresses, and the rules
//! node-cache installs — DNS to and from the local addresses (and the
//! health port) kept out of conntrack, and accepted.

use std::net::IpAddr;
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{cmd}: {why}")]
    Command { cmd: String, why: String },
    #[error("neither nft nor iptables is installed: the rules cannot be set up (-setupiptables=false goes without them)")]
    NoFirewall,
}

/// The nftables table holding every rule (removed whole).
pub const TABLE: &str = "ferrodns_nodelocal";
/// node-cache's rule comments.
const SKIP_CONNTRACK: &str = "NodeLocal DNS Cache: skip conntrack";
const ALLOW: &str = "NodeLocal DNS Cache: allow DNS traffic";

/// Runs `program args` (with `input` on its standard input); its output,
/// or what it said on failing.
fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<String, NetError> {
    let cmd = || format!("{program} {}", args.join(" "));
    let mut c = Command::new(program);
    c.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| NetError::Command {
        cmd: cmd(),
        why: e.to_string(),
    })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        use std::io::Write;
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| NetError::Command {
        cmd: cmd(),
        why: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(NetError::Command {
            cmd: cmd(),
            why: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn prefix(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}/32"),
        IpAddr::V6(a) => format!("{a}/128"),
    }
}

/// The dummy interface `name` exists and holds `ips`.
pub fn ensure_interface(name: &str, ips: &[IpAddr]) -> Result<(), NetError> {
    if run("ip", &["link", "show", "dev", name], None).is_err() {
        if let Err(e) = run("ip", &["link", "add", name, "type", "dummy"], None) {
            // A kernel built without dummy interfaces: a bridge without
            // ports holds local addresses the same way.
            if !e.to_string().contains("Unknown device type") {
                return Err(e);
            }
            run("ip", &["link", "add", name, "type", "bridge"], None)?;
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                crate::log::warning(
                    None,
                    &format!(
                        "this kernel has no dummy interfaces: {name} is a bridge without ports"
                    ),
                );
            }
        }
    }
    for ip in ips {
        run("ip", &["addr", "replace", &prefix(ip), "dev", name], None)?;
    }
    Ok(())
}

/// The interface is gone (it is not an error that it was).
pub fn remove_interface(name: &str) -> Result<(), NetError> {
    if run("ip", &["link", "show", "dev", name], None).is_ok() {
        run("ip", &["link", "del", name], None)?;
    }
    Ok(())
}

/// One rule as node-cache writes it for iptables: table, chain, arguments.
type IptRule = (&'static str, &'static str, Vec<String>);

/// Which chain a rule is in: node-cache's iptables table and chain.
#[derive(Clone, Copy, PartialEq)]
enum Chain {
    RawPrerouting,
    RawOutput,
    FilterInput,
    FilterOutput,
}

/// One of node-cache's rules for a local address: its chain, whether it
/// matches the address as destination (else as source), the protocol,
/// whether the port is the health port (else DNS's).
type Spec = (Chain, bool, &'static str, bool);

/// node-cache's twelve rules for each local address (cache_app.go).
const SPECS: [Spec; 12] = [
    (Chain::RawPrerouting, true, "tcp", false),
    (Chain::RawPrerouting, true, "udp", false),
    (Chain::FilterInput, true, "tcp", false),
    (Chain::FilterInput, true, "udp", false),
    (Chain::RawOutput, false, "tcp", false),
    (Chain::RawOutput, false, "udp", false),
    (Chain::FilterOutput, false, "tcp", false),
    (Chain::FilterOutput, false, "udp", false),
    (Chain::RawOutput, true, "tcp", false),
    (Chain::RawOutput, true, "udp", false),
    (Chain::RawOutput, true, "tcp", true),
    (Chain::RawOutput, false, "tcp", true),
];

impl Chain {
    fn raw(self) -> bool {
        matches!(self, Chain::RawPrerouting | Chain::RawOutput)
    }

    fn comment(self) -> &'static str {
        if self.raw() {
            SKIP_CONNTRACK
        } else {
            ALLOW
        }
    }
}

/// The rules, in one of the two tools.
#[derive(Clone, Debug)]
pub enum Firewall {
    /// A table of its own, made and removed whole.
    Nft {
        family: &'static str,
        script: String,
        rules: usize,
    },
    Iptables {
        program: &'static str,
        rules: Vec<IptRule>,
    },
}

impl Firewall {
    /// node-cache's rules for `ips` (one family), DNS on `port`, health on
    /// `health`: nftables where `nft` is installed, else iptables.
    pub fn new(ips: &[IpAddr], port: u16, health: u16) -> Result<Firewall, NetError> {
        let v6 = ips.first().is_some_and(IpAddr::is_ipv6);
        if on_path("nft") {
            return Ok(Self::nft(ips, port, health, v6));
        }
        let program = if v6 { "ip6tables" } else { "iptables" };
        if !on_path(program) {
            return Err(NetError::NoFirewall);
        }
        let mut rules = Vec::new();
        for ip in ips {
            for (chain, dst, proto, is_health) in SPECS {
                let port = if is_health { health } else { port }.to_string();
                let (table, name) = match chain {
                    Chain::RawPrerouting => ("raw", "PREROUTING"),
                    Chain::RawOutput => ("raw", "OUTPUT"),
                    Chain::FilterInput => ("filter", "INPUT"),
                    Chain::FilterOutput => ("filter", "OUTPUT"),
                };
                let (dir, pdir) = if dst {
                    ("-d", "--dport")
                } else {
                    ("-s", "--sport")
                };
                let target = if chain.raw() { "NOTRACK" } else { "ACCEPT" };
                let args = [
                    "-p",
                    proto,
                    dir,
                    &ip.to_string(),
                    pdir,
                    &port,
                    "-j",
                    target,
                    "-m",
                    "comment",
                    "--comment",
                    chain.comment(),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                rules.push((table, name, args));
            }
        }
        Ok(Firewall::Iptables { program, rules })
    }

    fn nft(ips: &[IpAddr], port: u16, health: u16, v6: bool) -> Firewall {
        let family = if v6 { "ip6" } else { "ip" };
        let chains = [
            (Chain::RawPrerouting, "raw_prerouting", "prerouting", "raw"),
            (Chain::RawOutput, "raw_output", "output", "raw"),
            (Chain::FilterInput, "filter_input", "input", "filter"),
            (Chain::FilterOutput, "filter_output", "output", "filter"),
        ];
        let mut script = format!("table {family} {TABLE} {{\n");
        for (chain, name, hook, priority) in chains {
            script.push_str(&format!(
                "    chain {name} {{\n        type filter hook {hook} priority {priority}; policy accept;\n"
            ));
            for ip in ips {
                for (c, dst, proto, is_health) in SPECS.iter().filter(|s| s.0 == chain) {
                    let port = if *is_health { health } else { port };
                    let (a, p) = if *dst {
                        ("daddr", "dport")
                    } else {
                        ("saddr", "sport")
                    };
                    let verdict = if c.raw() { "notrack" } else { "accept" };
                    script.push_str(&format!(
                        "        {family} {a} {ip} {proto} {p} {port} {verdict} comment \"{}\"\n",
                        c.comment()
                    ));
                }
            }
            script.push_str("    }\n");
        }
        script.push_str("}\n");
        Firewall::Nft {
            family,
            script,
            rules: SPECS.len() * ips.len(),
        }
    }

    /// Every rule is there: what is missing is added (with nftables the
    /// table is made again whole, in one transaction).
    pub fn ensure(&self) -> Result<(), NetError> {
        match self {
            Firewall::Nft {
                family,
                script,
                rules,
            } => {
                let listed =
                    run("nft", &["list", "table", family, TABLE], None).unwrap_or_default();
                if listed.matches("comment \"NodeLocal DNS Cache").count() == *rules {
                    return Ok(());
                }
                let all =
                    format!("add table {family} {TABLE}\ndelete table {family} {TABLE}\n{script}");
                run("nft", &["-f", "-"], Some(&all)).map(|_| ())
            }
            Firewall::Iptables { program, rules } => {
                for (table, chain, args) in rules {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let with = |op: &'static str| {
                        let mut a = vec!["-w", "-t", table, op, chain];
                        a.extend(&args);
                        a
                    };
                    if run(program, &with("-C"), None).is_err() {
                        run(program, &with("-I"), None)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// No rule is left (it is not an error that none was there).
    pub fn remove(&self) -> Result<(), NetError> {
        match self {
            Firewall::Nft { family, .. } => {
                let all = format!("add table {family} {TABLE}\ndelete table {family} {TABLE}\n");
                run("nft", &["-f", "-"], Some(&all)).map(|_| ())
            }
            Firewall::Iptables { program, rules } => {
                for (table, chain, args) in rules {
                    let mut a = vec!["-w", "-t", table, "-D", chain];
                    a.extend(args.iter().map(String::as_str));
                    // The same rule may be there more than once.
                    for _ in 0..16 {
                        if run(program, &a, None).is_err() {
                            break;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// The nftables table's text, for tests and `-validate`.
    pub fn script(&self) -> Option<&str> {
        match self {
            Firewall::Nft { script, .. } => Some(script),
            Firewall::Iptables { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_rules_mirror_node_caches() {
        let ips: Vec<IpAddr> = vec!["169.254.20.10".parse().unwrap()];
        let f = Firewall::nft(&ips, 53, 8080, false);
        let s = f.script().unwrap();
        assert_eq!(
            s.matches("comment \"NodeLocal DNS Cache").count(),
            12,
            "{s}"
        );
        assert!(
            s.contains("type filter hook prerouting priority raw;"),
            "{s}"
        );
        assert!(
            s.contains("ip daddr 169.254.20.10 udp dport 53 notrack"),
            "{s}"
        );
        assert!(
            s.contains("ip saddr 169.254.20.10 tcp sport 8080 notrack"),
            "{s}"
        );
        assert!(
            s.contains("ip daddr 169.254.20.10 tcp dport 53 accept"),
            "{s}"
        );
        let v6: Vec<IpAddr> = vec!["fd00::10".parse().unwrap()];
        let s6 = Firewall::nft(&v6, 53, 8080, true);
        assert!(s6
            .script()
            .unwrap()
            .starts_with("table ip6 ferrodns_nodelocal"));
        assert!(s6
            .script()
            .unwrap()
            .contains("ip6 daddr fd00::10 udp dport 53"));
    }
}
