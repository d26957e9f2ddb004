//! The real CoreDNS, built once from the Go module proxy with the installed
//! Go and cached outside the checkout (CI starts from a fresh clone), for
//! the conformance suite and the bench; and golang-dnstap's `dnstap`
//! reader, built the same way, for the dnstap plugin's tests.

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
    go_tool("CoreDNS", "github.com/coredns/coredns", VERSION, "coredns")
}

/// The golang-dnstap version whose `dnstap` reader the tests run.
pub const DNSTAP_VERSION: &str = "v0.4.0";

/// CACHE/dnstap-VERSION/dnstap: the `dnstap` command of golang-dnstap, the
/// reader the dnstap plugin's integration tests check frames with; built
/// on first use.
pub fn dnstap_reader() -> Result<PathBuf> {
    go_tool(
        "the dnstap reader",
        "github.com/dnstap/golang-dnstap/dnstap",
        DNSTAP_VERSION,
        "dnstap",
    )
}

/// CACHE/BIN-VERSION/BIN, `go install`ed from `package` at `version`
/// through the Go module proxy the first time.
fn go_tool(what: &str, package: &str, version: &str, bin: &str) -> Result<PathBuf> {
    let dir = cache_dir().join(format!("{bin}-{version}"));
    let path = dir.join(bin);
    if path.is_file() {
        return Ok(path);
    }
    if !Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        bail!("Go is not installed: {what} {version} is built from the Go module proxy with `go install`");
    }
    eprintln!(
        "xtask: building {what} {version} (once; cached in {})",
        dir.display()
    );
    std::fs::create_dir_all(&dir)?;
    let status = Command::new("go")
        .args(["install", &format!("{package}@{version}")])
        .env("GOBIN", &dir)
        .env("GOFLAGS", "-mod=mod")
        .status()
        .context("run go install")?;
    if !status.success() || !path.is_file() {
        bail!("go install {package}@{version} failed: {status}");
    }
    Ok(path)
}
