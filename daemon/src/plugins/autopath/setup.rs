//! The `autopath` directive, as CoreDNS 1.14.7's `autoPathParse` reads it:
//! `autopath [ZONE...] RESOLV-CONF`, RESOLV-CONF a resolv.conf file (its
//! search list) or `@PLUGIN`, a plugin of the block that gives each
//! query's search path. Every occurrence in a block is read in turn, as
//! CoreDNS's loop over the directive's tokens does: the last one's zones
//! hold, and a file and a `@PLUGIN` may both be set (the plugin's path
//! wins).

use super::AutoPath;
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::{quote::quote, resolv};
use crate::plugin::{names, BlockSetup};
use std::path::Path;
use std::sync::Arc;

pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<AutoPath, Error> {
    let mut zones = Vec::new();
    let mut search = None;
    let mut provider = None;
    for dir in ds {
        let mut d = Dispenser::new(dir);
        // Every token, as caddy's `for c.Next()`: a block's tokens are
        // read as more directives (and have no resolv-conf).
        while d.next() {
            let mut args = d.remaining_args();
            let Some(resolv) = args.pop() else {
                return Err(d.err("no resolv-conf specified"));
            };
            match resolv.strip_prefix('@') {
                Some(name) => provider = Some(name.to_string()),
                None => {
                    // Opened as given: CoreDNS does not look under `root`.
                    let list = resolv::search(Path::new(&resolv))
                        .map_err(|e| d.err(format!("failed to parse {}: {e}", quote(&resolv))))?;
                    let mut list: Vec<String> = list.iter().map(|s| names::normalize(s)).collect();
                    // The name as asked, last.
                    list.push(String::new());
                    search = Some(Arc::from(list));
                }
            }
            zones = names::host_zones(&args, &b.origins);
        }
    }
    Ok(AutoPath::new(zones, search, provider, ds[0].pos().clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{set_up, setup_err};

    fn resolv_conf(text: &str) -> tempfile::TempPath {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f.into_temp_path()
    }

    #[test]
    fn reads_as_coredns() {
        let a = set_up(setup, "autopath @kubernetes").unwrap();
        assert_eq!(a.zones, ["."]);
        assert_eq!(a.provider.as_deref(), Some("kubernetes"));
        assert!(a.search.is_none());
        let a = set_up(setup, "autopath example.org Example.NET @kubernetes").unwrap();
        assert_eq!(a.zones, ["example.org.", "example.net."]);
        let conf = resolv_conf(
            "nameserver 1.2.3.4\ndomain foo.com\nsearch bar.com BAZ.com.\noptions ndots:5\n",
        );
        let a = set_up(setup, &format!("autopath {}", conf.display())).unwrap();
        assert_eq!(a.provider, None);
        assert_eq!(a.search.as_deref().unwrap(), ["bar.com.", "baz.com.", ""]);
        // A file without a search list: only the name as asked.
        let empty = resolv_conf("nameserver 1.2.3.4\n");
        let a = set_up(setup, &format!("autopath {}", empty.display())).unwrap();
        assert_eq!(a.search.as_deref().unwrap(), [""]);
        // Both, over two lines: the last zones, the file and the plugin.
        let text = format!("autopath a.org {}\nautopath b.org @erratic", conf.display());
        let a = set_up(setup, &text).unwrap();
        assert_eq!(a.zones, ["b.org."]);
        assert_eq!(a.provider.as_deref(), Some("erratic"));
        assert_eq!(a.search.as_deref().unwrap().len(), 3);
    }

    #[test]
    fn errors_read_as_coredns() {
        assert_eq!(
            setup_err(setup, "autopath"),
            "Corefile:1: no resolv-conf specified"
        );
        assert_eq!(
            setup_err(setup, "autopath kubernetes"),
            "Corefile:1: failed to parse \"kubernetes\": open kubernetes: no such file or directory"
        );
        assert_eq!(
            setup_err(setup, "autopath \"\""),
            "Corefile:1: failed to parse \"\": open : no such file or directory"
        );
        // A block's tokens are read as directives of their own.
        assert_eq!(
            setup_err(setup, "autopath @kubernetes {\n}"),
            "Corefile:1: no resolv-conf specified"
        );
    }
}
