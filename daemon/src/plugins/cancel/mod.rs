//! cancel: a deadline for every query of the block; plugins that wait on
//! the network (forward) give up when it passes.

mod setup;

pub use setup::setup;
