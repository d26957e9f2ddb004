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
