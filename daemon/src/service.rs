//! The running server as the control plane sees it: start from a Corefile,
//! reload a new one (or keep the old one serving when it is broken), stop.

use crate::control::{self, Endpoints};
use crate::corefile;
use crate::metrics::{self, RELOAD_FAILED, RELOAD_VERSION_INFO};
use crate::plugin::registry::{Event, When};
use crate::runtime::{self, Listen, RuntimeError, Workers};
use crate::server::{self, Config, Dispatcher};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("open {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] corefile::Error),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{0}")]
    Http(#[from] control::Error),
    #[error(transparent)]
    Kernel(#[from] crate::kernel::KernelError),
}

/// Where the Corefile comes from: `-conf FILE`, `-conf stdin` (read once),
/// `./Corefile`, or CoreDNS's built-in default.
pub struct Source {
    conf: Option<String>,
    port: u16,
    stdin: Option<String>,
}

impl Source {
    pub fn new(conf: Option<String>, port: u16) -> Self {
        Self {
            conf,
            port,
            stdin: None,
        }
    }

    /// The Corefile's text and the name errors use for it.
    pub fn read(&mut self) -> Result<(String, String), ServiceError> {
        let read = |path: &str| {
            std::fs::read_to_string(path).map_err(|source| ServiceError::Read {
                path: path.into(),
                source,
            })
        };
        match self.conf.as_deref() {
            Some("stdin") => {
                if self.stdin.is_none() {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s).map_err(|source| {
                        ServiceError::Read {
                            path: "stdin".into(),
                            source,
                        }
                    })?;
                    self.stdin = Some(s);
                }
                Ok((self.stdin.clone().unwrap_or_default(), "stdin".into()))
            }
            Some(path) => Ok((read(path)?, path.into())),
            None => match std::fs::read_to_string("Corefile") {
                Ok(s) => Ok((s, "Corefile".into())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((
                    format!(".:{} {{\n    whoami\n    log\n}}\n", self.port),
                    "default".into(),
                )),
                Err(source) => Err(ServiceError::Read {
                    path: "Corefile".into(),
                    source,
                }),
            },
        }
    }

    /// Loads and sets up the Corefile as it is now.
    pub fn load(&mut self) -> Result<Config, ServiceError> {
        let (text, file) = self.read()?;
        Ok(server::load(
            &text,
            &file,
            self.port,
            crate::plugins::ORDER,
        )?)
    }

    /// The digest of the Corefile as it is now (for the reload plugin).
    pub fn digest(&mut self) -> Result<String, ServiceError> {
        let (text, file) = self.read()?;
        Ok(server::config::digest(&text, &file, crate::plugins::ORDER)?)
    }
}

/// How the workers serve, whatever the Corefile says (command-line flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plane {
    /// How workers do UDP.
    pub io: runtime::Io,
    /// Cache hits answered from the query's bytes where the blocks allow.
    pub fast_path: bool,
    /// UDP queries steered by question where built in and allowed.
    pub steer: bool,
}

pub struct Service {
    config: Arc<Config>,
    /// prometheus, health and ready.
    http: Endpoints,
    listen: Vec<Listen>,
    workers: Workers<Arc<Config>>,
    /// Workers when no `multisocket` says otherwise.
    count: usize,
    plane: Plane,
    steering: runtime::Steering,
    /// The XDP program of the blocks with `xdp`.
    kernel: crate::kernel::Kernel,
}

fn start_workers(
    config: &Arc<Config>,
    bound: runtime::Bound,
    fast: bool,
) -> Result<Workers<Arc<Config>>, RuntimeError> {
    let shared = Arc::clone(config);
    let count = bound.workers();
    bound.start(move |i| Dispatcher::new(Arc::clone(&shared), i, count, fast))
}

/// Logs how UDP queries reach the workers: at start always (where there is
/// more than one worker), on a reload only when steering failed.
fn log_steering(a: &runtime::Attached, start: bool) {
    match a.log_line() {
        Some((true, line)) => crate::log::warning(None, &line),
        Some((false, line)) if start => crate::log::info(None, &line),
        _ => {}
    }
}

impl Service {
    /// Binds every listener (errors come back before anything serves),
    /// calls `announce`, then starts `count` workers. Listeners another
    /// process handed over (`inherited`) are served with its sockets.
    pub fn start(
        config: Config,
        count: usize,
        plane: Plane,
        inherited: Option<&runtime::Inherited>,
        announce: impl FnOnce(&Config),
    ) -> Result<Service, ServiceError> {
        let config = Arc::new(config);
        let listen = config.listen();
        let workers = config.workers.unwrap_or(count);
        let bound = match inherited {
            Some(i) => runtime::bind_inherited(&listen, workers, i)?,
            None => runtime::bind(&listen, workers, &[])?,
        }
        .with_io(plane.io);
        let http = match inherited {
            None => Endpoints::start(&config.http)?,
            // The process handing over closes its endpoints as it is told
            // to; the last of its listeners may take a moment to go.
            Some(_) => {
                let mut tries = 0;
                loop {
                    match Endpoints::start(&config.http) {
                        Err(crate::control::Error::Bind { source, .. })
                            if source.kind() == std::io::ErrorKind::AddrInUse && tries < 100 =>
                        {
                            tries += 1;
                            std::thread::sleep(std::time::Duration::from_millis(20));
                        }
                        r => break r?,
                    }
                }
            }
        };
        announce(&config);
        let mut steering = runtime::Steering::new(plane.steer);
        let udp = steering.prepare(&bound);
        let workers = start_workers(&config, bound, plane.fast_path)?;
        log_steering(&steering.attach(udp), true);
        let kernel = crate::kernel::Kernel::start(&config)?;
        let s = Service {
            config,
            http,
            listen,
            workers,
            count,
            plane,
            steering,
            kernel,
        };
        s.started();
        Ok(s)
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    fn started(&self) {
        crate::log::set_debug(self.config.debug);
        run_events(&self.config, When::Startup);
        for p in self.config.plugins() {
            p.start();
        }
        if self.config.reload.is_some() {
            crate::log::info(
                Some("reload"),
                &format!("Running configuration SHA512 = {}", self.config.digest),
            );
            metrics::with(metrics::global(), |m| {
                m.set(&RELOAD_VERSION_INFO, &["sha512", &self.config.digest], 1.0)
            });
        }
    }

    /// Serves `config` from now on. Listeners that stay keep their sockets,
    /// so nothing queued on them is lost and their TCP connections stay
    /// open; new listeners are bound before old ones close, and those that
    /// go answer what they had read. Only a change in the number of
    /// workers starts a new set of workers (bound before the old one
    /// stops). On error the old configuration keeps serving.
    pub fn reload(&mut self, config: Config) -> Result<(), ServiceError> {
        let config = Arc::new(config);
        let listen = config.listen();
        let count = config.workers.unwrap_or(self.count);
        let held: Vec<SocketAddr> = self.listen.iter().map(|l| l.addr).collect();
        // Every new socket is bound before anything changes, DNS or HTTP
        // (which binds new addresses before letting go of old ones, and on
        // failure changes nothing).
        let in_place = count == self.workers.len();
        let bound = if in_place {
            let added: Vec<Listen> = listen
                .iter()
                .filter(|l| !held.contains(&l.addr))
                .copied()
                .collect();
            runtime::bind(&added, count, &held)?
        } else {
            // The new workers take over the sockets of the listeners that
            // stay: none leaves its SO_REUSEPORT group while the kernel may
            // still pick it (only those of workers past the new count close).
            self.workers.rebind(&listen, count)?.with_io(self.plane.io)
        };
        self.http.update(&config.http)?;
        // New listeners' groups (or, with a new number of workers, every
        // listener's new sockets) get the steering program once served,
        // and before the old workers stop: the old program would steer
        // queries to sockets about to close. A failure leaves them to the
        // flow hash.
        let udp = self.steering.prepare(&bound);
        if in_place {
            self.workers.update(Arc::clone(&config), &listen, bound);
            log_steering(&self.steering.attach(udp), false);
        } else {
            let workers = start_workers(&config, bound, self.plane.fast_path)?;
            log_steering(&self.steering.attach(udp), false);
            std::mem::replace(&mut self.workers, workers).stop();
        }
        self.steering.retain(&listen);
        self.listen = listen;
        metrics::with(metrics::global(), |m| {
            m.set(&RELOAD_VERSION_INFO, &["sha512", &self.config.digest], 0.0)
        });
        let old = std::mem::replace(&mut self.config, config);
        for p in old.plugins() {
            p.stop();
        }
        // The kernel path starts again with the new blocks (and an empty
        // map: answers go in again as they get hot).
        std::mem::take(&mut self.kernel).stop();
        self.kernel = match crate::kernel::Kernel::start(&self.config) {
            Ok(k) => k,
            Err(e) => {
                crate::log::error(
                    None,
                    &format!("{e}: hot cache hits are answered in userspace"),
                );
                crate::kernel::Kernel::default()
            }
        };
        self.started();
        Ok(())
    }

    /// Every worker's heartbeat count (`runtime::BEAT`): a worker whose
    /// count stops is stuck.
    pub fn beats(&self) -> Vec<u64> {
        self.workers.beats()
    }

    /// What is served, for systemd's status line.
    pub fn status(&self) -> String {
        let addrs: Vec<String> = self.listen.iter().map(|l| l.addr.to_string()).collect();
        format!(
            "Serving {} on {} with {} worker{}",
            plural(self.config.blocks.len(), "server block"),
            addrs.join(", "),
            self.workers.len(),
            if self.workers.len() == 1 { "" } else { "s" }
        )
    }

    /// Every socket the workers serve, for a handover.
    pub fn sockets(&self) -> Vec<(SocketAddr, &std::net::UdpSocket, &std::net::TcpListener)> {
        self.workers.sockets()
    }

    /// Lets go of the HTTP endpoints (a new process is about to bind them).
    pub fn release_http(&self) {
        self.http.close();
    }

    /// Binds the HTTP endpoints again (a handover that did not happen).
    pub fn restore_http(&self) -> Result<(), ServiceError> {
        Ok(self.http.update(&self.config.http)?)
    }

    /// Stops after a handover: the new process serves the listeners and
    /// runs the `on` commands; this one answers what it has read and what
    /// waits on upstreams, hands `last` its configuration once its workers
    /// have stopped, then lets go.
    pub fn stop_handed_over(self, last: impl FnOnce(&Config)) {
        self.kernel.stop();
        self.workers.stop();
        last(&self.config);
        for p in self.config.plugins() {
            p.stop();
        }
        self.http.shutdown();
    }

    /// Counts a failed reload.
    pub fn reload_failed(&self) {
        metrics::with(metrics::global(), |m| m.inc(&RELOAD_FAILED, &[]));
    }

    /// Stops: first keeps serving for health's lameduck duration, then
    /// stops reading queries, lets those in flight finish, and closes the
    /// HTTP endpoints.
    pub fn stop(self) {
        run_events(&self.config, When::Shutdown);
        self.http.enter_lameduck();
        // The kernel stops answering before the workers stop reading.
        self.kernel.stop();
        self.workers.stop();
        for p in self.config.plugins() {
            p.stop();
        }
        self.http.shutdown();
    }
}

/// Runs the `on` commands of `config` for `when`, in Corefile order, as
/// caddy's hooks do: standard input, output and error are the server's; a
/// blocking command is waited for; a failure is logged and the rest run.
fn run_events(config: &Config, when: When) {
    for e in config.events.iter().filter(|e| e.when == when) {
        if let Err(err) = run_event(e) {
            crate::log::raw(&format!("error on 'on-{}' hook: {err}", e.id));
        }
    }
}

/// One command; Err holds Go's `os/exec` text of what went wrong.
fn run_event(e: &Event) -> Result<(), String> {
    let how = if e.background {
        "Nonblocking"
    } else {
        "Blocking"
    };
    crate::log::info(
        None,
        &format!(
            "{how} Command \"{} {}\" with ID {}",
            e.command,
            e.args.join(" "),
            e.id
        ),
    );
    let mut cmd = std::process::Command::new(&e.command);
    cmd.args(&e.args);
    let spawned = cmd.spawn().map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound && !e.command.contains('/') {
            format!(
                "exec: {}: executable file not found in $PATH",
                crate::gocompat::quote::quote(&e.command)
            )
        } else {
            format!(
                "fork/exec {}: {}",
                e.command,
                crate::gocompat::errno::text(&err)
            )
        }
    });
    let mut child = spawned?;
    if e.background {
        // Reaped by a thread of its own, so that it leaves no zombie.
        std::thread::spawn(move || child.wait());
        return Ok(());
    }
    let status = child.wait().map_err(|err| err.to_string())?;
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(format!("exit status {code}")),
        (None, Some(sig)) => Err(format!("signal: {}", signal_name(sig))),
        (None, None) => Err("exit status -1".into()),
    }
}

/// Go's `syscall.Signal.String` for the signals a command commonly dies of.
fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".into(),
        libc::SIGTERM => "terminated".into(),
        libc::SIGINT => "interrupt".into(),
        libc::SIGSEGV => "segmentation fault".into(),
        libc::SIGABRT => "aborted".into(),
        libc::SIGHUP => "hangup".into(),
        libc::SIGPIPE => "broken pipe".into(),
        other => format!("signal {other}"),
    }
}

/// `n` things, `thing` in the plural where it takes one.
fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}
