//! Caddyfile lexer.
