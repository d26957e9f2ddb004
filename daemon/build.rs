//! With the `steer` feature, builds the SK_REUSEPORT program (ebpf/steer),
//! and with the `xdp` feature the XDP program (ebpf/xdp), for
//! bpfel-unknown-none with the nightly toolchain and bpf-linker, as
//! `cargo xtask setup-ebpf` installs them; without them, nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "steer")]
    ebpf::build("steer", "ferrodns-steer");
    #[cfg(feature = "xdp")]
    ebpf::build("xdp", "ferrodns-xdp");
}

#[cfg(any(feature = "steer", feature = "xdp"))]
mod ebpf {
    use std::path::PathBuf;

    /// Builds ebpf/`dir` (package `package`, a workspace of its own) into
    /// OUT_DIR/`package`, for `include_bytes_aligned!`.
    pub fn build(dir: &str, package: &str) {
        let manifest =
            PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
        let root = manifest.join("../ebpf").join(dir);
        let common = manifest.join("../ebpf/common");
        for p in [
            root.join("src"),
            root.join("Cargo.toml"),
            root.join("build.rs"),
            root.join("Cargo.lock"),
            common.join("src"),
        ] {
            println!("cargo:rerun-if-changed={}", p.display());
        }
        linker_on_path(dir);
        // aya-build runs `cargo build --package` where it stands: in the
        // program's own workspace (it builds for bpfel-unknown-none only).
        std::env::set_current_dir(&root).unwrap_or_else(|e| panic!("cd ebpf/{dir}: {e}"));
        let root = root.to_str().expect("UTF-8 path");
        aya_build::build_ebpf(
            [aya_build::Package {
                name: package,
                root_dir: root,
                ..Default::default()
            }],
            aya_build::Toolchain::Nightly,
        )
        .unwrap_or_else(|e| panic!("building ebpf/{dir}: {e:#}"));
    }

    /// bpf-linker as setup-ebpf leaves it, unless one is on PATH already.
    fn linker_on_path(feature: &str) {
        println!("cargo:rerun-if-env-changed=PATH");
        let path = std::env::var_os("PATH").unwrap_or_default();
        if std::env::split_paths(&path).any(|d| d.join("bpf-linker").is_file()) {
            return;
        }
        // xtask's cache_dir: $FERRODNS_CACHE, $XDG_CACHE_HOME/ferrodns, ~/.cache/ferrodns.
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let cache = env("FERRODNS_CACHE")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("ferrodns")))
            .or_else(|| env("HOME").map(|d| d.join(".cache/ferrodns")))
            .unwrap_or_default();
        let wrap = std::fs::read_dir(&cache).ok().and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("bpf-linker-"))
                })
                .map(|p| p.join("wrap"))
                .find(|w| w.join("bpf-linker").is_file())
        });
        match wrap {
            Some(w) => {
                let mut dirs = vec![w];
                dirs.extend(std::env::split_paths(&path));
                // SAFETY: the build script is one thread.
                std::env::set_var("PATH", std::env::join_paths(dirs).expect("PATH"));
            }
            None => panic!(
                "feature `{feature}` needs bpf-linker and the nightly toolchain: run `cargo xtask setup-ebpf`"
            ),
        }
    }
}
