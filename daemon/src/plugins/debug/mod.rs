//! debug: turns off panic recovery for the block and enables [DEBUG] lines.

mod setup;

pub use setup::setup;
