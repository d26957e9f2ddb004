//! Process log lines in CoreDNS's format: `[LEVEL] plugin/NAME: message`,
//! on standard output, no timestamp (CoreDNS sets Go's log flags to 0).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);

/// Turns `[DEBUG]` lines on (the `debug` plugin in any server block).
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Fatal,
}

impl Level {
    fn prefix(self) -> &'static str {
        match self {
            Level::Debug => "[DEBUG] ",
            Level::Info => "[INFO] ",
            Level::Warning => "[WARNING] ",
            Level::Error => "[ERROR] ",
            Level::Fatal => "[FATAL] ",
        }
    }
}

/// Writes one line. `plugin` adds CoreDNS's `plugin/NAME: ` prefix.
pub fn line(level: Level, plugin: Option<&str>, msg: &str) {
    if level == Level::Debug && !debug_enabled() {
        return;
    }
    let mut s = String::with_capacity(msg.len() + 32);
    s.push_str(level.prefix());
    if let Some(p) = plugin {
        s.push_str("plugin/");
        s.push_str(p);
        s.push_str(": ");
    }
    s.push_str(msg);
    s.push('\n');
    // A closed stdout must not take the server down.
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

/// A line as Go's standard logger writes it, with no level (caddy's own
/// lines, such as a failed `on` hook).
pub fn raw(msg: &str) {
    let _ = std::io::stdout()
        .lock()
        .write_all(format!("{msg}\n").as_bytes());
}

pub fn info(plugin: Option<&str>, msg: &str) {
    line(Level::Info, plugin, msg)
}

pub fn warning(plugin: Option<&str>, msg: &str) {
    line(Level::Warning, plugin, msg)
}

pub fn error(plugin: Option<&str>, msg: &str) {
    line(Level::Error, plugin, msg)
}
