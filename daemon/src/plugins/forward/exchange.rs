//! One exchange with an upstream (CoreDNS's `lookupDNS`), the health
//! probe's exchange, and the blocking lookup of upstream host names at setup.
//!
//! Each exchange uses a fresh random query ID. UDP exchanges share one
//! connected socket per upstream (see `udp`), changed every few exchanges;
//! TCP and TLS connections carry one exchange at a time and are kept for
//! reuse (`pool`); a socket or connection idle longer than `expire` is
//! closed.

use super::connection::{dial, read, unspecified, write, Conn, DialError, Link, Transport};
use super::metrics;
use super::pool::{ConnLimits, Pool, Taken};
use super::udp::Mux;
use super::upstream::{Upstream, HC_TIMEOUT};
use crate::gocompat::errno;
use crate::plugin::{Proto, Request};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, DecodeError};
use hickory_proto::ProtoError;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::time::timeout_at;

/// The write deadline of an exchange (CoreDNS's `maxTimeout`).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why an exchange failed; `Display` is the text CoreDNS's error has (Go's
/// `net` and miekg's words), which the errors plugin logs.
#[derive(Debug, thiserror::Error)]
pub enum ExError {
    /// The query could not be packed: FORMERR.
    #[error("proxy: invalid request: {0}")]
    Invalid(ProtoError),
    /// A cached connection the upstream had closed: try again at once.
    #[error("cached connection was closed by peer")]
    CachedClosed,
    #[error(transparent)]
    Dial(#[from] DialError),
    #[error("dial udp: not a UDP socket")]
    NotUdp,
    /// `op` (read or write) did not finish in time.
    #[error("{op} {link}: i/o timeout")]
    Timeout { op: &'static str, link: Link },
    #[error("write {link}: {}", errno::text(.source))]
    Write { link: Link, source: io::Error },
    #[error("read {link}: read: {}", errno::text(.source))]
    Read { link: Link, source: io::Error },
    /// The upstream closed the connection before a whole reply.
    #[error("EOF")]
    Eof,
    #[error("dns: short read")]
    ShortRead,
    #[error(transparent)]
    Unpack(#[from] Unpack),
    /// The query's time (forward's 5 s, or cancel's) ran out.
    #[error("context deadline exceeded")]
    Deadline,
}

/// A reply that does not unpack, in miekg's words.
#[derive(Debug, thiserror::Error)]
#[error("dns: {0}")]
pub struct Unpack(DecodeError);

/// Why looking up an upstream's host name failed.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{}", errno::text(.0))]
    Io(#[from] io::Error),
    #[error(transparent)]
    Encode(#[from] ProtoError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// What `lookup` needs of the plugin instance.
pub struct LookupParams<'a> {
    pub index: usize,
    pub upstream: &'a Upstream,
    pub transport: Transport,
    pub limits: ConnLimits,
    pub read_timeout: Duration,
    /// When the query's time is up (forward's 5 s, or cancel's sooner).
    pub deadline: std::time::Instant,
    /// Where to note ferrodns's end of the socket the exchange used (for
    /// dnstap); None: not wanted.
    pub local: Option<&'a std::cell::Cell<Option<SocketAddr>>>,
}

/// Sends the client's query (with a new random ID) to one upstream and
/// waits for the reply with that ID, skipping any other. Returns the
/// reply as received: the caller restores the client's ID.
pub async fn lookup(
    p: &LookupParams<'_>,
    req: &Request,
    pool_slot: usize,
    new_pool: impl Fn() -> Pool,
) -> Result<Message, ExError> {
    let up = p.upstream;
    let mut wire = req.msg.to_vec().map_err(ExError::Invalid)?;
    let question = Question::of(&wire);

    let t = p.transport;
    if t == Transport::Udp {
        // The shared socket picks an ID no other exchange on it holds.
        return lookup_udp(p, req, pool_slot, &new_pool, wire, question).await;
    }
    let id: u16 = rand::random();
    wire[0..2].copy_from_slice(&id.to_be_bytes());
    // TCP and TLS: a connection of the pool (one exchange at a time), and
    // a reply taken only when its ID and question match.
    let taken = req
        .worker
        .state(pool_slot, &new_pool, |pool| pool.take(p.index, t, p.limits));
    let labels = [up.proxy_name, up.addr_text.as_str(), t.label()];
    let (mut conn, cached, created) = match taken {
        Some(c) => {
            req.worker
                .metrics(|m| m.inc(&metrics::PROXY_CONN_CACHE_HITS, &labels));
            (c.conn, true, c.created)
        }
        None => (dial_new(&req.worker, up, t).await?, false, Instant::now()),
    };
    if let Some(l) = p.local {
        l.set(conn.local());
    }
    let link = |conn: &Conn| Link {
        net: "tcp",
        local: conn.local(),
        remote: up.addr,
    };
    let closed = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
        )
    };

    let wdeadline = tokio::time::Instant::now() + WRITE_TIMEOUT;
    match timeout_at(wdeadline, write(&mut conn, &wire)).await {
        Err(_) => {
            return Err(ExError::Timeout {
                op: "write",
                link: link(&conn),
            })
        }
        Ok(Err(e)) if cached && closed(&e) => return Err(ExError::CachedClosed),
        Ok(Err(source)) => {
            return Err(ExError::Write {
                link: link(&conn),
                source,
            })
        }
        Ok(Ok(())) => {}
    }

    let deadline = tokio::time::Instant::now() + p.read_timeout;
    let mut buf = Vec::new();
    let reply = loop {
        match timeout_at(deadline, read(&mut conn, &mut buf)).await {
            Err(_) => {
                return Err(ExError::Timeout {
                    op: "read",
                    link: link(&conn),
                })
            }
            Ok(Err(e)) if cached && closed(&e) => return Err(ExError::CachedClosed),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(ExError::Eof),
            Ok(Err(source)) => {
                return Err(ExError::Read {
                    link: link(&conn),
                    source,
                })
            }
            Ok(Ok(())) => {}
        };
        let got = buf.as_slice();
        if got.len() < 12 {
            return Err(ExError::ShortRead);
        }
        // A reply is taken only when its ID and question are those of the
        // query sent: late replies and spoofed ones are counted and dropped,
        // and the wait goes on for the real one.
        let reason = if u16::from_be_bytes([got[0], got[1]]) != id {
            Some("id")
        } else if !same_question(got, &question) {
            Some("question")
        } else {
            None
        };
        if let Some(reason) = reason {
            req.worker
                .metrics(|m| m.inc(&metrics::FORWARD_DROPPED_REPLIES, &[&up.addr_text, reason]));
            crate::log::line(
                crate::log::Level::Debug,
                Some("forward"),
                &format!("dropped a reply with a wrong {reason} from {}", up.addr),
            );
            continue;
        }
        break Message::from_bytes(got).map_err(Unpack)?;
    };
    let back = Taken { conn, created };
    req.worker.state(pool_slot, &new_pool, |pool| {
        pool.put(p.index, t, back, p.limits)
    });
    Ok(reply)
}

/// The UDP half of [`lookup`]: the query goes out on the upstream's shared
/// socket under an ID no other exchange there holds, and the socket's
/// reader hands back the reply with that ID and question.
async fn lookup_udp(
    p: &LookupParams<'_>,
    req: &Request,
    pool_slot: usize,
    new_pool: &impl Fn() -> Pool,
    wire: Vec<u8>,
    question: Option<Question>,
) -> Result<Message, ExError> {
    let reply = exchange_udp(p, &req.worker, pool_slot, new_pool, wire, question).await?;
    // The client's buffer size; a larger reply is cut to a bare TC reply.
    let udp_size = req.size().max(512);
    if reply.cut || reply.bytes.len() > udp_size {
        // miekg read it into a buffer of the client's size and failed to
        // unpack: CoreDNS answers an empty reply with TC set.
        return Ok(truncated(&reply.bytes)?);
    }
    Ok(Message::from_bytes(&reply.bytes).map_err(Unpack)?)
}

/// A new connection to `up` over `t`: counted as a connection-cache miss,
/// its dial time kept for the dial timeout.
async fn dial_new(
    worker: &crate::plugin::Worker,
    up: &Upstream,
    t: Transport,
) -> Result<Conn, ExError> {
    let labels = [up.proxy_name, up.addr_text.as_str(), t.label()];
    worker.metrics(|m| m.inc(&metrics::PROXY_CONN_CACHE_MISSES, &labels));
    let start = Instant::now();
    let r = dial(up, t, up.dial_timeout()).await;
    up.dialed(start.elapsed());
    Ok(r?)
}

/// One UDP exchange of `wire` (its ID set here) with upstream `p`, on the
/// worker's shared socket: the reply's bytes as received.
pub async fn exchange_udp(
    p: &LookupParams<'_>,
    worker: &crate::plugin::Worker,
    pool_slot: usize,
    new_pool: &impl Fn() -> Pool,
    mut wire: Vec<u8>,
    question: Option<Question>,
) -> Result<super::udp::Reply, ExError> {
    let up = p.upstream;
    let t = Transport::Udp;
    let labels = [up.proxy_name, up.addr_text.as_str(), t.label()];
    let shared = worker.state(pool_slot, new_pool, |pool| {
        pool.mux(p.index, p.limits.expire)
    });
    let mux = match shared {
        Some(m) => {
            worker.metrics(|m| m.inc(&metrics::PROXY_CONN_CACHE_HITS, &labels));
            m
        }
        None => {
            let Conn::Udp(sock) = dial_new(worker, up, t).await? else {
                return Err(ExError::NotUdp);
            };
            let m = Mux::start(sock);
            worker.state(pool_slot, new_pool, |pool| {
                pool.set_mux(p.index, Rc::clone(&m))
            });
            m
        }
    };
    if let Some(l) = p.local {
        l.set(mux.local_addr());
    }
    let link = || Link {
        net: "udp",
        local: mux.local_addr(),
        remote: up.addr,
    };
    let pending = mux.register(question);
    wire[0..2].copy_from_slice(&pending.id.to_be_bytes());
    // One timer for the exchange: the read timeout, or the query's deadline
    // when that comes first (a UDP send does not wait in practice).
    let read_limit = std::time::Instant::now() + p.read_timeout;
    let (limit, deadline_first) = if p.deadline < read_limit {
        (p.deadline, true)
    } else {
        (read_limit, false)
    };
    let exchange = async {
        if let Err(source) = mux.send(&wire).await {
            return Err(ExError::Write {
                link: link(),
                source,
            });
        }
        Ok(pending.await)
    };
    let got = timeout_at(limit.into(), exchange).await;
    // Replies the socket's reader dropped meanwhile (for any exchange).
    let (bad_id, bad_q) = mux.take_dropped();
    for (n, reason) in [(bad_id, "id"), (bad_q, "question")] {
        if n == 0 {
            continue;
        }
        worker.metrics(|m| {
            m.add(
                &metrics::FORWARD_DROPPED_REPLIES,
                &[&up.addr_text, reason],
                n as f64,
            )
        });
        crate::log::line(
            crate::log::Level::Debug,
            Some("forward"),
            &format!("dropped {n} replies with a wrong {reason} from {}", up.addr),
        );
    }
    match got {
        Err(_) if deadline_first => Err(ExError::Deadline),
        Err(_) => Err(ExError::Timeout {
            op: "read",
            link: link(),
        }),
        Ok(Err(e)) => Err(e),
        Ok(Ok(Err(source))) => Err(ExError::Read {
            link: link(),
            source,
        }),
        Ok(Ok(Ok(r))) => Ok(r),
    }
}

/// The question as sent: name lowercased (wire form), type and class.
pub struct Question {
    name: Vec<u8>,
    qtype: u16,
    qclass: u16,
}

impl Question {
    pub fn of(query: &[u8]) -> Option<Question> {
        let v = crate::wire::QueryView::parse(query).ok()?;
        let mut name = Vec::with_capacity(v.qname.len());
        v.lower_qname_into(&mut name);
        Some(Question {
            name,
            qtype: v.qtype,
            qclass: v.qclass,
        })
    }
}

/// Whether a reply asks the question we sent (the name case-insensitively).
pub fn same_question(reply: &[u8], sent: &Option<Question>) -> bool {
    let Some(sent) = sent else { return true };
    let Ok(v) = crate::wire::QueryView::parse(reply) else {
        return false;
    };
    v.header.qdcount == 1
        && v.qtype == sent.qtype
        && v.qclass == sent.qclass
        && v.qname.len() == sent.name.len()
        && v.qname
            .iter()
            .zip(&sent.name)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
}

/// The header and question of an oversized reply, TC set, no records.
/// `wire` may be cut short (read into a buffer of the client's size).
pub fn truncated(wire: &[u8]) -> Result<Message, Unpack> {
    // The header and the first question, when it is whole.
    let end = crate::wire::QueryView::parse(wire).map_or(12, |v| v.question_end);
    let mut head = wire[..end].to_vec();
    let qd = if end > 12 { 1u16 } else { 0 };
    head[4..6].copy_from_slice(&qd.to_be_bytes());
    head[6..12].fill(0);
    let mut m = Message::from_bytes(&head).map_err(Unpack)?;
    m.answers.clear();
    m.authorities.clear();
    m.additionals.clear();
    m.edns = None;
    m.metadata.truncation = true;
    Ok(m)
}

/// A health probe: `DOMAIN IN NS` on a connection of its own; any reply
/// is good.
pub async fn probe(up: &Upstream, t: Transport, domain: &Name, rec: bool) -> bool {
    let mut m = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rec;
    m.queries.push(Query::query(domain.clone(), RecordType::NS));
    let Ok(wire) = m.to_vec() else { return false };
    // miekg's client dials with a 2s timeout.
    let Ok(mut conn) = dial(up, t, Duration::from_secs(2)).await else {
        return false;
    };
    let deadline = tokio::time::Instant::now() + HC_TIMEOUT;
    if !matches!(
        timeout_at(deadline, write(&mut conn, &wire)).await,
        Ok(Ok(()))
    ) {
        return false;
    }
    let mut buf = Vec::with_capacity(usize::from(u16::MAX));
    let deadline = tokio::time::Instant::now() + HC_TIMEOUT;
    matches!(
        timeout_at(deadline, read(&mut conn, &mut buf)).await,
        Ok(Ok(()))
    ) && buf.len() >= 12
}

/// A and AAAA of `name` from one resolver, over UDP (for host names in
/// **TO**, at setup).
pub fn blocking_lookup(name: &Name, server: SocketAddr) -> Result<Vec<IpAddr>, LookupError> {
    let local = SocketAddr::new(unspecified(&server), 0);
    let sock = std::net::UdpSocket::bind(local)?;
    sock.connect(server)?;
    sock.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut ips = Vec::new();
    for (i, qtype) in [RecordType::A, RecordType::AAAA].into_iter().enumerate() {
        let id: u16 = rand::random();
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.queries.push(Query::query(name.clone(), qtype));
        let wire = m.to_vec()?;
        let got = sock.send(&wire).and_then(|_| {
            let mut buf = vec![0u8; 65535];
            loop {
                let n = sock.recv(&mut buf)?;
                if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                    return Ok(buf[..n].to_vec());
                }
            }
        });
        let got = match got {
            Ok(g) => g,
            Err(_) if i == 1 && !ips.is_empty() => return Ok(ips),
            Err(e) => return Err(e.into()),
        };
        let r = Message::from_bytes(&got)?;
        for rr in &r.answers {
            match &rr.data {
                RData::A(a) => ips.push(IpAddr::V4(a.0)),
                RData::AAAA(a) => ips.push(IpAddr::V6(a.0)),
                _ => {}
            }
        }
    }
    Ok(ips)
}

/// The transport of an exchange: `force_tcp`, else `prefer_udp`, else the
/// client's; TLS upstreams always use TLS.
pub fn choose(tls: bool, force_tcp: bool, prefer_udp: bool, client: Proto) -> Transport {
    if tls {
        return Transport::Tls;
    }
    if force_tcp {
        Transport::Tcp
    } else if prefer_udp || client == Proto::Udp {
        Transport::Udp
    } else {
        Transport::Tcp
    }
}
