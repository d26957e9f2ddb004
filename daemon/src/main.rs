//! The ferrodns binary: flags, Corefile loading, start-up and signals.

use anyhow::Context;
use ferrodns::cli::{self, CliError, Options};
use ferrodns::plugin::registry;
use ferrodns::runtime;
use ferrodns::server::{self, Dispatcher};
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn version() -> String {
    format!(
        "ferrodns-{}\n{}/{}, rustc, {}\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        option_env!("FERRODNS_COMMIT").unwrap_or("")
    )
}

fn plugins() -> String {
    let mut s = String::from(
        "Server types:\n  dns\n\nCaddyfile loaders:\n  flag\n  default\n\nOther plugins:\n",
    );
    for name in registry::available() {
        s.push_str("  dns.");
        s.push_str(name);
        s.push('\n');
    }
    s
}

/// The Corefile text and the name errors use for it.
fn corefile(o: &Options) -> anyhow::Result<(String, String)> {
    match o.conf.as_deref() {
        Some("stdin") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("read Corefile from stdin")?;
            Ok((s, "stdin".into()))
        }
        Some(path) => {
            let s = std::fs::read_to_string(path).with_context(|| format!("open {path}"))?;
            Ok((s, path.into()))
        }
        None => match std::fs::read_to_string("Corefile") {
            Ok(s) => Ok((s, "Corefile".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // CoreDNS's built-in default when there is no Corefile.
                Ok((
                    format!(".:{} {{\n    whoami\n    log\n}}\n", o.port),
                    "default".into(),
                ))
            }
            Err(e) => Err(e).context("open Corefile"),
        },
    }
}

/// Blocks the signals the main thread waits for, before any other thread
/// starts, so that every thread inherits the mask.
fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t we own; the signal numbers are valid.
    unsafe {
        libc::sigemptyset(&mut set);
        for s in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGHUP,
        ] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    set
}

fn wait_signal(set: &libc::sigset_t) -> i32 {
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is an initialised signal set and `sig` a valid out pointer.
    unsafe { libc::sigwait(set, &mut sig) };
    sig
}

fn run(o: Options) -> anyhow::Result<()> {
    let (src, file) = corefile(&o)?;
    let config = server::load(&src, &file, o.port)?;
    if o.validate {
        print!("{}", config.banner());
        return Ok(());
    }
    ferrodns::log::set_debug(config.debug);
    let signals = block_signals();
    let config = Arc::new(config);
    let addrs: Vec<_> = config.listeners.iter().map(|l| l.addr).collect();
    let shared = Arc::clone(&config);
    let bound = runtime::bind(&addrs, runtime::default_workers())?;
    let http = ferrodns::control::Endpoints::start(&config.http)?;
    if !o.quiet {
        print!("{}{}", config.banner(), version());
    }
    let _workers = bound.start(move |i| Dispatcher::new(Arc::clone(&shared), i))?;
    if let Some(p) = &o.pidfile {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .with_context(|| format!("write pidfile {p}"))?;
    }
    // SIGTERM, SIGINT and SIGQUIT stop the server; reload comes with the
    // reload plugin.
    let sig = loop {
        match wait_signal(&signals) {
            libc::SIGUSR1 | libc::SIGHUP => ferrodns::log::info(
                None,
                "reload on signal is not available yet; keeping the running config",
            ),
            s => break s,
        }
    };
    // SIGTERM and SIGINT wait out health's lameduck, serving DNS meanwhile.
    if sig != libc::SIGQUIT {
        http.enter_lameduck();
    }
    http.shutdown();
    if let Some(p) = &o.pidfile {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

fn main() -> ExitCode {
    let o = match cli::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(CliError::Help) => {
            eprint!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(CliError::Bad(m)) => {
            eprintln!("{m}");
            eprint!("{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    if o.version {
        print!("{}", version());
        return ExitCode::SUCCESS;
    }
    if o.plugins {
        print!("{}", plugins());
        return ExitCode::SUCCESS;
    }
    match run(o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
