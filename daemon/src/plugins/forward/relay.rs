//! forward on the raw-bytes path (`plugin::fast`): a UDP query of a block
//! where forward is the first plugin that acts is sent upstream as the
//! client sent it, and the upstream's reply goes back patched (ID, the
//! client's OPT) where patching bytes is all the chain would do; where it
//! takes more, the reply is parsed and finished as the chain would finish
//! it; where forward would do more than pass it on, the chain asks again.

use super::exchange::{self, LookupParams};
use super::metrics;
use super::{Forward, Transport, DEADLINE};
use crate::plugin::fast::{Relay, Relayed};
use crate::wire::edns;
use hickory_proto::op::Message;
use std::time::Instant;

impl Forward {
    /// Sends a client's UDP query, as the client sent it (but for a new
    /// ID), to the first healthy upstream in policy order and gives back
    /// the reply's bytes as received. Whatever the chain would do more than
    /// pass that reply on gives None instead: no healthy
    /// upstream, a failed exchange (its health check started as the chain
    /// would), a reply cut short or not a response. The chain then asks
    /// again in its own way.
    async fn exchange_raw(
        &self,
        worker: &std::rc::Rc<crate::plugin::Worker>,
        query: &[u8],
        deadline: Instant,
    ) -> Option<Vec<u8>> {
        let n = self.upstreams.len();
        let list = self.policy.list(n);
        let &idx = list
            .iter()
            .find(|&&i| !self.upstreams[i].down(self.max_fails))?;
        let up = &self.upstreams[idx];
        let params = LookupParams {
            index: idx,
            upstream: up,
            transport: Transport::Udp,
            limits: self.limits,
            read_timeout: self.read_timeout,
            deadline,
            local: None,
        };
        let new_pool = self.pool(worker);
        let start = Instant::now();
        let question = exchange::Question::of(query);
        let r = exchange::exchange_udp(
            &params,
            worker,
            self.slot,
            &new_pool,
            query.to_vec(),
            question,
        )
        .await;
        let reply = match r {
            Ok(r) if !r.cut => r.bytes,
            Ok(_) => return None,
            Err(_) => {
                if self.max_fails != 0 {
                    up.healthcheck();
                }
                return None;
            }
        };
        // Not a response: the chain asks again and counts its own exchange.
        if reply[2] & 0x80 == 0 {
            return None;
        }
        up.observe(worker, crate::wire::fast::rcode(&reply), start);
        worker.metrics(|s| s.inc(&metrics::FORWARD_RELAYED, &[&up.addr_text]));
        Some(reply)
    }

    /// The relay of `r` (`Plugin::fast_relay`).
    pub(super) async fn relay(&self, r: &Relay) -> Relayed {
        let deadline = r.at + DEADLINE;
        let chain = Relayed::Chain {
            deadline: Some(deadline),
        };
        let Some(reply) = self.exchange_raw(&r.worker, &r.query, deadline).await else {
            return chain;
        };
        finish(r, reply).unwrap_or(chain)
    }
}

/// The upstream's reply to the client: patched as bytes where that is all
/// the chain would do, else parsed and finished as the chain finishes a
/// reply; None when the chain must answer (the query or the reply does not
/// parse).
fn finish(r: &Relay, mut reply: Vec<u8>) -> Option<Relayed> {
    let id = u16::from_be_bytes([r.query[0], r.query[1]]);
    // forward cuts a reply larger than the client takes to a bare TC
    // reply; what fits goes on as it is.
    let cut = reply.len() > r.limit;
    if !cut && edns::relay_reply(&mut reply, id, r.opt, r.limit) {
        return Some(Relayed::Reply(reply));
    }
    let q = Message::from_vec(&r.query).ok()?;
    let mut m = if cut {
        cut_reply(&reply).ok()?
    } else {
        Message::from_vec(&reply).ok()?
    };
    m.metadata.id = id;
    edns::size_and_do(&q, &mut m);
    let mut out = Vec::with_capacity(512);
    if edns::encode_fitting(&mut m, r.limit, &mut out).is_err() {
        return Some(Relayed::Drop);
    }
    edns::mirror_small_udp_size(&mut out, edns::raw_udp_size(&r.query));
    Some(Relayed::Reply(out))
}

/// forward's answer for an upstream reply larger than the client takes:
/// its header and question, TC set, no records.
pub fn cut_reply(wire: &[u8]) -> Result<hickory_proto::op::Message, exchange::Unpack> {
    exchange::truncated(wire)
}
