//! Interactive mode in a real pseudo-terminal (Linux only).
//!
//! rnc runs on the slave side of a pty that is its controlling terminal, as under a shell
//! (`setsid --ctty`, so `/dev/tty` is this pty even when the suite itself runs in a
//! terminal). The test types on the master side and reads what rnc draws through the
//! `vt100` terminal emulator; the peer is a real loopback TCP socket. The harness that
//! does all this is `util::pty`; this file holds the tests only.
//!
//! Every wait is bounded (10 s) and waits for something observable: the screen, the
//! peer's socket or the exit. Each test records the terminal's mode before rnc starts and
//! checks, whatever the exit path, that rnc leaves exactly that mode behind (same
//! `stty -g`), a visible cursor, no status or input row, no scroll region, no bracketed
//! paste and no colour.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use rustix::process::Signal;

use crate::util::pty::{
    ARROWS, COLS, Launch, NEXT_PROMPT, Peer, ROWS, SHELL_LINE, Tty, assert_no_progress_left,
    connected, connected_with_history, interactive_listener, shows_percent_below_100, status_rows,
    wait_for_file,
};
use crate::util::{Deadline, RNC, Tmux, accept_tcp, recv_udp, temp_dir, udp_socket};

#[test]
fn tty_status_row_shows_connected_and_addresses() {
    let (mut tty, peer) = connected(&[]);
    let status = tty.status_row();
    assert!(status.starts_with("tcp connected"), "{}", tty.dump());
    assert!(
        status.contains(&format!("{} {ARROWS} {}", peer.rnc, peer.local)),
        "local ⇄ peer on the status row\n{}",
        tty.dump()
    );
    assert_eq!(tty.input_row(), ">", "empty input row with the prompt");
    assert_eq!(tty.screen().cursor_position(), (ROWS - 2, 2));
    assert_eq!(tty.line(0), SHELL_LINE, "the shell's line is kept");
    assert!(tty.screen().bracketed_paste());
    // With colour, the state stands out; the transcript has none.
    let cells = tty.status_cells();
    assert!(cells[4].inverse() && cells[4].fgcolor() == vt100::Color::Idx(2));
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_peer_text_appears_in_transcript() {
    let (mut tty, mut peer) = connected(&[]);
    peer.send(b"hello from the peer\nsecond line\n");
    tty.wait_line("second line");
    assert_eq!(tty.line(0), SHELL_LINE);
    assert_eq!(tty.line(1), "hello from the peer");
    assert_eq!(tty.line(2), "second line");
    assert_eq!(tty.input_row(), ">");
    assert!(tty.status_row().contains("connected"));
    assert_eq!(tty.screen().cursor_position(), (ROWS - 2, 2));
    tty.wait_for("the byte count on the status row", |t| {
        t.status_row().contains("↓ 32 B")
    });
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_partial_line_appears_at_once() {
    let (mut tty, mut peer) = connected(&[]);
    peer.send(b"login: ");
    tty.wait_line("login:");
    assert_eq!(tty.row_of("login:"), 1);
    assert_eq!(tty.input_row(), ">", "the input row is not disturbed");
    assert_eq!(tty.screen().cursor_position(), (ROWS - 2, 2));
    // The rest of the line continues it.
    peer.send(b"root\nPassword: ");
    tty.wait_line("Password:");
    assert_eq!(tty.line(1), "login: root");
    assert_eq!(tty.line(2), "Password:");
    tty.signal(Signal::TERM);
    let at_exit = tty.expect_exit(143);
    // rnc ended the partial line, so the prompt is on a line of its own.
    assert_eq!(at_exit[2], "Password:", "{at_exit:#?}");
    assert_eq!(at_exit[3], NEXT_PROMPT, "{at_exit:#?}");
}

#[test]
fn tty_peer_escape_sequences_are_shown_not_obeyed() {
    let (mut tty, mut peer) = connected(&[]);
    peer.send(b"first line\n");
    tty.wait_line("first line");
    peer.send(
        b"\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b[31mred\x1b[0m\x1b[5;5H\x1b[?25l\x1b[?1049h\n\
          c1 \xc2\x9b2J bad \xff bell \x07 cr\rx\n\
          after\n",
    );
    tty.wait_line("after");
    let screen = tty.dump();
    assert_eq!(tty.line(0), SHELL_LINE, "{screen}");
    assert_eq!(tty.line(1), "first line", "nothing was cleared\n{screen}");
    assert_eq!(
        tty.line(2),
        "^[[2J^[[H^[]0;pwned^G^[[31mred^[[0m^[[5;5H^[[?25l^[[?1049h",
        "{screen}"
    );
    assert_eq!(
        tty.line(3),
        "c1 \\x9b2J bad \\xff bell ^G cr^Mx",
        "{screen}"
    );
    assert_eq!(tty.line(4), "after", "{screen}");
    assert_eq!(tty.input_row(), ">", "{screen}");
    assert!(tty.status_row().contains("connected"), "{screen}");
    assert_eq!(tty.screen().cursor_position(), (ROWS - 2, 2), "{screen}");
    assert!(!tty.screen().hide_cursor() && !tty.screen().alternate_screen());
    let effects = tty.parser.callbacks();
    assert!(effects.titles.is_empty(), "window retitled: {effects:?}");
    assert_eq!((effects.bells, effects.clipboard), (0, 0), "{effects:?}");
    // No colour reached the transcript.
    for row in 0..ROWS - 2 {
        for col in 0..COLS {
            let cell = tty.screen().cell(row, col).expect("cell");
            assert_eq!(cell.fgcolor(), vt100::Color::Default, "({row}, {col})");
        }
    }
    drop(peer);
    tty.keys(b"\x04");
    tty.expect_exit(0);
}

#[test]
fn tty_typed_line_survives_incoming_text() {
    let (mut tty, mut peer) = connected(&[]);
    tty.keys(b"draft text");
    tty.wait_input("draft text", 10);
    // More than a screenful, in pieces, some of them mid-line.
    for i in 0..30 {
        peer.send(format!("incoming {i}\nmore {i} ").as_bytes());
    }
    peer.send(b"\nlast\n");
    tty.wait_line("last");
    let screen = tty.dump();
    assert_eq!(tty.input_row(), "> draft text", "{screen}");
    assert_eq!(tty.screen().cursor_position(), (ROWS - 2, 12), "{screen}");
    assert!(tty.status_row().contains("connected"), "{screen}");
    assert_eq!(tty.line(ROWS - 5), "more 29", "{screen}");
    assert_eq!(tty.line(ROWS - 4), "last", "{screen}");
    assert_eq!(tty.line(ROWS - 3), "", "{screen}");
    tty.keys(b" more\r");
    peer.expect(b"draft text more\n");
    tty.wait_sent("draft text more");
    assert_eq!(tty.input_row(), ">");
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_enter_sends_line_and_shows_it() {
    let (mut tty, mut peer) = connected(&[]);
    peer.send(b"what is your name?\n");
    tty.wait_line("what is your name?");
    tty.keys(b"hello");
    tty.wait_input("hello", 5);
    tty.keys(b"\r");
    peer.expect(b"hello\n");
    tty.wait_sent("hello");
    assert_eq!(tty.row_of("> hello"), 2, "under the received text");
    tty.wait_input("", 0);
    peer.send(b"nice\n");
    tty.wait_line("nice");
    assert_eq!(tty.row_of("nice"), 3);
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_enter_with_crlf_sends_crlf() {
    let (mut tty, mut peer) = connected(&["-C"]);
    tty.keys(b"GET / HTTP/1.0\r\r");
    peer.expect(b"GET / HTTP/1.0\r\n\r\n");
    tty.wait_sent("GET / HTTP/1.0");
    assert_eq!(tty.line(2), ">", "the empty line is shown too");
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_line_editing_keys() {
    let (mut tty, mut peer) = connected(&[]);
    // Backspace.
    tty.keys(b"wrold\x7f\x7f\x7f\x7f");
    tty.wait_input("w", 1);
    tty.keys(b"orld");
    tty.wait_input("world", 5);
    // Home (xterm's CSI H), then insert at the start.
    tty.keys(b"\x1b[Hhello, ");
    tty.wait_input("hello, world", 7);
    // End, then Left ×5 (CSI and SS3 forms), insert in the middle.
    tty.keys(b"\x1b[F\x1b[D\x1b[D\x1bOD\x1b[D\x1b[Dbig ");
    tty.wait_input("hello, big world", 11);
    // Ctrl-A, Right, Backspace: delete the first character; Ctrl-E.
    tty.keys(b"\x01\x1b[C\x7f\x05!");
    tty.wait_input("ello, big world!", 16);
    tty.keys(b"\r");
    peer.expect(b"ello, big world!\n");
    tty.wait_sent("ello, big world!");
    tty.wait_input("", 0);
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

/// Wide characters (CJK) take two columns on screen: the cursor must land after them,
/// and a line wider than the screen must scroll so the row still fits and the cursor
/// stays on it.
#[test]
fn tty_wide_characters_keep_the_cursor_in_place() {
    let (mut tty, mut peer) = connected(&[]);
    tty.keys("日本語 ok".as_bytes());
    let at = |t: &Tty, col: u16| t.screen().cursor_position() == (t.rows() - 2, col);
    tty.wait_for(
        "日本語 ok with the cursor after it, at column 2 + 9",
        |t| t.input_row() == "> 日本語 ok" && at(t, 11),
    );
    tty.keys(b"\x1b[D\x1b[D\x1b[D\x1b[D");
    tty.wait_for("the cursor on 語, at column 2 + 4", |t| at(t, 6));
    tty.keys(b"\x05\x15");
    // 70 wide characters: 140 columns on a 100-column screen.
    let long: String = "漢字".repeat(35);
    tty.keys(long.as_bytes());
    tty.wait_for(
        "the end of the long line, cursor in the last columns",
        |t| {
            let row = t.input_row();
            let col = t.screen().cursor_position().1;
            row.starts_with("> ") && row.ends_with("漢字") && (COLS - 2..COLS).contains(&col)
        },
    );
    let screen = tty.dump();
    assert!(tty.status_row().contains("connected"), "{screen}");
    tty.keys(b"\r");
    peer.expect(format!("{long}\n").as_bytes());
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_bracketed_paste_sends_all_lines_in_order() {
    let (mut tty, mut peer) = connected(&[]);
    tty.keys(b"\x1b[200~one\rtwo\nthree\x1b[201~");
    peer.expect(b"one\ntwo\n");
    tty.wait_input("three", 5);
    tty.keys(b"\r");
    peer.expect(b"three\n");
    tty.wait_sent("three");
    assert_eq!(tty.line(1), "> one");
    assert_eq!(tty.line(2), "> two");
    assert_eq!(tty.line(3), "> three");
    // A paste with a trailing newline sends every line at once.
    tty.keys(b"\x1b[200~a\rb\rc\r\x1b[201~");
    peer.expect(b"a\nb\nc\n");
    tty.wait_sent("c");
    tty.wait_input("", 0);
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_resize_moves_status_row() {
    let (mut tty, mut peer) = connected_with_history();
    // Shrink: the terminal drops the row under the cursor (the status row) and pushes
    // the top rows into its scrollback; rnc draws a status row again, 60 columns wide.
    tty.resize(8, 60);
    tty.wait_for("the status row on row 8 of 8", |t| {
        t.status_row().contains("tcp connected")
    });
    tty.wait_input("abc", 3);
    let screen = tty.dump();
    assert_eq!(status_rows(&tty), 1, "one status row\n{screen}");
    assert!(
        tty.lines().iter().all(|l| l.chars().count() <= 60),
        "{screen}"
    );
    assert!(
        tty.transcript().contains(&"line 13".to_string()),
        "{screen}"
    );

    // Grow: the terminal pulls rows back from its scrollback, the old status row lands
    // on the last row; rnc redraws it 100 columns wide, with both addresses.
    tty.resize(12, 100);
    tty.wait_for("a 100-column status row on row 12 of 12", |t| {
        t.status_row().contains("tcp connected") && t.status_row().contains(ARROWS)
    });
    tty.wait_input("abc", 3);
    assert_eq!(status_rows(&tty), 1, "one status row\n{}", tty.dump());

    // The editor still works at the new size.
    tty.keys(b"d\r");
    peer.expect(b"abcd\n");
    tty.wait_input("", 0);
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_resize_shrink_keeps_transcript() {
    let (mut tty, mut peer) = connected_with_history();
    tty.resize(8, 60);
    tty.wait_for("the status row on row 8 of 8", |t| {
        t.status_row().contains("tcp connected")
    });
    peer.send(b"after\n");
    tty.wait_for("`after` on screen", |t| {
        t.lines().iter().any(|l| l.contains("after"))
    });
    let transcript = tty.transcript();
    let last = transcript.iter().position(|l| l == "line 14");
    let after = transcript.iter().position(|l| l == "after");
    assert!(
        last.is_some() && after == last.map(|r| r + 1),
        "`after` follows `line 14` on a row of its own\n{}",
        tty.dump()
    );
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_resize_grow_leaves_no_stale_rows() {
    let (mut tty, _peer) = Launch::new(&[]).size(8, 80).connect();
    tty.resize(14, 80);
    tty.wait_for("the status row on row 14 of 14", |t| {
        t.status_row().contains("tcp connected")
    });
    let screen = tty.dump();
    assert_eq!(status_rows(&tty), 1, "one status row\n{screen}");
    assert_eq!(
        tty.lines().iter().filter(|l| l.starts_with('>')).count(),
        1,
        "one input row\n{screen}"
    );
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_ctrl_d_half_closes_and_still_shows_peer() {
    let (mut tty, mut peer) = connected(&["-v"]);
    tty.keys(b"bye\r\x04");
    peer.expect(b"bye\n");
    peer.expect_eof();
    tty.wait_line("-- rnc: sent FIN (stdin EOF)");
    tty.wait_for("the status row to say we closed our side", |t| {
        t.status_row().contains("closed your side")
    });
    peer.send(b"still here\n");
    tty.wait_line("still here");
    assert_eq!(tty.input_row().trim_end(), ">", "{}", tty.dump());
    drop(peer);
    let at_exit = tty.expect_exit(0);
    let shutdown = at_exit.iter().position(|l| l.contains("sent FIN"));
    let reply = at_exit.iter().position(|l| l == "still here");
    assert!(shutdown.is_some() && shutdown < reply, "{at_exit:#?}");
}

#[test]
fn tty_ctrl_c_exits_130() {
    let (mut tty, mut peer) = connected(&[]);
    tty.keys(b"half-typed");
    tty.wait_input("half-typed", 10);
    tty.keys(b"\x03");
    tty.expect_exit(130);
    peer.expect_eof();
}

#[test]
fn tty_sigterm_exits_143() {
    let (mut tty, mut peer) = connected(&[]);
    peer.send(b"some text\n");
    tty.wait_line("some text");
    tty.signal(Signal::TERM);
    let at_exit = tty.expect_exit(143);
    assert_eq!(at_exit[..3], [SHELL_LINE, "some text", NEXT_PROMPT]);
}

#[test]
fn tty_sighup_exits_129() {
    let (mut tty, _peer) = connected(&[]);
    tty.keys(b"typed");
    tty.wait_input("typed", 5);
    tty.signal(Signal::HUP);
    tty.expect_exit(129);
}

#[test]
fn tty_peer_reset_exits_1_with_error() {
    let (mut tty, mut peer) = connected(&[]);
    peer.send(b"before the reset\n");
    tty.wait_line("before the reset");
    peer.reset();
    let lines = tty.expect_exit(1);
    let error = lines
        .iter()
        .position(|l| l.starts_with("rnc: ") && l.contains("connection reset by peer"));
    let error = error.unwrap_or_else(|| panic!("no error line: {lines:#?}"));
    let text = lines.iter().position(|l| l == "before the reset");
    assert!(text.is_some() && text < Some(error), "{lines:#?}");
    assert_eq!(lines[error + 1], NEXT_PROMPT, "{lines:#?}");
}

#[test]
fn tty_no_status_is_plain_but_escaped() {
    let (mut tty, mut peer) = connected(&["--no-status"]);
    peer.send(b"plain \x1b[31mtext\x1b]2;title\x07\n");
    tty.wait_line("plain ^[[31mtext^[]2;title^G");
    // Cooked mode: the terminal echoes and edits the line, rnc reads it at Enter.
    tty.keys(b"hi therx\x08e\r");
    peer.expect(b"hi there\n");
    tty.keys(b"\x04");
    peer.expect_eof();
    drop(peer);
    tty.expect_exit(0);
    let output = String::from_utf8_lossy(&tty.all_output).into_owned();
    assert!(!output.contains(ARROWS), "a status row: {output:?}");
    assert!(
        !output.contains("\x1b[?2004h"),
        "bracketed paste: {output:?}"
    );
    assert!(!output.contains("\x1b["), "escape sequences: {output:?}");
}

#[test]
fn tty_no_color_status_row_is_reverse_video_without_colours() {
    let (mut tty, mut peer) = Launch::new(&[]).no_color().connect();
    tty.keys(b"x\r");
    peer.expect(b"x\n");
    tty.wait_sent("x");
    tty.wait_for("the byte count", |t| t.status_row().contains("↑ 2 B"));
    // NO_COLOR means no colour: the bar still stands out from the transcript.
    let head = "tcp connected".len();
    for (col, cell) in tty.status_cells().iter().enumerate() {
        assert!(
            cell.fgcolor() == vt100::Color::Default
                && cell.bgcolor() == vt100::Color::Default
                && cell.inverse()
                && cell.bold() == (col < head)
                && !cell.dim(),
            "status cell {col}: reverse video, bold state, no colour\n{}",
            tty.dump()
        );
    }
    let row = tty.row_of("> x");
    assert_eq!(
        tty.screen().cell(row, 0).expect("cell").fgcolor(),
        vt100::Color::Default,
        "sent lines are not coloured either"
    );
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_stdin_pipe_escapes_received_bytes() {
    let (mut tty, mut peer) = Launch::new(&[]).stdin_pipe().connect();
    tty.stdin
        .as_mut()
        .expect("stdin pipe")
        .write_all(b"from the pipe\n")
        .expect("write rnc's stdin");
    peer.expect(b"from the pipe\n");
    drop(tty.stdin.take());
    peer.expect_eof();
    peer.send(b"\x1b[2J\x1b]0;pwned\x07\x1b[31mred\n");
    tty.wait_line("^[[2J^[]0;pwned^G^[[31mred");
    assert_eq!(tty.line(0), SHELL_LINE);
    let row = tty.row_of("^[[2J^[]0;pwned^G^[[31mred");
    let cell = tty.screen().cell(row, 0).expect("cell");
    assert_eq!(
        cell.fgcolor(),
        vt100::Color::Default,
        "the peer set a colour"
    );
    drop(peer);
    // The window title is checked by `expect_exit`.
    tty.expect_exit(0);
}

/// Bug 6: stdout a terminal, stdin not (`rnc HOST PORT < file`): the transfer is visible
/// in a status row under the transcript, what arrives is shown above it, and nothing is
/// left behind at exit.
#[test]
fn tty_stdin_pipe_shows_status_row_under_received_text() {
    let (mut tty, mut peer) = Launch::new(&[]).stdin_pipe().connect();
    let data = vec![b'x'; 300 * 1024];
    let mut stdin = tty.stdin.take().expect("stdin pipe");
    let writer = std::thread::spawn(move || stdin.write_all(&data).map(|()| stdin));
    peer.expect(&vec![b'x'; 300 * 1024]);
    let stdin = writer
        .join()
        .expect("writer thread")
        .expect("write rnc's stdin");
    tty.wait_for("the status row with the bytes sent", |t| {
        let status = t.status_row();
        status.starts_with("tcp connected") && status.contains("300 KiB")
    });
    peer.send(b"reply from the peer\n");
    tty.wait_line("reply from the peer");
    let reply = tty.row_of("reply from the peer");
    assert!(reply < tty.rows() - 1, "{}", tty.dump());
    assert!(tty.status_row().contains("tcp"), "{}", tty.dump());
    drop(stdin);
    peer.expect_eof();
    drop(peer);
    let at_exit = tty.expect_exit(0);
    assert!(
        at_exit.contains(&"reply from the peer".to_string()),
        "{at_exit:#?}"
    );
}

#[test]
fn tty_raw_output_passes_escape_sequences() {
    let (mut tty, mut peer) = Launch::new(&["--raw-output"]).stdin_pipe().connect();
    drop(tty.stdin.take());
    peer.expect_eof();
    peer.send(b"\x1b[31mred\x1b[0m plain\n");
    tty.wait_line("red plain");
    let row = tty.row_of("red plain");
    let screen = tty.screen();
    assert_eq!(
        screen.cell(row, 0).expect("cell").fgcolor(),
        vt100::Color::Idx(1)
    );
    assert_eq!(
        screen.cell(row, 4).expect("cell").fgcolor(),
        vt100::Color::Default
    );
    drop(peer);
    tty.expect_exit(0);
}

/// Ctrl-Z under a shell with job control (bash in tmux): rnc gives the terminal back
/// exactly as it was and stops; `fg` brings the layout back with the typed line, and what
/// the peer sent meanwhile is shown.
#[test]
fn tty_ctrl_z_suspends_and_fg_resumes() {
    let Some(tmux) = Tmux::start("exec bash --norc --noprofile -i") else {
        return;
    };
    let dir = temp_dir();
    let stty = |name: &str| dir.path().join(name).display().to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    tmux.send_keys(&[
        &format!(
            "PS1='$ '; stty -g > {}; TERM=xterm-256color '{RNC}' 127.0.0.1 {port}",
            stty("before")
        ),
        "Enter",
    ]);
    let (mut peer, _) = accept_tcp(&listener);
    tmux.wait_for("tcp connected");
    tmux.send_keys(&["typed"]);
    tmux.wait_for("> typed");
    tmux.send_keys(&["C-z"]);
    tmux.wait_for("Stopped");
    tmux.send_keys(&[&format!("stty -g > {}", stty("during")), "Enter"]);
    wait_for_file(&stty("during"));
    assert_eq!(
        std::fs::read(stty("before")).unwrap(),
        std::fs::read(stty("during")).unwrap(),
        "the terminal mode while rnc is stopped differs from the one before"
    );
    peer.write_all(b"while you were away\n").unwrap();
    tmux.send_keys(&["fg", "Enter"]);
    let pane = tmux.wait_for("while you were away");
    let pane = if pane.contains("tcp connected") && pane.contains("> typed") {
        pane
    } else {
        tmux.wait_for("> typed")
    };
    assert!(
        pane.contains("tcp connected"),
        "no status row after fg:\n{pane}"
    );
    tmux.send_keys(&["C-c"]);
    // What is typed while rnc still runs is rnc's (and dropped at its exit): type the
    // next command once its rows are gone.
    tmux.wait_gone("tcp connected");
    tmux.send_keys(&[&format!("stty -g > {}", stty("after")), "Enter"]);
    wait_for_file(&stty("after"));
    assert_eq!(
        std::fs::read(stty("before")).unwrap(),
        std::fs::read(stty("after")).unwrap(),
        "the terminal mode after rnc exited differs from the one before"
    );
}

/// stdout a file, stdin not the terminal, stderr a terminal (`rnc -d -l P > file`): a
/// progress line on stderr with the state and the bytes, erased at exit; the file gets
/// exactly the peer's bytes.
#[test]
fn tty_progress_line_on_stderr_when_stdout_is_redirected() {
    let dir = temp_dir();
    let out = dir.path().join("out");
    let (mut tty, mut peer) = Launch::new(&[])
        .stdin_file("/dev/null")
        .stdout_file(&out)
        .connect();
    peer.expect_eof();
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    peer.send(&data);
    tty.wait_for("the progress line with the bytes received", |t| {
        t.lines()
            .iter()
            .any(|l| l.starts_with("tcp you closed your side") && l.contains("↓ 1.9 MiB"))
    });
    peer.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let at_exit = tty.expect_exit(0);
    assert_no_progress_left(&at_exit);
    let got = std::fs::read(&out).expect("read rnc's stdout file");
    assert!(got == data, "stdout differs from what the peer sent");
}

/// `rnc HOST PORT | tee log` while typing: stdin is the terminal (cooked, so the kernel
/// echoes the typing) and stdout a pipe. No progress line is drawn over the echo, and
/// nothing of one is left after exit.
#[test]
fn tty_typing_is_never_overwritten_when_stdout_is_a_pipe() {
    let (mut tty, mut peer) = Launch::new(&[]).stdout_pipe().connect();
    tty.keys(b"hello\r");
    peer.expect(b"hello\n");
    tty.keys(b"abc");
    tty.wait_for("the echo of a partial line", |t| {
        t.lines().iter().any(|l| l.ends_with("abc"))
    });
    // ^D sends the partial line, a second one is EOF.
    tty.keys(b"\x04");
    peer.expect(b"abc");
    tty.keys(b"\x04");
    peer.expect_eof();
    peer.send(b"reply\n");
    peer.stream.shutdown(std::net::Shutdown::Write).unwrap();
    tty.wait_exit();
    // The echoed `abc` has no newline: the shell's prompt goes on a line of its own.
    tty.other_program_prints("\n");
    let at_exit = tty.expect_exit(0);
    assert_eq!(
        &at_exit[..3],
        [SHELL_LINE, "hello", "abc"],
        "the typing is on screen as it was echoed"
    );
    assert_no_progress_left(&at_exit);
    let stdout = tty.stdout.take().expect("stdout is a pipe");
    let mut got = Vec::new();
    let deadline = Deadline::new();
    while got != b"reply\n" {
        assert!(!deadline.expired(), "stdout got {got:?}");
        if let Ok(chunk) = stdout.recv_timeout(Duration::from_millis(50)) {
            got.extend(chunk);
        }
    }
}

/// `rnc HOST PORT < request | tee log`: the pipe's reader prints on the same terminal.
/// rnc draws nothing over it, so a partial line it printed stays.
#[test]
fn tty_other_programs_output_is_kept_when_stdout_is_a_pipe() {
    let (mut tty, mut peer) = Launch::new(&[]).stdin_pipe().stdout_pipe().connect();
    tty.other_program_prints("tee: partial");
    tty.wait_for("the other program's output", |t| {
        t.lines().iter().any(|l| l.ends_with("tee: partial"))
    });
    let mut stdin = tty.stdin.take().expect("stdin pipe");
    stdin.write_all(b"ping\n").expect("write rnc's stdin");
    peer.expect(b"ping\n");
    drop(stdin);
    peer.expect_eof();
    let data = vec![b'x'; 300_000];
    peer.send(&data);
    peer.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let stdout = tty.stdout.take().expect("stdout is a pipe");
    let mut got = 0;
    let deadline = Deadline::new();
    while got < data.len() {
        assert!(!deadline.expired(), "stdout got {got} bytes");
        if let Ok(chunk) = stdout.recv_timeout(Duration::from_millis(50)) {
            got += chunk.len();
        }
    }
    tty.wait_exit();
    tty.other_program_prints("\n");
    let at_exit = tty.expect_exit(0);
    assert_eq!(
        &at_exit[..2],
        [SHELL_LINE, "tee: partial"],
        "the other program's output is kept"
    );
    assert_no_progress_left(&at_exit);
}

/// `rnc HOST PORT < file > /dev/null`: the progress line says how much of the file is
/// sent, in percent, as pv does.
/// stdin a regular file: the percentage sent shows on the progress line (stdout a file)
/// and on the status row (stdout the terminal), while the peer holds the transfer back.
#[test]
fn tty_stdin_file_shows_the_percentage_sent() {
    let dir = temp_dir();
    let path = dir.path().join("big");
    let size: u64 = 32 * 1024 * 1024;
    File::create(&path)
        .and_then(|f| f.set_len(size))
        .expect("create a sparse file");
    for progress_line in [true, false] {
        let launch = Launch::new(&[]).stdin_file(&path);
        let launch = if progress_line {
            launch.stdout_file("/dev/null")
        } else {
            launch
        };
        let (mut tty, mut peer) = launch.connect();
        // The peer reads nothing yet, so the socket buffers stop the transfer part way.
        tty.wait_for("a percentage below 100", |t| {
            if progress_line {
                t.lines()
                    .iter()
                    .any(|l| l.contains("tcp connected") && shows_percent_below_100(l))
            } else {
                let status = t.status_row();
                status.starts_with("tcp connected") && shows_percent_below_100(&status)
            }
        });
        assert_eq!(peer.read_to_eof(), size, "the whole file arrived");
        drop(peer);
        let at_exit = tty.expect_exit(0);
        assert_no_progress_left(&at_exit);
    }
}

/// A signal ends rnc while the progress line is shown: the line is erased all the same.
#[test]
fn tty_progress_line_is_erased_on_sigterm() {
    let dir = temp_dir();
    let (mut tty, _peer) = Launch::new(&["-d"])
        .stdout_file(dir.path().join("out"))
        .connect();
    tty.wait_for("the progress line", |t| {
        t.lines().iter().any(|l| l.contains("tcp connected"))
    });
    tty.signal(Signal::TERM);
    let at_exit = tty.expect_exit(143);
    assert_no_progress_left(&at_exit);
}

/// `LC_ALL=C`: the status row is drawn in ASCII (`<->`, `tx`/`rx`).
#[test]
fn tty_c_locale_status_row_is_ascii() {
    let (mut tty, mut peer) = Launch::new(&[]).env("LC_ALL", "C").connect();
    peer.send(b"hi\n");
    tty.wait_line("hi");
    tty.wait_for("the byte count", |t| t.status_row().contains("rx 3 B"));
    let status = tty.status_row();
    assert!(
        status.is_ascii() && status.contains(&format!("{} <-> {}", peer.rnc, peer.local)),
        "an ASCII status row\n{}",
        tty.dump()
    );
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

/// `-k`: the status row numbers clients in words, shows the key hint when the client has
/// closed (at a normal width, before the counters), and once nobody is connected it no
/// longer shows the last client's peer, number or RTT.
#[test]
fn tty_keep_open_serves_clients_at_once_and_marks_senders() {
    let mut tty = Launch::new(&["-k", "-l", "127.0.0.1", "0"]).spawn();
    let prefix = "-- rnc: listening on 127.0.0.1:";
    tty.wait_for("the listening notice", |t| {
        t.lines().iter().any(|l| l.starts_with(prefix))
    });
    let port: u16 = tty
        .lines()
        .iter()
        .find_map(|l| l.strip_prefix(prefix).map(str::to_string))
        .and_then(|p| p.parse().ok())
        .expect("a port in the listening notice");
    let peer = || {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect a client");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let local = stream.local_addr().expect("client address").to_string();
        let rnc = stream.peer_addr().expect("rnc's address").to_string();
        Peer { stream, local, rnc }
    };
    let mut first = peer();
    tty.wait_line(&format!("-- rnc: client 1 connected from {}", first.local));
    tty.wait_for("one client on the status row", |t| {
        let status = t.status_row();
        status.starts_with("tcp connected 127.0.0.1:") && status.contains("⇄ 1 client ")
    });
    // A second client is served at once, while the first stays connected.
    let mut second = peer();
    tty.wait_line(&format!("-- rnc: client 2 connected from {}", second.local));
    tty.wait_for("two clients on the status row", |t| {
        t.status_row().contains("2 clients")
    });
    // A typed line goes to every client.
    tty.keys(b"hi all\r");
    first.expect(b"hi all\n");
    second.expect(b"hi all\n");
    // What each client sends is shown marked with its sender, even when a line is left
    // open by one client as another's arrives.
    first.send(b"from one, ");
    tty.wait_for("client 1's open line", |t| {
        t.transcript().iter().any(|l| l == "[client 1] from one,")
    });
    second.send(b"from two\n");
    tty.wait_line("[client 2] from two");
    first.send(b"more\n");
    tty.wait_line("[client 1] more");
    // A client that closes its side is done; the others stay.
    first
        .stream
        .shutdown(std::net::Shutdown::Write)
        .expect("client 1 closes its side");
    tty.wait_line("-- rnc: client 1 left (7 bytes sent, 15 received)");
    tty.wait_for("one client left", |t| t.status_row().contains("1 client"));
    assert!(
        !tty.status_row().contains(&first.local),
        "no client's address on a row that counts clients\n{}",
        tty.dump()
    );
    tty.keys(b"still here\r");
    second.expect(b"still here\n");
    // The row counts what went to every client (7 bytes twice, then 11), not what was
    // typed once.
    tty.wait_for("the total sent to the clients", |t| {
        t.status_row().contains("↑ 25 B")
    });
    assert!(
        !tty.transcript()
            .iter()
            .any(|l| l.starts_with("-- rnc: no one is connected")),
        "lines typed with clients connected are not said to wait\n{}",
        tty.dump()
    );
    // With nobody left, a typed line waits for the next client, and says so.
    second
        .stream
        .shutdown(std::net::Shutdown::Write)
        .expect("client 2 closes its side");
    tty.wait_for("no clients", |t| {
        t.status_row().starts_with("tcp listening ")
    });
    tty.keys(b"early\r");
    tty.wait_for("the note that no one is connected", |t| {
        t.transcript()
            .iter()
            .any(|l| l.starts_with("-- rnc: no one is connected"))
    });
    let mut third = peer();
    third.expect(b"early\n");
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

// Issue 9: interactive defects a new user hit. Each test failed before its fix.

/// Bug 1: after Ctrl-D the keyboard is still rnc's. Typed text shows in the editor, Enter
/// is refused visibly (our side is closed), and nothing typed reaches the shell after rnc
/// exits.
#[test]
fn tty_keys_after_ctrl_d_stay_with_rnc() {
    let dir = temp_dir();
    let (mut tty, mut peer) = connected(&[]);
    tty.keys(b"\x04");
    peer.expect_eof();
    tty.wait_for("the status row to say we closed our side", |t| {
        t.status_row().contains("closed your side")
    });
    tty.keys(b"touch typed-during-rnc");
    tty.wait_input("touch typed-during-rnc", 22);
    tty.keys(b"\r");
    tty.wait_for("the line refused in the transcript", |t| {
        t.transcript().iter().any(|l| {
            l.contains("not sent") && l.contains("Ctrl-D") && l.contains("typed-during-rnc")
        })
    });
    // Ctrl-L still redraws; typed text stays in the editor.
    tty.keys(b"touch typed-later");
    tty.wait_input("touch typed-later", 17);
    tty.keys(b"\x0c");
    tty.wait_input("touch typed-later", 17);
    tty.keys(b"\r");
    tty.wait_for("the second line refused", |t| {
        t.transcript().iter().any(|l| l.contains("typed-later"))
    });
    peer.send(b"bye\n");
    tty.wait_line("bye");
    drop(peer);
    tty.wait_exited();
    assert_eq!(
        tty.shell_after_exit_creates(dir.path()),
        Vec::<String>::new(),
        "the shell ran what was typed during rnc's session"
    );
    tty.expect_exit(0);
}

/// Bug 1: Ctrl-C still quits (130) after Ctrl-D.
#[test]
fn tty_ctrl_c_after_ctrl_d_exits_130() {
    let (mut tty, mut peer) = connected(&[]);
    tty.keys(b"\x04");
    peer.expect_eof();
    tty.wait_for("the status row to say we closed our side", |t| {
        t.status_row().contains("closed your side")
    });
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

/// Bug 7: a reset after the peer's FIN ends rnc at once with `reset` (exit 1), not at the
/// next typed line.
#[test]
fn tty_reset_after_peer_fin_is_reported_at_once() {
    let (mut tty, mut peer) = connected(&[]);
    peer.send(b"last words\n");
    peer.stream
        .shutdown(std::net::Shutdown::Write)
        .expect("peer shutdown");
    tty.wait_line("last words");
    tty.wait_for("the status row to say the peer closed its side", |t| {
        t.status_row().contains("peer closed its side")
    });
    let peer_addr = peer.local.clone();
    peer.reset();
    let lines = tty.expect_exit(1);
    assert!(
        lines.iter().any(|l| l.starts_with("rnc: ")
            && l.contains(&peer_addr)
            && l.contains("connection reset by peer")),
        "no reset error naming {peer_addr}: {lines:#?}"
    );
}

/// In interactive mode a human decides when the session ends: a client that sends
/// nothing and closes its side at once (`rnc HOST PORT < /dev/null`) leaves the listener
/// waiting for the user, who can still answer, then ends it with Ctrl-D.
#[test]
fn tty_interactive_listener_waits_for_the_user_after_peer_fin() {
    let (mut tty, port) = interactive_listener(&[]);
    let client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("client shutdown");
    tty.wait_for(
        "the status row to say the peer closed and how to end",
        |t| {
            let status = t.status_row();
            status.contains("peer closed its side") && status.contains("Ctrl-D ends, Ctrl-C quits")
        },
    );
    assert!(
        tty.exit_status().is_none(),
        "rnc ended before the user could type"
    );
    tty.keys(
        b"an answer
",
    );
    tty.wait_sent("an answer");
    let mut peer = Peer {
        local: String::new(),
        rnc: String::new(),
        stream: client,
    };
    peer.expect(
        b"an answer
",
    );
    tty.keys(b"\x04");
    peer.expect_eof();
    tty.expect_exit(0);
}

/// Bug 3: `--raw-output` on the interactive screen passes escape sequences but still
/// starts each received line at column 0 (no staircase).
#[test]
fn tty_raw_output_interactive_lines_start_at_column_0() {
    let (mut tty, mut peer) = connected(&["--raw-output"]);
    peer.send(b"first\nsecond\n\x1b[1mthird\x1b[0m\r\n");
    tty.wait_line("third");
    let first = tty.row_of("first");
    assert_eq!(tty.row_of("second"), first + 1, "{}", tty.dump());
    assert_eq!(tty.row_of("third"), first + 2, "{}", tty.dump());
    let bold = tty.screen().cell(first + 2, 0).expect("cell").bold();
    assert!(bold, "the escape sequence was not passed through");
    drop(peer);
    tty.keys(b"\x04");
    tty.expect_exit(0);
}

/// Bug 5: a terminal too small for every row drops the status row first and never the
/// peer's text: 3 rows keep the input row, 2 rows or fewer show the transcript alone.
#[test]
fn tty_tiny_terminals_show_received_text() {
    for rows in [1u16, 2, 3] {
        let (mut tty, mut peer) = Launch::new(&[]).size(rows, 40).connect();
        // One row holds only the line being received: send a partial line there.
        let (sent, shown): (&[u8], &str) = if rows == 1 {
            (b"partial tiny", "partial tiny")
        } else {
            (b"hello tiny\n", "hello tiny")
        };
        peer.send(sent);
        tty.wait_for(&format!("the received text on {rows} rows"), |t| {
            t.has_line(shown)
        });
        if rows == 3 {
            tty.keys(b"typed");
            tty.wait_for("the input row on the last row", |t| t.line(2) == "> typed");
            assert!(tty.has_line("hello tiny"), "{}", tty.dump());
            tty.keys(b"\r");
            peer.expect(b"typed\n");
        }
        drop(peer);
        tty.keys(b"\x04");
        tty.expect_exit(0);
    }
}

/// Left, Backspace and the word keys step over a ZWJ emoji and a flag whole, never into
/// them, and Enter sends exactly the bytes shown.
#[test]
fn tty_editor_moves_and_deletes_emoji_whole() {
    // The family emoji: five code points (three people joined by ZWJ), one grapheme
    // cluster. Per character, as `wcwidth` terminals and `vt100` count, it takes 2 + 2 + 2
    // columns.
    const FAMILY: &str = "👨\u{200d}👩\u{200d}👧";
    let (mut tty, mut peer) = connected(&[]);
    tty.keys(format!("a{FAMILY}b").as_bytes());
    tty.wait_input(&format!("a{FAMILY}b"), 8);
    tty.keys(b"\x1b[D\x1b[DX");
    tty.wait_input(&format!("aX{FAMILY}b"), 2);
    tty.keys(b"\r");
    peer.expect(format!("aX{FAMILY}b\n").as_bytes());
    tty.wait_sent(&format!("aX{FAMILY}b"));
    tty.wait_input("", 0);
    // Backspace after the family and after a flag deletes each whole.
    tty.keys(format!("x{FAMILY}🇫🇷y").as_bytes());
    tty.wait_input(&format!("x{FAMILY}🇫🇷y"), 10);
    tty.keys(b"\x1b[D\x7f\x7f");
    tty.wait_input("xy", 1);
    // Alt-B (ESC b) and Ctrl-Left (CSI 1;5D) go back a word, Alt-Backspace deletes one.
    tty.keys(b"\x05 one two\x1bb\x1b[1;5D<");
    tty.wait_input("xy <one two", 4);
    tty.keys(b"\x05\x1b\x7f");
    tty.wait_input("xy <one ", 8);
    tty.keys(b"\r");
    peer.expect(b"xy <one \n");
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

/// Ctrl-R searches the sent lines as bash does, on the input row; Enter sends the line
/// found, and Esc goes back to the draft.
#[test]
fn tty_editor_ctrl_r_enter_sends_the_found_line() {
    let (mut tty, mut peer) = connected(&[]);
    for line in ["GET /a HTTP/1.0", "hello world", "bye"] {
        tty.keys(format!("{line}\r").as_bytes());
        peer.expect(format!("{line}\n").as_bytes());
    }
    tty.keys(b"draft");
    tty.wait_input("draft", 5);
    tty.keys(b"\x12wor");
    // The cursor on the match: 19 + 3 + 3 prompt columns, then `hello `.
    let row = "(reverse-i-search)`wor': hello world";
    tty.wait_for(&format!("{row:?}, the cursor on `world`"), |t| {
        t.input_row() == row && t.screen().cursor_position() == (t.rows() - 2, 31)
    });
    tty.keys(b"\r");
    peer.expect(b"hello world\n");
    tty.wait_sent("hello world");
    tty.wait_input("", 0);
    // Esc cancels a search back to the draft, at once (a lone ESC in its own read).
    tty.keys(b"mine\x12GET");
    tty.wait_for("the older match", |t| {
        t.input_row() == "(reverse-i-search)`GET': GET /a HTTP/1.0"
    });
    tty.keys(b"\x1b");
    tty.wait_input("mine", 4);
    tty.keys(b"\r");
    peer.expect(b"mine\n");
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

/// With `clear; rnc HOST PORT` and a peer that closes at once, rnc's input and status rows
/// never reach the terminal's scrollback: tmux copies a screen cleared from its top left
/// there, so rnc erases only its own rows.
#[test]
fn tty_own_rows_never_reach_the_scrollback() {
    let Some(tmux) = Tmux::start("exec bash --norc --noprofile -i") else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    tmux.send_keys(&[
        &format!("PS1='$ '; clear; TERM=xterm-256color '{RNC}' 127.0.0.1 {port}"),
        "Enter",
    ]);
    let (peer, _) = accept_tcp(&listener);
    drop(peer);
    tmux.wait_for("peer closed its side");
    tmux.send_keys(&["C-d"]);
    tmux.wait_gone("peer closed its side");
    tmux.send_keys(&["echo after-rnc", "Enter"]);
    tmux.wait_for("\nafter-rnc");
    let history = tmux.history();
    assert!(
        !history.contains("tcp ") && !history.lines().any(|l| l.trim_end() == ">"),
        "rnc's rows in the scrollback:\n{history}"
    );
}

/// Ctrl-Z with the screen but no editor (`sleep 100 | rnc …`): the terminal's own Ctrl-Z
/// (SIGTSTP) makes rnc hand the screen back before it stops, and `fg` brings it back.
#[test]
fn tty_ctrl_z_without_editor_hands_the_screen_back() {
    let Some(tmux) = Tmux::start("exec bash --norc --noprofile -i") else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    tmux.send_keys(&[
        &format!("PS1='$ '; sleep 100 | TERM=xterm-256color '{RNC}' 127.0.0.1 {port}"),
        "Enter",
    ]);
    let (mut peer, _) = accept_tcp(&listener);
    tmux.wait_for("tcp connected");
    tmux.send_keys(&["C-z"]);
    tmux.wait_for("Stopped");
    tmux.wait_gone("tcp connected");
    peer.write_all(b"while you were away\n").unwrap();
    tmux.send_keys(&["fg", "Enter"]);
    tmux.wait_for("while you were away");
    tmux.wait_for("tcp connected");
    tmux.send_keys(&["C-c"]);
    tmux.wait_gone("tcp connected");
    tmux.send_keys(&["echo after-rnc", "Enter"]);
    tmux.wait_for("\nafter-rnc");
}

/// A CA (`ca.pem` in `dir`) and a leaf it signed for 127.0.0.1, as DER for a server.
fn tls_test_pki(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>, Vec<u8>) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rnc tty test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let ca = crate::util::write_file(dir, "ca.pem", ca_cert.pem().as_bytes());
    (ca, leaf.der().to_vec(), leaf_key.serialize_der())
}

/// A one-connection rustls server on 127.0.0.1: it completes the handshake, then holds
/// the connection until the client goes.
fn tls_test_server(leaf: Vec<u8>, key: Vec<u8>) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::Read;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::try_from(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.into()], key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut conn = rustls::ServerConnection::new(std::sync::Arc::new(config)).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return;
            }
        }
        let _ = conn.complete_io(&mut tcp);
        let mut sink = [0u8; 4096];
        while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
    });
    (port, handle)
}

/// rnc `--tls` with `args` against the test server; the status row once it shows `want`.
fn tls_status_row(args: &[&str], want: &str) -> (Tty, String) {
    let dir = temp_dir();
    let (ca, leaf, key) = tls_test_pki(dir.path());
    let (port, server) = tls_test_server(leaf, key);
    let port = port.to_string();
    let ca = ca.to_str().unwrap().to_string();
    let mut all = vec!["--tls"];
    all.extend(
        args.iter()
            .map(|a| if *a == "CA" { ca.as_str() } else { a }),
    );
    all.extend(["127.0.0.1", port.as_str()]);
    let mut tty = Launch::new(&all).spawn();
    tty.wait_for(want, |t| {
        let status = t.status_row();
        status.contains("connected") && status.contains(want)
    });
    let status = tty.status_row();
    tty.keys(b"\x03");
    tty.expect_exit(130);
    server.join().unwrap();
    (tty, status)
}

#[test]
fn tty_status_row_shows_tls_verified_by_tls_ca() {
    let (_tty, status) = tls_status_row(&["--tls-ca", "CA"], "verified 127.0.0.1");
    assert!(
        status.contains("  TLS1.3 ") && status.contains("  verified 127.0.0.1  "),
        "{status}"
    );
    assert!(!status.contains("NOT VERIFIED"), "{status}");
}

#[test]
fn tty_status_row_shows_not_verified_in_red_with_insecure() {
    let dir = temp_dir();
    let (_ca, leaf, key) = tls_test_pki(dir.path());
    let (port, server) = tls_test_server(leaf, key);
    let port = port.to_string();
    let mut tty = Launch::new(&["--tls", "--insecure", "127.0.0.1", &port]).spawn();
    tty.wait_for("NOT VERIFIED", |t| t.status_row().contains("NOT VERIFIED"));
    let status = tty.status_row();
    assert!(status.contains("TLS1.3"), "{status}");
    let column = status[..status.find("NOT VERIFIED").unwrap()]
        .chars()
        .count();
    let cell = &tty.status_cells()[column];
    assert_eq!(cell.contents(), "N");
    assert!(cell.bold(), "bold");
    assert_eq!(cell.fgcolor(), vt100::Color::Idx(1), "red");
    tty.keys(b"\x03");
    tty.expect_exit(130);
    server.join().unwrap();
}

#[test]
fn tty_chat_room_with_the_local_user_as_user0() {
    let (mut tty, port) = interactive_listener(&["--chat"]);
    let client = || {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect a client");
        let local = stream.local_addr().expect("client address").to_string();
        let rnc = stream.peer_addr().expect("rnc's address").to_string();
        Peer { stream, local, rnc }
    };
    let mut first = client();
    tty.wait_line("<announce> 127.0.0.1 is connected as <user1>.");
    let mut second = client();
    tty.wait_line("<announce> 127.0.0.1 is connected as <user2>.");
    first.read_until_line("<announce> 127.0.0.1 is connected as <user2>.");
    tty.wait_for("two members on the status row", |t| {
        t.status_row().contains("2 clients")
    });
    // The local user's line reaches both clients as <user0>'s.
    tty.keys(b"hello room\r");
    tty.wait_sent("hello room");
    for member in [&mut first, &mut second] {
        let lines = member.read_until_line("hello room");
        assert_eq!(
            lines.last().map(String::as_str),
            Some("<user0> hello room\n")
        );
    }
    // A client's line shows in the transcript, and reaches the other client, as <user1>'s.
    first.send(b"hi from one\n");
    tty.wait_line("<user1> hi from one");
    let lines = second.read_until_line("hi from one");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("<user1> hi from one\n")
    );
    // A client's escape sequences are shown escaped, never obeyed: nothing on the screen
    // moves, clears, changes colour or retitles the window.
    let before = tty.lines();
    second.send(b"\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b[31mred\x1b[0m\x1b[5;5H\x1b[?1049h end\n");
    let shown = r"<user2> \033[2J\033[H\033]0;pwned\007\033[31mred\033[0m\033[5;5H\033[?1049h end";
    tty.wait_line(shown);
    let screen = tty.dump();
    let row = tty.row_of(shown);
    // The transcript above the new line is as it was (at most scrolled): nothing was
    // cleared or overwritten.
    let earlier: Vec<&String> = before[..usize::from(ROWS - 2)]
        .iter()
        .filter(|l| !l.is_empty())
        .collect();
    assert!(row > 0 && earlier.len() >= usize::from(row), "{screen}");
    for (i, line) in earlier.iter().rev().take(usize::from(row)).enumerate() {
        let at = row - 1 - i as u16;
        assert_eq!(tty.line(at), **line, "row {at}\n{screen}");
    }
    assert!(!tty.screen().alternate_screen(), "{screen}");
    assert!(tty.status_row().contains("2 clients"), "{screen}");
    assert_eq!(tty.input_row(), ">", "{screen}");
    let effects = tty.parser.callbacks();
    assert!(effects.titles.is_empty(), "window retitled: {effects:?}");
    assert_eq!((effects.bells, effects.clipboard), (0, 0), "{effects:?}");
    for col in 0..COLS {
        let cell = tty.screen().cell(row, col).expect("cell");
        assert_eq!(
            cell.fgcolor(),
            vt100::Color::Default,
            "({row}, {col})\n{screen}"
        );
    }
    let lines = first.read_until_line(" end");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(&*format!("{shown}\n"))
    );
    // A client leaving is announced to the room and in the transcript.
    drop(first);
    tty.wait_line("<announce> <user1> is disconnected.");
    second.read_until_line("<announce> <user1> is disconnected.");
    tty.wait_for("one member left", |t| t.status_row().contains("1 client"));
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn tty_udp_keep_open_counts_its_peers() {
    let (mut tty, port) = interactive_listener(&["-u", "-k", "-v"]);
    tty.wait_for("no peers on the status row", |t| {
        let status = t.status_row();
        status.starts_with("udp listening 127.0.0.1:") && status.contains("⇄ no peers")
    });
    let peers: Vec<(std::net::UdpSocket, u16)> = (0..2).map(|_| udp_socket()).collect();
    for (i, (socket, peer_port)) in peers.iter().enumerate() {
        socket
            .send_to(format!("hello from {i}\n").as_bytes(), ("127.0.0.1", port))
            .expect("send a datagram");
        // Each datagram is marked with its sender, as a TCP `-k` listener marks lines.
        tty.wait_line(&format!("[127.0.0.1:{peer_port}] hello from {i}"));
        tty.wait_line(&format!("-- rnc: connection from 127.0.0.1:{peer_port}"));
    }
    // One without a newline still gets a line of its own.
    peers[0]
        .0
        .send_to(b"no newline", ("127.0.0.1", port))
        .expect("send a datagram");
    tty.wait_line(&format!("[127.0.0.1:{}] no newline", peers[0].1));
    tty.wait_for("two peers on the status row", |t| {
        let status = t.status_row();
        status.starts_with("udp connected 127.0.0.1:") && status.contains("⇄ 2 peers")
    });
    // A typed line is one datagram to every peer.
    tty.keys(b"to everyone\r");
    for (socket, _) in &peers {
        assert_eq!(recv_udp(socket).0, b"to everyone\n");
    }
    tty.keys(b"\x03");
    tty.expect_exit(130);
}
