//! Go's template errors: `template: NAME:LINE: ...` when compiling,
//! `template: NAME:LINE: executing "NAME" at <ACTION>: ...` when running;
//! each `Display` is text/template's wording.

/// A template that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("template: {name}:{line}: {kind}")]
pub struct ParseError {
    pub name: String,
    /// The line of the action at fault.
    pub line: usize,
    pub kind: Syntax,
}

/// What is wrong with an action's text.
#[derive(Debug, thiserror::Error)]
pub enum Syntax {
    #[error("unclosed action")]
    UnclosedAction,
    #[error("unclosed comment")]
    UnclosedComment,
    #[error("floating-point constants are not supported")]
    Float,
    #[error("template variables are not supported")]
    Variable,
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("invalid syntax in escape \\{0}")]
    Escape(char),
    #[error("unterminated raw quoted string")]
    UnterminatedRawQuote,
    #[error("bad number syntax: {0:?}")]
    Number(String),
    #[error("unexpected <.> after {0}")]
    DotAfter(String),
    #[error("unexpected {0:?} in command")]
    Char(char),
    /// A token where the pipeline should have ended, as Go shows it.
    #[error("unexpected {0} in command")]
    Token(String),
    #[error("missing value for command")]
    MissingValue,
    #[error("unclosed left paren")]
    UnclosedParen,
    /// A keyword or builtin of Go's that ferrodns leaves out.
    #[error("{0:?} is not supported by ferrodns's templates")]
    Unsupported(String),
    #[error("function {0:?} not defined")]
    Function(String),
}

/// A template that failed on the query's data.
#[derive(Debug, thiserror::Error)]
#[error("template: {name}:{line}: executing \"{name}\" at <{action}>: {kind}")]
pub struct ExecError {
    pub name: String,
    pub line: usize,
    /// The action's text, trimmed.
    pub action: String,
    pub kind: Eval,
}

/// Why evaluating an action failed.
#[derive(Debug, thiserror::Error)]
pub enum Eval {
    #[error("printing a {0} is not supported")]
    Print(&'static str),
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
    #[error("wrong type for value; expected {want}; got {got}")]
    Type {
        want: &'static str,
        got: &'static str,
    },
    /// printf's format is not a string.
    #[error("wrong type for value; expected string")]
    Format,
    #[error("integer overflow")]
    Overflow,
    #[error("can't give argument to non-function {0}")]
    NotFunction(String),
    #[error("can't evaluate field {field} in type {ty}")]
    Field { field: String, ty: &'static str },
    #[error("nil pointer evaluating {ty}.{field}")]
    NilPointer { ty: &'static str, field: String },
    #[error("error calling index: {0}")]
    Index(Index),
    #[error("error calling len: len of type {0}")]
    Len(&'static str),
    #[error("error calling parseInt: {0}")]
    ParseInt(crate::gocompat::strconv::NumError),
    #[error("function {0:?} not defined")]
    Function(String),
}

/// Why `index` failed.
#[derive(Debug, thiserror::Error)]
pub enum Index {
    #[error("cannot index slice/array with type {0}")]
    KeyType(&'static str),
    #[error("index out of range: {0}")]
    OutOfRange(i64),
    #[error("value has type {0}; should be string")]
    MapKey(&'static str),
    #[error("can't index item of type {0}")]
    Item(&'static str),
}
