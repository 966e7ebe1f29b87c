//! `Direction`: one way bytes go, used twice by the session (stdin → peer, peer →
//! stdout): whether its source may be read and has ended, its bounded queue, whether its
//! sink may be written and is still there, and the copy loops that move bytes source →
//! queue → sink with the rules that keep an edge-triggered loop from stalling or spinning.
//!
//! It knows no fd and no transport: a source or a sink is anything behind the `Source` or
//! `Sink` trait (stdin, a socket's read or write half, stdout, a layer such as `-C` around
//! one of them). Datagrams, the screen and the zero-copy paths use the same state from the
//! session and keep their own loops there.

use std::io;

use crate::relay::buffer::{ByteQueue, Fill};
use crate::relay::crlf::CrlfEncoder;

/// Capacity of each direction's queue.
pub(crate) const QUEUE_BYTES: usize = 256 * 1024;

/// Where a direction's bytes come from.
pub(crate) trait Source {
    /// One read into `buf`: `Ok(0)` is EOF, `WouldBlock` is "nothing now".
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// After a read that asked for `asked` bytes and got `got`: whether the source is empty
    /// now. A pipe or a stream socket returns less than asked only then, and its next byte
    /// brings a new readiness edge, so the read that would say `WouldBlock` is skipped. A
    /// terminal returns a line per read, so it says no.
    fn is_drained(&self, asked: usize, got: usize) -> bool;

    /// The smallest room a read needs (a layer that grows the bytes needs more than one).
    fn min_room(&self) -> usize {
        1
    }
}

/// Where a direction's bytes go.
pub(crate) trait Sink {
    /// One write from `buf`: how many bytes it took; `WouldBlock` is "full now".
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;

    /// Whether a write that took less than offered means the sink is full now (a pipe, a
    /// socket), so the write that would say `WouldBlock` is skipped.
    fn short_write_fills(&self) -> bool;
}

/// What ended one zero-copy step (`zerocopy.rs`) in `Direction::splice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// This many bytes moved; call again.
    Moved(usize),
    /// The source ended.
    Eof,
    /// The source has nothing now.
    SourceEmpty,
    /// The sink takes nothing now.
    SinkFull,
    /// The kernel cannot do this pair of fds: use the copy path.
    Unsupported,
}

/// Where an error in a step came from, for the message.
#[derive(Debug)]
pub(crate) enum StepError {
    /// Reading the source failed.
    Source(io::Error),
    /// Writing the sink failed.
    Sink(io::Error),
    /// Copying the bytes for the logs failed.
    Log(io::Error),
}

/// What one `fill` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Filled {
    /// Bytes queued.
    pub(crate) bytes: usize,
    /// The largest single read (a bulk transfer shows in it).
    pub(crate) largest_read: usize,
    /// The source said EOF.
    pub(crate) eof: bool,
}

/// One way bytes go: a source's state, a bounded queue, a sink's state.
pub(crate) struct Direction {
    /// Bytes read and not yet written.
    pub(crate) queue: ByteQueue,
    /// A read from the source may succeed (an event said so, and no read said
    /// `WouldBlock` since).
    pub(crate) source_ready: bool,
    /// The source has ended: nothing more comes from it.
    pub(crate) source_eof: bool,
    /// The source has given at least one byte.
    pub(crate) delivered: bool,
    /// A write to the sink may succeed.
    pub(crate) sink_ready: bool,
    /// The sink has gone (stdout's reader left): nothing more can be delivered.
    pub(crate) sink_closed: bool,
}

impl Direction {
    /// A direction with a queue of `queue_bytes`, both ends assumed ready.
    pub(crate) fn new(queue_bytes: usize) -> Direction {
        Direction {
            queue: ByteQueue::new(queue_bytes),
            source_ready: true,
            source_eof: false,
            delivered: false,
            sink_ready: true,
            sink_closed: false,
        }
    }

    /// Whether everything read has been written (nothing queued).
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// A new source (the next connection's socket): ready, not ended, nothing given yet.
    pub(crate) fn source_attached(&mut self) {
        self.source_ready = true;
        self.source_eof = false;
        self.delivered = false;
    }

    /// Read from `source` into the queue, `max_read` bytes at most per read and
    /// `max_reads` reads at most (1 for a datagram: one read is one message), until the
    /// queue is full, the source is empty or it ends. Errors are the source's, for the
    /// caller to name.
    pub(crate) fn fill(
        &mut self,
        source: &mut dyn Source,
        max_read: usize,
        max_reads: usize,
    ) -> io::Result<Filled> {
        let mut filled = Filled::default();
        let mut reads = 0;
        while self.source_ready && !self.source_eof && reads < max_reads {
            reads += 1;
            let asked = max_read.min(self.queue.room());
            if asked == 0 || asked < source.min_room() {
                break;
            }
            match self.queue.fill_from(asked, |buf| source.read(buf))? {
                Fill::Read(n) => {
                    filled.bytes += n;
                    filled.largest_read = filled.largest_read.max(n);
                    self.delivered = true;
                    if source.is_drained(asked, n) {
                        self.source_ready = false;
                    }
                }
                Fill::Eof => {
                    self.source_eof = true;
                    filled.eof = true;
                }
                Fill::WouldBlock => self.source_ready = false,
            }
        }
        Ok(filled)
    }

    /// Move bytes source → sink without copying (sendfile or splice, one `step` at a
    /// time, `max_steps` at most), with the copy loops' readiness and EOF rules. `None`
    /// when the kernel cannot do it for these fds: the copy path takes over for good.
    pub(crate) fn splice(
        &mut self,
        max_steps: usize,
        mut step: impl FnMut() -> Result<Step, StepError>,
    ) -> Result<Option<Filled>, StepError> {
        let mut moved = Filled::default();
        for _ in 0..max_steps {
            if !self.sink_ready {
                break;
            }
            match step()? {
                Step::Moved(n) => {
                    moved.bytes += n;
                    moved.largest_read = moved.largest_read.max(n);
                    self.delivered |= n > 0;
                }
                Step::Eof => {
                    self.source_eof = true;
                    moved.eof = true;
                    break;
                }
                Step::SourceEmpty => {
                    self.source_ready = false;
                    break;
                }
                Step::SinkFull => {
                    self.sink_ready = false;
                    break;
                }
                Step::Unsupported => return Ok(None),
            }
        }
        Ok(Some(moved))
    }

    /// Write the queue to `sink` until it is empty or the sink is full; returns the bytes
    /// written. Errors are the sink's, for the caller to name (or to treat a reader that
    /// left as a quiet end).
    pub(crate) fn drain(&mut self, sink: &mut dyn Sink) -> io::Result<usize> {
        self.drain_at_most(sink, usize::MAX)
    }

    /// `drain`, stopping after `max` bytes (`-i` lets one line go at a time). A write
    /// short of what was offered still means the sink is full, not of what is queued.
    pub(crate) fn drain_at_most(&mut self, sink: &mut dyn Sink, max: usize) -> io::Result<usize> {
        let mut written = 0;
        while self.sink_ready && !self.sink_closed && !self.queue.is_empty() && written < max {
            let offered = self.queue.len().min(max - written);
            match self.queue.drain_to(|buf| sink.write(&buf[..offered]))? {
                Some(n) => {
                    written += n;
                    if n < offered && sink.short_write_fills() {
                        self.sink_ready = false;
                    }
                }
                None => self.sink_ready = false,
            }
        }
        Ok(written)
    }
}

/// The `-C` layer on a source: every LF read goes on as CRLF. A read asks its source for
/// at most half the room, so the translation always fits.
pub(crate) struct CrlfSource<'a> {
    /// The source below.
    pub(crate) inner: &'a mut dyn Source,
    /// The translator, with its memory of a CR that ended the last read.
    pub(crate) encoder: &'a mut CrlfEncoder,
    /// Raw bytes read, before translation.
    pub(crate) scratch: &'a mut Vec<u8>,
    /// Translated bytes, before they are copied out.
    pub(crate) encoded: &'a mut Vec<u8>,
    /// The last raw read: (asked, got).
    pub(crate) last: (usize, usize),
}

impl Source for CrlfSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() / 2).min(self.scratch.len());
        let n = self.inner.read(&mut self.scratch[..want])?;
        self.last = (want, n);
        self.encoded.clear();
        self.encoder.encode(&self.scratch[..n], self.encoded);
        buf[..self.encoded.len()].copy_from_slice(self.encoded);
        // A read of something that translates to nothing cannot happen: `n > 0` gives at
        // least `n` bytes out.
        Ok(self.encoded.len())
    }

    fn is_drained(&self, _asked: usize, _got: usize) -> bool {
        let (asked, got) = self.last;
        self.inner.is_drained(asked, got)
    }

    fn min_room(&self) -> usize {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out `data` in reads of at most `chunk`, then `WouldBlock` or
    /// EOF.
    struct Fake {
        data: Vec<u8>,
        chunk: usize,
        eof: bool,
        drains: bool,
    }

    impl Source for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.data.is_empty() {
                return if self.eof {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = buf.len().min(self.chunk).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data.drain(..n);
            Ok(n)
        }

        fn is_drained(&self, asked: usize, got: usize) -> bool {
            self.drains && got < asked
        }
    }

    /// A sink that takes at most `take` bytes per write, `WouldBlock` once `room` is used.
    struct Taker {
        got: Vec<u8>,
        take: usize,
        room: usize,
    }

    impl Sink for Taker {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.take).min(self.room);
            self.got.extend_from_slice(&buf[..n]);
            self.room -= n;
            Ok(n)
        }

        fn short_write_fills(&self) -> bool {
            false
        }
    }

    #[test]
    fn direction_fill_reads_until_would_block_then_waits_for_an_event() {
        let mut d = Direction::new(64);
        let mut src = Fake {
            data: b"hello world".to_vec(),
            chunk: 4,
            eof: false,
            drains: false,
        };
        let filled = d.fill(&mut src, usize::MAX, usize::MAX).unwrap();
        assert_eq!(
            (filled.bytes, filled.largest_read, filled.eof),
            (11, 4, false)
        );
        assert_eq!(d.queue.as_slice(), b"hello world");
        assert!(!d.source_ready && d.delivered);
        // Not ready: nothing is read until an event says so.
        src.data.extend_from_slice(b"!");
        assert_eq!(d.fill(&mut src, usize::MAX, usize::MAX).unwrap().bytes, 0);
        d.source_ready = true;
        assert_eq!(d.fill(&mut src, usize::MAX, usize::MAX).unwrap().bytes, 1);
    }

    #[test]
    fn direction_fill_stops_at_a_short_read_of_a_draining_source_and_at_eof() {
        let mut d = Direction::new(64);
        let mut src = Fake {
            data: b"abc".to_vec(),
            chunk: 64,
            eof: true,
            drains: true,
        };
        let filled = d.fill(&mut src, usize::MAX, usize::MAX).unwrap();
        assert_eq!(filled.bytes, 3);
        assert!(!d.source_ready, "a short read of a pipe means empty");
        assert!(!d.source_eof, "EOF not read yet");
        d.source_ready = true;
        assert!(d.fill(&mut src, usize::MAX, usize::MAX).unwrap().eof);
        assert!(d.source_eof);
    }

    #[test]
    fn direction_fill_never_overfills_and_drain_handles_short_writes() {
        let mut d = Direction::new(5);
        let mut src = Fake {
            data: b"0123456789".to_vec(),
            chunk: 3,
            eof: false,
            drains: false,
        };
        assert_eq!(d.fill(&mut src, usize::MAX, usize::MAX).unwrap().bytes, 5);
        assert!(d.source_ready, "a full queue is not an empty source");
        let mut sink = Taker {
            got: Vec::new(),
            take: 2,
            room: 4,
        };
        assert_eq!(d.drain(&mut sink).unwrap(), 4);
        assert!(!d.sink_ready, "WouldBlock after the room was used");
        assert_eq!(d.queue.as_slice(), b"4");
        sink.room = 100;
        d.sink_ready = true;
        d.fill(&mut src, usize::MAX, usize::MAX).unwrap();
        d.drain(&mut sink).unwrap();
        d.fill(&mut src, usize::MAX, usize::MAX).unwrap();
        d.drain(&mut sink).unwrap();
        assert_eq!(sink.got, b"0123456789");
    }

    #[test]
    fn direction_drain_at_most_stops_at_the_limit_and_stays_ready() {
        let mut d = Direction::new(16);
        d.queue.push(b"ab\ncd\n");
        let mut sink = Taker {
            got: Vec::new(),
            take: 2,
            room: 100,
        };
        assert_eq!(d.drain_at_most(&mut sink, 3).unwrap(), 3);
        assert_eq!(sink.got, b"ab\n");
        assert!(d.sink_ready, "stopping at the limit is not a full sink");
        assert_eq!(d.queue.as_slice(), b"cd\n");
    }

    #[test]
    fn direction_splice_follows_what_each_step_reports() {
        let run = |steps: &[Step]| {
            let mut d = Direction::new(8);
            let mut steps = steps.iter().copied();
            let moved = d
                .splice(16, || Ok(steps.next().unwrap_or(Step::Moved(0))))
                .expect("no step fails");
            (d, moved)
        };
        let (d, moved) = run(&[Step::Moved(3), Step::Moved(4), Step::SourceEmpty]);
        assert_eq!(moved.map(|m| (m.bytes, m.eof)), Some((7, false)));
        assert!(!d.source_ready && d.sink_ready && d.delivered);
        let (d, _) = run(&[Step::Moved(1), Step::SinkFull]);
        assert!(d.source_ready && !d.sink_ready);
        let (d, moved) = run(&[Step::Eof]);
        assert!(d.source_eof && moved.is_some_and(|m| m.eof));
        let (_, moved) = run(&[Step::Moved(2), Step::Unsupported]);
        assert!(moved.is_none(), "the copy path takes over");
        let mut d = Direction::new(8);
        let failed = d.splice(16, || {
            Err(StepError::Sink(io::ErrorKind::BrokenPipe.into()))
        });
        assert!(matches!(failed, Err(StepError::Sink(_))));
    }

    #[test]
    fn direction_crlf_layer_translates_and_reports_the_raw_short_read() {
        let mut d = Direction::new(64);
        let mut inner = Fake {
            data: b"a\nb\r\nc\n".to_vec(),
            chunk: 64,
            eof: false,
            drains: true,
        };
        let mut encoder = CrlfEncoder::default();
        let (mut scratch, mut encoded) = (vec![0; 32], Vec::new());
        let mut src = CrlfSource {
            inner: &mut inner,
            encoder: &mut encoder,
            scratch: &mut scratch,
            encoded: &mut encoded,
            last: (0, 0),
        };
        let filled = d.fill(&mut src, usize::MAX, usize::MAX).unwrap();
        assert_eq!(d.queue.as_slice(), b"a\r\nb\r\nc\r\n");
        assert_eq!(filled.bytes, 9);
        assert!(
            !d.source_ready,
            "7 raw bytes of 32 asked: the pipe is empty"
        );
    }
}
