//! Re-reading zone files (CoreDNS plugin/file/reload.go): every `reload`
//! interval the file is parsed again and the zone swapped in when its SOA
//! serial changed. One thread per plugin instance serves all its zones.

use super::{LoadError, Slot, Zone};
use crate::gocompat::errno::path_error;
use crate::gocompat::quote::quote as go_quote;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Instant;

/// Owns the reload thread: dropping it stops the thread.
pub struct Reloader {
    _stop: Sender<()>,
}

impl Reloader {
    /// Starts the thread for the slots whose interval is not zero; None when
    /// there are none.
    pub fn start(slots: Vec<Arc<Slot>>) -> Option<Self> {
        let slots: Vec<Arc<Slot>> = slots.into_iter().filter(|s| !s.reload.is_zero()).collect();
        if slots.is_empty() {
            return None;
        }
        let (tx, rx) = mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("file-reload".into())
            .spawn(move || {
                let start = Instant::now();
                let mut due: Vec<Instant> = slots.iter().map(|s| start + s.reload).collect();
                loop {
                    let next = due.iter().min().copied().unwrap_or(start);
                    let wait = next.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => {}
                        // The plugin is gone (or asked us to stop).
                        _ => return,
                    }
                    let now = Instant::now();
                    for (s, d) in slots.iter().zip(due.iter_mut()) {
                        if *d <= now {
                            reload_once(s);
                            *d = Instant::now() + s.reload;
                        }
                    }
                }
            });
        match spawned {
            Ok(_) => Some(Self { _stop: tx }),
            Err(e) => {
                crate::log::error(
                    Some("file"),
                    &format!("Failed to start the zone reload thread: {e}"),
                );
                None
            }
        }
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
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
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
