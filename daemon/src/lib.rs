//! ferrodns: reads a CoreDNS Corefile and answers as CoreDNS would, on a
//! thread-per-core data plane. See docs/ARCHITECTURE.md for the layers.

pub mod cli;
pub mod control;
pub mod corefile;
pub mod gocompat;
pub mod handover;
pub mod hash;
pub mod kernel;
pub mod log;
pub mod metrics;
pub mod nodelocal;
pub mod plugin;
pub mod plugins;
pub mod runtime;
pub mod server;
pub mod service;
pub mod sys;
pub mod wire;
#[cfg(feature = "xdp")]
pub mod xdp;

#[cfg(test)]
mod tests;
