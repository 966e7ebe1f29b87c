//! The session's timers: `-w` (nothing moved for that long), `-q` (after stdin EOF),
//! and a datagram client's linger after stdin EOF, each ending the connection through
//! `ended_by`, never by dropping what was received; and the expiry of a `-u -l -k`
//! listener's silent peers, which ends nothing.

use std::time::Instant;

use super::{DATAGRAM_LINGER, Session, TimerEnd};
use crate::notices::print_line;
use crate::relay::connection::DatagramPeer;

impl Session {
    /// Which timer ended the connection, if one did.
    #[cfg(test)]
    pub(crate) fn timer_end(&self) -> Option<TimerEnd> {
        self.conn.as_ref().and_then(|c| c.ended_by)
    }

    /// The nearest instant at which a timer needs attention, or `-i` lets the next line
    /// go.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let pace = self
            .conn
            .as_ref()
            .filter(|conn| conn.ended_by.is_none())
            .and_then(|_| self.pace_deadline());
        self.ending_deadline()
            .into_iter()
            .chain(pace)
            .chain(self.peer_expiry())
            .min()
    }

    /// When the next silent peer of a `-u -l -k` listener expires.
    fn peer_expiry(&self) -> Option<Instant> {
        match &self.conn.as_ref()?.peer {
            DatagramPeer::Table(table) => table.next_expiry(),
            _ => None,
        }
    }

    /// Forget the peers that have been silent for the expiry (`-v` says so).
    fn expire_peers(&mut self, now: Instant) {
        let Some(DatagramPeer::Table(table)) = self.conn.as_mut().map(|c| &mut c.peer) else {
            return;
        };
        if table.next_expiry().is_none_or(|at| now < at) {
            return;
        }
        let expiry = table.expiry().as_secs_f64();
        for gone in table.expire(now) {
            if self.options.verbose {
                print_line(&format!("{gone} idle for {expiry} s: forgotten"));
            }
        }
    }

    /// When `-i` lets the next waiting line go, while one waits.
    fn pace_deadline(&self) -> Option<Instant> {
        self.pacer
            .as_ref()?
            .deadline(!self.to_peer.queue.is_empty())
    }

    /// Since when the connection counts as idle for `-w`: the last byte moved, or, while
    /// `-i` holds a line back, the end of that pause (a pause is not silence).
    fn idle_since(&self, last_activity: Instant) -> Instant {
        self.pace_deadline()
            .map_or(last_activity, |until| until.max(last_activity))
    }

    /// The nearest instant at which a timer may end the connection.
    fn ending_deadline(&self) -> Option<Instant> {
        let conn = self.conn.as_ref()?;
        if conn.ended_by.is_some() {
            return None;
        }
        let idle = self
            .options
            .idle_timeout
            .filter(|_| conn.peer != DatagramPeer::Waiting)
            .map(|idle| self.idle_since(conn.last_activity) + idle);
        let quit = conn.to_peer_done_at.and_then(|done_at| {
            if let Some(quit) = self.options.quit_after_eof {
                Some(done_at + quit)
            } else if conn.datagram && conn.peer == DatagramPeer::Connected {
                let since = conn.last_received.map_or(done_at, |r| r.max(done_at));
                Some(since + DATAGRAM_LINGER)
            } else {
                None
            }
        });
        idle.into_iter().chain(quit).min()
    }

    /// Let timers that are due end the connection.
    pub(crate) fn on_timer(&mut self, now: Instant) {
        self.expire_peers(now);
        let Some(deadline) = self.ending_deadline() else {
            return;
        };
        if now < deadline {
            return;
        }
        let Some(last_activity) = self.conn.as_ref().map(|c| c.last_activity) else {
            return;
        };
        let idle_since = self.idle_since(last_activity);
        let Some(conn) = &mut self.conn else { return };
        let idle_due = self
            .options
            .idle_timeout
            .is_some_and(|idle| conn.peer != DatagramPeer::Waiting && now >= idle_since + idle);
        conn.ended_by = Some(if idle_due {
            TimerEnd::Idle
        } else {
            TimerEnd::Quit
        });
        if self.options.verbose {
            print_line(if idle_due {
                "idle timeout"
            } else {
                "quitting after stdin EOF"
            });
        }
    }
}
