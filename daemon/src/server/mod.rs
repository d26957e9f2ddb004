//! DNS transport semantics: which server block a query goes to, what the
//! server itself answers (REFUSED, FORMERR, BADVERS), EDNS and truncation.

pub mod config;
pub mod dispatch;
pub mod fastpath;
pub mod route;

pub use config::{load, Config};
pub use dispatch::Dispatcher;
