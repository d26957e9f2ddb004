//! Go's template parser: the lexer's items into trees, one for the
//! template and one for each `{{define}}` and `{{block}}` in it, with
//! text/template/parse's grammar, look-ahead and error messages.

use super::error::{ParseError, Syntax};
use super::functions::is_function;
use super::lexer::{Item, ItemType, Lexer};
use super::literal::unquote;
use super::node::{Arg, Branch, Command, List, Node, Number, Pipe, Variable};
use crate::gocompat::quote::quote;
use std::collections::BTreeMap;

/// How deep parentheses and control actions may nest, together. Go allows
/// 10,000 parentheses and any nesting of actions; here each level costs
/// stack when the template is parsed and run, on threads with 2 MiB.
pub(super) const MAX_NESTING: usize = 100;

/// The trees of one template text, by name.
pub(super) type TreeSet = BTreeMap<String, List>;

/// What `textOrAction` found: a node, or the `{{end}}` or `{{else}}` that
/// closes the list being read.
enum Parsed {
    Node(Node),
    End,
    Else { pos: usize },
}

impl Parsed {
    fn describe(&self) -> String {
        match self {
            Parsed::Node(n) => n.to_string(),
            Parsed::End => "{{end}}".into(),
            Parsed::Else { .. } => "{{else}}".into(),
        }
    }
}

/// The state of the tree being parsed (Go's `parse.Tree`): its own
/// three-item look-ahead and variables; the lexer is shared by the trees
/// of `{{define}}` and `{{block}}` read inside it.
struct TreeState {
    name: String,
    token: [Item; 3],
    peek_count: usize,
    vars: Vec<String>,
    action_line: usize,
    range_depth: usize,
}

impl TreeState {
    fn new(name: &str) -> Self {
        let zero = Item {
            typ: ItemType::Error,
            pos: 0,
            val: String::new(),
            line: 0,
        };
        TreeState {
            name: name.to_string(),
            token: [zero.clone(), zero.clone(), zero],
            peek_count: 0,
            vars: vec!["$".into()],
            action_line: 0,
            range_depth: 0,
        }
    }
}

struct Parser<'a> {
    lex: Lexer<'a>,
    parse_name: &'a str,
    set: TreeSet,
    t: TreeState,
    /// Nesting of parentheses and control actions, for `MAX_NESTING`.
    depth: usize,
}

type R<T> = Result<T, ParseError>;

/// Parses `text` as the template `name`: its tree and those it defines.
pub(super) fn parse(name: &str, text: &str) -> R<TreeSet> {
    let mut p = Parser {
        lex: Lexer::new(text),
        parse_name: name,
        set: TreeSet::new(),
        t: TreeState::new(name),
        depth: 0,
    };
    let root = p.parse_top()?;
    let line = p.t.token[0].line;
    p.add(name.to_string(), root, line)?;
    Ok(p.set)
}

fn is_operand_start(t: ItemType) -> bool {
    matches!(
        t,
        ItemType::Bool
            | ItemType::CharConstant
            | ItemType::Complex
            | ItemType::Dot
            | ItemType::Field
            | ItemType::Identifier
            | ItemType::Number
            | ItemType::Nil
            | ItemType::RawString
            | ItemType::String
            | ItemType::Variable
            | ItemType::LeftParen
    )
}

impl Parser<'_> {
    fn next(&mut self) -> Item {
        if self.t.peek_count > 0 {
            self.t.peek_count -= 1;
        } else {
            self.t.token[0] = self.lex.next_item();
        }
        self.t.token[self.t.peek_count].clone()
    }

    fn backup(&mut self) {
        self.t.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item) {
        self.t.token[1] = t1;
        self.t.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item, t1: Item) {
        self.t.token[1] = t1;
        self.t.token[2] = t2;
        self.t.peek_count = 3;
    }

    fn peek(&mut self) -> Item {
        if self.t.peek_count > 0 {
            return self.t.token[self.t.peek_count - 1].clone();
        }
        self.t.peek_count = 1;
        self.t.token[0] = self.lex.next_item();
        self.t.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup();
        t
    }

    /// An error at the line of the last item read.
    fn err<T>(&self, kind: Syntax) -> R<T> {
        Err(ParseError {
            name: self.parse_name.to_string(),
            line: self.t.token[0].line,
            kind,
        })
    }

    fn expect(&mut self, want: ItemType, context: &str) -> R<Item> {
        let t = self.next_non_space();
        if t.typ != want {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn unexpected<T>(&self, token: &Item, context: &str) -> R<T> {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.t.action_line != 0 && self.t.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.t.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.err(Syntax::Lex(format!("{token}{extra}")));
        }
        self.err(Syntax::Unexpected {
            item: token.to_string(),
            context: context.to_string(),
        })
    }

    /// Go's `Tree.add`: a second non-empty definition of a name fails; an
    /// empty one does not replace the first.
    fn add(&mut self, name: String, root: List, line: usize) -> R<()> {
        match self.set.get(&name) {
            Some(old) if !is_empty(old) => {
                if !is_empty(&root) {
                    return Err(ParseError {
                        name: self.parse_name.to_string(),
                        line,
                        kind: Syntax::MultipleDefinition(name),
                    });
                }
            }
            _ => {
                self.set.insert(name, root);
            }
        }
        Ok(())
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err(Syntax::Depth);
        }
        Ok(())
    }

    /// The template's own tree; `{{define}}`s go into the set.
    fn parse_top(&mut self) -> R<List> {
        let mut root = List {
            pos: self.peek().pos,
            nodes: Vec::new(),
        };
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    let outer = std::mem::replace(&mut self.t, TreeState::new("definition"));
                    let r = self.parse_definition();
                    self.t = outer;
                    r?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.nodes.push(n),
                other => return self.err(Syntax::UnexpectedNode(other.describe())),
            }
        }
        Ok(root)
    }

    fn parse_definition(&mut self) -> R<()> {
        const CONTEXT: &str = "define clause";
        let t = self.next_non_space();
        if !matches!(t.typ, ItemType::String | ItemType::RawString) {
            return self.unexpected(&t, CONTEXT);
        }
        self.t.name = match unquote(&t.val) {
            Ok(n) => n,
            Err(e) => return self.err(Syntax::Literal(e)),
        };
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let (root, end) = self.item_list()?;
        if !matches!(end, Parsed::End) {
            return self.err(Syntax::Unexpected {
                item: end.describe(),
                context: CONTEXT.into(),
            });
        }
        let line = self.t.token[0].line;
        self.add(self.t.name.clone(), root, line)
    }

    /// Nodes up to an `{{end}}` or `{{else}}`, which comes back apart.
    fn item_list(&mut self) -> R<(List, Parsed)> {
        let mut list = List {
            pos: self.peek_non_space().pos,
            nodes: Vec::new(),
        };
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.nodes.push(n),
                end => return Ok((list, end)),
            }
        }
        self.err(Syntax::UnexpectedEof)
    }

    fn text_or_action(&mut self) -> R<Parsed> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text {
                pos: t.pos,
                text: t.val,
            })),
            ItemType::LeftDelim => {
                self.t.action_line = t.line;
                let r = self.action();
                self.t.action_line = 0;
                r
            }
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> R<Parsed> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Block => return self.block_control().map(Parsed::Node),
            ItemType::Break | ItemType::Continue => {
                let what = if t.typ == ItemType::Break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let next = self.next_non_space();
                if next.typ != ItemType::RightDelim {
                    return self.unexpected(&next, what);
                }
                if self.t.range_depth == 0 {
                    return self.err(Syntax::Outside(what));
                }
                return Ok(Parsed::Node(if t.typ == ItemType::Break {
                    Node::Break { pos: t.pos }
                } else {
                    Node::Continue { pos: t.pos }
                }));
            }
            ItemType::Else => return self.else_control(),
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemType::If => return self.branch("if").map(|b| Parsed::Node(Node::If(b))),
            ItemType::Range => return self.branch("range").map(|b| Parsed::Node(Node::Range(b))),
            ItemType::With => return self.branch("with").map(|b| Parsed::Node(Node::With(b))),
            ItemType::Template => return self.template_control().map(Parsed::Node),
            _ => {}
        }
        self.backup();
        let t = self.peek();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action { pos: t.pos, pipe }))
    }

    fn else_control(&mut self) -> R<Parsed> {
        let peek = self.peek_non_space();
        // `{{else if ...}}` and `{{else with ...}}` leave the keyword for
        // the branch that reads this else.
        if matches!(peek.typ, ItemType::If | ItemType::With) {
            return Ok(Parsed::Else { pos: peek.pos });
        }
        let t = self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else { pos: t.pos })
    }

    /// `if`, `range` or `with`, its keyword read.
    fn branch(&mut self, context: &'static str) -> R<Branch> {
        self.enter()?;
        let vars = self.t.vars.len();
        let r = self.branch_body(context);
        self.t.vars.truncate(vars);
        self.depth -= 1;
        r
    }

    fn branch_body(&mut self, context: &'static str) -> R<Branch> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.t.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.t.range_depth -= 1;
        }
        let mut else_list = None;
        if let Parsed::Else { pos } = next {
            let chained = match (context, self.peek().typ) {
                ("if", ItemType::If) => Some("if"),
                ("with", ItemType::With) => Some("with"),
                _ => None,
            };
            if let Some(kind) = chained {
                // `{{else if b}}` is `{{else}}{{if b}}...{{end}}{{end}}`.
                self.next();
                let inner = self.branch(kind)?;
                let node = if kind == "if" {
                    Node::If(inner)
                } else {
                    Node::With(inner)
                };
                else_list = Some(List {
                    pos,
                    nodes: vec![node],
                });
            } else {
                let (list, next) = self.item_list()?;
                if !matches!(next, Parsed::End) {
                    return self.err(Syntax::ExpectedEnd(next.describe()));
                }
                else_list = Some(list);
            }
        }
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&self, t: &Item, context: &str) -> R<String> {
        match t.typ {
            ItemType::String | ItemType::RawString => match unquote(&t.val) {
                Ok(n) => Ok(n),
                Err(e) => self.err(Syntax::Literal(e)),
            },
            _ => self.unexpected(t, context),
        }
    }

    fn template_control(&mut self) -> R<Node> {
        const CONTEXT: &str = "template clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe,
        })
    }

    /// `{{block "name" pipeline}}...{{end}}`: defines the template and
    /// runs it.
    fn block_control(&mut self) -> R<Node> {
        const CONTEXT: &str = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        self.enter()?;
        let outer = std::mem::replace(&mut self.t, TreeState::new(&name));
        let r = self.item_list();
        let block = std::mem::replace(&mut self.t, outer);
        self.depth -= 1;
        let (root, end) = r?;
        if !matches!(end, Parsed::End) {
            return self.err(Syntax::Unexpected {
                item: end.describe(),
                context: CONTEXT.into(),
            });
        }
        self.add(name.clone(), root, block.token[0].line)?;
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe: Some(pipe),
        })
    }

    /// `[declarations] command ('|' command)*` up to `end`.
    fn pipeline(&mut self, context: &str, end: ItemType) -> R<Pipe> {
        let t = self.peek_non_space();
        let mut pipe = Pipe {
            pos: t.pos,
            ..Pipe::default()
        };
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            self.next();
            // "$x foo" is an argument, "$x :=" a declaration: look past
            // the space, and put both back when it is the former.
            let after = self.peek();
            let next = self.peek_non_space();
            if matches!(next.typ, ItemType::Assign | ItemType::Declare) {
                pipe.is_assign = next.typ == ItemType::Assign;
                self.next_non_space();
                self.declare(&mut pipe, &v);
                break;
            }
            if next.typ == ItemType::Char && next.val == "," {
                self.next_non_space();
                self.declare(&mut pipe, &v);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                            continue
                        }
                        _ => return self.err(Syntax::RangeVariables),
                    }
                }
                return self.err(Syntax::TooManyDecls(context.to_string()));
            }
            if after.typ == ItemType::Space {
                self.backup3(v, after);
            } else {
                self.backup2(v);
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            if t.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            if !is_operand_start(t.typ) {
                return self.unexpected(&t, context);
            }
            self.backup();
            let cmd = self.command()?;
            pipe.cmds.push(cmd);
        }
    }

    fn declare(&mut self, pipe: &mut Pipe, v: &Item) {
        pipe.decl.push(Variable {
            pos: v.pos,
            ident: v.val.split('.').map(String::from).collect(),
        });
        self.t.vars.push(v.val.clone());
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> R<()> {
        if pipe.cmds.is_empty() {
            return self.err(Syntax::MissingValue(context.to_string()));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool { .. }
                    | Arg::Dot { .. }
                    | Arg::Nil { .. }
                    | Arg::Number(_)
                    | Arg::String { .. }
            ) {
                return self.err(Syntax::NonExecutable(i + 1));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> R<Command> {
        let mut cmd = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match t.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.err(Syntax::EmptyCommand);
        }
        Ok(cmd)
    }

    /// A term and the fields after it.
    fn operand(&mut self) -> R<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut field = Vec::new();
        while self.peek().typ == ItemType::Field {
            field.push(self.next().val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut ident, .. } => {
                ident.extend(field);
                Arg::Field { pos, ident }
            }
            Arg::Variable(mut v) => {
                v.ident.extend(field);
                v.pos = pos;
                Arg::Variable(v)
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number(_)
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return self.err(Syntax::DotAfterTerm(quote(&node.to_string())));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                field,
            },
        }))
    }

    fn term(&mut self) -> R<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.typ {
            ItemType::Identifier => {
                if !is_function(&t.val) {
                    return self.err(Syntax::Function(t.val));
                }
                Arg::Identifier { pos, name: t.val }
            }
            ItemType::Dot => Arg::Dot { pos },
            ItemType::Nil => Arg::Nil { pos },
            ItemType::Variable => {
                if !self.t.vars.contains(&t.val) {
                    return self.err(Syntax::UndefinedVariable(t.val));
                }
                Arg::Variable(Variable {
                    pos,
                    ident: vec![t.val],
                })
            }
            ItemType::Field => Arg::Field {
                pos,
                ident: t.val[1..].split('.').map(String::from).collect(),
            },
            ItemType::Bool => Arg::Bool {
                pos,
                val: t.val == "true",
            },
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                match Number::parse(pos, &t.val, t.typ) {
                    Ok(n) => Arg::Number(Box::new(n)),
                    Err(e) => return self.err(Syntax::Literal(e)),
                }
            }
            ItemType::LeftParen => {
                self.enter()?;
                let p = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.depth -= 1;
                Arg::Pipe(Box::new(p?))
            }
            ItemType::String | ItemType::RawString => match unquote(&t.val) {
                Ok(text) => Arg::String {
                    pos,
                    quoted: t.val,
                    text,
                },
                Err(e) => return self.err(Syntax::Literal(e)),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

/// Go's `parse.IsEmptyTree`: nothing but space.
pub(super) fn is_empty(l: &List) -> bool {
    l.nodes.iter().all(Node::is_empty)
}
