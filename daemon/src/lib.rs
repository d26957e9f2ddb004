//! ferrodns: reads a CoreDNS Corefile and answers as CoreDNS would, on a
//! thread-per-core data plane. See docs/ARCHITECTURE.md for the layers.

pub mod corefile;
