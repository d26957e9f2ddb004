//! The kernel fast path at run time: for the server blocks with `xdp`, the
//! XDP program (`xdp`, feature `xdp`) loaded and attached to their
//! interfaces, told their listeners, and fed by their caches through the
//! contract's `plugin::kernel::Feed`: an answer asked for `promote` times
//! on the raw path goes into the program's map, and leaves it when its
//! item is replaced, evicted or removed, when it expires, and on reload
//! and shutdown. Once a second the kernel's answers are folded into the
//! metrics the raw path's plugins keep (`Plugin::kernel_done`) and its
//! counters into `ferrodns_xdp_*`.
//!
//! Where the program cannot run (a build without the feature, no
//! capability, no such interface), the blocks are served from userspace
//! and the log says why, unless the directive says `required`.

use crate::plugin::registry::KernelPath;
use crate::server::Config;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("plugin/xdp: {0}")]
    Required(String),
}

/// The running kernel path, if any block has one.
#[derive(Default)]
pub struct Kernel {
    #[cfg(feature = "xdp")]
    inner: Option<imp::Running>,
}

/// The blocks with `xdp`, by index.
fn wanted(config: &Config) -> Vec<(usize, &KernelPath)> {
    config
        .blocks
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.xdp.as_ref().map(|k| (i, k)))
        .collect()
}

/// Says why the kernel path is off; an error where a block requires it.
fn unavailable(want: &[(usize, &KernelPath)], why: &str) -> Result<(), KernelError> {
    if want.iter().any(|(_, k)| k.required) {
        return Err(KernelError::Required(why.to_string()));
    }
    crate::log::warning(
        Some("xdp"),
        &format!("{why}: hot cache hits are answered in userspace"),
    );
    Ok(())
}

impl Kernel {
    /// Sets the kernel path up for `config` (the caches of blocks without
    /// one are told so).
    pub fn start(config: &Arc<Config>) -> Result<Kernel, KernelError> {
        for b in &config.blocks {
            for p in b.chain.plugins() {
                p.set_kernel(None);
            }
        }
        let want = wanted(config);
        if want.is_empty() {
            return Ok(Kernel::default());
        }
        #[cfg(not(feature = "xdp"))]
        {
            unavailable(
                &want,
                "this ferrodns was built without the kernel fast path (feature xdp)",
            )?;
            Ok(Kernel::default())
        }
        #[cfg(feature = "xdp")]
        {
            match imp::Running::start(config, &want) {
                Ok(r) => Ok(Kernel { inner: Some(r) }),
                Err(why) => {
                    unavailable(&want, &why)?;
                    Ok(Kernel::default())
                }
            }
        }
    }

    /// Detaches the program (the kernel stops answering) and empties its
    /// map.
    pub fn stop(self) {
        #[cfg(feature = "xdp")]
        drop(self.inner);
    }

    /// The interfaces the program runs on, and how.
    pub fn attached(&self) -> Vec<(String, &'static str)> {
        #[cfg(feature = "xdp")]
        if let Some(r) = &self.inner {
            return r.attached();
        }
        Vec::new()
    }
}

#[cfg(feature = "xdp")]
mod imp {
    use super::*;
    use crate::metrics::{self, Kind};
    use crate::plugin::registry::XdpMode;
    /// The interfaces that are up, but loopback (a block's `xdp` without
    /// interfaces).
    fn up_interfaces() -> Vec<String> {
        let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
            return Vec::new();
        };
        let mut out: Vec<String> = dir
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "lo")
            .filter(|n| {
                std::fs::read_to_string(format!("/sys/class/net/{n}/operstate"))
                    .is_ok_and(|s| matches!(s.trim(), "up" | "unknown"))
            })
            .collect();
        out.sort();
        out
    }

    use crate::plugin::kernel::{Feed, KernelHits, Promotion};
    use crate::xdp::{self, Key, Mode, Program, Timing, Variant};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    crate::metrics::families! {
        XDP_ANSWERS "ferrodns_xdp_answers_total" Kind::Counter, [],
            "Queries the XDP program answered in the kernel.";
        XDP_PASSED "ferrodns_xdp_passed_total" Kind::Counter, ["reason"],
            "Packets the XDP program passed to the network stack, by reason.";
        XDP_ERRORS "ferrodns_xdp_errors_total" Kind::Counter, ["reason"],
            "Packets the XDP program could not handle, by reason (passed on).";
        XDP_ENTRIES "ferrodns_xdp_entries" Kind::Gauge, [],
            "Answers in the XDP program's map.";
        XDP_PROMOTED "ferrodns_xdp_promoted_total" Kind::Counter, [],
            "Answers handed to the XDP program.";
        XDP_COLLISIONS "ferrodns_xdp_collisions_total" Kind::Counter, [],
            "Answers not handed to the XDP program: another name in its map has the same key (the hash of its name), and userspace answers this one.";
    }

    /// An entry in the map: what it came from, until when it answers, and
    /// its metrics' labels.
    #[derive(Clone)]
    struct Record {
        owner: u64,
        block: usize,
        expires: Instant,
        server: String,
        zone: String,
        hits: KernelHits<'static>,
    }

    struct State {
        entries: HashMap<Key, Record>,
        by_owner: HashMap<u64, Vec<Key>>,
    }

    struct Shared {
        program: Mutex<Program>,
        state: Mutex<State>,
        /// Listener name to its group in the program's map.
        groups: HashMap<String, u32>,
        config: Arc<Config>,
        capacity: usize,
    }

    /// One block's feed.
    struct BlockFeed {
        shared: Arc<Shared>,
        block: usize,
        threshold: u32,
    }

    impl Feed for BlockFeed {
        fn promote(&self, p: &Promotion<'_>) -> bool {
            let s = &self.shared;
            let Some(&group) = s.groups.get(p.hits.server) else {
                return false;
            };
            let v = Variant {
                opt: p.opt,
                do_bit: p.do_bit,
                cd: p.cd,
                ad: p.ad,
            };
            let t = Timing::new(p.stored, p.orig_ttl, p.keep_ttl, p.until);
            let Ok((key, entry)) = xdp::build(group, p.reply, v, &t, p.size_cap) else {
                return false;
            };
            let mut st = s.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.entries.len() >= s.capacity && !st.entries.contains_key(&key) {
                return false;
            }
            let mut prog = s.program.lock().unwrap_or_else(|e| e.into_inner());
            match prog.insert(&key, &entry) {
                Ok(()) => {}
                Err(xdp::XdpError::Collision) => {
                    metrics::with(metrics::global(), |m| m.inc(&XDP_COLLISIONS, &[]));
                    return false;
                }
                Err(_) => return false,
            }
            drop(prog);
            let ttl_end = p.stored + Duration::from_secs(u64::from(p.orig_ttl));
            let expires = p.until.map_or(ttl_end, |u| u.min(ttl_end));
            // Labels outlive the query: leaked once per distinct text.
            let server = p.hits.server.to_string();
            let zone = p.hits.zone.to_string();
            st.by_owner.entry(p.owner).or_default().push(key);
            st.entries.insert(
                key,
                Record {
                    owner: p.owner,
                    block: self.block,
                    expires,
                    server,
                    zone,
                    hits: KernelHits {
                        server: "",
                        zone: "",
                        family: "",
                        qtype: p.hits.qtype,
                        rcode: p.hits.rcode,
                        do_bit: p.hits.do_bit,
                        denial: p.hits.denial,
                        request_len: p.hits.request_len,
                        plain_len: p.hits.plain_len,
                        count: 0,
                    },
                },
            );
            metrics::with(metrics::global(), |m| m.inc(&XDP_PROMOTED, &[]));
            true
        }

        fn forget(&self, owner: u64) {
            let s = &self.shared;
            let mut st = s.state.lock().unwrap_or_else(|e| e.into_inner());
            let Some(keys) = st.by_owner.remove(&owner) else {
                return;
            };
            let mut prog = s.program.lock().unwrap_or_else(|e| e.into_inner());
            for k in keys {
                st.entries.remove(&k);
                let _ = prog.remove(&k);
            }
        }

        fn threshold(&self) -> u32 {
            self.threshold
        }
    }

    pub struct Running {
        shared: Arc<Shared>,
        stop: Arc<AtomicBool>,
        sweeper: Option<std::thread::JoinHandle<()>>,
    }

    fn mode(m: XdpMode) -> Mode {
        match m {
            XdpMode::Native => Mode::Native,
            XdpMode::Generic => Mode::Generic,
            XdpMode::Auto => Mode::Auto,
        }
    }

    impl Running {
        pub fn start(
            config: &Arc<Config>,
            want: &[(usize, &KernelPath)],
        ) -> Result<Running, String> {
            let capacity = want.iter().map(|(_, k)| k.entries).max().unwrap_or(1);
            let mut program = Program::load(capacity).map_err(|e| e.to_string())?;
            let mut done: Vec<String> = Vec::new();
            for (_, k) in want {
                let names = if k.interfaces.is_empty() {
                    up_interfaces()
                } else {
                    k.interfaces.clone()
                };
                for n in &names {
                    if done.contains(n) {
                        continue;
                    }
                    match program.attach(n, mode(k.mode)) {
                        Ok(m) => crate::log::info(
                            Some("xdp"),
                            &format!("answering hot cache hits on {n} ({m})"),
                        ),
                        Err(e) if k.required => return Err(e.to_string()),
                        Err(e) => crate::log::warning(Some("xdp"), &e.to_string()),
                    }
                    done.push(n.clone());
                }
            }
            if program.attached().next().is_none() {
                return Err("the program is attached to no interface".into());
            }
            // Each listener serving a block with `xdp` is a group of its own.
            let mut groups = HashMap::new();
            let mut listeners = Vec::new();
            for (i, l) in config.listeners.iter().enumerate() {
                let serves = l
                    .zones
                    .values()
                    .any(|r| r.blocks.iter().any(|b| want.iter().any(|(w, _)| w == b)));
                if !serves {
                    continue;
                }
                let group = i as u32 + 1;
                groups.insert(l.name.to_string(), group);
                listeners.push((l.addr, group));
                // `[::]` serves IPv4 too.
                if l.addr.ip() == std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED) {
                    listeners.push((
                        std::net::SocketAddr::new(
                            std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                            l.addr.port(),
                        ),
                        group,
                    ));
                }
            }
            program
                .set_listeners(&listeners)
                .map_err(|e| e.to_string())?;
            let shared = Arc::new(Shared {
                program: Mutex::new(program),
                state: Mutex::new(State {
                    entries: HashMap::new(),
                    by_owner: HashMap::new(),
                }),
                groups,
                config: Arc::clone(config),
                capacity: capacity as usize,
            });
            for &(i, k) in want {
                let feed: Arc<dyn Feed> = Arc::new(BlockFeed {
                    shared: Arc::clone(&shared),
                    block: i,
                    threshold: k.promote,
                });
                for p in config.blocks[i].chain.plugins() {
                    if p.kernel_answers() {
                        p.set_kernel(Some(Arc::clone(&feed)));
                    }
                }
            }
            let stop = Arc::new(AtomicBool::new(false));
            let sweeper = {
                let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
                std::thread::Builder::new()
                    .name("xdp".into())
                    .spawn(move || {
                        let mut last = Instant::now();
                        while !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(50));
                            if last.elapsed() >= Duration::from_secs(1) {
                                last = Instant::now();
                                sweep(&shared);
                            }
                        }
                        sweep(&shared);
                    })
                    .ok()
            };
            Ok(Running {
                shared,
                stop,
                sweeper,
            })
        }

        pub fn attached(&self) -> Vec<(String, &'static str)> {
            let prog = self
                .shared
                .program
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            prog.attached()
                .map(|(n, m)| {
                    (
                        n.to_string(),
                        match m {
                            Mode::Native => "native",
                            Mode::Generic => "generic",
                            Mode::Auto => "auto",
                        },
                    )
                })
                .collect()
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(t) = self.sweeper.take() {
                let _ = t.join();
            }
            for b in &self.shared.config.blocks {
                for p in b.chain.plugins() {
                    p.set_kernel(None);
                }
            }
        }
    }

    /// Folds the kernel's answers into the metrics and takes out the
    /// entries that expired.
    fn sweep(s: &Shared) {
        let (hits, counters) = {
            let mut st = s.state.lock().unwrap_or_else(|e| e.into_inner());
            let mut prog = s.program.lock().unwrap_or_else(|e| e.into_inner());
            let hits = prog.take_hits().unwrap_or_default();
            let counters = prog.counters().ok();
            let now = Instant::now();
            let expired: Vec<Key> = st
                .entries
                .iter()
                .filter(|(_, r)| r.expires <= now)
                .map(|(k, _)| *k)
                .collect();
            for k in &expired {
                let _ = prog.remove(k);
                if let Some(r) = st.entries.remove(k) {
                    if let Some(v) = st.by_owner.get_mut(&r.owner) {
                        v.retain(|x| x != k);
                    }
                }
            }
            // What the hits were for, as labels.
            let hits: Vec<(Record, u64, u64)> = hits
                .into_iter()
                .filter_map(|(k, h)| Some((st.entries.get(&k)?.clone(), h.v4, h.v6)))
                .collect();
            let n = st.entries.len();
            (hits, counters.map(|c| (c, n)))
        };
        metrics::with(metrics::global(), |m| {
            for (r, v4, v6) in &hits {
                let Some(block) = s.config.blocks.get(r.block) else {
                    continue;
                };
                let Some(plan) = &block.fast else { continue };
                let plugins = block.chain.plugins();
                for (family, count) in [("1", *v4), ("2", *v6)] {
                    if count == 0 {
                        continue;
                    }
                    let h = KernelHits {
                        server: &r.server,
                        zone: &r.zone,
                        family,
                        count,
                        ..r.hits
                    };
                    for i in plan.kernel_plugins() {
                        plugins[i].kernel_done(&h, m);
                    }
                }
            }
            if let Some((c, n)) = &counters {
                for (name, v) in c.named() {
                    if name == "answered" {
                        m.set(&XDP_ANSWERS, &[], v as f64);
                    } else if let Some(reason) = name.strip_prefix("pass_") {
                        m.set(&XDP_PASSED, &[reason], v as f64);
                    } else if let Some(reason) = name.strip_prefix("error_") {
                        m.set(&XDP_ERRORS, &[reason], v as f64);
                    }
                }
                m.set(&XDP_ENTRIES, &[], *n as f64);
            }
        });
    }
}
