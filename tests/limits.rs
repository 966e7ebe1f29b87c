//! Resource limits, idle and load: `-k` under a low open-file limit and at EMFILE, CPU
//! while rnc waits, and a `-k` listener serving hundreds of clients (some of them reset
//! or vanish) with flat fd count and memory.
//!
//! CPU is read from `/proc/PID/stat` over about a second (`util::assert_idle`); a busy
//! loop shows as ~100 ticks, a sleeping process as 0.

use std::fs::File;
use std::io::Write;
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::thread;

use rustix::process::{Pid, Resource, Rlimit};

use crate::util::{
    Exit, Input, Output, RNC, Rnc, TIMEOUT, accept_tcp, assert_idle, connect_tcp, expect_eof,
    fd_count, never_accepting_listener, read_exact_within, read_to_end_within, recv_udp,
    reset_close, rnc_client, rss_kib, tcp_listener, temp_dir, udp_socket, wait_tcp_state,
};

/// A regular file in `dir` for rnc's stdout, and its path (the pipe case is
/// `load_keep_open_500_clients_stdout_pipe`).
fn stdout_file(dir: &Path) -> (Output, PathBuf) {
    let path = dir.join("out");
    let file = File::create(&path).expect("create the stdout file");
    (Output::File(file), path)
}

/// A `-k` TCP listener on 127.0.0.1 with stdin at EOF and stdout to `stdout`, started
/// through `sh` with an open-file limit of `nofile` (soft and hard: rnc raises its soft
/// limit to the hard one). Returns rnc and its port.
fn keep_open_listener_with_limit(nofile: u64, extra: &[&str], stdout: Output) -> (Rnc, u16) {
    let script = format!("ulimit -n {nofile} && exec \"$0\" \"$@\"");
    let mut args = vec!["-c", &script, RNC];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-k", "-l", "127.0.0.1", "0"]);
    let mut rnc = Rnc::tool(Path::new("/bin/sh"), &args)
        .stdin(Input::Null)
        .stdout(stdout)
        .spawn();
    let port = rnc.listening_port();
    (rnc, port)
}

/// A client of a `-k` listener whose stdin is at EOF: sends `line`, half-closes, and
/// returns the stream (rnc's EOF is read later, once rnc gets to it).
fn send_line(port: u16, line: &str) -> TcpStream {
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    client.write_all(line.as_bytes()).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    client
}

/// Asserts that every line in `expected` appears in `stdout` as a whole line.
#[track_caller]
fn assert_lines_delivered(stdout: &[u8], expected: &[String]) {
    let text = String::from_utf8_lossy(stdout);
    let got: std::collections::HashSet<&str> = text.lines().collect();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|l| !got.contains(l.trim_end_matches('\n')))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} lines missing, e.g. {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(5)]
    );
}

/// The EMFILE warnings on stderr.
fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("too many open files"))
        .collect()
}

#[test]
fn limits_keep_open_under_ulimit_16_serves_more_clients_than_fds() {
    let dir = temp_dir();
    let (stdout, out_path) = stdout_file(dir.path());
    let (mut rnc, port) = keep_open_listener_with_limit(16, &["-v"], stdout);
    let pid = rnc.pid();
    // 40 clients at once: more than the 16 fds rnc may hold. They wait in the backlog
    // and are served one after another.
    let lines: Vec<String> = (0..40).map(|i| format!("first batch {i}\n")).collect();
    let mut clients: Vec<TcpStream> = lines.iter().map(|l| send_line(port, l)).collect();
    for client in &mut clients {
        expect_eof(client);
    }
    rnc.wait_stderr_count("bytes received in", 40);
    let settled = fd_count(pid);
    assert_idle(pid, 20, "-k listener with 40 finished clients");

    // Some clients reset or vanish with data in flight; none may cost an fd.
    for i in 0..10 {
        let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
        client
            .write_all(format!("doomed {i}\n").as_bytes())
            .unwrap();
        if i % 2 == 0 {
            reset_close(client);
        } else {
            drop(client);
        }
    }
    rnc.wait_stderr_count("bytes received in", 50);

    // A second batch after the first has left: all served.
    let second: Vec<String> = (0..40).map(|i| format!("second batch {i}\n")).collect();
    let mut clients: Vec<TcpStream> = second.iter().map(|l| send_line(port, l)).collect();
    for client in &mut clients {
        expect_eof(client);
    }
    rnc.wait_stderr_count("bytes received in", 90);
    assert_eq!(fd_count(pid), settled, "fds leaked across 50 clients");

    rnc.signal("TERM");
    let exit = rnc.finish();
    exit.assert_code(143);
    let out = std::fs::read(&out_path).expect("read stdout file");
    assert_lines_delivered(&out, &[lines, second].concat());
    assert!(warnings(&exit.stderr).len() <= 1, "{}", exit.stderr);
}

/// The soft and hard open-file limits of process `pid` (`None`: unlimited), from
/// `/proc/PID/limits`.
fn nofile_limits(pid: u32) -> (u64, Option<u64>) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a `Max open files` line");
    let fields: Vec<&str> = line["Max open files".len()..].split_whitespace().collect();
    let soft = fields[0].parse().expect("a finite soft limit");
    (soft, fields[1].parse().ok())
}

/// The fd numbers process `pid` has open.
fn open_fds(pid: u32) -> Vec<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

#[test]
fn limits_keep_open_at_emfile_backs_off_warns_once_and_recovers() {
    let dir = temp_dir();
    let (stdout, out_path) = stdout_file(dir.path());
    let mut rnc = Rnc::with(&["-v", "-k", "-l", "127.0.0.1", "0"])
        .stdin(Input::Null)
        .stdout(stdout)
        .spawn();
    let port = rnc.listening_port();
    let pid = rnc.pid();
    // One client first, so whatever rnc keeps between clients is already open.
    let mut warm = send_line(port, "warm-up\n");
    expect_eof(&mut warm);
    rnc.wait_stderr_count("bytes received in", 1);
    let before = fd_count(pid);

    // Lower rnc's soft limit to its lowest free fd number: the next accept fails with
    // EMFILE. (A running process's limit can be lowered below the fds it holds.)
    let fds = open_fds(pid);
    let lowest_free = (0..).find(|n| !fds.contains(n)).expect("a free fd");
    let (soft, hard) = nofile_limits(pid);
    let target = Pid::from_raw(pid as i32);
    let set_soft = |current: u64| {
        rustix::process::prlimit(
            target,
            Resource::Nofile,
            Rlimit {
                current: Some(current),
                maximum: hard,
            },
        )
    };
    if let Err(e) = set_soft(lowest_free) {
        crate::util::skip_or_fail(&format!("cannot change rnc's open-file limit: {e}"));
        return;
    }
    let lines: Vec<String> = (0..8).map(|i| format!("queued {i}\n")).collect();
    let mut clients: Vec<TcpStream> = lines.iter().map(|l| send_line(port, l)).collect();
    rnc.wait_stderr("too many open files");
    assert_idle(pid, 20, "-k listener at EMFILE");

    // Clients leave the limit's way: rnc recovers and serves every queued client.
    set_soft(soft).expect("raise the limit again");
    for client in &mut clients {
        expect_eof(client);
    }
    rnc.wait_stderr_count("bytes received in", 9);
    assert_eq!(
        fd_count(pid),
        before,
        "fds leaked by clients rejected at EMFILE"
    );

    rnc.signal("TERM");
    let exit = rnc.finish();
    exit.assert_code(143);
    let out = std::fs::read(&out_path).expect("read stdout file");
    assert_lines_delivered(&out, &lines);
    assert_eq!(
        warnings(&exit.stderr).len(),
        1,
        "one warning expected:\n{}",
        exit.stderr
    );
}

#[test]
fn idle_cpu_near_zero_while_waiting() {
    // Each phase in its own thread: the five measurements overlap.
    thread::scope(|scope| {
        scope.spawn(|| {
            let (_listener, port, _queued) = never_accepting_listener();
            let rnc = Rnc::with(&["-w", "60", "127.0.0.1", &port.to_string()])
                .stdin(Input::Null)
                .spawn();
            wait_tcp_state(rnc.pid(), "02");
            assert_idle(rnc.pid(), 3, "connect pending");
        });
        scope.spawn(|| {
            let mut rnc = Rnc::spawn(&["-l", "127.0.0.1", "0"]);
            rnc.listening_port();
            assert_idle(rnc.pid(), 3, "listening");
        });
        // After one round trip, and after 300 quick ones, which turn rnc's busy-poll on
        // (busy_poll.rs): once the replies stop, it must go back to sleeping.
        for trips in [1, 300] {
            scope.spawn(move || idle_after_round_trips(trips));
        }
        scope.spawn(|| {
            let (listener, port) = tcp_listener();
            let mut rnc = Rnc::spawn(&["127.0.0.1", &port.to_string()]);
            let (mut peer, _) = accept_tcp(&listener);
            rnc.write_stdin(b"x");
            rnc.close_stdin();
            assert_eq!(read_to_end_within(&mut peer), b"x");
            assert_idle(rnc.pid(), 3, "after half-close");
        });
    });
}

/// rnc as a client exchanges `trips` lines with an echoing peer, then must sleep.
fn idle_after_round_trips(trips: u32) {
    let (mut rnc, mut peer) = rnc_client(&[]);
    peer.set_nodelay(true).unwrap();
    for i in 0..trips {
        let line = format!("{i:07}\n");
        rnc.write_stdin(line.as_bytes());
        let got = read_exact_within(&mut peer, line.len());
        peer.write_all(&got).unwrap();
        assert_eq!(
            rnc.stdout_exact(line.len()),
            line.as_bytes(),
            "round trip {i}"
        );
    }
    assert_idle(rnc.pid(), 3, &format!("idle after {trips} round trip(s)"));
}

#[test]
fn load_keep_open_500_clients_stdout_file() {
    let dir = temp_dir();
    let (stdout, path) = stdout_file(dir.path());
    let (exit, good) = serve_500_clients(stdout);
    exit.assert_code(143);
    let out = std::fs::read(&path).expect("read stdout file");
    assert_lines_delivered(&out, &good);
}

#[test]
fn load_keep_open_500_clients_stdout_pipe() {
    let (exit, good) = serve_500_clients(Output::Piped);
    exit.assert_code(143);
    assert_lines_delivered(&exit.stdout, &good);
}

/// A `-k` listener (stdin at EOF) serves 500 clients one after another: 8 in 10 send a
/// line and wait for EOF, 1 in 10 resets, 1 in 10 vanishes. fd count and RSS are compared
/// after 50 and after 500 clients. Returns rnc's exit after SIGTERM and the good lines.
fn serve_500_clients(stdout: Output) -> (Exit, Vec<String>) {
    let mut rnc = Rnc::with(&["-v", "-k", "-l", "127.0.0.1", "0"])
        .stdin(Input::Null)
        .stdout(stdout)
        .spawn();
    let port = rnc.listening_port();
    let pid = rnc.pid();
    let mut good = Vec::new();
    let mut at_50 = (0, 0);
    for i in 0..500 {
        let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
        let line = format!("client {i} {}\n", "x".repeat(i % 97));
        client.write_all(line.as_bytes()).unwrap();
        match i % 10 {
            // Resets with its line possibly unread.
            7 => reset_close(client),
            // Vanishes: closes both directions at once, without waiting for rnc's EOF.
            8 => drop(client),
            _ => {
                client.shutdown(Shutdown::Write).unwrap();
                expect_eof(&mut client);
                good.push(line);
            }
        }
        if i == 49 || i == 499 {
            // Every connection so far has been closed by rnc (its summary follows detach).
            rnc.wait_stderr_count("bytes received in", i + 1);
            let now = (fd_count(pid), rss_kib(pid));
            if i == 49 {
                at_50 = now;
            } else {
                assert_eq!(now.0, at_50.0, "fd count grew from 50 to 500 clients");
                assert!(
                    now.1 <= at_50.1 + 2048,
                    "RSS grew from {} KiB after 50 clients to {} KiB after 500",
                    at_50.1,
                    now.1
                );
            }
        }
    }
    rnc.signal("TERM");
    (rnc.finish(), good)
}

#[test]
fn load_udp_keep_open_replies_reach_every_peer_once() {
    let mut rnc = Rnc::spawn(&["-k", "-u", "-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let peers: Vec<UdpSocket> = (0..5).map(|_| udp_socket().0).collect();
    for round in 0..3 {
        for (i, peer) in peers.iter().enumerate() {
            let msg = format!("r{round}p{i}");
            peer.send_to(msg.as_bytes(), ("127.0.0.1", port)).unwrap();
            assert_eq!(rnc.stdout_exact(msg.len()), msg.as_bytes());
        }
        let reply = format!("to all, round {round}");
        rnc.write_stdin(reply.as_bytes());
        for (i, peer) in peers.iter().enumerate() {
            let (data, from) = recv_udp(peer);
            assert_eq!(data, reply.as_bytes(), "peer {i} round {round}");
            assert_eq!(from.port(), port);
        }
    }
    // No peer got a reply twice: every queue is empty.
    for (i, peer) in peers.iter().enumerate() {
        peer.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        assert!(
            peer.recv_from(&mut buf).is_err(),
            "peer {i} has an extra datagram"
        );
        peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    }
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}
