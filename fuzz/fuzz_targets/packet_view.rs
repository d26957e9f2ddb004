//! Arbitrary bytes through the zero-copy query view and the accept rules.
//!
//! `Header::parse`, `accept`, `header_reply`, `QueryView::parse` and
//! `QueryView::lower_qname_into` must never panic, and what they return must
//! agree with the bytes they were given.

#![no_main]

use ferrodns::wire::{self, Accept, Header, QueryView, WireError, HEADER_LEN, MAX_NAME_LEN};
use libfuzzer_sys::fuzz_target;

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fuzz_target!(|data: &[u8]| {
    // Header and accept.
    let header = match Header::parse(data) {
        Ok(h) => {
            assert!(data.len() >= HEADER_LEN);
            assert_eq!(h.id, be16(data, 0));
            assert_eq!(h.flags, be16(data, 2));
            assert_eq!(h.qdcount, be16(data, 4));
            assert_eq!(h.ancount, be16(data, 6));
            assert_eq!(h.nscount, be16(data, 8));
            assert_eq!(h.arcount, be16(data, 10));
            let verdict = wire::accept(&h);
            if h.qr() {
                assert_eq!(verdict, Accept::Ignore);
            }
            if verdict == Accept::Accept {
                assert!(!h.qr());
                assert!(h.opcode() == wire::OPCODE_QUERY || h.opcode() == wire::OPCODE_NOTIFY);
                assert_eq!(h.qdcount, 1);
            }
            // The header-only reply: 12 bytes, same ID, QR set, the opcode
            // kept for NOTIMP and QUERY for FORMERR (miekg's
            // SetRcodeFormatError), TC/RD/RA/AD/CD as sent, AA and Z clear,
            // nothing counted; `out` is overwritten, not appended to.
            for rcode in [1u8, 4] {
                let mut out = vec![0xAA; 40];
                wire::header_reply(&h, rcode, &mut out);
                assert_eq!(out.len(), HEADER_LEN);
                assert_eq!(be16(&out, 0), h.id);
                let rf = be16(&out, 2);
                assert!(rf & 0x8000 != 0);
                let opcode = if rcode == 4 { u16::from(h.opcode()) } else { 0 };
                assert_eq!((rf >> 11) & 0xF, opcode);
                assert_eq!(rf & 0x03B0, h.flags & 0x03B0);
                assert_eq!(rf & 0x0440, 0);
                assert_eq!(rf & 0xF, u16::from(rcode));
                assert_eq!(&out[4..], &[0; 8]);
            }
            Some(h)
        }
        Err(e) => {
            assert_eq!(e, WireError::ShortHeader);
            assert!(data.len() < HEADER_LEN);
            None
        }
    };

    // The query view.
    let view = match QueryView::parse(data) {
        Ok(v) => v,
        Err(_) => return,
    };
    let h = header.expect("a view parsed where the header did not");
    assert_eq!(view.header, h);
    assert_ne!(h.qdcount, 0);

    // qname is the slice of the input right after the header.
    let start = data.as_ptr() as usize;
    let q = view.qname.as_ptr() as usize;
    assert_eq!(
        q,
        start + HEADER_LEN,
        "qname does not start after the header"
    );
    assert!(
        q + view.qname.len() <= start + data.len(),
        "qname runs past the input"
    );
    assert!(!view.qname.is_empty());
    assert!(
        view.qname.len() <= MAX_NAME_LEN,
        "qname longer than 255 bytes"
    );
    assert_eq!(view.question_end, HEADER_LEN + view.qname.len() + 4);
    assert!(
        view.question_end <= data.len(),
        "question_end past the input"
    );
    assert_eq!(view.qtype, be16(data, view.question_end - 4));
    assert_eq!(view.qclass, be16(data, view.question_end - 2));

    // qname is a sequence of uncompressed labels of at most 63 bytes ending
    // at its only root label.
    let mut i = 0;
    loop {
        let len = view.qname[i] as usize;
        assert!(len <= 63, "label longer than 63 bytes");
        i += 1 + len;
        if len == 0 {
            break;
        }
        assert!(i < view.qname.len(), "labels run past qname");
    }
    assert_eq!(i, view.qname.len(), "bytes after the root label in qname");

    // lower_qname_into appends the lowercased name: same length, same bytes
    // but for ASCII case.
    let prefix = [0x41u8, 0x42, 0x43];
    let mut key = prefix.to_vec();
    view.lower_qname_into(&mut key);
    assert_eq!(
        &key[..prefix.len()],
        &prefix,
        "lower_qname_into overwrote the key"
    );
    let lowered = &key[prefix.len()..];
    assert_eq!(lowered.len(), view.qname.len());
    assert!(lowered.eq_ignore_ascii_case(view.qname));
    assert!(!lowered.iter().any(u8::is_ascii_uppercase));
    // Lowercasing twice changes nothing.
    let mut again = Vec::new();
    QueryView {
        qname: lowered,
        ..view
    }
    .lower_qname_into(&mut again);
    assert_eq!(again, lowered);
});
