//! ready: serves `/ready`, 200 `OK` once every plugin of the blocks that
//! load *ready* and can report readiness has said it is ready, 503 with the
//! names of those that have not otherwise. The endpoint and the readiness
//! list live in `crate::control`; the plugin has no place in the chain.

mod setup;

pub use setup::setup;
