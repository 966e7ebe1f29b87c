//! Connecting through a proxy (`-x`/`--proxy`): SOCKS4 and 4a, SOCKS5 (RFC 1928) with
//! username/password (RFC 1929), and HTTP `CONNECT` with basic authentication. This is a
//! step of the connect phase: the target's name is resolved where `--proxy-dns` says,
//! the proxy is connected like any host (`connect.rs`), and then the handshake runs as a
//! non-blocking exchange that waits through the loop (`wait_for`), bounded by `-w`.
//! TLS (`net/tls.rs`) starts only after it, so it runs inside the tunnel.
//!
//! This file is the driver: it owns the socket, the loop and the password question of
//! `-P USER` (`tty/prompt.rs`). The protocol half is pure and lives beside it:
//! `handshake.rs` (the state machine), `socks.rs` and `http.rs` (each protocol's bytes),
//! compiled in the library target (`src/lib.rs`) so the fuzz targets share them.
//! The driver peeks at the socket (`MSG_PEEK`) and consumes exactly the bytes of each
//! reply, never more, so what the proxy sends after its reply (the start of the tunnelled
//! stream, or the TLS server's first bytes) stays in the socket for the session. A reply
//! may take at most `MAX_REPLY_BYTES`. This file never touches the relay.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
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
// The handshake and the reply parsers are in the library target, shared with the fuzz targets.
use rnc::net::proxy::handshake::{Destination, Handshake, Refusal, Step};

/// The longest reply accepted from a proxy: an HTTP reply header longer than this is an
/// error (a SOCKS reply takes at most 262 bytes).
const MAX_REPLY_BYTES: usize = 16 * 1024;

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
