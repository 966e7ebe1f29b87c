//! nc's `-i SECS`: a pause between the lines sent. The pacer sits between the to-peer
//! queue and the socket: it says how many queued bytes may go now (the rest of the current
//! line, LF included) and when the next line may start. The first line goes at once; each
//! next one `interval` after the previous one was written whole. It only decides; the
//! session writes, and the loop sleeps until `deadline`.

use std::time::{Duration, Instant};

/// The state of `-i`.
#[derive(Debug)]
pub(crate) struct LinePacer {
    /// `-i`: the pause after each line.
    interval: Duration,
    /// Bytes of the current line not yet written; 0 between lines.
    line_left: usize,
    /// When the next line may start (`None`: at once).
    next_at: Option<Instant>,
}

impl LinePacer {
    /// A pacer that lets the first line go at once.
    pub(crate) fn new(interval: Duration) -> LinePacer {
        LinePacer {
            interval,
            line_left: 0,
            next_at: None,
        }
    }

    /// How many of the `queued` bytes may be written now. A line starts only when its
    /// pause is over and its LF is queued, or when `complete` says no LF can come (stdin
    /// ended, or the queue is full of one line), so a line is never split by the pause.
    pub(crate) fn allowance(&mut self, queued: &[u8], complete: bool, now: Instant) -> usize {
        if self.line_left == 0 {
            if queued.is_empty() || self.next_at.is_some_and(|at| now < at) {
                return 0;
            }
            self.line_left = match queued.iter().position(|&b| b == b'\n') {
                Some(lf) => lf + 1,
                None if complete => queued.len(),
                None => return 0,
            };
        }
        self.line_left.min(queued.len())
    }

    /// `n` bytes of the allowance were written at `now`; a finished line starts the pause.
    pub(crate) fn wrote(&mut self, n: usize, now: Instant) {
        self.line_left = self.line_left.saturating_sub(n);
        if n > 0 && self.line_left == 0 {
            self.next_at = Some(now + self.interval);
        }
    }

    /// A whole message (a datagram) may go now: its pause is over.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.next_at.is_none_or(|at| now >= at)
    }

    /// A whole message went out at `now`: the next one waits `interval`.
    pub(crate) fn wrote_message(&mut self, now: Instant) {
        self.next_at = Some(now + self.interval);
    }

    /// When the loop must wake to send the next line, while one waits (`has_queued`).
    pub(crate) fn deadline(&self, has_queued: bool) -> Option<Instant> {
        self.next_at.filter(|_| has_queued && self.line_left == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn pace_first_line_at_once_then_one_per_interval() {
        let t0 = Instant::now();
        let mut p = LinePacer::new(SEC);
        let queued = b"a\nbb\nc";
        assert_eq!(p.allowance(queued, false, t0), 2);
        p.wrote(2, t0);
        assert_eq!(p.allowance(&queued[2..], false, t0), 0, "pausing");
        assert_eq!(p.deadline(true), Some(t0 + SEC));
        let t1 = t0 + SEC;
        assert_eq!(p.allowance(&queued[2..], false, t1), 3);
        p.wrote(3, t1);
        // `c` has no LF yet: it waits for the rest of its line, or for stdin's EOF.
        let t2 = t1 + SEC;
        assert_eq!(p.allowance(b"c", false, t2), 0);
        assert_eq!(p.allowance(b"c", true, t2), 1);
    }

    #[test]
    fn pace_short_writes_finish_the_line_before_the_pause() {
        let t0 = Instant::now();
        let mut p = LinePacer::new(SEC);
        assert_eq!(p.allowance(b"hello\nx\n", false, t0), 6);
        p.wrote(4, t0);
        assert_eq!(p.deadline(true), None, "mid-line: no pause yet");
        assert_eq!(p.allowance(b"o\nx\n", false, t0), 2);
        p.wrote(2, t0);
        assert_eq!(p.allowance(b"x\n", false, t0), 0);
        assert_eq!(p.deadline(false), None, "nothing queued: no wake-up");
    }

    #[test]
    fn pace_messages() {
        let t0 = Instant::now();
        let mut p = LinePacer::new(SEC);
        assert!(p.is_due(t0));
        p.wrote_message(t0);
        assert!(!p.is_due(t0));
        assert!(p.is_due(t0 + SEC));
    }
}
