//! Values during execution: what Go's reflection sees of CoreDNS's template
//! data (`*template.templateData`, `*dns.Msg`, `dns.MsgHdr`,
//! `*dns.Question`, ...) and of the constants and results of a template,
//! with Go's type names, kinds, truth, fields and methods.

use super::{Data, MessageData, Question};
use crate::wire::mnemonics;
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum UintTy {
    Uint8,
    Uint16,
    Uint64,
}

/// A value of a struct type of the data, seen through a pointer
/// (`Value::Ptr`) or as the struct itself (`Value::Struct`).
#[derive(Clone, Copy, Debug)]
pub(super) enum Obj<'a> {
    Data(&'a Data),
    Msg(&'a MessageData),
    Hdr(&'a MessageData),
    Question(&'a Question),
}

/// The elements of a slice.
#[derive(Clone, Copy, Debug)]
pub(super) enum Items<'a> {
    Strings(&'a [String]),
    Questions(&'a [Question]),
    /// `[]dns.RR`; ferrodns gives the query's sections none.
    Rrs,
}

/// A Go slice: a window `lo..hi` of its backing elements, which reach
/// up to `max` (its capacity is `max - lo`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Slice<'a> {
    pub items: Items<'a>,
    pub lo: usize,
    pub hi: usize,
    pub max: usize,
    pub nil: bool,
}

#[derive(Clone, Debug)]
pub(super) enum Value<'a> {
    /// The zero `reflect.Value`: a missing map key, an untyped nil.
    Invalid,
    Bool(bool),
    /// Go's `int`.
    Int(i64),
    Uint(u64, UintTy),
    Float(f64),
    Complex(f64, f64),
    Str(Rc<str>),
    Slice(Slice<'a>),
    Map(&'a BTreeMap<String, String>),
    Ptr(Obj<'a>),
    Struct(Obj<'a>),
    /// A nil pointer of the named type (`*dns.OPT` from `IsEdns0`).
    NilPtr(&'static str),
}

/// reflect's kinds, as far as templates tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Complex,
    String,
    Slice,
    Map,
    Ptr,
    Struct,
}

impl<'a> Value<'a> {
    pub(super) fn str(s: &str) -> Self {
        Value::Str(s.into())
    }

    pub(super) fn int(i: i64) -> Self {
        Value::Int(i)
    }

    pub(super) fn kind(&self) -> Kind {
        match self {
            Value::Invalid => Kind::Invalid,
            Value::Bool(_) => Kind::Bool,
            Value::Int(..) => Kind::Int,
            Value::Uint(..) => Kind::Uint,
            Value::Float(_) => Kind::Float,
            Value::Complex(..) => Kind::Complex,
            Value::Str(_) => Kind::String,
            Value::Slice(_) => Kind::Slice,
            Value::Map(_) => Kind::Map,
            Value::Ptr(_) | Value::NilPtr(_) => Kind::Ptr,
            Value::Struct(_) => Kind::Struct,
        }
    }

    /// The Go type's name, as `reflect.Type.String` gives it.
    pub(super) fn type_name(&self) -> String {
        match self {
            Value::Invalid => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Uint(_, t) => match t {
                UintTy::Uint8 => "uint8",
                UintTy::Uint16 => "uint16",
                UintTy::Uint64 => "uint64",
            }
            .into(),
            Value::Float(_) => "float64".into(),
            Value::Complex(..) => "complex128".into(),
            Value::Str(_) => "string".into(),
            Value::Slice(s) => match s.items {
                Items::Strings(_) => "[]string",
                Items::Questions(_) => "[]dns.Question",
                Items::Rrs => "[]dns.RR",
            }
            .into(),
            Value::Map(_) => "map[string]string".into(),
            Value::Ptr(o) => format!("*{}", o.type_name()),
            Value::Struct(o) => o.type_name().into(),
            Value::NilPtr(t) => (*t).into(),
        }
    }

    /// Go's `isTrue`: not the zero value of its type.
    pub(super) fn truth(&self) -> bool {
        match self {
            Value::Invalid | Value::NilPtr(_) => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Uint(u, _) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::Complex(r, i) => *r != 0.0 || *i != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Slice(s) => s.len() > 0,
            Value::Map(m) => !m.is_empty(),
            Value::Ptr(_) | Value::Struct(_) => true,
        }
    }

    /// Go's `indirect`: through the pointer to what it points at; a nil
    /// pointer stays (and says so).
    pub(super) fn indirect(self) -> (Self, bool) {
        match self {
            Value::Ptr(o) => (Value::Struct(o), false),
            v @ Value::NilPtr(_) => (v, true),
            v => (v, false),
        }
    }

    /// The number of elements (strings: bytes) for kinds that have one.
    pub(super) fn len(&self) -> Option<usize> {
        match self {
            Value::Str(s) => Some(s.len()),
            Value::Slice(s) => Some(s.len()),
            Value::Map(m) => Some(m.len()),
            _ => None,
        }
    }
}

impl<'a> Slice<'a> {
    pub(super) fn whole(items: Items<'a>, nil: bool) -> Self {
        let n = items.count();
        Slice {
            items,
            lo: 0,
            hi: n,
            max: n,
            nil,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.hi - self.lo
    }

    pub(super) fn cap(&self) -> usize {
        self.max - self.lo
    }

    /// The element at `i` (below `len`).
    pub(super) fn get(&self, i: usize) -> Value<'a> {
        let i = self.lo + i;
        match self.items {
            Items::Strings(s) => Value::str(&s[i]),
            Items::Questions(q) => Value::Struct(Obj::Question(&q[i])),
            Items::Rrs => Value::Invalid,
        }
    }

    pub(super) fn elements(&self) -> impl Iterator<Item = Value<'a>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl Items<'_> {
    fn count(&self) -> usize {
        match self {
            Items::Strings(s) => s.len(),
            Items::Questions(q) => q.len(),
            Items::Rrs => 0,
        }
    }
}

/// A method of a data type that templates can call.
#[derive(Clone, Copy, Debug)]
pub(super) enum Method<'a> {
    /// `(*templateData).Meta(name string) string`.
    Meta,
    MsgString(&'a MessageData),
    MsgLen(&'a MessageData),
    MsgCopy(&'a MessageData),
    /// `IsEdns0` (`*dns.OPT`) or `IsTsig` (`*dns.TSIG`): always nil here.
    MsgNil(&'static str),
    HdrString(&'a MessageData),
    QuestionString(&'a Question),
    /// A method Go has that ferrodns does not run (those that change or
    /// pack the message).
    Unsupported(&'static str),
}

/// The exported methods of `*dns.Msg` that ferrodns does not run.
const MSG_UNSUPPORTED: &[&str] = &[
    "CopyTo",
    "Insert",
    "NameNotUsed",
    "NameUsed",
    "Pack",
    "PackBuffer",
    "RRsetNotUsed",
    "RRsetUsed",
    "Remove",
    "RemoveName",
    "RemoveRRset",
    "SetAxfr",
    "SetEdns0",
    "SetIxfr",
    "SetNotify",
    "SetQuestion",
    "SetRcode",
    "SetRcodeFormatError",
    "SetReply",
    "SetTsig",
    "SetUpdate",
    "Truncate",
    "Unpack",
    "Used",
];

/// A struct field's value, or that it is not exported.
pub(super) enum Field<'a> {
    Value(Value<'a>),
    Unexported,
}

impl<'a> Obj<'a> {
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Obj::Data(_) => "template.templateData",
            Obj::Msg(_) => "dns.Msg",
            Obj::Hdr(_) => "dns.MsgHdr",
            Obj::Question(_) => "dns.Question",
        }
    }

    /// The methods of the pointer type (every method of these types has
    /// a pointer receiver, so a struct value has them only where it is
    /// addressable).
    pub(super) fn method(&self, name: &str) -> Option<Method<'a>> {
        Some(match (self, name) {
            (Obj::Data(_), "Meta") => Method::Meta,
            (Obj::Msg(m), "String") => Method::MsgString(m),
            (Obj::Msg(m), "Len") => Method::MsgLen(m),
            (Obj::Msg(m), "Copy") => Method::MsgCopy(m),
            (Obj::Msg(_), "IsEdns0") => Method::MsgNil("*dns.OPT"),
            (Obj::Msg(_), "IsTsig") => Method::MsgNil("*dns.TSIG"),
            (Obj::Msg(_), n) => {
                return MSG_UNSUPPORTED
                    .iter()
                    .find(|m| **m == n)
                    .map(|m| Method::Unsupported(m))
            }
            (Obj::Hdr(h), "String") => Method::HdrString(h),
            (Obj::Question(q), "String") => Method::QuestionString(q),
            _ => return None,
        })
    }

    /// The names of the struct's fields, in order.
    pub(super) fn field_names(&self) -> &'static [&'static str] {
        match self {
            Obj::Data(_) => &[
                "Zone", "Name", "Regex", "Match", "Group", "Class", "Type", "Message", "Question",
                "Remote", "md",
            ],
            Obj::Msg(_) => &["MsgHdr", "Compress", "Question", "Answer", "Ns", "Extra"],
            Obj::Hdr(_) => &[
                "Id",
                "Response",
                "Opcode",
                "Authoritative",
                "Truncated",
                "RecursionDesired",
                "RecursionAvailable",
                "Zero",
                "AuthenticatedData",
                "CheckingDisabled",
                "Rcode",
            ],
            Obj::Question(_) => &["Name", "Qtype", "Qclass"],
        }
    }

    /// A field by name, those of an embedded struct (`dns.Msg`'s
    /// `MsgHdr`) included.
    pub(super) fn field(&self, name: &str) -> Option<Field<'a>> {
        let v = match *self {
            Obj::Data(d) => match name {
                "Zone" => Value::str(&d.zone),
                "Name" => Value::str(&d.name),
                "Regex" => Value::str(&d.regex),
                "Match" => Value::Slice(Slice::whole(Items::Strings(&d.matches), false)),
                "Group" => Value::Map(&d.group),
                "Class" => Value::str(&d.class),
                "Type" => Value::str(&d.qtype),
                "Message" => Value::Ptr(Obj::Msg(&d.message)),
                "Question" => Value::Ptr(Obj::Question(&d.question)),
                "Remote" => Value::str(&d.remote),
                "md" => return Some(Field::Unexported),
                _ => return None,
            },
            Obj::Msg(m) => match name {
                "MsgHdr" => Value::Struct(Obj::Hdr(m)),
                "Compress" => Value::Bool(false),
                "Question" => Value::Slice(Slice::whole(Items::Questions(&m.question), false)),
                "Answer" | "Ns" | "Extra" => Value::Slice(Slice::whole(Items::Rrs, true)),
                n => return Obj::Hdr(m).field(n),
            },
            Obj::Hdr(h) => match name {
                "Id" => Value::Uint(u64::from(h.id), UintTy::Uint16),
                "Response" => Value::Bool(h.response),
                "Opcode" => Value::int(h.opcode),
                "Authoritative" => Value::Bool(h.authoritative),
                "Truncated" => Value::Bool(h.truncated),
                "RecursionDesired" => Value::Bool(h.recursion_desired),
                "RecursionAvailable" => Value::Bool(h.recursion_available),
                "Zero" => Value::Bool(h.zero),
                "AuthenticatedData" => Value::Bool(h.authenticated_data),
                "CheckingDisabled" => Value::Bool(h.checking_disabled),
                "Rcode" => Value::int(h.rcode),
                _ => return None,
            },
            Obj::Question(q) => match name {
                "Name" => Value::str(&q.name),
                "Qtype" => Value::Uint(u64::from(q.qtype), UintTy::Uint16),
                "Qclass" => Value::Uint(u64::from(q.qclass), UintTy::Uint16),
                _ => return None,
            },
        };
        Some(Field::Value(v))
    }

    /// The type's `String` method (pointer receiver), if it has one.
    pub(super) fn stringer(&self) -> Option<String> {
        match *self {
            Obj::Data(_) => None,
            Obj::Msg(m) => Some(msg_text(m)),
            Obj::Hdr(h) => Some(hdr_text(h)),
            Obj::Question(q) => Some(question_text(q)),
        }
    }

    /// Whether two values of struct type are equal (Go's `==`); `None`
    /// for types that cannot be compared.
    pub(super) fn struct_eq(&self, other: &Obj<'_>) -> Option<bool> {
        match (self, other) {
            (Obj::Hdr(a), Obj::Hdr(b)) => Some(hdr_eq(a, b)),
            (Obj::Question(a), Obj::Question(b)) => Some(a == b),
            (Obj::Data(_) | Obj::Msg(_), _) => None,
            _ => Some(false),
        }
    }

    /// Whether two pointers point at the same thing.
    pub(super) fn same(&self, other: &Obj<'_>) -> bool {
        match (self, other) {
            (Obj::Data(a), Obj::Data(b)) => std::ptr::eq(*a, *b),
            (Obj::Msg(a), Obj::Msg(b)) | (Obj::Hdr(a), Obj::Hdr(b)) => std::ptr::eq(*a, *b),
            (Obj::Question(a), Obj::Question(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

fn hdr_eq(a: &MessageData, b: &MessageData) -> bool {
    (
        a.id,
        a.response,
        a.opcode,
        a.authoritative,
        a.truncated,
        a.recursion_desired,
        a.recursion_available,
        a.zero,
        a.authenticated_data,
        a.checking_disabled,
        a.rcode,
    ) == (
        b.id,
        b.response,
        b.opcode,
        b.authoritative,
        b.truncated,
        b.recursion_desired,
        b.recursion_available,
        b.zero,
        b.authenticated_data,
        b.checking_disabled,
        b.rcode,
    )
}

/// miekg's `Question.String()`.
pub(super) fn question_text(q: &Question) -> String {
    format!(
        ";{}\t{}\t {}",
        q.name,
        mnemonics::class_text(q.qclass),
        mnemonics::type_text(q.qtype)
    )
}

fn opcode_text(op: i64) -> &'static str {
    match op {
        0 => "QUERY",
        1 => "IQUERY",
        2 => "STATUS",
        4 => "NOTIFY",
        5 => "UPDATE",
        _ => "",
    }
}

/// miekg's `MsgHdr.String()`.
pub(super) fn hdr_text(h: &MessageData) -> String {
    let rcode = u16::try_from(h.rcode).map_or("", mnemonics::rcode_to_str);
    let mut s = format!(
        ";; opcode: {}, status: {}, id: {}\n;; flags:",
        opcode_text(h.opcode),
        rcode,
        h.id
    );
    let flags = [
        (h.response, " qr"),
        (h.authoritative, " aa"),
        (h.truncated, " tc"),
        (h.recursion_desired, " rd"),
        (h.recursion_available, " ra"),
        (h.zero, " z"),
        (h.authenticated_data, " ad"),
        (h.checking_disabled, " cd"),
    ];
    for (on, f) in flags {
        if on {
            s.push_str(f);
        }
    }
    s.push(';');
    s
}

/// miekg's `Msg.String()` of a query without records.
pub(super) fn msg_text(m: &MessageData) -> String {
    let update = m.opcode == 5;
    let mut s = hdr_text(m) + " ";
    let counts = if update {
        ["ZONE", "PREREQ", "UPDATE", "ADDITIONAL"]
    } else {
        ["QUERY", "ANSWER", "AUTHORITY", "ADDITIONAL"]
    };
    s.push_str(&format!(
        "{}: {}, {}: 0, {}: 0, {}: 0\n",
        counts[0],
        m.question.len(),
        counts[1],
        counts[2],
        counts[3]
    ));
    if !m.question.is_empty() {
        s.push_str(if update {
            "\n;; ZONE SECTION:\n"
        } else {
            "\n;; QUESTION SECTION:\n"
        });
        for q in &m.question {
            s.push_str(&question_text(q));
            s.push('\n');
        }
    }
    s
}

/// miekg's `Msg.Len()` of a query without records and without
/// compression: the header and each question (name, type, class).
pub(super) fn msg_len(m: &MessageData) -> i64 {
    let names: usize = m.question.iter().map(|q| name_len(&q.name) + 4).sum();
    (12 + names) as i64
}

/// The wire length of a name in presentation form.
fn name_len(name: &str) -> usize {
    if name == "." || name.is_empty() {
        return 1;
    }
    let mut len = 1;
    let mut chars = name.chars().peekable();
    let mut label = 0;
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                len += label + 1;
                label = 0;
            }
            '\\' => {
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                    chars.next();
                    chars.next();
                } else {
                    chars.next();
                }
                label += 1;
            }
            _ => label += c.len_utf8(),
        }
    }
    if label > 0 {
        len += label + 1;
    }
    len
}
