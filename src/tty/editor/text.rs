//! Where the editor's cursor may stop and what it may take: grapheme cluster boundaries
//! (`unicode-segmentation`), so a flag, a ZWJ emoji or a letter with its accents moves
//! and deletes whole; words for Alt-B/F/D and Alt-Backspace, and Ctrl-W's
//! whitespace-delimited word; which characters may be typed into the line. Pure
//! functions of a `&str` and a byte offset.

use unicode_segmentation::{GraphemeCursor, UnicodeSegmentation};

use crate::tty::sanitize::needs_escape;

/// Whether a typed character may enter the line or a search query: tab, and anything
/// else the terminal would show rather than obey.
pub(super) fn is_typeable(c: char) -> bool {
    c == '\t' || !needs_escape(c)
}

/// The grapheme cluster boundary after `at` in `text` (its end at the end).
pub(super) fn next_boundary(text: &str, at: usize) -> usize {
    GraphemeCursor::new(at, text.len(), true)
        .next_boundary(text, 0)
        .expect("the whole text is one chunk, so no other chunk is asked for")
        .unwrap_or(text.len())
}

/// The grapheme cluster boundary before `at` in `text` (0 at the start).
pub(super) fn prev_boundary(text: &str, at: usize) -> usize {
    GraphemeCursor::new(at, text.len(), true)
        .prev_boundary(text, 0)
        .expect("the whole text is one chunk, so no other chunk is asked for")
        .unwrap_or(0)
}

/// `at` if it is a grapheme cluster boundary of `text`, else the one before it.
pub(super) fn floor_boundary(text: &str, at: usize) -> usize {
    let is_boundary = GraphemeCursor::new(at, text.len(), true)
        .is_boundary(text, 0)
        .expect("the whole text is one chunk, so no other chunk is asked for");
    if is_boundary {
        at
    } else {
        prev_boundary(text, at)
    }
}

/// Where the run of grapheme clusters that satisfy `within` and end at `end` starts.
pub(super) fn run_start(line: &str, end: usize, within: impl Fn(&str) -> bool) -> usize {
    line[..end]
        .grapheme_indices(true)
        .rev()
        .take_while(|&(_, cluster)| within(cluster))
        .last()
        .map_or(end, |(at, _)| at)
}

/// Where the run of grapheme clusters that satisfy `within` and start at `start` ends.
pub(super) fn run_end(line: &str, start: usize, within: impl Fn(&str) -> bool) -> usize {
    line[start..]
        .grapheme_indices(true)
        .take_while(|&(_, cluster)| within(cluster))
        .last()
        .map_or(start, |(at, cluster)| start + at + cluster.len())
}

/// Whether a cluster belongs to a word for Alt-B/F/D and Alt-Backspace: letters and
/// digits, as in readline (so `/` and `.` separate words).
pub(super) fn is_word(cluster: &str) -> bool {
    cluster.chars().next().is_some_and(char::is_alphanumeric)
}

/// Whether a cluster is blank, for Ctrl-W.
pub(super) fn is_blank(cluster: &str) -> bool {
    cluster.chars().next().is_some_and(char::is_whitespace)
}

/// Where Alt-B moves: back over non-word clusters, then over the word (readline's
/// `backward-word`).
pub(super) fn word_left(line: &str, cursor: usize) -> usize {
    let end = run_start(line, cursor, |c| !is_word(c));
    run_start(line, end, is_word)
}

/// Where Alt-F moves: over non-word clusters, then to the end of the word (readline's
/// `forward-word`).
pub(super) fn word_right(line: &str, cursor: usize) -> usize {
    let start = run_end(line, cursor, |c| !is_word(c));
    run_end(line, start, is_word)
}

/// Where Ctrl-W's deletion starts: back over blanks, then back over the word
/// (readline's `unix-word-rubout`).
pub(super) fn unix_word_start(line: &str, cursor: usize) -> usize {
    let end = run_start(line, cursor, is_blank);
    run_start(line, end, |c| !is_blank(c))
}
