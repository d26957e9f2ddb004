//! The `view` directive: `view NAME { expr EXPRESSION ... }`.

use super::{expr::Program, View};
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::BlockSetup;

/// CoreDNS's view `parse`: once per block, one NAME, then any number of
/// `expr` lines (none: the view holds for every query); an expression is
/// compiled here and refused in expr-lang's words.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<View, Error> {
    crate::plugin::registry::only_once(ds)?;
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let name = match d.remaining_args().as_slice() {
        [name] => name.clone(),
        _ => return Err(d.arg_err()),
    };
    let mut programs = Vec::new();
    while d.next_block() {
        match d.val() {
            "expr" => {
                let text = d.remaining_args().join(" ");
                programs.push(Program::compile(&text).map_err(|e| d.err(e.to_string()))?);
            }
            other => return Err(d.err(format!("unknown property '{other}'"))),
        }
    }
    Ok(View { name, programs })
}
