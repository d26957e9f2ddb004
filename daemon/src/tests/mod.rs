//! Tests of the server with the real plugins: above every layer, as the
//! service assembles them.

mod auth;
mod example_plugin;
mod fastpath;
mod metrics;
mod parses;
