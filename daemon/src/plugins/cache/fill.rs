//! The cache's response phase: storing what the chain answered (a fill),
//! checking a serve_stale verify, refreshing an item in the background.

use super::*;

impl Cache {
    /// The response phase: store what the chain answered, or answer with
    /// what the query phase decided.
    pub(super) fn fill(&self, req: &Request, out: &mut Outcome) {
        let now = now();
        let Some(p) = req.stash.take::<Pending>(self) else {
            return;
        };
        let mut n = Counts::default();
        self.respond(&self.shard.views(), req, p, out, now, &mut n);
        self.record(req, &n);
    }

    pub(super) fn respond(
        &self,
        sh: &Views<'_>,
        req: &Request,
        p: Pending,
        out: &mut Outcome,
        now: Tick,
        n: &mut Counts,
    ) {
        match p.mode {
            Mode::Fresh => {
                if let Some(reply) = out.reply.as_mut() {
                    self.write(sh, req, &p, reply, now, false, n);
                }
                if let Some(g) = &p._flight {
                    // Only when some miss waits for it (the map and the
                    // guard hold the other two references).
                    if std::sync::Arc::strong_count(&g.flight) > 2 {
                        let shared = (out.reply.clone(), out.rcode);
                        *g.flight.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(shared);
                    }
                }
            }
            Mode::Verify {
                ref stale,
                item,
                ref answered,
            } => {
                let refreshed = match out.reply.as_mut() {
                    Some(reply) => self.verify_write(sh, req, &p, reply, now, false, n),
                    None => false,
                };
                if let Some(i) = sh.item_by_id(p.key, item) {
                    i.end_refresh(now, self.c.stale_recheck, refreshed);
                }
                if !refreshed {
                    // Counted already if the client got it at the timeout.
                    n.stale = !answered.as_ref().is_some_and(|a| a.get());
                    *out = served(stale.clone());
                }
            }
            Mode::Late(ref answered) => {
                answered.set(true);
                n.stale = true;
            }
            Mode::Refresh {
                item,
                stale,
                hits,
                now: asked,
            } => {
                let refreshed = match out.reply.as_mut() {
                    Some(reply) if stale => self.verify_write(sh, req, &p, reply, now, true, n),
                    Some(reply) => {
                        self.write(sh, req, &p, reply, now, true, n);
                        true
                    }
                    None => !stale,
                };
                if refreshed {
                    // Keep the popularity gathered so far on the new item.
                    for loc in [Loc::Neg, Loc::Pos] {
                        if let Some(i) = sh.item(p.key, loc) {
                            i.reset_freq(asked, hits);
                            break;
                        }
                    }
                }
                let recheck = if stale {
                    self.c.stale_recheck
                } else {
                    Duration::ZERO
                };
                if let Some(i) = sh.item_by_id(p.key, item) {
                    i.end_refresh(now, recheck, refreshed);
                }
            }
        }
    }

    /// CoreDNS's verifyStaleResponseWriter: a complete reply to the
    /// question that is NOERROR or NXDOMAIN (with prefer_positive: one that
    /// answers the question) refreshes the item and is written; returns
    /// whether it did.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn verify_write(
        &self,
        sh: &Views<'_>,
        req: &Request,
        p: &Pending,
        reply: &mut Message,
        now: Tick,
        background: bool,
        n: &mut Counts,
    ) -> bool {
        if reply.metadata.truncation || !store::reply_matches(req, reply) {
            return false;
        }
        if self.c.prefer_positive {
            if store::response_kind(reply) == Kind::NoError && store::answers_question(reply) {
                self.write(sh, req, p, reply, now, background, n);
                return true;
            }
            // Cached, but the client keeps the stale answer.
            self.write(sh, req, p, &mut reply.clone(), now, true, n);
            return false;
        }
        let kind = crate::plugin::classify::classify(reply);
        if matches!(kind, Kind::OtherError | Kind::Meta | Kind::Update)
            || !matches!(
                reply.metadata.response_code,
                ResponseCode::NoError | ResponseCode::NXDomain
            )
        {
            return false;
        }
        self.write(sh, req, p, reply, now, background, n);
        true
    }

    /// CoreDNS's ResponseWriter.WriteMsg: caps every record's TTL at the
    /// time the reply is cached for, drops the OPT (the server adds the
    /// client's), stores the reply when it is cacheable, and clears AD for
    /// clients that asked for neither DNSSEC nor AD. `background`: a
    /// refresh the client does not see.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write(
        &self,
        sh: &Views<'_>,
        req: &Request,
        p: &Pending,
        reply: &mut Message,
        now: Tick,
        background: bool,
        n: &mut Counts,
    ) {
        let c = &self.c;
        let kind = store::response_kind(reply);
        let duration = match kind {
            Kind::NameError | Kind::NoData => {
                let t = store::minimal_ttl(reply, kind, c.nttl);
                t.max(c.minnttl).min(c.nttl)
            }
            Kind::ServerError => c.failttl,
            _ => {
                let t = store::minimal_ttl(reply, kind, c.pttl);
                t.max(c.minpttl).min(c.pttl)
            }
        };
        let ttl = duration.as_secs().min(u64::from(u32::MAX)) as u32;
        store::set_ttl(&mut reply.answers, ttl);
        store::set_ttl(&mut reply.authorities, ttl);
        store::set_ttl(&mut reply.additionals, ttl);
        reply.edns = None;

        if store::cacheable(reply, kind) && !duration.is_zero() {
            if store::reply_matches(req, reply) {
                self.set(sh, req, p, reply, kind, duration, now, background, n);
                n.entries = Some((self.shard.pos.len(), self.shard.neg.len()));
            } else {
                n.drop = true;
            }
        }
        if !p.do_bit && !p.ad {
            reply.metadata.authentic_data = false;
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn set(
        &self,
        sh: &Views<'_>,
        req: &Request,
        p: &Pending,
        m: &Message,
        kind: Kind,
        duration: Duration,
        now: Tick,
        background: bool,
        n: &mut Counts,
    ) {
        let qname = names::lower_text(m.queries[0].name());
        let q = Question::of(req);
        let key = store::key(&q, p.do_bit, p.cd);
        match kind {
            Kind::NoError | Kind::Delegation => {
                if names::zone_match(&self.c.pexcept, &qname).is_some() {
                    return;
                }
                let id = self.shard.id();
                let Some(mut i) = Item::new(m, req.query(), now, duration, id) else {
                    return;
                };
                if self.c.prefer_positive && !i.answering {
                    if let Some(prev) = sh.pos.get(key) {
                        i.last_known_good = prev.answering_copy(&q);
                    }
                }
                let answering = i.answering;
                if self.shard.pos.add(key, i) {
                    n.evicted = Some("success");
                }
                if (!self.c.prefer_positive && background) || (self.c.prefer_positive && answering)
                {
                    self.shard.neg.remove(key);
                }
            }
            Kind::NameError | Kind::NoData | Kind::ServerError => {
                if names::zone_match(&self.c.nexcept, &qname).is_some() {
                    return;
                }
                let id = self.shard.id();
                let Some(i) = Item::new(m, req.query(), now, duration, id) else {
                    return;
                };
                if self.shard.neg.add(key, i) {
                    n.evicted = Some("denial");
                }
            }
            _ => {}
        }
    }
}
