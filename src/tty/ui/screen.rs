//! The screen when stdout is a terminal: its state (the terminal guard and layout, the
//! line editor and the typed lines waiting for the peer), the keys (Ctrl-C, Ctrl-D,
//! Ctrl-Z, Ctrl-L, the cursor report after a resize), resizes and suspending. `ui.rs`
//! decides when it is shown and draws the status model into it.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

use super::{Mode, OUTBOX_MAX_BYTES, Ui, UserRequest};
use crate::tty::editor::{EditAction, LineEditor};
use crate::tty::status::{ConnState, Look, StatusModel};
use crate::tty::terminal::{self, TerminalGuard};

/// The screen's state.
pub(super) struct Screen {
    /// Raw mode and layout; dropping it restores the terminal.
    pub(super) guard: TerminalGuard,
    /// The input row.
    pub(super) editor: LineEditor,
    /// The keys are ours (stdin is the terminal): the editor is shown and fed.
    pub(super) has_editor: bool,
    /// Colours allowed (NO_COLOR unset), ASCII only (not a UTF-8 locale).
    pub(super) look: Look,
    /// Typed lines not yet handed to the session.
    pub(super) outbox: VecDeque<Vec<u8>>,
    /// Their total size.
    pub(super) outbox_bytes: usize,
    /// Bytes of the first line already taken.
    pub(super) outbox_offset: usize,
    /// Ctrl-D was pressed on an empty line.
    pub(super) eof_requested: bool,
    /// A resize to (rows, cols) waits for the terminal's cursor report, asked at that time.
    pub(super) resize_pending: Option<(u16, u16, Instant)>,
    /// The transcript said, since the last connection began, that typed lines wait for a
    /// peer.
    pub(super) waiting_noted: bool,
}

impl Screen {
    pub(super) fn enter(look: Look, stdout: BorrowedFd<'_>, has_editor: bool) -> Option<Screen> {
        let (cols, rows) = crossterm::terminal::size().ok()?;
        let out = std::fs::File::from(stdout.try_clone_to_owned().ok()?);
        let guard = TerminalGuard::enter(out, rows, cols, has_editor).ok()?;
        Some(Screen {
            guard,
            editor: LineEditor::new(),
            has_editor,
            look,
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            outbox_offset: 0,
            eof_requested: false,
            resize_pending: None,
            waiting_noted: false,
        })
    }

    /// Put a typed line in the outbox; returns the bytes that show it in the transcript.
    pub(super) fn queue_line(&mut self, line: Vec<u8>) -> Vec<u8> {
        let shown = String::from_utf8_lossy(&line).into_owned();
        let bytes = self.guard.print_sent(&shown, self.look.color);
        self.outbox_bytes += line.len();
        self.outbox.push_back(line);
        bytes
    }

    /// Bytes that redraw the input and status rows.
    pub(super) fn draw_rows(&mut self, model: &StatusModel) -> Vec<u8> {
        let width = usize::from(self.guard.cols());
        let (input, col) = if self.has_editor {
            self.editor.render(width)
        } else {
            (String::new(), 0)
        };
        let status = model.render(width, self.look);
        self.guard.draw_rows((&input, col), &status)
    }
}

impl Ui {
    /// SIGWINCH: the terminal's size may have changed.
    pub(crate) fn on_resize(&mut self) {
        // Terminals differ on where rows go when they resize (rows deleted under the
        // cursor or pushed into the scrollback; blank rows added or lines pulled back).
        // The cursor sits on the input row, so asking the terminal where it is now tells
        // where the old input row went; the layout moves when the answer arrives, or
        // after RESIZE_REPLY_WAIT without one.
        if let Mode::Screen(screen) = &mut self.mode
            && let Ok((cols, rows)) = crossterm::terminal::size()
            && (rows, cols) != (screen.guard.rows(), screen.guard.cols())
        {
            if screen.has_editor && screen.guard.has_input_row() {
                self.pending.extend(b"\x1b[6n");
                screen.resize_pending = Some((rows, cols, Instant::now()));
            } else {
                // Nobody reads the keys to take the answer (or the cursor is not on an
                // input row to ask about): move the layout blind.
                screen.resize_pending = Some((rows, cols, Instant::now()));
                self.finish_resize(None);
            }
        }
        self.dirty = true;
    }

    /// A resize waits for the terminal's cursor report: nothing may be drawn meanwhile,
    /// received text included, because the old row numbers no longer hold.
    pub(crate) fn is_resizing(&self) -> bool {
        matches!(&self.mode, Mode::Screen(s) if s.resize_pending.is_some())
    }

    /// Move the layout to the pending size: at the reported row, or blind after a
    /// timeout.
    pub(super) fn finish_resize(&mut self, reported_row: Option<u16>) {
        if let Mode::Screen(screen) = &mut self.mode
            && let Some((rows, cols, _)) = screen.resize_pending.take()
        {
            let bytes = match reported_row {
                Some(row) => screen.guard.resize_at(rows, cols, row),
                None => screen.guard.resize(rows, cols),
            };
            self.pending.extend(bytes);
            self.pending.extend(screen.draw_rows(&self.model));
            self.dirty = true;
        }
    }

    /// Interactive: feed key bytes to the editor. Lines go to the outbox (and the
    /// transcript); returns what the user asked for.
    pub(crate) fn on_keys(&mut self, bytes: &[u8]) -> UserRequest {
        let Mode::Screen(screen) = &mut self.mode else {
            return UserRequest::None;
        };
        let mut request = UserRequest::None;
        let mut reported = None;
        let mut suspend = false;
        for action in screen.editor.feed(bytes) {
            match action {
                EditAction::Send(line) if screen.eof_requested => {
                    // Our side is closed: nothing more can reach the peer. Say so, with
                    // the line (Up brings it back from the history).
                    let shown = String::from_utf8_lossy(&line);
                    let shown = shown.trim_end_matches(['\r', '\n']);
                    let note = format!("not sent, you closed your side (Ctrl-D): {shown}");
                    self.pending
                        .extend(screen.guard.print_note(&note, screen.look.color));
                }
                EditAction::Send(line) => {
                    if let Some(note) = waiting_note(self.model.state)
                        && !screen.waiting_noted
                    {
                        screen.waiting_noted = true;
                        self.pending
                            .extend(screen.guard.print_note(note, screen.look.color));
                    }
                    self.pending.extend(screen.queue_line(line));
                }
                EditAction::Eof if screen.eof_requested => {}
                EditAction::Eof => {
                    screen.eof_requested = true;
                    self.model.note = Some("you closed your side (Ctrl-D)".to_string());
                    self.model.hint = None;
                }
                EditAction::Interrupt => request = UserRequest::Quit,
                EditAction::Redraw => self.pending.extend(screen.guard.clear_transcript()),
                EditAction::Suspend => suspend = true,
                EditAction::CursorReport(row, _) => reported = Some(row),
                EditAction::Changed => {}
            }
        }
        if reported.is_some() {
            self.finish_resize(reported);
        }
        if suspend {
            self.suspend(true);
        }
        let Mode::Screen(screen) = &mut self.mode else {
            return request;
        };
        // The input row follows the keys at once; only the status row is rate-limited.
        // While a resize waits for the terminal's answer, the old positions are wrong.
        if screen.resize_pending.is_none() {
            self.pending.extend(screen.draw_rows(&self.model));
        }
        request
    }

    /// Ctrl-Z in the editor, or SIGTSTP (the terminal's own Ctrl-Z when the editor is
    /// off, or `kill -TSTP`): hand the terminal back as it was, stop the process group as
    /// the terminal's Ctrl-Z would, and take the terminal again when continued (`fg`).
    /// rnc catches SIGTSTP, so it stops with SIGSTOP: the whole process group for the
    /// editor's Ctrl-Z (raw mode turned the terminal's own off), itself alone for a
    /// SIGTSTP (the terminal or the sender signalled whom it meant).
    pub(crate) fn suspend(&mut self, whole_group: bool) {
        self.hand_back();
        // This stops us here until SIGCONT.
        let stop = rustix::process::Signal::STOP;
        let _ = if whole_group {
            rustix::process::kill_current_process_group(stop)
        } else {
            rustix::process::kill_process(rustix::process::getpid(), stop)
        };
        self.take_back();
    }

    /// Give the terminal back as it was before rnc drew on it (pending screen bytes
    /// written first, the progress line erased), for a stop or for a question on the
    /// terminal (`tty/prompt.rs`); `take_back` draws again.
    pub(crate) fn hand_back(&mut self) {
        let stdout = io::stdout();
        let pending: Vec<u8> = self.pending.drain(..).collect();
        let _ = terminal::write_fd_retrying(stdout.as_fd(), &pending);
        match &mut self.mode {
            Mode::Screen(screen) => screen.guard.suspend(),
            Mode::Progress { visible, .. } => {
                if std::mem::take(visible) {
                    let _ = io::stderr().write_all(b"\r\x1b[K");
                }
            }
            Mode::Plain => {}
        }
    }

    /// Take the terminal again after `hand_back`, at its current size, and redraw.
    pub(crate) fn take_back(&mut self) {
        if let Mode::Screen(screen) = &mut self.mode {
            let (cols, rows) =
                crossterm::terminal::size().unwrap_or((screen.guard.cols(), screen.guard.rows()));
            let resumed = io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map(std::fs::File::from)
                .and_then(|out| screen.guard.resume(out, rows, cols));
            if resumed.is_ok() {
                self.pending.extend(screen.draw_rows(&self.model));
            }
        }
        self.dirty = true;
        self.last_draw = None;
    }

    /// Interactive: whether stdin may be read (the outbox has room).
    pub(crate) fn wants_keys(&self) -> bool {
        match &self.mode {
            Mode::Screen(screen) => screen.outbox_bytes < OUTBOX_MAX_BYTES,
            _ => true,
        }
    }

    /// Interactive: copy typed bytes into `buf`, oldest line first, and return how many;
    /// `None` when no line waits. With `whole` (one datagram per line) a line is taken
    /// only all at once, and only when it fits.
    pub(crate) fn take_typed(&mut self, buf: &mut [u8], whole: bool) -> Option<usize> {
        let Mode::Screen(screen) = &mut self.mode else {
            return None;
        };
        let line = screen.outbox.front()?;
        let rest = &line[screen.outbox_offset..];
        if whole && rest.len() > buf.len() {
            return None;
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        screen.outbox_offset += n;
        if screen.outbox_offset == line.len() {
            screen.outbox_bytes -= line.len();
            screen.outbox.pop_front();
            screen.outbox_offset = 0;
        }
        Some(n)
    }

    /// Interactive: Ctrl-D was pressed and every typed line has been taken.
    pub(crate) fn is_eof_requested(&self) -> bool {
        matches!(&self.mode, Mode::Screen(s) if s.eof_requested && s.outbox.is_empty())
    }
}

/// What to say in the transcript when a line is typed in `state`, where nobody can
/// receive it yet: it is kept and sent once a peer is there.
fn waiting_note(state: ConnState) -> Option<&'static str> {
    match state {
        ConnState::Listening | ConnState::WaitingForDatagram => {
            Some("no one is connected: typed lines are sent when a peer connects")
        }
        ConnState::Resolving | ConnState::Connecting => {
            Some("not connected yet: typed lines are sent once connected")
        }
        _ => None,
    }
}
