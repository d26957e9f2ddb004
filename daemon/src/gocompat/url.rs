//! Go's `url.Parse`, as far as a `scheme://host:port` address needs it:
//! which addresses it refuses, and the `Host` it gives the others.

/// Why `url.Parse` refuses an address, in its words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("net/url: invalid control character in URL")]
    Control,
    #[error("missing protocol scheme")]
    NoScheme,
    #[error("invalid URL escape {0:?}")]
    Escape(String),
    #[error("invalid character {0:?} in host name")]
    HostChar(String),
    #[error("missing ']' in host")]
    Bracket,
    #[error("invalid IP-literal")]
    IpLiteral,
    #[error("invalid host: ParseAddr({0:?}): unable to parse IP")]
    InvalidHost(String),
    #[error("invalid port {0:?} after host")]
    Port(String),
    #[error("net/url: invalid userinfo")]
    Userinfo,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Host,
    Zone,
    /// Userinfo, path, fragment: only the escapes are checked.
    Other,
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Go's `shouldEscape` for a host or zone.
fn host_escapes(c: u8) -> bool {
    !(c.is_ascii_alphanumeric() || b"!$&'()*+,;=:[]<>\"-_.~".contains(&c))
}

/// Go's `unescape`: the text with `%XX` decoded, or why not.
fn unescape(s: &str, mode: Mode) -> Result<String, UrlError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len() || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                    let end = (i + 3).min(b.len());
                    return Err(UrlError::Escape(
                        String::from_utf8_lossy(&b[i..end]).into_owned(),
                    ));
                }
                let esc = &s[i..i + 3];
                let v = unhex(b[i + 1]) << 4 | unhex(b[i + 2]);
                // A host escapes only bytes past ASCII (and `%25`); a zone
                // anything but what a host could write as it is.
                let bad = match mode {
                    Mode::Host => unhex(b[i + 1]) < 8 && esc != "%25",
                    Mode::Zone => esc != "%25" && v != b' ' && host_escapes(v),
                    Mode::Other => false,
                };
                if bad {
                    return Err(UrlError::Escape(esc.to_string()));
                }
                out.push(v);
                i += 3;
            }
            c => {
                if mode != Mode::Other && c < 0x80 && host_escapes(c) {
                    return Err(UrlError::HostChar((c as char).to_string()));
                }
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn valid_optional_port(p: &str) -> bool {
    p.is_empty() || (p.starts_with(':') && p[1..].bytes().all(|c| c.is_ascii_digit()))
}

/// Go's `parseHost` (for a scheme other than http and https).
fn parse_host(host: &str) -> Result<String, UrlError> {
    match host.rfind('[') {
        Some(i) if i > 0 => Err(UrlError::IpLiteral),
        Some(_) => {
            let close = host.rfind(']').ok_or(UrlError::Bracket)?;
            let colon_port = &host[close + 1..];
            if !valid_optional_port(colon_port) {
                return Err(UrlError::Port(colon_port.to_string()));
            }
            let inner = &host[1..close];
            let name = match inner.find("%25") {
                Some(z) => unescape(&inner[..z], Mode::Host)? + &unescape(&inner[z..], Mode::Zone)?,
                None => unescape(inner, Mode::Host)?,
            };
            let addr = name.split('%').next().unwrap_or("");
            match addr.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(_)) => return Err(UrlError::IpLiteral),
                Ok(_) => {}
                Err(_) => return Err(UrlError::InvalidHost(name)),
            }
            Ok(format!("[{name}]{colon_port}"))
        }
        None => {
            // Colons past the first are the host's own (Go keeps them for
            // schemes other than http and https): the port follows the last.
            if let Some(i) = host.rfind(':') {
                let colon_port = &host[i..];
                if !valid_optional_port(colon_port) {
                    return Err(UrlError::Port(colon_port.to_string()));
                }
            }
            unescape(host, Mode::Host)
        }
    }
}

fn valid_userinfo(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&c) || c >= 0x80)
}

/// `url.Parse(raw).Host` for an address with a scheme and an authority
/// (`tcp://127.0.0.1:6000`).
pub fn host(raw: &str) -> Result<String, UrlError> {
    if raw.bytes().any(|c| c < 0x20 || c == 0x7f) {
        return Err(UrlError::Control);
    }
    let (u, frag) = raw.split_once('#').unwrap_or((raw, ""));
    let Some((_, rest)) = u.split_once("://") else {
        return Err(UrlError::NoScheme);
    };
    let rest = match rest.strip_suffix('?') {
        Some(r) if !r.contains('?') => r,
        _ => rest.split_once('?').map_or(rest, |(r, _)| r),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = match authority.rfind('@') {
        None => parse_host(authority)?,
        Some(i) => {
            let h = parse_host(&authority[i + 1..])?;
            let user = &authority[..i];
            if !valid_userinfo(user) {
                return Err(UrlError::Userinfo);
            }
            for part in user.splitn(2, ':') {
                unescape(part, Mode::Other)?;
            }
            h
        }
    };
    unescape(path, Mode::Other)?;
    unescape(frag, Mode::Other)?;
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_as_go_gives_them() {
        let ok = |s: &str| host(s).unwrap();
        assert_eq!(ok("tcp://127.0.0.1:6000"), "127.0.0.1:6000");
        assert_eq!(ok("tcp://example.com:6000/path?q#f"), "example.com:6000");
        assert_eq!(ok("tcp://example.com"), "example.com");
        assert_eq!(ok("tcp://[::1]:6000"), "[::1]:6000");
        assert_eq!(ok("tcp://[fe80::1%25eth0]:6000"), "[fe80::1%eth0]:6000");
        assert_eq!(ok("tcp://user:pw@h:1"), "h:1");
        assert_eq!(ok("tls://h%C3%A9:1"), "hé:1");
        assert_eq!(ok("tcp://a:b:1"), "a:b:1");
        assert_eq!(ok("tcp://h:"), "h:");
        assert_eq!(ok("tcp://"), "");
    }

    #[test]
    fn what_go_refuses() {
        let e = |s: &str| host(s).unwrap_err().to_string();
        assert_eq!(e("tcp://[::1"), "missing ']' in host");
        assert_eq!(e("tcp://h:x"), "invalid port \":x\" after host");
        assert_eq!(e("tcp://[::1]x"), "invalid port \"x\" after host");
        assert_eq!(e("tcp://[1.2.3.4]:1"), "invalid IP-literal");
        assert_eq!(e("tcp://a[::1]:1"), "invalid IP-literal");
        assert_eq!(
            e("tcp://[zz]:1"),
            "invalid host: ParseAddr(\"zz\"): unable to parse IP"
        );
        assert_eq!(e("tcp://h%zz:1"), "invalid URL escape \"%zz\"");
        assert_eq!(e("tcp://h%41:1"), "invalid URL escape \"%41\"");
        assert_eq!(e("tcp://h{:1"), "invalid character \"{\" in host name");
        assert_eq!(e("tcp://u^@h:1"), "net/url: invalid userinfo");
        assert_eq!(e("tcp://h:1/%"), "invalid URL escape \"%\"");
        assert_eq!(e("tcp://h:1#%g"), "invalid URL escape \"%g\"");
        assert_eq!(
            e("tcp://h\u{7f}:1"),
            "net/url: invalid control character in URL"
        );
    }
}
