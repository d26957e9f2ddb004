//! multisocket: how many SO_REUSEPORT sockets (in ferrodns: workers, each
//! with its own socket per listener) serve the listeners.

mod setup;

pub use setup::setup;
