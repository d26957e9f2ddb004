//! The plugin on the raw-bytes path (see `plugin::fast`,
//! `plugin::prepared`): a question answered once through the plugin's own
//! lookup is kept in wire form, per worker, for as long as the index it
//! was answered from is the current one, and the next client asking it in
//! lower case gets those bytes with its ID, RD, CD and OPT patched in, as
//! `hosts` and `file` answer from the answers they prepare at load. The
//! cluster changes while the server runs, so nothing is prepared ahead:
//! each worker fills its own table as questions come, and starts afresh
//! when the watches publish a new index (its `generation`).
//!
//! What takes the chain: the index before the first sync (SERVFAIL),
//! names in another case or with escapes, answers that need the server's
//! own lookups (an ExternalName's target outside the zones), fallthrough,
//! transfers and ANY, and replies that do not fit the client's size.

use super::lookup::{self, Answer, Asked, Lookups};
use super::Kubernetes;
use crate::plugin::fast::{Context, RawAnswer, RawQuery};
use crate::plugin::names;
use crate::plugin::prepared::{self, Entry};
use crate::wire::fast::is_plain;
use std::collections::HashMap;

/// The most questions a worker keeps answers for per index: past it, it
/// starts afresh (an attacker asking random names fills it with misses).
const MOST: usize = 16_384;

/// One worker's answers: the question's lowercased wire name and type to
/// the prepared entry, or None where the chain answers.
#[derive(Default)]
pub(super) struct Memo {
    generation: u64,
    answers: HashMap<Box<[u8]>, Option<Box<[u8]>>>,
}

impl Kubernetes {
    /// The raw path's answer to `q`, from this worker's table (filled on a
    /// miss); None hands the query to the chain.
    pub(super) fn raw_answer(
        &self,
        q: &RawQuery<'_>,
        cx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Option<RawAnswer> {
        // Transfers (REFUSED by the server), ANY, other classes.
        if matches!(q.q.qtype, 251..=255) || q.q.qclass != 1 {
            return None;
        }
        // The reply repeats the question's case: only lower case is kept.
        if q.q.qname != q.lower || !is_plain(q.lower) {
            return None;
        }
        let ix = self.shared.index.load();
        if !ix.synced {
            return None;
        }
        // The key, name and type, on the stack: a hit allocates nothing.
        let mut buf = [0u8; crate::wire::MAX_NAME_LEN + 2];
        let n = q.lower.len();
        buf.get_mut(..n)?.copy_from_slice(q.lower);
        buf[n..n + 2].copy_from_slice(&q.q.qtype.to_be_bytes());
        let key = &buf[..n + 2];
        cx.worker.state(self.slot, Memo::default, |m| {
            if m.generation != ix.generation || m.answers.len() >= MOST {
                m.answers.clear();
                m.generation = ix.generation;
            }
            if let Some(e) = m.answers.get(key) {
                return Entry::new(e.as_deref()?).write(q, out);
            }
            let e = m
                .answers
                .entry(key.into())
                .or_insert_with(|| self.prepare(&ix, q.lower, q.q.qtype));
            Entry::new(e.as_deref()?).write(q, out)
        })
    }

    /// The entry of question `lower`/`qtype` as the plugin answers it from
    /// `ix`; None where the chain must answer.
    fn prepare(&self, ix: &super::index::Index, lower: &[u8], qtype: u16) -> Option<Box<[u8]>> {
        let msg = prepared::query(lower, qtype)?;
        let name = names::lower_text(msg.queries.first()?.name());
        let zone = names::zone_match(&self.c.zones, &name)?;
        let mut lookups = Lookups::default();
        let asked = Asked {
            msg: &msg,
            name: &name,
        };
        match lookup::answer(self, ix, &asked, zone, &mut lookups) {
            Answer::Reply(m) if !lookups.wanted() => prepared::entry(&m, 0),
            _ => None,
        }
    }
}
