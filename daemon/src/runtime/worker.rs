//! Worker threads: each pinned to one core, running UDP receive loops and
//! TCP connections for every listener on a current-thread runtime.

use super::{sockets, unmap, Handled, Packet, PacketHandler, RuntimeError};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// CoreDNS's defaults: the first message on a connection must arrive within
/// the read timeout, later ones within the idle timeout.
const TCP_READ_TIMEOUT: Duration = Duration::from_secs(3);
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const TCP_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Workers {
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    pub fn len(&self) -> usize {
        self.threads.len()
    }
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }
}

struct Sockets {
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<std::net::TcpListener>,
}

/// Every listener's sockets, once per worker, bound and listening but not
/// served yet: bind errors come back before anything serves, and the caller
/// can announce the server before the first query is answered.
pub struct Bound {
    per_worker: Vec<Sockets>,
}

pub fn bind(addrs: &[SocketAddr], workers: usize) -> Result<Bound, RuntimeError> {
    for &addr in addrs {
        sockets::probe_free(addr).map_err(|source| RuntimeError::InUse { addr, source })?;
    }
    let mut per_worker = Vec::with_capacity(workers.max(1));
    for _ in 0..workers.max(1) {
        let mut s = Sockets {
            udp: Vec::new(),
            tcp: Vec::new(),
        };
        for &addr in addrs {
            s.udp
                .push(sockets::udp(addr).map_err(|source| RuntimeError::Udp { addr, source })?);
            s.tcp
                .push(sockets::tcp(addr).map_err(|source| RuntimeError::Tcp { addr, source })?);
        }
        per_worker.push(s);
    }
    Ok(Bound { per_worker })
}

impl Bound {
    /// Starts one pinned worker thread per socket set. `make` builds each
    /// worker's handler on its own thread.
    pub fn start<H, F>(self, make: F) -> Result<Workers, RuntimeError>
    where
        H: PacketHandler + 'static,
        F: Fn(usize) -> H + Send + Sync + 'static,
    {
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let make = Arc::new(make);
        let mut threads = Vec::with_capacity(self.per_worker.len());
        for (index, socks) in self.per_worker.into_iter().enumerate() {
            let core = cores.get(index % cores.len().max(1)).copied();
            let make = Arc::clone(&make);
            let t = std::thread::Builder::new()
                .name(format!("ferrodns-w{index}"))
                .spawn(move || {
                    if let Some(c) = core {
                        core_affinity::set_for_current(c);
                    }
                    run(index, socks, make.as_ref());
                })
                .map_err(|source| RuntimeError::Thread { index, source })?;
            threads.push(t);
        }
        Ok(Workers { threads })
    }
}

fn run<H: PacketHandler + 'static, F: Fn(usize) -> H>(index: usize, socks: Sockets, make: &F) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::log::error(None, &format!("worker {index}: runtime: {e}"));
            return;
        }
    };
    let handler = Rc::new(RefCell::new(make(index)));
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        for (i, s) in socks.udp.into_iter().enumerate() {
            match UdpSocket::from_std(s) {
                Ok(u) => {
                    tokio::task::spawn_local(udp_loop(i, Rc::new(u), Rc::clone(&handler)));
                }
                Err(e) => crate::log::error(None, &format!("worker {index}: udp socket: {e}")),
            }
        }
        for (i, s) in socks.tcp.into_iter().enumerate() {
            match TcpListener::from_std(s) {
                Ok(l) => {
                    tokio::task::spawn_local(tcp_accept(i, l, Rc::clone(&handler)));
                }
                Err(e) => crate::log::error(None, &format!("worker {index}: tcp socket: {e}")),
            }
        }
        std::future::pending::<()>().await;
    });
}

async fn udp_loop<H: PacketHandler>(listener: usize, sock: Rc<UdpSocket>, handler: Rc<RefCell<H>>) {
    let local = sock
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut buf = vec![0u8; 65535];
    let mut out = Vec::with_capacity(4096);
    loop {
        let (n, src) = match sock.recv_from(&mut buf).await {
            Ok(v) => v,
            // ICMP errors from earlier sends surface here; keep serving.
            Err(_) => continue,
        };
        let p = Packet {
            listener,
            data: &buf[..n],
            src: unmap(src),
            local,
            tcp: false,
        };
        let handled = handler.borrow_mut().handle(&p, &mut out);
        match handled {
            Handled::Reply => {
                let _ = sock.send_to(&out, src).await;
            }
            Handled::Drop => {}
            Handled::Later(reply) => {
                let sock = Rc::clone(&sock);
                tokio::task::spawn_local(async move {
                    if let Some(r) = reply.await {
                        let _ = sock.send_to(&r, src).await;
                    }
                });
            }
        }
    }
}

async fn tcp_accept<H: PacketHandler + 'static>(
    listener: usize,
    l: TcpListener,
    handler: Rc<RefCell<H>>,
) {
    loop {
        match l.accept().await {
            Ok((stream, peer)) => {
                tokio::task::spawn_local(tcp_conn(
                    listener,
                    stream,
                    unmap(peer),
                    Rc::clone(&handler),
                ));
            }
            // Out of descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Length-prefixed messages until the client closes, sends a broken frame
/// or stays idle too long. Replies that must wait are written when ready,
/// so they may overtake each other (RFC 7766 allows it).
async fn tcp_conn<H: PacketHandler>(
    listener: usize,
    s: TcpStream,
    peer: SocketAddr,
    handler: Rc<RefCell<H>>,
) {
    let _ = s.set_nodelay(true);
    let local = s
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let (mut rd, wr) = s.into_split();
    let wr = Rc::new(tokio::sync::Mutex::new(wr));
    let mut buf = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(4096);
    let mut wait = TCP_READ_TIMEOUT;
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(wait, rd.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let n = usize::from(u16::from_be_bytes(len));
        buf.resize(n, 0);
        match tokio::time::timeout(TCP_READ_TIMEOUT, rd.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        wait = TCP_IDLE_TIMEOUT;
        let p = Packet {
            listener,
            data: &buf,
            src: peer,
            local,
            tcp: true,
        };
        let handled = handler.borrow_mut().handle(&p, &mut out);
        match handled {
            Handled::Reply => {
                if !write_framed(&wr, &out).await {
                    return;
                }
            }
            Handled::Drop => {}
            Handled::Later(reply) => {
                let wr = Rc::clone(&wr);
                tokio::task::spawn_local(async move {
                    if let Some(r) = reply.await {
                        write_framed(&wr, &r).await;
                    }
                });
            }
        }
    }
}

async fn write_framed(wr: &tokio::sync::Mutex<OwnedWriteHalf>, msg: &[u8]) -> bool {
    let Ok(len) = u16::try_from(msg.len()) else {
        return true;
    };
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(msg);
    let mut w = wr.lock().await;
    matches!(
        tokio::time::timeout(TCP_WRITE_TIMEOUT, w.write_all(&framed)).await,
        Ok(Ok(()))
    )
}
