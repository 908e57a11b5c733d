//! `cidr` matching of IPv4 and IPv6 addresses.

use std::net::IpAddr;

/// A CIDR block, compared as integers under its mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4 { net: u32, mask: u32 },
    V6 { net: u128, mask: u128 },
}

impl Cidr {
    /// `a.b.c.d/n` or `x:y::z/n`; `None` if it is not a CIDR block.
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let (addr, bits) = text.split_once('/')?;
        if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let bits: u32 = bits.parse().ok()?;
        match addr.parse::<IpAddr>().ok()? {
            // event-ruler refuses /32 and /128: a single address is an exact match.
            IpAddr::V4(a) if bits < 32 => {
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                Some(Cidr::V4 { net: u32::from(a) & mask, mask })
            }
            IpAddr::V6(a) if bits < 128 => {
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                Some(Cidr::V6 { net: u128::from(a) & mask, mask })
            }
            _ => None,
        }
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Cidr::V4 { net, mask }, IpAddr::V4(a)) => u32::from(a) & mask == *net,
            (Cidr::V6 { net, mask }, IpAddr::V6(a)) => u128::from(a) & mask == *net,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(c: &str, ip: &str) -> bool {
        Cidr::parse(c).expect("cidr").contains(ip.parse().expect("ip"))
    }

    #[test]
    fn v4_and_v6() {
        assert!(hit("10.0.0.0/24", "10.0.0.255"));
        assert!(!hit("10.0.0.0/24", "10.0.1.0"));
        assert!(hit("0.0.0.0/0", "8.8.8.8"));
        assert!(hit("2001:db8::/32", "2001:db8:ffff::1"));
        assert!(!hit("2001:db8::/32", "2001:db9::1"));
        assert!(!hit("10.0.0.0/8", "::ffff:10.0.0.1"));
        assert!(hit("10.1.2.3/8", "10.9.9.9"), "host bits are ignored");
    }

    #[test]
    fn refused() {
        for bad in ["10.0.0.0", "10.0.0.0/32", "::1/128", "10.0.0.0/33", "10.0.0/8", "x/8", "::/129", "10.0.0.0/", "10.0.0.0/+8"] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }
}
