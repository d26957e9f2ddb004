//! Domain name helpers working on lowercased, fully qualified text names, as
//! CoreDNS's plugin package does.

use hickory_proto::rr::Name;

/// Appends the trailing dot when missing.
pub fn fqdn(s: &str) -> String {
    if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

/// CoreDNS's `plugin.Name.Normalize`: lowercased (as Go's
/// `strings.ToLower`) and fully qualified.
pub fn normalize(name: &str) -> String {
    fqdn(&name.to_lowercase())
}

/// Is `name` equal to or below `zone`? Both lowercased and fully qualified.
pub fn is_subdomain(zone: &str, name: &str) -> bool {
    if zone == "." {
        return true;
    }
    name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

/// The longest zone in `zones` that `name` falls under (CoreDNS's `plugin.Zones.Matches`).
pub fn zone_match<'a>(zones: &'a [String], name: &str) -> Option<&'a str> {
    zones
        .iter()
        .filter(|z| is_subdomain(z, name))
        .max_by_key(|z| z.len())
        .map(String::as_str)
}

/// Plugin arguments naming zones: lowercased and fully qualified; with none
/// given, the server block's zones (CoreDNS's `plugin.OriginsFromArgsOrServerBlock`).
pub fn host_zones(args: &[String], origins: &[String]) -> Vec<String> {
    if args.is_empty() {
        return origins.to_vec();
    }
    args.iter().map(|a| fqdn(&a.to_ascii_lowercase())).collect()
}

/// miekg's presentation form of a name: `.`, space, `'`, `@`, `;`, `(`,
/// `)`, `"` and `\` escaped with a backslash, other bytes outside printable
/// ASCII as `\DDD`; case as given.
pub fn text(name: &Name) -> String {
    present(name, false)
}

/// The presentation form, lowercased (CoreDNS's `state.Name()`).
pub fn lower_text(name: &Name) -> String {
    present(name, true)
}

fn present(name: &Name, lower: bool) -> String {
    let mut s = String::with_capacity(name.len() + 1);
    for label in name.iter() {
        for &b in label {
            let b = if lower { b.to_ascii_lowercase() } else { b };
            match b {
                b'.' | b' ' | b'\'' | b'@' | b';' | b'(' | b')' | b'"' | b'\\' => {
                    s.push('\\');
                    s.push(char::from(b));
                }
                b' '..=b'~' => s.push(char::from(b)),
                _ => s.push_str(&format!("\\{b:03}")),
            }
        }
        s.push('.');
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains() {
        assert!(is_subdomain(".", "a.b."));
        assert!(is_subdomain("b.", "a.b."));
        assert!(is_subdomain("a.b.", "a.b."));
        assert!(!is_subdomain("b.", "ab."));
        assert!(!is_subdomain("a.b.", "b."));
    }

    #[test]
    fn presentation_text() {
        let n = Name::from_ascii("WWW.Example.org.").unwrap();
        assert_eq!(lower_text(&n), "www.example.org.");
        let n = Name::from_labels(vec![b"a.b".to_vec(), b"c d".to_vec(), vec![0xff]]).unwrap();
        assert_eq!(lower_text(&n), "a\\.b.c\\ d.\\255.");
        assert_eq!(lower_text(&Name::root()), ".");
        let idn = Name::from_ascii("xn--bcher-kva.example.").unwrap();
        assert_eq!(lower_text(&idn), "xn--bcher-kva.example.");
    }

    #[test]
    fn longest_match() {
        let zones = vec![
            ".".to_string(),
            "org.".to_string(),
            "example.org.".to_string(),
        ];
        assert_eq!(zone_match(&zones, "www.example.org."), Some("example.org."));
        assert_eq!(zone_match(&zones, "x.net."), Some("."));
    }
}
