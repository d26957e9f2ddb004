//! What the Corefile asks of the HTTP side: each plugin's endpoint, the
//! whole configuration, and the listeners it makes (one per address, with
//! the union of the routes named there).

use super::{addr, readiness, Error};
use std::net::SocketAddr;
use std::time::Duration;

pub use crate::plugin::endpoint::{HttpSpec, Route};

/// Everything the HTTP side needs from one Corefile.
#[derive(Default)]
pub struct HttpConfig {
    pub specs: Vec<HttpSpec>,
    /// `coredns_plugin_enabled` series: server, zone, view, plugin name.
    pub plugin_enabled: Vec<[String; 4]>,
    /// The readiness of the plugins of the blocks that load *ready*.
    pub readiness: Vec<(&'static str, readiness::Flag)>,
    /// The `monitor` of the last *ready* set up.
    pub ready_continuously: bool,
}

impl HttpConfig {
    /// Adds a block's endpoint. prometheus and ready named twice at one
    /// address serve once; every health is kept, as each waits out its own
    /// lameduck at shutdown.
    pub fn add(&mut self, spec: HttpSpec) {
        if let Route::Ready { continuously } = spec.route {
            self.ready_continuously = continuously;
        }
        let health = matches!(spec.route, Route::Health { .. });
        if health || !self.specs.contains(&spec) {
            self.specs.push(spec);
        }
    }

    /// The total lameduck wait: each health waits its own, one after the other.
    pub fn lameduck(&self) -> Duration {
        self.specs
            .iter()
            .map(|s| match s.route {
                Route::Health { lameduck } => lameduck,
                _ => Duration::ZERO,
            })
            .sum()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Routes {
    pub(super) metrics: bool,
    pub(super) health: bool,
    pub(super) ready: bool,
}

pub(super) fn st_health_empty(cfg: &HttpConfig) -> bool {
    !cfg.specs
        .iter()
        .any(|s| matches!(s.route, Route::Health { .. }))
}

/// The listeners to run: one per resolved address, with the union of the
/// routes named there.
pub(super) fn group(specs: &[HttpSpec]) -> Result<Vec<(SocketAddr, String, Routes)>, Error> {
    let mut out: Vec<(SocketAddr, String, Routes)> = Vec::new();
    for s in specs {
        let a = addr::resolve(&s.addr)?;
        let i = match out.iter().position(|(x, _, _)| *x == a && a.port() != 0) {
            Some(i) => i,
            None => {
                out.push((a, s.addr.clone(), Routes::default()));
                out.len() - 1
            }
        };
        let r = &mut out[i].2;
        match s.route {
            Route::Metrics => r.metrics = true,
            Route::Health { .. } => r.health = true,
            Route::Ready { .. } => r.ready = true,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_addresses() {
        let specs = [
            HttpSpec {
                addr: "127.0.0.1:9153".into(),
                route: Route::Metrics,
            },
            HttpSpec {
                addr: "127.0.0.1:9153".into(),
                route: Route::Health {
                    lameduck: Duration::ZERO,
                },
            },
            HttpSpec {
                addr: ":8181".into(),
                route: Route::Ready {
                    continuously: false,
                },
            },
        ];
        let g = group(&specs).unwrap();
        assert_eq!(g.len(), 2);
        assert!(g[0].2.metrics && g[0].2.health && !g[0].2.ready);
        let mut c = HttpConfig::default();
        for s in specs.iter().chain(specs.iter()) {
            c.add(s.clone());
        }
        assert_eq!(c.specs.len(), 4, "health kept per block");
    }
}
