//! A real Kubernetes API server on loopback: a throwaway CA and serving
//! certificate (openssl), a static admin token, etcd and kube-apiserver on
//! free loopback ports in a work folder, ready once `/readyz` says `ok`,
//! and a kubeconfig for it. No controller-manager, scheduler or kubelet:
//! tests create EndpointSlices and set Pod IPs themselves.
//!
//! Shared by `cargo xtask k8s start|stop` and the daemon's integration
//! tests (`daemon/tests/common/k8s.rs` includes this file), so it uses
//! only std, libc and anyhow.

use anyhow::{bail, Context, Result};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Kubernetes release whose kube-apiserver the tests run (etcd at the
/// version it pins).
pub const VERSION: &str = "v1.36.3";

/// The bearer token of the cluster's one user, `admin` in `system:masters`.
pub const TOKEN: &str = "ferrodns-test-admin-token";

/// The folder the binaries are cached in under the tools' cache folder.
pub fn bin_dir(cache: &Path) -> PathBuf {
    cache.join(format!("k8s-{VERSION}")).join("bin")
}

/// The two binaries of `bin`, if both are there.
pub fn binaries(bin: &Path) -> Option<(PathBuf, PathBuf)> {
    let etcd = bin.join("etcd");
    let api = bin.join("kube-apiserver");
    (etcd.is_file() && api.is_file()).then_some((etcd, api))
}

/// A started API server.
pub struct Cluster {
    /// The work folder: certificates, logs, pid files, etcd's data.
    pub dir: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    pub kubeconfig: PathBuf,
    /// The CA the serving certificate is signed by.
    pub ca: PathBuf,
    pub etcd: Child,
    pub apiserver: Child,
    /// How kube-apiserver was started: its binary, etcd's client URL, its
    /// port, and whether it is tied to the starting thread (a restart
    /// starts it the same way).
    api_bin: PathBuf,
    etcd_client: String,
    api_port: u16,
    tied: bool,
}

impl Cluster {
    /// Stops kube-apiserver (SIGTERM, then SIGKILL after 5 s, as a
    /// kubelet does after a pod's grace period: with watches open it takes
    /// a minute to go on its own) and starts it again on the same port and
    /// etcd; returns once it is ready again, with the time that took.
    pub fn restart_apiserver(&mut self) -> Result<Duration> {
        let t0 = Instant::now();
        // SAFETY: kill(2) on our own child, not reaped yet.
        unsafe { libc::kill(self.apiserver.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.apiserver.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.apiserver.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.apiserver.wait();
        self.apiserver = apiserver(
            &self.api_bin,
            &self.dir,
            &self.etcd_client,
            self.api_port,
            self.tied,
        )?;
        if let Err(e) = wait_ready(&mut self.apiserver, &self.server, &self.ca, &self.dir) {
            let _ = self.etcd.kill();
            return Err(e);
        }
        Ok(t0.elapsed())
    }
}

/// kube-apiserver from `api_bin` in `dir` on `etcd` and `port`.
fn apiserver(api_bin: &Path, dir: &Path, etcd: &str, port: u16, tied: bool) -> Result<Child> {
    let mut cmd = Command::new(api_bin);
    cmd.current_dir(dir)
        .arg(format!("--etcd-servers={etcd}"))
        .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
        .arg(format!("--secure-port={port}"))
        .args([
            "--tls-cert-file=apiserver.crt",
            "--tls-private-key-file=apiserver.key",
            "--client-ca-file=ca.crt",
            "--token-auth-file=tokens.csv",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=sa.pub",
            "--service-account-signing-key-file=sa.key",
            // Both families, for dual-stack Services.
            "--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112",
            // Without a controller-manager: the default/kubernetes
            // Endpoints would carry the loopback advertise address, which
            // validation rejects; and no one creates the per-namespace
            // "default" ServiceAccount that admission would ask Pods for.
            "--endpoint-reconciler-type=none",
            "--disable-admission-plugins=ServiceAccount",
        ]);
    spawn(&mut cmd, dir, "apiserver", tied)
}

/// Waits until kube-apiserver at `server` says it is ready (killing it
/// when it does not in time).
fn wait_ready(apiserver: &mut Child, server: &str, ca: &Path, dir: &Path) -> Result<()> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if ready(server, ca) {
            return Ok(());
        }
        let exited = apiserver.try_wait()?;
        if exited.is_some() || Instant::now() > deadline {
            let _ = apiserver.kill();
            bail!(
                "kube-apiserver not ready ({}): {}",
                exited.map_or("timed out".to_string(), |s| s.to_string()),
                tail(&dir.join("apiserver.log"))
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How long kube-apiserver may take to say it is ready (a few seconds
/// here; much more on a loaded machine).
const READY_WITHIN: Duration = Duration::from_secs(90);

/// Starts etcd and kube-apiserver from `bin` in `dir` (emptied first).
/// With `tied`, both get SIGKILL when the thread that started them ends
/// (a test binary's keeper thread, which lives as long as the process).
pub fn start(bin: &Path, dir: &Path, tied: bool) -> Result<Cluster> {
    let (etcd_bin, api_bin) = binaries(bin).with_context(|| {
        format!(
            "no etcd and kube-apiserver in {} (cargo xtask k8s build)",
            bin.display()
        )
    })?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    pki(dir)?;
    let [etcd_port, peer_port, api_port] = free_ports()?;
    let client = format!("http://127.0.0.1:{etcd_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    let mut cmd = Command::new(etcd_bin);
    cmd.current_dir(dir)
        .args(["--name", "t", "--unsafe-no-fsync", "--log-level", "warn"])
        .arg(format!("--data-dir={}", dir.join("etcd").display()))
        .arg(format!("--listen-client-urls={client}"))
        .arg(format!("--advertise-client-urls={client}"))
        .arg(format!("--listen-peer-urls={peer}"))
        .arg(format!("--initial-advertise-peer-urls={peer}"))
        .arg(format!("--initial-cluster=t={peer}"));
    let mut etcd = spawn(&mut cmd, dir, "etcd", tied)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !etcd_healthy(etcd_port) {
        if let Some(status) = etcd.try_wait()? {
            bail!("etcd exited ({status}): {}", tail(&dir.join("etcd.log")));
        }
        if Instant::now() > deadline {
            let _ = etcd.kill();
            bail!("etcd not healthy in 30 s: {}", tail(&dir.join("etcd.log")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut apiserver = match apiserver(&api_bin, dir, &client, api_port, tied) {
        Ok(c) => c,
        Err(e) => {
            let _ = etcd.kill();
            return Err(e);
        }
    };
    let server = format!("https://127.0.0.1:{api_port}");
    let ca = dir.join("ca.crt");
    if let Err(e) = wait_ready(&mut apiserver, &server, &ca, dir) {
        let _ = etcd.kill();
        return Err(e);
    }
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\n\
             clusters: [{{name: local, cluster: {{server: \"{server}\", certificate-authority: \"{}\"}}}}]\n\
             users: [{{name: admin, user: {{token: \"{TOKEN}\"}}}}]\n\
             contexts: [{{name: local, context: {{cluster: local, user: admin}}}}]\n\
             current-context: local\n",
            ca.display()
        ),
    )?;
    Ok(Cluster {
        dir: dir.to_path_buf(),
        server,
        kubeconfig,
        ca,
        etcd,
        apiserver,
        api_bin,
        etcd_client: client,
        api_port,
        tied,
    })
}

/// Stops what [`start`] started in `dir` (by the pids it wrote there) and
/// removes etcd's data.
pub fn stop(dir: &Path) -> Result<()> {
    for name in ["apiserver", "etcd"] {
        let file = dir.join(format!("{name}.pid"));
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let pid: libc::pid_t = text.trim().parse().context("pid file")?;
        // SAFETY: kill(2) with a pid this module started and recorded.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        // SAFETY: signal 0 only asks whether the process is still there.
        while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: as above; a process gone already makes this a no-op.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        std::fs::remove_file(&file)?;
    }
    let data = dir.join("etcd");
    if data.exists() {
        std::fs::remove_dir_all(data)?;
    }
    Ok(())
}

/// One request to the API server at `server` as the cluster's admin
/// (curl: std has no TLS): the body it answers. An HTTP error fails with
/// the status and the API's own message.
pub fn call(
    server: &str,
    ca: &Path,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<String> {
    let ctype = if method == "PATCH" {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", "-X", method, "--cacert"])
        .arg(ca)
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["-H", &format!("Content-Type: {ctype}")])
        .args(["-w", "\n%{http_code}"]);
    if let Some(b) = body {
        cmd.args(["--data-binary", b]);
    }
    let out = cmd
        .arg(format!("{server}{path}"))
        .output()
        .context("run curl")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (answer, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    if !out.status.success() || !code.starts_with('2') {
        bail!(
            "{method} {path}: {code} {answer} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(answer.to_string())
}

fn spawn(cmd: &mut Command, dir: &Path, name: &str, tied: bool) -> Result<Child> {
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if tied {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; it only sets the child's
        // parent-death signal between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("start {:?}", cmd.get_program()))?;
    std::fs::write(dir.join(format!("{name}.pid")), child.id().to_string())?;
    Ok(child)
}

/// Three loopback TCP ports nothing listens on right now.
fn free_ports() -> Result<[u16; 3]> {
    let l: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()?;
    let port = |i: usize| l[i].local_addr().map(|a| a.port());
    Ok([port(0)?, port(1)?, port(2)?])
}

fn etcd_healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    let mut out = String::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_string(&mut out).is_ok()
        && out.starts_with("HTTP/1.0 200")
        && out.contains("\"health\":\"true\"")
}

/// `/readyz` answers `ok` (curl: std has no TLS).
fn ready(server: &str, ca: &Path) -> bool {
    Command::new("curl")
        .args(["-s", "--max-time", "2", "--cacert"])
        .arg(ca)
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .arg(format!("{server}/readyz"))
        .output()
        .is_ok_and(|o| o.stdout == b"ok")
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The throwaway CA, a serving certificate for 127.0.0.1 and localhost, a
/// client certificate (client.crt, client.key) for the admin, the
/// service-account key pair and the static token file, with openssl.
fn pki(dir: &Path) -> Result<()> {
    let openssl = |args: &[&str]| -> Result<()> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .context("run openssl (is it installed?)")?;
        if !out.status.success() {
            bail!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    let key = ["-newkey", "rsa:2048", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &key,
            &["-days", "30", "-subj", "/CN=ferrodns-test-ca"],
            &["-keyout", "ca.key", "-out", "ca.crt"],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat(),
    )?;
    // The serving certificate, and a client certificate for `admin` in
    // system:masters (the `endpoint` + `tls` way in).
    let certs = [
        (
            "apiserver",
            "/CN=kube-apiserver",
            "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes.default.svc\n\
             extendedKeyUsage=serverAuth\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n",
        ),
        (
            "client",
            "/O=system:masters/CN=admin",
            "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
        ),
    ];
    for (name, subject, ext) in certs {
        let (key_file, csr, crt, ext_file) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        openssl(
            &[
                &["req"][..],
                &key,
                &["-subj", subject, "-keyout", &key_file, "-out", &csr],
            ]
            .concat(),
        )?;
        std::fs::write(dir.join(&ext_file), ext)?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            &ext_file,
            "-out",
            &crt,
        ])?;
    }
    openssl(&["genrsa", "-out", "sa.key", "2048"])?;
    openssl(&["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"])?;
    std::fs::write(
        dir.join("tokens.csv"),
        format!("{TOKEN},admin,admin-uid,\"system:masters\"\n"),
    )?;
    Ok(())
}
