//! The session: one connection at a time joined to stdin and stdout through two
//! `Direction`s ("to peer" and "from peer"), the EOF and half-close rules, and `is_done()`,
//! the one place that decides when a session is over.
//!
//! It never calls `poll`: the loop tells it what became ready (`on_*` methods), then
//! calls `pump()`, which moves bytes as far as they go without waiting. Readiness is
//! cached: an event sets a flag, `WouldBlock` clears it, so sources are registered once
//! (edge-triggered) and never re-registered. The loop `attach`es its connection (for a
//! hub, the socket pair to it). Its parts: `steps` (the pump's copy steps, EOF and
//! half-close), `paths` (zero-copy choice and steps), `screen` (keys, the screen, the
//! status model),
//! `timers` (`-w`, `-q`, datagram linger, `-i`'s wake-ups), `replies` (`-t`'s refusals).

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::net::endpoint::{Endpoint, PeerAddr};
use crate::notices::print_line;
use crate::relay::connection::{
    Connection, DatagramPeer, TimerEnd, receive_datagrams, send_datagram,
};
use crate::relay::crlf::CrlfEncoder;
use crate::relay::direction::{CrlfSource, Direction, Filled, QUEUE_BYTES, Sink, Source};
use crate::relay::ends::{SocketSink, SocketSource, StdinSource, StdoutSink};
use crate::relay::hexdump::Way;
use crate::relay::pace::LinePacer;
use crate::relay::peers::{PeerRules, PeerTable};
use crate::relay::stdio::StdStream;
use crate::relay::tap::{Tap, TappedSink, TappedSource};
use crate::relay::telnet::Telnet;
use crate::relay::tls::{TlsLayer, TlsSink, TlsSource, truncated_error};
use crate::relay::zerocopy::{FromPeer, ToPeer};
use crate::sys::FdKind;
use crate::trace;
use crate::tty::ui::{TypedLines, Ui};

mod paths;
mod replies;
mod screen;
mod steps;
mod timers;

use paths::PipeBulk;

/// The stdin → peer queue once a pipe stdin proves bulk into TCP: as big as the pipe rnc
/// enlarges, so one read can empty it (docs/performance.md, "Zero-copy choices").
const BULK_PIPE_QUEUE_BYTES: usize = 1 << 20;
/// The largest UDP payload; one stdin read is at most one datagram of this size.
pub(crate) const MAX_DATAGRAM_BYTES: usize = 65_507;
/// Datagram size when stdin is a regular file, which has no message boundaries: 16 KiB,
/// as nc. Smaller datagrams lose less when a receiver falls behind (measured: 64 KiB ones
/// lost 71% of a 256 MiB loopback burst, 16 KiB ones 42%, at the same goodput).
const FILE_DATAGRAM_BYTES: usize = 16 * 1024;
/// How long a datagram client waits for replies after stdin ends (without `-q`).
const DATAGRAM_LINGER: Duration = Duration::from_secs(1);
/// Rounds `pump` makes before handing control back to the loop (fairness with signals
/// and timers when both ends are always ready, as a file to a fast socket is).
const PUMP_ROUNDS: usize = 16;
/// Zero-copy steps one pump round makes at most in each direction.
const ZERO_COPY_STEPS: usize = 16;
/// A read at least this big shows a bulk transfer: splice takes over from copying. Small
/// messages (typing, requests, the latency case) stay on read/write, which costs fewer
/// syscalls per message than splice and its readiness probe.
const BULK_READ_BYTES: usize = 64 * 1024;

/// The session's knobs, from `Config`.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `-C`.
    pub(crate) crlf: bool,
    /// Send `shutdown(Write)` at stdin EOF.
    pub(crate) shutdown_on_eof: bool,
    /// `-v`.
    pub(crate) verbose: bool,
    /// `-w` once connected.
    pub(crate) idle_timeout: Option<Duration>,
    /// `-q`.
    pub(crate) quit_after_eof: Option<Duration>,
    /// `-k` on a datagram listener: every sender joins a table of peers, each datagram
    /// from stdin goes to all of them.
    pub(crate) peer_table: Option<PeerRules>,
    /// `-k` on a stream listener: other clients wait, so a client that closed its side is
    /// done even in interactive mode.
    pub(crate) keep_listening: bool,
    /// Use sendfile/splice where the fds allow (off in interactive mode).
    pub(crate) zero_copy: bool,
    /// A client without `--tls`: a TLS record as the first bytes from the peer ends the
    /// session with `the peer speaks TLS: try --tls` instead of reaching stdout.
    pub(crate) sniff_tls: bool,
    /// `--send-only`: received bytes are read (so the peer is never blocked and a close
    /// is a FIN, not a reset) and dropped; nothing reaches stdout or the screen.
    pub(crate) send_only: bool,
    /// `-i`: the pause between lines sent.
    pub(crate) line_delay: Option<Duration>,
    /// `-t`: answer telnet negotiation with refusals, keep it out of stdout.
    pub(crate) telnet: bool,
    /// The connection is the hub's socket pair (`-k`, `--broker`, `--chat`): the hub
    /// keeps the status row's state and peer, not this connection.
    pub(crate) for_hub: bool,
    /// stdin and stdout are a program's pipes (`-e`): the peer's EOF closes the
    /// program's stdin, a program that stops reading (EPIPE) does not end the session
    /// (what the peer sends is dropped), and the session waits for the program's EOF.
    pub(crate) program: bool,
}

/// Whether `first` (the first bytes a server sent) is a TLS alert record: what a TLS server
/// answers plain text with (type 0x15, SSL 3.0 to TLS 1.3, a 2-byte body of level 1 or 2).
/// Only a whole alert counts, not any record header: a plain client may be fetching a
/// binary stream, and its bytes must reach stdout unless they cannot be anything else.
pub(crate) fn looks_like_tls_record(first: &[u8]) -> bool {
    matches!(first, [0x15, 0x03, 0x00..=0x04, 0x00, 0x02, 0x01 | 0x02, _])
}

fn stdin_error(source: io::Error) -> Error {
    Error::Stdio {
        op: "read from stdin",
        source,
    }
}

fn stdout_error(source: io::Error) -> Error {
    Error::Stdio {
        op: "write to stdout",
        source,
    }
}

/// stdin and stdout joined to one connection at a time.
pub(crate) struct Session {
    /// Knobs.
    options: Options,
    /// stdin, unless `-d`.
    stdin: Option<StdStream>,
    /// stdout.
    stdout: StdStream,
    /// stdin is a file or device: always ready, never registered.
    stdin_always_ready: bool,
    /// stdin is a pipe: a short read means it is empty (a terminal returns one line per
    /// read, so it must be read until `WouldBlock`).
    stdin_short_read_drains: bool,
    /// stdout is a pipe or socket: a short write means it is full.
    stdout_short_write_fills: bool,
    /// Interactive: the terminal hung up (a read gave 0), so no more keys can come.
    keys_closed: bool,
    /// Interactive: the terminal may have keys to read (the to-peer direction's source is
    /// the editor's lines, with readiness of its own).
    keys_ready: bool,
    /// stdin (or the editor's lines) → the socket. Its source is stdin, for the whole
    /// session: `source_eof` is stdin's EOF (in interactive mode also Ctrl-D, after which
    /// the keyboard is still read). Its sink is the current connection's socket.
    to_peer: Direction,
    /// The socket → stdout (or the screen). Its source is the current connection's
    /// socket: `source_eof` is the peer's FIN. Its sink is stdout, for the whole session:
    /// `sink_closed` when stdout's reader went away (EPIPE), a quiet end.
    from_peer: Direction,
    /// The zero-copy path stdin → socket, while the kernel accepts it.
    to_peer_fast: Option<ToPeer>,
    /// The zero-copy path socket → stdout, while the kernel accepts it.
    from_peer_fast: Option<FromPeer>,
    /// What a pipe stdin switches to once it proves bulk.
    to_peer_bulk: Option<PipeBulk>,
    /// socket → stdout may switch to splice once the socket proves bulk.
    from_peer_bulk: bool,
    /// `-C` state and its scratch buffer.
    crlf: Option<(CrlfEncoder, Vec<u8>, Vec<u8>)>,
    /// `-i`: which queued bytes may go now.
    pacer: Option<LinePacer>,
    /// `-t`: the telnet layer of the current connection.
    telnet: Option<Telnet>,
    /// The current connection.
    conn: Option<Connection>,
    /// `-o`, `--hex-dump`: the logs every chunk that moves is recorded in.
    tap: Option<Tap>,
    /// What the terminal shows.
    ui: Ui,
    /// The user pressed Ctrl-C in interactive mode.
    quit_requested: bool,
}

impl Session {
    /// A session over stdin (`None` with `-d`) and stdout, with no connection yet.
    pub(crate) fn new(
        options: Options,
        stdin: Option<StdStream>,
        stdout: StdStream,
        mut ui: Ui,
    ) -> Session {
        if !options.crlf {
            // A file's size gives the transfer a percentage and an ETA (`-C` adds bytes).
            ui.set_expected_to_send(stdin.as_ref().and_then(StdStream::bytes_left));
        }
        let stdin_always_ready = stdin.as_ref().is_some_and(|s| !s.is_pollable());
        let crlf = options
            .crlf
            .then(|| (CrlfEncoder::default(), vec![0; QUEUE_BYTES / 2], Vec::new()));
        let stdin_short_read_drains = stdin.as_ref().is_some_and(|s| s.kind() == FdKind::Pipe);
        let pacer = options.line_delay.map(LinePacer::new);
        let stdout_short_write_fills = matches!(stdout.kind(), FdKind::Pipe | FdKind::Socket);
        Session {
            stdin_short_read_drains,
            stdout_short_write_fills,
            options,
            stdin,
            stdout,
            stdin_always_ready,
            keys_closed: false,
            keys_ready: true,
            to_peer: Direction {
                source_ready: stdin_always_ready,
                ..Direction::new(QUEUE_BYTES)
            },
            from_peer: Direction::new(QUEUE_BYTES),
            crlf,
            pacer,
            telnet: None,
            to_peer_fast: None,
            from_peer_fast: None,
            to_peer_bulk: None,
            from_peer_bulk: false,
            conn: None,
            tap: None,
            ui,
            quit_requested: false,
        }
    }

    /// Log every chunk that moves from now on (`-o`, `--hex-dump`). Set before the first
    /// connection: the zero-copy choice depends on it.
    pub(crate) fn set_tap(&mut self, tap: Option<Tap>) {
        self.tap = tap;
    }

    /// Hand the logs over (to the session `-e` runs for its program).
    pub(crate) fn take_tap(&mut self) -> Option<Tap> {
        self.tap.take()
    }

    /// The stdin and stdout fds the loop should watch: stdin unless `-d` or always ready
    /// (a file or device), stdout when epoll can watch it.
    pub(crate) fn stdio_to_watch(&self) -> (Option<RawFd>, Option<RawFd>) {
        let stdin = self
            .stdin
            .as_ref()
            .filter(|_| !self.stdin_always_ready)
            .map(StdStream::raw_fd);
        let stdout = self.stdout.is_pollable().then(|| self.stdout.raw_fd());
        (stdin, stdout)
    }

    /// epoll refused to watch stdin (`EPERM`, as for some devices): it never blocks, so
    /// it is read whenever the queue has room.
    pub(crate) fn on_stdin_unwatchable(&mut self) {
        self.stdin_always_ready = true;
        self.to_peer.source_ready = true;
    }

    /// Start a connection on `endpoint`. `waiting_for_sender` marks a datagram listener
    /// that learns its peer from the first datagram.
    /// The loop has registered its socket.
    pub(crate) fn attach(&mut self, endpoint: Endpoint, waiting_for_sender: bool) {
        self.telnet = self.options.telnet.then(Telnet::default);
        self.choose_paths(endpoint.is_datagram(), endpoint.is_tcp());
        // The socket is the source of one direction and the sink of the other.
        self.from_peer.source_attached();
        self.to_peer.sink_ready = true;
        let now = Instant::now();
        let peer_text = endpoint.peer_description();
        self.conn = Some(Connection {
            datagram: endpoint.is_datagram(),
            endpoint,
            peer: if let (true, Some(rules)) = (waiting_for_sender, &self.options.peer_table) {
                DatagramPeer::Table(PeerTable::new(rules.clone()))
            } else if waiting_for_sender {
                DatagramPeer::Waiting
            } else {
                DatagramPeer::Connected
            },
            peer_text,
            read_closed_seen: false,
            error_seen: false,
            to_peer_done_at: None,
            refused_reported: false,
            ended_by: None,
            bytes_sent: 0,
            bytes_received: 0,
            started: now,
            last_activity: now,
            last_received: None,
            tls: None,
        });
    }

    /// Put the TLS layer (handshake done) between the current connection's socket and
    /// the directions. The zero-copy paths are off: every byte goes through rustls.
    pub(crate) fn start_tls(&mut self, tls: TlsLayer) {
        if let Some(conn) = &mut self.conn {
            conn.tls = Some(tls);
            self.to_peer_fast = None;
            self.from_peer_fast = None;
            self.from_peer_bulk = false;
            if self.to_peer_bulk.is_some() {
                self.to_peer_bulk = Some(PipeBulk::Copy);
            }
        }
    }

    /// Name the current connection's peer in errors as `text` instead of the socket's
    /// peer: a tunnel's route (`HOST:PORT via socks5 proxy PROXY`), not the proxy.
    pub(crate) fn name_peer(&mut self, text: String) {
        if let Some(conn) = &mut self.conn {
            conn.peer_text = Some(text);
        }
    }

    /// `(bytes sent, bytes received)` over the current connection so far.
    pub(crate) fn bytes_moved(&self) -> (u64, u64) {
        self.conn
            .as_ref()
            .map_or((0, 0), |conn| (conn.bytes_sent, conn.bytes_received))
    }

    /// End the current connection: hand its socket back (for the loop to deregister and
    /// close) with `(bytes sent, bytes received, duration)` for the summary line.
    pub(crate) fn detach(&mut self) -> Option<(Endpoint, (u64, u64, Duration))> {
        let mut conn = self.conn.take()?;
        if let Some(tls) = &mut conn.tls {
            // A session that ends before our side did (the peer closed and stdin had given
            // nothing, a timer, a signal) still closes TLS properly, so the peer does not
            // take it for a truncated stream. Best effort: the alert is a few bytes, and a
            // socket that cannot take them now is being closed anyway.
            tls.send_close_notify();
            let _ = tls.flush(&mut conn.endpoint);
        }
        let stats = (conn.bytes_sent, conn.bytes_received, conn.started.elapsed());
        trace::snapshot("close", conn.endpoint.fd());
        if !self.options.for_hub {
            // The loop closes it (by dropping it) right after.
            let fd = std::os::fd::AsRawFd::as_raw_fd(&conn.endpoint.fd());
            trace::call(|| format!("close({fd})"));
        }
        Some((conn.endpoint, stats))
    }

    /// stdin may have data; `closed` when the event also says its writer is gone (then a
    /// short read no longer means "empty": EOF is pending and no new edge will come).
    pub(crate) fn on_stdin_readable(&mut self, closed: bool) {
        self.to_peer.source_ready = true;
        self.keys_ready = true;
        if closed {
            self.stdin_short_read_drains = false;
        }
    }

    /// stdout may take data.
    pub(crate) fn on_stdout_writable(&mut self) {
        self.from_peer.sink_ready = true;
    }

    /// The socket may be readable and/or writable; `read_closed` when the event also
    /// carries the peer's FIN or an error (read until `WouldBlock` or EOF then); `error`
    /// when it reports an error or a hang-up.
    pub(crate) fn on_socket_event(
        &mut self,
        readable: bool,
        writable: bool,
        read_closed: bool,
        error: bool,
    ) {
        if let Some(conn) = &mut self.conn {
            self.from_peer.source_ready |= readable;
            self.to_peer.sink_ready |= writable;
            conn.read_closed_seen |= read_closed;
            conn.error_seen |= error;
        }
    }

    /// Move bytes in both directions until nothing more can move now. Returns `true`
    /// when work may remain (the loop should poll without sleeping).
    pub(crate) fn pump(&mut self) -> Result<bool> {
        let more = self.pump_rounds()?;
        if let Some(tap) = &mut self.tap {
            // Once per pump, so a log follows a conversation as it happens.
            tap.flush();
            tap.check()?;
        }
        Ok(more)
    }

    fn pump_rounds(&mut self) -> Result<bool> {
        self.check_reset()?;
        for _ in 0..PUMP_ROUNDS {
            let mut progress = self.splice_to_peer()?;
            progress |= self.read_keys()?;
            progress |= self.read_stdin()?;
            progress |= self.send_telnet_replies()?;
            progress |= self.send_to_peer()?;
            progress |= self.flush_tls()?;
            progress |= self.splice_from_peer()?;
            progress |= self.receive_from_peer()?;
            progress |= self.write_stdout()?;
            progress |= self.pass_eof_to_program();
            progress |= self.finish_to_peer()?;
            if !progress || self.is_done() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether the current connection is over. The single place that decides it.
    pub(crate) fn is_done(&self) -> bool {
        if (self.from_peer.sink_closed && !self.options.program) || self.quit_requested {
            return true;
        }
        let Some(conn) = &self.conn else {
            return false;
        };
        if conn.ended_by.is_some() {
            // A timer fired: finish writing what was received, then stop.
            return self.from_peer.queue.is_empty();
        }
        if conn.datagram {
            // No EOF in datagrams: only timers, signals or stdout end them.
            return false;
        }
        let from_peer_done = self.from_peer.source_eof
            && self.from_peer.queue.is_empty()
            && !self
                .from_peer_fast
                .as_ref()
                .is_some_and(FromPeer::has_pending);
        if !from_peer_done {
            return false;
        }
        let to_peer_done = self.stdin.is_none() || conn.to_peer_done_at.is_some();
        if to_peer_done {
            return true;
        }
        // The peer closed but stdin has not ended. In interactive mode the user decides
        // (Ctrl-D ends, Ctrl-C quits), unless other `-k` clients wait for their turn. A
        // file is finite: send it all. A pipe or terminal that is sending keeps going
        // until its EOF. One that never gave a byte and has none now is an idle
        // receive-only stdin (`rnc -l P > out` in a terminal): waiting for it would hang,
        // so the session is over.
        if self.ui.is_interactive() {
            return self.options.keep_listening;
        }
        if self.options.program {
            // The program decides: it may still be answering.
            return false;
        }
        !self.stdin_always_ready
            && !self.to_peer.delivered
            && !self.to_peer.source_ready
            && self.to_peer.queue.is_empty()
    }

    /// Whether bytes can still flow both ways: stdin has not ended and the peer has not
    /// closed its side. Once either has, no reply is awaited (busy-polling stops).
    pub(crate) fn both_ways_open(&self) -> bool {
        self.conn.as_ref().is_some_and(|conn| {
            !self.to_peer.source_eof && !self.from_peer.source_eof && conn.ended_by.is_none()
        })
    }

    /// Whether stdin (under `-e`, the program's stdout) has ended.
    pub(crate) fn is_stdin_ended(&self) -> bool {
        self.to_peer.source_eof
    }

    /// Whether the session can never continue: stdout's reader is gone.
    pub(crate) fn is_stdout_closed(&self) -> bool {
        self.from_peer.sink_closed
    }

    fn can_send(&self) -> bool {
        match &self.conn {
            None => false,
            Some(conn) => {
                conn.ended_by.is_none()
                    && conn.to_peer_done_at.is_none()
                    && conn.peer != DatagramPeer::Waiting
                    && !matches!(&conn.peer, DatagramPeer::Known(PeerAddr::Unix(None)))
                    && !matches!(&conn.peer, DatagramPeer::Table(table) if table.is_empty())
            }
        }
    }
}

/// Read, retrying on `EINTR`.
fn read_retrying(stdin: &mut StdStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stdin.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::net::UnixStream as StdUnixStream;

    /// A session wired to pipes and a Unix socket pair, with the test holding the far ends.
    struct Rig {
        session: Session,
        stdin_writer: Option<io::PipeWriter>,
        stdout_reader: Option<io::PipeReader>,
        peer: StdUnixStream,
    }

    #[test]
    fn session_tls_record_header_is_recognised() {
        assert!(
            !looks_like_tls_record(b"\x16\x03\x01\x02\x00\x01"),
            "a handshake may be data"
        );
        assert!(looks_like_tls_record(b"\x15\x03\x03\x00\x02\x02\x32"));
        assert!(
            !looks_like_tls_record(b"\x15\x03\x03\x00\x02\x02\x32more"),
            "more than an alert"
        );
        assert!(!looks_like_tls_record(b"\x16\x03\x05"));
        assert!(!looks_like_tls_record(b"HTTP/1.1 200 OK"));
        assert!(!looks_like_tls_record(b"\x16\x03"), "too short to tell");
    }

    fn options() -> Options {
        Options {
            crlf: false,
            shutdown_on_eof: true,
            verbose: false,
            idle_timeout: None,
            quit_after_eof: None,
            peer_table: None,
            keep_listening: false,
            zero_copy: true,
            sniff_tls: false,
            send_only: false,
            line_delay: None,
            telnet: false,
            for_hub: false,
            program: false,
        }
    }

    fn rig_with(
        options: Options,
        stdin: Option<StdStream>,
        stdin_writer: Option<io::PipeWriter>,
    ) -> Rig {
        let (stdout_reader, stdout_writer) = io::pipe().unwrap();
        let stdout_fd: OwnedFd = stdout_writer.into();
        let stdout = StdStream::open(stdout_fd.as_fd(), true).unwrap();
        let (ours, peer) = StdUnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut session = Session::new(options, stdin, stdout, Ui::plain());
        // The tests report readiness themselves (`Rig::pump`): nothing is registered.
        session.attach(Endpoint::Unix(mio::net::UnixStream::from_std(ours)), false);
        Rig {
            session,
            stdin_writer,
            stdout_reader: Some(stdout_reader),
            peer,
        }
    }

    fn rig(options: Options) -> Rig {
        let (r, w) = io::pipe().unwrap();
        let r: OwnedFd = r.into();
        let stdin = StdStream::open(r.as_fd(), false).unwrap();
        rig_with(options, Some(stdin), Some(w))
    }

    impl Rig {
        fn pump(&mut self) {
            self.session.on_stdin_readable(true);
            self.session.on_socket_event(true, true, true, false);
            self.session.on_stdout_writable();
            while self.session.pump().unwrap() {}
        }

        fn peer_reads_eof(&mut self) -> bool {
            let mut buf = [0u8; 64];
            self.peer.set_nonblocking(true).unwrap();
            let got = self.peer.read(&mut buf);
            self.peer.set_nonblocking(false).unwrap();
            matches!(got, Ok(0))
        }
    }

    #[test]
    fn session_stdin_eof_half_closes_then_waits_for_peer() {
        let mut rig = rig(options());
        rig.stdin_writer
            .as_mut()
            .unwrap()
            .write_all(b"hello")
            .unwrap();
        rig.stdin_writer = None; // EOF
        rig.pump();
        let mut buf = [0u8; 5];
        rig.peer.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        assert!(rig.peer_reads_eof(), "the peer sees our FIN");
        assert!(!rig.session.is_done(), "still receiving");
        rig.peer.write_all(b"reply").unwrap();
        rig.peer.shutdown(std::net::Shutdown::Write).unwrap();
        rig.pump();
        assert!(rig.session.is_done());
        let mut out = [0u8; 5];
        rig.stdout_reader
            .as_mut()
            .unwrap()
            .read_exact(&mut out)
            .unwrap();
        assert_eq!(&out, b"reply");
    }

    #[test]
    fn session_peer_eof_with_idle_silent_stdin_is_done() {
        let mut rig = rig(options());
        rig.peer.write_all(b"data").unwrap();
        rig.peer.shutdown(std::net::Shutdown::Write).unwrap();
        rig.pump();
        assert!(rig.session.is_done(), "receive-only use ends with the peer");
    }

    #[test]
    fn session_peer_eof_with_active_stdin_keeps_sending_until_stdin_eof() {
        let mut rig = rig(options());
        rig.stdin_writer
            .as_mut()
            .unwrap()
            .write_all(b"part1")
            .unwrap();
        rig.pump();
        rig.peer.shutdown(std::net::Shutdown::Write).unwrap();
        rig.pump();
        assert!(!rig.session.is_done(), "stdin is still sending");
        rig.stdin_writer
            .as_mut()
            .unwrap()
            .write_all(b"part2")
            .unwrap();
        rig.stdin_writer = None;
        rig.pump();
        assert!(rig.session.is_done());
        let mut buf = [0u8; 10];
        rig.peer.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"part1part2");
        assert!(rig.peer_reads_eof());
    }

    #[test]
    fn session_peer_eof_with_file_stdin_sends_whole_file() {
        let mut file = tempfile::tempfile().unwrap();
        let data = vec![7u8; 3 * QUEUE_BYTES + 11];
        file.write_all(&data).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let stdin = StdStream::open(file.as_fd(), false).unwrap();
        let mut rig = rig_with(options(), Some(stdin), None);
        rig.peer.shutdown(std::net::Shutdown::Write).unwrap();
        let reader = std::thread::spawn({
            let mut peer = rig.peer.try_clone().unwrap();
            move || {
                let mut got = Vec::new();
                peer.read_to_end(&mut got).unwrap();
                got
            }
        });
        // Bounded by time, not by a number of rounds: the reader thread may be slow to
        // get the CPU on a loaded machine.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !rig.session.is_done() && std::time::Instant::now() < deadline {
            rig.pump();
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(rig.session.is_done());
        let _ = rig.session.detach();
        drop(rig.session);
        assert_eq!(reader.join().unwrap().len(), data.len());
    }

    #[test]
    fn session_no_stdin_ends_with_peer() {
        let mut rig = rig_with(options(), None, None);
        rig.pump();
        assert!(!rig.peer_reads_eof(), "-d sends no FIN");
        assert!(!rig.session.is_done());
        rig.peer.shutdown(std::net::Shutdown::Write).unwrap();
        rig.pump();
        assert!(rig.session.is_done());
    }

    #[test]
    fn session_no_shutdown_keeps_write_side_open() {
        let mut rig = rig(Options {
            shutdown_on_eof: false,
            ..options()
        });
        rig.stdin_writer = None;
        rig.pump();
        assert!(!rig.peer_reads_eof(), "--no-shutdown sends no FIN");
        assert!(!rig.session.is_done());
        rig.peer.shutdown(std::net::Shutdown::Write).unwrap();
        rig.pump();
        assert!(rig.session.is_done());
    }

    #[test]
    fn session_stdout_reader_gone_ends_quietly() {
        let mut rig = rig(options());
        rig.stdout_reader = None;
        rig.peer.write_all(b"nobody reads this").unwrap();
        rig.pump();
        assert!(rig.session.is_stdout_closed());
        assert!(rig.session.is_done());
    }

    #[test]
    fn session_quit_zero_ends_after_stdin_eof() {
        let mut rig = rig(Options {
            quit_after_eof: Some(Duration::ZERO),
            ..options()
        });
        rig.stdin_writer = None;
        rig.pump();
        assert!(
            !rig.session.is_done(),
            "the timer has not been looked at yet"
        );
        rig.session.on_timer(Instant::now());
        assert!(rig.session.is_done());
        assert_eq!(rig.session.timer_end(), Some(TimerEnd::Quit));
    }

    #[test]
    fn session_idle_timeout_ends() {
        let mut rig = rig(Options {
            idle_timeout: Some(Duration::from_millis(1)),
            ..options()
        });
        rig.pump();
        let deadline = rig.session.next_deadline().expect("an idle deadline");
        rig.session.on_timer(deadline);
        assert_eq!(rig.session.timer_end(), Some(TimerEnd::Idle));
        assert!(rig.session.is_done());
    }

    #[test]
    fn session_crlf_translates_towards_peer() {
        let mut rig = rig(Options {
            crlf: true,
            ..options()
        });
        rig.stdin_writer
            .as_mut()
            .unwrap()
            .write_all(b"a\nb\r\n")
            .unwrap();
        rig.stdin_writer = None;
        rig.pump();
        let mut got = Vec::new();
        rig.peer.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"a\r\nb\r\n");
    }
}
