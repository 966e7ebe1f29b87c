//! Safe display of untrusted text: turns bytes from the peer (and names such as addresses
//! and paths) into text that a terminal in raw mode shows but never obeys.
//!
//! Printable UTF-8 passes; tab and newlines behave as text (`\n` and `\r\n` become
//! `\r\n`, because raw mode turns off the terminal's own LF → CRLF); every other C0
//! control, DEL and ESC become caret notation (`^[`, `^M`, `^?`); C1 controls and invalid
//! UTF-8 become `\x9b`-style text; bidi overrides and isolates become `<U+202E>`, so a
//! peer cannot reorder what is shown after them. The output never contains a byte that
//! starts an escape sequence. This file only transforms bytes: no I/O, no terminal state.

use std::fmt::Write as _;

/// Converts a stream of peer bytes into display-safe UTF-8, chunk by chunk.
///
/// Feeding the input in any split gives the same output as feeding it whole, because an
/// incomplete UTF-8 sequence and a trailing CR are held until the next chunk decides them.
#[derive(Debug, Default)]
pub struct DisplaySanitizer {
    /// The start of a UTF-8 sequence that the previous chunk cut off (at most 3 bytes).
    held: Vec<u8>,
    /// The previous chunk ended with `\r`: a newline if the next byte is `\n`, else `^M`.
    held_cr: bool,
}

impl DisplaySanitizer {
    /// Append the display-safe form of `input` to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.held.is_empty() {
            self.feed_bytes(input, out);
        } else {
            // Rare: a character was cut by the chunk boundary; decode it joined to the rest.
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(input);
            self.feed_bytes(&joined, out);
        }
    }

    /// Append what is still held (a lone CR, a cut UTF-8 sequence) at end of stream.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        self.resolve_cr(out);
        for &b in &self.held {
            push_byte_escape(b, out);
        }
        self.held.clear();
    }

    /// Decode `input` (which starts at a character boundary) and escape it.
    fn feed_bytes(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        loop {
            match std::str::from_utf8(input) {
                Ok(text) => {
                    self.push_text(text, out);
                    return;
                }
                Err(e) => {
                    let (valid, rest) = input.split_at(e.valid_up_to());
                    let valid = std::str::from_utf8(valid).expect("valid_up_to is a boundary");
                    self.push_text(valid, out);
                    match e.error_len() {
                        Some(len) => {
                            self.resolve_cr(out);
                            for &b in &rest[..len] {
                                push_byte_escape(b, out);
                            }
                            input = &rest[len..];
                        }
                        None => {
                            // A valid prefix of a character: wait for the rest.
                            self.resolve_cr(out);
                            self.held.extend_from_slice(rest);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Escape valid text, copying runs that need no change in one go.
    fn push_text(&mut self, text: &str, out: &mut Vec<u8>) {
        let mut run_start = 0;
        for (i, c) in text.char_indices() {
            if self.held_cr {
                self.held_cr = false;
                if c == '\n' {
                    out.extend_from_slice(b"\r\n");
                    run_start = i + 1;
                    continue;
                }
                out.extend_from_slice(b"^M");
            }
            if !needs_escape(c) || c == '\t' {
                continue;
            }
            out.extend_from_slice(&text.as_bytes()[run_start..i]);
            run_start = i + c.len_utf8();
            match c {
                '\r' => self.held_cr = true,
                '\n' => out.extend_from_slice(b"\r\n"),
                _ => {
                    let mut escaped = String::new();
                    push_char_escape(c, &mut escaped);
                    out.extend_from_slice(escaped.as_bytes());
                }
            }
        }
        out.extend_from_slice(&text.as_bytes()[run_start..]);
    }

    /// A held CR followed by anything but LF is shown as `^M`.
    fn resolve_cr(&mut self, out: &mut Vec<u8>) {
        if self.held_cr {
            self.held_cr = false;
            out.extend_from_slice(b"^M");
        }
    }
}

/// Whether `c` must not reach a terminal as itself: C0 controls (tab and newlines
/// included; the stream sanitizer lets those through itself), DEL, C1 controls, and the
/// bidi embeddings, overrides and isolates.
pub fn needs_escape(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Why `out` would not be safe to show, if it would not: not UTF-8, or a character that
/// must be escaped (tab and CRLF line ends are text). What the sanitiser's output always
/// passes; the property tests and the fuzz target check it.
pub fn display_unsafety(out: &[u8]) -> Option<String> {
    let text = match std::str::from_utf8(out) {
        Ok(text) => text,
        Err(e) => return Some(format!("not UTF-8 ({e})")),
    };
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let ok = match c {
            '\t' => true,
            '\r' => chars.get(i + 1) == Some(&'\n'),
            '\n' => i > 0 && chars[i - 1] == '\r',
            _ => !needs_escape(c),
        };
        if !ok {
            return Some(format!("{c:?} at {i} in {text:?}"));
        }
    }
    None
}

/// A name (address, path, note) as one safe line: every control character is escaped,
/// tab and newlines included, so the result never moves the cursor.
pub fn escape_for_display(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if needs_escape(c) {
            push_char_escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    out
}

/// The visible form of a character for which `needs_escape` is true.
fn push_char_escape(c: char, out: &mut String) {
    let code = u32::from(c);
    match code {
        0x00..=0x1f => {
            out.push('^');
            out.push(char::from_u32(code + 0x40).expect("0x40..=0x5f is ASCII"));
        }
        0x7f => out.push_str("^?"),
        0x80..=0x9f => {
            let _ = write!(out, "\\x{code:02x}");
        }
        _ => {
            let _ = write!(out, "<U+{code:04X}>");
        }
    }
}

/// The visible form of one byte that is not part of valid UTF-8.
fn push_byte_escape(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 15)],
    ]);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sanitize_chunks(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = DisplaySanitizer::default();
        let mut out = Vec::new();
        for chunk in chunks {
            s.feed(chunk, &mut out);
        }
        s.flush(&mut out);
        out
    }

    fn sanitize(input: &[u8]) -> String {
        String::from_utf8(sanitize_chunks(&[input])).expect("output is UTF-8")
    }

    /// Bytes biased towards the interesting ones: controls, newlines, ESC, UTF-8 lead and
    /// continuation bytes, C1 and bidi encodings, cut characters; and any byte at all.
    fn interesting_bytes() -> impl Strategy<Value = Vec<u8>> {
        const PIECES: &[&[u8]] = &[
            b"a",
            b"Z ",
            b"\r",
            b"\n",
            b"\r\n",
            b"\t",
            b"\x1b",
            b"\x1b[2J",
            b"\x7f",
            b"\x00",
            b"\x07",
            b"\xc2\x9b",
            b"\xc2\x85",
            b"\xe2\x80\xae",
            b"\xe2\x81\xa6",
            b"\xc3\xa9",
            b"\xe2\x82\xac",
            b"\xf0\x9f\x98\x80",
            b"\xff",
            b"\xc2",
            b"\xe2\x82",
            b"\xf0\x9f",
            b"\x9b",
            b"\xed\xa0\x80",
        ];
        let piece = prop_oneof![
            3 => prop::sample::select(PIECES).prop_map(<[u8]>::to_vec),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ];
        prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    fn assert_display_safe(out: &[u8], input: &[u8]) {
        if let Some(why) = display_unsafety(out) {
            panic!("unsafe output for input {input:?}: {why}");
        }
    }

    #[test]
    fn sanitize_passes_printable_text() {
        assert_eq!(sanitize(b"hello, world"), "hello, world");
        assert_eq!(sanitize("é€😀 ünïcödé".as_bytes()), "é€😀 ünïcödé");
        assert_eq!(sanitize(b"a\tb"), "a\tb");
        assert_eq!(sanitize(b""), "");
    }

    #[test]
    fn sanitize_translates_newlines() {
        assert_eq!(sanitize(b"a\nb\n"), "a\r\nb\r\n");
        assert_eq!(sanitize(b"a\r\nb\r\n"), "a\r\nb\r\n");
        assert_eq!(sanitize(b"a\rb"), "a^Mb");
        assert_eq!(sanitize(b"a\r"), "a^M");
        assert_eq!(sanitize(b"\r\r\n"), "^M\r\n");
        assert_eq!(sanitize(b"\n\r"), "\r\n^M");
        assert_eq!(sanitize(b"\r\xff"), "^M\\xff");
    }

    #[test]
    fn sanitize_crlf_split_across_chunks() {
        assert_eq!(sanitize_chunks(&[b"a\r", b"\nb"]), b"a\r\nb");
        assert_eq!(sanitize_chunks(&[b"a\r", b"", b"\n"]), b"a\r\n");
        assert_eq!(sanitize_chunks(&[b"a\r", b"b"]), b"a^Mb");
        let mut s = DisplaySanitizer::default();
        let mut out = Vec::new();
        s.feed(b"login:\r", &mut out);
        assert_eq!(out, b"login:", "a trailing CR waits for the next chunk");
    }

    #[test]
    fn sanitize_escapes_controls_in_caret_notation() {
        assert_eq!(sanitize(b"\x1b[2J\x1b]0;pwned\x07"), "^[[2J^[]0;pwned^G");
        assert_eq!(sanitize(b"\x00\x01\x08\x0b\x0c\x1f"), "^@^A^H^K^L^_");
        assert_eq!(sanitize(b"\x7f"), "^?");
    }

    #[test]
    fn sanitize_escapes_c1_and_invalid_utf8() {
        assert_eq!(sanitize(b"\xc2\x9b31m"), "\\x9b31m");
        assert_eq!(sanitize(b"\xc2\x80\xc2\x9f\xc2\xa0"), "\\x80\\x9f\u{a0}");
        assert_eq!(sanitize(b"\xff\xfe"), "\\xff\\xfe");
        assert_eq!(sanitize(b"\x9b"), "\\x9b");
        assert_eq!(sanitize(b"a\xe2\x82b"), "a\\xe2\\x82b");
        assert_eq!(
            sanitize(b"\xed\xa0\x80"),
            "\\xed\\xa0\\x80",
            "surrogates are invalid"
        );
    }

    #[test]
    fn sanitize_escapes_bidi_controls() {
        assert_eq!(sanitize("a\u{202e}b".as_bytes()), "a<U+202E>b");
        assert_eq!(
            sanitize("\u{202a}\u{202d}\u{2066}\u{2069}".as_bytes()),
            "<U+202A><U+202D><U+2066><U+2069>"
        );
        assert_eq!(sanitize("\u{2065}\u{202f}".as_bytes()), "\u{2065}\u{202f}");
    }

    #[test]
    fn sanitize_holds_cut_utf8_until_next_chunk() {
        let euro = "€".as_bytes();
        let mut s = DisplaySanitizer::default();
        let mut out = Vec::new();
        s.feed(&euro[..1], &mut out);
        assert!(out.is_empty());
        s.feed(&euro[1..2], &mut out);
        assert!(out.is_empty());
        s.feed(&euro[2..], &mut out);
        assert_eq!(out, euro);
    }

    #[test]
    fn sanitize_flush_escapes_held_bytes() {
        let mut s = DisplaySanitizer::default();
        let mut out = Vec::new();
        s.feed(b"x\xe2\x82", &mut out);
        assert_eq!(out, b"x");
        s.flush(&mut out);
        assert_eq!(out, b"x\\xe2\\x82");
        s.flush(&mut out);
        assert_eq!(out, b"x\\xe2\\x82", "flush twice emits nothing more");
        s.feed(b"\xa0", &mut out);
        assert_eq!(out, b"x\\xe2\\x82\\xa0", "held bytes are gone after flush");
    }

    #[test]
    fn sanitize_cut_sequence_then_invalid_byte() {
        assert_eq!(sanitize_chunks(&[b"\xe2", b"x"]), b"\\xe2x");
        assert_eq!(sanitize_chunks(&[b"\xf0\x9f", b"\x98"]), b"\\xf0\\x9f\\x98");
        assert_eq!(sanitize_chunks(&[b"\r\xe2", b"\x82\xac"]), "^M€".as_bytes());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// Whatever the peer sends, the output is UTF-8 without ESC, DEL, C0 (but tab and
        /// CR LF), C1 or bidi controls.
        #[test]
        fn sanitize_property_output_is_display_safe(input in interesting_bytes()) {
            let out = sanitize_chunks(&[&input]);
            assert_display_safe(&out, &input);
            prop_assert!(!out.contains(&0x1b) && !out.contains(&0x7f));
        }

        /// The same for uniformly random bytes.
        #[test]
        fn sanitize_property_random_bytes_are_safe(input in prop::collection::vec(any::<u8>(), 0..40)) {
            assert_display_safe(&sanitize_chunks(&[&input]), &input);
        }

        /// Cutting the input into three reads anywhere, or byte by byte with empty reads in
        /// between, gives the output of feeding it whole.
        #[test]
        fn sanitize_property_any_split_equals_whole(
            input in interesting_bytes(),
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
        ) {
            let whole = sanitize_chunks(&[&input]);
            let (x, y) = (a.index(input.len() + 1), b.index(input.len() + 1));
            let (first, second) = (x.min(y), x.max(y));
            let parts = [&input[..first], &input[first..second], &input[second..]];
            prop_assert_eq!(sanitize_chunks(&parts), whole.clone());
            let singles: Vec<&[u8]> = input.chunks(1).flat_map(|c| [c, &[][..]]).collect();
            prop_assert_eq!(sanitize_chunks(&singles), whole);
        }

        /// Printable text with no control character passes unchanged.
        #[test]
        fn sanitize_property_plain_text_passes(text in "[^\\p{Cc}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}]{0,30}") {
            prop_assert_eq!(sanitize(text.as_bytes()), text);
        }
    }

    #[test]
    fn sanitize_escape_for_display_makes_one_safe_line() {
        assert_eq!(escape_for_display("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(escape_for_display("/tmp/a\nb\tc\r"), "/tmp/a^Jb^Ic^M");
        assert_eq!(
            escape_for_display("x\u{1b}[31m\u{9b}\u{202e}"),
            "x^[[31m\\x9b<U+202E>"
        );
        assert_eq!(escape_for_display("日本"), "日本");
    }
}
