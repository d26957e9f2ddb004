//! The answers a plugin gives for names outside its own zones that stand
//! for its objects (CoreDNS's `external.Externaler`): what *k8s_external*
//! serves, from a plugin that offers it ([`super::Plugin::external`]).

use super::Request;
use crate::corefile::{Dispenser, Error};
use hickory_proto::op::ResponseCode;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One record's data (CoreDNS's `msg.Service`, as far as `External` fills
/// it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// An address, or a host name (for a CNAME); for a reverse query, the
    /// name below the zone the PTR points to.
    pub host: String,
    /// -1: no port (no SRV record).
    pub port: i32,
    /// The offering plugin's TTL (CNAME and SRV records carry it).
    pub ttl: u32,
    /// The record's own name below the zone (`svc.ns`, `ep.svc.ns`; what
    /// CoreDNS keeps in the key), the SRV records' target.
    pub name: String,
}

pub trait External: Send + Sync {
    /// The records for `req`'s name in `zone` (lowercased, fully qualified,
    /// the zone the asking plugin matched), with the rcode to answer when
    /// there are none (CoreDNS's `External(state, headless)`).
    fn services(&self, req: &Request, zone: &str, headless: bool) -> (Vec<Service>, ResponseCode);

    /// The name servers of `zone`: each one's name and address
    /// (`ExternalAddress`).
    fn addresses(&self, zone: &str, headless: bool) -> Vec<(String, IpAddr)>;

    /// The zone's SOA serial (`ExternalSerial`).
    fn serial(&self, zone: &str) -> u32;
}

/// What a record's host is (CoreDNS's `msg.Service.HostType`).
pub enum Host {
    /// An IPv4 address, or an IPv4-mapped IPv6 one.
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// Not an address: a name, for a CNAME.
    Cname,
}

impl Host {
    pub fn of(ip: IpAddr) -> Host {
        match ip {
            IpAddr::V4(v4) => Host::A(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Host::A(v4),
                None => Host::Aaaa(v6),
            },
        }
    }
}

/// `msg.Service.HostType` of `host`.
pub fn host_type(host: &str) -> Host {
    host.parse().map_or(Host::Cname, Host::of)
}

/// The `ttl TTL` option of the plugins serving a cluster's names
/// (kubernetes, k8s_external), its argument's error as Atoi's and
/// CoreDNS's range.
pub fn parse_ttl(d: &mut Dispenser<'_>) -> Result<u32, Error> {
    let args = d.remaining_args();
    let Some(t) = args.first() else {
        return Err(d.arg_err());
    };
    let t = crate::gocompat::strconv::atoi(t).map_err(|e| d.err(e.to_string()))?;
    if !(0..=3600).contains(&t) {
        return Err(d.err(format!("ttl must be in range [0, 3600]: {t}")));
    }
    Ok(t as u32)
}
