//! nc's `-t`: a layer on the socket's read side that answers telnet option negotiation
//! by refusing everything and keeps the telnet commands out of what reaches stdout. The
//! parser itself is pure and lives in the library target (`relay/telnet/parser.rs`, shared
//! with the fuzz targets); this file is its I/O: the layer on a `Source` and the writing
//! of the refusals, which wait in `Telnet` until the session writes them toward the peer,
//! ahead of what stdin queued.

use std::io;

use rnc::relay::telnet::parser::TelnetParser;

use crate::relay::direction::{Sink, Source};

/// The telnet state of one connection: the parser and the replies not yet written.
#[derive(Debug, Default)]
pub(crate) struct Telnet {
    /// The parser, with the refusals it made.
    parser: TelnetParser,
}

impl Telnet {
    /// Filter `bytes` in place: telnet commands are removed (and answered), data bytes
    /// move to the front. Returns how many data bytes are there.
    pub(crate) fn filter(&mut self, bytes: &mut [u8]) -> usize {
        self.parser.filter(bytes)
    }

    /// Whether refusals wait to be written.
    pub(crate) fn has_replies(&self) -> bool {
        !self.parser.replies().is_empty()
    }

    /// Write the waiting refusals to `sink`; returns the bytes it took (`WouldBlock`
    /// passes through: the sink is full).
    pub(crate) fn send_replies(&mut self, sink: &mut dyn Sink) -> io::Result<usize> {
        let mut written = 0;
        while self.has_replies() {
            match sink.write(self.parser.replies()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.parser.consume_replies(n);
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && written > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    /// This connection's socket source with the telnet layer on it.
    pub(crate) fn layer<'a>(&'a mut self, inner: &'a mut dyn Source) -> TelnetSource<'a> {
        TelnetSource {
            telnet: self,
            inner,
            last: (0, 0),
        }
    }
}

/// The `-t` layer on the socket's read side.
pub(crate) struct TelnetSource<'a> {
    /// Parser state and the replies it makes.
    telnet: &'a mut Telnet,
    /// The socket (or TLS) source below.
    inner: &'a mut dyn Source,
    /// The last raw read: (asked, got), for `is_drained`.
    last: (usize, usize),
}

impl Source for TelnetSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let got = self.inner.read(buf)?;
            self.last = (buf.len(), got);
            if got == 0 {
                return Ok(0);
            }
            let kept = self.telnet.filter(&mut buf[..got]);
            if kept > 0 {
                return Ok(kept);
            }
            // Only commands: 0 would read as EOF. Read on, unless the socket is empty now.
            if self.inner.is_drained(buf.len(), got) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
    }

    fn is_drained(&self, _asked: usize, _got: usize) -> bool {
        let (asked, got) = self.last;
        self.inner.is_drained(asked, got)
    }
}

#[cfg(test)]
mod tests {
    use rnc::relay::telnet::parser::{DO, IAC, WONT};

    use super::*;

    /// A source handing out `reads` one by one, then `WouldBlock`.
    struct Reads(Vec<Vec<u8>>);

    impl Source for Reads {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let next = self.0.remove(0);
            buf[..next.len()].copy_from_slice(&next);
            Ok(next.len())
        }

        fn is_drained(&self, asked: usize, got: usize) -> bool {
            got < asked
        }
    }

    #[test]
    fn telnet_source_never_turns_a_read_of_commands_into_eof() {
        let mut telnet = Telnet::default();
        let mut inner = Reads(vec![vec![IAC, DO, 1], b"ok".to_vec()]);
        let mut buf = [0u8; 16];
        let err = telnet.layer(&mut inner).read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "drained, not EOF");
        assert_eq!(telnet.layer(&mut inner).read(&mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"ok");
        assert!(telnet.has_replies());
    }

    /// A sink that takes at most 2 bytes a write, then is full after `room` bytes.
    struct Trickle {
        got: Vec<u8>,
        room: usize,
    }

    impl Sink for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(2).min(self.room - self.got.len());
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn short_write_fills(&self) -> bool {
            false
        }
    }

    #[test]
    fn telnet_replies_survive_short_writes() {
        let mut telnet = Telnet::default();
        let mut bytes = vec![IAC, DO, 1, IAC, DO, 3];
        assert_eq!(telnet.filter(&mut bytes), 0);
        let mut sink = Trickle {
            got: Vec::new(),
            room: 4,
        };
        assert_eq!(telnet.send_replies(&mut sink).unwrap(), 4);
        assert!(telnet.has_replies(), "two bytes still wait");
        sink.room = 6;
        assert_eq!(telnet.send_replies(&mut sink).unwrap(), 2);
        assert!(!telnet.has_replies());
        assert_eq!(sink.got, [IAC, WONT, 1, IAC, WONT, 3]);
    }
}
