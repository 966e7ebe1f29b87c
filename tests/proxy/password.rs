//! `-P USER` asks for the proxy's password on the controlling terminal, as OpenBSD nc
//! does: rnc in a real pseudo-terminal (`util::pty`) against `microsocks -u -P` (SOCKS5,
//! RFC 1929) and `tinyproxy` with `BasicAuth` (HTTP 407, then a new `CONNECT` with
//! credentials); the password typed must open the tunnel and never show on the screen,
//! Ctrl-C at the prompt must leave the terminal as it was, and with no terminal to ask
//! on rnc says so in one line.

use std::net::TcpListener;
use std::path::Path;

use super::{microsocks, tinyproxy};
use crate::util::pty::{Launch, Peer, Tty};
use crate::util::{RNC, Rnc, closed_tcp_port, installed_tool};

/// The password the proxies here want.
const PASSWORD: &str = "s3cret-Pw";

/// rnc in a pty connecting through `proxy_args` to a fresh listener; waits for the
/// password prompt naming `user@proxy`. Returns the terminal and the listener.
fn prompted(proxy_args: &[&str], user: &str, proxy: &str) -> (Tty, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("address").port().to_string();
    let mut args = proxy_args.to_vec();
    args.extend_from_slice(&["-P", user, "127.0.0.1", &port]);
    let mut tty = Launch::new(&args).spawn();
    let question = format!("Proxy password for {user}@{proxy}:");
    tty.wait_for("the password prompt", |t| {
        t.lines().iter().any(|l| l.ends_with(&question))
    });
    (tty, listener)
}

/// Type the password, then check the tunnel both ways and that the password never
/// reached the screen; Ctrl-C ends rnc with the terminal restored.
fn type_password_and_talk(mut tty: Tty, listener: &TcpListener) {
    tty.keys(format!("{PASSWORD}\r").as_bytes());
    let stream = tty.accept(listener);
    let mut peer = Peer {
        local: stream.local_addr().expect("peer address").to_string(),
        rnc: String::new(),
        stream,
    };
    tty.wait_for("the status row to say connected", |t| {
        t.status_row().contains("connected")
    });
    peer.send(b"hello through the proxy\n");
    tty.wait_line("hello through the proxy");
    tty.keys(b"ping\r");
    peer.expect(b"ping\n");
    let shown = String::from_utf8_lossy(&tty.all_output).into_owned();
    assert!(
        !shown.contains(PASSWORD),
        "the password was echoed\n{}",
        tty.dump()
    );
    tty.keys(b"\x03");
    tty.expect_exit(130);
}

#[test]
fn proxy_p_user_asks_socks5_password_on_the_terminal() {
    let Some((_proxy, port)) = microsocks(Some(("alice", PASSWORD))) else {
        return;
    };
    let proxy = format!("127.0.0.1:{port}");
    let (tty, listener) = prompted(&["-x", &proxy], "alice", &proxy);
    type_password_and_talk(tty, &listener);
}

#[test]
fn proxy_p_user_asks_http_password_after_407() {
    let extra = format!("BasicAuth bob {PASSWORD}\n");
    let Some((_proxy, port, _dir)) = tinyproxy(&extra) else {
        return;
    };
    let proxy = format!("127.0.0.1:{port}");
    let (tty, listener) = prompted(&["-X", "connect", "-x", &proxy], "bob", &proxy);
    type_password_and_talk(tty, &listener);
}

#[test]
fn proxy_password_prompt_ctrl_c_and_wrong_password() {
    let Some((_proxy, port)) = microsocks(Some(("alice", PASSWORD))) else {
        return;
    };
    let proxy = format!("127.0.0.1:{port}");
    // Ctrl-C at the prompt: exit 130, echo back on (`expect_exit` compares the terminal
    // mode with the one from before).
    let (mut tty, _listener) = prompted(&["-x", &proxy], "alice", &proxy);
    tty.keys(b"half");
    tty.keys(b"\x03");
    tty.expect_exit(130);

    let (mut tty, _listener) = prompted(&["-x", &proxy], "alice", &proxy);
    tty.keys(b"wrong\r");
    tty.wait_for("the error", |t| {
        t.lines().iter().any(|l| {
            l == &format!("rnc: proxy {proxy}: authentication failed (wrong user or password)")
        })
    });
    tty.expect_exit(1);
}

#[test]
fn proxy_password_without_a_terminal_is_a_clear_error() {
    let Some(setsid) = installed_tool("setsid") else {
        return;
    };
    let Some((_proxy, port)) = microsocks(Some(("alice", PASSWORD))) else {
        return;
    };
    let proxy = format!("127.0.0.1:{port}");
    let closed = closed_tcp_port();
    let target = closed.port().to_string();
    // `setsid` without `--ctty`: a session with no controlling terminal, whatever the
    // test runner has.
    let exit = Rnc::tool(
        &setsid,
        &[RNC, "-x", &proxy, "-P", "alice", "127.0.0.1", &target],
    )
    .spawn()
    .finish();
    exit.assert_code(1);
    assert_eq!(
        exit.stderr.trim_end(),
        format!(
            "rnc: proxy {proxy} asks for a password for `alice`, and there is no terminal \
             to ask on: use `--proxy-auth alice:PASS`"
        )
    );
    // A proxy that wants no password is never asked for one.
    let Some((_open, open_port)) = microsocks(None) else {
        return;
    };
    let exit = Rnc::tool(
        Path::new(&setsid),
        &[
            RNC,
            "-x",
            &format!("127.0.0.1:{open_port}"),
            "-P",
            "alice",
            "127.0.0.1",
            &target,
        ],
    )
    .spawn()
    .finish();
    exit.assert_code(1);
    assert!(
        exit.stderr.contains("connection refused by"),
        "{}",
        exit.stderr
    );
}
