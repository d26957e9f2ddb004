//! The part of Go's text/template that CoreDNS's template examples use:
//! text with `{{ ... }}` actions (and `{{-`/`-}}` trimming, comments)
//! holding pipelines of fields (`.Name`, `.Group.a`, `$.Zone`), string,
//! number and boolean constants, parenthesised pipelines, the methods of
//! the data (`.Meta "name"`) and the functions `index`, `len`, `print`,
//! `printf`, `println`, `not`, `eq`, `ne` and CoreDNS's `parseInt`.
//! Control actions (`if`, `range`, `with`, `define`, ...) and variables
//! other than `$` are refused when the template is compiled.

use crate::gocompat::quote::quote;
use crate::gocompat::strconv::parse_uint;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A compiled template.
#[derive(Debug)]
pub struct Template {
    name: String,
    nodes: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Text(String),
    Action {
        line: usize,
        src: String,
        pipe: Pipe,
    },
}

#[derive(Debug, Clone)]
struct Pipe(Vec<Cmd>);

#[derive(Debug, Clone)]
struct Cmd(Vec<Operand>);

#[derive(Debug, Clone)]
enum Operand {
    /// `.A.B`; empty: the dot itself. `$` and `$.A` are the same here, as
    /// the dot never moves.
    Field(Vec<String>),
    Str(String),
    Int(i64),
    Bool(bool),
    Nil,
    Func(String),
    Sub(Pipe),
}

/// What templates can see of the query.
#[derive(Clone, Debug, Default)]
pub struct Data {
    pub zone: String,
    pub name: String,
    pub regex: String,
    pub matches: Vec<String>,
    pub group: BTreeMap<String, String>,
    pub class: String,
    pub qtype: String,
    pub remote: String,
    pub question: Question,
    pub message: MessageData,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Question {
    /// The name as the client sent it, in presentation form.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// The header fields of the incoming message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageData {
    pub id: u16,
    pub opcode: i64,
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    pub authenticated_data: bool,
    pub question: Vec<Question>,
}

/// A value during execution, with Go's printing rules.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    /// A missing map entry (`<no value>`).
    Invalid,
    Nil,
    Str(String),
    Int(i64),
    Uint(u64),
    Bool(bool),
    Strings(Vec<String>),
    Map(BTreeMap<String, String>),
    Data,
    Question(Question),
    Questions(Vec<Question>),
    Message(MessageData),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Invalid => "<invalid>",
            Value::Nil => "nil",
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Uint(_) => "uint64",
            Value::Bool(_) => "bool",
            Value::Strings(_) => "[]string",
            Value::Map(_) => "map[string]string",
            Value::Data => "*template.templateData",
            Value::Question(_) => "*dns.Question",
            Value::Questions(_) => "[]dns.Question",
            Value::Message(_) => "*dns.Msg",
        }
    }

    fn truth(&self) -> bool {
        match self {
            Value::Invalid | Value::Nil => false,
            Value::Str(s) => !s.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Uint(u) => *u != 0,
            Value::Bool(b) => *b,
            Value::Strings(v) => !v.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Questions(v) => !v.is_empty(),
            Value::Data | Value::Question(_) | Value::Message(_) => true,
        }
    }

    /// `fmt.Sprint` of one value.
    fn print(&self, out: &mut String) -> Result<(), String> {
        match self {
            Value::Invalid => out.push_str("<no value>"),
            Value::Nil => out.push_str("<nil>"),
            Value::Str(s) => out.push_str(s),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Uint(u) => {
                let _ = write!(out, "{u}");
            }
            Value::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Value::Strings(v) => {
                let _ = write!(out, "[{}]", v.join(" "));
            }
            Value::Map(m) => {
                let items: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                let _ = write!(out, "map[{}]", items.join(" "));
            }
            Value::Question(q) => out.push_str(&question_text(q)),
            Value::Questions(qs) => {
                let items: Vec<String> = qs.iter().map(question_text).collect();
                let _ = write!(out, "[{}]", items.join(" "));
            }
            Value::Data | Value::Message(_) => {
                return Err(format!("printing a {} is not supported", self.type_name()))
            }
        }
        Ok(())
    }
}

/// miekg's `Question.String()`.
fn question_text(q: &Question) -> String {
    format!(
        ";{}\t{}\t {}",
        q.name,
        crate::plugin::mnemonics::class_text(q.qclass),
        crate::plugin::mnemonics::type_text(q.qtype)
    )
}

const FUNCS: &[&str] = &[
    "index", "len", "print", "printf", "println", "not", "eq", "ne", "parseInt",
];

const UNSUPPORTED: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    "and", "or", "call", "html", "js", "urlquery", "slice", "lt", "le", "gt", "ge",
];

impl Template {
    /// Compiles `text`; errors read like Go's (`template: NAME:LINE: ...`).
    pub fn parse(name: &str, text: &str) -> Result<Self, String> {
        let err = |line: usize, m: String| format!("template: {name}:{line}: {m}");
        let mut nodes = Vec::new();
        let mut rest = text;
        let mut line = 1;
        let mut trim_next = false;
        while !rest.is_empty() {
            let Some(open) = rest.find("{{") else {
                let t = if trim_next { rest.trim_start() } else { rest };
                nodes.push(Node::Text(t.to_string()));
                break;
            };
            let mut txt = &rest[..open];
            if trim_next {
                txt = txt.trim_start();
            }
            let after = &rest[open + 2..];
            let trim_left = after.starts_with("- ")
                || after.starts_with("-\t")
                || after.starts_with("-\n")
                || after.starts_with("-\r");
            if trim_left {
                txt = txt.trim_end();
            }
            if !txt.is_empty() {
                nodes.push(Node::Text(txt.to_string()));
            }
            line += rest[..open].matches('\n').count();
            let body_start = if trim_left { &after[2..] } else { after };
            let (body, close_len, trim_right) =
                action_body(body_start).ok_or_else(|| err(line, "unclosed action".into()))?;
            let action_line = line;
            line += body.matches('\n').count();
            let consumed =
                (body_start.as_ptr() as usize - rest.as_ptr() as usize) + body.len() + close_len;
            rest = &rest[consumed..];
            trim_next = trim_right;
            let trimmed = body.trim();
            if trimmed.starts_with("/*") {
                if !trimmed.ends_with("*/") {
                    return Err(err(action_line, "unclosed comment".into()));
                }
                continue;
            }
            let toks = lex(body).map_err(|m| err(action_line, m))?;
            if toks.is_empty() {
                return Err(err(action_line, "missing value for command".into()));
            }
            let mut p = TokParser { toks: &toks, i: 0 };
            let pipe = p.pipe().map_err(|m| err(action_line, m))?;
            if p.i < toks.len() {
                return Err(err(
                    action_line,
                    format!("unexpected {} in command", toks[p.i].show()),
                ));
            }
            nodes.push(Node::Action {
                line: action_line,
                src: trimmed.to_string(),
                pipe,
            });
        }
        Ok(Template {
            name: name.to_string(),
            nodes,
        })
    }

    /// Runs the template on `data`.
    pub fn execute(&self, data: &Data) -> Result<String, String> {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action { line, src, pipe } => {
                    let v = eval_pipe(pipe, data).map_err(|m| {
                        format!(
                            "template: {}:{line}: executing \"{}\" at <{src}>: {m}",
                            self.name, self.name
                        )
                    })?;
                    v.print(&mut out).map_err(|m| {
                        format!(
                            "template: {}:{line}: executing \"{}\" at <{src}>: {m}",
                            self.name, self.name
                        )
                    })?;
                }
            }
        }
        Ok(out)
    }
}

/// The text up to the action's closing `}}` (outside string constants), the
/// length of the closing marker, and whether it trims (` -}}`).
fn action_body(s: &str) -> Option<(&str, usize, bool)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => {
                if i >= 2 && b[i - 1] == b'-' && b[i - 2].is_ascii_whitespace() {
                    return Some((&s[..i - 1], 3, true));
                }
                return Some((&s[..i], 2, false));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Ident(String),
    Str(String),
    Num(i64),
    Pipe,
    Open,
    Close,
}

impl Tok {
    fn show(&self) -> String {
        match self {
            Tok::Field(f) => format!("<.{}>", f.join(".")),
            Tok::Ident(s) => format!("<{s}>"),
            Tok::Str(s) => format!("{s:?}"),
            Tok::Num(n) => format!("<{n}>"),
            Tok::Pipe => "\"|\"".into(),
            Tok::Open => "\"(\"".into(),
            Tok::Close => "\")\"".into(),
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    // Reads `.A.B...` from i (at a '.'); returns the field names.
    let fields = |i: &mut usize| -> Vec<String> {
        let mut f = Vec::new();
        while *i < cs.len() && cs[*i] == '.' {
            let start = *i + 1;
            let mut j = start;
            while j < cs.len() && is_ident(cs[j]) {
                j += 1;
            }
            if j == start {
                break;
            }
            f.push(cs[start..j].iter().collect());
            *i = j;
        }
        f
    };
    while i < cs.len() {
        let c = cs[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '.' => {
                if cs.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                    return Err("floating-point constants are not supported".into());
                }
                let f = fields(&mut i);
                if f.is_empty() {
                    i += 1; // the dot alone
                }
                out.push(Tok::Field(f));
            }
            '$' => {
                i += 1;
                if i < cs.len() && is_ident(cs[i]) {
                    return Err("template variables are not supported".into());
                }
                out.push(Tok::Field(fields(&mut i)));
            }
            '"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    let Some(&c) = cs.get(i) else {
                        return Err("unterminated quoted string".into());
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = cs.get(i).copied().ok_or("unterminated quoted string")?;
                            i += 1;
                            v.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '\\' => '\\',
                                '"' => '"',
                                '\'' => '\'',
                                '0' => '\0',
                                _ => return Err(format!("invalid syntax in escape \\{e}")),
                            });
                        }
                        '\n' => return Err("unterminated quoted string".into()),
                        c => v.push(c),
                    }
                }
                out.push(Tok::Str(v));
            }
            '`' => {
                let start = i + 1;
                let mut j = start;
                while j < cs.len() && cs[j] != '`' {
                    j += 1;
                }
                if j >= cs.len() {
                    return Err("unterminated raw quoted string".into());
                }
                out.push(Tok::Str(cs[start..j].iter().collect()));
                i = j + 1;
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let start = i;
                i += 1;
                while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '_') {
                    i += 1;
                }
                let text: String = cs[start..i].iter().collect();
                out.push(Tok::Num(
                    go_int(&text).ok_or(format!("bad number syntax: {text:?}"))?,
                ));
            }
            c if is_ident(c) => {
                let start = i;
                while i < cs.len() && is_ident(cs[i]) {
                    i += 1;
                }
                let word: String = cs[start..i].iter().collect();
                if cs.get(i) == Some(&'.') && cs.get(i + 1).is_some_and(|c| is_ident(*c)) {
                    return Err(format!("unexpected <.> after {word}"));
                }
                out.push(Tok::Ident(word));
            }
            other => return Err(format!("unexpected {other:?} in command")),
        }
    }
    Ok(out)
}

/// A Go integer constant: decimal, 0x, 0o, 0b or leading-0 octal, with `_`.
fn go_int(text: &str) -> Option<i64> {
    let (neg, t) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let t = t.replace('_', "");
    let lower = t.to_ascii_lowercase();
    let v = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if lower.len() > 1 && lower.starts_with('0') {
        i64::from_str_radix(&lower[1..], 8).ok()?
    } else {
        if lower.is_empty() || !lower.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        lower.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

struct TokParser<'a> {
    toks: &'a [Tok],
    i: usize,
}

impl TokParser<'_> {
    fn pipe(&mut self) -> Result<Pipe, String> {
        let mut cmds = vec![self.cmd()?];
        while self.toks.get(self.i) == Some(&Tok::Pipe) {
            self.i += 1;
            cmds.push(self.cmd()?);
        }
        Ok(Pipe(cmds))
    }

    fn cmd(&mut self) -> Result<Cmd, String> {
        let mut ops = Vec::new();
        while let Some(t) = self.toks.get(self.i) {
            let op = match t {
                Tok::Pipe | Tok::Close => break,
                Tok::Field(f) => Operand::Field(f.clone()),
                Tok::Str(s) => Operand::Str(s.clone()),
                Tok::Num(n) => Operand::Int(*n),
                Tok::Open => {
                    self.i += 1;
                    let p = self.pipe()?;
                    if self.toks.get(self.i) != Some(&Tok::Close) {
                        return Err("unclosed left paren".into());
                    }
                    Operand::Sub(p)
                }
                Tok::Ident(w) => match w.as_str() {
                    "true" => Operand::Bool(true),
                    "false" => Operand::Bool(false),
                    "nil" => Operand::Nil,
                    w if FUNCS.contains(&w) => Operand::Func(w.to_string()),
                    w if UNSUPPORTED.contains(&w) => {
                        return Err(format!("{w:?} is not supported by ferrodns's templates"))
                    }
                    w => return Err(format!("function {w:?} not defined")),
                },
            };
            self.i += 1;
            ops.push(op);
        }
        if ops.is_empty() {
            return Err("missing value for command".into());
        }
        Ok(Cmd(ops))
    }
}

fn eval_pipe(p: &Pipe, data: &Data) -> Result<Value, String> {
    let mut last: Option<Value> = None;
    for cmd in &p.0 {
        last = Some(eval_cmd(cmd, data, last)?);
    }
    Ok(last.unwrap_or(Value::Nil))
}

fn eval_cmd(cmd: &Cmd, data: &Data, piped: Option<Value>) -> Result<Value, String> {
    let ops = &cmd.0;
    match &ops[0] {
        Operand::Func(f) => {
            let mut args = ops[1..]
                .iter()
                .map(|o| eval_operand(o, data))
                .collect::<Result<Vec<_>, _>>()?;
            args.extend(piped);
            call(f, args)
        }
        Operand::Field(path) if path.last().is_some_and(|m| m == "Meta") && path.len() == 1 => {
            let mut args = ops[1..]
                .iter()
                .map(|o| eval_operand(o, data))
                .collect::<Result<Vec<_>, _>>()?;
            args.extend(piped);
            if args.len() != 1 {
                return Err(format!(
                    "wrong number of args for Meta: want 1 got {}",
                    args.len()
                ));
            }
            match &args[0] {
                // No metadata plugin in ferrodns: every name is unknown.
                Value::Str(_) => Ok(Value::Str(String::new())),
                v => Err(format!(
                    "wrong type for value; expected string; got {}",
                    v.type_name()
                )),
            }
        }
        first => {
            if ops.len() > 1 || piped.is_some() {
                return Err(format!(
                    "can't give argument to non-function {}",
                    describe(first)
                ));
            }
            eval_operand(first, data)
        }
    }
}

fn describe(o: &Operand) -> String {
    match o {
        Operand::Field(f) => format!(".{}", f.join(".")),
        Operand::Str(s) => format!("{s:?}"),
        Operand::Int(i) => i.to_string(),
        Operand::Bool(b) => b.to_string(),
        Operand::Nil => "nil".into(),
        Operand::Func(f) => f.clone(),
        Operand::Sub(_) => "(...)".into(),
    }
}

fn eval_operand(o: &Operand, data: &Data) -> Result<Value, String> {
    match o {
        Operand::Str(s) => Ok(Value::Str(s.clone())),
        Operand::Int(i) => Ok(Value::Int(*i)),
        Operand::Bool(b) => Ok(Value::Bool(*b)),
        Operand::Nil => Ok(Value::Nil),
        Operand::Func(f) => call(f, Vec::new()),
        Operand::Sub(p) => eval_pipe(p, data),
        Operand::Field(path) => {
            let mut v = Value::Data;
            for f in path {
                v = field(v, f, data)?;
            }
            Ok(v)
        }
    }
}

fn field(v: Value, f: &str, data: &Data) -> Result<Value, String> {
    let nf = || format!("can't evaluate field {f} in type {}", v.type_name());
    Ok(match &v {
        Value::Data => match f {
            "Zone" => Value::Str(data.zone.clone()),
            "Name" => Value::Str(data.name.clone()),
            "Regex" => Value::Str(data.regex.clone()),
            "Match" => Value::Strings(data.matches.clone()),
            "Group" => Value::Map(data.group.clone()),
            "Class" => Value::Str(data.class.clone()),
            "Type" => Value::Str(data.qtype.clone()),
            "Remote" => Value::Str(data.remote.clone()),
            "Question" => Value::Question(data.question.clone()),
            "Message" => Value::Message(data.message.clone()),
            "Meta" => return Err("wrong number of args for Meta: want 1 got 0".into()),
            _ => return Err(nf()),
        },
        Value::Map(m) => match m.get(f) {
            Some(s) => Value::Str(s.clone()),
            None => Value::Invalid,
        },
        Value::Question(q) => match f {
            "Name" => Value::Str(q.name.clone()),
            "Qtype" => Value::Uint(u64::from(q.qtype)),
            "Qclass" => Value::Uint(u64::from(q.qclass)),
            _ => return Err(nf()),
        },
        Value::Message(m) => match f {
            "Id" => Value::Uint(u64::from(m.id)),
            "Opcode" => Value::Int(m.opcode),
            "Response" => Value::Bool(false),
            "RecursionDesired" => Value::Bool(m.recursion_desired),
            "CheckingDisabled" => Value::Bool(m.checking_disabled),
            "AuthenticatedData" => Value::Bool(m.authenticated_data),
            "Question" => Value::Questions(m.question.clone()),
            _ => return Err(nf()),
        },
        Value::Nil | Value::Invalid => {
            return Err(format!("nil pointer evaluating {}.{f}", v.type_name()))
        }
        _ => return Err(nf()),
    })
}

fn call(f: &str, args: Vec<Value>) -> Result<Value, String> {
    let want = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "wrong number of args for {f}: want {n} got {}",
                args.len()
            ))
        }
    };
    match f {
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            };
            let mut v = first.clone();
            for k in keys {
                v = index(&v, k).map_err(|m| format!("error calling index: {m}"))?;
            }
            Ok(v)
        }
        "len" => {
            want(1)?;
            let n = match &args[0] {
                Value::Str(s) => s.len(),
                Value::Strings(v) => v.len(),
                Value::Map(m) => m.len(),
                Value::Questions(q) => q.len(),
                v => return Err(format!("error calling len: len of type {}", v.type_name())),
            };
            Ok(Value::Int(n as i64))
        }
        "print" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                let is_str = |v: &Value| matches!(v, Value::Str(_));
                if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
                    out.push(' ');
                }
                a.print(&mut out)?;
            }
            Ok(Value::Str(out))
        }
        "println" => {
            let mut parts = Vec::new();
            for a in &args {
                let mut s = String::new();
                a.print(&mut s)?;
                parts.push(s);
            }
            Ok(Value::Str(parts.join(" ") + "\n"))
        }
        "printf" => {
            let Some((Value::Str(format), rest)) = args.split_first() else {
                return Err("wrong type for value; expected string".into());
            };
            Ok(Value::Str(sprintf(format, rest)?))
        }
        "not" => {
            want(1)?;
            Ok(Value::Bool(!args[0].truth()))
        }
        "eq" | "ne" => {
            if args.len() < 2 {
                return Err(format!(
                    "wrong number of args for {f}: want at least 2 got {}",
                    args.len()
                ));
            }
            let eq = args[1..].iter().any(|b| same(&args[0], b));
            Ok(Value::Bool(if f == "eq" { eq } else { !eq }))
        }
        "parseInt" => {
            want(3)?;
            let Value::Str(s) = &args[0] else {
                return Err(format!(
                    "wrong type for value; expected string; got {}",
                    args[0].type_name()
                ));
            };
            let base = int_arg(&args[1])?;
            let bits = int_arg(&args[2])?;
            parse_uint(s, base, bits)
                .map(Value::Uint)
                .map_err(|m| format!("error calling parseInt: {m}"))
        }
        _ => Err(format!("function {f:?} not defined")),
    }
}

fn int_arg(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => i64::try_from(*u).map_err(|_| "integer overflow".to_string()),
        v => Err(format!(
            "wrong type for value; expected int; got {}",
            v.type_name()
        )),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Uint(y)) | (Value::Uint(y), Value::Int(x)) => {
            u64::try_from(*x).is_ok_and(|x| x == *y)
        }
        _ => a == b,
    }
}

fn index(v: &Value, k: &Value) -> Result<Value, String> {
    match v {
        Value::Strings(items) => {
            let i = int_arg(k)
                .map_err(|_| "cannot index slice/array with type ".to_string() + k.type_name())?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .map(|s| Value::Str(s.clone()))
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        Value::Questions(items) => {
            let i = int_arg(k)
                .map_err(|_| "cannot index slice/array with type ".to_string() + k.type_name())?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .map(|q| Value::Question(q.clone()))
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        Value::Map(m) => match k {
            // A missing key gives the zero value here, not `<no value>`.
            Value::Str(s) => Ok(Value::Str(m.get(s).cloned().unwrap_or_default())),
            k => Err(format!(
                "value has type {}; should be string",
                k.type_name()
            )),
        },
        Value::Str(s) => {
            let i = int_arg(k)
                .map_err(|_| "cannot index slice/array with type ".to_string() + k.type_name())?;
            usize::try_from(i)
                .ok()
                .and_then(|i| s.as_bytes().get(i))
                .map(|b| Value::Uint(u64::from(*b)))
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        v => Err(format!("can't index item of type {}", v.type_name())),
    }
}

/// `fmt.Sprintf` for the verbs templates use: %s %v %d %x %X %q %%, with
/// an optional `-`/`0` flag and a width.
fn sprintf(format: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width * 10 + d as usize;
            chars.next();
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.next() else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        let s = match (verb, a) {
            ('d', Value::Int(i)) => i.to_string(),
            ('d', Value::Uint(u)) => u.to_string(),
            ('x', Value::Int(i)) => format!("{i:x}"),
            ('x', Value::Uint(u)) => format!("{u:x}"),
            ('X', Value::Int(i)) => format!("{i:X}"),
            ('X', Value::Uint(u)) => format!("{u:X}"),
            ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('q', Value::Str(s)) => quote(s),
            ('s' | 'v', v) => {
                let mut s = String::new();
                v.print(&mut s)?;
                s
            }
            (verb, v) => {
                let mut s = String::new();
                v.print(&mut s)?;
                format!("%!{verb}({}={s})", v.type_name())
            }
        };
        let pad = width.saturating_sub(s.chars().count());
        if left {
            out.push_str(&s);
            out.extend(std::iter::repeat_n(' ', pad));
        } else if zero && matches!(verb, 'd' | 'x' | 'X') {
            let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', pad));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&s);
        }
    }
    let extra: Vec<&Value> = args.collect();
    if !extra.is_empty() {
        out.push_str("%!(EXTRA ");
        let items: Vec<String> = extra
            .iter()
            .map(|v| {
                let mut s = String::new();
                let _ = v.print(&mut s);
                format!("{}={s}", v.type_name())
            })
            .collect();
        out.push_str(&items.join(", "));
        out.push(')');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Data {
        let mut group = BTreeMap::new();
        group.insert("0".into(), "ip-10-1-2-3.example.".into());
        group.insert("1".into(), "1".into());
        group.insert("b".into(), "1".into());
        Data {
            zone: "example.".into(),
            name: "ip-10-1-2-3.example.".into(),
            regex: "x".into(),
            matches: vec!["ip-10-1-2-3.example.".into(), "1".into()],
            group,
            class: "IN".into(),
            qtype: "A".into(),
            remote: "192.0.2.1".into(),
            question: Question {
                name: "IP-10-1-2-3.example.".into(),
                qtype: 1,
                qclass: 1,
            },
            message: MessageData {
                id: 4242,
                ..Default::default()
            },
        }
    }

    fn run(t: &str) -> Result<String, String> {
        Template::parse("answer", t)?.execute(&data())
    }

    #[test]
    fn fields_and_functions() {
        assert_eq!(
            run("{{ .Name }} 60 {{ .Class }} A 10.{{ .Group.b }}.{{ index .Match 1 }}.{{.Type}}")
                .unwrap(),
            "ip-10-1-2-3.example. 60 IN A 10.1.1.A"
        );
        assert_eq!(
            run("{{ .Zone }}|{{ .Remote }}|{{ $.Zone }}").unwrap(),
            "example.|192.0.2.1|example."
        );
        assert_eq!(run("{{ .Group.missing }}").unwrap(), "<no value>");
        assert_eq!(run("[{{ index .Group \"missing\" }}]").unwrap(), "[]");
        assert_eq!(
            run("{{ .Meta \"kubernetes/client-namespace\" }}x").unwrap(),
            "x"
        );
        assert_eq!(
            run("{{ .Question }}").unwrap(),
            ";IP-10-1-2-3.example.\tIN\t A"
        );
        assert_eq!(
            run("{{ .Question.Qtype }} {{ .Message.Id }}").unwrap(),
            "1 4242"
        );
        // A field of a parenthesised pipeline is not supported.
        assert!(run("{{ (index .Message.Question 0).Name }}").is_err());
        assert_eq!(run("{{ .Match }}").unwrap(), "[ip-10-1-2-3.example. 1]");
        assert_eq!(run("{{ parseInt \"7b\" 16 8 }}").unwrap(), "123");
        assert_eq!(
            run("{{ \"ff\" | printf \"%s-%03d\" }}").unwrap(),
            "ff-%!d(MISSING)"
        );
        assert_eq!(
            run("{{ printf \"%s-%03d\" .Zone 7 }}").unwrap(),
            "example.-007"
        );
        assert_eq!(
            run("{{ len .Match }} {{ print 1 2 \"a\" }}").unwrap(),
            "2 1 2a"
        );
        assert_eq!(
            run("a {{- \" b \" -}} c {{- /* note */}}d").unwrap(),
            "a b cd"
        );
        assert_eq!(run("{{ .Name | len }}").unwrap(), "20");
    }

    #[test]
    fn execution_errors() {
        assert_eq!(
            run("{{ index .Match 5 }}").unwrap_err(),
            "template: answer:1: executing \"answer\" at <index .Match 5>: error calling index: index out of range: 5"
        );
        assert!(run("{{ .Nope }}")
            .unwrap_err()
            .ends_with("can't evaluate field Nope in type *template.templateData"));
        assert!(run("{{ parseInt \"zz\" 16 8 }}").unwrap_err().ends_with(
            "error calling parseInt: strconv.ParseUint: parsing \"zz\": invalid syntax"
        ));
        assert!(run("{{ parseInt \"1ff\" 16 8 }}")
            .unwrap_err()
            .ends_with("value out of range"));
        assert!(run("{{ .Message }}").is_err());
    }

    #[test]
    fn parse_errors() {
        let e = |t: &str| Template::parse("answer", t).unwrap_err();
        assert_eq!(e("{{ .Name "), "template: answer:1: unclosed action");
        assert_eq!(
            e("{{ foo .Name }}"),
            "template: answer:1: function \"foo\" not defined"
        );
        assert!(e("{{ if .Name }}x{{ end }}").contains("not supported"));
        assert!(e("{{ $x := 1 }}").contains("not supported"));
        assert_eq!(e("{{ }}"), "template: answer:1: missing value for command");
        assert!(Template::parse("answer", "no actions").is_ok());
    }
}
