//! Threads, pinning and sockets. Knows nothing of DNS: a worker reads a
//! message, hands it to its [`PacketHandler`] and writes back what it got.
//!
//! One worker per core the process may run on, each pinned, each with its
//! own SO_REUSEPORT UDP and TCP sockets for every listener and its own
//! handler, on a current-thread tokio runtime.

mod activated;
mod mmsg;
mod sockets;
pub mod steer;
mod uring;
mod worker;

use worker::{spawn_later, InFlight};

pub use steer::{Attached, Steering, UdpGroups};

pub use activated::activated;
pub use worker::{bind, bind_inherited, read_framed, Bound, Inherited, Workers};

/// How long a stopping worker waits for replies still in flight.
pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

/// TCP connection timeouts of a listener (CoreDNS's defaults: the first
/// message must arrive within `read`, later ones within `idle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpTimeouts {
    pub read: std::time::Duration,
    pub write: std::time::Duration,
    pub idle: std::time::Duration,
    /// The queries served on one connection before it is closed; None:
    /// any number (CoreDNS's default).
    pub max_queries: Option<u32>,
}

impl Default for TcpTimeouts {
    fn default() -> Self {
        Self {
            read: std::time::Duration::from_secs(3),
            write: std::time::Duration::from_secs(5),
            idle: std::time::Duration::from_secs(10),
            max_queries: None,
        }
    }
}

/// How workers read and write UDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Io {
    /// recvmmsg/sendmmsg, 64 datagrams a call.
    Mmsg,
    /// io_uring: multishot RecvMsg into provided buffers, SendMsg; falls back
    /// to `Mmsg` where the kernel or a seccomp filter refuses rings.
    Uring,
}

impl Io {
    pub fn parse(s: &str) -> Option<Io> {
        match s {
            "mmsg" | "recvmmsg" => Some(Io::Mmsg),
            "uring" | "io_uring" => Some(Io::Uring),
            _ => None,
        }
    }
}

/// An address to serve UDP and TCP on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listen {
    pub addr: SocketAddr,
    pub tcp: TcpTimeouts,
    /// The most replies each of the listener's UDP sockets holds waiting to
    /// be sent (replies that waited on an upstream, until the socket's loop
    /// sends them): past it the oldest is dropped, and the queries read
    /// meanwhile are marked [`Packet::backlogged`]. None: no bound.
    pub udp_reply_bound: Option<usize>,
}

/// A message as read off a socket.
pub struct Packet<'a> {
    /// Which listener (index into the list given to [`bind`]).
    pub listener: usize,
    pub data: &'a [u8],
    /// The peer; IPv4-mapped IPv6 addresses are given as IPv4.
    pub src: SocketAddr,
    /// The socket's own address.
    pub local: SocketAddr,
    pub tcp: bool,
    /// When it was read (for a batch of datagrams, when the batch was).
    pub at: std::time::Instant,
    /// Its socket held as many replies waiting to be sent as the
    /// listener's bound allows ([`Listen::udp_reply_bound`]) when it was
    /// read; never over TCP.
    pub backlogged: bool,
}

/// The answer to a message, now or later.
pub enum Handled {
    /// The reply is in `out`.
    Reply,
    /// Send nothing.
    Drop,
    /// The reply needs to wait (an upstream exchange): the worker runs the
    /// future on its own thread and sends what it yields, if anything.
    Later(Pin<Box<dyn Future<Output = Option<Vec<u8>>>>>),
}

/// What a worker runs for every message. Built on the worker's own thread.
pub trait PacketHandler {
    /// What the control plane sends every worker (a new configuration).
    type Update: Clone + Send + Sync + 'static;
    fn handle(&mut self, p: &Packet<'_>, out: &mut Vec<u8>) -> Handled;
    /// Takes an update between two messages.
    fn update(&mut self, u: Self::Update);
    /// Replies to UDP messages of `listener` that were dropped unsent:
    /// evicted from a socket's full queue ([`Listen::udp_reply_bound`]) or
    /// refused by the kernel. Also told `0` once a socket of a bounded
    /// listener starts to be served.
    fn replies_dropped(&mut self, _listener: usize, _n: usize) {}
    /// Work the handler does beside the messages for as long as the worker
    /// runs (what its messages left running after they were answered); the
    /// worker runs it as a task of its own from the start.
    fn background(&self) -> Option<Pin<Box<dyn Future<Output = ()>>>> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("listen {addr}: {source}")]
    InUse {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("listen udp {addr}: {source}")]
    Udp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("listen tcp {addr}: {source}")]
    Tcp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("start worker {index}: {source}")]
    Thread {
        index: usize,
        source: std::io::Error,
    },
}

/// How many workers by default: the CPUs this process may run on
/// (sched_getaffinity and cgroup limits, as std reads them).
pub fn default_workers() -> usize {
    crate::sys::cpus()
}

fn unmap(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => a,
        },
        v4 => v4,
    }
}
