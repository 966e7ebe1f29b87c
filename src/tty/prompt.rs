//! Asking for a password on the controlling terminal, as OpenBSD nc's `readpassphrase`
//! does for `-P USER`: the prompt is written to `/dev/tty` (never stdout, which carries
//! peer bytes only), echo is off while the user types, and the terminal's settings come
//! back when the prompt is dropped, whatever ended it (Enter, a signal, an error, a
//! panic unwinding).
//!
//! The terminal stays in canonical mode with signals on, so its own line editing works
//! (Backspace, Ctrl-U) and Ctrl-C arrives as SIGINT. The fd is non-blocking: the caller
//! (`net/proxy.rs`) waits for it on the loop, so a signal ends rnc while the prompt is
//! up. Owns no loop and no screen: the caller hands the screen back first (`Ui`).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::termios::{InputModes, LocalModes, OptionalActions, Termios};

/// The longest answer taken: far above any password a proxy accepts (SOCKS5 takes 255
/// bytes), and below the terminal's own line limit.
const MAX_ANSWER_BYTES: usize = 1024;

/// A question on `/dev/tty` with echo off; dropping it restores the terminal.
pub(crate) struct PasswordPrompt {
    /// `/dev/tty`, opened for this prompt (non-blocking, not made our controlling
    /// terminal).
    tty: OwnedFd,
    /// The terminal's settings before the prompt.
    saved: Termios,
    /// What was typed so far.
    answer: Vec<u8>,
}

impl PasswordPrompt {
    /// Open the controlling terminal, turn its echo off and write `question`. Fails when
    /// there is no controlling terminal (`ENXIO`) or it cannot be set up.
    pub(crate) fn open(question: &str) -> io::Result<PasswordPrompt> {
        let tty = rustix::fs::open(
            "/dev/tty",
            OFlags::RDWR | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let saved = rustix::termios::tcgetattr(&tty)?;
        let mut quiet = saved.clone();
        quiet
            .local_modes
            .remove(LocalModes::ECHO | LocalModes::ECHOE | LocalModes::ECHOK | LocalModes::ECHONL);
        quiet
            .local_modes
            .insert(LocalModes::ICANON | LocalModes::ISIG);
        // Enter sends CR: it must end the line.
        quiet.input_modes.insert(InputModes::ICRNL);
        // Flush: keys typed before the question are not taken as its answer.
        rustix::termios::tcsetattr(&tty, OptionalActions::Flush, &quiet)?;
        let prompt = PasswordPrompt {
            tty,
            saved,
            answer: Vec::new(),
        };
        prompt.write(question.as_bytes())?;
        Ok(prompt)
    }

    /// The terminal's fd, for the loop to watch (readable).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.tty.as_fd()
    }

    /// Read what the terminal has: `Ok(Some(answer))` once the line is complete (Enter,
    /// or Ctrl-D), `Ok(None)` while it is not.
    pub(crate) fn read_answer(&mut self) -> io::Result<Option<String>> {
        let mut buf = [0u8; 256];
        loop {
            match rustix::io::read(&self.tty, &mut buf) {
                Ok(0) => return Ok(Some(self.take_answer())),
                Ok(n) => {
                    self.answer.extend_from_slice(&buf[..n]);
                    if let Some(end) = self.answer.iter().position(|&b| b == b'\n') {
                        self.answer.truncate(end);
                        return Ok(Some(self.take_answer()));
                    }
                    if self.answer.len() > MAX_ANSWER_BYTES {
                        return Err(io::Error::other(format!(
                            "the answer is longer than {MAX_ANSWER_BYTES} bytes"
                        )));
                    }
                }
                Err(rustix::io::Errno::AGAIN) => return Ok(None),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn take_answer(&mut self) -> String {
        let answer = std::mem::take(&mut self.answer);
        let answer = answer.strip_suffix(b"\r").unwrap_or(&answer);
        String::from_utf8_lossy(answer).into_owned()
    }

    /// Write all of `bytes` to the terminal (a short prompt: a few retries suffice).
    fn write(&self, mut bytes: &[u8]) -> io::Result<()> {
        let mut retries = 0;
        while !bytes.is_empty() {
            match rustix::io::write(&self.tty, bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) if retries < 100 => {
                    retries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

impl Drop for PasswordPrompt {
    /// Echo back on, and end the prompt's line (the Enter was not echoed).
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(&self.tty, OptionalActions::Now, &self.saved);
        let _ = self.write(b"\r\n");
    }
}
