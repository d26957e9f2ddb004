//! miekg's tables of type, class and rcode mnemonics (`StringToType`,
//! `StringToClass`, `StringToRcode`), which CoreDNS's setups look names up
//! in: exact, case-sensitive spellings only.

/// miekg's `TypeToString`, as (mnemonic, number).
const TYPES: &[(&str, u16)] = &[
    ("None", 0),
    ("A", 1),
    ("NS", 2),
    ("MD", 3),
    ("MF", 4),
    ("CNAME", 5),
    ("SOA", 6),
    ("MB", 7),
    ("MG", 8),
    ("MR", 9),
    ("NULL", 10),
    ("PTR", 12),
    ("HINFO", 13),
    ("MINFO", 14),
    ("MX", 15),
    ("TXT", 16),
    ("RP", 17),
    ("AFSDB", 18),
    ("X25", 19),
    ("ISDN", 20),
    ("RT", 21),
    ("NSAP-PTR", 23),
    ("SIG", 24),
    ("KEY", 25),
    ("PX", 26),
    ("GPOS", 27),
    ("AAAA", 28),
    ("LOC", 29),
    ("NXT", 30),
    ("EID", 31),
    ("NIMLOC", 32),
    ("SRV", 33),
    ("ATMA", 34),
    ("NAPTR", 35),
    ("KX", 36),
    ("CERT", 37),
    ("DNAME", 39),
    ("OPT", 41),
    ("APL", 42),
    ("DS", 43),
    ("SSHFP", 44),
    ("IPSECKEY", 45),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("DHCID", 49),
    ("NSEC3", 50),
    ("NSEC3PARAM", 51),
    ("TLSA", 52),
    ("SMIMEA", 53),
    ("HIP", 55),
    ("NINFO", 56),
    ("RKEY", 57),
    ("TALINK", 58),
    ("CDS", 59),
    ("CDNSKEY", 60),
    ("OPENPGPKEY", 61),
    ("CSYNC", 62),
    ("ZONEMD", 63),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("SPF", 99),
    ("UINFO", 100),
    ("UID", 101),
    ("GID", 102),
    ("UNSPEC", 103),
    ("NID", 104),
    ("L32", 105),
    ("L64", 106),
    ("LP", 107),
    ("EUI48", 108),
    ("EUI64", 109),
    ("NXNAME", 128),
    ("TKEY", 249),
    ("TSIG", 250),
    ("IXFR", 251),
    ("AXFR", 252),
    ("MAILB", 253),
    ("MAILA", 254),
    ("ANY", 255),
    ("URI", 256),
    ("CAA", 257),
    ("AVC", 258),
    ("AMTRELAY", 260),
    ("RESINFO", 261),
    ("TA", 32768),
    ("DLV", 32769),
    ("Reserved", 65535),
];

const CLASSES: &[(&str, u16)] = &[
    ("IN", 1),
    ("CS", 2),
    ("CH", 3),
    ("HS", 4),
    ("NONE", 254),
    ("ANY", 255),
];

const RCODES: &[(&str, u16)] = &[
    ("NOERROR", 0),
    ("FORMERR", 1),
    ("SERVFAIL", 2),
    ("NXDOMAIN", 3),
    ("NOTIMP", 4),
    // miekg's StringToRcode also takes the old spelling.
    ("NOTIMPL", 4),
    ("REFUSED", 5),
    ("YXDOMAIN", 6),
    ("YXRRSET", 7),
    ("NXRRSET", 8),
    ("NOTAUTH", 9),
    ("NOTZONE", 10),
    ("DSOTYPENI", 11),
    ("BADSIG", 16),
    ("BADVERS", 16),
    ("BADKEY", 17),
    ("BADTIME", 18),
    ("BADMODE", 19),
    ("BADNAME", 20),
    ("BADALG", 21),
    ("BADTRUNC", 22),
    ("BADCOOKIE", 23),
];

fn lookup(table: &[(&str, u16)], s: &str) -> Option<u16> {
    table.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
}

fn name_of(table: &'static [(&'static str, u16)], v: u16) -> &'static str {
    table
        .iter()
        .find(|(_, n)| *n == v)
        .map_or("", |(name, _)| name)
}

/// `dns.StringToType`.
pub fn type_from_str(s: &str) -> Option<u16> {
    lookup(TYPES, s)
}

/// `dns.TypeToString`: empty for numbers without a mnemonic.
pub fn type_to_str(t: u16) -> &'static str {
    name_of(TYPES, t)
}

/// `dns.StringToClass`.
pub fn class_from_str(s: &str) -> Option<u16> {
    lookup(CLASSES, s)
}

/// `dns.ClassToString`: empty for numbers without a mnemonic.
pub fn class_to_str(c: u16) -> &'static str {
    name_of(CLASSES, c)
}

/// miekg's `Class.String()`: the mnemonic, or `CLASS` and the number.
pub fn class_text(c: u16) -> String {
    match class_to_str(c) {
        "" => format!("CLASS{c}"),
        s => s.to_string(),
    }
}

/// miekg's `Type.String()`: the mnemonic, or `TYPE` and the number.
pub fn type_text(t: u16) -> String {
    match type_to_str(t) {
        "" => format!("TYPE{t}"),
        s => s.to_string(),
    }
}

/// `dns.StringToRcode`.
pub fn rcode_from_str(s: &str) -> Option<u16> {
    lookup(RCODES, s)
}

/// `dns.RcodeToString`: empty for numbers without a mnemonic (16 is BADSIG).
pub fn rcode_to_str(rc: u16) -> &'static str {
    name_of(RCODES, rc)
}

/// The mnemonic, or the number.
pub fn rcode_text(rc: u16) -> std::borrow::Cow<'static, str> {
    match rcode_to_str(rc) {
        "" => rc.to_string().into(),
        s => s.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        assert_eq!(type_from_str("AAAA"), Some(28));
        assert_eq!(type_from_str("aaaa"), None);
        assert_eq!(type_from_str("NSAP-PTR"), Some(23));
        assert_eq!(type_to_str(255), "ANY");
        assert_eq!(type_text(65280), "TYPE65280");
        assert_eq!(class_from_str("CH"), Some(3));
        assert_eq!(class_text(7), "CLASS7");
        assert_eq!(rcode_from_str("NXDOMAIN"), Some(3));
        assert_eq!(rcode_from_str("BADVERS"), Some(16));
        assert_eq!(rcode_from_str("nxdomain"), None);
        assert_eq!(rcode_to_str(16), "BADSIG");
        assert_eq!(rcode_text(12), "12");
        assert_eq!(rcode_text(11), "DSOTYPENI");
    }
}
