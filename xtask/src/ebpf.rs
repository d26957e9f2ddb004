//! `cargo xtask setup-ebpf`: what building eBPF programs needs, installed
//! once and cached outside the checkout (see `coredns::cache_dir`): the
//! nightly toolchain with rust-src, and bpf-linker built against the
//! nightly's own libLLVM (its `llvm-22` feature), so that the linker and
//! rustc agree on the LLVM version. Plain `cargo build` on stable never
//! needs any of it.

use crate::{run, succeeds};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BPF_LINKER: &str = "0.13.0";
/// The LLVM major version of the nightly toolchain the image carries, and
/// bpf-linker's feature for it.
const LLVM_FEATURE: &str = "llvm-22";

fn nightly() -> Command {
    let mut c = Command::new("rustup");
    // `cargo xtask` runs under the stable toolchain's environment.
    c.env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC");
    c.args(["run", "nightly"]);
    c
}

/// The nightly toolchain's sysroot.
fn sysroot() -> Result<PathBuf> {
    let out = nightly()
        .args(["rustc", "--print", "sysroot"])
        .output()
        .context("rustup run nightly rustc")?;
    if !out.status.success() {
        bail!("rustc +nightly --print sysroot failed");
    }
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

/// The nightly's libLLVM shared library (`lib/libLLVM.so.*`).
fn nightly_llvm(sysroot: &Path) -> Result<PathBuf> {
    std::fs::read_dir(sysroot.join("lib"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libLLVM.so."))
        })
        .with_context(|| format!("no libLLVM.so.* in {}/lib", sysroot.display()))
}

/// Installs what the eBPF build needs; returns the directory holding the
/// `bpf-linker` to put first on PATH (a wrapper that finds the nightly's
/// libLLVM).
pub fn setup() -> Result<PathBuf> {
    crate::ensure_nightly()?;
    run(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]))?;
    let sysroot = sysroot()?;
    let llvm = nightly_llvm(&sysroot)?;
    let home = crate::coredns::cache_dir().join(format!("bpf-linker-{BPF_LINKER}-{LLVM_FEATURE}"));
    let real = home.join("bin/bpf-linker");
    let wrap = home.join("wrap");
    let wrapper = wrap.join("bpf-linker");
    if !real.is_file() {
        // bpf-linker's build finds LLVM as `$LLVM_PREFIX/lib/libLLVM.so`.
        let prefix = home.join("llvm");
        std::fs::create_dir_all(prefix.join("lib"))?;
        let link = prefix.join("lib/libLLVM.so");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&llvm, &link)?;
        eprintln!(
            "xtask: building bpf-linker {BPF_LINKER} against {} (once; cached in {})",
            llvm.display(),
            home.display()
        );
        run(Command::new("cargo")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env("LLVM_PREFIX", &prefix)
            .args([
                "install",
                &format!("bpf-linker@{BPF_LINKER}"),
                "--locked",
                "--no-default-features",
                "--features",
                LLVM_FEATURE,
                "--root",
            ])
            .arg(&home))?;
    }
    std::fs::create_dir_all(&wrap)?;
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n# bpf-linker links the nightly toolchain's libLLVM.\nLD_LIBRARY_PATH=\"{}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\" exec \"{}\" \"$@\"\n",
            sysroot.join("lib").display(),
            real.display()
        ),
    )?;
    let mut perms = std::fs::metadata(&wrapper)?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&wrapper, perms)?;
    if !succeeds(Command::new(&wrapper).arg("--version")) {
        bail!("{} does not run", wrapper.display());
    }
    Ok(wrap)
}
