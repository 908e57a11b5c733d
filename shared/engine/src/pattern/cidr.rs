//! `cidr` matching of IPv4 and IPv6 addresses.
//!
//! Addresses are read as AWS's engine reads them, not as Rust's
//! `std::net` parsers do. event-ruler (aws/event-ruler,
//! `src/main/software/amazon/event/ruler/CIDR.java`, `ipToBytes`) takes a
//! string as an address only if it matches `Constants.IPv4_REGEX`
//! (`[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+`) or `Constants.IPv6_REGEX`
//! (`[0-9a-fA-F:]*:[0-9a-fA-F:]*`), whole, and then hands it to Java's
//! `InetAddress.getByName`, that is to the JDK's
//! `sun.net.util.IPAddressUtil`. The same reading serves the pattern's
//! address (`CIDR.cidr`), an exact pattern value that looks like an
//! address (`CIDR.ipToRangeIfPossible`, see below) and each event value
//! (`ByteMachine.transitionOn`, which calls `CIDR.ipToString` on every
//! string value once the machine holds such a range). What follows from
//! that:
//!
//! * IPv4 (`textToNumericFormatV4`): four dot-separated runs of ASCII
//!   digits, each read in **decimal** whatever its leading zeros
//!   (`035.249.253.232` is 35.249.253.232, never octal), each at most 255,
//!   and the whole text at most **15 characters** (`if (len == 0 || len >
//!   15) return null`). A longer text is no IPv4 literal; current JDKs
//!   (`validateNumericFormatV4`, `jdk.net.allowAmbiguousIPAddressLiterals`
//!   unset, as in event-ruler's Java 17 reference runs) refuse it as an
//!   "ambiguous" literal when it reads as a BSD (octal) address, and
//!   otherwise find no host by that name: either way it is not an address.
//!   (Rust's `Ipv4Addr` refuses every leading zero: `035.249.253.232` in
//!   the Stratus detonation logs never matched before.)
//! * IPv6 (`textToNumericFormatV6`): hexadecimal groups separated by `:`,
//!   at most one `::`, eight groups in all. A group may have **any number
//!   of leading zeros** as long as its value fits 16 bits (`00000db8` is
//!   `db8`; Rust's `Ipv6Addr` allows four digits). The regular expression
//!   admits no `.` and no `%`, so an embedded IPv4 tail (`::ffff:1.2.3.4`)
//!   or a zone (`fe80::1%eth0`) is not an address at all.
//! * An IPv4-mapped IPv6 address (`::ffff:a00:1`) is converted to the IPv4
//!   address (`convertFromIPv4MappedAddress`), and compared as one: it is
//!   inside `10.0.0.0/8`, and a pattern `::ffff:a00:0/104` has an IPv4
//!   address with 104 mask bits, which is refused.
//!
//! # Exact values that look like addresses
//!
//! event-ruler reads addresses in one more place. `JsonRuleCompiler.writeRules`
//! passes every plain string of a field's array (`"sourceIPAddress":
//! ["10.0.0.1"]`, in a `$or` branch too, which reaches the same method)
//! through `CIDR.ipToRangeIfPossible`: a string that reads as an address
//! as above is stored as a CIDR `Range` holding that one address, and no
//! exact string is kept. Its machine then has `hasIP`, so
//! `ByteMachine.transitionOn` reads each event value at that field with
//! `CIDR.ipToString` (dropping the quotes event-ruler puts around strings)
//! and walks the hexadecimal digits of the address through the ranges.
//! So `"10.0.0.1"` matches `"010.0.0.1"`, and `"2001:db8::1"` matches
//! `"2001:0DB8:0:0:0:0:0:1"` ([`MatchValue::Address`](super::match_value::MatchValue::Address)).
//! Only plain strings are read so: `anything-but` values
//! (`processAnythingButMatchExpression`, `…ListMatchExpression`),
//! `equals-ignore-case`, `prefix`, `suffix` and `wildcard` stay strings,
//! and a string that is not an address (`999.0.0.1`, `abc:def`,
//! `::ffff:10.0.0.1`) stays an exact string.
//!
//! A range is matched on the digits of the value "as soon as you see the
//! match" (`ByteMachine.doTransitionOn`, case `NUMERIC_RANGE`), without
//! waiting for the value to end: an IPv4 range's paths are 8 hex digits
//! long, an IPv6 address has 32, so an IPv6 event value whose **first 32
//! bits** fall in an IPv4 range or equal an IPv4 exact value matches it
//! (`a00:1::` matches `"10.0.0.1"` and `10.0.0.0/8`). An IPv4 value (8
//! digits) ends before any IPv6 range matches, so the reverse never holds.
//! ([`Cidr::contains`], [`Addr::is`].)
//!
//! Two effects of the same machinery are not reproduced, because they
//! depend on a JSON number's text and on the other patterns that share
//! event-ruler's per-field machine (other rules, other `$or` branches),
//! neither of which this engine keeps; CloudTrail writes addresses as
//! strings. (1) When the field's machine has no numeric pattern, a
//! *number* in the event is walked as unquoted text through the ranges:
//! `"16.0.0.1"` (hex `10000001`) matches the number `10000001`, and
//! `10000001.5`. (2) In the address pass, a number pattern whose text is
//! those hex digits is compared too: `[10000001, "10.0.0.1"]` matches
//! `"16.0.0.1"`. Here numbers never match addresses and addresses never
//! match numbers.

/// An address, as event-ruler compares them: four bytes or sixteen, never
/// one against the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addr {
    V4(u32),
    V6(u128),
}

impl Addr {
    /// Whether an event's address `value` matches this address written as
    /// an exact pattern value (event-ruler's one-address range, see the
    /// module documentation): the same address, or for an IPv4 pattern
    /// value an IPv6 address whose first 32 bits are that IPv4 address.
    pub(crate) fn is(self, value: Addr) -> bool {
        match (self, value) {
            (Addr::V4(p), Addr::V4(v)) => p == v,
            (Addr::V4(p), Addr::V6(v)) => p == first_32_bits(v),
            (Addr::V6(p), Addr::V6(v)) => p == v,
            (Addr::V6(_), Addr::V4(_)) => false,
        }
    }
}

/// The first 32 bits of an IPv6 address: the part of its 32 hex digits
/// that an IPv4 range's 8-digit paths read (`ByteMachine.doTransitionOn`).
pub(crate) fn first_32_bits(v6: u128) -> u32 {
    (v6 >> 96) as u32
}

/// IPv4 literals longer than this are not read (`textToNumericFormatV4`).
const MAX_V4_LEN: usize = 15;

/// Read `text` as an IP address literal the way event-ruler does (see the
/// module documentation); `None` if it is not one.
pub(crate) fn parse_addr(text: &str) -> Option<Addr> {
    if is_v4_shaped(text) {
        return parse_v4(text).map(Addr::V4);
    }
    if is_v6_shaped(text) {
        return parse_v6(text).map(|bytes| match v4_mapped(bytes) {
            Some(v4) => Addr::V4(v4),
            None => Addr::V6(bytes),
        });
    }
    None
}

/// `[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+`, matched whole.
fn is_v4_shaped(text: &str) -> bool {
    let mut parts = 0;
    for part in text.split('.') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        parts += 1;
    }
    parts == 4
}

/// `[0-9a-fA-F:]*:[0-9a-fA-F:]*`, matched whole.
fn is_v6_shaped(text: &str) -> bool {
    text.contains(':') && text.bytes().all(|b| b == b':' || b.is_ascii_hexdigit())
}

/// Four decimal octets (already shaped), at most 15 characters.
fn parse_v4(text: &str) -> Option<u32> {
    if text.len() > MAX_V4_LEN {
        return None;
    }
    let mut addr = 0u32;
    for part in text.split('.') {
        // At most 15 characters: a part has at most 12 digits.
        let octet: u64 = part.parse().ok()?;
        addr = (addr << 8) | u32::from(u8::try_from(octet).ok()?);
    }
    Some(addr)
}

/// The JDK's `textToNumericFormatV6` on text of hex digits and colons.
fn parse_v6(text: &str) -> Option<u128> {
    let b = text.as_bytes();
    // The shortest address is "::".
    if b.len() < 2 {
        return None;
    }
    let mut groups: Vec<u16> = Vec::with_capacity(8);
    // Where "::" stands, as a count of the groups before it.
    let mut gap: Option<usize> = None;
    let mut i = 0;
    // A leading colon must be half of a leading "::".
    if b[0] == b':' {
        if b[1] != b':' {
            return None;
        }
        i = 1;
    }
    let mut value: u32 = 0;
    let mut digits = false;
    while let Some(&c) = b.get(i) {
        i += 1;
        if c == b':' {
            if !digits {
                // "::": only one.
                if gap.is_some() {
                    return None;
                }
                gap = Some(groups.len());
                continue;
            }
            // A trailing single colon.
            if i == b.len() || groups.len() == 8 {
                return None;
            }
            groups.push(value as u16);
            value = 0;
            digits = false;
            continue;
        }
        let d = char::from(c).to_digit(16)?;
        // Leading zeros are free; the value must fit 16 bits.
        value = (value << 4) | d;
        if value > 0xffff {
            return None;
        }
        digits = true;
    }
    if digits {
        if groups.len() == 8 {
            return None;
        }
        groups.push(value as u16);
    }
    let mut out = [0u16; 8];
    match gap {
        // "::" stands for at least one group.
        Some(_) if groups.len() == 8 => return None,
        Some(at) => {
            let (head, tail) = groups.split_at(at);
            out[..head.len()].copy_from_slice(head);
            out[8 - tail.len()..].copy_from_slice(tail);
        }
        None if groups.len() == 8 => out.copy_from_slice(&groups),
        None => return None,
    }
    Some(out.iter().fold(0u128, |acc, &g| (acc << 16) | u128::from(g)))
}

/// The IPv4 address of an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
fn v4_mapped(addr: u128) -> Option<u32> {
    (addr >> 32 == 0xffff).then_some(addr as u32)
}

/// A CIDR block, compared as integers under its mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4 { net: u32, mask: u32 },
    V6 { net: u128, mask: u128 },
}

impl Cidr {
    /// `a.b.c.d/n` or `x:y::z/n` as event-ruler's `CIDR.cidr` reads it;
    /// `None` where event-ruler refuses it.
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        // `cidr.split("/")` must give two parts; Java's split drops
        // trailing empty parts, so "10.0.0.0/8/" has two.
        let mut parts: Vec<&str> = text.split('/').collect();
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        let [addr, bits] = parts[..] else {
            return None;
        };
        let bits = mask_bits(bits)?;
        match parse_addr(addr)? {
            // event-ruler refuses /32 and /128: a single address is an exact match.
            Addr::V4(a) if bits < 32 => {
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                Some(Cidr::V4 { net: a & mask, mask })
            }
            Addr::V6(a) if bits < 128 => {
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                Some(Cidr::V6 { net: a & mask, mask })
            }
            _ => None,
        }
    }

    /// Why [`Cidr::parse`] refuses `text`, for the error message.
    pub(crate) fn refusal(text: &str) -> &'static str {
        let mut parts: Vec<&str> = text.split('/').collect();
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        let [addr, bits] = parts[..] else {
            return "write an IP address, a slash and a mask";
        };
        if mask_bits(bits).is_none() {
            return "the mask after the slash must be a number of bits";
        }
        match parse_addr(addr) {
            None => "the part before the slash is not an IP address",
            Some(Addr::V4(_)) => "an IPv4 mask must be below 32 bits (for one address, match it exactly)",
            Some(Addr::V6(_)) => "an IPv6 mask must be below 128 bits (for one address, match it exactly)",
        }
    }

    /// Whether the block holds `addr`. An IPv6 address is inside an IPv4
    /// block when its first 32 bits are (event-ruler matches a range as
    /// soon as the value's digits reach its end, see the module
    /// documentation); an IPv4 address is never inside an IPv6 block.
    pub(crate) fn contains(&self, addr: Addr) -> bool {
        match (self, addr) {
            (Cidr::V4 { net, mask }, Addr::V4(a)) => a & mask == *net,
            (Cidr::V4 { net, mask }, Addr::V6(a)) => first_32_bits(a) & mask == *net,
            (Cidr::V6 { net, mask }, Addr::V6(a)) => a & mask == *net,
            (Cidr::V6 { .. }, Addr::V4(_)) => false,
        }
    }
}

/// The mask as Java's `Integer.parseInt` reads it (an optional `+` or `-`,
/// then decimal digits), refused when negative (`-0` is 0). Java also takes
/// non-ASCII decimal digits there; those are refused here.
fn mask_bits(text: &str) -> Option<u32> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    if negative || digits.len() > 3 {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(c: &str, ip: &str) -> bool {
        let addr = parse_addr(ip).unwrap_or_else(|| panic!("{ip} is an address"));
        Cidr::parse(c).expect("cidr").contains(addr)
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Option<Addr> {
        Some(Addr::V4(u32::from_be_bytes([a, b, c, d])))
    }

    #[test]
    fn v4_and_v6() {
        assert!(hit("10.0.0.0/24", "10.0.0.255"));
        assert!(!hit("10.0.0.0/24", "10.0.1.0"));
        assert!(hit("0.0.0.0/0", "8.8.8.8"));
        assert!(hit("2001:db8::/32", "2001:db8:ffff::1"));
        assert!(!hit("2001:db8::/32", "2001:db9::1"));
        assert!(hit("10.1.2.3/8", "10.9.9.9"), "host bits are ignored");
        assert!(!hit("2001:db8::/32", "10.0.0.1"), "four bytes never inside sixteen");
        assert!(!hit("2001:db8::/32", "32.1.13.184"), "not even 2001:0db8 in hex");
        assert!(!hit("10.0.0.0/8", "2001:db8::1"), "first 32 bits 32.1.13.184");
    }

    /// `035.249.253.232` is in the Stratus Red Team detonation logs; JDK's
    /// `textToNumericFormatV4` reads each part in decimal.
    #[test]
    fn v4_leading_zeros_are_decimal() {
        assert_eq!(parse_addr("035.249.253.232"), v4(35, 249, 253, 232));
        assert_eq!(parse_addr("010.000.000.001"), v4(10, 0, 0, 1), "decimal, not octal 8.0.0.1");
        assert_eq!(parse_addr("08.1.250.216"), v4(8, 1, 250, 216), "08 is no octal number, but decimal 8");
        assert_eq!(parse_addr("0000010.0.0.1"), v4(10, 0, 0, 1), "any number of zeros within 15 characters");
        assert!(hit("35.249.0.0/16", "035.249.253.232"));
        assert!(hit("10.0.0.0/8", "010.000.000.001"));
        assert!(!hit("8.0.0.0/8", "010.000.000.001"));
        assert!(hit("35.249.0.0/16", "35.249.253.232"));
    }

    #[test]
    fn v4_at_most_15_characters() {
        assert_eq!(parse_addr("255.255.255.255"), v4(255, 255, 255, 255));
        assert_eq!(parse_addr("0035.249.253.23"), v4(35, 249, 253, 23), "15 characters");
        assert_eq!(parse_addr("0035.249.253.232"), None, "16 characters");
        assert_eq!(parse_addr("000000000010.0.0.1"), None);
        assert_eq!(parse_addr("000000000000000000010.0.0.1"), None, "no overflow either");
    }

    #[test]
    fn not_v4() {
        for bad in [
            "10.0.0.256",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "1.2.3.",
            ".1.2.3",
            "1.2.3.-4",
            "+1.2.3.4",
            " 1.2.3.4",
            "1.2.3.4 ",
            "0x1.2.3.4",
            "1.2.3.4/8",
            "١.٢.٣.٤",
            "",
            "AWS Internal",
        ] {
            assert_eq!(parse_addr(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn v6_leading_zeros_within_16_bits() {
        let db8 = (0x2001_0db8_u128 << 96) | 1;
        assert_eq!(parse_addr("2001:db8::1"), Some(Addr::V6(db8)));
        assert_eq!(parse_addr("2001:0db8:0000:0000:0000:0000:0000:0001"), Some(Addr::V6(db8)));
        assert_eq!(parse_addr("2001:00000db8::000000001"), Some(Addr::V6(db8)), "more than four digits, 16-bit value");
        assert_eq!(parse_addr("2001:DB8::1"), Some(Addr::V6(db8)), "either case");
        assert_eq!(parse_addr("2001:10db8::1"), None, "17 bits");
        assert!(hit("2001:db8::/32", "2001:00000db8::1"));
    }

    #[test]
    fn v6_shapes() {
        assert_eq!(parse_addr("::"), Some(Addr::V6(0)));
        assert_eq!(parse_addr("::1"), Some(Addr::V6(1)));
        assert_eq!(parse_addr("1::"), Some(Addr::V6(1 << 112)));
        assert_eq!(parse_addr("1:2:3:4:5:6:7:8"), Some(Addr::V6(0x0001_0002_0003_0004_0005_0006_0007_0008)));
        for bad in [
            ":",
            ":1",
            "1:",
            "1:::2",
            "1::2::3",
            ":::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7::8",
            "::1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8::",
            "g::1",
            // No embedded IPv4 tail and no zone: IPv6_REGEX admits neither `.` nor `%`.
            "::ffff:10.0.0.1",
            "::1.2.3.4",
            "64:ff9b::1.2.3.4",
            "fe80::1%eth0",
            "fe80::1%1",
        ] {
            assert_eq!(parse_addr(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn v4_mapped_v6_is_v4() {
        assert_eq!(parse_addr("::ffff:a00:1"), v4(10, 0, 0, 1));
        assert_eq!(parse_addr("0:0:0:0:0:ffff:0a00:0001"), v4(10, 0, 0, 1));
        assert!(hit("10.0.0.0/8", "::ffff:a00:1"));
        assert_eq!(parse_addr("::fffe:a00:1"), Some(Addr::V6(0xfffe_0a00_0001)), "not mapped");
        // A mapped pattern address is IPv4: a v6-sized mask is refused,
        // a v4-sized one is an IPv4 block.
        assert_eq!(Cidr::parse("::ffff:0:0/96"), None);
        assert_eq!(Cidr::parse("::ffff:a00:0/8"), Cidr::parse("10.0.0.0/8"));
    }

    #[test]
    fn pattern_addresses_read_the_same_way() {
        assert_eq!(Cidr::parse("010.000.000.000/8"), Cidr::parse("10.0.0.0/8"));
        assert_eq!(Cidr::parse("2001:00000db8::/32"), Cidr::parse("2001:db8::/32"));
        assert_eq!(Cidr::parse("0010.000.000.000/8"), None, "16 characters");
    }

    #[test]
    fn masks_as_java_parses_integers() {
        assert_eq!(Cidr::parse("10.0.0.0/+8"), Cidr::parse("10.0.0.0/8"));
        assert_eq!(Cidr::parse("10.0.0.0/008"), Cidr::parse("10.0.0.0/8"));
        assert_eq!(Cidr::parse("10.0.0.0/-0"), Cidr::parse("10.0.0.0/0"));
        assert_eq!(Cidr::parse("10.0.0.0/8/"), Cidr::parse("10.0.0.0/8"), "split drops trailing empty parts");
        assert_eq!(Cidr::parse("10.0.0.0/8//"), Cidr::parse("10.0.0.0/8"));
        assert_eq!(Cidr::parse("10.0.0.0/0000000000000000031"), Cidr::parse("10.0.0.0/31"));
    }

    /// event-ruler matches a range as soon as the value's hex digits reach
    /// its end (`ByteMachine.doTransitionOn`, `NUMERIC_RANGE`): an IPv6
    /// value's first 8 of 32 digits complete an IPv4 range.
    #[test]
    fn ipv6_value_in_ipv4_block_by_its_first_32_bits() {
        assert!(hit("10.0.0.0/8", "a00::"));
        assert!(hit("10.0.0.0/8", "0a12:3456:ffff::1"));
        assert!(!hit("10.0.0.0/8", "b00::"));
        assert!(hit("10.0.0.0/24", "a00:ff::"));
        assert!(!hit("10.0.0.0/24", "a00:100::"));
        assert!(hit("0.0.0.0/0", "2001:db8::1"), "every IPv6 address is in 0.0.0.0/0");
        assert!(!hit("2001:db8::/32", "32.1.13.184"), "an IPv4 value never reaches an IPv6 range's end");
    }

    /// An exact pattern value that reads as an address is one address
    /// (`CIDR.ipToRangeIfPossible`), compared the way a block is.
    #[test]
    fn exact_address_values() {
        let is = |p: &str, v: &str| parse_addr(p).expect("pattern address").is(parse_addr(v).expect("address"));
        assert!(is("10.0.0.1", "010.000.000.001"));
        assert!(is("10.0.0.1", "::ffff:a00:1"), "IPv4-mapped is IPv4");
        assert!(is("::ffff:a00:1", "10.0.0.1"));
        assert!(is("10.0.0.1", "a00:1::"), "first 32 bits");
        assert!(is("10.0.0.1", "a00:1:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert!(!is("10.0.0.1", "a00:2::"));
        assert!(!is("10.0.0.2", "10.0.0.1"));
        assert!(is("2001:db8::1", "2001:0DB8:0:0:0:0:0:1"));
        assert!(!is("2001:db8::", "32.1.13.184"), "four bytes are never sixteen");
        assert!(!is("2001:db8::1", "2001:db8::2"));
        assert!(is("0.0.0.0", "::"), "the first 32 bits of :: are 0.0.0.0");
        assert!(!is("::", "0.0.0.0"));
    }

    #[test]
    fn refused() {
        for bad in [
            "10.0.0.0",
            "10.0.0.0/32",
            "::1/128",
            "10.0.0.0/33",
            "10.0.0/8",
            "x/8",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "10.0.0.0/+",
            "10.0.0.0/ 8",
            "10.0.0.0/8 ",
            "10.0.0.0//8",
            "10.0.0.0/8/1",
            "/8",
            "10.0.0.0/99999999999",
            "10.0.0.256/8",
            "::ffff:10.0.0.0/104",
            "",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }
}
