//! `hosts [FILE [ZONES...]] { INLINE... ttl no_reverse reload fallthrough
//! fallthrough_unsupported }`, checked as CoreDNS's `hostsParse` does.

use super::{Config, Hosts, Hostsfile, DEFAULT_RELOAD, DEFAULT_TTL};
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::{duration, errno, strconv};
use crate::plugin::registry::only_once;
use crate::plugin::{names, BlockSetup, Fallthrough};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Hosts, Error> {
    let c = parse(b, ds)?;
    Ok(Hosts::new(c))
}

fn parse(b: &BlockSetup, ds: &[&Directive]) -> Result<Config, Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let args = d.remaining_args();
    let mut path = PathBuf::from("/etc/hosts");
    let mut zone_args: &[String] = &[];
    if let Some((first, rest)) = args.split_first() {
        path = b.path(first);
        zone_args = rest;
        check_file(&path).map_err(|e| d.err(e.to_string()))?;
    }
    let zones = names::host_zones(zone_args, &b.origins);

    let mut ttl = DEFAULT_TTL;
    let mut reload = DEFAULT_RELOAD;
    let mut auto_reverse = true;
    let mut fall = Fallthrough::default();
    let mut fall_unsupported = false;
    let mut inline: Vec<String> = Vec::new();
    while d.next_block() {
        match d.val() {
            "fallthrough" => fall = Fallthrough::from_args(&d.remaining_args()),
            "fallthrough_unsupported" => {
                if !d.remaining_args().is_empty() {
                    return Err(d.arg_err());
                }
                fall_unsupported = true;
            }
            // Takes no arguments, and leaves any on the line to be read as
            // the next property, as CoreDNS does.
            "no_reverse" => auto_reverse = false,
            "ttl" => {
                let rest = d.remaining_args();
                let Some(first) = rest.first() else {
                    return Err(d.err("ttl needs a time in second"));
                };
                ttl = parse_ttl(first).map_err(|m| d.err(m))?;
            }
            "reload" => {
                let rest = d.remaining_args();
                let [arg] = rest.as_slice() else {
                    return Err(d.err("reload needs a duration (zero seconds to disable)"));
                };
                reload = parse_reload(arg).map_err(|e| d.err(e.to_string()))?;
            }
            other => {
                // Lines before any `fallthrough` are hosts file content.
                if fall.is_set() {
                    return Err(d.err(format!("unknown property '{other}'")));
                }
                let mut line = vec![other.to_string()];
                line.extend(d.remaining_args());
                inline.push(line.join(" "));
            }
        }
    }
    // CoreDNS checks this when it reaches the second occurrence, after the first.
    only_once(ds)?;
    if fall_unsupported && !fall.is_set() {
        let last = ds[0].tokens.last().map_or(ds[0].pos(), |t| &t.pos);
        return Err(Error::new(
            last,
            "fallthrough_unsupported requires fallthrough",
        ));
    }

    let file = Hostsfile::new(path, zones.clone(), auto_reverse);
    let inline = file.parse(inline.join("\n").as_bytes());
    Ok(Config {
        file: Arc::new(file),
        inline,
        zones,
        ttl,
        fall,
        fall_unsupported,
        reload,
    })
}

/// A hosts file that could not be stat'ed; `Display` is CoreDNS's wording.
#[derive(Debug, thiserror::Error)]
#[error(
    "unable to access hosts file '{}': stat {}: {}",
    .path.display(),
    .path.display(),
    errno::text(.err)
)]
struct FileError {
    path: PathBuf,
    err: std::io::Error,
}

/// A named hosts file that is missing or a directory is only warned about;
/// any other failure to stat it is an error.
fn check_file(path: &Path) -> Result<(), FileError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            crate::log::warning(
                Some("hosts"),
                &format!("Hosts file {:?} is a directory", path.display().to_string()),
            );
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::log::warning(
                Some("hosts"),
                &format!("File does not exist: {}", path.display()),
            );
            Ok(())
        }
        Err(err) => Err(FileError {
            path: path.to_path_buf(),
            err,
        }),
    }
}

/// `ttl SECONDS`: Go's `strconv.Atoi`, then 1 to 65535.
fn parse_ttl(s: &str) -> Result<u32, &'static str> {
    let n = strconv::atoi(s).map_err(|_| "ttl needs a number of second")?;
    if n <= 0 || n > 65535 {
        return Err("ttl provided is invalid");
    }
    Ok(n as u32)
}

/// What is wrong with `reload`'s duration; `Display` is CoreDNS's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum ReloadError {
    #[error("invalid negative duration for reload '{0}'")]
    Negative(String),
    #[error("invalid duration for reload '{0}'")]
    Invalid(String),
}

/// `reload DURATION`: Go's `time.ParseDuration`, not negative; 0 disables.
fn parse_reload(s: &str) -> Result<Duration, ReloadError> {
    match duration::parse_signed(s) {
        Ok((false, d)) => Ok(d),
        Ok((true, _)) => Err(ReloadError::Negative(s.to_string())),
        Err(_) => Err(ReloadError::Invalid(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directive;

    #[test]
    fn ttl_values() {
        assert_eq!(parse_ttl("3600"), Ok(3600));
        assert_eq!(parse_ttl("+1"), Ok(1));
        assert_eq!(parse_ttl("65535"), Ok(65535));
        assert_eq!(parse_ttl("0"), Err("ttl provided is invalid"));
        assert_eq!(parse_ttl("-1"), Err("ttl provided is invalid"));
        assert_eq!(parse_ttl("65536"), Err("ttl provided is invalid"));
        assert_eq!(parse_ttl("1s"), Err("ttl needs a number of second"));
        assert_eq!(
            parse_ttl("99999999999999999999"),
            Err("ttl needs a number of second")
        );
    }

    #[test]
    fn reload_values() {
        assert_eq!(parse_reload("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_reload("0"), Ok(Duration::ZERO));
        assert_eq!(parse_reload("-0"), Ok(Duration::ZERO));
        assert_eq!(parse_reload("+300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_reload("1.5h"), Ok(Duration::from_secs(5400)));
        let err = |s: &str| parse_reload(s).unwrap_err().to_string();
        assert_eq!(err("-1s"), "invalid negative duration for reload '-1s'");
        assert_eq!(err("5"), "invalid duration for reload '5'");
        assert_eq!(err("-"), "invalid duration for reload '-'");
    }

    fn config(text: &str) -> Result<Config, Error> {
        let b = BlockSetup::new(vec!["example.org.".into()]);
        let dir = directive(text);
        parse(&b, &[&dir])
    }

    #[test]
    fn parses_directive() {
        let c = config("hosts").unwrap();
        assert_eq!(c.file.path, PathBuf::from("/etc/hosts"));
        assert_eq!(c.zones, vec!["example.org.".to_string()]);
        assert_eq!(c.ttl, 3600);
        assert_eq!(c.reload, Duration::from_secs(5));
        assert!(!c.fall.is_set());

        let c = config("hosts /nonexistent/hosts Miek.nl pun.gent.").unwrap();
        assert_eq!(c.file.path, PathBuf::from("/nonexistent/hosts"));
        assert_eq!(c.zones, vec!["miek.nl.".to_string(), "pun.gent.".into()]);

        let c = config(
            "hosts /nonexistent {\n10.0.0.1 a.example.org b.example.org\nttl 60\nreload 0\nno_reverse\nfallthrough\n}",
        )
        .unwrap();
        assert_eq!(c.ttl, 60);
        assert_eq!(c.reload, Duration::ZERO);
        assert!(c.fall.through("x.example.org."));
        assert_eq!(
            c.inline.v4("b.example.org."),
            &["10.0.0.1".parse::<std::net::Ipv4Addr>().unwrap()]
        );
        assert!(c.inline.names(&"10.0.0.1".parse().unwrap()).is_empty());

        let c = config("hosts {\nfallthrough a.example.org\nfallthrough_unsupported\n}").unwrap();
        assert!(c.fall_unsupported);
        assert!(c.fall.through("x.a.example.org."));
        assert!(!c.fall.through("b.example.org."));
    }

    #[test]
    fn directive_errors() {
        let err = |t: &str| config(t).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            err("hosts {\nttl\n}"),
            "Corefile:2: ttl needs a time in second"
        );
        assert_eq!(
            err("hosts {\nttl x\n}"),
            "Corefile:2: ttl needs a number of second"
        );
        assert_eq!(
            err("hosts {\nttl 0\n}"),
            "Corefile:2: ttl provided is invalid"
        );
        assert_eq!(
            err("hosts {\nttl 65536\n}"),
            "Corefile:2: ttl provided is invalid"
        );
        assert_eq!(
            err("hosts {\nreload\n}"),
            "Corefile:2: reload needs a duration (zero seconds to disable)"
        );
        assert_eq!(
            err("hosts {\nreload 5\n}"),
            "Corefile:2: invalid duration for reload '5'"
        );
        assert_eq!(
            err("hosts {\nreload -5s\n}"),
            "Corefile:2: invalid negative duration for reload '-5s'"
        );
        assert_eq!(
            err("hosts {\nfallthrough\n10.0.0.1 example.org\n}"),
            "Corefile:3: unknown property '10.0.0.1'"
        );
        assert_eq!(
            err("hosts {\nfallthrough_unsupported\n}"),
            "Corefile:3: fallthrough_unsupported requires fallthrough"
        );
        assert!(err("hosts {\nfallthrough\nfallthrough_unsupported x\n}")
            .contains("Wrong argument count"));
        // Inline lines before fallthrough are fine.
        assert!(config("hosts {\n10.0.0.1 example.org\nfallthrough\n}").is_ok());
    }

    #[test]
    fn unreadable_file_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("file");
        std::fs::write(&file, "").unwrap();
        // A path through a plain file: stat fails with ENOTDIR.
        let p = file.join("hosts");
        assert_eq!(
            check_file(&p).unwrap_err().to_string(),
            format!(
                "unable to access hosts file '{}': stat {}: not a directory",
                p.display(),
                p.display()
            )
        );
        assert_eq!(
            config(&format!("hosts {}", p.display()))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
            format!(
                "Corefile:1: unable to access hosts file '{}': stat {}: not a directory",
                p.display(),
                p.display()
            )
        );
        // Missing files and directories are only warned about.
        assert!(check_file(&d.path().join("missing")).is_ok());
        assert!(check_file(d.path()).is_ok());
    }

    #[test]
    fn relative_file_under_root_and_handler_added() {
        let mut b = BlockSetup::new(vec![".".into()]);
        b.root = Some(PathBuf::from("/nonexistent/root"));
        let dir = directive("hosts my.hosts {\nreload 0\n}");
        let c = parse(&b, &[&dir]).unwrap();
        assert_eq!(c.file.path, PathBuf::from("/nonexistent/root/my.hosts"));
        assert_eq!(
            crate::plugin::Plugin::name(&setup(&mut b, &[&dir]).unwrap()),
            "hosts"
        );
    }

    #[test]
    fn only_once_per_block() {
        let b = BlockSetup::new(vec![".".into()]);
        let one = directive("hosts /nonexistent {\nreload 0\n}");
        let two = directive("\n\n\nhosts /nonexistent");
        let e = parse(&b, &[&one, &two]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "Corefile:4: this plugin can only be used once per Server Block"
        );
    }
}
