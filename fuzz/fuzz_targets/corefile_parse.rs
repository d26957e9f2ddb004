//! Arbitrary UTF-8 through the Corefile parser, then every server block key
//! through `parse_key`. Neither may panic.
//!
//! The Corefile is named as a file inside a fresh, empty temporary directory
//! (created once per process), so relative `import`s resolve there and find
//! nothing. Inputs that could make an `import` reach outside that directory
//! (an absolute or `../`-style path needs a `/`) are skipped, so the target
//! never reads /dev/zero, /dev/stdin, /proc and the like.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// `$TMPDIR/ferrodns-fuzz-PID-NANOS/Corefile`; the directory is empty.
fn corefile_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir: PathBuf =
            std::env::temp_dir().join(format!("ferrodns-fuzz-{}-{nanos:08x}", std::process::id()));
        std::fs::create_dir(&dir).expect("create the fuzz temp dir");
        dir.join("Corefile")
            .to_str()
            .expect("temp dir path is UTF-8")
            .to_string()
    })
}

/// Whether `hay` holds the bytes of `needle` in order (not necessarily
/// together).
fn subsequence(hay: &str, needle: &str) -> bool {
    let mut it = hay.bytes();
    needle.bytes().all(|n| it.any(|h| h == n))
}

/// Whether some token of `src` could read as `import` with a path that
/// leaves the temp dir. A path can only leave it with a `/` (env references
/// expand to nothing here). A token reads `import` only when the word is
/// written out, or, with `{$..}`/`{%..%}` references (which only delete
/// text here), when its letters appear in order.
fn may_escape(src: &str) -> bool {
    if !src.contains('/') {
        return false;
    }
    if src.contains("import") {
        return true;
    }
    (src.contains("{$") || src.contains("{%")) && subsequence(src, "import")
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if may_escape(src) {
        return;
    }
    let file = corefile_path();
    let Ok(blocks) = ferrodns::corefile::parse(
        src,
        file,
        &|_| None,
        &|name| ferrodns::plugin::registry::is_directive(ferrodns::plugins::ORDER, name),
    ) else {
        return;
    };
    for block in &blocks {
        for d in &block.directives {
            assert!(!d.tokens.is_empty(), "directive with no tokens");
            let _ = (d.name(), d.pos());
        }
        for key in &block.keys {
            let Ok(addrs) = ferrodns::corefile::parse_key(key, 53) else {
                continue;
            };
            assert!(!addrs.is_empty(), "key {:?} gave no zones", key.text);
            for za in &addrs {
                assert!(
                    za.zone.ends_with('.'),
                    "zone {:?} not fully qualified",
                    za.zone
                );
                assert!(
                    !za.zone.bytes().any(|b| b.is_ascii_uppercase()),
                    "zone {:?} not lowercased",
                    za.zone
                );
                assert_ne!(za.port, 0, "port 0 from key {:?}", key.text);
                let _ = za.to_string();
            }
        }
    }
});
