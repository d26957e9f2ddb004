//! shed: bounds the replies each UDP socket holds waiting to be sent, and
//! drops UDP queries before any later plugin runs while a socket's queue
//! is full, as CoreDNS's shed plugin does; every drop is counted.
//!
//! The queue is the runtime's (a socket's outbox, see docs/ARCHITECTURE.md
//! "Backpressure"): this plugin sets its bound for its block's listeners
//! (`Plugin::udp_reply_bound`), drops the queries read while it is full
//! (`Request::backlogged`) and counts what the runtime drops
//! (`Plugin::replies_dropped`).

mod metrics;
mod setup;
#[cfg(test)]
pub(crate) mod tests;

pub use setup::setup;

use crate::plugin::fast::{Needs, RawQuery};
use crate::plugin::{Action, Fast, Outcome, Plugin, Proto, Request, Worker};
use hickory_proto::op::ResponseCode;

/// CoreDNS's stack depth: a burst budget, not a setting.
pub const DEPTH: usize = 1024;

pub struct Shed;

impl Plugin for Shed {
    fn name(&self) -> &'static str {
        "shed"
    }

    /// A UDP query read while its socket's queue was full is dropped
    /// silently (nothing written, nothing sent) and counted.
    fn query(&self, req: &mut Request) -> Action {
        if req.proto != Proto::Udp || !req.backlogged {
            return Action::Next;
        }
        req.worker
            .metrics(|m| m.inc(&metrics::DROPPED, &[&req.server, "query"]));
        Action::Done(Outcome::rcode(ResponseCode::NoError))
    }

    fn udp_reply_bound(&self) -> Option<usize> {
        Some(DEPTH)
    }

    fn replies_dropped(&self, worker: &Worker, server: &str, n: usize) {
        worker.metrics(|m| {
            if n == 0 {
                // CoreDNS makes both series when a socket starts.
                m.add(&metrics::DROPPED, &[server, "query"], 0.0);
            }
            m.add(&metrics::DROPPED, &[server, "response"], n as f64);
        });
    }

    fn metrics(&self) -> &'static [&'static crate::metrics::Family] {
        metrics::OWN
    }

    /// Queries it lets through keep the raw path; one it drops takes the
    /// chain, where `query` drops it.
    fn fast(&self) -> Fast {
        Fast::Hook(Needs::CHECK_ONLY)
    }

    fn fast_check(&self, q: &RawQuery<'_>, _cap: &mut Option<u16>) -> bool {
        q.tcp || !q.backlogged
    }
}
