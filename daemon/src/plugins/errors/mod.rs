//! errors: logs the errors plugins further down the chain report, with
//! `consolidate` to fold repeated ones into one line per period.

mod setup;

pub use setup::setup;

use crate::gocompat::duration;
use crate::log::Level;
use crate::plugin::{Action, Outcome, Request};
use crate::plugin::{Fast, Plugin};
use regex::Regex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Errors {
    patterns: Vec<Arc<Pattern>>,
}

impl Plugin for Errors {
    fn name(&self) -> &'static str {
        "errors"
    }

    fn response(&self, req: &Request, out: &mut Outcome) {
        let Some(err) = &out.error else { return };
        let text = err.to_string();
        let mut level = Level::Error;
        for p in &self.patterns {
            if p.regex.is_match(&text) {
                if p.consolidate() {
                    return;
                }
                level = p.level;
                break;
            }
        }
        let rcode = u16::from(out.rcode);
        let msg = format!("{rcode} {} {}: {text}", req.name, req.qtype());
        crate::log::line(level, Some("errors"), &msg);
    }

    fn query(&self, _req: &mut Request) -> Action {
        Action::Watch
    }

    fn fast(&self) -> Fast {
        Fast::Pass
    }
}

struct Pattern {
    period: Duration,
    regex: Regex,
    level: Level,
    show_first: bool,
    count: AtomicU32,
}

impl Pattern {
    /// Counts one error; true when the caller must not log it itself.
    fn consolidate(self: &Arc<Self>) -> bool {
        if self.count.fetch_add(1, Ordering::AcqRel) == 0 {
            // The first error of a period starts the period's timer, as
            // CoreDNS's time.AfterFunc does; at most one per pattern at a time.
            let me = Arc::clone(self);
            std::thread::Builder::new()
                .name("errors-consolidate".into())
                .spawn(move || {
                    std::thread::sleep(me.period);
                    me.flush();
                })
                .map(drop)
                .unwrap_or_else(|e| {
                    crate::log::error(Some("errors"), &format!("consolidate timer: {e}"))
                });
            return !self.show_first;
        }
        true
    }

    fn flush(&self) {
        let n = self.count.swap(0, Ordering::AcqRel);
        if n > 1 || (n == 1 && !self.show_first) {
            let msg = format!(
                "{n} errors like '{}' occurred in last {}",
                self.regex.as_str(),
                duration::format(self.period)
            );
            crate::log::line(self.level, Some("errors"), &msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consolidation_counts() {
        let p = Arc::new(Pattern {
            period: Duration::from_secs(3600),
            regex: Regex::new("x").unwrap(),
            level: Level::Error,
            show_first: true,
            count: AtomicU32::new(0),
        });
        assert!(!p.consolidate(), "show_first logs the first one");
        assert!(p.consolidate());
        assert!(p.consolidate());
        assert_eq!(p.count.load(Ordering::Relaxed), 3);
    }
}
