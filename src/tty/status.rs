//! `StatusModel`: what the status row says about the socket (transport, addresses, state,
//! byte counts, rates, how much of stdin is sent, elapsed time, RTT, last event, a key
//! hint, the TLS session), the states and their words, and what follows from the counts
//! (the rate shown, the percentage sent, the ETA). The pure renderers that turn a model
//! into one row of a given width, the interactive status bar and the non-interactive
//! progress line, are in `status/render.rs`. No I/O here.

use std::time::Duration;

use crate::sys::{TcpInfo, TcpState};

mod render;

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
    /// The state shown for the kernel's TCP state.
    pub(crate) fn from_tcp(state: TcpState) -> ConnState {
        match state {
            TcpState::Opening => ConnState::Connecting,
            TcpState::Established => ConnState::Connected,
            TcpState::FinWait => ConnState::WeClosed,
            TcpState::CloseWait => ConnState::PeerClosed,
            TcpState::Closed => ConnState::Closed,
            TcpState::Listen => ConnState::Listening,
        }
    }

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
    pub(super) fn sgr_color(self) -> &'static str {
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

/// A round-trip time the kernel measured on a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rtt {
    /// The lowest round trip of the last few minutes (`tcpi_min_rtt`): the path's delay,
    /// what `ping` shows on a quiet path. A peer's delayed ACKs do not inflate it. Shown
    /// as `rtt`.
    Min(Duration),
    /// The kernel's smoothed estimate (`tcpi_rtt`), for kernels that report no minimum.
    /// A peer that delays its ACKs (up to 40 ms on Linux) inflates it. Shown as `srtt`.
    Smoothed(Duration),
}

impl Rtt {
    /// The figure to show from `TCP_INFO`: the minimum is what a user means by round
    /// trip; a peer's delayed ACKs inflate the smoothed one, shown as such where the
    /// kernel has no minimum.
    pub(crate) fn from_tcp_info(info: &TcpInfo) -> Rtt {
        info.min_rtt.map_or(Rtt::Smoothed(info.srtt), Rtt::Min)
    }
}

/// How the peer's certificate was checked, as the status row says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PeerCheck {
    /// Verified for this name (trust store or `--tls-ca`): `verified NAME`.
    Verified(String),
    /// `--pin` matched: `pinned`.
    Pinned,
    /// `--insecure`: `NOT VERIFIED`, kept before anything but the peer.
    NotVerified,
    /// Nothing to say (a listener that asks for no client certificate).
    Unchecked,
}

/// What the status row shows of a TLS session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsShown {
    /// `TLS1.3`.
    pub(crate) version: String,
    /// The cipher suite, short: `AES_256_GCM`.
    pub(crate) suite: String,
    /// The ALPN protocol agreed, if any.
    pub(crate) alpn: Option<String>,
    /// How the peer was checked.
    pub(crate) check: PeerCheck,
}

/// How a row may be drawn, from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Look {
    /// Colours allowed (`NO_COLOR` unset). Without, the bar keeps reverse video and bold.
    pub(crate) color: bool,
    /// The locale is not UTF-8: draw ASCII only.
    pub(crate) ascii: bool,
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
    /// Bytes per second written to the socket lately (the last half second or so).
    pub(crate) rate_sent: u64,
    /// Bytes per second read from the socket lately.
    pub(crate) rate_received: u64,
    /// What the current connection is to send in all, when known: stdin is a regular
    /// file (its size less its offset at the start). Gives the percentage and the ETA.
    pub(crate) expected_to_send: Option<u64>,
    /// Time since the session (or, under `-k`, the connection) started.
    pub(crate) elapsed: Duration,
    /// The round-trip time from TCP_INFO, when known.
    pub(crate) rtt: Option<Rtt>,
    /// The last notable event (`peer closed its side`, `client 3 from …`).
    pub(crate) note: Option<String>,
    /// Keys the user can act on now (`Ctrl-D ends, Ctrl-C quits` while the session waits
    /// for them): outranks the counters, unlike a note.
    pub(crate) hint: Option<&'static str>,
    /// The connection's number under `-k` (1 for the first), shown as `client N`.
    pub(crate) connection: Option<u64>,
    /// The TLS session, under `--tls`.
    pub(crate) tls: Option<TlsShown>,
}

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
            rate_sent: 0,
            rate_received: 0,
            expected_to_send: None,
            elapsed: Duration::ZERO,
            rtt: None,
            note: None,
            hint: None,
            connection: None,
            tls: None,
        }
    }

    /// The rate shown: of the transfer whose size is known, else both ways together.
    pub(super) fn shown_rate(&self) -> u64 {
        if self.expected_to_send.is_some() {
            self.rate_sent
        } else {
            self.rate_sent.saturating_add(self.rate_received)
        }
    }

    /// How much of `expected_to_send` is sent, in whole percent (100 only when all is).
    pub(super) fn percent_sent(&self) -> Option<u64> {
        let total = self.expected_to_send?;
        if total == 0 {
            return Some(100);
        }
        let percent = u128::from(self.bytes_sent) * 100 / u128::from(total);
        Some(percent.min(100) as u64)
    }

    /// The time left to send the rest of `expected_to_send` at the current send rate.
    pub(super) fn eta(&self) -> Option<Duration> {
        let left = self.expected_to_send?.checked_sub(self.bytes_sent)?;
        if left == 0 || self.rate_sent == 0 {
            return None;
        }
        Some(Duration::from_secs(left.div_ceil(self.rate_sent)))
    }
}
