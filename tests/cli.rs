//! Command-line behaviour: help, version, and every usage error (exit 2, nothing sent).
//!
//! Owns only checks that need no session; anything that moves bytes lives in the
//! transport files.

use std::io;
use std::net::TcpListener;

use crate::util::{Rnc, tcp_listener, temp_dir};

/// Asserts that nothing connected to `listener`: a usage error happens before any
/// network activity. A loopback connect is in the accept queue before `connect` returns,
/// so after rnc has exited a connection it made would be there.
fn assert_no_connection(listener: &TcpListener) {
    listener.set_nonblocking(true).expect("nonblocking");
    match listener.accept() {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("a usage error still connected (from {peer})"),
        Err(e) => panic!("accept: {e}"),
    }
}

/// Runs rnc with `args` and asserts a usage error: exit 2, a message, nothing on stdout.
#[track_caller]
fn assert_usage_error(args: &[&str]) -> String {
    let exit = Rnc::run(args);
    assert_eq!(
        exit.code(),
        Some(2),
        "rnc {args:?}: expected exit 2, got {:?}; stderr:\n{}",
        exit.status,
        exit.stderr
    );
    assert!(
        !exit.stderr.trim().is_empty(),
        "rnc {args:?}: exit 2 without a message"
    );
    assert!(
        exit.stdout.is_empty(),
        "rnc {args:?}: usage error wrote to stdout: {:?}",
        exit.stdout_text()
    );
    exit.stderr
}

#[test]
fn cli_help_shows_examples_and_exit_codes() {
    for flag in ["-h", "--help"] {
        let exit = Rnc::run(&[flag]);
        exit.assert_code(0);
        let text = exit.stdout_text();
        let lower = text.to_lowercase();
        assert!(lower.contains("usage"), "{flag}: no usage line:\n{text}");
        assert!(lower.contains("example"), "{flag}: no examples:\n{text}");
        assert!(
            text.contains("rnc -l"),
            "{flag}: no listen example:\n{text}"
        );
        let at = lower
            .find("exit")
            .unwrap_or_else(|| panic!("{flag}: no exit codes:\n{text}"));
        for code in ["0 ", "1 ", "2 ", "128+"] {
            assert!(
                text[at..].lines().any(|l| l.trim_start().starts_with(code)),
                "{flag}: exit code `{code}` is not listed:\n{text}"
            );
        }
        for option in ["--listen", "--udp", "--unix", "--wait", "--quit-after-eof"] {
            assert!(text.contains(option), "{flag}: {option} missing:\n{text}");
        }
    }
}

#[test]
fn cli_version_prints_package_version() {
    for flag in ["-V", "--version"] {
        let exit = Rnc::run(&[flag]);
        exit.assert_code(0);
        assert_eq!(
            exit.stdout_text().trim(),
            format!("rnc {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn cli_bad_port_is_usage_error() {
    for port in ["70000", "65536", "80x", "", "-1"] {
        assert_usage_error(&["127.0.0.1", port]);
        assert_usage_error(&["-l", "127.0.0.1", port]);
        assert_usage_error(&["-l", "-p", port]);
    }
    let stderr = assert_usage_error(&["127.0.0.1", "70000"]);
    assert!(
        stderr.contains("invalid port `70000`"),
        "message does not name the port: {stderr}"
    );
}

#[test]
fn cli_client_port_zero_is_usage_error() {
    let stderr = assert_usage_error(&["127.0.0.1", "0"]);
    assert!(stderr.contains('0'), "{stderr}");
    assert_usage_error(&["-u", "127.0.0.1", "0"]);
}

#[test]
fn cli_conflicting_flags_are_usage_errors() {
    let (listener, port) = tcp_listener();
    let port = port.to_string();
    let dir = temp_dir();
    let path = dir.path().join("s");
    let path = path.to_str().expect("utf-8 path");
    let cases: &[&[&str]] = &[
        &["-k", "127.0.0.1", &port],
        &["-z", "-l", "127.0.0.1", "0"],
        &["-4", "-6", "127.0.0.1", &port],
        &["-U", "-s", "127.0.0.1", path],
        &["-U", "-p", "5000", path],
        &["-U", "-4", path],
        &["-U", "-6", path],
        &["-l", "-U", "-4", path],
    ];
    for args in cases {
        assert_usage_error(args);
    }
    assert_no_connection(&listener);
    assert!(
        !dir.path().join("s").exists(),
        "a usage error created the socket file"
    );
}

#[test]
fn cli_wrong_number_of_positionals_is_usage_error() {
    let cases: &[&[&str]] = &[
        &[],
        &["127.0.0.1"],
        &["127.0.0.1", "80", "81"],
        &["-l"],
        &["-U"],
        &["-U", "/tmp/a", "/tmp/b"],
        &["-l", "127.0.0.1", "0", "1"],
    ];
    for args in cases {
        assert_usage_error(args);
    }
}

/// Issue 9, bug 8: an all-digit host is a port the user meant, not an address that
/// inet_aton would make of it (`5000` → 0.0.19.136).
#[test]
fn cli_two_ports_are_a_usage_error_not_an_address() {
    let (listener, port) = tcp_listener();
    let port = port.to_string();
    for (args, shown) in [
        (&["-l", "5000", "6000"][..], "`5000` and `6000`"),
        (&["-l", "-p", "5000", "6000"], "`-p 5000` and `6000`"),
        (&["-u", "-l", "5000", "6000"], "`5000` and `6000`"),
        (&["5000", &port], &format!("`5000` and `{port}`")),
    ] {
        let stderr = assert_usage_error(args);
        assert_eq!(stderr.lines().count(), 1, "rnc {args:?}: {stderr}");
        assert!(
            stderr.starts_with("rnc: two ports given (") && stderr.contains(shown),
            "rnc {args:?}: {stderr}"
        );
    }
    // inet_aton reads this as 127.0.0.1; rnc asks for the dotted form instead.
    let stderr = assert_usage_error(&["2130706433", &port]);
    assert!(stderr.contains("`a.b.c.d`"), "{stderr}");
    assert_usage_error(&["-n", "127.1", &port]);
    assert_usage_error(&["-n", "0x7f.1", &port]);
    assert_no_connection(&listener);
}

/// A bare IPv6 address has colons but no port: rnc says how to give one.
#[test]
fn cli_address_without_port_is_usage_error_with_a_hint() {
    for (args, hint) in [
        (&["::1"][..], "(`rnc ::1 PORT`)"),
        (&["127.0.0.1"], "(`rnc 127.0.0.1 PORT`)"),
        (&["-l", "::1"], "(`rnc -l ::1 PORT`)"),
        (&[":5000"], "no host"),
    ] {
        let stderr = assert_usage_error(args);
        assert!(stderr.contains(hint), "rnc {args:?}: {stderr}");
    }
}

#[test]
fn cli_bad_timeouts_are_usage_errors() {
    let (listener, port) = tcp_listener();
    let port = port.to_string();
    for value in ["0", "-1", "abc", "nan", "inf", "31536001", ""] {
        assert_usage_error(&[&format!("--wait={value}"), "127.0.0.1", &port]);
    }
    for value in ["-1", "nan", "abc", "1e20", ""] {
        assert_usage_error(&[&format!("--quit-after-eof={value}"), "127.0.0.1", &port]);
    }
    assert_no_connection(&listener);
}

#[test]
fn cli_numeric_with_a_name_is_usage_error() {
    let (listener, port) = tcp_listener();
    assert_usage_error(&["-n", "127.0.0.1", "http"]);
    assert_usage_error(&["-n", "localhost", &port.to_string()]);
    assert_no_connection(&listener);
}

#[test]
fn cli_unknown_flag_is_usage_error() {
    assert_usage_error(&["--no-such-flag", "127.0.0.1", "80"]);
    assert_usage_error(&["-Y", "127.0.0.1", "80"]);
}

#[test]
fn cli_timeouts_accept_fractions_and_the_maximum() {
    let (_listener, port) = tcp_listener();
    let port = port.to_string();
    // -z connects and closes at once, so the timeouts are parsed but never reached.
    for args in [
        ["-z", "-w", "0.5", "127.0.0.1", &port],
        ["-z", "-w", "31536000", "127.0.0.1", &port],
        ["-z", "-q", "0.25", "127.0.0.1", &port],
    ] {
        let exit = Rnc::run(&args);
        exit.assert_code(0);
    }
}

#[test]
fn cli_service_name_port_maps_to_its_number() {
    // Only loopback is touched: port 80 on 127.0.0.1 either accepts or refuses, and
    // either way the message names port 80, which proves `http` was looked up.
    let exit = Rnc::run(&["-v", "-z", "127.0.0.1", "http"]);
    match exit.code() {
        Some(0) => assert!(
            exit.stderr.contains("connection to 127.0.0.1 80 succeeded"),
            "{}",
            exit.stderr
        ),
        Some(1) => assert!(
            exit.stderr.contains("connect to 127.0.0.1:80"),
            "{}",
            exit.stderr
        ),
        other => panic!("`http` as a port: exit {other:?}; stderr:\n{}", exit.stderr),
    }
}
