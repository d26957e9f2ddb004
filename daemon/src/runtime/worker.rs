//! Worker threads: each pinned to one core, running UDP receive loops and
//! TCP connections for every listener on a current-thread runtime.

use super::{sockets, unmap, Packet, PacketHandler, RuntimeError};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// Binds every listener once per worker (so bind errors come back here,
/// before anything serves), then starts the workers. `make` builds each
/// worker's handler on its own thread.
pub fn start<H, F>(addrs: &[SocketAddr], workers: usize, make: F) -> Result<Workers, RuntimeError>
where
    H: PacketHandler + 'static,
    F: Fn(usize) -> H + Send + Sync + 'static,
{
    let workers = workers.max(1);
    let mut per_worker = Vec::with_capacity(workers);
    for _ in 0..workers {
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
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let make = Arc::new(make);
    let mut threads = Vec::with_capacity(workers);
    for (index, socks) in per_worker.into_iter().enumerate() {
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
                    tokio::task::spawn_local(udp_loop(i, u, Rc::clone(&handler)));
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

async fn udp_loop<H: PacketHandler>(listener: usize, sock: UdpSocket, handler: Rc<RefCell<H>>) {
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
        let send = handler.borrow_mut().handle(&p, &mut out);
        if send {
            let _ = sock.send_to(&out, src).await;
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

/// Length-prefixed messages, answered in order, until the client closes,
/// sends garbage framing or stays idle too long.
async fn tcp_conn<H: PacketHandler>(
    listener: usize,
    mut s: TcpStream,
    peer: SocketAddr,
    handler: Rc<RefCell<H>>,
) {
    let _ = s.set_nodelay(true);
    let local = s
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut buf = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(4096);
    let mut wait = TCP_READ_TIMEOUT;
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(wait, s.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let n = usize::from(u16::from_be_bytes(len));
        buf.resize(n, 0);
        match tokio::time::timeout(TCP_READ_TIMEOUT, s.read_exact(&mut buf)).await {
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
        let send = handler.borrow_mut().handle(&p, &mut out);
        if !send {
            continue;
        }
        let Ok(len) = u16::try_from(out.len()) else {
            continue;
        };
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&out);
        match tokio::time::timeout(TCP_WRITE_TIMEOUT, s.write_all(&framed)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}
