//! The command line, parsed the way Go's flag package parses CoreDNS's:
//! `-name value`, `-name=value`, `--name`, boolean flags alone or `=true`.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `-conf`: a file, `stdin`, or None for `./Corefile` (or the built-in default).
    pub conf: Option<String>,
    /// `-dns.port` / `-p`.
    pub port: u16,
    pub plugins: bool,
    pub pidfile: Option<String>,
    pub version: bool,
    pub quiet: bool,
    /// `-validate` (ferrodns): set up, print what would be served, exit.
    pub validate: bool,
    /// `-io mmsg|uring` (ferrodns): how workers do UDP. recvmmsg is the
    /// default: it answered more in three of the bench's four scenarios here
    /// (docs/benchmarks.md).
    pub io: crate::runtime::Io,
    /// `-fastpath` (ferrodns, default true): cache hits answered from the
    /// query's bytes, without the chain, and forward-only blocks' UDP
    /// queries relayed as bytes, where the block allows it.
    pub fast_path: bool,
    /// `-workers N` (ferrodns): workers when the Corefile has no
    /// `multisocket`; None: one per CPU the process may run on.
    pub workers: Option<usize>,
    /// `-steer` (ferrodns, default false): UDP queries steered to the
    /// worker that owns their question by an SK_REUSEPORT eBPF program,
    /// where the build has it and the kernel allows it. Off by default: on
    /// this project's 2-core rig it answered no more than the kernel's
    /// flow hash over the shared cache (docs/benchmarks.md).
    pub steer: bool,
    /// node-cache's flags (NodeLocal DNSCache): node-local mode with
    /// `-localip`.
    pub node: crate::nodelocal::Flags,
    /// `-handover PATH` (ferrodns): the unix socket a running server hands
    /// its listeners over on, to a new process started with the same flag
    /// (SIGUSR2 starts one).
    pub handover: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            conf: None,
            port: 53,
            plugins: false,
            pidfile: None,
            version: false,
            quiet: false,
            validate: false,
            io: crate::runtime::Io::Mmsg,
            fast_path: true,
            workers: None,
            steer: false,
            node: crate::nodelocal::Flags::default(),
            handover: None,
        }
    }
}

/// `-h`/`-help` (usage, exit 0), or what is wrong with the command line
/// (the message, usage, exit 2); `Display` is Go's flag package's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error("help requested")]
    Help,
    #[error("flag provided but not defined: -{0}")]
    Undefined(String),
    #[error("flag needs an argument: -{0}")]
    NeedsArgument(String),
    #[error("extra command line arguments: [{}]", .0.join(" "))]
    Extra(Vec<String>),
    #[error("invalid boolean value \"{value}\" for -{flag}: parse error")]
    Bool { flag: String, value: String },
    /// A value the flag does not take; `expected` says what it takes.
    #[error("invalid value \"{value}\" for flag -{flag}: {expected}")]
    Value {
        flag: String,
        value: String,
        expected: &'static str,
    },
}

pub const USAGE: &str = "Usage of ferrodns:
  -conf string
    \tCorefile to load (default \"Corefile\")
  -dns.port string
    \tDefault port (default \"53\")
  -handover string
    \tUnix socket to hand the listeners over on: a new process started with the same flag takes them from the running one, losing no query (SIGUSR2 starts one from the binary's path)
  -fastpath
    \tAnswer cache hits from the query's bytes, and relay forward-only blocks' UDP queries as bytes, where the Corefile allows (default true)
  -io string
    \tUDP I/O of the workers: mmsg (recvmmsg/sendmmsg) or uring (io_uring; recvmmsg where refused) (default \"mmsg\")
  -p string
    \tDefault port (default \"53\")
  -pidfile string
    \tPath to write pid file
  -plugins
    \tList installed plugins
  -quiet
    \tQuiet mode (no initialization output)
  -steer
    \tSteer each UDP query to the worker that owns its question (SK_REUSEPORT eBPF), where built in and allowed
  -validate
    \tCheck the Corefile, print what would be served, and exit
  -version
    \tShow version
  -workers int
    \tWorkers (one pinned thread each) when the Corefile has no multisocket (default: one per CPU the process may run on)

NodeLocal DNSCache (node-cache's flags; node-local mode with -localip):
  -localip string
    \tcomma-separated string of ip addresses to bind dnscache to
  -basecorefile string
    \tPath to the template Corefile for node-cache (default \"/etc/coredns/Corefile.base\")
  -health-port string
    \tport used by health plugin (default \"8080\")
  -interfacename string
    \tname of the interface to be created (default \"nodelocaldns\")
  -kubednscm string
    \tPath where the kube-dns configmap will be mounted
  -reloadwithsignal
    \tuse SIGUSR1 on self to reload CoreDNS
  -setupinterface
    \tindicates whether network interface should be setup (default true)
  -setupiptables
    \tindicates whether iptables rules should be setup (default true)
  -skipteardown
    \tindicates whether iptables rules should be torn down on exit
  -syncinterval duration
    \tinterval to check for iptables rules (default 1m0s)
  -upstreamsvc string
    \tService name whose cluster IP is upstream for node-cache (default \"kube-dns\")
";

fn parse_bool(name: &str, v: &str) -> Result<bool, CliError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(CliError::Bool {
            flag: name.to_string(),
            value: v.to_string(),
        }),
    }
}

pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Options, CliError> {
    let mut o = Options::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            if let Some(extra) = it.next() {
                return Err(CliError::Extra(vec![extra]));
            }
            break;
        }
        let Some(flag) = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .filter(|f| !f.is_empty())
        else {
            return Err(CliError::Extra(std::iter::once(arg).chain(it).collect()));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        let mut value = |inline: Option<String>| -> Result<String, CliError> {
            inline
                .or_else(|| it.next())
                .ok_or_else(|| CliError::NeedsArgument(name.clone()))
        };
        match name.as_str() {
            "h" | "help" => return Err(CliError::Help),
            "conf" => o.conf = Some(value(inline)?),
            "pidfile" => o.pidfile = Some(value(inline)?),
            "workers" => {
                let v = value(inline)?;
                o.workers = Some(match v.parse::<usize>() {
                    Ok(n) if (1..=1024).contains(&n) => n,
                    _ => {
                        return Err(CliError::Value {
                            flag: name,
                            value: v,
                            expected: "a number from 1 to 1024",
                        })
                    }
                });
            }
            "dns.port" | "p" => {
                let v = value(inline)?;
                o.port = v.parse().map_err(|_| CliError::Value {
                    flag: name.clone(),
                    value: v.clone(),
                    expected: "not a port",
                })?;
            }
            "io" => {
                let v = value(inline)?;
                o.io = crate::runtime::Io::parse(&v).ok_or_else(|| CliError::Value {
                    flag: name.clone(),
                    value: v.clone(),
                    expected: "mmsg or uring",
                })?;
            }
            "plugins" => o.plugins = inline.map_or(Ok(true), |v| parse_bool(&name, &v))?,
            "version" => o.version = inline.map_or(Ok(true), |v| parse_bool(&name, &v))?,
            "quiet" => o.quiet = inline.map_or(Ok(true), |v| parse_bool(&name, &v))?,
            "validate" => o.validate = inline.map_or(Ok(true), |v| parse_bool(&name, &v))?,
            "fastpath" => o.fast_path = inline.map_or(Ok(true), |v| parse_bool(&name, &v))?,
            "steer" => o.steer = inline.map_or(Ok(true), |v| parse_bool(&name, &v))?,
            "handover" => o.handover = Some(value(inline)?),
            // node-cache's (NodeLocal DNSCache's DaemonSet).
            "localip" => o.node.localip = Some(value(inline)?),
            "setupinterface" => {
                o.node.setup_interface = inline.map_or(Ok(true), |v| parse_bool(&name, &v))?
            }
            "setupiptables" => {
                o.node.setup_rules = inline.map_or(Ok(true), |v| parse_bool(&name, &v))?
            }
            "skipteardown" => {
                o.node.skip_teardown = inline.map_or(Ok(true), |v| parse_bool(&name, &v))?
            }
            "reloadwithsignal" => {
                o.node.reload_with_signal = inline.map_or(Ok(true), |v| parse_bool(&name, &v))?
            }
            "interfacename" => o.node.interface = value(inline)?,
            "basecorefile" => o.node.base_corefile = value(inline)?.into(),
            "kubednscm" => o.node.kubedns_cm = Some(value(inline)?.into()),
            "upstreamsvc" => o.node.upstream_svc = value(inline)?,
            // `-corefile` is overridden by `-conf` in node-cache; the
            // metrics are on prometheus's /metrics here.
            "corefile" | "metrics-listen-address" => {
                value(inline)?;
            }
            "health-port" => {
                let v = value(inline)?;
                o.node.health_port = v.parse().map_err(|_| CliError::Value {
                    flag: name.clone(),
                    value: v.clone(),
                    expected: "a port",
                })?;
            }
            "syncinterval" => {
                let v = value(inline)?;
                // A Go duration, or (node-cache's intent) seconds.
                let d = v
                    .parse::<u64>()
                    .map(std::time::Duration::from_secs)
                    .or_else(|_| crate::gocompat::duration::parse(&v).ok_or(()))
                    .map_err(|_| CliError::Value {
                        flag: name.clone(),
                        value: v.clone(),
                        expected: "a duration (30s) or seconds",
                    })?;
                o.node.sync_interval = d;
            }
            _ => return Err(CliError::Undefined(name)),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, CliError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn go_flag_forms() {
        let o = p(&[
            "-conf",
            "x",
            "--dns.port=1053",
            "-quiet",
            "-pidfile=/run/f.pid",
        ])
        .unwrap();
        assert_eq!(o.conf.as_deref(), Some("x"));
        assert_eq!(o.port, 1053);
        assert!(o.quiet);
        assert_eq!(o.pidfile.as_deref(), Some("/run/f.pid"));
        assert_eq!(p(&["-p", "5353"]).unwrap().port, 5353);
        assert!(!p(&["-quiet=false"]).unwrap().quiet);
        assert!(p(&["-validate"]).unwrap().validate);
        assert!(!p(&[]).unwrap().steer);
        assert!(p(&["-steer"]).unwrap().steer);
        assert!(!p(&["-steer=false"]).unwrap().steer);
        assert!(p(&[]).unwrap().fast_path);
        assert!(!p(&["-fastpath=false"]).unwrap().fast_path);
        assert_eq!(p(&["-workers", "3"]).unwrap().workers, Some(3));
        assert_eq!(p(&[]).unwrap().workers, None);
    }

    #[test]
    fn errors() {
        let text = |args: &[&str]| p(args).unwrap_err().to_string();
        assert_eq!(text(&["-bogus"]), "flag provided but not defined: -bogus");
        assert_eq!(text(&["stray"]), "extra command line arguments: [stray]");
        assert_eq!(
            text(&["stray", "-conf", "x"]),
            "extra command line arguments: [stray -conf x]"
        );
        assert_eq!(text(&["-conf"]), "flag needs an argument: -conf");
        assert_eq!(
            text(&["-p", "99999"]),
            "invalid value \"99999\" for flag -p: not a port"
        );
        assert_eq!(
            text(&["-workers", "0"]),
            "invalid value \"0\" for flag -workers: a number from 1 to 1024"
        );
        assert_eq!(
            text(&["-quiet=maybe"]),
            "invalid boolean value \"maybe\" for -quiet: parse error"
        );
        assert_eq!(p(&["-h"]), Err(CliError::Help));
    }
}
