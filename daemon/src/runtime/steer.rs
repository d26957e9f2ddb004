//! Steering UDP queries by question: an SK_REUSEPORT eBPF program
//! (ebpf/steer) on each listener's REUSEPORT group sends a query to the
//! socket of the worker that owns its question (a hash of the lowercased
//! name and the type), so each name is looked up, filled and refreshed on
//! one core. A small set of hot names (name buckets that take a large
//! share of the queries, counted by the program and picked here once a
//! second) goes by the flow's hash (among the workers' sockets) so that no single name pins a
//! core; the cache is shared, so any worker answers those. TCP is not
//! steered: the listener is chosen at SYN time, before any question.
//!
//! Built with the `steer` feature only (it needs the nightly toolchain and
//! bpf-linker); without it, or where the program cannot be loaded (no
//! CAP_BPF, an old kernel), queries are spread by the kernel's flow hash as
//! before, and the log says so.

use super::{Bound, Listen};
use std::net::SocketAddr;
use std::time::Duration;

/// How often the hot-name set is recomputed.
pub const HOT_PERIOD: Duration = Duration::from_secs(1);

/// Steering of the server's UDP listeners, kept across reloads.
pub struct Steering {
    want: bool,
    #[cfg(feature = "steer")]
    on: Option<imp::On>,
}

/// Why a listener is not steered; `Display` is the reason the log gives.
#[derive(Debug, thiserror::Error)]
pub enum SteerError {
    /// Its sockets could not be duplicated for the loader.
    #[error("listen udp {addr}: {source}")]
    Sockets {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The program could not be loaded or attached to its group.
    #[cfg(feature = "steer")]
    #[error("listen udp {addr}: {source}")]
    Program {
        addr: SocketAddr,
        source: Box<imp::ProgramError>,
    },
    #[cfg(not(feature = "steer"))]
    #[error("built without the steer feature")]
    NotBuilt,
}

/// Each UDP listener's sockets of a [`Bound`] set, worker i's at i, as
/// duplicated descriptors (the sockets themselves go to the workers); see
/// [`Steering::prepare`].
pub struct UdpGroups(Result<Vec<(SocketAddr, Vec<std::net::UdpSocket>)>, SteerError>);

impl UdpGroups {
    fn of(bound: &Bound) -> UdpGroups {
        // A worker's first sockets are one per listener, in order.
        let listeners = bound.listen.len();
        UdpGroups(
            (0..listeners)
                .map(|l| {
                    let addr = bound.per_worker[0].udp[l].0;
                    let socks = bound
                        .per_worker
                        .iter()
                        .map(|w| w.udp[l].1.try_clone())
                        .collect::<std::io::Result<Vec<_>>>()
                        .map_err(|source| SteerError::Sockets { addr, source })?;
                    Ok((addr, socks))
                })
                .collect(),
        )
    }
}

/// What [`Steering::attach`] did.
#[derive(Debug)]
pub enum Attached {
    /// Every UDP listener of the bound set is steered to its workers.
    On { workers: usize, listeners: usize },
    /// Not asked for (no `-steer`), or one worker (nothing to steer).
    Off,
    /// Not built in, or the kernel refused; queries go by flow hash.
    Unavailable(SteerError),
}

impl Attached {
    /// The log line for it, if any: (warning?, text).
    pub fn log_line(&self) -> Option<(bool, String)> {
        match self {
            Attached::On { workers, listeners } => Some((
                false,
                format!(
                    "steer: UDP queries steered by question to {workers} workers (SK_REUSEPORT eBPF, {listeners} listener{})",
                    if *listeners == 1 { "" } else { "s" }
                ),
            )),
            Attached::Off => None,
            Attached::Unavailable(why) => Some((
                true,
                format!("steer: off ({why}); UDP queries are spread by the kernel's flow hash"),
            )),
        }
    }
}

impl Steering {
    /// `want`: the `-steer` flag.
    pub fn new(want: bool) -> Self {
        Self {
            want,
            #[cfg(feature = "steer")]
            on: None,
        }
    }

    /// What [`attach`](Self::attach) needs of a bound set, taken before
    /// the set goes to the workers: nothing (no system call) unless
    /// steering was asked for.
    pub fn prepare(&self, bound: &Bound) -> UdpGroups {
        if self.want {
            UdpGroups::of(bound)
        } else {
            UdpGroups(Ok(Vec::new()))
        }
    }

    /// Steers the UDP listeners of `groups` to their workers (a listener
    /// already steered, whose sockets changed with the number of workers,
    /// keeps its program and has its socket array changed in place).
    /// Called once the workers serve: loading takes a while, and until then
    /// the kernel spreads queries by flow.
    pub fn attach(&mut self, groups: UdpGroups) -> Attached {
        if !self.want {
            return Attached::Off;
        }
        let groups = match groups.0 {
            Err(e) => return Attached::Unavailable(e),
            Ok(g) => g,
        };
        let (workers, listeners) = (groups.first().map_or(0, |(_, s)| s.len()), groups.len());
        if workers < 2 {
            return Attached::Off;
        }
        #[cfg(feature = "steer")]
        {
            let on = self.on.get_or_insert_with(imp::On::start);
            for (addr, socks) in &groups {
                let socks: Vec<&std::net::UdpSocket> = socks.iter().collect();
                if let Err(source) = on.attach(*addr, &socks) {
                    return Attached::Unavailable(SteerError::Program {
                        addr: *addr,
                        source: Box::new(source),
                    });
                }
            }
            // Loading parses the object and probes the kernel: about 30 MiB
            // allocated and freed on this thread, which mimalloc would keep
            // resident until this thread allocates again (rarely: it is the
            // control thread).
            imp::give_back_memory();
            Attached::On { workers, listeners }
        }
        #[cfg(not(feature = "steer"))]
        {
            let _ = listeners;
            Attached::Unavailable(SteerError::NotBuilt)
        }
    }

    /// Forgets the listeners not in `listen` (their sockets close with
    /// their workers, and the group with them).
    pub fn retain(&mut self, listen: &[Listen]) {
        #[cfg(feature = "steer")]
        if let Some(on) = &self.on {
            on.retain(&listen.iter().map(|l| l.addr).collect::<Vec<SocketAddr>>());
        }
        #[cfg(not(feature = "steer"))]
        let _ = listen;
    }
}

/// The hot-bucket rule, for one period's counts: a bucket turns hot with
/// at least 1/(8n) of the period's queries and stays hot down to 1/(16n);
/// below [`MIN_QUERIES`] a period says nothing and the set stays as it is.
/// At most 16n buckets can pass the lower bar, so the set stays small.
pub fn hot_buckets(delta: &[u64], hot: &[bool], workers: usize) -> Option<Vec<bool>> {
    let total: u64 = delta.iter().sum();
    if total < MIN_QUERIES {
        return None;
    }
    let n = workers.max(1) as u64;
    Some(
        delta
            .iter()
            .zip(hot)
            .map(|(&d, &was)| {
                let bar = if was {
                    total / (16 * n)
                } else {
                    total / (8 * n)
                };
                d > 0 && d >= bar
            })
            .collect(),
    )
}

/// Fewer queries than this in a period leave the hot set as it is.
pub const MIN_QUERIES: u64 = 1000;

#[cfg(feature = "steer")]
mod imp {
    use super::{hot_buckets, HOT_PERIOD};
    use aya::maps::{Array, MapData, PerCpuArray, ReusePortSockArray};
    use aya::programs::SkReuseport;
    use aya::Ebpf;
    use ferrodns_ebpf_common::steer as c;
    use std::net::{SocketAddr, UdpSocket};
    use std::sync::{mpsc, Arc, Mutex};

    static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ferrodns-steer"));

    /// One listener's REUSEPORT group with the program attached.
    pub struct Group {
        workers: usize,
        sockets: ReusePortSockArray<MapData>,
        workers_map: Array<MapData, u32>,
        /// The socket at each index of `sockets` (SO_COOKIE).
        cookies: Vec<u64>,
        counts: PerCpuArray<MapData, u64>,
        hot_map: Array<MapData, u32>,
        last: Vec<u64>,
        hot: Vec<bool>,
        // The program's own fd; the group holds the program either way.
        _ebpf: Ebpf,
    }

    /// Why the program could not be loaded, attached or read.
    #[derive(Debug, thiserror::Error)]
    pub enum ProgramError {
        #[error("load the steer program: {0}")]
        Object(aya::EbpfError),
        #[error("no map {0} in the steer program")]
        NoMap(&'static str),
        #[error(transparent)]
        Map(#[from] aya::maps::MapError),
        #[error("no steer program in the object")]
        NoProgram,
        #[error(transparent)]
        ProgramType(aya::programs::ProgramError),
        #[error("load the steer program: {0}")]
        Load(aya::programs::ProgramError),
        #[error("no sockets")]
        NoSockets,
        #[error("attach the steer program: {0}")]
        Attach(aya::programs::ProgramError),
        #[error(transparent)]
        Cookie(#[from] crate::sys::SysError),
        #[error("socket {index} into {}: {source}", c::SOCKETS)]
        Socket {
            index: usize,
            source: aya::maps::MapError,
        },
    }

    pub use crate::sys::give_back_memory;

    impl Group {
        /// Loads the program for `socks` (worker i's socket at i) and
        /// attaches it to their group, replacing any program there.
        pub fn attach(socks: &[&UdpSocket]) -> Result<Group, ProgramError> {
            // Without the kernel's BTF: the program needs no CO-RE
            // relocation, and parsing /sys/kernel/btf/vmlinux took 55 MiB
            // of resident memory that the allocator kept.
            let mut ebpf = aya::EbpfLoader::new()
                .btf(None)
                .load(OBJECT)
                .map_err(ProgramError::Object)?;
            let map = |ebpf: &mut Ebpf, name: &'static str| {
                ebpf.take_map(name).ok_or(ProgramError::NoMap(name))
            };
            let sockets = ReusePortSockArray::try_from(map(&mut ebpf, c::SOCKETS)?)?;
            let workers_map = Array::try_from(map(&mut ebpf, c::WORKERS)?)?;
            let counts = PerCpuArray::try_from(map(&mut ebpf, c::COUNTS)?)?;
            let hot_map = Array::try_from(map(&mut ebpf, c::HOT)?)?;
            let buckets = c::BUCKETS as usize;
            let mut g = Group {
                workers: 0,
                sockets,
                workers_map,
                cookies: Vec::new(),
                counts,
                hot_map,
                last: vec![0; buckets],
                hot: vec![false; buckets],
                _ebpf: ebpf,
            };
            g.reshape(socks)?;
            let prog: &mut SkReuseport = g
                ._ebpf
                .program_mut(c::PROGRAM)
                .ok_or(ProgramError::NoProgram)?
                .try_into()
                .map_err(ProgramError::ProgramType)?;
            prog.load().map_err(ProgramError::Load)?;
            let first = socks.first().ok_or(ProgramError::NoSockets)?;
            prog.attach(*first).map_err(ProgramError::Attach)?;
            Ok(g)
        }

        /// Steers to `socks` from now on (worker i's socket at i): the
        /// program stays, its socket array changes where it must (a socket
        /// can be in one such array only, and a new set of workers keeps
        /// most of the old set's sockets). Growing, the new entries come
        /// before the new count; shrinking, the count comes first.
        pub fn reshape(&mut self, socks: &[&UdpSocket]) -> Result<(), ProgramError> {
            let want: Vec<u64> = socks
                .iter()
                .map(|s| crate::sys::socket_cookie(*s))
                .collect::<Result<_, _>>()?;
            let n = want.len() as u32;
            if want.len() < self.workers {
                self.workers_map.set(0, n, 0)?;
                self.workers = want.len();
            }
            // Clear every index whose socket changes or goes (and those
            // whose socket moves to another index) before setting any.
            for i in 0..self.cookies.len() {
                if want.get(i) != Some(&self.cookies[i]) {
                    let _ = self.sockets.clear_index(&(i as u32));
                    self.cookies[i] = 0;
                }
            }
            self.cookies.resize(want.len(), 0);
            for (i, (s, &c)) in socks.iter().zip(&want).enumerate() {
                if self.cookies[i] != c {
                    self.sockets
                        .set(i as u32, *s, 0)
                        .map_err(|source| ProgramError::Socket { index: i, source })?;
                    self.cookies[i] = c;
                }
            }
            if want.len() != self.workers {
                self.workers_map.set(0, n, 0)?;
                self.workers = want.len();
            }
            Ok(())
        }

        /// Reads the period's counts and updates the hot set; returns how
        /// many buckets are hot.
        pub fn rebalance(&mut self) -> Result<usize, ProgramError> {
            let mut delta = vec![0u64; self.last.len()];
            for (i, d) in delta.iter_mut().enumerate() {
                let v: u64 = self.counts.get(&(i as u32), 0)?.iter().sum();
                *d = v.wrapping_sub(self.last[i]);
                self.last[i] = v;
            }
            if let Some(next) = hot_buckets(&delta, &self.hot, self.workers) {
                for (i, (&now, was)) in next.iter().zip(self.hot.iter_mut()).enumerate() {
                    if now != *was {
                        self.hot_map.set(i as u32, u32::from(now), 0)?;
                        *was = now;
                    }
                }
            }
            Ok(self.hot.iter().filter(|&&h| h).count())
        }
    }

    /// A steered group, rebalanced by the thread while the control plane
    /// may add or drop groups.
    type Shared = Arc<Mutex<Group>>;

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every steered group and the thread that rebalances them. The list's
    /// lock is held only to copy or change the list, never while a group
    /// reads its counts, so a reload does not wait on a rebalance.
    pub struct On {
        groups: Arc<Mutex<Vec<(SocketAddr, Shared)>>>,
        stop: Option<mpsc::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl On {
        pub fn start() -> On {
            let groups: Arc<Mutex<Vec<(SocketAddr, Shared)>>> = Arc::default();
            let (stop, rx) = mpsc::channel::<()>();
            let g = Arc::clone(&groups);
            let thread = std::thread::Builder::new()
                .name("steer".into())
                .spawn(move || {
                    while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(HOT_PERIOD) {
                        let now: Vec<(SocketAddr, Shared)> = lock(&g).clone();
                        for (addr, group) in now {
                            if let Err(e) = lock(&group).rebalance() {
                                crate::log::warning(
                                    None,
                                    &format!("steer: hot names of {addr}: {e}"),
                                );
                            }
                        }
                    }
                })
                .ok();
            On {
                groups,
                stop: Some(stop),
                thread,
            }
        }

        /// Steers `addr`'s group to `socks`: a group steered already keeps
        /// its program and has its sockets changed in place.
        pub fn attach(&self, addr: SocketAddr, socks: &[&UdpSocket]) -> Result<(), ProgramError> {
            let steered = lock(&self.groups)
                .iter()
                .find(|(a, _)| *a == addr)
                .map(|(_, g)| Arc::clone(g));
            if let Some(g) = steered {
                return lock(&g).reshape(socks);
            }
            let group = Arc::new(Mutex::new(Group::attach(socks)?));
            lock(&self.groups).push((addr, group));
            Ok(())
        }

        pub fn retain(&self, keep: &[SocketAddr]) {
            lock(&self.groups).retain(|(a, _)| keep.contains(a));
        }
    }

    impl Drop for On {
        fn drop(&mut self) {
            self.stop.take();
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(all(test, feature = "steer"))]
pub use imp::Group;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_rule() {
        let mut d = vec![1u64; 1024];
        d[7] = 200; // of 1282 in all: over the bar of 1/16 with 2 workers (80)
        d[9] = 60; // between that bar and the stay-hot bar of 1/32 (40)
        let cold = vec![false; 1024];
        let hot = hot_buckets(&d, &cold, 2).unwrap();
        assert!(hot[7]);
        assert!(!hot[9]);
        assert_eq!(hot.iter().filter(|&&h| h).count(), 1);
        // Once hot, a bucket stays hot down to half the bar.
        let mut was = cold.clone();
        was[9] = true;
        assert!(hot_buckets(&d, &was, 2).unwrap()[9]);
        // Too few queries: no verdict.
        assert!(hot_buckets(&[10; 1024][..99], &cold[..99], 2).is_none());
    }

    /// The real program on two sockets of one REUSEPORT group: every query
    /// for a question lands on the socket the shared hash names (so the
    /// program and `ferrodns_ebpf_common::steer::hash` agree, case and
    /// all), and once a name is hot it is spread by flow.
    #[cfg(feature = "steer")]
    #[test]
    fn steers_by_question_and_spreads_hot_names() {
        use ferrodns_ebpf_common::steer::{bucket, hash, owner};
        use std::net::UdpSocket;
        let bind = |addr: SocketAddr| -> UdpSocket {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
            s.set_reuse_port(true).unwrap();
            s.bind(&addr.into()).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
            s.into()
        };
        let a = bind("127.0.0.1:0".parse().unwrap());
        let addr = a.local_addr().unwrap();
        let b = bind(addr);
        let mut group = match Group::attach(&[&a, &b]) {
            Ok(g) => g,
            Err(e) => {
                eprintln!(
                    "SKIP steers_by_question_and_spreads_hot_names: cannot load BPF here: {e}"
                );
                return;
            }
        };
        let wire = |name: &str| -> Vec<u8> {
            let mut w = Vec::new();
            for l in name.split('.').filter(|l| !l.is_empty()) {
                w.push(l.len() as u8);
                w.extend_from_slice(l.as_bytes());
            }
            w.push(0);
            w
        };
        let query = |name: &str, id: u16| -> Vec<u8> {
            let mut q = id.to_be_bytes().to_vec();
            q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
            q.extend(wire(name));
            q.extend_from_slice(&[0, 1, 0, 1]);
            q
        };
        // Which socket got each query id.
        let drain = || -> Vec<(u16, usize)> {
            let mut got = Vec::new();
            let mut buf = [0u8; 512];
            for (i, s) in [&a, &b].into_iter().enumerate() {
                while let Ok(n) = s.recv(&mut buf) {
                    if n >= 2 {
                        got.push((u16::from_be_bytes([buf[0], buf[1]]), i));
                    }
                }
            }
            got
        };
        let hot = "hot.example.org.";
        let hot_bucket = bucket(hash(&wire(hot), 1));
        let names: Vec<String> = (0..40)
            .map(|i| format!("n{i}.Example.ORG."))
            .filter(|n| bucket(hash(&wire(n), 1)) != hot_bucket)
            .take(20)
            .collect();
        let clients: Vec<UdpSocket> = (0..40)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let ask_all = |names: &[String]| {
            for (n, name) in names.iter().enumerate() {
                for (c, client) in clients.iter().enumerate().take(5) {
                    // Mixed case on every other client: the same question.
                    let asked = if c % 2 == 0 {
                        name.to_lowercase()
                    } else {
                        name.to_uppercase()
                    };
                    client.send_to(&query(&asked, n as u16), addr).unwrap();
                }
            }
        };
        ask_all(&names);
        let got = drain();
        assert_eq!(got.len(), names.len() * 5, "every query arrives");
        let mut per_socket = [0; 2];
        for &(id, sock) in &got {
            let want = owner(hash(&wire(&names[id as usize].to_lowercase()), 1), 2) as usize;
            assert_eq!(
                sock, want,
                "{} on the socket its hash names",
                names[id as usize]
            );
            per_socket[sock] += 1;
        }
        assert!(
            per_socket[0] > 0 && per_socket[1] > 0,
            "both workers own names: {per_socket:?}"
        );
        // One name takes most queries of a period: it turns hot and is
        // spread by flow; the others stay steered.
        for i in 0..1500u16 {
            clients[0].send_to(&query(hot, i), addr).unwrap();
            if i % 200 == 199 {
                drain();
            }
        }
        drain();
        assert_eq!(group.rebalance().unwrap(), 1, "one bucket is hot");
        for (c, client) in clients.iter().enumerate() {
            client.send_to(&query(hot, c as u16), addr).unwrap();
        }
        let got = drain();
        assert_eq!(got.len(), clients.len());
        let on: std::collections::HashSet<usize> = got.iter().map(|&(_, s)| s).collect();
        assert_eq!(on.len(), 2, "a hot name from 40 flows reaches both workers");
        ask_all(&names);
        for (id, sock) in drain() {
            let want = owner(hash(&wire(&names[id as usize].to_lowercase()), 1), 2) as usize;
            assert_eq!(sock, want, "{} still steered", names[id as usize]);
        }
    }
}
