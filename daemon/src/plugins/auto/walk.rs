//! CoreDNS's `Auto.Walk`: the directory walked (sub-directories too, in
//! lexical order, symbolic links not followed into), each file whose name
//! the regex matches loaded under the origin the template makes, the
//! zones whose files are gone dropped.

use super::{State, Zones};
use crate::gocompat::errno::path_error;
use crate::gocompat::quote::quote as go_quote;
use crate::plugins::file::{reload_once, Slot, Zone};
use hickory_proto::rr::Name;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One tick: the zones loaded before are read again when their serial
/// changed (each zone's own reload in CoreDNS), then the directory walked.
pub(crate) fn tick(state: &State) {
    for slot in state.zones.load().slots.values() {
        reload_once(slot);
    }
    walk(state);
}

/// Walks the directory and swaps in the zones it finds.
pub(crate) fn walk(state: &State) {
    // Go's EvalSymlinks: a link is resolved; a plain path stays as
    // written (relative names too, as the log lines show them).
    let dir = match std::fs::symlink_metadata(&state.dir) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(&state.dir).unwrap_or_else(|_| state.dir.clone())
        }
        _ => state.dir.clone(),
    };
    let old = state.zones.load();
    let mut new = Zones::default();
    // Origin (as the template made it, fully qualified) to the file.
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    for path in files {
        let Some(base) = path.file_name().map(|b| b.to_string_lossy().into_owned()) else {
            continue;
        };
        let Some(origin) = origin_of(&state.re, &state.template, &base) else {
            continue;
        };
        let clean = PathBuf::from(crate::gocompat::path::clean(&path.to_string_lossy()));
        if let Some(previous) = seen.get(&origin) {
            if *previous != clean {
                crate::log::warning(
                    Some("auto"),
                    &format!(
                        "Multiple zone files match origin {}: using {} instead of {}",
                        go_quote(&origin),
                        go_quote(&previous.display().to_string()),
                        go_quote(&clean.display().to_string())
                    ),
                );
                continue;
            }
        }
        seen.insert(origin.clone(), clean.clone());
        let key = origin.to_ascii_lowercase();
        if new.slots.contains_key(&key) {
            continue;
        }
        if let Some(s) = old.slots.get(&key) {
            // CoreDNS's SetFile: the zone stays, read from this file now.
            let mut slot = Slot::new(s.name.clone(), clean, Zone::empty(&s.name));
            slot.data.store(s.data.load_full());
            slot.reload = s.reload;
            new.slots.insert(key.clone(), Arc::new(slot));
            new.names.push(key);
            continue;
        }
        let Some(slot) = load(&path, &clean, &origin, state) else {
            continue;
        };
        crate::log::info(
            Some("auto"),
            &format!("Inserting zone `{origin}' from: {}", path.display()),
        );
        new.slots.insert(key.clone(), Arc::new(slot));
        new.names.push(key);
    }
    let mut gone: Vec<&String> = old
        .names
        .iter()
        .filter(|n| !new.slots.contains_key(*n))
        .collect();
    gone.sort();
    for origin in gone {
        crate::log::info(Some("auto"), &format!("Deleting zone `{origin}'"));
    }
    state.added.set(new.names.clone());
    state.zones.store(Arc::new(new));
}

/// A zone file read for `origin`; None (with CoreDNS's warning) when it
/// cannot be opened or parsed.
fn load(path: &Path, clean: &Path, origin: &str, state: &State) -> Option<Slot> {
    let text = match std::fs::read(clean) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            crate::log::warning(
                Some("auto"),
                &format!(
                    "Opening {} failed: {}",
                    path.display(),
                    path_error("open", clean, &e)
                ),
            );
            return None;
        }
    };
    let parsed = Name::from_ascii(origin)
        .map_err(|e| e.to_string())
        .and_then(|name| {
            // CoreDNS parses with serial 0: a zone whose serial is 0 does
            // not load ("no change in SOA serial").
            Zone::parse(&text, &name, path, 0)
                .map(|z| (name, z))
                .map_err(|e| e.to_string())
        });
    match parsed {
        Ok((name, zone)) => {
            let mut slot = Slot::new(name, clean.to_path_buf(), zone);
            slot.reload = state.reload;
            Some(slot)
        }
        Err(e) => {
            crate::log::warning(Some("auto"), &format!("Parse zone `{origin}': {e}"));
            None
        }
    }
}

/// Every file under `dir`, as Go's `filepath.Walk` visits them: names in
/// lexical order, directories entered (symbolic links to them are files
/// here), errors logged and skipped.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            crate::log::warning(
                Some("auto"),
                &format!(
                    "error reading {}: {}",
                    dir.display(),
                    path_error("open", dir, &e)
                ),
            );
            return;
        }
    };
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for p in names {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => files_under(&p, out),
            Ok(_) => out.push(p),
            Err(_) => {}
        }
    }
}

/// The origin a file name gives (CoreDNS's `matches`): the template
/// expanded with the regex's groups, made fully qualified; None when the
/// regex does not match.
pub(crate) fn origin_of(re: &regex::Regex, template: &str, base: &str) -> Option<String> {
    let caps = re.captures(base)?;
    let mut out = String::new();
    let t = template.as_bytes();
    let mut i = 0;
    while i < t.len() {
        if t[i] != b'$' {
            let n = template[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&template[i..i + n]);
            i += n;
            continue;
        }
        // Go's Regexp.Expand: `$$`, `${name}`, `$name` (letters, digits, _).
        if t.get(i + 1) == Some(&b'$') {
            out.push('$');
            i += 2;
            continue;
        }
        let (name, next) = if t.get(i + 1) == Some(&b'{') {
            match template[i + 2..].find('}') {
                Some(end) => (&template[i + 2..i + 2 + end], i + 3 + end),
                None => ("", i + 1),
            }
        } else {
            let end = template[i + 1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(template.len(), |e| i + 1 + e);
            (&template[i + 1..end], end)
        };
        if name.is_empty() {
            out.push('$');
            i += 1;
            continue;
        }
        let value = match name.parse::<usize>() {
            Ok(n) => caps.get(n),
            Err(_) => caps.name(name),
        };
        out.push_str(value.map_or("", |m| m.as_str()));
        i = next;
    }
    Some(crate::plugin::names::fqdn(&out))
}
