//! timeouts: the TCP read, write and idle timeouts of the block's listeners, and
//! the queries one connection may ask (maxtcpqueries).

mod setup;

pub use setup::setup;
