//! nc's and ncat's habits (issue #13): time values with units, `--send-only` and
//! `--recv-only`, socket options (`-I`, `-O`, `-T`, `--nodelay`, `--keepalive`), `-i`,
//! `--retry`, `-s PATH` for a Unix datagram client, `-t` (telnet refusals), and the man
//! page and completions `--generate` prints.
//!
//! Owns no harness code (that is `util`). Every wait is bounded; time is only ever checked
//! from below (a delay happened), never from above.

use std::time::{Duration, Instant};

use crate::util::{Rnc, rnc_client};

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
