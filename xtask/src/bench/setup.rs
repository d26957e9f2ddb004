//! What a run needs before the rig: packages, binaries, the XDP object, and
//! the work folder with zone files, query files and rendered configurations.

use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian packages the bench drives, by the command each installs.
const PACKAGES: &[(&str, &str)] = &[
    ("unbound", "unbound"),
    ("dnsdist", "dnsdist"),
    ("nsd", "nsd"),
    ("knotd", "knot"),
    ("dnsperf", "dnsperf"),
    ("kxdpgun", "knot-dnsutils"),
    ("kdig", "knot-dnsutils"),
    ("clang", "clang"),
    ("ethtool", "ethtool"),
    ("taskset", "util-linux"),
    ("curl", "curl"),
];

pub fn packages() -> Result<()> {
    crate::ensure_packages(PACKAGES)?;
    if !Path::new("/usr/include/bpf/bpf_helpers.h").exists() {
        // No command to probe for: it is a header.
        crate::ensure_packages(&[("/usr/include/bpf/bpf_helpers.h", "libbpf-dev")])?;
    }
    Ok(())
}

pub struct Binaries {
    pub ferrodns: PathBuf,
    pub bench: PathBuf,
    pub coredns: PathBuf,
}

pub fn binaries() -> Result<Binaries> {
    crate::run(
        crate::cargo()
            .args([
                "build",
                "--release",
                "-p",
                "ferrodns",
                "-p",
                "ferrodns-bench",
            ])
            .args(crate::ebpf_features()),
    )?;
    let release = release_dir();
    Ok(Binaries {
        ferrodns: release.join("ferrodns"),
        bench: release.join("ferrodns-bench"),
        coredns: crate::coredns::binary()?,
    })
}

/// Where cargo puts release builds: CARGO_TARGET_DIR's `release`, else
/// the checkout's target/release.
pub fn release_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_relative() {
                crate::root().join(p)
            } else {
                p
            }
        })
        .unwrap_or_else(|| crate::root().join("target"))
        .join("release")
}

/// Compiles bench/xdp/NAME.c into an eBPF object with clang.
pub fn xdp_object(work: &Path, name: &str) -> Result<PathBuf> {
    let src = crate::root().join(format!("bench/xdp/{name}.c"));
    let obj = work.join(format!("{name}.o"));
    let arch_include = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    let out = Command::new("clang")
        .args(["-O2", "-g", "-Wall", "-target", "bpf"])
        .arg(format!("-I{arch_include}"))
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .context("run clang")?;
    if !out.status.success() {
        bail!(
            "clang could not build the XDP reflector {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(obj)
}

/// A scenario's query file and the names it warms the servers with.
pub struct Queries {
    pub file: PathBuf,
    /// First name of the file, to probe a server with.
    pub probe: String,
}

const SOA: &str = "@ 3600 IN SOA ns.bench. hostmaster.bench. 1 7200 3600 1209600 3600\n\
                   @ 3600 IN NS ns.bench.\n";

/// Zone files for the upstream and the auth scenario; query files; written
/// once per work folder (the 1M-line files take a moment).
pub fn data(
    work: &Path,
    auth_names: usize,
    cache_names: usize,
    memory_names: usize,
    flood_names: usize,
) -> Result<()> {
    std::fs::create_dir_all(work)?;
    let zone = |name: &str, body: &str| -> Result<()> {
        let text = format!("$ORIGIN {name}.bench.\n{SOA}{body}");
        std::fs::write(work.join(format!("{name}.zone")), text)?;
        Ok(())
    };
    zone("cache", "* 3600 IN A 198.18.1.1\n")?;
    zone("zipf", "* 3600 IN A 198.18.1.2\n")?;
    // TTL 0: no server may keep these, so every query in `forward` is a miss.
    zone("fwd", "* 0 IN A 198.18.1.3\n")?;
    // The flood scenario: hot names and the flood's names in zones of their
    // own, so that the upstream counts each apart.
    zone("hot", "* 3600 IN A 198.18.1.4\n")?;
    zone("flood", "* 3600 IN A 198.18.1.5\n")?;
    let mut auth = String::new();
    for i in 0..auth_names {
        let _ = writeln!(auth, "h{i} 3600 IN A {}", auth_address(i));
    }
    zone("auth", &auth)?;

    write_lines(
        &work.join("cache.q"),
        (0..cache_names).map(|i| format!("n{i}.cache.bench A")),
    )?;
    write_lines(
        &work.join("auth.q"),
        (0..auth_names).map(|i| format!("h{i}.auth.bench A")),
    )?;
    let fwd = work.join("fwd.q");
    if !fwd.exists() {
        write_lines(&fwd, (0..1_000_000).map(|i| format!("f{i}.fwd.bench A")))?;
    }
    // Distinct names the zipf zone's wildcard answers (TTL 3600).
    write_lines(
        &work.join("mem.q"),
        (0..memory_names).map(|i| format!("m{i}.zipf.bench A")),
    )?;
    write_lines(
        &work.join("hot.q"),
        (0..HOT_NAMES).map(|i| format!("h{i}.hot.bench A")),
    )?;
    // A random subdomain each: a bijective mix of the index, so that no two
    // repeat and they look like an attack's names.
    write_lines(
        &work.join("flood.q"),
        (0..flood_names as u64).map(|i| format!("{:016x}.flood.bench A", mix(i))),
    )?;
    let zipf = work.join("zipf.q");
    if !zipf.exists() {
        zipf_stream(&zipf, 1_000_000, 0x5eed_f00d)?;
    }
    Ok(())
}

/// `n` queries of the zipf scenario's names, drawn with Zipf(1.0) over its
/// 1,000,000 names from `seed`, to `path`.
pub fn zipf_stream(path: &Path, n: usize, seed: u64) -> Result<()> {
    let mut z = Zipf::new(1_000_000, 1.0, seed);
    write_lines(
        path,
        (0..n).map(|_| format!("z{}.zipf.bench A", z.sample())),
    )
}

/// The address of name `h{i}` in the auth zone.
fn auth_address(i: usize) -> String {
    format!("198.18.{}.{}", 2 + i / 250 % 250, 1 + i % 250)
}

/// The A record the auth zone holds for `name` (`hI.auth.bench`, as the
/// query file asks), if it is one of the zone's names.
pub fn auth_record(name: &str) -> Option<String> {
    let i = name
        .trim_end_matches('.')
        .strip_suffix(".auth.bench")?
        .strip_prefix('h')?
        .parse()
        .ok()?;
    Some(auth_address(i))
}

/// Hot names of the flood scenario, asked throughout the flood.
pub const HOT_NAMES: usize = 100;

/// splitmix64's finaliser: a bijection on u64.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn write_lines(path: &Path, lines: impl Iterator<Item = String>) -> Result<()> {
    let mut text = String::new();
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

pub fn queries(work: &Path, file: &str) -> Result<Queries> {
    // A scenario that sends no query file (zoneload asks its own names).
    if file.is_empty() {
        return Ok(Queries {
            file: work.to_path_buf(),
            probe: String::new(),
        });
    }
    let path = work.join(file);
    let first = std::fs::read_to_string(&path)?
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("bench.")
        .to_string();
    Ok(Queries {
        file: path,
        probe: first,
    })
}

/// Zipf(s) over ranks 1..=n by inverse CDF; a fixed seed, so every run and
/// every server sees the same stream.
struct Zipf {
    cdf: Vec<f64>,
    state: u64,
}

impl Zipf {
    fn new(n: usize, s: f64, seed: u64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += 1.0 / (k as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf, state: seed }
    }

    fn sample(&mut self) -> usize {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let u = (r >> 11) as f64 / (1u64 << 53) as f64;
        self.cdf.partition_point(|&c| c < u) + 1
    }
}

/// Copies a configuration from bench/configs/, filling in the placeholders.
pub fn render(template: &str, work: &Path, out_name: &str) -> Result<PathBuf> {
    let dir = crate::root().join("bench/configs");
    let src = dir.join(template);
    let mut text =
        std::fs::read_to_string(&src).with_context(|| format!("read {}", src.display()))?;
    if text.contains("@COMMON@") {
        let common = std::fs::read_to_string(dir.join("unbound-common.conf"))?;
        text = text.replace("@COMMON@", common.trim_end());
    }
    let text = text
        .replace("@DIR@", &work.to_string_lossy())
        .replace("@SERVER_IP@", super::rig::SERVER_IP);
    let out = work.join(out_name);
    std::fs::write(&out, text)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{auth_record, mix, Zipf};

    #[test]
    fn auth_records_as_the_zone_has_them() {
        assert_eq!(auth_record("h0.auth.bench").as_deref(), Some("198.18.2.1"));
        assert_eq!(
            auth_record("h9999.auth.bench.").as_deref(),
            Some("198.18.41.250")
        );
        assert_eq!(auth_record("n0.cache.bench"), None);
    }

    #[test]
    fn flood_names_do_not_repeat() {
        let mut seen: Vec<u64> = (0..100_000).map(mix).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 100_000);
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let mut z = Zipf::new(1000, 1.0, 7);
        let draws: Vec<usize> = (0..20_000).map(|_| z.sample()).collect();
        assert!(draws.iter().all(|&r| (1..=1000).contains(&r)));
        let ones = draws.iter().filter(|&&r| r == 1).count() as f64 / 20_000.0;
        // P(1) = 1/H(1000) ~ 0.134
        assert!((0.11..0.16).contains(&ones), "{ones}");
    }
}
