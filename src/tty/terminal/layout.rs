//! The rows a terminal of a given height gets (`Layout`: the transcript's scroll region,
//! the input row, the status row, dropped in that order of need on small terminals) and
//! the byte sequences that set the layout up and take it down. Pure: bytes out, nothing
//! written; `terminal.rs` owns the guard, its state and the writing.

/// The bytes `enter` writes: make room for the two bottom rows (scrolling the screen up
/// if the cursor is near the bottom), remember the transcript cursor, set the scroll
/// region, clear the bottom rows, turn on bracketed paste.
pub(super) fn enter_sequence(layout: Layout) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    // As many line feeds as rows drawn, then as many rows up: the cursor ends on
    // min(its row, the region's bottom), the rows below it exist, and whatever was on
    // screen above stays where it was.
    let reserved = layout.reserved();
    out.push(b'\r');
    if reserved > 0 {
        out.extend(std::iter::repeat_n(b'\n', usize::from(reserved)));
        out.extend_from_slice(format!("\x1b[{reserved}A").as_bytes());
    }
    out.extend_from_slice(b"\x1b7");
    if reserved > 0 {
        layout.push_scroll_region(&mut out);
        push_move_to(&mut out, layout.region_bottom() + 1, 1);
        out.extend_from_slice(b"\x1b[J");
        layout.push_park(&mut out, 0, false);
    }
    if layout.editor {
        out.extend_from_slice(b"\x1b[?2004h");
    }
    out
}

/// The bytes `restore` writes. Without the layout, only modes are reset: `ESC [ r` and
/// `ESC 8` would send the cursor to the top left.
///
/// rnc's own rows (`rows`, first and last) are erased one by one, never with "erase
/// below" from the transcript cursor: when that cursor is at the top left, erasing below
/// is clearing the screen, which tmux (`scroll-on-clear`) and others copy into the
/// scrollback, with rnc's input and status rows in it.
pub(super) fn teardown_sequence(
    layout_drawn: bool,
    partial_line: bool,
    rows: Option<(u16, u16)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    if layout_drawn {
        out.extend_from_slice(b"\x1b[r");
        if let Some((first, last)) = rows {
            for row in first..=last {
                push_move_to(&mut out, row, 1);
                out.extend_from_slice(b"\x1b[2K");
            }
        }
        out.extend_from_slice(b"\x1b8");
        if partial_line {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\x1b[0m\x1b[?7h\x1b[?25h\x1b[?2004l");
    out
}

/// Which rows rnc draws on a terminal `rows` tall. The peer's text always keeps a scroll
/// region of at least two rows (DECSTBM needs two), so a small terminal drops the status
/// row first, then the input row: with the editor, 4 rows or more have both, 3 rows an
/// input row only, and 1 or 2 rows the transcript alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// Terminal height.
    pub(super) rows: u16,
    /// The line editor is on.
    pub(super) editor: bool,
    /// An input row is drawn (under the transcript).
    input: bool,
    /// A status row is drawn (the last row).
    status: bool,
}

/// Rows the transcript keeps at least, when anything else is drawn.
const MIN_TRANSCRIPT_ROWS: u16 = 2;

impl Layout {
    pub(super) fn new(rows: u16, editor: bool) -> Layout {
        let rows = rows.max(1);
        let fits = |reserved: u16| rows >= reserved + MIN_TRANSCRIPT_ROWS;
        let (input, status) = match editor {
            true if fits(2) => (true, true),
            true => (fits(1), false),
            false => (false, fits(1)),
        };
        Layout {
            rows,
            editor,
            input,
            status,
        }
    }

    /// Rows drawn under the transcript.
    pub(super) fn reserved(self) -> u16 {
        u16::from(self.input) + u16::from(self.status)
    }

    /// The last row of the transcript (1-based).
    pub(super) fn region_bottom(self) -> u16 {
        self.rows - self.reserved()
    }

    /// The input row (1-based), if drawn.
    pub(super) fn input_row(self) -> Option<u16> {
        self.input.then_some(self.region_bottom() + 1)
    }

    /// The status row (1-based), if drawn.
    pub(super) fn status_row(self) -> Option<u16> {
        self.status.then_some(self.rows)
    }

    /// DECSTBM for the transcript (the whole screen when nothing else is drawn). Setting
    /// it also moves the cursor to the top left.
    pub(super) fn push_scroll_region(self, out: &mut Vec<u8>) {
        if self.reserved() > 0 {
            out.extend_from_slice(format!("\x1b[1;{}r", self.region_bottom()).as_bytes());
        } else {
            out.extend_from_slice(b"\x1b[r");
        }
    }

    /// `push_scroll_region`, then back to where the cursor was.
    pub(super) fn push_scroll_region_keeping_cursor(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\x1b7");
        self.push_scroll_region(out);
        out.extend_from_slice(b"\x1b8");
    }

    /// Where the cursor waits between draws: on the input row at column `col`, or, with
    /// no input row, at the transcript's end. `moved` says the cursor left that end
    /// since it was saved (`ESC 7`), so it must be restored (`ESC 8`).
    pub(super) fn push_park(self, out: &mut Vec<u8>, col: u16, moved: bool) {
        match self.input_row() {
            Some(row) => push_move_to(out, row, col + 1),
            None if moved => out.extend_from_slice(b"\x1b8"),
            None => {}
        }
    }
}

/// CUP to a 1-based row and column.
pub(super) fn push_move_to(out: &mut Vec<u8>, row: u16, col: u16) {
    out.extend_from_slice(format!("\x1b[{row};{col}H").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_layout_drops_the_status_row_then_the_input_row() {
        let rows = |n, editor| {
            let l = Layout::new(n, editor);
            (l.input_row(), l.status_row(), l.region_bottom())
        };
        assert_eq!(rows(24, true), (Some(23), Some(24), 22));
        assert_eq!(rows(4, true), (Some(3), Some(4), 2));
        assert_eq!(rows(3, true), (Some(3), None, 2), "no status row");
        assert_eq!(rows(2, true), (None, None, 2), "the transcript alone");
        assert_eq!(rows(1, true), (None, None, 1));
        assert_eq!(rows(0, true), (None, None, 1), "at least one row");
        assert_eq!(
            rows(24, false),
            (None, Some(24), 23),
            "no editor, no input row"
        );
        assert_eq!(rows(2, false), (None, None, 2));
    }
}
