//! The `reload` directive: the Corefile poll interval, jitter applied once.

use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::duration;
use crate::plugin::BlockSetup;
use rand::Rng;
use std::time::Duration;

const MIN_INTERVAL: Duration = Duration::from_secs(2);
const MIN_JITTER: Duration = Duration::from_secs(1);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_JITTER: Duration = Duration::from_secs(15);

/// `reload [INTERVAL] [JITTER]`: the poll interval, jitter applied once.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let args = d.remaining_args();
    if args.len() > 2 {
        return Err(d.arg_err());
    }
    let parse = |s: &str| {
        duration::parse(s).ok_or_else(|| d.err(format!("time: invalid duration \"{s}\"")))
    };
    let mut interval = match args.first() {
        Some(s) => parse(s)?,
        None => DEFAULT_INTERVAL,
    };
    if interval < MIN_INTERVAL {
        return Err(d.err(format!(
            "interval value must be greater or equal to {}",
            duration::format(MIN_INTERVAL)
        )));
    }
    let mut jitter = match args.get(1) {
        Some(s) => parse(s)?,
        None => DEFAULT_JITTER,
    };
    if !jitter.is_zero() && jitter < MIN_JITTER {
        return Err(d.err(format!(
            "jitter value must be 0 or greater or equal to {}",
            duration::format(MIN_JITTER)
        )));
    }
    jitter = jitter.min(interval / 2);
    if !jitter.is_zero() {
        // A random offset in [-jitter/2, jitter/2), drawn once, as CoreDNS does.
        let j = jitter.as_nanos() as i128;
        let offset = rand::rng().random_range(0..j) - j / 2;
        interval = Duration::from_nanos((interval.as_nanos() as i128 + offset) as u64);
    }
    b.reload = Some(interval);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directive;

    fn interval(text: &str) -> Result<Duration, crate::corefile::Error> {
        let mut b = BlockSetup::new(vec![".".into()]);
        setup(&mut b, &[&directive(text)])?;
        Ok(b.reload.unwrap())
    }

    #[test]
    fn intervals_and_jitter() {
        let d = interval("reload").unwrap();
        assert!(
            d >= Duration::from_millis(22_500) && d <= Duration::from_millis(37_500),
            "{d:?}"
        );
        assert_eq!(interval("reload 10s 0").unwrap(), Duration::from_secs(10));
        let d = interval("reload 10s 20s").unwrap();
        assert!(
            d >= Duration::from_millis(7_500) && d <= Duration::from_millis(12_500),
            "{d:?}"
        );
        assert_eq!(
            interval("reload 1s").unwrap_err().to_string(),
            "Corefile:1: interval value must be greater or equal to 2s"
        );
        assert_eq!(
            interval("reload 5s 500ms").unwrap_err().to_string(),
            "Corefile:1: jitter value must be 0 or greater or equal to 1s"
        );
        assert!(interval("reload 5s 1s 1s").is_err());
        assert!(interval("reload abc").is_err());
    }
}
