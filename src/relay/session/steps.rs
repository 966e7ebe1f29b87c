//! The pump's steps, each a move as far as it goes without waiting: stdin (or the editor's
//! lines) → the to-peer queue → the socket, the socket → the from-peer queue → stdout (or
//! the screen), a reset noticed at once, the half-close at stdin's EOF, and what the TLS
//! layer has to send on its own. `Session::pump` calls them in turn.

use super::*;

impl Session {
    /// stdin → to-peer queue (through the `-C` layer when on).
    pub(super) fn read_stdin(&mut self) -> Result<bool> {
        if self.to_peer_fast.is_some() && self.to_peer.is_empty() {
            return Ok(false);
        }
        if self.to_peer.source_eof || !self.to_peer.source_ready || !self.can_send() {
            return Ok(false);
        }
        let datagram = self.conn.as_ref().is_some_and(|c| c.datagram);
        if datagram && !self.to_peer.is_empty() {
            return Ok(false); // one datagram in flight at a time keeps boundaries
        }
        if self.ui.is_interactive() {
            // The editor's typed lines take stdin's place (`tty/ui/ends.rs`), one datagram
            // per line on UDP.
            let mut lines = TypedLines {
                ui: &mut self.ui,
                whole: datagram,
                keys_closed: self.keys_closed,
            };
            let max_reads = if datagram { 1 } else { usize::MAX };
            let filled = fill_through_crlf(
                &mut self.to_peer,
                &mut self.crlf,
                &mut lines,
                MAX_DATAGRAM_BYTES,
                max_reads,
            )
            .map_err(stdin_error)?;
            return Ok(filled.bytes > 0 || filled.eof);
        }
        let Some(stdin) = &mut self.stdin else {
            return Ok(false);
        };
        // A datagram is one read: a file has no message boundaries, so it goes in
        // FILE_DATAGRAM_BYTES pieces; a pipe's or terminal's read is one message.
        let (max_read, max_reads) = match (datagram, self.stdin_always_ready) {
            (true, true) => (FILE_DATAGRAM_BYTES, 1),
            (true, false) => (MAX_DATAGRAM_BYTES, 1),
            (false, _) => (usize::MAX, usize::MAX),
        };
        let mut source = StdinSource {
            stdin,
            short_read_drains: self.stdin_short_read_drains,
        };
        let filled = fill_through_crlf(
            &mut self.to_peer,
            &mut self.crlf,
            &mut source,
            max_read,
            max_reads,
        )
        .map_err(stdin_error)?;
        if !datagram && filled.largest_read >= BULK_READ_BYTES {
            self.stdin_proved_bulk();
        }
        Ok(filled.bytes > 0 || filled.eof)
    }

    /// to-peer queue → socket.
    pub(super) fn send_to_peer(&mut self) -> Result<bool> {
        let Some(conn) = &mut self.conn else {
            return Ok(false);
        };
        if self.to_peer.is_empty() || !self.to_peer.sink_ready {
            return Ok(false);
        }
        let now = Instant::now();
        if conn.datagram {
            if self.pacer.as_ref().is_some_and(|p| !p.is_due(now)) {
                return Ok(false);
            }
            // A datagram leaves the queue whole: keep a copy for the logs.
            let copy = self
                .tap
                .as_ref()
                .map(|_| self.to_peer.queue.as_slice().to_vec());
            let before = conn.bytes_sent;
            let sent = send_datagram(conn, &mut self.to_peer, self.options.verbose)?;
            if let (Some(tap), Some(copy)) = (&mut self.tap, copy)
                && conn.bytes_sent > before
            {
                tap.record(Way::ToPeer, &copy);
            }
            if let Some(pacer) = self.pacer.as_mut().filter(|_| sent) {
                pacer.wrote_message(now);
            }
            return Ok(sent);
        }
        let complete = self.to_peer.source_eof || self.to_peer.queue.room() == 0;
        let allowed = match &mut self.pacer {
            None => usize::MAX,
            Some(pacer) => pacer.allowance(self.to_peer.queue.as_slice(), complete, now),
        };
        if allowed == 0 {
            return Ok(false);
        }
        let (mut tls_sink, mut socket_sink);
        let sink: &mut dyn Sink = match &mut conn.tls {
            Some(tls) => {
                tls_sink = TlsSink {
                    tls,
                    endpoint: &mut conn.endpoint,
                };
                &mut tls_sink
            }
            None => {
                socket_sink = SocketSink {
                    endpoint: &mut conn.endpoint,
                };
                &mut socket_sink
            }
        };
        // The logs see what the socket (or TLS) took, as it takes it.
        let written = match &mut self.tap {
            Some(tap) => self
                .to_peer
                .drain_at_most(&mut TappedSink { inner: sink, tap }, allowed),
            None => self.to_peer.drain_at_most(sink, allowed),
        };
        if let (Some(pacer), Ok(n)) = (&mut self.pacer, &written) {
            pacer.wrote(*n, now);
        }
        let written = match written {
            Ok(n) => n,
            Err(source) => return Err(conn.error("send to", source)),
        };
        if written > 0 {
            conn.bytes_sent += written as u64;
            conn.last_activity = Instant::now();
        }
        Ok(written > 0)
    }

    /// socket → from-peer queue.
    pub(super) fn receive_from_peer(&mut self) -> Result<bool> {
        let verbose = self.options.verbose;
        let Some(conn) = &mut self.conn else {
            return Ok(false);
        };
        if self.from_peer.source_eof
            || !self.from_peer.source_ready
            || conn.ended_by.is_some()
            || self.from_peer_fast.is_some()
        {
            return Ok(false);
        }
        if conn.datagram {
            let before = self.from_peer.queue.len();
            let mark = self.ui.is_interactive();
            let received = receive_datagrams(conn, &mut self.from_peer, verbose, mark);
            if let Some(tap) = &mut self.tap {
                tap.record(Way::FromPeer, &self.from_peer.queue.as_slice()[before..]);
            }
            return received;
        }
        let (mut tls_source, mut socket_source);
        let source: &mut dyn Source = match &mut conn.tls {
            Some(tls) => {
                tls_source = TlsSource {
                    tls,
                    endpoint: &mut conn.endpoint,
                };
                &mut tls_source
            }
            None => {
                socket_source = SocketSource {
                    endpoint: &mut conn.endpoint,
                    read_closed_seen: conn.read_closed_seen,
                };
                &mut socket_source
            }
        };
        let mut telnet_source;
        let source: &mut dyn Source = match &mut self.telnet {
            Some(telnet) => {
                telnet_source = telnet.layer(source);
                &mut telnet_source
            }
            None => source,
        };
        // Outermost: the logs hold what stdout gets (plaintext, no telnet commands).
        let filled = match &mut self.tap {
            Some(tap) => self.from_peer.fill(
                &mut TappedSource { inner: source, tap },
                usize::MAX,
                usize::MAX,
            ),
            None => self.from_peer.fill(source, usize::MAX, usize::MAX),
        };
        let filled = match filled {
            Ok(filled) => filled,
            Err(source) => return Err(conn.error("read from", source)),
        };
        if self.options.sniff_tls
            && conn.bytes_received == 0
            && looks_like_tls_record(self.from_peer.queue.as_slice())
        {
            // Only the first bytes of the session: in the middle of a stream these are
            // data like any other.
            return Err(Error::PeerSpeaksTls);
        }
        if filled.bytes > 0 {
            conn.bytes_received += filled.bytes as u64;
            conn.last_activity = Instant::now();
        }
        if filled.eof && conn.tls.as_ref().is_some_and(|tls| tls.truncated) {
            // What came before the bare FIN is delivered, then the session fails.
            let err = conn.error("read from", truncated_error());
            let _ = self.write_stdout();
            return Err(err);
        }
        if filled.eof {
            note_peer_closed(verbose, &conn.endpoint);
        }
        if filled.largest_read >= BULK_READ_BYTES {
            self.socket_proved_bulk();
        }
        Ok(filled.bytes > 0 || filled.eof)
    }

    /// from-peer queue → stdout.
    pub(super) fn write_stdout(&mut self) -> Result<bool> {
        if self.options.send_only || self.from_peer.sink_closed {
            // `--send-only`, or nobody reads any more (a program that closed its stdin):
            // drop what comes, so that the peer's EOF is still seen.
            let dropped = !self.from_peer.queue.is_empty();
            self.from_peer.queue.clear();
            return Ok(dropped);
        }
        if self.ui.shows_received() {
            return self.write_screen();
        }
        let mut sink = StdoutSink {
            stdout: &mut self.stdout,
            short_write_fills: self.stdout_short_write_fills,
        };
        match self.from_peer.drain(&mut sink) {
            Ok(0) => Ok(false),
            Ok(_) => {
                if let Some(conn) = &mut self.conn {
                    conn.last_activity = Instant::now();
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                // Our reader left (`| head`): nothing more can be delivered. Quiet end.
                self.from_peer.sink_closed = true;
                self.from_peer.queue.clear();
                Ok(true)
            }
            Err(source) => Err(stdout_error(source)),
        }
    }

    /// `-e`: once the peer's EOF and everything before it has reached the program,
    /// close the program's stdin, which is its EOF.
    pub(super) fn pass_eof_to_program(&mut self) -> bool {
        let delivered = self.from_peer.source_eof
            && self.from_peer.queue.is_empty()
            && !self
                .from_peer_fast
                .as_ref()
                .is_some_and(FromPeer::has_pending);
        if !self.options.program || !delivered || self.from_peer.sink_closed {
            return false;
        }
        self.stdout.close();
        self.from_peer.sink_closed = true;
        true
    }

    /// A stream whose peer has sent its FIN is read no more, so a reset that follows would
    /// go unnoticed until the next write (issue 9, bug 7). An error event makes rnc ask
    /// the socket what happened (`SO_ERROR`) and end with it at once.
    pub(super) fn check_reset(&mut self) -> Result<()> {
        let Some(conn) = &mut self.conn else {
            return Ok(());
        };
        if !std::mem::take(&mut conn.error_seen) || conn.datagram || !self.from_peer.source_eof {
            return Ok(());
        }
        match rustix::net::sockopt::socket_error(conn.endpoint.fd()) {
            // Linux records an RST in CLOSE_WAIT as EPIPE: the kernel's event was a reset.
            Ok(Err(rustix::io::Errno::PIPE | rustix::io::Errno::CONNRESET)) => {
                Err(conn.error("read from", io::ErrorKind::ConnectionReset.into()))
            }
            Ok(Err(errno)) => Err(conn.error("read from", errno.into())),
            _ => Ok(()),
        }
    }

    /// At stdin EOF with the queue drained: half-close (once) and start the `-q` clock.
    pub(super) fn finish_to_peer(&mut self) -> Result<bool> {
        let verbose = self.options.verbose;
        let shutdown = self.options.shutdown_on_eof;
        let Some(conn) = &mut self.conn else {
            return Ok(false);
        };
        if !self.to_peer.source_eof
            || !self.to_peer.queue.is_empty()
            || conn.to_peer_done_at.is_some()
        {
            return Ok(false);
        }
        if let Some(tls) = &mut conn.tls {
            // close_notify first, and the half-close only once it has gone out.
            tls.send_close_notify();
            if !self.to_peer.sink_ready {
                return Ok(false);
            }
            match tls.flush(&mut conn.endpoint) {
                Ok(true) => {}
                Ok(false) => {
                    self.to_peer.sink_ready = false;
                    return Ok(false);
                }
                Err(source) => return Err(conn.error("send to", source)),
            }
        }
        if !conn.datagram && shutdown {
            // The hub's socket pair is rnc's own plumbing, not a socket of the user's.
            let shown = !self.options.for_hub;
            let result = conn.endpoint.shutdown_write();
            if shown {
                trace::call(|| {
                    let rc = result.as_ref().map_or_else(trace::errno_name, trace::zero);
                    format!("shutdown(SHUT_WR) = {rc}")
                });
            }
            match result {
                Ok(()) => {}
                // Already reset by the peer: the read side reports it.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(source) => {
                    return Err(conn.error("shut down", source));
                }
            }
            if verbose && shown {
                print_line(if conn.endpoint.is_tcp() {
                    "sent FIN (stdin EOF)"
                } else {
                    "shut down our side (stdin EOF)"
                });
            }
            trace::snapshot("stdin EOF", conn.endpoint.fd());
        }
        conn.to_peer_done_at = Some(Instant::now());
        Ok(true)
    }
}

impl Session {
    /// Write what the TLS layer has pending (handshake messages, tickets, alerts) while
    /// the socket takes it.
    pub(super) fn flush_tls(&mut self) -> Result<bool> {
        let Some(conn) = &mut self.conn else {
            return Ok(false);
        };
        let Some(tls) = &mut conn.tls else {
            return Ok(false);
        };
        if !self.to_peer.sink_ready || !tls.conn.wants_write() {
            return Ok(false);
        }
        match tls.flush(&mut conn.endpoint) {
            Ok(done) => {
                self.to_peer.sink_ready = done;
                Ok(true)
            }
            Err(source) => Err(conn.error("send to", source)),
        }
    }
}

/// `-v`: the peer sent its FIN (a Unix socket's peer shut down its side or closed);
/// `-vvv` adds the socket's `TCP_INFO`.
pub(super) fn note_peer_closed(verbose: bool, endpoint: &Endpoint) {
    if verbose {
        print_line(if endpoint.is_tcp() {
            "peer sent FIN"
        } else {
            "peer closed its side"
        });
    }
    trace::snapshot("peer FIN", endpoint.fd());
}

/// Fill `to_peer` from `source`, through the `-C` layer when it is on: stdin and the
/// editor's typed lines share the one translation.
pub(super) fn fill_through_crlf(
    to_peer: &mut Direction,
    crlf: &mut Option<(CrlfEncoder, Vec<u8>, Vec<u8>)>,
    source: &mut dyn Source,
    max_read: usize,
    max_reads: usize,
) -> io::Result<Filled> {
    match crlf {
        None => to_peer.fill(source, max_read, max_reads),
        Some((encoder, scratch, encoded)) => to_peer.fill(
            &mut CrlfSource {
                inner: source,
                encoder,
                scratch,
                encoded,
                last: (0, 0),
            },
            max_read,
            max_reads,
        ),
    }
}
