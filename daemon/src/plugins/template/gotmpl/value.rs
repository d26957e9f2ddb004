//! Values during execution: what Go's reflection sees of CoreDNS's template
//! data (`*template.templateData`, `*dns.Msg`, `dns.MsgHdr`,
//! `*dns.Question`, ...) and of the constants and results of a template,
//! with Go's type names, kinds, truth, fields and methods.

use super::{Data, MessageData, Opt, Question};
use crate::wire::mnemonics;
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum UintTy {
    Uint8,
    Uint16,
    Uint32,
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
    Opt(&'a Opt),
    /// The OPT record's `dns.RR_Header`.
    RrHeader(&'a Opt),
    /// One of its options (`*dns.EDNS0_COOKIE`, ...).
    EdnsOption(&'a (u16, Vec<u8>)),
}

/// The elements of a slice.
#[derive(Clone, Copy, Debug)]
pub(super) enum Items<'a> {
    Strings(&'a [String]),
    Questions(&'a [Question]),
    /// `[]dns.RR`: the query's additional section holds its OPT record,
    /// if any; ferrodns gives its other sections none.
    Rrs(Option<&'a Opt>),
    /// `[]dns.EDNS0`.
    Options(&'a [(u16, Vec<u8>)]),
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
    /// A value of the named interface type (`dns.RR`, `dns.EDNS0`) that
    /// holds a pointer: what a slice of interfaces gives.
    Iface(&'static str, Obj<'a>),
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
            Value::Ptr(_) | Value::NilPtr(_) | Value::Iface(..) => Kind::Ptr,
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
                UintTy::Uint32 => "uint32",
                UintTy::Uint64 => "uint64",
            }
            .into(),
            Value::Float(_) => "float64".into(),
            Value::Complex(..) => "complex128".into(),
            Value::Str(_) => "string".into(),
            Value::Slice(s) => match s.items {
                Items::Strings(_) => "[]string",
                Items::Questions(_) => "[]dns.Question",
                Items::Rrs(_) => "[]dns.RR",
                Items::Options(_) => "[]dns.EDNS0",
            }
            .into(),
            Value::Map(_) => "map[string]string".into(),
            Value::Ptr(o) => format!("*{}", o.type_name()),
            Value::Struct(o) => o.type_name().into(),
            Value::NilPtr(t) | Value::Iface(t, _) => (*t).into(),
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
            Value::Ptr(_) | Value::Struct(_) | Value::Iface(..) => true,
        }
    }

    /// Go's `indirect`: through the pointer to what it points at; a nil
    /// pointer stays (and says so).
    pub(super) fn indirect(self) -> (Self, bool) {
        match self {
            Value::Ptr(o) | Value::Iface(_, o) => (Value::Struct(o), false),
            v @ Value::NilPtr(_) => (v, true),
            v => (v, false),
        }
    }

    /// Go's `indirectInterface`: the value an interface holds.
    pub(super) fn concrete(self) -> Self {
        match self {
            Value::Iface(_, o) => Value::Ptr(o),
            v => v,
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
            Items::Rrs(o) => o.map_or(Value::Invalid, |o| Value::Iface("dns.RR", Obj::Opt(o))),
            Items::Options(o) => Value::Iface("dns.EDNS0", Obj::EdnsOption(&o[i])),
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
            Items::Rrs(o) => usize::from(o.is_some()),
            Items::Options(o) => o.len(),
        }
    }
}

/// A method of a data type that templates can call.
#[derive(Clone, Debug)]
pub(super) enum Method<'a> {
    /// `(*templateData).Meta(name string) string`.
    Meta(&'a Data),
    /// A method without arguments, and its result.
    Get(Value<'a>),
    /// A method Go has that ferrodns does not run.
    Unrun(&'static Unrun),
}

/// A method ferrodns does not run (those that change or encode the
/// message), with what Go checks before calling it: the number of
/// parameters (the last variadic) and whether it returns anything.
#[derive(Debug)]
pub(super) struct Unrun {
    pub ty: &'static str,
    pub name: &'static str,
    pub params: usize,
    pub variadic: bool,
    pub returns: bool,
}

const fn unrun(ty: &'static str, name: &'static str, params: usize, returns: bool) -> Unrun {
    Unrun {
        ty,
        name,
        params,
        variadic: false,
        returns,
    }
}

const UNRUN: &[Unrun] = &[
    unrun("*dns.Msg", "CopyTo", 1, true),
    unrun("*dns.Msg", "Insert", 1, false),
    unrun("*dns.Msg", "NameNotUsed", 1, false),
    unrun("*dns.Msg", "NameUsed", 1, false),
    unrun("*dns.Msg", "Pack", 0, true),
    unrun("*dns.Msg", "PackBuffer", 1, true),
    unrun("*dns.Msg", "RRsetNotUsed", 1, false),
    unrun("*dns.Msg", "RRsetUsed", 1, false),
    unrun("*dns.Msg", "Remove", 1, false),
    unrun("*dns.Msg", "RemoveName", 1, false),
    unrun("*dns.Msg", "RemoveRRset", 1, false),
    unrun("*dns.Msg", "SetAxfr", 1, true),
    unrun("*dns.Msg", "SetEdns0", 2, true),
    unrun("*dns.Msg", "SetIxfr", 4, true),
    unrun("*dns.Msg", "SetNotify", 1, true),
    unrun("*dns.Msg", "SetQuestion", 2, true),
    unrun("*dns.Msg", "SetRcode", 2, true),
    unrun("*dns.Msg", "SetRcodeFormatError", 1, true),
    unrun("*dns.Msg", "SetReply", 1, true),
    unrun("*dns.Msg", "SetTsig", 4, true),
    unrun("*dns.Msg", "SetUpdate", 1, true),
    unrun("*dns.Msg", "Truncate", 1, false),
    unrun("*dns.Msg", "Unpack", 1, true),
    unrun("*dns.Msg", "Used", 1, false),
    Unrun {
        variadic: true,
        ..unrun("*dns.OPT", "SetCo", 1, false)
    },
    Unrun {
        variadic: true,
        ..unrun("*dns.OPT", "SetDo", 1, false)
    },
    unrun("*dns.OPT", "SetExtendedRcode", 1, false),
    unrun("*dns.OPT", "SetUDPSize", 1, false),
    unrun("*dns.OPT", "SetVersion", 1, false),
    unrun("*dns.OPT", "SetZ", 1, false),
];

/// The method `name` of the pointer type `ty` that ferrodns does not run.
pub(super) fn unrun_method(ty: &str, name: &str) -> Option<&'static Unrun> {
    UNRUN.iter().find(|u| u.ty == ty && u.name == name)
}

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
            Obj::Opt(_) => "dns.OPT",
            Obj::RrHeader(_) => "dns.RR_Header",
            Obj::EdnsOption((code, _)) => super::edns::option_type(*code),
        }
    }

    /// The methods of the pointer type (every method of these types has
    /// a pointer receiver, so a struct value has them only where it is
    /// addressable).
    pub(super) fn method(&self, name: &str) -> Option<Method<'a>> {
        let get = |v| Some(Method::Get(v));
        match (*self, name) {
            (Obj::Data(d), "Meta") => Some(Method::Meta(d)),
            (o, "String") => get(Value::str(&o.stringer()?)),
            (Obj::Msg(m), "Len") => get(Value::Int(msg_len(m))),
            (Obj::Msg(m), "Copy") => get(Value::Ptr(Obj::Msg(m))),
            (Obj::Msg(m), "IsEdns0") => get(m
                .opt
                .as_ref()
                .map_or(Value::NilPtr("*dns.OPT"), |o| Value::Ptr(Obj::Opt(o)))),
            (Obj::Msg(_), "IsTsig") => get(Value::NilPtr("*dns.TSIG")),
            (Obj::Msg(_), n) => unrun_method("*dns.Msg", n).map(Method::Unrun),
            (Obj::Opt(o) | Obj::RrHeader(o), "Header") => get(Value::Ptr(Obj::RrHeader(o))),
            (Obj::Opt(o), "Version") => get(Value::Uint(u64::from(o.version()), UintTy::Uint8)),
            (Obj::Opt(o), "ExtendedRcode") => get(Value::Int(o.extended_rcode())),
            (Obj::Opt(o), "UDPSize") => get(Value::Uint(u64::from(o.udp_size), UintTy::Uint16)),
            (Obj::Opt(o), "Do") => get(Value::Bool(o.do_bit())),
            (Obj::Opt(o), "Co") => get(Value::Bool(o.co_bit())),
            (Obj::Opt(o), "Z") => get(Value::Uint(u64::from(o.z()), UintTy::Uint16)),
            (Obj::Opt(_), n) => unrun_method("*dns.OPT", n).map(Method::Unrun),
            (Obj::EdnsOption((code, _)), "Option") => {
                get(Value::Uint(u64::from(*code), UintTy::Uint16))
            }
            _ => None,
        }
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
            Obj::Opt(_) => &["Hdr", "Option"],
            Obj::RrHeader(_) => &["Name", "Rrtype", "Class", "Ttl", "Rdlength"],
            Obj::EdnsOption((code, _)) => match code {
                8 => &["Code", "Family", "SourceNetmask", "SourceScope"],
                2 => &["Code", "Lease", "KeyLease"],
                3 => &["Code", "Nsid"],
                4 => &["Code", "Uri"],
                9 => &["Code", "Expire", "Empty"],
                10 => &["Code", "Cookie"],
                11 => &["Code", "Timeout", "Length"],
                12 => &[],
                15 => &["InfoCode", "ExtraText"],
                _ => &["Code"],
            },
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
                "Answer" | "Ns" => Value::Slice(Slice::whole(Items::Rrs(None), true)),
                "Extra" => Value::Slice(Slice::whole(Items::Rrs(m.opt.as_ref()), m.opt.is_none())),
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
            Obj::Opt(o) => match name {
                "Hdr" => Value::Struct(Obj::RrHeader(o)),
                "Option" => Value::Slice(Slice::whole(
                    Items::Options(&o.options),
                    o.options.is_empty(),
                )),
                _ => return None,
            },
            Obj::RrHeader(o) => match name {
                "Name" => Value::str("."),
                "Rrtype" => Value::Uint(41, UintTy::Uint16),
                "Class" => Value::Uint(u64::from(o.udp_size), UintTy::Uint16),
                "Ttl" => Value::Uint(u64::from(o.ttl), UintTy::Uint32),
                "Rdlength" => Value::Uint(o.rdlength() as u64, UintTy::Uint16),
                _ => return None,
            },
            Obj::EdnsOption(o) => return option_field(o, name).map(Field::Value),
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
            Obj::Opt(o) => Some(o.text()),
            Obj::RrHeader(o) => Some(format!(";.\t{}\tCLASS{}\tOPT\t", o.ttl, o.udp_size)),
            Obj::EdnsOption((code, data)) => Some(super::edns::option_text(*code, data)),
        }
    }

    /// Whether two values of struct type are equal (Go's `==`); `None`
    /// for types that cannot be compared.
    pub(super) fn struct_eq(&self, other: &Obj<'_>) -> Option<bool> {
        match (self, other) {
            (Obj::Hdr(a), Obj::Hdr(b)) => Some(hdr_eq(a, b)),
            (Obj::Question(a), Obj::Question(b)) => Some(a == b),
            (Obj::RrHeader(a), Obj::RrHeader(b)) => {
                Some((a.ttl, a.udp_size, a.rdlength()) == (b.ttl, b.udp_size, b.rdlength()))
            }
            (Obj::Data(_) | Obj::Msg(_) | Obj::Opt(_) | Obj::EdnsOption(_), _) => None,
            _ => Some(false),
        }
    }

    /// Whether two pointers point at the same thing.
    pub(super) fn same(&self, other: &Obj<'_>) -> bool {
        match (self, other) {
            (Obj::Data(a), Obj::Data(b)) => std::ptr::eq(*a, *b),
            (Obj::Msg(a), Obj::Msg(b)) | (Obj::Hdr(a), Obj::Hdr(b)) => std::ptr::eq(*a, *b),
            (Obj::Question(a), Obj::Question(b)) => std::ptr::eq(*a, *b),
            (Obj::Opt(a), Obj::Opt(b)) | (Obj::RrHeader(a), Obj::RrHeader(b)) => {
                std::ptr::eq(*a, *b)
            }
            (Obj::EdnsOption(a), Obj::EdnsOption(b)) => std::ptr::eq(*a, *b),
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

/// A field of an EDNS option, as miekg unpacks it (those holding bytes
/// or an address are left out).
fn option_field<'a>((code, data): &'a (u16, Vec<u8>), name: &str) -> Option<Value<'a>> {
    let u16v = |v: u16| Value::Uint(u64::from(v), UintTy::Uint16);
    let u32v = |v: u32| Value::Uint(u64::from(v), UintTy::Uint32);
    let be16 = |i: usize| {
        data.get(i..i + 2)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    };
    let be32 = |i: usize| {
        data.get(i..i + 4)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let hex = || data.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Some(match (*code, name) {
        (12 | 15, "Code") => return None,
        (_, "Code") => u16v(*code),
        (8, "Family") => u16v(be16(0)),
        (8, "SourceNetmask") => Value::Uint(u64::from(*data.get(2)?), UintTy::Uint8),
        (8, "SourceScope") => Value::Uint(u64::from(*data.get(3)?), UintTy::Uint8),
        (2, "Lease") => u32v(be32(0)),
        (2, "KeyLease") => u32v(be32(4)),
        (3, "Nsid") | (10, "Cookie") => Value::str(&hex()),
        (4, "Uri") => Value::str(&String::from_utf8_lossy(data)),
        (9, "Expire") => u32v(be32(0)),
        (9, "Empty") => Value::Bool(data.is_empty()),
        (11, "Timeout") => u16v(be16(0)),
        (11, "Length") => u16v(0),
        (15, "InfoCode") => u16v(be16(0)),
        (15, "ExtraText") => Value::str(&String::from_utf8_lossy(data.get(2..)?)),
        _ => return None,
    })
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

/// miekg's `Msg.String()` of a query: no records but its OPT.
pub(super) fn msg_text(m: &MessageData) -> String {
    let update = m.opcode == 5;
    let mut s = hdr_text(m) + " ";
    let counts = if update {
        ["ZONE", "PREREQ", "UPDATE", "ADDITIONAL"]
    } else {
        ["QUERY", "ANSWER", "AUTHORITY", "ADDITIONAL"]
    };
    s.push_str(&format!(
        "{}: {}, {}: 0, {}: 0, {}: {}\n",
        counts[0],
        m.question.len(),
        counts[1],
        counts[2],
        counts[3],
        usize::from(m.opt.is_some())
    ));
    if let Some(o) = &m.opt {
        s.push_str(&o.text());
        s.push('\n');
    }
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

/// miekg's `Msg.Len()` of a query without compression: the header, each
/// question (name, type, class) and the OPT record (root name, type,
/// class, TTL, length, options).
pub(super) fn msg_len(m: &MessageData) -> i64 {
    let names: usize = m.question.iter().map(|q| name_len(&q.name) + 4).sum();
    let opt = m.opt.as_ref().map_or(0, |o| 11 + o.rdlength());
    (12 + names + opt) as i64
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
