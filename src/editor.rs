//! `LineEditor`: rnc's own line editor for interactive mode, fed the raw bytes that a
//! terminal in raw mode sends for keys, and answering with `EditAction`s.
//!
//! It owns the line being typed, the cursor, the history of sent lines and the key
//! parser (escape sequences and UTF-8 may be split across reads, so the parser keeps its
//! state). It does no I/O and knows nothing of `-C`: a sent line ends in `\n` and the
//! caller translates. Unknown escape sequences are swallowed, never inserted, and no
//! control character ever enters the line except tab, so `render` output is safe to draw.
//! There is no escape timeout: ESC followed by a printable key is read as Alt+key and
//! swallowed, and ESC followed by a control key (Enter, Ctrl-C…) lets that key through.
//! `render` works in display columns (`width.rs`): a wide character takes two, so the
//! cursor lands on the character it is at and the row never overflows the screen.

use std::cell::Cell;

use crate::sanitize::needs_escape;
use crate::width::{char_cols, str_cols};

/// The prompt drawn at the start of the input row.
pub(crate) const PROMPT: &str = "> ";

/// Parameter bytes kept for one CSI sequence; longer ones are still swallowed whole.
const CSI_PARAMS_MAX_BYTES: usize = 16;

/// What the caller must do after a `feed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EditAction {
    /// Send this line to the peer: the text plus `\n` (the caller applies `-C`).
    Send(Vec<u8>),
    /// Ctrl-D on an empty line: end our side, as stdin EOF does.
    Eof,
    /// Ctrl-C: quit.
    Interrupt,
    /// Ctrl-L: redraw the whole screen.
    Redraw,
    /// Ctrl-Z: stop rnc (job control), as the terminal would without raw mode.
    Suspend,
    /// The visible line or its cursor changed: redraw the input row.
    Changed,
    /// The terminal reported its cursor position (row, column; 1-based), answering the
    /// query the UI sends after a resize.
    CursorReport(u16, u16),
}

/// Where the key parser is between bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ParseState {
    /// Plain keys.
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

/// One decoded key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Char(char),
    Enter,
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    CtrlC,
    CtrlD,
    CtrlK,
    CtrlL,
    CtrlU,
    CtrlW,
    CtrlY,
    CtrlZ,
    PasteStart,
    PasteEnd,
    /// The terminal's answer to a cursor position query (`ESC[row;colR`), 1-based.
    CursorReport(u16, u16),
}

/// The line being typed, its history and the key parser.
#[derive(Debug)]
pub(crate) struct LineEditor {
    /// The line being edited.
    line: Vec<char>,
    /// Cursor position in `line`, in chars (0..=line.len()).
    cursor: usize,
    /// Lines sent so far, oldest first, without consecutive duplicates.
    history: Vec<String>,
    /// The history entry shown while browsing with Up/Down; `None` when editing the draft.
    history_pos: Option<usize>,
    /// The line that was being edited when browsing started; Down past the newest
    /// entry brings it back.
    draft: Vec<char>,
    /// The text removed by the last Ctrl-K/U/W, for Ctrl-Y.
    killed: Vec<char>,
    /// Key parser state.
    parse: ParseState,
    /// The start of a UTF-8 character cut by the end of the previous read.
    utf8: Vec<u8>,
    /// The previous byte was CR, so an LF right after it is the same Enter.
    last_was_cr: bool,
    /// Inside a bracketed paste: newlines split lines, control keys are data.
    in_paste: bool,
    /// First visible char of the line in the last render (horizontal scrolling).
    scroll: Cell<usize>,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    /// An empty editor with no history.
    pub(crate) fn new() -> Self {
        Self {
            line: Vec::new(),
            cursor: 0,
            history: Vec::new(),
            history_pos: None,
            draft: Vec::new(),
            killed: Vec::new(),
            parse: ParseState::Ground,
            utf8: Vec::new(),
            last_was_cr: false,
            in_paste: false,
            scroll: Cell::new(0),
        }
    }

    /// The line as typed so far.
    #[cfg(test)]
    pub(crate) fn line(&self) -> String {
        self.line.iter().collect()
    }

    /// The cursor position in chars.
    #[cfg(test)]
    pub(crate) fn cursor(&self) -> usize {
        self.cursor
    }

    /// Process bytes read from the terminal and say what to do, in order.
    /// `Changed` never appears twice in a row.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<EditAction> {
        let mut actions = Vec::new();
        for &b in bytes {
            let was_cr = std::mem::replace(&mut self.last_was_cr, false);
            if let Some(key) = self.parse_byte(b, was_cr) {
                self.apply(key, &mut actions);
            }
        }
        actions
    }

    /// Advance the parser by one byte; a complete key comes out.
    fn parse_byte(&mut self, b: u8, was_cr: bool) -> Option<Key> {
        match std::mem::replace(&mut self.parse, ParseState::Ground) {
            ParseState::Ground => self.parse_ground(b, was_cr),
            ParseState::Escape => match b {
                b'[' => {
                    self.parse = ParseState::Csi { params: Vec::new() };
                    None
                }
                b'O' => {
                    self.parse = ParseState::Ss3;
                    None
                }
                b']' | b'P' | b'_' | b'^' | b'X' => {
                    self.parse = ParseState::TermString(false);
                    None
                }
                0x1b => {
                    self.parse = ParseState::Escape;
                    None
                }
                // Alt+key: swallowed.
                0x20..=0x7e => None,
                // ESC then a control or non-ASCII byte: a lone ESC, then that key.
                _ => self.parse_ground(b, was_cr),
            },
            ParseState::Csi { mut params } => match b {
                0x20..=0x3f => {
                    if params.len() < CSI_PARAMS_MAX_BYTES {
                        params.push(b);
                    }
                    self.parse = ParseState::Csi { params };
                    None
                }
                0x40..=0x7e => csi_key(&params, b),
                0x1b => {
                    self.parse = ParseState::Escape;
                    None
                }
                // A broken sequence: drop it and treat the byte as a key.
                _ => self.parse_ground(b, was_cr),
            },
            ParseState::TermString(after_esc) => {
                self.parse = match (b, after_esc) {
                    (0x07, _) | (b'\\', true) => ParseState::Ground,
                    (0x1b, _) => ParseState::TermString(true),
                    _ => ParseState::TermString(false),
                };
                None
            }
            ParseState::Ss3 => match b {
                0x40..=0x7e => csi_key(&[], b),
                0x1b => {
                    self.parse = ParseState::Escape;
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
                self.parse = ParseState::Escape;
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
            0x08 | 0x7f => Some(Key::Backspace),
            0x0b => Some(Key::CtrlK),
            0x0c => Some(Key::CtrlL),
            0x0e => Some(Key::Down),
            0x10 => Some(Key::Up),
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

    /// Carry out one key.
    fn apply(&mut self, key: Key, actions: &mut Vec<EditAction>) {
        if let Key::CursorReport(row, col) = key {
            actions.push(EditAction::CursorReport(row, col));
            return;
        }
        if self.in_paste {
            match key {
                Key::PasteEnd => self.in_paste = false,
                Key::Char(c) => self.insert(c, actions),
                Key::Enter => {
                    // The paste goes in at the cursor: a newline ends the line there.
                    let rest = self.line.split_off(self.cursor);
                    self.send_line(actions);
                    self.line = rest;
                    self.cursor = 0;
                }
                // In a paste, control keys and escape sequences are data we do not keep.
                _ => {}
            }
            return;
        }
        let before = (self.line.len(), self.cursor);
        let mut edited = false;
        let mut browsed = false;
        match key {
            Key::Char(c) => {
                self.insert(c, actions);
                return;
            }
            Key::Enter => {
                self.send_line(actions);
                return;
            }
            Key::PasteStart => {
                self.in_paste = true;
                return;
            }
            Key::PasteEnd | Key::CursorReport(..) => return,
            Key::CtrlC => {
                actions.push(EditAction::Interrupt);
                return;
            }
            Key::CtrlL => {
                actions.push(EditAction::Redraw);
                return;
            }
            Key::CtrlZ => {
                actions.push(EditAction::Suspend);
                return;
            }
            Key::CtrlD if self.line.is_empty() => {
                actions.push(EditAction::Eof);
                return;
            }
            Key::CtrlD | Key::Delete => {
                if self.cursor < self.line.len() {
                    self.line.remove(self.cursor);
                    edited = true;
                }
            }
            Key::Backspace => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.line.remove(self.cursor);
                    edited = true;
                }
            }
            Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Right => self.cursor = (self.cursor + 1).min(self.line.len()),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.line.len(),
            Key::Up => browsed = self.history_up(),
            Key::Down => browsed = self.history_down(),
            Key::CtrlK => {
                let killed = self.line.split_off(self.cursor);
                edited = self.kill(killed);
            }
            Key::CtrlU => {
                let killed = self.line.drain(..self.cursor).collect();
                self.cursor = 0;
                edited = self.kill(killed);
            }
            Key::CtrlW => {
                let start = word_start(&self.line, self.cursor);
                let killed = self.line.drain(start..self.cursor).collect();
                self.cursor = start;
                edited = self.kill(killed);
            }
            Key::CtrlY => {
                let yanked = self.killed.clone();
                for c in yanked {
                    self.insert(c, actions);
                }
                return;
            }
        }
        if edited {
            // An edited history entry becomes the draft, so Up/Down never lose the edit.
            self.history_pos = None;
        }
        if edited || browsed || before != (self.line.len(), self.cursor) {
            push_changed(actions);
        }
    }

    /// Insert one character at the cursor; controls other than tab never enter the line.
    fn insert(&mut self, c: char, actions: &mut Vec<EditAction>) {
        if needs_escape(c) && c != '\t' {
            return;
        }
        self.line.insert(self.cursor, c);
        self.cursor += 1;
        self.history_pos = None;
        push_changed(actions);
    }

    /// Remember killed text for Ctrl-Y; says whether anything was removed.
    fn kill(&mut self, killed: Vec<char>) -> bool {
        if killed.is_empty() {
            return false;
        }
        self.killed = killed;
        true
    }

    /// Send the whole line, record it in the history and start an empty line.
    fn send_line(&mut self, actions: &mut Vec<EditAction>) {
        let text: String = self.line.drain(..).collect();
        self.cursor = 0;
        self.history_pos = None;
        self.draft.clear();
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        if !text.is_empty() && self.history.last() != Some(&text) {
            self.history.push(text);
        }
        actions.push(EditAction::Send(bytes));
        push_changed(actions);
    }

    /// Show the previous history entry, saving the draft when browsing starts.
    /// Says whether the shown line changed.
    fn history_up(&mut self) -> bool {
        let pos = match self.history_pos {
            None if self.history.is_empty() => return false,
            None => {
                self.draft = std::mem::take(&mut self.line);
                self.history.len() - 1
            }
            Some(0) => return false,
            Some(pos) => pos - 1,
        };
        self.show_history(Some(pos));
        true
    }

    /// Show the next history entry, or the draft after the newest one.
    /// Says whether the shown line changed.
    fn history_down(&mut self) -> bool {
        match self.history_pos {
            None => return false,
            Some(pos) if pos + 1 < self.history.len() => self.show_history(Some(pos + 1)),
            Some(_) => self.show_history(None),
        }
        true
    }

    /// Load history entry `pos` (or the draft) into the line, cursor at the end.
    fn show_history(&mut self, pos: Option<usize>) {
        self.line = match pos {
            Some(pos) => self.history[pos].chars().collect(),
            None => std::mem::take(&mut self.draft),
        };
        self.history_pos = pos;
        self.cursor = self.line.len();
    }

    /// The input row for a terminal `width` columns wide: the prompt and the visible part
    /// of the line (scrolled horizontally so the cursor stays visible), and the cursor's
    /// column (0-based, always < `width` when `width > 0`). Columns are display columns
    /// (a wide character takes two). Tabs and other characters that must not reach the
    /// terminal are drawn as a space or `?`.
    pub(crate) fn render(&self, width: usize) -> (String, usize) {
        let prompt_cols = str_cols(PROMPT);
        if width <= prompt_cols {
            let shown: String = PROMPT.chars().take(width).collect();
            return (shown, width.saturating_sub(1));
        }
        let text_cols = width - prompt_cols;
        let shown: Vec<char> = self.line.iter().map(|&c| shown_char(c)).collect();
        // cols_before[i]: columns taken by shown[..i].
        let mut cols_before = Vec::with_capacity(shown.len() + 1);
        cols_before.push(0);
        for &c in &shown {
            cols_before.push(cols_before[cols_before.len() - 1] + char_cols(c));
        }
        let span = |from: usize, to: usize| cols_before[to] - cols_before[from];
        // The cursor's cell: the character under it, or one free column at the end.
        let cursor_cell = shown.get(self.cursor).map_or(1, |&c| char_cols(c).max(1));
        let mut scroll = self.scroll.get().min(self.cursor);
        while scroll < self.cursor && span(scroll, self.cursor) + cursor_cell > text_cols {
            scroll += 1;
        }
        // Do not leave empty space on the right while text is hidden on the left.
        while scroll > 0 && span(scroll - 1, shown.len()) < text_cols {
            scroll -= 1;
        }
        // Never start the row with a combining mark: it would join the prompt.
        while scroll < self.cursor && char_cols(shown[scroll]) == 0 {
            scroll += 1;
        }
        self.scroll.set(scroll);
        let mut row = String::with_capacity(width);
        row.push_str(PROMPT);
        let mut used = 0;
        for &c in &shown[scroll..] {
            let cols = char_cols(c);
            if used + cols > text_cols {
                break;
            }
            row.push(c);
            used += cols;
        }
        (row, prompt_cols + span(scroll, self.cursor))
    }
}

/// How a character of the line is drawn: a tab as a space, anything the terminal could
/// obey as `?`.
fn shown_char(c: char) -> char {
    match c {
        '\t' => ' ',
        c if needs_escape(c) => '?',
        c => c,
    }
}

/// Add `Changed` unless the previous action already is one.
fn push_changed(actions: &mut Vec<EditAction>) {
    if actions.last() != Some(&EditAction::Changed) {
        actions.push(EditAction::Changed);
    }
}

/// The key for a CSI (or SS3, with no parameters) sequence ending in `final_byte`.
/// Modifiers (`ESC[1;5C`) are ignored; unknown sequences give no key.
fn csi_key(params: &[u8], final_byte: u8) -> Option<Key> {
    let first = params.split(|&b| b == b';').next().unwrap_or(&[]);
    match final_byte {
        b'A' => Some(Key::Up),
        b'B' => Some(Key::Down),
        b'C' => Some(Key::Right),
        b'D' => Some(Key::Left),
        b'H' => Some(Key::Home),
        b'F' => Some(Key::End),
        b'R' => {
            let mut parts = params.split(|&b| b == b';');
            let row = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
            let col = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
            Some(Key::CursorReport(row, col))
        }
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

/// Where Ctrl-W's deletion starts: back over spaces, then back over the word
/// (readline's `unix-word-rubout`).
fn word_start(line: &[char], cursor: usize) -> usize {
    let mut i = cursor;
    while i > 0 && line[i - 1].is_whitespace() {
        i -= 1;
    }
    while i > 0 && !line[i - 1].is_whitespace() {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(s: &str) -> EditAction {
        EditAction::Send(format!("{s}\n").into_bytes())
    }

    fn sends(actions: &[EditAction]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                EditAction::Send(b) => Some(String::from_utf8(b.clone()).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn typed(bytes: &[u8]) -> LineEditor {
        let mut ed = LineEditor::new();
        ed.feed(bytes);
        ed
    }

    #[test]
    fn editor_inserts_text_and_reports_change() {
        let mut ed = LineEditor::new();
        assert_eq!(ed.feed(b"hi"), vec![EditAction::Changed]);
        assert_eq!(ed.line(), "hi");
        assert_eq!(ed.cursor(), 2);
        assert_eq!(ed.feed("é€😀".as_bytes()), vec![EditAction::Changed]);
        assert_eq!(ed.line(), "hié€😀");
        assert_eq!(ed.cursor(), 5);
    }

    #[test]
    fn editor_enter_sends_line_with_lf() {
        let mut ed = LineEditor::new();
        let actions = ed.feed(b"hello\r");
        assert_eq!(
            actions,
            vec![EditAction::Changed, send("hello"), EditAction::Changed]
        );
        assert_eq!(ed.line(), "");
        assert_eq!(sends(&ed.feed(b"a\n")), ["a\n"]);
        assert_eq!(sends(&ed.feed(b"\r")), ["\n"], "an empty line is sent too");
    }

    #[test]
    fn editor_crlf_counts_once_even_split() {
        let mut ed = LineEditor::new();
        assert_eq!(sends(&ed.feed(b"a\r\nb\r\n")), ["a\n", "b\n"]);
        assert_eq!(sends(&ed.feed(b"c\r")), ["c\n"]);
        assert_eq!(sends(&ed.feed(b"\n")), Vec::<String>::new());
        assert_eq!(sends(&ed.feed(b"\n")), ["\n"], "a second LF is a new Enter");
        assert_eq!(sends(&ed.feed(b"\r\r")), ["\n", "\n"]);
    }

    #[test]
    fn editor_backspace_and_delete() {
        let mut ed = typed(b"abcd");
        ed.feed(b"\x7f");
        assert_eq!(ed.line(), "abc");
        ed.feed(b"\x08");
        assert_eq!(ed.line(), "ab");
        ed.feed(b"\x1b[D\x1b[3~");
        assert_eq!((ed.line().as_str(), ed.cursor()), ("a", 1));
        assert!(
            ed.feed(b"\x1b[3~").is_empty(),
            "delete at end changes nothing"
        );
        ed.feed(b"\x01");
        assert!(
            ed.feed(b"\x7f").is_empty(),
            "backspace at start changes nothing"
        );
    }

    #[test]
    fn editor_cursor_keys_in_all_encodings() {
        let mut ed = typed(b"abc");
        for (keys, cursor) in [
            (&b"\x1b[D"[..], 2),
            (b"\x1bOD", 1),
            (b"\x1b[C", 2),
            (b"\x1bOC", 3),
            (b"\x1b[C", 3),
            (b"\x1b[H", 0),
            (b"\x1b[F", 3),
            (b"\x1b[1~", 0),
            (b"\x1b[4~", 3),
            (b"\x1bOH", 0),
            (b"\x1bOF", 3),
            (b"\x1b[7~", 0),
            (b"\x1b[8~", 3),
            (b"\x01", 0),
            (b"\x05", 3),
            (b"\x02", 2),
            (b"\x06", 3),
            (b"\x1b[1;5D", 2),
        ] {
            ed.feed(keys);
            assert_eq!(ed.cursor(), cursor, "after {keys:?}");
        }
        assert_eq!(ed.line(), "abc");
    }

    #[test]
    fn editor_inserts_at_cursor() {
        let mut ed = typed(b"ac\x1b[Db");
        assert_eq!((ed.line().as_str(), ed.cursor()), ("abc", 2));
        ed.feed(b"\x01>");
        assert_eq!(ed.line(), ">abc");
    }

    #[test]
    fn editor_ctrl_u_k_w_and_yank() {
        let mut ed = typed(b"one two  three\x1b[D\x1b[D");
        ed.feed(b"\x0b");
        assert_eq!((ed.line().as_str(), ed.cursor()), ("one two  thr", 12));
        ed.feed(b"\x17");
        assert_eq!(ed.line(), "one two  ");
        ed.feed(b"\x17");
        assert_eq!(ed.line(), "one ");
        ed.feed(b"\x19");
        assert_eq!(ed.line(), "one two  ", "ctrl-y yanks the last kill");
        ed.feed(b"\x1b[D\x1b[D\x15");
        assert_eq!((ed.line().as_str(), ed.cursor()), ("  ", 0));
        let mut ed = typed(b"word");
        ed.feed(b"\x01");
        assert!(ed.feed(b"\x17\x15").is_empty(), "nothing before the cursor");
    }

    #[test]
    fn editor_ctrl_d_is_eof_only_on_empty_line() {
        let mut ed = LineEditor::new();
        assert_eq!(ed.feed(b"\x04"), vec![EditAction::Eof]);
        let mut ed = typed(b"ab\x01");
        assert_eq!(ed.feed(b"\x04"), vec![EditAction::Changed]);
        assert_eq!(ed.line(), "b");
        ed.feed(b"\x05");
        assert!(
            ed.feed(b"\x04").is_empty(),
            "at end of a non-empty line: nothing"
        );
        assert_eq!(ed.line(), "b");
    }

    #[test]
    fn editor_ctrl_c_and_ctrl_l() {
        let mut ed = typed(b"half");
        assert_eq!(ed.feed(b"\x03"), vec![EditAction::Interrupt]);
        assert_eq!(ed.feed(b"\x0c"), vec![EditAction::Redraw]);
        assert_eq!(ed.line(), "half");
    }

    #[test]
    fn editor_history_keeps_draft() {
        let mut ed = typed(b"first\rsecond\rsecond\rdraft");
        ed.feed(b"\x1b[A");
        assert_eq!(ed.line(), "second");
        ed.feed(b"\x1bOA");
        assert_eq!(ed.line(), "first", "duplicates are stored once");
        assert!(ed.feed(b"\x1b[A").is_empty(), "stays at the oldest");
        assert_eq!(ed.line(), "first");
        ed.feed(b"\x1b[B");
        assert_eq!(ed.line(), "second");
        ed.feed(b"\x1b[B");
        assert_eq!((ed.line().as_str(), ed.cursor()), ("draft", 5));
        assert!(ed.feed(b"\x1b[B").is_empty());
        assert_eq!(ed.line(), "draft");
    }

    #[test]
    fn editor_history_edit_becomes_draft() {
        let mut ed = typed(b"one\rtwo\r");
        ed.feed(b"\x1b[A\x1b[A!");
        assert_eq!(ed.line(), "one!");
        ed.feed(b"\x1b[B");
        assert_eq!(ed.line(), "one!", "down after an edit keeps the edit");
        ed.feed(b"\x1b[A");
        assert_eq!(ed.line(), "two");
        ed.feed(b"\x1b[B");
        assert_eq!(ed.line(), "one!");
        assert_eq!(sends(&ed.feed(b"\r")), ["one!\n"]);
        ed.feed(b"\x10");
        assert_eq!(ed.line(), "one!", "ctrl-p is up");
    }

    #[test]
    fn editor_history_empty_up_does_nothing() {
        let mut ed = typed(b"x");
        assert!(ed.feed(b"\x1b[A").is_empty());
        assert_eq!(ed.line(), "x");
    }

    #[test]
    fn editor_bracketed_paste_sends_every_line() {
        let mut ed = typed(b"> ");
        let actions = ed.feed(b"\x1b[200~one\r\ntwo\nthree\x03\x1b[A\x1b[201~");
        assert_eq!(sends(&actions), ["> one\n", "two\n"]);
        assert_eq!(
            ed.line(),
            "three",
            "the partial line stays; ^C and Up were data"
        );
        assert!(!ed.in_paste, "the paste ended");
        assert_eq!(sends(&ed.feed(b"\r")), ["three\n"]);
    }

    #[test]
    fn editor_paste_in_middle_of_line_splits_there() {
        let mut ed = typed(b"ad\x1b[D");
        let actions = ed.feed(b"\x1b[200~b\nc\x1b[201~");
        assert_eq!(sends(&actions), ["ab\n"]);
        assert_eq!((ed.line().as_str(), ed.cursor()), ("cd", 1));
    }

    #[test]
    fn editor_paste_split_across_reads() {
        let input = b"x\x1b[200~l1\r\nl2\r\ntail\x1b[201~\r";
        for at in 0..=input.len() {
            let mut ed = LineEditor::new();
            let mut actions = ed.feed(&input[..at]);
            actions.extend(ed.feed(&input[at..]));
            assert_eq!(
                sends(&actions),
                ["xl1\n", "l2\n", "tail\n"],
                "split at {at}"
            );
            assert_eq!(ed.line(), "");
        }
    }

    #[test]
    fn editor_escape_sequences_split_byte_by_byte() {
        let input = "ab\x1b[D\x1b[3~\x1bOH€\x1b[1;5C\x1b[99~z\x1b[Fq".as_bytes();
        let whole = typed(input);
        let mut ed = LineEditor::new();
        for b in input {
            ed.feed(std::slice::from_ref(b));
        }
        assert_eq!(ed.line(), whole.line());
        assert_eq!(ed.line(), "€azq");
        assert_eq!(ed.cursor(), whole.cursor());
    }

    #[test]
    fn editor_swallows_unknown_sequences() {
        let ed = typed(b"a\x1b[99~\x1b[?1;2c\x1b[12;40R\x1b[Z\x1bOP\x1b[15;2~b");
        assert_eq!(ed.line(), "ab");
        let ed = typed(b"\x1b[1234567890123456789012345678901234567890mc");
        assert_eq!(ed.line(), "c", "an over-long sequence is swallowed whole");
        let ed = typed(b"\x1bxy\x1b\x1b[Cz");
        assert_eq!(ed.line(), "yz", "alt+x is swallowed");
    }

    #[test]
    fn editor_never_inserts_controls() {
        let ed = typed("a\x00\x07\x1b\rb".as_bytes());
        assert_eq!(ed.line(), "b");
        let ed = typed("\u{9b}\u{202e}\u{85}\t\x7fok".as_bytes());
        assert_eq!(ed.line(), "ok", "C1, bidi dropped; tab then backspace");
        let ed = typed(b"\xff\xc3x\xc3\xa9");
        assert_eq!(ed.line(), "x\u{e9}", "invalid UTF-8 is dropped");
    }

    #[test]
    fn editor_render_short_line() {
        let ed = typed(b"hello");
        assert_eq!(ed.render(80), ("> hello".to_string(), 7));
        let ed = typed(b"a\tb\x1b[D");
        assert_eq!(ed.render(80), ("> a b".to_string(), 4));
        assert_eq!(LineEditor::new().render(80), ("> ".to_string(), 2));
    }

    #[test]
    fn editor_render_scrolls_to_keep_cursor_visible() {
        let mut ed = typed(b"0123456789abcdef");
        // width 10: prompt 2, 8 text columns, the last one kept for the cursor.
        assert_eq!(ed.render(10), ("> 9abcdef".to_string(), 9));
        ed.feed(b"\x1b[D\x1b[D\x1b[D");
        assert_eq!(ed.render(10), ("> 9abcdef".to_string(), 6), "no jump");
        ed.feed(b"\x01");
        assert_eq!(ed.render(10), ("> 01234567".to_string(), 2));
        ed.feed(b"\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C");
        assert_eq!(ed.render(10), ("> 01234567".to_string(), 9));
        ed.feed(b"\x1b[C");
        assert_eq!(ed.render(10), ("> 12345678".to_string(), 9));
        ed.feed(b"\x05\x15");
        assert_eq!(ed.render(10), ("> ".to_string(), 2));
    }

    /// The character that occupies display column `col` of `row` (combining marks
    /// occupy none), if one starts there.
    fn char_at_col(row: &str, col: usize) -> Option<char> {
        let mut at = 0;
        for c in row.chars() {
            if at == col && char_cols(c) > 0 {
                return Some(c);
            }
            at += char_cols(c);
        }
        None
    }

    #[test]
    fn editor_render_fits_every_width() {
        let mut ed = typed("abcdefghijklmnopqrstuvwxyzé€😀日本語のテキストe\u{301}z".as_bytes());
        for moves in 0..50 {
            for width in 0..40 {
                let (row, col) = ed.render(width);
                assert!(str_cols(&row) <= width, "width {width}: {row:?}");
                assert!(col < width.max(1), "width {width}: col {col}");
                let cursor_cell = ed.line().chars().nth(ed.cursor()).map_or(1, char_cols);
                if width >= PROMPT.len() + cursor_cell.max(1) {
                    // On a combining mark the cursor shows the next character's cell.
                    let expected = ed
                        .line()
                        .chars()
                        .skip(ed.cursor())
                        .find(|&c| char_cols(c) > 0);
                    assert_eq!(
                        char_at_col(&row, col),
                        expected,
                        "width {width} moves {moves}: {row:?} col {col}"
                    );
                }
            }
            ed.feed(if moves % 3 == 0 {
                b"\x1b[D\x1b[D\x1b[D"
            } else {
                b"\x1b[C"
            });
        }
    }

    #[test]
    fn editor_render_counts_wide_characters_as_two_columns() {
        let mut ed = typed("日本語 ok".as_bytes());
        assert_eq!(ed.render(80), ("> 日本語 ok".to_string(), 11));
        ed.feed(b"\x1b[D\x1b[D\x1b[D\x1b[D");
        assert_eq!(ed.render(80), ("> 日本語 ok".to_string(), 6), "on 語");
        // 8 text columns: the end of the line scrolls into view two columns at a time.
        let ed = typed("一二三四五六".as_bytes());
        assert_eq!(ed.render(10), ("> 四五六".to_string(), 8));
    }

    #[test]
    fn editor_cursor_report_is_an_action_not_text() {
        let mut editor = LineEditor::new();
        let actions = editor.feed(b"ab\x1b[12;3");
        assert!(!actions.contains(&EditAction::CursorReport(12, 3)));
        let actions = editor.feed(b"Rc");
        assert!(
            actions.contains(&EditAction::CursorReport(12, 3)),
            "{actions:?}"
        );
        assert_eq!(editor.line(), "abc");
    }

    /// Deterministic pseudo-random bytes for the fuzz tests (no extra crate).
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn editor_fuzz_any_keys_render_safely_and_split_reads_agree() {
        // Bytes that matter to the parser, weighted towards escape sequences.
        let alphabet: &[u8] = b"\x1b\x1b[[O~;0123ABCDHFR~\r\n\x7f\x08\x01\x03\x04\x05\x0b\x0c\x15\x17\x19abc \xc3\xa9\xe2\x80\xae\xff";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..3_000 {
            let len = (xorshift(&mut state) % 40) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| alphabet[(xorshift(&mut state) % alphabet.len() as u64) as usize])
                .collect();
            let mut whole = LineEditor::new();
            let whole_actions = whole.feed(&input);
            let split = (xorshift(&mut state) as usize) % (input.len() + 1);
            let mut parts = LineEditor::new();
            let mut part_actions = parts.feed(&input[..split]);
            part_actions.extend(parts.feed(&input[split..]));
            let sent = |actions: &[EditAction]| -> Vec<Vec<u8>> {
                actions
                    .iter()
                    .filter_map(|a| match a {
                        EditAction::Send(line) => Some(line.clone()),
                        _ => None,
                    })
                    .collect()
            };
            assert_eq!(
                sent(&whole_actions),
                sent(&part_actions),
                "{input:?} split at {split}"
            );
            assert_eq!(whole.line(), parts.line(), "{input:?} split at {split}");
            for width in [0, 1, 2, 3, 10, 80] {
                let (row, col) = whole.render(width);
                assert!(
                    str_cols(&row) <= width,
                    "{input:?} at width {width}: {row:?}"
                );
                assert!(
                    width == 0 || col < width,
                    "{input:?} at width {width}: cursor {col}"
                );
                assert!(
                    !row.chars().any(|c| c.is_control()),
                    "{input:?} renders a control character: {row:?}"
                );
            }
        }
    }

    #[test]
    fn editor_swallows_terminal_strings_such_as_query_answers() {
        let mut editor = LineEditor::new();
        // An OSC 52 clipboard answer ended by BEL, a DCS ended by ST, split across reads.
        editor.feed(b"a\x1b]52;c;c2VjcmV0\x07b\x1bP1$r0");
        editor.feed(b"m\x1b\\c");
        assert_eq!(editor.line(), "abc");
    }
}
