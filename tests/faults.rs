//! Faults: resets in each direction, a peer that never reads, a peer that never accepts,
//! a failing stdout, every ending signal at every phase that can be reached on purpose,
//! ICMP errors and empty datagrams on UDP.
//!
//! Peers are plain `std::net` sockets; a reset is a close with SO_LINGER 0 (`socket2`).

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::util::{
    BIG, Deadline, Input, Output, PeerStream, Rnc, accept_tcp, accept_unix, assert_idle,
    closed_udp_port, connect_tcp, connect_unix, expect_eof, is_nonblocking,
    never_accepting_listener, pipe_through_cat, pseudo_random, read_exact_within, recv_udp,
    reset_close, rnc_client, tcp_listener, temp_dir, udp_addrs_of, udp_socket, wait_tcp_state,
};

/// Every signal that ends rnc cleanly, with its number (exit code 128 + n).
const ENDING_SIGNALS: [(&str, i32); 7] = [
    ("INT", 2),
    ("TERM", 15),
    ("HUP", 1),
    ("QUIT", 3),
    ("USR1", 10),
    ("USR2", 12),
    ("ALRM", 14),
];

/// How long rnc may take to exit after an ending signal.
const PROMPT: Duration = Duration::from_secs(3);

/// Asserts that stderr is exactly one line (besides a listener's `listening on` line),
/// starting `rnc: `, and returns it.
#[track_caller]
fn one_error_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("rnc: listening on "))
        .collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got:\n{stderr}");
    assert!(
        lines[0].starts_with("rnc: "),
        "not an rnc message: {stderr}"
    );
    lines[0]
}

/// Asserts that `line` reports a reset or a write to a gone peer.
#[track_caller]
fn assert_reset_message(line: &str) {
    assert!(
        line.contains("connection reset by peer") || line.contains("broken pipe"),
        "not a reset message: {line}"
    );
}

#[test]
fn fault_tcp_peer_reset_during_upload_exits_1() {
    let (mut rnc, mut peer) = rnc_client(&[]);
    let _feeder = rnc.feed_stdin_and_close(pseudo_random(BIG, 31));
    // Part of the upload has arrived; the rest is still in flight when the RST goes.
    assert_eq!(
        read_exact_within(&mut peer, 64 * 1024),
        pseudo_random(64 * 1024, 31)
    );
    reset_close(peer);
    let exit = rnc.finish();
    exit.assert_code(1);
    assert_reset_message(one_error_line(&exit.stderr));
}

#[test]
fn fault_tcp_peer_reset_during_download_exits_1() {
    let (listener, port) = tcp_listener();
    let mut rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdout(Output::Raw)
        .spawn();
    let mut stdout = rnc.take_stdout();
    let (peer, _) = accept_tcp(&listener);
    // Nobody reads rnc's stdout yet: the peer's writes back up until they would block,
    // so the download is mid-stream (bytes in every buffer) when the RST goes.
    peer.set_nonblocking(true).unwrap();
    let chunk = pseudo_random(64 * 1024, 32);
    let mut sent = 0usize;
    let deadline = Deadline::new();
    loop {
        match (&peer).write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("peer write: {e}"),
        }
        assert!(!deadline.expired(), "the peer never blocked ({sent} bytes)");
    }
    reset_close(peer);
    let reader = thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stdout.read_to_end(&mut all);
        all
    });
    let exit = rnc.finish();
    let received = reader.join().unwrap();
    exit.assert_code(1);
    assert_reset_message(one_error_line(&exit.stderr));
    assert!(
        received.len() < sent,
        "all {sent} bytes arrived despite the reset"
    );
}

#[test]
fn fault_tcp_listener_peer_reset_exits_1() {
    let mut rnc = Rnc::spawn(&["-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    client.write_all(b"hello").unwrap();
    assert_eq!(rnc.stdout_exact(5), b"hello");
    reset_close(client);
    let exit = rnc.finish();
    exit.assert_code(1);
    let line = one_error_line(&exit.stderr);
    assert_reset_message(line);
    // The reset happens on the socket; stdout (a pipe with a live reader) is fine.
    assert!(
        !line.contains("stdout"),
        "the reset is blamed on stdout: {line}"
    );
}

/// Waits until the data a peer has not read stops growing (the same size on three polls
/// 50 ms apart): rnc's send side is full. Bounded by `TIMEOUT`.
fn wait_until_peer_queue_is_full(peer: &TcpStream) -> u64 {
    let deadline = Deadline::new();
    let mut last = 0;
    let mut steady = 0;
    loop {
        let queued = rustix::io::ioctl_fionread(peer).expect("FIONREAD");
        if queued > 0 && queued == last {
            steady += 1;
            if steady == 3 {
                return queued;
            }
        } else {
            steady = 0;
        }
        last = queued;
        assert!(
            !deadline.expired(),
            "the peer's receive queue never settled ({queued} bytes)"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn fault_tcp_peer_never_reads_no_busy_loop_and_sigint_ends() {
    let (listener, port) = tcp_listener();
    let (reader, mut writer) = pipe_through_cat();
    let shared = reader.try_clone().unwrap();
    let mut rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdin(Input::Fd(reader))
        .spawn();
    let (peer, _) = accept_tcp(&listener);
    // 32 MiB is more than any socket and pipe buffer on loopback: the feeder blocks.
    let _feeder = writer.feed_stdin_and_close(pseudo_random(4 * BIG, 33));
    wait_until_peer_queue_is_full(&peer);
    assert_idle(rnc.pid(), 20, "send buffer full, peer never reads");
    rnc.signal("INT");
    rnc.wait_exit_within(PROMPT);
    rnc.finish().assert_code(130);
    assert!(!is_nonblocking(&shared), "stdin left O_NONBLOCK");
    drop(peer);
}

#[test]
fn fault_tcp_never_accepting_peer_times_out_with_w() {
    let (_listener, port, _queued) = never_accepting_listener();
    let rnc = Rnc::with(&["-w", "1", "127.0.0.1", &port.to_string()])
        .stdin(Input::Null)
        .spawn();
    wait_tcp_state(rnc.pid(), "02");
    let exit = rnc.finish();
    exit.assert_code(1);
    let line = one_error_line(&exit.stderr);
    assert!(
        line.starts_with(&format!("rnc: connect to 127.0.0.1:{port}: timed out")),
        "{line}"
    );
}

#[test]
fn fault_stdout_full_device_exits_1_for_every_transport() {
    let dev_full = || {
        OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full")
    };
    let check = |rnc: Rnc, what: &str| {
        let exit = rnc.finish();
        exit.assert_code(1);
        let line = one_error_line(&exit.stderr);
        assert!(
            line.contains("write to stdout: no space left on device"),
            "{what}: {line}"
        );
    };

    // TCP client receiving a few bytes.
    let (listener, port) = tcp_listener();
    let rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdin(Input::Null)
        .stdout(Output::File(dev_full()))
        .spawn();
    let (mut peer, _) = accept_tcp(&listener);
    peer.write_all(b"data").unwrap();
    check(rnc, "tcp client");

    // TCP listener receiving a file-sized upload.
    let mut rnc = Rnc::with(&["-l", "127.0.0.1", "0"])
        .stdin(Input::Null)
        .stdout(Output::File(dev_full()))
        .spawn();
    let port = rnc.listening_port();
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    let _ = client.write_all(&pseudo_random(256 * 1024, 34));
    check(rnc, "tcp listener");

    // UDP client receiving a datagram.
    let (peer, port) = udp_socket();
    let mut rnc = Rnc::with(&["-u", "127.0.0.1", &port.to_string()])
        .stdout(Output::File(dev_full()))
        .spawn();
    rnc.write_stdin(b"hi");
    let (_, from) = recv_udp(&peer);
    peer.send_to(b"reply", from).unwrap();
    check(rnc, "udp client");

    // Unix stream listener.
    let dir = temp_dir();
    let path = dir.path().join("s");
    let mut rnc = Rnc::with(&["-v", "-l", "-U", path.to_str().unwrap()])
        .stdin(Input::Null)
        .stdout(Output::File(dev_full()))
        .spawn();
    rnc.wait_stderr("listening on");
    let mut client = connect_unix(&path);
    let _ = client.write_all(b"data");
    let exit = rnc.finish();
    exit.assert_code(1);
    assert!(
        exit.stderr
            .lines()
            .any(|l| l == "rnc: write to stdout: no space left on device"),
        "unix listener: {}",
        exit.stderr
    );
    assert!(!path.exists(), "socket file left behind");
}

/// Sends each ending signal to an rnc that `start` brought to one phase, and checks the
/// exit code, the promptness, stdin's flags, (for Unix) the socket file and, when `start`
/// returns a connected peer, that the peer reads a clean EOF once rnc has gone.
/// `start` gets the temp dir, rnc's stdin (a pipe) and the `cat` that writes into it; it
/// returns rnc, what must stay open meanwhile, and the peer to check.
fn signal_each_phase(
    phase: &str,
    start: impl Fn(&Path, Input, &mut Rnc) -> (Rnc, Vec<Box<dyn Send>>, Option<PeerStream>),
) {
    for (name, number) in ENDING_SIGNALS {
        let dir = temp_dir();
        let (reader, mut writer) = pipe_through_cat();
        let shared = reader.try_clone().unwrap();
        let (mut rnc, keep, peer) = start(dir.path(), Input::Fd(reader), &mut writer);
        rnc.signal(name);
        rnc.wait_exit_within(PROMPT);
        let exit = rnc.finish();
        assert_eq!(
            exit.code(),
            Some(128 + number),
            "{phase}: SIG{name} gave {:?}; stderr:\n{}",
            exit.status,
            exit.stderr
        );
        assert!(
            !is_nonblocking(&shared),
            "{phase}: stdin left O_NONBLOCK after SIG{name}"
        );
        assert!(
            !dir.path().join("s").exists(),
            "{phase}: socket file left behind after SIG{name}"
        );
        if let Some(mut peer) = peer {
            expect_eof(&mut peer);
        }
        drop(keep);
        drop(writer);
    }
}

#[test]
fn fault_signals_while_connecting() {
    signal_each_phase("connecting", |_, stdin, _| {
        let (listener, port, queued) = never_accepting_listener();
        let rnc = Rnc::with(&["-w", "60", "127.0.0.1", &port.to_string()])
            .stdin(stdin)
            .spawn();
        wait_tcp_state(rnc.pid(), "02");
        (rnc, vec![Box::new(listener), Box::new(queued)], None)
    });
}

#[test]
fn fault_signals_while_listening_tcp() {
    signal_each_phase("listening (tcp)", |_, stdin, _| {
        let mut rnc = Rnc::with(&["-l", "127.0.0.1", "0"]).stdin(stdin).spawn();
        rnc.listening_port();
        (rnc, vec![], None)
    });
}

#[test]
fn fault_signals_while_listening_unix() {
    signal_each_phase("listening (unix)", |dir, stdin, _| {
        let path = dir.join("s");
        let mut rnc = Rnc::with(&["-v", "-l", "-U", path.to_str().unwrap()])
            .stdin(stdin)
            .spawn();
        rnc.wait_stderr("listening on");
        assert!(path.exists());
        (rnc, vec![], None)
    });
}

#[test]
fn fault_signals_while_transferring() {
    signal_each_phase("transferring", |_, stdin, writer| {
        // A live session: stdin has delivered bytes to the peer, the peer has sent a few
        // bytes, and neither side has ended.
        let (listener, port) = tcp_listener();
        let mut rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
            .stdin(stdin)
            .spawn();
        let (mut peer, _) = accept_tcp(&listener);
        writer.write_stdin(b"hi");
        assert_eq!(read_exact_within(&mut peer, 2), b"hi");
        peer.write_all(b"ready").unwrap();
        assert_eq!(rnc.stdout_exact(5), b"ready");
        (rnc, vec![Box::new(peer)], None)
    });
}

#[test]
fn fault_signals_while_transferring_tcp_listener() {
    signal_each_phase("transferring (tcp listener)", |_, stdin, _| {
        let mut rnc = Rnc::with(&["-l", "127.0.0.1", "0"]).stdin(stdin).spawn();
        let port = rnc.listening_port();
        let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
        // Bytes on stdout prove the event loop (and its signal handling) is running.
        client.write_all(b"ready").unwrap();
        assert_eq!(rnc.stdout_exact(5), b"ready");
        (rnc, vec![], Some(PeerStream::Tcp(client)))
    });
}

#[test]
fn fault_signals_while_transferring_unix_listener() {
    signal_each_phase("transferring (unix listener)", |dir, stdin, _| {
        let path = dir.join("s");
        let mut rnc = Rnc::with(&["-v", "-l", "-U", path.to_str().unwrap()])
            .stdin(stdin)
            .spawn();
        rnc.wait_stderr("listening on");
        let mut client = connect_unix(&path);
        client.write_all(b"ready").unwrap();
        assert_eq!(rnc.stdout_exact(5), b"ready");
        (rnc, vec![], Some(PeerStream::Unix(client)))
    });
}

#[test]
fn fault_signals_while_transferring_to_a_full_send_buffer() {
    // The feeding `cat` is created here rather than by `signal_each_phase`, so that it
    // can be fed until the send side is full.
    for (name, number) in [("INT", 2), ("QUIT", 3), ("USR1", 10)] {
        let (listener, port) = tcp_listener();
        let (reader, mut writer) = pipe_through_cat();
        let shared = reader.try_clone().unwrap();
        let mut rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
            .stdin(Input::Fd(reader))
            .spawn();
        let (peer, _) = accept_tcp(&listener);
        let _feeder = writer.feed_stdin_and_close(pseudo_random(4 * BIG, 35));
        wait_until_peer_queue_is_full(&peer);
        rnc.signal(name);
        rnc.wait_exit_within(PROMPT);
        rnc.finish().assert_code(128 + number);
        assert!(!is_nonblocking(&shared), "stdin left O_NONBLOCK");
    }
}

#[test]
fn fault_signals_while_half_closed_tcp() {
    signal_each_phase("half-closed (tcp)", |_, stdin, writer| {
        // stdin ends after one byte: rnc has sent its FIN, the peer stays open.
        let (listener, port) = tcp_listener();
        let rnc = Rnc::with(&["127.0.0.1", &port.to_string()])
            .stdin(stdin)
            .spawn();
        let (mut peer, _) = accept_tcp(&listener);
        writer.write_stdin(b"x");
        writer.close_stdin();
        assert_eq!(read_exact_within(&mut peer, 1), b"x");
        expect_eof(&mut peer);
        (rnc, vec![Box::new(peer)], None)
    });
}

#[test]
fn fault_signals_while_half_closed_unix_listener() {
    signal_each_phase("half-closed (unix)", |dir, stdin, writer| {
        // stdin ends at once: rnc shuts down its side as soon as the client connects,
        // and the client stays open.
        writer.close_stdin();
        let path = dir.join("s");
        let mut rnc = Rnc::with(&["-v", "-l", "-U", path.to_str().unwrap()])
            .stdin(stdin)
            .spawn();
        rnc.wait_stderr("listening on");
        let mut client = connect_unix(&path);
        expect_eof(&mut client);
        (rnc, vec![Box::new(client)], None)
    });
}

#[test]
fn fault_udp_port_unreachable_is_reported_and_not_fatal() {
    // A closed port, held by a guard: the first datagram draws ICMP port unreachable.
    let closed = closed_udp_port();
    let mut rnc = Rnc::spawn(&["-u", "127.0.0.1", &closed.port().to_string()]);
    rnc.write_stdin(b"anyone?");
    let line = rnc.wait_stderr("refused");
    assert!(line.starts_with("rnc: "), "{line}");
    assert!(!rnc.has_exited(), "ECONNREFUSED on UDP must not be fatal");
    // The port opens after all, to rnc: the session carries on.
    let rnc_addr = match udp_addrs_of(rnc.pid())[..] {
        [addr] => addr,
        ref all => panic!("rnc should own one UDP socket, not {all:?}"),
    };
    let peer = closed.open_to(rnc_addr);
    rnc.write_stdin(b"now?");
    let (data, from) = recv_udp(&peer);
    assert_eq!(data, b"now?");
    peer.send_to(b"yes", from).unwrap();
    assert_eq!(rnc.stdout_exact(3), b"yes");
    rnc.close_stdin();
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stderr.lines().count(), 1, "{}", exit.stderr);
}

#[test]
fn fault_udp_empty_datagram_is_data_for_keep_open_and_unix() {
    // UDP -k: an empty datagram from a new sender switches the reply target and does not
    // end anything.
    let mut rnc = Rnc::spawn(&["-k", "-u", "-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let (first, _) = udp_socket();
    let (second, _) = udp_socket();
    first.send_to(b"a", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(1), b"a");
    second.send_to(b"", ("127.0.0.1", port)).unwrap();
    second.send_to(b"", ("127.0.0.1", port)).unwrap();
    second.send_to(b"b", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(1), b"b");
    rnc.write_stdin(b"to second");
    assert_eq!(recv_udp(&second).0, b"to second");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);

    // Unix datagram listener: an empty first datagram, then data.
    let dir = temp_dir();
    let path = dir.path().join("s");
    let mut rnc = Rnc::spawn(&["-v", "-u", "-l", "-U", path.to_str().unwrap()]);
    rnc.wait_stderr("listening on");
    let client_path = dir.path().join("c");
    let client = UnixDatagram::bind(&client_path).unwrap();
    client.send_to(b"", &path).unwrap();
    client.send_to(b"after", &path).unwrap();
    assert_eq!(rnc.stdout_exact(5), b"after");
    assert!(!rnc.has_exited());
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
    assert!(!path.exists(), "socket file left behind");
}

#[test]
fn fault_unix_peer_reset_like_close_mid_upload_exits_1() {
    // Unix sockets have no RST: a peer that closes with unread data makes rnc's next
    // write fail (EPIPE or ECONNRESET). rnc must report it and exit 1, never 0.
    let dir = temp_dir();
    let path = dir.path().join("peer");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut rnc = Rnc::spawn(&["-U", path.to_str().unwrap()]);
    let mut peer = accept_unix(&listener, &path);
    let _feeder = rnc.feed_stdin_and_close(pseudo_random(BIG, 36));
    let _ = read_exact_within(&mut peer, 64 * 1024);
    drop(peer);
    let exit = rnc.finish();
    exit.assert_code(1);
    assert_reset_message(one_error_line(&exit.stderr));
}

/// A signal while a host name is being resolved ends rnc at once, even when the DNS server
/// never answers (`getaddrinfo` would block for 10 s). The stalled DNS server lives in a
/// private network and mount namespace (`unshare -mn`, root only): a UDP rnc listening on
/// 127.0.0.1:53 that never replies (rnc starts once it is bound, or the query would be
/// refused at once) and writes the queries it gets to a file, and a bind-mounted
/// resolv.conf pointing at it.
#[test]
fn fault_signal_while_resolving_ends_at_once() {
    let Some(unshare) = ["/usr/bin/unshare", "/bin/unshare"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        crate::util::skip_or_fail("unshare is not installed");
        return;
    };
    let probe = std::process::Command::new(unshare)
        .args(["-mn", "true"])
        .stderr(std::process::Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        crate::util::skip_or_fail("cannot create namespaces here (needs root)");
        return;
    }
    let dir = temp_dir();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:5 attempts:2\n",
    )
    .unwrap();
    let queries = dir.path().join("queries");
    let rnc = crate::util::RNC;
    let script = format!(
        "ip link set lo up 2>/dev/null; \
         timeout 10 '{rnc}' -u -l 127.0.0.1 53 </dev/null >'{}' 2>/dev/null & \
         i=0; while ! grep -q ':0035 ' /proc/net/udp && [ $i -lt 1000 ]; do \
         sleep 0.01; i=$((i + 1)); done; \
         mount --bind '{}' /etc/resolv.conf && exec '{rnc}' -v stalled.example.org 80",
        queries.display(),
        resolv.display()
    );
    let mut guard = crate::util::ChildGuard::new(
        std::process::Command::new(unshare)
            .args(["-mn", "sh", "-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run unshare"),
    );
    let child = guard.child();
    let stderr = crate::util::drain_in_thread(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let deadline = Deadline::new();
    while !String::from_utf8_lossy(&seen).contains("resolving stalled.example.org") {
        assert!(!deadline.expired(), "rnc never started resolving");
        if let Ok(chunk) = stderr.recv_timeout(Duration::from_millis(50)) {
            seen.extend(chunk);
        }
    }
    // getaddrinfo is blocked in its first DNS wait once its query has reached the silent
    // server, which writes it to `queries`.
    while std::fs::metadata(&queries).map_or(0, |m| m.len()) == 0 {
        assert!(
            !deadline.expired(),
            "no DNS query reached the silent server"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let sent = std::time::Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-s", "INT", &guard.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = guard.child().try_wait().expect("wait for rnc") {
            break exit;
        }
        assert!(
            sent.elapsed() < PROMPT,
            "rnc did not end within {PROMPT:?} of SIGINT while resolving"
        );
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(exit.code(), Some(130), "exit status {exit:?}");
}
