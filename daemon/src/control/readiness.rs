//! What `/ready` reports: the plugins of the blocks that load *ready* and
//! can tell whether they are ready (CoreDNS's `ready.Readiness`).
//!
//! A plugin that has a readiness state hands out a [`Flag`] from its handler
//! (see `Handler::readiness`) and sets it once it is ready; nothing else is
//! asked. As in CoreDNS, plugins are known by name: of two instances with the
//! same name in different blocks, the one set up last counts.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};

pub use crate::plugin::endpoint::{flag, Flag};

#[derive(Default)]
struct List {
    /// None once a plugin was seen ready and is no longer asked.
    plugins: Vec<(&'static str, Option<Flag>)>,
    /// `monitor continuously`: ask ready plugins again on every request.
    keep: bool,
}

fn list() -> &'static Mutex<List> {
    static L: OnceLock<Mutex<List>> = OnceLock::new();
    L.get_or_init(Mutex::default)
}

/// Replaces the list (on start and on every reload).
pub fn install(plugins: &[(&'static str, Flag)], continuously: bool) {
    let mut l = list().lock().unwrap_or_else(|e| e.into_inner());
    l.plugins.clear();
    l.keep = continuously;
    for (name, f) in plugins {
        match l.plugins.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = Some(Arc::clone(f)),
            None => l.plugins.push((name, Some(Arc::clone(f)))),
        }
    }
}

/// The plugins not ready yet, sorted; `Display` joins them by commas, as
/// `/ready` answers and logs them.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join(","))]
pub struct NotReady(pub Vec<&'static str>);

/// Ok when every plugin is ready; otherwise the names of those that are not.
pub fn check() -> Result<(), NotReady> {
    let mut l = list().lock().unwrap_or_else(|e| e.into_inner());
    let keep = l.keep;
    let mut not_ready: Vec<&'static str> = Vec::new();
    for (name, f) in l.plugins.iter_mut() {
        let Some(flag) = f else { continue };
        if flag.load(Ordering::Acquire) {
            if !keep {
                *f = None;
            }
        } else {
            not_ready.push(name);
        }
    }
    if not_ready.is_empty() {
        return Ok(());
    }
    not_ready.sort_unstable();
    Err(NotReady(not_ready))
}

#[cfg(test)]
pub(crate) fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static T: Mutex<()> = Mutex::new(());
    T.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_ready_and_continuously() {
        let _g = test_lock();
        let (a, b) = (flag(), flag());
        install(&[("kubernetes", a.clone()), ("forward", b.clone())], false);
        assert_eq!(check().unwrap_err().to_string(), "forward,kubernetes");
        a.store(true, Ordering::Release);
        assert_eq!(check(), Err(NotReady(vec!["forward"])));
        b.store(true, Ordering::Release);
        assert_eq!(check(), Ok(()));
        // Until ready: not asked again.
        a.store(false, Ordering::Release);
        assert_eq!(check(), Ok(()));
        install(&[("kubernetes", a.clone())], true);
        assert_eq!(check(), Err(NotReady(vec!["kubernetes"])));
        a.store(true, Ordering::Release);
        assert_eq!(check(), Ok(()));
        a.store(false, Ordering::Release);
        assert_eq!(check(), Err(NotReady(vec!["kubernetes"])));
        install(&[], false);
        assert_eq!(check(), Ok(()));
    }
}
