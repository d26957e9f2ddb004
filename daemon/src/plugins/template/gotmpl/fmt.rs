//! Go's `fmt` for the values templates print: `Sprint`, `Sprintln` and
//! `Sprintf` with Go's verbs, flags, widths, precisions, argument indexes
//! and error forms (`%!d(string=x)`, `%!(EXTRA ...)`), and
//! `strconv.FormatFloat`'s way with floats.

use super::value::{Items, Obj, Value};
use crate::gocompat::quote::{can_backquote, is_print, quote, quote_ascii, quote_rune};

const LDIGITS: &[u8] = b"0123456789abcdefx";
const UDIGITS: &[u8] = b"0123456789ABCDEFX";

#[derive(Clone, Copy, Default)]
struct Flags {
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
}

/// Where `badVerb` finds the value it shows.
#[derive(Clone, Copy)]
enum Bad<'v, 'a> {
    Arg(&'v Value<'a>),
    Value(&'v Value<'a>),
}

#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
    wid: i64,
    prec: i64,
    erroring: bool,
    reordered: bool,
    good_arg_num: bool,
}

/// `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(args: &[Value<'_>]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// `fmt.Sprintln`: spaces between operands, a newline at the end.
pub(super) fn sprintln(args: &[Value<'_>]) -> String {
    let mut p = Printer::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// `fmt.Sprintf`.
pub(super) fn sprintf(format: &str, args: &[Value<'_>]) -> String {
    let mut p = Printer::default();
    p.do_printf(format, args);
    p.buf
}

/// Go's `printableValue`: what `fmt` gets to print a value the template
/// wrote out (`addressable`: a struct value whose pointer methods count,
/// as for values reached through a pointer, a slice or a field).
pub(super) fn printable<'a>(v: Value<'a>, addressable: bool) -> Value<'a> {
    let (v, addressable) = match v {
        Value::Ptr(o) => (Value::Struct(o), true),
        // An interface whose type has String: fmt gets what it holds.
        Value::Iface(_, o) => return Value::Ptr(o),
        v => (v, addressable),
    };
    match v {
        Value::Invalid => Value::str("<no value>"),
        Value::Struct(o) if addressable && o.stringer().is_some() => Value::Ptr(o),
        v => v,
    }
}

fn too_large(n: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&n)
}

/// Go's `parsenum`: digits from `start`, with the index after them.
fn parse_num(s: &[u8], start: usize, end: usize) -> (i64, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0i64;
    let mut is_num = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end);
        }
        num = num * 10 + i64::from(s[i] - b'0');
        is_num = true;
        i += 1;
    }
    (num, is_num, i)
}

/// Go's `parseArgNumber` of `[n]` at the start of `s`: the index, the
/// bytes to skip, whether it parsed.
fn parse_arg_number(s: &[u8]) -> (i64, usize, bool) {
    if s.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..s.len() {
        if s[i] == b']' {
            let (w, ok, newi) = parse_num(s, 1, i);
            if !ok || newi != i {
                return (0, i + 1, false);
            }
            return (w - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

/// Go's `intFromArg`: an integer argument for `*` widths and precisions.
fn int_from_arg(a: &[Value<'_>], arg_num: usize) -> (i64, bool, usize) {
    let mut new = arg_num;
    let mut num = 0;
    let mut is_int = false;
    if let Some(v) = a.get(arg_num) {
        match v {
            Value::Int(n) => {
                num = *n;
                is_int = true;
            }
            Value::Uint(n, _) => {
                if let Ok(n) = i64::try_from(*n) {
                    num = n;
                    is_int = true;
                }
            }
            _ => {}
        }
        new = arg_num + 1;
        if too_large(num) {
            num = 0;
            is_int = false;
        }
    }
    (num, is_int, new)
}

impl Printer {
    fn clear_flags(&mut self) {
        self.f = Flags::default();
        self.wid = 0;
        self.prec = 0;
    }

    fn write_padding(&mut self, n: i64) {
        if n <= 0 {
            return;
        }
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(c, n as usize));
    }

    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.wid - s.chars().count() as i64;
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.buf.push_str(s);
        }
    }

    fn fmt_boolean(&mut self, v: bool) {
        self.pad(if v { "true" } else { "false" });
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut prec = 4;
        if self.f.prec_present && self.prec > 4 {
            prec = self.prec as usize;
        }
        let mut s = format!("U+{:0prec$X}", u, prec = prec);
        if self.f.sharp {
            if let Some(c) = u32::try_from(u).ok().and_then(char::from_u32) {
                if is_print(c) {
                    s.push_str(&format!(" '{c}'"));
                }
            }
        }
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = zero;
    }

    fn fmt_integer(&mut self, u: u64, base: u32, signed: bool, verb: char, digits: &[u8]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        let mut prec = 0i64;
        if self.f.prec_present {
            prec = self.prec;
            if prec == 0 && u == 0 {
                let zero = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.wid);
                self.f.zero = zero;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.wid;
            if negative || self.f.plus || self.f.space {
                prec -= 1;
            }
        }
        let mut buf: Vec<u8> = Vec::new();
        let b = u64::from(base);
        while u >= b {
            buf.push(digits[(u % b) as usize]);
            u /= b;
        }
        buf.push(digits[u as usize]);
        while (buf.len() as i64) < prec {
            buf.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => buf.extend_from_slice(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => {
                    buf.push(digits[16]);
                    buf.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend_from_slice(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.f.plus {
            buf.push(b'+');
        } else if self.f.space {
            buf.push(b' ');
        }
        buf.reverse();
        let s = String::from_utf8(buf).unwrap_or_default();
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = zero;
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present {
            if let Some((i, _)) = s.char_indices().nth(self.prec.max(0) as usize) {
                return &s[..i];
            }
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s).to_string();
        self.pad(&s);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8]) {
        let b = s.as_bytes();
        let mut length = b.len();
        if self.f.prec_present && (self.prec as usize) < length {
            length = self.prec as usize;
        }
        let mut width = 2 * length as i64;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length as i64 - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.wid);
            }
            return;
        }
        if self.f.wid_present && self.wid > width && !self.f.minus {
            self.write_padding(self.wid - width);
        }
        let hex = |c: u8| {
            [
                char::from(digits[usize::from(c >> 4)]),
                char::from(digits[usize::from(c & 0xf)]),
            ]
        };
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(char::from(digits[16]));
        }
        for (i, c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(char::from(digits[16]));
                }
            }
            self.buf.extend(hex(*c));
        }
        if self.f.wid_present && self.wid > width && self.f.minus {
            self.write_padding(self.wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            let q = format!("`{s}`");
            self.pad(&q);
            return;
        }
        let q = if self.f.plus {
            quote_ascii(s)
        } else {
            quote(s)
        };
        self.pad(&q);
    }

    fn rune(c: u64) -> char {
        u32::try_from(c)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{fffd}')
    }

    fn fmt_c(&mut self, c: u64) {
        let s = Self::rune(c).to_string();
        self.pad(&s);
    }

    fn fmt_qc(&mut self, c: u64) {
        let s = quote_rune(Self::rune(c), self.f.plus);
        self.pad(&s);
    }

    fn fmt_float_raw(&mut self, v: f64, verb: char, prec: i64) {
        let prec = if self.f.prec_present { self.prec } else { prec };
        let mut num: Vec<u8> = format_float(v, verb as u8, prec).into_bytes();
        if num[0] == b'-' || num[0] == b'+' {
        } else {
            num.insert(0, b'+');
        }
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        if num[1] == b'I' || num[1] == b'N' {
            let zero = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&String::from_utf8_lossy(&num));
            self.f.zero = zero;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i64 = 0;
            if matches!(verb, 'v' | 'g' | 'G' | 'x') {
                digits = prec;
                if digits == -1 {
                    digits = 6;
                }
            }
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_point = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_point {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        let s = String::from_utf8_lossy(&num).into_owned();
        if self.f.plus || !s.starts_with('+') {
            if self.f.zero && !self.f.minus && self.f.wid_present && self.wid > s.len() as i64 {
                self.buf.push_str(&s[..1]);
                self.write_padding(self.wid - s.len() as i64);
                self.buf.push_str(&s[1..]);
                return;
            }
            self.pad(&s);
            return;
        }
        self.pad(&s[1..]);
    }

    fn bad_verb(&mut self, verb: char, what: Option<Bad<'_, '_>>) {
        self.erroring = true;
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match what {
            Some(Bad::Arg(v)) if !matches!(v, Value::Invalid) => {
                self.buf.push_str(&v.type_name());
                self.buf.push('=');
                self.print_arg(v, 'v');
            }
            Some(Bad::Value(v)) if !matches!(v, Value::Invalid) => {
                self.buf.push_str(&v.type_name());
                self.buf.push('=');
                self.print_value(v, 'v', 0, true);
            }
            _ => self.buf.push_str("<nil>"),
        }
        self.buf.push(')');
        self.erroring = false;
    }

    fn fmt_bool(&mut self, v: bool, verb: char, bad: Bad<'_, '_>) {
        match verb {
            't' | 'v' => self.fmt_boolean(v),
            _ => self.bad_verb(verb, Some(bad)),
        }
    }

    fn fmt_0x64(&mut self, v: u64, leading: bool) {
        let sharp = self.f.sharp;
        self.f.sharp = leading;
        self.fmt_integer(v, 16, false, 'v', LDIGITS);
        self.f.sharp = sharp;
    }

    fn fmt_int(&mut self, v: u64, signed: bool, verb: char, bad: Bad<'_, '_>) {
        match verb {
            'v' if self.f.sharp_v && !signed => self.fmt_0x64(v, true),
            'v' | 'd' => self.fmt_integer(v, 10, signed, verb, LDIGITS),
            'b' => self.fmt_integer(v, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(v, 8, signed, verb, LDIGITS),
            'x' => self.fmt_integer(v, 16, signed, verb, LDIGITS),
            'X' => self.fmt_integer(v, 16, signed, verb, UDIGITS),
            'c' => self.fmt_c(v),
            'q' => self.fmt_qc(v),
            'U' => self.fmt_unicode(v),
            _ => self.bad_verb(verb, Some(bad)),
        }
    }

    fn fmt_float(&mut self, v: f64, verb: char, bad: Bad<'_, '_>) {
        match verb {
            'v' => self.fmt_float_raw(v, 'g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float_raw(v, verb, -1),
            'f' | 'e' | 'E' => self.fmt_float_raw(v, verb, 6),
            'F' => self.fmt_float_raw(v, 'f', 6),
            _ => self.bad_verb(verb, Some(bad)),
        }
    }

    fn fmt_complex(&mut self, re: f64, im: f64, verb: char, bad: Bad<'_, '_>) {
        match verb {
            'v' | 'b' | 'g' | 'G' | 'x' | 'X' | 'f' | 'F' | 'e' | 'E' => {
                let plus = self.f.plus;
                self.buf.push('(');
                self.fmt_float(re, verb, bad);
                self.f.plus = true;
                self.fmt_float(im, verb, bad);
                self.buf.push_str("i)");
                self.f.plus = plus;
            }
            _ => self.bad_verb(verb, Some(bad)),
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char, bad: Bad<'_, '_>) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, Some(bad)),
        }
    }

    /// A pointer-like value's address: where the data lives here, as
    /// arbitrary as Go's.
    fn address(v: &Value<'_>) -> u64 {
        match v {
            Value::Ptr(o) => match o {
                Obj::Data(d) => *d as *const _ as u64,
                Obj::Msg(m) | Obj::Hdr(m) => *m as *const _ as u64,
                Obj::Question(q) => *q as *const _ as u64,
                Obj::Opt(o) | Obj::RrHeader(o) => *o as *const _ as u64,
                Obj::EdnsOption(o) => *o as *const _ as u64,
            },
            Value::Map(m) => *m as *const _ as u64,
            Value::Slice(s) if !s.nil => match s.items {
                Items::Strings(x) => x.as_ptr() as u64,
                Items::Questions(x) => x.as_ptr() as u64,
                Items::Rrs(o) => o.map_or(0, |o| o as *const _ as u64),
                Items::Options(x) => x.as_ptr() as u64,
            },
            _ => 0,
        }
    }

    fn fmt_pointer(&mut self, v: &Value<'_>, verb: char, bad: Bad<'_, '_>) {
        if !matches!(
            v,
            Value::Ptr(_) | Value::NilPtr(_) | Value::Map(_) | Value::Slice(_)
        ) {
            self.bad_verb(verb, Some(bad));
            return;
        }
        let u = Self::address(v);
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.buf.push('(');
                    self.buf.push_str(&v.type_name());
                    self.buf.push_str(")(");
                    if u == 0 {
                        self.buf.push_str("nil");
                    } else {
                        self.fmt_0x64(u, true);
                    }
                    self.buf.push(')');
                } else if u == 0 {
                    self.pad("<nil>");
                } else {
                    let sharp = !self.f.sharp;
                    self.fmt_0x64(u, sharp);
                }
            }
            'p' => {
                let sharp = !self.f.sharp;
                self.fmt_0x64(u, sharp);
            }
            'b' | 'o' | 'd' | 'x' | 'X' => self.fmt_int(u, false, verb, bad),
            _ => self.bad_verb(verb, Some(bad)),
        }
    }

    /// Go's `handleMethods`: the `String` method of pointer types.
    fn handle_methods(&mut self, v: &Value<'_>, verb: char) -> bool {
        if self.erroring || self.f.sharp_v || !matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') {
            return false;
        }
        match v {
            Value::Ptr(o) => match o.stringer() {
                Some(s) => {
                    self.fmt_string(&s, verb, Bad::Arg(v));
                    true
                }
                None => false,
            },
            // Their String methods fail on nil; fmt says so.
            Value::NilPtr(_) => {
                self.buf.push_str("<nil>");
                true
            }
            _ => false,
        }
    }

    fn print_arg(&mut self, arg: &Value<'_>, verb: char) {
        if let Value::Iface(_, o) = arg {
            return self.print_arg(&Value::Ptr(*o), verb);
        }
        if matches!(arg, Value::Invalid) {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, None),
            }
            return;
        }
        match verb {
            'T' => {
                let t = arg.type_name();
                self.fmt_s(&t);
                return;
            }
            'p' => {
                self.fmt_pointer(arg, 'p', Bad::Arg(arg));
                return;
            }
            _ => {}
        }
        let bad = Bad::Arg(arg);
        match arg {
            Value::Bool(b) => self.fmt_bool(*b, verb, bad),
            Value::Float(f) => self.fmt_float(*f, verb, bad),
            Value::Complex(r, i) => self.fmt_complex(*r, *i, verb, bad),
            Value::Int(i) => self.fmt_int(*i as u64, true, verb, bad),
            Value::Uint(u, _) => self.fmt_int(*u, false, verb, bad),
            Value::Str(s) => self.fmt_string(s, verb, bad),
            v => {
                if !self.handle_methods(v, verb) {
                    self.print_value(v, verb, 0, true);
                }
            }
        }
    }

    /// Go's `printValue`; `exported`: whether methods may be used (not
    /// for unexported fields).
    fn print_value(&mut self, v: &Value<'_>, verb: char, depth: usize, exported: bool) {
        if let Value::Iface(_, o) = v {
            return self.print_value(&Value::Ptr(*o), verb, depth + 1, exported);
        }
        if depth > 0 && exported && !matches!(v, Value::Invalid) && self.handle_methods(v, verb) {
            return;
        }
        let bad = Bad::Value(v);
        match v {
            Value::Invalid => {
                if depth == 0 {
                    self.buf.push_str("<invalid reflect.Value>");
                } else if verb == 'v' {
                    self.buf.push_str("<nil>");
                } else {
                    self.bad_verb(verb, None);
                }
            }
            Value::Bool(b) => self.fmt_bool(*b, verb, bad),
            Value::Int(i) => self.fmt_int(*i as u64, true, verb, bad),
            Value::Uint(u, _) => self.fmt_int(*u, false, verb, bad),
            Value::Float(f) => self.fmt_float(*f, verb, bad),
            Value::Complex(r, i) => self.fmt_complex(*r, *i, verb, bad),
            Value::Str(s) => self.fmt_string(s, verb, bad),
            Value::Map(m) => {
                if self.f.sharp_v {
                    self.buf.push_str(&v.type_name());
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                for (i, (k, val)) in m.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(&Value::str(k), verb, depth + 1, true);
                    self.buf.push(':');
                    self.print_value(&Value::str(val), verb, depth + 1, true);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::Struct(o) => {
                if self.f.sharp_v {
                    self.buf.push_str(o.type_name());
                }
                self.buf.push('{');
                for (i, name) in o.field_names().iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    if self.f.plus_v || self.f.sharp_v {
                        self.buf.push_str(name);
                        self.buf.push(':');
                    }
                    match o.field(name) {
                        Some(super::value::Field::Value(f)) => {
                            self.print_value(&f, verb, depth + 1, true)
                        }
                        // templateData's md: nil without a metadata plugin.
                        _ => {
                            if self.f.sharp_v {
                                self.buf.push_str("map[string]metadata.Func(nil)");
                            } else {
                                self.buf.push_str("map[]");
                            }
                        }
                    }
                }
                self.buf.push('}');
            }
            Value::Slice(s) => {
                if self.f.sharp_v {
                    self.buf.push_str(&v.type_name());
                    if s.nil {
                        self.buf.push_str("(nil)");
                        return;
                    }
                    self.buf.push('{');
                    for (i, e) in s.elements().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_value(&e, verb, depth + 1, true);
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (i, e) in s.elements().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        self.print_value(&e, verb, depth + 1, true);
                    }
                    self.buf.push(']');
                }
            }
            Value::Ptr(o) if depth == 0 => {
                self.buf.push('&');
                self.print_value(&Value::Struct(*o), verb, depth + 1, true);
            }
            Value::Ptr(_) | Value::NilPtr(_) | Value::Iface(..) => self.fmt_pointer(v, verb, bad),
        }
    }

    fn arg_number(
        &mut self,
        arg_num: usize,
        format: &[u8],
        i: usize,
        num_args: usize,
    ) -> (usize, usize, bool) {
        if format.len() <= i || format[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&format[i..]);
        if ok && 0 <= index && (index as usize) < num_args {
            return (index as usize, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }

    fn do_printf(&mut self, format: &str, a: &[Value<'_>]) {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0usize;
        let mut after_index;
        self.reordered = false;
        let mut i = 0;
        while i < end {
            self.good_arg_num = true;
            let last = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > last {
                self.buf.push_str(&format[last..i]);
            }
            if i >= end {
                break;
            }
            i += 1;
            self.clear_flags();
            while i < end {
                match fb[i] {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = true,
                    b'+' => self.f.plus = true,
                    b'-' => self.f.minus = true,
                    b' ' => self.f.space = true,
                    _ => break,
                }
                i += 1;
            }
            (arg_num, i, after_index) = self.arg_number(arg_num, fb, i, a.len());
            if i < end && fb[i] == b'*' {
                i += 1;
                let (w, ok, n) = int_from_arg(a, arg_num);
                self.wid = w;
                self.f.wid_present = ok;
                arg_num = n;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                }
                if self.wid < 0 {
                    self.wid = -self.wid;
                    self.f.minus = true;
                    self.f.zero = false;
                }
                after_index = false;
            } else {
                let (w, ok, n) = parse_num(fb, i, end);
                self.wid = w;
                self.f.wid_present = ok;
                i = n;
                if after_index && self.f.wid_present {
                    self.good_arg_num = false;
                }
            }
            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, fb, i, a.len());
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (p, ok, n) = int_from_arg(a, arg_num);
                    self.prec = p;
                    self.f.prec_present = ok;
                    arg_num = n;
                    if self.prec < 0 {
                        self.prec = 0;
                        self.f.prec_present = false;
                    }
                    if !self.f.prec_present {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (p, ok, n) = parse_num(fb, i, end);
                    self.prec = p;
                    self.f.prec_present = ok;
                    i = n;
                    if !ok {
                        self.prec = 0;
                        self.f.prec_present = true;
                    }
                }
            }
            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, fb, i, a.len());
            }
            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('\u{fffd}');
            i += verb.len_utf8();
            if verb == '%' {
                self.buf.push('%');
            } else if !self.good_arg_num {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(BADINDEX)");
            } else if arg_num >= a.len() {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(MISSING)");
            } else {
                if verb == 'v' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus_v = self.f.plus;
                    self.f.plus = false;
                }
                self.print_arg(&a[arg_num], verb);
                arg_num += 1;
            }
        }
        if !self.reordered && arg_num < a.len() {
            self.clear_flags();
            self.buf.push_str("%!(EXTRA ");
            for (i, arg) in a[arg_num..].iter().enumerate() {
                if i > 0 {
                    self.buf.push_str(", ");
                }
                if matches!(arg, Value::Invalid) {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(&arg.type_name());
                    self.buf.push('=');
                    self.print_arg(arg, 'v');
                }
            }
            self.buf.push(')');
        }
    }
}

/// A float's decimal digits (no leading or trailing zeros) and where the
/// decimal point goes: `digits` × 10^(dp - len).
struct Decimal {
    d: Vec<u8>,
    dp: i64,
}

impl Decimal {
    /// From Rust's `{:e}` form (`1.25e-3`).
    fn from_exp(s: &str) -> Self {
        let (m, e) = s.split_once('e').unwrap_or((s, "0"));
        let mut d: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).collect();
        while d.last() == Some(&b'0') {
            d.pop();
        }
        let exp: i64 = e.parse().unwrap_or(0);
        if d.is_empty() {
            return Decimal { d, dp: 0 };
        }
        Decimal { d, dp: exp + 1 }
    }

    /// From Rust's fixed form (`0.0012`).
    fn from_fixed(s: &str) -> Self {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let mut d: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
        let lead = d.iter().take_while(|c| **c == b'0').count();
        d.drain(..lead);
        while d.last() == Some(&b'0') {
            d.pop();
        }
        if d.is_empty() {
            return Decimal { d, dp: 0 };
        }
        Decimal {
            d,
            dp: int.len() as i64 - lead as i64,
        }
    }
}

/// `strconv.FormatFloat(v, fmt, prec, 64)`.
pub(super) fn format_float(v: f64, fmt: u8, prec: i64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let neg = v.is_sign_negative();
    let a = v.abs();
    match fmt {
        b'b' => return format_b(v),
        b'x' | b'X' => return format_x(v, prec, fmt),
        _ => {}
    }
    let shortest = prec < 0;
    let mut prec = prec;
    let digs = if a == 0.0 {
        Decimal {
            d: Vec::new(),
            dp: 0,
        }
    } else if shortest {
        let d = Decimal::from_exp(&format!("{a:e}"));
        let nd = d.d.len() as i64;
        prec = match fmt {
            b'e' | b'E' => (nd - 1).max(0),
            b'f' => (nd - d.dp).max(0),
            _ => nd,
        };
        d
    } else {
        match fmt {
            b'e' | b'E' => Decimal::from_exp(&format!("{:.*e}", prec as usize, a)),
            b'f' => Decimal::from_fixed(&format!("{:.*}", prec as usize, a)),
            _ => {
                if prec == 0 {
                    prec = 1;
                }
                Decimal::from_exp(&format!("{:.*e}", (prec - 1) as usize, a))
            }
        }
    };
    format_digits(shortest, neg, &digs, prec, fmt)
}

fn format_digits(shortest: bool, neg: bool, d: &Decimal, prec: i64, fmt: u8) -> String {
    let nd = d.d.len() as i64;
    match fmt {
        b'e' | b'E' => fmt_e(neg, d, prec, fmt),
        b'f' => fmt_f(neg, d, prec),
        _ => {
            let mut eprec = prec;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            if exp < -4 || exp >= eprec {
                let p = prec.min(nd);
                return fmt_e(neg, d, p - 1, fmt + b'e' - b'g');
            }
            let p = if prec > d.dp { nd } else { prec };
            fmt_f(neg, d, (p - d.dp).max(0))
        }
    }
}

fn fmt_e(neg: bool, d: &Decimal, prec: i64, fmt: u8) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push(char::from(d.d.first().copied().unwrap_or(b'0')));
    if prec > 0 {
        s.push('.');
        let m = (d.d.len() as i64).min(prec + 1);
        let mut i = 1;
        if i < m {
            s.extend(d.d[1..m as usize].iter().map(|c| char::from(*c)));
            i = m;
        }
        while i <= prec {
            s.push('0');
            i += 1;
        }
    }
    s.push(char::from(fmt));
    let exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    s.push(if exp < 0 { '-' } else { '+' });
    let e = exp.abs();
    if e < 10 {
        s.push('0');
    }
    s.push_str(&e.to_string());
    s
}

fn fmt_f(neg: bool, d: &Decimal, prec: i64) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if d.dp > 0 {
        let m = (d.d.len() as i64).min(d.dp) as usize;
        s.extend(d.d[..m].iter().map(|c| char::from(*c)));
        for _ in m as i64..d.dp {
            s.push('0');
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 0..prec {
            let j = d.dp + i;
            let c = if 0 <= j && (j as usize) < d.d.len() {
                d.d[j as usize]
            } else {
                b'0'
            };
            s.push(char::from(c));
        }
    }
    s
}

/// The mantissa and binary exponent of a float64, as Go splits it.
fn mant_exp(v: f64) -> (u64, i64) {
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1 << 52;
    }
    (mant, exp - 1023)
}

/// `%b`: decimal mantissa, `p`, binary exponent.
fn format_b(v: f64) -> String {
    let (mant, exp) = mant_exp(v);
    let exp = exp - 52;
    let sign = if v.is_sign_negative() { "-" } else { "" };
    let esign = if exp >= 0 { "+" } else { "" };
    format!("{sign}{mant}p{esign}{exp}")
}

/// `%x`: hexadecimal mantissa and binary exponent (`-0x1.23abcp+20`).
fn format_x(v: f64, prec: i64, fmt: u8) -> String {
    let (mut mant, mut exp) = mant_exp(v);
    if mant == 0 {
        exp = 0;
    }
    // Shift so the leading 1 is at bit 60.
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex = if fmt == b'X' { UDIGITS } else { LDIGITS };
    let mut s = String::new();
    if v.is_sign_negative() {
        s.push('-');
    }
    s.push('0');
    s.push(char::from(fmt));
    s.push(char::from(b'0' + ((mant >> 60) & 1) as u8));
    mant <<= 4;
    if prec < 0 && mant != 0 {
        s.push('.');
        while mant != 0 {
            s.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    } else if prec > 0 {
        s.push('.');
        for _ in 0..prec {
            s.push(char::from(hex[((mant >> 60) & 15) as usize]));
            mant <<= 4;
        }
    }
    s.push(if fmt == b'X' { 'P' } else { 'p' });
    s.push(if exp < 0 { '-' } else { '+' });
    let e = exp.abs();
    if e < 10 {
        s.push('0');
    }
    s.push_str(&e.to_string());
    s
}
