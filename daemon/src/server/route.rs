//! Which server block a query goes to: a listener's zones in wire form,
//! each with the blocks serving it in Corefile order (several when blocks
//! have views), walked as CoreDNS's `ServeDNS` walks them. The one router,
//! for the raw path and the chain alike.

use super::config::{Block, Listener};
use crate::wire::fast as wire;

/// One of the blocks a zone leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Candidate {
    /// Index into `Config::blocks`.
    block: usize,
    /// It has no plugins: a query reaching it is refused.
    empty: bool,
}

/// Where a zone on a listener leads.
pub struct ZoneRoute {
    /// The zone, lowercased, in wire form.
    wire: Box<[u8]>,
    candidates: Box<[Candidate]>,
    /// The block every query for the zone goes to, when that needs no
    /// asking: one block, without a view. None: the queries take [`Zones::pick`].
    pub fixed: Option<usize>,
    /// The zone, as metrics name it.
    pub zone: Box<str>,
    /// Unique in the configuration: tells routes apart in the metric cache.
    pub id: u32,
}

/// A listener's zones. Listeners have a few zones, so a scan by length
/// beats hashing every suffix.
#[derive(Default)]
pub struct Zones {
    routes: Vec<ZoneRoute>,
}

impl Zones {
    /// The zones of `l` (whose routes index `blocks`), or the first that
    /// has no wire form. `next_id` numbers the routes.
    pub fn of<'l>(
        l: &'l Listener,
        blocks: &[std::sync::Arc<Block>],
        next_id: &mut u32,
    ) -> Result<Zones, &'l str> {
        let mut routes = Vec::new();
        for (zone, route) in &l.zones {
            let Some(wire) = wire::zone_wire(zone) else {
                return Err(zone);
            };
            *next_id += 1;
            let candidates: Box<[Candidate]> = route
                .blocks
                .iter()
                .map(|&b| Candidate {
                    block: b,
                    empty: blocks[b].chain.is_empty(),
                })
                .collect();
            let fixed = match *candidates {
                [only] if blocks[only.block].filters.is_empty() => Some(only.block),
                _ => None,
            };
            routes.push(ZoneRoute {
                wire,
                candidates,
                fixed,
                zone: zone.as_str().into(),
                id: *next_id,
            });
        }
        Ok(Zones { routes })
    }

    fn zone(&self, suffix: &[u8]) -> Option<&ZoneRoute> {
        self.routes
            .iter()
            .find(|r| r.wire.len() == suffix.len() && *r.wire == *suffix)
    }

    /// The zone a question for `name` (lowercased wire form) goes to when
    /// every zone has one block without a view: the most specific zone
    /// holding it; for DS the least specific one other than the root (the
    /// parent side of a zone cut); the root zone last of all.
    pub fn route(&self, name: &[u8], qtype: u16) -> Option<&ZoneRoute> {
        let mut ds = None;
        for s in wire::suffixes(name) {
            if s == [0] {
                break;
            }
            if let Some(r) = self.zone(s) {
                if qtype != DS {
                    return Some(r);
                }
                ds = Some(r);
            }
        }
        ds.or_else(|| self.zone(&[0]))
    }

    /// The block that serves a question for `name` (lowercased wire form),
    /// as CoreDNS's `ServeDNS` picks it: the zones holding the name from
    /// the most specific, each zone's blocks in Corefile order; the first
    /// block `serves` says yes to takes the query (for DS the last one,
    /// in the least specific zone where one said yes: the parent side), a
    /// block without plugins met on the way refuses it; then the root
    /// zone's blocks, skipping those without plugins. None: refused.
    /// `serves` is asked about every block met, in that order.
    pub fn pick(
        &self,
        name: &[u8],
        qtype: u16,
        mut serves: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let mut ds = None;
        for s in wire::suffixes(name) {
            // The root is walked with the others only when it is the name.
            if s == [0] && name != [0] {
                break;
            }
            for c in self.zone(s).map_or(&[][..], |r| &r.candidates) {
                if c.empty {
                    return None;
                }
                if serves(c.block) {
                    if qtype != DS {
                        return Some(c.block);
                    }
                    ds = Some(c.block);
                }
            }
        }
        if ds.is_some() || name == [0] {
            return ds;
        }
        let root = self.zone(&[0])?;
        root.candidates
            .iter()
            .filter(|c| !c.empty)
            .map(|c| c.block)
            .find(|&b| serves(b))
    }
}

/// The DS type, which routing sends to the parent side of a zone cut.
pub const DS: u16 = 43;

#[cfg(test)]
mod tests {
    use super::*;

    /// Zones by text, each with its candidates (block, empty).
    fn zones(spec: &[(&str, &[(usize, bool)])]) -> Zones {
        Zones {
            routes: spec
                .iter()
                .enumerate()
                .map(|(i, (zone, cs))| ZoneRoute {
                    wire: wire::zone_wire(zone).unwrap(),
                    candidates: cs
                        .iter()
                        .map(|&(block, empty)| Candidate { block, empty })
                        .collect(),
                    fixed: None,
                    zone: (*zone).into(),
                    id: i as u32,
                })
                .collect(),
        }
    }

    fn name(n: &str) -> Box<[u8]> {
        wire::zone_wire(n).unwrap()
    }

    /// The block picked when the blocks in `yes` say yes, and the blocks asked.
    fn pick(z: &Zones, n: &str, qtype: u16, yes: &[usize]) -> (Option<usize>, Vec<usize>) {
        let mut asked = Vec::new();
        let got = z.pick(&name(n), qtype, |b| {
            asked.push(b);
            yes.contains(&b)
        });
        (got, asked)
    }

    #[test]
    fn first_block_that_says_yes_in_the_most_specific_zone() {
        let z = zones(&[
            ("example.org.", &[(0, false), (1, false)]),
            ("org.", &[(2, false)]),
            (".", &[(3, false), (4, false)]),
        ]);
        assert_eq!(
            pick(&z, "www.example.org.", 1, &[1, 2, 4]),
            (Some(1), vec![0, 1])
        );
        // No block of the zone says yes: the parent zone's, then the root's.
        assert_eq!(
            pick(&z, "www.example.org.", 1, &[2, 4]),
            (Some(2), vec![0, 1, 2])
        );
        assert_eq!(
            pick(&z, "www.example.org.", 1, &[4]),
            (Some(4), vec![0, 1, 2, 3, 4])
        );
        assert_eq!(
            pick(&z, "www.example.org.", 1, &[]),
            (None, vec![0, 1, 2, 3, 4])
        );
        assert_eq!(pick(&z, "example.com.", 1, &[3, 4]), (Some(3), vec![3]));
        // The root itself is walked once.
        assert_eq!(pick(&z, ".", 1, &[]), (None, vec![3, 4]));
    }

    #[test]
    fn ds_goes_to_the_last_yes_of_the_parent_side() {
        let z = zones(&[
            ("example.org.", &[(0, false)]),
            ("org.", &[(1, false), (2, false), (5, false)]),
            (".", &[(3, false)]),
        ]);
        assert_eq!(
            pick(&z, "example.org.", DS, &[0, 1, 2]),
            (Some(2), vec![0, 1, 2, 5])
        );
        assert_eq!(
            pick(&z, "example.org.", DS, &[0]),
            (Some(0), vec![0, 1, 2, 5])
        );
        assert_eq!(
            pick(&z, "example.org.", DS, &[3]),
            (Some(3), vec![0, 1, 2, 5, 3])
        );
    }

    #[test]
    fn a_block_without_plugins_refuses_on_the_way_and_is_skipped_at_the_root() {
        let z = zones(&[
            ("example.org.", &[(0, false), (1, true), (2, false)]),
            (".", &[(3, true), (4, false)]),
        ]);
        assert_eq!(pick(&z, "www.example.org.", 1, &[0]), (Some(0), vec![0]));
        assert_eq!(pick(&z, "www.example.org.", 1, &[2]), (None, vec![0]));
        assert_eq!(pick(&z, "example.com.", 1, &[4]), (Some(4), vec![4]));
        assert_eq!(pick(&z, ".", 1, &[4]), (None, vec![]));
    }
}
