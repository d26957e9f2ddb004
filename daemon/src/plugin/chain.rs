//! A server block compiled to its plugins in execution order.

use super::{Action, Outcome, PluginError, Request};
use crate::plugins::Handler;
use hickory_proto::op::ResponseCode;

/// Immutable once built; shared by every worker.
pub struct Chain {
    handlers: Vec<Handler>,
}

impl Chain {
    pub fn new(handlers: Vec<Handler>) -> Self {
        assert!(handlers.len() <= 64, "a chain holds at most 64 plugins");
        Self { handlers }
    }

    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    pub fn handlers(&self) -> &[Handler] {
        &self.handlers
    }

    /// Runs the query phase down the chain, then the response phase back up
    /// through the plugins that asked to watch. Allocates nothing itself.
    pub async fn serve(&self, req: &mut Request) -> Outcome {
        let mut watchers: u64 = 0;
        let mut outcome = None;
        for (i, h) in self.handlers.iter().enumerate() {
            let mut action = h.query(req);
            if let Action::Await = action {
                action = h.query_async(req).await;
            }
            match action {
                Action::Next | Action::Await => {}
                Action::Watch => watchers |= 1 << i,
                Action::Done(mut o) => {
                    o.plugin = Some(h.name());
                    outcome = Some(o);
                    break;
                }
            }
        }
        if outcome.is_none() {
            if let Some(h) = self.handlers.last() {
                outcome = h.last_in_chain(req).map(|mut o| {
                    o.plugin = Some(h.name());
                    o
                });
            }
        }
        let mut outcome = outcome.unwrap_or_else(|| {
            // CoreDNS's NextOrFailure: the last plugin passed the query on
            // with nothing after it.
            let last = self.handlers.last().map_or("chain", Handler::name);
            Outcome::fail(
                ResponseCode::ServFail,
                PluginError {
                    plugin: last,
                    message: "no next plugin found".into(),
                },
            )
        });
        while watchers != 0 {
            let i = 63 - watchers.leading_zeros() as usize;
            watchers &= !(1 << i);
            self.handlers[i].response(req, &mut outcome);
        }
        outcome
    }
}
