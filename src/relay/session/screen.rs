//! The session's terminal side: keys read into the line editor, typed lines queued for
//! the peer (through the `-C` translator), received bytes handed to the screen with its
//! own drawing, and the status model kept up to date. Only in use when the UI shows
//! something; the relay itself never draws.

use std::io;
use std::time::Instant;

use super::{Session, read_retrying, stdin_error, stdout_error};
use crate::error::Result;
use crate::relay::connection::{DatagramPeer, connection_state};
use crate::tty::status::ConnState;
use crate::tty::ui::{ScreenSink, Ui, UserRequest};

impl Session {
    /// Interactive: terminal keys → line editor. Works before a connection exists too, so
    /// Ctrl-C and typing ahead work while connecting or listening, and after Ctrl-D closed
    /// our side: rnc owns the keyboard until it exits (raw mode has turned ISIG off, so
    /// unread keys would reach the shell afterwards and Ctrl-C would do nothing).
    pub(super) fn read_keys(&mut self) -> Result<bool> {
        if !self.ui.is_interactive()
            || self.keys_closed
            || !self.keys_ready
            || !self.ui.wants_keys()
        {
            return Ok(false);
        }
        let Some(stdin) = &mut self.stdin else {
            return Ok(false);
        };
        let mut keys = [0u8; 4096];
        let mut progress = false;
        while self.ui.wants_keys() {
            match read_retrying(stdin, &mut keys) {
                Ok(0) => {
                    // The terminal hung up: the typed lines end here (`TypedLines`' EOF).
                    self.keys_closed = true;
                    return Ok(true);
                }
                Ok(n) => {
                    progress = true;
                    if self.ui.on_keys(&keys[..n]) == UserRequest::Quit {
                        self.quit_requested = true;
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.keys_ready = false;
                    break;
                }
                Err(source) => {
                    return Err(stdin_error(source));
                }
            }
        }
        if progress {
            // A line may be waiting for the to-peer direction.
            self.to_peer.source_ready = true;
        }
        Ok(progress)
    }

    /// stdout is a terminal: the from-peer direction drains into the screen
    /// (`tty/ui/ends.rs`), which writes the UI's own drawing first.
    pub(super) fn write_screen(&mut self) -> Result<bool> {
        if !self.from_peer.sink_ready || self.from_peer.sink_closed {
            return Ok(false);
        }
        let mut screen = ScreenSink {
            ui: &mut self.ui,
            stdout: &mut self.stdout,
        };
        let result = screen
            .flush()
            .and_then(|drawn| Ok(drawn | (self.from_peer.drain(&mut screen)? > 0)));
        match result {
            Ok(progress) => Ok(progress),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.from_peer.sink_ready = false;
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.from_peer.sink_closed = true;
                self.from_peer.queue.clear();
                Ok(true)
            }
            Err(source) => Err(stdout_error(source)),
        }
    }

    /// The UI, for the loop to report phases (resolving, listening, …).
    pub(crate) fn ui(&mut self) -> &mut Ui {
        &mut self.ui
    }

    /// Ctrl-C in interactive mode.
    pub(crate) fn is_quit_requested(&self) -> bool {
        self.quit_requested
    }

    /// SIGWINCH.
    pub(crate) fn on_resize(&mut self) {
        self.ui.on_resize();
    }

    /// When the UI next wants to redraw.
    pub(crate) fn ui_deadline(&self) -> Option<Instant> {
        self.ui.next_deadline()
    }

    /// Bring the status up to date and redraw it if due, then write what the screen
    /// needs. Cheap when nothing is shown.
    pub(crate) fn refresh_ui(&mut self, now: Instant) -> Result<()> {
        // Serving many, the hub counts the bytes to and from all its clients.
        if let Some(conn) = self.conn.as_ref().filter(|_| !self.options.for_hub) {
            self.ui.set_bytes(conn.bytes_sent, conn.bytes_received);
        }
        self.ui.show_notices();
        // In interactive mode the kernel is asked for the state at every turn, so a change
        // (Ctrl-D, the peer's FIN) shows at once; elsewhere only when a draw is due, so a
        // bulk transfer pays no extra syscall.
        if self.ui.is_interactive() || self.ui.is_draw_due(now) {
            self.update_state();
        }
        if !self.ui.is_draw_due(now) {
            // Screen bytes queued by keys or received text still go out at once.
            self.write_stdout()?;
            return Ok(());
        }
        self.ui.draw(now);
        self.write_stdout()?;
        Ok(())
    }

    /// Bring the status model's state, RTT and datagram peer up to date.
    pub(super) fn update_state(&mut self) {
        if self.options.for_hub {
            return;
        }
        if let Some(conn) = &self.conn {
            let (state, rtt) = connection_state(conn, self.from_peer.source_eof);
            // When the session waits for the user, say how to end it.
            let waits_for_user = state == ConnState::PeerClosed
                && self.ui.is_interactive()
                && !self.to_peer.source_eof;
            self.ui
                .hint(waits_for_user.then_some("Ctrl-D ends, Ctrl-C quits"));
            self.ui.set_state(state);
            self.ui.set_rtt(rtt);
            let peer = match &conn.peer {
                DatagramPeer::Known(addr) => Some(addr.to_string()),
                DatagramPeer::Table(table) => Some(match table.len() {
                    0 => "no peers".to_string(),
                    1 => "1 peer".to_string(),
                    n => format!("{n} peers"),
                }),
                _ => None,
            };
            if let Some(peer) = peer {
                let local = conn.endpoint.local_description();
                self.ui.set_addresses(Some(&local), Some(&peer));
            }
        }
    }
}
