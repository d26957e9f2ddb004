//! view: the conditions a query must meet to be served by this server
//! block (CoreDNS's `dnsserver.Viewer`), for split DNS: blocks sharing a
//! zone and port, each query served by the first whose view's expressions
//! all hold (the server's routing, `server::route`, asks
//! [`Plugin::filter`]). In the chain it does nothing; it names the view
//! for metrics (the `view` label) and for metadata (`view/name`).

mod expr;
mod setup;

pub use setup::setup;

use crate::plugin::request::Metadata;
use crate::plugin::{Action, Fast, Plugin, Request};

pub struct View {
    name: String,
    /// Every `expr` of the block, in Corefile order; all must hold.
    programs: Vec<expr::Program>,
}

impl Plugin for View {
    fn name(&self) -> &'static str {
        "view"
    }

    /// CoreDNS's view passes every query on (NextOrFailure).
    fn query(&self, _req: &mut Request) -> Action {
        Action::Next
    }

    fn fast(&self) -> Fast {
        Fast::Pass
    }

    fn view(&self) -> Option<&str> {
        Some(&self.name)
    }

    /// True when every expression gives the boolean true; an expression
    /// that fails while it runs, or gives anything else, is a "no".
    fn filter(&self, req: &Request) -> bool {
        self.programs
            .iter()
            .all(|p| matches!(p.run(req), Ok(expr::Value::Bool(true))))
    }

    fn metadata(&self, _req: &Request, md: &mut Metadata) {
        md.set("view/name", self.name.clone());
    }
}

#[cfg(test)]
mod tests;
