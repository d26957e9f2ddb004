//! The `weighted` policy: a weight file (`NAME` lines, then `IP WEIGHT`
//! lines), re-read every `reload` when its contents changed.

use crate::gocompat::duration;
use crate::gocompat::reload::Periodic;
use hickory_proto::rr::{Record, RecordType};
use rand::Rng;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Per owner name (as written in the file, with a trailing dot), the
/// weights of its addresses.
type Domains = HashMap<String, Vec<(IpAddr, u8)>>;

pub struct Weights {
    file: PathBuf,
    state: Mutex<State>,
    /// The reload thread, stopped by `close`.
    reloader: Mutex<Option<Periodic>>,
}

#[derive(Default)]
struct State {
    /// The contents last parsed, to skip unchanged files.
    contents: Option<Vec<u8>>,
    domains: Domains,
}

/// Why the weight file was not read; `Display` is CoreDNS's wording.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("weight file open error")]
    Open,
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// What is wrong in a weight file (`file`: its path as given).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("wrong domain name:\"{name}\" in weight file {file}. (Maybe a missing weight value?)")]
    Name { name: String, file: String },
    #[error("wrong IP address:\"{ip}\" in weight file {file}")]
    Address { ip: String, file: String },
    #[error("wrong weight value:\"{weight}\" in weight file {file}")]
    Weight { weight: String, file: String },
    #[error("missing domain name in weight file {file}")]
    NoName { file: String },
    #[error("could not parse weight line:\"{line}\" in weight file {file}")]
    Line { line: String, file: String },
}

impl Weights {
    /// Reads the file (a missing file is only warned about when it will be
    /// re-read) and starts the reload thread unless `reload` is zero.
    pub fn start(file: PathBuf, reload: Duration) -> Result<Arc<Self>, ReadError> {
        let w = Arc::new(Self {
            file,
            state: Mutex::new(State::default()),
            reloader: Mutex::new(None),
        });
        match w.update() {
            Ok(()) => {}
            Err(ReadError::Open) if !reload.is_zero() => crate::log::warning(
                Some("loadbalance"),
                &format!(
                    "Failed to open weight file:weight file open error. Will try again in {}",
                    duration::format(reload)
                ),
            ),
            Err(e) => return Err(e),
        }
        if !reload.is_zero() {
            let t = spawn_reloader(&w, reload);
            *w.reloader.lock().unwrap_or_else(|e| e.into_inner()) = t;
        }
        Ok(w)
    }

    pub fn close(&self) {
        self.reloader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    fn update(&self) -> Result<(), ReadError> {
        let bytes = std::fs::read(&self.file).map_err(|_| ReadError::Open)?;
        {
            let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.contents.as_deref() == Some(&bytes[..]) {
                return Ok(());
            }
        }
        let name = self.file.display().to_string();
        let parsed = parse(&String::from_utf8_lossy(&bytes), &name);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // Remembered even when it does not parse, as CoreDNS remembers the
        // checksum: the same broken contents are not reported again.
        st.contents = Some(bytes);
        st.domains = parsed.map_err(ReadError::Parse)?;
        drop(st);
        crate::log::info(
            Some("loadbalance"),
            &format!("Successfully reloaded weight file {name}"),
        );
        Ok(())
    }

    /// Moves one address record, picked at random by weight (1 for
    /// addresses the file does not list), to the front of the addresses;
    /// CNAMEs, then other records, then the addresses, then MX.
    pub fn top_record(&self, rrs: &mut Vec<Record>) {
        let (mut cname, mut rest, mut addr, mut mx) = (vec![], vec![], vec![], vec![]);
        if !rrs
            .iter()
            .any(|r| matches!(r.record_type(), RecordType::A | RecordType::AAAA))
        {
            return;
        }
        for r in rrs.drain(..) {
            match r.record_type() {
                RecordType::CNAME => cname.push(r),
                RecordType::A | RecordType::AAAA => addr.push(r),
                RecordType::MX => mx.push(r),
                _ => rest.push(r),
            }
        }
        let weights: Vec<u8> = {
            let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            addr.iter()
                .map(|r| {
                    let ip = super::address(r).map(canonical);
                    st.domains
                        .get(&r.name.to_string())
                        .and_then(|ws| ws.iter().find(|(a, _)| Some(*a) == ip))
                        .map_or(1, |(_, w)| *w)
                })
                .collect()
        };
        let top = pick(
            &weights,
            rand::rng().random_range(0..weights.iter().map(|w| u32::from(*w)).sum::<u32>()),
        );
        addr.swap(0, top);
        rrs.extend(cname);
        rrs.extend(rest);
        rrs.extend(addr);
        rrs.extend(mx);
    }
}

/// The index `v` falls on when the weights are laid out heaviest first
/// (ties in their order); `v` is below the weights' sum.
fn pick(weights: &[u8], v: u32) -> usize {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| weights[*b].cmp(&weights[*a]));
    let mut sum = 0u32;
    for i in order {
        sum += u32::from(weights[i]);
        if v < sum {
            return i;
        }
    }
    0
}

/// IPv4-mapped IPv6 addresses compare equal to IPv4 ones, as in Go.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The weight file, with CoreDNS's error messages.
fn parse(text: &str, file: &str) -> Result<Domains, ParseError> {
    let mut domains: Domains = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [name] => {
                if name.parse::<IpAddr>().is_ok() {
                    return Err(ParseError::Name {
                        name: name.to_string(),
                        file: file.to_string(),
                    });
                }
                let name = crate::plugin::names::fqdn(name);
                domains.entry(name.clone()).or_default();
                current = Some(name);
            }
            [ip, weight] => {
                let Ok(addr) = ip.parse::<IpAddr>() else {
                    return Err(ParseError::Address {
                        ip: ip.to_string(),
                        file: file.to_string(),
                    });
                };
                let value = weight
                    .bytes()
                    .all(|c| c.is_ascii_digit())
                    .then(|| weight.parse::<u8>().ok())
                    .flatten()
                    .filter(|v| *v != 0);
                let Some(value) = value else {
                    return Err(ParseError::Weight {
                        weight: weight.to_string(),
                        file: file.to_string(),
                    });
                };
                let Some(name) = &current else {
                    return Err(ParseError::NoName {
                        file: file.to_string(),
                    });
                };
                domains
                    .entry(name.clone())
                    .or_default()
                    .push((canonical(addr), value));
            }
            _ => {
                return Err(ParseError::Line {
                    line: line.to_string(),
                    file: file.to_string(),
                })
            }
        }
    }
    Ok(domains)
}

/// Re-reads the file every `every` until the plugin is dropped.
fn spawn_reloader(w: &Arc<Weights>, every: Duration) -> Option<Periodic> {
    let weak = Arc::downgrade(w);
    let tick = move || {
        let Some(w) = weak.upgrade() else {
            return;
        };
        if let Err(e) = w.update() {
            crate::log::error(Some("loadbalance"), &e.to_string());
        }
    };
    match Periodic::start("lb-weights", every, tick) {
        Ok(p) => Some(p),
        Err(e) => {
            crate::log::error(
                Some("loadbalance"),
                &format!("Cannot start the reload of {}: {e}", w.file.display()),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_weights() {
        let d = parse(
            "# comment\n\nwww.example.com\n100.64.1.1 3\n100.64.1.2 1\n\nother.org.\n::ffff:10.0.0.1 255\n",
            "w",
        )
        .unwrap();
        assert_eq!(
            d["www.example.com."],
            [
                ("100.64.1.1".parse().unwrap(), 3),
                ("100.64.1.2".parse().unwrap(), 1)
            ]
        );
        assert_eq!(d["other.org."], [("10.0.0.1".parse().unwrap(), 255)]);
        assert_eq!(
            parse("10.0.0.1\n", "w").unwrap_err().to_string(),
            "wrong domain name:\"10.0.0.1\" in weight file w. (Maybe a missing weight value?)"
        );
        assert_eq!(
            parse("a.org\nx 1\n", "w").unwrap_err().to_string(),
            "wrong IP address:\"x\" in weight file w"
        );
        for bad in ["0", "256", "+1", "-1", "x"] {
            assert_eq!(
                parse(&format!("a.org\n10.0.0.1 {bad}\n"), "w")
                    .unwrap_err()
                    .to_string(),
                format!("wrong weight value:\"{bad}\" in weight file w")
            );
        }
        assert_eq!(
            parse("10.0.0.1 1\n", "w").unwrap_err().to_string(),
            "missing domain name in weight file w"
        );
        assert_eq!(
            parse("a b c\n", "w").unwrap_err().to_string(),
            "could not parse weight line:\"a b c\" in weight file w"
        );
    }

    #[test]
    fn picks_by_weight() {
        // Laid out heaviest first: [3 (idx 0), 2 (idx 2), 1 (idx 1)].
        let w = [3, 1, 2];
        let got: Vec<usize> = (0..6).map(|v| pick(&w, v)).collect();
        assert_eq!(got, [0, 0, 0, 2, 2, 1]);
    }
}
