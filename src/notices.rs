//! rnc's notices to the user (`-v` lines, warnings): one line each on stderr, as
//! `rnc: …`, or collected for the UI while it owns the terminal, which shows them in its
//! transcript or above its progress line instead of writing over its rows.
//!
//! A process-wide queue, because notices come from every phase (connecting, listening,
//! the session) and only one UI exists at a time.

use std::io;
use std::sync::Mutex;

/// While the screen belongs to the interactive UI, notices are collected here instead of
/// being written over its rows; the UI shows them in the transcript.
static NOTICES: Mutex<Option<Vec<String>>> = Mutex::new(None);

fn notices() -> std::sync::MutexGuard<'static, Option<Vec<String>>> {
    NOTICES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Print `rnc: {msg}` as one line on stderr (or hand it to the UI while one owns the
/// screen). Errors writing it are ignored: there is nowhere else to report them, and a
/// lost notice must not end a transfer.
pub(crate) fn print_line(msg: &str) {
    use std::io::Write as _;
    if let Some(sink) = notices().as_mut() {
        sink.push(msg.to_string());
        return;
    }
    // Paths and names can hold control characters; they are shown, never obeyed.
    let line = format!("rnc: {}\n", crate::tty::sanitize::escape_for_display(msg));
    let _ = io::stderr().write_all(line.as_bytes());
}

/// Start (`true`) or stop (`false`) collecting notices for the UI.
pub(crate) fn capture_notices(on: bool) {
    *notices() = on.then(Vec::new);
}

/// The notices collected since the last call.
pub(crate) fn take_notices() -> Vec<String> {
    notices().as_mut().map(std::mem::take).unwrap_or_default()
}
