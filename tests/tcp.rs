//! TCP sessions: rnc as client and as listener against std sockets on loopback, every
//! option that applies to TCP, every end-of-session rule and error exits.
//!
//! Owns no harness code (that is `util`); peers are plain `std::net` sockets. Signals and
//! a failing stdout are `faults`; byte-exact bulk transfers through every kind of stdin
//! and stdout, slow readers and early-closing readers are `integrity`.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{
    BIG, Input, Output, Rnc, TIMEOUT, accept_tcp, assert_same_bytes, closed_tcp_port, connect_tcp,
    expect_eof, fd_count, ipv6_available, is_nonblocking, pipe_through_cat, pseudo_random,
    read_exact_within, read_to_end_within, retry_eintr, rnc_client, tcp_listener, temp_dir,
    write_file,
};

/// Writes `data` to `stream` from a thread, then closes it; errors are returned, not raised.
fn send_and_close(mut stream: TcpStream, data: Vec<u8>) -> thread::JoinHandle<std::io::Result<()>> {
    thread::spawn(move || stream.write_all(&data))
}

#[test]
fn tcp_stdin_eof_half_closes_and_reply_still_printed() {
    let (mut rnc, mut peer) = rnc_client(&[]);

    rnc.write_stdin(b"hello\n");
    assert_eq!(read_exact_within(&mut peer, 6), b"hello\n");
    peer.write_all(b"world\n").unwrap();
    assert_eq!(rnc.stdout_exact(6), b"world\n");

    rnc.close_stdin();
    expect_eof(&mut peer);
    // Half-closed, not closed: rnc still prints what the peer sends after the EOF.
    peer.write_all(b"after eof\n").unwrap();
    assert_eq!(rnc.stdout_exact(10), b"after eof\n");
    drop(peer);

    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(
        exit.stdout.is_empty(),
        "extra stdout: {:?}",
        exit.stdout_text()
    );
    assert_eq!(exit.stderr, "", "a quiet client prints nothing on stderr");
}

#[test]
fn tcp_listener_port_zero_prints_listening_line() {
    let mut rnc = Rnc::spawn(&["-l", "127.0.0.1", "0"]);
    let line = rnc.wait_stderr("listening on");
    let port = rnc.listening_port();
    assert_ne!(port, 0);
    assert_eq!(line, format!("rnc: listening on 127.0.0.1:{port}"));

    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    rnc.write_stdin(b"pong");
    assert_eq!(read_exact_within(&mut client, 4), b"pong");
    client.write_all(b"ping").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rnc.stdout_exact(4), b"ping");
    rnc.close_stdin();
    expect_eof(&mut client);
    rnc.finish().assert_code(0);
}

/// Connects to a listening rnc whose stdin is at EOF, sends `data`, half-closes and
/// returns what rnc sent back.
fn send_to_listener(addr: &str, data: &[u8]) -> Vec<u8> {
    let mut client = connect_tcp(addr);
    client.write_all(data).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    read_to_end_within(&mut client)
}

#[test]
fn tcp_listener_accepts_dash_p_and_dash_s_spellings() {
    for args in [
        &["-l", "-p", "0", "127.0.0.1"][..],
        &["-l", "-s", "127.0.0.1", "-p", "0"][..],
        &["-l", "-s", "127.0.0.1", "0"][..],
    ] {
        let mut rnc = Rnc::with(args).stdin(Input::Null).spawn();
        let addr = rnc.listening_addr();
        assert!(
            addr.starts_with("127.0.0.1:"),
            "{args:?}: listening on {addr}"
        );
        assert_eq!(send_to_listener(&addr, b"x"), b"");
        let exit = rnc.finish();
        exit.assert_code(0);
        assert_eq!(exit.stdout, b"x");
    }
}

#[test]
fn tcp_listener_without_address_is_dual_stack() {
    let mut rnc = Rnc::with(&["-k", "-l", "0"]).stdin(Input::Null).spawn();
    let port = rnc.listening_port();

    assert_eq!(send_to_listener(&format!("127.0.0.1:{port}"), b"v4"), b"");
    assert_eq!(rnc.stdout_exact(2), b"v4");
    if ipv6_available() {
        assert_eq!(send_to_listener(&format!("[::1]:{port}"), b"v6"), b"");
        assert_eq!(rnc.stdout_exact(2), b"v6");
    }
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn tcp_listener_ipv4_only_with_dash_4() {
    let mut rnc = Rnc::with(&["-4", "-k", "-l", "0"])
        .stdin(Input::Null)
        .spawn();
    let addr = rnc.listening_addr();
    let port = crate::util::parse_port(&addr);
    assert_eq!(addr, format!("0.0.0.0:{port}"));
    if ipv6_available() {
        let err = TcpStream::connect(format!("[::1]:{port}")).expect_err("-4 accepted IPv6");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    }
    assert_eq!(send_to_listener(&format!("127.0.0.1:{port}"), b"v4"), b"");
    assert_eq!(rnc.stdout_exact(2), b"v4");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn tcp_listener_ipv6_only_with_dash_6() {
    if !ipv6_available() {
        return;
    }
    let mut rnc = Rnc::with(&["-6", "-k", "-l", "0"])
        .stdin(Input::Null)
        .spawn();
    let addr = rnc.listening_addr();
    let port = crate::util::parse_port(&addr);
    assert_eq!(addr, format!("[::]:{port}"));
    let err = TcpStream::connect(format!("127.0.0.1:{port}")).expect_err("-6 accepted IPv4");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(send_to_listener(&format!("[::1]:{port}"), b"v6"), b"");
    assert_eq!(rnc.stdout_exact(2), b"v6");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

/// Runs a client rnc with stdin at EOF against `listener`; the peer sends `reply` and
/// closes. Returns the peer's address as the accepting side saw it.
fn client_session(listener: &TcpListener, args: &[&str]) -> SocketAddr {
    let rnc = Rnc::with(args).stdin(Input::Null).spawn();
    let (mut peer, from) = accept_tcp(listener);
    expect_eof(&mut peer);
    peer.write_all(b"reply").unwrap();
    drop(peer);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"reply", "rnc {args:?}");
    from
}

#[test]
fn tcp_client_address_families_and_literals() {
    let (listener, port) = tcp_listener();
    let port = port.to_string();
    for args in [
        &["127.0.0.1", &port][..],
        &["-4", "127.0.0.1", &port][..],
        &["-n", "127.0.0.1", &port][..],
        &["localhost", &port][..],
    ] {
        client_session(&listener, args);
    }
    if !ipv6_available() {
        return;
    }
    let listener6 = TcpListener::bind("[::1]:0").unwrap();
    let port6 = listener6.local_addr().unwrap().port().to_string();
    for args in [
        &["::1", &port6][..],
        &["[::1]", &port6][..],
        &["-6", "::1", &port6][..],
        &["-n", "-6", "[::1]", &port6][..],
    ] {
        let from = client_session(&listener6, args);
        assert!(from.is_ipv6(), "rnc {args:?} came from {from}");
    }
}

/// `HOST:PORT` and `[V6]:PORT` as one argument, for a client and a listener.
#[test]
fn tcp_host_and_port_in_one_argument() {
    let (listener, port) = tcp_listener();
    client_session(&listener, &[&format!("127.0.0.1:{port}")]);
    client_session(&listener, &[&format!("localhost:{port}")]);
    let mut rnc = Rnc::with(&["-l", "127.0.0.1:0"]).stdin(Input::Null).spawn();
    let addr = rnc.listening_addr();
    assert!(addr.starts_with("127.0.0.1:"), "listening on {addr}");
    assert_eq!(send_to_listener(&addr, b"one arg"), b"");
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"one arg");
    if !ipv6_available() {
        return;
    }
    let listener6 = TcpListener::bind("[::1]:0").unwrap();
    let port6 = listener6.local_addr().unwrap().port();
    let from = client_session(&listener6, &[&format!("[::1]:{port6}")]);
    assert!(from.is_ipv6(), "came from {from}");
    let mut rnc = Rnc::with(&["-l", "[::1]:0"]).stdin(Input::Null).spawn();
    let addr = rnc.listening_addr();
    assert!(addr.starts_with("[::1]:"), "listening on {addr}");
    assert_eq!(send_to_listener(&addr, b"six"), b"");
    rnc.finish().assert_code(0);
}

#[test]
fn tcp_listener_on_ipv6_literal() {
    if !ipv6_available() {
        return;
    }
    for host in ["::1", "[::1]"] {
        let mut rnc = Rnc::with(&["-l", host, "0"]).stdin(Input::Null).spawn();
        let addr = rnc.listening_addr();
        assert!(addr.starts_with("[::1]:"), "listening on {addr}");
        assert_eq!(send_to_listener(&addr, b"six"), b"");
        let exit = rnc.finish();
        exit.assert_code(0);
        assert_eq!(exit.stdout, b"six");
    }
}

#[test]
fn tcp_client_source_address_and_port() {
    let (listener, port) = tcp_listener();
    let port = port.to_string();

    let from = client_session(&listener, &["-s", "127.0.0.2", "127.0.0.1", &port]);
    assert_eq!(from.ip().to_string(), "127.0.0.2");

    // A source port must be free when rnc binds it. Reserve one by listening on
    // 127.0.0.3: that blocks wildcard binds of the port elsewhere, yet does not clash
    // with rnc binding the same port on 127.0.0.2, which only this test uses.
    let reserve = TcpListener::bind("127.0.0.3:0").unwrap();
    let source_port = reserve.local_addr().unwrap().port();
    let from = client_session(
        &listener,
        &[
            "-s",
            "127.0.0.2",
            "-p",
            &source_port.to_string(),
            "127.0.0.1",
            &port,
        ],
    );
    assert_eq!(from, SocketAddr::from(([127, 0, 0, 2], source_port)));
}

#[test]
fn tcp_idle_timeout_ends_session_with_exit_0() {
    let (mut rnc, mut peer) = rnc_client(&["-w", "1"]);
    peer.write_all(b"hi").unwrap();
    assert_eq!(rnc.stdout_exact(2), b"hi");
    let quiet_since = Instant::now();
    // The peer stays connected and stdin stays open: only the idle timeout ends this.
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(
        quiet_since.elapsed() >= Duration::from_millis(900),
        "-w 1 ended the session after {:?}",
        quiet_since.elapsed()
    );
    expect_eof(&mut peer);
}

#[test]
fn tcp_idle_timeout_does_not_limit_waiting_for_a_client() {
    let mut rnc = Rnc::spawn(&["-l", "-w", "1", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    // A negative check: nobody connects for longer than -w.
    assert!(
        rnc.still_running_after(Duration::from_millis(1500)),
        "-w 1 ended a listener that had no client yet; stderr:\n{}",
        rnc.stderr_so_far()
    );
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    client.write_all(b"late").unwrap();
    assert_eq!(rnc.stdout_exact(4), b"late");
    rnc.finish().assert_code(0);
    expect_eof(&mut client);
}

#[test]
fn tcp_quit_after_eof_zero_exits_while_peer_stays_open() {
    let (mut rnc, mut peer) = rnc_client(&["-q", "0"]);
    rnc.write_stdin(b"data");
    rnc.close_stdin();
    let exit = rnc.finish();
    exit.assert_code(0);
    // Everything read was sent before rnc quit.
    assert_eq!(read_to_end_within(&mut peer), b"data");
}

#[test]
fn tcp_quit_after_eof_one_exits_while_peer_stays_open() {
    let (mut rnc, mut peer) = rnc_client(&["-q", "1"]);
    peer.write_all(b"reply").unwrap();
    assert_eq!(rnc.stdout_exact(5), b"reply");
    rnc.write_stdin(b"data");
    let eof_at = Instant::now();
    rnc.close_stdin();
    assert_eq!(read_to_end_within(&mut peer), b"data");
    // The peer never closes; -q 1 ends the session about a second after stdin's EOF.
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(
        eof_at.elapsed() >= Duration::from_millis(900),
        "-q 1 quit after {:?}",
        eof_at.elapsed()
    );
}

#[test]
fn tcp_no_stdin_never_reads_stdin() {
    let (mut rnc, mut peer) = rnc_client(&["-d"]);
    rnc.write_stdin(b"must not be sent");
    peer.write_all(b"from peer").unwrap();
    assert_eq!(rnc.stdout_exact(9), b"from peer");
    peer.shutdown(Shutdown::Write).unwrap();
    // The session ends when the peer closes, although stdin is still open.
    rnc.finish().assert_code(0);
    assert_eq!(read_to_end_within(&mut peer), b"");
}

#[test]
fn tcp_keep_open_serves_sequential_clients_without_fd_leak() {
    // stdin is an idle pipe: each session ends when its client is done (receive-only use).
    let mut rnc = Rnc::spawn(&["-k", "-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let mut fds_after_first = 0;
    for i in 0..6 {
        let message = format!("client {i}\n");
        let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
        client.write_all(message.as_bytes()).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(rnc.stdout_exact(message.len()), message.as_bytes());
        // rnc closed this connection: its fd is gone before the FIN reached us.
        expect_eof(&mut client);
        if i == 0 {
            fds_after_first = fd_count(rnc.pid());
        }
    }
    assert_eq!(
        fd_count(rnc.pid()),
        fds_after_first,
        "open fds grew over five more connections"
    );
    assert!(!rnc.has_exited(), "-k listener exited after its clients");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn tcp_keep_open_silent_client_does_not_hold_up_the_next() {
    // `-k` serves clients at once (the user: a silent client held the listener
    // and the next `curl` got an empty reply). `-w` still closes a client idle that long.
    let mut rnc = Rnc::spawn(&["-k", "-w", "2", "-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let mut idle = connect_tcp(&format!("127.0.0.1:{port}"));
    idle.write_all(b"first\n").unwrap();
    assert_eq!(rnc.stdout_exact(6), b"first\n");
    let mut next = connect_tcp(&format!("127.0.0.1:{port}"));
    next.write_all(b"second\n").unwrap();
    next.shutdown(Shutdown::Write).unwrap();
    // Served while the first client is still connected and silent.
    assert_eq!(rnc.stdout_exact(7), b"second\n");
    expect_eof(&mut next);
    // stdin reaches every client still connected.
    rnc.write_stdin(b"to all\n");
    assert_eq!(read_exact_within(&mut idle, 7), b"to all\n");
    // Idle for 2 s: closed.
    expect_eof(&mut idle);
    assert!(!rnc.has_exited(), "-k listener exited after its clients");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn tcp_crlf_converts_bare_lf_only() {
    let (mut rnc, mut peer) = rnc_client(&["-C"]);
    // Bytes from the peer are never converted.
    peer.write_all(b"x\ny\n").unwrap();
    assert_eq!(rnc.stdout_exact(4), b"x\ny\n");
    rnc.write_stdin(b"a\nb\r\nc\n\n");
    rnc.close_stdin();
    assert_eq!(read_to_end_within(&mut peer), b"a\r\nb\r\nc\r\n\r\n");
    drop(peer);
    rnc.finish().assert_code(0);
}

#[test]
fn tcp_verbose_client_reports_lifecycle_and_byte_counts() {
    let (listener, port) = tcp_listener();
    let mut rnc = Rnc::spawn(&["-v", "127.0.0.1", &port.to_string()]);
    let (mut peer, _) = accept_tcp(&listener);
    rnc.wait_stderr(&format!("rnc: connected to 127.0.0.1:{port}"));

    rnc.write_stdin(b"12345");
    assert_eq!(read_exact_within(&mut peer, 5), b"12345");
    peer.write_all(b"abc").unwrap();
    assert_eq!(rnc.stdout_exact(3), b"abc");
    rnc.close_stdin();
    rnc.wait_stderr("rnc: sent FIN (stdin EOF)");
    expect_eof(&mut peer);
    drop(peer);
    rnc.wait_stderr("rnc: peer sent FIN");

    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(exit.stdout.is_empty(), "stdout carries peer bytes only");
    assert!(
        exit.stderr
            .contains("rnc: 5 bytes sent, 3 bytes received in "),
        "{}",
        exit.stderr
    );
    for line in exit.stderr.lines() {
        assert!(line.starts_with("rnc: "), "unprefixed stderr line: {line}");
    }
}

#[test]
fn tcp_verbose_listener_reports_client_address() {
    let mut rnc = Rnc::with(&["-v", "-l", "127.0.0.1", "0"])
        .stdin(Input::Null)
        .spawn();
    let port = rnc.listening_port();
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    let client_port = client.local_addr().unwrap().port();
    rnc.wait_stderr(&format!("rnc: connection from 127.0.0.1:{client_port}"));
    client.write_all(b"data").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end_within(&mut client), b"");
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"data", "stdout carries peer bytes only");
    assert!(exit.stderr.contains("4 bytes received"), "{}", exit.stderr);
}

/// A dual-stack listener (`[::]`) sees an IPv4 client as `::ffff:127.0.0.1`; rnc shows
/// `127.0.0.1`, as ncat does.
#[test]
fn tcp_dual_stack_listener_shows_ipv4_clients_as_ipv4() {
    if !ipv6_available() {
        return;
    }
    let mut rnc = Rnc::with(&["-v", "-l", "0"]).stdin(Input::Null).spawn();
    let addr = rnc.listening_addr();
    assert!(addr.starts_with("[::]:"), "listening on {addr}");
    let port = crate::util::parse_port(&addr);
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    let client_port = client.local_addr().unwrap().port();
    let line = rnc.wait_stderr("connection from");
    assert_eq!(
        line,
        format!("rnc: connection from 127.0.0.1:{client_port}")
    );
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end_within(&mut client), b"");
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(!exit.stderr.contains("ffff"), "{}", exit.stderr);
}

#[test]
fn tcp_zero_io_succeeds_against_open_port() {
    let (listener, port) = tcp_listener();
    let exit = Rnc::run(&["-v", "-z", "127.0.0.1", &port.to_string()]);
    exit.assert_code(0);
    assert!(exit.stdout.is_empty());
    assert!(
        exit.stderr
            .contains(&format!("connection to 127.0.0.1 {port} succeeded")),
        "{}",
        exit.stderr
    );
    // rnc connected and closed without sending anything.
    let (mut peer, _) = accept_tcp(&listener);
    assert_eq!(read_to_end_within(&mut peer), b"");

    Rnc::run(&["-z", "127.0.0.1", &port.to_string()]).assert_code(0);
}

#[test]
fn tcp_zero_io_fails_against_closed_port() {
    let closed = closed_tcp_port();
    let port = closed.port();
    let exit = Rnc::run(&["-z", "127.0.0.1", &port.to_string()]);
    exit.assert_code(1);
    assert!(exit.stdout.is_empty());
}

#[test]
fn tcp_connection_refused_exits_1_naming_the_address() {
    let closed = closed_tcp_port();
    let port = closed.port();
    let exit = Rnc::run(&["127.0.0.1", &port.to_string()]);
    exit.assert_code(1);
    assert!(exit.stdout.is_empty());
    assert_eq!(
        exit.stderr.trim_end(),
        format!("rnc: connect to 127.0.0.1:{port}: connection refused")
    );
}

#[test]
fn tcp_connect_timeout_exits_1() {
    let Some(python) = crate::util::installed_tool("python3") else {
        return;
    };
    // A listener with backlog 0 whose accept queue holds one unaccepted connection:
    // Linux drops further SYNs, so the next connect hangs until rnc's -w gives up.
    let script = "import socket,sys,time\n\
                  s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(0)\n\
                  print(s.getsockname()[1], flush=True)\n\
                  sys.stdin.read()\n";
    let mut holder = Rnc::tool(&python, &["-c", script]).spawn();
    let port = holder.stdout_line();
    let _queued = connect_tcp(&format!("127.0.0.1:{port}"));

    let started = Instant::now();
    let exit = Rnc::run(&["-w", "1", "127.0.0.1", &port]);
    exit.assert_code(1);
    assert!(
        exit.stderr.contains(&format!(
            "rnc: connect to 127.0.0.1:{port}: timed out after"
        )),
        "{}",
        exit.stderr
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn tcp_listener_address_in_use_exits_1() {
    let (_listener, port) = tcp_listener();
    let exit = Rnc::run(&["-l", "127.0.0.1", &port.to_string()]);
    exit.assert_code(1);
    // bind(2) is what fails, so the message says bind, not listen.
    assert_eq!(
        exit.stderr,
        format!("rnc: bind to 127.0.0.1:{port}: address already in use\n")
    );
}

/// Port 1 as a user without CAP_NET_BIND_SERVICE: the bind fails with `EACCES`, and the
/// message says which bind and what it needs, for a TCP and a UDP listener and for a
/// client's source port alike.
#[test]
fn tcp_privileged_port_says_bind_and_what_it_needs() {
    let (_listener, port) = tcp_listener();
    let port = port.to_string();
    let hint = format!(
        "permission denied (ports below {} need root or CAP_NET_BIND_SERVICE)",
        crate::util::first_unprivileged_port()
    );
    for (args, bound) in [
        (&["-l", "127.0.0.1", "1"][..], "127.0.0.1:1"),
        (&["-u", "-l", "127.0.0.1", "1"], "127.0.0.1:1"),
        (&["-4", "-l", "-p", "1"], "0.0.0.0:1"),
        (&["-p", "1", "127.0.0.1", &port], "0.0.0.0:1"),
        (&["-u", "-p", "1", "127.0.0.1", &port], "0.0.0.0:1"),
    ] {
        let Some(exit) = crate::util::run_unprivileged(args, 1) else {
            return;
        };
        exit.assert_code(1);
        assert_eq!(
            exit.stderr,
            format!("rnc: bind to {bound}: {hint}\n"),
            "rnc {args:?}"
        );
    }
}

#[test]
fn tcp_download_8mib_with_stdin_from_dev_null() {
    let data = pseudo_random(BIG, 3);
    let (listener, port) = tcp_listener();
    let rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdin(Input::Null)
        .spawn();
    let (mut peer, _) = accept_tcp(&listener);
    // stdin at EOF: rnc half-closes at once and still receives everything.
    expect_eof(&mut peer);
    send_and_close(peer, data.clone()).join().unwrap().unwrap();
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_same_bytes(&exit.stdout, &data);
}

#[test]
fn tcp_two_rnc_file_to_receive_only_listener() {
    // `rnc -l P > out` (idle stdin) + `rnc H P < file`: both exit 0, out == file.
    let dir = temp_dir();
    let data = pseudo_random(BIG, 6);
    let file = write_file(dir.path(), "f", &data);
    let mut receiver = Rnc::spawn(&["-l", "127.0.0.1", "0"]);
    let port = receiver.listening_port();
    let sender = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdin(Input::File(file))
        .spawn();
    assert_file_delivered(receiver, sender, &data);
}

/// Both rnc processes exit 0; the receiver printed exactly `data`, the sender nothing.
fn assert_file_delivered(receiver: Rnc, sender: Rnc, data: &[u8]) {
    let received = receiver.finish();
    received.assert_code(0);
    assert_same_bytes(&received.stdout, data);
    let sent = sender.finish();
    sent.assert_code(0);
    assert!(sent.stdout.is_empty());
}

#[test]
fn tcp_two_rnc_listener_sends_file_to_client() {
    // `rnc -l P < file` + `rnc H P > out < /dev/null`: both exit 0, out == file.
    let dir = temp_dir();
    let data = pseudo_random(BIG, 7);
    let file = write_file(dir.path(), "f", &data);
    let mut sender = Rnc::with(&["-l", "127.0.0.1", "0"])
        .stdin(Input::File(file))
        .spawn();
    let port = sender.listening_port();
    let receiver = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdin(Input::Null)
        .spawn();
    assert_file_delivered(receiver, sender, &data);
}

#[test]
fn tcp_peer_eof_with_file_stdin_keeps_sending_to_the_end() {
    let dir = temp_dir();
    let data = pseudo_random(BIG, 8);
    let file = write_file(dir.path(), "f", &data);
    let (listener, port) = tcp_listener();
    let rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdin(Input::File(file))
        .spawn();
    let (mut peer, _) = accept_tcp(&listener);
    peer.shutdown(Shutdown::Write).unwrap();
    assert_same_bytes(&read_to_end_within(&mut peer), &data);
    rnc.finish().assert_code(0);
}

#[test]
fn tcp_peer_eof_with_pipe_that_delivered_keeps_sending_until_stdin_eof() {
    let (mut rnc, mut peer) = rnc_client(&["-v"]);
    rnc.write_stdin(b"first ");
    assert_eq!(read_exact_within(&mut peer, 6), b"first ");
    peer.write_all(b"bye").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    rnc.wait_stderr("rnc: peer sent FIN");
    assert!(
        !rnc.has_exited(),
        "stdin had delivered bytes: rnc must keep sending"
    );
    rnc.write_stdin(b"second");
    rnc.close_stdin();
    assert_eq!(read_to_end_within(&mut peer), b"second");
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"bye");
}

#[test]
fn tcp_receive_only_listener_exits_when_sender_is_done() {
    // stdin is a pipe that never delivers anything (an idle terminal, say).
    let mut rnc = Rnc::spawn(&["-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    client.write_all(b"hello").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"hello");
    assert_eq!(read_to_end_within(&mut client), b"");
}

#[test]
fn tcp_stdin_closed_counts_as_eof() {
    let (listener, port) = tcp_listener();
    let rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdin(Input::Closed)
        .spawn();
    let (mut peer, _) = accept_tcp(&listener);
    expect_eof(&mut peer);
    peer.write_all(b"reply").unwrap();
    drop(peer);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"reply");
}

#[test]
fn tcp_peer_reset_exits_1() {
    let (mut rnc, peer) = rnc_client(&[]);
    rnc.write_stdin(b"unread");
    // Closing a socket with unread received data sends RST instead of FIN.
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut probe = [0u8; 6];
    let n = peer.peek(&mut probe).expect("rnc's bytes arrive");
    assert!(n > 0);
    drop(peer);
    let exit = rnc.finish();
    exit.assert_code(1);
    assert!(
        exit.stderr.contains("connection reset by peer") || exit.stderr.contains("broken pipe"),
        "{}",
        exit.stderr
    );
}

#[test]
fn tcp_stdin_nonblocking_flag_restored_after_normal_exit() {
    let (reader, mut writer) = pipe_through_cat();
    let shared = reader.try_clone().unwrap();
    assert!(!is_nonblocking(&shared));
    let (listener, port) = tcp_listener();
    let mut rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdin(Input::Fd(reader))
        .spawn();
    let (mut peer, _) = accept_tcp(&listener);
    writer.write_stdin(b"hi");
    assert_eq!(read_exact_within(&mut peer, 2), b"hi");
    peer.write_all(b"bye").unwrap();
    assert_eq!(rnc.stdout_exact(3), b"bye");
    writer.close_stdin();
    drop(peer);
    rnc.finish().assert_code(0);
    assert!(
        !is_nonblocking(&shared),
        "rnc left O_NONBLOCK set on its stdin's open file description"
    );
}

#[test]
fn tcp_upload_with_stdout_closed() {
    // `rnc H P < file >&-`: a send-only use never touches stdout.
    let dir = temp_dir();
    let data = pseudo_random(64 * 1024, 11);
    let file = write_file(dir.path(), "up", &data);
    let (listener, port) = tcp_listener();
    let rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdin(Input::File(file))
        .stdout(Output::Closed)
        .spawn();
    let (mut peer, _) = accept_tcp(&listener);
    assert_same_bytes(&read_to_end_within(&mut peer), &data);
    drop(peer);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stderr, "");
}

#[test]
fn tcp_no_shutdown_keeps_the_write_side_open() {
    let (mut rnc, mut peer) = rnc_client(&["--no-shutdown"]);
    rnc.write_stdin(b"data");
    rnc.close_stdin();
    assert_eq!(read_exact_within(&mut peer, 4), b"data");
    // A negative check, kept short: no EOF follows stdin's EOF.
    peer.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    match retry_eintr(|| peer.read(&mut buf)) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("--no-shutdown: the peer read {other:?} after stdin's EOF"),
    }
    // The session ends when the peer closes.
    peer.write_all(b"reply").unwrap();
    drop(peer);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"reply");
}

#[test]
fn tcp_dash_n_capital_is_accepted_and_half_closes() {
    let (mut rnc, mut peer) = rnc_client(&["-N"]);
    rnc.write_stdin(b"data");
    rnc.close_stdin();
    assert_eq!(read_to_end_within(&mut peer), b"data");
    drop(peer);
    rnc.finish().assert_code(0);
}

#[test]
fn tcp_write_to_closed_peer_exits_1() {
    let (mut rnc, mut peer) = rnc_client(&["-v"]);
    rnc.write_stdin(b"a");
    assert_eq!(read_exact_within(&mut peer, 1), b"a");
    drop(peer);
    rnc.wait_stderr("rnc: peer sent FIN");
    // stdin has delivered bytes, so rnc keeps sending: the closed peer answers with RST
    // and a later write fails.
    let _feeder = rnc.feed_stdin_and_close(pseudo_random(BIG, 12));
    let exit = rnc.finish();
    exit.assert_code(1);
    assert!(
        exit.stderr.contains("connection reset by peer") || exit.stderr.contains("broken pipe"),
        "{}",
        exit.stderr
    );
}
