//! `ByteQueue`: one bounded byte queue per direction, filled by reads and drained by
//! writes, with partial-write bookkeeping.
//!
//! The queue is a flat buffer with a read and a write offset. Reads go straight into its
//! free tail and writes come straight from its filled part, so no byte is copied inside rnc
//! except when a nearly-full tail is compacted. It knows nothing about fds or readiness.

use std::io;

/// A bounded FIFO of bytes.
pub(crate) struct ByteQueue {
    /// Storage; allocated zeroed, so untouched pages cost no memory.
    buf: Box<[u8]>,
    /// Offset of the first queued byte.
    start: usize,
    /// Offset one past the last queued byte.
    end: usize,
}

/// Outcome of one `fill_from` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// This many bytes were added.
    Read(usize),
    /// The source said end of stream (`Ok(0)`).
    Eof,
    /// The source has nothing now.
    WouldBlock,
}

impl ByteQueue {
    /// A queue holding at most `capacity_bytes`.
    pub(crate) fn new(capacity_bytes: usize) -> ByteQueue {
        ByteQueue {
            buf: vec![0; capacity_bytes].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// Let the queue hold up to `capacity_bytes` (never shrinks); queued bytes are kept.
    pub(crate) fn grow(&mut self, capacity_bytes: usize) {
        if capacity_bytes <= self.buf.len() {
            return;
        }
        let mut buf = vec![0; capacity_bytes].into_boxed_slice();
        let len = self.len();
        buf[..len].copy_from_slice(self.as_slice());
        self.buf = buf;
        self.start = 0;
        self.end = len;
    }

    /// Bytes queued.
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes that can still be queued.
    pub(crate) fn room(&self) -> usize {
        self.buf.len() - self.len()
    }

    /// The queued bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Drop every queued byte.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Mark `n` queued bytes as written.
    pub(crate) fn consume(&mut self, n: usize) {
        assert!(n <= self.len(), "consumed more than was queued");
        self.start += n;
        if self.start == self.end {
            self.clear();
        }
    }

    /// The free tail, at most `max` bytes long, compacting first when the tail is
    /// shorter than what is free in total.
    pub(crate) fn tail_mut(&mut self, max: usize) -> &mut [u8] {
        let want = max.min(self.room());
        if self.buf.len() - self.end < want {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let stop = (self.end + want).min(self.buf.len());
        &mut self.buf[self.end..stop]
    }

    /// Record that `n` bytes were written into `tail_mut`.
    pub(crate) fn commit(&mut self, n: usize) {
        assert!(self.end + n <= self.buf.len(), "committed past the buffer");
        self.end += n;
    }

    /// Append `data`, which must fit (tests fill queues directly).
    #[cfg(test)]
    pub(crate) fn push(&mut self, data: &[u8]) {
        let tail = self.tail_mut(data.len());
        assert_eq!(tail.len(), data.len(), "push beyond the queue's room");
        tail.copy_from_slice(data);
        self.commit(data.len());
    }

    /// One read from `read` into the free tail (at most `max` bytes). Retries on `EINTR`.
    pub(crate) fn fill_from(
        &mut self,
        max: usize,
        mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<Fill> {
        let tail = self.tail_mut(max);
        if tail.is_empty() {
            return Ok(Fill::Read(0));
        }
        loop {
            match read(tail) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    self.commit(n);
                    return Ok(Fill::Read(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Fill::WouldBlock),
                Err(e) => return Err(e),
            }
        }
    }

    /// One write of the queued bytes through `write`; returns how many it took, or `None`
    /// on `WouldBlock`. `Ok(0)` for a non-empty write is `WriteZero`. Retries on `EINTR`.
    pub(crate) fn drain_to(
        &mut self,
        mut write: impl FnMut(&[u8]) -> io::Result<usize>,
    ) -> io::Result<Option<usize>> {
        if self.is_empty() {
            return Ok(Some(0));
        }
        loop {
            match write(self.as_slice()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.consume(n);
                    return Ok(Some(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_fill_and_drain_with_short_writes() {
        let mut q = ByteQueue::new(8);
        let src = b"abcdefghij";
        let mut pos = 0;
        let got = q
            .fill_from(usize::MAX, |buf| {
                let n = buf.len().min(src.len() - pos);
                buf[..n].copy_from_slice(&src[pos..pos + n]);
                pos += n;
                Ok(n)
            })
            .unwrap();
        assert_eq!(got, Fill::Read(8));
        assert_eq!(q.room(), 0);
        let mut out = Vec::new();
        // A writer that takes 3 bytes at a time.
        while !q.is_empty() {
            q.drain_to(|b| {
                let n = b.len().min(3);
                out.extend_from_slice(&b[..n]);
                Ok(n)
            })
            .unwrap();
        }
        assert_eq!(out, b"abcdefgh");
        assert_eq!(q.room(), 8);
    }

    #[test]
    fn buffer_compacts_when_tail_is_short() {
        let mut q = ByteQueue::new(8);
        q.push(b"123456");
        q.consume(4);
        assert_eq!(q.as_slice(), b"56");
        // 6 free in total but only 2 at the tail: compaction makes all 6 usable.
        assert_eq!(q.tail_mut(6).len(), 6);
        q.commit(0);
        q.push(b"789abc");
        assert_eq!(q.as_slice(), b"56789abc");
    }

    #[test]
    fn buffer_eof_wouldblock_and_write_zero() {
        let mut q = ByteQueue::new(4);
        assert_eq!(q.fill_from(4, |_| Ok(0)).unwrap(), Fill::Eof);
        assert_eq!(
            q.fill_from(4, |_| Err(io::ErrorKind::WouldBlock.into()))
                .unwrap(),
            Fill::WouldBlock
        );
        let mut tries = 0;
        assert_eq!(
            q.fill_from(4, |b| {
                tries += 1;
                if tries == 1 {
                    Err(io::ErrorKind::Interrupted.into())
                } else {
                    b[0] = 7;
                    Ok(1)
                }
            })
            .unwrap(),
            Fill::Read(1)
        );
        assert_eq!(
            q.drain_to(|_| Err(io::ErrorKind::WouldBlock.into()))
                .unwrap(),
            None
        );
        assert_eq!(q.len(), 1, "a blocked write keeps the bytes");
        let err = q.drain_to(|_| Ok(0)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    }

    #[test]
    fn buffer_fill_respects_max() {
        let mut q = ByteQueue::new(16);
        let got = q.fill_from(5, |b| Ok(b.len())).unwrap();
        assert_eq!(got, Fill::Read(5));
    }

    #[test]
    fn grow_keeps_the_queued_bytes_and_adds_room() {
        let mut q = ByteQueue::new(8);
        q.tail_mut(8)[..6].copy_from_slice(b"abcdef");
        q.commit(6);
        q.consume(2);
        q.grow(32);
        assert_eq!(q.as_slice(), b"cdef");
        assert_eq!(q.room(), 28);
        q.grow(16);
        assert_eq!(q.room(), 28, "never shrinks");
    }
}
