//! `--allow` and `--deny`: which clients a listener admits. Names are looked up once, when
//! the listener starts (as ncat does); a client is matched on its address, IPv4-mapped
//! IPv6 addresses as the IPv4 address they carry.

use std::net::IpAddr;

use crate::config::{AccessEntry, AccessLists, Family, Host};
use crate::error::Result;
use crate::net::resolve;

/// Address blocks a client must be in (when any) and must not be in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AccessFilter {
    /// Admitted blocks; empty admits everyone not denied.
    allow: Vec<(IpAddr, u8)>,
    /// Refused blocks.
    deny: Vec<(IpAddr, u8)>,
}

impl AccessFilter {
    /// The filter for `lists`, names resolved now.
    pub(crate) fn new(lists: &AccessLists) -> Result<AccessFilter> {
        Ok(AccessFilter {
            allow: blocks(&lists.allow)?,
            deny: blocks(&lists.deny)?,
        })
    }

    /// Whether a client from `ip` may stay.
    pub(crate) fn admits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let matches = |&(block, bits): &(IpAddr, u8)| in_block(ip, block, bits);
        if self.deny.iter().any(matches) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(matches)
    }
}

/// Each entry as address blocks (a name gives one per address).
fn blocks(entries: &[AccessEntry]) -> Result<Vec<(IpAddr, u8)>> {
    let mut out = Vec::new();
    for entry in entries {
        match entry {
            AccessEntry::Block(ip, bits) => out.push((ip.to_canonical(), *bits)),
            AccessEntry::Name(name) => {
                for addr in resolve(&Host::Name(name.clone()), 0, Family::Any)? {
                    let ip = addr.ip().to_canonical();
                    out.push((ip, if ip.is_ipv4() { 32 } else { 128 }));
                }
            }
        }
    }
    Ok(out)
}

/// Whether the first `bits` bits of `ip` are those of `block`.
fn in_block(ip: IpAddr, block: IpAddr, bits: u8) -> bool {
    let (a, b, width) = match (ip, block) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let bits = u32::from(bits).min(width);
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn access_blocks_match_by_prefix() {
        assert!(in_block(ip("10.1.2.3"), ip("10.0.0.0"), 8));
        assert!(!in_block(ip("11.1.2.3"), ip("10.0.0.0"), 8));
        assert!(in_block(ip("1.2.3.4"), ip("0.0.0.0"), 0));
        assert!(in_block(ip("fe80::1"), ip("fe80::"), 10));
        assert!(!in_block(ip("::1"), ip("127.0.0.1"), 32));
    }

    #[test]
    fn access_deny_wins_and_mapped_addresses_count_as_ipv4() {
        let filter = AccessFilter {
            allow: vec![(ip("127.0.0.0"), 8)],
            deny: vec![(ip("127.0.0.2"), 32)],
        };
        assert!(filter.admits(ip("127.0.0.1")));
        assert!(filter.admits(ip("::ffff:127.0.0.1")));
        assert!(!filter.admits(ip("127.0.0.2")));
        assert!(!filter.admits(ip("::1")));
        assert!(AccessFilter::default().admits(ip("::1")));
    }
}
