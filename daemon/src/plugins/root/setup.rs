//! The `root` directive: the block's root directory, checked once.

use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::BlockSetup;
use std::path::PathBuf;

/// `root PATH`; a missing directory is only a warning, as in CoreDNS.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    let mut root = None;
    let mut at = None;
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        if !d.next_arg() {
            return Err(d.arg_err());
        }
        root = Some(PathBuf::from(d.val()));
        at = Some(d.pos().clone());
    }
    let (Some(root), Some(at)) = (root, at) else {
        return Ok(());
    };
    match std::fs::metadata(&root) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => crate::log::warning(
            Some("root"),
            &format!("Root path does not exist: {}", root.display()),
        ),
        Err(e) => {
            return Err(Error::new(
                &at,
                format!("unable to access root path '{}': {e}", root.display()),
            ));
        }
    }
    b.root = Some(root);
    Ok(())
}
