//! Which path each direction takes: the zero-copy choice when a connection starts, the
//! switch once a pipe or the socket proves a bulk transfer (docs/performance.md,
//! "Zero-copy choices"), and the zero-copy steps themselves through `Direction::splice`.

use std::io;
use std::os::fd::AsFd;
use std::time::Instant;

use super::steps::note_peer_closed;
use super::{BULK_PIPE_QUEUE_BYTES, Session, ZERO_COPY_STEPS, stdin_error, stdout_error};
use crate::error::Error;
use crate::error::Result;
use crate::relay::direction::StepError;
use crate::relay::hexdump::Way;
use crate::relay::tap::Tap;
use crate::relay::zerocopy::{FromPeer, Relay, ToPeer};
use crate::sys::FdKind;

/// The path a pipe stdin takes once a read proves a bulk transfer (docs/performance.md,
/// "Zero-copy choices"). Into TCP, reading and sending measured faster than splicing: a
/// splice holds the pipe's lock through the whole TCP send, so the writer (`cat`) waits
/// on it, and the receiving side spent more CPU on what arrived. Into a Unix socket the
/// kernel copies a spliced page once, where read/send copies twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PipeBulk {
    /// Keep reading and sending, from an enlarged pipe through a queue as big.
    Copy,
    /// Splice from an enlarged pipe.
    Splice,
}

impl Session {
    /// Pick the zero-copy path for each direction where the fds allow it.
    pub(super) fn choose_paths(&mut self, datagram: bool, tcp: bool) {
        self.to_peer_fast = None;
        self.from_peer_fast = None;
        self.to_peer_bulk = None;
        self.from_peer_bulk = false;
        if datagram || !self.options.zero_copy || self.ui.is_interactive() {
            return;
        }
        // `-C` changes the bytes and `-i` holds lines back: both need them in the queue.
        if !self.options.crlf && self.options.line_delay.is_none() {
            match self.stdin.as_ref().map(|s| s.kind()) {
                // sendfile moves a file in one call per chunk, small or large.
                Some(FdKind::File) => self.to_peer_fast = Some(ToPeer::SendFile),
                // A pipe may carry typing or a request: change only once it proves bulk.
                Some(FdKind::Pipe) => {
                    // A splice from stdin would leave the logs nothing to copy from.
                    self.to_peer_bulk = Some(if tcp || self.tap.is_some() {
                        PipeBulk::Copy
                    } else {
                        PipeBulk::Splice
                    });
                }
                _ => {}
            }
        }
        self.from_peer_bulk = !self.ui.shows_received()
            && !self.options.send_only
            && !self.options.telnet
            && matches!(
                self.stdout.kind(),
                FdKind::Pipe | FdKind::File | FdKind::CharDevice
            );
    }

    /// stdin gave a bulk read: enlarge its pipe, and switch stdin → socket to splice
    /// (once the queue drains) where that is the faster path.
    pub(super) fn stdin_proved_bulk(&mut self) {
        if let Some(plan) = self.to_peer_bulk.take() {
            if let Some(stdin) = &self.stdin {
                // A bigger pipe lets the writer run ahead: fewer sleeps on both sides, and
                // each read or splice moves more.
                crate::relay::zerocopy::enlarge_pipe(stdin);
            }
            match plan {
                // One read can then empty the pipe, and TCP gets larger sends.
                PipeBulk::Copy => self.to_peer.queue.grow(BULK_PIPE_QUEUE_BYTES),
                PipeBulk::Splice => self.to_peer_fast = Some(ToPeer::Splice),
            }
        }
    }

    /// The socket gave a bulk read: switch socket → stdout to splice (once the queue
    /// drains).
    pub(super) fn socket_proved_bulk(&mut self) {
        if std::mem::take(&mut self.from_peer_bulk) {
            let tee = self.tap.is_some();
            self.from_peer_fast = match self.stdout.kind() {
                // With logs the bytes pass through the relay, where `tee` copies them.
                FdKind::Pipe if !tee => {
                    // One splice fills at most one pipe slot per page; a page-sized
                    // slot each (as after sendfile) needs many slots to move much.
                    crate::relay::zerocopy::enlarge_pipe(&self.stdout);
                    Some(FromPeer::Splice)
                }
                FdKind::Pipe => {
                    crate::relay::zerocopy::enlarge_pipe(&self.stdout);
                    Relay::new(true).ok().map(FromPeer::Relay)
                }
                _ => Relay::new(tee).ok().map(FromPeer::Relay),
            };
        }
    }

    /// stdin → socket without copying (sendfile or splice), while that path is on.
    pub(super) fn splice_to_peer(&mut self) -> Result<bool> {
        if self.to_peer_fast.is_none()
            || self.to_peer.source_eof
            || !self.to_peer.source_ready
            || !self.to_peer.is_empty()
            || !self.can_send()
        {
            return Ok(false);
        }
        let (Some(path), Some(stdin), Some(conn)) =
            (&self.to_peer_fast, &self.stdin, &mut self.conn)
        else {
            return Ok(false);
        };
        let socket = conn.endpoint.fd();
        // Where this round starts in the file, for the logs to read back what was sent.
        let offset = match &self.tap {
            Some(_) => Some(
                rustix::fs::seek(stdin, rustix::fs::SeekFrom::Current(0))
                    .map_err(|e| stdin_error(e.into()))?,
            ),
            None => None,
        };
        let moved = self
            .to_peer
            .splice(ZERO_COPY_STEPS, || path.step(stdin.as_fd(), socket));
        if let (Some(tap), Some(offset), Ok(Some(moved))) = (&mut self.tap, offset, &moved) {
            tap.take_from_file(Way::ToPeer, stdin.as_fd(), offset, moved.bytes);
        }
        match moved {
            Ok(Some(moved)) => {
                if moved.bytes > 0 {
                    conn.bytes_sent += moved.bytes as u64;
                    conn.last_activity = Instant::now();
                }
                Ok(moved.bytes > 0 || moved.eof)
            }
            Ok(None) => {
                self.to_peer_fast = None;
                Ok(true) // the copy path takes over in this same round
            }
            Err(StepError::Source(source)) => Err(stdin_error(source)),
            Err(StepError::Sink(source)) => Err(conn.error("send to", source)),
            Err(StepError::Log(source)) => Err(log_error(&mut self.tap, source)),
        }
    }

    /// socket → stdout without copying (splice, via a relay pipe for files), while that
    /// path is on.
    pub(super) fn splice_from_peer(&mut self) -> Result<bool> {
        let verbose = self.options.verbose;
        let (Some(path), Some(_)) = (&mut self.from_peer_fast, &self.conn) else {
            return Ok(false);
        };
        if path.has_pending() && self.from_peer.sink_ready && !self.from_peer.sink_closed {
            // A full stdout pipe left bytes in the relay: they go first, whatever the
            // socket does.
            match path.flush_pending(self.stdout.as_fd(), self.tap.as_mut()) {
                Ok(true) => {}
                Ok(false) => {
                    self.from_peer.sink_ready = false;
                    return Ok(false);
                }
                Err(e) => return self.fail_from_peer(e),
            }
        }
        let (Some(path), Some(conn)) = (&mut self.from_peer_fast, &mut self.conn) else {
            return Ok(false);
        };
        if self.from_peer.source_eof
            || !self.from_peer.source_ready
            || conn.ended_by.is_some()
            || self.from_peer.sink_closed
            || !self.from_peer.is_empty()
        {
            return Ok(false);
        }
        let (socket, stdout) = (conn.endpoint.fd(), self.stdout.as_fd());
        let mut tap = self.tap.as_mut();
        let moved = self.from_peer.splice(ZERO_COPY_STEPS, || {
            path.step(socket, stdout, tap.as_deref_mut())
        });
        match moved {
            Ok(Some(moved)) => {
                if moved.bytes > 0 {
                    conn.bytes_received += moved.bytes as u64;
                    conn.last_activity = Instant::now();
                }
                if moved.eof {
                    note_peer_closed(verbose, &conn.endpoint);
                }
                Ok(moved.bytes > 0 || moved.eof)
            }
            Ok(None) => {
                self.from_peer_fast = None;
                Ok(true)
            }
            Err(e) => self.fail_from_peer(e),
        }
    }

    /// A failed socket → stdout step: the socket's error, the quiet end of a stdout whose
    /// reader left, stdout's error or the logs'.
    fn fail_from_peer(&mut self, e: StepError) -> Result<bool> {
        match e {
            StepError::Source(source) => Err(match &self.conn {
                Some(conn) => conn.error("read from", source),
                None => stdout_error(source),
            }),
            StepError::Sink(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.from_peer.sink_closed = true;
                Ok(true)
            }
            StepError::Sink(source) => Err(stdout_error(source)),
            StepError::Log(source) => Err(log_error(&mut self.tap, source)),
        }
    }
}

/// A failed copy for the logs, naming the log.
fn log_error(tap: &mut Option<Tap>, source: io::Error) -> Error {
    match tap {
        Some(tap) => tap.copy_error(source),
        None => stdout_error(source),
    }
}
