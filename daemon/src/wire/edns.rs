//! EDNS on the way out: the client's OPT mirrored into the reply
//! (CoreDNS's SizeAndDo), BADVERS, and fitting a reply into the client's
//! buffer (miekg's Truncate, as CoreDNS's scrub writer calls it).

use super::fast::Cursor;
use super::TYPE_OPT;
use hickory_proto::op::{Edns, Message};
use hickory_proto::rr::rdata::opt::EdnsCode;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

/// The options CoreDNS echoes back when it reuses the client's OPT.
fn supported(code: EdnsCode) -> bool {
    matches!(
        u16::from(code),
        3 /* NSID */ | 9 /* EXPIRE */ | 10 /* COOKIE */ | 11 /* TCP keepalive */ | 12 /* padding */
    )
}

/// Gives the reply an OPT when the query had one: the reply's own OPT with
/// the client's size and DO bit, or else the client's OPT with version 0
/// and only the options CoreDNS supports.
pub fn size_and_do(query: &Message, reply: &mut Message) {
    let Some(q) = &query.edns else { return };
    match reply.edns.as_mut() {
        Some(r) => {
            r.set_version(0);
            r.set_max_payload(q.max_payload());
            let f = r.flags_mut();
            // CoreDNS keeps the flag word's high byte (DO and the top Z bits).
            f.z &= 0x7F00;
            f.dnssec_ok |= q.flags().dnssec_ok;
        }
        None => {
            let mut o = Edns::new();
            o.set_version(0);
            o.set_max_payload(q.max_payload());
            o.flags_mut().dnssec_ok = q.flags().dnssec_ok;
            o.flags_mut().z = q.flags().z & 0x7F00;
            for (code, opt) in q.options().as_ref() {
                if supported(*code) {
                    o.options_mut().insert(opt.clone());
                }
            }
            reply.edns = Some(o);
        }
    }
}

/// The reply to a query with an EDNS version other than 0: the question,
/// no records, an OPT of version 0 with payload 0 and extended rcode
/// BADVERS (16).
pub fn badvers(query: &Message, out: &mut Vec<u8>) -> Result<(), hickory_proto::ProtoError> {
    let mut m = crate::wire::reply_to(query);
    m.edns = None;
    out.clear();
    let mut enc = BinEncoder::new(out);
    m.emit(&mut enc)?;
    // OPT: payload 0, extended rcode 1 (BADVERS), version 0, flags 0.
    crate::wire::fast::push_opt(out, 0, [1, 0, 0, 0]);
    Ok(())
}

/// Encodes `reply` into `out`, dropping records from the end (answer, then
/// authority, then additional) until it fits in `size` bytes. The OPT
/// record always stays. TC is set when anything was dropped.
pub fn encode_fitting(
    reply: &mut Message,
    size: usize,
    out: &mut Vec<u8>,
) -> Result<(), hickory_proto::ProtoError> {
    encode(reply, out)?;
    if out.len() <= size {
        return Ok(());
    }
    let (na, nn, nx) = (
        reply.answers.len(),
        reply.authorities.len(),
        reply.additionals.len(),
    );
    let answers = std::mem::take(&mut reply.answers);
    let authorities = std::mem::take(&mut reply.authorities);
    let additionals = std::mem::take(&mut reply.additionals);
    let total = na + nn + nx;
    let fill = |m: &mut Message, k: usize| {
        m.answers = answers[..k.min(na)].to_vec();
        m.authorities = authorities[..k.saturating_sub(na).min(nn)].to_vec();
        m.additionals = additionals[..k.saturating_sub(na + nn).min(nx)].to_vec();
    };
    // The largest k records that fit: binary search, since a prefix that
    // fits means every shorter one does.
    let (mut lo, mut hi) = (0usize, total);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        fill(reply, mid);
        encode(reply, out)?;
        if out.len() <= size {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    fill(reply, lo);
    reply.metadata.truncation = true;
    encode(reply, out)?;
    if out.len() > size {
        // Not even the question and OPT fit: drop the OPT too.
        reply.edns = None;
        encode(reply, out)?;
    }
    Ok(())
}

/// Makes an upstream's reply, relayed as bytes, what the chain would send
/// for it (the reply parsed, `size_and_do`, encoded, the small UDP size
/// mirrored): the client's ID, the Z bit clear, the client's OPT size and
/// DO on the reply's OPT (or the client's OPT when the reply has none),
/// anything after the last record gone. False, with the reply untouched,
/// when only the full path can do it: a reply that does not read through,
/// an OPT the client did not send one for or that is not the last record,
/// or one too large for `limit`.
pub fn relay_reply(
    reply: &mut Vec<u8>,
    id: u16,
    client: Option<crate::wire::fast::Opt>,
    limit: usize,
) -> bool {
    let Some(l) = crate::wire::fast::layout(reply) else {
        return false;
    };
    // Decided before a byte changes: the caller parses the reply as it came
    // when this says no.
    // A record after the OPT could name bytes of it that change here.
    if let Some(at) = l.opt {
        let rdlen = usize::from(u16::from_be_bytes([reply[at + 8], reply[at + 9]]));
        if at + 10 + rdlen != l.end {
            return false;
        }
    }
    let grow = match (client, l.opt) {
        (None, Some(_)) => return false,
        (Some(_), None) => crate::wire::fast::OPT_LEN,
        _ => 0,
    };
    if l.end + grow > limit {
        return false;
    }
    reply.truncate(l.end);
    reply[0..2].copy_from_slice(&id.to_be_bytes());
    reply[3] &= !0x40;
    match (client, l.opt) {
        (Some(o), Some(at)) => {
            reply[at + 2..at + 4].copy_from_slice(&o.size.to_be_bytes());
            reply[at + 5] = 0;
            let f = u16::from_be_bytes([reply[at + 6], reply[at + 7]]);
            let f = (f & 0x7F00) | ((f | o.flags) & 0x8000);
            reply[at + 6..at + 8].copy_from_slice(&f.to_be_bytes());
        }
        (Some(o), None) => o.push(reply),
        (None, _) => {}
    }
    true
}

/// Where the OPT record's CLASS field (the UDP size) sits in a message on
/// the wire, if it has one in its additional section.
fn opt_class_offset(b: &[u8]) -> Option<usize> {
    let mut c = Cursor::new(b, false)?;
    while let Some(r) = c.next(b) {
        if r.section == 2 && r.rtype == TYPE_OPT {
            return Some(r.at + 2);
        }
    }
    None
}

/// The UDP size in the client's OPT exactly as sent (hickory raises values
/// under 512 to 512 when it parses).
pub fn raw_udp_size(query: &[u8]) -> Option<u16> {
    let p = opt_class_offset(query)?;
    Some(u16::from_be_bytes([query[p], query[p + 1]]))
}

/// CoreDNS's SizeAndDo copies the client's UDP size into the reply's OPT as
/// it is, even under 512 (it still truncates at 512): puts `size` back
/// into an encoded reply whose OPT was given the client's size.
pub fn mirror_small_udp_size(reply: &mut [u8], size: Option<u16>) {
    let Some(size) = size.filter(|s| *s < 512) else {
        return;
    };
    if let Some(p) = opt_class_offset(reply) {
        reply[p..p + 2].copy_from_slice(&size.to_be_bytes());
    }
}

fn encode(m: &Message, out: &mut Vec<u8>) -> Result<(), hickory_proto::ProtoError> {
    out.clear();
    let mut enc = BinEncoder::new(out);
    m.emit(&mut enc)
}

#[cfg(test)]
mod tests {
    /// A record after the OPT could be named by a pointer into the OPT's
    /// fields, which the relay patches: such a reply takes the full path.
    #[test]
    fn relay_wants_the_opt_last() {
        let mut r = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 2];
        r.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        r.extend_from_slice(&[0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0]);
        r.extend_from_slice(&[0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, b'x']);
        let before = r.clone();
        let o = crate::wire::fast::Opt {
            size: 1232,
            flags: 0,
        };
        assert!(!super::relay_reply(&mut r, 7, Some(o), 4096));
        assert_eq!(r, before);
        // The same with the OPT last is relayed.
        let mut last = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 2];
        last.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        last.extend_from_slice(&[0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, b'x']);
        last.extend_from_slice(&[0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert!(super::relay_reply(&mut last, 7, Some(o), 4096));
        assert_eq!(&last[0..2], &[0, 7]);
    }

    #[test]
    fn small_udp_sizes_are_mirrored_as_sent() {
        // Query example.org. A with an OPT of size 100 and DO.
        let mut q = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1];
        q.extend_from_slice(b"\x07example\x03org\x00\x00\x01\x00\x01");
        q.extend_from_slice(&[0, 0, 41, 0, 100, 0, 0, 0x80, 0, 0, 0]);
        assert_eq!(super::raw_udp_size(&q), Some(100));
        let mut r = q.clone();
        r[13 + 16 + 3] = 2; // as hickory writes it: 512
        r[13 + 16 + 4] = 0;
        super::mirror_small_udp_size(&mut r, Some(100));
        assert_eq!(r, q);
        super::mirror_small_udp_size(&mut r, Some(1232));
        assert_eq!(r, q);
        assert_eq!(super::raw_udp_size(&q[..q.len() - 11]), None);
    }

    use super::*;
    use hickory_proto::op::{MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::opt::EdnsOption;
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    fn query(edns: Option<Edns>) -> Message {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.queries.push(Query::query(
            Name::from_ascii("example.org.").unwrap(),
            RecordType::A,
        ));
        m.edns = edns;
        m
    }

    #[test]
    fn mirrors_client_opt() {
        let mut e = Edns::new();
        e.set_max_payload(1400);
        e.set_dnssec_ok(true);
        e.options_mut().insert(EdnsOption::Unknown(10, vec![1; 8])); // cookie: kept
        e.options_mut().insert(EdnsOption::Unknown(65001, vec![2])); // unknown: dropped
        let q = query(Some(e));
        let mut r = crate::wire::reply_to(&q);
        size_and_do(&q, &mut r);
        let o = r.edns.unwrap();
        assert_eq!(o.max_payload(), 1400);
        assert!(o.flags().dnssec_ok);
        assert!(o.option(EdnsCode::Cookie).is_some());
        assert!(o.option(EdnsCode::Unknown(65001)).is_none());
    }

    #[test]
    fn no_opt_without_client_opt() {
        let q = query(None);
        let mut r = crate::wire::reply_to(&q);
        size_and_do(&q, &mut r);
        assert!(r.edns.is_none());
    }

    #[test]
    fn badvers_reply() {
        let q = query(None);
        let mut out = Vec::new();
        badvers(&q, &mut out).unwrap();
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(u16::from(m.metadata.response_code), 16);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.edns.unwrap().version(), 0);
    }

    #[test]
    fn truncates_to_fit() {
        let q = query(None);
        let mut r = crate::wire::reply_to(&q);
        for i in 0..100u8 {
            r.answers.push(Record::from_rdata(
                Name::from_ascii("example.org.").unwrap(),
                60,
                RData::A(A::new(10, 0, 0, i)),
            ));
        }
        let mut out = Vec::new();
        encode_fitting(&mut r, 512, &mut out).unwrap();
        assert!(out.len() <= 512);
        let m = Message::from_vec(&out).unwrap();
        assert!(m.metadata.truncation);
        assert!(!m.answers.is_empty() && m.answers.len() < 100);
        // one more record would not have fit
        assert!(out.len() + 16 > 512);
    }
}
