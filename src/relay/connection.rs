//! One connection's own state (its socket, datagram addressing, timers' marks, byte
//! counts) and what only datagram sockets do: learn the sender (or, under `-k`, keep a
//! table of peers and send each datagram to all of them), keep each datagram whole,
//! report an ICMP refusal without ending. The session holds one connection at a time;
//! the two `Direction`s hold what moves.

use std::io;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::net::endpoint::{Endpoint, PeerAddr};
use crate::notices::print_line;
use crate::relay::direction::{Direction, QUEUE_BYTES};
use crate::relay::peers::{Heard, PeerTable};
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
    /// A datagram listener locked onto this sender.
    Known(PeerAddr),
    /// A datagram listener with `-k`: every sender is a peer until it goes silent.
    Table(PeerTable),
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
        // "listening" while nobody is there, as a stream hub shows it.
        DatagramPeer::Table(table) if table.is_empty() => return (ConnState::Listening, None),
        DatagramPeer::Table(_) => return (ConnState::Connected, None),
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

/// Decide whether a datagram from `from` belongs to the session: lock onto the first
/// sender, or under `-k` admit it to the table of peers.
fn accept_sender(conn: &mut Connection, from: PeerAddr, now: Instant, verbose: bool) -> bool {
    match &mut conn.peer {
        DatagramPeer::Waiting => {
            if verbose {
                print_line(&format!("connection from {from}"));
            }
            conn.peer = DatagramPeer::Known(from);
            true
        }
        DatagramPeer::Known(current) if *current == from => true,
        DatagramPeer::Table(table) => match table.heard(&from, now) {
            Heard::Known | Heard::Unanswerable => true,
            Heard::Joined { evicted } => {
                if let (true, Some(gone)) = (verbose, evicted) {
                    let max = table.len();
                    print_line(&format!("{gone} forgotten: {max} peers already (-m {max})"));
                }
                if verbose {
                    print_line(&format!("connection from {from}"));
                }
                true
            }
            Heard::Refused => {
                if verbose {
                    print_line(&format!("refused datagram from {from} (--allow/--deny)"));
                }
                false
            }
        },
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
/// is room for the largest one. A listener learns its peer from the first sender (with
/// `-k`, its peers from every sender); a refusal (ICMP port unreachable) is reported, not
/// fatal.
pub(crate) fn receive_datagrams(
    conn: &mut Connection,
    dir: &mut Direction,
    verbose: bool,
    mark_senders: bool,
) -> Result<bool> {
    let mut progress = false;
    // A `-u -l -k` listener shown in a terminal marks each datagram with its sender
    // (`[ADDR] `), as a TCP `-k` listener marks lines: the mark goes in front.
    let mark = mark_senders && matches!(conn.peer, DatagramPeer::Table(_));
    let room_for_mark = if mark { MARK_MAX_BYTES } else { 0 };
    loop {
        let need = if matches!(conn.endpoint, Endpoint::Udp(_)) {
            DATAGRAM_RECV_BYTES
        } else {
            QUEUE_BYTES
        };
        if dir.queue.room() < need + room_for_mark {
            break;
        }
        let tail = dir.queue.tail_mut(need + room_for_mark);
        let into = &mut tail[room_for_mark..];
        let received = if conn.peer == DatagramPeer::Connected {
            conn.endpoint.read(into).map(|n| (n, None))
        } else {
            conn.endpoint.recv_from(into)
        };
        match received {
            Ok((n, from)) => {
                let now = Instant::now();
                if let Some(from) = &from
                    && !accept_sender(conn, from.clone(), now, verbose)
                {
                    continue;
                }
                let n = match (&from, mark) {
                    (Some(from), true) => {
                        let tail = dir.queue.tail_mut(need + room_for_mark);
                        mark_datagram(tail, room_for_mark, n, &from.to_string())
                    }
                    _ if mark => {
                        dir.queue
                            .tail_mut(need + room_for_mark)
                            .copy_within(room_for_mark..room_for_mark + n, 0);
                        n
                    }
                    _ => n,
                };
                dir.queue.commit(n);
                progress = true;
                conn.bytes_received += n as u64;
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

/// Room kept in front of a received datagram for its sender's mark.
const MARK_MAX_BYTES: usize = 80;

/// Put `[FROM] ` in front of the `n` bytes at `tail[offset..]`, and a newline after them
/// when they have none, so that each datagram shows on its own line. Returns the length.
fn mark_datagram(tail: &mut [u8], offset: usize, n: usize, from: &str) -> usize {
    let mut mark = format!("[{from}] ").into_bytes();
    mark.truncate(offset);
    tail.copy_within(offset..offset + n, mark.len());
    tail[..mark.len()].copy_from_slice(&mark);
    let mut len = mark.len() + n;
    if n > 0 && tail[len - 1] != b'\n' && len < tail.len() {
        tail[len] = b'\n';
        len += 1;
    }
    len
}

/// A queued datagram → the socket, whole or not at all. A refusal reported now belongs to
/// an earlier datagram: this one is tried once more, then dropped as the network would.
pub(crate) fn send_datagram(
    conn: &mut Connection,
    dir: &mut Direction,
    verbose: bool,
) -> Result<bool> {
    if matches!(conn.peer, DatagramPeer::Table(_)) {
        return send_datagram_to_each(conn, dir);
    }
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

/// The queued datagram → every peer of the table, one `sendto` each; a `WouldBlock`
/// leaves the peers not reached yet for the next try. A peer that cannot be sent to
/// (its Unix socket gone, a refusal) is forgotten with a line on stderr; the others still
/// get the datagram.
fn send_datagram_to_each(conn: &mut Connection, dir: &mut Direction) -> Result<bool> {
    let Connection {
        peer: DatagramPeer::Table(table),
        endpoint,
        ..
    } = conn
    else {
        return Ok(false);
    };
    let mut progress = false;
    let mut starting = !table.is_sending();
    while let Some(to) = table.next_recipient(starting) {
        starting = false;
        match endpoint.write(dir.queue.as_slice(), Some(&to)) {
            Ok(n) => {
                conn.bytes_sent += n as u64;
                table.sent_to_recipient();
                progress = true;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                dir.sink_ready = false;
                return Ok(progress);
            }
            Err(source) => {
                // One peer's failure is not the listener's: forget that peer only.
                let error = Error::Peer {
                    op: "send to",
                    peer: to.to_string(),
                    source,
                };
                print_line(&format!("{}: forgotten", error.one_line()));
                table.forget(&to);
            }
        }
    }
    // Every peer has it (or there was none left to send it to).
    dir.queue.clear();
    conn.last_activity = Instant::now();
    Ok(true)
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
        DatagramPeer::Waiting | DatagramPeer::Connected | DatagramPeer::Table(_) => conn
            .peer_text
            .clone()
            .or_else(|| conn.endpoint.peer_description())
            .unwrap_or_else(|| "peer".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_datagram_mark_goes_in_front_with_a_line_end() {
        let mut tail = vec![0u8; 100];
        tail[MARK_MAX_BYTES..MARK_MAX_BYTES + 2].copy_from_slice(b"hi");
        let n = mark_datagram(&mut tail, MARK_MAX_BYTES, 2, "127.0.0.1:5");
        assert_eq!(&tail[..n], b"[127.0.0.1:5] hi\n");
        tail[MARK_MAX_BYTES..MARK_MAX_BYTES + 3].copy_from_slice(b"ok\n");
        let n = mark_datagram(&mut tail, MARK_MAX_BYTES, 3, "[::1]:7");
        assert_eq!(&tail[..n], b"[[::1]:7] ok\n", "no second newline");
    }
}
