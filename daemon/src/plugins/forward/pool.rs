//! The per-worker cache of idle connections (CoreDNS's `Transport`): TCP
//! and TLS connections kept for reuse, and the UDP socket each upstream's
//! exchanges share now; what sits idle longer than `expire` is closed.

use super::connection::{Conn, Transport};
use super::udp::Mux;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

struct Idle {
    conn: Conn,
    created: Instant,
    used: Instant,
}

/// One worker's idle connections per upstream (UDP and stream apart), and
/// the UDP socket each upstream's exchanges share now.
pub struct Pool {
    lists: Vec<[VecDeque<Idle>; 2]>,
    udp: Vec<Option<Rc<Mux>>>,
}

impl Drop for Pool {
    /// A worker's state goes (a reload): its shared UDP sockets take no new
    /// exchanges, and each closes once its last exchange is over.
    fn drop(&mut self) {
        for m in self.udp.iter().flatten() {
            m.retire();
        }
    }
}

/// The connection settings of a plugin instance.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    pub expire: Duration,
    pub max_age: Duration,
    pub max_idle: usize,
}

impl Pool {
    pub fn new(upstreams: usize) -> Self {
        Self {
            lists: (0..upstreams).map(|_| Default::default()).collect(),
            udp: (0..upstreams).map(|_| None).collect(),
        }
    }

    /// Upstream `i`'s shared UDP socket while it takes new exchanges; one
    /// that has carried its share or sat idle past `expire` is retired.
    pub(super) fn mux(&mut self, i: usize, expire: Duration) -> Option<Rc<Mux>> {
        let slot = self.udp.get_mut(i)?;
        match slot {
            Some(m) if m.usable(expire) => Some(Rc::clone(m)),
            Some(m) => {
                m.retire();
                *slot = None;
                None
            }
            None => None,
        }
    }

    pub(super) fn set_mux(&mut self, i: usize, m: Rc<Mux>) {
        if let Some(slot) = self.udp.get_mut(i) {
            if let Some(old) = slot.replace(m) {
                old.retire();
            }
        }
    }

    /// The oldest idle connection still fresh; stale ones are closed.
    pub(super) fn take(&mut self, i: usize, t: Transport, l: ConnLimits) -> Option<Taken> {
        let list = &mut self.lists.get_mut(i)?[t.bucket()];
        let now = Instant::now();
        loop {
            let idle = list.pop_front()?;
            if now.duration_since(idle.used) > l.expire {
                continue;
            }
            if !l.max_age.is_zero() && now.duration_since(idle.created) > l.max_age {
                continue;
            }
            return Some(Taken {
                conn: idle.conn,
                created: idle.created,
            });
        }
    }

    pub(super) fn put(&mut self, i: usize, t: Transport, c: Taken, l: ConnLimits) {
        let Some(lists) = self.lists.get_mut(i) else {
            return;
        };
        let list = &mut lists[t.bucket()];
        if l.max_idle > 0 && list.len() >= l.max_idle {
            return;
        }
        list.push_back(Idle {
            conn: c.conn,
            created: c.created,
            used: Instant::now(),
        });
    }

    /// Closes what has been idle longer than `expire` (or lived past `max_age`).
    pub fn cleanup(&mut self, l: ConnLimits) {
        for slot in &mut self.udp {
            if slot.as_ref().is_some_and(|m| !m.usable(l.expire)) {
                if let Some(m) = slot.take() {
                    m.retire();
                }
            }
        }
        let now = Instant::now();
        for lists in &mut self.lists {
            for list in lists.iter_mut() {
                list.retain(|c| {
                    now.duration_since(c.used) <= l.expire
                        && (l.max_age.is_zero() || now.duration_since(c.created) <= l.max_age)
                });
            }
        }
    }
}

/// A connection out of the pool (or new), while an exchange uses it.
pub(super) struct Taken {
    pub(super) conn: Conn,
    pub(super) created: Instant,
}
