//! The example plugin of docs/ARCHITECTURE.md ("Adding a plugin"), built
//! and served here as a plugin of ferrodns would be: its type, its setup,
//! its line in an execution-order table, and nothing else. `hello [TEXT]`
//! answers TXT questions with TEXT ("hello" without one) and passes every
//! other question on.

use super::ask;
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::registry::{Entry, Placed};
use crate::plugin::{Action, BlockSetup, Outcome, Plugin, Request};
use crate::server::Dispatcher;
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};
use std::sync::Arc;

/// The plugin: what its setup read.
pub struct Hello {
    text: String,
}

impl Plugin for Hello {
    fn name(&self) -> &'static str {
        "hello"
    }

    fn query(&self, req: &mut Request) -> Action {
        if req.qtype() != RecordType::TXT {
            return Action::Next;
        }
        let mut m = req.reply();
        m.metadata.authoritative = true;
        let txt = RData::TXT(TXT::new(vec![self.text.clone()]));
        m.answers
            .push(Record::from_rdata(req.qname().clone(), 60, txt));
        Action::Done(Outcome::reply(m))
    }
}

/// `hello [TEXT]`, once per block; errors carry the token's position.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Hello, Error> {
    crate::plugin::registry::only_once(ds)?;
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let text = match d.remaining_args().as_slice() {
        [] => "hello".to_string(),
        [t] => t.clone(),
        _ => return Err(d.arg_err()),
    };
    Ok(Hello { text })
}

/// ferrodns's table with `hello` just before `whoami` (in the tree, the
/// line `"hello" => hello::setup,` in `plugins::ORDER`).
fn order() -> Vec<Entry> {
    let mut order: Vec<Entry> = crate::plugins::ORDER.to_vec();
    let at = order.iter().position(|e| e.name == "whoami").unwrap();
    order.insert(
        at,
        Entry::has("hello", |b, ds| setup(b, ds).map(|p| p.place(b))),
    );
    order
}

#[test]
fn a_plugin_is_its_type_its_setup_and_one_line_of_the_table() {
    let corefile = ".:53 {\n    whoami\n    hello hi\n}\n";
    let order = order();
    let config = crate::server::load(corefile, "Corefile", 53, &order).expect("loads");
    let mut d = Dispatcher::new(Arc::new(config), 0, 1, true);
    // hello runs before whoami, whatever the Corefile's order.
    let r = ask(&mut d, "example.org.", RecordType::TXT);
    assert!(r.metadata.authoritative);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].data.to_string(), "hi");
    // Other questions go on to whoami (its answer has an additional section).
    let r = ask(&mut d, "example.org.", RecordType::A);
    assert_eq!(r.additionals.len(), 2, "{r:?}");
    // Its setup's errors name the plugin and the line.
    let e = crate::server::load(".:53 {\n    hello a b\n}\n", "Corefile", 53, &order)
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "Corefile:2: plugin/hello: Wrong argument count or unexpected line ending after 'b'"
    );
    // Without its line in the table, the directive is unknown.
    let e = crate::server::load(corefile, "Corefile", 53, crate::plugins::ORDER)
        .err()
        .unwrap();
    assert!(e.to_string().contains("hello"), "{e}");
}
