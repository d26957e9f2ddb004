//! Signals under each plugin: for every plugin `ferrodns -plugins` lists,
//! a server whose Corefile uses it gets SIGUSR1 (must reload and stay),
//! SIGHUP (must stay, as CoreDNS ignores it), then SIGTERM (must shut
//! down gracefully: the log line, and exit status 0). Plugins start
//! threads of their own (file and hosts reloaders, forward's health
//! checks, the HTTP endpoints); a thread that does not block the signals
//! takes them with their default action, which kills the process.

use super::proc::{self, Server};
use super::upstream::Upstream;
use super::Ctx;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

const ZONE: &str = "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns.example.org. hostmaster.example.org. 1 7200 3600 1209600 300\n  IN NS ns.example.org.\nns IN A 192.0.2.53\nwww IN A 192.0.2.80\n";

/// The lines that put `plugin` in a server block (with the files they
/// name), or None for a plugin this probe does not know yet. `http` is a
/// free port for the plugins that serve HTTP: their defaults (:8080,
/// :8181, :9153) are shared by everything on the machine.
fn setup(
    plugin: &str,
    http: u16,
    upstream: SocketAddr,
) -> Option<(String, Vec<(&'static str, String)>)> {
    let mut files = Vec::new();
    let lines = match plugin {
        "root" => "root .".into(),
        "metadata" | "debug" | "errors" | "log" | "local" | "any" | "loadbalance" | "minimal"
        | "loop" => plugin.into(),
        "cancel" => "cancel 2s".into(),
        "timeouts" => "timeouts {\n        idle 5s\n    }".into(),
        "multisocket" => "multisocket 2".into(),
        "reload" => "reload 2s 1s".into(),
        "nsid" => "nsid torture".into(),
        "bufsize" => "bufsize 1232".into(),
        "bind" => "bind 127.0.0.1".into(),
        "ready" | "health" | "prometheus" => format!("{plugin} 127.0.0.1:{http}"),
        "chaos" => "chaos torture".into(),
        "rewrite" => "rewrite name exact a.torture.test. b.torture.test.".into(),
        "acl" => "acl {\n        allow net 127.0.0.0/8\n    }".into(),
        "cache" => "cache 30".into(),
        // An API server that is not there: the block serves after
        // startup_timeout (its zone SERVFAIL; the probe's name goes on).
        "kubernetes" => {
            "kubernetes cluster.local {\n        endpoint http://127.0.0.1:9\n        startup_timeout 1s\n    }"
                .into()
        }
        // Needs kubernetes in the block: the same API server that is not
        // there.
        "k8s_external" => {
            "k8s_external example.org\n    kubernetes cluster.local {\n        endpoint http://127.0.0.1:9\n        startup_timeout 1s\n    }"
                .into()
        }
        // An interface that is not there: the program is not attached
        // anywhere on the machine (the block is served from userspace).
        "xdp" => "cache 30\n    xdp fdtorture0".into(),
        "header" => "header {\n        response set ra\n    }".into(),
        "template" => {
            "template IN A example.org {\n        answer \"{{ .Name }} 60 IN A 192.0.2.1\"\n    }"
                .into()
        }
        "hosts" => {
            files.push(("hosts.txt", "192.0.2.10 gateway.torture.test\n".to_string()));
            "hosts hosts.txt {\n        fallthrough\n    }".into()
        }
        "file" => {
            files.push(("db.example.org", ZONE.to_string()));
            "file db.example.org example.org".into()
        }
        // The probe's name is under the first search domain: its
        // query walks the path (whoami answers the first step).
        "autopath" => {
            files.push(("resolv.conf", "search torture.test example.org\n".to_string()));
            "autopath resolv.conf".into()
        }
        "shed" => "shed".into(),
        // A collector that is not there: the plugin keeps dialing, the
        // server answers and reloads all the same.
        "dnstap" => "dnstap unix:///nonexistent/ferrodns-torture.sock full".into(),
        "dns64" => "dns64 64:ff9b::/96".into(),
        "view" => {
            "view torture {\n        expr type() in ['A', 'AAAA', 'TXT', 'SOA', 'NS']\n    }".into()
        }
        "auto" => {
            files.push(("db.example.org", ZONE.to_string()));
            "auto example.org {\n        directory .\n        reload 1s\n    }".into()
        }
        "forward" => format!("forward . {upstream}"),
        // Answers every query (no drops: the probe must get its answer).
        "erratic" => "erratic {\n        drop 0\n    }".into(),
        "on" => "on startup true\n    on shutdown true".into(),
        // The block's last plugin in every case.
        "whoami" => String::new(),
        _ => return None,
    };
    Some((lines, files))
}

/// The plugins the binary says it has.
fn plugins(bin: &std::path::Path) -> Result<Vec<String>> {
    let out = Command::new(bin)
        .arg("-plugins")
        .output()
        .context("ferrodns -plugins")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("dns."))
        .map(String::from)
        .collect())
}

/// One plugin's run: (figure, pass).
fn one(ctx: &Ctx, plugin: &str, upstream: SocketAddr) -> Result<(String, bool)> {
    let Some((lines, files)) = setup(plugin, proc::free_port(), upstream) else {
        return Ok((
            "no Corefile for this plugin in xtask/src/torture/signals.rs".into(),
            false,
        ));
    };
    let corefile = format!(".:{{PORT}} {{\n    {lines}\n    whoami\n}}\n");
    let mut srv = Server::start(
        &ctx.bin,
        &ctx.dir(&format!("signals-{plugin}")),
        &corefile,
        &files,
    )?;
    let mut steps = Vec::new();
    let gone = |srv: &mut Server, after: &str| -> Option<String> {
        // A process the signal killed may not be reaped yet when the
        // query goes unanswered: asked first, then given a moment.
        let answered = proc::answers(srv.addr());
        match srv.wait_exit(Duration::from_millis(if answered { 0 } else { 500 })) {
            Some(st) => Some(format!(
                "{} after {after}: {}",
                proc::describe(st),
                srv.log_tail()
            )),
            None if !answered => Some(format!("no answer after {after}")),
            None => None,
        }
    };
    let t = Instant::now();
    srv.signal(libc::SIGUSR1);
    let reloaded = srv.wait_log("Reloading complete", 1, Duration::from_secs(5));
    if let Some(why) = gone(&mut srv, "SIGUSR1") {
        return Ok((why, false));
    }
    if !reloaded {
        return Ok((
            "no `Reloading complete` within 5 s of SIGUSR1".into(),
            false,
        ));
    }
    steps.push(format!(
        "USR1 reloaded in {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    ));
    srv.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    if let Some(why) = gone(&mut srv, "SIGHUP") {
        return Ok((why, false));
    }
    steps.push("HUP ignored".into());
    let t = Instant::now();
    srv.signal(libc::SIGTERM);
    let Some(st) = srv.wait_exit(Duration::from_secs(10)) else {
        return Ok(("still running 10 s after SIGTERM".into(), false));
    };
    steps.push(format!(
        "TERM {} in {:.0} ms",
        proc::describe(st),
        t.elapsed().as_secs_f64() * 1000.0
    ));
    let logged = srv.log().contains("[INFO] SIGTERM: Shutting down");
    if !logged {
        steps.push("no `[INFO] SIGTERM: Shutting down` line".into());
    }
    Ok((steps.join(", "), st.code() == Some(0) && logged))
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let up = Upstream::start(300)?;
    let names = plugins(&ctx.bin)?;
    anyhow::ensure!(!names.is_empty(), "ferrodns -plugins listed no plugin");
    // Each server mostly waits for a signal's effect: three at a time.
    let results: Vec<_> = names
        .chunks(3)
        .flat_map(|chunk| {
            std::thread::scope(|s| {
                let hs: Vec<_> = chunk
                    .iter()
                    .map(|p| s.spawn(|| one(ctx, p, up.addr)))
                    .collect();
                hs.into_iter().map(|h| h.join()).collect::<Vec<_>>()
            })
        })
        .collect();
    for (plugin, r) in names.iter().zip(results) {
        let name = format!("signals/{plugin}");
        match r {
            Ok(Ok((figure, pass))) => ctx.check(&name, figure, pass),
            Ok(Err(e)) => ctx.check(&name, format!("probe error: {e:#}"), false),
            Err(_) => ctx.check(&name, "probe thread panicked", false),
        }
    }
    Ok(())
}
