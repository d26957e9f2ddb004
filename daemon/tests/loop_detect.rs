//! loop with the real binary: a server that forwards to itself sees its
//! own HINFO probe come back and exits with CoreDNS's message.

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn forwarding_to_itself_is_detected_and_ends_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("Corefile");
    std::fs::write(
        &conf,
        format!(".:{port} {{\n    loop\n    forward . 127.0.0.1:{port}\n}}\n"),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .arg("-conf")
        .arg(&conf)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the loop was not detected within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status.code(), Some(1), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("[FATAL] plugin/loop: Loop (127.0.0.1:"))
        .unwrap_or_else(|| panic!("no loop message in:\n{out}"));
    assert!(
        line.contains(&format!(
            " -> :{port}) detected for zone \".\", see https://coredns.io/plugins/loop#troubleshooting. Query: \"HINFO "
        )),
        "{line}"
    );
}
