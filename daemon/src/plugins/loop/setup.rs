//! The `loop` directive: the probe's name and where it goes.

use super::{Loop, State};
use crate::corefile::{Directive, Error};
use crate::plugin::BlockSetup;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::Arc;

fn random_label() -> String {
    (rand::random::<u64>() >> 2).to_string()
}

/// `loop` takes no arguments.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Loop, Error> {
    crate::plugin::registry::only_once(ds)?;
    crate::plugin::registry::no_args(ds)?;
    let zone = b.origins.first().cloned().unwrap_or_else(|| ".".into());
    let qname = if zone == "." {
        format!("{}.{}.", random_label(), random_label())
    } else {
        format!("{}.{}.{zone}", random_label(), random_label())
    };
    let ip = b
        .listen_hosts
        .first()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |h| h.ip);
    let addr = SocketAddr::new(ip, b.port);
    let state = Arc::new(State {
        zone,
        qname,
        addr,
        seen: AtomicU32::new(0),
        off: AtomicBool::new(false),
    });
    Ok(Loop { state })
}
