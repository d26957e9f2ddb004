//! timeouts: the TCP read, write and idle timeouts of the block's listeners.

mod setup;

pub use setup::setup;
