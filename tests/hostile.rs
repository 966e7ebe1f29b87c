//! Hostile input: malformed command lines (each one error line, the documented exit code,
//! never a panic), every byte value through the pipes byte-exact, names with control
//! characters escaped on stderr, and terminal queries from a peer never answered back
//! (rnc in a real terminal emulator, tmux).

use std::ffi::OsString;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::{
    Deadline, Input, RNC, Rnc, Tmux, accept_tcp, accept_unix, connect_unix, expect_eof,
    read_exact_within, read_to_end_within, recv_udp, retry_eintr, skip_or_fail, tcp_listener,
    temp_dir, udp_socket,
};

/// Whether `text` holds a control character other than the line ends (raw ESC, BEL, C1).
fn has_raw_control(text: &str) -> bool {
    text.chars()
        .any(|c| c != '\n' && (c.is_control() || c == '\u{7f}'))
}

/// Runs rnc with `args` (stdin `/dev/null`) and checks a hostile-input error: exit
/// `code`, nothing on stdout, no panic, and either exactly one `rnc: ` line on stderr or
/// the argument parser's own `error: ` format. Returns stderr.
fn check_rejected(args: &[OsString], code: i32) -> Result<String, String> {
    let mut spawn = Rnc::with(&[]).stdin(Input::Null);
    for arg in args {
        spawn = spawn.arg_os(arg.clone());
    }
    let exit = spawn.spawn().finish();
    let stderr = exit.stderr.clone();
    let shown = format!("rnc {args:?}: status {:?}, stderr:\n{stderr}", exit.status);
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Err(format!("panic: {shown}"));
    }
    if exit.code() != Some(code) {
        return Err(format!("expected exit {code}: {shown}"));
    }
    if !exit.stdout.is_empty() {
        return Err(format!("wrote to stdout: {shown}"));
    }
    if has_raw_control(&stderr) {
        return Err(format!("raw control characters on stderr: {shown}"));
    }
    let clap_format = stderr.starts_with("error: ") && code == 2;
    let one_line =
        stderr.ends_with('\n') && stderr.lines().count() == 1 && stderr.starts_with("rnc: ");
    if !(clap_format || one_line) {
        return Err(format!("not one `rnc: ` line: {shown}"));
    }
    Ok(stderr)
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Runs every case and fails once, listing every case that failed.
#[track_caller]
fn check_table(cases: &[(Vec<OsString>, i32)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(args, code)| check_rejected(args, *code).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn hostile_ports_addresses_scopes_and_services() {
    let mut cases = Vec::new();
    for port in [
        "70000",
        "65536",
        "80x",
        "",
        "-1",
        "0x50",
        "+80",
        " 80",
        "99999999999999999999",
    ] {
        cases.push((os(&["127.0.0.1", port]), 2));
        cases.push((os(&["-l", "127.0.0.1", port]), 2));
        cases.push((os(&["-l", "-p", port]), 2));
        cases.push((os(&["-p", port, "127.0.0.1", "80"]), 2));
    }
    for (args, code) in [
        (&["127.0.0.1", "0"][..], 2),
        (&["127.0.0.1", "nosuchservice"], 2),
        (&["-n", "127.0.0.1", "http"], 2),
        (&["-n", "localhost", "80"], 2),
        (&["", "80"], 2),
        (&["[::1", "80"], 2),
        (&["[::1]]", "80"], 2),
        (&["127.0.0.1%lo", "80"], 2),
        (&["fe80::1%nosuchif", "80"], 2),
        (&["fe80::1%99999999999", "80"], 2),
        (&["fe80::1%", "80"], 2),
        (&["-4", "::1", "80"], 2),
        (&["-6", "127.0.0.1", "80"], 2),
        (&["-l", "-s", "127.0.0.1", "127.0.0.2", "80"], 2),
        (&["h\u{1b}[2Jx", "80"], 2),
        (&["nosuch.invalid", "80"], 1),
    ] {
        cases.push((os(args), code));
    }
    check_table(&cases);
}

#[test]
fn hostile_flags_and_timeouts() {
    let mut cases = Vec::new();
    for value in [
        "0", "0.0", "-1", "1e9", "1e308", "31536001", "nan", "inf", "0x10", "",
    ] {
        cases.push((os(&["-w", value, "127.0.0.1", "80"]), 2));
    }
    for value in ["-1", "1e9", "nan", "inf", "x", ""] {
        cases.push((os(&["-q", value, "127.0.0.1", "80"]), 2));
    }
    for args in [
        &["-k", "127.0.0.1", "80"][..],
        &["-z", "-l", "80"],
        &["-4", "-6", "127.0.0.1", "80"],
        &["-U", "-s", "127.0.0.1", "/tmp/x"],
        &["-U", "-p", "5000", "/tmp/x"],
        &["-U", "-4", "/tmp/x"],
        &["-U"],
        &["-U", "/tmp/a", "/tmp/b"],
        &["-l"],
        &["127.0.0.1"],
        &["1", "2", "3"],
        &["--bogus"],
        &["-w"],
        &[],
    ] {
        cases.push((os(args), 2));
    }
    check_table(&cases);
}

#[test]
fn hostile_unix_paths() {
    let dir = temp_dir();
    let d = dir.path();
    let file = d.join("regular");
    std::fs::write(&file, b"keep me").unwrap();
    let sub = d.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let missing = d.join("missing").join("s");
    let long = d.join("x".repeat(120));
    let mut control = d.join("missing").into_os_string();
    control.push("/a\u{1b}[31m\u{7}\tb\nc\u{9b}d");
    let mut non_utf8 = d.join("missing").into_os_string().into_vec();
    non_utf8.extend_from_slice(b"/\xff\xfe");
    let non_utf8 = OsString::from_vec(non_utf8);

    let p = |path: &Path| path.as_os_str().to_os_string();
    let with = |flags: &[&str], path: OsString| {
        let mut args = os(flags);
        args.push(path);
        args
    };
    let cases = vec![
        (with(&["-U"], p(&long)), 2),
        (with(&["-l", "-U"], p(&long)), 2),
        (with(&["-U"], OsString::new()), 2),
        (with(&["-U"], p(&missing)), 1),
        (with(&["-l", "-U"], p(&missing)), 1),
        (with(&["-U", "-u"], p(&missing)), 1),
        (with(&["-U"], p(&sub)), 1),
        (with(&["-l", "-U"], p(&sub)), 1),
        (with(&["-U"], p(&file)), 1),
        (with(&["-l", "-U"], p(&file)), 1),
        (with(&["-U"], control.clone()), 1),
        (with(&["-l", "-U"], control), 1),
    ];
    check_table(&cases);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"keep me",
        "a regular file was touched"
    );
    assert!(sub.is_dir(), "a directory was touched");

    // A non-UTF-8 name is a valid path; whatever rnc does with one, it must not panic
    // and must say why in one line (1: no such directory; 2: refused as an argument).
    let outcome = [1, 2]
        .iter()
        .map(|&code| check_rejected(&with(&["-U"], non_utf8.clone()), code))
        .collect::<Vec<_>>();
    assert!(
        outcome.iter().any(Result::is_ok),
        "non-UTF-8 path: {outcome:?}"
    );
}

#[test]
fn hostile_unix_non_utf8_path_works() {
    let dir = temp_dir();
    let mut name = dir.path().as_os_str().to_os_string().into_vec();
    name.extend_from_slice(b"/s\xff");
    let path = PathBuf::from(OsString::from_vec(name));
    let mut rnc = Rnc::with(&["-v", "-l", "-U"])
        .arg_os(path.as_os_str())
        .stdin(Input::Null)
        .spawn();
    let line = rnc.wait_stderr("listening on");
    assert!(!has_raw_control(&line), "{line:?}");
    let mut client = connect_unix(&path);
    client.write_all(b"ok").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    expect_eof(&mut client);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"ok");
    assert!(!path.exists(), "socket file left behind");
}

#[test]
fn hostile_unix_listener_path_with_control_characters_is_escaped() {
    let dir = temp_dir();
    let path = dir.path().join("a\u{1b}]0;title\u{7}\u{1b}[2J\nb\u{9b}c");
    let mut rnc = Rnc::with(&["-v", "-l", "-U", path.to_str().unwrap()])
        .stdin(Input::Null)
        .spawn();
    let line = rnc.wait_stderr("listening on");
    assert!(
        !has_raw_control(&line),
        "listening line not escaped: {line:?}"
    );
    assert!(path.exists());
    let mut client = connect_unix(&path);
    client.write_all(b"x").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    expect_eof(&mut client);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(
        !has_raw_control(&exit.stderr),
        "stderr not escaped: {:?}",
        exit.stderr
    );
    assert_eq!(
        exit.stderr.lines().count(),
        exit.stderr.matches('\n').count(),
        "a name broke a line: {:?}",
        exit.stderr
    );
    assert!(!path.exists(), "socket file left behind");
}

/// Every byte value, invalid UTF-8 and terminal escape sequences.
fn hostile_bytes() -> Vec<u8> {
    let mut data: Vec<u8> = (0..=255u8).cycle().take(4 * 256).collect();
    data.extend_from_slice(b"\xff\xfe\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80\xc3");
    data.extend_from_slice(b"\x1b[2J\x1b[H\x1b]0;title\x07\x1b]52;c;?\x07\x1b[6n\x1b[c\x1b[21t");
    data.extend_from_slice("\u{9b}31m\u{202e}\r\x08\x7f\0".as_bytes());
    data.extend_from_slice(&(0..=255u8).rev().collect::<Vec<_>>());
    data
}

#[test]
fn hostile_bytes_pass_byte_exact_through_pipes() {
    let data = hostile_bytes();

    // TCP client: peer → stdout and stdin → peer.
    let (listener, port) = tcp_listener();
    let mut rnc = Rnc::spawn(&["127.0.0.1", &port.to_string()]);
    let (mut peer, _) = accept_tcp(&listener);
    peer.write_all(&data).unwrap();
    assert_eq!(rnc.stdout_exact(data.len()), data);
    rnc.write_stdin(&data);
    rnc.close_stdin();
    assert_eq!(read_to_end_within(&mut peer), data);
    drop(peer);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stderr, "");

    // UDP listener: one datagram each way.
    let mut rnc = Rnc::spawn(&["-u", "-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let (client, _) = udp_socket();
    client.send_to(&data, ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(data.len()), data);
    rnc.write_stdin(&data);
    assert_eq!(recv_udp(&client).0, data);
    rnc.signal("TERM");
    rnc.finish().assert_code(143);

    // Unix stream client.
    let dir = temp_dir();
    let path = dir.path().join("s");
    let unix = UnixListener::bind(&path).unwrap();
    let mut rnc = Rnc::spawn(&["-U", path.to_str().unwrap()]);
    let mut peer = accept_unix(&unix, &path);
    peer.write_all(&data).unwrap();
    assert_eq!(rnc.stdout_exact(data.len()), data);
    rnc.write_stdin(&data);
    rnc.close_stdin();
    assert_eq!(read_exact_within(&mut peer, data.len()), data);
    expect_eof(&mut peer);
    drop(peer);
    rnc.finish().assert_code(0);
}

// ---------------------------------------------------------------------------------------
// Terminal answerback, under tmux.

/// The queries a terminal answers: cursor position, device attributes, clipboard read
/// (OSC 52) and the window title report.
const QUERIES: &[u8] = b"q1 \x1b[6n q2 \x1b[c q3 \x1b]52;c;?\x07 q4 \x1b[21t END\n";

/// Starts `command` (which runs rnc against a fresh listener, `{port}` replaced) in
/// tmux and accepts the connection.
fn in_tmux(command: &str) -> Option<(Tmux, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tmux = Tmux::start(&command.replace("{port}", &port.to_string()))?;
    let (peer, _) = accept_tcp(&listener);
    Some((tmux, peer))
}

/// Reads what the peer receives within `window`, or until it holds `enough`.
fn received_within(peer: &mut TcpStream, window: Duration, enough: &[u8]) -> Vec<u8> {
    let deadline = Deadline::after(window);
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !deadline.expired() && !got.windows(enough.len()).any(|w| w == enough) {
        peer.set_read_timeout(Some(deadline.remaining())).unwrap();
        match retry_eintr(|| peer.read(&mut buf)) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("peer read: {e}"),
        }
    }
    got
}

#[test]
fn answerback_terminal_queries_are_shown_not_answered() {
    let quoted = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let rnc = quoted(RNC);

    // Control: plain rnc on a raw terminal is the nc case, and tmux answers the queries
    // into it. Without an answer here the check below would prove nothing.
    let Some((_control, mut peer)) = in_tmux(&format!(
        "stty raw -echo; exec {rnc} --no-status --raw-output 127.0.0.1 {{port}}"
    )) else {
        return;
    };
    peer.write_all(QUERIES).unwrap();
    let answer = received_within(&mut peer, Duration::from_secs(5), b"\x1b[");
    if !answer.windows(2).any(|w| w == b"\x1b[") {
        skip_or_fail(&format!(
            "this tmux does not answer terminal queries ({:?})",
            String::from_utf8_lossy(&answer)
        ));
        return;
    }

    // Interactive rnc: the queries are shown escaped and the peer gets nothing back.
    let (tmux, mut peer) = in_tmux(&format!("exec {rnc} 127.0.0.1 {{port}}")).unwrap();
    tmux.wait_for("connected");
    peer.write_all(QUERIES).unwrap();
    let pane = tmux.wait_for("END");
    let leaked = received_within(&mut peer, Duration::from_millis(500), b"\x1b[");
    assert!(
        leaked.is_empty(),
        "the terminal's answers reached the peer: {:?}",
        String::from_utf8_lossy(&leaked)
    );
    for shown in ["^[[6n", "^[[c", "^[]52;c;?^G", "^[[21t"] {
        assert!(pane.contains(shown), "`{shown}` not shown escaped:\n{pane}");
    }
    // Still connected: the window above ran while the session was open.
    let pane = tmux.capture();
    assert!(pane.contains("connected"), "rnc left the session:\n{pane}");
    peer.shutdown(Shutdown::Both).unwrap();
}
