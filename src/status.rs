//! `StatusModel`: what the status row says about the socket (transport, addresses, state,
//! byte counts, elapsed time, RTT, last event), and the pure renderers that turn it into
//! one row of a given width: the interactive status bar and the non-interactive progress
//! line.
//!
//! Rendering never does I/O and never exceeds the width it is given. Fields are dropped
//! in reverse order of importance (state, then peer, bytes, elapsed, local, RTT, note) and
//! what still does not fit is cut with `…`. Without colour (NO_COLOR) the row contains no
//! escape sequence at all; with colour it contains SGR sequences only. Addresses, paths and
//! notes go through `escape_for_display`, so a hostile name cannot drive the terminal.
//!
//! Widths are display columns (`width.rs`): a name with wide characters is measured as
//! the terminal draws it. `⇄ ↑ ↓ …` count as one column each, as in most terminals; they
//! are "ambiguous width" and take two in some East Asian setups.

use std::time::Duration;

use crate::sanitize::escape_for_display;
use crate::width::{prefix_within, str_cols};

/// The state of the connection, as the kernel (TCP_INFO) or the session sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Looking the host name up.
    Resolving,
    /// SYN_SENT: a connect is in flight.
    Connecting,
    /// LISTEN: waiting for a connection.
    Listening,
    /// UDP listener: no datagram has arrived yet.
    WaitingForDatagram,
    /// ESTABLISHED.
    Connected,
    /// UDP listener: connected to the first sender.
    LockedTo,
    /// FIN_WAIT: we closed our side; the peer may still send.
    WeClosed,
    /// CLOSE_WAIT: the peer closed its side; we may still send.
    PeerClosed,
    /// Both sides are closed.
    Closed,
    /// UDP: ICMP port unreachable (ECONNREFUSED on the connected socket).
    PeerPortClosed,
}

impl ConnState {
    /// The state as the status row words it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            ConnState::Resolving => "resolving",
            ConnState::Connecting => "connecting",
            ConnState::Listening => "listening",
            ConnState::WaitingForDatagram => "waiting for the first datagram",
            ConnState::Connected => "connected",
            ConnState::LockedTo => "locked to",
            ConnState::WeClosed => "you closed your side",
            ConnState::PeerClosed => "peer closed its side",
            ConnState::Closed => "closed",
            ConnState::PeerPortClosed => "peer port closed",
        }
    }

    /// The SGR colour of the state in the bar: green when data can flow both ways,
    /// yellow while waiting or half-closed, red when it is over or failed.
    fn sgr_color(self) -> &'static str {
        match self {
            ConnState::Connected | ConnState::LockedTo => "32",
            ConnState::Resolving
            | ConnState::Connecting
            | ConnState::Listening
            | ConnState::WaitingForDatagram
            | ConnState::WeClosed
            | ConnState::PeerClosed => "33",
            ConnState::Closed | ConnState::PeerPortClosed => "31",
        }
    }
}

/// Everything the status row shows. The event loop updates the fields and asks for a
/// `render` when it redraws.
#[derive(Debug, Clone)]
pub(crate) struct StatusModel {
    /// `tcp`, `udp`, `unix`… (`Transport::name()`).
    pub(crate) transport: &'static str,
    /// Our address, when known (`127.0.0.1:5000`, a Unix path).
    pub(crate) local: Option<String>,
    /// The peer's address or Unix path; before connecting, the target as typed.
    pub(crate) peer: Option<String>,
    /// The connection state.
    pub(crate) state: ConnState,
    /// Bytes written to the socket.
    pub(crate) bytes_sent: u64,
    /// Bytes read from the socket.
    pub(crate) bytes_received: u64,
    /// Time since the session (or, under `-k`, the connection) started.
    pub(crate) elapsed: Duration,
    /// Smoothed round-trip time from TCP_INFO, when known.
    pub(crate) rtt: Option<Duration>,
    /// The last notable event (`peer closed its side`, `connection 3 from …`).
    pub(crate) note: Option<String>,
    /// The connection number under `-k` (1 for the first).
    pub(crate) connection: Option<u64>,
}

/// A piece of the row, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Head,
    Peer,
    Local,
    Bytes,
    Rate,
    Elapsed,
    Rtt,
    Note,
}

/// Separator between groups of the row.
const GAP: &str = "  ";

impl StatusModel {
    /// A model with nothing known yet but the transport and the state.
    pub(crate) fn new(transport: &'static str, state: ConnState) -> Self {
        Self {
            transport,
            local: None,
            peer: None,
            state,
            bytes_sent: 0,
            bytes_received: 0,
            elapsed: Duration::ZERO,
            rtt: None,
            note: None,
            connection: None,
        }
    }

    /// The status bar: exactly one row of at most `width` visible columns, no newline.
    /// With `color`, the row is a reverse-video bar padded to `width` and the state is
    /// bold and coloured, using SGR sequences only; without, it is plain text.
    pub(crate) fn render(&self, width: usize, color: bool) -> String {
        // Without a peer, the local address (what we listen on) is the one to keep.
        let address = if self.peer.is_some() {
            Part::Peer
        } else {
            Part::Local
        };
        let priority = [
            address,
            Part::Bytes,
            Part::Elapsed,
            Part::Local,
            Part::Rtt,
            Part::Note,
        ];
        let row = self.fit(width, &priority, address);
        if !color || width == 0 {
            return row;
        }
        let head_chars = self.compose(&[Part::Head]).chars().count();
        let split = row
            .char_indices()
            .nth(head_chars)
            .map_or(row.len(), |(i, _)| i);
        let (head, rest) = row.split_at(split);
        let row_cols = str_cols(&row);
        format!(
            "\x1b[7m\x1b[1;{}m{head}\x1b[22;39m{rest}{:pad$}\x1b[0m",
            self.state.sgr_color(),
            "",
            pad = width.saturating_sub(row_cols),
        )
    }

    /// The non-interactive progress line for stderr: state, bytes each way, the current
    /// rate, elapsed time, then the peer; at most `width` columns, plain text.
    pub(crate) fn render_progress(&self, width: usize, rate_bytes_per_sec: u64) -> String {
        let priority = [Part::Bytes, Part::Rate, Part::Elapsed, Part::Peer];
        let mut row = String::new();
        let mut included = vec![Part::Head];
        for part in priority {
            included.push(part);
            let candidate = self.compose_progress(&included, rate_bytes_per_sec);
            if str_cols(&candidate) <= width {
                row = candidate;
            } else {
                included.pop();
            }
        }
        if row.is_empty() {
            row = self.compose_progress(&included, rate_bytes_per_sec);
        }
        truncate(&row, width)
    }

    /// The row with as many parts as fit, tried in `priority` order; `must` (the peer, or
    /// the local address without a peer) is kept even if it has to be cut.
    fn fit(&self, width: usize, priority: &[Part], must: Part) -> String {
        let mut included = vec![Part::Head];
        for &part in priority {
            if included.contains(&part) {
                continue;
            }
            included.push(part);
            if str_cols(&self.compose(&included)) > width {
                included.pop();
            }
        }
        if !included.contains(&must) {
            included.push(must);
        }
        truncate(&self.compose(&included), width)
    }

    /// The status row made of the `included` parts, in display order:
    /// `tcp connected #2 LOCAL ⇄ PEER  ↑ sent ↓ received  elapsed  rtt  note`.
    fn compose(&self, included: &[Part]) -> String {
        let has = |p: Part| included.contains(&p);
        let local = self.local.as_deref().filter(|_| has(Part::Local));
        let peer = self.peer.as_deref().filter(|_| has(Part::Peer));
        let mut row = self.head();
        match (local, peer) {
            (Some(local), Some(peer)) if self.state == ConnState::LockedTo => {
                row.push(' ');
                row.push_str(&escape_for_display(peer));
                row.push_str(" on ");
                row.push_str(&escape_for_display(local));
            }
            (Some(local), Some(peer)) => {
                row.push(' ');
                row.push_str(&escape_for_display(local));
                row.push_str(" ⇄ ");
                row.push_str(&escape_for_display(peer));
            }
            (None, Some(peer)) => {
                row.push(' ');
                row.push_str(&escape_for_display(peer));
            }
            (Some(local), None) => {
                row.push_str(" on ");
                row.push_str(&escape_for_display(local));
            }
            (None, None) => {}
        }
        if has(Part::Bytes) {
            row.push_str(GAP);
            row.push_str(&self.bytes_text());
        }
        if has(Part::Elapsed) {
            row.push_str(GAP);
            row.push_str(&format_elapsed(self.elapsed));
        }
        if let Some(rtt) = self.rtt.filter(|_| has(Part::Rtt)) {
            row.push_str(GAP);
            row.push_str("rtt ");
            row.push_str(&format_rtt(rtt));
        }
        if let Some(note) = self.note.as_deref().filter(|_| has(Part::Note)) {
            row.push_str(GAP);
            row.push_str(&escape_for_display(note));
        }
        row
    }

    /// The progress line made of the `included` parts, in display order:
    /// `tcp connected PEER  ↑ sent ↓ received  rate/s  elapsed`.
    fn compose_progress(&self, included: &[Part], rate_bytes_per_sec: u64) -> String {
        let has = |p: Part| included.contains(&p);
        let mut row = self.head();
        if let Some(peer) = self.peer.as_deref().filter(|_| has(Part::Peer)) {
            row.push(' ');
            row.push_str(&escape_for_display(peer));
        }
        if has(Part::Bytes) {
            row.push_str(GAP);
            row.push_str(&self.bytes_text());
        }
        if has(Part::Rate) {
            row.push_str(GAP);
            row.push_str(&human_bytes(rate_bytes_per_sec));
            row.push_str("/s");
        }
        if has(Part::Elapsed) {
            row.push_str(GAP);
            row.push_str(&format_elapsed(self.elapsed));
        }
        row
    }

    /// `tcp connected #3`: transport, state and connection number.
    fn head(&self) -> String {
        match self.connection {
            Some(n) => format!("{} {} #{n}", self.transport, self.state.label()),
            None => format!("{} {}", self.transport, self.state.label()),
        }
    }

    /// `↑ 12 B ↓ 1.4 KiB`.
    fn bytes_text(&self) -> String {
        format!(
            "↑ {} ↓ {}",
            human_bytes(self.bytes_sent),
            human_bytes(self.bytes_received)
        )
    }
}

/// A byte count for people: `0 B`, `1023 B`, `1.4 KiB`, `12.0 MiB`, `512 GiB` (binary
/// units; one decimal below 100).
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 99.95 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// Elapsed time as `mm:ss`, or `h:mm:ss` from one hour on.
pub(crate) fn format_elapsed(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// A round-trip time: `0.4 ms`, `12 ms`, `1.2 s`.
fn format_rtt(rtt: Duration) -> String {
    let ms = rtt.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// `text` cut to `width` columns, ending in `…` when something was cut.
fn truncate(text: &str, width: usize) -> String {
    if str_cols(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = prefix_within(text, width - 1).to_string();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected() -> StatusModel {
        let mut m = StatusModel::new("tcp", ConnState::Connected);
        m.local = Some("127.0.0.1:5000".into());
        m.peer = Some("127.0.0.1:55971".into());
        m.bytes_sent = 12;
        m.bytes_received = 1434;
        m.elapsed = Duration::from_secs(42);
        m
    }

    fn full() -> StatusModel {
        let mut m = connected();
        m.rtt = Some(Duration::from_micros(350));
        m.note = Some("connection 3 from 127.0.0.1:55971".into());
        m.connection = Some(3);
        m
    }

    /// The visible text of a coloured row, checking that every escape is an SGR one.
    fn strip_sgr(row: &str) -> String {
        let mut out = String::new();
        let mut chars = row.chars();
        while let Some(c) = chars.next() {
            if c != '\x1b' {
                out.push(c);
                continue;
            }
            assert_eq!(chars.next(), Some('['), "only CSI in {row:?}");
            loop {
                match chars.next() {
                    Some('m') => break,
                    Some(c) if c.is_ascii_digit() || c == ';' => {}
                    other => panic!("not an SGR sequence ({other:?}) in {row:?}"),
                }
            }
        }
        out
    }

    fn all_models() -> Vec<StatusModel> {
        let mut models = vec![connected(), full()];
        let mut m = StatusModel::new("udp", ConnState::WaitingForDatagram);
        m.local = Some("0.0.0.0:5353".into());
        models.push(m.clone());
        m.state = ConnState::LockedTo;
        m.peer = Some("10.0.0.2:4000".into());
        models.push(m);
        let mut m = StatusModel::new("unix", ConnState::PeerClosed);
        m.peer = Some("/tmp/évil\x1b[2J\u{9b}\u{202e}.sock".into());
        m.note = Some("peer closed\nits side".into());
        models.push(m);
        models.push(StatusModel::new("tcp", ConnState::Resolving));
        let mut m = StatusModel::new("unix", ConnState::Connected);
        m.peer = Some("/run/日本語のソケット/😀.sock".into());
        m.note = Some("接続しました".into());
        models.push(m);
        let mut m = full();
        m.bytes_sent = u64::MAX;
        m.elapsed = Duration::from_secs(1_000_000);
        m.rtt = Some(Duration::from_secs(3));
        models.push(m);
        models
    }

    #[test]
    fn status_render_example_row() {
        assert_eq!(
            connected().render(200, false),
            "tcp connected 127.0.0.1:5000 ⇄ 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  00:42"
        );
        assert_eq!(
            full().render(200, false),
            "tcp connected #3 127.0.0.1:5000 ⇄ 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  00:42  \
             rtt 0.3 ms  connection 3 from 127.0.0.1:55971"
        );
    }

    #[test]
    fn status_render_never_exceeds_width() {
        for model in all_models() {
            for width in 0..=120 {
                let plain = model.render(width, false);
                assert!(str_cols(&plain) <= width, "{width}: {plain:?}");
                assert!(
                    !plain.contains('\x1b') && !plain.contains('\n'),
                    "{plain:?}"
                );
                let colored = model.render(width, true);
                let visible = strip_sgr(&colored);
                assert_eq!(
                    str_cols(&visible),
                    width,
                    "the bar fills the row: {colored:?}"
                );
                assert_eq!(visible.trim_end(), plain.trim_end(), "same text");
                let progress = model.render_progress(width, 1_500_000);
                assert!(str_cols(&progress) <= width, "{width}: {progress:?}");
                assert!(!progress.contains('\x1b'));
            }
        }
    }

    #[test]
    fn status_render_drops_least_important_first() {
        let m = full();
        let at = |w| m.render(w, false);
        let widest = at(200).chars().count();
        assert_eq!(
            at(widest - 1),
            "tcp connected #3 127.0.0.1:5000 ⇄ 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  00:42  \
             rtt 0.3 ms",
            "the note goes first"
        );
        assert_eq!(
            at(74),
            "tcp connected #3 127.0.0.1:5000 ⇄ 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  00:42"
        );
        assert_eq!(
            at(73),
            "tcp connected #3 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  00:42  rtt 0.3 ms",
            "then the local address; a smaller field that fits still shows"
        );
        assert_eq!(
            at(56),
            "tcp connected #3 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB",
            "then elapsed"
        );
        assert_eq!(at(40), "tcp connected #3 127.0.0.1:55971  00:42");
        assert_eq!(at(32), "tcp connected #3 127.0.0.1:55971");
        assert_eq!(
            at(25),
            "tcp connected #3 127.0.0…",
            "the peer is cut, not dropped"
        );
        assert_eq!(at(10), "tcp conne…");
        assert_eq!(at(1), "…");
        assert_eq!(at(0), "");
    }

    #[test]
    fn status_render_without_peer_keeps_local() {
        let mut m = StatusModel::new("udp", ConnState::WaitingForDatagram);
        m.local = Some("0.0.0.0:5353".into());
        m.elapsed = Duration::from_secs(3);
        assert_eq!(
            m.render(100, false),
            "udp waiting for the first datagram on 0.0.0.0:5353  ↑ 0 B ↓ 0 B  00:03"
        );
        assert_eq!(
            m.render(50, false),
            "udp waiting for the first datagram on 0.0.0.0:5353"
        );
        m.state = ConnState::LockedTo;
        m.peer = Some("10.0.0.2:4000".into());
        assert_eq!(
            m.render(100, false),
            "udp locked to 10.0.0.2:4000 on 0.0.0.0:5353  ↑ 0 B ↓ 0 B  00:03"
        );
        assert_eq!(
            m.render(40, false),
            "udp locked to 10.0.0.2:4000  ↑ 0 B ↓ 0 B"
        );
        let mut m = StatusModel::new("tcp", ConnState::Listening);
        m.local = Some("[::]:5000".into());
        assert!(
            m.render(80, false)
                .starts_with("tcp listening on [::]:5000  ")
        );
    }

    #[test]
    fn status_render_escapes_hostile_names() {
        let mut m = StatusModel::new("unix", ConnState::Connected);
        m.peer = Some("/tmp/x\x1b]0;owned\x07\n".into());
        m.note = Some("\u{202e}note".into());
        let row = m.render(200, false);
        assert!(
            row.starts_with("unix connected /tmp/x^[]0;owned^G^J  "),
            "{row:?}"
        );
        assert!(row.ends_with("<U+202E>note"), "{row:?}");
    }

    #[test]
    fn status_render_no_color_has_no_escapes() {
        for model in all_models() {
            for width in [0, 5, 30, 80, 200] {
                assert!(!model.render(width, false).contains('\x1b'));
            }
        }
    }

    #[test]
    fn status_render_color_is_a_padded_sgr_bar() {
        let row = connected().render(80, true);
        assert!(row.starts_with("\x1b[7m\x1b[1;32mtcp connected\x1b[22;39m 127.0.0.1:5000"));
        assert!(row.ends_with(" \x1b[0m"));
        assert_eq!(strip_sgr(&row).chars().count(), 80, "the bar fills the row");
        let mut closed = connected();
        closed.state = ConnState::Closed;
        assert!(
            closed
                .render(80, true)
                .contains("\x1b[1;31mtcp closed\x1b[22;39m")
        );
        let narrow = connected().render(6, true);
        assert_eq!(strip_sgr(&narrow), "tcp c…");
        assert_eq!(connected().render(0, true), "");
    }

    #[test]
    fn status_state_labels() {
        let cases = [
            (ConnState::Resolving, "resolving"),
            (ConnState::Connecting, "connecting"),
            (ConnState::Listening, "listening"),
            (
                ConnState::WaitingForDatagram,
                "waiting for the first datagram",
            ),
            (ConnState::Connected, "connected"),
            (ConnState::LockedTo, "locked to"),
            (ConnState::WeClosed, "you closed your side"),
            (ConnState::PeerClosed, "peer closed its side"),
            (ConnState::Closed, "closed"),
            (ConnState::PeerPortClosed, "peer port closed"),
        ];
        for (state, label) in cases {
            assert_eq!(state.label(), label);
            let m = StatusModel::new("tcp", state);
            assert_eq!(
                m.render(80, false),
                format!("tcp {label}  ↑ 0 B ↓ 0 B  00:00")
            );
        }
    }

    #[test]
    fn status_progress_line() {
        let mut m = connected();
        m.bytes_sent = 5 * 1024 * 1024 * 1024;
        assert_eq!(
            m.render_progress(200, 123 * 1024 * 1024),
            "tcp connected 127.0.0.1:55971  ↑ 5.0 GiB ↓ 1.4 KiB  123 MiB/s  00:42"
        );
        assert_eq!(
            m.render_progress(52, 123 * 1024 * 1024),
            "tcp connected  ↑ 5.0 GiB ↓ 1.4 KiB  123 MiB/s  00:42"
        );
        assert_eq!(
            m.render_progress(41, 0),
            "tcp connected  ↑ 5.0 GiB ↓ 1.4 KiB  0 B/s"
        );
        assert_eq!(m.render_progress(10, 0), "tcp conne…");
    }

    #[test]
    fn status_human_bytes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1434), "1.4 KiB");
        assert_eq!(human_bytes(1_258_291), "1.2 MiB");
        assert_eq!(human_bytes(150 * 1024), "150 KiB");
        assert_eq!(human_bytes(1024 * 1024 - 1), "1024 KiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn status_format_elapsed_and_rtt() {
        assert_eq!(format_elapsed(Duration::ZERO), "00:00");
        assert_eq!(format_elapsed(Duration::from_millis(42_999)), "00:42");
        assert_eq!(format_elapsed(Duration::from_secs(3599)), "59:59");
        assert_eq!(format_elapsed(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(format_rtt(Duration::from_micros(350)), "0.3 ms");
        assert_eq!(format_rtt(Duration::from_micros(12_400)), "12 ms");
        assert_eq!(format_rtt(Duration::from_millis(1500)), "1.5 s");
    }
}
