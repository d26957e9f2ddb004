//! A cache hit allocates nothing: a counting global allocator watches the
//! worker's whole handling of a query (`Dispatcher::handle`: the accept
//! checks, the fast path, metrics, the reply) once the cache is warm.

use ferrodns::runtime::{Handled, Packet, PacketHandler};
use ferrodns::server::Dispatcher;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    if COUNTING.with(Cell::get) {
        ALLOCS.with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: forwards to the system allocator; the counters are const-initialised
// thread locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded from the caller.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get)
}

fn query(id: u16, name: &str, opt: bool) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, u8::from(opt)]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    if opt {
        q.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    }
    q
}

/// Each name asked without OPT and with.
fn queries_for(names: &[String]) -> Vec<Vec<u8>> {
    names
        .iter()
        .enumerate()
        .flat_map(|(i, n)| [query(i as u16, n, false), query(i as u16, n, true)])
        .collect()
}

/// Asks `q` over UDP and over TCP; each reply must answer it.
fn ask(d: &mut Dispatcher, q: &[u8], out: &mut Vec<u8>) {
    for (src, tcp) in [("192.0.2.7:40053", false), ("[2001:db8::7]:53", true)] {
        let p = Packet {
            listener: 0,
            data: q,
            src: src.parse().unwrap(),
            local: "127.0.0.1:53".parse().unwrap(),
            tcp,
            at: std::time::Instant::now(),
            backlogged: false,
        };
        assert!(matches!(d.handle(&p, out), Handled::Reply));
        assert_eq!(&out[..2], &q[..2], "the reply answers the query");
    }
}

/// The allocations of 100 rounds of `queries` asked with `ask`, after
/// `warm` rounds that are not counted.
fn allocations_after(warm: usize, queries: &[Vec<u8>], mut ask: impl FnMut(&[u8])) -> u64 {
    for _ in 0..warm {
        queries.iter().for_each(|q| ask(q));
    }
    allocations(|| {
        for _ in 0..100 {
            queries.iter().for_each(|q| ask(q));
        }
    })
}

#[test]
fn a_cache_hit_allocates_nothing() {
    let corefile = "example.org:53 {
    prometheus 127.0.0.1:9153
    errors
    bufsize 1232
    acl {
        block type TXT net 198.51.100.0/24
    }
    cache 300
    template IN A {
        answer \"{{ .Name }} 60 IN A 192.0.2.1\"
    }
}
";
    let config =
        ferrodns::server::load(corefile, "Corefile", 53, ferrodns::plugins::ORDER).expect("loads");
    let mut d = Dispatcher::new(Arc::new(config), 0, 1, true);
    let names: Vec<String> = (0..64).map(|i| format!("h{i}.example.org.")).collect();
    let queries = queries_for(&names);
    let mut out = Vec::with_capacity(4096);
    // Misses fill the cache (through the chain); the first hit of each kind
    // makes its metric series.
    let n = allocations_after(2, &queries, |q| ask(&mut d, q, &mut out));
    assert_eq!(n, 0, "allocations over 25,600 cache hits");
    // The counter works: a miss through the chain allocates.
    let miss = query(9, "fresh.example.org.", false);
    assert!(allocations(|| ask(&mut d, &miss, &mut out)) > 0);
}

#[test]
fn a_file_answer_from_the_templates_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut zone = String::from(
        "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n  IN NS ns1\nns1 IN A 192.0.2.1\n",
    );
    for i in 0..32 {
        zone.push_str(&format!(
            "h{i} IN A 192.0.2.{}\n  IN AAAA 2001:db8::{i}\n",
            i + 10
        ));
        zone.push_str(&format!("c{i} IN CNAME h{i}\n"));
    }
    std::fs::write(dir.path().join("db.example.org"), zone).unwrap();
    let corefile = format!(
        "example.org:53 {{
    prometheus 127.0.0.1:9153
    root {}
    file db.example.org
}}
",
        dir.path().display()
    );
    let config =
        ferrodns::server::load(&corefile, "Corefile", 53, ferrodns::plugins::ORDER).expect("loads");
    let mut d = Dispatcher::new(Arc::new(config), 0, 1, true);
    // Owners, CNAMEs to them, names the zone does not have.
    let names: Vec<String> = (0..32)
        .flat_map(|i| {
            [
                format!("h{i}.example.org."),
                format!("c{i}.example.org."),
                format!("nx{i}.example.org."),
            ]
        })
        .collect();
    let queries = queries_for(&names);
    let mut out = Vec::with_capacity(4096);
    // The first answer of each kind makes its metric series. Answers
    // through the chain allocate: none means the raw path's.
    let n = allocations_after(1, &queries, |q| ask(&mut d, q, &mut out));
    assert_eq!(n, 0, "allocations over 38,400 answers of file");
}
