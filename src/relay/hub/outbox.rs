//! A client's bounded queue of bytes to send, made of chunks shared between clients: a
//! message fanned out to 10,000 clients is stored once, and a client with nothing queued
//! holds no buffer at all (an empty `VecDeque` does not allocate).

use std::collections::VecDeque;
use std::io;
use std::rc::Rc;

use crate::relay::direction::Sink;

/// Bytes waiting for one client, oldest first.
#[derive(Default)]
pub(crate) struct Outbox {
    /// Shared chunks.
    chunks: VecDeque<Rc<[u8]>>,
    /// Bytes of the first chunk already sent.
    offset: usize,
    /// Bytes waiting in all chunks.
    len: usize,
}

impl Outbox {
    /// Queue `chunk` after what is waiting.
    pub(crate) fn push(&mut self, chunk: &Rc<[u8]>) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push_back(Rc::clone(chunk));
        }
    }

    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drop everything waiting (the client is gone).
    pub(crate) fn clear(&mut self) {
        *self = Outbox::default();
    }

    /// Write to `sink` until empty or the sink is full (`Ok(false)`: it is full).
    pub(crate) fn write_to(&mut self, sink: &mut dyn Sink) -> io::Result<(usize, bool)> {
        let mut written = 0;
        while let Some(front) = self.chunks.front() {
            let (chunk_len, rest_len) = (front.len(), front.len() - self.offset);
            match sink.write(&front[self.offset..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    written += n;
                    self.len -= n;
                    self.offset += n;
                    if self.offset == chunk_len {
                        self.chunks.pop_front();
                        self.offset = 0;
                    }
                    if n < rest_len && sink.short_write_fills() {
                        return Ok((written, false));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((written, false)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // Give the ring's memory back: an idle client holds nothing.
        self.chunks = VecDeque::new();
        Ok((written, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that takes at most `room` bytes, then says `WouldBlock`.
    struct Taker {
        got: Vec<u8>,
        room: usize,
    }

    impl Sink for Taker {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn short_write_fills(&self) -> bool {
            true
        }
    }

    #[test]
    fn outbox_keeps_order_across_partial_writes_and_shares_chunks() {
        let a: Rc<[u8]> = Rc::from(&b"hello "[..]);
        let b: Rc<[u8]> = Rc::from(&b"world"[..]);
        let mut one = Outbox::default();
        let mut two = Outbox::default();
        for outbox in [&mut one, &mut two] {
            outbox.push(&a);
            outbox.push(&b);
        }
        assert_eq!(Rc::strong_count(&a), 3, "stored once, shared");
        let mut sink = Taker {
            got: Vec::new(),
            room: 4,
        };
        assert_eq!(one.write_to(&mut sink).unwrap(), (4, false));
        assert_eq!(one.len(), 7);
        sink.room = 100;
        assert_eq!(one.write_to(&mut sink).unwrap(), (7, true));
        assert_eq!(sink.got, b"hello world");
        assert!(one.is_empty());
        assert_eq!(two.len(), 11);
    }
}
