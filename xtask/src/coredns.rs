//! The real CoreDNS, built once from the Go module proxy with the installed
//! Go and cached outside the checkout (CI starts from a fresh clone), for
//! the conformance suite and the bench.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

pub const VERSION: &str = "v1.14.7";

/// Where test-only tools are cached, keyed by version: `$FERRODNS_CACHE`,
/// else `$XDG_CACHE_HOME/ferrodns`, else `~/.cache/ferrodns`, else the
/// checkout's target/.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("FERRODNS_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("ferrodns")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/ferrodns")))
        .unwrap_or_else(|| crate::root().join("target"))
}

/// CACHE/coredns-VERSION/coredns (see [`cache_dir`]), built on first use.
pub fn binary() -> Result<PathBuf> {
    let dir = cache_dir().join(format!("coredns-{VERSION}"));
    let bin = dir.join("coredns");
    if bin.is_file() {
        return Ok(bin);
    }
    if !Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        bail!("Go is not installed: CoreDNS {VERSION} is built from the Go module proxy with `go install`");
    }
    eprintln!(
        "xtask: building CoreDNS {VERSION} (once; cached in {})",
        dir.display()
    );
    std::fs::create_dir_all(&dir)?;
    let status = Command::new("go")
        .args(["install", &format!("github.com/coredns/coredns@{VERSION}")])
        .env("GOBIN", &dir)
        .env("GOFLAGS", "-mod=mod")
        .status()
        .context("run go install")?;
    if !status.success() || !bin.is_file() {
        bail!("go install github.com/coredns/coredns@{VERSION} failed: {status}");
    }
    Ok(bin)
}
