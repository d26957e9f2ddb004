//! CoreDNS's expression environment (`plugin/pkg/expression`'s
//! `DefaultEnv`): the functions an expression may call, their Go types
//! (the checker's errors name them), and their values for a query.

use super::eval::{Fault, Value};
use crate::plugin::Request;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Bufsize,
    Class,
    ClientIp,
    Do,
    Id,
    Name,
    Opcode,
    Port,
    Proto,
    ServerIp,
    ServerPort,
    Size,
    Type,
    Incidr,
    Metadata,
}

/// What a function takes and gives, as the checker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    Bool,
    Int,
    Str,
}

impl Func {
    pub fn named(name: &str) -> Option<Func> {
        Some(match name {
            "bufsize" => Func::Bufsize,
            "class" => Func::Class,
            "client_ip" => Func::ClientIp,
            "do" => Func::Do,
            "id" => Func::Id,
            "name" => Func::Name,
            "opcode" => Func::Opcode,
            "port" => Func::Port,
            "proto" => Func::Proto,
            "server_ip" => Func::ServerIp,
            "server_port" => Func::ServerPort,
            "size" => Func::Size,
            "type" => Func::Type,
            "incidr" => Func::Incidr,
            "metadata" => Func::Metadata,
            _ => return None,
        })
    }

    /// How many strings it takes (every argument is a string).
    pub fn arity(self) -> usize {
        match self {
            Func::Incidr => 2,
            Func::Metadata => 1,
            _ => 0,
        }
    }

    pub fn ret(self) -> Ret {
        match self {
            Func::Do | Func::Incidr => Ret::Bool,
            Func::Bufsize | Func::Id | Func::Opcode | Func::Size => Ret::Int,
            _ => Ret::Str,
        }
    }

    /// Its Go type, as expr's errors write it.
    pub fn go_type(self) -> &'static str {
        match self {
            Func::Incidr => "func(string, string) (bool, error)",
            Func::Metadata => "func(string) string",
            Func::Do => "func() bool",
            Func::Bufsize | Func::Id | Func::Opcode | Func::Size => "func() int",
            _ => "func() string",
        }
    }

    /// Its value for `req`; the checker saw to the arguments' number and
    /// types, a value of another type is a fault all the same.
    pub fn call(self, req: &Request, args: &[Value]) -> Result<Value, Fault> {
        let text = |v: &Value| match v {
            Value::Str(s) => Ok(s.clone()),
            _ => Err(Fault),
        };
        Ok(match self {
            Func::Bufsize => Value::Int(req.size() as i64),
            Func::Class => Value::Str(crate::wire::mnemonics::class_text(u16::from(req.qclass()))),
            Func::ClientIp => Value::Str(go_ip(req.src.ip())),
            Func::Do => Value::Bool(req.do_bit()),
            Func::Id => Value::Int(i64::from(req.msg.metadata.id)),
            Func::Name => Value::Str(req.name.clone()),
            Func::Opcode => Value::Int(i64::from(u8::from(req.msg.metadata.op_code))),
            Func::Port => Value::Str(req.src.port().to_string()),
            Func::Proto => Value::Str(req.proto.as_str().to_string()),
            Func::ServerIp => Value::Str(go_ip(req.local.ip())),
            Func::ServerPort => Value::Str(req.local.port().to_string()),
            Func::Size => Value::Int(req.wire_len as i64),
            Func::Type => Value::Str(crate::wire::mnemonics::type_text(u16::from(req.qtype()))),
            Func::Incidr => match args {
                [ip, cidr] => Value::Bool(incidr(&text(ip)?, &text(cidr)?)?),
                _ => return Err(Fault),
            },
            Func::Metadata => match args {
                [label] => {
                    let label = text(label)?;
                    let v = req.metadata.as_ref().and_then(|m| m.get(&label));
                    Value::Str(v.unwrap_or_default().to_string())
                }
                _ => return Err(Fault),
            },
        })
    }
}

/// An address as Go's `net.IP.String` writes it: IPv4-mapped addresses as
/// IPv4, no brackets (CoreDNS takes it from `net.SplitHostPort`).
fn go_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// CoreDNS's `incidr`: whether `ip` is in `cidr`, with Go's `net.ParseIP`,
/// `net.ParseCIDR` and `IPNet.Contains` (IPv4-mapped addresses and
/// networks count as IPv4).
pub fn incidr(ip: &str, cidr: &str) -> Result<bool, Fault> {
    let ip: IpAddr = ip.parse().map_err(|_| Fault)?;
    let ip4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    let (addr, bits) = cidr.split_once('/').ok_or(Fault)?;
    let addr: IpAddr = addr.parse().map_err(|_| Fault)?;
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Fault);
    }
    let n: u32 = bits.parse().map_err(|_| Fault)?;
    match addr {
        IpAddr::V4(net) => {
            if n > 32 {
                return Err(Fault);
            }
            Ok(ip4.is_some_and(|ip| same_prefix_v4(ip, net, n)))
        }
        IpAddr::V6(net) => {
            if n > 128 {
                return Err(Fault);
            }
            let mask = u128::MAX.checked_shl(128 - n).unwrap_or(0);
            let masked = Ipv6Addr::from(u128::from(net) & mask);
            match (masked.to_ipv4_mapped(), ip4) {
                (Some(net4), Some(ip)) if n >= 96 => Ok(same_prefix_v4(ip, net4, n - 96)),
                (_, Some(_)) => Ok(false),
                (_, None) => Ok(u128::from(ip_v6(ip)) & mask == u128::from(masked)),
            }
        }
    }
}

fn ip_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V6(v6) => v6,
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
    }
}

fn same_prefix_v4(ip: Ipv4Addr, net: Ipv4Addr, n: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - n).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incidr_as_coredns() {
        // CoreDNS's own cases (expression_test.go).
        assert_eq!(incidr("1.2.3.4", "1.2.0.0/16"), Ok(true));
        assert_eq!(incidr("10.2.3.4", "1.2.0.0/16"), Ok(false));
        assert_eq!(incidr("1:2::3:4", "1:2::/64"), Ok(true));
        assert_eq!(incidr("A:2::3:4", "1:2::/64"), Ok(false));
        assert_eq!(incidr("1.2.3.4", "invalid"), Err(Fault));
        assert_eq!(incidr("invalid", "1.2.0.0/16"), Err(Fault));
        // Go's IPNet.Contains: IPv4 in IPv4-mapped networks, never in
        // IPv6 ones; leading zeros in the length are Go's too.
        assert_eq!(incidr("127.0.0.1", "::ffff:127.0.0.0/104"), Ok(true));
        assert_eq!(incidr("::ffff:127.0.0.1", "127.0.0.0/08"), Ok(true));
        assert_eq!(incidr("127.0.0.1", "::/0"), Ok(false));
        assert_eq!(incidr("::1", "0.0.0.0/0"), Ok(false));
        assert_eq!(incidr("127.0.0.1", "0.0.0.0/0"), Ok(true));
        assert_eq!(incidr("127.0.0.1", "127.0.0.0/33"), Err(Fault));
        assert_eq!(incidr("127.0.0.1", "127.0.0.0/+8"), Err(Fault));
        assert_eq!(incidr("[::1]", "::/0"), Err(Fault));
    }

    #[test]
    fn addresses_as_go_writes_them() {
        assert_eq!(go_ip("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
        assert_eq!(go_ip("::1".parse().unwrap()), "::1");
        assert_eq!(go_ip("2001:db8::1".parse().unwrap()), "2001:db8::1");
    }
}
