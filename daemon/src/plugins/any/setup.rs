//! The `any` directive, which takes no arguments.

use super::Any;
use crate::corefile::{Directive, Error};
use crate::plugin::BlockSetup;

/// `any` takes no arguments.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Any, Error> {
    crate::plugin::registry::no_args(ds)?;
    Ok(Any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directive;

    #[test]
    fn rejects_arguments() {
        let mut b = BlockSetup::new(vec![".".into()]);
        let e = setup(&mut b, &[&directive("any foo")]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "Corefile:1: Wrong argument count or unexpected line ending after 'foo'"
        );
    }
}
