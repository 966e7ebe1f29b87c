//! The display sanitiser (`tty/sanitize.rs`) on any bytes: the output is UTF-8 with no
//! byte that starts an escape sequence or moves the cursor (no ESC, C0 but tab and CR LF,
//! DEL, C1, bidi controls), and cutting the input anywhere changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnc::tty::sanitize::{DisplaySanitizer, display_unsafety, escape_for_display, needs_escape};

fn sanitize(chunks: &[&[u8]]) -> Vec<u8> {
    let mut s = DisplaySanitizer::default();
    let mut out = Vec::new();
    for chunk in chunks {
        s.feed(chunk, &mut out);
    }
    s.flush(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks where to cut the rest.
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let whole = sanitize(&[input]);
    if let Some(why) = display_unsafety(&whole) {
        panic!("unsafe output: {why}");
    }
    let at = usize::from(cut) % (input.len() + 1);
    let (a, b) = input.split_at(at);
    assert_eq!(sanitize(&[a, b]), whole, "cut at {at}");
    if let Ok(name) = std::str::from_utf8(input) {
        assert!(!escape_for_display(name).chars().any(needs_escape));
    }
});
