//! The little of HTTP/1.1 the endpoints need: a request head parsed, a
//! response written the way Go's net/http writes it.

use std::time::{SystemTime, UNIX_EPOCH};

/// The largest request head read before answering 431.
pub const MAX_HEAD: usize = 8192;

#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The path, without query string (absolute-form targets reduced to it).
    pub path: String,
    /// HTTP/1.1 or later.
    pub http11: bool,
    pub keep_alive: bool,
    pub content_length: usize,
    pub chunked: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a complete head yet.
    Partial,
    Bad(&'static str),
}

/// The end of the head (`\r\n\r\n` or `\n\n`) in `buf`, if there.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    for i in 0..buf.len() {
        if buf[i..].starts_with(b"\r\n\r\n") {
            return Some(i + 4);
        }
        if buf[i..].starts_with(b"\n\n") {
            return Some(i + 2);
        }
    }
    None
}

/// Parses a request head (up to and including the empty line).
pub fn parse(buf: &[u8]) -> Result<Head, ParseError> {
    let end = head_end(buf).ok_or(ParseError::Partial)?;
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| ParseError::Bad("malformed"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Bad("malformed HTTP request"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ParseError::Bad("invalid method"));
    }
    let (major, minor) = version
        .strip_prefix("HTTP/")
        .and_then(|v| v.split_once('.'))
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .ok_or(ParseError::Bad("malformed HTTP version"))?;
    if major != 1 {
        return Err(ParseError::Bad("unsupported HTTP version"));
    }
    let http11 = minor >= 1;
    let mut path = target;
    if let Some(rest) = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        path = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    if !path.starts_with('/') && path != "*" {
        return Err(ParseError::Bad("invalid request target"));
    }
    let path = path.split(['?', '#']).next().unwrap_or(path).to_string();
    let mut keep_alive = http11;
    let mut content_length = 0usize;
    let mut chunked = false;
    let mut host = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(ParseError::Bad("malformed MIME header line"))?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(ParseError::Bad("malformed MIME header line"));
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") && !http11 {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            content_length = value
                .parse()
                .map_err(|_| ParseError::Bad("bad Content-Length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        } else if name.eq_ignore_ascii_case("host") {
            host = true;
        }
    }
    if http11 && !host {
        return Err(ParseError::Bad("missing required Host header"));
    }
    Ok(Head {
        method: method.to_string(),
        path,
        http11,
        keep_alive,
        content_length,
        chunked,
    })
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub nosniff: bool,
}

pub const TEXT: &str = "text/plain; charset=utf-8";

impl Response {
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type: TEXT,
            body: body.into(),
            nosniff: false,
        }
    }

    /// Go's `http.NotFound`.
    pub fn not_found() -> Self {
        Self {
            nosniff: true,
            ..Self::text(404, "404 page not found\n")
        }
    }

    /// The bytes to send; no body for HEAD requests.
    pub fn encode(&self, head_only: bool, close: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type
        );
        if self.nosniff {
            out.push_str("X-Content-Type-Options: nosniff\r\n");
        }
        out.push_str(&format!("Date: {}\r\n", http_date(SystemTime::now())));
        out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        if close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// Go's answer to a request it cannot parse, before closing.
pub fn bad_request(why: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: {why}"
    )
    .into_bytes()
}

pub fn too_large() -> Vec<u8> {
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large".to_vec()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// RFC 9110 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_heads() {
        let h = parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n").unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.path, "/metrics");
        assert!(h.http11 && h.keep_alive);
        let h = parse(b"GET /health?x=1 HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(h.path, "/health");
        assert!(!h.keep_alive);
        let h = parse(b"GET /ready HTTP/1.0\nConnection: Keep-Alive\n\n").unwrap();
        assert!(h.keep_alive);
        let h = parse(b"GET http://h:8080/ready HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            .unwrap();
        assert_eq!(h.path, "/ready");
        assert!(!h.keep_alive);
        let h = parse(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!(h.content_length, 5);
        assert_eq!(
            parse(b"GET /x HTTP/1.1\r\nHost: h\r\n"),
            Err(ParseError::Partial)
        );
        assert!(matches!(
            parse(b"GET /x HTTP/1.1\r\n\r\n"),
            Err(ParseError::Bad("missing required Host header"))
        ));
        assert!(matches!(parse(b"GET\r\n\r\n"), Err(ParseError::Bad(_))));
        assert!(matches!(
            parse(b"GET /x HTTP/2.0\r\n\r\n"),
            Err(ParseError::Bad(_))
        ));
        assert!(matches!(
            parse(b"GET /x HTTP/1.1\r\nbad line\r\n\r\n"),
            Err(ParseError::Bad(_))
        ));
    }

    #[test]
    fn writes_responses() {
        let r = Response::text(200, "OK").encode(false, false);
        let s = String::from_utf8(r).unwrap();
        assert!(
            s.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: ")
        );
        assert!(s.ends_with("\r\nContent-Length: 2\r\n\r\nOK"), "{s}");
        let s = String::from_utf8(Response::not_found().encode(true, true)).unwrap();
        assert!(s.contains("X-Content-Type-Options: nosniff\r\n"));
        assert!(
            s.ends_with("Content-Length: 19\r\nConnection: close\r\n\r\n"),
            "{s}"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(1_709_251_200)),
            "Fri, 01 Mar 2024 00:00:00 GMT"
        );
    }
}
