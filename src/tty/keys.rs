//! `KeyParser`: the bytes a terminal in raw mode sends, turned into `Key`s. It owns the
//! decoding only: control bytes, UTF-8, CSI and SS3 escape sequences (with xterm's
//! modifiers), the bracketed paste markers, the cursor position report, and terminal
//! strings (OSC, DCS…), which are swallowed. A read may end anywhere, inside an escape
//! sequence, a UTF-8 character or between the CR and LF of one Enter, so the parser keeps
//! its state from one byte to the next and the keys never depend on how reads split the
//! bytes. It knows nothing about the line: what a key does is `editor.rs`'s business.
//! Unknown escape sequences and invalid UTF-8 give no key.
//! There is no escape timeout: ESC followed by a printable key is read as Alt+key (Alt-B,
//! Alt-F and Alt-D give keys, other ones are swallowed), ESC followed by DEL or ^H is
//! Alt-Backspace, and ESC followed by another control key (Enter, Ctrl-C…) lets that key
//! through, so a lone ESC gives no key.

/// Parameter bytes kept for one CSI sequence; longer ones are still swallowed whole.
const CSI_PARAMS_MAX_BYTES: usize = 16;

/// One decoded key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character typed (tab included; other control characters are keys of their own
    /// or none).
    Char(char),
    /// CR or LF (CR LF counts once).
    Enter,
    /// DEL or ^H.
    Backspace,
    /// The Delete key.
    Delete,
    /// The Left arrow, Ctrl-B.
    Left,
    /// The Right arrow, Ctrl-F.
    Right,
    /// The Home key, Ctrl-A.
    Home,
    /// The End key, Ctrl-E.
    End,
    /// The Up arrow, Ctrl-P.
    Up,
    /// The Down arrow, Ctrl-N.
    Down,
    /// Alt-B, Ctrl-Left: to the start of the word before the cursor.
    WordLeft,
    /// Alt-F, Ctrl-Right: to the end of the word after the cursor.
    WordRight,
    /// Alt-Backspace: delete the word before the cursor.
    KillWordLeft,
    /// Alt-D: delete the word after the cursor.
    KillWordRight,
    /// Ctrl-C.
    CtrlC,
    /// Ctrl-D.
    CtrlD,
    /// Ctrl-G.
    CtrlG,
    /// Ctrl-K.
    CtrlK,
    /// Ctrl-L.
    CtrlL,
    /// Ctrl-R.
    CtrlR,
    /// Ctrl-U.
    CtrlU,
    /// Ctrl-W.
    CtrlW,
    /// Ctrl-Y.
    CtrlY,
    /// Ctrl-Z.
    CtrlZ,
    /// The start of a bracketed paste (`ESC[200~`).
    PasteStart,
    /// The end of a bracketed paste (`ESC[201~`).
    PasteEnd,
    /// The terminal's answer to a cursor position query (`ESC[row;colR`), 1-based.
    CursorReport(u16, u16),
}

/// Where the key parser is between bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum ParseState {
    /// Plain keys.
    #[default]
    Ground,
    /// After ESC.
    Escape,
    /// After `ESC [`: collecting parameter and intermediate bytes.
    Csi {
        /// Parameter bytes seen so far (truncated at `CSI_PARAMS_MAX_BYTES`).
        params: Vec<u8>,
    },
    /// After `ESC O` (application cursor keys).
    Ss3,
    /// Inside a terminal string (OSC `ESC ]`, DCS `ESC P`, APC, PM, SOS), such as a
    /// terminal's answer to a query: swallowed up to BEL or `ESC \`. `true` right after
    /// an ESC inside it.
    TermString(bool),
}

/// Turns terminal bytes into keys one byte at a time, keeping what a read cut off for
/// the next one.
#[derive(Debug, Default)]
pub struct KeyParser {
    /// Where the parser is between bytes.
    state: ParseState,
    /// The start of a UTF-8 character cut by the end of the previous read.
    utf8: Vec<u8>,
    /// The previous byte was CR, so an LF right after it is the same Enter.
    last_was_cr: bool,
}

impl KeyParser {
    /// Take one byte; a key comes out when the byte completes one.
    pub fn next_key(&mut self, b: u8) -> Option<Key> {
        let was_cr = std::mem::replace(&mut self.last_was_cr, false);
        self.parse_byte(b, was_cr)
    }

    /// Whether the last byte was an ESC that may start an escape sequence or an Alt key:
    /// the next byte decides.
    pub fn is_after_escape(&self) -> bool {
        self.state == ParseState::Escape
    }

    /// Whether the parser is inside an escape sequence or a terminal string, so the bytes
    /// so far are a key (or an answer) still coming, not a lone ESC.
    pub fn is_in_sequence(&self) -> bool {
        matches!(
            self.state,
            ParseState::Csi { .. } | ParseState::Ss3 | ParseState::TermString(_)
        )
    }

    /// Advance the parser by one byte; a complete key comes out.
    fn parse_byte(&mut self, b: u8, was_cr: bool) -> Option<Key> {
        match std::mem::take(&mut self.state) {
            ParseState::Ground => self.parse_ground(b, was_cr),
            ParseState::Escape => match b {
                b'[' => {
                    self.state = ParseState::Csi { params: Vec::new() };
                    None
                }
                b'O' => {
                    self.state = ParseState::Ss3;
                    None
                }
                b']' | b'P' | b'_' | b'^' | b'X' => {
                    self.state = ParseState::TermString(false);
                    None
                }
                0x1b => {
                    self.state = ParseState::Escape;
                    None
                }
                // Alt+key, as readline binds them (either case).
                b'b' | b'B' => Some(Key::WordLeft),
                b'f' | b'F' => Some(Key::WordRight),
                b'd' | b'D' => Some(Key::KillWordRight),
                0x7f | 0x08 => Some(Key::KillWordLeft),
                // Any other Alt+key: swallowed.
                0x20..=0x7e => None,
                // ESC then a control or non-ASCII byte: a lone ESC, then that key.
                _ => self.parse_ground(b, was_cr),
            },
            ParseState::Csi { mut params } => match b {
                0x20..=0x3f => {
                    if params.len() < CSI_PARAMS_MAX_BYTES {
                        params.push(b);
                    }
                    self.state = ParseState::Csi { params };
                    None
                }
                0x40..=0x7e => csi_key(&params, b),
                0x1b => {
                    self.state = ParseState::Escape;
                    None
                }
                // A broken sequence: drop it and treat the byte as a key.
                _ => self.parse_ground(b, was_cr),
            },
            ParseState::TermString(after_esc) => {
                self.state = match (b, after_esc) {
                    (0x07, _) | (b'\\', true) => ParseState::Ground,
                    (0x1b, _) => ParseState::TermString(true),
                    _ => ParseState::TermString(false),
                };
                None
            }
            ParseState::Ss3 => match b {
                // rxvt's Ctrl-Right and Ctrl-Left.
                b'c' => Some(Key::WordRight),
                b'd' => Some(Key::WordLeft),
                0x40..=0x7e => csi_key(&[], b),
                0x1b => {
                    self.state = ParseState::Escape;
                    None
                }
                _ => self.parse_ground(b, was_cr),
            },
        }
    }

    /// A byte outside any escape sequence.
    fn parse_ground(&mut self, b: u8, was_cr: bool) -> Option<Key> {
        if b >= 0x80 || !self.utf8.is_empty() {
            return self.parse_utf8(b, was_cr);
        }
        match b {
            0x1b => {
                self.state = ParseState::Escape;
                None
            }
            b'\r' => {
                self.last_was_cr = true;
                Some(Key::Enter)
            }
            b'\n' if was_cr => None,
            b'\n' => Some(Key::Enter),
            b'\t' => Some(Key::Char('\t')),
            0x01 => Some(Key::Home),
            0x02 => Some(Key::Left),
            0x03 => Some(Key::CtrlC),
            0x04 => Some(Key::CtrlD),
            0x05 => Some(Key::End),
            0x06 => Some(Key::Right),
            0x07 => Some(Key::CtrlG),
            0x08 | 0x7f => Some(Key::Backspace),
            0x0b => Some(Key::CtrlK),
            0x0c => Some(Key::CtrlL),
            0x0e => Some(Key::Down),
            0x10 => Some(Key::Up),
            0x12 => Some(Key::CtrlR),
            0x15 => Some(Key::CtrlU),
            0x17 => Some(Key::CtrlW),
            0x19 => Some(Key::CtrlY),
            0x1a => Some(Key::CtrlZ),
            0x00..=0x1f => None,
            _ => Some(Key::Char(char::from(b))),
        }
    }

    /// Collect a multi-byte UTF-8 character; invalid bytes are dropped.
    fn parse_utf8(&mut self, b: u8, was_cr: bool) -> Option<Key> {
        if !self.utf8.is_empty() && !(0x80..=0xbf).contains(&b) {
            // The cut character never completed: drop it and read `b` afresh.
            self.utf8.clear();
            return self.parse_ground(b, was_cr);
        }
        self.utf8.push(b);
        match std::str::from_utf8(&self.utf8) {
            Ok(s) => {
                let c = s.chars().next().expect("one complete character");
                self.utf8.clear();
                Some(Key::Char(c))
            }
            Err(e) if e.error_len().is_none() => None,
            Err(_) => {
                self.utf8.clear();
                None
            }
        }
    }
}

/// The key for a CSI (or SS3, with no parameters) sequence ending in `final_byte`.
/// Unknown sequences give no key. Modifiers (`ESC[1;5C`) are ignored, except that Ctrl or
/// Alt with Left or Right moves by word.
fn csi_key(params: &[u8], final_byte: u8) -> Option<Key> {
    let mut fields = params.split(|&b| b == b';');
    let first = fields.next().unwrap_or(&[]);
    let second = fields.next();
    // xterm's modifier parameter is 1 + (1 for Shift, 2 for Alt, 4 for Ctrl).
    let by_word = second
        .and_then(decimal::<u8>)
        .is_some_and(|m| m.saturating_sub(1) & 0b110 != 0);
    match final_byte {
        b'A' => Some(Key::Up),
        b'B' => Some(Key::Down),
        b'C' if by_word => Some(Key::WordRight),
        b'D' if by_word => Some(Key::WordLeft),
        b'C' => Some(Key::Right),
        b'D' => Some(Key::Left),
        b'H' => Some(Key::Home),
        b'F' => Some(Key::End),
        // Rows and columns count from 1; a report of row or column 0 is no answer rnc asked
        // for (found by the `keys` fuzz target), so it is swallowed like any unknown one.
        b'R' => match (decimal(first)?, decimal(second?)?) {
            (row @ 1.., col @ 1..) => Some(Key::CursorReport(row, col)),
            _ => None,
        },
        b'~' => match first {
            b"1" | b"7" => Some(Key::Home),
            b"4" | b"8" => Some(Key::End),
            b"3" => Some(Key::Delete),
            b"200" => Some(Key::PasteStart),
            b"201" => Some(Key::PasteEnd),
            _ => None,
        },
        _ => None,
    }
}

/// A CSI parameter as a number, if it is one that fits in `T`.
fn decimal<T: std::str::FromStr>(field: &[u8]) -> Option<T> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The keys a fresh parser gives for `input`.
    fn keys(input: &[u8]) -> Vec<Key> {
        let mut parser = KeyParser::default();
        keys_from(&mut parser, input)
    }

    /// The keys `parser` gives for `input`, after what it was fed before.
    fn keys_from(parser: &mut KeyParser, input: &[u8]) -> Vec<Key> {
        input.iter().filter_map(|&b| parser.next_key(b)).collect()
    }

    /// The keys for typing `text`.
    fn chars(text: &str) -> Vec<Key> {
        text.chars().map(Key::Char).collect()
    }

    #[test]
    fn keys_crlf_counts_once_even_split() {
        let mut parser = KeyParser::default();
        assert_eq!(
            keys_from(&mut parser, b"a\r\nb\r\n"),
            [Key::Char('a'), Key::Enter, Key::Char('b'), Key::Enter]
        );
        assert_eq!(keys_from(&mut parser, b"c\r"), [Key::Char('c'), Key::Enter]);
        assert_eq!(keys_from(&mut parser, b"\n"), []);
        assert_eq!(
            keys_from(&mut parser, b"\n"),
            [Key::Enter],
            "a second LF is a new Enter"
        );
        assert_eq!(keys_from(&mut parser, b"\r\r"), [Key::Enter, Key::Enter]);
    }

    #[test]
    fn keys_escape_sequences_split_byte_by_byte() {
        let input = "ab\x1b[D\x1b[3~\x1bOH€\x1b[1;5C\x1b[99~z\x1b[Fq".as_bytes();
        let mut parser = KeyParser::default();
        let byte_by_byte: Vec<Key> = input
            .iter()
            .flat_map(|b| keys_from(&mut parser, std::slice::from_ref(b)))
            .collect();
        let expected = [
            Key::Char('a'),
            Key::Char('b'),
            Key::Left,
            Key::Delete,
            Key::Home,
            Key::Char('€'),
            Key::WordRight,
            Key::Char('z'),
            Key::End,
            Key::Char('q'),
        ];
        assert_eq!(keys(input), expected);
        assert_eq!(byte_by_byte, expected);
    }

    #[test]
    fn keys_swallows_unknown_sequences() {
        assert_eq!(
            keys(b"a\x1b[99~\x1b[?1;2c\x1b[12;40R\x1b[Z\x1bOP\x1b[15;2~b"),
            [Key::Char('a'), Key::CursorReport(12, 40), Key::Char('b')]
        );
        assert_eq!(
            keys(b"\x1b[1234567890123456789012345678901234567890mc"),
            chars("c"),
            "an over-long sequence is swallowed whole"
        );
        assert_eq!(
            keys(b"\x1bxy\x1b\x1b[Cz"),
            [Key::Char('y'), Key::Right, Key::Char('z')],
            "alt+x is swallowed"
        );
    }

    #[test]
    fn keys_cursor_report_of_row_or_column_zero_is_swallowed() {
        // The `keys` fuzz target's first find, cut down: `ESC[0;2R` gave row 0.
        assert_eq!(keys(b"\x1b[0;2Ra"), chars("a"));
        assert_eq!(keys(b"\x1b[3;0Rb\x1b[00;7Rc"), chars("bc"));
        assert_eq!(keys(b"\x1b[1;1R"), [Key::CursorReport(1, 1)]);
    }

    #[test]
    fn keys_swallows_terminal_strings_such_as_query_answers() {
        let mut parser = KeyParser::default();
        // An OSC 52 clipboard answer ended by BEL, a DCS ended by ST, split across reads.
        let mut got = keys_from(&mut parser, b"a\x1b]52;c;c2VjcmV0\x07b\x1bP1$r0");
        got.extend(keys_from(&mut parser, b"m\x1b\\c"));
        assert_eq!(got, chars("abc"));
    }

    #[test]
    fn keys_invalid_utf8_is_dropped_and_a_lone_escape_lets_a_control_key_through() {
        assert_eq!(keys(b"\xff\xc3x\xc3\xa9"), chars("x\u{e9}"));
        assert_eq!(
            keys(b"\x1b\r\x1b\x03\x1b"),
            [Key::Enter, Key::CtrlC],
            "esc then a control key is that key; a trailing esc waits"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// Text without control characters is typed as exactly its characters, however
        /// the reads cut it (the parser takes one byte at a time, keeping what is cut).
        #[test]
        fn keys_property_plain_text_is_its_characters(text in "[^\\p{Cc}]{0,30}") {
            let want: Vec<Key> = text.chars().map(Key::Char).collect();
            prop_assert_eq!(keys(text.as_bytes()), want);
        }

        /// Whatever the terminal sends, a typed character is never an ASCII control but
        /// tab, and a cursor report counts from 1.
        #[test]
        fn keys_property_no_control_characters_typed(
            input in prop::collection::vec(
                prop_oneof![any::<u8>(), prop::sample::select(&b"\x1b[O;0123456789R~]\\\x07P"[..])],
                0..60,
            ),
        ) {
            for key in keys(&input) {
                match key {
                    Key::Char(c) => prop_assert!(c == '\t' || !c.is_ascii_control(), "{:?}", c),
                    Key::CursorReport(row, col) => prop_assert!(row >= 1 && col >= 1),
                    _ => {}
                }
            }
        }
    }
}
