//! on: commands to run when the server starts (and after each reload) or
//! shuts down (caddy's `onevent`, which CoreDNS builds in). A setup-only
//! directive: the block's events go to the server, which runs them.

mod setup;

pub use setup::setup;
