//! Connecting through a proxy (`-x`/`--proxy`): SOCKS4 and 4a, SOCKS5 (RFC 1928) with
//! username/password (RFC 1929), and HTTP `CONNECT` with basic authentication. This is a
//! step of the connect phase: the target's name is resolved where `--proxy-dns` says,
//! the proxy is connected like any host (`connect.rs`), and then the handshake runs as a
//! non-blocking state machine that waits through the loop (`wait_for`), bounded by `-w`.
//! TLS (`net/tls.rs`) starts only after it, so it runs inside the tunnel.
//!
//! The protocol half (`Handshake`) is pure: it makes requests and reads replies from a
//! byte slice, and never trusts a length or a byte it was sent. The driver peeks at the
//! socket (`MSG_PEEK`) and consumes exactly the bytes of each reply, never more, so what
//! the proxy sends after its reply (the start of the tunnelled stream, or the TLS
//! server's first bytes) stays in the socket for the session. A reply may take at most
//! `MAX_REPLY_BYTES`. This file never touches the relay.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::Interest;
use mio::net::TcpStream;
use mio::unix::SourceFd;

use crate::config::{Config, Family, Host, ProxyDns, ProxyKind, ProxyOptions};
use crate::error::{Error, Result, describe_io};
use crate::event_loop::{Loop, Outcome, Wait, wait_for, wait_paused};
use crate::net::connect::{connect_tcp, resolve_waiting};
use crate::net::endpoint::{Endpoint, canonical_addr};
use crate::notices::print_line;
use crate::relay::session::Session;
use crate::tty::prompt::PasswordPrompt;

/// The longest reply accepted from a proxy: an HTTP reply header longer than this is an
/// error (a SOCKS reply takes at most 262 bytes).
const MAX_REPLY_BYTES: usize = 16 * 1024;

/// Where the proxy is asked to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// An address rnc resolved, or that the user gave.
    Ip(IpAddr),
    /// A name the proxy resolves.
    Name(String),
}

/// Which request the handshake waits on the reply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// SOCKS5: the methods we offered; the proxy picks one.
    Socks5Greeting,
    /// SOCKS5: our user and password.
    Socks5Auth,
    /// SOCKS5: CONNECT.
    Socks5Connect,
    /// SOCKS4: CONNECT (the only request).
    Socks4Connect,
    /// HTTP: CONNECT (the only request).
    HttpConnect,
}

/// What a reply leads to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The reply is not complete yet.
    NeedMore,
    /// The reply took the first `used` bytes; send `send` next, or, with `None`, the
    /// tunnel is up.
    Next { used: usize, send: Option<Vec<u8>> },
    /// The reply took the first `used` bytes and asks for the password of `-P USER`
    /// (`Handshake::with_password` gives the request that carries it).
    NeedPassword { used: usize },
}

/// Why the handshake failed, in words; the driver names the hop.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The proxy itself: `proxy P: …`.
    Proxy(String),
    /// The proxy could not reach the target: `via proxy P: …`.
    Via(String),
    /// An HTTP proxy's status line: `proxy P answered HTTP …`.
    Answered(String),
}

/// The handshake's protocol state (sans I/O).
#[derive(Debug)]
pub(crate) struct Handshake {
    /// The protocol.
    kind: ProxyKind,
    /// The request whose reply comes next.
    stage: Stage,
    /// Where to.
    destination: Destination,
    /// The target's port.
    port: u16,
    /// User and password (`None`: not known yet, asked for when the proxy wants it).
    auth: Option<(String, Option<String>)>,
}

impl Handshake {
    /// A handshake and its first request.
    pub(crate) fn start(
        kind: ProxyKind,
        destination: Destination,
        port: u16,
        auth: Option<(String, Option<String>)>,
    ) -> std::result::Result<(Handshake, Vec<u8>), Refusal> {
        let stage = match kind {
            ProxyKind::Socks5 => Stage::Socks5Greeting,
            ProxyKind::Socks4 => Stage::Socks4Connect,
            ProxyKind::Http => Stage::HttpConnect,
        };
        let hs = Handshake {
            kind,
            stage,
            destination,
            port,
            auth,
        };
        let first = match kind {
            ProxyKind::Socks5 if hs.auth.is_some() => vec![5, 2, 0, 2],
            ProxyKind::Socks5 => vec![5, 1, 0],
            ProxyKind::Socks4 => hs.socks4_request()?,
            ProxyKind::Http => hs.http_request(),
        };
        Ok((hs, first))
    }

    /// The target as shown: `127.0.0.1:8080`, `[::1]:8080`, `example.org:443`.
    pub(crate) fn target_text(&self) -> String {
        destination_text(&self.destination, self.port)
    }

    /// Read the reply to the last request from `reply` (everything received so far).
    pub(crate) fn on_reply(&mut self, reply: &[u8]) -> std::result::Result<Step, Refusal> {
        match self.stage {
            Stage::Socks5Greeting => self.on_socks5_method(reply),
            Stage::Socks5Auth => on_socks5_auth(reply).map(|step| match step {
                Step::Next { used, .. } => {
                    self.stage = Stage::Socks5Connect;
                    Step::Next {
                        used,
                        send: Some(self.socks5_connect_request()),
                    }
                }
                more => more,
            }),
            Stage::Socks5Connect => self.on_socks5_connect(reply),
            Stage::Socks4Connect => self.on_socks4_connect(reply),
            Stage::HttpConnect => on_http_connect(reply, self.user_without_password().is_some()),
        }
    }

    /// The user whose password is not known yet (`-P USER`).
    pub(crate) fn user_without_password(&self) -> Option<&str> {
        match &self.auth {
            Some((user, None)) => Some(user),
            _ => None,
        }
    }

    /// After `Step::NeedPassword`: the password typed, and the request that carries it.
    /// SOCKS5 sends it on the same connection (RFC 1929); HTTP sends its `CONNECT` again
    /// with credentials, on a new connection, as nc does after a 407.
    pub(crate) fn with_password(
        &mut self,
        password: String,
    ) -> std::result::Result<Vec<u8>, Refusal> {
        if let Some((_, pass)) = &mut self.auth {
            *pass = Some(password);
        }
        match (self.kind, &self.auth) {
            (ProxyKind::Socks5, Some((user, Some(pass)))) => {
                if pass.len() > 255 {
                    return Err(Refusal::Proxy(
                        "the password takes more than the 255 bytes SOCKS5 can carry".into(),
                    ));
                }
                self.stage = Stage::Socks5Auth;
                Ok(socks5_auth_request(user, pass))
            }
            _ => Ok(self.http_request()),
        }
    }

    fn on_socks5_method(&mut self, reply: &[u8]) -> std::result::Result<Step, Refusal> {
        let [version, method, ..] = *reply else {
            return Ok(Step::NeedMore);
        };
        if version != 5 {
            return Err(not_a_reply("SOCKS5", reply));
        }
        match (method, &self.auth) {
            (0, _) => {
                self.stage = Stage::Socks5Connect;
                Ok(Step::Next {
                    used: 2,
                    send: Some(self.socks5_connect_request()),
                })
            }
            (2, Some((user, Some(pass)))) => {
                let request = socks5_auth_request(user, pass);
                self.stage = Stage::Socks5Auth;
                Ok(Step::Next {
                    used: 2,
                    send: Some(request),
                })
            }
            (2, Some((_, None))) => Ok(Step::NeedPassword { used: 2 }),
            (0xff, None) => Err(Refusal::Proxy(
                "authentication required (give `--proxy-auth USER:PASS`)".into(),
            )),
            (0xff, Some(_)) => Err(Refusal::Proxy(
                "refused every authentication method offered (none, username/password)".into(),
            )),
            (other, _) => Err(Refusal::Proxy(format!(
                "chose authentication method {other}, which rnc did not offer"
            ))),
        }
    }

    fn socks5_connect_request(&self) -> Vec<u8> {
        let mut request = vec![5, 1, 0];
        match &self.destination {
            Destination::Ip(IpAddr::V4(ip)) => {
                request.push(1);
                request.extend_from_slice(&ip.octets());
            }
            Destination::Ip(IpAddr::V6(ip)) => {
                request.push(4);
                request.extend_from_slice(&ip.octets());
            }
            Destination::Name(name) => {
                // `config` keeps names to 253 bytes.
                request.push(3);
                request.push(name.len().min(255) as u8);
                request.extend_from_slice(&name.as_bytes()[..name.len().min(255)]);
            }
        }
        request.extend_from_slice(&self.port.to_be_bytes());
        request
    }

    fn on_socks5_connect(&self, reply: &[u8]) -> std::result::Result<Step, Refusal> {
        let [version, code, _reserved, address_type, ..] = *reply else {
            if reply.first().is_some_and(|&v| v != 5) {
                return Err(not_a_reply("SOCKS5", reply));
            }
            return Ok(Step::NeedMore);
        };
        if version != 5 {
            return Err(not_a_reply("SOCKS5", reply));
        }
        if code != 0 {
            return Err(Refusal::Via(socks5_reason(code, &self.target_text())));
        }
        let address_len = match address_type {
            1 => 4,
            4 => 16,
            3 => match reply.get(4) {
                Some(&len) => 1 + usize::from(len),
                None => return Ok(Step::NeedMore),
            },
            other => {
                return Err(Refusal::Proxy(format!(
                    "SOCKS5 reply with unknown address type {other}"
                )));
            }
        };
        let used = 4 + address_len + 2;
        if reply.len() < used {
            return Ok(Step::NeedMore);
        }
        Ok(Step::Next { used, send: None })
    }

    fn socks4_request(&self) -> std::result::Result<Vec<u8>, Refusal> {
        let mut request = vec![4, 1];
        request.extend_from_slice(&self.port.to_be_bytes());
        let name = match &self.destination {
            Destination::Ip(IpAddr::V4(ip)) => {
                request.extend_from_slice(&ip.octets());
                None
            }
            Destination::Ip(IpAddr::V6(ip)) => {
                return Err(Refusal::Proxy(format!(
                    "SOCKS4 cannot carry the IPv6 address {ip} (use SOCKS5)"
                )));
            }
            Destination::Name(name) => {
                // SOCKS4a: the address 0.0.0.x (x ≠ 0) says a name follows the user id.
                request.extend_from_slice(&[0, 0, 0, 1]);
                Some(name)
            }
        };
        if let Some((user, _)) = &self.auth {
            request.extend_from_slice(user.as_bytes());
        }
        request.push(0);
        if let Some(name) = name {
            request.extend_from_slice(name.as_bytes());
            request.push(0);
        }
        Ok(request)
    }

    fn on_socks4_connect(&self, reply: &[u8]) -> std::result::Result<Step, Refusal> {
        // Version 0, then the code; some proxies put 4 in the version byte.
        if reply.first().is_some_and(|&v| v != 0 && v != 4) {
            return Err(not_a_reply("SOCKS4", reply));
        }
        let Some(&code) = reply.get(1) else {
            return Ok(Step::NeedMore);
        };
        let target = self.target_text();
        let reason = match code {
            90 if reply.len() >= 8 => {
                return Ok(Step::Next {
                    used: 8,
                    send: None,
                });
            }
            90 => return Ok(Step::NeedMore),
            91 => format!("connection to {target} rejected or failed"),
            92 => format!("connection to {target} rejected: the proxy cannot reach our identd"),
            93 => format!("connection to {target} rejected: identd reports another user id"),
            _ => return Err(not_a_reply("SOCKS4", reply)),
        };
        Err(Refusal::Via(reason))
    }

    fn http_request(&self) -> Vec<u8> {
        let target = self.target_text();
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some((user, Some(pass))) = &self.auth {
            let credentials = base64(format!("{user}:{pass}").as_bytes());
            let _ = write!(request, "Proxy-Authorization: Basic {credentials}\r\n");
        }
        request.push_str("\r\n");
        request.into_bytes()
    }

    /// The protocol's name as shown (`socks5`).
    pub(crate) fn kind(&self) -> ProxyKind {
        self.kind
    }
}

/// The username/password request (RFC 1929); `config` and `with_password` keep each to
/// 255 bytes.
fn socks5_auth_request(user: &str, pass: &str) -> Vec<u8> {
    let mut request = vec![1, user.len().min(255) as u8];
    request.extend_from_slice(&user.as_bytes()[..user.len().min(255)]);
    request.push(pass.len().min(255) as u8);
    request.extend_from_slice(&pass.as_bytes()[..pass.len().min(255)]);
    request
}

fn on_socks5_auth(reply: &[u8]) -> std::result::Result<Step, Refusal> {
    // RFC 1929 says version 1; some proxies answer 5. The status decides.
    let [_version, status, ..] = *reply else {
        return Ok(Step::NeedMore);
    };
    if status != 0 {
        return Err(Refusal::Proxy(
            "authentication failed (wrong user or password)".into(),
        ));
    }
    Ok(Step::Next {
        used: 2,
        send: None,
    })
}

/// An HTTP reply: a status line, headers, an empty line. 2xx opens the tunnel; 407 asks
/// for the password when `asks_password` (`-P USER` without one).
fn on_http_connect(reply: &[u8], asks_password: bool) -> std::result::Result<Step, Refusal> {
    let prefix = &reply[..reply.len().min(5)];
    if !b"HTTP/".starts_with(prefix) {
        return Err(not_a_reply("HTTP", reply));
    }
    let Some(end) = header_end(reply) else {
        return Ok(Step::NeedMore);
    };
    let first_line = reply.split(|&b| b == b'\n').next().unwrap_or_default();
    let status_line = first_line.strip_suffix(b"\r").unwrap_or(first_line);
    let mut parts = status_line.splitn(3, |&b| b == b' ');
    let _version = parts.next();
    let code = parts.next().unwrap_or_default();
    let reason = parts.next().unwrap_or_default();
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(not_a_reply("HTTP", reply));
    }
    if code[0] == b'2' {
        return Ok(Step::Next {
            used: end,
            send: None,
        });
    }
    if code == b"407" && asks_password {
        return Ok(Step::NeedPassword { used: end });
    }
    let mut status = String::from_utf8_lossy(code).into_owned();
    let reason = shown(reason, 80);
    if !reason.is_empty() {
        status.push(' ');
        status.push_str(&reason);
    }
    Err(Refusal::Answered(status))
}

/// The length of an HTTP header up to and including its empty line (CRLF or bare LF).
fn header_end(reply: &[u8]) -> Option<usize> {
    reply.windows(2).enumerate().find_map(|(i, w)| match w {
        b"\n\n" => Some(i + 2),
        b"\n\r" if reply.get(i + 2) == Some(&b'\n') => Some(i + 3),
        _ => None,
    })
}

/// Bytes from a proxy as text that is safe to print: printable ASCII kept, the rest
/// escaped, at most `max` bytes shown.
fn shown(bytes: &[u8], max: usize) -> String {
    let mut text: String = bytes[..bytes.len().min(max)]
        .escape_ascii()
        .to_string()
        .chars()
        .collect();
    if bytes.len() > max {
        text.push('…');
    }
    text
}

fn not_a_reply(protocol: &str, reply: &[u8]) -> Refusal {
    Refusal::Proxy(format!(
        "the reply is not {protocol} (starts with `{}`)",
        shown(reply, 16)
    ))
}

/// A SOCKS5 reply code in words (RFC 1928, section 6).
fn socks5_reason(code: u8, target: &str) -> String {
    match code {
        1 => format!("general SOCKS server failure connecting to {target}"),
        2 => format!("connection to {target} not allowed by the proxy's rules"),
        3 => format!("network unreachable for {target}"),
        4 => format!("host unreachable: {target}"),
        5 => format!("connection refused by {target}"),
        6 => format!("TTL expired on the way to {target}"),
        7 => "command not supported (CONNECT)".to_string(),
        8 => format!("address type not supported (for {target})"),
        other => format!("error {other} connecting to {target}"),
    }
}

fn destination_text(destination: &Destination, port: u16) -> String {
    match destination {
        Destination::Ip(ip) => SocketAddr::new(*ip, port).to_string(),
        Destination::Name(name) => format!("{name}:{port}"),
    }
}

/// Standard base64 with padding (RFC 4648), for HTTP basic authentication.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `-v` and the status row: `127.0.0.1:8080 via socks5 proxy 127.0.0.1:1080`.
pub(crate) fn route_text(config: &Config, endpoint: &Endpoint) -> Option<String> {
    let proxy = config.proxy.as_ref()?;
    let crate::config::Target::Inet {
        host: Some(host),
        port,
    } = &config.target
    else {
        return None;
    };
    let target = host_port_text(host, *port);
    let via = endpoint.peer_description().unwrap_or_default();
    Some(format!("{target} via {} proxy {via}", proxy.kind.name()))
}

/// `host:port` as shown: `127.0.0.1:1080`, `[::1]:1080`, `proxy.example:1080`.
fn host_port_text(host: &Host, port: u16) -> String {
    match host {
        Host::Literal { ip, .. } => SocketAddr::new(*ip, port).to_string(),
        Host::Name(name) => format!("{name}:{port}"),
    }
}

/// Connect to `host`:`port` through the proxy: resolve the target where `--proxy-dns`
/// says, connect to the proxy, run the handshake. Returns the tunnel, ready for TLS or
/// the session, or the signal that interrupted. An HTTP proxy that asks for the password
/// of `-P USER` (407) is asked again on a new connection once the user typed it.
pub(crate) fn connect_via(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    proxy: &ProxyOptions,
    host: &Host,
    port: u16,
) -> Result<std::result::Result<Endpoint, Outcome>> {
    let destination = match destination(lp, session, config, proxy, host, port)? {
        Ok(destination) => destination,
        Err(outcome) => return Ok(Err(outcome)),
    };
    let given = host_port_text(&proxy.host, proxy.port);
    let found = resolve_waiting(lp, session, &proxy.host, proxy.port, config.family);
    let addrs = match found.map_err(|source| Error::ProxyHost {
        proxy: given.clone(),
        source: Box::new(source),
    })? {
        Ok(addrs) => addrs,
        Err(outcome) => return Ok(Err(outcome)),
    };
    let mut auth = proxy.auth.clone();
    loop {
        let mut stream = match connect_tcp(lp, session, config, &addrs).map_err(name_the_proxy)? {
            Ok(Endpoint::Tcp(stream)) => stream,
            Ok(_) => {
                return Err(Error::Usage("a proxy is reached over TCP only".into()));
            }
            Err(outcome) => return Ok(Err(outcome)),
        };
        let hop = Hop {
            address: stream
                .peer_addr()
                .map(|a| canonical_addr(a).to_string())
                .unwrap_or_else(|_| "(unknown)".to_string()),
            given: given.clone(),
        };
        let (handshake, first) =
            Handshake::start(proxy.kind, destination.clone(), port, auth.clone())
                .map_err(|refusal| hop.refused(refusal))?;
        if config.verbose {
            print_line(&format!(
                "connecting to {} via {} proxy {}",
                handshake.target_text(),
                handshake.kind().name(),
                hop.address
            ));
        }
        let exchange = Exchange {
            handshake,
            out: first,
            sent: 0,
            reply: vec![0; MAX_REPLY_BYTES],
        };
        match run_exchange(lp, session, config, &hop, &mut stream, exchange)? {
            Ok(Tunnel::Up) => return Ok(Ok(Endpoint::Tcp(stream))),
            Ok(Tunnel::Again(password)) => {
                if let Some((_, pass)) = &mut auth {
                    *pass = Some(password);
                }
            }
            Err(outcome) => return Ok(Err(outcome)),
        }
    }
}

/// The proxy as the user knows it and as connected, for messages.
struct Hop {
    /// The address connected to (`127.0.0.1:1080`): errors name it.
    address: String,
    /// The host and port as given (`proxy.example:1080`): the password prompt names it.
    given: String,
}

impl Hop {
    /// A refusal as rnc's error, naming the proxy.
    fn refused(&self, refusal: Refusal) -> Error {
        let proxy = self.address.clone();
        match refusal {
            Refusal::Proxy(reason) => Error::Proxy {
                proxy,
                source: io::Error::other(reason),
            },
            Refusal::Via(reason) => Error::ViaProxy { proxy, reason },
            Refusal::Answered(status) => Error::ProxyAnswered { proxy, status },
        }
    }

    /// A failure of the proxy's socket or of the handshake's timing.
    fn failed(&self, source: io::Error) -> Error {
        Error::Proxy {
            proxy: self.address.clone(),
            source,
        }
    }
}

/// How a handshake that did not fail ended.
enum Tunnel {
    /// The tunnel is up.
    Up,
    /// An HTTP proxy asked for the password, and here it is: connect again.
    Again(String),
}

/// Run `exchange` on `stream` to its end through the loop, bounded by `-w`; ask for the
/// password when the proxy wants it.
fn run_exchange(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    hop: &Hop,
    stream: &mut TcpStream,
    mut exchange: Exchange,
) -> Result<std::result::Result<Tunnel, Outcome>> {
    let mut deadline = config.wait.map(|w| Instant::now() + w);
    let token = lp.watch(stream, Interest::READABLE | Interest::WRITABLE)?;
    let result = loop {
        match exchange.advance(stream) {
            Ok(Progress::Up) => break Ok(Ok(Tunnel::Up)),
            Ok(Progress::Blocked) => {}
            Ok(Progress::NeedPassword) => {
                let user = exchange
                    .handshake
                    .user_without_password()
                    .unwrap_or_default();
                let password = match ask_password(lp, session, hop, user) {
                    Ok(Ok(password)) => password,
                    other => break other.map(|r| r.map(Tunnel::Again)),
                };
                if exchange.handshake.kind() == ProxyKind::Http {
                    break Ok(Ok(Tunnel::Again(password)));
                }
                match exchange.handshake.with_password(password) {
                    Ok(request) => exchange.send(request),
                    Err(refusal) => break Err(hop.refused(refusal)),
                }
                // The user's typing does not count against `-w`.
                deadline = config.wait.map(|w| Instant::now() + w);
                continue;
            }
            Err(Failure::Io(source)) => break Err(hop.failed(source)),
            Err(Failure::Refused(refusal)) => break Err(hop.refused(refusal)),
        }
        match wait_for(lp, session, Some(token), deadline) {
            Ok(Wait::Ready) => {}
            Ok(Wait::TimedOut) => {
                let secs = config.wait.unwrap_or_default().as_secs_f64();
                let text = format!("handshake timed out after {secs} s");
                break Err(hop.failed(io::Error::other(text)));
            }
            Ok(Wait::Ended(outcome)) => break Ok(Err(outcome)),
            Err(e) => break Err(e),
        }
    };
    lp.unwatch(stream, token);
    result
}

/// Ask for `user`'s password on the controlling terminal, with the screen handed back
/// meanwhile (`tty/prompt.rs`); Ctrl-C or another ending signal returns its outcome.
fn ask_password(
    lp: &mut Loop,
    session: &mut Session,
    hop: &Hop,
    user: &str,
) -> Result<std::result::Result<String, Outcome>> {
    session.ui().hand_back();
    let question = format!("Proxy password for {user}@{}: ", hop.given);
    let result = match PasswordPrompt::open(&question) {
        Ok(mut prompt) => read_password(lp, session, hop, &mut prompt),
        Err(_) => Err(Error::ProxyPasswordUnasked {
            proxy: hop.address.clone(),
            user: user.to_string(),
        }),
    };
    session.ui().take_back();
    result
}

/// Wait for the answer to `prompt`, with the session paused (it must not read the keys).
fn read_password(
    lp: &mut Loop,
    session: &mut Session,
    hop: &Hop,
    prompt: &mut PasswordPrompt,
) -> Result<std::result::Result<String, Outcome>> {
    let fd = prompt.fd().as_raw_fd();
    let mut source = SourceFd(&fd);
    let token = lp.watch(&mut source, Interest::READABLE)?;
    let result = loop {
        match prompt.read_answer() {
            Ok(Some(answer)) => break Ok(Ok(answer)),
            Ok(None) => {}
            Err(e) => {
                let text = format!(
                    "reading the password from the terminal: {}",
                    describe_io(&e)
                );
                break Err(hop.failed(io::Error::new(e.kind(), text)));
            }
        }
        match wait_paused(lp, session, token) {
            Ok(Wait::Ended(outcome)) => break Ok(Err(outcome)),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    lp.unwatch(&mut source, token);
    result
}

/// The target as the proxy is told it, resolved by rnc when `--proxy-dns` says so (and
/// for SOCKS4, IPv4 only).
fn destination(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    proxy: &ProxyOptions,
    host: &Host,
    port: u16,
) -> Result<std::result::Result<Destination, Outcome>> {
    let name = match host {
        Host::Literal { ip, .. } => return Ok(Ok(Destination::Ip(*ip))),
        Host::Name(name) => name,
    };
    let family = match (proxy.kind, config.family) {
        (ProxyKind::Socks4, Family::Any) => Family::V4,
        (_, family) => family,
    };
    match proxy.dns {
        ProxyDns::Remote => Ok(Ok(Destination::Name(name.clone()))),
        ProxyDns::Local | ProxyDns::None => Ok(resolve_waiting(lp, session, host, port, family)?
            .map(|addrs| Destination::Ip(addrs[0].ip()))),
        ProxyDns::Both => match resolve_waiting(lp, session, host, port, family) {
            Ok(found) => Ok(found.map(|addrs| Destination::Ip(addrs[0].ip()))),
            Err(_) => Ok(Ok(Destination::Name(name.clone()))),
        },
    }
}

/// A failed connect to the proxy says it was the proxy: `connect to proxy 127.0.0.1:1080`.
fn name_the_proxy(err: Error) -> Error {
    match err {
        Error::Connect { addr, source } => Error::Connect {
            addr: format!("proxy {addr}"),
            source,
        },
        Error::ConnectTimeout { addr, secs } => Error::ConnectTimeout {
            addr: format!("proxy {addr}"),
            secs,
        },
        other => other,
    }
}

/// Why `Exchange::advance` stopped.
enum Failure {
    /// The socket failed, or the proxy closed it mid-reply.
    Io(io::Error),
    /// The proxy's reply said no, or was not a reply.
    Refused(Refusal),
}

/// The handshake on a socket: the request being written and the reply being read.
struct Exchange {
    /// The protocol.
    handshake: Handshake,
    /// The current request.
    out: Vec<u8>,
    /// How much of `out` the socket took.
    sent: usize,
    /// Room to peek at the reply (`MAX_REPLY_BYTES`).
    reply: Vec<u8>,
}

/// How far `Exchange::advance` got.
enum Progress {
    /// The socket would block, or the reply is still incomplete.
    Blocked,
    /// The tunnel is up.
    Up,
    /// The proxy asks for the password (its reply is consumed).
    NeedPassword,
}

impl Exchange {
    /// Send `request` next.
    fn send(&mut self, request: Vec<u8>) {
        self.out = request;
        self.sent = 0;
    }

    /// Write and read as far as the socket allows.
    fn advance(&mut self, stream: &mut TcpStream) -> std::result::Result<Progress, Failure> {
        loop {
            while self.sent < self.out.len() {
                match stream.write(&self.out[self.sent..]) {
                    Ok(0) => return Err(Failure::Io(io::ErrorKind::WriteZero.into())),
                    Ok(n) => self.sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(Progress::Blocked);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Failure::Io(e)),
                }
            }
            let seen = match stream.peek(&mut self.reply) {
                Ok(0) => {
                    return Err(Failure::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed the connection without replying",
                    )));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Progress::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Io(e)),
            };
            match self.handshake.on_reply(&self.reply[..seen]) {
                Err(refusal) => return Err(Failure::Refused(refusal)),
                Ok(Step::NeedMore) if seen == self.reply.len() => {
                    return Err(Failure::Refused(Refusal::Proxy(format!(
                        "reply longer than {MAX_REPLY_BYTES} bytes"
                    ))));
                }
                Ok(Step::NeedMore) if has_closed(stream) => {
                    return Err(Failure::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("truncated reply (closed after {seen} bytes)"),
                    )));
                }
                Ok(Step::NeedMore) => return Ok(Progress::Blocked),
                Ok(Step::NeedPassword { used }) => {
                    consume(stream, &mut self.reply[..used])?;
                    return Ok(Progress::NeedPassword);
                }
                Ok(Step::Next { used, send }) => {
                    consume(stream, &mut self.reply[..used])?;
                    match send {
                        None => return Ok(Progress::Up),
                        Some(next) => self.send(next),
                    }
                }
            }
        }
    }
}

/// Read exactly the bytes of a reply that `peek` has already shown, so nothing after it
/// is taken.
fn consume(stream: &mut TcpStream, buf: &mut [u8]) -> std::result::Result<(), Failure> {
    let mut done = 0;
    while done < buf.len() {
        match stream.read(&mut buf[done..]) {
            Ok(0) => return Err(Failure::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::Io(e)),
        }
    }
    Ok(())
}

/// Whether the proxy has shut its side (or reset): `peek` keeps showing the same partial
/// reply after a FIN, so the FIN is asked for directly (`POLLRDHUP`, zero timeout).
fn has_closed(stream: &TcpStream) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(stream, PollFlags::RDHUP)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match rustix::event::poll(&mut fds, Some(&zero)) {
        Ok(_) => fds[0]
            .revents()
            .intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(
        kind: ProxyKind,
        dest: Destination,
        auth: Option<(&str, &str)>,
    ) -> (Handshake, Vec<u8>) {
        let auth = auth.map(|(u, p)| (u.to_string(), Some(p.to_string())));
        Handshake::start(kind, dest, 8080, auth).expect("starts")
    }

    fn ip(text: &str) -> Destination {
        Destination::Ip(text.parse().expect("address"))
    }

    #[test]
    fn proxy_base64_matches_rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("user:pass", "dXNlcjpwYXNz"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain}");
        }
    }

    #[test]
    fn proxy_socks5_with_auth_walks_every_stage() {
        let (mut hs, first) = start(ProxyKind::Socks5, ip("127.0.0.1"), Some(("u", "pw")));
        assert_eq!(first, [5, 2, 0, 2]);
        assert_eq!(hs.on_reply(&[5]), Ok(Step::NeedMore));
        assert_eq!(
            hs.on_reply(&[5, 2, 0xaa]),
            Ok(Step::Next {
                used: 2,
                send: Some(vec![1, 1, b'u', 2, b'p', b'w'])
            })
        );
        assert_eq!(
            hs.on_reply(&[1, 0]),
            Ok(Step::Next {
                used: 2,
                send: Some(vec![5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90])
            })
        );
        let reply = [5, 0, 0, 1, 10, 0, 0, 1, 0, 80];
        for cut in 0..reply.len() {
            assert_eq!(hs.on_reply(&reply[..cut]), Ok(Step::NeedMore), "{cut}");
        }
        let mut with_data = reply.to_vec();
        with_data.extend_from_slice(b"hello");
        assert_eq!(
            hs.on_reply(&with_data),
            Ok(Step::Next {
                used: 10,
                send: None
            })
        );
    }

    #[test]
    fn proxy_socks5_names_and_refusals() {
        let (mut hs, _) = start(
            ProxyKind::Socks5,
            Destination::Name("a.example".into()),
            None,
        );
        let Ok(Step::Next {
            send: Some(request),
            ..
        }) = hs.on_reply(&[5, 0])
        else {
            panic!("no connect request");
        };
        assert_eq!(&request[..5], &[5, 1, 0, 3, 9]);
        assert_eq!(&request[5..14], b"a.example");
        let domain_reply = [5, 0, 0, 3, 3, b'a', b'b', b'c', 0, 1];
        assert_eq!(hs.on_reply(&domain_reply[..9]), Ok(Step::NeedMore));
        assert_eq!(
            hs.on_reply(&domain_reply),
            Ok(Step::Next {
                used: 10,
                send: None
            })
        );
        assert_eq!(
            hs.on_reply(&[5, 5, 0, 1]),
            Err(Refusal::Via("connection refused by a.example:8080".into()))
        );
        assert!(matches!(hs.on_reply(&[5, 0, 0, 9]), Err(Refusal::Proxy(_))));
        assert!(matches!(
            hs.on_reply(b"HTTP/1.0 400"),
            Err(Refusal::Proxy(_))
        ));

        let (mut hs, _) = start(ProxyKind::Socks5, ip("::1"), None);
        assert_eq!(
            hs.on_reply(&[5, 0xff]),
            Err(Refusal::Proxy(
                "authentication required (give `--proxy-auth USER:PASS`)".into()
            ))
        );
        let (mut hs, _) = start(ProxyKind::Socks5, ip("::1"), Some(("u", "p")));
        hs.on_reply(&[5, 2]).expect("auth chosen");
        assert!(matches!(hs.on_reply(&[1, 1]), Err(Refusal::Proxy(t)) if t.contains("failed")));
    }

    #[test]
    fn proxy_socks5_asks_for_the_password_only_when_chosen() {
        let asking = || Some(("alice".to_string(), None));
        let (mut hs, first) =
            Handshake::start(ProxyKind::Socks5, ip("127.0.0.1"), 80, asking()).expect("starts");
        assert_eq!(first, [5, 2, 0, 2], "offers none and username/password");
        assert_eq!(hs.user_without_password(), Some("alice"));
        assert_eq!(hs.on_reply(&[5, 2, 9]), Ok(Step::NeedPassword { used: 2 }));
        assert_eq!(
            hs.with_password("pw".into()),
            Ok(vec![1, 5, b'a', b'l', b'i', b'c', b'e', 2, b'p', b'w'])
        );
        assert_eq!(hs.user_without_password(), None);
        assert!(matches!(
            hs.on_reply(&[1, 0]),
            Ok(Step::Next {
                used: 2,
                send: Some(_)
            })
        ));
        let (mut hs, _) =
            Handshake::start(ProxyKind::Socks5, ip("127.0.0.1"), 80, asking()).expect("starts");
        assert!(
            matches!(
                hs.on_reply(&[5, 0]),
                Ok(Step::Next {
                    used: 2,
                    send: Some(_)
                })
            ),
            "no password wanted, none asked"
        );
        let (mut hs, _) =
            Handshake::start(ProxyKind::Socks5, ip("127.0.0.1"), 80, asking()).expect("starts");
        hs.on_reply(&[5, 2]).expect("asks");
        assert!(matches!(
            hs.with_password("x".repeat(256)),
            Err(Refusal::Proxy(t)) if t.contains("255")
        ));
    }

    #[test]
    fn proxy_http_407_asks_for_the_password_of_p_user() {
        let (mut hs, first) = Handshake::start(
            ProxyKind::Http,
            ip("127.0.0.1"),
            80,
            Some(("user".to_string(), None)),
        )
        .expect("starts");
        assert_eq!(
            String::from_utf8(first).unwrap(),
            "CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
            "no credentials before the proxy asks"
        );
        let reply = b"HTTP/1.1 407 Proxy Authentication Required\r\nX: y\r\n\r\nbody";
        assert_eq!(hs.on_reply(reply), Ok(Step::NeedPassword { used: 52 }));
        let again = hs.with_password("pass".into()).expect("a request");
        assert!(
            String::from_utf8(again)
                .unwrap()
                .contains("Proxy-Authorization: Basic dXNlcjpwYXNz\r\n")
        );
        assert_eq!(
            hs.on_reply(reply),
            Err(Refusal::Answered(
                "407 Proxy Authentication Required".into()
            )),
            "a second 407 is the answer"
        );
    }

    #[test]
    fn proxy_socks4_and_4a_requests_and_replies() {
        let (mut hs, first) = start(ProxyKind::Socks4, ip("10.1.2.3"), Some(("me", "")));
        assert_eq!(first, [4, 1, 0x1f, 0x90, 10, 1, 2, 3, b'm', b'e', 0]);
        assert_eq!(hs.on_reply(&[0, 90, 0, 0]), Ok(Step::NeedMore));
        assert_eq!(
            hs.on_reply(&[0, 90, 0, 0, 0, 0, 0, 0, b'x']),
            Ok(Step::Next {
                used: 8,
                send: None
            })
        );
        assert!(matches!(hs.on_reply(&[0, 91]), Err(Refusal::Via(_))));
        assert!(matches!(hs.on_reply(&[0, 7]), Err(Refusal::Proxy(_))));
        assert!(matches!(hs.on_reply(b"<html>"), Err(Refusal::Proxy(_))));
        let (_, first) = start(ProxyKind::Socks4, Destination::Name("h".into()), None);
        assert_eq!(first, [4, 1, 0x1f, 0x90, 0, 0, 0, 1, 0, b'h', 0]);
        assert!(Handshake::start(ProxyKind::Socks4, ip("::1"), 1, None).is_err());
    }

    #[test]
    fn proxy_http_connect_request_and_replies() {
        let (mut hs, first) = start(ProxyKind::Http, ip("::1"), Some(("user", "pass")));
        assert_eq!(
            String::from_utf8(first).unwrap(),
            "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\
             Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n"
        );
        assert_eq!(hs.on_reply(b"HTT"), Ok(Step::NeedMore));
        assert_eq!(
            hs.on_reply(b"HTTP/1.1 200 OK\r\nX: y\r\n"),
            Ok(Step::NeedMore)
        );
        assert_eq!(
            hs.on_reply(b"HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0"),
            Ok(Step::Next {
                used: 39,
                send: None
            })
        );
        assert_eq!(
            hs.on_reply(b"HTTP/1.0 200 OK\n\nrest"),
            Ok(Step::Next {
                used: 17,
                send: None
            })
        );
        assert_eq!(
            hs.on_reply(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"),
            Err(Refusal::Answered(
                "407 Proxy Authentication Required".into()
            ))
        );
        assert_eq!(
            hs.on_reply(b"HTTP/1.1 502 \x1b[2J\r\n\r\n"),
            Err(Refusal::Answered("502 \\x1b[2J".into()))
        );
        assert!(matches!(hs.on_reply(b"\x05\x00"), Err(Refusal::Proxy(_))));
        assert!(matches!(
            hs.on_reply(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Err(Refusal::Proxy(_))
        ));
        assert!(matches!(hs.on_reply(b"\n\n"), Err(Refusal::Proxy(_))));
    }

    #[test]
    fn proxy_replies_never_panic_on_any_prefix_of_noise() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for kind in [ProxyKind::Socks4, ProxyKind::Socks5, ProxyKind::Http] {
            for _ in 0..2000 {
                let (mut hs, _) = start(kind, Destination::Name("n".into()), Some(("u", "")));
                let mut noise = Vec::new();
                for _ in 0..(seed % 40) {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    noise.push((seed >> 24) as u8);
                }
                for cut in 0..=noise.len() {
                    if let Ok(Step::Next { used, .. }) = hs.on_reply(&noise[..cut]) {
                        assert!(used <= cut, "{kind:?} used {used} of {cut}");
                    }
                }
            }
        }
    }
}
