//! Socket set-up: SO_REUSEPORT so every worker binds its own socket to the
//! same address and the kernel spreads flows across them.

use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;

fn new_socket(addr: SocketAddr, ty: Type, proto: Protocol) -> std::io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        // `[::]` serves IPv4 too, as Go's ":53" does.
        s.set_only_v6(false)?;
    }
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}

pub fn udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let s = new_socket(addr, Type::DGRAM, Protocol::UDP)?;
    // Room for bursts while the worker is busy.
    let _ = s.set_recv_buffer_size(4 << 20);
    Ok(s.into())
}

pub fn tcp(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let s = new_socket(addr, Type::STREAM, Protocol::TCP)?;
    s.listen(1024)?;
    Ok(s.into())
}

/// Fails with EADDRINUSE when another process holds `addr`: our own sockets
/// use SO_REUSEPORT, which would otherwise let a second server silently
/// share the port with the first.
pub fn probe_free(addr: SocketAddr) -> std::io::Result<()> {
    for (ty, proto) in [(Type::DGRAM, Protocol::UDP), (Type::STREAM, Protocol::TCP)] {
        let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
        if addr.is_ipv6() {
            s.set_only_v6(false)?;
        }
        // TCP connections of an earlier server in TIME_WAIT must not count;
        // SO_REUSEADDR still refuses a port someone listens on. (For UDP it
        // would let us share with another SO_REUSEADDR socket, so not there.)
        if ty == Type::STREAM {
            s.set_reuse_address(true)?;
            s.bind(&addr.into())?;
            s.listen(1)?;
        } else {
            s.bind(&addr.into())?;
        }
    }
    Ok(())
}
