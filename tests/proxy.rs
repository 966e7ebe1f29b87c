//! rnc through proxies (`-x`/`-X`/`-P`, `--proxy`/`--proxy-type`/`--proxy-auth`/
//! `--proxy-dns`): Debian's `microsocks` (SOCKS5, with and without a password),
//! `tinyproxy` and `ncat -l --proxy-type http` (HTTP CONNECT), TLS inside the tunnel, and
//! an in-test proxy that checks rnc's requests byte for byte and answers with early
//! tunnel bytes, truncated, oversized and garbage replies, refusals and silence. The
//! password prompt of `-P USER` is in `proxy/password.rs`.
//!
//! Every round trip goes to a loopback echo peer and is byte-exact both ways. Owns no
//! harness code (that is `util`). A missing tool skips its test (fails under CI).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread::{self, JoinHandle};
use std::time::Duration;

#[cfg(target_os = "linux")]
mod password;

use crate::util::{
    ChildGuard, Deadline, Input, Rnc, TIMEOUT, accept_tcp, assert_same_bytes, closed_tcp_port,
    installed_tool, pseudo_random, read_exact_within, tcp_listener, temp_dir,
    try_tcp_listen_port_of, wait_tcp_listen_port_of,
};

/// What the echo peer sends first, before echoing: bytes that arrive right behind the
/// proxy's reply.
const BANNER: &[u8] = b"hello from the peer\r\n";

/// 256 KiB: several socket buffers through the proxy, still quick.
const SIZE: usize = 256 * 1024;

/// A loopback peer that sends `BANNER`, then echoes until EOF; joining gives what it
/// received.
struct EchoPeer {
    port: u16,
    received: JoinHandle<Vec<u8>>,
}

fn echo_peer() -> EchoPeer {
    let (listener, port) = tcp_listener();
    let received = thread::spawn(move || {
        let (mut stream, _) = accept_tcp(&listener);
        stream.write_all(BANNER).expect("send the banner");
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return got,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    stream.write_all(&buf[..n]).expect("echo");
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("echo peer read after {} bytes: {e}", got.len()),
            }
        }
    });
    EchoPeer { port, received }
}

/// `rnc ARGS 127.0.0.1 PEER` through a proxy to an echo peer: `SIZE` bytes each way,
/// compared exactly; stdin is closed only once everything came back (proxies such as
/// microsocks close both sides at the first EOF). Returns rnc's stderr.
fn round_trip(args: &[&str], seed: u64) -> String {
    let peer = echo_peer();
    let port = peer.port.to_string();
    let mut all = vec!["-v", "-w", "10"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["127.0.0.1", &port]);
    let mut rnc = Rnc::spawn(&all);
    let data = pseudo_random(SIZE, seed);
    let mut stdin = rnc.stdin.take().expect("piped stdin");
    let sent = data.clone();
    let writer = thread::spawn(move || {
        stdin.write_all(&sent).expect("feed rnc");
        stdin
    });
    let echoed = rnc.stdout_exact(BANNER.len() + SIZE);
    assert_same_bytes(&echoed[..BANNER.len()], BANNER);
    assert_same_bytes(&echoed[BANNER.len()..], &data);
    drop(writer.join().expect("writer thread"));
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_same_bytes(&peer.received.join().expect("echo peer"), &data);
    exit.stderr
}

/// `microsocks` on 127.0.0.1 (with `-u USER -P PASS` when given), and its port. It binds
/// port 0 as asked, and `/proc` tells the port.
fn microsocks(auth: Option<(&str, &str)>) -> Option<(ChildGuard, u16)> {
    let path = installed_tool("microsocks")?;
    let mut args = vec!["-i", "127.0.0.1", "-p", "0"];
    if let Some((user, pass)) = auth {
        args.extend_from_slice(&["-u", user, "-P", pass]);
    }
    let child = std::process::Command::new(path)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start microsocks");
    let guard = ChildGuard::new(child);
    let port = wait_tcp_listen_port_of(guard.id());
    Some((guard, port))
}

/// `tinyproxy -d` with a minimal configuration (plus `extra` lines) in a temp dir. It
/// cannot bind port 0, so a port that was free a moment ago is tried, and another one
/// if tinyproxy exits (taken meanwhile), at most 5 times.
fn tinyproxy(extra: &str) -> Option<(Rnc, u16, tempfile::TempDir)> {
    let path = installed_tool("tinyproxy")?;
    let dir = temp_dir();
    let conf = dir.path().join("tinyproxy.conf");
    for _ in 0..5 {
        let port = tcp_listener().1;
        std::fs::write(
            &conf,
            format!("Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nLogLevel Warning\n{extra}"),
        )
        .expect("write tinyproxy.conf");
        let conf_arg = conf.display().to_string();
        let mut proxy = Rnc::tool(&path, &["-d", "-c", &conf_arg])
            .stdin(Input::Null)
            .spawn();
        let deadline = Deadline::new();
        while !proxy.has_exited() && !deadline.expired() {
            if try_tcp_listen_port_of(proxy.pid()) == Some(port) {
                return Some((proxy, port, dir));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("tinyproxy did not listen on any of 5 ports");
}

#[test]
fn proxy_socks5_microsocks_round_trip() {
    let Some((_proxy, port)) = microsocks(None) else {
        return;
    };
    let proxy = format!("127.0.0.1:{port}");
    let stderr = round_trip(&["-x", &proxy], 1);
    assert!(
        stderr.contains(&format!("via socks5 proxy {proxy}")),
        "{stderr}"
    );
    // ncat's spelling, and a name the proxy resolves.
    let peer = echo_peer();
    let mut rnc = Rnc::spawn(&[
        "--proxy",
        &proxy,
        "--proxy-type",
        "socks5",
        "localhost",
        &peer.port.to_string(),
    ]);
    assert_same_bytes(&rnc.stdout_exact(BANNER.len()), BANNER);
    rnc.write_stdin(b"ping\n");
    assert_same_bytes(&rnc.stdout_exact(5), b"ping\n");
    rnc.close_stdin();
    rnc.finish().assert_code(0);
    assert_same_bytes(&peer.received.join().expect("peer"), b"ping\n");
}

#[test]
fn proxy_socks5_microsocks_with_password() {
    let Some((_proxy, port)) = microsocks(Some(("alice", "s3cret"))) else {
        return;
    };
    let proxy = format!("127.0.0.1:{port}");
    round_trip(&["-x", &proxy, "--proxy-auth", "alice:s3cret"], 2);

    let target = closed_tcp_port();
    let target_port = target.port().to_string();
    let exit = Rnc::run(&["-x", &proxy, "127.0.0.1", &target_port]);
    exit.assert_code(1);
    assert_eq!(
        exit.stderr.trim_end(),
        format!("rnc: proxy {proxy}: authentication required (give `--proxy-auth USER:PASS`)")
    );
    let exit = Rnc::run(&[
        "-x",
        &proxy,
        "--proxy-auth",
        "alice:wrong",
        "127.0.0.1",
        &target_port,
    ]);
    exit.assert_code(1);
    assert_eq!(
        exit.stderr.trim_end(),
        format!("rnc: proxy {proxy}: authentication failed (wrong user or password)")
    );
}

#[test]
fn proxy_socks5_refusal_names_both_hops() {
    let Some((_proxy, port)) = microsocks(None) else {
        return;
    };
    let target = closed_tcp_port();
    let exit = Rnc::run(&[
        "-x",
        &format!("127.0.0.1:{port}"),
        "127.0.0.1",
        &target.port().to_string(),
    ]);
    exit.assert_code(1);
    assert_eq!(
        exit.stderr.trim_end(),
        format!(
            "rnc: via proxy 127.0.0.1:{port}: connection refused by 127.0.0.1:{}",
            target.port()
        )
    );
}

#[test]
fn proxy_unreachable_proxy_is_named() {
    let proxy = closed_tcp_port();
    let exit = Rnc::run(&[
        "-x",
        &format!("127.0.0.1:{}", proxy.port()),
        "127.0.0.1",
        "9",
    ]);
    exit.assert_code(1);
    assert_eq!(
        exit.stderr.trim_end(),
        format!(
            "rnc: connect to proxy 127.0.0.1:{}: connection refused",
            proxy.port()
        )
    );
}

#[test]
fn proxy_http_tinyproxy_round_trip_and_407() {
    let Some((_proxy, port, _dir)) = tinyproxy("BasicAuth user pass\n") else {
        return;
    };
    let proxy = format!("127.0.0.1:{port}");
    let stderr = round_trip(
        &["-X", "connect", "-x", &proxy, "--proxy-auth", "user:pass"],
        3,
    );
    assert!(
        stderr.contains(&format!("via http proxy {proxy}")),
        "{stderr}"
    );
    let exit = Rnc::run(&["--proxy", &proxy, "127.0.0.1", "9"]);
    exit.assert_code(1);
    assert_eq!(
        exit.stderr.trim_end(),
        format!("rnc: proxy {proxy} answered HTTP 407 Proxy Authentication Required")
    );
}

#[test]
fn proxy_http_ncat_round_trip() {
    let Some(ncat) = installed_tool("ncat") else {
        return;
    };
    let proxy = Rnc::tool(&ncat, &["-l", "127.0.0.1", "0", "--proxy-type", "http"])
        .stdin(Input::Null)
        .spawn();
    let port = wait_tcp_listen_port_of(proxy.pid());
    round_trip(&["--proxy", &format!("127.0.0.1:{port}")], 4);
}

/// `rnc -l --tls` behind the HTTP proxy on `proxy_port`, and `rnc --tls --pin` through
/// it: data both ways, byte-exact; the client's stdin ends first. The exits of client
/// and listener.
fn tls_through(proxy_port: u16, half_close_passes: bool) -> (crate::util::Exit, crate::util::Exit) {
    let mut listener = Rnc::spawn(&["-l", "--tls", "127.0.0.1", "0"]);
    let port = listener.listening_port();
    let line = listener.wait_stderr("rnc: TLS certificate sha256:");
    let pin = line
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .expect("a fingerprint")
        .to_string();
    let mut client = Rnc::spawn(&[
        "--tls",
        "--pin",
        &pin,
        "--proxy",
        &format!("127.0.0.1:{proxy_port}"),
        "127.0.0.1",
        &port.to_string(),
    ]);
    let to_listener = pseudo_random(100_000, 5);
    let to_client = pseudo_random(70_000, 6);
    client.write_stdin(&to_listener);
    assert_same_bytes(&listener.stdout_exact(to_listener.len()), &to_listener);
    listener.write_stdin(&to_client);
    assert_same_bytes(&client.stdout_exact(to_client.len()), &to_client);
    client.close_stdin();
    if half_close_passes {
        // The listener sees the client's close_notify and waits for its own stdin.
        listener.close_stdin();
        return (client.finish(), listener.finish());
    }
    let client = client.finish();
    listener.close_stdin();
    (client, listener.finish())
}

#[test]
fn proxy_tls_runs_inside_the_tunnel() {
    // A proxy that passes the half-close on: each side's close_notify reaches the other.
    let (port, relay) = relaying_http_proxy();
    let (client, listener) = tls_through(port, true);
    client.assert_code(0);
    listener.assert_code(0);
    relay.join().expect("relay");

    // ncat (like microsocks and tinyproxy) closes both sides at the first EOF, so the
    // listener's close_notify never reaches the client, which rightly reports it.
    let Some(ncat) = installed_tool("ncat") else {
        return;
    };
    let proxy = Rnc::tool(&ncat, &["-l", "127.0.0.1", "0", "--proxy-type", "http"])
        .stdin(Input::Null)
        .spawn();
    let (client, listener) = tls_through(wait_tcp_listen_port_of(proxy.pid()), false);
    listener.assert_code(0);
    client.assert_code(1);
    assert!(
        client
            .stderr
            .contains("TLS stream truncated (no close_notify)"),
        "{}",
        client.stderr
    );
}

/// An HTTP CONNECT proxy played by the test for one client: it relays both ways and
/// passes each side's EOF on as a half-close, as the real proxies here do not.
fn relaying_http_proxy() -> (u16, JoinHandle<()>) {
    let (listener, port) = tcp_listener();
    let handle = thread::spawn(move || {
        let (mut client, _) = accept_tcp(&listener);
        let header = read_header(&mut client);
        let target = header
            .strip_prefix("CONNECT ")
            .and_then(|rest| rest.split_once(' '))
            .expect("a CONNECT request")
            .0
            .to_string();
        let server = TcpStream::connect(&target).expect("connect to the target");
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .expect("reply");
        let copy = |mut from: TcpStream, mut to: TcpStream| {
            thread::spawn(move || {
                from.set_read_timeout(Some(TIMEOUT)).expect("timeout");
                let _ = std::io::copy(&mut from, &mut to);
                let _ = to.shutdown(std::net::Shutdown::Write);
            })
        };
        let up = copy(client.try_clone().unwrap(), server.try_clone().unwrap());
        let down = copy(server, client);
        up.join().expect("client → server");
        down.join().expect("server → client");
    });
    (port, handle)
}

/// A proxy played by the test: accepts one connection and runs `script` on it, which
/// checks the request and answers; the connection is then held until rnc closes it.
fn fake_proxy(script: impl FnOnce(&mut TcpStream) + Send + 'static) -> (u16, JoinHandle<()>) {
    let (listener, port) = tcp_listener();
    let handle = thread::spawn(move || {
        let (mut stream, _) = accept_tcp(&listener);
        script(&mut stream);
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    });
    (port, handle)
}

/// Reads an HTTP request header (up to its empty line), at most `TIMEOUT`.
fn read_header(stream: &mut TcpStream) -> String {
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n\r\n") {
        header.extend(read_exact_within(stream, 1));
    }
    String::from_utf8(header).expect("a text header")
}

/// rnc with stdin from /dev/null through the fake proxy (`flags` end with the proxy
/// flag, whose value is the fake's address); its exit.
fn through_fake(flags: &[&str], port: u16, target: &[&str]) -> crate::util::Exit {
    let proxy = format!("127.0.0.1:{port}");
    let mut args = flags.to_vec();
    args.push(&proxy);
    args.extend_from_slice(target);
    Rnc::run(&args)
}

#[test]
fn proxy_bytes_right_behind_the_reply_reach_stdout() {
    // SOCKS5: the reply and the peer's first bytes in one segment.
    let (port, fake) = fake_proxy(|s| {
        assert_eq!(read_exact_within(s, 3), [5, 1, 0]);
        s.write_all(&[5, 0]).unwrap();
        assert_eq!(read_exact_within(s, 10), [5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
        s.write_all(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50early\x00bytes")
            .unwrap();
    });
    let exit = through_fake(&["-w", "5", "-x"], port, &["127.0.0.1", "80"]);
    exit.assert_code(0);
    assert_same_bytes(&exit.stdout, b"early\x00bytes");
    fake.join().expect("fake proxy");

    // HTTP: the header, then the tunnel's first bytes.
    let (port, fake) = fake_proxy(|s| {
        assert_eq!(
            read_header(s),
            "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\
             Proxy-Authorization: Basic dTpw\r\n\r\n"
        );
        s.write_all(b"HTTP/1.1 200 Connection established\r\nVia: fake\r\n\r\nSSH-2.0-x\r\n")
            .unwrap();
    });
    let exit = through_fake(
        &["-w", "5", "--proxy-auth", "u:p", "--proxy"],
        port,
        &["example.org", "443"],
    );
    exit.assert_code(0);
    assert_same_bytes(&exit.stdout, b"SSH-2.0-x\r\n");
    fake.join().expect("fake proxy");
}

#[test]
fn proxy_socks4_and_socks4a_requests() {
    let (port, fake) = fake_proxy(|s| {
        assert_eq!(
            read_exact_within(s, 10),
            [4, 1, 0x1f, 0x90, 127, 0, 0, 1, b'u', 0]
        );
        s.write_all(&[0, 90, 0, 0, 0, 0, 0, 0]).unwrap();
        s.write_all(b"socks4").unwrap();
    });
    let exit = through_fake(
        &["-w", "5", "-X", "4", "-P", "u", "-x"],
        port,
        &["127.0.0.1", "8080"],
    );
    exit.assert_code(0);
    assert_same_bytes(&exit.stdout, b"socks4");
    fake.join().expect("fake proxy");

    let (port, fake) = fake_proxy(|s| {
        let mut want = vec![4, 1, 0, 80, 0, 0, 0, 1, 0];
        want.extend_from_slice(b"name.invalid\0");
        assert_eq!(read_exact_within(s, want.len()), want);
        s.write_all(&[0, 91, 0, 0, 0, 0, 0, 0]).unwrap();
    });
    let exit = through_fake(
        &[
            "-w",
            "5",
            "--proxy-type",
            "socks4",
            "--proxy-dns",
            "remote",
            "--proxy",
        ],
        port,
        &["name.invalid", "80"],
    );
    exit.assert_code(1);
    assert_eq!(
        exit.stderr.trim_end(),
        format!(
            "rnc: via proxy 127.0.0.1:{port}: connection to name.invalid:80 rejected or failed"
        )
    );
    fake.join().expect("fake proxy");
}

/// A running fake proxy: its port and its thread.
type FakeProxy = (u16, JoinHandle<()>);

/// A SOCKS5 proxy that accepts the greeting and answers the CONNECT with `reply` (then
/// closes when `close`).
fn socks5_answering(reply: &'static [u8], close: bool) -> FakeProxy {
    fake_proxy(move |s| {
        read_exact_within(s, 3);
        s.write_all(&[5, 0]).unwrap();
        read_exact_within(s, 10);
        s.write_all(reply).unwrap();
        if close {
            s.shutdown(std::net::Shutdown::Write).unwrap();
        }
    })
}

#[test]
fn proxy_bad_replies_are_clear_errors() {
    let oversized: &'static [u8] = Box::leak(
        [
            b"HTTP/1.1 200 OK\r\nX-Pad: ".as_slice(),
            &[b'a'; 20_000],
            b"\r\n",
        ]
        .concat()
        .into_boxed_slice(),
    );
    let cases: Vec<(&str, FakeProxy, &str)> = vec![
        (
            "socks5 truncated",
            socks5_answering(&[5, 0, 0], true),
            "truncated reply (closed after 3 bytes)",
        ),
        (
            "socks5 garbage",
            socks5_answering(b"HTTP/1.0 400 Bad Request\r\n\r\n", false),
            "the reply is not SOCKS5 (starts with `HTTP/1.0 400 Bad…`)",
        ),
        (
            "socks5 refusal",
            socks5_answering(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0], false),
            "connection to 127.0.0.1:9 not allowed by the proxy's rules",
        ),
        (
            "socks5 unknown address type",
            socks5_answering(&[5, 0, 0, 7, 0, 0], false),
            "SOCKS5 reply with unknown address type 7",
        ),
        (
            "socks5 silent",
            fake_proxy(|s| drop(read_exact_within(s, 3))),
            "handshake timed out after 1 s",
        ),
        (
            "socks5 closes at once",
            fake_proxy(|s| s.shutdown(std::net::Shutdown::Write).unwrap()),
            "closed the connection without replying",
        ),
    ];
    for (name, (port, fake), needle) in cases {
        let exit = through_fake(&["-w", "1", "-x"], port, &["127.0.0.1", "9"]);
        assert_eq!(exit.code(), Some(1), "{name}: {}", exit.stderr);
        assert!(exit.stderr.contains(needle), "{name}: {}", exit.stderr);
        assert!(exit.stdout.is_empty(), "{name}");
        assert_eq!(exit.stderr.lines().count(), 1, "{name}: {}", exit.stderr);
        fake.join().expect(name);
    }

    let http_cases: Vec<(&str, &'static [u8], String)> = vec![
        (
            "oversized header",
            oversized,
            "reply longer than 16384 bytes".into(),
        ),
        (
            "garbage",
            b"\x00\x5a\x00\x00garbage",
            "the reply is not HTTP (starts with `\\x00Z\\x00\\x00garbage`)".into(),
        ),
        (
            "502",
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
            "answered HTTP 502 Bad Gateway".into(),
        ),
    ];
    for (name, reply, needle) in http_cases {
        let (port, fake) = fake_proxy(move |s| {
            read_header(s);
            s.write_all(reply).unwrap();
        });
        let exit = through_fake(&["-w", "5", "--proxy"], port, &["127.0.0.1", "9"]);
        assert_eq!(exit.code(), Some(1), "{name}: {}", exit.stderr);
        assert!(exit.stderr.contains(&needle), "{name}: {}", exit.stderr);
        assert!(exit.stderr.contains(&format!("127.0.0.1:{port}")), "{name}");
        fake.join().expect(name);
    }
}

#[test]
fn proxy_flag_conflicts_are_usage_errors() {
    for args in [
        &["-x", "127.0.0.1", "-l", "5000"][..],
        &["-x", "127.0.0.1", "-u", "127.0.0.1", "53"],
        &["--proxy", "127.0.0.1", "-U", "/tmp/rnc-none.sock"],
        &["-X", "5", "127.0.0.1", "80"],
        &[
            "-x",
            "127.0.0.1",
            "--proxy-type",
            "socks6",
            "127.0.0.1",
            "80",
        ],
    ] {
        let exit = Rnc::run(args);
        exit.assert_code(2);
        assert_eq!(exit.stderr.lines().count(), 1, "{args:?}: {}", exit.stderr);
        assert!(
            exit.stderr.starts_with("rnc: "),
            "{args:?}: {}",
            exit.stderr
        );
    }
}

#[test]
fn proxy_unresolvable_proxy_name_is_named_as_the_proxy() {
    // `.invalid` never resolves (RFC 6761), and the question never leaves the machine.
    for flags in [&["-x"][..], &["--proxy"]] {
        let mut args = flags.to_vec();
        args.extend_from_slice(&["nosuch.invalid:1080", "127.0.0.1", "80"]);
        let exit = Rnc::run(&args);
        exit.assert_code(1);
        assert!(
            exit.stderr
                .starts_with("rnc: proxy nosuch.invalid:1080: cannot resolve `nosuch.invalid`: "),
            "{flags:?}: {}",
            exit.stderr
        );
        assert_eq!(exit.stderr.lines().count(), 1, "{}", exit.stderr);
    }
}

#[test]
fn proxy_tls_verification_failure_names_the_target_and_the_proxy() {
    let Some((_proxy, proxy_port)) = microsocks(None) else {
        return;
    };
    // A listener with a fresh self-signed certificate, which no trust store knows.
    let mut listener = Rnc::spawn(&["-l", "--tls", "127.0.0.1", "0"]);
    let port = listener.listening_port();
    let exit = Rnc::run(&[
        "-w",
        "10",
        "--tls",
        "-x",
        &format!("127.0.0.1:{proxy_port}"),
        "127.0.0.1",
        &port.to_string(),
    ]);
    exit.assert_code(1);
    let want = format!(
        "rnc: TLS handshake with 127.0.0.1:{port} via socks5 proxy 127.0.0.1:{proxy_port}: "
    );
    assert!(exit.stderr.starts_with(&want), "{}", exit.stderr);
    assert!(exit.stderr.contains("not trusted"), "{}", exit.stderr);
    assert_eq!(exit.stderr.lines().count(), 1, "{}", exit.stderr);
}

#[test]
fn proxy_tls_truncation_names_the_target_and_the_proxy() {
    let Some((_proxy, proxy_port)) = microsocks(None) else {
        return;
    };
    // microsocks closes both sides at the client's EOF, so the listener's close_notify
    // never comes: the client reports the truncated stream, naming the route.
    let mut listener = Rnc::spawn(&["-l", "--tls", "127.0.0.1", "0"]);
    let port = listener.listening_port();
    let line = listener.wait_stderr("rnc: TLS certificate sha256:");
    let pin = line
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .expect("a fingerprint")
        .to_string();
    let mut client = Rnc::spawn(&[
        "--tls",
        "--pin",
        &pin,
        "-x",
        &format!("127.0.0.1:{proxy_port}"),
        "127.0.0.1",
        &port.to_string(),
    ]);
    client.write_stdin(b"ping\n");
    assert_eq!(listener.stdout_exact(5), b"ping\n");
    // The listener has sent something and its stdin stays open, so it does not end (and
    // send its close_notify) when the client's EOF reaches it: the close that reaches
    // the client is microsocks', without close_notify.
    listener.write_stdin(b"pong\n");
    assert_eq!(client.stdout_exact(5), b"pong\n");
    client.close_stdin();
    let exit = client.finish();
    exit.assert_code(1);
    let want = format!(
        "rnc: read from 127.0.0.1:{port} via socks5 proxy 127.0.0.1:{proxy_port}: \
         TLS stream truncated (no close_notify): data may be missing"
    );
    assert_eq!(exit.stderr.trim_end(), want);
    listener.close_stdin();
    drop(listener.finish());
}
