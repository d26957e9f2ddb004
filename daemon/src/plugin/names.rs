//! Domain name helpers working on lowercased, fully qualified text names, as
//! CoreDNS's plugin package does.

/// Appends the trailing dot when missing.
pub fn fqdn(s: &str) -> String {
    if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    }
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
