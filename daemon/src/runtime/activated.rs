//! Listeners from systemd's socket activation: the sockets a `.socket`
//! unit passed (`sys::activation`), sorted by address into an
//! [`Inherited`] the workers serve as they serve a handover's.

use super::{sockets, unmap, Inherited};
use socket2::{Socket, Type};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

/// One address's passed sockets.
#[derive(Default)]
struct Pair {
    udp: Option<Socket>,
    tcp: Option<Socket>,
    /// Every passed socket of the address has SO_REUSEPORT.
    reuse: bool,
}

/// Sorts `fds` by address: a UDP socket and a TCP listener per address
/// (the one systemd did not pass is bound here), and the addresses whose
/// passed sockets lack SO_REUSEPORT, which the workers then share (no
/// socket of ours may join them). The lines say what was taken and what
/// was left out.
pub fn activated(fds: Vec<OwnedFd>) -> (Inherited, Vec<String>) {
    let mut notes = Vec::new();
    let mut by: BTreeMap<SocketAddr, Pair> = BTreeMap::new();
    for fd in fds {
        let s = Socket::from(fd);
        let what = || -> std::io::Result<Option<(SocketAddr, Type, bool)>> {
            let Some(addr) = s.local_addr()?.as_socket() else {
                return Ok(None);
            };
            Ok(Some((unmap(addr), s.r#type()?, s.reuse_port()?)))
        };
        match what() {
            Ok(Some((addr, ty, reuse))) if ty == Type::DGRAM || ty == Type::STREAM => {
                if let Err(e) = s.set_nonblocking(true) {
                    notes.push(format!("socket activation: {addr}: {e}: left out"));
                    continue;
                }
                let p = by.entry(addr).or_insert_with(|| Pair {
                    reuse: true,
                    ..Pair::default()
                });
                p.reuse &= reuse;
                let slot = if ty == Type::DGRAM {
                    &mut p.udp
                } else {
                    &mut p.tcp
                };
                if slot.is_some() {
                    notes.push(format!(
                        "socket activation: a second {} socket for {addr}: left out",
                        if ty == Type::DGRAM { "UDP" } else { "TCP" }
                    ));
                } else {
                    *slot = Some(s);
                }
            }
            Ok(_) => notes.push(
                "socket activation: a passed descriptor is not a UDP or TCP socket: left out"
                    .into(),
            ),
            Err(e) => notes.push(format!(
                "socket activation: a passed descriptor: {e}: left out"
            )),
        }
    }
    let mut inherited = Inherited::default();
    for (addr, p) in by {
        let udp = match p.udp {
            Some(s) => Ok(s.into()),
            None => sockets::udp(addr),
        };
        let tcp = match p.tcp {
            Some(s) => Ok(s.into()),
            None => sockets::tcp(addr),
        };
        match (udp, tcp) {
            (Ok(u), Ok(t)) => {
                notes.push(format!(
                    "socket activation: serving {addr} with the sockets systemd passed{}",
                    if p.reuse {
                        ""
                    } else {
                        " (no SO_REUSEPORT: the workers share them)"
                    }
                ));
                if !p.reuse {
                    inherited.shared.push(addr);
                }
                inherited.sockets.push((addr, u, t));
            }
            (Err(e), _) | (_, Err(e)) => notes.push(format!(
                "socket activation: {addr}: the other protocol's socket: {e}: left out"
            )),
        }
    }
    (inherited, notes)
}

#[cfg(test)]
mod tests {
    use super::activated;
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::SocketAddr;
    use std::os::fd::OwnedFd;

    fn bound(ty: Type, addr: SocketAddr, reuse: bool) -> OwnedFd {
        let proto = if ty == Type::DGRAM {
            Protocol::UDP
        } else {
            Protocol::TCP
        };
        let s = Socket::new(Domain::IPV4, ty, Some(proto)).unwrap();
        s.set_reuse_port(reuse).unwrap();
        s.bind(&addr.into()).unwrap();
        if ty == Type::STREAM {
            s.listen(8).unwrap();
        }
        s.into()
    }

    /// A free port on 127.0.0.1 for both protocols.
    fn addr() -> SocketAddr {
        loop {
            let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let a = u.local_addr().unwrap();
            if std::net::TcpListener::bind(a).is_ok() {
                return a;
            }
        }
    }

    #[test]
    fn pairs_by_address_and_marks_the_ones_to_share() {
        let (a, b, c) = (addr(), addr(), addr());
        let (unix, _other) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let (got, notes) = activated(vec![
            bound(Type::STREAM, a, true),
            bound(Type::DGRAM, a, true),
            // UDP alone: TCP is bound here, into the same group.
            bound(Type::DGRAM, b, true),
            // Without SO_REUSEPORT: shared by the workers.
            bound(Type::DGRAM, c, false),
            bound(Type::STREAM, c, false),
            unix.into(),
        ]);
        let mut addrs: Vec<SocketAddr> = got.addrs().collect();
        addrs.sort();
        let mut want = vec![a, b, c];
        want.sort();
        assert_eq!(addrs, want, "{notes:?}");
        assert_eq!(got.shared, vec![c], "{notes:?}");
        for (addr, u, t) in &got.sockets {
            assert_eq!(u.local_addr().unwrap(), *addr);
            assert_eq!(t.local_addr().unwrap(), *addr);
        }
        assert!(
            notes.iter().any(|n| n.contains("not a UDP or TCP socket")),
            "{notes:?}"
        );
        assert_eq!(notes.iter().filter(|n| n.contains("serving")).count(), 3);
    }
}
