//! Kubernetes label selectors as `labels` and `namespace_labels` take them:
//! apimachinery's `labels.Parse` (its lexer, parser and key/value checks,
//! with their error texts) and `ParseToLabelSelector`'s limits (no `!=`,
//! `gt` or `lt`), as CoreDNS reads them. The selector goes to the API
//! server with each list and watch, which applies it.

use crate::gocompat::quote::quote;

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value`, `key==value`.
    Equals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed selector: its requirements sorted by key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector(pub Vec<Requirement>);

impl Selector {
    /// The selector as the API's `labelSelector` parameter takes it
    /// (apimachinery's `Selector.String`).
    pub fn to_query(&self) -> String {
        let set = |v: &[String]| v.join(",");
        self.0
            .iter()
            .map(|r| match r {
                Requirement::Equals(k, v) => format!("{k}={v}"),
                Requirement::In(k, v) => format!("{k} in ({})", set(v)),
                Requirement::NotIn(k, v) => format!("{k} notin ({})", set(v)),
                Requirement::Exists(k) => k.clone(),
                Requirement::DoesNotExist(k) => format!("!{k}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Error,
    End,
    Close,
    Comma,
    Not,
    DoubleEquals,
    Equals,
    Greater,
    Ident,
    In,
    Less,
    NotEquals,
    NotIn,
    Open,
}

fn keyword(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::Close,
        "," => Tok::Comma,
        "!" => Tok::Not,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::Greater,
        "in" => Tok::In,
        "<" => Tok::Less,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::Open,
        _ => return None,
    })
}

fn special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// apimachinery's lexer: every token up to the end of the string.
fn lex(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            out.push((Tok::End, String::new()));
            return out;
        }
        if special(b[i]) {
            // The longest run of symbols that is a token.
            let start = i;
            let mut last: Option<(Tok, usize)> = None;
            while i < b.len() && special(b[i]) {
                i += 1;
                match keyword(&s[start..i]) {
                    Some(t) => last = Some((t, i)),
                    None if last.is_some() => {
                        i -= 1;
                        break;
                    }
                    None => {}
                }
            }
            match last {
                Some((t, end)) => {
                    i = end;
                    out.push((t, s[start..end].to_string()));
                }
                None => out.push((
                    Tok::Error,
                    format!("error expected: keyword found '{}'", &s[start..i]),
                )),
            }
        } else {
            let start = i;
            while i < b.len() && !special(b[i]) && !space(b[i]) {
                i += 1;
            }
            let w = &s[start..i];
            out.push((keyword(w).unwrap_or(Tok::Ident), w.to_string()));
        }
    }
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

/// How a token reads where values are expected: `in` and `notin` are names there.
fn as_value(t: Tok) -> Tok {
    match t {
        Tok::In | Tok::NotIn => Tok::Ident,
        t => t,
    }
}

enum Op {
    Equals,
    In,
    NotIn,
    NotEquals,
    Greater,
    Less,
}

impl Parser {
    fn peek(&self) -> (Tok, &str) {
        let (t, l) = &self.items[self.pos.min(self.items.len() - 1)];
        (as_value(*t), l)
    }

    fn take(&mut self, values: bool) -> (Tok, String) {
        let (t, l) = self.items[self.pos.min(self.items.len() - 1)].clone();
        self.pos += 1;
        (if values { as_value(t) } else { t }, l)
    }

    fn parse(&mut self) -> Result<Vec<Parsed>, String> {
        let mut reqs = Vec::new();
        loop {
            let (t, lit) = self.peek();
            match t {
                Tok::Ident | Tok::Not => {
                    let r = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.take(true);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.peek();
                            if t2 != Tok::Ident && t2 != Tok::Not {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Parsed, String> {
        let (mut t, mut key) = self.take(true);
        let negated = t == Tok::Not;
        if negated {
            (t, key) = self.take(true);
        }
        if t != Tok::Ident {
            return Err(format!("found '{key}', expected: identifier"));
        }
        if let Some(e) = key_error(&key) {
            return Err(format!("<nil>: Invalid value: {}: {e}", quote(&key)));
        }
        let (next, _) = self.peek();
        if negated || next == Tok::End || next == Tok::Comma {
            // `!key` takes no operator (what follows is the parser's to judge).
            return Ok(Parsed {
                key,
                op: None,
                negated,
                values: vec![],
            });
        }
        let (t, lit) = self.take(false);
        let op = match t {
            Tok::In => Op::In,
            Tok::Equals | Tok::DoubleEquals => Op::Equals,
            Tok::Greater => Op::Greater,
            Tok::Less => Op::Less,
            Tok::NotIn => Op::NotIn,
            Tok::NotEquals => Op::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        };
        let values = match op {
            Op::In | Op::NotIn => self.values()?,
            _ => self.exact_value()?,
        };
        let errs: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                value_error(v)
                    .map(|e| format!("values[{i}][{key}]: Invalid value: {}: {e}", quote(v)))
            })
            .collect();
        match errs.len() {
            0 => {}
            1 => return Err(errs[0].clone()),
            _ => return Err(format!("[{}]", errs.join(", "))),
        }
        Ok(Parsed {
            key,
            op: Some(op),
            negated: false,
            values,
        })
    }

    /// `(a,b,...)`, as a sorted set.
    fn values(&mut self) -> Result<Vec<String>, String> {
        let (t, lit) = self.take(true);
        if t != Tok::Open {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (t, lit) = self.peek();
        let lit = lit.to_string();
        let mut set = std::collections::BTreeSet::new();
        match t {
            Tok::Ident | Tok::Comma => {
                self.identifiers(&mut set)?;
                if self.take(true).0 != Tok::Close {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
            }
            Tok::Close => {
                self.take(true);
                set.insert(String::new());
            }
            _ => return Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
        Ok(set.into_iter().collect())
    }

    fn identifiers(&mut self, set: &mut std::collections::BTreeSet<String>) -> Result<(), String> {
        loop {
            let (t, lit) = self.take(true);
            match t {
                Tok::Ident => {
                    set.insert(lit);
                    let (t2, l2) = self.peek();
                    match t2 {
                        Tok::Comma => continue,
                        Tok::Close => return Ok(()),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    // `(,`, `,)` and `,,` stand for the empty value.
                    if set.is_empty() {
                        set.insert(String::new());
                    }
                    let (t2, _) = self.peek();
                    if t2 == Tok::Close {
                        set.insert(String::new());
                        return Ok(());
                    }
                    if t2 == Tok::Comma {
                        set.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        let (t, _) = self.peek();
        if t == Tok::End || t == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (t, lit) = self.take(true);
        if t == Tok::Ident {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

struct Parsed {
    key: String,
    /// None: `key` (exists) or `!key`.
    op: Option<Op>,
    negated: bool,
    values: Vec<String>,
}

const KEY_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let e: Vec<String> = examples.iter().map(|x| format!("'{x}'")).collect();
    format!(
        "{msg} (e.g. {}, regex used for validation is '{fmt}')",
        e.join(",  or ")
    )
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, or empty when `empty_ok`.
fn label_chars(s: &str, empty_ok: bool) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return empty_ok;
    }
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    alnum(&b[0])
        && alnum(&b[b.len() - 1])
        && b.iter()
            .all(|c| alnum(c) || matches!(c, b'-' | b'_' | b'.'))
}

/// A lowercase RFC 1123 subdomain's problems (apimachinery's IsDNS1123Subdomain).
fn subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty() && ok(&b[0]) && ok(&b[b.len() - 1]) && b.iter().all(|c| ok(c) || *c == b'-')
    };
    if !s.split('.').all(label_ok) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
            &["example.com"],
        ));
    }
    errs
}

/// What is wrong with a label key, as apimachinery's IsLabelKey words it.
fn key_error(k: &str) -> Option<String> {
    let parts: Vec<&str> = k.split('/').collect();
    let mut errs = Vec::new();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(subdomain_errors(prefix).into_iter().map(|e| format!("prefix part {e}")));
            }
            name
        }
        _ => {
            return Some(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(KEY_MSG, KEY_FMT, &["MyName", "my.name", "123-abc"])
            ))
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !label_chars(name, false) {
        errs.push(format!(
            "name part {}",
            regex_error(KEY_MSG, KEY_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    (!errs.is_empty()).then(|| errs.join("; "))
}

fn value_error(v: &str) -> Option<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !label_chars(v, true) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?",
            &["MyValue", "my_value", "12345"],
        ));
    }
    (!errs.is_empty()).then(|| errs.join("; "))
}

/// meta/v1's `ParseToLabelSelector`, as CoreDNS reports its errors.
pub fn parse(text: &str) -> Result<Selector, String> {
    let mut p = Parser {
        items: lex(text),
        pos: 0,
    };
    let mut reqs = p
        .parse()
        .map_err(|e| format!("couldn't parse the selector string {}: {e}", quote(text)))?;
    reqs.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out = Vec::new();
    for r in reqs {
        out.push(match (r.op, r.negated) {
            (None, false) => Requirement::Exists(r.key),
            (None, true) => Requirement::DoesNotExist(r.key),
            (Some(Op::Equals), _) => {
                Requirement::Equals(r.key, r.values.into_iter().next().unwrap_or_default())
            }
            (Some(Op::In), _) => Requirement::In(r.key, r.values),
            (Some(Op::NotIn), _) => Requirement::NotIn(r.key, r.values),
            (Some(Op::NotEquals), _) => {
                return Err("\"!=\" is not a valid label selector operator".into())
            }
            (Some(Op::Greater), _) => {
                return Err("\"gt\" isn't supported in label selectors".into())
            }
            (Some(Op::Less), _) => return Err("\"lt\" isn't supported in label selectors".into()),
        });
    }
    Ok(Selector(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse() {
        let s = parse("z in (b,a), !y, x, w=v, u==t").unwrap();
        assert_eq!(s.to_query(), "u=t,w=v,x,!y,z in (a,b)");
        assert_eq!(parse("a in ()").unwrap().to_query(), "a in ()");
        assert_eq!(parse("a ==").unwrap().to_query(), "a=");
        assert_eq!(parse("").unwrap().0, vec![]);
        assert_eq!(
            parse("k notin (in, notin)").unwrap().0,
            vec![Requirement::NotIn(
                "k".into(),
                vec!["in".into(), "notin".into()]
            )]
        );
    }

    // The texts CoreDNS 1.14.7 gave for these selectors.
    #[test]
    fn errors_read_as_apimachinery() {
        let e = |s: &str| parse(s).unwrap_err();
        assert_eq!(e("a!=b"), "\"!=\" is not a valid label selector operator");
        assert_eq!(e("a>1"), "\"gt\" isn't supported in label selectors");
        assert_eq!(
            e("a,"),
            "couldn't parse the selector string \"a,\": found '', expected: identifier after ','"
        );
        assert_eq!(
            e("a b"),
            "couldn't parse the selector string \"a b\": unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            e("a in (x"),
            "couldn't parse the selector string \"a in (x\": unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            e("a in ("),
            "couldn't parse the selector string \"a in (\": unable to parse requirement: found '', expected: ',', ')' or identifier"
        );
        assert_eq!(
            e("a notin (b,c) !d e=f"),
            "couldn't parse the selector string \"a notin (b,c) !d e=f\": found '!', expected: ',' or 'end of string'"
        );
        assert_eq!(
            e("-a=b"),
            "couldn't parse the selector string \"-a=b\": unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            e("a=-b"),
            "couldn't parse the selector string \"a=-b\": unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        assert_eq!(
            e("x/y/z=1"),
            "couldn't parse the selector string \"x/y/z=1\": unable to parse requirement: <nil>: Invalid value: \"x/y/z\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        );
    }
}
