//! The raw-bytes path (see `plugin::fast`): a query read off a socket is
//! answered from its bytes, without a full parse and without running the
//! chain, when the chain would have answered it byte for byte the same; or
//! a UDP query is relayed as bytes to an upstream. The plugins say what
//! they do there; a block takes the raw path when every plugin before the
//! one that answers does nothing to such a query or repeats on the raw
//! path what it does in the chain. Anything the raw path does not
//! recognise takes the chain: it never answers differently, only sooner.

use super::config::{Block, Config, Listener};
use super::route::ZoneRoute;
use crate::plugin::fast::{Context, Needs, RawQuery};
use crate::plugin::{Fast as Role, Worker};
use crate::runtime::Packet;
use crate::wire::fast::{self as wire, Opt, Simple};
use crate::wire::MAX_NAME_LEN;

/// What the raw path does for one block, worked out from its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The hooks before the answer, in chain order.
    hooks: Vec<usize>,
    /// The plugin that answers (or relays).
    answer: usize,
    /// It relays (UDP only) rather than answers.
    relay: bool,
    /// What the hooks need.
    needs: Needs,
}

impl Plan {
    /// The plan for a block, or the plugin that stops it (or why).
    pub fn of(block: &Block) -> Result<Plan, &'static str> {
        // metadata's values are the chain's to collect.
        if block.metadata {
            return Err("metadata");
        }
        let mut hooks = Vec::new();
        let mut needs = Needs::default();
        let mut relay_ok = true;
        for (i, p) in block.chain.plugins().iter().enumerate() {
            match p.fast() {
                Role::Pass => {}
                Role::Hook(n) => {
                    hooks.push(i);
                    needs.text |= n.text;
                    needs.plain_len |= n.plain_len;
                    relay_ok &= n.relay;
                }
                Role::Answer => {
                    return Ok(Plan {
                        hooks,
                        answer: i,
                        relay: false,
                        needs,
                    })
                }
                // cancel's deadline is the chain's to keep.
                Role::Relay if relay_ok && block.cancel.is_none() => {
                    needs.text = true;
                    return Ok(Plan {
                        hooks,
                        answer: i,
                        relay: true,
                        needs,
                    });
                }
                Role::Relay | Role::Forbid => return Err(p.name()),
            }
        }
        Err("nothing answers")
    }
}

/// Why the kernel may not answer a block's queries.
#[derive(Debug, PartialEq, Eq)]
pub enum KernelStop {
    /// This plugin answers (or relays) before any that can hand its
    /// answers to the kernel.
    Answer(&'static str),
    /// This plugin must see every query in userspace.
    Hook(&'static str),
}

impl Plan {
    /// The plugins (chain indexes) the kernel's answers are counted by:
    /// the hooks and the answer.
    pub fn kernel_plugins(&self) -> impl Iterator<Item = usize> + '_ {
        self.hooks
            .iter()
            .copied()
            .chain(std::iter::once(self.answer))
    }

    /// Whether the kernel's XDP program may answer this block's hits in
    /// the raw path's place: an answer (not a relay) by a plugin that can
    /// hand its answers over, and no hook before it that must see each
    /// query.
    pub fn kernel(&self, block: &Block) -> Result<(), KernelStop> {
        let plugins = block.chain.plugins();
        if self.relay || !plugins[self.answer].kernel_answers() {
            return Err(KernelStop::Answer(plugins[self.answer].name()));
        }
        match self
            .hooks
            .iter()
            .find(|&&i| !matches!(plugins[i].fast(), Role::Hook(n) if n.kernel))
        {
            Some(&i) => Err(KernelStop::Hook(plugins[i].name())),
            None => Ok(()),
        }
    }
}

/// What the raw path did with a query.
pub enum Fast {
    /// Answered into `out`.
    Answered,
    /// To be relayed by plugin `plugin` of block `block`.
    Relay {
        block: usize,
        plugin: usize,
        opt: Option<Opt>,
        limit: usize,
    },
    /// The chain's.
    No,
}

/// One worker's raw path: its buffer.
pub struct FastPath {
    text: [u8; MAX_NAME_LEN + 1],
    /// Queries answered (for tests).
    #[cfg(test)]
    pub(crate) answered: u64,
}

impl Default for FastPath {
    fn default() -> Self {
        Self {
            text: [0; MAX_NAME_LEN + 1],
            #[cfg(test)]
            answered: 0,
        }
    }
}

/// The client's OPT as the reply mirrors it, and the largest reply the
/// client takes, as the chain works them out (hickory raises a UDP size
/// under 512 to 512, bufsize caps it, the reply carries the size as sent
/// when it was under 512).
fn sizes(q: &Simple<'_>, tcp: bool, cap: Option<u16>) -> (Option<Opt>, usize) {
    let Some(o) = q.opt else {
        return (None, if tcp { usize::from(u16::MAX) } else { 512 });
    };
    let payload = o.size.max(512).min(cap.unwrap_or(u16::MAX));
    let size = if o.size < 512 { o.size } else { payload };
    let limit = if tcp { u16::MAX } else { payload };
    (Some(Opt { size, ..o }), usize::from(limit))
}

impl FastPath {
    /// Answers `q` (query `p`, its name lowercased in `lower`, routed to
    /// `route` on listener `l`) into `out` when its block's raw path
    /// answers it, or says it is to be relayed; anything else is left to
    /// the chain, which writes its reply over `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn serve(
        &mut self,
        cfg: &Config,
        l: &Listener,
        p: &Packet<'_>,
        q: &Simple<'_>,
        lower: &[u8],
        route: &ZoneRoute,
        worker: &Worker,
        out: &mut Vec<u8>,
    ) -> Fast {
        // IN only (chaos answers other classes); DS goes to the parent
        // zone; transfers and meta types are not cached answers.
        if q.qclass != 1 || matches!(q.qtype, 41 | 43 | 250..=254) {
            return Fast::No;
        }
        // A zone whose blocks have views takes the chain, which asks them.
        let Some(index) = route.fixed else {
            return Fast::No;
        };
        let block = &cfg.blocks[index];
        let Some(plan) = &block.fast else {
            return Fast::No;
        };
        if plan.relay && p.tcp {
            return Fast::No;
        }
        let text = if plan.needs.text {
            match wire::plain_text(lower, &mut self.text) {
                Some(t) => t,
                None => return Fast::No,
            }
        } else {
            ""
        };
        let mut rq = RawQuery {
            q,
            wire: p.data,
            lower,
            text,
            src: p.src,
            local: p.local,
            tcp: p.tcp,
            len: p.data.len(),
            at: p.at,
            server: &l.name,
            zone: &route.zone,
            route: route.id,
            opt: None,
            limit: 0,
            plain_len: plan.needs.plain_len,
            backlogged: p.backlogged,
            cap: None,
        };
        let plugins = block.chain.plugins();
        let mut cap = None;
        for &i in &plan.hooks {
            if !plugins[i].fast_check(&rq, &mut cap) {
                return Fast::No;
            }
        }
        let answer = &plugins[plan.answer];
        if plan.relay {
            if !answer.fast_check(&rq, &mut cap) {
                return Fast::No;
            }
            let (opt, limit) = sizes(q, false, cap);
            return Fast::Relay {
                block: index,
                plugin: plan.answer,
                opt,
                limit,
            };
        }
        (rq.opt, rq.limit) = sizes(q, p.tcp, cap);
        rq.cap = cap;
        let answered = worker.metrics(|m| {
            let mut cx = Context { worker, metrics: m };
            let a = answer.fast_answer(&rq, &mut cx, out)?;
            for &i in plan.hooks.iter().rev() {
                plugins[i].fast_done(&rq, &mut cx, &a, out);
            }
            Some(())
        });
        if answered.is_none() {
            return Fast::No;
        }
        #[cfg(test)]
        {
            self.answered += 1;
        }
        Fast::Answered
    }
}
