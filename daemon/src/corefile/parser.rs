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
        frames: vec![Frame {
            toks,
            idx: 0,
            src: 0,
        }],
        next_src: 1,
        prev: None,
        last_pos: Pos { file, line: 1 },
        last_text: String::new(),
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
    /// Its text.
    last_text: String,
    snippets: HashMap<String, Rc<[LexToken]>>,
    imports: usize,
    imported_tokens: usize,
    warnings: Vec<Error>,
    env: &'e dyn Fn(&str) -> Option<String>,
    is_directive: &'e dyn Fn(&str) -> bool,
}

fn pos_of(t: &LexToken) -> Pos {
    Pos {
        file: t.file.clone(),
        line: t.line,
    }
}

fn err_at(t: &LexToken, msg: impl Into<String>) -> Error {
    Error::new(&pos_of(t), msg)
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
        self.last_text.clone_from(&t.text);
        t
    }

    fn eof_err(&self) -> Error {
        Error::new(&self.last_pos, "Unexpected EOF")
    }

    fn token(&self, t: &LexToken) -> Token {
        Token {
            text: replace_env(&t.text, self.env),
            pos: pos_of(t),
        }
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
                    // Caddy's closeCurlyBrace at the end of the input: it
                    // looks at the last token, so a `}` that closed the
                    // last directive's block also passes for the block's.
                    if braced && self.last_text != "}" {
                        return Err(Error::new(
                            &self.last_pos,
                            format!(
                                "Syntax error: Unexpected token '{}', expecting '}}'",
                                self.last_text
                            ),
                        ));
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
                format!(
                    "Syntax error: Unexpected token '{}', expecting '{{'",
                    open.text
                ),
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
                format!(
                    "Glob pattern may only contain one wildcard (*), but has others: {pattern}"
                ),
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
            let walk = glob::glob(&full.to_string_lossy())
                .map_err(|e| err_at(arg, format!("Failed to use import pattern {pattern}: {e}")))?;
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
                return Err(err_at(
                    arg,
                    format!("Could not import {shown}: is a directory"),
                ));
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| err_at(arg, format!("Could not import {shown}: {e}")))?;
            let file: Arc<str> = Arc::from(shown);
            out.push(lex(&text, &file).into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn env(name: &str) -> Option<String> {
        match name {
            "SPACED" => Some("a b  c".into()),
            "PORT" => Some("1053".into()),
            "WIN" => Some("win".into()),
            "SNIP" => Some("common".into()),
            _ => None,
        }
    }

    fn is_dir(n: &str) -> bool {
        [
            "whoami",
            "log",
            "errors",
            "forward",
            "cache",
            "hosts",
            "file",
            "health",
            "import_me",
        ]
        .contains(&n)
    }

    fn parse_at(src: &str, file: &str) -> Result<(Vec<ServerBlock>, Vec<Error>), Error> {
        parse_with_warnings(src, file, &env, &is_dir)
    }

    fn p(src: &str) -> Vec<ServerBlock> {
        parse_at(src, "Corefile").unwrap().0
    }

    fn perr(src: &str) -> String {
        parse_at(src, "Corefile").unwrap_err().to_string()
    }

    type Shape = Vec<(Vec<String>, Vec<Vec<String>>)>;

    fn shape(blocks: &[ServerBlock]) -> Shape {
        blocks
            .iter()
            .map(|b| {
                (
                    b.keys.iter().map(|k| k.text.clone()).collect(),
                    b.directives
                        .iter()
                        .map(|d| d.tokens.iter().map(|t| t.text.clone()).collect())
                        .collect(),
                )
            })
            .collect()
    }

    fn sv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn two_blocks_with_lines() {
        let b = p("example.org {\n  whoami\n  log\n}\n\n.:53 {\n  forward . 8.8.8.8\n}\n");
        assert_eq!(
            shape(&b),
            vec![
                (sv(&["example.org"]), vec![sv(&["whoami"]), sv(&["log"])]),
                (sv(&[".:53"]), vec![sv(&["forward", ".", "8.8.8.8"])]),
            ]
        );
        assert_eq!(b[0].keys[0].pos.to_string(), "Corefile:1");
        assert_eq!(b[0].directives[1].pos().to_string(), "Corefile:3");
        assert_eq!(b[1].keys[0].pos.line, 6);
        assert_eq!(b[1].directives[0].tokens[2].pos.line, 7);
        assert_eq!(b[1].directives[0].name(), "forward");
        assert!(p("").is_empty());
        assert!(p("# only a comment\n\n").is_empty());
    }

    #[test]
    fn keys_spaces_and_trailing_comma() {
        let b = p("a.org b.org,\n   c.org, d.org\n{\n whoami\n}");
        assert_eq!(
            b[0].keys.iter().map(|k| &k.text).collect::<Vec<_>>(),
            ["a.org", "b.org", "c.org", "d.org"]
        );
        assert_eq!(b[0].keys[2].pos.line, 2);
        assert_eq!(shape(&b)[0].1, vec![sv(&["whoami"])]);
        // `""` keys are skipped; a lone `,` continues.
        let b = p("\"\" a.org , b.org {\n log\n}");
        assert_eq!(shape(&b)[0].0, sv(&["a.org", "b.org"]));
        assert_eq!(
            perr("a.org, {\n whoami\n}"),
            "Corefile:1: Expected another address but had '{' - check for extra comma"
        );
        assert_eq!(perr("a.org,\n"), "Corefile:1: Unexpected EOF");
        // Only keys, nothing else: a block without directives.
        assert_eq!(
            shape(&p("a.org b.org")),
            vec![(sv(&["a.org", "b.org"]), vec![])]
        );
    }

    #[test]
    fn single_block_without_braces() {
        let b = p(".:1053\nwhoami\nforward . 1.1.1.1 {\n  max_fails 2\n}\nlog");
        assert_eq!(
            shape(&b),
            vec![(
                sv(&[".:1053"]),
                vec![
                    sv(&["whoami"]),
                    sv(&["forward", ".", "1.1.1.1", "{", "max_fails", "2", "}"]),
                    sv(&["log"])
                ]
            )]
        );
        // A second block cannot follow a block without braces.
        assert_eq!(
            perr("a.org\nwhoami\nb.org {\n}"),
            "Corefile:3: Unknown directive 'b.org'"
        );
        assert_eq!(
            perr("a.org\nwhoami\n}"),
            "Corefile:3: Unexpected '}' because no matching opening brace"
        );
    }

    #[test]
    fn brace_on_next_line_and_nested_blocks() {
        let b = p("a.org\n{\n forward . 1.1.1.1 {\n  policy random\n  health_check 5s {\n   x\n  }\n }\n cache 30\n}");
        assert_eq!(
            shape(&b)[0].1,
            vec![
                sv(&[
                    "forward",
                    ".",
                    "1.1.1.1",
                    "{",
                    "policy",
                    "random",
                    "health_check",
                    "5s",
                    "{",
                    "x",
                    "}",
                    "}"
                ]),
                sv(&["cache", "30"])
            ]
        );
        let d = &b[0].directives[0];
        assert_eq!(d.tokens[4].pos.line, 4);
        assert_eq!(d.tokens[11].pos.line, 8);
        // Empty blocks.
        assert_eq!(
            shape(&p(". {\n}\nb.org {\n}")),
            vec![(sv(&["."]), vec![]), (sv(&["b.org"]), vec![])]
        );
    }

    #[test]
    fn golden_errors() {
        assert_eq!(
            perr(". {\n  whoami\n  bogus arg\n}"),
            "Corefile:3: Unknown directive 'bogus'"
        );
        assert_eq!(
            perr(". {\n whoami\n}\n}"),
            "Corefile:4: Unexpected '}' because no matching opening brace"
        );
        assert_eq!(
            perr(". {\n whoami }\n"),
            "Corefile:2: Unexpected '}' because no matching opening brace"
        );
        assert_eq!(
            perr(". {\n whoami\n"),
            "Corefile:2: Syntax error: Unexpected token 'whoami', expecting '}'"
        );
        assert_eq!(
            perr(". {\n"),
            "Corefile:1: Syntax error: Unexpected token '{', expecting '}'"
        );
        assert_eq!(
            perr(". {\n forward . 1.1.1.1 {\n  max_fails 3\n"),
            "Corefile:3: Unexpected EOF"
        );
        // As in CoreDNS: the `}` of the last directive's block also passes
        // for the server block's.
        assert_eq!(p(". {\n forward . 1.1.1.1 {\n  max_fails 3\n}\n").len(), 1);
        assert_eq!(
            perr("}"),
            "Corefile:1: Unexpected '}' because no matching opening brace"
        );
    }

    #[test]
    fn lexing_through_the_parser() {
        // Comment mid-token, CRLF, BOM.
        let b = p("\u{FEFF}example.org {\r\n  whoami#comment {\r\n  log # }\r\n}\r\n");
        assert_eq!(
            shape(&b),
            vec![(sv(&["example.org"]), vec![sv(&["whoami"]), sv(&["log"])])]
        );
        assert_eq!(b[0].directives[1].pos().line, 3);
        // A quoted token spanning lines: tokens after it keep correct lines,
        // and a token after its closing quote is on its line.
        let b = p(". {\n hosts \"a\nb\nc\" after\n log\n}\n\nx.org {\n  errors\n}");
        assert_eq!(
            shape(&b)[0].1,
            vec![sv(&["hosts", "a\nb\nc", "after"]), sv(&["log"])]
        );
        assert_eq!(b[0].directives[0].tokens[2].pos.line, 4);
        assert_eq!(b[0].directives[1].pos().line, 5);
        assert_eq!(b[1].keys[0].pos.line, 8);
        assert_eq!(b[1].directives[0].pos().line, 9);
        // \" escape.
        let b = p(". {\n log \"say \\\"hi\\\"\" \"\"\n}");
        assert_eq!(shape(&b)[0].1, vec![sv(&["log", "say \"hi\"", ""])]);
    }

    #[test]
    fn env_substitution() {
        let b = p("example.org:{$PORT} {\n  log {$SPACED} x{%WIN%}y {$UNSET} pre{$SPACED}post {$} {$UNCLOSED\n}");
        assert_eq!(b[0].keys[0].text, "example.org:1053");
        assert_eq!(
            shape(&b)[0].1,
            vec![sv(&[
                "log",
                "a b  c",
                "xwiny",
                "",
                "prea b  cpost",
                "{$}",
                "{$UNCLOSED"
            ])]
        );
        assert_eq!(replace_env("{%WIN%}{$PORT}{%UNSET%}", &env), "win1053");
        // Values are not expanded again.
        let e = |n: &str| (n == "A").then(|| "{$A}".to_string());
        assert_eq!(replace_env("{$A}", &e), "{$A}");
        // The directive name itself is substituted.
        let b = p(". {\n {$UNSET}log\n}");
        assert_eq!(b[0].directives[0].name(), "log");
    }

    #[test]
    fn snippets() {
        let src = "(common) {\n  errors\n  log {\n    class all\n  }\n}\n\nexample.org {\n  whoami\n  import common\n  cache\n}\n. {\n  import {$SNIP}\n}";
        let b = p(src);
        assert_eq!(
            shape(&b),
            vec![
                (
                    sv(&["example.org"]),
                    vec![
                        sv(&["whoami"]),
                        sv(&["errors"]),
                        sv(&["log", "{", "class", "all", "}"]),
                        sv(&["cache"])
                    ]
                ),
                (
                    sv(&["."]),
                    vec![sv(&["errors"]), sv(&["log", "{", "class", "all", "}"])]
                ),
            ]
        );
        // Snippet tokens keep the position of their definition.
        assert_eq!(b[0].directives[1].pos().line, 2);
        assert_eq!(
            perr("(a) {\n log\n}\n(a) {\n errors\n}"),
            "Corefile:4: redeclaration of previously declared snippet a"
        );
        // Snippet inside a nested block of a directive.
        let b = p("(opts) {\n max_fails 2\n}\n. {\n forward . 1.1.1.1 {\n  import opts\n }\n}");
        assert_eq!(
            shape(&b)[0].1,
            vec![sv(&["forward", ".", "1.1.1.1", "{", "max_fails", "2", "}"])]
        );
        // `import` mid-line is an ordinary argument.
        let b = p(". {\n log import x\n}");
        assert_eq!(shape(&b)[0].1, vec![sv(&["log", "import", "x"])]);
        // A snippet's tokens may hold keys: top-level import.
        let b = p("(site) {\n a.org {\n  log\n }\n}\nimport site");
        assert_eq!(shape(&b), vec![(sv(&["a.org"]), vec![sv(&["log"])])]);
    }

    #[test]
    fn import_among_keys_after_a_comma() {
        let b = p("(more) {\n b.org c.org\n}\na.org,\nimport more\n{\n log\n}");
        assert_eq!(
            shape(&b),
            vec![(sv(&["a.org", "b.org", "c.org"]), vec![sv(&["log"])])]
        );
    }

    #[test]
    fn brace_on_a_new_line_belongs_to_the_directive() {
        // As in Caddy: a `{` is counted before the end of the line is.
        let b = p(". {\n forward . 1.1.1.1\n {\n  max_fails 2\n }\n log\n}");
        assert_eq!(
            shape(&b)[0].1,
            vec![
                sv(&["forward", ".", "1.1.1.1", "{", "max_fails", "2", "}"]),
                sv(&["log"])
            ]
        );
    }

    #[test]
    fn import_cycles_are_errors() {
        assert_eq!(
            perr("(a) {\n import a\n}\n. {\n import a\n}"),
            "Corefile:2: import cycle or too many imports (limit 1000): a"
        );
        assert_eq!(
            perr("(a) {\n import b\n}\n(b) {\n import a\n}\n. {\n import a\n}"),
            "Corefile:5: import cycle or too many imports (limit 1000): a"
        );
    }

    #[test]
    fn import_argument_errors() {
        assert_eq!(
            perr(". {\n import\n}"),
            "Corefile:2: Wrong argument count or unexpected line ending after 'import'"
        );
        assert_eq!(
            perr(". {\n import a b\n}"),
            "Corefile:2: Import takes only one argument (glob pattern or file)"
        );
        assert_eq!(
            perr(". {\n import {$UNSET}\n}"),
            "Corefile:2: Import requires a non-empty filepath"
        );
        assert_eq!(
            perr("import /nonexistent/dir/x.conf"),
            "Corefile:1: File to import not found: /nonexistent/dir/x.conf"
        );
        assert_eq!(
            perr("import /etc/*/*.conf"),
            "Corefile:1: Glob pattern may only contain one wildcard (*), but has others: /etc/*/*.conf"
        );
        assert_eq!(
            perr("import /etc/??"),
            "Corefile:1: Glob pattern may only contain one wildcard (*), but has others: /etc/??"
        );
        assert_eq!(
            perr("import /etc/[a-z]"),
            "Corefile:1: Glob pattern may only contain one wildcard (*), but has others: /etc/[a-z]"
        );
    }

    #[test]
    fn import_files_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("conf.d")).unwrap();
        fs::create_dir(d.join("zones")).unwrap();
        // Whole server blocks, imported at the top level.
        fs::write(d.join("zones/extra.conf"), "extra.org {\n  log\n}\n").unwrap();
        // Directives, imported inside a block; a relative import inside it
        // resolves against its own directory.
        fs::write(
            d.join("conf.d/b.conf"),
            "\n\nerrors\nimport ../zones/more.txt\n",
        )
        .unwrap();
        fs::write(d.join("conf.d/a.conf"), "cache 30\n").unwrap();
        fs::write(d.join("zones/more.txt"), "health").unwrap();
        let corefile = d.join("Corefile");
        let cf = corefile.to_str().unwrap();
        let src = ". {\n  whoami\n  import conf.d/*.conf\n  log\n}\nimport zones/extra.conf\nimport nothing/*.conf\n";
        let (b, warnings) = parse_at(src, cf).unwrap();
        assert_eq!(
            shape(&b),
            vec![
                (
                    sv(&["."]),
                    vec![
                        sv(&["whoami"]),
                        sv(&["cache", "30"]),
                        sv(&["errors"]),
                        sv(&["health"]),
                        sv(&["log"])
                    ]
                ),
                (sv(&["extra.org"]), vec![sv(&["log"])]),
            ]
        );
        let dd = d.display();
        assert_eq!(
            b[0].directives[2].pos().to_string(),
            format!("{dd}/conf.d/b.conf:3")
        );
        assert_eq!(
            b[0].directives[3].pos().to_string(),
            format!("{dd}/conf.d/../zones/more.txt:1")
        );
        assert_eq!(b[0].directives[4].pos().to_string(), format!("{cf}:4"));
        assert_eq!(
            b[1].keys[0].pos.to_string(),
            format!("{dd}/zones/extra.conf:1")
        );
        // A glob that matches nothing is only a warning.
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].to_string(),
            format!("{cf}:7: No files matching import glob pattern: nothing/*.conf")
        );
        // Errors in imported files name the imported file.
        fs::write(d.join("bad.conf"), "log\nbogus\n").unwrap();
        let e = parse_at(". {\n import bad.conf\n}", cf).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{dd}/bad.conf:2: Unknown directive 'bogus'")
        );
        assert_eq!(
            parse_at("import missing.conf", cf).unwrap_err().to_string(),
            format!("{cf}:1: File to import not found: missing.conf")
        );
        // Importing a directory.
        assert_eq!(
            parse_at("import zones", cf).unwrap_err().to_string(),
            format!("{cf}:1: Could not import {dd}/zones: is a directory")
        );
    }

    #[test]
    fn file_importing_itself_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let corefile = dir.path().join("Corefile");
        let src = "import Corefile\n";
        fs::write(&corefile, src).unwrap();
        let cf = corefile.to_str().unwrap();
        let e = parse_at(src, cf).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{cf}:1: import cycle or too many imports (limit 1000): Corefile")
        );
        // A file of directives importing itself inside a block.
        fs::write(
            dir.path().join("inc"),
            "log
import inc
",
        )
        .unwrap();
        let e = parse_at(". {\n  import inc\n}\n", cf).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:2: import cycle or too many imports (limit 1000): inc",
                dir.path().join("inc").display()
            )
        );
        // Two files importing each other at the top level.
        fs::write(dir.path().join("a"), "import b\n").unwrap();
        fs::write(dir.path().join("b"), "import a\n").unwrap();
        let e = parse_at("import a", cf).unwrap_err();
        assert!(
            e.msg
                .starts_with("import cycle or too many imports (limit 1000): "),
            "{e}"
        );
    }

    #[test]
    fn stdin_imports_from_current_dir() {
        // "stdin" has no directory: the pattern is used as is.
        let e = parse_at("import no_such_file_here.conf", "stdin").unwrap_err();
        assert_eq!(
            e.to_string(),
            "stdin:1: File to import not found: no_such_file_here.conf"
        );
    }
}
