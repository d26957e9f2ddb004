//! What a plugin may ask of the HTTP side (prometheus, health, ready) and
//! what it tells `/ready`: the contract's types, served by `control`.

use crate::corefile::{Dispenser, Error};
use crate::gocompat::net::split_host_port;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// What a plugin serves at an address.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// prometheus: `/metrics`.
    Metrics,
    /// health: `/health`, and the wait before shutting down.
    Health { lameduck: Duration },
    /// ready: `/ready`; `monitor continuously` asks ready plugins again.
    Ready { continuously: bool },
}

/// One plugin's endpoint, as set up from the Corefile.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpSpec {
    /// As written (`localhost:9153`, `:8080`).
    pub addr: String,
    pub route: Route,
}

/// A plugin's readiness, shared between the plugin and `/ready`
/// (CoreDNS's `ready.Readiness`): set once the plugin is ready.
pub type Flag = Arc<AtomicBool>;

/// A new readiness flag, not ready yet.
pub fn flag() -> Flag {
    Arc::new(AtomicBool::new(false))
}

/// The `[ADDRESS]` argument of prometheus, health and ready: `default` when
/// absent, checked as Go's `net.SplitHostPort` would when given.
pub fn optional_arg(d: &Dispenser<'_>, args: &[String], default: &str) -> Result<String, Error> {
    match args {
        [] => Ok(default.to_string()),
        [a] => {
            split_host_port(a).map_err(|e| d.err(e.to_string()))?;
            Ok(a.clone())
        }
        _ => Err(d.arg_err()),
    }
}
