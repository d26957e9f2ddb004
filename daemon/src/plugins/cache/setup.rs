//! `cache [TTL] [ZONES...] { success denial prefetch serve_stale
//! serve_stale_policy servfail disable keepttl }`, checked and worded as
//! CoreDNS's `cacheParse`.

use super::Cache;
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::duration;
use crate::gocompat::quote::quote_byte;
use crate::gocompat::strconv::atoi;
use crate::plugin::registry::only_once;
use crate::plugin::{names, BlockSetup};
use std::time::Duration;

/// CoreDNS's defaults: 3600 s (success) and 1800 s (denial) at most, 5 s
/// at least, SERVFAIL for 5 s, 10000 entries asked for each store.
pub const MAX_TTL: Duration = Duration::from_secs(3600);
pub const MAX_NTTL: Duration = Duration::from_secs(1800);
pub const MIN_TTL: Duration = Duration::from_secs(5);
pub const DEFAULT_CAP: i64 = 10000;

/// The settings of one `cache` directive.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub zones: Vec<String>,
    /// The capacity asked for (CoreDNS takes any number; see [`super::total_capacity`]).
    pub pcap: i64,
    pub pttl: Duration,
    pub minpttl: Duration,
    pub ncap: i64,
    pub nttl: Duration,
    pub minnttl: Duration,
    pub failttl: Duration,
    pub prefetch: u32,
    pub duration: Duration,
    pub percentage: u32,
    /// serve_stale: how long past expiry an item may be served; zero: off.
    pub stale_up_to: Duration,
    pub verify_stale: bool,
    /// How long a verify may keep the client waiting before it gets the
    /// stale reply; zero: until the verify is over.
    pub verify_timeout: Duration,
    pub stale_ttl: Duration,
    pub stale_recheck: Duration,
    pub prefer_positive: bool,
    pub pexcept: Vec<String>,
    pub nexcept: Vec<String>,
    pub keepttl: bool,
}

impl Config {
    pub fn new(zones: Vec<String>) -> Self {
        Self {
            zones,
            pcap: DEFAULT_CAP,
            pttl: MAX_TTL,
            minpttl: MIN_TTL,
            ncap: DEFAULT_CAP,
            nttl: MAX_NTTL,
            minnttl: MIN_TTL,
            failttl: MIN_TTL,
            prefetch: 0,
            duration: Duration::from_secs(60),
            percentage: 10,
            stale_up_to: Duration::ZERO,
            verify_stale: false,
            verify_timeout: Duration::ZERO,
            stale_ttl: Duration::ZERO,
            stale_recheck: Duration::ZERO,
            prefer_positive: false,
            pexcept: Vec::new(),
            nexcept: Vec::new(),
            keepttl: false,
        }
    }
}

pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Cache, Error> {
    let c = parse(&b.origins, ds)?;
    // The block is known by its zones and port, and by its place among the
    // blocks that share both (blocks with views): each keeps its own store.
    let block = format!("{}:{}#{}", b.origins.join(" "), b.port, b.nth);
    let mut cache = Cache::for_block(&block, c);
    cache.slot = b.slot();
    Ok(cache)
}

pub fn parse(origins: &[String], ds: &[&Directive]) -> Result<Config, Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let mut args = d.remaining_args();
    let mut c = Config::new(Vec::new());
    if let Some(first) = args.first() {
        // A number first is the TTL; anything else is a zone.
        if let Ok(ttl) = atoi(first) {
            if ttl <= 0 {
                return Err(d.err(format!("cache TTL can not be zero or negative: {ttl}")));
            }
            c.pttl = secs(ttl);
            c.nttl = secs(ttl);
            args.remove(0);
        }
    }
    let zones = names::host_zones(&args, origins);
    let mut stale_set = false;
    let mut policy_set = false;
    while d.next_block() {
        let prop = d.val();
        match prop {
            "success" | "denial" => {
                let args = d.remaining_args();
                if args.is_empty() {
                    return Err(d.arg_err());
                }
                let cap = atoi(&args[0]).map_err(|e| d.err(e.to_string()))?;
                let (mut ttl, mut min) = if prop == "success" {
                    (c.pttl, c.minpttl)
                } else {
                    (c.nttl, c.minnttl)
                };
                if let Some(a) = args.get(1) {
                    let t = atoi(a).map_err(|e| d.err(e.to_string()))?;
                    if t <= 0 {
                        return Err(d.err(format!("cache TTL can not be zero or negative: {t}")));
                    }
                    ttl = secs(t);
                    if let Some(a) = args.get(2) {
                        let m = atoi(a).map_err(|e| d.err(e.to_string()))?;
                        if m < 0 {
                            return Err(d.err(format!("cache min TTL can not be negative: {m}")));
                        }
                        min = secs(m);
                    }
                }
                if prop == "success" {
                    (c.pcap, c.pttl, c.minpttl) = (cap, ttl, min);
                } else {
                    (c.ncap, c.nttl, c.minnttl) = (cap, ttl, min);
                }
            }
            "prefetch" => {
                let args = d.remaining_args();
                if args.is_empty() || args.len() > 3 {
                    return Err(d.arg_err());
                }
                let amount = atoi(&args[0]).map_err(|e| d.err(e.to_string()))?;
                if amount < 0 {
                    return Err(d.err(format!("prefetch amount should be positive: {amount}")));
                }
                c.prefetch = amount.min(i64::from(u32::MAX)) as u32;
                if let Some(a) = args.get(1) {
                    // A negative window behaves as no window.
                    c.duration =
                        nonneg(duration::parse_nanos(a).map_err(|e| d.err(e.to_string()))?);
                }
                if let Some(pct) = args.get(2) {
                    let Some(num) = pct.strip_suffix('%') else {
                        let last = pct.as_bytes()[pct.len() - 1];
                        return Err(d.err(format!(
                            "last character of percentage should be `%`, but is: {}",
                            quote_byte(last)
                        )));
                    };
                    let num = atoi(num).map_err(|e| d.err(e.to_string()))?;
                    if !(10..=90).contains(&num) {
                        return Err(
                            d.err(format!("percentage should fall in range [10, 90]: {num}"))
                        );
                    }
                    c.percentage = num as u32;
                }
            }
            "serve_stale" => {
                stale_set = true;
                let args = d.remaining_args();
                if args.len() > 5 {
                    return Err(d.arg_err());
                }
                c.stale_up_to = Duration::from_secs(3600);
                c.stale_ttl = Duration::ZERO;
                c.stale_recheck = Duration::ZERO;
                if let Some(a) = args.first() {
                    let t = duration::parse_nanos(a).map_err(|e| d.err(e.to_string()))?;
                    if t < 0 {
                        return Err(d.err("invalid negative duration for serve_stale"));
                    }
                    c.stale_up_to = nonneg(t);
                }
                c.verify_stale = false;
                c.verify_timeout = Duration::ZERO;
                if let Some(mode) = args.get(1) {
                    let mode = mode.to_lowercase();
                    if mode != "immediate" && mode != "verify" {
                        return Err(d.err(format!(
                            "invalid value for serve_stale refresh mode: {mode}"
                        )));
                    }
                    c.verify_stale = mode == "verify";
                }
                let rest = args.get(2..).unwrap_or_default();
                let rest = if c.verify_stale && !rest.is_empty() {
                    let t = duration::parse_nanos(&rest[0])
                        .map_err(|e| d.err(format!("invalid serve_stale verify timeout: {e}")))?;
                    if t < 0 {
                        return Err(d.err("invalid negative timeout for serve_stale verify"));
                    }
                    c.verify_timeout = nonneg(t);
                    &rest[1..]
                } else {
                    if rest.len() > 2 {
                        return Err(d.arg_err());
                    }
                    rest
                };
                if let Some(a) = rest.first() {
                    c.stale_ttl = stale_ttl(a).map_err(|e| d.err(e.to_string()))?;
                }
                if let Some(a) = rest.get(1) {
                    c.stale_recheck = stale_recheck(a).map_err(|e| d.err(e.to_string()))?;
                }
            }
            "serve_stale_policy" => {
                if policy_set {
                    return Err(d.err("serve_stale_policy can only be specified once"));
                }
                policy_set = true;
                let args = d.remaining_args();
                let [policy] = args.as_slice() else {
                    return Err(d.arg_err());
                };
                if !policy.eq_ignore_ascii_case("prefer_positive") {
                    return Err(d.err(format!("invalid serve_stale_policy: {policy}")));
                }
                c.prefer_positive = true;
            }
            "servfail" => {
                let args = d.remaining_args();
                let [a] = args.as_slice() else {
                    return Err(d.arg_err());
                };
                let t = duration::parse_nanos(a).map_err(|e| d.err(e.to_string()))?;
                if t < 0 {
                    return Err(d.err("invalid negative ttl for servfail"));
                }
                if t > 300_000_000_000 {
                    return Err(d.err("caching SERVFAIL responses over 5 minutes is not permitted"));
                }
                c.failttl = nonneg(t);
            }
            "disable" => {
                let args = d.remaining_args();
                let Some((kind, zones)) = args.split_first() else {
                    return Err(d.arg_err());
                };
                let zones = if zones.is_empty() {
                    vec![".".to_string()]
                } else {
                    zones
                        .iter()
                        .map(|z| names::fqdn(&z.to_ascii_lowercase()))
                        .collect()
                };
                match kind.as_str() {
                    "denial" => c.nexcept = zones,
                    "success" => c.pexcept = zones,
                    _ => {
                        return Err(
                            d.err("cache type for disable must be \"success\" or \"denial\"")
                        )
                    }
                }
            }
            "keepttl" => {
                if !d.remaining_args().is_empty() {
                    return Err(d.arg_err());
                }
                c.keepttl = true;
            }
            _ => return Err(d.arg_err()),
        }
    }
    if policy_set && !stale_set {
        return Err(d.err("serve_stale_policy requires serve_stale"));
    }
    // CoreDNS checks this when it reaches the second occurrence.
    only_once(ds)?;
    c.zones = zones;
    Ok(c)
}

fn secs(n: i64) -> Duration {
    Duration::from_secs(n.max(0) as u64)
}

fn nonneg(nanos: i64) -> Duration {
    Duration::from_nanos(nanos.max(0) as u64)
}

/// What is wrong with serve_stale's response TTL or failure recheck;
/// `Display` is CoreDNS's wording.
#[derive(Debug, thiserror::Error)]
enum StaleError {
    #[error("invalid serve_stale response TTL: {0}")]
    Ttl(duration::ParseError),
    #[error("invalid negative response TTL for serve_stale")]
    NegativeTtl,
    #[error("serve_stale response TTL must be a whole number of seconds")]
    FractionalTtl,
    #[error("serve_stale response TTL exceeds the DNS TTL range")]
    TtlRange,
    #[error("invalid serve_stale failure recheck: {0}")]
    Recheck(duration::ParseError),
    #[error("invalid negative failure recheck for serve_stale")]
    NegativeRecheck,
    #[error("serve_stale failure recheck cannot exceed 5 minutes")]
    RecheckRange,
}

fn stale_ttl(s: &str) -> Result<Duration, StaleError> {
    let t = duration::parse_nanos(s).map_err(StaleError::Ttl)?;
    if t < 0 {
        return Err(StaleError::NegativeTtl);
    }
    if t % 1_000_000_000 != 0 {
        return Err(StaleError::FractionalTtl);
    }
    if t / 1_000_000_000 > i64::from(u32::MAX) {
        return Err(StaleError::TtlRange);
    }
    Ok(nonneg(t))
}

fn stale_recheck(s: &str) -> Result<Duration, StaleError> {
    let t = duration::parse_nanos(s).map_err(StaleError::Recheck)?;
    if t < 0 {
        return Err(StaleError::NegativeRecheck);
    }
    if t > 300_000_000_000 {
        return Err(StaleError::RecheckRange);
    }
    Ok(nonneg(t))
}
