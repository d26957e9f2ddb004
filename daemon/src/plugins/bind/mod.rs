//! bind: the addresses (or interfaces' addresses) a server block listens on.

mod setup;

pub use setup::setup;
