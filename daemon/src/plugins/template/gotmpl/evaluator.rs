//! Running a parsed template on the query's data, with Go's printing rules.

use super::error::{Eval, ExecError};
use super::functions::call;
use super::parser::{Cmd, Node, Operand, Pipe};
use super::{Data, MessageData, Question, Template};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A value during execution, with Go's printing rules.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
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
    pub(super) fn type_name(&self) -> &'static str {
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

    pub(super) fn truth(&self) -> bool {
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
    pub(super) fn print(&self, out: &mut String) -> Result<(), Eval> {
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
            Value::Data | Value::Message(_) => return Err(Eval::Print(self.type_name())),
        }
        Ok(())
    }
}

/// miekg's `Question.String()`.
fn question_text(q: &Question) -> String {
    format!(
        ";{}\t{}\t {}",
        q.name,
        crate::wire::mnemonics::class_text(q.qclass),
        crate::wire::mnemonics::type_text(q.qtype)
    )
}

impl Template {
    /// Runs the template on `data`.
    pub fn execute(&self, data: &Data) -> Result<String, ExecError> {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action { line, src, pipe } => eval_pipe(pipe, data)
                    .and_then(|v| v.print(&mut out))
                    .map_err(|kind| ExecError {
                        name: self.name.clone(),
                        line: *line,
                        action: src.clone(),
                        kind,
                    })?,
            }
        }
        Ok(out)
    }
}

pub(super) fn eval_pipe(p: &Pipe, data: &Data) -> Result<Value, Eval> {
    let mut last: Option<Value> = None;
    for cmd in &p.0 {
        last = Some(eval_cmd(cmd, data, last)?);
    }
    Ok(last.unwrap_or(Value::Nil))
}

fn eval_cmd(cmd: &Cmd, data: &Data, piped: Option<Value>) -> Result<Value, Eval> {
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
                return Err(Eval::ArgCount {
                    func: "Meta".into(),
                    want: 1,
                    got: args.len(),
                });
            }
            match &args[0] {
                // No metadata plugin in ferrodns: every name is unknown.
                Value::Str(_) => Ok(Value::Str(String::new())),
                v => Err(Eval::Type {
                    want: "string",
                    got: v.type_name(),
                }),
            }
        }
        first => {
            if ops.len() > 1 || piped.is_some() {
                return Err(Eval::NotFunction(describe(first)));
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

fn eval_operand(o: &Operand, data: &Data) -> Result<Value, Eval> {
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

fn field(v: Value, f: &str, data: &Data) -> Result<Value, Eval> {
    let nf = || Eval::Field {
        field: f.to_string(),
        ty: v.type_name(),
    };
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
            "Meta" => {
                return Err(Eval::ArgCount {
                    func: "Meta".into(),
                    want: 1,
                    got: 0,
                })
            }
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
            return Err(Eval::NilPointer {
                ty: v.type_name(),
                field: f.to_string(),
            })
        }
        _ => return Err(nf()),
    })
}
