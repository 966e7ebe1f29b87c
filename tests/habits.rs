//! nc's and ncat's habits (issue #13): time values with units, `--send-only` and
//! `--recv-only`, socket options (`-I`, `-O`, `-T`, `--nodelay`, `--keepalive`), `-i`,
//! `--retry`, `-s PATH` for a Unix datagram client, `-t` (telnet refusals), and the man
//! page and completions `--generate` prints.
//!
//! Owns no harness code (that is `util`). Every wait is bounded; time is only ever checked
//! from below (a delay happened), never from above.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::net::sockopt;
use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags, pidfd_getfd, pidfd_open};

use crate::util::{
    Input, Rnc, accept_tcp, accept_unix, closed_tcp_port, expect_eof, installed_tool,
    ipv6_available, read_exact_within, read_to_end_within, recv_udp, recv_unix_datagram,
    rnc_client, skip_or_fail, tcp_listener, temp_dir, udp_socket, write_file,
};

#[test]
fn habits_wait_takes_a_unit() {
    // Quiet peer, open stdin: `-w 300ms` ends the session (exit 0) after 300 ms of silence.
    // Read as 300 s it would outlast the harness's deadline, so this can fail.
    let started = Instant::now();
    let (mut rnc, _peer) = rnc_client(&["-w", "300ms"]);
    let status = rnc.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", rnc.stderr_so_far());
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn habits_bad_time_value_names_the_flag_and_value() {
    for (flag, value) in [("-w", "5x"), ("-q", "-1s"), ("-w", "0ms")] {
        let exit = Rnc::run(&[flag, value, "127.0.0.1", "9"]);
        exit.assert_code(2);
        let want = format!("rnc: invalid timeout `{value}` for `{flag}`");
        assert!(
            exit.stderr.starts_with(&want),
            "{flag} {value}: {}",
            exit.stderr
        );
        assert_eq!(exit.stderr.lines().count(), 1, "{}", exit.stderr);
    }
}

#[test]
fn habits_send_only_reads_and_drops_what_the_peer_sends() {
    let (mut rnc, mut peer) = rnc_client(&["--send-only", "-v"]);
    rnc.write_stdin(b"hi\n");
    assert_eq!(read_exact_within(&mut peer, 3), b"hi\n");
    peer.write_all(b"hello\n").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    // rnc read the bytes and the FIN: without --send-only "hello\n" would be on stdout.
    rnc.wait_stderr("peer sent FIN");
    rnc.close_stdin();
    expect_eof(&mut peer);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(exit.stdout.is_empty(), "{:?}", exit.stdout_text());
    assert!(
        exit.stderr.contains("3 bytes sent, 6 bytes received"),
        "{}",
        exit.stderr
    );
}

#[test]
fn habits_send_only_ends_at_stdin_eof_while_the_peer_stays_open() {
    let (mut rnc, mut peer) = rnc_client(&["--send-only"]);
    peer.write_all(b"banner\n").unwrap();
    rnc.write_stdin(b"request\n");
    rnc.close_stdin();
    // Without --send-only rnc would wait for the peer's close, which never comes.
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(exit.stdout.is_empty(), "{:?}", exit.stdout_text());
    assert_eq!(read_to_end_within(&mut peer), b"request\n");
}

#[test]
fn habits_recv_only_is_dash_d() {
    let (mut rnc, mut peer) = rnc_client(&["--recv-only"]);
    peer.write_all(b"data\n").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    rnc.write_stdin(b"never sent\n");
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"data\n");
    assert_eq!(read_to_end_within(&mut peer), b"");
}

/// A duplicate of the socket rnc (`pid`) holds whose peer is `peer` (the test's end of
/// the connection), taken with pidfd_getfd(2): the options are read on the real socket.
/// `None` (skipped, or failed under CI) where pidfd_getfd is not allowed (a container's
/// seccomp profile may ask for CAP_SYS_PTRACE).
fn socket_of(pid: u32, peer: SocketAddr) -> Option<OwnedFd> {
    let not_allowed = |e: rustix::io::Errno| {
        if e == rustix::io::Errno::PERM || e == rustix::io::Errno::NOSYS {
            skip_or_fail(&format!("pidfd_getfd(2) is not allowed here ({e})"));
            None
        } else {
            panic!("pidfd_getfd: {e}")
        }
    };
    let pid_t = Pid::from_raw(pid as i32).expect("a live pid");
    let pidfd = match pidfd_open(pid_t, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => return not_allowed(e),
    };
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("read /proc/PID/fd") {
        let entry = entry.expect("fd entry");
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if !is_socket {
            continue;
        }
        let dup = match pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()) {
            Ok(dup) => dup,
            Err(e) => return not_allowed(e),
        };
        let matches = rustix::net::getpeername(&dup)
            .ok()
            .flatten()
            .and_then(|addr| SocketAddr::try_from(addr).ok())
            .is_some_and(|addr| addr == peer);
        if matches {
            return Some(dup);
        }
    }
    panic!("rnc (pid {pid}) holds no socket connected to {peer}");
}

/// The options every check below reads from rnc's socket.
#[derive(Debug, PartialEq)]
struct Seen {
    recv_buffer: usize,
    send_buffer: usize,
    keepalive: bool,
    keepalive_timing: (Duration, Duration, u32),
    nodelay: bool,
}

fn seen(fd: &OwnedFd) -> Seen {
    Seen {
        recv_buffer: sockopt::socket_recv_buffer_size(fd).unwrap(),
        send_buffer: sockopt::socket_send_buffer_size(fd).unwrap(),
        keepalive: sockopt::socket_keepalive(fd).unwrap(),
        keepalive_timing: (
            sockopt::tcp_keepidle(fd).unwrap(),
            sockopt::tcp_keepintvl(fd).unwrap(),
            sockopt::tcp_keepcnt(fd).unwrap(),
        ),
        nodelay: sockopt::tcp_nodelay(fd).unwrap(),
    }
}

/// What `-I 100000 -O 50000 --keepalive=77s,7,4` gives (the kernel doubles buffer sizes).
const ASKED: [&str; 5] = ["-I", "100000", "-O", "50000", "--keepalive=77s,7,4"];
const WANT: Seen = Seen {
    recv_buffer: 200_000,
    send_buffer: 100_000,
    keepalive: true,
    keepalive_timing: (Duration::from_secs(77), Duration::from_secs(7), 4),
    nodelay: true,
};

#[test]
fn habits_tcp_client_socket_options_are_set() {
    let mut flags = ASKED.to_vec();
    flags.extend(["-T", "lowdelay", "--nodelay"]);
    let (rnc, peer) = rnc_client(&flags);
    let Some(fd) = socket_of(rnc.pid(), peer.local_addr().unwrap()) else {
        return;
    };
    assert_eq!(seen(&fd), WANT);
    assert_eq!(sockopt::ip_tos(&fd).unwrap(), 0x10);
    // Without the flags the kernel's defaults stay (keepalive off, no TOS).
    let (plain, peer) = rnc_client(&[]);
    let Some(fd) = socket_of(plain.pid(), peer.local_addr().unwrap()) else {
        return;
    };
    assert!(!sockopt::socket_keepalive(&fd).unwrap());
    assert_eq!(sockopt::ip_tos(&fd).unwrap(), 0);
}

#[test]
fn habits_tcp_listener_sets_options_on_the_accepted_socket() {
    let mut args = ASKED.to_vec();
    args.extend(["-T", "af41", "-l", "127.0.0.1", "0"]);
    let mut rnc = Rnc::spawn(&args);
    let port = rnc.listening_port();
    let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Once the byte is on rnc's stdout, rnc has accepted: the socket is in its fd table.
    peer.write_all(b"x").unwrap();
    assert_eq!(rnc.stdout_exact(1), b"x");
    let Some(fd) = socket_of(rnc.pid(), peer.local_addr().unwrap()) else {
        return;
    };
    assert_eq!(seen(&fd), WANT);
    assert_eq!(sockopt::ip_tos(&fd).unwrap(), 0x88);
}

#[test]
fn habits_ipv6_tos_is_the_traffic_class() {
    if !ipv6_available() {
        return;
    }
    let listener = std::net::TcpListener::bind("[::1]:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let rnc = Rnc::spawn(&["-T", "ef", "::1", &port]);
    let (peer, _) = accept_tcp(&listener);
    let Some(fd) = socket_of(rnc.pid(), peer.local_addr().unwrap()) else {
        return;
    };
    assert_eq!(sockopt::ipv6_tclass(&fd).unwrap(), 0xb8);
}

#[test]
fn habits_udp_client_sets_tos_and_buffers() {
    let (peer, port) = udp_socket();
    let mut rnc = Rnc::spawn(&[
        "-u",
        "-T",
        "0x20",
        "-O",
        "64k",
        "127.0.0.1",
        &port.to_string(),
    ]);
    rnc.write_stdin(b"x");
    recv_udp(&peer);
    let Some(fd) = socket_of(rnc.pid(), peer.local_addr().unwrap()) else {
        return;
    };
    assert_eq!(sockopt::ip_tos(&fd).unwrap(), 0x20);
    assert_eq!(sockopt::socket_send_buffer_size(&fd).unwrap(), 2 * 65536);
}

#[test]
fn habits_socket_option_usage_errors() {
    for (args, want) in [
        (&["-T", "fast", "h", "80"][..], "rnc: invalid `-T fast`"),
        (&["-I", "0", "h", "80"], "rnc: invalid `-I 0`"),
        (
            &["--keepalive=0", "h", "80"],
            "rnc: invalid `--keepalive=0`",
        ),
        (
            &["-u", "--keepalive", "h", "80"],
            "rnc: `--keepalive` is for TCP",
        ),
        (
            &["-U", "-T", "ef", "/tmp/x"],
            "rnc: `-T` needs a TCP or UDP socket",
        ),
    ] {
        let exit = Rnc::run(args);
        exit.assert_code(2);
        assert!(exit.stderr.starts_with(want), "{args:?}: {}", exit.stderr);
    }
}

#[test]
fn habits_interval_spaces_the_lines_sent() {
    let dir = temp_dir();
    // A file on stdin would go by sendfile in one piece: -i must hold each line back.
    let file = write_file(dir.path(), "lines", b"one\ntwo\nthree\nfour");
    let (listener, port) = tcp_listener();
    let started = Instant::now();
    let rnc = Rnc::with(&["-i", "300ms", "127.0.0.1", &port.to_string()])
        .stdin(Input::File(file))
        .spawn();
    let (mut peer, _) = accept_tcp(&listener);
    let mut got = Vec::new();
    for (k, want) in [&b"one\n"[..], b"two\n", b"three\n", b"four"]
        .iter()
        .enumerate()
    {
        got.extend(read_exact_within(&mut peer, want.len()));
        // Line k cannot leave before k pauses have passed (checked from below only).
        let at_least = Duration::from_millis(300) * k as u32;
        assert!(
            started.elapsed() >= at_least,
            "line {k} came before {at_least:?}"
        );
    }
    assert_eq!(got, b"one\ntwo\nthree\nfour");
    expect_eof(&mut peer);
    drop(peer);
    rnc.finish().assert_code(0);
}

#[test]
fn habits_retry_waits_for_a_server_that_comes_up_later() {
    // Bound but not listening: refused for now, and no one else can take the port.
    let server = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    server
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let port = server.local_addr().unwrap().as_socket().unwrap().port();
    let args = ["--retry", "100", "--retry-delay", "50ms", "-v", "127.0.0.1"];
    let mut rnc = Rnc::spawn(&[&args[..], &[&port.to_string()]].concat());
    let line = rnc.wait_stderr("(attempt 2 of 101)");
    assert_eq!(
        line,
        format!(
            "rnc: connect to 127.0.0.1:{port}: connection refused; retrying in 50 ms \
             (attempt 2 of 101)"
        )
    );
    server.listen(1).unwrap();
    let listener: std::net::TcpListener = server.into();
    let (mut peer, _) = accept_tcp(&listener);
    rnc.write_stdin(b"up\n");
    assert_eq!(read_exact_within(&mut peer, 3), b"up\n");
    peer.write_all(b"hello\n").unwrap();
    assert_eq!(rnc.stdout_exact(6), b"hello\n");
    rnc.close_stdin();
    drop(peer);
    rnc.finish().assert_code(0);
}

#[test]
fn habits_retry_gives_up_with_the_last_refusal() {
    let closed = closed_tcp_port();
    let port = closed.port().to_string();
    let exit = Rnc::run(&[
        "--retry",
        "2",
        "--retry-delay",
        "10ms",
        "-v",
        "127.0.0.1",
        &port,
    ]);
    exit.assert_code(1);
    let refused = format!("rnc: connect to 127.0.0.1:{port}: connection refused");
    let lines: Vec<&str> = exit.stderr.lines().collect();
    // Each attempt's lifecycle, then the retry; the last refusal once, as the error.
    let attempt = [
        format!("rnc: connecting to 127.0.0.1:{port} (SYN sent)"),
        format!(
            "rnc: connection refused: the SYN was answered by a RST (or a firewall's ICMP \
             reject): nothing accepts on port {port}"
        ),
    ];
    let mut expected = Vec::new();
    for n in 2..=3 {
        expected.extend(attempt.clone());
        expected.push(format!("{refused}; retrying in 10 ms (attempt {n} of 3)"));
    }
    expected.extend(attempt);
    expected.push(refused);
    assert_eq!(lines, expected);
}

#[test]
fn habits_retry_waits_for_a_unix_socket_to_appear() {
    let dir = temp_dir();
    let path = dir.path().join("later.sock");
    let path_text = path.to_str().unwrap();
    let mut rnc = Rnc::spawn(&[
        "--retry",
        "100",
        "--retry-delay",
        "50ms",
        "-v",
        "-U",
        path_text,
    ]);
    rnc.wait_stderr("no such file or directory; retrying in 50 ms (attempt 2 of 101)");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut peer = accept_unix(&listener, &path);
    peer.write_all(b"hi\n").unwrap();
    assert_eq!(rnc.stdout_exact(3), b"hi\n");
    rnc.close_stdin();
    drop(peer);
    rnc.finish().assert_code(0);
}

#[test]
fn habits_unix_datagram_client_binds_the_source_path_it_is_given() {
    let dir = temp_dir();
    let server_path = dir.path().join("server.sock");
    let client_path = dir.path().join("me.sock");
    let server = std::os::unix::net::UnixDatagram::bind(&server_path).unwrap();
    let mut rnc = Rnc::spawn(&[
        "-U",
        "-u",
        "-s",
        client_path.to_str().unwrap(),
        server_path.to_str().unwrap(),
    ]);
    rnc.write_stdin(b"ping\n");
    let (data, from) = recv_unix_datagram(&server);
    assert_eq!(data, b"ping\n");
    assert_eq!(
        from.as_deref(),
        Some(client_path.as_path()),
        "the sender's address"
    );
    // The server answers the address it was given: rnc receives it.
    server.send_to(b"pong\n", &client_path).unwrap();
    assert_eq!(rnc.stdout_exact(5), b"pong\n");
    rnc.close_stdin();
    rnc.finish().assert_code(0);
    assert!(!client_path.exists(), "rnc removes the socket file it made");
}

#[test]
fn habits_unix_datagram_source_path_that_is_a_file_is_refused() {
    let dir = temp_dir();
    let server_path = dir.path().join("server.sock");
    let _server = std::os::unix::net::UnixDatagram::bind(&server_path).unwrap();
    let file = write_file(dir.path(), "notes.txt", b"keep me");
    let exit = Rnc::run(&[
        "-U",
        "-u",
        "-s",
        file.to_str().unwrap(),
        server_path.to_str().unwrap(),
    ]);
    exit.assert_code(1);
    assert!(exit.stderr.starts_with("rnc: bind to "), "{}", exit.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

/// A telnet-ish server in python3: negotiation split across sends, data with an escaped
/// 0xFF, a subnegotiation; prints the replies it got, then what else rnc sent.
const TELNET_SERVER: &str = r#"
import socket, time
IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.settimeout(10)
c.sendall(bytes([IAC, DO, 24, IAC]))
time.sleep(0.05)  # not for synchronisation: only makes a split read likely
c.sendall(bytes([WILL, 1]) + b"login: " + bytes([IAC, IAC]) + b"!\n"
          + bytes([IAC, SB, 24, 1, IAC, SE, IAC, DONT, 3, IAC, WONT, 5]))
want = bytes([IAC, WONT, 24, IAC, DONT, 1])
got = b""
while len(got) < len(want):
    d = c.recv(100)
    if not d:
        break
    got += d
print("replies", got.hex(), flush=True)
c.sendall(b"bye\n")
rest = b""
while True:
    d = c.recv(100)
    if not d:
        break
    rest += d
print("rest", rest.hex(), flush=True)
c.close()
"#;

#[test]
fn habits_telnet_refuses_negotiation_and_keeps_it_off_stdout() {
    let Some(python) = installed_tool("python3") else {
        return;
    };
    let mut server = Rnc::tool(&python, &["-c", TELNET_SERVER]).spawn();
    let port = server.stdout_line();
    let mut rnc = Rnc::spawn(&["-t", "127.0.0.1", &port]);
    // IAC WONT 24, IAC DONT 1: DO and WILL refused; DONT and WONT not answered.
    assert_eq!(server.stdout_line(), "replies fffc18fffe01");
    let want = [b"login: ".as_slice(), &[0xff], b"!\nbye\n"].concat();
    assert_eq!(rnc.stdout_exact(want.len()), want);
    rnc.write_stdin(b"user\n");
    rnc.close_stdin();
    assert_eq!(server.stdout_line(), format!("rest {}", hex(b"user\n")));
    server.finish().assert_code(0);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(exit.stdout.is_empty(), "{:?}", exit.stdout_text());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `rnc --generate KIND`'s stdout, checked to be a success.
fn generated(kind: &str) -> String {
    let exit = Rnc::run(&["--generate", kind]);
    exit.assert_code(0);
    assert!(exit.stderr.is_empty(), "{}", exit.stderr);
    exit.stdout_text()
}

/// Every `--long` option `rnc --help` lists.
fn options_in_help() -> Vec<String> {
    let help = Rnc::run(&["--help"]).stdout_text();
    let mut names: Vec<String> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() > 30, "{names:?}");
    names
}

#[test]
fn habits_man_page_renders_with_every_option_and_the_examples() {
    let dir = temp_dir();
    let page = write_file(dir.path(), "rnc.1", generated("man").as_bytes());
    let Some(man) = installed_tool("man") else {
        return;
    };
    let exit = Rnc::tool(&man, &["-l", page.to_str().unwrap()])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200")
        .env("LC_ALL", "C")
        .stdin(Input::Null)
        .spawn()
        .finish();
    exit.assert_code(0);
    // Overstrike bold (`c\bc`) and underline (`_\bc`) to plain text, as `col -b` does.
    let mut text = String::new();
    for c in exit.stdout_text().chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    for name in options_in_help() {
        assert!(text.contains(&name), "`man rnc` lacks {name}:\n{text}");
    }
    for section in ["SYNOPSIS", "OPTIONS", "EXAMPLES"] {
        assert!(text.contains(section), "no {section} section:\n{text}");
    }
    assert!(text.contains("rnc -l 5000"), "no examples:\n{text}");
}

#[test]
fn habits_bash_completion_parses_and_registers() {
    let dir = temp_dir();
    let script = write_file(dir.path(), "rnc.bash", generated("bash").as_bytes());
    let Some(bash) = installed_tool("bash") else {
        return;
    };
    let script = script.to_str().unwrap();
    Rnc::tool(&bash, &["-n", script])
        .spawn()
        .finish()
        .assert_code(0);
    let load = format!("source {script} && complete -p rnc");
    let exit = Rnc::tool(&bash, &["-c", &load]).spawn().finish();
    exit.assert_code(0);
    assert!(
        exit.stdout_text().contains(" rnc"),
        "{}",
        exit.stdout_text()
    );
}

#[test]
fn habits_zsh_and_fish_completions_name_the_options() {
    for kind in ["zsh", "fish"] {
        let script = generated(kind);
        for name in options_in_help() {
            let bare = name.trim_start_matches('-');
            assert!(script.contains(bare), "{kind} completion lacks {name}");
        }
    }
}

#[test]
fn habits_interval_pause_is_not_idle_time() {
    // `-w 100ms` with pauses of 300 ms: the lines held back still go, then the idle
    // timeout ends the session (stdin stays open).
    let (mut rnc, mut peer) = rnc_client(&["-i", "300ms", "-w", "100ms"]);
    rnc.write_stdin(b"one\ntwo\nthree\n");
    assert_eq!(read_exact_within(&mut peer, 14), b"one\ntwo\nthree\n");
    let status = rnc.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", rnc.stderr_so_far());
}
