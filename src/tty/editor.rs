//! `LineEditor`: rnc's own line editor for interactive mode, fed the raw bytes that a
//! terminal in raw mode sends for keys, and answering with `EditAction`s.
//!
//! It owns the line being typed, the cursor, the history of sent lines, the reverse
//! history search (Ctrl-R), the kill buffer and bracketed paste, and what each key does
//! to them; turning bytes into keys is `keys.rs`'s. It does no I/O and knows nothing of
//! `-C`: a sent line ends in `\n` and the caller translates. No control character ever
//! enters the line except tab, so `render` output is safe to draw.
//! The cursor moves and deletes by grapheme cluster (`unicode-segmentation`), what a
//! reader sees as one character: a flag, an emoji joined with ZWJ, a letter with its
//! combining accents.
//! A lone ESC does nothing, except that it cancels a history search at once (and the
//! search comes back if the ESC turns out to start an arrow key or an Alt key: there is
//! no escape timeout).
//! `render` works in display columns (`width.rs`): a wide character takes two, so the
//! cursor lands on the character it is at and the row never overflows the screen.
//!
//! This file holds the line, its keys and its rendering; the history and its search are
//! in `editor/history.rs`, the grapheme and word boundaries in `editor/text.rs`.

use std::cell::Cell;
use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

use crate::tty::keys::{Key, KeyParser};
use crate::tty::sanitize::needs_escape;
use crate::tty::width::{prefix_within, str_cols};

mod history;
mod text;

use history::{Search, search_prompt};
use text::{is_typeable, next_boundary, prev_boundary, unix_word_start, word_left, word_right};

/// The prompt drawn at the start of the input row.
pub(crate) const PROMPT: &str = "> ";

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

/// The line being typed, its history, and the parser of the keys that edit it.
#[derive(Debug)]
pub(crate) struct LineEditor {
    /// The line being edited.
    line: String,
    /// Cursor position in `line`, in bytes. Always a character boundary, and a grapheme
    /// cluster boundary unless the last character typed joined the cluster after it (a
    /// ZWJ typed before an emoji): moves and deletions then act on that cluster's parts.
    cursor: usize,
    /// Lines sent so far, oldest first, without consecutive duplicates.
    history: Vec<String>,
    /// The history entry shown while browsing with Up/Down; `None` when editing the draft.
    history_pos: Option<usize>,
    /// The line that was being edited when browsing started; Down past the newest
    /// entry brings it back.
    draft: String,
    /// The text removed by the last Ctrl-K/U/W, Alt-D or Alt-Backspace, for Ctrl-Y.
    killed: String,
    /// The history search in progress (Ctrl-R), if any.
    search: Option<Search>,
    /// A search that an ESC has just cancelled: it comes back if the next byte shows that
    /// the ESC started an escape sequence (an arrow key, which accepts the match instead).
    cancelled_search: Option<Search>,
    /// The query of the last search: Ctrl-R on an empty query looks for it again, as
    /// bash does.
    last_query: String,
    /// The terminal's bytes → keys, across reads.
    keys: KeyParser,
    /// Inside a bracketed paste: newlines split lines, control keys are data.
    in_paste: bool,
    /// First visible grapheme cluster of the row's text in the last render (horizontal
    /// scrolling).
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
            line: String::new(),
            cursor: 0,
            history: Vec::new(),
            history_pos: None,
            draft: String::new(),
            killed: String::new(),
            search: None,
            cancelled_search: None,
            last_query: String::new(),
            keys: KeyParser::default(),
            in_paste: false,
            scroll: Cell::new(0),
        }
    }

    /// The line as typed so far (under a history search: the draft).
    #[cfg(test)]
    pub(crate) fn line(&self) -> String {
        self.line.clone()
    }

    /// The cursor position in chars.
    #[cfg(test)]
    pub(crate) fn cursor(&self) -> usize {
        self.line[..self.cursor].chars().count()
    }

    /// Process bytes read from the terminal and say what to do, in order.
    /// `Changed` never appears twice in a row.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Vec<EditAction> {
        let mut actions = Vec::new();
        for &b in bytes {
            let key = self.keys.next_key(b);
            self.escape_search(key, &mut actions);
            if let Some(key) = key {
                self.apply(key, &mut actions);
            }
        }
        actions
    }

    /// Carry out one key.
    fn apply(&mut self, key: Key, actions: &mut Vec<EditAction>) {
        if let Key::CursorReport(row, col) = key {
            actions.push(EditAction::CursorReport(row, col));
            return;
        }
        if self.in_paste {
            self.apply_paste(key, actions);
            return;
        }
        if self.search.is_some() && self.apply_search(key, actions) {
            return;
        }
        match key {
            Key::Char(c) => self.insert(c, actions),
            Key::Enter => self.send_line(actions),
            Key::PasteStart => self.in_paste = true,
            Key::PasteEnd | Key::CursorReport(..) | Key::CtrlG => {}
            Key::CtrlC => actions.push(EditAction::Interrupt),
            Key::CtrlL => actions.push(EditAction::Redraw),
            Key::CtrlZ => actions.push(EditAction::Suspend),
            Key::CtrlR => {
                self.search = Some(Search::default());
                push_changed(actions);
            }
            Key::CtrlD if self.line.is_empty() => actions.push(EditAction::Eof),
            Key::CtrlD | Key::Delete => {
                self.delete(self.cursor..next_boundary(&self.line, self.cursor), actions);
            }
            Key::Backspace => {
                self.delete(prev_boundary(&self.line, self.cursor)..self.cursor, actions);
            }
            Key::Left => self.move_to(prev_boundary(&self.line, self.cursor), actions),
            Key::Right => self.move_to(next_boundary(&self.line, self.cursor), actions),
            Key::WordLeft => self.move_to(word_left(&self.line, self.cursor), actions),
            Key::WordRight => self.move_to(word_right(&self.line, self.cursor), actions),
            Key::Home => self.move_to(0, actions),
            Key::End => self.move_to(self.line.len(), actions),
            Key::Up => {
                if self.history_up() {
                    push_changed(actions);
                }
            }
            Key::Down => {
                if self.history_down() {
                    push_changed(actions);
                }
            }
            Key::CtrlK => self.kill(self.cursor..self.line.len(), actions),
            Key::CtrlU => self.kill(0..self.cursor, actions),
            Key::CtrlW => self.kill(
                unix_word_start(&self.line, self.cursor)..self.cursor,
                actions,
            ),
            Key::KillWordLeft => {
                self.kill(word_left(&self.line, self.cursor)..self.cursor, actions)
            }
            Key::KillWordRight => {
                self.kill(self.cursor..word_right(&self.line, self.cursor), actions);
            }
            Key::CtrlY => {
                let yanked = self.killed.clone();
                for c in yanked.chars() {
                    self.insert(c, actions);
                }
            }
        }
    }

    /// A key inside a bracketed paste.
    fn apply_paste(&mut self, key: Key, actions: &mut Vec<EditAction>) {
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
    }

    /// Insert one character at the cursor; controls other than tab never enter the line.
    fn insert(&mut self, c: char, actions: &mut Vec<EditAction>) {
        if !is_typeable(c) {
            return;
        }
        self.line.insert(self.cursor, c);
        self.cursor += c.len_utf8();
        self.history_pos = None;
        push_changed(actions);
    }

    /// Put the cursor at byte `at` of the line.
    fn move_to(&mut self, at: usize, actions: &mut Vec<EditAction>) {
        if at != self.cursor {
            self.cursor = at;
            push_changed(actions);
        }
    }

    /// Remove `range` (which starts or ends at the cursor) from the line; the cursor goes
    /// to where it was. An edited history entry becomes the draft, so Up/Down never lose
    /// the edit. Gives what was removed, if anything was.
    fn delete(&mut self, range: Range<usize>, actions: &mut Vec<EditAction>) -> Option<String> {
        if range.is_empty() {
            return None;
        }
        self.cursor = range.start;
        let removed = self.line.drain(range).collect();
        self.history_pos = None;
        push_changed(actions);
        Some(removed)
    }

    /// Cut `range` (which starts or ends at the cursor) out of the line and keep it for
    /// Ctrl-Y.
    fn kill(&mut self, range: Range<usize>, actions: &mut Vec<EditAction>) {
        if let Some(removed) = self.delete(range, actions) {
            self.killed = removed;
        }
    }

    /// Send the whole line, record it in the history and start an empty line.
    fn send_line(&mut self, actions: &mut Vec<EditAction>) {
        let text = std::mem::take(&mut self.line);
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

    /// The input row for a terminal `width` columns wide: the prompt and the visible part
    /// of the line (scrolled horizontally so the cursor stays visible), and the cursor's
    /// column (0-based, always < `width` when `width > 0`). Columns are display columns
    /// (a wide character takes two). Tabs and other characters that must not reach the
    /// terminal are drawn as a space or `?`. During a history search the row is bash's:
    /// `(reverse-i-search)`query': ` and the line found, the cursor where the query
    /// starts in it.
    pub(crate) fn render(&self, width: usize) -> (String, usize) {
        let Some(search) = &self.search else {
            return render_row(PROMPT, &self.line, self.cursor, width, &self.scroll);
        };
        let (text, cursor) = match search.found {
            Some((pos, at)) => (self.history[pos].as_str(), at),
            None => (self.line.as_str(), self.cursor),
        };
        let prompt = search_prompt(search, width);
        render_row(&prompt, text, cursor, width, &self.scroll)
    }
}

/// `prompt` then as much of `text` as fits in `width` columns, scrolled so that the
/// cursor (at byte `cursor` of `text`) shows; and the cursor's column. `scroll` is the
/// first grapheme cluster shown, kept from one render to the next so the text does not
/// jump. Clusters are never cut at either edge, so a wide character or an emoji sequence
/// is shown whole or not at all.
fn render_row(
    prompt: &str,
    text: &str,
    cursor: usize,
    width: usize,
    scroll: &Cell<usize>,
) -> (String, usize) {
    let prompt_cols = str_cols(prompt);
    if width <= prompt_cols {
        return (
            prefix_within(prompt, width).to_string(),
            width.saturating_sub(1),
        );
    }
    let text_cols = width - prompt_cols;
    // The clusters as drawn, a cluster holding the cursor drawn as two (the same columns,
    // since a terminal gives each character its own).
    let mut pieces: Vec<(usize, String)> = Vec::new();
    for (start, cluster) in text.grapheme_indices(true) {
        if start < cursor && cursor < start + cluster.len() {
            let (before, after) = cluster.split_at(cursor - start);
            pieces.push((start, shown_text(before)));
            pieces.push((cursor, shown_text(after)));
        } else {
            pieces.push((start, shown_text(cluster)));
        }
    }
    let at = pieces
        .iter()
        .take_while(|(start, _)| *start < cursor)
        .count();
    // cols_before[i]: columns taken by pieces[..i].
    let mut cols_before = Vec::with_capacity(pieces.len() + 1);
    cols_before.push(0);
    for (_, piece) in &pieces {
        cols_before.push(cols_before[cols_before.len() - 1] + str_cols(piece));
    }
    let span = |from: usize, to: usize| cols_before[to] - cols_before[from];
    // The cursor's cell: the cluster under it, or one free column at the end.
    let cursor_cell = pieces
        .get(at)
        .map_or(1, |(_, piece)| str_cols(piece).max(1));
    let mut first = scroll.get().min(at);
    while first < at && span(first, at) + cursor_cell > text_cols {
        first += 1;
    }
    // Do not leave empty space on the right while text is hidden on the left.
    while first > 0 && span(first - 1, pieces.len()) < text_cols {
        first -= 1;
    }
    // Never start the row with a combining mark: it would join the prompt.
    while first < at && span(first, first + 1) == 0 {
        first += 1;
    }
    scroll.set(first);
    let mut row = String::with_capacity(width);
    row.push_str(prompt);
    let mut used = 0;
    for (_, piece) in &pieces[first..] {
        let cols = str_cols(piece);
        if used + cols > text_cols {
            break;
        }
        row.push_str(piece);
        used += cols;
    }
    (row, prompt_cols + span(first, at))
}

/// How text of the line is drawn: a tab as a space, anything the terminal could obey as
/// `?`.
fn shown_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if needs_escape(c) => '?',
            c => c,
        })
        .collect()
}

/// The longest end of `text` made of whole grapheme clusters that fits in `cols` columns.
fn suffix_within(text: &str, cols: usize) -> &str {
    let mut used = 0;
    let mut start = text.len();
    for (at, cluster) in text.grapheme_indices(true).rev() {
        used += str_cols(cluster);
        if used > cols {
            break;
        }
        start = at;
    }
    &text[start..]
}

/// Add `Changed` unless the previous action already is one.
fn push_changed(actions: &mut Vec<EditAction>) {
    if actions.last() != Some(&EditAction::Changed) {
        actions.push(EditAction::Changed);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::tty::width::char_cols;

    fn send(s: &str) -> EditAction {
        EditAction::Send(format!("{s}\n").into_bytes())
    }

    pub(super) fn sends(actions: &[EditAction]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                EditAction::Send(b) => Some(String::from_utf8(b.clone()).unwrap()),
                _ => None,
            })
            .collect()
    }

    pub(super) fn typed(bytes: &[u8]) -> LineEditor {
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
            (b"\x1b[1;2D", 2),
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
    pub(super) fn char_at_col(row: &str, col: usize) -> Option<char> {
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
        let text =
            "abcdefghijklmnopqrstuvwxyzé€😀日本語のテキストe\u{301}z👨\u{200d}👩\u{200d}👧🇫🇷x";
        let mut ed = typed(text.as_bytes());
        for moves in 0..60 {
            for width in 0..40 {
                let (row, col) = ed.render(width);
                assert!(str_cols(&row) <= width, "width {width}: {row:?}");
                assert!(col < width.max(1), "width {width}: col {col}");
                let line = ed.line();
                let rest = &line[ed.cursor..];
                let cursor_cell = rest.graphemes(true).next().map_or(1, str_cols);
                if width >= PROMPT.len() + cursor_cell.max(1) {
                    // The cursor shows the cluster it is on (its base character's cell).
                    let expected = rest.chars().find(|&c| char_cols(c) > 0);
                    assert_eq!(
                        char_at_col(&row, col),
                        expected,
                        "width {width} moves {moves}: {row:?} col {col}"
                    );
                }
                // Clusters are drawn whole or not at all.
                if let Some(shown) = row.strip_prefix(PROMPT) {
                    let bounds: Vec<usize> = text
                        .grapheme_indices(true)
                        .map(|(at, _)| at)
                        .chain([text.len()])
                        .collect();
                    assert!(
                        bounds.iter().any(|&at| text[at..].starts_with(shown)
                            && bounds.contains(&(at + shown.len()))),
                        "width {width} moves {moves}: {shown:?} cuts a cluster"
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

    /// Bytes that matter to the parser, weighted towards escape sequences.
    const KEY_BYTES: &[u8] = b"\x1b\x1b[[O~;0123ABCDHFR~\r\n\x7f\x08\x01\x03\x04\x05\x07\x0b\x0c\x12\x12\x15\x17\x19abcdf \xc3\xa9\xe2\x80\xae\xff\xcc\x81";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// Whatever keys arrive, the input row fits any width with the cursor inside it and
        /// no control character in it, and reading the keys in two parts (cut anywhere)
        /// sends the same lines and leaves the same line being edited.
        #[test]
        fn editor_property_any_keys_render_safely_and_split_reads_agree(
            input in prop::collection::vec(prop::sample::select(KEY_BYTES), 0..40),
            cut: prop::sample::Index,
        ) {
            let split = cut.index(input.len() + 1);
            let mut whole = LineEditor::new();
            let whole_actions = whole.feed(&input);
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
            prop_assert_eq!(
                sent(&whole_actions),
                sent(&part_actions),
                "split at {}", split
            );
            prop_assert_eq!(whole.line(), parts.line(), "split at {}", split);
            prop_assert_eq!(
                whole.render(80),
                parts.render(80),
                "split at {}", split
            );
            for width in [0, 1, 2, 3, 10, 80] {
                let (row, col) = whole.render(width);
                prop_assert!(
                    str_cols(&row) <= width,
                    "at width {}: {:?}", width, row
                );
                prop_assert!(
                    width == 0 || col < width,
                    "at width {}: cursor {}", width, col
                );
                prop_assert!(
                    !row.chars().any(|c| c.is_control()),
                    "a control character in {:?}", row
                );
            }
        }
    }

    const FAMILY: &str = "👨\u{200d}👩\u{200d}👧";

    #[test]
    fn editor_moves_and_deletes_a_zwj_emoji_whole() {
        let mut ed = typed(format!("a{FAMILY}b").as_bytes());
        ed.feed(b"\x1b[D\x1b[DX");
        assert_eq!(
            ed.line(),
            format!("aX{FAMILY}b"),
            "left, left skips the family"
        );
        ed.feed(b"\x1b[C");
        assert_eq!(
            ed.cursor(),
            2 + FAMILY.chars().count(),
            "right skips it too"
        );
        ed.feed(b"\x7f");
        assert_eq!(ed.line(), "aXb", "backspace deletes the whole family");
        let mut ed = typed(format!("{FAMILY}{FAMILY}").as_bytes());
        ed.feed(b"\x01\x1b[3~");
        assert_eq!(ed.line(), FAMILY, "delete too");
        ed.feed(b"\x04");
        assert_eq!(ed.line(), "", "and ctrl-d");
    }

    #[test]
    fn editor_moves_and_deletes_flags_whole() {
        let mut ed = typed("🇫🇷🇩🇪🇯🇵".as_bytes());
        ed.feed(b"\x1b[D\x7f");
        assert_eq!(ed.line(), "🇫🇷🇯🇵", "one flag deleted, the pairs intact");
        assert_eq!(ed.cursor(), 2);
        ed.feed(b"\x1b[D\x1b[3~");
        assert_eq!(ed.line(), "🇯🇵");
        // A flag typed before a flag, one regional indicator at a time, stays in order.
        ed.feed("\x01🇩🇪".as_bytes());
        assert_eq!((ed.line().as_str(), ed.cursor()), ("🇩🇪🇯🇵", 2));
    }

    #[test]
    fn editor_moves_and_deletes_combining_accents_with_their_letter() {
        // e + acute, a + diaeresis + macron: two clusters of five code points.
        let mut ed = typed("xe\u{301}a\u{308}\u{304}y".as_bytes());
        ed.feed(b"\x1b[D\x1b[D");
        assert_eq!(ed.cursor(), 3, "before a\u{308}\u{304}");
        ed.feed(b"\x1b[D");
        assert_eq!(ed.cursor(), 1, "before e\u{301}");
        ed.feed(b"\x1b[3~");
        assert_eq!(ed.line(), "xa\u{308}\u{304}y");
        ed.feed(b"\x05\x1b[D\x7f");
        assert_eq!(ed.line(), "xy");
        // An accent typed after a letter joins it: one backspace removes both.
        let mut ed = typed("ne\u{301}".as_bytes());
        ed.feed(b"\x7f");
        assert_eq!(ed.line(), "n");
    }

    #[test]
    fn editor_joiner_typed_inside_a_line_keeps_the_cursor_after_it() {
        // A ZWJ typed between two emoji joins them into one cluster; the cursor stays
        // right after what was typed, and the row puts it between the two.
        let mut ed = typed("👨👩\x1b[D\u{200d}".as_bytes());
        assert_eq!(ed.line(), "👨\u{200d}👩");
        assert_eq!(ed.cursor(), 2);
        assert_eq!(ed.render(80), ("> 👨\u{200d}👩".to_string(), 4));
        ed.feed(b"\x1b[C");
        assert_eq!(
            ed.cursor(),
            3,
            "right goes to the end of the joined cluster"
        );
        ed.feed(b"\x1b[D");
        assert_eq!(ed.cursor(), 0, "left to its start");
    }

    #[test]
    fn editor_render_keeps_clusters_whole_at_the_edges() {
        // Per character, a terminal gives the family 6 columns and a flag 2.
        let mut ed = typed(format!("ab{FAMILY}cd").as_bytes());
        assert_eq!(ed.render(80), (format!("> ab{FAMILY}cd"), 12));
        // 8 text columns: the family cannot show with `b` at the left edge.
        ed.feed(b"\x01");
        assert_eq!(
            ed.render(10),
            (format!("> ab{FAMILY}"), 2),
            "8 columns: fits"
        );
        // 7 text columns: the family cannot show with `a` at the left edge.
        assert_eq!(ed.render(9), ("> ab".to_string(), 2));
        ed.feed(b"\x1b[C\x1b[C");
        assert_eq!(ed.render(9), (format!("> b{FAMILY}"), 3), "on the family");
        ed.feed(b"\x1b[C");
        assert_eq!(ed.render(9), (format!("> {FAMILY}c"), 8));
        let mut ed = typed("🇫🇷🇩🇪🇯🇵x".as_bytes());
        assert_eq!(ed.render(6), ("> 🇯🇵x".to_string(), 5));
        ed.feed(b"\x01");
        // Per character a flag is two 1-column halves: 3 columns must not show 1.5 flags.
        assert_eq!(ed.render(5), ("> 🇫🇷".to_string(), 2), "no half flag");
    }

    #[test]
    fn editor_word_motions_in_all_encodings() {
        let mut ed = typed(b"cd /usr/lib  now");
        for (keys, cursor) in [
            (&b"\x1bb"[..], 13),
            (b"\x1bb", 8),
            (b"\x1bB", 4),
            (b"\x1b[1;5D", 0),
            (b"\x1bf", 2),
            (b"\x1bF", 7),
            (b"\x1b[1;5C", 11),
            (b"\x1b[1;3D", 8),
            (b"\x1bOd", 4),
            (b"\x1bOc", 7),
            (b"\x1b[1;3C", 11),
            (b"\x1bf", 16),
            (b"\x1bf", 16),
        ] {
            ed.feed(keys);
            assert_eq!(ed.cursor(), cursor, "after {keys:?}");
        }
        assert_eq!(ed.line(), "cd /usr/lib  now");
        // A word is letters and digits, whatever the script; emoji separate words.
        let mut ed = typed(format!("año{FAMILY}日本 x").as_bytes());
        ed.feed(b"\x1bb\x1bb");
        assert_eq!(ed.cursor(), 3 + FAMILY.chars().count());
        ed.feed(b"\x1bb");
        assert_eq!(ed.cursor(), 0);
        ed.feed(b"\x1bf\x1bf");
        assert_eq!(ed.cursor(), 5 + FAMILY.chars().count());
    }

    #[test]
    fn editor_alt_backspace_and_alt_d_delete_words() {
        for alt_backspace in [&b"\x1b\x7f"[..], b"\x1b\x08"] {
            let mut ed = typed(b"cd /usr/lib ");
            ed.feed(alt_backspace);
            assert_eq!(ed.line(), "cd /usr/", "{alt_backspace:?}");
            ed.feed(alt_backspace);
            assert_eq!(ed.line(), "cd /");
            ed.feed(b"\x19");
            assert_eq!(ed.line(), "cd /usr/", "ctrl-y yanks it back");
        }
        let mut ed = typed(b"cd /usr/lib\x01");
        ed.feed(b"\x1bd");
        assert_eq!((ed.line().as_str(), ed.cursor()), (" /usr/lib", 0));
        ed.feed(b"\x1bD");
        assert_eq!(ed.line(), "/lib");
        ed.feed(b"\x05");
        assert!(ed.feed(b"\x1bd").is_empty(), "nothing after the cursor");
        // Ctrl-W still deletes back to a blank.
        let mut ed = typed(b"cd /usr/lib");
        ed.feed(b"\x17");
        assert_eq!(ed.line(), "cd ");
    }

    #[test]
    fn editor_lone_escape_still_does_nothing() {
        let mut ed = typed(b"ab");
        assert!(ed.feed(b"\x1b").is_empty());
        assert_eq!(sends(&ed.feed(b"\r")), ["ab\n"], "esc, then enter sends");
        let ed = typed(b"ab\x1b\x1b\x1b[Dc");
        assert_eq!(ed.line(), "acb", "repeated esc, then an arrow key");
        // Alt+key split after the ESC is the same key.
        let mut ed = typed(b"one two\x1b");
        ed.feed(b"b");
        assert_eq!(ed.cursor(), 4);
        ed.feed(b"\x1b");
        ed.feed(b"\x7f");
        assert_eq!(ed.line(), "two");
    }
}
