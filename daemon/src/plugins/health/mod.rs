//! health: serves `/health` (200 `OK` while the process runs) and, with
//! `lameduck`, keeps serving DNS for a while after being told to stop. The
//! endpoint lives in `crate::control`; the plugin has no place in the chain.

mod setup;

pub use setup::setup;
