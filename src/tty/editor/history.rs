//! The line editor's history (`LineEditor`, `editor.rs`): Up and Down through the lines
//! sent, with the line being typed kept as the draft, and the reverse incremental search
//! (Ctrl-R) as in bash, with its prompt on the input row and ESC's cancel that an arrow
//! or Alt key can take back. Pure, like the rest of the editor.

use super::text::{floor_boundary, is_typeable, prev_boundary};
use super::{EditAction, LineEditor, push_changed, shown_text, suffix_within};
use crate::tty::keys::Key;
use crate::tty::width::str_cols;

/// What the input row starts with while searching the history, before the query (bash's).
const SEARCH_PROMPT: &str = "(reverse-i-search)`";

/// The same when the last key found nothing (the previous match stays on show).
const FAILED_SEARCH_PROMPT: &str = "(failed reverse-i-search)`";

/// Between the query and the line found.
const SEARCH_PROMPT_END: &str = "': ";

/// A reverse incremental search of the history (Ctrl-R), as in bash. While it runs, the
/// line and its cursor stay as they were (the draft) under it.
#[derive(Debug, Default)]
pub(super) struct Search {
    /// What was typed to search for.
    pub(super) query: String,
    /// The entry found (an index into the history) and where the query starts in it
    /// (bytes); `None` until something matches.
    pub(super) found: Option<(usize, usize)>,
    /// The last search found nothing; `found` still shows the previous match.
    pub(super) failed: bool,
}

impl LineEditor {
    /// Esc cancels a history search as soon as it is pressed. With no escape timeout, an
    /// ESC may also start an arrow key's sequence or an Alt key, so the byte after it
    /// decides: if it makes a sequence or an Alt key that acts, the search comes back for
    /// that key to act on. The outcome depends on the bytes only, never on how reads
    /// split them.
    pub(super) fn escape_search(&mut self, key: Option<Key>, actions: &mut Vec<EditAction>) {
        if let Some(search) = self.cancelled_search.take()
            && (self.keys.is_in_sequence()
                || matches!(
                    key,
                    Some(Key::WordLeft | Key::WordRight | Key::KillWordLeft | Key::KillWordRight)
                ))
        {
            self.search = Some(search);
            push_changed(actions);
        }
        if self.keys.is_after_escape()
            && let Some(search) = self.search.take()
        {
            self.cancelled_search = Some(search);
            push_changed(actions);
        }
    }

    /// A key during a history search. Says whether the search used it up. Ctrl-C, Ctrl-L
    /// and Ctrl-Z act as usual and the search goes on; any other key the search does not
    /// use ends it, with the match taken into the line, and then acts on that line as
    /// usual (Enter sends it, as in bash).
    pub(super) fn apply_search(&mut self, key: Key, actions: &mut Vec<EditAction>) -> bool {
        let Some(mut search) = self.search.take() else {
            return false;
        };
        match key {
            Key::Char(c) => {
                if !is_typeable(c) {
                    self.search = Some(search);
                    return true;
                }
                search.query.push(c);
                // The match so far may still do.
                let below = search.found.map_or(self.history.len(), |(pos, _)| pos + 1);
                self.find_older(&mut search, below);
            }
            Key::Backspace => {
                let end = prev_boundary(&search.query, search.query.len());
                search.query.truncate(end);
                self.find_older(&mut search, self.history.len());
            }
            Key::CtrlR if search.query.is_empty() => {
                search.query = self.last_query.clone();
                self.find_older(&mut search, self.history.len());
            }
            Key::CtrlR => {
                let below = search.found.map_or(self.history.len(), |(pos, _)| pos);
                self.find_older(&mut search, below);
            }
            Key::CtrlG => {}
            Key::CtrlC | Key::CtrlL | Key::CtrlZ | Key::PasteEnd | Key::CursorReport(..) => {
                self.search = Some(search);
                return false;
            }
            _ => {
                self.accept_search(&search);
                push_changed(actions);
                return false;
            }
        }
        if !search.query.is_empty() {
            self.last_query.clone_from(&search.query);
        }
        if key != Key::CtrlG {
            self.search = Some(search);
        }
        push_changed(actions);
        true
    }

    /// Find the newest history entry older than `below` that holds the query (its last
    /// occurrence), or mark the search failed and leave the previous match in place.
    pub(super) fn find_older(&self, search: &mut Search, below: usize) {
        if search.query.is_empty() {
            *search = Search::default();
            return;
        }
        let found = self.history[..below.min(self.history.len())]
            .iter()
            .enumerate()
            .rev()
            .find_map(|(pos, entry)| entry.rfind(&search.query).map(|at| (pos, at)));
        search.failed = found.is_none();
        if found.is_some() {
            search.found = found;
        }
    }

    /// End a search by taking its match into the line, the cursor where the query starts
    /// in it, as if browsed to with Up (so Down leads back to the draft). Without a match
    /// the line stays as it was.
    pub(super) fn accept_search(&mut self, search: &Search) {
        let Some((pos, at)) = search.found else {
            return;
        };
        self.browse_to(pos);
        self.cursor = floor_boundary(&self.line, at);
    }

    /// Show the previous history entry, saving the draft when browsing starts.
    /// Says whether the shown line changed.
    pub(super) fn history_up(&mut self) -> bool {
        let pos = match self.history_pos {
            None if self.history.is_empty() => return false,
            None => self.history.len() - 1,
            Some(0) => return false,
            Some(pos) => pos - 1,
        };
        self.browse_to(pos);
        true
    }

    /// Show the next history entry, or the draft after the newest one.
    /// Says whether the shown line changed.
    pub(super) fn history_down(&mut self) -> bool {
        match self.history_pos {
            None => return false,
            Some(pos) if pos + 1 < self.history.len() => self.show_history(Some(pos + 1)),
            Some(_) => self.show_history(None),
        }
        true
    }

    /// Show history entry `pos`, keeping the line being edited as the draft when browsing
    /// starts.
    pub(super) fn browse_to(&mut self, pos: usize) {
        if self.history_pos.is_none() {
            self.draft = std::mem::take(&mut self.line);
        }
        self.show_history(Some(pos));
    }

    /// Load history entry `pos` (or the draft) into the line, cursor at the end.
    pub(super) fn show_history(&mut self, pos: Option<usize>) {
        self.line = match pos {
            Some(pos) => self.history[pos].clone(),
            None => std::mem::take(&mut self.draft),
        };
        self.history_pos = pos;
        self.cursor = self.line.len();
    }
}

/// The search prompt for a row `width` columns wide: a query too long to leave a column
/// for the line loses its start (its end is what was just typed) to a `…`.
pub(super) fn search_prompt(search: &Search, width: usize) -> String {
    let start = if search.failed {
        FAILED_SEARCH_PROMPT
    } else {
        SEARCH_PROMPT
    };
    let query = shown_text(&search.query);
    let room = width.saturating_sub(str_cols(start) + str_cols(SEARCH_PROMPT_END) + 1);
    if str_cols(&query) <= room {
        return format!("{start}{query}{SEARCH_PROMPT_END}");
    }
    let tail = suffix_within(&query, room.saturating_sub(1));
    format!("{start}…{tail}{SEARCH_PROMPT_END}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tty::editor::tests::{char_at_col, sends, typed};

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

    /// An editor that has sent these lines, with `draft` typed.
    fn with_history(lines: &[&str], draft: &str) -> LineEditor {
        let mut ed = LineEditor::new();
        for line in lines {
            assert_eq!(sends(&ed.feed(format!("{line}\r").as_bytes())).len(), 1);
        }
        ed.feed(draft.as_bytes());
        ed
    }

    const HISTORY: &[&str] = &["GET /a HTTP/1.0", "hello world", "GET /b HTTP/1.1", "bye"];

    #[test]
    fn editor_ctrl_r_finds_the_newest_match_and_enter_sends_it() {
        let mut ed = with_history(HISTORY, "draft");
        assert_eq!(ed.feed(b"\x12"), vec![EditAction::Changed]);
        assert_eq!(
            ed.render(80),
            ("(reverse-i-search)`': draft".to_string(), 27)
        );
        assert_eq!(ed.feed(b"GE"), vec![EditAction::Changed]);
        assert_eq!(
            ed.render(80),
            ("(reverse-i-search)`GE': GET /b HTTP/1.1".to_string(), 24),
            "the cursor where the match starts"
        );
        ed.feed(b"T /a");
        assert_eq!(
            ed.render(80),
            (
                "(reverse-i-search)`GET /a': GET /a HTTP/1.0".to_string(),
                28
            )
        );
        assert_eq!(ed.line(), "draft", "the draft waits under the search");
        let actions = ed.feed(b"\r");
        assert_eq!(sends(&actions), ["GET /a HTTP/1.0\n"]);
        assert_eq!((ed.line().as_str(), ed.render(80).0.as_str()), ("", "> "));
        // The found line is now the newest entry.
        ed.feed(b"\x1b[A");
        assert_eq!(ed.line(), "GET /a HTTP/1.0");
    }

    #[test]
    fn editor_ctrl_r_again_goes_to_the_next_older_match() {
        let mut ed = with_history(HISTORY, "");
        ed.feed(b"\x12HTTP");
        assert!(ed.render(80).0.ends_with(": GET /b HTTP/1.1"));
        ed.feed(b"\x12");
        assert!(ed.render(80).0.ends_with(": GET /a HTTP/1.0"));
        assert_eq!(ed.feed(b"\x12"), vec![EditAction::Changed]);
        assert_eq!(
            ed.render(80).0,
            "(failed reverse-i-search)`HTTP': GET /a HTTP/1.0",
            "no older match: failed, the last match stays"
        );
        assert_eq!(sends(&ed.feed(b"\r")), ["GET /a HTTP/1.0\n"]);
        // Ctrl-R twice searches for the last query again.
        ed.feed(b"\x12\x12");
        assert_eq!(ed.render(80).0, "(reverse-i-search)`HTTP': GET /a HTTP/1.0");
        ed.feed(b"\x12");
        assert!(ed.render(80).0.ends_with(": GET /b HTTP/1.1"));
    }

    #[test]
    fn editor_ctrl_r_without_a_match_says_failed() {
        let mut ed = with_history(HISTORY, "draft");
        ed.feed(b"\x12xyz");
        assert_eq!(
            ed.render(80),
            ("(failed reverse-i-search)`xyz': draft".to_string(), 37)
        );
        ed.feed(b"\x7f\x7f\x7f");
        assert_eq!(ed.render(80).0, "(reverse-i-search)`': draft");
        ed.feed(b"worldx");
        assert_eq!(
            ed.render(80).0,
            "(failed reverse-i-search)`worldx': hello world"
        );
        ed.feed(b"\x7f");
        assert_eq!(ed.render(80).0, "(reverse-i-search)`world': hello world");
        // With no history at all, Enter sends the draft.
        let mut ed = with_history(&[], "mine");
        ed.feed(b"\x12m");
        assert_eq!(ed.render(80).0, "(failed reverse-i-search)`m': mine");
        assert_eq!(sends(&ed.feed(b"\r")), ["mine\n"]);
    }

    #[test]
    fn editor_ctrl_r_cancel_restores_the_draft() {
        for (cancel, split) in [
            (&b"\x07"[..], false),
            (b"\x1b", false),
            (b"\x1b", true),
            (b"\x1b\x1b", false),
        ] {
            let mut ed = with_history(HISTORY, "my draft\x1b[D");
            ed.feed(b"\x12bye");
            let mut actions = ed.feed(cancel);
            if split {
                actions.extend(ed.feed(b"x"));
            }
            assert!(actions.contains(&EditAction::Changed), "{cancel:?}");
            assert!(sends(&actions).is_empty());
            assert_eq!(
                ed.render(80),
                ("> my draft".to_string(), 9),
                "{cancel:?} split {split}"
            );
            assert_eq!(sends(&ed.feed(b"\r")), ["my draft\n"]);
        }
    }

    #[test]
    fn editor_ctrl_r_esc_split_from_its_arrow_key_still_accepts() {
        let mut ed = with_history(HISTORY, "draft");
        ed.feed(b"\x12wor");
        assert_eq!(ed.feed(b"\x1b"), vec![EditAction::Changed]);
        assert_eq!(ed.render(80).0, "> draft", "esc shows the cancel at once");
        assert_eq!(ed.feed(b"["), vec![EditAction::Changed]);
        assert_eq!(ed.render(80).0, "(reverse-i-search)`wor': hello world");
        ed.feed(b"D");
        assert_eq!((ed.line().as_str(), ed.cursor()), ("hello world", 5));
        // Alt-B split after its ESC: the match too.
        let mut ed = with_history(HISTORY, "draft");
        ed.feed(b"\x12wor\x1b");
        ed.feed(b"b");
        assert_eq!((ed.line().as_str(), ed.cursor()), ("hello world", 0));
    }

    #[test]
    fn editor_ctrl_r_editing_keys_take_the_match_into_the_line() {
        for (key, line, cursor) in [
            (&b"\x1b[D"[..], "hello world", 5),
            (b"\x1bOC", "hello world", 7),
            (b"\x02", "hello world", 5),
            (b"\x05", "hello world", 11),
            (b"\x01", "hello world", 0),
            (b"\x0b", "hello ", 6),
            (b"\x1bb", "hello world", 0),
            (b"\x1b[1;5C", "hello world", 11),
        ] {
            let mut ed = with_history(HISTORY, "draft");
            ed.feed(b"\x12wor");
            ed.feed(key);
            assert!(ed.search.is_none(), "{key:?}");
            assert_eq!((ed.line().as_str(), ed.cursor()), (line, cursor), "{key:?}");
            assert!(ed.render(80).0.starts_with("> "), "{key:?}");
        }
        // Typing after accepting edits the line; the draft is one Down away.
        let mut ed = with_history(HISTORY, "draft");
        ed.feed(b"\x12wor\x05!");
        assert_eq!(ed.line(), "hello world!");
        ed.feed(b"\x1b[B");
        assert_eq!(
            ed.line(),
            "hello world!",
            "an edited entry is the draft now"
        );
        let mut ed = with_history(HISTORY, "draft");
        ed.feed(b"\x12wor\x1b[A");
        assert_eq!(ed.line(), "GET /a HTTP/1.0", "up goes on from the match");
        ed.feed(b"\x1b[B\x1b[B");
        assert_eq!(ed.line(), "GET /b HTTP/1.1");
        ed.feed(b"\x1b[B\x1b[B");
        assert_eq!(
            ed.line(),
            "draft",
            "down past the newest brings the draft back"
        );
        // Ctrl-L and a cursor report leave the search running.
        let mut ed = with_history(HISTORY, "");
        let actions = ed.feed(b"\x12wor\x0c\x1b[5;1R");
        assert!(actions.contains(&EditAction::Redraw));
        assert!(actions.contains(&EditAction::CursorReport(5, 1)));
        assert_eq!(ed.render(80).0, "(reverse-i-search)`wor': hello world");
    }

    #[test]
    fn editor_ctrl_r_row_fits_every_width() {
        let mut ed = with_history(
            &["a very long line about 日本語 and the 👨\u{200d}👩\u{200d}👧 family"],
            "",
        );
        ed.feed("\x12famil".as_bytes());
        let (row, col) = ed.render(100);
        assert_eq!(&row[..28], "(reverse-i-search)`famil': a");
        assert_eq!(char_at_col(&row, col), Some('f'), "{row:?} {col}");
        for width in 0..100 {
            let (row, col) = ed.render(width);
            assert!(str_cols(&row) <= width, "width {width}: {row:?}");
            assert!(col < width.max(1), "width {width}: col {col}");
            if width >= 30 {
                assert_eq!(char_at_col(&row, col), Some('f'), "width {width}: {row:?}");
            }
        }
        // A query too long for the row keeps its end.
        ed.feed(b"y");
        assert_eq!(
            ed.render(28),
            ("(reverse-i-search)`…mily': f".to_string(), 27)
        );
    }
}
