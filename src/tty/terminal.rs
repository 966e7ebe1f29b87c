//! The interactive screen: `TerminalGuard` puts the terminal into rnc's layout (raw mode,
//! bracketed paste, a scroll region) and the single idempotent `restore()` puts it back,
//! from `Drop`, the panic hook or a signal path alike.
//!
//! Layout (rows counted from 1, `R` = terminal rows, no alternate screen):
//!
//! ```text
//! row 1      ┐
//! …          │ scroll region 1..R-2: the transcript (received text, sent lines)
//! row R-2    ┘ scrolls into the terminal's own scrollback
//! row R-1      input row:  "> line being typed", the cursor lives here
//! row R        status row: "tcp connected 127.0.0.1:5000 ⇄ …"
//! ```
//!
//! The transcript's own cursor (where the next received byte goes, possibly in the middle
//! of a partial line such as `login: `) is kept in the terminal's single DECSC slot: every
//! print restores it with `ESC 8`, writes, saves it with `ESC 7`, and puts the cursor back
//! on the input row. So nothing else may use `ESC 7`/`ESC 8` (crossterm's
//! `SavePosition`/`RestorePosition`) while the guard lives. The methods that draw return
//! the bytes instead of writing them, so the event loop can queue them with its other
//! output and so they are testable without a terminal; only `enter` and `restore` write.
//! Raw mode turns off the terminal's LF → CRLF, so text given to `print_above` must use
//! `\r\n` (the `DisplaySanitizer` output does).
//!
//! Without the editor (stdout a terminal, stdin not: `rnc HOST PORT < file`) there is no
//! input row and no raw mode: the transcript takes rows 1..R-1 and the cursor stays at the
//! transcript's end. The peer's text always keeps a scroll region of at least two rows, so
//! a small terminal drops the status row first, then the input row (`Layout`); with no
//! row left for them the transcript is the whole screen and typed text shows once sent.
//!
//! Which rows a terminal of a given height gets (`Layout`) and the sequences that set the
//! layout up and take it down are in `terminal/layout.rs`; this file owns the guard, the
//! process-wide state `restore()` reads, and every write to the terminal.

use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use crate::tty::sanitize::escape_for_display;

mod layout;

use layout::{Layout, enter_sequence, push_move_to, teardown_sequence};

/// Raw mode (and maybe the layout) is on and `restore()` has work to do.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The layout sequence reached the terminal: the scroll region is set and the DECSC slot
/// holds the transcript cursor.
static LAYOUT_DRAWN: AtomicBool = AtomicBool::new(false);
/// The rows rnc draws under the transcript, as `first << 16 | last` (1-based; 0 for
/// none), so `restore()` erases exactly those.
static DRAWN_ROWS: AtomicU32 = AtomicU32::new(0);
/// Raw mode was entered (the editor reads the keys), so `restore()` drops unread keys.
static RAW_MODE: AtomicBool = AtomicBool::new(false);
/// The transcript's last line has no newline yet, so `restore()` must end it.
static PARTIAL_LINE: AtomicBool = AtomicBool::new(false);
/// Where `enter` and `restore` write (stderr or the tty).
static OUT: Mutex<Option<Box<dyn Write + Send>>> = Mutex::new(None);

/// How often `restore()` retries a write that says `WouldBlock` (stderr may share a
/// non-blocking file description), one millisecond apart.
const WOULD_BLOCK_RETRIES: u32 = 1000;

/// The marker in front of lines we sent, so the transcript tells them from received ones.
pub(crate) const SENT_MARKER: &str = "> ";

/// The marker in front of rnc's own notices in the transcript.
pub(crate) const NOTE_MARKER: &str = "-- rnc: ";

/// The terminal in interactive layout; dropping it calls `restore()`.
#[derive(Debug)]
pub(crate) struct TerminalGuard {
    /// Terminal height in rows.
    rows: u16,
    /// Terminal width in columns.
    cols: u16,
    /// The last transcript byte was not `\n`: the transcript cursor is mid-line.
    partial_line: bool,
    /// The cursor's column on the input row (0-based), from the last `draw_rows`.
    input_col: u16,
    /// The line editor is on: raw mode, bracketed paste, and an input row when there is
    /// room for one.
    editor: bool,
}

impl TerminalGuard {
    /// Enter interactive layout on a terminal of `rows` × `cols`: raw mode, bracketed
    /// paste, the scroll region, and empty input and status rows, written to `out` (kept
    /// for `restore()`). The transcript starts on the line where the cursor was. On error
    /// everything done so far is undone. Only one guard may exist at a time.
    pub(crate) fn enter<W: Write + Send + 'static>(
        out: W,
        rows: u16,
        cols: u16,
        editor: bool,
    ) -> io::Result<Self> {
        activate(out, Layout::new(rows, editor))?;
        Ok(Self::with_size(rows, cols, editor))
    }

    /// Ctrl-Z: give the terminal back exactly as it was, for the shell to use while rnc
    /// is stopped. `resume` takes it again.
    pub(crate) fn suspend(&mut self) {
        restore();
    }

    /// After SIGCONT: enter the layout again on `out` at the (possibly new) size; the
    /// transcript goes on from the line where the cursor is now.
    pub(crate) fn resume<W: Write + Send + 'static>(
        &mut self,
        out: W,
        rows: u16,
        cols: u16,
    ) -> io::Result<()> {
        activate(out, Layout::new(rows, self.editor))?;
        // Field by field: assigning a new guard would drop this one, and its `Drop`
        // would restore the terminal again.
        self.rows = rows;
        self.cols = cols;
        self.partial_line = false;
        self.input_col = 0;
        Ok(())
    }

    /// The guard's bookkeeping alone, without touching the terminal.
    fn with_size(rows: u16, cols: u16, editor: bool) -> Self {
        Self {
            rows,
            cols,
            partial_line: false,
            input_col: 0,
            editor,
        }
    }

    /// The rows drawn at the current size.
    fn layout(&self) -> Layout {
        Layout::new(self.rows, self.editor)
    }

    /// Whether an input row is drawn (the cursor is parked there between draws).
    pub(crate) fn has_input_row(&self) -> bool {
        self.layout().input_row().is_some()
    }

    /// Terminal height in rows.
    pub(crate) fn rows(&self) -> u16 {
        self.rows
    }

    /// Terminal width in columns.
    pub(crate) fn cols(&self) -> u16 {
        self.cols
    }

    /// Bytes that add already-sanitized `text` to the transcript, continuing a partial
    /// line, and put the cursor back on the input row.
    pub(crate) fn print_above(&mut self, text: &[u8]) -> Vec<u8> {
        let Some(&last) = text.last() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(text.len() + 32);
        out.extend_from_slice(b"\x1b[?25l\x1b8");
        out.extend_from_slice(text);
        out.extend_from_slice(b"\x1b7");
        self.partial_line = last != b'\n';
        PARTIAL_LINE.store(self.partial_line, Ordering::SeqCst);
        self.layout().push_park(&mut out, self.input_col, false);
        out.extend_from_slice(b"\x1b[?25h");
        out
    }

    /// Bytes that add a line we sent to the transcript, on a line of its own, behind
    /// `SENT_MARKER` (in cyan with `color`). `line` may end in `\n`.
    pub(crate) fn print_sent(&mut self, line: &str, color: bool) -> Vec<u8> {
        self.print_marked(SENT_MARKER, line, color.then_some("\x1b[36m"))
    }

    /// Bytes that add one of rnc's own notices (`-v` lines) to the transcript, on a line
    /// of its own behind `NOTE_MARKER` (dim with `color`).
    pub(crate) fn print_note(&mut self, line: &str, color: bool) -> Vec<u8> {
        self.print_marked(NOTE_MARKER, line, color.then_some("\x1b[2m"))
    }

    fn print_marked(&mut self, marker: &str, line: &str, sgr: Option<&str>) -> Vec<u8> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut text = String::new();
        if self.partial_line {
            text.push_str("\r\n");
        }
        if let Some(sgr) = sgr {
            text.push_str(sgr);
        }
        text.push_str(marker);
        text.push_str(&escape_for_display(line));
        if sgr.is_some() {
            text.push_str("\x1b[0m");
        }
        text.push_str("\r\n");
        self.print_above(text.as_bytes())
    }

    /// Bytes that redraw the input row (`input.0`, with the cursor at column `input.1`,
    /// as `LineEditor::render` gives them) and the status row. Both must already fit the
    /// width; autowrap is off while drawing, so an overlong row is clipped, never
    /// scrolled.
    pub(crate) fn draw_rows(&mut self, input: (&str, usize), status: &str) -> Vec<u8> {
        let layout = self.layout();
        if layout.reserved() == 0 {
            return Vec::new();
        }
        let (text, col) = input;
        let last_col = self.cols.saturating_sub(1);
        self.input_col = u16::try_from(col).unwrap_or(u16::MAX).min(last_col);
        let mut out = Vec::with_capacity(text.len() + status.len() + 48);
        out.extend_from_slice(b"\x1b[?25l\x1b[?7l");
        if let Some(row) = layout.input_row() {
            push_move_to(&mut out, row, 1);
            out.extend_from_slice(b"\x1b[2K");
            out.extend_from_slice(text.as_bytes());
        }
        if let Some(status_row) = layout.status_row() {
            push_move_to(&mut out, status_row, 1);
            out.extend_from_slice(b"\x1b[2K");
            out.extend_from_slice(status.as_bytes());
            out.extend_from_slice(b"\x1b[0m");
        }
        out.extend_from_slice(b"\x1b[?7h");
        layout.push_park(&mut out, self.input_col, true);
        out.extend_from_slice(b"\x1b[?25h");
        out
    }

    /// Bytes for Ctrl-L: scroll the whole transcript region into the terminal's
    /// scrollback (nothing is erased, so the conversation stays readable there) and start
    /// the transcript again at the top row. Call `draw_rows` afterwards.
    pub(crate) fn clear_transcript(&mut self) -> Vec<u8> {
        let layout = self.layout();
        let bottom = layout.region_bottom();
        let mut out = Vec::with_capacity(usize::from(bottom) + 48);
        out.extend_from_slice(b"\x1b[?25l");
        layout.push_scroll_region(&mut out);
        push_move_to(&mut out, bottom, 1);
        out.extend(std::iter::repeat_n(b'\n', usize::from(bottom)));
        push_move_to(&mut out, 1, 1);
        out.extend_from_slice(b"\x1b7");
        self.partial_line = false;
        PARTIAL_LINE.store(false, Ordering::SeqCst);
        layout.push_park(&mut out, self.input_col, false);
        out.extend_from_slice(b"\x1b[?25h");
        out
    }

    /// Bytes that move the layout to a terminal of the new size (after SIGWINCH): a new
    /// scroll region, cleared input and status rows, and the transcript continuing on
    /// the region's last row (on a fresh line if it was mid-line, because the terminal
    /// may have moved or reflowed it). Call `draw_rows` afterwards.
    pub(crate) fn resize(&mut self, rows: u16, cols: u16) -> Vec<u8> {
        let old = self.layout();
        self.rows = rows;
        self.cols = cols;
        self.input_col = 0;
        let new = self.layout();
        record_layout(new);
        let mut out = Vec::with_capacity(48);
        out.extend_from_slice(b"\x1b[?25l");
        if old.reserved() == 0 {
            // Nothing was drawn; the transcript goes on from where it was.
            out.extend_from_slice(b"\x1b8");
            if self.partial_line {
                out.extend_from_slice(b"\r\n");
            }
            new.push_scroll_region_keeping_cursor(&mut out);
        } else {
            // Terminals differ on where old rows go: shrinking may delete rows under the
            // cursor or push rows off the top; growing may add blank rows at the bottom or
            // pull lines back from the scrollback. Clearing from the higher of the old and
            // new first drawn rows removes the old input and status rows in the common
            // cases.
            let smaller = if old.rows <= new.rows { old } else { new };
            new.push_scroll_region(&mut out);
            push_move_to(&mut out, smaller.region_bottom() + 1, 1);
            out.extend_from_slice(b"\x1b[J");
            // Continue the transcript on a fresh bottom line, so the next received text
            // can never overwrite a line the terminal moved there.
            push_move_to(&mut out, new.region_bottom(), 1);
            out.push(b'\n');
        }
        self.partial_line = false;
        PARTIAL_LINE.store(false, Ordering::SeqCst);
        out.extend_from_slice(b"\x1b7");
        new.push_park(&mut out, 0, false);
        out.extend_from_slice(b"\x1b[?25h");
        out
    }
}

impl TerminalGuard {
    /// Bytes that move the layout to a terminal of the new size, knowing where the old
    /// input row went: `old_input_row` is the cursor's row as the terminal reported it
    /// after the resize (the cursor was parked on the input row). Everything from there
    /// down (the old input and status rows, and blank rows a grown terminal added) is
    /// cleared, and the transcript goes on right below its last line. Call `draw_rows`
    /// afterwards.
    pub(crate) fn resize_at(&mut self, rows: u16, cols: u16, old_input_row: u16) -> Vec<u8> {
        self.rows = rows;
        self.cols = cols;
        self.input_col = 0;
        let layout = self.layout();
        record_layout(layout);
        let bottom = layout.region_bottom();
        let mut row = old_input_row.clamp(1, rows.max(1));
        // Where the transcript goes on: the blank line it left above the input row, or,
        // after a partial line, a fresh line below it.
        let mut next = if self.partial_line {
            row
        } else {
            row.saturating_sub(1).max(1)
        };
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"\x1b[?25l\x1b[r");
        if next > bottom {
            // Transcript lines sit where the new input and status rows go: scroll the
            // whole screen up so they stay above them (and reach the scrollback).
            let lift = next - bottom;
            push_move_to(&mut out, rows, 1);
            out.extend(std::iter::repeat_n(b'\n', usize::from(lift)));
            row = row.saturating_sub(lift).max(1);
            next -= lift;
        }
        layout.push_scroll_region(&mut out);
        push_move_to(&mut out, row, 1);
        out.extend_from_slice(b"\x1b[J");
        push_move_to(&mut out, next, 1);
        out.extend_from_slice(b"\x1b[2K");
        self.partial_line = false;
        PARTIAL_LINE.store(false, Ordering::SeqCst);
        out.extend_from_slice(b"\x1b7");
        layout.push_park(&mut out, 0, false);
        out.extend_from_slice(b"\x1b[?25h");
        out
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Raw mode, bracketed paste and the layout, written to `out` (kept for `restore()`). On
/// error everything done so far is undone.
fn activate<W: Write + Send + 'static>(out: W, layout: Layout) -> io::Result<()> {
    if ACTIVE.swap(true, Ordering::SeqCst) {
        return Err(io::Error::other(
            "the terminal is already in interactive mode",
        ));
    }
    *lock_out() = Some(Box::new(out));
    PARTIAL_LINE.store(false, Ordering::SeqCst);
    // Without the editor the terminal keeps its modes: Ctrl-C and Ctrl-Z stay the
    // terminal's, and nobody reads keys to answer for them.
    if layout.editor
        && let Err(e) = crossterm::terminal::enable_raw_mode()
    {
        restore();
        return Err(e);
    }
    RAW_MODE.store(layout.editor, Ordering::SeqCst);
    let written = match lock_out().as_mut() {
        Some(out) => write_all_retrying(out, &enter_sequence(layout)),
        None => Err(io::Error::other("terminal output missing")),
    };
    if let Err(e) = written {
        restore();
        return Err(e);
    }
    record_layout(layout);
    LAYOUT_DRAWN.store(true, Ordering::SeqCst);
    Ok(())
}

/// Put the terminal back as it was before `TerminalGuard::enter`: scroll region reset,
/// input and status rows cleared (the shell prompt then follows the transcript), cursor
/// visible, bracketed paste off, raw mode off. Idempotent and safe to call from a panic
/// hook or when interactive mode was never entered; it never panics and ignores errors,
/// because there is nobody left to tell.
pub(crate) fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    // Keys typed while rnc ran were meant for rnc: drop what it did not read, so the
    // shell never runs them (raw mode made them plain input, Enter included). Before the
    // rows are cleared, so that whatever is typed once rnc's screen is visibly gone
    // reaches the shell.
    let stdin = io::stdin();
    if RAW_MODE.swap(false, Ordering::SeqCst) && crate::sys::is_tty(&stdin) {
        let _ = rustix::termios::tcflush(&stdin, rustix::termios::QueueSelector::IFlush);
    }
    let drawn = LAYOUT_DRAWN.swap(false, Ordering::SeqCst);
    let partial = PARTIAL_LINE.swap(false, Ordering::SeqCst);
    let rows = DRAWN_ROWS.swap(0, Ordering::SeqCst);
    let rows = (rows != 0).then_some(((rows >> 16) as u16, rows as u16));
    let bytes = teardown_sequence(drawn, partial, rows);
    // try_lock: a panic while `enter` held the lock must not deadlock the hook.
    let out = match OUT.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    };
    if let Some(mut writer) = out.and_then(|mut out| out.take()) {
        let _ = write_all_retrying(&mut writer, &bytes);
    }
    let _ = crossterm::terminal::disable_raw_mode();
}

/// The lock on `OUT`, also after a panic poisoned it.
fn lock_out() -> MutexGuard<'static, Option<Box<dyn Write + Send>>> {
    OUT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Remember which rows `layout` draws, for `restore()`.
fn record_layout(layout: Layout) {
    let rows = match layout.reserved() {
        0 => 0,
        _ => u32::from(layout.region_bottom() + 1) << 16 | u32::from(layout.rows),
    };
    DRAWN_ROWS.store(rows, Ordering::SeqCst);
}

/// Write all of `bytes` to a possibly non-blocking fd (stdout shares its description with
/// the shell), the one blocking way rnc writes to a terminal: the queued screen bytes before
/// the terminal is handed back, and `restore()`'s own.
pub(crate) fn write_fd_retrying(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<()> {
    write_all_retrying(&mut FdWriter(fd), bytes)
}

/// `Write` over a borrowed fd, without buffering.
struct FdWriter<'fd>(BorrowedFd<'fd>);

impl Write for FdWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::write(self.0, buf)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `write_all` then `flush`, retrying `Interrupted` and, for a while, `WouldBlock`.
fn write_all_retrying(out: &mut dyn Write, mut bytes: &[u8]) -> io::Result<()> {
    let mut retries = 0;
    while !bytes.is_empty() {
        match out.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && retries < WOULD_BLOCK_RETRIES => {
                retries += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    loop {
        match out.flush() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && retries < WOULD_BLOCK_RETRIES => {
                retries += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU16;

    use super::*;

    /// Rows the emulator keeps above the screen, more than any test scrolls away.
    const SCROLLBACK_ROWS: usize = 1000;

    /// What a user sees of the bytes this module writes: the `vt100` emulator (as in the
    /// pty tests), read back as text.
    struct Emulator(vt100::Parser);

    fn nonzero(n: u16) -> NonZeroU16 {
        NonZeroU16::new(n).expect("terminal sizes are positive")
    }

    impl Emulator {
        fn new(rows: u16, cols: u16) -> Self {
            Self(vt100::Parser::new(
                nonzero(rows),
                nonzero(cols),
                SCROLLBACK_ROWS,
            ))
        }

        fn write(&mut self, bytes: &[u8]) {
            self.0.process(bytes);
        }

        fn screen(&self) -> &vt100::Screen {
            self.0.screen()
        }

        /// The visible rows, trailing blanks trimmed.
        fn lines(&self) -> Vec<String> {
            let cols = self.screen().size().1.get();
            self.screen()
                .rows(0, cols)
                .map(|row| row.trim_end().to_string())
                .collect()
        }

        /// Visible row `row` (0-based), trailing blanks trimmed.
        fn line(&self, row: u16) -> String {
            self.lines()[usize::from(row)].clone()
        }

        /// The cursor as (row, column), 0-based.
        fn cursor(&self) -> (u16, u16) {
            self.screen().cursor_position()
        }

        /// The rows scrolled off the top, oldest first, trailing blanks trimmed: what the
        /// user finds scrolling back.
        fn scrollback(&self) -> Vec<String> {
            let mut screen = self.screen().clone();
            let cols = screen.size().1.get();
            let len = screen.scrollback_len();
            (0..len)
                .map(|i| {
                    // Scrolled back by `len - i` rows, the top row is the i-th oldest.
                    screen.set_scrollback(len - i);
                    let top = screen.rows(0, cols).next().unwrap_or_default();
                    top.trim_end().to_string()
                })
                .collect()
        }

        /// The terminal resized as vt100 (after xterm) does it: shrinking first drops the
        /// rows under the cursor, then pushes top rows into the scrollback; growing pulls
        /// them back. The cursor and the saved cursor move with the text.
        fn resize(&mut self, rows: u16, cols: u16) {
            self.0.set_size(nonzero(rows), nonzero(cols));
        }
    }

    /// Where `needle` last occurs in `bytes`.
    fn rfind(bytes: &[u8], needle: &[u8]) -> Option<usize> {
        bytes.windows(needle.len()).rposition(|w| w == needle)
    }

    /// Whether `bytes` end with autowrap on: a DECSET 7 after the last DECRST 7, if any.
    /// vt100 does not implement DECAWM (it always wraps), so this is read off the bytes.
    fn leaves_autowrap_on(bytes: &[u8]) -> bool {
        let on = rfind(bytes, b"\x1b[?7h");
        on.is_some() && on > rfind(bytes, b"\x1b[?7l")
    }

    /// Whether `text` is drawn with autowrap off: after a DECRST 7 that no DECSET 7
    /// undoes first. Read off the bytes for the same reason as `leaves_autowrap_on`.
    fn drawn_without_autowrap(bytes: &[u8], text: &str) -> bool {
        let Some(at) = rfind(bytes, text.as_bytes()) else {
            return false;
        };
        let before = &bytes[..at];
        let off = rfind(before, b"\x1b[?7l");
        off.is_some() && off > rfind(before, b"\x1b[?7h")
    }

    /// The rows `term` draws under the transcript, as `restore()` knows them.
    fn drawn_rows(term: &TerminalGuard) -> Option<(u16, u16)> {
        let layout = term.layout();
        (layout.reserved() > 0).then(|| (layout.region_bottom() + 1, layout.rows))
    }

    /// A `rows`×`cols` screen with a shell command on its first row, in rnc's layout.
    fn entered(rows: u16, cols: u16) -> (Emulator, TerminalGuard) {
        let mut screen = Emulator::new(rows, cols);
        screen.write(b"$ rnc host 5000\r\n");
        screen.write(&enter_sequence(Layout::new(rows, true)));
        let mut term = TerminalGuard::with_size(rows, cols, true);
        screen.write(&term.draw_rows(("> ", 2), "tcp connected"));
        (screen, term)
    }

    #[test]
    fn terminal_enter_sets_layout_below_the_command() {
        let (mut screen, mut term) = entered(10, 20);
        assert_eq!(screen.line(0), "$ rnc host 5000");
        assert_eq!(screen.line(8), ">");
        assert_eq!(screen.line(9), "tcp connected");
        assert_eq!(screen.cursor(), (8, 2), "cursor after the prompt");
        assert!(screen.screen().bracketed_paste() && !screen.screen().hide_cursor());
        screen.write(&term.print_above(b"first\r\n"));
        assert_eq!(
            screen.lines()[..3],
            ["$ rnc host 5000", "first", ""],
            "transcript starts under the command"
        );
        // The scroll region is rows 1..8: the transcript scrolls into the scrollback,
        // the input and status rows stay put.
        for i in 0..6 {
            screen.write(&term.print_above(format!("line {i}\r\n").as_bytes()));
        }
        assert_eq!(screen.scrollback(), ["$ rnc host 5000"]);
        assert_eq!(
            screen.lines(),
            [
                "first",
                "line 0",
                "line 1",
                "line 2",
                "line 3",
                "line 4",
                "line 5",
                "",
                ">",
                "tcp connected"
            ]
        );
    }

    #[test]
    fn terminal_enter_at_bottom_scrolls_screen_up() {
        let mut screen = Emulator::new(6, 20);
        for i in 0..6 {
            screen.write(format!("old {i}\r\n").as_bytes());
        }
        assert_eq!(screen.cursor(), (5, 0));
        screen.write(&enter_sequence(Layout::new(6, true)));
        assert_eq!(screen.line(2), "old 5", "nothing is overwritten");
        assert_eq!(screen.scrollback(), ["old 0", "old 1", "old 2"]);
        assert!(screen.line(3).is_empty() && screen.line(4).is_empty());
        // The transcript goes on on the first free row, the region's last.
        let mut term = TerminalGuard::with_size(6, 20, true);
        screen.write(&term.print_above(b"new"));
        assert_eq!(screen.lines()[..4], ["old 3", "old 4", "old 5", "new"]);
    }

    #[test]
    fn terminal_print_above_continues_partial_lines() {
        let (mut screen, mut term) = entered(10, 20);
        screen.write(&term.print_above(b"hello\r\nlogin: "));
        assert_eq!(screen.line(1), "hello");
        assert_eq!(screen.line(2), "login:");
        assert_eq!(screen.cursor(), (8, 2), "cursor back on the input row");
        assert!(!screen.screen().hide_cursor());
        screen.write(&term.print_above(b"root\r\n"));
        assert_eq!(screen.line(1), "hello");
        assert_eq!(screen.line(2), "login: root");
        assert_eq!(screen.line(8), ">");
        assert_eq!(screen.line(9), "tcp connected");
        assert_eq!(screen.cursor(), (8, 2));
        assert!(term.print_above(b"").is_empty());
    }

    #[test]
    fn terminal_print_above_scrolls_only_the_region() {
        let (mut screen, mut term) = entered(10, 20);
        screen.write(&term.draw_rows(("> typing", 8), "tcp connected ↑ 1 B"));
        for i in 0..20 {
            screen.write(&term.print_above(format!("line {i}\r\n").as_bytes()));
        }
        assert_eq!(screen.line(0), "line 13");
        assert_eq!(screen.line(6), "line 19");
        assert_eq!(
            screen.line(7),
            "",
            "the transcript cursor waits on an empty row"
        );
        assert_eq!(screen.line(8), "> typing", "the typed line survives");
        assert_eq!(screen.line(9), "tcp connected ↑ 1 B");
        assert_eq!(screen.cursor(), (8, 8));
        let mut scrolled = vec!["$ rnc host 5000".to_string()];
        scrolled.extend((0..13).map(|i| format!("line {i}")));
        assert_eq!(
            screen.scrollback(),
            scrolled,
            "every line reached the scrollback"
        );
    }

    #[test]
    fn terminal_print_above_wraps_long_lines_inside_region() {
        let (mut screen, mut term) = entered(6, 10);
        screen.write(&term.print_above("0123456789abcdefghijé".as_bytes()));
        assert_eq!(screen.line(1), "0123456789");
        assert_eq!(screen.line(2), "abcdefghij");
        assert_eq!(screen.line(3), "é");
        assert_eq!(screen.line(4), ">");
        screen.write(&term.print_above(b"!"));
        assert_eq!(screen.line(3), "é!", "the wrapped line goes on");
    }

    #[test]
    fn terminal_print_sent_marks_and_starts_fresh_line() {
        let (mut screen, mut term) = entered(10, 20);
        screen.write(&term.print_above(b"login: "));
        screen.write(&term.print_sent("root\n", false));
        screen.write(&term.print_above(b"ok\r\n"));
        assert_eq!(screen.line(1), "login:");
        assert_eq!(screen.line(2), "> root");
        assert_eq!(screen.line(3), "ok");
        screen.write(&term.print_sent("x\x1b[2J", true));
        screen.write(&term.print_above(b"plain\r\n"));
        assert_eq!(
            screen.line(4),
            "> x^[[2J",
            "the escape is shown, not obeyed"
        );
        assert_eq!(screen.line(1), "login:", "the screen was not cleared");
        let color = |row, col| screen.screen().cell(row, col).expect("cell").fgcolor();
        assert_eq!(color(4, 0), vt100::Color::Idx(6), "the marker in cyan");
        assert_eq!(color(4, 7), vt100::Color::Idx(6), "the line in cyan");
        assert_eq!(
            color(5, 0),
            vt100::Color::Default,
            "the colour ends with it"
        );
    }

    #[test]
    fn terminal_draw_rows_places_cursor_and_clips() {
        let (mut screen, mut term) = entered(5, 10);
        let before = screen.lines()[..3].to_vec();
        let bytes = term.draw_rows(("> abc", 3), "a status that is too long");
        screen.write(&bytes);
        assert_eq!(screen.line(3), "> abc");
        assert_eq!(screen.cursor(), (3, 3));
        // vt100 always wraps, so it shows the overlong status row wrapped onto itself;
        // that it is drawn with autowrap off (clipped on a real terminal) is on the bytes.
        assert!(drawn_without_autowrap(&bytes, "a status that is too long"));
        assert!(leaves_autowrap_on(&bytes));
        assert_eq!(screen.lines()[..3], before, "nothing scrolled");
        assert!(screen.scrollback().is_empty(), "nothing scrolled");
        assert!(!screen.screen().hide_cursor());
        screen.write(&term.draw_rows(("> x", 99), ""));
        assert_eq!(screen.cursor(), (3, 9), "cursor stays on screen");
        assert_eq!(screen.line(3), "> x");
        assert_eq!(screen.line(4), "");
    }

    #[test]
    fn terminal_restore_sequence_leaves_prompt_after_transcript() {
        let (mut screen, mut term) = entered(10, 20);
        screen.write(&term.print_above(b"hello\r\n"));
        let bytes = teardown_sequence(true, term.partial_line, drawn_rows(&term));
        screen.write(&bytes);
        assert_eq!(screen.cursor(), (2, 0));
        assert_eq!(screen.lines()[..3], ["$ rnc host 5000", "hello", ""]);
        assert!(screen.lines()[3..].iter().all(String::is_empty));
        assert!(!screen.screen().hide_cursor() && !screen.screen().bracketed_paste());
        assert!(leaves_autowrap_on(&bytes));
        // The scroll region is gone: what the shell prints scrolls the whole screen.
        for i in 0..12 {
            screen.write(format!("out {i}\r\n").as_bytes());
        }
        assert_eq!(screen.line(8), "out 11");
        assert_eq!(screen.cursor(), (9, 0));

        let (mut screen, mut term) = entered(10, 20);
        screen.write(&term.print_above(b"login: "));
        screen.write(&teardown_sequence(
            true,
            term.partial_line,
            drawn_rows(&term),
        ));
        assert_eq!(screen.line(1), "login:");
        assert_eq!(screen.cursor(), (2, 0), "a partial line is ended");
        assert!(screen.lines()[2..].iter().all(String::is_empty));
    }

    #[test]
    fn terminal_restore_sequence_after_full_transcript() {
        let (mut screen, mut term) = entered(6, 20);
        screen.write(&term.print_above(b"1\r\n2\r\n3\r\n4\r\n5\r\nprompt> "));
        screen.write(&teardown_sequence(
            true,
            term.partial_line,
            drawn_rows(&term),
        ));
        assert_eq!(screen.lines(), ["3", "4", "5", "prompt>", "", ""]);
        assert_eq!(screen.cursor(), (4, 0));
        assert_eq!(screen.scrollback(), ["$ rnc host 5000", "1", "2"]);
    }

    #[test]
    fn terminal_teardown_without_layout_keeps_cursor() {
        let mut screen = Emulator::new(5, 10);
        screen.write(b"abc");
        screen.write(&teardown_sequence(false, false, None));
        assert_eq!(screen.cursor(), (0, 3));
        assert_eq!(screen.line(0), "abc");
        assert!(screen.lines()[1..].iter().all(String::is_empty));
    }

    #[test]
    fn terminal_resize_moves_layout() {
        let (mut screen, mut term) = entered(10, 20);
        screen.write(&term.print_above(b"a\r\nb\r\nc\r\nd\r\ne\r\nf\r\ng\r\nh\r\n"));
        screen.write(&term.draw_rows(("> typed", 7), "status"));
        // Shrink: the terminal drops the status row under the cursor and pushes the top
        // rows into the scrollback. The transcript goes on on a fresh bottom line, so
        // nothing the terminal moved there is overwritten.
        screen.resize(6, 20);
        screen.write(&term.resize(6, 20));
        screen.write(&term.draw_rows(("> typed", 7), "status"));
        assert_eq!(screen.lines(), ["f", "g", "h", "", "> typed", "status"]);
        screen.write(&term.print_above(b"i\r\n"));
        assert_eq!(screen.lines(), ["g", "h", "i", "", "> typed", "status"]);
        assert_eq!(
            screen.scrollback(),
            ["$ rnc host 5000", "a", "b", "c", "d", "e", "f"]
        );
        // Grow, mid-line.
        screen.write(&term.print_above(b"part"));
        screen.resize(8, 30);
        screen.write(&term.resize(8, 30));
        screen.write(&term.draw_rows(("> typed", 7), "status"));
        screen.write(&term.print_above(b"j\r\n"));
        // Blind (no cursor report), a terminal that pulls lines back on growing may lose
        // a few visible lines, but the layout is whole and nothing is overwritten.
        let lines = screen.lines();
        assert_eq!(screen.line(4), "j", "{lines:?}");
        assert_eq!(screen.line(6), "> typed");
        assert_eq!(screen.line(7), "status");
        assert_eq!(
            lines.iter().filter(|l| l.starts_with('>')).count(),
            1,
            "{lines:?}"
        );
        assert_eq!((term.rows(), term.cols()), (8, 30));
    }

    #[test]
    fn terminal_resize_at_reported_row_keeps_transcript_whole() {
        let (mut screen, mut term) = entered(10, 20);
        screen.write(&term.print_above(b"a\r\nb\r\nc\r\nd\r\ne\r\nf\r\ng\r\nh\r\n"));
        screen.write(&term.draw_rows(("> typed", 7), "status"));
        // Shrink, then tell the guard where the cursor (the old input row) went.
        screen.resize(6, 20);
        screen.write(&term.resize_at(6, 20, screen.cursor().0 + 1));
        screen.write(&term.draw_rows(("> typed", 7), "status"));
        screen.write(&term.print_above(b"i\r\n"));
        assert_eq!(screen.lines(), ["g", "h", "i", "", "> typed", "status"]);
        // Grow mid-line: the partial line is finished on a fresh line.
        screen.write(&term.print_above(b"part"));
        screen.resize(8, 30);
        screen.write(&term.resize_at(8, 30, screen.cursor().0 + 1));
        screen.write(&term.draw_rows(("> typed", 7), "status"));
        screen.write(&term.print_above(b"j\r\n"));
        assert_eq!(
            screen.lines(),
            ["g", "h", "i", "part", "j", "", "> typed", "status"]
        );
        assert_eq!(
            screen.scrollback(),
            ["$ rnc host 5000", "a", "b", "c", "d", "e", "f"]
        );
    }

    #[test]
    fn terminal_clear_transcript_keeps_it_in_scrollback() {
        let (mut screen, mut term) = entered(6, 20);
        screen.write(&term.print_above(b"one\r\ntwo\r\nlogin: "));
        screen.write(&term.draw_rows(("> ab", 4), "status"));
        screen.write(&term.clear_transcript());
        assert_eq!(screen.lines(), ["", "", "", "", "> ab", "status"]);
        assert_eq!(screen.cursor(), (4, 4));
        assert_eq!(
            screen.scrollback(),
            ["$ rnc host 5000", "one", "two", "login:"]
        );
        screen.write(&term.print_above(b"next\r\n"));
        assert_eq!(screen.line(0), "next");
        assert!(!term.partial_line);
    }

    #[test]
    fn terminal_tiny_screens_do_not_break() {
        for rows in 1..=4 {
            let mut screen = Emulator::new(rows, 5);
            screen.write(&enter_sequence(Layout::new(rows, true)));
            let mut term = TerminalGuard::with_size(rows, 5, true);
            screen.write(&term.draw_rows(("> ab", 4), "st"));
            screen.write(&term.print_above(b"hello world\r\n"));
            screen.resize(rows, 4);
            screen.write(&term.resize(rows, 4));
            screen.write(&teardown_sequence(
                true,
                term.partial_line,
                drawn_rows(&term),
            ));
            let text = [screen.scrollback(), screen.lines()].concat().concat();
            assert_eq!(
                text, "hell word",
                "{rows} rows: the transcript, cut to 4 columns"
            );
            assert!(!screen.screen().hide_cursor(), "{rows} rows");
            assert!(!screen.screen().bracketed_paste(), "{rows} rows");
        }
    }

    #[test]
    fn terminal_restore_without_enter_is_a_no_op() {
        restore();
        restore();
        assert!(!ACTIVE.load(Ordering::SeqCst));
    }

    #[test]
    fn terminal_write_all_retrying_handles_would_block() {
        struct Flaky {
            written: Vec<u8>,
            calls: u32,
        }
        impl Write for Flaky {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.calls += 1;
                match self.calls % 3 {
                    1 => Err(io::ErrorKind::WouldBlock.into()),
                    2 => Err(io::ErrorKind::Interrupted.into()),
                    _ => {
                        self.written.push(buf[0]);
                        Ok(1)
                    }
                }
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out = Flaky {
            written: Vec::new(),
            calls: 0,
        };
        write_all_retrying(&mut out, b"\x1b[r").unwrap();
        assert_eq!(out.written, b"\x1b[r");
    }
}
