//! The `dnstap` directive, as often as a block holds it: where each tap
//! goes, whether it carries the messages' bytes, the sizes of its queue
//! and send buffer, and what its frames say of the server.

use super::output::{Endpoint, ListenAt, Target};
use super::Dnstap;
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::{quote::quote, strconv, url};
use crate::plugin::BlockSetup;
use std::path::PathBuf;

/// CoreDNS's upper bounds: the send buffer in MiB, the queue in 10,000s.
const MAX_WRITE_BUF: i64 = 1024;
const MAX_QUEUE: i64 = 4096;
const QUEUE_UNIT: usize = 10_000;
const WRITE_BUF_UNIT: usize = 1024 * 1024;

/// One `dnstap` directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub endpoint: Endpoint,
    /// `full`: the DNS messages' bytes go in the frames.
    pub full: bool,
    pub identity: String,
    pub version: String,
    /// `extra`, a log format (metadata included); None: no extra field.
    pub extra: Option<String>,
    /// Frames the queue holds.
    pub queue: usize,
    /// A TCP connection's send buffer, in bytes.
    pub sndbuf: usize,
}

/// `dnstap [listen] SOCKET [full] [WRITEBUFFER] [QUEUE] { identity ID;
/// version V; extra EXTRA; skipverify; tls CERT KEY [CA] }`.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Dnstap, Error> {
    let configs = ds.iter().map(|d| parse(d)).collect::<Result<Vec<_>, _>>()?;
    let d = Dnstap::new(configs);
    b.share(d.taps.clone());
    Ok(d)
}

/// A multiple in `1..=max`, from CoreDNS's words for `what`.
fn multiple(d: &Dispenser<'_>, arg: &str, what: &str, max: i64, unit: &str) -> Result<i64, Error> {
    let v = strconv::atoi(arg)
        .map_err(|e| d.err(format!("dnstap: invalid {what} {}: {e}", quote(arg))))?;
    if !(1..=max).contains(&v) {
        return Err(d.err(format!(
            "dnstap: {what} must be between 1 and {max} ({unit}): {v}"
        )));
    }
    Ok(v)
}

pub fn parse(dir: &Directive) -> Result<Config, Error> {
    let mut d = Dispenser::new(dir);
    d.next();
    let mut args = d.remaining_args();
    if args.is_empty() {
        return Err(d.arg_err());
    }
    let listen = args[0] == "listen";
    if listen {
        if args.len() < 2 {
            return Err(d.err("dnstap listen requires an endpoint argument"));
        }
        args.remove(0);
    }
    let mut sndbuf = WRITE_BUF_UNIT;
    let mut queue = QUEUE_UNIT;
    if let Some(a) = args.get(2) {
        let v = multiple(&d, a, "MultipleTcpWriteBuf", MAX_WRITE_BUF, "MiB units")?;
        sndbuf = v as usize * WRITE_BUF_UNIT;
    }
    if let Some(a) = args.get(3) {
        let v = multiple(&d, a, "MultipleQueue", MAX_QUEUE, "x10k messages")?;
        queue = v as usize * QUEUE_UNIT;
    }
    let socket = args[0].as_str();
    let host = |s: &str| url::host(s).map_err(|_| d.arg_err());
    let mut endpoint = match (listen, socket) {
        (false, s) if s.starts_with("tls://") => Endpoint::Dial(Target::Tls {
            host: host(s)?,
            skip_verify: false,
        }),
        (false, s) if s.starts_with("tcp://") => Endpoint::Dial(Target::Tcp(host(s)?)),
        (false, s) => Endpoint::Dial(Target::Unix(unix_path(s))),
        (true, s) if s.starts_with("tls://") => Endpoint::Listen(ListenAt::Tls {
            addr: host(s)?,
            cert: None,
            key: None,
            ca: None,
            skip_verify: false,
        }),
        (true, s) if s.starts_with("tcp://") => Endpoint::Listen(ListenAt::Tcp(host(s)?)),
        (true, s) => Endpoint::Listen(ListenAt::Unix(unix_path(s))),
    };
    let mut c = Config {
        full: args.get(1).is_some_and(|a| a == "full"),
        identity: crate::sys::hostname().unwrap_or_default(),
        version: crate::plugins::chaos::SERVER_VERSION.to_string(),
        extra: None,
        queue,
        sndbuf,
        endpoint: Endpoint::Dial(Target::Unix(PathBuf::new())),
    };
    while d.next_block() {
        match d.val() {
            "skipverify" => match &mut endpoint {
                Endpoint::Dial(Target::Tls { skip_verify, .. })
                | Endpoint::Listen(ListenAt::Tls { skip_verify, .. }) => *skip_verify = true,
                _ => {}
            },
            "tls" => {
                let Endpoint::Listen(at) = &mut endpoint else {
                    return Err(d.err("tls directive only valid for listeners"));
                };
                let files = d.remaining_args();
                if files.len() < 2 {
                    return Err(d.err("tls requires cert and key file paths"));
                }
                if let ListenAt::Tls { cert, key, ca, .. } = at {
                    *cert = Some(PathBuf::from(&files[0]));
                    *key = Some(PathBuf::from(&files[1]));
                    *ca = files.get(2).map(PathBuf::from);
                }
            }
            p @ ("identity" | "version" | "extra") => {
                if !d.next_arg() {
                    return Err(d.arg_err());
                }
                let v = d.val().to_string();
                match p {
                    "identity" => c.identity = v,
                    "version" => c.version = v,
                    _ => c.extra = Some(v),
                }
            }
            other => return Err(d.err(format!("unknown property '{other}'"))),
        }
    }
    c.endpoint = endpoint;
    Ok(c)
}

/// A unix socket's path: `unix://` is optional.
fn unix_path(s: &str) -> PathBuf {
    PathBuf::from(s.strip_prefix("unix://").unwrap_or(s))
}
