//! `-u -l -k`: a datagram listener's table of peers. Every sender it admits becomes a
//! peer, forgotten when it has sent nothing for the expiry (`-w`, else 60 s) or when the
//! table is full and a newer sender needs its place (the one idle longest goes). Pure
//! bookkeeping: the connection sends and receives, and says what changed.

use std::time::{Duration, Instant};

use crate::net::access::AccessFilter;
use crate::net::endpoint::PeerAddr;

/// Peers a table holds without `-m`.
pub(crate) const DEFAULT_MAX_PEERS: usize = 1024;
/// How long a peer that sends nothing stays in the table without `-w`: long enough for a
/// person to type a reply, short enough that a table of gone senders empties itself.
pub(crate) const DEFAULT_PEER_EXPIRY: Duration = Duration::from_secs(60);

/// Who may join a table, how many at once, and for how long when silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerRules {
    /// The most peers at once (`-m`, else `DEFAULT_MAX_PEERS`).
    pub(crate) max: usize,
    /// A peer silent for this long is forgotten (`-w`, else `DEFAULT_PEER_EXPIRY`).
    pub(crate) expiry: Duration,
    /// `--allow` / `--deny`.
    pub(crate) filter: AccessFilter,
}

/// One peer of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Peer {
    /// Where its datagrams come from and ours go.
    addr: PeerAddr,
    /// When it last sent a datagram.
    last_heard: Instant,
}

/// What a datagram from a sender did to the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Heard {
    /// A peer the table holds already.
    Known,
    /// A new peer; `evicted` made room for it.
    Joined {
        /// The peer idle longest, forgotten because the table was full.
        evicted: Option<PeerAddr>,
    },
    /// `--allow`/`--deny` refuse it: its datagram is dropped.
    Refused,
    /// It has no address to answer (an unnamed Unix socket): its datagram is kept, and it
    /// does not join.
    Unanswerable,
}

/// The peers of a `-u -l -k` listener, in the order they joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerTable {
    /// The rules.
    rules: PeerRules,
    /// The peers.
    peers: Vec<Peer>,
    /// The peers the datagram being sent has yet to reach, last first.
    pending: Vec<PeerAddr>,
}

impl PeerTable {
    /// An empty table.
    pub(crate) fn new(rules: PeerRules) -> PeerTable {
        PeerTable {
            rules,
            peers: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// How many peers it holds.
    pub(crate) fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether it holds none.
    pub(crate) fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The expiry.
    pub(crate) fn expiry(&self) -> Duration {
        self.rules.expiry
    }

    /// A datagram came from `from` at `now`.
    pub(crate) fn heard(&mut self, from: &PeerAddr, now: Instant) -> Heard {
        match from {
            PeerAddr::Unix(None) => return Heard::Unanswerable,
            PeerAddr::Inet(addr) if !self.rules.filter.admits(addr.ip()) => return Heard::Refused,
            _ => {}
        }
        if let Some(peer) = self.peers.iter_mut().find(|p| p.addr == *from) {
            peer.last_heard = now;
            return Heard::Known;
        }
        let evicted = (self.peers.len() >= self.rules.max.max(1)).then(|| {
            let oldest = self
                .peers
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| p.last_heard)
                .map_or(0, |(i, _)| i);
            self.peers.remove(oldest).addr
        });
        self.peers.push(Peer {
            addr: from.clone(),
            last_heard: now,
        });
        Heard::Joined { evicted }
    }

    /// Forget `addr` (it cannot be sent to).
    pub(crate) fn forget(&mut self, addr: &PeerAddr) {
        self.peers.retain(|p| p.addr != *addr);
        self.pending.retain(|p| p != addr);
    }

    /// When the next peer expires, if any.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.peers
            .iter()
            .map(|p| p.last_heard + self.rules.expiry)
            .min()
    }

    /// Forget the peers silent for the expiry at `now`; returns them.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<PeerAddr> {
        let expiry = self.rules.expiry;
        let (gone, kept) = std::mem::take(&mut self.peers)
            .into_iter()
            .partition::<Vec<_>, _>(|p| now >= p.last_heard + expiry);
        self.peers = kept;
        gone.into_iter().map(|p| p.addr).collect()
    }

    /// The next peer the datagram being sent must reach; a new datagram starts with every
    /// peer in the table (`None` when there is none left to reach).
    pub(crate) fn next_recipient(&mut self, starting: bool) -> Option<PeerAddr> {
        if starting {
            self.pending = self.peers.iter().rev().map(|p| p.addr.clone()).collect();
        }
        self.pending.last().cloned()
    }

    /// The datagram reached the peer `next_recipient` gave.
    pub(crate) fn sent_to_recipient(&mut self) {
        self.pending.pop();
    }

    /// Whether the datagram being sent still has peers to reach.
    pub(crate) fn is_sending(&self) -> bool {
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(max: usize, expiry_s: u64) -> PeerRules {
        PeerRules {
            max,
            expiry: Duration::from_secs(expiry_s),
            filter: AccessFilter::default(),
        }
    }

    fn inet(port: u16) -> PeerAddr {
        PeerAddr::Inet(([127, 0, 0, 1], port).into())
    }

    #[test]
    fn peers_join_once_and_the_idle_longest_makes_room() {
        let t0 = Instant::now();
        let mut table = PeerTable::new(rules(2, 60));
        assert_eq!(table.heard(&inet(1), t0), Heard::Joined { evicted: None });
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(table.heard(&inet(2), t1), Heard::Joined { evicted: None });
        // Peer 1 speaks again: peer 2 is now the one idle longest.
        assert_eq!(
            table.heard(&inet(1), t1 + Duration::from_secs(1)),
            Heard::Known
        );
        let t3 = t1 + Duration::from_secs(2);
        assert_eq!(
            table.heard(&inet(3), t3),
            Heard::Joined {
                evicted: Some(inet(2))
            }
        );
        assert_eq!(table.len(), 2);
        assert_eq!(table.heard(&PeerAddr::Unix(None), t3), Heard::Unanswerable);
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn peers_expire_after_their_own_silence() {
        let t0 = Instant::now();
        let mut table = PeerTable::new(rules(10, 5));
        table.heard(&inet(1), t0);
        table.heard(&inet(2), t0 + Duration::from_secs(3));
        assert_eq!(table.next_expiry(), Some(t0 + Duration::from_secs(5)));
        assert!(table.expire(t0 + Duration::from_secs(4)).is_empty());
        assert_eq!(table.expire(t0 + Duration::from_secs(5)), vec![inet(1)]);
        assert_eq!(table.next_expiry(), Some(t0 + Duration::from_secs(8)));
        assert_eq!(table.expire(t0 + Duration::from_secs(9)), vec![inet(2)]);
        assert!(table.is_empty());
        assert_eq!(table.next_expiry(), None);
    }

    #[test]
    fn peers_a_datagram_reaches_each_peer_in_turn() {
        let t0 = Instant::now();
        let mut table = PeerTable::new(rules(10, 5));
        table.heard(&inet(1), t0);
        table.heard(&inet(2), t0);
        assert_eq!(table.next_recipient(true), Some(inet(1)));
        table.sent_to_recipient();
        // A stall (WouldBlock) resumes with the peer not reached yet.
        assert_eq!(table.next_recipient(false), Some(inet(2)));
        table.forget(&inet(2));
        assert_eq!(table.next_recipient(false), None);
        assert!(!table.is_sending());
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn peers_refused_by_the_access_lists_do_not_join() {
        let mut lists = crate::config::AccessLists::default();
        lists
            .deny
            .push(crate::config::AccessEntry::Block([127, 0, 0, 2].into(), 32));
        let mut table = PeerTable::new(PeerRules {
            filter: AccessFilter::new(&lists).unwrap(),
            ..rules(10, 5)
        });
        let denied = PeerAddr::Inet(([127, 0, 0, 2], 9).into());
        assert_eq!(table.heard(&denied, Instant::now()), Heard::Refused);
        assert!(table.is_empty());
    }
}
