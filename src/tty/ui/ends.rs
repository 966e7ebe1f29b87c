//! The terminal as a `Direction`'s two ends, plugged in where stdin and stdout go
//! otherwise: the line editor's typed lines are the to-peer source (`TypedLines`), the
//! screen is the from-peer sink (`ScreenSink`: received bytes escaped and printed above
//! the rows, after whatever the UI has to draw). So a typed line goes editor → direction →
//! socket, and a received byte socket → direction → screen, with no trip back through the
//! session.

use std::io;

use super::Ui;
use crate::relay::direction::{Sink, Source};
use crate::relay::stdio::StdStream;

/// Received bytes handed to the screen at a time (keeps each escape pass short).
const SCREEN_CHUNK_BYTES: usize = 16 * 1024;

/// The editor's typed lines as a source: `WouldBlock` while none waits, EOF after Ctrl-D
/// (once every line before it is taken) or when the terminal hung up.
pub(crate) struct TypedLines<'a> {
    pub(crate) ui: &'a mut Ui,
    /// One whole line per read (a datagram each).
    pub(crate) whole: bool,
    /// The terminal hung up: no more keys will come.
    pub(crate) keys_closed: bool,
}

impl Source for TypedLines<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.ui.take_typed(buf, self.whole) {
            Some(n) => Ok(n),
            None if self.keys_closed || self.ui.is_eof_requested() => Ok(0),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn is_drained(&self, _asked: usize, _got: usize) -> bool {
        // Lines are in memory: read until `WouldBlock` (a datagram takes one per fill).
        false
    }
}

/// The screen as a sink: what the UI has to write (drawing, notes, earlier text) goes
/// first, then each chunk received is escaped and printed above the rows.
pub(crate) struct ScreenSink<'a> {
    pub(crate) ui: &'a mut Ui,
    pub(crate) stdout: &'a mut StdStream,
}

impl ScreenSink<'_> {
    /// Write what the UI has pending; `WouldBlock` when the terminal takes no more now.
    pub(crate) fn flush(&mut self) -> io::Result<bool> {
        let mut wrote = false;
        loop {
            let pending = self.ui.pending_screen();
            if pending.is_empty() {
                return Ok(wrote);
            }
            match self.stdout.write(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.ui.screen_written(n);
                    wrote = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Sink for ScreenSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The screen's own bytes first, so received text never overtakes a redraw; and
        // none while a resize waits for the terminal's answer.
        self.flush()?;
        if self.ui.is_resizing() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(SCREEN_CHUNK_BYTES);
        self.ui.on_received(&buf[..n]);
        // Taken: what the terminal cannot take now waits in the UI, and the next write
        // waits for it.
        match self.flush() {
            Ok(_) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(n),
            Err(e) => Err(e),
        }
    }

    fn short_write_fills(&self) -> bool {
        false
    }
}
