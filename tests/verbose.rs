//! `-v`, `-vv` and `-vvv` against golden transcripts of real sessions on loopback (and in a
//! private network namespace for a timeout): refused, timed out, accepted, half-closed,
//! reset. What varies between runs (ports, times, descriptors, TCP_INFO figures) is masked,
//! and whole line sequences are compared, so a changed word, a lost line or a line printed
//! twice fails.

use std::io::Write;
use std::net::Shutdown;

use crate::util::{
    Input, Rnc, accept_tcp, closed_tcp_port, connect_tcp, expect_eof, installed_tool,
    read_exact_within, read_to_end_within, reset_close, skip_or_fail, tcp_listener,
};

/// stderr with what varies masked: each `(port, NAME)` as `NAME` where it follows `:`,
/// `port ` or `127.0.0.1 `; times after `connected in ` / `received in `; descriptors after `) = ` of
/// socket(2), `accept4() = ` and `close(`; every figure of a `tcp_info` line, and its state.
fn normalise(stderr: &str, ports: &[(u16, &str)]) -> Vec<String> {
    stderr
        .lines()
        .map(|line| {
            let mut line = line.to_string();
            for (port, name) in ports {
                for prefix in [":", "port ", "127.0.0.1 "] {
                    line = replace_number(&line, prefix, &port.to_string(), name);
                }
            }
            for marker in ["connected in ", "received in "] {
                line = mask_number_after(&line, marker, "T");
            }
            if line.starts_with("rnc: socket(") {
                line = mask_number_after(&line, ") = ", "FD");
            }
            line = mask_number_after(&line, "accept4() = ", "FD");
            line = mask_number_after(&line, "close(", "FD");
            let snapshot = "rnc: tcp_info at ";
            if let Some(at) = line
                .strip_prefix(snapshot)
                .and_then(|event| event.find(": "))
            {
                let (head, rest) = line.split_at(snapshot.len() + at + 2);
                let rest = rest.split_once(", ").map_or(rest, |(_state, rest)| rest);
                line = format!("{head}STATE, {}", mask_all_numbers(rest));
            }
            line
        })
        .collect()
}

/// `text` with `prefix` + `number` (not followed by another digit) written `prefix` + `name`.
fn replace_number(text: &str, prefix: &str, number: &str, name: &str) -> String {
    let needle = format!("{prefix}{number}");
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        let after = &rest[at + needle.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(&needle);
        } else {
            out.push_str(prefix);
            out.push_str(name);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `text` with the number (digits and dots) right after each `marker` written `mask`.
fn mask_number_after(text: &str, marker: &str, mask: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at + marker.len()]);
        let after = &rest[at + marker.len()..];
        let len = after
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(after.len());
        if len > 0 {
            out.push_str(mask);
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Every number in `text` written `N`.
fn mask_all_numbers(text: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// The lines as `rnc: …`.
fn lines(expected: &[&str]) -> Vec<String> {
    expected.iter().map(|l| format!("rnc: {l}")).collect()
}

#[test]
fn verbose_normalise_masks_only_what_varies() {
    let text = "rnc: connect(127.0.0.1:4000) = EINPROGRESS\nrnc: socket(AF_INET, SOCK_STREAM) = 7\n\
                rnc: connected to 127.0.0.1:40001 (from 127.0.0.1:4000)\n\
                rnc: tcp_info at close: FIN_WAIT2, rtt 0.045 ms, rttvar 0.022 ms, cwnd 10, \
                retransmits 0, bytes acked 1\nrnc: 5 bytes sent, 0 bytes received in 0.012 s";
    assert_eq!(
        normalise(text, &[(4000, "PORT")]),
        lines(&[
            "connect(127.0.0.1:PORT) = EINPROGRESS",
            "socket(AF_INET, SOCK_STREAM) = FD",
            "connected to 127.0.0.1:40001 (from 127.0.0.1:PORT)",
            "tcp_info at close: STATE, rtt N ms, rttvar N ms, cwnd N, retransmits N, bytes acked N",
            "5 bytes sent, 0 bytes received in T s",
        ])
    );
}

#[test]
fn verbose_tcp_refused_explains_the_rst_once() {
    let closed = closed_tcp_port();
    let port = closed.port();
    let refusal = "connection refused: the SYN was answered by a RST (or a firewall's ICMP \
                   reject): nothing accepts on port PORT";
    let exit = Rnc::run(&["-v", "127.0.0.1", &port.to_string()]);
    exit.assert_code(1);
    assert!(exit.stdout.is_empty(), "stdout carries peer bytes only");
    assert_eq!(
        normalise(&exit.stderr, &[(port, "PORT")]),
        lines(&[
            "connecting to 127.0.0.1:PORT (SYN sent)",
            refusal,
            "connect to 127.0.0.1:PORT: connection refused",
        ])
    );

    let exit = Rnc::run(&["-vv", "127.0.0.1", &port.to_string()]);
    exit.assert_code(1);
    assert_eq!(
        normalise(&exit.stderr, &[(port, "PORT")]),
        lines(&[
            "socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK) = FD",
            "setsockopt(TCP_NODELAY, 1) = 0",
            "connect(127.0.0.1:PORT) = EINPROGRESS",
            "connecting to 127.0.0.1:PORT (SYN sent)",
            "getsockopt(SO_ERROR) = ECONNREFUSED",
            refusal,
            "connect to 127.0.0.1:PORT: connection refused",
        ])
    );
}

/// `-z` on one port says open and closed in the scan's words.
#[test]
fn verbose_zero_io_open_and_closed_share_one_format() {
    let closed = closed_tcp_port();
    let port = closed.port();
    let exit = Rnc::run(&["-v", "-z", "127.0.0.1", &port.to_string()]);
    exit.assert_code(1);
    assert_eq!(
        normalise(&exit.stderr, &[(port, "PORT")]),
        lines(&[
            "connecting to 127.0.0.1:PORT (SYN sent)",
            "connection refused: the SYN was answered by a RST (or a firewall's ICMP reject): \
             nothing accepts on port PORT",
            "connection to 127.0.0.1 PORT refused",
            "connect to 127.0.0.1:PORT: connection refused",
        ])
    );
    let (_listener, open) = tcp_listener();
    let exit = Rnc::run(&["-v", "-z", "127.0.0.1", &open.to_string()]);
    exit.assert_code(0);
    let transcript = normalise(&exit.stderr, &[(open, "PORT")]);
    assert_eq!(
        transcript.last().map(String::as_str),
        Some("rnc: connection to 127.0.0.1 PORT succeeded"),
        "{transcript:#?}"
    );
}

/// No answer to the SYN: in a network namespace of the test's own, where nftables drops
/// the SYNs to one port. `unshare -n` as root, `unshare -rn` (a user namespace) otherwise.
#[test]
fn verbose_tcp_timeout_in_private_namespace_says_no_answer_to_the_syn() {
    let Some(unshare) = installed_tool("unshare") else {
        skip_or_fail("unshare is not installed");
        return;
    };
    let Some(nft) = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        skip_or_fail("nft (nftables) is not installed");
        return;
    };
    let flags = if rustix::process::getuid().is_root() {
        "-n"
    } else {
        "-rn"
    };
    let script = format!(
        "ip link set lo up && {nft} -f - <<'EOF' || exit 97
table inet rnc_verbose_test {{
    chain input {{
        type filter hook input priority 0; policy accept;
        ip daddr 127.0.0.1 tcp dport 20000 tcp flags & (syn | ack) == syn drop
    }}
}}
EOF
exec \"$0\" -v -w 300ms 127.0.0.1 20000"
    );
    let args = [flags, "sh", "-c", &script, crate::util::RNC];
    let exit = Rnc::tool(&unshare, &args)
        .stdin(Input::Null)
        .spawn()
        .finish();
    if exit.code() == Some(97) || exit.stderr.contains("unshare: ") {
        skip_or_fail(&format!(
            "cannot build a network namespace with nftables here: {}",
            exit.stderr
        ));
        return;
    }
    exit.assert_code(1);
    assert_eq!(
        normalise(&exit.stderr, &[]),
        lines(&[
            "connecting to 127.0.0.1:20000 (SYN sent)",
            "no answer to the SYN within 0.3 s (filtered, or the host is down)",
            "connect to 127.0.0.1:20000: timed out after 0.3 s",
        ])
    );
}

/// A listener accepts a client; rnc's stdin ends first (FIN), then the client's.
fn accepted_session(level: &str) -> Vec<String> {
    let mut rnc = Rnc::with(&[level, "-l", "127.0.0.1", "0"])
        .stdin(Input::Piped)
        .spawn();
    let port = rnc.listening_port();
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    let client_port = client.local_addr().unwrap().port();
    rnc.wait_stderr("connection from");
    client.write_all(b"ping").unwrap();
    assert_eq!(rnc.stdout_exact(4), b"ping");
    rnc.close_stdin();
    expect_eof(&mut client);
    client.shutdown(Shutdown::Write).unwrap();
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(exit.stdout.is_empty(), "stdout carries peer bytes only");
    normalise(&exit.stderr, &[(port, "PORT"), (client_port, "CLIENT")])
}

#[test]
fn verbose_tcp_listener_accepted_transcript() {
    assert_eq!(
        accepted_session("-v"),
        lines(&[
            "listening on 127.0.0.1:PORT (backlog 4096)",
            "connection from 127.0.0.1:CLIENT",
            "sent FIN (stdin EOF)",
            "peer sent FIN",
            "0 bytes sent, 4 bytes received in T s",
        ])
    );
    assert_eq!(
        accepted_session("-vv"),
        lines(&[
            "socket(AF_INET, SOCK_STREAM) = FD",
            "setsockopt(SO_REUSEADDR, 1) = 0",
            "bind(127.0.0.1:0) = 0",
            "listen(4096) = 0",
            "listening on 127.0.0.1:PORT (backlog 4096)",
            "accept4() = FD from 127.0.0.1:CLIENT",
            "setsockopt(TCP_NODELAY, 1) = 0",
            "connection from 127.0.0.1:CLIENT",
            "shutdown(SHUT_WR) = 0",
            "sent FIN (stdin EOF)",
            "peer sent FIN",
            "close(FD)",
            "0 bytes sent, 4 bytes received in T s",
        ])
    );
}

/// A client sends, half-closes, and still receives the peer's reply before its FIN.
fn half_closed_session(level: &str) -> Vec<String> {
    let (listener, port) = tcp_listener();
    let mut rnc = Rnc::spawn(&[level, "127.0.0.1", &port.to_string()]);
    let (mut peer, from) = accept_tcp(&listener);
    rnc.write_stdin(b"hello");
    rnc.close_stdin();
    assert_eq!(read_to_end_within(&mut peer), b"hello");
    peer.write_all(b"reply").unwrap();
    drop(peer);
    assert_eq!(rnc.stdout_exact(5), b"reply");
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(exit.stdout.is_empty(), "stdout carries peer bytes only");
    normalise(&exit.stderr, &[(port, "PORT"), (from.port(), "CLIENT")])
}

#[test]
fn verbose_tcp_half_closed_transcript() {
    assert_eq!(
        half_closed_session("-v"),
        lines(&[
            "connecting to 127.0.0.1:PORT (SYN sent)",
            "connected in T ms (SYN answered by SYN-ACK, ACK sent)",
            "connected to 127.0.0.1:PORT (from 127.0.0.1:CLIENT)",
            "sent FIN (stdin EOF)",
            "peer sent FIN",
            "5 bytes sent, 5 bytes received in T s",
        ])
    );
    let snapshot = |event: &str| {
        format!(
            "tcp_info at {event}: STATE, rtt N ms, rttvar N ms, cwnd N, retransmits N, \
             bytes acked N"
        )
    };
    let (connected, stdin_eof, peer_fin, close) = (
        snapshot("connected"),
        snapshot("stdin EOF"),
        snapshot("peer FIN"),
        snapshot("close"),
    );
    assert_eq!(
        half_closed_session("-vvv"),
        lines(&[
            "socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK) = FD",
            "setsockopt(TCP_NODELAY, 1) = 0",
            "connect(127.0.0.1:PORT) = EINPROGRESS",
            "connecting to 127.0.0.1:PORT (SYN sent)",
            "getsockopt(SO_ERROR) = 0",
            "getpeername() = 127.0.0.1:PORT",
            "connected in T ms (SYN answered by SYN-ACK, ACK sent)",
            &connected,
            "connected to 127.0.0.1:PORT (from 127.0.0.1:CLIENT)",
            "shutdown(SHUT_WR) = 0",
            "sent FIN (stdin EOF)",
            &stdin_eof,
            "peer sent FIN",
            &peer_fin,
            &close,
            "close(FD)",
            "5 bytes sent, 5 bytes received in T s",
        ])
    );
}

/// The peer answers with a RST (SO_LINGER 0) while rnc's stdin is still open.
fn reset_session(level: &str) -> Vec<String> {
    let (listener, port) = tcp_listener();
    let mut rnc = Rnc::spawn(&[level, "127.0.0.1", &port.to_string()]);
    let (mut peer, from) = accept_tcp(&listener);
    rnc.write_stdin(b"x");
    assert_eq!(read_exact_within(&mut peer, 1), b"x");
    reset_close(peer);
    let exit = rnc.finish();
    exit.assert_code(1);
    assert!(exit.stdout.is_empty(), "stdout carries peer bytes only");
    normalise(&exit.stderr, &[(port, "PORT"), (from.port(), "CLIENT")])
}

#[test]
fn verbose_tcp_reset_transcript() {
    assert_eq!(
        reset_session("-v"),
        lines(&[
            "connecting to 127.0.0.1:PORT (SYN sent)",
            "connected in T ms (SYN answered by SYN-ACK, ACK sent)",
            "connected to 127.0.0.1:PORT (from 127.0.0.1:CLIENT)",
            "peer reset the connection (RST)",
            "1 bytes sent, 0 bytes received in T s",
            "read from 127.0.0.1:PORT: connection reset by peer",
        ])
    );
    let transcript = reset_session("-vvv");
    let reset = transcript
        .iter()
        .position(|l| l == "rnc: peer reset the connection (RST)");
    let snapshot = transcript
        .iter()
        .position(|l| l.starts_with("rnc: tcp_info at reset: STATE, rtt N ms"));
    assert!(
        reset.is_some() && snapshot == reset.map(|at| at + 1),
        "{transcript:#?}"
    );
}

/// A name with two addresses, both refused: each attempt is explained once, and the last
/// error is printed once (it used to be printed twice). In network and mount namespaces of
/// the test's own, where `/etc/hosts` (and `/etc/host.conf`, for `multi on`) are the test's.
#[test]
fn verbose_tcp_every_address_of_a_name_is_explained_once() {
    let Some(unshare) = installed_tool("unshare") else {
        skip_or_fail("unshare is not installed");
        return;
    };
    if !rustix::process::getuid().is_root() {
        skip_or_fail("bind-mounting /etc/hosts needs root");
        return;
    }
    let dir = crate::util::temp_dir();
    let hosts = crate::util::write_file(
        dir.path(),
        "hosts",
        b"127.0.0.1 two.test\n127.0.0.2 two.test\n",
    );
    let host_conf = crate::util::write_file(dir.path(), "host.conf", b"multi on\n");
    let script = format!(
        "ip link set lo up && mount --bind {} /etc/hosts && mount --bind {} /etc/host.conf \
         || exit 97\nexec \"$0\" -v two.test 9",
        hosts.display(),
        host_conf.display()
    );
    let args = ["-mn", "sh", "-c", &script, crate::util::RNC];
    let exit = Rnc::tool(&unshare, &args)
        .stdin(Input::Null)
        .spawn()
        .finish();
    if exit.code() == Some(97) || exit.stderr.contains("unshare: ") {
        skip_or_fail(&format!(
            "cannot build network and mount namespaces here: {}",
            exit.stderr
        ));
        return;
    }
    exit.assert_code(1);
    let refusal = "connection refused: the SYN was answered by a RST (or a firewall's ICMP \
                   reject): nothing accepts on port 9";
    assert_eq!(
        normalise(&exit.stderr, &[]),
        lines(&[
            "resolving two.test",
            "two.test resolved to 127.0.0.1:9, 127.0.0.2:9",
            "connecting to 127.0.0.1:9 (SYN sent)",
            refusal,
            "connecting to 127.0.0.2:9 (SYN sent)",
            refusal,
            "connect to 127.0.0.2:9: connection refused",
        ])
    );
}

/// In interactive mode the socket calls are rnc's notices like the others: in the
/// transcript above the editor, behind `-- rnc: `.
#[test]
fn verbose_interactive_socket_calls_go_to_the_transcript() {
    let (mut tty, mut peer) = crate::util::pty::connected(&["-vv"]);
    tty.keys(b"bye\r\x04");
    peer.expect(b"bye\n");
    peer.expect_eof();
    tty.wait_line("-- rnc: shutdown(SHUT_WR) = 0");
    tty.wait_line("-- rnc: sent FIN (stdin EOF)");
    drop(peer);
    let at_exit = tty.expect_exit(0);
    let call = at_exit
        .iter()
        .position(|l| l == "-- rnc: shutdown(SHUT_WR) = 0");
    let fin = at_exit
        .iter()
        .position(|l| l == "-- rnc: sent FIN (stdin EOF)");
    assert!(call.is_some() && call < fin, "{at_exit:#?}");
}
