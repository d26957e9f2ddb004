//! Go's formats that CoreDNS users see, reproduced once: durations
//! (`time.ParseDuration`, `Duration.String`), integers (`strconv`), quoting
//! (`%q`), OS error text as Go's `syscall`/`os` packages word it, host:port
//! (`net.SplitHostPort`, `net.JoinHostPort`), file paths
//! (`filepath.Clean`), the host of a `scheme://host:port` address
//! (`url.Parse`), regexp errors, miekg's domain-name checks and resolv.conf
//! search list, and the one periodic thread plugins re-read their files on.
//!
//! Nothing here knows DNS messages or plugins: error texts are compared
//! with CoreDNS's by tests and the conformance suite, so every `Display`
//! renders Go's exact wording.

pub mod duration;
pub mod errno;
pub mod names;
pub mod net;
pub mod path;
pub mod quote;
pub mod regexp;
pub mod reload;
pub mod resolv;
pub mod shlex;
pub mod strconv;
pub mod url;
