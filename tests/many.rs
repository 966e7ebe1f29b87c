//! Many peers on one loop: `-k` serving clients at once, `--broker` and `--chat` (against
//! ncat as client and as broker), `-m`, `--allow`/`--deny`, and a program per connection
//! (`-e`, `-c`) with its EOF rules, its environment, its stderr, and no zombie or fd left
//! behind.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::util::{
    Deadline, Input, Rnc, TIMEOUT, connect_tcp, expect_eof, fd_count, installed_tool,
    pseudo_random, read_exact_within, read_to_end_within, rss_kib,
};

/// A `-k`-style listener on 127.0.0.1 with `flags`; returns rnc and its port.
fn listener(flags: &[&str]) -> (Rnc, u16) {
    let mut args = flags.to_vec();
    args.extend_from_slice(&["-l", "127.0.0.1", "0"]);
    let mut rnc = Rnc::spawn(&args);
    let port = rnc.listening_port();
    (rnc, port)
}

/// A client connected from `source` (a loopback address of the test's choosing).
fn connect_from(source: &str, port: u16) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let from: SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&from.into()).expect("bind the client's source");
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    socket
        .connect_timeout(&to.into(), TIMEOUT)
        .expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// rnc's child processes that are zombies (exited, not reaped).
fn zombie_children(pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.len() > 1 && fields[0] == "Z" && fields[1] == pid.to_string()
        })
        .count()
}

/// Waits until `pid` has no child at all (every program ended and was reaped).
fn wait_no_children(pid: u32) {
    let deadline = Deadline::new();
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if children.trim().is_empty() {
            return;
        }
        assert!(
            !deadline.expired(),
            "rnc still has children {children} (zombies: {})",
            zombie_children(pid)
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn many_keep_open_300_clients_at_once_hear_stdin_and_are_heard_in_order() {
    let (mut rnc, port) = listener(&["-v", "-k"]);
    let mut clients: Vec<TcpStream> = (0..300)
        .map(|_| connect_tcp(&format!("127.0.0.1:{port}")))
        .collect();
    rnc.wait_stderr_count("connection from", 300);
    // stdin goes to every client.
    rnc.write_stdin(b"to everyone\n");
    for client in &mut clients {
        assert_eq!(read_exact_within(client, 12), b"to everyone\n");
    }
    // Every client's lines reach stdout, each sender's in its order.
    for round in 0..3 {
        for (i, client) in clients.iter_mut().enumerate() {
            client
                .write_all(format!("client {i} line {round}\n").as_bytes())
                .unwrap();
        }
    }
    for client in &clients {
        client.shutdown(Shutdown::Write).unwrap();
    }
    let mut next: HashMap<usize, usize> = HashMap::new();
    for _ in 0..900 {
        let line = rnc.stdout_line();
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words.len(), 4, "a whole line: {line:?}");
        let (i, round): (usize, usize) = (words[1].parse().unwrap(), words[3].parse().unwrap());
        let expected = next.entry(i).or_insert(0);
        assert_eq!(round, *expected, "client {i}'s lines in order");
        *expected += 1;
    }
    assert!(next.values().all(|&n| n == 3));
    // A client's EOF ends its connection.
    for client in &mut clients {
        expect_eof(client);
    }
    rnc.wait_stderr_count("left", 300);
    assert!(!rnc.has_exited());
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_keep_open_stdin_goes_as_fast_as_the_slowest_client_and_nothing_is_lost() {
    let data = pseudo_random(4 << 20, 12);
    let (mut rnc, port) = listener(&["-v", "-k"]);
    let mut fast = connect_tcp(&format!("127.0.0.1:{port}"));
    let mut slow = connect_tcp(&format!("127.0.0.1:{port}"));
    rnc.wait_stderr_count("connection from", 2);
    let feeder = rnc.feed_stdin_and_close(data.clone());
    let fast_reader = thread::spawn(move || read_to_end_within(&mut fast));
    // The slow client reads nothing for a while: stdin waits for it, memory stays flat.
    thread::sleep(Duration::from_millis(700));
    let rss = rss_kib(rnc.pid());
    assert!(rss < 64 * 1024, "rnc holds {rss} KiB while a client lags");
    assert_eq!(
        read_to_end_within(&mut slow),
        data,
        "the slow client got everything"
    );
    assert_eq!(fast_reader.join().unwrap(), data, "the fast one too");
    feeder.join().unwrap().expect("stdin fed");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_max_conns_closes_the_client_over_the_limit_at_once() {
    let (mut rnc, port) = listener(&["-v", "-k", "-m", "1"]);
    let mut first = connect_tcp(&format!("127.0.0.1:{port}"));
    rnc.wait_stderr("connection from");
    let mut second = connect_tcp(&format!("127.0.0.1:{port}"));
    expect_eof(&mut second);
    rnc.wait_stderr("1 clients connected already (-m 1)");
    // The first is still served; once it leaves, a new client is welcome.
    rnc.write_stdin(b"hi\n");
    assert_eq!(read_exact_within(&mut first, 3), b"hi\n");
    drop(first);
    rnc.wait_stderr("client 1 from");
    let mut third = connect_tcp(&format!("127.0.0.1:{port}"));
    rnc.write_stdin(b"again\n");
    assert_eq!(read_exact_within(&mut third, 6), b"again\n");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_allow_and_deny_admit_by_address_and_block() {
    let (mut rnc, port) = listener(&["-v", "-k", "--allow", "127.0.0.0/30", "--deny", "127.0.0.2"]);
    let mut denied = connect_from("127.0.0.2", port);
    expect_eof(&mut denied);
    rnc.wait_stderr("refused connection from 127.0.0.2");
    let mut outside = connect_from("127.0.0.9", port);
    expect_eof(&mut outside);
    rnc.wait_stderr("refused connection from 127.0.0.9");
    let mut allowed = connect_from("127.0.0.3", port);
    rnc.wait_stderr("connection from 127.0.0.3");
    rnc.write_stdin(b"welcome\n");
    assert_eq!(read_exact_within(&mut allowed, 8), b"welcome\n");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_allowfile_reads_entries_and_comments() {
    let dir = crate::util::temp_dir();
    let file = crate::util::write_file(dir.path(), "allow", b"# who may come\n127.0.0.5 # one\n");
    let (mut rnc, port) = listener(&["-v", "-k", "--allowfile", file.to_str().unwrap()]);
    let mut other = connect_from("127.0.0.1", port);
    expect_eof(&mut other);
    let mut listed = connect_from("127.0.0.5", port);
    rnc.wait_stderr("connection from 127.0.0.5");
    rnc.write_stdin(b"ok\n");
    assert_eq!(read_exact_within(&mut listed, 3), b"ok\n");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_bad_serving_flags_are_usage_errors() {
    for (args, words) in [
        (&["--broker", "127.0.0.1", "5"][..], "`--broker` needs `-l`"),
        (&["-l", "-u", "--chat", "5"][..], "needs a stream socket"),
        (&["-l", "-m", "0", "5"][..], "`-m 0`"),
        (
            &["-l", "--allow", "10.0.0.0/40", "5"][..],
            "`--allow 10.0.0.0/40`",
        ),
        (
            &["-z", "-e", "/bin/cat", "127.0.0.1", "5"][..],
            "cannot be used with `-z`",
        ),
        (
            &["-l", "--broker", "-e", "/bin/cat", "5"][..],
            "cannot be used with `-e`",
        ),
    ] {
        let exit = Rnc::run(args);
        exit.assert_code(2);
        assert!(exit.stderr.contains(words), "{args:?}: {}", exit.stderr);
    }
}

/// ncat as a client: its stdin piped, its stdout read by the harness.
fn ncat_client(ncat: &Path, port: u16) -> Rnc {
    Rnc::tool(ncat, &["127.0.0.1", &port.to_string()]).spawn()
}

#[test]
fn many_broker_relays_between_ncat_clients() {
    let Some(ncat) = installed_tool("ncat") else {
        return;
    };
    let (mut rnc, port) = listener(&["-v", "--broker"]);
    let mut a = ncat_client(&ncat, port);
    rnc.wait_stderr_count("connection from", 1);
    let mut b = ncat_client(&ncat, port);
    rnc.wait_stderr_count("connection from", 2);
    a.write_stdin(b"from a\n");
    assert_eq!(b.stdout_line(), "from a");
    b.write_stdin(b"from b\n");
    assert_eq!(a.stdout_line(), "from b");
    rnc.write_stdin(b"from the broker\n");
    assert_eq!(a.stdout_line(), "from the broker");
    assert_eq!(b.stdout_line(), "from the broker");
    for client in [a, b] {
        client.signal("TERM");
        client.finish();
    }
    rnc.signal("TERM");
    let exit = rnc.finish();
    assert!(
        !exit.stdout_text().contains("from a"),
        "a broker relays between clients, not to its own stdout"
    );
}

#[test]
fn many_rnc_clients_of_an_ncat_broker() {
    let Some(ncat) = installed_tool("ncat") else {
        return;
    };
    let mut broker = Rnc::tool(&ncat, &["-v", "--broker", "-l", "127.0.0.1", "0"]).spawn();
    // ncat says `Listening on 127.0.0.1:0`, after listen(): ask /proc for the port.
    broker.wait_stderr("Listening on");
    let port = crate::util::tcp_listen_port_of(broker.pid());
    // ncat -v says `Connection from IP.` and `Connection from IP:PORT.` for each client.
    let mut a = Rnc::spawn(&["127.0.0.1", &port.to_string()]);
    broker.wait_stderr_count("Connection from", 2);
    let mut b = Rnc::spawn(&["127.0.0.1", &port.to_string()]);
    broker.wait_stderr_count("Connection from", 4);
    a.write_stdin(b"rnc a speaks\n");
    assert_eq!(b.stdout_line(), "rnc a speaks");
    b.write_stdin(b"rnc b answers\n");
    assert_eq!(a.stdout_line(), "rnc b answers");
    for rnc in [a, b] {
        rnc.signal("TERM");
        rnc.finish().assert_code(143);
    }
    broker.signal("TERM");
    broker.finish();
}

#[test]
fn many_chat_room_names_members_escapes_controls_and_says_who_comes_and_goes() {
    let Some(ncat) = installed_tool("ncat") else {
        return;
    };
    let (mut rnc, port) = listener(&["-v", "--chat"]);
    let mut a = ncat_client(&ncat, port);
    assert_eq!(
        a.stdout_line(),
        "<announce> 127.0.0.1 is connected as <user1>."
    );
    assert_eq!(a.stdout_line(), "<announce> already connected: nobody.");
    let mut b = ncat_client(&ncat, port);
    assert_eq!(
        a.stdout_line(),
        "<announce> 127.0.0.1 is connected as <user2>."
    );
    assert_eq!(
        b.stdout_line(),
        "<announce> 127.0.0.1 is connected as <user2>."
    );
    assert_eq!(
        b.stdout_line(),
        "<announce> already connected: 127.0.0.1 as <user1>."
    );
    // A line goes to everyone else, its escape sequences made harmless.
    a.write_stdin(b"hello \x1b[2J\x1b]0;pwned\x07room\r\n");
    assert_eq!(
        b.stdout_line(),
        "<user1> hello \\033[2J\\033]0;pwned\\007room"
    );
    // The listener's own user is <user0>, and sees the room on stdout.
    rnc.write_stdin(b"from the host\n");
    assert_eq!(a.stdout_line(), "<user0> from the host");
    assert_eq!(b.stdout_line(), "<user0> from the host");
    assert_eq!(
        rnc.stdout_line(),
        "<announce> 127.0.0.1 is connected as <user1>."
    );
    assert_eq!(
        rnc.stdout_line(),
        "<announce> 127.0.0.1 is connected as <user2>."
    );
    assert_eq!(
        rnc.stdout_line(),
        "<user1> hello \\033[2J\\033]0;pwned\\007room"
    );
    a.signal("TERM");
    a.finish();
    assert_eq!(b.stdout_line(), "<announce> <user1> is disconnected.");
    b.signal("TERM");
    b.finish();
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_broker_disconnects_a_client_too_slow_for_the_room() {
    let (mut rnc, port) = listener(&["-v", "--broker"]);
    let mut flooder = connect_tcp(&format!("127.0.0.1:{port}"));
    let mut reader = connect_tcp(&format!("127.0.0.1:{port}"));
    let mut sleeper = connect_tcp(&format!("127.0.0.1:{port}"));
    rnc.wait_stderr_count("connection from", 3);
    // 32 MiB from one client: the reader keeps up, the sleeper reads nothing.
    let data = pseudo_random(32 << 20, 5);
    let expected = data.clone();
    let writer = thread::spawn(move || {
        flooder.write_all(&data).unwrap();
        flooder
    });
    let got = read_exact_within(&mut reader, expected.len());
    assert!(got == expected, "the reader got all 32 MiB, in order");
    rnc.wait_stderr("too slow");
    let _flooder = writer.join().unwrap();
    // The sleeper was let go: it sees the end after what was queued for it.
    sleeper.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut sink = Vec::new();
    sleeper.read_to_end(&mut sink).expect("read to EOF");
    assert!(sink.len() < expected.len());
    assert!(rss_kib(rnc.pid()) < 64 * 1024, "memory stayed bounded");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_exec_cat_echoes_16_mib_both_ways_for_each_client() {
    let (rnc, port) = listener(&["-k", "-e", "/bin/cat"]);
    let data = pseudo_random(16 << 20, 3);
    let mut handles = Vec::new();
    for _ in 0..2 {
        let data = data.clone();
        handles.push(thread::spawn(move || {
            let mut stream = connect_tcp(&format!("127.0.0.1:{port}"));
            let mut writer = stream.try_clone().unwrap();
            let sender = thread::spawn(move || {
                writer.write_all(&data).unwrap();
                writer.shutdown(Shutdown::Write).unwrap();
            });
            let echoed = read_to_end_within(&mut stream);
            sender.join().unwrap();
            echoed
        }));
    }
    for handle in handles {
        assert!(
            handle.join().unwrap() == data,
            "16 MiB echoed byte for byte"
        );
    }
    wait_no_children(rnc.pid());
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_exec_200_connections_in_a_row_leave_no_zombie_and_no_fd() {
    let (rnc, port) = listener(&["-k", "-e", "/bin/cat"]);
    let pid = rnc.pid();
    let once = |i: usize| {
        let mut stream = connect_tcp(&format!("127.0.0.1:{port}"));
        let line = format!("request {i}\n");
        stream.write_all(line.as_bytes()).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_to_end_within(&mut stream), line.as_bytes());
    };
    once(0);
    wait_no_children(pid);
    let fds = fd_count(pid);
    for i in 1..200 {
        once(i);
    }
    wait_no_children(pid);
    assert_eq!(zombie_children(pid), 0);
    assert_eq!(fd_count(pid), fds, "fds leaked over 200 programs");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_exec_program_that_exits_early_or_never_reads_ends_cleanly() {
    // Exits after reading 5 bytes while the client is still sending.
    let (mut rnc, port) = listener(&["-v", "-k", "-c", "head -c 5"]);
    let mut stream = connect_tcp(&format!("127.0.0.1:{port}"));
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        // The program is gone before all of it is read: a reset may end this early.
        let _ = writer.write_all(&pseudo_random(4 << 20, 1));
        let _ = writer.shutdown(Shutdown::Write);
    });
    let got = read_to_end_within(&mut stream);
    assert_eq!(got.len(), 5, "what the program wrote, then EOF");
    sender.join().unwrap();
    rnc.wait_stderr("exited with status 0");
    drop(stream);
    rnc.signal("TERM");
    rnc.finish();

    // Never reads its stdin: its output still arrives, and the client's bytes are dropped.
    let (rnc, port) = listener(&["-k", "-c", "exec 0<&-; echo served"]);
    let mut stream = connect_tcp(&format!("127.0.0.1:{port}"));
    stream.write_all(&pseudo_random(256 << 10, 2)).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end_within(&mut stream), b"served\n");
    wait_no_children(rnc.pid());
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_exec_program_ignoring_sigterm_is_killed_when_its_client_leaves() {
    let (mut rnc, port) = listener(&[
        "-v",
        "-k",
        "-c",
        "trap '' TERM PIPE; echo $$; while :; do echo tick 2>/dev/null; sleep 0.1; done",
    ]);
    let mut stream = connect_tcp(&format!("127.0.0.1:{port}"));
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while byte[0] != b'\n' {
        stream.read_exact(&mut byte).unwrap();
        line.push(byte[0]);
    }
    let child: u32 = String::from_utf8_lossy(&line).trim().parse().unwrap();
    // The client disconnects mid-stream (the next tick meets its reset): SIGTERM, which
    // the program ignores, then SIGKILL.
    drop(stream);
    rnc.wait_stderr("killed by signal 9");
    assert!(!Path::new(&format!("/proc/{child}")).exists());
    wait_no_children(rnc.pid());
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_exec_environment_names_the_connection_and_stderr_passes_through() {
    let (mut rnc, port) = listener(&[
        "-k",
        "-c",
        "echo $RNC_REMOTE_ADDR $RNC_REMOTE_PORT $RNC_LOCAL_ADDR $RNC_LOCAL_PORT $RNC_PROTO $NCAT_REMOTE_PORT; echo to-stderr >&2",
    ]);
    let mut stream = connect_tcp(&format!("127.0.0.1:{port}"));
    let local = stream.local_addr().unwrap();
    let words = String::from_utf8(read_to_end_within(&mut stream)).unwrap();
    assert_eq!(
        words.trim(),
        format!(
            "127.0.0.1 {} 127.0.0.1 {port} TCP {}",
            local.port(),
            local.port()
        )
    );
    rnc.wait_stderr("to-stderr");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_exec_serves_curl_and_python_clients_at_once() {
    let (Some(curl), Some(python)) = (installed_tool("curl"), installed_tool("python3")) else {
        return;
    };
    let (rnc, port) = listener(&[
        "-k",
        "--sh-exec",
        "read request; printf 'HTTP/1.0 200 OK\\r\\nContent-Length: 6\\r\\n\\r\\nhello\\n'",
    ]);
    let url = format!("http://127.0.0.1:{port}/");
    let curls: Vec<_> = (0..8)
        .map(|_| {
            let curl = curl.clone();
            let url = url.clone();
            thread::spawn(move || {
                std::process::Command::new(curl)
                    .args(["-s", "--max-time", "10", &url])
                    .output()
                    .expect("run curl")
            })
        })
        .collect();
    for handle in curls {
        let out = handle.join().unwrap();
        assert!(out.status.success(), "curl: {:?}", out);
        assert_eq!(out.stdout, b"hello\n");
    }
    let script = format!(
        "import urllib.request; print(urllib.request.urlopen('{url}', timeout=10).read().decode(), end='')"
    );
    let out = std::process::Command::new(python)
        .args(["-c", &script])
        .output()
        .expect("run python3");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n", "{out:?}");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_exec_as_a_client_and_over_udp() {
    // Client: the program talks to the server.
    let (listener, port) = crate::util::tcp_listener();
    let rnc = Rnc::with(&[
        "-c",
        "read x; echo \"got $x\"",
        "127.0.0.1",
        &port.to_string(),
    ])
    .stdin(Input::Null)
    .spawn();
    let (mut peer, _) = crate::util::accept_tcp(&listener);
    peer.write_all(b"ping\n").unwrap();
    assert_eq!(read_to_end_within(&mut peer), b"got ping\n");
    drop(peer);
    rnc.finish().assert_code(0);

    // UDP listener: one program serves the peer it locks onto.
    let mut rnc = Rnc::spawn(&["-u", "-l", "-e", "/bin/cat", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let (socket, _) = crate::util::udp_socket();
    socket.connect(("127.0.0.1", port)).unwrap();
    socket.send(b"echo me\n").unwrap();
    let mut buf = [0u8; 64];
    let n = socket.recv(&mut buf).expect("the echo");
    assert_eq!(&buf[..n], b"echo me\n");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_exec_over_tls_with_keep_open() {
    let (rnc, port) = listener(&["-k", "--tls", "-e", "/bin/cat"]);
    for i in 0..3 {
        let line = format!("secret {i}\n");
        let mut client = Rnc::with(&["--tls", "--insecure", "127.0.0.1", &port.to_string()])
            .stdin(Input::Piped)
            .spawn();
        client.write_stdin(line.as_bytes());
        client.close_stdin();
        assert_eq!(client.stdout_line(), line.trim_end());
        client.finish().assert_code(0);
    }
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_broker_keeps_fanning_out_when_a_client_resets_midway() {
    let (mut rnc, port) = listener(&["-v", "--broker"]);
    let mut sender = connect_tcp(&format!("127.0.0.1:{port}"));
    let mut readers: Vec<TcpStream> = (0..20)
        .map(|_| connect_tcp(&format!("127.0.0.1:{port}")))
        .collect();
    rnc.wait_stderr_count("connection from", 21);
    let line = |i: usize| format!("{i:08} {}\n", "x".repeat(54));
    let first: String = (0..1000).map(line).collect();
    sender.write_all(first.as_bytes()).unwrap();
    // One reader reads a little and resets its connection in the middle of the stream.
    let doomed = readers.remove(0);
    crate::util::reset_close(doomed);
    let second: String = (1000..2000).map(line).collect();
    sender.write_all(second.as_bytes()).unwrap();
    let expected = [first, second].concat().into_bytes();
    for reader in &mut readers {
        assert!(
            read_exact_within(reader, expected.len()) == expected,
            "every other client got all 2000 lines, in order"
        );
    }
    rnc.wait_stderr("client 2 from");
    assert!(!rnc.has_exited());
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_exec_over_a_unix_socket_with_keep_open() {
    let dir = crate::util::temp_dir();
    let path = dir.path().join("echo.sock");
    let path_text = path.to_str().unwrap();
    let mut rnc = Rnc::spawn(&[
        "-v",
        "-k",
        "-l",
        "-U",
        path_text,
        "-c",
        "echo unix $RNC_PROTO; cat",
    ]);
    rnc.wait_stderr("listening on");
    for i in 0..3 {
        let mut client = crate::util::connect_unix(&path);
        client.write_all(format!("line {i}\n").as_bytes()).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(
            read_to_end_within(&mut client),
            format!("unix UNIX\nline {i}\n").as_bytes()
        );
    }
    wait_no_children(rnc.pid());
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn many_keep_open_reports_a_client_reset_and_its_tcp_info_at_vvv() {
    let (mut rnc, port) = listener(&["-vvv", "-k"]);
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    rnc.wait_stderr("connection from");
    rnc.write_stdin(b"hello\n");
    assert_eq!(read_exact_within(&mut client, 6), b"hello\n");
    crate::util::reset_close(client);
    let line = rnc.wait_stderr("client 1 from");
    assert!(
        line.ends_with("left: it reset the connection (RST)"),
        "{line}"
    );
    rnc.wait_stderr("tcp_info at close");
    rnc.wait_stderr("close(");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}
