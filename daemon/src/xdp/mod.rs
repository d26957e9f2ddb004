//! The kernel fast path's loader (feature `xdp`): loads the XDP program
//! (ebpf/xdp, embedded by build.rs), attaches it to interfaces through BPF
//! links (gone with the process, however it ends), tells it the listeners'
//! addresses, keeps its map of answers, and reads its counters.
//!
//! An answer goes into the map as a [`Key`] and an [`Entry`] made by
//! [`entry::build`] from the reply userspace writes for one query of a
//! [`Variant`]; the program then answers every query of that key with the
//! same bytes userspace would write (ID, RD, TTLs and the client's OPT
//! filled in per query), until the entry expires. Which answers go in, and
//! keeping them in step with the cache, is the caller's.
//!
//! Layout and arithmetic shared with the program: `ferrodns_ebpf_common::xdp`.

pub mod entry;
mod link;

pub use entry::{build, key, monotonic, query_key, EntryError, Timing, Variant};
pub use ferrodns_ebpf_common::xdp::{counter, Entry, Key};

use aya::maps::{Array, HashMap, MapData, PerCpuArray};
use aya::programs::Xdp;
use aya::Ebpf;
use ferrodns_ebpf_common::xdp::{self as c, FewListener, FewListeners, Listener};
use std::collections::HashMap as StdMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ferrodns-xdp"));

/// How the program runs on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// In the driver, before any socket buffer is made.
    Native,
    /// In the kernel's stack, on socket buffers: any interface, slower.
    Generic,
    /// Native where the driver supports it, else generic.
    Auto,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Native => "native",
            Mode::Generic => "generic",
            Mode::Auto => "auto",
        })
    }
}

/// What failed, and where.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    #[error("load the XDP program's object (create its maps): {source}{}", caps(.source))]
    Object { source: aya::EbpfError },
    #[error("the XDP program's object has no {0}")]
    Missing(&'static str),
    #[error("load the XDP program into the kernel: {source}{}", caps(.source))]
    Load { source: aya::programs::ProgramError },
    #[error("XDP on {interface}: no such interface: {source}")]
    NoInterface {
        interface: String,
        source: std::io::Error,
    },
    #[error("XDP on {interface}: attached already")]
    Attached { interface: String },
    #[error("XDP on {interface}: bpf(BPF_LINK_CREATE) in {mode} mode: {source}{}", caps(.source))]
    Attach {
        interface: String,
        mode: Mode,
        source: std::io::Error,
    },
    #[error("XDP on {interface}: native mode: {native}; generic mode: {generic}{}", caps(.generic))]
    AttachAuto {
        interface: String,
        native: std::io::Error,
        generic: std::io::Error,
    },
    #[error("XDP on {interface}: not attached")]
    NotAttached { interface: String },
    #[error("XDP map {map}: {op}: {source}{}", caps(.source))]
    Map {
        map: &'static str,
        op: &'static str,
        source: aya::maps::MapError,
    },
    #[error("XDP map ENTRIES: full ({0} entries)")]
    Full(u32),
    #[error("XDP map ENTRIES: another name has the same key (hash collision): left to userspace")]
    Collision,
    #[error("XDP map LISTENERS: {0} addresses (at most 256)")]
    TooManyListeners(usize),
}

/// " (CAP_BPF and CAP_NET_ADMIN needed)" where `e` comes down to EPERM.
fn caps(e: &(dyn std::error::Error + 'static)) -> &'static str {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.raw_os_error() == Some(libc::EPERM) {
                return " (CAP_BPF and CAP_NET_ADMIN needed)";
            }
        }
        cur = err.source();
    }
    ""
}

/// [`Key`] and [`Entry`] as aya reads and writes them.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct PodKey(Key);
// SAFETY: #[repr(C)] integers and byte arrays without padding (asserted in
// ferrodns_ebpf_common): every bit pattern is a value.
unsafe impl aya::Pod for PodKey {}
#[derive(Clone, Copy)]
#[repr(transparent)]
struct PodEntry(Entry);
// SAFETY: as PodKey.
unsafe impl aya::Pod for PodEntry {}
#[derive(Clone, Copy)]
#[repr(transparent)]
struct PodListener(Listener);
// SAFETY: as PodKey.
unsafe impl aya::Pod for PodListener {}
#[derive(Clone, Copy)]
#[repr(transparent)]
struct PodFew(FewListeners);
// SAFETY: as PodKey.
unsafe impl aya::Pod for PodFew {}

/// Answers one entry gave, by family (summed over CPUs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hits {
    pub v4: u64,
    pub v6: u64,
}

/// The program's counters summed over CPUs, by [`counter`] index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters(pub [u64; c::counter::COUNT as usize]);

impl Counters {
    pub fn get(&self, index: u32) -> u64 {
        self.0[index as usize]
    }

    /// Each counter with its name ([`counter::NAMES`]).
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        counter::NAMES.iter().copied().zip(self.0.iter().copied())
    }

    /// Every pass, by any reason.
    pub fn passed(&self) -> u64 {
        self.0[1..counter::ERROR_ENTRY as usize].iter().sum()
    }
}

/// One entry's slot in HITS, its counts when it took the slot, and the
/// name it answers, lowercased (another name of its key is a collision).
#[derive(Clone)]
struct Slot {
    index: u32,
    base: Hits,
    name: Box<[u8]>,
}

/// One interface the program runs on: the link's descriptor (closing it
/// detaches the program).
struct Attachment {
    interface: String,
    mode: Mode,
    _link: OwnedFd,
}

/// The loaded program, its maps and its attachments; dropping it detaches
/// the program everywhere.
pub struct Program {
    attachments: Vec<Attachment>,
    entries: HashMap<MapData, PodKey, PodEntry>,
    listeners: HashMap<MapData, PodListener, u32>,
    few: Array<MapData, PodFew>,
    counters: PerCpuArray<MapData, u64>,
    hits: PerCpuArray<MapData, u64>,
    capacity: u32,
    slots: StdMap<Key, Slot>,
    free: Vec<u32>,
    /// The program's descriptor lives here.
    ebpf: Ebpf,
}

impl Program {
    /// Loads the program (the verifier checks it) with room for `capacity`
    /// entries; attached nowhere yet.
    pub fn load(capacity: u32) -> Result<Program, XdpError> {
        let capacity = capacity.max(1);
        let mut ebpf = aya::EbpfLoader::new()
            // No CO-RE relocations to make: the kernel's BTF is not needed.
            .btf(None)
            .map_max_entries(c::ENTRIES, capacity)
            .map_max_entries(c::HITS, capacity.saturating_mul(2))
            .override_global(c::LAYOUT, &c::VERSION, true)
            .load(OBJECT)
            .map_err(|source| XdpError::Object { source })?;
        let prog: &mut Xdp = ebpf
            .program_mut(c::PROGRAM)
            .ok_or(XdpError::Missing(c::PROGRAM))?
            .try_into()
            .map_err(|source| XdpError::Load { source })?;
        prog.load().map_err(|source| XdpError::Load { source })?;
        fn take(ebpf: &mut Ebpf, name: &'static str) -> Result<aya::maps::Map, XdpError> {
            ebpf.take_map(name).ok_or(XdpError::Missing(name))
        }
        let typed = |name: &'static str| {
            move |source| XdpError::Map {
                map: name,
                op: "open",
                source,
            }
        };
        let entries = HashMap::try_from(take(&mut ebpf, c::ENTRIES)?).map_err(typed(c::ENTRIES))?;
        let listeners =
            HashMap::try_from(take(&mut ebpf, c::LISTENERS)?).map_err(typed(c::LISTENERS))?;
        let few =
            Array::try_from(take(&mut ebpf, c::FEW_LISTENERS)?).map_err(typed(c::FEW_LISTENERS))?;
        let counters =
            PerCpuArray::try_from(take(&mut ebpf, c::COUNTERS)?).map_err(typed(c::COUNTERS))?;
        let hits = PerCpuArray::try_from(take(&mut ebpf, c::HITS)?).map_err(typed(c::HITS))?;
        Ok(Program {
            attachments: Vec::new(),
            entries,
            listeners,
            few,
            counters,
            hits,
            capacity,
            slots: StdMap::new(),
            free: (0..capacity).rev().collect(),
            ebpf,
        })
    }

    fn prog(&self) -> Result<&Xdp, XdpError> {
        self.ebpf
            .program(c::PROGRAM)
            .ok_or(XdpError::Missing(c::PROGRAM))?
            .try_into()
            .map_err(|source| XdpError::Load { source })
    }

    /// Attaches the program to `interface` (in the calling thread's network
    /// namespace); the mode it runs in (Auto: native if the driver takes
    /// it, else generic).
    pub fn attach(&mut self, interface: &str, mode: Mode) -> Result<Mode, XdpError> {
        if self.attachments.iter().any(|a| a.interface == interface) {
            return Err(XdpError::Attached {
                interface: interface.to_string(),
            });
        }
        let ifindex = link::ifindex(interface).map_err(|source| XdpError::NoInterface {
            interface: interface.to_string(),
            source,
        })?;
        let fd = self
            .prog()?
            .fd()
            .map_err(|source| XdpError::Load { source })?
            .as_fd();
        let attach = |mode: Mode| {
            let flags = match mode {
                Mode::Generic => link::FLAGS_SKB,
                _ => link::FLAGS_DRV,
            };
            link::create(fd, ifindex, flags)
        };
        let (link, used) = match mode {
            Mode::Auto => match attach(Mode::Native) {
                Ok(l) => (l, Mode::Native),
                // Nothing else may hold the interface, and without the
                // capability generic mode fails alike.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EBUSY)) => {
                    return Err(XdpError::Attach {
                        interface: interface.to_string(),
                        mode: Mode::Native,
                        source: e,
                    })
                }
                Err(native) => match attach(Mode::Generic) {
                    Ok(l) => (l, Mode::Generic),
                    Err(generic) => {
                        return Err(XdpError::AttachAuto {
                            interface: interface.to_string(),
                            native,
                            generic,
                        })
                    }
                },
            },
            m => (
                attach(m).map_err(|source| XdpError::Attach {
                    interface: interface.to_string(),
                    mode: m,
                    source,
                })?,
                m,
            ),
        };
        self.attachments.push(Attachment {
            interface: interface.to_string(),
            mode: used,
            _link: link,
        });
        Ok(used)
    }

    /// Takes the program off `interface`.
    pub fn detach(&mut self, interface: &str) -> Result<(), XdpError> {
        let before = self.attachments.len();
        self.attachments.retain(|a| a.interface != interface);
        if self.attachments.len() == before {
            return Err(XdpError::NotAttached {
                interface: interface.to_string(),
            });
        }
        Ok(())
    }

    /// The interfaces the program runs on, and how.
    pub fn attached(&self) -> impl Iterator<Item = (&str, Mode)> {
        self.attachments
            .iter()
            .map(|a| (a.interface.as_str(), a.mode))
    }

    /// Answers UDP to these addresses from now on, each with its group (the
    /// entries' [`Key::group`]): an unspecified address (`0.0.0.0`, `::`)
    /// stands for every address of its family on the port. Replaces the
    /// set before. Up to [`c::FEW`] addresses the program compares itself
    /// (no map lookup for each packet); changing them waits for RCU grace
    /// periods (see [`FewListeners`]), milliseconds.
    pub fn set_listeners(&mut self, listeners: &[(SocketAddr, u32)]) -> Result<(), XdpError> {
        if listeners.len() > c::MAX_LISTENERS as usize {
            return Err(XdpError::TooManyListeners(listeners.len()));
        }
        let want: Vec<(Listener, u32)> = listeners.iter().map(|&(a, g)| (listener(a), g)).collect();
        let op = |map, op| move |source| XdpError::Map { map, op, source };
        // The program looks in the map until the new few are in place.
        let mut few = self.few.get(&0, 0).map_err(op(c::FEW_LISTENERS, "read"))?.0;
        let mut quiet = true;
        if few.state != 0 {
            few.state = 0;
            self.few
                .set(0, PodFew(few), 0)
                .map_err(op(c::FEW_LISTENERS, "write"))?;
            quiet = link::grace_period().is_ok();
        }
        let old: Vec<PodListener> = self
            .listeners
            .keys()
            .collect::<Result<_, _>>()
            .map_err(op(c::LISTENERS, "list"))?;
        for l in old {
            if !want.iter().any(|(w, _)| *w == l.0) {
                self.listeners
                    .remove(&l)
                    .map_err(op(c::LISTENERS, "remove"))?;
            }
        }
        for &(l, g) in &want {
            self.listeners
                .insert(PodListener(l), g, 0)
                .map_err(op(c::LISTENERS, "insert"))?;
        }
        // Without grace periods (nohz_full) the map serves for good.
        if !quiet || want.len() > c::FEW {
            return Ok(());
        }
        for (f, (l, g)) in few.list.iter_mut().zip(&want) {
            *f = FewListener {
                addr: l.addr,
                port: l.port,
                family: l.family,
                group: *g,
            };
        }
        self.few
            .set(0, PodFew(few), 0)
            .map_err(op(c::FEW_LISTENERS, "write"))?;
        if link::grace_period().is_ok() {
            few.state = want.len() as u32 + 1;
            self.few
                .set(0, PodFew(few), 0)
                .map_err(op(c::FEW_LISTENERS, "write"))?;
        }
        Ok(())
    }

    /// Puts `entry` in the map under `key` (as [`build`] makes them),
    /// replacing the entry of the same name (in any case) that was there:
    /// the program reads either the old entry or the new one, whole. The
    /// entry of another name under the same key (their names' hashes are
    /// the same) stays, and this one is refused ([`XdpError::Collision`]).
    pub fn insert(&mut self, key: &Key, entry: &Entry) -> Result<(), XdpError> {
        let name: Box<[u8]> = entry.name().to_ascii_lowercase().into();
        let slot = match self.slots.get(key) {
            Some(s) if s.name != name => return Err(XdpError::Collision),
            Some(s) => s.clone(),
            None => {
                let index = self.free.pop().ok_or(XdpError::Full(self.capacity))?;
                let base = self
                    .slot_hits(index)
                    .inspect_err(|_| self.free.push(index))?;
                Slot { index, base, name }
            }
        };
        let mut e = PodEntry(*entry);
        e.0.slot = slot.index;
        if let Err(source) = self.entries.insert(PodKey(*key), e, 0) {
            if !self.slots.contains_key(key) {
                self.free.push(slot.index);
            }
            return Err(XdpError::Map {
                map: c::ENTRIES,
                op: "insert",
                source,
            });
        }
        self.slots.insert(*key, slot);
        Ok(())
    }

    /// Takes `key`'s entry out; whether there was one.
    pub fn remove(&mut self, key: &Key) -> Result<bool, XdpError> {
        let Some(slot) = self.slots.remove(key) else {
            return Ok(false);
        };
        self.free.push(slot.index);
        match self.entries.remove(&PodKey(*key)) {
            Ok(()) | Err(aya::maps::MapError::KeyNotFound) => Ok(true),
            Err(source) => Err(XdpError::Map {
                map: c::ENTRIES,
                op: "remove",
                source,
            }),
        }
    }

    /// Empties the map.
    pub fn clear(&mut self) -> Result<(), XdpError> {
        let keys: Vec<Key> = self.slots.keys().copied().collect();
        for k in keys {
            self.remove(&k)?;
        }
        Ok(())
    }

    /// The entries in the map.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The most entries the map holds.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The program's counters, summed over CPUs.
    pub fn counters(&self) -> Result<Counters, XdpError> {
        let mut out = [0u64; c::counter::COUNT as usize];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.sum(&self.counters, c::COUNTERS, i as u32)?;
        }
        Ok(Counters(out))
    }

    /// The answers `key`'s entry gave since it went in (None: not in).
    pub fn hits(&self, key: &Key) -> Result<Option<Hits>, XdpError> {
        let Some(slot) = self.slots.get(key) else {
            return Ok(None);
        };
        let now = self.slot_hits(slot.index)?;
        Ok(Some(Hits {
            v4: now.v4.wrapping_sub(slot.base.v4),
            v6: now.v6.wrapping_sub(slot.base.v6),
        }))
    }

    /// Every entry's answers since the last call (or since it went in),
    /// for entries that answered: what to fold into metrics.
    pub fn take_hits(&mut self) -> Result<Vec<(Key, Hits)>, XdpError> {
        let mut out = Vec::new();
        let keys: Vec<(Key, u32, Hits)> = self
            .slots
            .iter()
            .map(|(k, s)| (*k, s.index, s.base))
            .collect();
        for (k, index, base) in keys {
            let now = self.slot_hits(index)?;
            if now != base {
                out.push((
                    k,
                    Hits {
                        v4: now.v4.wrapping_sub(base.v4),
                        v6: now.v6.wrapping_sub(base.v6),
                    },
                ));
                if let Some(slot) = self.slots.get_mut(&k) {
                    slot.base = now;
                }
            }
        }
        Ok(out)
    }

    fn slot_hits(&self, index: u32) -> Result<Hits, XdpError> {
        Ok(Hits {
            v4: self.sum(&self.hits, c::HITS, 2 * index)?,
            v6: self.sum(&self.hits, c::HITS, 2 * index + 1)?,
        })
    }

    fn sum(
        &self,
        map: &PerCpuArray<MapData, u64>,
        name: &'static str,
        index: u32,
    ) -> Result<u64, XdpError> {
        let v = map.get(&index, 0).map_err(|source| XdpError::Map {
            map: name,
            op: "read",
            source,
        })?;
        Ok(v.iter().copied().fold(0u64, u64::wrapping_add))
    }
}

/// A listener's address as the program's map keys it.
fn listener(a: SocketAddr) -> Listener {
    let mut addr = [0; 16];
    let family = match a.ip() {
        IpAddr::V4(v4) => {
            addr[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            addr = v6.octets();
            6
        }
    };
    Listener {
        addr,
        port: a.port(),
        family,
    }
}

#[cfg(test)]
mod tests;
