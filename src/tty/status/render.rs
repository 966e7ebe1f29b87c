//! The pure renderers of a `StatusModel` (`status.rs`): one row of a given width, the
//! interactive status bar (`render`) and the non-interactive progress line
//! (`render_progress`), and the byte, time and RTT formats they use.
//!
//! Rendering never does I/O and never exceeds the width it is given. Fields are dropped
//! in reverse order of importance (state, then peer, an actionable key hint, the
//! percentage and ETA, bytes, elapsed, local, RTT, note) and what still does not fit is
//! cut with `…`. A TLS session adds its version and suite, the ALPN protocol and how the
//! peer was checked (`verified NAME`, `pinned`, `NOT VERIFIED`); the suite goes early,
//! `NOT VERIFIED` right after the peer, and it is bold (red with colours). The bar is
//! reverse video with a bold state; `Look::color` adds colours
//! (NO_COLOR means no colour, not no highlighting), and every escape is an SGR one.
//! Addresses, paths and notes go through `escape_for_display`, so a hostile name cannot
//! drive the terminal.
//!
//! Widths are display columns (`width.rs`): a name with wide characters is measured as
//! the terminal draws it. `⇄ ↑ ↓ µ …` count as one column each, as in most terminals; they
//! are "ambiguous width" and take two in some East Asian setups. Under a locale that is
//! not UTF-8 (`Look::ascii`) the row is pure ASCII: `<->`, `tx`/`rx`, `us`, `...`, and any
//! other non-ASCII character as `<U+XXXX>`.

use std::ops::Range;
use std::time::Duration;

use super::{ConnState, Look, PeerCheck, Rtt, StatusModel};
use crate::tty::sanitize::escape_for_display;
use crate::tty::width::{prefix_within, str_cols};

/// The words of `PeerCheck::NotVerified`.
const NOT_VERIFIED: &str = "NOT VERIFIED";

/// The symbols a row is drawn with.
struct Symbols {
    /// ASCII only: other characters of names are shown as `<U+XXXX>`.
    ascii: bool,
    /// Between the local and the peer address.
    link: &'static str,
    /// Before the bytes sent.
    sent: &'static str,
    /// Before the bytes received.
    received: &'static str,
    /// Microseconds.
    micros: &'static str,
    /// Marks text that was cut.
    ellipsis: &'static str,
}

const UNICODE: Symbols = Symbols {
    ascii: false,
    link: " ⇄ ",
    sent: "↑",
    received: "↓",
    micros: "µs",
    ellipsis: "…",
};

const ASCII: Symbols = Symbols {
    ascii: true,
    link: " <-> ",
    sent: "tx",
    received: "rx",
    micros: "us",
    ellipsis: "...",
};

impl Symbols {
    fn of(ascii: bool) -> &'static Symbols {
        if ascii { &ASCII } else { &UNICODE }
    }

    /// A name or note as it may be drawn: escaped, and ASCII when the locale wants it.
    fn shown(&self, text: &str) -> String {
        let escaped = escape_for_display(text);
        if !self.ascii || escaped.is_ascii() {
            return escaped;
        }
        let mut out = String::with_capacity(escaped.len());
        for c in escaped.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                out.push_str(&format!("<U+{:04X}>", u32::from(c)));
            }
        }
        out
    }
}

/// A piece of the row, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Head,
    Peer,
    Local,
    Bytes,
    Rate,
    Percent,
    Eta,
    Elapsed,
    Rtt,
    Note,
    Hint,
    TlsVersion,
    TlsSuite,
    Alpn,
    TlsCheck,
}

/// Separator between groups of the row.
const GAP: &str = "  ";

impl StatusModel {
    /// The status bar: exactly one row of `width` columns, no newline. A reverse-video
    /// bar padded to `width` with the state in bold; with `look.color` the state is also
    /// coloured. SGR sequences only. When `expected_to_send` is known it also shows the
    /// send rate, the percentage sent and the ETA.
    pub(crate) fn render(&self, width: usize, look: Look) -> String {
        let (row, warning) = self.row_marked(width, look.ascii);
        if width == 0 {
            return row;
        }
        let head_chars = self.head().chars().count();
        let split = row
            .char_indices()
            .nth(head_chars)
            .map_or(row.len(), |(i, _)| i);
        let (head, rest) = row.split_at(split);
        let (bold, unbold) = if look.color {
            (format!("\x1b[1;{}m", self.state.sgr_color()), "\x1b[22;39m")
        } else {
            ("\x1b[1m".to_string(), "\x1b[22m")
        };
        // `NOT VERIFIED` stands out: bold, and red with colours.
        let rest = match warning {
            Some(w) if w.start >= split => {
                let (start, end) = (w.start - split, w.end - split);
                let (on, off) = if look.color {
                    ("\x1b[1;31m", "\x1b[22;39m")
                } else {
                    ("\x1b[1m", "\x1b[22m")
                };
                format!(
                    "{}{on}{}{off}{}",
                    &rest[..start],
                    &rest[start..end],
                    &rest[end..]
                )
            }
            _ => rest.to_string(),
        };
        format!(
            "\x1b[7m{bold}{head}{unbold}{rest}{:pad$}\x1b[0m",
            "",
            pad = width.saturating_sub(str_cols(&row)),
        )
    }

    /// The status row's text, without attributes: at most `width` columns.
    #[cfg(test)]
    fn row_text(&self, width: usize, ascii: bool) -> String {
        self.row_marked(width, ascii).0
    }

    /// The status row's text and where `NOT VERIFIED` is in it (when shown whole).
    fn row_marked(&self, width: usize, ascii: bool) -> (String, Option<Range<usize>>) {
        // Without a peer, the local address (what we listen on) is the one to keep.
        let address = if self.peer.is_some() {
            Part::Peer
        } else {
            Part::Local
        };
        let mut priority = vec![address];
        let insecure = self
            .tls
            .as_ref()
            .is_some_and(|tls| tls.check == PeerCheck::NotVerified);
        if insecure {
            // A warning outranks everything but the peer.
            priority.push(Part::TlsCheck);
        }
        priority.extend([Part::Hint, Part::Percent, Part::Eta, Part::Bytes]);
        priority.extend([Part::TlsCheck, Part::TlsVersion]);
        if self.expected_to_send.is_some() {
            // A transfer of known size: its rate belongs with its progress.
            priority.push(Part::Rate);
        }
        priority.extend([
            Part::Elapsed,
            Part::Local,
            Part::Alpn,
            Part::Rtt,
            Part::TlsSuite,
            Part::Note,
        ]);
        let sym = Symbols::of(ascii);
        let included = self.fit_parts(width, &priority, Some(address), sym);
        let (text, warning) = self.compose_marked(&included, sym);
        let row = truncate(&text, width, sym.ellipsis);
        let warning = warning.filter(|w| row.get(w.clone()) == Some(NOT_VERIFIED));
        (row, warning)
    }

    /// The non-interactive progress line for stderr: state, then (as the width allows)
    /// percentage sent, ETA, bytes each way, the current rate, elapsed time, the peer. At
    /// most `width` columns, plain text (no SGR, whatever `look.color`).
    pub(crate) fn render_progress(&self, width: usize, look: Look) -> String {
        let priority = [
            Part::Percent,
            Part::Eta,
            Part::Bytes,
            Part::Rate,
            Part::Elapsed,
            Part::Peer,
        ];
        self.fit(width, &priority, None, Symbols::of(look.ascii))
    }

    /// The row with as many parts as fit, tried in `priority` order; `must` (the peer, or
    /// the local address without a peer) is kept even if it has to be cut.
    fn fit(&self, width: usize, priority: &[Part], must: Option<Part>, sym: &Symbols) -> String {
        let included = self.fit_parts(width, priority, must, sym);
        truncate(&self.compose(&included, sym), width, sym.ellipsis)
    }

    /// The parts `fit` shows.
    fn fit_parts(
        &self,
        width: usize,
        priority: &[Part],
        must: Option<Part>,
        sym: &Symbols,
    ) -> Vec<Part> {
        let mut included = vec![Part::Head];
        for &part in priority {
            if included.contains(&part) {
                continue;
            }
            included.push(part);
            if str_cols(&self.compose(&included, sym)) > width {
                included.pop();
            }
        }
        if let Some(must) = must
            && !included.contains(&must)
        {
            included.push(must);
        }
        included
    }

    /// The row made of the `included` parts, in display order: `tcp connected (client 2)
    /// LOCAL ⇄ PEER  ↑ sent ↓ received  rate/s  42% ETA 0:12  elapsed  rtt  note  hint`.
    fn compose(&self, included: &[Part], sym: &Symbols) -> String {
        self.compose_marked(included, sym).0
    }

    /// `compose`, and where `NOT VERIFIED` is in the row.
    fn compose_marked(&self, included: &[Part], sym: &Symbols) -> (String, Option<Range<usize>>) {
        let has = |p: Part| included.contains(&p);
        let local = self.local.as_deref().filter(|_| has(Part::Local));
        let peer = self.peer.as_deref().filter(|_| has(Part::Peer));
        let mut row = self.head();
        match (local, peer) {
            (Some(local), Some(peer)) if self.state == ConnState::LockedTo => {
                row.push(' ');
                row.push_str(&sym.shown(peer));
                row.push_str(" on ");
                row.push_str(&sym.shown(local));
            }
            (Some(local), Some(peer)) => {
                row.push(' ');
                row.push_str(&sym.shown(local));
                row.push_str(sym.link);
                row.push_str(&sym.shown(peer));
            }
            (None, Some(peer)) => {
                row.push(' ');
                row.push_str(&sym.shown(peer));
            }
            (Some(local), None) => {
                row.push_str(" on ");
                row.push_str(&sym.shown(local));
            }
            (None, None) => {}
        }
        let warning = self.compose_tls(&mut row, &has, sym);
        if has(Part::Bytes) {
            row.push_str(GAP);
            row.push_str(&format!(
                "{} {} {} {}",
                sym.sent,
                human_bytes(self.bytes_sent),
                sym.received,
                human_bytes(self.bytes_received)
            ));
        }
        if has(Part::Rate) {
            row.push_str(GAP);
            row.push_str(&human_bytes(self.shown_rate()));
            row.push_str("/s");
        }
        let percent = self.percent_sent().filter(|_| has(Part::Percent));
        if let Some(percent) = percent {
            row.push_str(GAP);
            row.push_str(&format!("{percent}%"));
        }
        if let Some(eta) = self.eta().filter(|_| has(Part::Eta)) {
            row.push_str(if percent.is_some() { " " } else { GAP });
            row.push_str("ETA ");
            row.push_str(&format_eta(eta));
        }
        if has(Part::Elapsed) {
            row.push_str(GAP);
            row.push_str(&format_elapsed(self.elapsed));
        }
        if let Some(rtt) = self.rtt.filter(|_| has(Part::Rtt)) {
            row.push_str(GAP);
            let (label, value) = match rtt {
                Rtt::Min(value) => ("rtt", value),
                Rtt::Smoothed(value) => ("srtt", value),
            };
            row.push_str(label);
            row.push(' ');
            row.push_str(&format_rtt(value, sym));
        }
        if let Some(note) = self.note.as_deref().filter(|_| has(Part::Note)) {
            row.push_str(GAP);
            row.push_str(&sym.shown(note));
        }
        if let Some(hint) = self.hint.filter(|_| has(Part::Hint)) {
            row.push_str(GAP);
            row.push_str(&sym.shown(hint));
        }
        (row, warning)
    }

    /// `  TLS1.3 AES_256_GCM  alpn h2  verified example.org`, as far as included; where
    /// `NOT VERIFIED` went.
    fn compose_tls(
        &self,
        row: &mut String,
        has: &dyn Fn(Part) -> bool,
        sym: &Symbols,
    ) -> Option<Range<usize>> {
        let tls = self.tls.as_ref()?;
        let mut warning = None;
        if has(Part::TlsVersion) {
            row.push_str(GAP);
            row.push_str(&sym.shown(&tls.version));
            if has(Part::TlsSuite) {
                row.push(' ');
                row.push_str(&sym.shown(&tls.suite));
            }
        }
        if let Some(alpn) = tls.alpn.as_deref().filter(|_| has(Part::Alpn)) {
            row.push_str(GAP);
            row.push_str("alpn ");
            row.push_str(&sym.shown(alpn));
        }
        if has(Part::TlsCheck) {
            match &tls.check {
                PeerCheck::Verified(name) => {
                    row.push_str(GAP);
                    row.push_str("verified ");
                    row.push_str(&sym.shown(name));
                }
                PeerCheck::Pinned => {
                    row.push_str(GAP);
                    row.push_str("pinned");
                }
                PeerCheck::NotVerified => {
                    row.push_str(GAP);
                    warning = Some(row.len()..row.len() + NOT_VERIFIED.len());
                    row.push_str(NOT_VERIFIED);
                }
                PeerCheck::Unchecked => {}
            }
        }
        warning
    }

    /// `tcp connected (client 3)`: transport, state and, under `-k`, the client's number.
    fn head(&self) -> String {
        match self.connection {
            Some(n) => format!("{} {} (client {n})", self.transport, self.state.label()),
            None => format!("{} {}", self.transport, self.state.label()),
        }
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

/// Time left as `m:ss`, or `h:mm:ss` from one hour on (`ETA 0:12`, as pv shows it).
fn format_eta(left: Duration) -> String {
    let secs = left.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A round-trip time: `45 µs`, `1.2 ms`, `12 ms`, `1.2 s` (`us` in ASCII).
fn format_rtt(rtt: Duration, sym: &Symbols) -> String {
    let micros = rtt.as_micros();
    let ms = rtt.as_secs_f64() * 1000.0;
    if micros < 1000 {
        format!("{micros} {}", sym.micros)
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// `text` cut to `width` columns, ending in `ellipsis` when something was cut (and there
/// is room for it).
fn truncate(text: &str, width: usize, ellipsis: &str) -> String {
    if str_cols(text) <= width {
        return text.to_string();
    }
    let Some(room) = width.checked_sub(str_cols(ellipsis)) else {
        return prefix_within(text, width).to_string();
    };
    let mut out = prefix_within(text, room).to_string();
    out.push_str(ellipsis);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tty::status::TlsShown;

    const MIB: u64 = 1024 * 1024;

    /// Colours and Unicode: a UTF-8 terminal without NO_COLOR.
    const COLOR: Look = Look {
        color: true,
        ascii: false,
    };
    /// NO_COLOR in a UTF-8 locale.
    const NO_COLOR: Look = Look {
        color: false,
        ascii: false,
    };
    /// `LC_ALL=C`.
    const ASCII_LOOK: Look = Look {
        color: true,
        ascii: true,
    };

    /// The status row's text in a UTF-8 locale.
    fn plain(m: &StatusModel, width: usize) -> String {
        m.row_text(width, false)
    }

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
        m.rtt = Some(Rtt::Min(Duration::from_micros(350)));
        m.note = Some("connection 3 from 127.0.0.1:55971".into());
        m.connection = Some(3);
        m
    }

    /// Sending a 100 MiB file at 4 MiB/s, 42 MiB done.
    fn sending() -> StatusModel {
        let mut m = connected();
        m.bytes_sent = 42 * MIB;
        m.expected_to_send = Some(100 * MIB);
        m.rate_sent = 4 * MIB;
        m.rate_received = 1000;
        m
    }

    /// The SGR parameters of a row and its visible text, checking that every escape is
    /// an SGR one.
    fn split_sgr(row: &str) -> (Vec<u16>, String) {
        let mut params = Vec::new();
        let mut out = String::new();
        let mut chars = row.chars();
        while let Some(c) = chars.next() {
            if c != '\x1b' {
                out.push(c);
                continue;
            }
            assert_eq!(chars.next(), Some('['), "only CSI in {row:?}");
            let mut param = String::new();
            loop {
                match chars.next() {
                    Some(c @ ('m' | ';')) => {
                        params.push(param.parse().unwrap_or(0));
                        param.clear();
                        if c == 'm' {
                            break;
                        }
                    }
                    Some(c) if c.is_ascii_digit() => param.push(c),
                    other => panic!("not an SGR sequence ({other:?}) in {row:?}"),
                }
            }
        }
        (params, out)
    }

    fn strip_sgr(row: &str) -> String {
        split_sgr(row).1
    }

    /// Whether an SGR parameter sets a colour (foreground or background, any palette).
    fn is_colour(param: u16) -> bool {
        matches!(param, 30..=49 | 90..=107)
    }

    /// A TLS 1.3 session checked with `check`, with ALPN `h2`.
    fn tls(check: PeerCheck) -> StatusModel {
        let mut m = full();
        m.tls = Some(TlsShown {
            version: "TLS1.3".into(),
            suite: "AES_256_GCM".into(),
            alpn: Some("h2".into()),
            check,
        });
        m
    }

    fn all_models() -> Vec<StatusModel> {
        let mut models = vec![connected(), full(), sending()];
        models.push(tls(PeerCheck::Verified("exämple.org\x1b[2J".into())));
        models.push(tls(PeerCheck::Pinned));
        models.push(tls(PeerCheck::NotVerified));
        models.push(tls(PeerCheck::Unchecked));
        let mut m = StatusModel::new("udp", ConnState::WaitingForDatagram);
        m.local = Some("0.0.0.0:5353".into());
        models.push(m.clone());
        m.state = ConnState::LockedTo;
        m.peer = Some("10.0.0.2:4000".into());
        models.push(m);
        let mut m = StatusModel::new("unix", ConnState::PeerClosed);
        m.peer = Some("/tmp/évil\x1b[2J\u{9b}\u{202e}.sock".into());
        m.note = Some("peer closed\nits side".into());
        m.hint = Some("Ctrl-D ends, Ctrl-C quits");
        models.push(m);
        models.push(StatusModel::new("tcp", ConnState::Resolving));
        let mut m = StatusModel::new("unix", ConnState::Connected);
        m.peer = Some("/run/日本語のソケット/😀.sock".into());
        m.note = Some("接続しました".into());
        models.push(m);
        let mut m = full();
        m.bytes_sent = u64::MAX;
        m.expected_to_send = Some(u64::MAX / 3);
        m.rate_sent = u64::MAX;
        m.rate_received = u64::MAX;
        m.elapsed = Duration::from_secs(1_000_000);
        m.rtt = Some(Rtt::Smoothed(Duration::from_secs(3)));
        models.push(m);
        models
    }

    #[test]
    fn status_render_example_row() {
        assert_eq!(
            plain(&connected(), 200),
            "tcp connected 127.0.0.1:5000 ⇄ 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  00:42"
        );
        assert_eq!(
            plain(&full(), 200),
            "tcp connected (client 3) 127.0.0.1:5000 ⇄ 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  \
             00:42  rtt 350 µs  connection 3 from 127.0.0.1:55971"
        );
    }

    #[test]
    fn status_render_never_exceeds_width() {
        for model in all_models() {
            for width in 0..=130 {
                let text = plain(&model, width);
                assert!(str_cols(&text) <= width, "{width}: {text:?}");
                assert!(!text.contains('\x1b') && !text.contains('\n'), "{text:?}");
                for look in [COLOR, NO_COLOR, ASCII_LOOK] {
                    let bar = model.render(width, look);
                    let visible = strip_sgr(&bar);
                    assert_eq!(str_cols(&visible), width, "the bar fills the row: {bar:?}");
                    assert_eq!(
                        visible.trim_end(),
                        model.row_text(width, look.ascii).trim_end(),
                        "same text"
                    );
                    let progress = model.render_progress(width, look);
                    assert!(str_cols(&progress) <= width, "{width}: {progress:?}");
                    assert!(!progress.contains('\x1b'));
                }
            }
        }
    }

    #[test]
    fn status_render_drops_least_important_first() {
        let m = full();
        let at = |w| plain(&m, w);
        let widest = str_cols(&at(200));
        assert_eq!(
            at(widest - 1),
            "tcp connected (client 3) 127.0.0.1:5000 ⇄ 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  \
             00:42  rtt 350 µs",
            "the note goes first"
        );
        assert_eq!(
            at(93),
            "tcp connected (client 3) 127.0.0.1:5000 ⇄ 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  00:42"
        );
        assert_eq!(
            at(81),
            "tcp connected (client 3) 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  00:42  rtt 350 µs",
            "then the local address; a smaller field that fits still shows"
        );
        assert_eq!(
            at(64),
            "tcp connected (client 3) 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB",
            "then elapsed"
        );
        assert_eq!(at(57), "tcp connected (client 3) 127.0.0.1:55971  00:42");
        assert_eq!(at(40), "tcp connected (client 3) 127.0.0.1:55971");
        assert_eq!(
            at(33),
            "tcp connected (client 3) 127.0.0…",
            "the peer is cut, not dropped"
        );
        assert_eq!(at(10), "tcp conne…");
        assert_eq!(at(1), "…");
        assert_eq!(at(0), "");
    }

    #[test]
    fn status_render_key_hint_outranks_counters() {
        let mut m = full();
        m.state = ConnState::PeerClosed;
        m.note = None;
        m.connection = None;
        m.hint = Some("Ctrl-D ends, Ctrl-C quits");
        assert_eq!(
            plain(&m, 200),
            "tcp peer closed its side 127.0.0.1:5000 ⇄ 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  \
             00:42  rtt 350 µs  Ctrl-D ends, Ctrl-C quits"
        );
        assert!(
            plain(&m, 100).ends_with("  Ctrl-D ends, Ctrl-C quits"),
            "kept at a normal width: {:?}",
            plain(&m, 100)
        );
        assert_eq!(
            plain(&m, 67),
            "tcp peer closed its side 127.0.0.1:55971  Ctrl-D ends, Ctrl-C quits",
            "the counters and the clock go before the hint"
        );
        assert_eq!(
            plain(&m, 66),
            "tcp peer closed its side 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB  00:42",
            "the peer still comes first"
        );
    }

    #[test]
    fn status_render_without_peer_keeps_local() {
        let mut m = StatusModel::new("udp", ConnState::WaitingForDatagram);
        m.local = Some("0.0.0.0:5353".into());
        m.elapsed = Duration::from_secs(3);
        assert_eq!(
            plain(&m, 100),
            "udp waiting for the first datagram on 0.0.0.0:5353  ↑ 0 B ↓ 0 B  00:03"
        );
        assert_eq!(
            plain(&m, 50),
            "udp waiting for the first datagram on 0.0.0.0:5353"
        );
        m.state = ConnState::LockedTo;
        m.peer = Some("10.0.0.2:4000".into());
        assert_eq!(
            plain(&m, 100),
            "udp locked to 10.0.0.2:4000 on 0.0.0.0:5353  ↑ 0 B ↓ 0 B  00:03"
        );
        assert_eq!(plain(&m, 40), "udp locked to 10.0.0.2:4000  ↑ 0 B ↓ 0 B");
        let mut m = StatusModel::new("tcp", ConnState::Listening);
        m.local = Some("[::]:5000".into());
        assert!(plain(&m, 80).starts_with("tcp listening on [::]:5000  "));
    }

    #[test]
    fn status_render_escapes_hostile_names() {
        let mut m = StatusModel::new("unix", ConnState::Connected);
        m.peer = Some("/tmp/x\x1b]0;owned\x07\n".into());
        m.note = Some("\u{202e}note".into());
        let row = plain(&m, 200);
        assert!(
            row.starts_with("unix connected /tmp/x^[]0;owned^G^J  "),
            "{row:?}"
        );
        assert!(row.ends_with("<U+202E>note"), "{row:?}");
    }

    #[test]
    fn status_render_no_color_keeps_reverse_and_bold() {
        for model in all_models() {
            for width in [1, 5, 30, 80, 200] {
                let (params, _) = split_sgr(&model.render(width, NO_COLOR));
                assert!(params.contains(&7), "reverse video: {params:?}");
                assert!(params.contains(&1), "a bold state: {params:?}");
                assert!(!params.iter().any(|&p| is_colour(p)), "colour: {params:?}");
            }
        }
        let row = connected().render(80, NO_COLOR);
        assert!(
            row.starts_with("\x1b[7m\x1b[1mtcp connected\x1b[22m 127.0.0.1:5000"),
            "{row:?}"
        );
        assert!(row.ends_with(" \x1b[0m"));
    }

    #[test]
    fn status_render_color_is_a_padded_sgr_bar() {
        let row = connected().render(80, COLOR);
        assert!(row.starts_with("\x1b[7m\x1b[1;32mtcp connected\x1b[22;39m 127.0.0.1:5000"));
        assert!(row.ends_with(" \x1b[0m"));
        assert_eq!(strip_sgr(&row).chars().count(), 80, "the bar fills the row");
        let mut closed = connected();
        closed.state = ConnState::Closed;
        assert!(
            closed
                .render(80, COLOR)
                .contains("\x1b[1;31mtcp closed\x1b[22;39m")
        );
        let narrow = connected().render(6, COLOR);
        assert_eq!(strip_sgr(&narrow), "tcp c…");
        assert_eq!(connected().render(0, COLOR), "");
    }

    #[test]
    fn status_render_ascii_locale_is_pure_ascii() {
        assert_eq!(
            full().row_text(200, true),
            "tcp connected (client 3) 127.0.0.1:5000 <-> 127.0.0.1:55971  tx 12 B rx 1.4 KiB  \
             00:42  rtt 350 us  connection 3 from 127.0.0.1:55971"
        );
        assert_eq!(connected().row_text(10, true), "tcp con...");
        assert_eq!(connected().row_text(2, true), "tc");
        assert_eq!(
            sending().render_progress(200, ASCII_LOOK),
            "tcp connected 127.0.0.1:55971  tx 42.0 MiB rx 1.4 KiB  4.0 MiB/s  42% ETA 0:15  00:42"
        );
        let mut m = StatusModel::new("unix", ConnState::Connected);
        m.peer = Some("/run/é😀.sock".into());
        assert_eq!(
            m.row_text(200, true),
            "unix connected /run/<U+00E9><U+1F600>.sock  tx 0 B rx 0 B  00:00"
        );
        for model in all_models() {
            for width in 0..=130 {
                let bar = model.render(width, ASCII_LOOK);
                assert!(bar.is_ascii(), "{bar:?}");
                let progress = model.render_progress(width, ASCII_LOOK);
                assert!(progress.is_ascii(), "{progress:?}");
            }
        }
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
            assert_eq!(plain(&m, 80), format!("tcp {label}  ↑ 0 B ↓ 0 B  00:00"));
        }
    }

    #[test]
    fn status_progress_line() {
        let mut m = connected();
        m.bytes_sent = 5 * 1024 * MIB;
        m.rate_received = 123 * MIB;
        assert_eq!(
            m.render_progress(200, COLOR),
            "tcp connected 127.0.0.1:55971  ↑ 5.0 GiB ↓ 1.4 KiB  123 MiB/s  00:42"
        );
        assert_eq!(
            m.render_progress(52, COLOR),
            "tcp connected  ↑ 5.0 GiB ↓ 1.4 KiB  123 MiB/s  00:42"
        );
        m.rate_received = 0;
        assert_eq!(
            m.render_progress(41, COLOR),
            "tcp connected  ↑ 5.0 GiB ↓ 1.4 KiB  0 B/s"
        );
        assert_eq!(m.render_progress(10, COLOR), "tcp conne…");
    }

    #[test]
    fn status_progress_line_has_percent_and_eta_of_a_file() {
        let m = sending();
        let at = |w| m.render_progress(w, COLOR);
        assert_eq!(
            at(200),
            "tcp connected 127.0.0.1:55971  ↑ 42.0 MiB ↓ 1.4 KiB  4.0 MiB/s  42% ETA 0:15  00:42",
            "the rate is the send rate; 58 MiB at 4 MiB/s take 15 s"
        );
        assert_eq!(
            at(66),
            "tcp connected  ↑ 42.0 MiB ↓ 1.4 KiB  4.0 MiB/s  42% ETA 0:15",
            "the peer, then elapsed time go first"
        );
        assert_eq!(
            at(48),
            "tcp connected  4.0 MiB/s  42% ETA 0:15  00:42",
            "then the byte counts"
        );
        assert_eq!(at(26), "tcp connected  42%  00:42", "then the ETA");
        assert_eq!(at(18), "tcp connected  42%", "the percentage stays longest");
        let mut done = sending();
        done.bytes_sent = 100 * MIB;
        assert!(at(200).contains("  42% ETA 0:15  "));
        assert!(
            done.render_progress(200, COLOR).contains("  100%  00:42"),
            "no ETA once all is sent"
        );
        let mut stalled = sending();
        stalled.rate_sent = 0;
        assert!(
            stalled
                .render_progress(200, COLOR)
                .contains("  0 B/s  42%  00:42"),
            "no ETA without a rate"
        );
        let mut almost = sending();
        almost.bytes_sent = 100 * MIB - 1;
        assert!(
            almost
                .render_progress(200, COLOR)
                .contains("  99% ETA 0:01"),
            "100% only when everything is sent"
        );
    }

    #[test]
    fn status_row_shows_send_progress_of_a_file() {
        let m = sending();
        assert_eq!(
            plain(&m, 200),
            "tcp connected 127.0.0.1:5000 ⇄ 127.0.0.1:55971  ↑ 42.0 MiB ↓ 1.4 KiB  4.0 MiB/s  \
             42% ETA 0:15  00:42"
        );
        assert_eq!(
            plain(&m, 52),
            "tcp connected 127.0.0.1:55971  42% ETA 0:15  00:42",
            "progress outranks the counters"
        );
        assert!(
            !plain(&connected(), 200).contains("/s"),
            "no rate without a known size"
        );
    }

    #[test]
    fn status_human_bytes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1434), "1.4 KiB");
        assert_eq!(human_bytes(1_258_291), "1.2 MiB");
        assert_eq!(human_bytes(150 * 1024), "150 KiB");
        assert_eq!(human_bytes(MIB - 1), "1024 KiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn status_format_elapsed_and_eta() {
        assert_eq!(format_elapsed(Duration::ZERO), "00:00");
        assert_eq!(format_elapsed(Duration::from_millis(42_999)), "00:42");
        assert_eq!(format_elapsed(Duration::from_secs(3599)), "59:59");
        assert_eq!(format_elapsed(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(format_eta(Duration::from_secs(12)), "0:12");
        assert_eq!(format_eta(Duration::from_secs(3599)), "59:59");
        assert_eq!(format_eta(Duration::from_secs(3723)), "1:02:03");
    }

    #[test]
    fn status_rtt_in_microseconds_below_a_millisecond() {
        let us = |n| format_rtt(Duration::from_micros(n), &UNICODE);
        assert_eq!(us(45), "45 µs");
        assert_eq!(us(350), "350 µs");
        assert_eq!(us(999), "999 µs");
        assert_eq!(us(1000), "1.0 ms");
        assert_eq!(us(5_100), "5.1 ms");
        assert_eq!(us(12_400), "12 ms");
        assert_eq!(us(1_500_000), "1.5 s");
        assert_eq!(format_rtt(Duration::from_micros(45), &ASCII), "45 us");
        let mut m = connected();
        m.rtt = Some(Rtt::Min(Duration::from_micros(45)));
        assert!(plain(&m, 200).ends_with("  00:42  rtt 45 µs"));
        m.rtt = Some(Rtt::Smoothed(Duration::from_micros(5_100)));
        assert!(
            plain(&m, 200).ends_with("  00:42  srtt 5.1 ms"),
            "the smoothed estimate says so"
        );
    }

    #[test]
    fn status_render_tls_session() {
        let m = tls(PeerCheck::Verified("example.org".into()));
        assert_eq!(
            plain(&m, 200),
            "tcp connected (client 3) 127.0.0.1:5000 ⇄ 127.0.0.1:55971  TLS1.3 AES_256_GCM  \
             alpn h2  verified example.org  ↑ 12 B ↓ 1.4 KiB  00:42  rtt 350 µs  \
             connection 3 from 127.0.0.1:55971"
        );
        assert_eq!(
            plain(&m, 130),
            "tcp connected (client 3) 127.0.0.1:5000 ⇄ 127.0.0.1:55971  TLS1.3  alpn h2  \
             verified example.org  ↑ 12 B ↓ 1.4 KiB  00:42",
            "the suite goes early"
        );
        assert_eq!(
            plain(&m, 90),
            "tcp connected (client 3) 127.0.0.1:55971  TLS1.3  verified example.org  \
             ↑ 12 B ↓ 1.4 KiB",
            "the version and the check outlast the clock"
        );
        assert_eq!(
            plain(&m, 60),
            "tcp connected (client 3) 127.0.0.1:55971  ↑ 12 B ↓ 1.4 KiB",
            "the counters outlast the check"
        );
        let pinned = tls(PeerCheck::Pinned);
        assert!(plain(&pinned, 200).contains("  TLS1.3 AES_256_GCM  alpn h2  pinned  ↑"));
        let mut unchecked = tls(PeerCheck::Unchecked);
        unchecked.tls.as_mut().expect("tls").alpn = None;
        assert!(plain(&unchecked, 200).contains(":55971  TLS1.3 AES_256_GCM  ↑ 12 B"));
    }

    #[test]
    fn status_render_keeps_not_verified() {
        let mut m = tls(PeerCheck::NotVerified);
        m.hint = Some("Ctrl-D ends, Ctrl-C quits");
        assert_eq!(
            plain(&m, 54),
            "tcp connected (client 3) 127.0.0.1:55971  NOT VERIFIED",
            "before the hint and the counters"
        );
        for width in 54..=200 {
            let row = plain(&m, width);
            assert!(row.contains("  NOT VERIFIED"), "{width}: {row:?}");
            if row.contains('↑') {
                assert!(row.contains("NOT VERIFIED"));
            }
        }
        let row = m.render(80, COLOR);
        assert!(
            row.contains("\x1b[1;31mNOT VERIFIED\x1b[22;39m"),
            "red: {row:?}"
        );
        let row = m.render(80, NO_COLOR);
        assert!(row.contains("\x1b[1mNOT VERIFIED\x1b[22m"), "bold: {row:?}");
        assert_eq!(strip_sgr(&m.render(80, COLOR)).chars().count(), 80);
        let cut = m.render(50, COLOR);
        assert!(!cut.contains("31m"), "no colour for a cut warning: {cut:?}");
        assert_eq!(strip_sgr(&cut).chars().count(), 50);
    }

    #[test]
    fn status_render_tls_ascii() {
        let m = tls(PeerCheck::Verified("bücher.example".into()));
        let row = m.row_text(200, true);
        assert!(
            row.contains("  TLS1.3 AES_256_GCM  alpn h2  verified b<U+00FC>cher.example  tx 12 B"),
            "{row:?}"
        );
        for check in [PeerCheck::NotVerified, PeerCheck::Pinned] {
            for width in 0..=130 {
                let bar = tls(check.clone()).render(width, ASCII_LOOK);
                assert!(bar.is_ascii(), "{bar:?}");
            }
        }
    }
}
