//! The traffic logs: `-o` holds both directions' bytes in the order they moved,
//! `--append-output` appends, `--hex-dump` writes socat's headers over ncat's hex lines,
//! TLS sessions are logged in plaintext, bulk transfers on the zero-copy path are logged
//! whole (`tee`), the hub's and `-e`'s sessions are logged, and a log that cannot be
//! written is a one-line error.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::util::{
    Deadline, Input, Output, Rnc, assert_same_bytes, connect_tcp, pseudo_random, read_exact_within,
    read_to_end_within, rnc_client, temp_dir, write_file,
};

fn arg(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Waits until `path` holds at least `len` bytes (the log of a session still running is
/// flushed after each pump), and returns them.
fn wait_log(path: &Path, len: usize) -> Vec<u8> {
    let deadline = Deadline::new();
    loop {
        let got = std::fs::read(path).unwrap_or_default();
        if got.len() >= len {
            return got;
        }
        assert!(
            !deadline.expired(),
            "{} holds {} bytes, expected {len}: {:?}",
            path.display(),
            got.len(),
            String::from_utf8_lossy(&got)
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// The bytes a hex dump shows, per header: (mark, from, bytes), read back from the hex
/// columns, checking each header's length and each line's offset and ASCII column.
fn parse_hex_dump(text: &str) -> Vec<(char, u64, Vec<u8>)> {
    let mut chunks: Vec<(char, u64, Vec<u8>, usize)> = Vec::new();
    for line in text.lines() {
        if let Some(mark) = line.chars().next().filter(|c| *c == '>' || *c == '<') {
            // `> 2026/11/29 21:30:00.123456  length=5 from=0 to=4`
            let (stamp, fields) = line[2..]
                .split_once("  ")
                .expect("two spaces before length");
            assert_eq!(stamp.len(), 26, "date, time and microseconds: {line}");
            assert_eq!(&stamp[4..5], "/", "{line}");
            assert_eq!(&stamp[19..20], ".", "{line}");
            let values: Vec<u64> = fields
                .split(' ')
                .map(|f| f.split_once('=').expect("key=value").1.parse().unwrap())
                .collect();
            let [length, from, to] = values[..] else {
                panic!("length, from, to: {line}");
            };
            assert_eq!(to + 1, from + length, "{line}");
            chunks.push((mark, from, Vec::new(), length as usize));
            continue;
        }
        let (_, _, bytes, _) = chunks.last_mut().expect("a header first");
        let (offset, rest) = line.split_once("   ").expect("offset, then three spaces");
        assert_eq!(
            usize::from_str_radix(offset, 16).unwrap(),
            bytes.len(),
            "offsets count the chunk's bytes: {line}"
        );
        // 16 columns of 3, a gap after the eighth, two spaces, then the ASCII.
        let hex = &rest[..48.min(rest.len())];
        let line_bytes: Vec<u8> = hex
            .split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        let ascii = &rest[50..];
        let shown: String = line_bytes
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        assert_eq!(ascii, shown, "{line}");
        bytes.extend_from_slice(&line_bytes);
    }
    chunks
        .into_iter()
        .map(|(mark, from, bytes, length)| {
            assert_eq!(bytes.len(), length, "the header's length is the chunk's");
            (mark, from, bytes)
        })
        .collect()
}

/// Joins the chunks that went one way (`>` or `<`), checking that each starts where the
/// one before ended.
fn one_way(chunks: &[(char, u64, Vec<u8>)], mark: char) -> Vec<u8> {
    let mut all = Vec::new();
    for (_, from, bytes) in chunks.iter().filter(|c| c.0 == mark) {
        assert_eq!(*from, all.len() as u64, "`from` follows on");
        all.extend_from_slice(bytes);
    }
    all
}

#[test]
fn tcp_output_log_holds_both_directions_in_the_order_they_moved() {
    let dir = temp_dir();
    let log = dir.path().join("session.log");
    let (mut rnc, mut peer) = rnc_client(&["-o", arg(&log)]);
    let mut expected = Vec::new();
    for turn in 0..3 {
        let ask = format!("ping {turn}\n");
        rnc.write_stdin(ask.as_bytes());
        assert_eq!(read_exact_within(&mut peer, ask.len()), ask.as_bytes());
        let answer = format!("pong {turn}, a longer answer\n");
        peer.write_all(answer.as_bytes()).unwrap();
        assert_eq!(rnc.stdout_exact(answer.len()), answer.as_bytes());
        expected.extend_from_slice(ask.as_bytes());
        expected.extend_from_slice(answer.as_bytes());
        // Each chunk is in the log as soon as it moved, not only at the end.
        assert_eq!(wait_log(&log, expected.len()), expected);
    }
    rnc.close_stdin();
    peer.write_all(b"bye\n").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    expected.extend_from_slice(b"bye\n");
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(std::fs::read(&log).unwrap(), expected);
}

#[test]
fn tcp_output_log_is_emptied_and_append_output_appends() {
    let dir = temp_dir();
    let log = write_file(dir.path(), "session.log", b"earlier session\n");
    let run = |flags: &[&str], sent: &[u8], received: &[u8]| {
        let (mut rnc, mut peer) = rnc_client(flags);
        rnc.write_stdin(sent);
        rnc.close_stdin();
        assert_eq!(read_to_end_within(&mut peer), sent);
        peer.write_all(received).unwrap();
        drop(peer);
        rnc.finish().assert_code(0);
    };
    run(&["-o", arg(&log)], b"one\n", b"two\n");
    assert_eq!(std::fs::read(&log).unwrap(), b"one\ntwo\n");
    run(&["--append-output", "-o", arg(&log)], b"three\n", b"four\n");
    assert_eq!(std::fs::read(&log).unwrap(), b"one\ntwo\nthree\nfour\n");
}

#[test]
fn tcp_hex_dump_has_headers_offsets_hex_and_ascii() {
    let dir = temp_dir();
    let dump = dir.path().join("dump.txt");
    let (mut rnc, mut peer) = rnc_client(&["--hex-dump", arg(&dump)]);
    let sent = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n";
    rnc.write_stdin(sent);
    assert_eq!(read_exact_within(&mut peer, sent.len()), sent);
    let received: Vec<u8> = (0u8..=255).collect();
    peer.write_all(&received).unwrap();
    assert_eq!(rnc.stdout_exact(received.len()), received);
    rnc.close_stdin();
    drop(peer);
    rnc.finish().assert_code(0);
    let text = std::fs::read_to_string(&dump).unwrap();
    // The first chunk, exactly (but for its time): what was sent, 27 bytes.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("> 20"), "{text}");
    assert!(lines[0].ends_with("  length=27 from=0 to=26"), "{text}");
    assert_eq!(
        lines[1],
        "0000   47 45 54 20 2f 20 48 54  54 50 2f 31 2e 30 0d 0a  GET / HTTP/1.0.."
    );
    assert_eq!(
        lines[2],
        "0010   48 6f 73 74 3a 20 78 0d  0a 0d 0a                 Host: x...."
    );
    assert!(lines[3].starts_with("< 20"), "{text}");
    let chunks = parse_hex_dump(&text);
    assert_eq!(one_way(&chunks, '>'), sent);
    assert_eq!(one_way(&chunks, '<'), received);
    assert!(
        text.contains(
            "0070   70 71 72 73 74 75 76 77  78 79 7a 7b 7c 7d 7e 7f  pqrstuvwxyz{|}~.\n"
        ),
        "{text}"
    );
}

#[test]
fn tls_logs_hold_the_plaintext() {
    let dir = temp_dir();
    let log = dir.path().join("plain.log");
    let dump = dir.path().join("plain.hex");
    let mut listener = Rnc::spawn(&[
        "-l",
        "--tls",
        "-o",
        arg(&log),
        "--hex-dump",
        arg(&dump),
        "127.0.0.1",
        "0",
    ]);
    let port = listener.listening_port().to_string();
    let line = listener.wait_stderr("rnc: clients connect with: rnc ");
    let pin = line
        .split_whitespace()
        .skip_while(|w| *w != "--pin")
        .nth(1)
        .expect("the printed pin")
        .to_string();
    let mut client = Rnc::spawn(&["--tls", "--pin", &pin, "127.0.0.1", &port]);
    let to_listener = pseudo_random(100_000, 41);
    let to_client = b"plain words first\n".to_vec();
    // One way, then the other, so the log's order is known.
    listener.write_stdin(&to_client);
    assert_eq!(client.stdout_exact(to_client.len()), to_client);
    let feed = client.feed_stdin_and_close(to_listener.clone());
    assert_same_bytes(&listener.stdout_exact(to_listener.len()), &to_listener);
    feed.join().unwrap().unwrap();
    listener.close_stdin();
    client.finish().assert_code(0);
    listener.finish().assert_code(0);
    let logged = std::fs::read(&log).unwrap();
    let mut expected = to_client.clone();
    expected.extend_from_slice(&to_listener);
    assert_same_bytes(&logged, &expected);
    let chunks = parse_hex_dump(&std::fs::read_to_string(&dump).unwrap());
    assert_same_bytes(&one_way(&chunks, '<'), &to_listener);
    assert_eq!(one_way(&chunks, '>'), to_client);
}

/// 8 MiB received into a stdout file, a stdout pipe (both on the zero-copy path, through
/// the relay pipe and `tee`), and sent from a stdin file (`sendfile`): each log whole.
#[test]
fn tcp_bulk_transfer_on_the_zero_copy_path_is_logged_whole() {
    let dir = temp_dir();
    let data = pseudo_random(8 << 20, 42);
    let file = write_file(dir.path(), "data", &data);
    for (name, stdout_file) in [("to-file", true), ("to-pipe", false)] {
        let log = dir.path().join(format!("{name}.log"));
        let dump = dir.path().join(format!("{name}.hex"));
        let out = dir.path().join(format!("{name}.out"));
        // The hex dump is checked on the file case only (parsing 8 MiB of it is slow).
        let mut args = vec!["-l", "-o", arg(&log)];
        if stdout_file {
            args.extend(["--hex-dump", arg(&dump)]);
        }
        args.extend(["127.0.0.1", "0"]);
        let spawn = Rnc::with(&args).stdin(Input::Null);
        let mut listener = if stdout_file {
            spawn
                .stdout(Output::File(std::fs::File::create(&out).unwrap()))
                .spawn()
        } else {
            spawn.spawn()
        };
        let port = listener.listening_port().to_string();
        let sent_log = dir.path().join(format!("{name}.sent.log"));
        let client = Rnc::with(&["-o", arg(&sent_log), "127.0.0.1", &port])
            .stdin(Input::File(file.clone()))
            .spawn();
        let received = if stdout_file {
            listener.finish().assert_code(0);
            std::fs::read(&out).unwrap()
        } else {
            let got = listener.stdout_exact(data.len());
            listener.finish().assert_code(0);
            got
        };
        client.finish().assert_code(0);
        assert_same_bytes(&received, &data);
        assert_same_bytes(&std::fs::read(&log).unwrap(), &data);
        assert_same_bytes(&std::fs::read(&sent_log).unwrap(), &data);
        if stdout_file {
            let chunks = parse_hex_dump(&std::fs::read_to_string(&dump).unwrap());
            assert_same_bytes(&one_way(&chunks, '<'), &data);
            assert!(one_way(&chunks, '>').is_empty());
        }
    }
}

#[test]
fn tcp_keep_open_logs_what_the_local_user_sent_and_received() {
    let dir = temp_dir();
    let log = dir.path().join("hub.log");
    let mut rnc = Rnc::spawn(&["-k", "-o", arg(&log), "-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    client.write_all(b"from the client\n").unwrap();
    assert_eq!(rnc.stdout_exact(16), b"from the client\n");
    assert_eq!(wait_log(&log, 16), b"from the client\n");
    rnc.write_stdin(b"from the local user\n");
    assert_eq!(read_exact_within(&mut client, 20), b"from the local user\n");
    assert_eq!(
        wait_log(&log, 36),
        b"from the client\nfrom the local user\n"
    );
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
}

#[test]
fn tcp_exec_logs_what_the_program_received_and_sent() {
    let dir = temp_dir();
    let log = dir.path().join("exec.log");
    let mut rnc = Rnc::spawn(&["-e", "/bin/cat", "-o", arg(&log), "-l", "127.0.0.1", "0"]);
    let port = rnc.listening_port();
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    client.write_all(b"echo me\n").unwrap();
    assert_eq!(read_exact_within(&mut client, 8), b"echo me\n");
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    rnc.finish().assert_code(0);
    assert_eq!(std::fs::read(&log).unwrap(), b"echo me\necho me\n");
}

#[test]
fn tcp_log_that_cannot_be_opened_or_written_is_a_clear_error() {
    let dir = temp_dir();
    let missing = dir.path().join("no-such-dir").join("x.log");
    let exit = Rnc::run(&["-o", arg(&missing), "127.0.0.1", "9"]);
    exit.assert_code(1);
    assert_eq!(
        exit.stderr.trim_end(),
        format!(
            "rnc: open log {}: no such file or directory",
            missing.display()
        )
    );
    // Opened before any connection: nothing was tried.
    assert!(!exit.stderr.contains("connect"));
    let (rnc, mut peer) = rnc_client(&["--hex-dump", "/dev/full"]);
    peer.write_all(b"anything\n").unwrap();
    let exit = rnc.finish();
    exit.assert_code(1);
    assert_eq!(
        exit.stderr.trim_end(),
        "rnc: write to log /dev/full: no space left on device"
    );
    drop(peer);
}

/// Flag combinations that make no log: exit 2, before anything is opened or sent.
#[test]
fn cli_log_flags_without_one_session_are_usage_errors() {
    for args in [
        &["--append-output", "127.0.0.1", "9"][..],
        &["-z", "-o", "x.log", "127.0.0.1", "9"][..],
        &["-k", "-e", "/bin/cat", "-o", "x.log", "-l", "0"][..],
        &["-o", "same", "--hex-dump", "same", "127.0.0.1", "9"][..],
    ] {
        let exit = Rnc::run(args);
        exit.assert_code(2);
        assert!(
            exit.stderr.starts_with("rnc: `"),
            "{args:?}: {}",
            exit.stderr
        );
    }
}

/// 1 MiB through `-e /bin/cat`: both ways at once, the program's pipes filling up (the
/// relay holds what a full pipe did not take), each direction whole in the dump.
#[test]
fn tcp_exec_bulk_both_ways_is_dumped_whole_per_direction() {
    let dir = temp_dir();
    let dump = dir.path().join("exec.hex");
    let mut rnc = Rnc::spawn(&[
        "-e",
        "/bin/cat",
        "--hex-dump",
        arg(&dump),
        "-l",
        "127.0.0.1",
        "0",
    ]);
    let port = rnc.listening_port();
    let data = pseudo_random(1 << 20, 43);
    let mut client = connect_tcp(&format!("127.0.0.1:{port}"));
    let mut writer = client.try_clone().unwrap();
    let sender = thread::spawn({
        let data = data.clone();
        move || {
            writer.write_all(&data).unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        }
    });
    assert_same_bytes(&read_to_end_within(&mut client), &data);
    sender.join().unwrap();
    rnc.finish().assert_code(0);
    let chunks = parse_hex_dump(&std::fs::read_to_string(&dump).unwrap());
    assert_same_bytes(&one_way(&chunks, '<'), &data);
    assert_same_bytes(&one_way(&chunks, '>'), &data);
}

#[test]
fn udp_hex_dump_has_one_header_per_datagram_sent_and_received() {
    let dir = temp_dir();
    let dump = dir.path().join("udp.hex");
    let (peer, port) = crate::util::udp_socket();
    let mut rnc = Rnc::spawn(&[
        "-u",
        "--hex-dump",
        arg(&dump),
        "127.0.0.1",
        &port.to_string(),
    ]);
    rnc.write_stdin(b"ping\n");
    let (got, from) = crate::util::recv_udp(&peer);
    assert_eq!(got, b"ping\n");
    peer.send_to(b"pong\n", from).unwrap();
    assert_eq!(rnc.stdout_exact(5), b"pong\n");
    rnc.close_stdin();
    rnc.finish().assert_code(0);
    let chunks = parse_hex_dump(&std::fs::read_to_string(&dump).unwrap());
    assert_eq!(
        chunks,
        [('>', 0, b"ping\n".to_vec()), ('<', 0, b"pong\n".to_vec())]
    );
}
