//! The terminal: what rnc shows there and how (`ui`), the interactive layout and its
//! restore (`terminal`), the line editor (`editor`), the status row's model and renderer
//! (`status`), the display-safe text of received bytes and names (`sanitize`, `width`),
//! and the password question on the controlling terminal (`prompt`). Nothing here reads
//! or writes a socket.

pub(crate) mod editor;
pub(crate) mod prompt;
pub(crate) mod status;
pub(crate) mod terminal;
pub(crate) mod ui;
pub(crate) mod width;

// The pure parsers live in the library target (src/lib.rs), which the fuzz targets share.
pub(crate) use rnc::tty::{keys, sanitize};
