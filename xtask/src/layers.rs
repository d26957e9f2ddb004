//! `cargo xtask layers` (and part of `cargo xtask test`): the daemon's
//! modules import only the layers below them (docs/ARCHITECTURE.md,
//! "Layers"). Each top-level module of daemon/src is a layer with the
//! `crate::` modules it may name; a `crate::X` path anywhere in a file's
//! code (comments aside) that its layer may not name fails the check.
//! Tests that need the real plugins with the server live above every layer
//! (daemon/src/tests).

use anyhow::{bail, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// Which `crate::` modules each layer may name (besides itself). Layers
/// not listed (control, service, cli, main) may name anything.
const RULES: &[(&str, &[&str])] = &[
    // The support layer knows no DNS.
    ("log", &[]),
    ("hash", &[]),
    ("sys", &[]),
    ("gocompat", &["log"]),
    ("metrics", &["log", "gocompat", "hash", "wire"]),
    // Threads, sockets and rings: no DNS.
    ("runtime", &["log", "gocompat", "hash", "sys"]),
    // DNS bytes and Corefile text: nothing of the server.
    ("wire", &["hash"]),
    // The XDP loader: DNS bytes and the kernel, nothing of the server.
    ("xdp", &["wire"]),
    ("corefile", &["log", "gocompat"]),
    // The contract knows no plugin.
    (
        "plugin",
        &[
            "log", "gocompat", "hash", "sys", "metrics", "wire", "corefile",
        ],
    ),
    // Plugins know neither the runtime nor the transport.
    (
        "plugins",
        &[
            "log", "gocompat", "hash", "sys", "metrics", "wire", "corefile", "plugin",
        ],
    ),
    // The transport runs the chain through the contract, naming no plugin.
    (
        "server",
        &[
            "log", "gocompat", "hash", "sys", "metrics", "wire", "corefile", "plugin", "runtime",
            "control",
        ],
    ),
];

/// One file's layer: the first component under daemon/src (`x.rs` or `x/`).
fn layer(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// The `crate::X` modules a file's code names, comments left out.
pub fn named(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in source.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + "crate::".len()..];
            // `ferrodns::crate::` never occurs; `$crate::` in macros does.
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
        // `use crate::{a, b::c}`: the names inside the braces.
        if let Some(i) = code.find("crate::{") {
            for part in code[i + "crate::{".len()..].split([',', '}']) {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

/// The crossings of the files under `src` (`file -> crate::module`).
pub fn crossings(src: &Path) -> Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src)?;
            let Some(from) = layer(rel) else { continue };
            let Some((_, allowed)) = RULES.iter().find(|(l, _)| *l == from) else {
                continue;
            };
            for to in named(&std::fs::read_to_string(&path)?) {
                if to != from && !allowed.contains(&to.as_str()) {
                    found.insert(format!("{} -> crate::{to}", rel.display()));
                }
            }
        }
    }
    Ok(found)
}

/// The check: no file names a layer its own may not.
pub fn check(src: &Path) -> Result<()> {
    let found = crossings(src)?;
    if found.is_empty() {
        println!(
            "layers: {}: every file's imports keep to its layer",
            src.display()
        );
        return Ok(());
    }
    for n in &found {
        println!("layers: forbidden import: {n}");
    }
    bail!("layers: {} forbidden imports", found.len())
}

pub fn run() -> Result<()> {
    check(&crate::root().join("daemon/src"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_code_not_comments() {
        let src = "use crate::plugin::{Request, Action};\nuse crate::{wire, log::info};\n// crate::server in a comment\nlet x = crate::runtime::default_workers(); // crate::control\n$crate::metrics\n";
        let got: Vec<String> = named(src).into_iter().collect();
        assert_eq!(got, ["log", "plugin", "runtime", "wire"]);
    }

    /// The check fails for a forbidden import added to a copy of the tree.
    #[test]
    fn a_forbidden_import_fails_the_check() {
        let dir = std::env::temp_dir().join(format!("layers-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("wire")).unwrap();
        std::fs::create_dir_all(dir.join("plugins/x")).unwrap();
        std::fs::write(dir.join("wire/mod.rs"), "use crate::hash::Mix;\n").unwrap();
        std::fs::write(
            dir.join("plugins/x/mod.rs"),
            "use crate::plugin::Request;\n",
        )
        .unwrap();
        check(&dir).unwrap();
        std::fs::write(
            dir.join("plugins/x/mod.rs"),
            "use crate::plugin::Request;\nuse crate::runtime::TcpTimeouts;\n",
        )
        .unwrap();
        let e = check(&dir).unwrap_err().to_string();
        assert!(e.contains("1 forbidden imports"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The real tree passes (what CI runs).
    #[test]
    fn the_tree_keeps_its_layers() {
        run().unwrap();
    }
}
