//! A case: a folder under tests/conformance/ with a `Corefile`, its data
//! files, an optional `upstream/` folder (a Corefile and files the harness
//! serves with CoreDNS as the case's upstream) and a `queries` file.
//!
//! `queries` holds one query a line, `NAME TYPE [CLASS] [flags]`, and
//! `# key: value` header lines:
//!
//! - `# order: any`: records within a section may come in any order (loadbalance).
//! - `# known: <docs/compat.md anchor> <reason>`: an intended difference.
//! - `# env: NAME=value`: set for both servers (Corefile `{$NAME}`).
//! - `# start: fails`: both servers must refuse the Corefile;
//!   `# start: fails same-error`: with the same last line of output (the
//!   error), ferrodns's `FILE:LINE: ` before it and each server's own
//!   folder in it left out.
//! - `# ready: udp`: wait for UDP answers, not a TCP connect (servers
//!   that serve no TCP, or whose first block is not on `{PORT}`).
//!
//! Flags: `+do`, `+cd`, `+ad`, `+norec`, `+edns` (OPT, size 1232),
//! `bufsize=N`, `ednsver=N`, `nsid`, `opt=CODE:HEX`, `opcode=N`,
//! `+tcp-only`, `+udp-only`, `port2` (send to `{PORT2}`), `+v6` (from and
//! to `::1` instead of `127.0.0.1`: an IPv6 client), `+ttl-any`
//! (TTLs not compared: the two servers' caches were filled at different
//! moments), `tcp-repeat=N` (over TCP, N times on one connection; the
//! last reply, or how the connection ended, is compared). A line `sleep
//! SECONDS` pauses between queries.
//!
//! Placeholders replaced in every file of the case: `{PORT}`, `{PORT2}`
//! (the server's own ports), `{UPSTREAM}` (127.0.0.1:port of the upstream),
//! `{UPSTREAM_PORT}`, `{DOWN}` (127.0.0.1:port where nothing listens),
//! `{KUBECONFIG}` (a kubeconfig for a real kube-apiserver on loopback).
//!
//! Kubernetes: a case with a `k8s.json`, or whose Corefile names
//! `{KUBECONFIG}`, gets the run's API server (started once per run from
//! `cargo xtask k8s build`'s binaries; both servers watch the same one).
//! `k8s.json` is a JSON array of requests made in order before the servers
//! start: `{"path": "/api/v1/namespaces", "body": {...}}` is a POST;
//! `"method": "PATCH"` a merge patch (a Pod's IP: its `/status`);
//! `"exists_ok": true` takes a 409 (an object already there: a CRD other
//! cases make too) as done, `"retry": true` tries again for up to 30 s (a
//! custom resource, until its new CRD is served). Cases
//! share the API server: each keeps to namespaces of its own. The SOA
//! serial there is the time of each server's last sync, so such cases say
//! `# soa-serial: any` to leave it out of the comparison.
//! A key without a port gets a free port of each server's own (`-dns.port`),
//! never 53.

use super::wire::{class_code, type_code, Query};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub enum Step {
    Query(Box<Line>),
    Sleep(f64),
}

#[derive(Clone, Debug)]
pub struct Line {
    pub text: String,
    pub query: Query,
    pub udp: bool,
    pub tcp: bool,
    pub port2: bool,
    /// `+v6`: sent from and to `::1`.
    pub v6: bool,
    pub ttl_any: bool,
    /// `tcp-repeat=N`: over TCP, the query N times on one connection, one
    /// after the other's reply; the last reply (or how the connection
    /// ended before it) is compared.
    pub tcp_repeat: usize,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub order_any: bool,
    pub known: Option<String>,
    pub env: Vec<(String, String)>,
    pub start_fails: bool,
    /// `start: fails same-error`.
    pub same_error: bool,
    pub ready_udp: bool,
    pub steps: Vec<Step>,
    pub has_upstream: bool,
    /// Needs the run's kube-apiserver (see the top of this file).
    pub kubernetes: bool,
    /// `# soa-serial: any`: SOA serials are not compared.
    pub serial_any: bool,
}

pub fn load(dir: &Path) -> Result<Case> {
    let name = dir
        .file_name()
        .context("case folder name")?
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(dir.join("queries"))
        .with_context(|| format!("{}/queries", dir.display()))?;
    if !dir.join("Corefile").is_file() {
        bail!("{name}: no Corefile");
    }
    let mut case = Case {
        name,
        dir: dir.to_path_buf(),
        order_any: false,
        known: None,
        env: vec![],
        start_fails: false,
        same_error: false,
        ready_udp: false,
        steps: vec![],
        has_upstream: dir.join("upstream").join("Corefile").is_file(),
        kubernetes: dir.join("k8s.json").is_file()
            || std::fs::read_to_string(dir.join("Corefile"))?.contains("{KUBECONFIG}"),
        serial_any: false,
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = || format!("{}/queries:{}", dir.display(), i + 1);
        if let Some(c) = line.strip_prefix('#') {
            if let Some((k, v)) = c.split_once(':') {
                let v = v.trim();
                match k.trim() {
                    "order" if v == "any" => case.order_any = true,
                    "known" => case.known = Some(v.to_string()),
                    "env" => {
                        let (n, val) = v.split_once('=').with_context(at)?;
                        case.env.push((n.into(), val.into()));
                    }
                    "start" if v == "fails" => case.start_fails = true,
                    "start" if v == "fails same-error" => {
                        case.start_fails = true;
                        case.same_error = true;
                    }
                    "ready" if v == "udp" => case.ready_udp = true,
                    "soa-serial" if v == "any" => case.serial_any = true,
                    _ => {}
                }
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] == "sleep" {
            let s = words.get(1).and_then(|s| s.parse().ok()).with_context(at)?;
            case.steps.push(Step::Sleep(s));
            continue;
        }
        let l = parse_line(line).with_context(at)?;
        case.steps.push(Step::Query(Box::new(l)));
    }
    if case.known.as_deref() == Some("") {
        bail!("{}: `known:` needs a reason", case.name);
    }
    Ok(case)
}

fn parse_line(line: &str) -> Result<Line> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.len() < 2 {
        bail!("want NAME TYPE [CLASS] [flags]: {line:?}");
    }
    let mut q = Query {
        name: words[0].to_string(),
        qtype: type_code(words[1]).with_context(|| format!("type {:?}", words[1]))?,
        qclass: 1,
        rd: true,
        ..Default::default()
    };
    let mut l = Line {
        text: line.to_string(),
        query: Query::default(),
        udp: true,
        tcp: true,
        port2: false,
        v6: false,
        ttl_any: false,
        tcp_repeat: 1,
    };
    let mut rest = &words[2..];
    if let Some(c) = rest.first().and_then(|w| class_code(w)) {
        q.qclass = c;
        rest = &rest[1..];
    }
    let mut edns = None::<(u16, u8, bool)>;
    let want_edns = |e: &mut Option<(u16, u8, bool)>| {
        e.get_or_insert((1232, 0, false));
    };
    for w in rest {
        match *w {
            "+do" => {
                want_edns(&mut edns);
                edns.as_mut().unwrap().2 = true;
            }
            "+cd" => q.cd = true,
            "+ad" => q.ad = true,
            "+norec" => q.rd = false,
            "+edns" => {
                want_edns(&mut edns);
            }
            "nsid" => {
                want_edns(&mut edns);
                q.nsid = true;
            }
            "+tcp-only" => l.udp = false,
            "+udp-only" => l.tcp = false,
            "port2" => l.port2 = true,
            "+v6" => l.v6 = true,
            "+ttl-any" => l.ttl_any = true,
            w => {
                let (k, v) = w.split_once('=').with_context(|| format!("flag {w:?}"))?;
                match k {
                    "bufsize" => {
                        want_edns(&mut edns);
                        edns.as_mut().unwrap().0 = v.parse()?;
                    }
                    "ednsver" => {
                        want_edns(&mut edns);
                        edns.as_mut().unwrap().1 = v.parse()?;
                    }
                    "opcode" => q.opcode = v.parse()?,
                    "tcp-repeat" => {
                        l.tcp_repeat = v.parse()?;
                        if l.tcp_repeat == 0 {
                            bail!("tcp-repeat wants at least 1: {w:?}");
                        }
                    }
                    "opt" => {
                        want_edns(&mut edns);
                        let (code, hexdata) = v.split_once(':').unwrap_or((v, ""));
                        let data = (0..hexdata.len() / 2)
                            .map(|i| u8::from_str_radix(&hexdata[2 * i..2 * i + 2], 16))
                            .collect::<Result<Vec<u8>, _>>()?;
                        q.options.push((code.parse()?, data));
                    }
                    _ => bail!("unknown flag {w:?}"),
                }
            }
        }
    }
    q.edns = edns;
    l.query = q;
    Ok(l)
}

/// Every case folder under `root`, sorted by name.
pub fn discover(root: &Path) -> Result<Vec<Case>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .with_context(|| format!("read {}", root.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("queries").is_file())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| load(d)).collect()
}
