//! The ferrodns binary: flags, Corefile loading, start-up and signals.

use anyhow::Context;
use ferrodns::cli::{self, CliError, Options};
use ferrodns::gocompat::reload::Periodic;
use ferrodns::handover;
use ferrodns::log;
use ferrodns::metrics;
use ferrodns::nodelocal;
use ferrodns::plugin::registry;
use ferrodns::runtime;
use ferrodns::service::{Plane, Service, ServiceError, Source};
use ferrodns::sys::notify::{Notifier, NotifyEnv};
use ferrodns::sys::{self, SignalSet};
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::time::Duration;

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
    for name in registry::available(ferrodns::plugins::ORDER) {
        s.push_str("  dns.");
        s.push_str(name);
        s.push('\n');
    }
    s
}

/// Blocks the signals the control loop waits for. Called first thing in
/// `main`, before anything can start a thread (loading the Corefile starts
/// hosts' and file's reload threads, forward's health checks...), so every
/// thread inherits the mask and only `sigwait` ever takes these signals:
/// an unblocked thread would get the default action, which for SIGUSR1,
/// SIGHUP and SIGTERM is to kill the process.
fn block_signals() -> Result<SignalSet, sys::SysError> {
    SignalSet::block(&[
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGHUP,
        libc::SIGUSR2,
    ])
}

/// What wakes the control loop.
enum Event {
    Signal(i32),
    /// Time for the reload plugin to look at the Corefile.
    Check,
    /// Time to tell systemd's watchdog the workers are alive.
    Watchdog,
    /// A new process asks for the listeners (`-handover`).
    Handover(std::os::unix::net::UnixStream),
}

/// How serving ended.
#[derive(PartialEq)]
enum Ended {
    Stopped,
    /// Another process serves now: what this one set up stays.
    HandedOver,
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// A notification to systemd, if it asked for them; its first failure is
/// logged.
fn tell(n: &Option<Notifier>, send: impl FnOnce(&Notifier) -> Result<(), String>) {
    if let Some(Err(e)) = n.as_ref().map(send) {
        log::warning(None, &e);
    }
}

/// node-cache's report of a failed step: logged and counted in
/// `coredns_nodecache_setup_errors_total`.
fn node_report() -> nodelocal::Report {
    std::sync::Arc::new(|kind: &'static str, msg: String| {
        log::error(None, &msg);
        metrics::with(metrics::global(), |m| {
            m.inc(&nodelocal::SETUP_ERRORS, &[kind])
        });
    })
}

fn run(
    o: Options,
    signals: SignalSet,
    notify: NotifyEnv,
    passed: Vec<std::os::fd::OwnedFd>,
) -> anyhow::Result<()> {
    // NodeLocal DNSCache's node side: the Corefile from its template, the
    // interface, (once serving) the rules.
    let mut node = match &o.node.localip {
        Some(_) if !o.validate => {
            metrics::with(metrics::global(), |m| {
                for kind in nodelocal::ERROR_TYPES {
                    m.add(&nodelocal::SETUP_ERRORS, &[kind], 0.0);
                }
            });
            let conf = o.conf.clone().unwrap_or_else(|| "Corefile".into());
            Some(
                nodelocal::NodeLocal::setup(o.node.clone(), conf.into(), o.port, &node_report())
                    .context("node-local setup")?,
            )
        }
        _ => None,
    };
    let served = serve(&o, signals, notify, passed, node.as_mut());
    // Also when the server could not start: nothing is left behind, unless
    // another process serves with it now.
    if let Some(n) = node {
        if !matches!(served, Ok(Ended::HandedOver)) {
            if let Err(e) = n.teardown() {
                log::error(None, &format!("node-local teardown: {e}"));
            }
        }
    }
    served.map(|_| ())
}

/// SIGUSR2: the binary at the path this one was started from (a new
/// version, after an upgrade) started with the same arguments, to take the
/// listeners over through the `-handover` socket.
fn start_successor(exe: &std::path::Path, notify_vars: &[(&'static str, String)]) {
    let mut c = std::process::Command::new(exe);
    c.args(std::env::args_os().skip(1));
    // It becomes the service's main process: systemd's variables are its.
    for (k, v) in notify_vars {
        c.env(k, v);
    }
    match c.spawn() {
        Ok(child) => log::info(
            None,
            &format!(
                "SIGUSR2: started {} (PID {}) to take the listeners over",
                exe.display(),
                child.id()
            ),
        ),
        Err(e) => log::error(None, &format!("SIGUSR2: start {}: {e}", exe.display())),
    }
}

fn serve(
    o: &Options,
    signals: SignalSet,
    notify: NotifyEnv,
    passed: Vec<std::os::fd::OwnedFd>,
    node: Option<&mut nodelocal::NodeLocal>,
) -> anyhow::Result<Ended> {
    let exe = std::env::current_exe().ok();
    let mut source = Source::new(o.conf.clone(), o.port);
    let config = source.load()?;
    if o.validate {
        print!("{}", config.banner());
        return Ok(Ended::Stopped);
    }
    // A server running with the same `-handover` socket hands its
    // listeners over (once this one's Corefile has set up).
    let taking = match &o.handover {
        Some(p) => handover::take(std::path::Path::new(p))?,
        None => None,
    };
    // systemd's sockets (socket activation), where no process handed its
    // own over.
    let activated = match (&taking, passed.is_empty()) {
        (None, false) => {
            let (inherited, notes) = runtime::activated(passed);
            for n in notes {
                log::info(None, &n);
            }
            let listen: Vec<_> = config.listen().iter().map(|l| l.addr).collect();
            for a in inherited.addrs().filter(|a| !listen.contains(a)) {
                log::warning(
                    None,
                    &format!("socket activation: no server block listens on {a}: its sockets stay unused"),
                );
            }
            Some(inherited)
        }
        (Some(_), false) => {
            log::warning(
                None,
                "socket activation: the listeners come from the process handing over; the sockets systemd passed stay unused",
            );
            None
        }
        _ => None,
    };
    // What the old process's plugins passed along (the caches' answers).
    if let Some(t) = &taking {
        for (name, data) in &t.state {
            for p in config.plugins() {
                p.take_state(name, data);
            }
        }
    }
    let quiet = o.quiet;
    let plane = Plane {
        io: o.io,
        fast_path: o.fast_path,
        steer: o.steer,
    };
    let workers = o.workers.unwrap_or_else(runtime::default_workers);
    let mut service = Service::start(
        config,
        workers,
        plane,
        taking.as_ref().map(|t| &t.inherited).or(activated.as_ref()),
        |c| {
            if !quiet {
                print!("{}{}", c.banner(), version());
            }
        },
    )?;
    if let Some(p) = &o.pidfile {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .with_context(|| format!("write pidfile {p}"))?;
    }
    if let Some(n) = node {
        n.serving(node_report());
    }
    // Every listener is bound and every worker runs.
    let notifier = notify.notifier;
    if let Some(e) = &notify.error {
        log::warning(None, e);
    }
    match taking {
        Some(t) => {
            let late = t.ready()?;
            log::info(None, "Took the listeners over from the previous process");
            tell(&notifier, |n| n.took_over(&service.status()));
            // What the old process's plugins changed while this one
            // started (the answers it cached meanwhile), taken in while
            // serving.
            let config = Arc::clone(service.config());
            std::thread::Builder::new()
                .name("handover".into())
                .spawn(move || match late.take() {
                    Ok(state) => {
                        for (name, data) in &state {
                            for p in config.plugins() {
                                p.take_state(name, data);
                            }
                        }
                    }
                    Err(e) => log::warning(
                        None,
                        &format!("{e}: what the previous process cached last is not here"),
                    ),
                })?;
        }
        None => tell(&notifier, |n| n.ready(&service.status())),
    }

    let (tx, events) = mpsc::channel();
    let signal_tx = tx.clone();
    if let Some(p) = &o.handover {
        let tx = tx.clone();
        handover::Offer::listen(std::path::Path::new(p))?.serve(move |s| {
            let _ = tx.send(Event::Handover(s));
        })?;
    }
    let mut ended = Ended::Stopped;
    // The connection to the process that took over (the last state goes
    // there once the workers have stopped).
    let mut handed = None;
    // Set once shutting down: a second SIGINT then quits at once, as
    // CoreDNS's does.
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopping_seen = Arc::clone(&stopping);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let sig = match signals.wait() {
                Ok(sig) => sig,
                Err(e) => {
                    log::error(None, &e.to_string());
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            if sig == libc::SIGINT && stopping_seen.load(std::sync::atomic::Ordering::SeqCst) {
                log::info(None, "SIGINT: Force quit");
                std::process::exit(2);
            }
            let _ = signal_tx.send(Event::Signal(sig));
        })?;
    // The reload plugin's poll, at the interval the running config says
    // (none without the plugin), restarted when a reload changes it.
    let mut ticker: Option<(Duration, Periodic)> = None;
    let mut retick = |every: Option<Duration>| -> std::io::Result<()> {
        if ticker.as_ref().map(|(d, _)| *d) != every {
            ticker = None;
            if let Some(d) = every {
                let tx = tx.clone();
                let p = Periodic::start("reload", d, move || {
                    let _ = tx.send(Event::Check);
                })?;
                ticker = Some((d, p));
            }
        }
        Ok(())
    };
    retick(service.config().reload)?;
    // systemd's watchdog hears from us twice per interval it asked for,
    // as long as every worker's heartbeat moves.
    let _watchdog = match (notify.watchdog, &notifier) {
        (Some(every), Some(_)) => {
            let tx = tx.clone();
            Some(Periodic::start("watchdog", every / 2, move || {
                let _ = tx.send(Event::Watchdog);
            })?)
        }
        _ => None,
    };
    let mut last_beats = service.beats();
    let mut stuck_said = false;

    let mut digest = service.config().digest.clone();
    for ev in events {
        match ev {
            Event::Signal(libc::SIGUSR1) => {
                log::info(None, "SIGUSR1: Reloading");
                tell(&notifier, |n| n.reloading());
                match source.load().and_then(|c| service.reload(c)) {
                    Ok(()) => {
                        digest.clone_from(&service.config().digest);
                        log::info(None, "Reloading complete");
                        tell(&notifier, |n| n.ready(&service.status()));
                    }
                    Err(e) => {
                        log::error(None, &format!("SIGUSR1: {e}"));
                        service.reload_failed();
                        tell(&notifier, |n| {
                            n.ready(&format!(
                                "{}; the last reload failed: {e}",
                                service.status()
                            ))
                        });
                    }
                }
                last_beats = service.beats();
            }
            Event::Watchdog => {
                if notifier.is_none() {
                    continue;
                }
                let beats = service.beats();
                let stuck: Vec<usize> = (0..beats.len())
                    .filter(|&i| last_beats.get(i).is_some_and(|b| beats[i] <= *b))
                    .collect();
                if stuck.is_empty() {
                    tell(&notifier, |n| n.watchdog());
                    stuck_said = false;
                } else if !stuck_said {
                    stuck_said = true;
                    log::error(
                        None,
                        &format!(
                            "worker{} {} made no progress: not telling systemd's watchdog we are alive",
                            if stuck.len() == 1 { "" } else { "s" },
                            stuck.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
                        ),
                    );
                    tell(&notifier, |n| {
                        n.status(&format!("worker {} is stuck", stuck[0]))
                    });
                }
                last_beats = beats;
            }
            Event::Signal(libc::SIGHUP) => {}
            Event::Signal(libc::SIGUSR2) => match (&o.handover, &exe) {
                (Some(_), Some(exe)) => start_successor(exe, &notify.vars),
                _ => log::error(
                    None,
                    "SIGUSR2: no -handover socket to hand the listeners over on: nothing started",
                ),
            },
            Event::Handover(mut stream) => {
                log::info(None, "Handing the listeners over to a new process");
                let state: Vec<(String, Vec<u8>)> = service
                    .config()
                    .plugins()
                    .filter_map(|p| p.handover_state(false))
                    .collect();
                let given = handover::give(&mut stream, &service.sockets(), &state, || {
                    service.release_http()
                })
                .and_then(|()| handover::wait_ready(&mut stream));
                match given {
                    Ok(pid) => {
                        log::info(None, &format!("Handed the listeners over to PID {pid}: finishing what was read, then exiting"));
                        ended = Ended::HandedOver;
                        handed = Some(stream);
                        break;
                    }
                    Err(e) => {
                        log::error(None, &format!("{e}: serving on"));
                        if let Err(e) = service.restore_http() {
                            log::error(None, &format!("handover: HTTP endpoints: {e}"));
                        }
                    }
                }
            }
            Event::Signal(sig) => {
                // CoreDNS's lines; SIGQUIT, which CoreDNS obeys at once,
                // shuts down like SIGTERM here.
                let line = match sig {
                    libc::SIGINT => "Shutting down",
                    _ => "Shutting down servers then terminating",
                };
                log::info(None, &format!("{}: {line}", signal_name(sig)));
                stopping.store(true, std::sync::atomic::Ordering::SeqCst);
                tell(&notifier, |n| n.stopping());
                break;
            }
            Event::Check => {
                if service.config().reload.is_none() {
                    continue;
                }
                match source.digest() {
                    Err(ServiceError::Config(e)) => {
                        log::warning(Some("reload"), &format!("Corefile parse failed: {e}"))
                    }
                    // An unreadable Corefile is tried again next time.
                    Err(_) => {}
                    Ok(d) if d == digest => {}
                    Ok(d) => {
                        // Not tried again with the same file, even if it fails.
                        digest = d;
                        log::info(None, "Reloading");
                        tell(&notifier, |n| n.reloading());
                        match source.load().and_then(|c| service.reload(c)) {
                            Ok(()) => log::info(None, "Reloading complete"),
                            Err(e) => {
                                log::error(
                                    Some("reload"),
                                    &format!("Corefile changed but reload failed: {e}"),
                                );
                                service.reload_failed();
                            }
                        }
                        tell(&notifier, |n| n.ready(&service.status()));
                        last_beats = service.beats();
                    }
                }
            }
        }
        if let Err(e) = retick(service.config().reload) {
            log::error(Some("reload"), &format!("reload ticker: {e}"));
        }
    }
    // SIGTERM, SIGINT and SIGQUIT alike wait out health's lameduck.
    if ended == Ended::HandedOver {
        // The new process wrote its pidfile and runs the shutdown hooks;
        // it gets what the plugins changed since the first state.
        service.stop_handed_over(|config| {
            let late: Vec<(String, Vec<u8>)> = config
                .plugins()
                .filter_map(|p| p.handover_state(true))
                .collect();
            if let Some(s) = handed.as_mut() {
                if let Err(e) = handover::give_late(s, &late) {
                    log::error(None, &e.to_string());
                }
            }
        });
        return Ok(ended);
    }
    service.stop();
    if let Some(p) = &o.pidfile {
        let _ = std::fs::remove_file(p);
    }
    Ok(ended)
}

fn main() -> ExitCode {
    // SAFETY: no other thread runs yet.
    let notify = unsafe { NotifyEnv::take() };
    // SAFETY: still no other thread.
    let passed = unsafe { sys::activation::take() };
    let signals = match block_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let o = match cli::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(CliError::Help) => {
            eprint!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}");
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
    match run(o, signals, notify, passed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
