//! forward over DNS over TLS (RFC 7858) to a local upstream with a
//! certificate from a CA the Corefile names (`tls CA`, `tls_servername`).

mod common;

use common::*;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A DoT upstream answering every A query with 10.0.0.9; counts queries.
fn dot_upstream(p: &Pki, port: u16, served: Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![p.cert.clone()], p.key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let served = Arc::clone(&served);
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    loop {
                        let mut len = [0u8; 2];
                        if tls.read_exact(&mut len).await.is_err() {
                            return;
                        }
                        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if tls.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        let q = Message::from_vec(&buf).unwrap();
                        served.fetch_add(1, Ordering::Relaxed);
                        let mut r =
                            Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                        r.metadata.recursion_desired = q.metadata.recursion_desired;
                        r.metadata.recursion_available = true;
                        r.queries = q.queries.clone();
                        if q.queries[0].query_type() == RecordType::A {
                            let name = q.queries[0].name().clone();
                            r.answers.push(Record::from_rdata(
                                name,
                                60,
                                RData::A(A::new(10, 0, 0, 9)),
                            ));
                        }
                        let out = r.to_vec().unwrap();
                        let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                        framed.extend_from_slice(&out);
                        if tls.write_all(&framed).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
}

#[test]
fn forwards_over_tls_to_a_verified_upstream() {
    let p = pki("dns.test");
    let port = free_port();
    let served = Arc::new(AtomicUsize::new(0));
    dot_upstream(&p, port, Arc::clone(&served));
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    forward . tls://127.0.0.1:{port} {{\n        tls ca.pem\n        tls_servername dns.test\n    }}\n}}\n"
        ),
        &[("ca.pem", &p.ca_pem)],
    );
    for m in s.both("secure.example.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(answers(&m), ["secure.example. 60 A 10.0.0.9"]);
    }
    assert_eq!(served.load(Ordering::Relaxed), 2);
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let p = pki("dns.test");
    let port = free_port();
    let served = Arc::new(AtomicUsize::new(0));
    dot_upstream(&p, port, Arc::clone(&served));
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    forward . tls://127.0.0.1:{port} {{\n        tls ca.pem\n        tls_servername other.test\n    }}\n}}\n"
        ),
        &[("ca.pem", &p.ca_pem)],
    );
    let m = s.udp("secure.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(
        served.load(Ordering::Relaxed),
        0,
        "nothing sent over an unverified connection"
    );
}
