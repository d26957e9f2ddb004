//! Go's template errors: `template: NAME:LINE: ...` when compiling,
//! `template: NAME:LINE:COL: executing "NAME" at <NODE>: ...` when
//! running; each `Display` is text/template's wording.

use super::literal::LiteralError;
use crate::gocompat::quote::quote;

/// A template that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("template: {name}:{line}: {kind}")]
pub struct ParseError {
    pub name: String,
    /// The line of the last item read.
    pub line: usize,
    pub kind: Syntax,
}

/// What is wrong with the template's text.
#[derive(Debug, thiserror::Error)]
pub enum Syntax {
    /// The lexer's complaint (`unclosed action`, `bad number syntax:
    /// "1x"`, ...), with where its action started.
    #[error("{0}")]
    Lex(String),
    #[error("unexpected {item} in {context}")]
    Unexpected { item: String, context: String },
    /// An `{{end}}` or `{{else}}` that closes nothing.
    #[error("unexpected {0}")]
    UnexpectedNode(String),
    #[error("unexpected EOF")]
    UnexpectedEof,
    #[error("missing value for {0}")]
    MissingValue(String),
    #[error("non executable command in pipeline stage {0}")]
    NonExecutable(usize),
    #[error("range can only initialize variables")]
    RangeVariables,
    #[error("too many declarations in {0}")]
    TooManyDecls(String),
    /// `{{break}}` or `{{continue}}`.
    #[error("{0} outside {{{{range}}}}")]
    Outside(&'static str),
    #[error("expected end; found {0}")]
    ExpectedEnd(String),
    #[error("unexpected . after term {0}")]
    DotAfterTerm(String),
    #[error("function {} not defined", quote(.0))]
    Function(String),
    /// Parentheses and control actions nested deeper than ferrodns
    /// allows (Go's wording for parentheses).
    #[error("max expression depth exceeded")]
    Depth,
    #[error("empty command")]
    EmptyCommand,
    #[error("undefined variable {}", quote(.0))]
    UndefinedVariable(String),
    #[error(transparent)]
    Literal(LiteralError),
    #[error("template: multiple definition of template {}", quote(.0))]
    MultipleDefinition(String),
}

/// A template that failed on the query's data.
#[derive(Debug, thiserror::Error)]
pub struct ExecError {
    /// The executing template's name.
    pub name: String,
    /// `NAME:LINE:COL` of the node at fault and its text; `None` when the
    /// template has nothing to run.
    pub at: Option<(String, String)>,
    pub kind: Box<Eval>,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.at {
            Some((location, context)) => write!(
                f,
                "template: {location}: executing {} at <{context}>: {}",
                quote(&self.name),
                self.kind
            ),
            None => write!(f, "template: {}: {}", self.name, self.kind),
        }
    }
}

/// Why running a template failed.
#[derive(Debug, thiserror::Error)]
pub enum Eval {
    #[error("{} is an incomplete or empty template", quote(.0))]
    Empty(String),
    #[error("template {} not defined", quote(.0))]
    NoTemplate(String),
    #[error("exceeded maximum template depth (100000)")]
    TemplateDepth,
    #[error("undefined variable: {0}")]
    UndefinedVariable(String),
    #[error("can't give argument to non-function {0}")]
    NotFunction(String),
    #[error("nil is not a command")]
    NilCommand,
    #[error("{0} overflows int")]
    IntOverflow(String),
    #[error("indirection through explicit nil in {0}")]
    ExplicitNil(String),
    #[error("can't evaluate field {field} in type {ty}")]
    Field { field: String, ty: String },
    #[error("nil pointer evaluating {ty}.{field}")]
    NilPointer { ty: String, field: String },
    #[error("{field} is an unexported field of struct type {ty}")]
    Unexported { field: String, ty: String },
    #[error("{0} has arguments but cannot be invoked as function")]
    FieldArgs(String),
    #[error("{0} is not a method but has arguments")]
    KeyArgs(String),
    #[error("wrong number of args for {func}: want {want} got {got}")]
    ArgCount {
        func: String,
        want: usize,
        got: usize,
    },
    #[error("wrong number of args for {func}: want at least {want} got {got}")]
    ArgCountAtLeast {
        func: String,
        want: usize,
        got: usize,
    },
    #[error("invalid value; expected {0}")]
    InvalidValue(&'static str),
    #[error("wrong type for value; expected {want}; got {got}")]
    WrongType { want: &'static str, got: String },
    #[error("cannot assign nil to {0}")]
    AssignNil(&'static str),
    #[error("expected {want}; found {found}")]
    Expected { want: &'static str, found: String },
    #[error("error calling {func}: {err}")]
    Call { func: String, err: CallError },
    #[error("can't use {0} to iterate over more than one variable")]
    RangeVars(String),
    #[error("range can't iterate over {0}")]
    Range(String),
    #[error("function {0} has 0 return values; should be 1 or 2")]
    NoResults(String),
    /// A method of the data that ferrodns does not run (it would change
    /// or encode the query).
    #[error("calling {0} is not supported by ferrodns's templates")]
    Unsupported(String),
}

/// Why a function the template called failed (after `error calling F: `).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("index of untyped nil")]
    IndexNil,
    #[error("index of nil pointer")]
    IndexNilPointer,
    #[error("cannot index slice/array with nil")]
    IndexWithNil,
    #[error("cannot index slice/array with type {0}")]
    IndexType(String),
    #[error("index out of range: {0}")]
    OutOfRange(i64),
    /// Go's reflect panics on an index equal to the length.
    #[error("reflect: {0} index out of range")]
    ReflectIndex(&'static str),
    #[error("can't index item of type {0}")]
    CantIndex(String),
    #[error("value is nil; should be of type {0}")]
    KeyNil(&'static str),
    #[error("value has type {got}; should be {want}")]
    KeyType { got: String, want: &'static str },
    #[error("slice of untyped nil")]
    SliceNil,
    #[error("slice of nil pointer")]
    SliceNilPointer,
    #[error("too many slice indexes: {0}")]
    SliceIndexes(usize),
    #[error("cannot 3-index slice a string")]
    Slice3String,
    #[error("can't slice item of type {0}")]
    CantSlice(String),
    #[error("invalid slice index: {0} > {1}")]
    SliceOrder(usize, usize),
    #[error("len of nil pointer")]
    LenNilPointer,
    #[error("len of type {0}")]
    LenType(String),
    /// Go's reflect panics asking an untyped nil for its type.
    #[error("reflect: call of reflect.Value.Type on zero Value")]
    ZeroType,
    #[error("call of nil")]
    CallNil,
    #[error("non-function {name} of type {ty}")]
    NonFunction { name: String, ty: String },
    #[error("missing argument for comparison")]
    NoComparison,
    #[error("invalid type for comparison")]
    BadComparisonType,
    #[error("incompatible types for comparison: {0} and {1}")]
    Incompatible(String, String),
    #[error("non-comparable types {0}: {1}, {2}: {3}")]
    NonComparableTypes(String, String, String, String),
    #[error("non-comparable type {0}: {1}")]
    NonComparable(String, String),
    /// A method of a nil pointer.
    #[error("runtime error: invalid memory address or nil pointer dereference")]
    NilDeref,
    #[error(transparent)]
    ParseInt(crate::gocompat::strconv::NumError),
}
