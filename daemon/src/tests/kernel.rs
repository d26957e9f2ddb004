//! Which server blocks the kernel's XDP program may serve (`xdp`): the
//! raw-bytes path's rule, with nothing before the cache that must see each
//! query in userspace.

fn load(corefile: &str) -> Result<crate::server::Config, String> {
    crate::server::load(corefile, "Corefile", 53, crate::plugins::ORDER).map_err(|e| e.to_string())
}

#[test]
fn blocks_with_a_cache_and_nothing_watching_are_allowed() {
    for corefile in [
        ".:53 {\n    xdp\n    cache\n    forward . 127.0.0.1:5300\n}\n",
        ".:53 {\n    prometheus\n    errors\n    cache 30\n    xdp eth0 {\n        mode generic\n    }\n    forward . 127.0.0.1:5300\n}\n",
        "example.org:53 {\n    xdp\n    cache\n    file db.example.org\n}\n",
    ] {
        let c = match load(corefile) {
            Ok(c) => c,
            // The file's absence is not what is tested.
            Err(e) if e.contains("db.example.org") => continue,
            Err(e) => panic!("{corefile}: {e}"),
        };
        assert!(c.blocks[0].xdp.is_some(), "{corefile}");
    }
    // Without `xdp` the block has no kernel path.
    let c = load(".:53 {\n    cache\n    forward . 127.0.0.1:5300\n}\n").unwrap();
    assert!(c.blocks[0].xdp.is_none());
}

#[test]
fn blocks_whose_chain_must_see_each_query_are_refused_naming_the_plugin() {
    for (body, want) in [
        (
            "log\n    cache\n    forward . 127.0.0.1:5300",
            "log must see every query in userspace",
        ),
        (
            "acl {\n        block net 10.0.0.0/8\n    }\n    cache\n    forward . 127.0.0.1:5300",
            "acl must see every query",
        ),
        (
            "rewrite name a.example. b.example.\n    cache\n    forward . 127.0.0.1:5300",
            "rewrite must see every query",
        ),
        (
            "metadata\n    cache\n    forward . 127.0.0.1:5300",
            "metadata must see every query",
        ),
        (
            "forward . 127.0.0.1:5300",
            "xdp needs cache in the server block",
        ),
        ("whoami", "xdp needs cache in the server block"),
    ] {
        let corefile = format!(".:53 {{\n    xdp\n    {body}\n}}\n");
        let e = load(&corefile).map(|_| ()).unwrap_err();
        assert!(e.contains(want), "{corefile}: {e}");
        assert!(
            e.contains("plugin/xdp: ") && e.contains("Corefile:2"),
            "{e}"
        );
    }
    let views = ".:53 {\n    view a {\n        expr true\n    }\n    xdp\n    cache\n    forward . 127.0.0.1:5300\n}\n";
    let e = load(views).map(|_| ()).unwrap_err();
    assert!(e.contains("view"), "{e}");
}

/// What a block's cache hands the kernel and takes back, through the
/// contract's `Feed` (the server's is the XDP loader; here one that
/// records), driven by the real dispatcher's raw path.
mod feed {
    use crate::plugin::kernel::{Feed, Promotion};
    use crate::plugins::cache::tests::advance;
    use crate::server::Dispatcher;
    use crate::tests::fastpath::{ask, query, Case, ZONE};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[derive(Default)]
    struct Recorded {
        /// (owner, reply, until set)
        promoted: Vec<(u64, Vec<u8>, bool)>,
        forgotten: Vec<u64>,
    }

    struct Recording(Mutex<Recorded>, u32);

    impl Feed for Recording {
        fn promote(&self, p: &Promotion<'_>) -> bool {
            let mut r = self.0.lock().unwrap();
            r.promoted
                .push((p.owner, p.reply.to_vec(), p.until.is_some()));
            true
        }
        fn forget(&self, owner: u64) {
            self.0.lock().unwrap().forgotten.push(owner);
        }
        fn threshold(&self) -> u32 {
            self.1
        }
    }

    /// A dispatcher for `cache_block` in front of the zone, its cache
    /// feeding a new recording feed (`threshold` hits).
    fn setup(cache_block: &str, threshold: u32) -> (Dispatcher, Arc<Recording>, Set) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db.example.org"), ZONE).unwrap();
        let corefile = format!(
            "example.org:53 {{\n    root {}\n    {cache_block}\n    file db.example.org\n}}\n",
            dir.path().display()
        );
        let config =
            crate::server::load(&corefile, "Corefile", 53, crate::plugins::ORDER).expect("loads");
        let feed = Arc::new(Recording(Mutex::default(), threshold));
        for p in config.plugins() {
            if p.kernel_answers() {
                p.set_kernel(Some(Arc::clone(&feed) as Arc<dyn Feed>));
            }
        }
        let config = Arc::new(config);
        let d = Dispatcher::new(Arc::clone(&config), 0, 1, true);
        (d, feed, Set { config, _dir: dir })
    }

    /// What the dispatcher serves, kept for the test.
    struct Set {
        config: Arc<crate::server::Config>,
        _dir: tempfile::TempDir,
    }

    fn udp(name: &str) -> Case {
        Case {
            bytes: query(0x4242, 0x0100, name, 1, Some((1232, 0))),
            tcp: false,
            src: "192.0.2.7:5353".parse().unwrap(),
        }
    }

    #[test]
    fn a_hot_answer_goes_to_the_kernel_once_as_the_raw_path_wrote_it() {
        let (mut d, feed, _dir) = setup("cache 120", 2);
        let q = udp("www.example.org.");
        ask(&mut d, &q); // the fill, through the chain
        let first = ask(&mut d, &q).unwrap(); // raw hit 1
        assert!(
            feed.0.lock().unwrap().promoted.is_empty(),
            "one hit is not enough"
        );
        let second = ask(&mut d, &q).unwrap(); // raw hit 2: handed over
        for _ in 0..5 {
            ask(&mut d, &q);
        }
        let r = feed.0.lock().unwrap();
        assert_eq!(r.promoted.len(), 1, "handed over once");
        let (_, reply, until) = &r.promoted[0];
        // The reply as the raw path wrote it for that query (same time).
        assert_eq!(reply, &second);
        assert_eq!(&first[12..], &second[12..]);
        assert!(!until, "no prefetch: the TTL alone ends it");
        assert!(r.forgotten.is_empty());
    }

    #[test]
    fn a_replaced_or_evicted_answer_is_taken_back() {
        // Room for 1,024 answers (CoreDNS's smallest: 256 shards of 4).
        let (mut d, feed, _dir) = setup("cache 120 {\n        success 1\n    }", 1);
        let www = udp("www.example.org.");
        ask(&mut d, &www);
        ask(&mut d, &www);
        let owner = {
            let r = feed.0.lock().unwrap();
            assert_eq!(r.promoted.len(), 1);
            r.promoted[0].0
        };
        // Other answers, each asked twice (kept over one-hit ones), take
        // all the room: the first is evicted, and taken back.
        for i in 0..3000 {
            let q = udp(&format!("n{i}.wild.example.org."));
            ask(&mut d, &q);
            ask(&mut d, &q);
            if feed.0.lock().unwrap().forgotten.contains(&owner) {
                break;
            }
        }
        assert!(
            feed.0.lock().unwrap().forgotten.contains(&owner),
            "evicted, not taken back"
        );
        // Handed over again once back, then replaced by a refill once it
        // expired (the zone's TTL is 300; cache 120 caps it).
        ask(&mut d, &www);
        ask(&mut d, &www);
        let owner2 = {
            let r = feed.0.lock().unwrap();
            let (owner, reply, _) = r.promoted.last().unwrap();
            // www's again (its name right after the question's header).
            assert_eq!(&reply[12..17], b"\x03www\x07");
            *owner
        };
        assert_ne!(owner, owner2);
        advance(Duration::from_secs(121));
        ask(&mut d, &www);
        assert!(
            feed.0.lock().unwrap().forgotten.contains(&owner2),
            "replaced by the refill"
        );
    }

    #[test]
    fn with_prefetch_the_kernel_stops_before_the_prefetch_window() {
        let (mut d, feed, _dir) = setup("cache 120 {\n        prefetch 1 1m 10%\n    }", 1);
        let q = udp("www.example.org.");
        ask(&mut d, &q);
        ask(&mut d, &q);
        let r = feed.0.lock().unwrap();
        assert_eq!(r.promoted.len(), 1);
        assert!(r.promoted[0].2, "an `until` before the prefetch window");
    }

    #[test]
    fn without_a_feed_nothing_is_handed_over_and_a_new_feed_counts_afresh() {
        let (mut d, feed, set) = setup("cache 120", 2);
        let q = udp("www.example.org.");
        ask(&mut d, &q);
        ask(&mut d, &q);
        // The feed goes (a reload without `xdp`): hits count for nobody.
        for p in set.config.plugins() {
            p.set_kernel(None);
        }
        for _ in 0..5 {
            ask(&mut d, &q);
        }
        assert!(feed.0.lock().unwrap().promoted.is_empty());
        // A new feed (a reload with `xdp`, a new map): two hits again.
        let again = Arc::new(Recording(Mutex::default(), 2));
        for p in set.config.plugins() {
            if p.kernel_answers() {
                p.set_kernel(Some(Arc::clone(&again) as Arc<dyn Feed>));
            }
        }
        ask(&mut d, &q);
        assert!(again.0.lock().unwrap().promoted.is_empty());
        ask(&mut d, &q);
        assert_eq!(again.0.lock().unwrap().promoted.len(), 1);
    }
}
