//! Metrics with CoreDNS's names, kept per worker and summed when scraped.
//!
//! Each worker owns a [`Shard`] (behind a mutex only its worker and the
//! scraper take, so the query path shares nothing with other workers).
//! Control-plane metrics (reload failures, build info, health checks) go to
//! the process-wide shard from [`global`]. [`render`] sums every shard into
//! Prometheus' text exposition format.

mod families;

pub use families::*;

use std::collections::HashMap;
use std::fmt::Write;
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
    /// Dense index into [`ALL`].
    pub id: usize,
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
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

/// One worker's values: per family, label values joined by NUL to their value.
#[derive(Debug)]
pub struct Shard {
    families: Vec<HashMap<Box<str>, Value>>,
    key: String,
}

impl Default for Shard {
    fn default() -> Self {
        Self {
            families: (0..ALL.len()).map(|_| HashMap::new()).collect(),
            key: String::new(),
        }
    }
}

impl Shard {
    fn slot(&mut self, f: &'static Family, labels: &[&str]) -> &mut Value {
        debug_assert_eq!(labels.len(), f.labels.len(), "{}", f.name);
        self.key.clear();
        for (i, l) in labels.iter().enumerate() {
            if i > 0 {
                self.key.push('\0');
            }
            self.key.push_str(l);
        }
        let map = &mut self.families[f.id];
        if !map.contains_key(self.key.as_str()) {
            let v = match f.kind {
                Kind::Histogram(b) => Value::Histogram {
                    buckets: vec![0; b.len()],
                    sum: 0.0,
                    count: 0,
                },
                _ => Value::Scalar(0.0),
            };
            map.insert(self.key.clone().into_boxed_str(), v);
        }
        map.get_mut(self.key.as_str()).expect("inserted above")
    }

    pub fn inc(&mut self, f: &'static Family, labels: &[&str]) {
        self.add(f, labels, 1.0);
    }

    pub fn add(&mut self, f: &'static Family, labels: &[&str], v: f64) {
        if let Value::Scalar(x) = self.slot(f, labels) {
            *x += v;
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
        self.families[f.id].clear();
    }

    pub fn observe(&mut self, f: &'static Family, labels: &[&str], v: f64) {
        let Kind::Histogram(bounds) = f.kind else {
            return;
        };
        if let Value::Histogram {
            buckets,
            sum,
            count,
        } = self.slot(f, labels)
        {
            for (i, b) in bounds.iter().enumerate() {
                if v <= *b {
                    buckets[i] += 1;
                }
            }
            *sum += v;
            *count += 1;
        }
    }

    fn merge_into(&self, total: &mut Shard) {
        for (id, map) in self.families.iter().enumerate() {
            for (k, v) in map {
                match (total.families[id].get_mut(k), v) {
                    (None, v) => {
                        total.families[id].insert(k.clone(), v.clone());
                    }
                    (Some(Value::Scalar(a)), Value::Scalar(b)) => *a += b,
                    (
                        Some(Value::Histogram {
                            buckets: ab,
                            sum: asum,
                            count: ac,
                        }),
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
    let mut fams: Vec<&'static Family> = ALL.to_vec();
    fams.sort_by_key(|f| f.name);
    let mut out = String::new();
    for f in fams {
        let map = &total.families[f.id];
        if map.is_empty() {
            continue;
        }
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram(_) => "histogram",
        };
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {kind}", f.name);
        let mut keys: Vec<&Box<str>> = map.keys().collect();
        keys.sort();
        for k in keys {
            match &map[k] {
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
