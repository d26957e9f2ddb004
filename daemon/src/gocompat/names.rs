//! miekg/dns's checks on domain names in presentation form, which CoreDNS
//! applies to names in a Corefile.

/// miekg's `IsDomainName`: labels of at most 63 octets, at most 255 in
/// all, no empty label except the root, escapes counted as one octet.
pub fn is_domain_name(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    let mut s = s.to_string();
    if !is_fqdn(&s) {
        s.push('.');
    }
    let b = s.as_bytes();
    let (mut off, mut begin, mut was_dot, mut escape) = (0usize, 0usize, false, false);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                escape = !escape;
                if off + 1 > 256 {
                    return false;
                }
                let ddd = b.len() > i + 3 && b[i + 1..i + 4].iter().all(u8::is_ascii_digit);
                if ddd {
                    i += 3;
                    begin += 3;
                } else {
                    i += 1;
                    begin += 1;
                }
                was_dot = false;
            }
            b'.' => {
                escape = false;
                if i == 0 && b.len() > 1 || was_dot {
                    return false;
                }
                was_dot = true;
                let label = i - begin;
                if label >= 64 {
                    return false;
                }
                off += 1 + label;
                if off > 256 {
                    return false;
                }
                begin = i + 1;
            }
            _ => {
                escape = false;
                was_dot = false;
            }
        }
        i += 1;
    }
    !escape
}

/// Ends in a dot that is not escaped (miekg's `IsFqdn`).
pub fn is_fqdn(s: &str) -> bool {
    let Some(body) = s.strip_suffix('.') else {
        return false;
    };
    let slashes = body.bytes().rev().take_while(|&b| b == b'\\').count();
    slashes % 2 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names() {
        assert!(is_domain_name("a.example.org."));
        assert!(is_domain_name("a.example.org"));
        assert!(is_domain_name("."));
        assert!(!is_domain_name(""));
        assert!(!is_domain_name("a..org."));
        assert!(!is_domain_name(".a.org."));
        assert!(!is_domain_name(&format!("{}.org.", "x".repeat(64))));
        assert!(is_domain_name(&format!("{}.org.", "x".repeat(63))));
        assert!(is_domain_name("a\\.b.org."));
    }

    #[test]
    fn fqdn() {
        assert!(is_fqdn("a."));
        assert!(!is_fqdn("a"));
        assert!(!is_fqdn("a\\."));
        assert!(is_fqdn("a\\\\."));
    }
}
