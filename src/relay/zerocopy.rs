//! The Linux zero-copy path: `sendfile(2)` from a regular-file stdin, and `splice(2)`
//! between pipes and stream sockets (through a private relay pipe when stdout is a file
//! or a device), so bulk bytes never enter rnc's memory.
//!
//! Each call moves bytes one step and reports what stopped it in the same terms as the
//! copy path (source empty, sink full, EOF), so `session.rs` keeps one readiness model and
//! one set of EOF rules for both. Whenever the kernel refuses (`EINVAL`, `ENOSYS`, …) the
//! caller falls back to read/write for good; the relay's bytes are never lost on the way.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, SpliceFlags};

use crate::relay::direction::{Step, StepError};
use crate::relay::hexdump::Way;
use crate::relay::tap::Tap;

/// Largest amount one syscall is asked to move.
const CHUNK_BYTES: usize = 1 << 20;
/// Size asked for the relay pipe (the kernel may give less; that only costs syscalls).
const RELAY_PIPE_BYTES: usize = 1 << 20;

/// stdin → socket.
#[derive(Debug)]
pub(crate) enum ToPeer {
    /// `sendfile` from a regular file.
    SendFile,
    /// `splice` from a pipe.
    Splice,
}

impl ToPeer {
    /// One step from `stdin` to `socket`.
    pub(crate) fn step(
        &self,
        stdin: BorrowedFd<'_>,
        socket: BorrowedFd<'_>,
    ) -> Result<Step, StepError> {
        match self {
            ToPeer::SendFile => match rustix::fs::sendfile(socket, stdin, None, CHUNK_BYTES) {
                Ok(0) => Ok(Step::Eof),
                Ok(n) => Ok(Step::Moved(n)),
                // A regular file never blocks, so it is the socket that is full.
                Err(Errno::AGAIN) => Ok(Step::SinkFull),
                Err(Errno::INTR) => Ok(Step::Moved(0)),
                Err(e) if is_unsupported(e) => Ok(Step::Unsupported),
                // Reading a regular file rarely fails; what does is the socket's.
                Err(e) => Err(if is_peer_error(e) || e == Errno::PIPE {
                    StepError::Sink(e.into())
                } else {
                    StepError::Source(e.into())
                }),
            },
            ToPeer::Splice => splice_step(stdin, socket, Side::Sink),
        }
    }
}

/// socket → stdout.
#[derive(Debug)]
pub(crate) enum FromPeer {
    /// `splice` straight into a stdout pipe.
    Splice,
    /// `splice` into a private pipe, then from it into a stdout file or device.
    Relay(Relay),
}

/// The private pipe between the socket and stdout: for a stdout that is not a pipe, and
/// for any stdout while the logs are on, because `tee(2)` copies only from a pipe that
/// rnc can read before the bytes go on.
#[derive(Debug)]
pub(crate) struct Relay {
    /// Read end.
    read: OwnedFd,
    /// Write end.
    write: OwnedFd,
    /// Bytes in the pipe not yet written to stdout.
    queued: usize,
    /// Of those, how many at the front the logs already have (all of them without logs).
    /// Only these may go on: `tee` copies from the front, so the next copy waits until
    /// they have left.
    tapped: usize,
    /// The logs' pipe: `tee` duplicates the relay's pages into it, the tap empties it.
    tee: Option<(OwnedFd, OwnedFd)>,
    /// The kernel refused to splice into stdout (an `O_APPEND` file, say): the relay was
    /// emptied by copying and the copy path takes over.
    refused: bool,
}

impl Relay {
    /// A new relay pipe, enlarged where the kernel allows; with `tee`, a second pipe at
    /// least as large for the logs' copies.
    pub(crate) fn new(tee: bool) -> io::Result<Relay> {
        let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        // Larger pipes mean fewer syscalls; the default 64 KiB still works.
        let _ = rustix::pipe::fcntl_setpipe_size(&write, RELAY_PIPE_BYTES);
        let tee = if tee {
            let (tee_read, tee_write) =
                rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
            let size = rustix::pipe::fcntl_getpipe_size(&write)?;
            let _ = rustix::pipe::fcntl_setpipe_size(&tee_write, size);
            Some((tee_read, tee_write))
        } else {
            None
        };
        Ok(Relay {
            read,
            write,
            queued: 0,
            tapped: 0,
            tee,
            refused: false,
        })
    }

    /// Write the relay's bytes to `stdout`, each once the logs have it: `Ok(true)` when
    /// the relay is empty, `Ok(false)` when a stdout pipe is full. Falls back to
    /// read/write if the kernel refuses to splice into `stdout`.
    fn flush(
        &mut self,
        stdout: BorrowedFd<'_>,
        mut tap: Option<&mut Tap>,
    ) -> Result<bool, StepError> {
        while self.queued > 0 {
            if self.tapped == 0 {
                self.tap_front(tap.as_deref_mut())?;
            }
            match rustix::pipe::splice(
                &self.read,
                None,
                stdout,
                None,
                self.tapped,
                SpliceFlags::MOVE | SpliceFlags::NONBLOCK,
            ) {
                Ok(0) => return Err(StepError::Sink(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.queued -= n;
                    self.tapped -= n;
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return Ok(false),
                Err(e) if is_unsupported(e) => {
                    self.flush_by_copy(stdout, tap)?;
                    return Ok(true);
                }
                Err(e) => return Err(StepError::Sink(e.into())),
            }
        }
        Ok(true)
    }

    /// Give the logs a copy of the bytes at the relay's front (as many as `tee` takes),
    /// or, without logs, count them all as had.
    fn tap_front(&mut self, tap: Option<&mut Tap>) -> Result<(), StepError> {
        let (Some((tee_read, tee_write)), Some(tap)) = (&self.tee, tap) else {
            self.tapped = self.queued;
            return Ok(());
        };
        loop {
            match rustix::pipe::tee(&self.read, tee_write, self.queued, SpliceFlags::NONBLOCK) {
                Ok(0) => return Err(StepError::Log(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    // The tap empties the logs' pipe, so the next `tee` finds it empty.
                    tap.take_from_pipe(Way::FromPeer, tee_read.as_fd(), n);
                    self.tapped = n;
                    return Ok(());
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(StepError::Log(e.into())),
            }
        }
    }

    fn flush_by_copy(
        &mut self,
        stdout: BorrowedFd<'_>,
        mut tap: Option<&mut Tap>,
    ) -> Result<(), StepError> {
        self.refused = true;
        let mut buf = vec![0u8; 64 * 1024];
        while self.queued > 0 {
            let want = self.queued.min(buf.len());
            let n = match rustix::io::read(&self.read, &mut buf[..want]) {
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(StepError::Sink(e.into())),
            };
            // Bytes past those the logs had are theirs now.
            let had = self.tapped.min(n);
            if let Some(tap) = tap.as_deref_mut() {
                tap.record(Way::FromPeer, &buf[had..n]);
            }
            self.tapped -= had;
            let mut chunk = &buf[..n];
            while !chunk.is_empty() {
                match rustix::io::write(stdout, chunk) {
                    Ok(0) => return Err(StepError::Sink(io::ErrorKind::WriteZero.into())),
                    Ok(w) => chunk = &chunk[w..],
                    Err(Errno::INTR) => {}
                    Err(e) => return Err(StepError::Sink(e.into())),
                }
            }
            self.queued -= n;
        }
        Ok(())
    }
}

impl FromPeer {
    /// One step from `socket` to `stdout`, giving `tap` a copy of what moved (only the
    /// relay can: `Splice` is never chosen while the logs are on).
    pub(crate) fn step(
        &mut self,
        socket: BorrowedFd<'_>,
        stdout: BorrowedFd<'_>,
        mut tap: Option<&mut Tap>,
    ) -> Result<Step, StepError> {
        match self {
            FromPeer::Splice => splice_step(socket, stdout, Side::Source),
            FromPeer::Relay(relay) => {
                if !relay.flush(stdout, tap.as_deref_mut())? {
                    return Ok(Step::SinkFull);
                }
                if relay.refused {
                    return Ok(Step::Unsupported);
                }
                let moved = match rustix::pipe::splice(
                    socket,
                    None,
                    &relay.write,
                    None,
                    CHUNK_BYTES,
                    SpliceFlags::MOVE | SpliceFlags::NONBLOCK,
                ) {
                    Ok(0) => return Ok(Step::Eof),
                    Ok(n) => n,
                    // The relay is empty after `flush`, so it is the socket that is.
                    Err(Errno::AGAIN) => return Ok(Step::SourceEmpty),
                    Err(Errno::INTR) => 0,
                    Err(e) if is_unsupported(e) => return Ok(Step::Unsupported),
                    Err(e) => return Err(StepError::Source(e.into())),
                };
                relay.queued += moved;
                // A full stdout pipe keeps the rest for the next step or `flush_pending`.
                relay.flush(stdout, tap)?;
                Ok(Step::Moved(moved))
            }
        }
    }

    /// Write out what waits in the relay (a stdout pipe was full): `Ok(true)` once it is
    /// empty.
    pub(crate) fn flush_pending(
        &mut self,
        stdout: BorrowedFd<'_>,
        tap: Option<&mut Tap>,
    ) -> Result<bool, StepError> {
        match self {
            FromPeer::Relay(relay) => relay.flush(stdout, tap),
            FromPeer::Splice => Ok(true),
        }
    }

    /// Whether bytes wait in the relay (a stdout pipe was full, or writing stdout failed).
    pub(crate) fn has_pending(&self) -> bool {
        matches!(self, FromPeer::Relay(r) if r.queued > 0)
    }
}

/// Which end of a splice is the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Sink,
}

/// One `splice` between a pipe and a socket (either way round; `socket` says which end
/// the socket is, so an error is blamed on the right one). `EAGAIN` does not say which
/// end stopped it, so a zero-timeout `poll` of both tells.
fn splice_step(from: BorrowedFd<'_>, to: BorrowedFd<'_>, socket: Side) -> Result<Step, StepError> {
    match rustix::pipe::splice(
        from,
        None,
        to,
        None,
        CHUNK_BYTES,
        SpliceFlags::MOVE | SpliceFlags::NONBLOCK,
    ) {
        Ok(0) => Ok(Step::Eof),
        Ok(n) => Ok(Step::Moved(n)),
        Err(Errno::INTR) => Ok(Step::Moved(0)),
        Err(Errno::AGAIN) => {
            let mut fds = [
                PollFd::from_borrowed_fd(from, PollFlags::IN),
                PollFd::from_borrowed_fd(to, PollFlags::OUT),
            ];
            let zero = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            rustix::event::poll(&mut fds, Some(&zero)).map_err(|e| StepError::Source(e.into()))?;
            let source_ready = !fds[0].revents().is_empty();
            // Any revents (OUT, ERR, HUP) means the next splice will not block.
            let sink_ready = !fds[1].revents().is_empty();
            Ok(match (source_ready, sink_ready) {
                (false, _) => Step::SourceEmpty,
                (true, false) => Step::SinkFull,
                // Both ready by now (they changed since the splice): just go again.
                (true, true) => Step::Moved(0),
            })
        }
        Err(e) if is_unsupported(e) => Ok(Step::Unsupported),
        // EPIPE is the writing end's: the socket's peer when sending, stdout's reader
        // when receiving. Reset, timeout and unreachable are always the socket's.
        Err(e) => {
            let socket_failed = is_peer_error(e) || (e == Errno::PIPE && socket == Side::Sink);
            let pipe = match socket {
                Side::Source => Side::Sink,
                Side::Sink => Side::Source,
            };
            Err(match if socket_failed { socket } else { pipe } {
                Side::Source => StepError::Source(e.into()),
                Side::Sink => StepError::Sink(e.into()),
            })
        }
    }
}

/// Ask the kernel for a larger pipe buffer behind `fd` (best effort: the default still
/// works, only with more syscalls).
pub(crate) fn enlarge_pipe(fd: impl AsFd) {
    if rustix::pipe::fcntl_getpipe_size(&fd).is_ok_and(|size| size < RELAY_PIPE_BYTES) {
        let _ = rustix::pipe::fcntl_setpipe_size(&fd, RELAY_PIPE_BYTES);
    }
}

fn is_unsupported(e: Errno) -> bool {
    matches!(
        e,
        Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP | Errno::XDEV
    )
}

/// Errors that only a peer socket produces (EPIPE is not among them: a pipe gives it too).
fn is_peer_error(e: Errno) -> bool {
    matches!(
        e,
        Errno::CONNRESET
            | Errno::NOTCONN
            | Errno::TIMEDOUT
            | Errno::HOSTUNREACH
            | Errno::NETUNREACH
            | Errno::CONNABORTED
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn zerocopy_sendfile_file_to_socket() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        file.write_all(&data).unwrap();
        file.rewind().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap();
            got
        });
        let path = ToPeer::SendFile;
        loop {
            match path.step(file.as_fd(), a.as_fd()).unwrap() {
                Step::Eof => break,
                Step::Moved(_) => {}
                Step::SinkFull => std::thread::yield_now(),
                other => panic!("unexpected {other:?}"),
            }
        }
        drop(a);
        assert_eq!(reader.join().unwrap(), data);
    }

    #[test]
    fn zerocopy_splice_socket_to_pipe_reports_which_side_blocks() {
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let (mut pipe_r, pipe_w) = std::io::pipe().unwrap();
        rustix::fs::fcntl_setfl(&pipe_w, rustix::fs::OFlags::NONBLOCK).unwrap();
        let mut path = FromPeer::Splice;
        assert_eq!(
            path.step(a.as_fd(), pipe_w.as_fd(), None).unwrap(),
            Step::SourceEmpty
        );
        b.write_all(b"hello").unwrap();
        assert_eq!(
            path.step(a.as_fd(), pipe_w.as_fd(), None).unwrap(),
            Step::Moved(5)
        );
        let mut got = [0u8; 5];
        pipe_r.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
        // Fill the pipe, then the sink is what blocks.
        let big = vec![1u8; 1 << 20];
        let writer = std::thread::spawn(move || {
            let _ = b.write_all(&big);
            b
        });
        let mut saw_full = false;
        for _ in 0..10_000 {
            match path.step(a.as_fd(), pipe_w.as_fd(), None).unwrap() {
                Step::SinkFull => {
                    saw_full = true;
                    break;
                }
                _ => std::thread::yield_now(),
            }
        }
        assert!(saw_full, "a full stdout pipe is reported as SinkFull");
        drop(pipe_r);
        drop(a);
        let _ = writer.join();
    }

    #[test]
    fn zerocopy_relay_socket_to_file_and_eof() {
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut out = tempfile::tempfile().unwrap();
        let mut path = FromPeer::Relay(Relay::new(false).unwrap());
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        b.write_all(&data[..100_000]).unwrap();
        let mut total = 0;
        let mut rest_sent = false;
        loop {
            match path.step(a.as_fd(), out.as_fd(), None).unwrap() {
                Step::Moved(n) => total += n,
                Step::SourceEmpty if !rest_sent => {
                    b.write_all(&data[100_000..]).unwrap();
                    b.shutdown(std::net::Shutdown::Write).unwrap();
                    rest_sent = true;
                }
                Step::Eof => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(total, data.len());
        assert!(!path.has_pending());
        out.rewind().unwrap();
        let mut got = Vec::new();
        out.read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
    }
}
