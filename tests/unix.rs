//! Unix domain sockets: stream client and listener, datagram client and listener, and the
//! socket file's life cycle (created, replaced when stale, refused when live, never a
//! non-socket deleted, removed on every exit path).
//!
//! Owns no harness code (that is `util`). Paths live in a per-test temp dir under /tmp.
//! Listeners run with `-v` so that `listening on PATH` tells the test when to connect.
//! The socket file's removal after a signal or an error exit is checked in `faults`.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::thread;

use crate::util::{
    BIG, Input, Output, Rnc, accept_unix, assert_same_bytes, connect_unix, expect_eof,
    pseudo_random, read_exact_within, read_to_end_within, recv_unix_datagram, temp_dir, write_file,
};

/// The socket path `dir/s` (well under the 107-byte sun_path limit).
fn socket_path(dir: &Path) -> PathBuf {
    let path = dir.join("s");
    assert!(path.as_os_str().len() < 100);
    path
}

/// Starts a verbose Unix listener at `path` and waits until it listens.
fn unix_listener(path: &Path, extra: &[&str], stdin: Input, stdout: Output) -> Rnc {
    let path_text = path.to_str().expect("utf-8 path");
    let mut args = vec!["-v", "-l", "-U"];
    args.extend_from_slice(extra);
    args.push(path_text);
    let mut rnc = Rnc::with(&args).stdin(stdin).stdout(stdout).spawn();
    assert_eq!(rnc.listening_addr(), path_text);
    rnc
}

#[test]
fn unix_stream_client_round_trip() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let listener = UnixListener::bind(&path).unwrap();
    let mut rnc = Rnc::spawn(&["-U", path.to_str().unwrap()]);
    let mut peer = accept_unix(&listener, &path);
    rnc.write_stdin(b"hello");
    assert_eq!(read_exact_within(&mut peer, 5), b"hello");
    peer.write_all(b"world").unwrap();
    assert_eq!(rnc.stdout_exact(5), b"world");
    rnc.close_stdin();
    expect_eof(&mut peer);
    peer.write_all(b"bye").unwrap();
    drop(peer);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"bye");
    assert_eq!(exit.stderr, "");
}

#[test]
fn unix_listener_round_trip_removes_socket_file() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let mut rnc = unix_listener(&path, &[], Input::Piped, Output::Piped);
    assert!(std::fs::metadata(&path).unwrap().file_type().is_socket());
    let mut client = connect_unix(&path);
    // stdin delivers first: a stdin that never delivered would end the session at the
    // client's EOF (receive-only use).
    rnc.write_stdin(b"yo");
    assert_eq!(read_exact_within(&mut client, 2), b"yo");
    client.write_all(b"hi").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rnc.stdout_exact(2), b"hi");
    rnc.close_stdin();
    expect_eof(&mut client);
    rnc.finish().assert_code(0);
    assert!(!path.exists(), "socket file left behind");
}

#[test]
fn unix_listener_sends_8mib_file() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let data = pseudo_random(BIG, 20);
    let file = write_file(dir.path(), "f", &data);
    let rnc = unix_listener(&path, &[], Input::File(file), Output::Piped);
    let mut client = connect_unix(&path);
    client.shutdown(Shutdown::Write).unwrap();
    assert_same_bytes(&read_to_end_within(&mut client), &data);
    rnc.finish().assert_code(0);
    assert!(!path.exists(), "socket file left behind");
}

#[test]
fn unix_stream_client_receives_8mib() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let data = pseudo_random(BIG, 21);
    let listener = UnixListener::bind(&path).unwrap();
    let rnc = Rnc::with(&["-U", path.to_str().unwrap()])
        .stdin(Input::Null)
        .spawn();
    let mut peer = accept_unix(&listener, &path);
    expect_eof(&mut peer);
    peer.write_all(&data).unwrap();
    drop(peer);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_same_bytes(&exit.stdout, &data);
}

#[test]
fn unix_listener_replaces_stale_socket_file() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists(), "a closed listener leaves its socket file");
    let rnc = unix_listener(&path, &[], Input::Null, Output::Piped);
    let mut client = connect_unix(&path);
    client.write_all(b"fresh").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end_within(&mut client), b"");
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"fresh");
    assert!(!path.exists());
}

#[test]
fn unix_listener_refuses_a_live_socket() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let live = UnixListener::bind(&path).unwrap();
    let exit = Rnc::run(&["-l", "-U", path.to_str().unwrap()]);
    exit.assert_code(1);
    assert!(
        exit.stderr.contains("address already in use"),
        "{}",
        exit.stderr
    );
    // The live listener still owns its file and still accepts.
    let _client = connect_unix(&path);
    accept_unix(&live, &path);
}

/// Whether `path` is a socket file now.
fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// Runs a second listener on the path a live listener owns: it must fail (exit 1,
/// `address already in use`) without the live one seeing anything (issue 9, bug 2).
#[track_caller]
fn assert_second_listener_refused(args: &[&str]) {
    let exit = Rnc::run(args);
    exit.assert_code(1);
    assert!(
        exit.stderr.starts_with("rnc: bind to ") && exit.stderr.contains("address already in use"),
        "{}",
        exit.stderr
    );
}

/// A real client of the first listener, after the second failed: 256 KiB each way, byte
/// for byte, while the socket file stays; it is gone once the listener has exited.
fn assert_stream_listener_still_serves(mut first: Rnc, path: &Path) {
    // Checked before connecting: a one-client listener stops listening, and removes its
    // file, once it has accepted.
    assert!(is_socket(path), "the live listener's socket file is gone");
    let to_client = pseudo_random(256 * 1024, 90);
    let to_listener = pseudo_random(256 * 1024, 91);
    // stdin has bytes waiting before the client comes: a stdin that has given nothing
    // when the peer closes is receive-only use, and that session ends at the peer's EOF
    // (docs/usage.md, "How a session ends").
    first.write_stdin(&to_client[..4096]);
    let mut client = connect_unix(path);
    let feeding = first.feed_stdin_and_close(to_client[4096..].to_vec());
    let mut writer = client.try_clone().expect("clone client");
    let sent = to_listener.clone();
    let sending = thread::spawn(move || {
        writer.write_all(&sent)?;
        writer.shutdown(Shutdown::Write)
    });
    assert_same_bytes(&read_to_end_within(&mut client), &to_client);
    sending.join().unwrap().expect("client sends");
    feeding.join().unwrap().expect("rnc's stdin takes the data");
    let exit = first.finish();
    exit.assert_code(0);
    assert_same_bytes(&exit.stdout, &to_listener);
    assert_eq!(
        exit.stderr.matches("connection from").count(),
        1,
        "one client only: {}",
        exit.stderr
    );
    assert!(!path.exists(), "socket file left behind");
}

#[test]
fn unix_stream_second_listener_fails_and_the_first_keeps_serving() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let first = unix_listener(&path, &[], Input::Piped, Output::Piped);
    assert_second_listener_refused(&["-l", "-U", path.to_str().unwrap()]);
    assert_stream_listener_still_serves(first, &path);
}

/// The first listener bound a relative path (as `/proc/net/unix` lists it); the second
/// names the same file by its absolute path.
#[test]
fn unix_stream_second_listener_fails_against_a_relative_path() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let mut first = Rnc::with(&["-v", "-l", "-U", "s"])
        .current_dir(dir.path())
        .spawn();
    assert_eq!(first.listening_addr(), "s");
    assert_second_listener_refused(&["-l", "-U", path.to_str().unwrap()]);
    assert_stream_listener_still_serves(first, &path);
}

#[test]
fn unix_datagram_second_listener_fails_and_the_first_keeps_serving() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let mut first = unix_listener(&path, &["-u"], Input::Piped, Output::Piped);
    assert_second_listener_refused(&["-l", "-U", "-u", path.to_str().unwrap()]);
    let client = UnixDatagram::bind(dir.path().join("c")).unwrap();
    for seed in 0..4 {
        let to_listener = pseudo_random(4096, 100 + seed);
        client.send_to(&to_listener, &path).unwrap();
        assert_eq!(first.stdout_exact(to_listener.len()), to_listener);
        let to_client = pseudo_random(4096, 200 + seed);
        first.write_stdin(&to_client);
        let (data, from) = recv_unix_datagram(&client);
        assert_same_bytes(&data, &to_client);
        assert_eq!(from.as_deref(), Some(path.as_path()));
    }
    assert!(is_socket(&path), "the live listener's socket file is gone");
    first.signal("TERM");
    first.finish().assert_code(143);
    assert!(!path.exists(), "socket file left behind");
}

#[test]
fn unix_datagram_listener_replaces_stale_socket_file() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    drop(UnixDatagram::bind(&path).unwrap());
    assert!(is_socket(&path), "a closed socket leaves its file");
    let mut rnc = unix_listener(&path, &["-u"], Input::Piped, Output::Piped);
    let client = UnixDatagram::bind(dir.path().join("c")).unwrap();
    client.send_to(b"fresh", &path).unwrap();
    assert_eq!(rnc.stdout_exact(5), b"fresh");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
    assert!(!path.exists());
}

#[test]
fn unix_listener_never_deletes_a_non_socket_file() {
    let dir = temp_dir();
    let path = write_file(dir.path(), "s", b"precious");
    let exit = Rnc::run(&["-l", "-U", path.to_str().unwrap()]);
    exit.assert_code(1);
    assert!(exit.stderr.starts_with("rnc: "), "{}", exit.stderr);
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

/// A client pointed at a regular file says so, not `connection refused`, for stream,
/// datagram and `-z`.
#[test]
fn unix_client_says_a_regular_file_is_not_a_socket() {
    let dir = temp_dir();
    let path = write_file(dir.path(), "notes", b"keep");
    let path_text = path.to_str().unwrap();
    for args in [
        &["-U", path_text][..],
        &["-U", "-u", path_text],
        &["-z", "-U", path_text],
    ] {
        let exit = Rnc::run(args);
        exit.assert_code(1);
        assert_eq!(
            exit.stderr,
            format!("rnc: connect to {path_text}: not a socket\n"),
            "rnc {args:?}"
        );
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");
}

#[test]
fn unix_path_too_long_is_usage_error() {
    let dir = temp_dir();
    let path = dir.path().join("x".repeat(110));
    let path_text = path.to_str().unwrap();
    for args in [&["-l", "-U", path_text][..], &["-U", path_text][..]] {
        let exit = Rnc::run(args);
        exit.assert_code(2);
        assert!(exit.stderr.starts_with("rnc: "), "{}", exit.stderr);
    }
    assert!(!path.exists());
}

#[test]
fn unix_datagram_listener_round_trip() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let mut rnc = unix_listener(&path, &["-u"], Input::Piped, Output::Piped);
    let client_path = dir.path().join("c");
    let client = UnixDatagram::bind(&client_path).unwrap();
    client.send_to(b"hello", &path).unwrap();
    assert_eq!(rnc.stdout_exact(5), b"hello");
    rnc.write_stdin(b"reply");
    let (data, from) = recv_unix_datagram(&client);
    assert_eq!(data, b"reply");
    assert_eq!(from.as_deref(), Some(path.as_path()));
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
    assert!(!path.exists(), "socket file left behind");
}

#[test]
fn unix_datagram_client_round_trip_removes_its_temp_path() {
    let dir = temp_dir();
    let client_tmp = temp_dir();
    let path = socket_path(dir.path());
    let peer = UnixDatagram::bind(&path).unwrap();
    let mut rnc = Rnc::with(&["-U", "-u", path.to_str().unwrap()])
        .env("TMPDIR", client_tmp.path())
        .spawn();
    rnc.write_stdin(b"ping");
    let (data, from) = recv_unix_datagram(&peer);
    assert_eq!(data, b"ping");
    let from = from.expect("rnc's datagram socket is bound to a path");
    assert!(
        from.starts_with(client_tmp.path()),
        "client bound {} outside $TMPDIR",
        from.display()
    );
    peer.send_to(b"pong", &from).unwrap();
    assert_eq!(rnc.stdout_exact(4), b"pong");
    rnc.close_stdin();
    rnc.finish().assert_code(0);
    assert!(!from.exists(), "temporary client socket left behind");
    assert_eq!(std::fs::read_dir(client_tmp.path()).unwrap().count(), 0);
}

/// `-z -U -u PATH`: the connect itself tells whether a datagram socket is bound there; rnc
/// leaves no client socket file behind.
#[test]
fn unix_datagram_zero_io_reports_bound_and_missing_sockets() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let _peer = UnixDatagram::bind(&path).unwrap();
    let path_text = path.to_str().expect("utf-8 path");
    let exit = Rnc::run(&["-v", "-z", "-U", "-u", path_text]);
    exit.assert_code(0);
    assert!(
        exit.stderr
            .contains(&format!("connection to {path_text} succeeded")),
        "{}",
        exit.stderr
    );
    let missing = dir.path().join("missing");
    let missing_text = missing.to_str().expect("utf-8 path");
    let exit = Rnc::run(&["-z", "-U", "-u", missing_text]);
    exit.assert_code(1);
    assert!(exit.stderr.contains(missing_text), "{}", exit.stderr);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("s")],
        "only the peer's socket"
    );
}

#[test]
fn unix_datagram_keep_open_answers_every_named_peer() {
    let dir = temp_dir();
    let path = socket_path(dir.path());
    let mut rnc = unix_listener(&path, &["-u", "-k"], Input::Piped, Output::Piped);
    let named: Vec<UnixDatagram> = ["a", "b"]
        .iter()
        .map(|name| UnixDatagram::bind(dir.path().join(name)).unwrap())
        .collect();
    for (i, client) in named.iter().enumerate() {
        let data = pseudo_random(2000, 300 + i as u64);
        client.send_to(&data, &path).unwrap();
        assert_eq!(rnc.stdout_exact(data.len()), data);
        rnc.wait_stderr(&format!(
            "rnc: connection from {}",
            dir.path().join(["a", "b"][i]).display()
        ));
    }
    // An unnamed sender is heard but cannot be answered: it does not join.
    let unnamed = UnixDatagram::unbound().unwrap();
    unnamed.send_to(b"anon", &path).unwrap();
    assert_eq!(rnc.stdout_exact(4), b"anon");
    rnc.write_stdin(b"to both");
    for client in &named {
        let (data, from) = recv_unix_datagram(client);
        assert_eq!(data, b"to both");
        assert_eq!(from.as_deref(), Some(path.as_path()));
    }
    // A peer whose socket is gone is forgotten when a send to it fails; the other still
    // gets every datagram.
    let mut named = named.into_iter();
    drop(named.next());
    let b = named.next().expect("two peers");
    std::fs::remove_file(dir.path().join("a")).unwrap();
    rnc.write_stdin(b"again");
    assert_eq!(recv_unix_datagram(&b).0, b"again");
    rnc.wait_stderr(&format!(
        "rnc: send to {}: ",
        dir.path().join("a").display()
    ));
    rnc.write_stdin(b"once more");
    assert_eq!(recv_unix_datagram(&b).0, b"once more");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
    assert!(!path.exists(), "socket file left behind");
}
