//! node-cache's node side, for real, in a network namespace of its own:
//! with node-cache's flags ferrodns writes the Corefile from its template,
//! makes the dummy interface with the link-local address, installs the
//! NOTRACK and accept rules (nftables), answers on the link-local address,
//! puts back a rule that was removed, and leaves nothing behind after
//! SIGTERM, nor after SIGKILL followed by a new start and stop. Needs root,
//! `ip` and `nft` (and `kdig` to ask): says SKIPPED without.

mod common;

use common::BIN;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LOCAL: &str = "169.254.20.10";

/// node-cache's template, reduced to what a namespace without a cluster
/// can serve: the placeholders it fills, and whoami to answer.
const BASE: &str = "cluster.local:53 {
    errors
    bind __PILLAR__LOCAL__DNS__ __PILLAR__DNS__SERVER__
    # cluster dns: __PILLAR__CLUSTER__DNS__
    whoami
    health __PILLAR__LOCAL__DNS__:8080
}
.:53 {
    errors
    bind __PILLAR__LOCAL__DNS__ __PILLAR__DNS__SERVER__
    # upstreams: __PILLAR__UPSTREAM__SERVERS__
    whoami
}
";

fn sh(cmd: &str) -> (bool, String) {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn skip_reason() -> Option<String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Some("needs root".into());
    }
    for tool in ["ip", "nft", "kdig"] {
        if !sh(&format!("command -v {tool}")).0 {
            return Some(format!("no {tool} on this machine"));
        }
    }
    None
}

/// A network namespace, removed when dropped.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("fdnl-{tag}-{}", std::process::id());
        let _ = sh(&format!("ip netns del {name}"));
        let (ok, out) = sh(&format!(
            "ip netns add {name} && ip -n {name} link set lo up"
        ));
        assert!(ok, "{out}");
        Netns(name)
    }

    fn run(&self, cmd: &str) -> (bool, String) {
        sh(&format!("ip netns exec {} {cmd}", self.0))
    }

    fn has_interface(&self) -> bool {
        self.run("ip addr show dev nodelocaldns").1.contains(LOCAL)
    }

    /// The rules' count in the table (0: no table).
    fn rules(&self) -> usize {
        let (ok, out) = self.run("nft list table ip ferrodns_nodelocal");
        if ok {
            out.matches("comment \"NodeLocal DNS Cache").count()
        } else {
            0
        }
    }

    fn start(&self, dir: &Path) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.0, BIN])
            .args(["-localip", LOCAL, "-syncinterval", "1"])
            .arg("-conf")
            .arg(dir.join("Corefile"))
            .arg("-basecorefile")
            .arg(dir.join("Corefile.base"))
            .env("KUBE_DNS_SERVICE_HOST", "10.96.0.10")
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn wait(&self, what: &str, f: impl Fn(&Netns) -> bool) {
        let end = Instant::now() + Duration::from_secs(10);
        while !f(self) {
            assert!(Instant::now() < end, "{what}: not within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn answers(&self) -> bool {
        let (ok, out) = self.run(&format!(
            "kdig +timeout=1 +retry=0 @{LOCAL} whoami.cluster.local A"
        ));
        ok && out.contains("status: NOERROR")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&format!("ip netns pids {} | xargs -r kill -9", self.0));
        let _ = sh(&format!("ip netns del {}", self.0));
    }
}

fn stop(mut c: Child, signal: i32) -> Option<i32> {
    // SAFETY: kill with a child's pid.
    unsafe { libc::kill(c.id() as i32, signal) };
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > end {
            let _ = c.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn node_local_mode_sets_up_serves_and_leaves_nothing_behind() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIPPED node_local_mode_sets_up_serves_and_leaves_nothing_behind: {why}");
        return;
    }
    let ns = Netns::new("a");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Corefile.base"), BASE).unwrap();
    let c = ns.start(dir.path());
    ns.wait("interface", Netns::has_interface);
    ns.wait("answers on the link-local address", Netns::answers);
    ns.wait("rules", |n| n.rules() == 12);
    let corefile = std::fs::read_to_string(dir.path().join("Corefile")).unwrap();
    assert!(corefile.contains(&format!("bind {LOCAL} \n")), "{corefile}");
    assert!(corefile.contains("# cluster dns: 10.96.0.10"), "{corefile}");
    assert!(
        corefile.contains("# upstreams: /etc/resolv.conf"),
        "{corefile}"
    );
    // A rule someone removed is back within the sync interval.
    let (ok, out) = ns.run("nft flush chain ip ferrodns_nodelocal raw_prerouting");
    assert!(ok, "{out}");
    assert_eq!(ns.rules(), 10);
    ns.wait("rules put back", |n| n.rules() == 12);
    assert_eq!(stop(c, libc::SIGTERM), Some(0));
    assert!(!ns.has_interface(), "interface left after SIGTERM");
    assert_eq!(ns.rules(), 0, "rules left after SIGTERM");

    // Killed: everything stays; the next start cleans up and sets up
    // again, and its stop leaves nothing.
    let c = ns.start(dir.path());
    ns.wait("rules", |n| n.rules() == 12);
    assert_eq!(stop(c, libc::SIGKILL), None);
    assert!(ns.has_interface() && ns.rules() == 12);
    let c = ns.start(dir.path());
    ns.wait("answers again", Netns::answers);
    ns.wait("rules once", |n| n.rules() == 12);
    assert_eq!(stop(c, libc::SIGTERM), Some(0));
    assert!(
        !ns.has_interface(),
        "interface left after a crash and a restart"
    );
    assert_eq!(ns.rules(), 0, "rules left after a crash and a restart");
}

#[test]
fn bad_flags_stop_start_up_with_node_caches_words() {
    let out = Command::new(BIN)
        .args([
            "-localip",
            "169.254.20.10,fd00::1",
            "-setupinterface=false",
            "-setupiptables=false",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        text.contains("unexpected IP Family for localIP - \"fd00::1\", want IPv6=false"),
        "{text}"
    );
    let out = Command::new(BIN)
        .args(["-localip", "nope", "-setupinterface=false"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid localip specified - \"nope\""));
}
