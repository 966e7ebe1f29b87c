//! One connection's own state (its socket, datagram addressing, timers' marks, byte
//! counts) and what only datagram sockets do: learn or follow the sender, keep each
//! datagram whole, report an ICMP refusal without ending. The session holds one
//! connection at a time; the two `Direction`s hold what moves.

use std::io;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::net::endpoint::{Endpoint, PeerAddr};
use crate::notices::print_line;
use crate::relay::direction::{Direction, QUEUE_BYTES};
use crate::relay::tls::TlsLayer;
use crate::sys;
use crate::trace;
use crate::tty::status::{ConnState, Rtt};

/// Room a UDP receive needs so that no datagram is ever truncated.
const DATAGRAM_RECV_BYTES: usize = 65_536;

/// How the current connection's peer is addressed for datagrams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DatagramPeer {
    /// A stream, or a connected datagram socket: no address needed.
    Connected,
    /// A datagram listener that has not heard from anyone yet.
    Waiting,
    /// A datagram listener locked onto (or, with `-k`, following) this sender.
    Known(PeerAddr),
}

/// Why a connection ended without both directions closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerEnd {
    /// `-w`: nothing moved for that long.
    Idle,
    /// `-q` after stdin EOF, or a datagram client's linger.
    Quit,
}

/// The state of one connection.
pub(crate) struct Connection {
    /// The socket.
    pub(crate) endpoint: Endpoint,
    /// Whether it is a datagram socket.
    pub(crate) datagram: bool,
    /// Datagram addressing.
    pub(crate) peer: DatagramPeer,
    /// The peer's address as text, taken at the start (a reset socket no longer has it).
    pub(crate) peer_text: Option<String>,
    /// An event reported the read side closed (FIN or error): read until EOF.
    pub(crate) read_closed_seen: bool,
    /// An event reported an error (EPOLLERR or EPOLLHUP) not yet looked at.
    pub(crate) error_seen: bool,
    /// Our side is finished: stdin ended, the queue drained, and the shutdown (if any)
    /// was sent. Holds when that happened.
    pub(crate) to_peer_done_at: Option<Instant>,
    /// An ICMP "port unreachable" was reported and not yet followed by a good datagram.
    pub(crate) refused_reported: bool,
    /// A timer ended the connection; it finishes flushing to stdout, then stops.
    pub(crate) ended_by: Option<TimerEnd>,
    /// Bytes sent to the peer.
    pub(crate) bytes_sent: u64,
    /// Bytes received from the peer.
    pub(crate) bytes_received: u64,
    /// When the connection started.
    pub(crate) started: Instant,
    /// Last time a byte moved in either direction.
    pub(crate) last_activity: Instant,
    /// Last time a datagram arrived.
    pub(crate) last_received: Option<Instant>,
    /// The TLS layer between the socket and the directions (`--tls`).
    pub(crate) tls: Option<TlsLayer>,
}

impl Connection {
    /// An error talking to the peer, naming it. A TCP reset is where rnc observes the RST,
    /// so `-v` says so here (and `-vvv` shows the socket's `TCP_INFO`).
    pub(crate) fn error(&self, op: &'static str, source: io::Error) -> Error {
        if source.kind() == io::ErrorKind::ConnectionReset && self.endpoint.is_tcp() {
            if trace::shows_lifecycle() {
                print_line("peer reset the connection (RST)");
            }
            trace::snapshot("reset", self.endpoint.fd());
        }
        Error::Peer {
            op,
            peer: peer_name(self),
            source,
        }
    }
}

/// The state to show for `conn`: the kernel's TCP state where it has one, else what the
/// session knows.
pub(crate) fn connection_state(conn: &Connection, peer_eof: bool) -> (ConnState, Option<Rtt>) {
    match &conn.peer {
        DatagramPeer::Waiting => return (ConnState::WaitingForDatagram, None),
        DatagramPeer::Known(_) => return (ConnState::LockedTo, None),
        DatagramPeer::Connected if conn.datagram => {
            let state = if conn.refused_reported {
                ConnState::PeerPortClosed
            } else {
                ConnState::Connected
            };
            return (state, None);
        }
        DatagramPeer::Connected => {}
    }
    if let Endpoint::Tcp(_) = conn.endpoint
        && let Some(info) = sys::tcp_info(conn.endpoint.fd())
    {
        return (
            ConnState::from_tcp(info.state),
            Some(Rtt::from_tcp_info(&info)),
        );
    }
    let state = match (peer_eof, conn.to_peer_done_at.is_some()) {
        (true, true) => ConnState::Closed,
        (true, false) => ConnState::PeerClosed,
        (false, true) => ConnState::WeClosed,
        (false, false) => ConnState::Connected,
    };
    (state, None)
}

/// Decide whether a datagram from `from` belongs to the session, locking onto the
/// first sender (or following the latest one under `-k`).
fn accept_sender(
    conn: &mut Connection,
    from: PeerAddr,
    follow_latest: bool,
    verbose: bool,
) -> bool {
    match &conn.peer {
        DatagramPeer::Waiting => {
            if verbose {
                print_line(&format!("connection from {from}"));
            }
            conn.peer = DatagramPeer::Known(from);
            true
        }
        DatagramPeer::Known(current) if *current == from => true,
        DatagramPeer::Known(_) if follow_latest => {
            if verbose {
                print_line(&format!("now replying to {from}"));
            }
            conn.peer = DatagramPeer::Known(from);
            true
        }
        DatagramPeer::Known(_) => {
            if verbose {
                print_line(&format!("ignoring datagram from {from}"));
            }
            false
        }
        DatagramPeer::Connected => true,
    }
}

/// Datagrams from the socket → the from-peer queue, one whole datagram each, while there
/// is room for the largest one. A listener learns (or, with `-k`, follows) its peer from
/// the senders; a refusal (ICMP port unreachable) is reported, not fatal.
pub(crate) fn receive_datagrams(
    conn: &mut Connection,
    dir: &mut Direction,
    follow_latest: bool,
    verbose: bool,
) -> Result<bool> {
    let mut progress = false;
    loop {
        let need = if matches!(conn.endpoint, Endpoint::Udp(_)) {
            DATAGRAM_RECV_BYTES
        } else {
            QUEUE_BYTES
        };
        if dir.queue.room() < need {
            break;
        }
        let tail = dir.queue.tail_mut(need);
        let received = if conn.peer == DatagramPeer::Connected {
            conn.endpoint.read(tail).map(|n| (n, None))
        } else {
            conn.endpoint.recv_from(tail)
        };
        match received {
            Ok((n, from)) => {
                if let Some(from) = from
                    && !accept_sender(conn, from, follow_latest, verbose)
                {
                    continue;
                }
                dir.queue.commit(n);
                progress = true;
                conn.bytes_received += n as u64;
                let now = Instant::now();
                conn.last_activity = now;
                conn.last_received = Some(now);
                conn.refused_reported = false;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                dir.source_ready = false;
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                report_refused(conn, verbose);
            }
            Err(source) => {
                return Err(conn.error("receive from", source));
            }
        }
    }
    Ok(progress)
}

/// A queued datagram → the socket, whole or not at all. A refusal reported now belongs to
/// an earlier datagram: this one is tried once more, then dropped as the network would.
pub(crate) fn send_datagram(
    conn: &mut Connection,
    dir: &mut Direction,
    verbose: bool,
) -> Result<bool> {
    let mut retried_refusal = false;
    loop {
        let dest = match &conn.peer {
            DatagramPeer::Known(addr) => Some(addr),
            _ => None,
        };
        let endpoint = &mut conn.endpoint;
        match dir.queue.drain_to(|buf| endpoint.write(buf, dest)) {
            Ok(Some(n)) => {
                conn.bytes_sent += n as u64;
                conn.last_activity = Instant::now();
                dir.queue.clear();
                return Ok(true);
            }
            Ok(None) => {
                dir.sink_ready = false;
                return Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused && !retried_refusal => {
                report_refused(conn, verbose);
                retried_refusal = true;
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                dir.queue.clear();
                return Ok(true);
            }
            Err(source) => return Err(conn.error("send to", source)),
        }
    }
}

/// Tell the user, once per burst, that the datagram peer's port is closed.
pub(crate) fn report_refused(conn: &mut Connection, verbose: bool) {
    if !conn.refused_reported || verbose {
        print_line(&format!(
            "{}: peer port closed (connection refused)",
            peer_name(conn)
        ));
    }
    conn.refused_reported = true;
}

fn peer_name(conn: &Connection) -> String {
    match &conn.peer {
        DatagramPeer::Known(addr) => addr.to_string(),
        _ => conn
            .peer_text
            .clone()
            .or_else(|| conn.endpoint.peer_description())
            .unwrap_or_else(|| "peer".to_string()),
    }
}
