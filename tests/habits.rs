//! nc's and ncat's habits (issue #13): time values with units, `--send-only` and
//! `--recv-only`, socket options (`-I`, `-O`, `-T`, `--nodelay`, `--keepalive`), `-i`,
//! `--retry`, `-s PATH` for a Unix datagram client, `-t` (telnet refusals), and the man
//! page and completions `--generate` prints.
//!
//! Owns no harness code (that is `util`). Every wait is bounded; time is only ever checked
//! from below (a delay happened), never from above.

use std::io::Write;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use crate::util::{Rnc, expect_eof, read_exact_within, read_to_end_within, rnc_client};

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
    rnc.wait_stderr("peer closed its side");
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
