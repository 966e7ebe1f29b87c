//! nc's `-t`: a layer on the socket's read side that answers telnet option negotiation
//! by refusing everything (RFC 854: `DO x` → `WONT x`, `WILL x` → `DONT x`) and keeps the
//! telnet commands out of what reaches stdout (`IAC IAC` is one 0xFF data byte;
//! subnegotiations and other commands are dropped). `DONT` and `WONT` get no answer: every
//! option is already off, and acknowledging them could loop (RFC 1143).
//!
//! The parser is pure and keeps its state across reads, so a sequence split between two
//! reads is handled like a whole one. The replies wait in `Telnet` until the session
//! writes them toward the peer, ahead of what stdin queued.

use std::io;

use crate::relay::direction::{Sink, Source};

/// Interpret As Command: starts every telnet command.
const IAC: u8 = 255;
/// `DONT option`.
const DONT: u8 = 254;
/// `DO option`.
const DO: u8 = 253;
/// `WONT option`.
const WONT: u8 = 252;
/// `WILL option`.
const WILL: u8 = 251;
/// Subnegotiation begins.
const SB: u8 = 250;
/// Subnegotiation ends.
const SE: u8 = 240;
/// Replies held for a peer that sends negotiation and never reads: beyond this, further
/// requests are not answered rather than buffered without end.
const MAX_PENDING_REPLY_BYTES: usize = 64 * 1024;

/// Where the parser is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Plain data.
    #[default]
    Data,
    /// After `IAC`.
    Command,
    /// After `IAC DO`/`DONT`/`WILL`/`WONT`: the option byte comes next.
    Option(u8),
    /// Inside `IAC SB … IAC SE`.
    Subnegotiation,
    /// After `IAC` inside a subnegotiation.
    SubnegotiationCommand,
}

/// The telnet state of one connection: the parser and the replies not yet written.
#[derive(Debug, Default)]
pub(crate) struct Telnet {
    /// Where the parser is.
    state: State,
    /// Refusals to send to the peer.
    replies: Vec<u8>,
}

impl Telnet {
    /// Filter `bytes` in place: telnet commands are removed (and answered), data bytes
    /// move to the front. Returns how many data bytes are there.
    pub(crate) fn filter(&mut self, bytes: &mut [u8]) -> usize {
        let mut kept = 0;
        for i in 0..bytes.len() {
            let byte = bytes[i];
            self.state = match (self.state, byte) {
                (State::Data, IAC) => State::Command,
                (State::Data, _) => {
                    bytes[kept] = byte;
                    kept += 1;
                    State::Data
                }
                (State::Command, IAC) => {
                    bytes[kept] = IAC;
                    kept += 1;
                    State::Data
                }
                (State::Command, DO | DONT | WILL | WONT) => State::Option(byte),
                (State::Command, SB) => State::Subnegotiation,
                // NOP, GA, AYT, a stray SE…: nothing to answer, nothing to show.
                (State::Command, _) => State::Data,
                (State::Option(verb), option) => {
                    let refusal = match verb {
                        DO => Some(WONT),
                        WILL => Some(DONT),
                        _ => None,
                    };
                    if let Some(refusal) = refusal
                        && self.replies.len() < MAX_PENDING_REPLY_BYTES
                    {
                        self.replies.extend_from_slice(&[IAC, refusal, option]);
                    }
                    State::Data
                }
                (State::Subnegotiation, IAC) => State::SubnegotiationCommand,
                (State::Subnegotiation, _) => State::Subnegotiation,
                (State::SubnegotiationCommand, SE) => State::Data,
                (State::SubnegotiationCommand, _) => State::Subnegotiation,
            };
        }
        kept
    }

    /// Whether refusals wait to be written.
    pub(crate) fn has_replies(&self) -> bool {
        !self.replies.is_empty()
    }

    /// Write the waiting refusals to `sink`; returns the bytes it took (`WouldBlock`
    /// passes through: the sink is full).
    pub(crate) fn send_replies(&mut self, sink: &mut dyn Sink) -> io::Result<usize> {
        let mut written = 0;
        while !self.replies.is_empty() {
            match sink.write(&self.replies) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.replies.drain(..n);
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
    use super::*;

    /// Feeds `chunks` one read at a time; returns (data kept, replies made).
    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let mut telnet = Telnet::default();
        let mut data = Vec::new();
        for chunk in chunks {
            let mut bytes = chunk.to_vec();
            let kept = telnet.filter(&mut bytes);
            data.extend_from_slice(&bytes[..kept]);
        }
        (data, telnet.replies)
    }

    #[test]
    fn telnet_refuses_do_and_will_and_keeps_data() {
        let input = [b"login".as_slice(), &[IAC, DO, 1, IAC, WILL, 3], b": "].concat();
        let (data, replies) = run(&[&input]);
        assert_eq!(data, b"login: ");
        assert_eq!(replies, [IAC, WONT, 1, IAC, DONT, 3]);
    }

    #[test]
    fn telnet_does_not_answer_dont_and_wont() {
        let (data, replies) = run(&[&[IAC, DONT, 1, IAC, WONT, 3, b'x']]);
        assert_eq!((data, replies), (b"x".to_vec(), vec![]));
    }

    #[test]
    fn telnet_iac_iac_is_one_data_byte() {
        let (data, replies) = run(&[&[b'a', IAC, IAC, b'b']]);
        assert_eq!(data, [b'a', 0xff, b'b']);
        assert!(replies.is_empty());
    }

    #[test]
    fn telnet_drops_subnegotiation_and_other_commands() {
        let sb = [IAC, SB, 24, 1, IAC, IAC, 7, IAC, SE];
        let nop = [IAC, 241];
        let (data, replies) = run(&[&[b"a".as_slice(), &sb, b"b", &nop, b"c"].concat()]);
        assert_eq!(data, b"abc");
        assert!(replies.is_empty());
    }

    #[test]
    fn telnet_any_split_equals_whole() {
        let input = [
            b"hi ".as_slice(),
            &[IAC, DO, 24, IAC, IAC, IAC, WILL, 1],
            &[IAC, SB, 24, 0, IAC, SE],
            b"there",
            &[IAC, DONT, 5, IAC],
        ]
        .concat();
        let whole = run(&[&input]);
        assert_eq!(whole.0, [b"hi ".as_slice(), &[0xff], b"there"].concat());
        assert_eq!(whole.1, [IAC, WONT, 24, IAC, DONT, 1]);
        for first in 0..=input.len() {
            for second in first..=input.len() {
                let parts = [&input[..first], &input[first..second], &input[second..]];
                assert_eq!(run(&parts), whole, "split at {first} and {second}");
            }
        }
    }

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
}
