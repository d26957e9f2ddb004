//! Every ```corefile example in the README and the plugin pages is a
//! Corefile the real binary accepts (`-validate`).

mod common;

use std::path::Path;
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

#[test]
fn every_corefile_example_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs/plugins"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    docs.sort();
    pages.extend(
        docs.into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "md")),
    );
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
