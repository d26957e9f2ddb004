//! Every plugin's setup on fuzzed arguments: a server block holding one
//! plugin whose arguments and sub-block are the input, through
//! `ferrodns::server::load` (Corefile parse, every plugin's setup in
//! execution order, routing, the compiled chain, the fast-path plans).
//! Errors are fine; a panic is not.
//!
//! The first input byte picks the plugin (one of the registry's, `proxy`
//! included), the second the block's key; the rest, UTF-8, follows the
//! plugin's name:
//!
//! ```text
//! KEY {
//!     root TMPDIR
//!     PLUGIN REST
//! }
//! ```
//!
//! TMPDIR is a directory made once per process holding a zone file
//! (`db.example.org`), a hosts file (`hosts`) and a weight file
//! (`weights`), so relative names in `file`, `hosts`, `loadbalance` and
//! forward's `tls` find something; `root` itself is fuzzed without that
//! line. The Corefile is named `TMPDIR/Corefile`, so relative `import`s look
//! there too.
//!
//! What is kept out, and why:
//! - Files outside TMPDIR: an input whose `import` could take a path with a
//!   `/` is skipped (as in `corefile_parse`), and so is one where a
//!   file-reading plugin (`file`, `hosts`, `loadbalance`, `root`, `forward`,
//!   `proxy`) has a token with a `/` or `..` (but for forward's `scheme://`
//!   prefixes and FROM), so no setup reads /dev/zero, /dev/stdin or /proc.
//! - The network: forward resolves a **TO** that is a host name at setup
//!   (the system resolver, or UDP queries to its `resolver` addresses). An
//!   input where a **TO** of forward or proxy is not an IP address (with an
//!   optional port, zone and scheme) is skipped. As a guard, the process
//!   runs under a seccomp filter that makes `socket(2)` raise SIGSYS, which
//!   aborts: anything in setup that opens a socket (to dial, to bind a
//!   listener) is reported as a crash. Netlink and unix sockets are let
//!   through: `bind IFACE` lists the interfaces' addresses at setup
//!   (getifaddrs over netlink, if_nametoindex's ioctl on an AF_UNIX socket). `load` binds nothing: the HTTP
//!   endpoints of health, ready and prometheus are bound when the service
//!   starts them, the loop plugin's probe runs from an `on_start` hook that
//!   `load` does not call, and forward dials only when it exchanges.
//! - Threads: `file` (reload), `hosts` (reload) and `loadbalance weighted`
//!   (reload) start one reload thread each at setup; each stops when its
//!   plugin is dropped, that is when the loaded config is dropped at the end
//!   of the run, so they are left in.

#![no_main]

use ferrodns::corefile::{self, Dispenser};
use ferrodns::plugin::registry;
use ferrodns::plugins::ORDER;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

const KEYS: &[&str] = &[
    ".",
    "example.org",
    "example.org:1053",
    "dns://.:53",
    "10.0.0.0/24",
    "[::1]:53 example.net",
    "Example.ORG. sub.example.org",
    "0.0.10.in-addr.arpa",
];

const ZONE: &str = "$ORIGIN example.org.\n$TTL 3600\n\
@ IN SOA ns1.example.org. hostmaster.example.org. 2026112501 7200 3600 1209600 3600\n\
  IN NS ns1.example.org.\n  IN MX 10 mail.example.org.\n\
ns1 IN A 192.0.2.1\nmail IN A 192.0.2.25\nwww IN A 192.0.2.80\n  IN AAAA 2001:db8::80\n\
web IN CNAME www.example.org.\n*.apps IN A 192.0.2.90\n";

const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n\
192.0.2.80 www.example.org www\n# comment\n2001:db8::80 www.example.org\n";

const WEIGHTS: &str = "www.example.org\n192.0.2.80 3\n2001:db8::80 1\n# comment\n\
mail.example.org\n192.0.2.25 255\n";

struct Env {
    dir: String,
    corefile: String,
}

/// The temporary directory with its files, and the seccomp guard: done
/// once per process.
fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir: PathBuf = std::env::temp_dir().join(format!(
            "ferrodns-fuzz-setup-{}-{nanos:08x}",
            std::process::id()
        ));
        std::fs::create_dir(&dir).expect("create the fuzz temp dir");
        std::fs::write(dir.join("db.example.org"), ZONE).expect("write the zone");
        std::fs::write(dir.join("hosts"), HOSTS).expect("write the hosts file");
        std::fs::write(dir.join("weights"), WEIGHTS).expect("write the weight file");
        no_sockets();
        let dir = dir.to_str().expect("temp dir path is UTF-8").to_string();
        Env {
            corefile: format!("{dir}/Corefile"),
            dir,
        }
    })
}

extern "C" fn on_sigsys(_: libc::c_int) {
    const MSG: &[u8] = b"plugin_setup: a setup called socket(2)\n";
    // SAFETY: write(2) and abort(3) are async-signal-safe.
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
        libc::abort();
    }
}

/// Every thread of the process (TSYNC), and those it starts, gets SIGSYS
/// from `socket(2)` for any domain but netlink and unix (IP sockets, raw
/// and packet sockets); SIGSYS aborts, which libFuzzer reports as a crash.
fn no_sockets() {
    // struct sock_filter: code, jt, jf, k.
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_TRAP: u32 = 0x0003_0000;
    let f = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let prog = [
        // arch (offset 4): not x86-64, allow (the target is built there).
        f(LD_W_ABS, 0, 0, 4),
        f(JEQ_K, 0, 6, AUDIT_ARCH_X86_64),
        // nr (offset 0): not socket, allow.
        f(LD_W_ABS, 0, 0, 0),
        f(JEQ_K, 0, 4, libc::SYS_socket as u32),
        // args[0], the domain (offset 16): netlink or unix, allow. `bind
        // IFACE` lists the interfaces (getifaddrs asks the kernel over
        // netlink; if_nametoindex makes an AF_UNIX socket for an ioctl).
        f(LD_W_ABS, 0, 0, 16),
        f(JEQ_K, 2, 0, libc::AF_NETLINK as u32),
        f(JEQ_K, 1, 0, libc::AF_UNIX as u32),
        f(RET_K, 0, 0, RET_TRAP),
        f(RET_K, 0, 0, RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: plain system calls with valid pointers; the handler only
    // writes and aborts.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        assert_eq!(
            libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()),
            0,
            "sigaction"
        );
        assert_eq!(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            0,
            "no_new_privs"
        );
        let r = libc::syscall(
            libc::SYS_seccomp,
            1, // SECCOMP_SET_MODE_FILTER
            1, // SECCOMP_FILTER_FLAG_TSYNC
            &fprog as *const libc::sock_fprog,
        );
        assert_eq!(r, 0, "seccomp: {}", std::io::Error::last_os_error());
    }
}

/// `PLUGIN_SETUP_VERBOSE` set: each load's outcome goes to stderr (to see
/// what the seeds reach).
fn verbose() -> bool {
    static V: OnceLock<bool> = OnceLock::new();
    *V.get_or_init(|| std::env::var_os("PLUGIN_SETUP_VERBOSE").is_some())
}

/// The plugins the registry sets up, in its order (`proxy` included).
fn plugins() -> &'static [&'static str] {
    static P: OnceLock<Vec<&'static str>> = OnceLock::new();
    P.get_or_init(|| {
        ORDER
            .iter()
            .filter(|e| e.setup.is_some())
            .map(|e| e.name)
            .collect()
    })
}

/// Whether the fuzzed text could make an `import` take a path outside the
/// temp dir: one with a `/`, or an environment reference (expanded with
/// the process's environment here). A token reads `import` only when the
/// word is written out, or, with references, when its letters appear in
/// order (see `corefile_parse`).
fn may_escape(args: &str) -> bool {
    let refs = args.contains("{$") || args.contains("{%");
    let subsequence = |needle: &str| {
        let mut it = args.bytes();
        needle.bytes().all(|n| it.any(|h| h == n))
    };
    let import = args.contains("import") || (refs && subsequence("import"));
    import && (args.contains('/') || refs)
}

/// Whether forward reads a **TO** without resolving a host name: as its
/// `host_port_or_file` reads one, the scheme it knows stripped, an IP
/// address (an optional `%zone`, brackets, port); no `/` left. Anything
/// else is tried as a resolv.conf file and then resolved as a host name
/// (an unknown scheme too: `tms://9.9.9.9` is host `tms`, port
/// `//9.9.9.9`).
fn static_to(tok: &str) -> bool {
    const SCHEMES: [&str; 7] = ["tls", "dns", "quic", "grpc", "https3", "https", "unix"];
    let host = SCHEMES
        .iter()
        .find_map(|s| tok.strip_prefix(s).and_then(|r| r.strip_prefix("://")))
        .unwrap_or(tok);
    if host.contains('/') || host.contains("..") {
        return false;
    }
    let ip = |s: &str| {
        s.rsplit_once('%')
            .map_or(s, |(a, _)| a)
            .parse::<std::net::IpAddr>()
            .is_ok()
    };
    // forward's split_host_port.
    let split = match host.strip_prefix('[') {
        Some(rest) => rest
            .split_once(']')
            .and_then(|(h, after)| after.strip_prefix(':').map(|_| h)),
        None => host
            .rsplit_once(':')
            .filter(|(h, _)| !h.contains(':'))
            .map(|(h, _)| h),
    };
    match split {
        Some(h) => ip(h),
        None => ip(host.trim_matches(|c| c == '[' || c == ']')),
    }
}

/// Whether setting up `blocks` could read outside the temp dir or go to
/// the network (see the module comment).
fn unsafe_setup(blocks: &[corefile::ServerBlock], own_root: &str) -> bool {
    let pathish = |t: &str| t.contains('/') || t.contains("..");
    for b in blocks {
        for d in &b.directives {
            let toks: Vec<&str> = d.tokens.iter().map(|t| t.text.as_str()).collect();
            match d.name() {
                "root" if toks.len() == 2 && toks[1] == own_root => {}
                "file" | "hosts" | "loadbalance" | "root" => {
                    if toks[1..].iter().any(|t| pathish(t)) {
                        return true;
                    }
                }
                "forward" | "proxy" => {
                    let mut disp = Dispenser::new(d);
                    disp.next();
                    let line = disp.remaining_args();
                    // FROM, then TO...
                    if line.iter().skip(1).any(|t| !static_to(t)) {
                        return true;
                    }
                    // Block tokens (tls files, ...): after the line.
                    if toks
                        .get(1 + line.len()..)
                        .unwrap_or(&[])
                        .iter()
                        .any(|t| pathish(t))
                    {
                        return true;
                    }
                }
                _ => {}
            }
        }
    }
    false
}

fuzz_target!(|input: &[u8]| {
    let [p, k, rest @ ..] = input else {
        return;
    };
    let Ok(args) = std::str::from_utf8(rest) else {
        return;
    };
    let env = env();
    let plugins = plugins();
    let plugin = plugins[usize::from(*p) % plugins.len()];
    let key = KEYS[usize::from(*k) % KEYS.len()];
    let own_root = env.dir.as_str();
    let src = if plugin == "root" {
        format!("{key} {{\n    {plugin} {args}\n}}\n")
    } else {
        format!("{key} {{\n    root {own_root}\n    {plugin} {args}\n}}\n")
    };
    if may_escape(args) {
        return;
    }
    let getenv = |k: &str| std::env::var(k).ok();
    let Ok(blocks) = corefile::parse(&src, &env.corefile, &getenv, &|name| {
        registry::is_directive(ORDER, name)
    }) else {
        return;
    };
    if unsafe_setup(&blocks, own_root) {
        return;
    }
    let loaded = ferrodns::server::load(&src, &env.corefile, 53, ORDER);
    if verbose() {
        match &loaded {
            Ok(_) => eprintln!("plugin_setup: {plugin}: loaded"),
            Err(e) => eprintln!("plugin_setup: {plugin}: {e}"),
        }
    }
    let Ok(config) = loaded else {
        return;
    };
    // What load builds hangs together.
    for l in &config.listeners {
        assert!(!l.zones.is_empty(), "a listener without zones");
        for r in l.zones.values() {
            assert!(!r.blocks.is_empty(), "a route to no block");
            assert!(
                r.blocks.iter().all(|b| *b < config.blocks.len()),
                "a route to a block that is not there"
            );
        }
    }
    assert_eq!(config.digest.len(), 128, "digest is SHA-512 hex");
    drop(config);
});
