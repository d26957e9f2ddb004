//! `cargo xtask dist`: the release binary packaged for operators: a Debian
//! package (the binary, the systemd unit, a default Corefile kept as a
//! conffile, the docs; a system user `ferrodns` made on install; `systemctl
//! reload` sends SIGUSR1) and a tarball of the same, both named with the
//! workspace's version, in target/dist/. With `--check` it also lists the
//! package's contents and runs lintian on it where the machine has it.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's version (xtask shares it).
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the installed files go, and what the package runs.
const BIN: &str = "/usr/bin/ferrodns";

pub fn main(args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [a] if a == "--check" => true,
        _ => bail!("usage: cargo xtask dist [--check]"),
    };
    let root = crate::root();
    let binary = crate::ferrodns_binary(true)?;
    let out = root.join("target/dist");
    fs::create_dir_all(&out)?;
    let deb = debian(&root, &binary, &out)?;
    let tar = tarball(&root, &binary, &out)?;
    println!("dist: {}", deb.display());
    println!("dist: {}", tar.display());
    if check {
        check_deb(&deb)?;
        install_check(&deb, &out)?;
    }
    Ok(())
}

/// The Debian release the package is installed into for `--check`.
const CHROOT_SUITE: &str = "bookworm";

/// A clean Debian system (debootstrap's minbase, with adduser, which the
/// package depends on), made once and cached under the tools' cache
/// folder; None, said, where it cannot be made here (not root, no
/// debootstrap, no mirror).
fn clean_debian() -> Option<PathBuf> {
    let base = crate::coredns::cache_dir().join(format!("debian-{CHROOT_SUITE}-minbase"));
    if base.join("usr/bin/dpkg").is_file() {
        return Some(base);
    }
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        println!("SKIPPED installing the .deb into a clean Debian: debootstrap and chroot need root (dpkg-deb's listing above stands in)");
        return None;
    }
    if let Err(e) = crate::ensure_packages(&[("debootstrap", "debootstrap")]) {
        println!("SKIPPED installing the .deb into a clean Debian: no debootstrap ({e:#})");
        return None;
    }
    let part = base.with_extension("part");
    let _ = fs::remove_dir_all(&part);
    println!(
        "dist: a clean Debian {CHROOT_SUITE} (debootstrap minbase, once; cached in {})",
        base.display()
    );
    let made = Command::new("debootstrap")
        .args(["--variant=minbase", "--include=adduser", CHROOT_SUITE])
        .arg(&part)
        .arg("http://deb.debian.org/debian")
        .output();
    match made {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            let _ = fs::remove_dir_all(&part);
            println!(
                "SKIPPED installing the .deb into a clean Debian: debootstrap failed: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            return None;
        }
        Err(e) => {
            println!("SKIPPED installing the .deb into a clean Debian: debootstrap: {e}");
            return None;
        }
    }
    fs::rename(&part, &base).ok()?;
    Some(base)
}

/// In a copy of a clean Debian: the package installs (its user made, its
/// files in place), its Corefile sets up (`-validate`: nothing is asked of
/// the resolvers it forwards to), the installed binary serves a query on
/// loopback, and the package purges.
fn install_check(deb: &Path, out: &Path) -> Result<()> {
    let Some(base) = clean_debian() else {
        return Ok(());
    };
    let root = out.join("chroot");
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    crate::run(Command::new("cp").arg("-a").arg(&base).arg(&root))?;
    let inside = |args: &[&str]| -> Result<String> {
        let o = Command::new("chroot")
            .arg(&root)
            .args(args)
            .output()
            .context("run chroot")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if !o.status.success() {
            bail!("in the chroot, {}: {}\n{text}", args.join(" "), o.status);
        }
        Ok(text)
    };
    let name = deb.file_name().context("the .deb's name")?;
    fs::copy(deb, root.join("tmp").join(name))?;
    let result = (|| -> Result<()> {
        inside(&["dpkg", "-i", &format!("/tmp/{}", name.to_string_lossy())])?;
        inside(&["getent", "passwd", "ferrodns"])?;
        for f in [
            BIN,
            "/lib/systemd/system/ferrodns.service",
            "/lib/systemd/system/ferrodns.socket",
            "/etc/ferrodns/Corefile",
        ] {
            if !root.join(f.trim_start_matches('/')).is_file() {
                bail!("installed, but {f} is not there");
            }
        }
        inside(&[BIN, "-conf", "/etc/ferrodns/Corefile", "-validate"])?;
        // The installed binary serves (loopback: the chroot shares the
        // network namespace).
        let port = crate::conformance::net::free_port();
        fs::write(
            root.join("tmp/Corefile.check"),
            format!(".:{port} {{\n    bind 127.0.0.1\n    whoami\n}}\n"),
        )?;
        let mut server = Command::new("chroot")
            .arg(&root)
            .args([BIN, "-conf", "/tmp/Corefile.check"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("start the installed ferrodns")?;
        let mut answered = false;
        for _ in 0..50 {
            let o = Command::new("kdig")
                .args([
                    "@127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "+timeout=1",
                    "+retry=0",
                ])
                .args(["whoami.example.", "A"])
                .output();
            if o.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("status: NOERROR")) {
                answered = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // SAFETY: kill(2) on our own child (chroot exec'd into ferrodns).
        unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
        let stopped = server.wait()?;
        if !answered {
            bail!("the installed ferrodns did not answer on 127.0.0.1:{port}");
        }
        if !stopped.success() {
            bail!("the installed ferrodns did not stop cleanly on SIGTERM: {stopped}");
        }
        inside(&["dpkg", "--purge", "ferrodns"])?;
        if root.join(BIN.trim_start_matches('/')).exists() {
            bail!("purged, but {BIN} is still there");
        }
        Ok(())
    })();
    fs::remove_dir_all(&root)?;
    result.context("the .deb in a clean Debian chroot")?;
    println!(
        "dist: the .deb installs into a clean Debian {CHROOT_SUITE} (chroot): user ferrodns made, its Corefile sets up, the binary answers on loopback and stops on SIGTERM, the package purges"
    );
    Ok(())
}

/// Debian's name for the machine's architecture.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn write(path: &Path, body: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(d) = path.parent() {
        fs::create_dir_all(d)?;
    }
    fs::write(path, body).with_context(|| format!("write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// The binary, stripped of its symbols and debug information, at `to`.
fn install_binary(binary: &Path, to: &Path) -> Result<()> {
    if let Some(d) = to.parent() {
        fs::create_dir_all(d)?;
    }
    crate::run(
        Command::new("strip")
            .args(["--strip-unneeded", "-o"])
            .arg(to)
            .arg(binary),
    )?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(to, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// The unit as the package installs it: the binary in /usr/bin, run as
/// the package's system user.
fn unit(root: &Path) -> Result<String> {
    let u = fs::read_to_string(root.join("systemd/ferrodns.service"))?;
    if !u.contains("DynamicUser=yes") || !u.contains("/usr/local/bin/ferrodns") {
        bail!("systemd/ferrodns.service: expected DynamicUser=yes and /usr/local/bin/ferrodns");
    }
    Ok(u.replace("/usr/local/bin/ferrodns", BIN)
        .replace("DynamicUser=yes", "User=ferrodns\nGroup=ferrodns")
        .replace(
            "Documentation=file:///usr/share/doc/ferrodns/README.md",
            "Documentation=file:///usr/share/doc/ferrodns/README.md.gz",
        ))
}

const COPYRIGHT: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ferrodns
Source: https://github.com/ferrodns/ferrodns

Files: *
Copyright: 2026 the ferrodns developers
License: Apache-2.0

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be
 found in /usr/share/common-licenses/Apache-2.0.
";

const POSTINST: &str = "#!/bin/sh
set -e
if [ \"$1\" = configure ]; then
    if ! getent passwd ferrodns >/dev/null; then
        adduser --system --group --no-create-home --home /nonexistent \\
            --gecos 'ferrodns DNS server' ferrodns >/dev/null
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        deb-systemd-helper enable ferrodns.service >/dev/null || true
        # Port 53 may be taken (systemd-resolved): the package installs anyway.
        deb-systemd-invoke restart ferrodns.service || true
    fi
fi
";

const PRERM: &str = "#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ \"$1\" = remove ]; then
    deb-systemd-invoke stop ferrodns.service || true
fi
";

const POSTRM: &str = "#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ \"$1\" = purge ] && command -v deb-systemd-helper >/dev/null; then
    deb-systemd-helper purge ferrodns.service >/dev/null || true
fi
";

/// Gzips `src` to `to` (-9n, as Debian wants docs and changelogs).
fn gzip(src: &Path, to: &Path) -> Result<()> {
    let out = Command::new("gzip").args(["-9nc"]).arg(src).output()?;
    if !out.status.success() {
        bail!(
            "gzip {}: {}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fs::write(to, out.stdout)?;
    Ok(())
}

fn debian(root: &Path, binary: &Path, out: &Path) -> Result<PathBuf> {
    let name = format!("ferrodns_{VERSION}-1_{}", arch());
    let stage = out.join("stage").join(&name);
    if stage.exists() {
        fs::remove_dir_all(&stage)?;
    }
    install_binary(binary, &stage.join(BIN.trim_start_matches('/')))?;
    write(
        &stage.join("lib/systemd/system/ferrodns.service"),
        &unit(root)?,
        0o644,
    )?;
    write(
        &stage.join("lib/systemd/system/ferrodns.socket"),
        &fs::read_to_string(root.join("systemd/ferrodns.socket"))?
            .replace("README.md", "README.md.gz"),
        0o644,
    )?;
    write(
        &stage.join("etc/ferrodns/Corefile"),
        &fs::read_to_string(root.join("config/package.Corefile"))?,
        0o644,
    )?;
    let doc = stage.join("usr/share/doc/ferrodns");
    fs::create_dir_all(&doc)?;
    write(&doc.join("copyright"), COPYRIGHT, 0o644)?;
    for f in [
        "README.md",
        "docs/compat.md",
        "docs/ARCHITECTURE.md",
        "docs/reliability.md",
    ] {
        let base = Path::new(f)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        gzip(&root.join(f), &doc.join(format!("{base}.gz")))?;
    }
    let date = Command::new("date").arg("-R").output()?;
    let changelog = format!(
        "ferrodns ({VERSION}-1) unstable; urgency=medium\n\n  * Built by cargo xtask dist.\n\n -- ferrodns developers <dev@ferrodns.invalid>  {}\n",
        String::from_utf8_lossy(&date.stdout).trim()
    );
    let cl = out.join("stage/changelog.Debian");
    write(&cl, &changelog, 0o644)?;
    gzip(&cl, &doc.join("changelog.Debian.gz"))?;
    let size_kib = du_kib(&stage)?;
    let control = format!(
        "Package: ferrodns
Version: {VERSION}-1
Architecture: {}
Maintainer: ferrodns developers <dev@ferrodns.invalid>
Installed-Size: {size_kib}
Depends: libc6 (>= 2.34), libgcc-s1, adduser
Section: net
Priority: optional
Homepage: https://github.com/ferrodns/ferrodns
Description: DNS server that reads CoreDNS's Corefile
 ferrodns runs CoreDNS's plugins (cache, forward, file, hosts, template,
 rewrite, ...) from the same Corefile with the same answers, metric names
 and log lines, on one pinned worker per core with SO_REUSEPORT sockets,
 io_uring or recvmmsg, and a cache shared by every worker.
",
        arch()
    );
    let meta = stage.join("DEBIAN");
    write(&meta.join("control"), &control, 0o644)?;
    write(&meta.join("conffiles"), "/etc/ferrodns/Corefile\n", 0o644)?;
    write(&meta.join("postinst"), POSTINST, 0o755)?;
    write(&meta.join("prerm"), PRERM, 0o755)?;
    write(&meta.join("postrm"), POSTRM, 0o755)?;
    let deb = out.join(format!("{name}.deb"));
    crate::run(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zxz", "--build"])
            .arg(&stage)
            .arg(&deb),
    )?;
    Ok(deb)
}

/// What a folder's files take, in KiB (dpkg's Installed-Size).
fn du_kib(dir: &Path) -> Result<u64> {
    fn walk(d: &Path, total: &mut u64) -> Result<()> {
        for e in fs::read_dir(d)? {
            let e = e?;
            let m = e.metadata()?;
            if m.is_dir() {
                walk(&e.path(), total)?;
            } else {
                *total += m.len().div_ceil(1024);
            }
        }
        Ok(())
    }
    let mut total = 0;
    walk(dir, &mut total)?;
    Ok(total)
}

fn tarball(root: &Path, binary: &Path, out: &Path) -> Result<PathBuf> {
    let name = format!("ferrodns-{VERSION}-{}-linux-gnu", std::env::consts::ARCH);
    let stage = out.join("stage").join(&name);
    if stage.exists() {
        fs::remove_dir_all(&stage)?;
    }
    install_binary(binary, &stage.join("bin/ferrodns"))?;
    let copy = |from: &str, to: &str| -> Result<()> {
        let to = stage.join(to);
        if let Some(d) = to.parent() {
            fs::create_dir_all(d)?;
        }
        fs::copy(root.join(from), &to).with_context(|| format!("copy {from}"))?;
        Ok(())
    };
    copy("systemd/ferrodns.service", "systemd/ferrodns.service")?;
    copy("systemd/ferrodns.socket", "systemd/ferrodns.socket")?;
    copy("config/package.Corefile", "config/Corefile")?;
    copy("README.md", "README.md")?;
    for f in [
        "compat.md",
        "ARCHITECTURE.md",
        "reliability.md",
        "benchmarks.md",
    ] {
        copy(&format!("docs/{f}"), &format!("docs/{f}"))?;
    }
    let tar = out.join(format!("{name}.tar.gz"));
    crate::run(
        Command::new("tar")
            .args(["--owner=0", "--group=0", "--numeric-owner", "-czf"])
            .arg(&tar)
            .arg("-C")
            .arg(out.join("stage"))
            .arg(&name),
    )?;
    Ok(tar)
}

/// The package's metadata and contents as dpkg reads them, and lintian's
/// verdict where it is installed.
fn check_deb(deb: &Path) -> Result<()> {
    let contents = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(deb)
        .output()?;
    let listing = String::from_utf8_lossy(&contents.stdout);
    for want in [
        "./usr/bin/ferrodns",
        "./lib/systemd/system/ferrodns.service",
        "./lib/systemd/system/ferrodns.socket",
        "./etc/ferrodns/Corefile",
        "./usr/share/doc/ferrodns/copyright",
    ] {
        if !listing.lines().any(|l| l.ends_with(want)) {
            bail!("{} lacks {want}:\n{listing}", deb.display());
        }
    }
    let info = Command::new("dpkg-deb")
        .args(["--field"])
        .arg(deb)
        .arg("Version")
        .output()?;
    let version = String::from_utf8_lossy(&info.stdout).trim().to_string();
    if version != format!("{VERSION}-1") {
        bail!("{}: version {version:?}, not {VERSION}-1", deb.display());
    }
    if !crate::have("lintian") {
        println!("SKIPPED lintian: not installed (apt-get install lintian)");
        return Ok(());
    }
    let out = Command::new("lintian")
        .args(["--fail-on", "error,warning", "--suppress-tags"])
        .arg(LINTIAN_ACCEPTED.join(","))
        .arg(deb)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() {
        bail!("lintian: {}", deb.display());
    }
    println!(
        "dist: lintian clean ({} tags accepted on purpose)",
        LINTIAN_ACCEPTED.len()
    );
    Ok(())
}

/// lintian tags accepted on purpose, with why.
const LINTIAN_ACCEPTED: &[&str] = &[
    // The binary's manual is its README and `ferrodns -help`.
    "no-manual-page",
    // Not an upload to Debian: there are no Debian bugs to close.
    "initial-upload-closes-no-bugs",
];
