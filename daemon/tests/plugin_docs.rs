//! Every ```corefile example in the README, the plugin index and the plugin
//! pages (daemon/src/plugins/NAME/README.md) is a Corefile the real binary
//! accepts (`-validate`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const ZONE: &str = "$ORIGIN example.org.
@ 3600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 3600
@ 3600 IN NS ns1.example.org.
ns1 3600 IN A 192.0.2.1
www 3600 IN A 192.0.2.80
";

fn examples(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in md.lines().enumerate() {
        match &mut current {
            None if line.trim() == "```corefile" => current = Some((i + 1, String::new())),
            Some(_) if line.trim() == "```" => out.push(current.take().expect("in a block")),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "unterminated code block");
    out
}

/// Each plugin's page, in its folder as CoreDNS keeps them:
/// daemon/src/plugins/NAME/README.md.
fn plugin_pages(root: &Path) -> Vec<PathBuf> {
    let mut pages: Vec<_> = std::fs::read_dir(root.join("daemon/src/plugins"))
        .unwrap()
        .map(|e| e.unwrap().path().join("README.md"))
        .filter(|p| p.is_file())
        .collect();
    pages.sort();
    assert!(
        pages.len() >= 30,
        "only {} plugin pages found under daemon/src/plugins",
        pages.len()
    );
    pages
}

#[test]
fn every_corefile_example_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut pages = vec![root.join("README.md"), root.join("docs/plugins/README.md")];
    pages.extend(plugin_pages(root));
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in &pages {
        let md = std::fs::read_to_string(page).unwrap();
        for (line, corefile) in examples(&md) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("db.example.org"), ZONE).unwrap();
            std::fs::write(dir.path().join("Corefile"), &corefile).unwrap();
            let out = Command::new(common::BIN)
                .args(["-validate", "-conf", "Corefile"])
                .current_dir(dir.path())
                .output()
                .unwrap();
            if !out.status.success() {
                failures.push(format!(
                    "{}:{line}: {}\n{corefile}",
                    page.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} examples fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 20, "only {checked} examples found");
}

/// docs/plugins/README.md links every plugin page, and every link reaches one.
#[test]
fn the_plugin_index_links_every_page() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let index_dir = root.join("docs/plugins");
    let index = std::fs::read_to_string(index_dir.join("README.md")).unwrap();
    let linked: Vec<_> = index
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|target| target.ends_with(".md"))
        .map(|target| {
            (index_dir.join(target).canonicalize())
                .unwrap_or_else(|e| panic!("docs/plugins/README.md links {target}: {e}"))
        })
        .collect();
    let pages: Vec<_> = plugin_pages(root)
        .into_iter()
        .map(|p| p.canonicalize().unwrap())
        .collect();
    for page in &pages {
        assert!(
            linked.contains(page),
            "{} is not in the index",
            page.display()
        );
    }
    assert_eq!(linked.len(), pages.len(), "the index links {linked:?}");
}
