//! Re-reading zone files (CoreDNS plugin/file/reload.go): every `reload`
//! interval the file is parsed again and the zone swapped in when its SOA
//! serial changed. One thread per plugin instance and interval serves its zones.

use super::{LoadError, Slot, Zone};
use crate::gocompat::errno::path_error;
use crate::gocompat::quote::quote as go_quote;
use crate::gocompat::reload::Periodic;
use std::sync::Arc;
use std::time::Duration;

/// Owns the reload threads (one per interval in use): dropping it stops them.
pub struct Reloader {
    _threads: Vec<Periodic>,
}

impl Reloader {
    /// Starts the threads for the slots whose interval is not zero; None
    /// when there are none.
    pub fn start(slots: Vec<Arc<Slot>>) -> Option<Self> {
        let mut by_interval: Vec<(Duration, Vec<Arc<Slot>>)> = Vec::new();
        for s in slots.into_iter().filter(|s| !s.reload.is_zero()) {
            match by_interval.iter_mut().find(|(every, _)| *every == s.reload) {
                Some((_, group)) => group.push(s),
                None => by_interval.push((s.reload, vec![s])),
            }
        }
        let mut threads = Vec::new();
        for (every, group) in by_interval {
            match Periodic::start("file-reload", every, move || {
                group.iter().for_each(|s| reload_once(s))
            }) {
                Ok(p) => threads.push(p),
                Err(e) => crate::log::error(
                    Some("file"),
                    &format!("Failed to start the zone reload thread: {e}"),
                ),
            }
        }
        (!threads.is_empty()).then_some(Self { _threads: threads })
    }
}

/// One tick for one zone.
pub(crate) fn reload_once(s: &Slot) {
    let file = &s.file;
    let origin = go_quote(&s.origin);
    let fname = go_quote(&file.display().to_string());
    let mut serial = s.data.load().serial().map_or(-1, i64::from);
    if s.by_mtime {
        // CoreDNS never records the file's mtime, so every tick reloads
        // (unless the new serial is 0).
        if let Err(e) = std::fs::metadata(file) {
            crate::log::error(
                Some("file"),
                &format!(
                    "Failed to stat zone {origin} in {fname}: {}",
                    path_error("stat", file, &e)
                ),
            );
            return;
        }
        serial = 0;
    }
    let text = match std::fs::read(file) {
        Ok(b) => super::text(b),
        Err(e) => {
            crate::log::error(
                Some("file"),
                &format!(
                    "Failed to open zone {origin} in {fname}: {}",
                    path_error("open", file, &e)
                ),
            );
            return;
        }
    };
    match Zone::parse(&text, &s.name, file, serial) {
        Ok(z) => {
            let new_serial = z.serial().unwrap_or(0);
            s.data.store(Arc::new(z));
            crate::log::info(
                Some("file"),
                &format!(
                    "Successfully reloaded zone {origin} in {fname} with {new_serial} SOA serial"
                ),
            );
        }
        Err(LoadError::NoChange { .. }) => {}
        Err(e) => {
            crate::log::error(Some("file"), &format!("Parsing zone {origin}: {e}"));
        }
    }
}
