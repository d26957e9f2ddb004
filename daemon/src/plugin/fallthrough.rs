//! `fallthrough [ZONES...]`: which NXDOMAIN answers go on to the next plugin.

use crate::plugin::names;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fallthrough {
    /// None: fall through is off. Some(empty): every name. Some(zones): names under them.
    zones: Option<Vec<String>>,
}

impl Fallthrough {
    /// `fallthrough ZONES...` with these arguments: no zones means every name.
    pub fn from_args(args: &[String]) -> Self {
        Self {
            zones: Some(names::host_zones(args, &[])),
        }
    }

    /// Whether `fallthrough` was given at all.
    pub fn is_set(&self) -> bool {
        self.zones.is_some()
    }

    pub fn through(&self, qname: &str) -> bool {
        match &self.zones {
            None => false,
            Some(z) if z.is_empty() => true,
            Some(z) => names::zone_match(z, qname).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones() {
        assert!(!Fallthrough::default().through("a.org."));
        assert!(Fallthrough::from_args(&[]).through("a.org."));
        let f = Fallthrough::from_args(&["Example.org".into()]);
        assert!(f.through("www.example.org."));
        assert!(!f.through("www.example.net."));
    }
}
