//! `--tls`: rnc as a TLS client of `openssl s_server` and of small rustls servers run by
//! the test, as a TLS listener for `openssl s_client` and for rnc, and the errors a user
//! meets (untrusted certificate, wrong pin, plain-text server, truncation, UDP); hostile
//! servers (garbage, oversized records and chains, silence, KeyUpdate under load).
//!
//! Certificates are made by each test with rcgen (a CA and a leaf for `localhost` and
//! 127.0.0.1) in its own temp dir; no key is committed.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use crate::util::{
    Input, Rnc, TIMEOUT, assert_same_bytes, installed_tool, pseudo_random, temp_dir,
    wait_tcp_listen_port_of, write_file,
};

/// A test CA and a leaf it signed for `localhost` and 127.0.0.1, as PEM files.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    leaf_cert: PathBuf,
    leaf_key: PathBuf,
    leaf_der: Vec<u8>,
    leaf_key_der: Vec<u8>,
}

impl Pki {
    fn new() -> Pki {
        Pki::with_ca_name("rnc test CA")
    }

    /// A PKI whose CA has this common name (another name: another CA, as far as a
    /// verifier can tell).
    fn with_ca_name(ca_name: &str) -> Pki {
        Pki::build(ca_name, &["localhost", "127.0.0.1"], None)
    }

    /// A PKI whose leaf is for `names` and, when given, valid only from January 1st of
    /// `years.0` to January 1st of `years.1`.
    fn build(ca_name: &str, names: &[&str], years: Option<(i32, i32)>) -> Pki {
        let dir = temp_dir();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let mut leaf_params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        if let Some((from, until)) = years {
            leaf_params.not_before = rcgen::date_time_ymd(from, 1, 1);
            leaf_params.not_after = rcgen::date_time_ymd(until, 1, 1);
        }
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        Pki {
            ca: write_file(dir.path(), "ca.pem", ca_cert.pem().as_bytes()),
            leaf_cert: write_file(dir.path(), "leaf.pem", leaf.pem().as_bytes()),
            leaf_key: write_file(dir.path(), "leaf.key", leaf_key.serialize_pem().as_bytes()),
            leaf_der: leaf.der().to_vec(),
            leaf_key_der: leaf_key.serialize_der(),
            _dir: dir,
        }
    }

    /// `sha256:HEX` of the leaf, as `--pin` takes it.
    fn leaf_pin(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.leaf_der);
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// A one-connection rustls server on 127.0.0.1 serving the leaf: after the handshake it
/// sends `reply`, then ends with a close_notify, or (`truncate`) with a bare FIN. A failed
/// handshake just ends the thread.
fn rustls_server(pki: &Pki, reply: &'static [u8], truncate: bool) -> (u16, thread::JoinHandle<()>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::try_from(pki.leaf_key_der.clone()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf_der.clone().into()], key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return;
            }
        }
        conn.writer().write_all(reply).unwrap();
        if !truncate {
            conn.send_close_notify();
        }
        while conn.wants_write() {
            if conn.write_tls(&mut tcp).is_err() {
                return;
            }
        }
        let _ = tcp.shutdown(Shutdown::Write);
        // Wait for the client to go, so the FIN is all it sees.
        let mut sink = [0u8; 4096];
        while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
    });
    (port, handle)
}

#[test]
fn tls_client_and_openssl_server_exchange_bytes_verified_with_tls_ca() {
    let Some(openssl) = installed_tool("openssl") else {
        return;
    };
    let pki = Pki::new();
    let mut server = Rnc::tool(
        &openssl,
        &[
            "s_server",
            "-quiet",
            "-naccept",
            "1",
            "-accept",
            "127.0.0.1:0",
            "-cert",
            path(&pki.leaf_cert),
            "-key",
            path(&pki.leaf_key),
        ],
    )
    .spawn();
    let port = wait_tcp_listen_port_of(server.pid()).to_string();
    // Less than a pipe holds: s_server reads its stdin only once a client is there.
    let from_server = pseudo_random(60_000, 7);
    let from_client = pseudo_random(150_000, 8);
    server.write_stdin(&from_server);
    let mut client = Rnc::spawn(&["--tls", "--tls-ca", path(&pki.ca), "localhost", &port]);
    let feeder = client.feed_stdin_and_close(from_client.clone());
    assert_same_bytes(&client.stdout_exact(from_server.len()), &from_server);
    assert_same_bytes(&server.stdout_exact(from_client.len()), &from_client);
    feeder.join().unwrap().unwrap();
    server.close_stdin();
    let exit = client.finish();
    exit.assert_code(0);
}

#[test]
fn tls_client_unknown_issuer_fails_with_the_hint() {
    let pki = Pki::new();
    let (port, server) = rustls_server(&pki, b"never", false);
    let exit = Rnc::run(&["--tls", "127.0.0.1", &port.to_string()]);
    exit.assert_code(1);
    assert!(
        exit.stderr.contains("not trusted")
            && exit.stderr.contains("--tls-ca")
            && exit.stderr.contains("--pin")
            && exit.stderr.contains("--insecure"),
        "{}",
        exit.stderr
    );
    assert_eq!(exit.stderr.lines().count(), 1, "{}", exit.stderr);
    server.join().unwrap();
}

#[test]
fn tls_client_pin_of_the_right_certificate_succeeds_and_a_wrong_one_fails() {
    let pki = Pki::new();
    let (port, server) = rustls_server(&pki, b"pinned\n", false);
    let pin = pki.leaf_pin();
    let exit = Rnc::run(&["--tls", "--pin", &pin, "127.0.0.1", &port.to_string()]);
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"pinned\n");
    server.join().unwrap();

    let (port, server) = rustls_server(&pki, b"never", false);
    let wrong = format!("sha256:{}", "00".repeat(32));
    let exit = Rnc::run(&["--tls", "--pin", &wrong, "127.0.0.1", &port.to_string()]);
    exit.assert_code(1);
    assert!(
        exit.stderr.contains("does not match `--pin`"),
        "{}",
        exit.stderr
    );
    server.join().unwrap();
}

#[test]
fn tls_client_insecure_connects_and_warns() {
    let pki = Pki::new();
    let (port, server) = rustls_server(&pki, b"anyone\n", false);
    let exit = Rnc::run(&["--tls", "--insecure", "127.0.0.1", &port.to_string()]);
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"anyone\n");
    assert!(
        exit.stderr
            .contains("rnc: --insecure: the server's certificate is not verified"),
        "{}",
        exit.stderr
    );
    server.join().unwrap();
}

#[test]
fn tls_client_zero_io_reports_whether_the_handshake_succeeds() {
    let pki = Pki::new();
    let (port, server) = rustls_server(&pki, b"", false);
    let port = port.to_string();
    let exit = Rnc::run(&["-z", "--tls", "--tls-ca", path(&pki.ca), "127.0.0.1", &port]);
    exit.assert_code(0);
    server.join().unwrap();
    let (port, server) = rustls_server(&pki, b"", false);
    let exit = Rnc::run(&["-z", "--tls", "127.0.0.1", &port.to_string()]);
    exit.assert_code(1);
    server.join().unwrap();
}

#[test]
fn tls_client_fin_without_close_notify_is_truncation() {
    let pki = Pki::new();
    let (port, server) = rustls_server(&pki, b"partial", true);
    let mut client = Rnc::spawn(&[
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "localhost",
        &port.to_string(),
    ]);
    assert_eq!(client.stdout_exact(7), b"partial");
    let exit = client.finish();
    exit.assert_code(1);
    assert!(
        exit.stderr.contains(&format!(
            "rnc: read from 127.0.0.1:{port}: TLS stream truncated (no close_notify): data may be missing"
        )),
        "{}",
        exit.stderr
    );
    server.join().unwrap();
}

#[test]
fn tls_client_of_a_plain_text_server_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut hello = [0u8; 512];
        let _ = tcp.read(&mut hello);
        let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    let exit = Rnc::run(&["--tls", "127.0.0.1", &port.to_string()]);
    exit.assert_code(1);
    assert!(
        exit.stderr
            .contains("the server answered in plain text: is this a TLS port?"),
        "{}",
        exit.stderr
    );
    server.join().unwrap();
}

#[test]
fn tls_udp_is_a_usage_error() {
    let exit = Rnc::run(&["-u", "--tls", "127.0.0.1", "9"]);
    exit.assert_code(2);
    assert_eq!(
        exit.stderr.trim_end(),
        "rnc: --tls needs a stream socket: DTLS is not supported"
    );
}

/// `rnc -l --tls 127.0.0.1 0`: its port, and the client arguments it printed.
fn tls_listener(stdin: Input) -> (Rnc, u16, Vec<String>) {
    let mut listener = Rnc::with(&["-l", "--tls", "127.0.0.1", "0"])
        .stdin(stdin)
        .spawn();
    let port = listener.listening_port();
    let print = listener.wait_stderr("rnc: TLS certificate sha256:");
    assert!(
        print.ends_with("(generated, new at every start)"),
        "{print}"
    );
    let line = listener.wait_stderr("rnc: clients connect with: rnc ");
    let command = line
        .split_once("clients connect with: rnc ")
        .expect("matched above")
        .1;
    let args: Vec<String> = command.split_whitespace().map(String::from).collect();
    assert_eq!(args[..2], ["--tls", "--pin"]);
    assert_eq!(args[3..], ["127.0.0.1".to_string(), port.to_string()]);
    (listener, port, args)
}

#[test]
fn tls_rnc_client_and_rnc_listener_with_the_printed_pin() {
    let (mut listener, _port, args) = tls_listener(Input::Piped);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let from_listener = pseudo_random(300_000, 21);
    let from_client = pseudo_random(200_000, 22);
    let listener_feed = listener.feed_stdin_and_close(from_listener.clone());
    let mut client = Rnc::spawn(&args);
    let client_feed = client.feed_stdin_and_close(from_client.clone());
    assert_same_bytes(&client.stdout_exact(from_listener.len()), &from_listener);
    assert_same_bytes(&listener.stdout_exact(from_client.len()), &from_client);
    listener_feed.join().unwrap().unwrap();
    client_feed.join().unwrap().unwrap();
    client.finish().assert_code(0);
    listener.finish().assert_code(0);
}

#[test]
fn tls_openssl_client_and_rnc_listener_exchange_bytes() {
    let Some(openssl) = installed_tool("openssl") else {
        return;
    };
    let (mut listener, port, _) = tls_listener(Input::Piped);
    let from_listener = pseudo_random(50_000, 31);
    let from_client = pseudo_random(80_000, 32);
    let connect = format!("127.0.0.1:{port}");
    let mut client = Rnc::tool(&openssl, &["s_client", "-quiet", "-connect", &connect]).spawn();
    client.write_stdin(&from_client);
    assert_same_bytes(&listener.stdout_exact(from_client.len()), &from_client);
    listener.write_stdin(&from_listener);
    listener.close_stdin();
    assert_same_bytes(&client.stdout_exact(from_listener.len()), &from_listener);
    client.close_stdin();
    listener.finish().assert_code(0);
    let _ = client.finish();
}

#[test]
fn tls_unix_client_and_listener() {
    let dir = temp_dir();
    let sock = dir.path().join("tls.sock");
    let mut listener = Rnc::spawn(&["-l", "-U", "--tls", path(&sock)]);
    let line = listener.wait_stderr("clients connect with: rnc ");
    let args: Vec<&str> = line
        .split_once("clients connect with: rnc ")
        .expect("matched above")
        .1
        .split_whitespace()
        .collect();
    assert_eq!(args[3..], ["-U", path(&sock)]);
    let mut client = Rnc::spawn(&args);
    client.write_stdin(b"over unix\n");
    assert_eq!(listener.stdout_exact(10), b"over unix\n");
    listener.write_stdin(b"and back\n");
    assert_eq!(client.stdout_exact(9), b"and back\n");
    client.close_stdin();
    listener.close_stdin();
    client.finish().assert_code(0);
    listener.finish().assert_code(0);
    assert!(!sock.exists());
}

/// `rnc -l --tls > out` from an idle stdin (a pipe that gives nothing) and `rnc --tls …
/// < file`: the listener's session ends at the client's close_notify, and it closes TLS
/// properly too, so the client exits 0 instead of reporting a truncated stream.
#[test]
fn tls_receive_only_listener_closes_with_close_notify() {
    let (mut listener, _port, args) = tls_listener(Input::Piped);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let data = pseudo_random(2 * 1024 * 1024, 23);
    let mut client = Rnc::spawn(&args);
    let feeding = client.feed_stdin_and_close(data.clone());
    assert_same_bytes(&listener.stdout_exact(data.len()), &data);
    feeding.join().unwrap().unwrap();
    let exit = client.finish();
    exit.assert_code(0);
    assert!(!exit.stderr.contains("truncated"), "{}", exit.stderr);
    // The listener's stdin never gave a byte: receive-only use, over at the client's end.
    listener.finish().assert_code(0);
}

/// `openssl s_server` on 127.0.0.1 serving `pki`'s leaf with `extra` arguments, for one
/// client; its port.
fn openssl_server(openssl: &Path, pki: &Pki, extra: &[&str]) -> (Rnc, String) {
    let mut args = vec![
        "s_server",
        "-quiet",
        "-naccept",
        "1",
        "-accept",
        "127.0.0.1:0",
        "-cert",
        path(&pki.leaf_cert),
        "-key",
        path(&pki.leaf_key),
    ];
    args.extend_from_slice(extra);
    let server = Rnc::tool(openssl, &args).spawn();
    let port = wait_tcp_listen_port_of(server.pid()).to_string();
    (server, port)
}

#[test]
fn tls_client_writes_sslkeylogfile() {
    let pki = Pki::new();
    let dir = temp_dir();
    let log = dir.path().join("keys.log");
    let (port, server) = rustls_server(&pki, b"logged\n", false);
    let exit = Rnc::with(&[
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "localhost",
        &port.to_string(),
    ])
    .env("SSLKEYLOGFILE", log.as_os_str())
    .spawn()
    .finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"logged\n");
    server.join().unwrap();
    let text = std::fs::read_to_string(&log).expect("the key log was written");
    assert!(
        text.lines()
            .any(|l| l.starts_with("CLIENT_TRAFFIC_SECRET_0 ") && l.split(' ').count() == 3),
        "{text}"
    );
}

#[test]
fn tls_listener_writes_sslkeylogfile_for_tls12() {
    let dir = temp_dir();
    let log = dir.path().join("keys.log");
    let mut listener = Rnc::with(&["-l", "--tls", "127.0.0.1", "0"])
        .env("SSLKEYLOGFILE", log.as_os_str())
        .spawn();
    let line = listener.wait_stderr("clients connect with: rnc ");
    let mut args: Vec<&str> = line
        .split_once("clients connect with: rnc ")
        .expect("matched above")
        .1
        .split_whitespace()
        .collect();
    // TLS 1.2 logs `CLIENT_RANDOM`, the line older Wireshark versions read.
    args.splice(0..0, ["--tls-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"]);
    let mut client = Rnc::spawn(&args);
    client.write_stdin(b"tls12\n");
    assert_eq!(listener.stdout_exact(6), b"tls12\n");
    client.close_stdin();
    listener.close_stdin();
    client.finish().assert_code(0);
    listener.finish().assert_code(0);
    let text = std::fs::read_to_string(&log).expect("the key log was written");
    assert!(
        text.lines().any(|l| l.starts_with("CLIENT_RANDOM ")),
        "{text}"
    );
}

#[test]
fn tls_ciphers_limit_the_suite_openssl_agrees_on() {
    let Some(openssl) = installed_tool("openssl") else {
        return;
    };
    let pki = Pki::new();
    let cases = [
        // rustls's spelling, then OpenSSL's, any case.
        (
            "TLS13_CHACHA20_POLY1305_SHA256",
            "TLS13_CHACHA20_POLY1305_SHA256",
        ),
        ("tls_aes_128_gcm_sha256", "TLS13_AES_128_GCM_SHA256"),
    ];
    for (asked, agreed) in cases {
        let (mut server, port) = openssl_server(
            &openssl,
            &pki,
            &[
                "-ciphersuites",
                "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
            ],
        );
        server.write_stdin(b"suite\n");
        let mut client = Rnc::spawn(&[
            "-v",
            "--tls",
            "--tls-ca",
            path(&pki.ca),
            "--tls-ciphers",
            asked,
            "localhost",
            &port,
        ]);
        assert_eq!(client.stdout_exact(6), b"suite\n");
        client.close_stdin();
        server.close_stdin();
        let exit = client.finish();
        exit.assert_code(0);
        assert!(
            exit.stderr
                .contains(&format!("rnc: TLS handshake done: TLSv1.3, {agreed}")),
            "{}",
            exit.stderr
        );
        let _ = server.finish();
    }
    // TLS 1.2, by OpenSSL's name.
    let (mut server, port) = openssl_server(&openssl, &pki, &["-tls1_2"]);
    server.write_stdin(b"suite\n");
    let mut client = Rnc::spawn(&[
        "-v",
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "--ssl-ciphers",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "localhost",
        &port,
    ]);
    assert_eq!(client.stdout_exact(6), b"suite\n");
    client.close_stdin();
    server.close_stdin();
    let exit = client.finish();
    exit.assert_code(0);
    assert!(
        exit.stderr.contains(
            "rnc: TLS handshake done: TLSv1.2, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        ),
        "{}",
        exit.stderr
    );
    let _ = server.finish();
}

#[test]
fn tls_ciphers_unknown_name_is_a_usage_error_listing_the_valid_ones() {
    let exit = Rnc::run(&["--tls", "--tls-ciphers", "RC4-MD5", "127.0.0.1", "9"]);
    exit.assert_code(2);
    let line = exit.stderr.trim_end();
    assert!(
        line.starts_with("rnc: unknown cipher suite `RC4-MD5` in `--tls-ciphers` (valid: ")
            && line.contains("TLS13_AES_128_GCM_SHA256")
            && line.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        "{line}"
    );
    assert_eq!(exit.stderr.lines().count(), 1, "{}", exit.stderr);
}

/// `rnc -l --tls --tls-cert --tls-key --tls-client-ca 127.0.0.1 0` with `pki`'s leaf and
/// CA; its port.
fn client_ca_listener(pki: &Pki) -> (Rnc, String) {
    let mut listener = Rnc::spawn(&[
        "-l",
        "--tls",
        "--tls-cert",
        path(&pki.leaf_cert),
        "--tls-key",
        path(&pki.leaf_key),
        "--tls-client-ca",
        path(&pki.ca),
        "127.0.0.1",
        "0",
    ]);
    let port = listener.listening_port().to_string();
    (listener, port)
}

#[test]
fn tls_client_certificate_accepted_by_tls_client_ca() {
    let pki = Pki::new();
    let (mut listener, port) = client_ca_listener(&pki);
    let mut client = Rnc::spawn(&[
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "--tls-cert",
        path(&pki.leaf_cert),
        "--tls-key",
        path(&pki.leaf_key),
        "localhost",
        &port,
    ]);
    client.write_stdin(b"it is me\n");
    assert_eq!(listener.stdout_exact(9), b"it is me\n");
    listener.write_stdin(b"welcome\n");
    assert_eq!(client.stdout_exact(8), b"welcome\n");
    client.close_stdin();
    listener.close_stdin();
    client.finish().assert_code(0);
    listener.finish().assert_code(0);
}

#[test]
fn tls_client_without_a_certificate_is_refused_by_tls_client_ca() {
    let pki = Pki::new();
    let (listener, port) = client_ca_listener(&pki);
    let mut client = Rnc::spawn(&["--tls", "--tls-ca", path(&pki.ca), "localhost", &port]);
    let served = listener.finish();
    served.assert_code(1);
    assert!(
        served
            .stderr
            .contains("the client presented no certificate (`--tls-client-ca` requires one)"),
        "{}",
        served.stderr
    );
    client.close_stdin();
    let exit = client.finish();
    exit.assert_code(1);
    assert!(
        exit.stderr.contains(
            "the server requires a client certificate (give `--tls-cert FILE --tls-key FILE`)"
        ),
        "{}",
        exit.stderr
    );
}

#[test]
fn tls_client_certificate_of_another_ca_is_refused_by_tls_client_ca() {
    let pki = Pki::new();
    let stranger = Pki::with_ca_name("some other CA");
    let (listener, port) = client_ca_listener(&pki);
    let mut client = Rnc::spawn(&[
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "--tls-cert",
        path(&stranger.leaf_cert),
        "--tls-key",
        path(&stranger.leaf_key),
        "localhost",
        &port,
    ]);
    let served = listener.finish();
    served.assert_code(1);
    assert!(
        served
            .stderr
            .contains("the client's certificate is not trusted: self-signed or issued by an unknown authority (not issued by a CA in `--tls-client-ca`)"),
        "{}",
        served.stderr
    );
    client.close_stdin();
    let exit = client.finish();
    exit.assert_code(1);
    assert!(
        exit.stderr
            .contains("the server refused our client certificate (TLS alert `unknown_ca`)"),
        "{}",
        exit.stderr
    );
}

#[test]
fn tls_client_certificate_presented_to_openssl_server() {
    let Some(openssl) = installed_tool("openssl") else {
        return;
    };
    let pki = Pki::new();
    let (mut server, port) = openssl_server(
        &openssl,
        &pki,
        &[
            "-Verify",
            "1",
            "-verify_return_error",
            "-CAfile",
            path(&pki.ca),
        ],
    );
    server.write_stdin(b"verified\n");
    let mut client = Rnc::spawn(&[
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "--tls-cert",
        path(&pki.leaf_cert),
        "--tls-key",
        path(&pki.leaf_key),
        "localhost",
        &port,
    ]);
    client.write_stdin(b"client\n");
    assert_eq!(server.stdout_exact(7), b"client\n");
    assert_eq!(client.stdout_exact(9), b"verified\n");
    client.close_stdin();
    server.close_stdin();
    client.finish().assert_code(0);
    let _ = server.finish();
}

/// OpenSSL closes on plain text without a word. rnc does not connect again to find out
/// (a second connection could reach a `-k` receiver's output, or a one-shot service): it
/// ends as usual, and only a port that usually speaks TLS (443, 8443, ...) gets a hint.
#[test]
fn tls_plain_client_of_a_silent_openssl_server_connects_once() {
    let Some(openssl) = installed_tool("openssl") else {
        return;
    };
    let pki = Pki::new();
    let (server, port) = openssl_server(&openssl, &pki, &["-naccept", "1"]);
    let mut client = Rnc::spawn(&["127.0.0.1", &port]);
    client.write_stdin(b"GET / HTTP/1.0\r\n\r\n");
    client.close_stdin();
    let exit = client.finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"");
    assert_eq!(exit.stderr, "", "an ephemeral port gets no TLS hint");
    drop(server);
}

#[test]
fn tls_plain_client_of_a_tls_alert_says_the_peer_speaks_tls() {
    // rustls answers plain text with an alert record: the first bytes rnc receives.
    let (listener, port, _) = tls_listener(Input::Piped);
    let mut client = Rnc::spawn(&["127.0.0.1", &port.to_string()]);
    client.write_stdin(b"GET / HTTP/1.0\r\n\r\n");
    client.close_stdin();
    let exit = client.finish();
    exit.assert_code(1);
    assert_eq!(exit.stdout, b"", "no binary junk on stdout");
    assert_eq!(exit.stderr, "rnc: the peer speaks TLS: try --tls\n");
    drop(listener);
}

#[test]
fn tls_record_bytes_in_the_middle_of_a_plain_stream_are_data() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = b"hello\n\x16\x03\x01\x00\x05";
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.write_all(b"hello\n").unwrap();
        tcp.write_all(b"\x16\x03\x01\x00\x05").unwrap();
    });
    let exit = Rnc::with(&["127.0.0.1", &port.to_string()])
        .stdin(Input::Null)
        .spawn()
        .finish();
    exit.assert_code(0);
    assert_eq!(exit.stdout, sent);
    server.join().unwrap();
}

/// `rnc -l --tls --tls-cert --tls-key 127.0.0.1 0` serving `pki`'s leaf; its port.
fn cert_listener(pki: &Pki) -> (Rnc, String) {
    let mut listener = Rnc::spawn(&[
        "-l",
        "--tls",
        "--tls-cert",
        path(&pki.leaf_cert),
        "--tls-key",
        path(&pki.leaf_key),
        "127.0.0.1",
        "0",
    ]);
    let port = listener.listening_port().to_string();
    (listener, port)
}

/// rnc as the client of a TLS `server` (a real peer listening on `port`, already
/// spawned): bytes both ways, byte-exact; returns rnc's exit.
fn rnc_client_exchanges_with(
    mut server: Rnc,
    pki: &Pki,
    port: &str,
    seed: u64,
) -> crate::util::Exit {
    let from_server = pseudo_random(60_000, seed);
    let from_client = pseudo_random(90_000, seed + 1);
    let mut client = Rnc::spawn(&["--tls", "--tls-ca", path(&pki.ca), "localhost", port]);
    client.write_stdin(&from_client);
    assert_same_bytes(&server.stdout_exact(from_client.len()), &from_client);
    server.write_stdin(&from_server);
    assert_same_bytes(&client.stdout_exact(from_server.len()), &from_server);
    client.close_stdin();
    server.close_stdin();
    let exit = client.finish();
    let _ = server.finish();
    exit
}

/// A TLS `client` (a real peer, already spawned, connected to rnc's `listener`): bytes
/// both ways, byte-exact; returns rnc's exit.
fn rnc_listener_exchanges_with(mut listener: Rnc, mut client: Rnc, seed: u64) -> crate::util::Exit {
    let from_listener = pseudo_random(60_000, seed);
    let from_client = pseudo_random(90_000, seed + 1);
    client.write_stdin(&from_client);
    assert_same_bytes(&listener.stdout_exact(from_client.len()), &from_client);
    listener.write_stdin(&from_listener);
    // rnc's close_notify and FIN follow its bytes at once: ncat 7.93 (select() around
    // OpenSSL) may sit on records OpenSSL has already read until the socket moves again.
    listener.close_stdin();
    assert_same_bytes(&client.stdout_exact(from_listener.len()), &from_listener);
    client.close_stdin();
    let exit = listener.finish();
    let _ = client.finish();
    exit
}

/// ncat 7.93 ends its TLS streams with a bare FIN, no close_notify: after the bytes
/// arrived whole, rnc may say so (`TLS stream truncated`, exit 1) or, when its own
/// close_notify went first, end cleanly.
fn assert_clean_or_truncated_by_ncat(exit: &crate::util::Exit) {
    if exit.code() != Some(0) {
        exit.assert_code(1);
        assert!(
            exit.stderr
                .contains("TLS stream truncated (no close_notify): data may be missing"),
            "{}",
            exit.stderr
        );
    }
}

#[test]
fn tls_interop_ncat_ssl_server() {
    let Some(ncat) = installed_tool("ncat") else {
        return;
    };
    let pki = Pki::new();
    let server = Rnc::tool(
        &ncat,
        &[
            "--ssl",
            "--ssl-cert",
            path(&pki.leaf_cert),
            "--ssl-key",
            path(&pki.leaf_key),
            "-l",
            "127.0.0.1",
            "0",
        ],
    )
    .spawn();
    let port = wait_tcp_listen_port_of(server.pid()).to_string();
    let exit = rnc_client_exchanges_with(server, &pki, &port, 41);
    assert_clean_or_truncated_by_ncat(&exit);
}

#[test]
fn tls_interop_ncat_ssl_client() {
    let Some(ncat) = installed_tool("ncat") else {
        return;
    };
    let pki = Pki::new();
    let (listener, port) = cert_listener(&pki);
    let client = Rnc::tool(
        &ncat,
        &[
            "--ssl",
            "--ssl-verify",
            "--ssl-trustfile",
            path(&pki.ca),
            "localhost",
            &port,
        ],
    )
    .spawn();
    let exit = rnc_listener_exchanges_with(listener, client, 43);
    assert_clean_or_truncated_by_ncat(&exit);
}

#[test]
fn tls_interop_socat_openssl_listen() {
    let Some(socat) = installed_tool("socat") else {
        return;
    };
    let pki = Pki::new();
    let listen = format!(
        "OPENSSL-LISTEN:0,bind=127.0.0.1,cert={},key={},verify=0",
        path(&pki.leaf_cert),
        path(&pki.leaf_key)
    );
    let server = Rnc::tool(&socat, &[&listen, "STDIO"]).spawn();
    let port = wait_tcp_listen_port_of(server.pid()).to_string();
    let exit = rnc_client_exchanges_with(server, &pki, &port, 45);
    exit.assert_code(0);
}

#[test]
fn tls_interop_socat_openssl_client() {
    let Some(socat) = installed_tool("socat") else {
        return;
    };
    let pki = Pki::new();
    let (listener, port) = cert_listener(&pki);
    let connect = format!("OPENSSL:localhost:{port},cafile={}", path(&pki.ca));
    let client = Rnc::tool(&socat, &["STDIO", &connect]).spawn();
    let exit = rnc_listener_exchanges_with(listener, client, 47);
    exit.assert_code(0);
}

#[test]
fn tls_interop_curl_fetches_from_rnc_listener() {
    let Some(curl) = installed_tool("curl") else {
        return;
    };
    let pki = Pki::new();
    let body = pseudo_random(100_000, 49);
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    for verify in ["--cacert", "-k"] {
        let (mut listener, port) = cert_listener(&pki);
        let feed = listener.feed_stdin_and_close(response.clone());
        let url = format!("https://localhost:{port}/file");
        let mut args = vec!["-sS", "--http1.1", "-o", "-"];
        args.extend_from_slice(&[verify]);
        if verify == "--cacert" {
            args.push(path(&pki.ca));
        }
        args.push(&url);
        let fetched = Rnc::tool(&curl, &args).spawn().finish();
        fetched.assert_code(0);
        assert_same_bytes(&fetched.stdout, &body);
        feed.join().unwrap().unwrap();
        let served = listener.finish();
        served.assert_code(0);
        let request = String::from_utf8_lossy(&served.stdout).into_owned();
        assert!(request.starts_with("GET /file HTTP/1.1\r\n"), "{request}");
    }
}

#[test]
fn tls_client_verbose_describes_the_server_certificate_and_handshake_time() {
    let pki = Pki::new();
    let (port, server) = rustls_server(&pki, b"", false);
    let exit = Rnc::run(&[
        "-v",
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "localhost",
        &port.to_string(),
    ]);
    exit.assert_code(0);
    server.join().unwrap();
    let lines: Vec<&str> = exit.stderr.lines().collect();
    let done = lines
        .iter()
        .find(|l| l.starts_with("rnc: TLS handshake done: TLSv1.3, TLS13_"))
        .unwrap_or_else(|| panic!("{}", exit.stderr));
    assert!(done.ends_with(" ms"), "{done}");
    for expected in [
        "rnc: server certificate subject: ",
        "rnc: server certificate issuer: CN=rnc test CA",
        "rnc: server certificate names: localhost, 127.0.0.1",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "{expected}\n{}",
            exit.stderr
        );
    }
    let valid = lines
        .iter()
        .find(|l| l.starts_with("rnc: server certificate valid: not before "))
        .unwrap_or_else(|| panic!("{}", exit.stderr));
    assert!(
        valid.contains(" UTC, not after ") && valid.ends_with(" UTC"),
        "{valid}"
    );
}

#[test]
fn tls_client_verbose_says_how_the_certificate_was_verified() {
    let pki = Pki::new();
    let ca = path(&pki.ca).to_string();
    let pin = pki.leaf_pin();
    let cases: [(&[&str], String); 3] = [
        (
            &["--tls-ca", &ca, "localhost"],
            format!("rnc: certificate verified for localhost by --tls-ca {ca}"),
        ),
        (
            &["--pin", &pin, "127.0.0.1"],
            "rnc: certificate matches --pin".to_string(),
        ),
        (
            &["--insecure", "127.0.0.1"],
            "rnc: certificate NOT verified (--insecure)".to_string(),
        ),
    ];
    for (args, expected) in cases {
        let (port, server) = rustls_server(&pki, b"", false);
        let port = port.to_string();
        let mut all = vec!["-v", "--tls"];
        all.extend(args);
        all.push(&port);
        let exit = Rnc::run(&all);
        exit.assert_code(0);
        server.join().unwrap();
        let lines: Vec<&str> = exit.stderr.lines().collect();
        let done = lines
            .iter()
            .position(|l| l.starts_with("rnc: TLS handshake done: "))
            .unwrap_or_else(|| panic!("{}", exit.stderr));
        assert_eq!(
            lines.get(done + 1),
            Some(&expected.as_str()),
            "{}",
            exit.stderr
        );
    }
}

// Hostile TLS servers (issue 11): each ends rnc with one clear line on stderr and exit 1,
// without a panic, a hang or unbounded memory.

/// A one-connection TCP "server" on 127.0.0.1 that reads the ClientHello, then runs
/// `answer` on the socket (its reads time out after `TIMEOUT`).
fn raw_server(
    answer: impl FnOnce(&mut std::net::TcpStream) + Send + 'static,
) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let handle = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut hello = [0u8; 4096];
        let _ = tcp.read(&mut hello);
        answer(&mut tcp);
    });
    (port, handle)
}

/// Waits (bounded) for the client to close, so what the server sent is all it sees.
fn wait_for_close(tcp: &mut std::net::TcpStream) {
    let mut sink = [0u8; 4096];
    while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
}

/// rnc's stderr is exactly the one line for a failed handshake with 127.0.0.1:`port`.
fn assert_handshake_error(exit: &crate::util::Exit, port: &str, reason: &str) {
    assert_eq!(
        exit.stderr,
        format!("rnc: TLS handshake with 127.0.0.1:{port}: {reason}\n")
    );
}

#[test]
fn tls_hostile_server_answers_the_client_hello_with_garbage() {
    let (port, server) = raw_server(|tcp| {
        let _ = tcp.write_all(
            &pseudo_random(4096, 11)
                .iter()
                .map(|b| b | 0x80)
                .collect::<Vec<u8>>(),
        );
        wait_for_close(tcp);
    });
    let exit = Rnc::run(&["--tls", "-w", "5", "127.0.0.1", &port]);
    exit.assert_code(1);
    assert_handshake_error(
        &exit,
        &port,
        "the server answered in plain text: is this a TLS port?",
    );
    server.join().unwrap();
}

#[test]
fn tls_hostile_server_record_header_claims_a_huge_length() {
    // 0xffff is more than a TLS record may hold: refused at once.
    let (port, server) = raw_server(|tcp| {
        let _ = tcp.write_all(&[0x16, 0x03, 0x03, 0xff, 0xff, 0x02, 0x00]);
        wait_for_close(tcp);
    });
    let exit = Rnc::run(&["--tls", "-w", "5", "127.0.0.1", &port]);
    exit.assert_code(1);
    assert_handshake_error(
        &exit,
        &port,
        "the server sent a TLS record longer than TLS allows: not a TLS peer?",
    );
    server.join().unwrap();

    // 16 KiB is allowed: the rest never comes, and `-w 1` ends the wait.
    let (port, server) = raw_server(|tcp| {
        let _ = tcp.write_all(&[0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00]);
        wait_for_close(tcp);
    });
    let started = std::time::Instant::now();
    let exit = Rnc::run(&["--tls", "-w", "1", "127.0.0.1", &port]);
    exit.assert_code(1);
    assert_handshake_error(&exit, &port, "timed out");
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    server.join().unwrap();
}

#[test]
fn tls_hostile_server_never_answers() {
    let (port, server) = raw_server(wait_for_close);
    let exit = Rnc::run(&["--tls", "-w", "1", "127.0.0.1", &port]);
    exit.assert_code(1);
    assert_handshake_error(&exit, &port, "timed out");
    server.join().unwrap();

    // Without `-w` the handshake waits for good, and SIGTERM still ends it.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (port, server) = raw_server(move |tcp| {
        ready_tx.send(()).unwrap();
        wait_for_close(tcp);
    });
    let rnc = Rnc::with(&["--tls", "127.0.0.1", &port])
        .stdin(Input::Null)
        .spawn();
    ready_rx
        .recv_timeout(TIMEOUT)
        .expect("rnc sent its ClientHello");
    rnc.signal("TERM");
    rnc.finish().assert_code(143);
    server.join().unwrap();
}

/// rustls buffers at most 64 KiB of a handshake message and refuses a longer one from its
/// header, so rnc never holds the mebibyte.
#[test]
fn tls_hostile_server_certificate_chain_of_a_mebibyte_is_refused() {
    let pki = Pki::new();
    // The leaf, then 16 certificates of 64 KiB each (one large extension apiece).
    let mut chain: Vec<rustls::pki_types::CertificateDer<'static>> =
        vec![pki.leaf_der.clone().into()];
    let key = rcgen::KeyPair::generate().unwrap();
    for i in 0..16u64 {
        let mut params = rcgen::CertificateParams::new(vec![format!("bulk{i}.test")]).unwrap();
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 55555, 1],
                pseudo_random(64 << 10, i),
            ));
        chain.push(params.self_signed(&key).unwrap().der().clone());
    }
    assert!(chain.iter().map(|c| c.len()).sum::<usize>() > 1 << 20);
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        chain,
        rustls::pki_types::PrivateKeyDer::try_from(pki.leaf_key_der.clone()).unwrap(),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return;
            }
        }
    });
    let exit = Rnc::run(&[
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "-w",
        "5",
        "127.0.0.1",
        &port,
    ]);
    exit.assert_code(1);
    assert_handshake_error(
        &exit,
        &port,
        "the server sent a TLS handshake message over 64 KiB (rnc's limit; a certificate chain that large?)",
    );
    server.join().unwrap();
}

#[test]
fn tls_hostile_server_close_notify_in_the_middle_of_a_line() {
    let pki = Pki::new();
    let (port, server) = rustls_server(&pki, b"first line\nhalf a li", false);
    let exit = Rnc::run(&[
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "127.0.0.1",
        &port.to_string(),
    ]);
    exit.assert_code(0);
    assert_eq!(exit.stdout, b"first line\nhalf a li");
    assert_eq!(exit.stderr, "");
    server.join().unwrap();
}

#[test]
fn tls_hostile_server_key_updates_under_load_keep_the_bytes_exact() {
    let pki = Pki::new();
    let data = pseudo_random(8 << 20, 12);
    let key = rustls::pki_types::PrivateKeyDer::try_from(pki.leaf_key_der.clone()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![pki.leaf_der.clone().into()], key)
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let sent = data.clone();
    let server = thread::spawn(move || -> usize {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
        let mut updates = 0;
        for chunk in sent.chunks(16 << 10) {
            conn.writer().write_all(chunk).unwrap();
            conn.refresh_traffic_keys().unwrap();
            updates += 1;
            while conn.wants_write() {
                conn.write_tls(&mut tcp).unwrap();
            }
        }
        conn.send_close_notify();
        while conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        let _ = tcp.shutdown(Shutdown::Write);
        wait_for_close(&mut tcp);
        updates
    });
    let mut client = Rnc::spawn(&["--tls", "--tls-ca", path(&pki.ca), "127.0.0.1", &port]);
    assert_same_bytes(&client.stdout_exact(data.len()), &data);
    client.close_stdin();
    let exit = client.finish();
    exit.assert_code(0);
    assert_eq!(exit.stderr, "");
    assert_eq!(server.join().unwrap(), data.len() / (16 << 10));
}

/// The server's certificate is for other names: the error lists them and the one rnc
/// checked.
#[test]
fn tls_client_name_mismatch_lists_the_certificate_names() {
    let pki = Pki::build("rnc test CA", &["a.example", "b.example"], None);
    let (port, server) = rustls_server(&pki, b"never", false);
    let exit = Rnc::run(&[
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "127.0.0.1",
        &port.to_string(),
    ]);
    exit.assert_code(1);
    assert!(
        exit.stderr
            .contains("the server's certificate is for a.example, b.example, not 127.0.0.1"),
        "{}",
        exit.stderr
    );
    assert_eq!(exit.stderr.lines().count(), 1, "{}", exit.stderr);
    server.join().unwrap();
}

/// An expired certificate: the error gives its end date and the time now.
#[test]
fn tls_client_expired_certificate_says_until_when() {
    let pki = Pki::build(
        "rnc test CA",
        &["localhost", "127.0.0.1"],
        Some((2020, 2021)),
    );
    let (port, server) = rustls_server(&pki, b"never", false);
    let exit = Rnc::run(&[
        "--tls",
        "--tls-ca",
        path(&pki.ca),
        "127.0.0.1",
        &port.to_string(),
    ]);
    exit.assert_code(1);
    assert!(
        exit.stderr.contains(
            "the server's certificate has expired: valid until 2021-01-01 00:00 UTC, now "
        ),
        "{}",
        exit.stderr
    );
    server.join().unwrap();
}
