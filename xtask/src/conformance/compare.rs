//! Field-by-field comparison of two replies, and the side-by-side view.

use super::wire::{rcode_name, Message, Record, FLAGS};

pub struct Options {
    /// Records within a section may come in any order.
    pub order_any: bool,
    /// TTLs are not compared.
    pub ttl_any: bool,
    /// SOA serials are not compared.
    pub serial_any: bool,
}

/// A record's data as compared: an SOA's serial left out when asked.
fn rdata(r: &Record, o: &Options) -> String {
    if !(o.serial_any && r.rtype == 6) {
        return r.rdata.clone();
    }
    let mut f: Vec<&str> = r.rdata.split_whitespace().collect();
    if f.len() > 2 {
        f[2] = "*";
    }
    f.join(" ")
}

/// The first difference between CoreDNS's reply `c` and ferrodns's `f`, or
/// None when they agree. The ID is not compared; TTLs may differ by 1 s.
pub fn first_difference(c: &Message, f: &Message, o: &Options) -> Option<String> {
    if c.id != f.id {
        return Some(format!(
            "ID {} vs {} (both should echo the query's)",
            c.id, f.id
        ));
    }
    if c.opcode() != f.opcode() {
        return Some(format!("opcode {} vs {}", c.opcode(), f.opcode()));
    }
    if c.rcode() != f.rcode() {
        return Some(format!(
            "rcode {} vs {}",
            rcode_name(c.rcode()),
            rcode_name(f.rcode())
        ));
    }
    for (name, bit) in FLAGS {
        if c.flags & bit != f.flags & bit {
            let s = |m: &Message| if m.flags & bit != 0 { "set" } else { "clear" };
            return Some(format!("flag {name}: {} vs {}", s(c), s(f)));
        }
    }
    if c.question != f.question {
        return Some("question section".into());
    }
    for (sec, a, b) in [
        ("answer", &c.answer, &f.answer),
        ("authority", &c.authority, &f.authority),
        ("additional", &c.additional, &f.additional),
    ] {
        let (mut a, mut b) = (a.clone(), b.clone());
        if o.order_any {
            let key = |r: &Record| (r.name.to_lowercase(), r.rtype, r.rdata.clone());
            a.sort_by_key(key);
            b.sort_by_key(key);
        }
        if a.len() != b.len() {
            return Some(format!("{sec} section: {} vs {} records", a.len(), b.len()));
        }
        for (x, y) in a.iter().zip(&b) {
            let what = if x.name != y.name {
                Some("name")
            } else if x.rtype != y.rtype {
                Some("type")
            } else if x.class != y.class {
                Some("class")
            } else if rdata(x, o) != rdata(y, o) {
                Some("rdata")
            } else if !o.ttl_any && x.ttl.abs_diff(y.ttl) > 1 {
                Some("TTL")
            } else {
                None
            };
            if let Some(what) = what {
                return Some(format!(
                    "{sec} {what}: `{}` vs `{}`",
                    x.render(),
                    y.render()
                ));
            }
        }
    }
    if c.opt_count != f.opt_count {
        return Some(format!("OPT records: {} vs {}", c.opt_count, f.opt_count));
    }
    if let (Some(a), Some(b)) = (&c.opt, &f.opt) {
        if a != b {
            return Some(format!("OPT: `{}` vs `{}`", a.render(), b.render()));
        }
    }
    None
}

/// Two columns: CoreDNS on the left, ferrodns on the right.
pub fn side_by_side(left: &[String], right: &[String]) -> String {
    let width = left
        .iter()
        .map(|l| l.len())
        .max()
        .unwrap_or(0)
        .clamp(20, 70);
    let mut out = format!("    {:<width$} | {}\n", "CoreDNS", "ferrodns");
    for i in 0..left.len().max(right.len()) {
        let l = left.get(i).map_or("", String::as_str);
        let r = right.get(i).map_or("", String::as_str);
        let mark = if l == r { ' ' } else { '*' };
        out.push_str(&format!("  {mark} {l:<width$} | {r}\n"));
    }
    out
}
