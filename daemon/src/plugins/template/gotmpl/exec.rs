//! Running a parsed template on the query's data, as text/template's
//! executor does: the walk over control actions (`if`, `range`, `with`,
//! `template`, `break`, `continue`), variables and their scopes, the
//! evaluation of pipelines, commands, fields, methods and function calls
//! with Go's typing of arguments, and the node each error points at.

use super::error::{Eval, ExecError};
use super::fmt::{printable, sprint};
use super::functions::{call_builtin, signature, Param, Sig};
use super::node::{Arg, Branch, Command, List, Node, Number, Pipe, Variable};
use super::value::{Method, Obj, Unrun, Value};
use super::{Data, Template};
use std::fmt::Display;

/// How deep `{{template}}` calls may nest: Go's limit, and the stack they
/// may take here (Go's stacks grow; a worker's is 2 MiB). A template that
/// ends needs little of either: its data is a few levels deep, a name
/// 255 bytes; one that calls itself without end fails with Go's error.
const MAX_TEMPLATE_DEPTH: usize = 100_000;
const MAX_TEMPLATE_STACK: usize = 256 << 10;

/// Where the stack is now, to measure how much execution has taken.
#[inline(never)]
fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// The node execution is at, for error messages.
#[derive(Clone, Copy)]
enum At<'t> {
    Node(&'t Node),
    List(&'t List),
    Arg(&'t Arg),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Var(&'t Variable),
    Number(&'t Number),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Node(n) => n.pos(),
            At::List(l) => l.pos,
            At::Arg(a) => a.pos(),
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Var(v) => v.pos,
            At::Number(n) => n.pos,
        }
    }

    fn text(&self) -> String {
        match self {
            At::Node(n) => n.to_string(),
            At::List(l) => l.to_string(),
            At::Arg(a) => a.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Var(v) => v.to_string(),
            At::Number(n) => n.text.clone(),
        }
    }
}

/// Why a walk stopped early.
pub(super) enum Stop {
    Err(Box<ExecError>),
    Break,
    Continue,
}

type R<T> = Result<T, Stop>;

/// A function or method being called.
#[derive(Clone)]
enum Func<'a> {
    Builtin(&'static str),
    Method(Method<'a>),
}

struct State<'t, 'a> {
    tmpl: &'t Template,
    /// The template running (a `{{define}}`d one inside `{{template}}`).
    name: &'t str,
    node: Option<At<'t>>,
    vars: Vec<(&'t str, Value<'a>)>,
    depth: usize,
    /// `stack_position` when execution began.
    stack_base: usize,
    out: String,
}

impl Template {
    /// Runs the template on `data`; the error reads as Go's.
    pub fn execute(&self, data: &Data) -> Result<String, ExecError> {
        let dot = Value::Ptr(Obj::Data(data));
        let mut s = State {
            tmpl: self,
            name: &self.name,
            node: None,
            vars: vec![("$", dot.clone())],
            depth: 0,
            stack_base: stack_position(),
            out: String::new(),
        };
        let Some(root) = self.set.get(&self.name) else {
            return Err(ExecError {
                name: self.name.clone(),
                at: None,
                kind: Box::new(Eval::Empty(self.name.clone())),
            });
        };
        match s.walk_list(&dot, root) {
            Ok(()) => Ok(s.out),
            Err(Stop::Err(e)) => Err(*e),
            // The parser keeps break and continue inside range.
            Err(Stop::Break | Stop::Continue) => Ok(s.out),
        }
    }
}

impl<'t, 'a> State<'t, 'a> {
    fn at(&mut self, n: At<'t>) {
        self.node = Some(n);
    }

    fn fail<T>(&self, kind: Eval) -> R<T> {
        let at = self.node.map(|n| {
            let pos = n.pos().min(self.tmpl.text.len());
            let before = &self.tmpl.text[..pos];
            let (line, col) = match before.rfind('\n') {
                Some(i) => (before.matches('\n').count() + 1, pos - (i + 1)),
                None => (1, pos),
            };
            (format!("{}:{line}:{col}", self.tmpl.name), n.text())
        });
        Err(Stop::Err(Box::new(ExecError {
            name: self.name.to_string(),
            at,
            kind: Box::new(kind),
        })))
    }

    fn set_var(&mut self, name: &str, v: Value<'a>) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => self.fail(Eval::UndefinedVariable(name.to_string())),
        }
    }

    fn set_top_var(&mut self, n: usize, v: Value<'a>) {
        let i = self.vars.len() - n;
        self.vars[i].1 = v;
    }

    fn var_value(&self, name: &str) -> R<Value<'a>> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.fail(Eval::UndefinedVariable(name.to_string())),
        }
    }

    fn walk_list(&mut self, dot: &Value<'a>, list: &'t List) -> R<()> {
        self.at(At::List(list));
        for n in &list.nodes {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value<'a>, node: &'t Node) -> R<()> {
        self.at(At::Node(node));
        match node {
            Node::Action { pipe, .. } => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print_value(node, v)?;
                }
                Ok(())
            }
            Node::Break { .. } => Err(Stop::Break),
            Node::Continue { .. } => Err(Stop::Continue),
            Node::If(b) => self.walk_if_or_with(false, dot, b),
            Node::With(b) => self.walk_if_or_with(true, dot, b),
            Node::Range(b) => self.walk_range(dot, node, b),
            Node::Template { name, pipe, .. } => self.walk_template(dot, node, name, pipe.as_ref()),
            Node::Text { text, .. } => {
                self.out.push_str(text);
                Ok(())
            }
        }
    }

    fn print_value(&mut self, node: &'t Node, v: Value<'a>) -> R<()> {
        self.at(At::Node(node));
        let v = printable(v, true);
        self.out.push_str(&sprint(&[v]));
        Ok(())
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Value<'a>, b: &'t Branch) -> R<()> {
        let mark = self.vars.len();
        let r = self.if_or_with(with, dot, b);
        self.vars.truncate(mark);
        r
    }

    fn if_or_with(&mut self, with: bool, dot: &Value<'a>, b: &'t Branch) -> R<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        if val.truth() {
            if with {
                self.walk_list(&val, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(())
        }
    }

    fn walk_range(&mut self, dot: &Value<'a>, node: &'t Node, r: &'t Branch) -> R<()> {
        self.at(At::Node(node));
        let mark0 = self.vars.len();
        let res = self.range(dot, r);
        self.vars.truncate(mark0);
        match res {
            Err(Stop::Break) => Ok(()),
            res => res,
        }
    }

    fn range(&mut self, dot: &Value<'a>, r: &'t Branch) -> R<()> {
        let (val, _) = self.eval_pipeline(dot, &r.pipe)?.indirect();
        let mark = self.vars.len();
        let ran = match &val {
            Value::Int(n) => {
                if r.pipe.decl.len() > 1 {
                    return self.fail(Eval::RangeVars(sprint(std::slice::from_ref(&val))));
                }
                for i in 0..(*n).max(0) {
                    self.one_iteration(r, mark, Value::Invalid, Value::Int(i))?;
                }
                *n > 0
            }
            Value::Uint(n, t) => {
                if r.pipe.decl.len() > 1 {
                    return self.fail(Eval::RangeVars(sprint(std::slice::from_ref(&val))));
                }
                for i in 0..*n {
                    self.one_iteration(r, mark, Value::Invalid, Value::Uint(i, *t))?;
                }
                *n > 0
            }
            Value::Slice(s) => {
                for (i, e) in s.elements().enumerate() {
                    self.one_iteration(r, mark, Value::int(i as i64), e)?;
                }
                s.len() > 0
            }
            Value::Map(m) => {
                for (k, v) in m.iter() {
                    self.one_iteration(r, mark, Value::str(k), Value::str(v))?;
                }
                !m.is_empty()
            }
            Value::Invalid => false,
            v => return self.fail(Eval::Range(sprint(std::slice::from_ref(v)))),
        };
        if !ran {
            if let Some(e) = &r.else_list {
                return self.walk_list(dot, e);
            }
        }
        Ok(())
    }

    fn one_iteration(
        &mut self,
        r: &'t Branch,
        mark: usize,
        index: Value<'a>,
        elem: Value<'a>,
    ) -> R<()> {
        let decl = &r.pipe.decl;
        if !decl.is_empty() {
            if r.pipe.is_assign {
                let v = if decl.len() > 1 {
                    index.clone()
                } else {
                    elem.clone()
                };
                self.set_var(&decl[0].ident[0], v)?;
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if r.pipe.is_assign {
                self.set_var(&decl[1].ident[0], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let res = self.walk_list(&elem, &r.list);
        self.vars.truncate(mark);
        match res {
            Err(Stop::Continue) => Ok(()),
            res => res,
        }
    }

    fn walk_template(
        &mut self,
        dot: &Value<'a>,
        node: &'t Node,
        name: &'t str,
        pipe: Option<&'t Pipe>,
    ) -> R<()> {
        self.at(At::Node(node));
        let Some((tname, root)) = self.tmpl.set.get_key_value(name) else {
            return self.fail(Eval::NoTemplate(name.to_string()));
        };
        if self.depth == MAX_TEMPLATE_DEPTH
            || self.stack_base.abs_diff(stack_position()) > MAX_TEMPLATE_STACK
        {
            return self.fail(Eval::TemplateDepth);
        }
        let dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Invalid,
        };
        let saved_name = std::mem::replace(&mut self.name, tname);
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$", dot.clone())]);
        let saved_node = self.node;
        self.depth += 1;
        let r = self.walk_list(&dot, root);
        self.depth -= 1;
        self.name = saved_name;
        self.vars = saved_vars;
        self.node = saved_node;
        r
    }

    fn eval_pipeline(&mut self, dot: &Value<'a>, pipe: &'t Pipe) -> R<Value<'a>> {
        self.at(At::Pipe(pipe));
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Invalid);
        for v in &pipe.decl {
            if pipe.is_assign {
                self.set_var(&v.ident[0], value.clone())?;
            } else {
                self.vars.push((&v.ident[0], value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], last: &Option<Value<'a>>) -> R<()> {
        if args.len() > 1 || last.is_some() {
            return self.fail(Eval::NotFunction(args[0].to_string()));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Value<'a>,
        cmd: &'t Command,
        last: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { ident, .. } => {
                return self.eval_field_node(dot, first, ident, Some(&cmd.args), last)
            }
            Arg::Chain { node, field, .. } => {
                return self.eval_chain_node(dot, first, node, field, Some(&cmd.args), last)
            }
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, name, At::Cmd(cmd), Some(&cmd.args), last)
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &last)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable(v) => return self.eval_variable_node(dot, v, Some(&cmd.args), last),
            _ => {}
        }
        self.at(At::Arg(first));
        self.not_a_function(&cmd.args, &last)?;
        match first {
            Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => self.fail(Eval::NilCommand),
            Arg::Number(n) => self.ideal_constant(n),
            Arg::String { text, .. } => Ok(Value::str(text)),
            _ => Ok(Value::Invalid),
        }
    }

    /// A number where nothing says its type: Go's ideal constant rules.
    fn ideal_constant(&mut self, n: &'t Number) -> R<Value<'a>> {
        self.at(At::Number(n));
        let t = &n.text;
        let hex_int = t.len() > 2
            && t.starts_with('0')
            && matches!(t.as_bytes()[1], b'x' | b'X')
            && !t.contains(['p', 'P']);
        let rune = t.starts_with('\'');
        if n.is_complex {
            return Ok(Value::Complex(n.complex.0, n.complex.1));
        }
        if n.is_float && !hex_int && !rune && t.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Value::Float(n.float64));
        }
        if n.is_int {
            return Ok(Value::int(n.int64));
        }
        if n.is_uint {
            return self.fail(Eval::IntOverflow(t.clone()));
        }
        Ok(Value::Invalid)
    }

    fn eval_field_node(
        &mut self,
        dot: &Value<'a>,
        node: &'t Arg,
        ident: &'t [String],
        args: Option<&'t [Arg]>,
        last: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        self.at(At::Arg(node));
        self.eval_field_chain(dot, dot.clone(), At::Arg(node), ident, args, last)
    }

    fn eval_chain_node(
        &mut self,
        dot: &Value<'a>,
        chain: &'t Arg,
        node: &'t Arg,
        field: &'t [String],
        args: Option<&'t [Arg]>,
        last: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        self.at(At::Arg(chain));
        if matches!(node, Arg::Nil { .. }) {
            return self.fail(Eval::ExplicitNil(chain.to_string()));
        }
        let recv = self.eval_arg(dot, Param::Untyped, node)?;
        self.eval_field_chain(dot, recv, At::Arg(chain), field, args, last)
    }

    fn eval_variable_node(
        &mut self,
        dot: &Value<'a>,
        v: &'t Variable,
        args: Option<&'t [Arg]>,
        last: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        self.at(At::Var(v));
        let value = self.var_value(&v.ident[0])?;
        if v.ident.len() == 1 {
            if let Some(args) = args {
                self.not_a_function(args, &last)?;
            } else if last.is_some() {
                return self.fail(Eval::NotFunction(v.to_string()));
            }
            return Ok(value);
        }
        self.eval_field_chain(dot, value, At::Var(v), &v.ident[1..], args, last)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value<'a>,
        mut recv: Value<'a>,
        node: At<'t>,
        ident: &'t [String],
        args: Option<&'t [Arg]>,
        last: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        let n = ident.len();
        for name in &ident[..n - 1] {
            recv = self.eval_field(dot, name, node, None, None, recv)?;
        }
        self.eval_field(dot, &ident[n - 1], node, args, last, recv)
    }

    fn eval_field(
        &mut self,
        dot: &Value<'a>,
        name: &'t str,
        node: At<'t>,
        args: Option<&'t [Arg]>,
        last: Option<Value<'a>>,
        recv: Value<'a>,
    ) -> R<Value<'a>> {
        if matches!(recv, Value::Invalid) {
            return Ok(Value::Invalid);
        }
        let ty = recv.type_name();
        let (recv, _) = recv.indirect();
        let method = match &recv {
            Value::Struct(o) => o.method(name),
            _ => None,
        };
        if let Some(m) = method {
            if let Method::Unrun(u) = m {
                return self.unrun(u, args, &last);
            }
            return self.eval_call(dot, Func::Method(m), node, name, args, last);
        }
        if let Value::NilPtr(t) = &recv {
            if let Some(u) = super::value::unrun_method(t, name) {
                return self.unrun(u, args, &last);
            }
            if nil_getters(t).contains(&name) {
                return self.nil_method_call(name, node, args, last);
            }
        }
        let has_args = args.is_some_and(|a| a.len() > 1) || last.is_some();
        match &recv {
            Value::Struct(o) => match o.field(name) {
                Some(super::value::Field::Unexported) => {
                    return self.fail(Eval::Unexported {
                        field: name.to_string(),
                        ty,
                    })
                }
                Some(super::value::Field::Value(v)) => {
                    if has_args {
                        return self.fail(Eval::FieldArgs(name.to_string()));
                    }
                    return Ok(v);
                }
                None => {}
            },
            Value::Map(m) => {
                if has_args {
                    return self.fail(Eval::KeyArgs(name.to_string()));
                }
                return Ok(m.get(name).map_or(Value::Invalid, |v| Value::str(v)));
            }
            Value::NilPtr(t) if nil_fields(t).contains(&name) => {
                return self.fail(Eval::NilPointer {
                    ty,
                    field: name.to_string(),
                });
            }
            _ => {}
        }
        self.fail(Eval::Field {
            field: name.to_string(),
            ty,
        })
    }

    /// A method ferrodns does not run: Go's checks of the call, then
    /// ferrodns's refusal (Go cannot call those without results either).
    fn unrun(&self, u: &Unrun, args: Option<&[Arg]>, last: &Option<Value<'a>>) -> R<Value<'a>> {
        let n_args = args.map_or(0, |a| a.len().saturating_sub(1));
        let got = n_args + usize::from(last.is_some());
        if u.variadic {
            if got < u.params - 1 {
                return self.fail(Eval::ArgCountAtLeast {
                    func: u.name.to_string(),
                    want: u.params - 1,
                    got: n_args,
                });
            }
        } else if got != u.params {
            return self.fail(Eval::ArgCount {
                func: u.name.to_string(),
                want: u.params,
                got,
            });
        }
        if !u.returns {
            return self.fail(Eval::NoResults(u.name.to_string()));
        }
        self.fail(Eval::Unsupported(format!("({}).{}", u.ty, u.name)))
    }

    /// A method of a nil pointer: Go calls it, and it fails on the nil.
    fn nil_method_call(
        &mut self,
        name: &'t str,
        node: At<'t>,
        args: Option<&'t [Arg]>,
        last: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        // Every such method here takes no arguments.
        let got = args.map_or(0, |a| a.len().saturating_sub(1)) + usize::from(last.is_some());
        if got != 0 {
            return self.fail(Eval::ArgCount {
                func: name.to_string(),
                want: 0,
                got,
            });
        }
        self.at(node);
        self.fail(Eval::Call {
            func: name.to_string(),
            err: super::error::CallError::NilDeref,
        })
    }

    fn eval_function(
        &mut self,
        dot: &Value<'a>,
        node: &'t Arg,
        name: &'t str,
        cmd: At<'t>,
        args: Option<&'t [Arg]>,
        last: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        self.at(At::Arg(node));
        let f = super::functions::builtin_name(name);
        self.eval_call(dot, Func::Builtin(f), cmd, name, args, last)
    }

    fn eval_call(
        &mut self,
        dot: &Value<'a>,
        fun: Func<'a>,
        node: At<'t>,
        name: &str,
        args: Option<&'t [Arg]>,
        last: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        let args: &'t [Arg] = args.map_or(&[], |a| &a[1..]);
        let sig: Sig = match fun {
            Func::Builtin(f) => signature(f),
            Func::Method(ref m) => Sig {
                params: if matches!(m, Method::Meta(_)) {
                    &[Param::Str]
                } else {
                    &[]
                },
                variadic: None,
            },
        };
        let num_in = args.len() + usize::from(last.is_some());
        let mut num_fixed = args.len();
        if sig.variadic.is_some() {
            num_fixed = sig.params.len();
            if num_in < num_fixed {
                return self.fail(Eval::ArgCountAtLeast {
                    func: name.to_string(),
                    want: num_fixed,
                    got: args.len(),
                });
            }
        } else if num_in != sig.params.len() {
            return self.fail(Eval::ArgCount {
                func: name.to_string(),
                want: sig.params.len(),
                got: num_in,
            });
        }
        if let Func::Builtin(f @ ("and" | "or")) = &fun {
            let mut v = Value::Invalid;
            for a in args {
                v = self.eval_arg(dot, Param::Value, a)?;
                if v.truth() == (*f == "or") {
                    return Ok(v);
                }
            }
            if let Some(l) = last {
                v = l;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in);
        let fixed = num_fixed.min(args.len());
        for (i, a) in args[..fixed].iter().enumerate() {
            argv.push(self.eval_arg(dot, sig.params[i], a)?);
        }
        if let Some(p) = sig.variadic {
            for a in &args[fixed..] {
                argv.push(self.eval_arg(dot, p, a)?);
            }
        }
        if let Some(l) = last {
            let t = match sig.variadic {
                Some(p) if num_in > num_fixed => p,
                _ => sig.params[num_in - 1],
            };
            argv.push(self.validate_type(l, t)?);
        }
        let result = match fun {
            Func::Builtin("call") => {
                let callee = match args.first() {
                    Some(a) => a.to_string(),
                    None => argv.first().map_or(String::new(), reflect_string),
                };
                Err(super::functions::call_error(&callee, argv.first()))
            }
            Func::Builtin(f) => call_builtin(f, argv),
            Func::Method(Method::Meta(d)) => Ok(Value::str(
                d.meta
                    .as_ref()
                    .and_then(|m| argv.first().and_then(|n| m.get(&reflect_string(n))))
                    .unwrap_or(""),
            )),
            Func::Method(Method::Get(v)) => Ok(v),
            Func::Method(Method::Unrun(_)) => Ok(Value::Invalid),
        };
        match result {
            Ok(v) => Ok(v),
            Err(err) => {
                self.at(node);
                self.fail(Eval::Call {
                    func: name.to_string(),
                    err,
                })
            }
        }
    }

    fn validate_type(&self, v: Value<'a>, t: Param) -> R<Value<'a>> {
        let v = match t {
            Param::Str | Param::Int => v.concrete(),
            _ => v,
        };
        match t {
            Param::Untyped | Param::Value | Param::Any => Ok(v),
            Param::Str => match v {
                Value::Invalid => self.fail(Eval::InvalidValue("string")),
                v @ Value::Str(_) => Ok(v),
                v => self.fail(Eval::WrongType {
                    want: "string",
                    got: v.type_name(),
                }),
            },
            Param::Int => match v {
                Value::Invalid => self.fail(Eval::InvalidValue("int")),
                v @ Value::Int(_) => Ok(v),
                v => self.fail(Eval::WrongType {
                    want: "int",
                    got: v.type_name(),
                }),
            },
        }
    }

    fn eval_arg(&mut self, dot: &Value<'a>, t: Param, n: &'t Arg) -> R<Value<'a>> {
        self.at(At::Arg(n));
        let v = match n {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                return match t {
                    Param::Str => self.fail(Eval::AssignNil("string")),
                    Param::Int => self.fail(Eval::AssignNil("int")),
                    _ => Ok(Value::Invalid),
                }
            }
            Arg::Field { ident, .. } => {
                self.eval_field_node(dot, n, ident, Some(std::slice::from_ref(n)), None)?
            }
            Arg::Variable(v) => self.eval_variable_node(dot, v, None, None)?,
            Arg::Pipe(p) => self.eval_pipeline(dot, p)?,
            Arg::Identifier { name, .. } => {
                self.eval_function(dot, n, name, At::Arg(n), None, None)?
            }
            Arg::Chain { node, field, .. } => {
                self.eval_chain_node(dot, n, node, field, None, None)?
            }
            Arg::Bool { val, .. } => {
                return match t {
                    Param::Str => self.fail(expected("string", n)),
                    Param::Int => self.fail(expected("integer", n)),
                    _ => Ok(Value::Bool(*val)),
                }
            }
            Arg::String { text, .. } => {
                return match t {
                    Param::Int => self.fail(expected("integer", n)),
                    _ => Ok(Value::str(text)),
                }
            }
            Arg::Number(num) => {
                return match t {
                    Param::Str => self.fail(expected("string", n)),
                    Param::Int if num.is_int => Ok(Value::int(num.int64)),
                    Param::Int => self.fail(expected("integer", n)),
                    _ => self.ideal_constant(num),
                }
            }
        };
        self.validate_type(v, t)
    }
}

fn expected(want: &'static str, found: &impl Display) -> Eval {
    Eval::Expected {
        want,
        found: found.to_string(),
    }
}

/// `reflect.Value.String()`: the string of a string, `<T Value>` else.
fn reflect_string(v: &Value<'_>) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Invalid => "<invalid Value>".into(),
        v => format!("<{} Value>", v.type_name()),
    }
}

/// The methods of the pointer types that can be nil here: those that
/// read (and fail on the nil) and those that would change the record.
fn nil_getters(t: &str) -> &'static [&'static str] {
    match t {
        "*dns.OPT" => &[
            "Co",
            "Do",
            "ExtendedRcode",
            "Header",
            "String",
            "UDPSize",
            "Version",
            "Z",
        ],
        _ => &["Header", "String"],
    }
}

fn nil_fields(t: &str) -> &'static [&'static str] {
    match t {
        "*dns.OPT" => &["Hdr", "Option"],
        _ => &[
            "Hdr",
            "Algorithm",
            "TimeSigned",
            "Fudge",
            "MACSize",
            "MAC",
            "OrigId",
            "Error",
            "OtherLen",
            "OtherData",
        ],
    }
}
