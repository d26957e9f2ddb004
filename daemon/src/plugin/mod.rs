//! The plugin contract: the request, what a plugin may do with it, the
//! compiled chain and the registry of directives in execution order.
//!
//! A plugin acts in the query phase ([`Action`]): answer (or return an rcode
//! without writing, which the server turns into an error reply), pass the
//! query on, or pass it on and ask to see the outcome. Plugins that asked
//! see the [`Outcome`] in the response phase, in reverse chain order, the
//! way CoreDNS's wrapping response writers see a reply on its way out.

pub mod chain;
pub mod classify;
pub mod endpoint;
pub mod fallthrough;
pub mod mnemonics;
pub mod names;
pub mod registry;
pub mod request;
pub mod worker;

pub use chain::Chain;
pub use fallthrough::Fallthrough;
pub use registry::{BlockSetup, ORDER};
pub use request::{Proto, Request};
pub use worker::Worker;

use hickory_proto::op::{Message, ResponseCode};
use std::fmt;

/// What a plugin does with a query.
// Boxing the outcome would cost an allocation per answer; an Action lives
// only for the return from one plugin call.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// The chain stops here with this outcome.
    Done(Outcome),
    /// Pass the query to the next plugin.
    Next,
    /// Pass it on, and run this plugin's response phase on the outcome.
    Watch,
    /// The plugin must wait on the network: the chain calls its `query_async`.
    Await,
    /// The rest of the chain runs on a copy of the query while the client
    /// gets an answer now (a cache refresh: prefetch, serve_stale).
    Fork(Box<Fork>),
}

/// What [`Action::Fork`] hands the chain. The plugins after the forking one
/// serve `req` (a [`Request::fork`] holding what the forking plugin stashed
/// for its response phase), and the forking plugin's response phase sees
/// their outcome on `req`. If that has not finished within `wait` (at once
/// when zero), the client gets `answer` and the rest runs on in the
/// background, detached on the worker (`Worker::detach`); the forking
/// plugin's response phase then also sees `answer` on the client's request.
/// If it finished in time, the client gets its outcome.
pub struct Fork {
    pub req: Request,
    pub answer: Outcome,
    pub wait: std::time::Duration,
}

/// The result of running a chain: the reply a plugin wrote (if any), the
/// rcode it returned and the error it reported (for `errors` to log).
#[derive(Debug)]
pub struct Outcome {
    pub reply: Option<Message>,
    pub rcode: ResponseCode,
    pub error: Option<PluginError>,
    /// The plugin that ended the chain (set by the chain).
    pub plugin: Option<&'static str>,
}

impl Outcome {
    /// A written reply; its rcode is the outcome's.
    pub fn reply(msg: Message) -> Self {
        let rcode = msg.metadata.response_code;
        Self {
            reply: Some(msg),
            rcode,
            error: None,
            plugin: None,
        }
    }
    /// Nothing written; the server writes an error reply when `rcode` is not
    /// one a plugin writes itself (see [`client_write`]), and sends nothing
    /// otherwise (acl's drop).
    pub fn rcode(rcode: ResponseCode) -> Self {
        Self {
            reply: None,
            rcode,
            error: None,
            plugin: None,
        }
    }
    /// Nothing written, with an error to report.
    pub fn fail(rcode: ResponseCode, error: PluginError) -> Self {
        Self {
            reply: None,
            rcode,
            error: Some(error),
            plugin: None,
        }
    }
}

/// CoreDNS's `plugin.ClientWrite`: whether a plugin returning `rc` has
/// written the reply itself. SERVFAIL, REFUSED, FORMERR and NOTIMP are
/// written by the server.
pub fn client_write(rc: ResponseCode) -> bool {
    !matches!(
        rc,
        ResponseCode::ServFail
            | ResponseCode::Refused
            | ResponseCode::FormErr
            | ResponseCode::NotImp
    )
}

/// An error a plugin reports alongside its rcode, shown as `plugin/NAME: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PluginError {
    pub plugin: &'static str,
    pub message: String,
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin/{}: {}", self.plugin, self.message)
    }
}
