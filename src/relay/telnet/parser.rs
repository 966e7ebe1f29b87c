//! The telnet parser behind nc's `-t` (RFC 854): separates data from telnet commands and
//! makes the refusals, refusing everything (`DO x` → `WONT x`, `WILL x` → `DONT x`).
//! `IAC IAC` is one 0xFF data byte; subnegotiations and other commands are dropped; `DONT`
//! and `WONT` get no answer (every option is already off, and acknowledging them could loop,
//! RFC 1143). Pure: it keeps its state across reads, so a sequence split between two reads
//! is handled like a whole one; `relay/telnet.rs` is the layer that does the I/O.

/// Interpret As Command: starts every telnet command.
pub const IAC: u8 = 255;
/// `DONT option`.
pub const DONT: u8 = 254;
/// `DO option`.
pub const DO: u8 = 253;
/// `WONT option`.
pub const WONT: u8 = 252;
/// `WILL option`.
pub const WILL: u8 = 251;
/// Subnegotiation begins.
pub const SB: u8 = 250;
/// Subnegotiation ends.
pub const SE: u8 = 240;
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

/// The telnet state of one connection: the parser and the refusals not yet taken.
#[derive(Debug, Default)]
pub struct TelnetParser {
    /// Where the parser is.
    state: State,
    /// Refusals to send to the peer.
    replies: Vec<u8>,
}

impl TelnetParser {
    /// Filter `bytes` in place: telnet commands are removed (and answered), data bytes
    /// move to the front. Returns how many data bytes are there.
    pub fn filter(&mut self, bytes: &mut [u8]) -> usize {
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

    /// The refusals made so far and not yet consumed, to be written to the peer.
    pub fn replies(&self) -> &[u8] {
        &self.replies
    }

    /// Forget the first `n` bytes of `replies()`: they have been written.
    pub fn consume_replies(&mut self, n: usize) {
        self.replies.drain(..n.min(self.replies.len()));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Feeds `chunks` one read at a time; returns (data kept, replies made).
    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let mut telnet = TelnetParser::default();
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
    fn telnet_consume_replies_drops_what_was_written() {
        let mut telnet = TelnetParser::default();
        telnet.filter(&mut [IAC, DO, 1, IAC, WILL, 2]);
        telnet.consume_replies(4);
        assert_eq!(telnet.replies(), [DONT, 2]);
        telnet.consume_replies(99);
        assert!(telnet.replies().is_empty());
    }

    /// Telnet streams: data bytes mixed with every command shape, whole or cut short.
    fn telnet_stream() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            prop::collection::vec(0u8..=254, 1..4),
            (
                prop::sample::select(vec![DO, DONT, WILL, WONT]),
                any::<u8>()
            )
                .prop_map(|(verb, option)| vec![IAC, verb, option]),
            prop::collection::vec(any::<u8>(), 0..4)
                .prop_map(|body| { [&[IAC, SB][..], &body, &[IAC, SE]].concat() }),
            Just(vec![IAC, IAC]),
            Just(vec![IAC]),
            any::<u8>().prop_map(|b| vec![IAC, b]),
        ];
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    /// The data a stream carries, by a second reading of RFC 854 written for the test.
    fn expected_data(input: &[u8]) -> Vec<u8> {
        let mut data = Vec::new();
        let mut i = 0;
        while i < input.len() {
            match (input[i], input.get(i + 1)) {
                (IAC, Some(&IAC)) => {
                    data.push(IAC);
                    i += 2;
                }
                (IAC, Some(&SB)) => {
                    // Skip to the IAC SE, stepping over IAC IAC inside.
                    i += 2;
                    while i < input.len() && !(input[i] == IAC && input.get(i + 1) == Some(&SE)) {
                        i += if input[i] == IAC { 2 } else { 1 };
                    }
                    i += 2;
                }
                (IAC, Some(&(DO | DONT | WILL | WONT))) => i += 3,
                (IAC, _) => i += 2,
                (b, _) => {
                    data.push(b);
                    i += 1;
                }
            }
        }
        data
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Cutting the stream into three reads anywhere gives the same data and replies.
        #[test]
        fn telnet_property_any_split_equals_whole(
            input in telnet_stream(),
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
        ) {
            let (first, second) = {
                let (x, y) = (a.index(input.len() + 1), b.index(input.len() + 1));
                (x.min(y), x.max(y))
            };
            let whole = run(&[&input]);
            let parts = run(&[&input[..first], &input[first..second], &input[second..]]);
            prop_assert_eq!(parts, whole);
        }

        /// The data kept is what RFC 854 says the stream carries, and every reply is a
        /// refusal (`IAC WONT x` or `IAC DONT x`).
        #[test]
        fn telnet_property_keeps_data_and_only_refuses(input in telnet_stream()) {
            let (data, replies) = run(&[&input]);
            prop_assert_eq!(data, expected_data(&input));
            prop_assert_eq!(replies.len() % 3, 0);
            for reply in replies.chunks(3) {
                prop_assert_eq!(reply[0], IAC);
                prop_assert!(reply[1] == WONT || reply[1] == DONT, "{:?}", reply);
            }
        }
    }
}
