//! root: the directory relative file names (zone files, hosts files) are under.

mod setup;

pub use setup::setup;
