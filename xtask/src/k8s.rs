//! `cargo xtask k8s build|start|stop|path`: a real kube-apiserver and etcd
//! for the kubernetes plugin's tests, built once from the Go module proxy
//! and cached beside CoreDNS (CACHE/k8s-VERSION/bin, see
//! `coredns::cache_dir`), started on loopback with a throwaway CA.
//!
//! `go install k8s.io/kubernetes/cmd/kube-apiserver@VERSION` is refused:
//! kubernetes' go.mod requires its staging modules at v0.0.0 and replaces
//! them with ./staging folders. A throwaway main module requires
//! k8s.io/kubernetes and points every such requirement at the published
//! tag of that staging module (v1.36.3 -> v0.36.3); etcd's server module
//! builds from the same module at the version kubernetes pins.

pub mod cluster;

use anyhow::{bail, Context, Result};
use cluster::VERSION;
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "usage: cargo xtask k8s build | start [DIR] | stop [DIR] | path
  build        build etcd and kube-apiserver (once; cached) and print their folder
  start [DIR]  start them on free loopback ports in DIR (default target/k8s); prints the kubeconfig
  stop [DIR]   stop what start started in DIR
  path         print the binaries' folder (built or not)";

/// The folder holding `etcd` and `kube-apiserver`, built when missing.
pub fn binaries() -> Result<PathBuf> {
    let bin = cluster::bin_dir(&crate::coredns::cache_dir());
    if cluster::binaries(&bin).is_some() {
        return Ok(bin);
    }
    build(&bin)?;
    Ok(bin)
}

fn build(bin: &Path) -> Result<()> {
    if !Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        bail!("Go is not installed: kube-apiserver {VERSION} and etcd are built from the Go module proxy");
    }
    let dir = bin.parent().context("bin folder")?;
    let wrap = dir.join("wrap");
    eprintln!(
        "xtask: building etcd and kube-apiserver {VERSION} (once, about 5 minutes on 2 cores; cached in {})",
        dir.display()
    );
    std::fs::create_dir_all(&wrap)?;
    std::fs::create_dir_all(bin)?;
    std::fs::write(wrap.join("go.mod"), wrapper_mod()?)?;
    let _ = std::fs::remove_file(wrap.join("go.sum"));
    let staging = format!("v0.{}", VERSION.trim_start_matches("v1."));
    let minor = staging
        .trim_start_matches("v0.")
        .split('.')
        .next()
        .unwrap_or("0");
    let version_flags = format!(
        "-s -w -X k8s.io/component-base/version.gitVersion={VERSION} \
         -X k8s.io/component-base/version.gitMajor=1 \
         -X k8s.io/component-base/version.gitMinor={minor} \
         -X k8s.io/component-base/version.gitTreeState=clean"
    );
    for (out, ldflags, package) in [
        ("etcd", "-s -w", "go.etcd.io/etcd/server/v3"),
        (
            "kube-apiserver",
            version_flags.as_str(),
            "k8s.io/kubernetes/cmd/kube-apiserver",
        ),
    ] {
        let tmp = bin.join(format!("{out}.part"));
        let started = std::time::Instant::now();
        // Niced, two packages at a time: the machine is shared.
        crate::run(
            Command::new("nice")
                .args(["-n", "10", "go", "build", "-p", "2", "-trimpath"])
                .args(["-ldflags", ldflags, "-o"])
                .arg(&tmp)
                .arg(package)
                .current_dir(&wrap)
                .env("GOFLAGS", "-mod=mod"),
        )?;
        std::fs::rename(&tmp, bin.join(out))?;
        eprintln!(
            "xtask: built {out} in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The wrapper module's go.mod: kubernetes at VERSION, each of the staging
/// modules its go.mod requires at v0.0.0 replaced by its published tag.
fn wrapper_mod() -> Result<String> {
    let out = Command::new("go")
        .args(["mod", "download", "-json"])
        .arg(format!("k8s.io/kubernetes@{VERSION}"))
        .current_dir("/")
        .env("GOFLAGS", "-mod=mod")
        .output()
        .context("go mod download")?;
    if !out.status.success() {
        bail!(
            "go mod download k8s.io/kubernetes@{VERSION}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let info: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let gomod = info["GoMod"]
        .as_str()
        .context("GoMod in go mod download's answer")?;
    let text = std::fs::read_to_string(gomod).with_context(|| format!("read {gomod}"))?;
    let staging = format!("v0.{}", VERSION.trim_start_matches("v1."));
    Ok(render_wrapper(&text, &staging))
}

fn render_wrapper(kubernetes_mod: &str, staging: &str) -> String {
    let mut replaces = String::new();
    for line in kubernetes_mod.lines() {
        // Requirements inside a block are indented by a tab: `\tk8s.io/api v0.0.0`.
        let Some(req) = line.strip_prefix('\t') else {
            continue;
        };
        let mut words = req.split_whitespace();
        if let (Some(m), Some("v0.0.0")) = (words.next(), words.next()) {
            if m.starts_with("k8s.io/") && !req.contains("=>") {
                replaces.push_str(&format!("\t{m} => {m} {staging}\n"));
            }
        }
    }
    format!(
        "module ferrodns-k8s-wrapper\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes {VERSION}\n\nreplace (\n{replaces})\n"
    )
}

fn work_dir(args: &[String]) -> PathBuf {
    args.first()
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::root().join("target").join("k8s"))
}

pub fn main(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("build") => println!("{}", binaries()?.display()),
        Some("path") => println!(
            "{}",
            cluster::bin_dir(&crate::coredns::cache_dir()).display()
        ),
        Some("start") => {
            let dir = work_dir(&args[1..]);
            let started = std::time::Instant::now();
            let c = cluster::start(&binaries()?, &dir, false)?;
            eprintln!(
                "xtask: kube-apiserver {} (pid {}, etcd pid {}) ready after {:.1} s; \
                 CA {}, logs in {}; stop with `cargo xtask k8s stop {}`",
                c.server,
                c.apiserver.id(),
                c.etcd.id(),
                started.elapsed().as_secs_f64(),
                c.ca.display(),
                c.dir.display(),
                dir.display()
            );
            println!("KUBECONFIG={}", c.kubeconfig.display());
        }
        Some("stop") => cluster::stop(&work_dir(&args[1..]))?,
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrapper_replaces_only_staging_requirements() {
        let gomod = "module k8s.io/kubernetes\n\nrequire (\n\tk8s.io/api v0.0.0\n\
                     \tk8s.io/klog/v2 v2.130.1\n\tgithub.com/x/y v0.0.0\n)\n\n\
                     replace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\
                     \tk8s.io/sample-cli-plugin => ./staging/src/k8s.io/sample-cli-plugin\n)\n";
        let w = super::render_wrapper(gomod, "v0.36.3");
        assert!(w.contains("\tk8s.io/api => k8s.io/api v0.36.3\n"), "{w}");
        assert!(!w.contains("klog"), "{w}");
        assert!(!w.contains("sample-cli-plugin"), "{w}");
        assert!(!w.contains("github.com"), "{w}");
    }
}
