//! The `on` directive: `on startup|shutdown|certrenew COMMAND [ARGS...] [&]`.

use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::shlex;
use crate::plugin::registry::{Event, When};
use crate::plugin::BlockSetup;

/// Each `on` line is one event: its name (any case), then the command line,
/// whose words the Corefile's lexer read are joined with spaces and split
/// again as a shell would (google/shlex, as caddy does). A last word `&`
/// runs the command without waiting for it.
/// Its errors are caddy's own, with no `plugin/on: ` before them.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    events(b, ds).map_err(crate::plugin::registry::bare)
}

fn events(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        if !d.next_arg() {
            return Err(d.arg_err());
        }
        let when = match d.val().to_ascii_lowercase().as_str() {
            "startup" => When::Startup,
            "shutdown" => When::Shutdown,
            "certrenew" => When::CertRenew,
            _ => {
                return Err(d.err(format!(
                    "Wrong event name or event not supported: '{}'",
                    d.val()
                )))
            }
        };
        let line = d.remaining_args().join(" ");
        let mut words = shlex::split(&line)
            .map_err(|e| d.err(format!("error parsing command: {e}")))?
            .into_iter();
        let Some(command) = words.next() else {
            return Err(d.err(format!("no command contained in '{line}'")));
        };
        let mut args: Vec<String> = words.collect();
        let background = args.last().is_some_and(|a| a == "&");
        if background {
            args.pop();
        }
        b.events.push(Event {
            when,
            command,
            args,
            background,
            id: new_id(),
        });
    }
    Ok(())
}

/// A random UUID (version 4), as caddy names each hook.
fn new_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directive;

    fn parse(lines: &[&str]) -> Result<Vec<Event>, Error> {
        let mut b = BlockSetup::new(vec![".".into()]);
        let ds: Vec<Directive> = lines.iter().map(|l| directive(l)).collect();
        setup(&mut b, &ds.iter().collect::<Vec<_>>())?;
        Ok(b.events)
    }

    #[test]
    fn events() {
        let e = parse(&[
            "on startup echo hello world",
            "on SHUTDOWN /bin/sh -c \"sleep 1; echo bye\" &",
            "on certrenew true",
        ])
        .unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].when, When::Startup);
        assert_eq!(
            (e[0].command.as_str(), e[0].args.as_slice()),
            ("echo", &["hello".to_string(), "world".into()][..])
        );
        assert!(!e[0].background);
        assert_eq!(e[1].when, When::Shutdown);
        // The lexer took the quotes; the words were joined and split again.
        assert_eq!(e[1].command, "/bin/sh");
        assert_eq!(e[1].args, ["-c", "sleep", "1;", "echo", "bye"]);
        assert!(e[1].background);
        assert_eq!(e[2].when, When::CertRenew);
        assert_ne!(e[0].id, e[1].id);
        assert_eq!(e[0].id.len(), 36);
        assert_eq!(&e[0].id[14..15], "4");
    }

    #[test]
    fn errors_as_caddy_words_them() {
        for (line, want) in [
            (
                "on",
                "Corefile:1: Wrong argument count or unexpected line ending after 'on'",
            ),
            (
                "on boot echo",
                "Corefile:1: Wrong event name or event not supported: 'boot'",
            ),
            ("on startup", "Corefile:1: no command contained in ''"),
            (
                "on startup echo 'open",
                "Corefile:1: error parsing command: EOF found when expecting closing quote",
            ),
        ] {
            let e = parse(&[line])
                .err()
                .unwrap_or_else(|| panic!("{line} parsed"));
            assert_eq!(e.to_string(), want, "{line}");
        }
    }
}
