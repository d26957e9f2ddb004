//! Caddyfile parser: server blocks, snippets, import, env substitution.

use super::{Error, ServerBlock};

/// Parses a Corefile. `file` names it in errors and is the base of relative
/// imports. `env` looks up `{$VAR}`/`{%VAR%}`; `is_directive` says whether a
/// name is a directive (anything else is `Unknown directive 'NAME'`).
pub fn parse(
    src: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    is_directive: &dyn Fn(&str) -> bool,
) -> Result<Vec<ServerBlock>, Error> {
    let _ = (src, file, env, is_directive);
    todo!()
}
