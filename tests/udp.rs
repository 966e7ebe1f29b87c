//! UDP sessions: rnc as a connected client, as a listener that locks onto its first
//! sender, and as a `-k` listener with a table of peers, against std `UdpSocket`s on
//! loopback.
//!
//! Owns no harness code (that is `util`). Loopback UDP delivers in order and does not
//! drop datagrams this small, so every check here waits for data, never for time.

use std::net::UdpSocket;
use std::thread;

use crate::util::{
    ClosedUdpPort, Rnc, closed_udp_port, ipv6_available, pseudo_random, recv_udp, udp_socket,
};

/// Starts `rnc -u -l 127.0.0.1 0` with `extra` flags and returns it with its port.
fn udp_listener(extra: &[&str]) -> (Rnc, u16) {
    let mut args = vec!["-u", "-l"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["127.0.0.1", "0"]);
    let mut rnc = Rnc::spawn(&args);
    let addr = rnc.listening_addr();
    assert!(addr.starts_with("127.0.0.1:"), "listening on {addr}");
    let port = crate::util::parse_port(&addr);
    (rnc, port)
}

/// Receives datagrams until `len` bytes arrived and returns them joined.
fn recv_bytes(socket: &UdpSocket, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < len {
        out.extend_from_slice(&recv_udp(socket).0);
    }
    out
}

#[test]
fn udp_client_round_trip_then_exits_after_peer_silence() {
    let (peer, port) = udp_socket();
    let mut rnc = Rnc::spawn(&["-u", "127.0.0.1", &port.to_string()]);
    rnc.write_stdin(b"ping\n");
    let (data, from) = recv_udp(&peer);
    assert_eq!(data, b"ping\n");
    assert_eq!(from.ip().to_string(), "127.0.0.1");
    peer.send_to(b"pong\n", from).unwrap();
    assert_eq!(rnc.stdout_exact(5), b"pong\n");
    // stdin EOF with a silent peer: rnc ends on its own (about 1 s later).
    rnc.close_stdin();
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(exit.stdout.is_empty());
}

#[test]
fn udp_client_ipv6_round_trip() {
    if !ipv6_available() {
        return;
    }
    let peer = UdpSocket::bind("[::1]:0").unwrap();
    peer.set_read_timeout(Some(crate::util::TIMEOUT)).unwrap();
    let port = peer.local_addr().unwrap().port().to_string();
    for host in ["::1", "[::1]"] {
        let mut rnc = Rnc::spawn(&["-u", "-6", host, &port]);
        rnc.write_stdin(b"six");
        let (data, from) = recv_udp(&peer);
        assert_eq!(data, b"six");
        peer.send_to(b"back", from).unwrap();
        assert_eq!(rnc.stdout_exact(4), b"back");
        rnc.close_stdin();
        rnc.finish().assert_code(0);
    }
}

#[test]
fn udp_listener_round_trip() {
    let (mut rnc, port) = udp_listener(&[]);
    let (client, _) = udp_socket();
    client.send_to(b"hello", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(5), b"hello");
    rnc.write_stdin(b"reply");
    let (data, from) = recv_udp(&client);
    assert_eq!(data, b"reply");
    assert_eq!(from.port(), port);
    // A UDP listener never ends on its own.
    assert!(!rnc.has_exited());
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn udp_listener_ignores_a_second_source() {
    let (mut rnc, port) = udp_listener(&["-v"]);
    let (first, _) = udp_socket();
    let (second, second_port) = udp_socket();
    first.send_to(b"a", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(1), b"a");
    second.send_to(b"b", ("127.0.0.1", port)).unwrap();
    first.send_to(b"c", ("127.0.0.1", port)).unwrap();
    // "b" was queued before "c": had it been accepted it would come first.
    assert_eq!(rnc.stdout_exact(1), b"c");
    rnc.wait_stderr(&format!(
        "rnc: ignoring datagram from 127.0.0.1:{second_port}"
    ));
    rnc.write_stdin(b"r");
    assert_eq!(recv_udp(&first).0, b"r");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

/// Asserts that `socket` has no datagram waiting. Loopback delivers a datagram within
/// the `sendto` that sends it, so once a datagram rnc sent after it has arrived elsewhere,
/// one for `socket` would be here already.
fn assert_no_datagram(socket: &UdpSocket) {
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let got = socket.recv_from(&mut buf);
    socket.set_nonblocking(false).unwrap();
    assert!(
        matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a datagram arrived: {got:?}"
    );
}

#[test]
fn udp_keep_open_serves_every_peer() {
    let (mut rnc, port) = udp_listener(&["-k", "-v"]);
    let peers: Vec<(UdpSocket, u16)> = (0..3).map(|_| udp_socket()).collect();
    for (i, (socket, peer_port)) in peers.iter().enumerate() {
        let data = pseudo_random(1000 + 20_000 * i, i as u64);
        socket.send_to(&data, ("127.0.0.1", port)).unwrap();
        assert_eq!(rnc.stdout_exact(data.len()), data);
        rnc.wait_stderr(&format!("rnc: connection from 127.0.0.1:{peer_port}"));
    }
    // A peer heard before speaks again: its datagram arrives whole, it does not join twice.
    peers[0].0.send_to(b"again", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(5), b"again");
    // Each datagram from stdin reaches every peer, whole.
    for message in [&b"to all"[..], &pseudo_random(30_000, 9)] {
        rnc.write_stdin(message);
        for (socket, _) in &peers {
            let (data, from) = recv_udp(socket);
            assert_eq!(data, message);
            assert_eq!(from.port(), port);
        }
    }
    rnc.signal("TERM");
    let exit = rnc.finish();
    exit.assert_code(143);
    assert_eq!(
        exit.stderr.matches("connection from").count(),
        3,
        "{}",
        exit.stderr
    );
}

#[test]
fn udp_keep_open_forgets_a_silent_peer() {
    // `-w` is each peer's expiry under `-k`; it does not end the listener. Each live peer
    // speaks right before stdin does, so it cannot expire meanwhile however slow the
    // machine.
    let (mut rnc, port) = udp_listener(&["-k", "-v", "-w", "2"]);
    let (quiet, quiet_port) = udp_socket();
    quiet.send_to(b"a", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(1), b"a");
    rnc.wait_stderr(&format!(
        "rnc: 127.0.0.1:{quiet_port} idle for 2 s: forgotten"
    ));
    let (talker, _) = udp_socket();
    talker.send_to(b"b", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(1), b"b");
    rnc.write_stdin(b"only the live one");
    assert_eq!(recv_udp(&talker).0, b"only the live one");
    assert_no_datagram(&quiet);
    // The forgotten peer joins again by speaking.
    quiet.send_to(b"c", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(1), b"c");
    talker.send_to(b"d", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(1), b"d");
    rnc.write_stdin(b"both");
    assert_eq!(recv_udp(&talker).0, b"both");
    assert_eq!(recv_udp(&quiet).0, b"both");
    assert!(!rnc.has_exited());
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn udp_keep_open_table_holds_at_most_m_peers() {
    let (mut rnc, port) = udp_listener(&["-k", "-v", "-m", "2"]);
    let peers: Vec<(UdpSocket, u16)> = (0..3).map(|_| udp_socket()).collect();
    for (i, (socket, _)) in peers.iter().enumerate() {
        socket
            .send_to(&[b'a' + i as u8], ("127.0.0.1", port))
            .unwrap();
        assert_eq!(rnc.stdout_exact(1), [b'a' + i as u8]);
    }
    // The third made room by forgetting the one idle longest: the first.
    rnc.wait_stderr(&format!(
        "rnc: 127.0.0.1:{} forgotten: 2 peers already (-m 2)",
        peers[0].1
    ));
    rnc.write_stdin(b"x");
    assert_eq!(recv_udp(&peers[1].0).0, b"x");
    assert_eq!(recv_udp(&peers[2].0).0, b"x");
    assert_no_datagram(&peers[0].0);
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn udp_keep_open_refuses_denied_senders() {
    let (mut rnc, port) = udp_listener(&["-k", "-v", "--deny", "127.0.0.2"]);
    let Ok(denied) = UdpSocket::bind("127.0.0.2:0") else {
        return crate::util::skip_or_fail("127.0.0.2 does not bind");
    };
    denied.send_to(b"no", ("127.0.0.1", port)).unwrap();
    rnc.wait_stderr("rnc: refused datagram from 127.0.0.2:");
    let (allowed, _) = udp_socket();
    allowed.send_to(b"yes", ("127.0.0.1", port)).unwrap();
    // "no" came first: had it been let through, it would be here before "yes".
    assert_eq!(rnc.stdout_exact(3), b"yes");
    rnc.write_stdin(b"r");
    assert_eq!(recv_udp(&allowed).0, b"r");
    assert_no_datagram(&denied);
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn udp_empty_datagram_does_not_end_the_session() {
    // Listener: an empty first datagram still locks onto its sender.
    let (mut rnc, port) = udp_listener(&[]);
    let (client, _) = udp_socket();
    client.send_to(b"", ("127.0.0.1", port)).unwrap();
    client.send_to(b"x", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(1), b"x");
    rnc.write_stdin(b"r");
    assert_eq!(recv_udp(&client).0, b"r");
    assert!(!rnc.has_exited());
    rnc.signal("TERM");
    rnc.finish().assert_code(143);

    // Client: an empty reply is not EOF.
    let (peer, port) = udp_socket();
    let mut rnc = Rnc::spawn(&["-u", "127.0.0.1", &port.to_string()]);
    rnc.write_stdin(b"hi");
    let (_, from) = recv_udp(&peer);
    peer.send_to(b"", from).unwrap();
    peer.send_to(b"y", from).unwrap();
    assert_eq!(rnc.stdout_exact(1), b"y");
    rnc.write_stdin(b"still here");
    assert_eq!(recv_udp(&peer).0, b"still here");
    rnc.close_stdin();
    rnc.finish().assert_code(0);
}

#[test]
fn udp_60000_byte_datagrams_arrive_intact() {
    let data = pseudo_random(60_000, 10);

    // Peer → rnc listener → stdout: one datagram, written whole.
    let (mut rnc, port) = udp_listener(&[]);
    let (client, _) = udp_socket();
    client.send_to(&data, ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(data.len()), data);
    // stdin (a pipe) → peer.
    rnc.write_stdin(&data);
    assert_eq!(recv_bytes(&client, data.len()), data);
    rnc.signal("TERM");
    rnc.finish().assert_code(143);

    // rnc client: stdin → peer, and back.
    let (peer, port) = udp_socket();
    let mut rnc = Rnc::spawn(&["-u", "127.0.0.1", &port.to_string()]);
    rnc.write_stdin(&data);
    let (first, from) = recv_udp(&peer);
    let mut received = first;
    while received.len() < data.len() {
        received.extend_from_slice(&recv_udp(&peer).0);
    }
    assert_eq!(received, data);
    peer.send_to(&data, from).unwrap();
    assert_eq!(rnc.stdout_exact(data.len()), data);
    rnc.close_stdin();
    rnc.finish().assert_code(0);
}

#[test]
fn udp_client_reports_refused_without_dying() {
    let closed = closed_udp_port();
    let port = closed.port();
    let mut rnc = Rnc::spawn(&["-u", "127.0.0.1", &port.to_string()]);
    rnc.write_stdin(b"anyone?");
    // The ICMP port-unreachable comes back as ECONNREFUSED on the connected socket.
    rnc.wait_stderr("refused");
    assert!(!rnc.has_exited(), "ECONNREFUSED on UDP must not be fatal");
    rnc.close_stdin();
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(
        exit.stderr.matches("refused").count(),
        1,
        "reported once: {}",
        exit.stderr
    );
}

#[test]
fn udp_listener_idle_timeout_exits_0() {
    let (mut rnc, port) = udp_listener(&["-w", "1"]);
    let (client, _) = udp_socket();
    client.send_to(b"once", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(4), b"once");
    // No more datagrams either way: -w ends the session, not an error.
    rnc.finish().assert_code(0);
}

/// `-z -u` sends one empty datagram. A closed port's refusal (ICMP port unreachable) is a
/// failure naming the address; silence until `-w` counts as open, as with nc.
#[test]
fn udp_zero_io_silent_port_succeeds_and_closed_port_fails() {
    let (peer, port) = udp_socket();
    let exit = Rnc::run(&[
        "-v",
        "-z",
        "-u",
        "-w",
        "0.2",
        "127.0.0.1",
        &port.to_string(),
    ]);
    exit.assert_code(0);
    assert!(exit.stdout.is_empty());
    assert!(
        exit.stderr
            .contains(&format!("connection to 127.0.0.1 {port} (udp) succeeded")),
        "{}",
        exit.stderr
    );
    let (probe, _) = recv_udp(&peer);
    assert!(
        probe.is_empty(),
        "the probe is one empty datagram: {probe:?}"
    );

    let closed_port = closed_udp_port();
    let closed = closed_port.port();
    let exit = Rnc::run(&["-z", "-u", "-w", "5", "127.0.0.1", &closed.to_string()]);
    exit.assert_code(1);
    assert_eq!(
        exit.stderr.trim_end(),
        format!("rnc: connect to 127.0.0.1:{closed}: connection refused")
    );
}

/// A reply ends the wait: with `-w 60`, rnc finishes within the harness's 10 s only
/// because the peer answers.
#[test]
fn udp_zero_io_reply_counts_as_open_at_once() {
    let (peer, port) = udp_socket();
    let replier = thread::spawn(move || {
        let (_, from) = recv_udp(&peer);
        peer.send_to(b"x", from).expect("reply");
    });
    let exit = Rnc::run(&["-z", "-u", "-w", "60", "127.0.0.1", &port.to_string()]);
    exit.assert_code(0);
    replier.join().expect("the peer saw the probe");
}

/// A range probes each port over UDP and succeeds when one is open. The range is two
/// ports this test holds (the second held closed by a guard), so no other test's socket
/// gets a probe.
#[test]
fn udp_zero_io_range_finds_the_open_port() {
    let (_peer, port, closed_port) = (0..100)
        .find_map(|_| {
            let (peer, port) = udp_socket();
            let closed = ClosedUdpPort::bind(port.checked_add(1)?).ok()?;
            Some((peer, port, closed))
        })
        .expect("two adjacent free UDP ports");
    let closed = closed_port.port();
    let range = format!("{port}-{closed}");
    let exit = Rnc::run(&["-v", "-z", "-u", "-w", "0.2", "127.0.0.1", &range]);
    exit.assert_code(0);
    assert!(
        exit.stderr
            .contains(&format!("connection to 127.0.0.1 {port} (udp) succeeded")),
        "{}",
        exit.stderr
    );
    assert!(
        exit.stderr
            .contains(&format!("connection to 127.0.0.1 {closed} (udp) refused")),
        "{}",
        exit.stderr
    );
}

/// A dual-stack UDP listener shows an IPv4 sender as `127.0.0.1`, not `::ffff:127.0.0.1`,
/// and still replies to it.
#[test]
fn udp_dual_stack_listener_shows_ipv4_senders_as_ipv4() {
    if !ipv6_available() {
        return;
    }
    let mut rnc = Rnc::spawn(&["-v", "-u", "-l", "0"]);
    let addr = rnc.listening_addr();
    assert!(addr.starts_with("[::]:"), "listening on {addr}");
    let port = crate::util::parse_port(&addr);
    let (peer, peer_port) = udp_socket();
    let (other, other_port) = udp_socket();
    peer.send_to(b"hi", ("127.0.0.1", port)).unwrap();
    assert_eq!(rnc.stdout_exact(2), b"hi");
    let line = rnc.wait_stderr("connection from");
    assert_eq!(line, format!("rnc: connection from 127.0.0.1:{peer_port}"));
    other.send_to(b"no", ("127.0.0.1", port)).unwrap();
    let line = rnc.wait_stderr("ignoring datagram from");
    assert_eq!(
        line,
        format!("rnc: ignoring datagram from 127.0.0.1:{other_port}")
    );
    rnc.write_stdin(b"back");
    assert_eq!(recv_udp(&peer).0, b"back");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}
