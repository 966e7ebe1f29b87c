//! What rnc shows on a terminal, and when: the screen (transcript and status row, with
//! the line editor when stdin is the terminal too) when stdout is a terminal; the
//! one-line progress display on stderr when stderr is a terminal that nobody else writes
//! to because of rnc (stdin not a terminal rnc reads, stdout a file or a device such as
//! /dev/null); and nothing at all otherwise. The screen's own state, keys, resizes and
//! Ctrl-Z are in `ui/screen.rs`.
//!
//! `Ui` never writes to the session's fds while the session runs: it takes key bytes and
//! received bytes, and hands back lines to send and bytes for the screen, which
//! `session.rs` writes through its own non-blocking stdout. Redraws are rate-limited (at
//! most 10 a second, plus one a second for the clock) so drawing never slows a transfer.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use crate::notices::{capture_notices, print_line, take_notices};
use crate::relay::crlf::CrlfEncoder;
use crate::sys::{self, FdKind};
use crate::tty::sanitize::{DisplaySanitizer, escape_for_display};
use crate::tty::status::{ConnState, Look, Rtt, StatusModel, TlsShown};
use crate::tty::terminal;

mod ends;
mod screen;

pub(crate) use ends::{ScreenSink, TypedLines};

use screen::Screen;

/// Shortest time between two redraws.
const REDRAW_INTERVAL: Duration = Duration::from_millis(100);
/// Redraw at least this often while something is shown, so the clock moves.
const CLOCK_INTERVAL: Duration = Duration::from_secs(1);
/// How long to wait for the terminal's cursor report after a resize.
const RESIZE_REPLY_WAIT: Duration = Duration::from_millis(200);
/// Typed lines waiting to be sent, beyond which stdin is not read.
const OUTBOX_MAX_BYTES: usize = 64 * 1024;

/// What the user asked for with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserRequest {
    /// Nothing special.
    None,
    /// Ctrl-C: quit now.
    Quit,
}

/// How the UI was asked to show itself, from the command line and the environment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UiWish {
    /// `--no-status` not given.
    pub(crate) status: bool,
    /// `--raw-output`: received bytes reach the terminal unescaped.
    pub(crate) raw_output: bool,
    /// stdin is read at all (not `-d`).
    pub(crate) reads_stdin: bool,
    /// The transport's short name.
    pub(crate) transport: &'static str,
}

/// The terminal front end.
pub(crate) struct Ui {
    /// What is shown.
    mode: Mode,
    /// The status row's content.
    model: StatusModel,
    /// When the current connection (or the wait for it) began.
    since: Instant,
    /// Something changed since the last draw.
    dirty: bool,
    /// The state changed since the last draw: draw now, not at the next tick.
    state_changed: bool,
    /// When the last draw happened.
    last_draw: Option<Instant>,
    /// Bytes sent and received at the last rate measurement, and when.
    rate_mark: (u64, u64, Instant),
    /// Bytes for the terminal on stdout not yet written (screen drawing and received
    /// text), in order.
    pending: VecDeque<u8>,
    /// Received bytes → safe text, when stdout is a terminal (and not `--raw-output`).
    sanitizer: Option<DisplaySanitizer>,
    /// `--raw-output` on the interactive screen: bytes pass unescaped, but a bare LF
    /// becomes CRLF, because raw mode turned the terminal's own translation off.
    raw_newlines: Option<CrlfEncoder>,
}

enum Mode {
    /// Out of a terminal: nothing is drawn.
    Plain,
    /// stderr is a terminal where only rnc writes: one line there.
    Progress {
        /// The line is on screen (and must be erased before anything else is printed).
        visible: bool,
        /// ASCII or not (the line has no colours).
        look: Look,
    },
    /// stdout is a terminal: the transcript with a status row under it, and the line
    /// editor when stdin is the terminal too (interactive mode).
    Screen(Box<Screen>),
}

impl Ui {
    /// Decide what to show: interactive when stdin and stdout are terminals, a progress
    /// line where `shows_progress` allows it, else nothing. `TERM=dumb` and
    /// `--no-status` turn both off. `stdout` is where the interactive screen is drawn.
    pub(crate) fn new(wish: UiWish, stdout: BorrowedFd<'_>) -> Ui {
        let term_ok = std::env::var_os("TERM").is_some_and(|t| t != "dumb" && !t.is_empty());
        let stdin_tty = sys::is_tty(io::stdin());
        let stdout_tty = sys::is_tty(io::stdout());
        let stderr_tty = sys::is_tty(io::stderr());
        let look = Look {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            ascii: !is_utf8_locale(|name| std::env::var_os(name)),
        };
        let mut mode = Mode::Plain;
        if wish.status && term_ok {
            let reads_tty = stdin_tty && wish.reads_stdin;
            if stdout_tty {
                // With stdin a terminal too, interactive mode; with stdin a file or a
                // pipe (or `-d`), the same screen without the editor, so a transfer is
                // visible while what arrives is shown.
                if let Some(screen) = Screen::enter(look, stdout, reads_tty) {
                    mode = Mode::Screen(Box::new(screen));
                }
            } else if shows_progress(stderr_tty, reads_tty, sys::fd_kind(stdout).ok()) {
                mode = Mode::Progress {
                    visible: false,
                    look,
                };
            }
        }
        if !matches!(mode, Mode::Plain) {
            // Notices would land in the middle of the drawing: the UI prints them.
            capture_notices(true);
        }
        // On a terminal, received bytes are shown, never obeyed.
        let sanitizer = (stdout_tty && !wish.raw_output).then(DisplaySanitizer::default);
        Ui::with_mode(mode, sanitizer, wish.transport)
    }

    /// A UI that shows nothing (a program's session under `-e`, tests of the session).
    pub(crate) fn plain() -> Ui {
        Ui::with_mode(Mode::Plain, None, "tcp")
    }

    fn with_mode(mode: Mode, sanitizer: Option<DisplaySanitizer>, transport: &'static str) -> Ui {
        let now = Instant::now();
        let is_screen = matches!(mode, Mode::Screen(_));
        Ui {
            mode,
            model: StatusModel::new(transport, ConnState::Connecting),
            since: now,
            dirty: true,
            state_changed: false,
            last_draw: None,
            rate_mark: (0, 0, now),
            raw_newlines: (is_screen && sanitizer.is_none()).then(CrlfEncoder::default),
            pending: VecDeque::new(),
            sanitizer,
        }
    }

    /// Whether the interactive screen is on (stdin goes through the line editor).
    pub(crate) fn is_interactive(&self) -> bool {
        matches!(&self.mode, Mode::Screen(s) if s.has_editor)
    }

    /// Whether anything is drawn at all.
    fn is_shown(&self) -> bool {
        !matches!(self.mode, Mode::Plain)
    }

    /// Set the connection state (and mark the status for a redraw when it changed).
    pub(crate) fn set_state(&mut self, state: ConnState) {
        if self.model.state != state {
            self.model.state = state;
            self.dirty = true;
            self.state_changed = true;
        }
    }

    /// Set the local and peer addresses shown (already plain text; escaped here).
    pub(crate) fn set_addresses(&mut self, local: Option<&str>, peer: Option<&str>) {
        let local = local.map(escape_for_display);
        let peer = peer.map(escape_for_display);
        if (&self.model.local, &self.model.peer) != (&local, &peer) {
            self.model.local = local;
            self.model.peer = peer;
            self.dirty = true;
        }
    }

    /// A line for the transcript on the screen (a `-k` client came or went), shown even
    /// without `-v`; nothing elsewhere, where `-v` says it on stderr.
    pub(crate) fn announce(&mut self, text: &str) {
        if let Mode::Screen(screen) = &mut self.mode {
            let bytes = screen.guard.print_note(text, screen.look.color);
            self.pending.extend(bytes);
        }
    }

    /// Start counting a new connection (`-k` shows its number).
    pub(crate) fn new_connection(&mut self, number: Option<u64>) {
        if let Mode::Screen(screen) = &mut self.mode {
            screen.waiting_noted = false;
        }
        self.model.connection = number;
        self.model.bytes_sent = 0;
        self.model.bytes_received = 0;
        self.model.rtt = None;
        self.since = Instant::now();
        self.rate_mark = (0, 0, self.since);
        self.dirty = true;
    }

    /// What stdin has to send in all, when known (a regular file), for the percentage
    /// and the ETA.
    pub(crate) fn set_expected_to_send(&mut self, bytes: Option<u64>) {
        self.model.expected_to_send = bytes.filter(|&b| b > 0);
        self.dirty = true;
    }

    /// Keys the user can act on now (`Ctrl-D ends, Ctrl-C quits`), or `None` once they
    /// no longer apply.
    pub(crate) fn hint(&mut self, hint: Option<&'static str>) {
        if self.model.hint != hint {
            self.model.hint = hint;
            self.dirty = true;
        }
    }

    /// A short note for the status row (`peer closed its side`, …).
    pub(crate) fn note(&mut self, text: &str) {
        let text = escape_for_display(text);
        if self.model.note.as_deref() != Some(text.as_str()) {
            self.model.note = Some(text);
            self.dirty = true;
        }
    }

    /// Byte counts of the current connection.
    pub(crate) fn set_bytes(&mut self, sent: u64, received: u64) {
        if (self.model.bytes_sent, self.model.bytes_received) != (sent, received) {
            self.model.bytes_sent = sent;
            self.model.bytes_received = received;
            self.dirty = true;
        }
    }

    /// The TLS session the status row shows (`None`: no TLS).
    pub(crate) fn set_tls(&mut self, tls: Option<TlsShown>) {
        if self.model.tls != tls {
            self.model.tls = tls;
            self.dirty = true;
        }
    }

    /// The round-trip time, when the kernel tells it.
    pub(crate) fn set_rtt(&mut self, rtt: Option<Rtt>) {
        self.model.rtt = rtt;
    }

    /// Whether a draw is due now (so the session refreshes the model first).
    pub(crate) fn is_draw_due(&self, now: Instant) -> bool {
        match (self.is_shown(), self.last_draw) {
            (false, _) => false,
            (true, None) => true,
            // A state change shows at once; counters and the clock are rate-limited.
            (true, Some(last)) => {
                self.state_changed
                    || self.dirty && now >= last + REDRAW_INTERVAL
                    || now >= last + CLOCK_INTERVAL
            }
        }
    }

    /// When the next draw may be needed, for the poll timeout.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if !self.is_shown() {
            return None;
        }
        if let Mode::Screen(screen) = &self.mode
            && let Some((_, _, asked)) = screen.resize_pending
        {
            return Some(asked + RESIZE_REPLY_WAIT);
        }
        let last = self.last_draw?;
        Some(if self.dirty {
            last + REDRAW_INTERVAL
        } else {
            last + CLOCK_INTERVAL
        })
    }

    /// Draw if due: the status row and input row (interactive, into the screen queue),
    /// or the progress line (written to stderr at once). Also shows collected notices.
    pub(crate) fn draw(&mut self, now: Instant) {
        if let Mode::Screen(screen) = &self.mode
            && screen
                .resize_pending
                .is_some_and(|(_, _, asked)| now >= asked + RESIZE_REPLY_WAIT)
        {
            self.finish_resize(None);
        }
        if !self.is_draw_due(now) || self.is_resizing() {
            return;
        }
        self.model.elapsed = now.saturating_duration_since(self.since);
        let (marked_sent, marked_received, at) = self.rate_mark;
        let span = now.saturating_duration_since(at);
        if span >= Duration::from_millis(500) {
            let per_sec = |bytes: u64| (bytes as f64 / span.as_secs_f64()) as u64;
            self.model.rate_sent = per_sec(self.model.bytes_sent.saturating_sub(marked_sent));
            self.model.rate_received =
                per_sec(self.model.bytes_received.saturating_sub(marked_received));
            self.rate_mark = (self.model.bytes_sent, self.model.bytes_received, now);
        }
        match &mut self.mode {
            Mode::Plain => {}
            Mode::Progress { visible, look } => {
                let width = terminal_width();
                let line = self.model.render_progress(width.saturating_sub(1), *look);
                let mut bytes = b"\r\x1b[K".to_vec();
                bytes.extend_from_slice(line.as_bytes());
                let _ = io::stderr().write_all(&bytes);
                *visible = true;
            }
            Mode::Screen(screen) => {
                self.pending.extend(screen.draw_rows(&self.model));
            }
        }
        self.dirty = false;
        self.state_changed = false;
        self.last_draw = Some(now);
    }

    /// Interactive: move rnc's own notices (`-v` lines) into the transcript.
    pub(crate) fn show_notices(&mut self) {
        match &mut self.mode {
            Mode::Plain => {}
            Mode::Screen(screen) => {
                for notice in take_notices() {
                    let bytes = screen.guard.print_note(&notice, screen.look.color);
                    self.pending.extend(bytes);
                }
            }
            Mode::Progress { visible, .. } => {
                let notices = take_notices();
                if notices.is_empty() {
                    return;
                }
                // Erase the progress line, print the notices, draw it again below them.
                let mut text = String::from("\r\x1b[K");
                for notice in notices {
                    text.push_str(&format!("rnc: {}\n", escape_for_display(&notice)));
                }
                let _ = io::stderr().write_all(text.as_bytes());
                *visible = false;
                self.dirty = true;
                self.last_draw = None;
            }
        }
    }

    /// Whether received bytes go through `on_received` (stdout is a terminal).
    pub(crate) fn shows_received(&self) -> bool {
        matches!(self.mode, Mode::Screen(_)) || self.sanitizer.is_some()
    }

    /// Show received bytes: escaped (unless `--raw-output`), and in the transcript when
    /// interactive.
    pub(crate) fn on_received(&mut self, bytes: &[u8]) {
        let mut text = Vec::with_capacity(bytes.len() + 16);
        match (&mut self.sanitizer, &mut self.raw_newlines) {
            (Some(sanitizer), _) => sanitizer.feed(bytes, &mut text),
            (None, Some(newlines)) => newlines.encode(bytes, &mut text),
            (None, None) => text.extend_from_slice(bytes),
        }
        match &mut self.mode {
            Mode::Screen(screen) => self.pending.extend(screen.guard.print_above(&text)),
            _ => self.pending.extend(text),
        }
    }

    /// Bytes waiting for the terminal on stdout.
    pub(crate) fn pending_screen(&self) -> &[u8] {
        self.pending.as_slices().0
    }

    /// `n` bytes of `pending_screen` were written.
    pub(crate) fn screen_written(&mut self, n: usize) {
        self.pending.drain(..n);
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        if let Some(sanitizer) = &mut self.sanitizer {
            let mut tail = Vec::new();
            sanitizer.flush(&mut tail);
            match &mut self.mode {
                Mode::Screen(screen) if !tail.is_empty() => {
                    self.pending.extend(screen.guard.print_above(&tail));
                }
                _ => self.pending.extend(tail),
            }
        }
        // What is still queued goes out before the terminal is restored.
        let pending: Vec<u8> = self.pending.drain(..).collect();
        let _ = terminal::write_fd_retrying(io::stdout().as_fd(), &pending);
        match &self.mode {
            Mode::Screen(_) => {
                terminal::restore();
            }
            Mode::Progress { visible: true, .. } => {
                let _ = io::stderr().write_all(b"\r\x1b[K");
            }
            _ => {}
        }
        // Notices collected while the screen was ours now go to stderr as usual.
        let notices = take_notices();
        capture_notices(false);
        for notice in notices {
            print_line(&notice);
        }
    }
}

/// Whether the progress line may be drawn on stderr: only where nothing but rnc writes
/// to that terminal because of this command. Not while rnc reads its stdin from a
/// terminal: the kernel echoes the typing there, and each redraw would wipe it. And
/// only when stdout is a regular file or a device such as /dev/null: a pipe's or a
/// socket's reader may print on the same terminal (`| tee log`, `| less`), and a line
/// redrawn from column 0 would overwrite what it printed; rnc cannot tell.
fn shows_progress(stderr_tty: bool, reads_tty_stdin: bool, stdout: Option<FdKind>) -> bool {
    stderr_tty && !reads_tty_stdin && matches!(stdout, Some(FdKind::File | FdKind::CharDevice))
}

/// Whether the locale's character set is UTF-8, decided as other terminal programs do:
/// the first non-empty of `LC_ALL`, `LC_CTYPE` and `LANG` names it (`en_US.UTF-8`,
/// `C.utf8`). None set is the C locale, so ASCII.
fn is_utf8_locale(var: impl Fn(&str) -> Option<OsString>) -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .into_iter()
        .filter_map(var)
        .find(|value| !value.is_empty())
        .is_some_and(|value| {
            let value = value.to_string_lossy().to_ascii_lowercase();
            value.contains("utf-8") || value.contains("utf8")
        })
}

/// The width of the terminal on stderr, or 80.
fn terminal_width() -> usize {
    crossterm::terminal::size()
        .map(|(cols, _)| usize::from(cols))
        .unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shown UI (the progress mode, which needs no terminal) that drew at `at`.
    fn drawn_at(at: Instant) -> Ui {
        let mut ui = Ui::with_mode(
            Mode::Progress {
                visible: false,
                look: Look {
                    color: false,
                    ascii: true,
                },
            },
            None,
            "tcp",
        );
        ui.set_state(ConnState::Connected);
        ui.dirty = false;
        ui.state_changed = false;
        ui.last_draw = Some(at);
        ui
    }

    #[test]
    fn ui_state_change_draws_at_once_counters_wait_for_the_interval() {
        let now = Instant::now();
        let mut ui = drawn_at(now);
        ui.set_bytes(10, 20);
        assert!(!ui.is_draw_due(now), "counters are rate-limited");
        assert!(ui.is_draw_due(now + REDRAW_INTERVAL));

        let mut ui = drawn_at(now);
        ui.set_state(ConnState::PeerClosed);
        assert!(ui.is_draw_due(now), "a state change draws at once");

        let mut ui = drawn_at(now);
        ui.set_state(ConnState::Connected);
        assert!(!ui.is_draw_due(now), "the same state is no change");
    }

    #[test]
    fn ui_same_addresses_are_no_change() {
        let now = Instant::now();
        let mut ui = drawn_at(now);
        ui.set_addresses(Some("127.0.0.1:1"), Some("127.0.0.1:2"));
        ui.dirty = false;
        ui.set_addresses(Some("127.0.0.1:1"), Some("127.0.0.1:2"));
        assert!(!ui.dirty);
        ui.set_addresses(Some("127.0.0.1:1"), Some("127.0.0.1:3"));
        assert!(ui.dirty);
    }

    #[test]
    fn ui_progress_only_where_nobody_else_writes_to_the_terminal() {
        for stdout in [FdKind::File, FdKind::CharDevice] {
            assert!(shows_progress(true, false, Some(stdout)), "{stdout:?}");
            assert!(
                !shows_progress(true, true, Some(stdout)),
                "typing on stdin is echoed where the line would be redrawn"
            );
            assert!(!shows_progress(false, false, Some(stdout)), "no terminal");
        }
        for stdout in [FdKind::Pipe, FdKind::Socket, FdKind::Tty, FdKind::Other] {
            assert!(
                !shows_progress(true, false, Some(stdout)),
                "{stdout:?}: its reader may print on the same terminal"
            );
        }
        assert!(!shows_progress(true, false, None));
    }

    #[test]
    fn ui_utf8_locale_is_the_first_non_empty_variable() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert!(is_utf8_locale(env(&[("LANG", "en_US.UTF-8")])));
        assert!(is_utf8_locale(env(&[("LC_CTYPE", "C.utf8")])));
        assert!(is_utf8_locale(env(&[
            ("LC_ALL", "de_DE.Utf-8"),
            ("LANG", "C")
        ])));
        assert!(is_utf8_locale(env(&[("LC_ALL", ""), ("LANG", "C.UTF-8")])));
        assert!(!is_utf8_locale(env(&[
            ("LC_ALL", "C"),
            ("LANG", "en_US.UTF-8")
        ])));
        assert!(!is_utf8_locale(env(&[
            ("LC_CTYPE", "POSIX"),
            ("LANG", "C.UTF-8")
        ])));
        assert!(!is_utf8_locale(env(&[("LANG", "en_US.ISO-8859-1")])));
        assert!(!is_utf8_locale(env(&[])), "no locale is the C locale");
    }
}
