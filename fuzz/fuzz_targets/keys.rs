//! The key parser (`tty/keys.rs`) on any terminal bytes: no panic, a typed character is
//! never an ASCII control but tab, and a cursor report is 1-based.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnc::tty::keys::{Key, KeyParser};

fuzz_target!(|data: &[u8]| {
    let mut parser = KeyParser::default();
    for &b in data {
        match parser.next_key(b) {
            Some(Key::Char(c)) => assert!(c == '\t' || !c.is_ascii_control(), "{c:?}"),
            Some(Key::CursorReport(row, col)) => assert!(row >= 1 && col >= 1, "{row};{col}"),
            _ => {}
        }
        assert!(!(parser.is_after_escape() && parser.is_in_sequence()));
    }
});
