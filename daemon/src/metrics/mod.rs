//! Metrics with CoreDNS's names, kept per worker and summed when scraped.
//!
//! Each worker owns a [`Shard`] (behind a mutex only its worker and the
//! scraper take, so the query path shares nothing with other workers).
//! Control-plane metrics (reload failures, build info, health checks) go to
//! the process-wide shard from [`global`]. [`render`] sums every shard into
//! Prometheus' text exposition format.
//!
//! A family is a `static` [`Family`] declared by whoever owns it (the
//! request and control-plane families here, a plugin's in its folder's
//! `metrics.rs`, through [`families!`]). Its first use gives it an id, its
//! index in every shard, under the lock of the process-wide list
//! ([`registered`]); later uses read the id from the family itself, and
//! updates through a [`Handle`] take neither a lock nor a hash.

mod families;
pub mod memo;
pub mod vars;

pub use families::*;

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram(&'static [f64]),
}

/// A metric family: its name, help text, kind and label names.
#[derive(Debug)]
pub struct Family {
    /// Its index in [`registered`] (and every shard), [`UNSET`] until its
    /// first use.
    id: AtomicU16,
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
}

const UNSET: u16 = u16::MAX;

impl Family {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &'static [&'static str],
    ) -> Self {
        Self {
            id: AtomicU16::new(UNSET),
            name,
            help,
            kind,
            labels,
        }
    }

    /// Its index in every shard, registering it on its first use.
    pub fn id(&'static self) -> usize {
        match self.id.load(Ordering::Acquire) {
            UNSET => register(self),
            id => usize::from(id),
        }
    }
}

/// Every family used so far, in the order of first use.
static FAMILIES: Mutex<Vec<&'static Family>> = Mutex::new(Vec::new());

fn register(f: &'static Family) -> usize {
    let mut all = FAMILIES.lock().unwrap_or_else(|e| e.into_inner());
    // Another thread may have registered it since the caller looked.
    let id = f.id.load(Ordering::Acquire);
    if id != UNSET {
        return usize::from(id);
    }
    let id = u16::try_from(all.len())
        .ok()
        .filter(|&id| id != UNSET)
        .expect("fewer than 65535 metric families");
    all.push(f);
    f.id.store(id, Ordering::Release);
    usize::from(id)
}

/// Every family registered so far (used, or named by [`register_all`]).
pub fn registered() -> Vec<&'static Family> {
    FAMILIES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Registers families before their first use, so that [`registered`]
/// lists them.
pub fn register_all(fs: &[&'static Family]) {
    for f in fs {
        f.id();
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Scalar(f64),
    Histogram {
        buckets: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

/// One family's series in a shard: label values joined by NUL, and their
/// values, addressed by index so hot paths can keep a [`Handle`].
#[derive(Debug, Default)]
struct Series {
    /// Its family, once the shard has seen it.
    family: Option<&'static Family>,
    index: HashMap<Box<str>, u32>,
    keys: Vec<Box<str>>,
    values: Vec<Value>,
}

/// One worker's values, per family (indexed by [`Family::id`]).
#[derive(Debug, Default)]
pub struct Shard {
    families: Vec<Series>,
    key: String,
    /// Bumped whenever series are removed: handles taken before are stale.
    epoch: u64,
}

/// Where one series lives in a shard, for updates without a label lookup.
/// Valid while the shard's [`Shard::epoch`] stays the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle {
    family: u16,
    index: u32,
}

fn zero(f: &Family) -> Value {
    match f.kind {
        Kind::Histogram(b) => Value::Histogram {
            buckets: vec![0; b.len()],
            sum: 0.0,
            count: 0,
        },
        _ => Value::Scalar(0.0),
    }
}

impl Series {
    fn insert(&mut self, key: &str, v: Value) -> u32 {
        let i = self.values.len() as u32;
        self.index.insert(key.into(), i);
        self.keys.push(key.into());
        self.values.push(v);
        i
    }
}

impl Shard {
    /// The series of `f`, made (with room for every family before it) if
    /// this shard has not seen it yet.
    fn series(&mut self, f: &'static Family) -> &mut Series {
        let id = f.id();
        if id >= self.families.len() {
            self.families.resize_with(id + 1, Series::default);
        }
        let s = &mut self.families[id];
        s.family = Some(f);
        s
    }

    fn index(&mut self, f: &'static Family, labels: &[&str]) -> u32 {
        debug_assert_eq!(labels.len(), f.labels.len(), "{}", f.name);
        self.key.clear();
        for (i, l) in labels.iter().enumerate() {
            if i > 0 {
                self.key.push('\0');
            }
            self.key.push_str(l);
        }
        let key = std::mem::take(&mut self.key);
        let series = self.series(f);
        let i = match series.index.get(key.as_str()) {
            Some(&i) => i,
            None => series.insert(&key, zero(f)),
        };
        self.key = key;
        i
    }

    fn slot(&mut self, f: &'static Family, labels: &[&str]) -> &mut Value {
        let i = self.index(f, labels) as usize;
        &mut self.series(f).values[i]
    }

    /// The series of `f` with these label values (made if new).
    pub fn handle(&mut self, f: &'static Family, labels: &[&str]) -> Handle {
        let index = self.index(f, labels);
        Handle {
            family: f.id() as u16,
            index,
        }
    }

    /// Changes whenever series are removed ([`Shard::clear`]).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn inc(&mut self, f: &'static Family, labels: &[&str]) {
        self.add(f, labels, 1.0);
    }

    pub fn add(&mut self, f: &'static Family, labels: &[&str], v: f64) {
        if let Value::Scalar(x) = self.slot(f, labels) {
            *x += v;
        }
    }

    /// Adds one to the counter `h`.
    pub fn inc_at(&mut self, h: Handle) {
        if let Some(Value::Scalar(x)) = self
            .families
            .get_mut(usize::from(h.family))
            .and_then(|s| s.values.get_mut(h.index as usize))
        {
            *x += 1.0;
        }
    }

    /// Sets a gauge. Per-worker gauges are summed across workers.
    pub fn set(&mut self, f: &'static Family, labels: &[&str], v: f64) {
        if let Value::Scalar(x) = self.slot(f, labels) {
            *x = v;
        }
    }

    /// Removes every series of `f` (Prometheus' `Reset` of a vector).
    pub fn clear(&mut self, f: &'static Family) {
        let s = self.series(f);
        s.index.clear();
        s.keys.clear();
        s.values.clear();
        self.epoch += 1;
    }

    pub fn observe(&mut self, f: &'static Family, labels: &[&str], v: f64) {
        let h = self.handle(f, labels);
        self.observe_at(h, v);
    }

    /// Adds `v` to histogram `f` `n` times.
    pub fn observe_n(&mut self, f: &'static Family, labels: &[&str], v: f64, n: u64) {
        let h = self.handle(f, labels);
        self.observe_at_n(h, v, n);
    }

    /// Adds `v` to the histogram `h`.
    pub fn observe_at(&mut self, h: Handle, v: f64) {
        self.observe_at_n(h, v, 1)
    }

    fn observe_at_n(&mut self, h: Handle, v: f64, n: u64) {
        let Some(series) = self.families.get_mut(usize::from(h.family)) else {
            return;
        };
        let Some(Family {
            kind: Kind::Histogram(bounds),
            ..
        }) = series.family
        else {
            return;
        };
        if let Some(Value::Histogram {
            buckets,
            sum,
            count,
        }) = series.values.get_mut(h.index as usize)
        {
            for (i, b) in bounds.iter().enumerate() {
                if v <= *b {
                    buckets[i] += n;
                }
            }
            *sum += v * n as f64;
            *count += n;
        }
    }

    fn merge_into(&self, total: &mut Shard) {
        for series in &self.families {
            let Some(f) = series.family else { continue };
            let into = total.series(f);
            for (k, v) in series.keys.iter().zip(&series.values) {
                let Some(&i) = into.index.get(k) else {
                    into.insert(k, v.clone());
                    continue;
                };
                match (&mut into.values[i as usize], v) {
                    (Value::Scalar(a), Value::Scalar(b)) => *a += b,
                    (
                        Value::Histogram {
                            buckets: ab,
                            sum: asum,
                            count: ac,
                        },
                        Value::Histogram {
                            buckets: bb,
                            sum: bsum,
                            count: bc,
                        },
                    ) => {
                        ab.iter_mut().zip(bb).for_each(|(a, b)| *a += b);
                        *asum += bsum;
                        *ac += bc;
                    }
                    _ => {}
                }
            }
        }
    }
}

fn registry() -> &'static Mutex<Vec<Weak<Mutex<Shard>>>> {
    static R: OnceLock<Mutex<Vec<Weak<Mutex<Shard>>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

/// A new shard for a worker, counted in every scrape while it lives.
pub fn worker_shard() -> Arc<Mutex<Shard>> {
    let s = Arc::new(Mutex::new(Shard::default()));
    let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
    r.retain(|w| w.strong_count() > 0);
    r.push(Arc::downgrade(&s));
    s
}

/// The process-wide shard, for control-plane metrics.
pub fn global() -> &'static Mutex<Shard> {
    static G: OnceLock<Mutex<Shard>> = OnceLock::new();
    G.get_or_init(|| Mutex::new(Shard::default()))
}

/// Runs `f` on a shard, whatever state a panicking holder left it in.
pub fn with<R>(shard: &Mutex<Shard>, f: impl FnOnce(&mut Shard) -> R) -> R {
    f(&mut shard.lock().unwrap_or_else(|e| e.into_inner()))
}

fn escape(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn label_text(f: &Family, key: &str, extra: Option<(&str, &str)>) -> String {
    let mut s = String::new();
    let values: Vec<&str> = if f.labels.is_empty() {
        Vec::new()
    } else {
        key.split('\0').collect()
    };
    let pairs = f.labels.iter().copied().zip(values).chain(extra);
    for (i, (name, value)) in pairs.enumerate() {
        s.push_str(if i == 0 { "{" } else { "," });
        s.push_str(name);
        s.push_str("=\"");
        escape(value, &mut s);
        s.push('"');
    }
    if !s.is_empty() {
        s.push('}');
    }
    s
}

/// A shard's series, their families sorted by name.
fn sorted(s: &Shard) -> Vec<&Series> {
    let mut v: Vec<&Series> = s.families.iter().filter(|s| s.family.is_some()).collect();
    v.sort_by_key(|s| s.family.map(|f| f.name));
    v
}

fn number(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// Every family with at least one value, summed over all shards, in
/// Prometheus' text format (families sorted by name, series by labels).
pub fn render() -> String {
    let mut total = Shard::default();
    with(global(), |g| g.merge_into(&mut total));
    let shards: Vec<Arc<Mutex<Shard>>> = {
        let r = registry().lock().unwrap_or_else(|e| e.into_inner());
        r.iter().filter_map(Weak::upgrade).collect()
    };
    for s in shards {
        with(&s, |s| s.merge_into(&mut total));
    }
    let mut out = String::new();
    for series in sorted(&total) {
        let Some(f) = series.family else { continue };
        if series.keys.is_empty() {
            continue;
        }
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram(_) => "histogram",
        };
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {kind}", f.name);
        let mut order: Vec<usize> = (0..series.keys.len()).collect();
        order.sort_by(|a, b| series.keys[*a].cmp(&series.keys[*b]));
        for i in order {
            let k = &series.keys[i];
            match &series.values[i] {
                Value::Scalar(v) => {
                    let _ = writeln!(out, "{}{} {}", f.name, label_text(f, k, None), number(*v));
                }
                Value::Histogram {
                    buckets,
                    sum,
                    count,
                } => {
                    let Kind::Histogram(bounds) = f.kind else {
                        continue;
                    };
                    for (b, n) in bounds.iter().zip(buckets) {
                        let le = number(*b);
                        let _ = writeln!(
                            out,
                            "{}_bucket{} {n}",
                            f.name,
                            label_text(f, k, Some(("le", &le)))
                        );
                    }
                    let _ = writeln!(
                        out,
                        "{}_bucket{} {count}",
                        f.name,
                        label_text(f, k, Some(("le", "+Inf")))
                    );
                    let _ = writeln!(
                        out,
                        "{}_sum{} {}",
                        f.name,
                        label_text(f, k, None),
                        number(*sum)
                    );
                    let _ = writeln!(out, "{}_count{} {count}", f.name, label_text(f, k, None));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_shards_and_renders() {
        let a = worker_shard();
        let b = worker_shard();
        let labels = ["dns://:53", "example.org.", "", "udp", "1", "A"];
        with(&a, |s| s.inc(&REQUESTS, &labels));
        with(&b, |s| s.add(&REQUESTS, &labels, 2.0));
        with(&a, |s| {
            s.observe(
                &REQUEST_DURATION,
                &["dns://:53", "example.org.", ""],
                0.0003,
            )
        });
        let text = render();
        assert!(
            text.contains("# TYPE coredns_dns_requests_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "coredns_dns_requests_total{server=\"dns://:53\",zone=\"example.org.\",view=\"\",proto=\"udp\",family=\"1\",type=\"A\"} 3\n"
            ),
            "{text}"
        );
        assert!(text.contains("coredns_dns_request_duration_seconds_bucket{server=\"dns://:53\",zone=\"example.org.\",view=\"\",le=\"0.00025\"} 0\n"), "{text}");
        assert!(text.contains("coredns_dns_request_duration_seconds_bucket{server=\"dns://:53\",zone=\"example.org.\",view=\"\",le=\"0.0005\"} 1\n"), "{text}");
        assert!(text.contains("coredns_dns_request_duration_seconds_count{server=\"dns://:53\",zone=\"example.org.\",view=\"\"} 1\n"), "{text}");
    }
}
