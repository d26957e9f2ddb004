//! A minimal authoritative upstream for the forward scenario: every query
//! with one question is answered NOERROR, authoritative, with one A record
//! (the address and TTL given) for its name, 64 at a time with
//! recvmmsg/sendmmsg. It does the least DNS work an answer needs, so in the
//! forward scenario the server under test, not the upstream, sets the pace.

use crate::mmsg::Batch;
use crate::Opts;
use anyhow::{Context, Result};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

const BATCH: usize = 64;

/// The reply to `q` (`len` bytes in `buf`, room for 16 more) in place: header
/// and question kept, OPT and anything after the question dropped, one A
/// record pointing at the question name. Returns the reply's length, or None
/// for what is not a query with one question.
fn answer(buf: &mut [u8], len: usize, ttl: u32, addr: Ipv4Addr) -> Option<usize> {
    if len < 12 || buf[2] & 0x80 != 0 || u16::from_be_bytes([buf[4], buf[5]]) != 1 {
        return None;
    }
    let mut p = 12;
    loop {
        let l = usize::from(*buf.get(p)?);
        if l == 0 {
            p += 1;
            break;
        }
        if l > 63 {
            return None;
        }
        p += 1 + l;
    }
    let end = p + 4;
    if end > len || end + 16 > buf.len() {
        return None;
    }
    // QR, AA, RD as asked; RA; NOERROR; one answer, nothing else.
    buf[2] = 0x80 | 0x04 | (buf[2] & 0x01);
    buf[3] = 0x80;
    buf[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 0]);
    let rr = &mut buf[end..end + 16];
    rr[..6].copy_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    rr[6..10].copy_from_slice(&ttl.to_be_bytes());
    rr[10..12].copy_from_slice(&4u16.to_be_bytes());
    rr[12..16].copy_from_slice(&addr.octets());
    Some(end + 16)
}

pub fn main(opts: &Opts) -> Result<()> {
    let listen: SocketAddr = opts
        .need("--listen")?
        .parse()
        .context("--listen takes IP:PORT")?;
    let ttl: u32 = opts.num("--ttl", 0u32)?;
    let addr: Ipv4Addr = opts
        .get("--address")
        .unwrap_or("198.18.1.3")
        .parse()
        .context("--address takes an IPv4 address")?;
    let sock = UdpSocket::bind(listen).with_context(|| format!("bind {listen}"))?;
    eprintln!("answer: {listen}: every name A {addr}, TTL {ttl}");
    let fd = sock.as_raw_fd();
    // Room for the bursts a server under test forwards while this process
    // waits for the core it shares with the load generator.
    let size: libc::c_int = 4 << 20;
    // SAFETY: setsockopt with a valid descriptor and an int-sized value.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    let mut batch = Batch::new(BATCH);
    let mut replies = Vec::with_capacity(BATCH);
    loop {
        // 16 bytes kept for the A record.
        let n = batch.recv(fd, 16)?;
        replies.clear();
        for i in 0..n {
            let (buf, len) = batch.datagram(i);
            if let Some(reply) = answer(buf, len, ttl, addr) {
                replies.push((i, reply));
            }
        }
        batch.send_back(fd, replies.iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_place() {
        let mut b = [0u8; 128];
        let q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x01a\x03fwd\x00\x00\x01\x00\x01\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00";
        b[..q.len()].copy_from_slice(q);
        let n = answer(&mut b, q.len(), 0, Ipv4Addr::new(198, 18, 1, 3)).unwrap();
        assert_eq!(&b[..4], [0x12, 0x34, 0x85, 0x80]);
        assert_eq!(&b[4..12], [0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(
            &b[23..n],
            [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 198, 18, 1, 3]
        );
        b[2] |= 0x80;
        assert!(answer(&mut b, q.len(), 0, Ipv4Addr::LOCALHOST).is_none());
    }
}
