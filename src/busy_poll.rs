//! Adaptive busy polling: after a small exchange that answers the one before (bytes moved
//! the other way), poll without sleeping for a few tens of microseconds before blocking,
//! when the traffic shows replies come back that fast.
//!
//! Why: in request/response traffic (rnc as an `ssh` `ProxyCommand`, a script driving a
//! server through rnc's pipes) most of the latency rnc adds is not its syscalls but the
//! two sleeps per round trip: each wake-up of a sleeping process costs a scheduler round
//! and, when the CPU went idle, an idle exit (an inter-processor interrupt, a VM exit on a
//! virtual machine). Staying on the CPU while the reply is on its way removes both.
//!
//! What bounds its cost:
//! - it follows only an exchange that moved at most [`SMALL_EXCHANGE`] bytes and took
//!   a turn: bytes moved the other way than in the exchange before, or both ways. Bulk
//!   transfers and one-way streams (`tail -f log | rnc`), which wait for more of the
//!   same rather than for a reply, never spin;
//! - it spins only while the previous wait after such an exchange ended within the
//!   window: a human typing or a slow server makes the next wait sleep at once, so an
//!   idle session costs nothing and a slow one at most one window per burst;
//! - it stops once either direction has ended (stdin EOF, the peer's FIN): a closing
//!   connection awaits no reply, and a spin there only kept the CPU from the peer
//!   that was closing (measured: `rnc HOST PORT <<< hello` took 10% longer with it);
//! - it is off on a single CPU, where spinning would keep the peer process off the CPU
//!   it needs to answer, and over datagrams, where UDP round trips measured no faster
//!   with it and a UDP feed lost goodput (`bench/busy_poll_cost.py --udp`);
//!   `--no-busy-poll` turns it off.
//!
//! This file holds only the policy; `event_loop.rs` does the polling.

use std::sync::OnceLock;
use std::time::Duration;

/// The longest busy-poll before sleeping: a little more than a sleep and wake-up costs.
pub(crate) const WINDOW: Duration = Duration::from_micros(50);

/// An exchange that moved at most this many bytes (both directions) may be followed by a
/// busy-poll: request/response sized, far below a bulk transfer's reads.
pub(crate) const SMALL_EXCHANGE: u64 = 16 * 1024;

/// The busy-poll policy of one session.
#[derive(Debug)]
pub(crate) struct BusyPoll {
    enabled: bool,
    /// Whether spinning can help here; asked only when it would spin.
    several_cpus: fn() -> bool,
    /// Whether the exchange before the coming wait was small and took a turn.
    after_small: bool,
    /// The direction of the last exchange that moved bytes.
    last_turn: Option<Turn>,
    /// Whether the last wait after a small exchange ended within [`WINDOW`].
    quick_turnaround: bool,
}

impl BusyPoll {
    /// The policy for a session; `enabled` is false with `--no-busy-poll`.
    pub(crate) fn new(enabled: bool, datagram: bool) -> BusyPoll {
        BusyPoll::with_cpu_check(enabled && !datagram, several_cpus)
    }

    fn with_cpu_check(enabled: bool, several_cpus: fn() -> bool) -> BusyPoll {
        BusyPoll {
            enabled,
            several_cpus,
            after_small: false,
            last_turn: None,
            quick_turnaround: true,
        }
    }

    /// Record how many bytes were sent to and received from the peer since the last
    /// wait, before the next one.
    pub(crate) fn exchanged(&mut self, sent: u64, received: u64) {
        let turn = match (sent > 0, received > 0) {
            (false, false) => None,
            (true, false) => Some(Turn::Sent),
            (false, true) => Some(Turn::Received),
            (true, true) => Some(Turn::Both),
        };
        let took_turn = turn == Some(Turn::Both) || turn != self.last_turn;
        self.after_small = turn.is_some() && sent + received <= SMALL_EXCHANGE && took_turn;
        if turn.is_some() {
            self.last_turn = turn;
        }
    }

    /// How long the coming wait should poll without sleeping: zero for "sleep at once".
    /// `both_ways_open`: neither stdin nor the peer has ended its direction.
    pub(crate) fn window(&self, both_ways_open: bool) -> Duration {
        if self.enabled
            && both_ways_open
            && self.after_small
            && self.quick_turnaround
            && (self.several_cpus)()
        {
            WINDOW
        } else {
            Duration::ZERO
        }
    }

    /// Record how long the wait lasted (spinning and sleeping together).
    pub(crate) fn waited(&mut self, waited: Duration) {
        if self.after_small {
            self.quick_turnaround = waited <= WINDOW;
        }
    }
}

/// Which way the bytes of one exchange went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    Sent,
    Received,
    Both,
}

/// Whether rnc may run on more than one CPU. Asked once, on the first small exchange,
/// so that startup does not pay for it.
fn several_cpus() -> bool {
    static SEVERAL: OnceLock<bool> = OnceLock::new();
    *SEVERAL.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BusyPoll {
        BusyPoll::with_cpu_check(true, || true)
    }

    #[test]
    fn spins_while_small_requests_and_replies_alternate_quickly() {
        let mut b = policy();
        b.exchanged(64, 0);
        assert_eq!(
            b.window(true),
            WINDOW,
            "a first small request spins for its reply"
        );
        b.waited(Duration::from_micros(20));
        b.exchanged(0, 64);
        assert_eq!(
            b.window(true),
            WINDOW,
            "the reply: spin for the next request"
        );
        b.waited(Duration::from_micros(10));
        b.exchanged(64, 64);
        assert_eq!(
            b.window(true),
            WINDOW,
            "both ways at once also takes a turn"
        );
    }

    #[test]
    fn a_one_way_stream_does_not_spin() {
        let mut b = policy();
        b.exchanged(0, 16 * 1024);
        b.waited(Duration::from_micros(5));
        for _ in 0..3 {
            b.exchanged(0, 16 * 1024);
            assert_eq!(
                b.window(true),
                Duration::ZERO,
                "more of the same: no reply awaited"
            );
            b.waited(Duration::from_micros(5));
        }
        b.exchanged(100, 0);
        assert_eq!(
            b.window(true),
            WINDOW,
            "a request after the stream takes a turn"
        );
    }

    #[test]
    fn a_slow_reply_makes_the_next_wait_sleep_until_replies_are_quick_again() {
        let mut b = policy();
        b.exchanged(64, 0);
        b.waited(Duration::from_millis(300));
        b.exchanged(0, 64);
        assert_eq!(
            b.window(true),
            Duration::ZERO,
            "after a slow turnaround: sleep at once"
        );
        b.waited(Duration::from_micros(30));
        b.exchanged(64, 0);
        assert_eq!(
            b.window(true),
            WINDOW,
            "a quick turnaround, even asleep, brings it back"
        );
    }

    #[test]
    fn never_spins_after_bulk_or_nothing_or_when_off_or_on_one_cpu() {
        let mut b = policy();
        b.exchanged(0, 0);
        assert_eq!(
            b.window(true),
            Duration::ZERO,
            "nothing moved: a timer or a key"
        );
        b.exchanged(SMALL_EXCHANGE + 1, 0);
        assert_eq!(b.window(true), Duration::ZERO, "a bulk read");
        let mut off = BusyPoll::with_cpu_check(false, || true);
        off.exchanged(64, 0);
        assert_eq!(off.window(true), Duration::ZERO, "--no-busy-poll");
        let mut one_cpu = BusyPoll::with_cpu_check(true, || false);
        one_cpu.exchanged(64, 0);
        assert_eq!(one_cpu.window(true), Duration::ZERO, "a single CPU");
        let mut closing = policy();
        closing.exchanged(64, 0);
        assert_eq!(
            closing.window(false),
            Duration::ZERO,
            "a direction has ended"
        );
        let mut datagram = BusyPoll::new(true, true);
        datagram.exchanged(64, 0);
        assert_eq!(datagram.window(true), Duration::ZERO, "over datagrams");
    }

    #[test]
    fn waits_after_bulk_do_not_change_the_turnaround_record() {
        let mut b = policy();
        b.exchanged(1 << 20, 0);
        b.waited(Duration::from_secs(1));
        b.exchanged(0, 64);
        assert_eq!(b.window(true), WINDOW);
    }
}
