//! Caddyfile parser: server blocks, snippets, import, env substitution.
//!
//! Follows Caddy v1's `parse.go`: the tokens of the file are read as a stream
//! in which `import` splices other tokens (a snippet's, or a file's) in place,
//! so an imported file may hold whole server blocks or a block's directives.
//! The stream is a stack of token sources rather than one spliced vector, so
//! an import costs nothing beyond its own tokens; imports are capped so that a
//! cycle is an error, not a hang.

use super::lexer::{lex, LexToken};
use super::{Directive, Error, Pos, ServerBlock, Token};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// At most this many `import` operations (snippet or file) per parse.
pub const MAX_IMPORTS: usize = 1000;
/// At most this many tokens brought in by imports per parse.
pub const MAX_IMPORTED_TOKENS: usize = 1_000_000;

/// Parses a Corefile. `file` names it in errors and is the base of relative
/// imports. `env` looks up `{$VAR}`/`{%VAR%}`; `is_directive` says whether a
/// name is a directive (anything else is `Unknown directive 'NAME'`).
///
/// Warnings (an import glob that matches no file) are printed to stderr; use
/// [`parse_with_warnings`] to get them instead.
pub fn parse(
    src: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    is_directive: &dyn Fn(&str) -> bool,
) -> Result<Vec<ServerBlock>, Error> {
    let (blocks, warnings) = parse_with_warnings(src, file, env, is_directive)?;
    for w in warnings {
        eprintln!("[WARNING] {w}");
    }
    Ok(blocks)
}

/// As [`parse`], but returns the warnings (each with the position of the
/// token that caused it) instead of printing them.
pub fn parse_with_warnings(
    src: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    is_directive: &dyn Fn(&str) -> bool,
) -> Result<(Vec<ServerBlock>, Vec<Error>), Error> {
    let file: Arc<str> = Arc::from(file);
    let toks: Rc<[LexToken]> = lex(src, &file).into();
    let mut p = Parser {
        frames: vec![Frame { toks, idx: 0, src: 0 }],
        next_src: 1,
        prev: None,
        last_pos: Pos { file, line: 1 },
        snippets: HashMap::new(),
        imports: 0,
        imported_tokens: 0,
        warnings: Vec::new(),
        env,
        is_directive,
    };
    let mut blocks = Vec::new();
    while p.peek().is_some() {
        p.server_block(&mut blocks)?;
    }
    Ok((blocks, p.warnings))
}

/// Replaces `{$VAR}` and `{%VAR%}` anywhere in `s` by the variable's value
/// (empty when unset). Values are not scanned again. An empty name (`{$}`) or
/// an unterminated reference stays literal.
pub fn replace_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    if !s.contains("{$") && !s.contains("{%") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let next = [("{$", "}"), ("{%", "%}")]
            .iter()
            .filter_map(|&(open, close)| rest.find(open).map(|i| (i, open, close)))
            .min_by_key(|&(i, _, _)| i);
        let Some((i, open, close)) = next else { break };
        let after = &rest[i + open.len()..];
        match after.find(close) {
            Some(j) if j > 0 => {
                out.push_str(&rest[..i]);
                out.push_str(&env(&after[..j]).unwrap_or_default());
                rest = &after[j + close.len()..];
            }
            _ => {
                // Not a reference: keep the opener literally and go on.
                out.push_str(&rest[..i + open.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One source of tokens: the Corefile, an imported file, or a snippet's
/// replay. `src` is unique per source, so tokens of different sources are
/// never on the same line.
struct Frame {
    toks: Rc<[LexToken]>,
    idx: usize,
    src: u32,
}

struct Parser<'e> {
    frames: Vec<Frame>,
    next_src: u32,
    /// Source and end line of the last consumed token.
    prev: Option<(u32, u32)>,
    /// Position of the last consumed token (for `Unexpected EOF`).
    last_pos: Pos,
    snippets: HashMap<String, Rc<[LexToken]>>,
    imports: usize,
    imported_tokens: usize,
    warnings: Vec<Error>,
    env: &'e dyn Fn(&str) -> Option<String>,
    is_directive: &'e dyn Fn(&str) -> bool,
}

fn pos_of(t: &LexToken) -> Pos {
    Pos { file: t.file.clone(), line: t.line }
}

fn err_at(t: &LexToken, msg: impl Into<String>) -> Error {
    Error { pos: pos_of(t), msg: msg.into() }
}

const UNEXPECTED_CLOSE: &str = "Unexpected '}' because no matching opening brace";

impl Parser<'_> {
    /// The current (next unconsumed) token.
    fn peek(&mut self) -> Option<LexToken> {
        while let Some(f) = self.frames.last() {
            if f.idx < f.toks.len() {
                return Some(f.toks[f.idx].clone());
            }
            self.frames.pop();
        }
        None
    }

    /// Whether the current token starts a new line relative to the last
    /// consumed one. Call after `peek`.
    fn is_new_line(&self) -> bool {
        match (self.prev, self.frames.last()) {
            (Some((src, end)), Some(f)) if f.idx < f.toks.len() => {
                src != f.src || end != f.toks[f.idx].line
            }
            _ => true,
        }
    }

    /// Consumes the current token. Call after `peek` returned `Some`.
    fn consume(&mut self) -> LexToken {
        let f = self.frames.last_mut().expect("consume after peek");
        let t = f.toks[f.idx].clone();
        f.idx += 1;
        self.prev = Some((f.src, t.end_line));
        self.last_pos = pos_of(&t);
        t
    }

    fn eof_err(&self) -> Error {
        Error::new(&self.last_pos, "Unexpected EOF")
    }

    fn token(&self, t: &LexToken) -> Token {
        Token { text: replace_env(&t.text, self.env), pos: pos_of(t) }
    }

    fn push_frame(&mut self, toks: Rc<[LexToken]>) {
        if toks.is_empty() {
            return;
        }
        let src = self.next_src;
        self.next_src += 1;
        self.frames.push(Frame { toks, idx: 0, src });
    }

    /// One server block or snippet definition, starting at the current token.
    fn server_block(&mut self, blocks: &mut Vec<ServerBlock>) -> Result<(), Error> {
        let Some((keys, eof)) = self.keys()? else {
            return Ok(());
        };
        if keys.len() == 1 && keys[0].text.starts_with('(') && keys[0].text.ends_with(')') {
            let key = &keys[0];
            let name = key.text[1..].strip_suffix(')').unwrap_or("").to_string();
            if self.snippets.contains_key(&name) {
                return Err(Error::new(
                    &key.pos,
                    format!("redeclaration of previously declared snippet {name}"),
                ));
            }
            let body = self.snippet_body(eof)?;
            self.snippets.insert(name, body);
            return Ok(());
        }
        let mut directives = Vec::new();
        if !eof {
            let braced = self.peek().is_some_and(|t| t.text == "{");
            if braced {
                self.consume();
            }
            loop {
                let Some(t) = self.peek() else {
                    if braced {
                        return Err(self.eof_err());
                    }
                    break;
                };
                if t.text == "}" {
                    if !braced {
                        return Err(err_at(&t, UNEXPECTED_CLOSE));
                    }
                    self.consume();
                    break;
                }
                if t.text == "import" {
                    self.import()?;
                    continue;
                }
                directives.push(self.directive()?);
            }
        }
        if !keys.is_empty() {
            blocks.push(ServerBlock { keys, directives });
        }
        Ok(())
    }

    /// Reads the keys of a block. `None` when imports at the top level left
    /// nothing to read; otherwise the keys and whether the input ended.
    fn keys(&mut self) -> Result<Option<(Vec<Token>, bool)>, Error> {
        let mut keys = Vec::new();
        let mut expecting = false;
        let mut first = true;
        loop {
            let Some(t) = self.peek() else {
                if expecting {
                    return Err(self.eof_err());
                }
                if first {
                    return Ok(None);
                }
                return Ok(Some((keys, true)));
            };
            let new_line = self.is_new_line();
            if !first && !expecting && new_line {
                return Ok(Some((keys, false)));
            }
            if t.text == "import" && new_line {
                self.import()?;
                continue;
            }
            first = false;
            if t.text == "{" {
                if expecting {
                    return Err(err_at(
                        &t,
                        "Expected another address but had '{' - check for extra comma",
                    ));
                }
                return Ok(Some((keys, false)));
            }
            if t.text == "}" {
                return Err(err_at(&t, UNEXPECTED_CLOSE));
            }
            self.consume();
            let mut key = self.token(&t);
            if key.text.is_empty() {
                continue; // `""`
            }
            if key.text.ends_with(',') {
                key.text.pop();
                expecting = true;
            } else {
                expecting = false;
            }
            if !key.text.is_empty() {
                keys.push(key);
            }
        }
    }

    /// The tokens of a snippet's `{ ... }`, without the outer braces, kept
    /// as written (imports and env references are resolved where it is used).
    fn snippet_body(&mut self, eof: bool) -> Result<Rc<[LexToken]>, Error> {
        if eof {
            return Err(self.eof_err());
        }
        let open = self.peek().expect("not at EOF");
        if open.text != "{" {
            return Err(err_at(
                &open,
                format!("Syntax error: Unexpected token '{}', expecting '{{'", open.text),
            ));
        }
        self.consume();
        let mut depth = 1usize;
        let mut body = Vec::new();
        loop {
            let Some(t) = self.peek() else {
                return Err(self.eof_err());
            };
            self.consume();
            if t.text == "}" {
                depth -= 1;
                if depth == 0 {
                    return Ok(body.into());
                }
            } else if t.text == "{" {
                depth += 1;
            }
            body.push(t);
        }
    }

    /// One directive: its name, the rest of its line, and any `{ ... }`
    /// block (which may span lines), env references replaced.
    fn directive(&mut self) -> Result<Directive, Error> {
        let t = self.consume();
        let name = self.token(&t);
        if !(self.is_directive)(&name.text) {
            return Err(err_at(&t, format!("Unknown directive '{}'", name.text)));
        }
        let mut tokens = vec![name];
        let mut nesting = 0usize;
        while let Some(t) = self.peek() {
            let new_line = self.is_new_line();
            if t.text == "{" {
                nesting += 1;
            } else if new_line && nesting == 0 {
                break;
            } else if t.text == "}" {
                if nesting == 0 {
                    return Err(err_at(&t, UNEXPECTED_CLOSE));
                }
                nesting -= 1;
            } else if t.text == "import" && new_line {
                self.import()?;
                continue;
            }
            self.consume();
            tokens.push(self.token(&t));
        }
        if nesting > 0 {
            return Err(self.eof_err());
        }
        Ok(Directive { tokens })
    }

    /// `import PATTERN` at the current token: consumes both tokens and pushes
    /// the imported tokens so that they are read next.
    fn import(&mut self) -> Result<(), Error> {
        let imp = self.consume();
        let arg = match self.peek() {
            Some(a) if !self.is_new_line() => a,
            _ => {
                return Err(err_at(
                    &imp,
                    "Wrong argument count or unexpected line ending after 'import'",
                ))
            }
        };
        self.consume();
        let pattern = replace_env(&arg.text, self.env);
        if pattern.is_empty() {
            return Err(err_at(&arg, "Import requires a non-empty filepath"));
        }
        if let Some(extra) = self.peek() {
            if !self.is_new_line() {
                return Err(err_at(
                    &extra,
                    "Import takes only one argument (glob pattern or file)",
                ));
            }
        }
        self.imports += 1;
        if self.imports > MAX_IMPORTS {
            return Err(err_at(
                &imp,
                format!("import cycle or too many imports (limit {MAX_IMPORTS}): {pattern}"),
            ));
        }

        let sources: Vec<Rc<[LexToken]>> = if let Some(s) = self.snippets.get(&pattern) {
            vec![s.clone()]
        } else {
            self.import_files(&arg, &pattern)?
        };
        let n: usize = sources.iter().map(|s| s.len()).sum();
        self.imported_tokens += n;
        if self.imported_tokens > MAX_IMPORTED_TOKENS {
            return Err(err_at(
                &imp,
                format!(
                    "import cycle or too many imported tokens (limit {MAX_IMPORTED_TOKENS}): {pattern}"
                ),
            ));
        }
        // The first source must be read first: push it last.
        for s in sources.into_iter().rev() {
            self.push_frame(s);
        }
        Ok(())
    }

    /// Lexes the files `pattern` names, relative to the directory of the
    /// file holding the import.
    fn import_files(
        &mut self,
        arg: &LexToken,
        pattern: &str,
    ) -> Result<Vec<Rc<[LexToken]>>, Error> {
        if pattern.matches('*').count() > 1
            || pattern.matches('?').count() > 1
            || (pattern.contains('[') && pattern.contains(']'))
        {
            return Err(err_at(
                arg,
                format!("Glob pattern may only contain one wildcard (*), but has others: {pattern}"),
            ));
        }
        let base: &Path = if Path::new(pattern).is_absolute() {
            Path::new("")
        } else {
            Path::new(&*arg.file).parent().unwrap_or(Path::new(""))
        };
        let paths: Vec<PathBuf> = if pattern.contains('*') || pattern.contains('?') {
            // Only the pattern's own `*`/`?` are wildcards: escape the base
            // directory, and a lone `[` or `]` in the pattern.
            let base_glob = glob::Pattern::escape(&base.to_string_lossy());
            let pat_glob = pattern.replace('[', "[[]").replace(']', "[]]");
            let full = Path::new(&base_glob).join(pat_glob);
            let walk = glob::glob(&full.to_string_lossy()).map_err(|e| {
                err_at(arg, format!("Failed to use import pattern {pattern}: {e}"))
            })?;
            let mut paths = Vec::new();
            for m in walk {
                paths.push(m.map_err(|e| {
                    err_at(arg, format!("Failed to use import pattern {pattern}: {e}"))
                })?);
            }
            if paths.is_empty() {
                self.warnings.push(err_at(
                    arg,
                    format!("No files matching import glob pattern: {pattern}"),
                ));
            }
            paths
        } else {
            let path = base.join(pattern);
            if std::fs::metadata(&path).is_err() {
                return Err(err_at(arg, format!("File to import not found: {pattern}")));
            }
            vec![path]
        };

        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            let shown = path.display().to_string();
            if path.is_dir() {
                return Err(err_at(arg, format!("Could not import {shown}: is a directory")));
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| err_at(arg, format!("Could not import {shown}: {e}")))?;
            let file: Arc<str> = Arc::from(shown);
            out.push(lex(&text, &file).into());
        }
        Ok(out)
    }
}
