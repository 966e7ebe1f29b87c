//! The words of a room: `--chat`'s lines (`<user3> hello`), its announcements (ncat's
//! wording, so ncat's users and scripts feel at home), the escaping that keeps one client
//! from painting another's terminal, and the sender marks a plain `-k` listener puts on
//! what it shows in a terminal. Pure text; no sockets.

/// The longest line a chat member may send; a longer one is cut into pieces.
const MAX_LINE_BYTES: usize = 16 * 1024;

/// A member's name in the room: `<user0>` is the listener's own user, clients count up
/// from 1.
pub(crate) fn user_label(number: u64) -> String {
    format!("<user{number}>")
}

/// `<announce> ADDR is connected as <userN>.`
pub(crate) fn joined(addr: &str, number: u64) -> String {
    format!(
        "<announce> {addr} is connected as {}.\n",
        user_label(number)
    )
}

/// `<announce> already connected: ADDR as <userN>, …` (or `nobody`), for a newcomer.
pub(crate) fn already_here(others: &[(String, u64)]) -> String {
    if others.is_empty() {
        return "<announce> already connected: nobody.\n".to_string();
    }
    let names: Vec<String> = others
        .iter()
        .map(|(addr, n)| format!("{addr} as {}", user_label(*n)))
        .collect();
    format!("<announce> already connected: {}.\n", names.join(", "))
}

/// `<announce> <userN> is disconnected.`
pub(crate) fn left(number: u64) -> String {
    format!("<announce> {} is disconnected.\n", user_label(number))
}

/// One chat line as the others see it: `<userN> TEXT\n`, control bytes escaped.
pub(crate) fn chat_line(number: u64, line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() + 12);
    out.extend_from_slice(user_label(number).as_bytes());
    out.push(b' ');
    escape_into(&mut out, line);
    out.push(b'\n');
    out
}

/// Copy `bytes` with every control byte but TAB written as `\ooo` (as ncat's `--chat`
/// shows ESC: `\033`), and C1 controls (U+0080–U+009F in UTF-8) as `\u{HH}`, so that no
/// client can move another's cursor, change its colours or retitle its window.
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            out.extend_from_slice(format!("\\{b:03o}").as_bytes());
        } else if b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)) {
            out.extend_from_slice(format!("\\u{{{:02x}}}", bytes[i + 1]).as_bytes());
            i += 1;
        } else {
            out.push(b);
        }
        i += 1;
    }
}

/// Cuts one member's bytes into lines (LF or CRLF), keeping a partial line for later.
#[derive(Default)]
pub(crate) struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// Feed `bytes`; `line` gets each complete line, without its line ending.
    pub(crate) fn feed(&mut self, bytes: &[u8], mut line: impl FnMut(&[u8])) {
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..at]);
            if self.partial.last() == Some(&b'\r') {
                self.partial.pop();
            }
            line(&self.partial);
            self.partial.clear();
            rest = &rest[at + 1..];
        }
        for piece in rest.chunks(MAX_LINE_BYTES) {
            self.partial.extend_from_slice(piece);
            if self.partial.len() >= MAX_LINE_BYTES {
                line(&self.partial);
                self.partial.clear();
            }
        }
        if self.partial.is_empty() {
            // Nothing kept: give the memory back.
            self.partial = Vec::new();
        }
    }

    /// At EOF: what is left, as a last line.
    pub(crate) fn finish(&mut self, mut line: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            line(&self.partial);
            self.partial = Vec::new();
        }
    }
}

/// A plain `-k` listener in a terminal: marks each line shown with the client that sent
/// it (`[client 3] `), and ends a line left open by one client before another's begins.
#[derive(Default)]
pub(crate) struct SenderMarks {
    /// The client whose line is open (not yet ended by a newline).
    open: Option<u64>,
}

impl SenderMarks {
    /// `bytes` from client `sender`, marked.
    pub(crate) fn mark(&mut self, sender: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len() + 16);
        if self.open.is_some_and(|open| open != sender) {
            out.push(b'\n');
            self.open = None;
        }
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            if self.open.is_none() {
                out.extend_from_slice(format!("[client {sender}] ").as_bytes());
                self.open = Some(sender);
            }
            out.extend_from_slice(piece);
            if piece.ends_with(b"\n") {
                self.open = None;
            }
        }
        out
    }

    /// Client `sender` left: end its open line, if any.
    pub(crate) fn close(&mut self, sender: u64) -> Option<&'static [u8]> {
        if self.open == Some(sender) {
            self.open = None;
            return Some(b"\n");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_chat_lines_escape_control_bytes_as_ncat_does() {
        assert_eq!(
            chat_line(4, b"from-A\x1b[31mred"),
            b"<user4> from-A\\033[31mred\n"
        );
        assert_eq!(chat_line(1, b"a\tb\x7f"), b"<user1> a\tb\\177\n");
        assert_eq!(
            chat_line(2, "\u{9b}2J é".as_bytes()),
            "<user2> \\u{9b}2J é\n".as_bytes()
        );
    }

    #[test]
    fn room_lines_join_pieces_and_strip_crlf() {
        let mut lines = Lines::default();
        let mut got = Vec::new();
        lines.feed(b"he", |l| got.push(l.to_vec()));
        lines.feed(b"llo\r\nwor", |l| got.push(l.to_vec()));
        lines.feed(b"ld\n\n", |l| got.push(l.to_vec()));
        lines.finish(|l| got.push(l.to_vec()));
        assert_eq!(
            got,
            vec![b"hello".to_vec(), b"world".to_vec(), b"".to_vec()]
        );
        lines.feed(b"tail", |l| got.push(l.to_vec()));
        lines.finish(|l| got.push(l.to_vec()));
        assert_eq!(got.last().unwrap(), b"tail");
    }

    #[test]
    fn room_long_lines_are_cut() {
        let mut lines = Lines::default();
        let mut got = 0;
        lines.feed(&vec![b'x'; 3 * MAX_LINE_BYTES + 5], |l| {
            assert!(l.len() <= MAX_LINE_BYTES);
            got += 1;
        });
        assert_eq!(got, 3);
    }

    #[test]
    fn room_announcements_read_like_ncat() {
        assert_eq!(
            joined("127.0.0.1", 5),
            "<announce> 127.0.0.1 is connected as <user5>.\n"
        );
        assert_eq!(already_here(&[]), "<announce> already connected: nobody.\n");
        assert_eq!(
            already_here(&[("127.0.0.1".into(), 4), ("::1".into(), 6)]),
            "<announce> already connected: 127.0.0.1 as <user4>, ::1 as <user6>.\n"
        );
        assert_eq!(left(4), "<announce> <user4> is disconnected.\n");
    }

    #[test]
    fn room_sender_marks_end_a_line_another_client_left_open() {
        let mut marks = SenderMarks::default();
        assert_eq!(
            marks.mark(1, b"hello\nwor"),
            b"[client 1] hello\n[client 1] wor"
        );
        assert_eq!(marks.mark(2, b"hi\n"), b"\n[client 2] hi\n");
        assert_eq!(marks.mark(1, b"ld\n"), b"[client 1] ld\n");
        assert_eq!(marks.close(1), None);
        marks.mark(3, b"open");
        assert_eq!(marks.close(3), Some(&b"\n"[..]));
    }
}
