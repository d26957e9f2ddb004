//! A server block compiled to its plugins in execution order.

use super::{Action, Fork, Outcome, Plugin, PluginError, Request};
use hickory_proto::op::ResponseCode;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

type Plugins = Arc<[Box<dyn Plugin>]>;

/// Immutable once built; shared by every worker.
pub struct Chain {
    /// Shared with the refreshes a plugin forks off (they outlive the query).
    handlers: Plugins,
}

impl Chain {
    /// The chain of `plugins`, in execution order; each is told which
    /// plugin follows it.
    pub fn new(mut plugins: Vec<Box<dyn Plugin>>) -> Self {
        assert!(plugins.len() <= 64, "a chain holds at most 64 plugins");
        let names: Vec<&'static str> = plugins.iter().map(|p| p.name()).collect();
        for (i, p) in plugins.iter_mut().enumerate() {
            p.chained(names.get(i + 1).copied());
        }
        Self {
            handlers: plugins.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    pub fn plugins(&self) -> &[Box<dyn Plugin>] {
        &self.handlers
    }

    /// Runs the query phase down the chain, then the response phase back up
    /// through the plugins that asked to watch. Allocates nothing itself
    /// (a fork, which is rare, allocates its copy of the query).
    pub async fn serve(&self, req: &mut Request) -> Outcome {
        serve_from(&self.handlers, 0, req).await
    }
}

/// The rest of a chain after a plugin that wraps it (see [`Action::Wrap`]).
#[derive(Clone, Copy)]
pub struct Next<'a> {
    handlers: &'a Plugins,
    start: usize,
}

impl Next<'_> {
    /// Runs `req` through the rest of the chain (query and response
    /// phases), as CoreDNS's `plugin.NextOrFailure`: SERVFAIL with `no
    /// next plugin found` when nothing is left.
    pub fn serve<'b>(
        &'b self,
        req: &'b mut Request,
    ) -> Pin<Box<dyn Future<Output = Outcome> + 'b>> {
        // Boxed: the rest may wrap again.
        Box::pin(serve_from(self.handlers, self.start, req))
    }
}

/// The chain from plugin `start` on.
async fn serve_from(handlers: &Plugins, start: usize, req: &mut Request) -> Outcome {
    let mut watchers: u64 = 0;
    // Those of the watchers whose response phase waits.
    let mut waiting: u64 = 0;
    let mut outcome = None;
    for (i, h) in handlers.iter().enumerate().skip(start) {
        let mut action = h.query(req);
        if let Action::Await = action {
            action = h.query_async(req).await;
        }
        match action {
            Action::Next | Action::Await => {}
            Action::Watch => watchers |= 1 << i,
            Action::WatchAsync => {
                watchers |= 1 << i;
                waiting |= 1 << i;
            }
            Action::Done(mut o) => {
                o.plugin = Some(h.name());
                outcome = Some(o);
                break;
            }
            Action::Fork(f) => {
                outcome = Some(fork(handlers, i, req, *f).await);
                break;
            }
            Action::Wrap => {
                let next = Next {
                    handlers,
                    start: i + 1,
                };
                let mut o = h.wrap(req, next).await;
                o.plugin = Some(h.name());
                outcome = Some(o);
                break;
            }
        }
    }
    if outcome.is_none() {
        if let Some(h) = handlers.last() {
            outcome = h.last_in_chain(req).map(|mut o| {
                o.plugin = Some(h.name());
                o
            });
        }
    }
    let mut outcome = outcome.unwrap_or_else(|| {
        // CoreDNS's NextOrFailure: the last plugin passed the query on
        // with nothing after it.
        let last = handlers.last().map_or("chain", |p| p.name());
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
        if waiting & (1 << i) != 0 {
            handlers[i].response_async(req, &mut outcome).await;
        } else {
            handlers[i].response(req, &mut outcome);
        }
    }
    outcome
}

/// Plugin `i` forked (see [`Fork`]): the client's outcome.
async fn fork(handlers: &Plugins, i: usize, req: &mut Request, f: Fork) -> Outcome {
    let Fork {
        req: mut copy,
        mut answer,
        wait,
    } = f;
    let rest = Arc::clone(handlers);
    // Boxed as a trait object: it holds a `serve_from`, which may fork again.
    let mut run: Pin<Box<dyn Future<Output = Outcome>>> = Box::pin(async move {
        let mut o = serve_from(&rest, i + 1, &mut copy).await;
        rest[i].response(&copy, &mut o);
        o
    });
    if !wait.is_zero() {
        if let Ok(o) = tokio::time::timeout(wait, &mut run).await {
            return o;
        }
    }
    req.worker.detach(async move {
        run.await;
    });
    let h = &handlers[i];
    answer.plugin = Some(h.name());
    h.response(req, &mut answer);
    answer
}
