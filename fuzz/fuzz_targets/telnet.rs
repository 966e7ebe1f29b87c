//! The telnet parser (`relay/telnet/parser.rs`) on any bytes: it keeps at most what it was
//! given, every reply is a refusal (`IAC WONT x`, `IAC DONT x`), and cutting the input
//! anywhere gives the same data and replies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnc::relay::telnet::parser::{DONT, IAC, TelnetParser, WONT};

fn run(chunks: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
    let mut parser = TelnetParser::default();
    let mut data = Vec::new();
    for chunk in chunks {
        let mut bytes = chunk.to_vec();
        let kept = parser.filter(&mut bytes);
        assert!(kept <= bytes.len());
        data.extend_from_slice(&bytes[..kept]);
    }
    (data, parser.replies().to_vec())
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let whole = run(&[input]);
    assert_eq!(whole.1.len() % 3, 0);
    for reply in whole.1.chunks(3) {
        assert!(
            reply[0] == IAC && (reply[1] == WONT || reply[1] == DONT),
            "{reply:?}"
        );
    }
    let at = usize::from(cut) % (input.len() + 1);
    assert_eq!(run(&[&input[..at], &input[at..]]), whole, "cut at {at}");
});
