//! reload: watch the Corefile and restart with it when it changes. The
//! setup only records the interval; the control plane (main) polls.

mod setup;

pub use setup::setup;
