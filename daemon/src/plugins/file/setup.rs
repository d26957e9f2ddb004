//! `file DBFILE [ZONES...] { reload DURATION; reload_by_mtime; fallthrough [ZONES...] }`
//! (CoreDNS plugin/file/setup.go).
//!
//! Reading the tokens needs the Dispenser; everything after that (loading
//! the files, the properties, their errors) works on [`Spec`]s and is
//! tested on its own.

use super::{File, Slot, Zone};
use crate::corefile::{Directive, Dispenser, Error, Pos};
use crate::gocompat::{duration, errno, quote::quote as go_quote};
use crate::plugin::Fallthrough;
use crate::plugin::{names, BlockSetup};
use hickory_proto::rr::Name;
use std::path::PathBuf;
use std::time::Duration;

/// One `file` directive, as written.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    /// Where DBFILE is.
    pub pos: Pos,
    pub file: String,
    pub zones: Vec<String>,
    pub props: Vec<Prop>,
}

/// A line of the directive's block.
#[derive(Clone, Debug)]
pub(crate) struct Prop {
    pub pos: Pos,
    pub name: String,
    pub args: Vec<String>,
}

const DEFAULT_RELOAD: Duration = Duration::from_secs(60);

pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<File, Error> {
    let mut specs = Vec::with_capacity(ds.len());
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        if !d.next_arg() {
            return Err(d.arg_err());
        }
        let pos = d.pos().clone();
        let file = d.val().to_string();
        let zones = d.remaining_args();
        let mut props = Vec::new();
        while d.next_block() {
            let pos = d.pos().clone();
            let name = d.val().to_string();
            let args = d.remaining_args();
            props.push(Prop { pos, name, args });
        }
        specs.push(Spec {
            pos,
            file,
            zones,
            props,
        });
    }
    let file = build(&b.origins, &|n: &str| b.path(n), specs)?;
    Ok(file)
}

/// Loads the zones of every directive and builds the plugin, with
/// CoreDNS's quirks: `reload`, `reload_by_mtime` and `fallthrough` carry
/// over from one directive to the next, and once one file could not be
/// opened the zones of the later directives wait for their first reload too.
pub(crate) fn build(
    origins: &[String],
    path: &dyn Fn(&str) -> PathBuf,
    specs: Vec<Spec>,
) -> Result<File, Error> {
    let mut slots: Vec<Slot> = Vec::new();
    let mut fall = Fallthrough::default();
    let mut reload = DEFAULT_RELOAD;
    let mut by_mtime = false;
    let mut open_err: Option<(Pos, String)> = None;

    for spec in specs {
        let zones = names::host_zones(&spec.zones, origins);
        let file = path(&spec.file);
        let text = match std::fs::read(&file) {
            Ok(b) => Some(super::text(b)),
            Err(e) => {
                open_err = Some((spec.pos.clone(), errno::path_error("open", &file, &e)));
                None
            }
        };
        let first = slots.len();
        for z in &zones {
            let name = Name::from_ascii(z)
                .map_err(|e| Error::new(&spec.pos, format!("invalid zone {}: {e}", go_quote(z))))?;
            let zone = match (&text, &open_err) {
                // CoreDNS parses with serial 0 here: a zone whose serial is 0
                // fails with "no change in SOA serial".
                (Some(t), None) => Zone::parse(t, &name, &file, 0)
                    .map_err(|e| Error::new(&spec.pos, e.to_string()))?,
                _ => Zone::empty(&name),
            };
            slots.push(Slot::new(name, file.clone(), zone));
        }

        for p in &spec.props {
            match p.name.as_str() {
                "fallthrough" => fall = Fallthrough::from_args(&p.args),
                "reload" => {
                    let Some(a) = p.args.first() else {
                        return Err(Error::new(&p.pos, "reload duration value is expected"));
                    };
                    // ferrodns refuses a negative interval, on which
                    // CoreDNS's ticker would panic.
                    let parsed = match duration::parse_signed(a) {
                        Ok((false, d)) => Ok(d),
                        Ok((true, _)) => Err(duration::ParseError::Invalid(a.clone())),
                        Err(e) => Err(e),
                    };
                    reload = parsed.map_err(|e| {
                        // CoreDNS wraps this one twice.
                        Error::new(&p.pos, format!("plugin/file: plugin/file: {e}"))
                    })?;
                }
                "reload_by_mtime" => {
                    by_mtime = true;
                    // CoreDNS reads no arguments here: the next token is
                    // taken as a property.
                    if let Some(a) = p.args.first() {
                        return Err(Error::new(&p.pos, format!("unknown property '{a}'")));
                    }
                }
                // Obsolete; its arguments are ignored.
                "upstream" => {}
                other => return Err(Error::new(&p.pos, format!("unknown property '{other}'"))),
            }
        }
        for s in &mut slots[first..] {
            s.reload = reload;
            s.by_mtime = by_mtime;
        }
    }

    if let Some((pos, err)) = open_err {
        if reload.is_zero() {
            return Err(Error::new(&pos, err));
        }
        crate::log::warning(
            Some("file"),
            &format!(
                "Failed to open {}: trying again in {}",
                go_quote(&err),
                duration::format(reload)
            ),
        );
    }
    Ok(File::new(slots, fall))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pos(line: u32) -> Pos {
        Pos {
            file: Arc::from("Corefile"),
            line,
        }
    }

    fn spec(file: &str, zones: &[&str], props: &[(&str, &[&str])]) -> Spec {
        Spec {
            pos: pos(1),
            file: file.into(),
            zones: zones.iter().map(|s| s.to_string()).collect(),
            props: props
                .iter()
                .enumerate()
                .map(|(i, (n, a))| Prop {
                    pos: pos(i as u32 + 2),
                    name: n.to_string(),
                    args: a.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        }
    }

    const DB: &str = "$ORIGIN example.org.\n@ 3600 IN SOA ns.example.org. admin.example.org. 7 7200 3600 1209600 3600\n@ 3600 IN NS ns\nns 3600 IN A 192.0.2.1\n";

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (n, t) in files {
            std::fs::write(d.path().join(n), t).unwrap();
        }
        d
    }

    fn run(dir: &tempfile::TempDir, specs: Vec<Spec>) -> Result<File, Error> {
        let root = dir.path().to_path_buf();
        let origins = vec!["example.org.".to_string()];
        build(&origins, &|n: &str| root.join(n), specs)
    }

    #[test]
    fn zones_default_to_the_block() {
        let d = dir_with(&[("db", DB)]);
        let f = run(&d, vec![spec("db", &[], &[])]).unwrap();
        assert_eq!(f.origins, vec!["example.org.".to_string()]);
        assert_eq!(f.slots[0].reload, Duration::from_secs(60));
        assert_eq!(f.slots[0].data.load().serial(), Some(7));
        let f = run(&d, vec![spec("db", &["Example.ORG", "example.net"], &[])]).unwrap();
        assert_eq!(f.origins, vec!["example.org.", "example.net."]);
        // The same file for another origin: nothing at example.net but the
        // SOA (and NS) for example.org are out-of-zone. It still has none of
        // its own: CoreDNS takes any SOA.
        assert!(f.slots[1].data.load().serial().is_some());
    }

    #[test]
    fn properties() {
        let d = dir_with(&[("db", DB)]);
        let f = run(
            &d,
            vec![spec(
                "db",
                &[],
                &[
                    ("reload", &["0"]),
                    ("fallthrough", &["a.example.org"]),
                    ("upstream", &[]),
                ],
            )],
        )
        .unwrap();
        assert!(f.slots[0].reload.is_zero());
        assert!(f._reloader.is_none());
        assert!(f.fall.through("x.a.example.org."));
        assert!(!f.fall.through("b.example.org."));
        let f = run(&d, vec![spec("db", &[], &[("fallthrough", &[])])]).unwrap();
        assert!(f.fall.through("anything."));

        assert_eq!(
            run(&d, vec![spec("db", &[], &[("bogus", &["1"])])])
                .err()
                .unwrap()
                .to_string(),
            "Corefile:2: unknown property 'bogus'"
        );
        assert_eq!(
            run(&d, vec![spec("db", &[], &[("reload", &[])])])
                .err()
                .unwrap()
                .to_string(),
            "Corefile:2: reload duration value is expected"
        );
        assert_eq!(
            run(&d, vec![spec("db", &[], &[("reload", &["5"])])])
                .err()
                .unwrap()
                .to_string(),
            "Corefile:2: plugin/file: plugin/file: time: missing unit in duration \"5\""
        );
        assert_eq!(
            run(&d, vec![spec("db", &[], &[("reload", &["5x"])])])
                .err()
                .unwrap()
                .to_string(),
            "Corefile:2: plugin/file: plugin/file: time: unknown unit \"x\" in duration \"5x\""
        );
        assert_eq!(
            run(&d, vec![spec("db", &[], &[("reload_by_mtime", &["x"])])])
                .err()
                .unwrap()
                .to_string(),
            "Corefile:2: unknown property 'x'"
        );
    }

    #[test]
    fn reload_carries_over_to_later_directives() {
        let d = dir_with(&[
            ("db", DB),
            ("db2", &DB.replace("example.org.", "example.net.")),
        ]);
        let f = run(
            &d,
            vec![
                spec("db", &[], &[("reload", &["0"])]),
                spec("db2", &["example.net"], &[]),
            ],
        )
        .unwrap();
        assert!(f.slots[1].reload.is_zero());
    }

    #[test]
    fn broken_zone_is_a_setup_error() {
        let d = dir_with(&[
            (
                "bad",
                "$ORIGIN example.org.\n@ 3600 IN SOA ns admin 1 2 3 4 5\nwww 3600 IN A not-an-ip\n",
            ),
            ("nosoa", "$ORIGIN example.org.\nwww 3600 IN A 192.0.2.1\n"),
        ]);
        let e = run(&d, vec![spec("bad", &[], &[])])
            .err()
            .unwrap()
            .to_string();
        let bad = d.path().join("bad");
        assert!(
            e.starts_with(&format!(
                "Corefile:1: failed to parse file \"{}\" for origin example.org. with error ",
                bad.display()
            )),
            "{e}"
        );
        let e = run(&d, vec![spec("nosoa", &[], &[])])
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            format!(
                "Corefile:1: file \"{}\" has no SOA record for origin example.org.",
                d.path().join("nosoa").display()
            )
        );
    }

    #[test]
    fn missing_file() {
        let d = dir_with(&[("db", DB)]);
        // With reload off it is fatal.
        let e = run(&d, vec![spec("nope", &[], &[("reload", &["0"])])])
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            format!(
                "Corefile:1: open {}: no such file or directory",
                d.path().join("nope").display()
            )
        );
        // Otherwise the zone waits for the file (SERVFAIL until then), and so
        // do the zones of later directives.
        let f = run(
            &d,
            vec![spec("nope", &[], &[]), spec("db", &["example.net"], &[])],
        )
        .unwrap();
        assert_eq!(f.slots[0].data.load().serial(), None);
        assert_eq!(f.slots[1].data.load().serial(), None);
    }

    #[test]
    fn parses_directives() {
        use crate::plugins::testutil::directive;
        let d = dir_with(&[("db", DB)]);
        let mut b = BlockSetup::new(vec!["example.org.".into()]);
        b.root = Some(d.path().to_path_buf());
        let f = setup(
            &mut b,
            &[&directive(
                "file db example.org {\nreload 0\nfallthrough\n}",
            )],
        )
        .unwrap();
        assert!(f.slots[0].reload.is_zero());
        assert!(f.fall.through("x."));
        let mut b = BlockSetup::new(vec!["example.org.".into()]);
        let e = setup(&mut b, &[&directive("file")]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "Corefile:1: Wrong argument count or unexpected line ending after 'file'"
        );
        let mut b = BlockSetup::new(vec!["example.org.".into()]);
        b.root = Some(d.path().to_path_buf());
        let e = setup(&mut b, &[&directive("file db {\nfoo bar\n}")])
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "Corefile:2: unknown property 'foo'");
    }
}
