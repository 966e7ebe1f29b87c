//! Connecting: resolve a name without blocking the loop, try each address with a
//! non-blocking connect and `-w` as its timeout, and the `-z -u` probe (the scan of many
//! ports is `scan.rs`). Each waits through the loop (`wait_for`), so signals, Ctrl-C and the status row
//! stay live meanwhile.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token, Waker};

use crate::config::{Config, Family, Host, Target};
use crate::error::{Error, Result};
use crate::event_loop::{Loop, Outcome, RESOLVER, Wait, wait_for};
use crate::net;
use crate::net::endpoint::Endpoint;
use crate::notices::print_line;
use crate::relay::session::Session;
use crate::trace::{self, addr_text, errno_name, traced};
use crate::tty::status::ConnState;

/// How long `-z -u` waits for a refusal when `-w` does not say.
const UDP_PROBE_WAIT: Duration = Duration::from_secs(1);

/// Watch a socket that is connecting (or probing) `addr`, and say so in the status row.
/// Returns its token, for `wait_for` and `Loop::unwatch`.
fn watch_connecting(
    lp: &mut Loop,
    session: &mut Session,
    socket: &mut impl mio::event::Source,
    interest: Interest,
    addr: SocketAddr,
) -> Result<Token> {
    let token = lp.watch(socket, interest)?;
    session.ui().set_state(ConnState::Connecting);
    session.ui().set_addresses(None, Some(&addr.to_string()));
    Ok(token)
}

/// `-z -u` over every address a name gave, in order, until one is not refused (as a TCP
/// connect tries each address); the error is the last refusal.
pub(crate) fn probe_udp_addrs(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    addrs: &[SocketAddr],
) -> Result<std::result::Result<(), Outcome>> {
    let mut last_error = None;
    for (i, &addr) in addrs.iter().enumerate() {
        match probe_udp(lp, session, config, addr) {
            Err(e) => {
                note_failure(config, i + 1 == addrs.len(), &e, true);
                last_error = Some(e);
            }
            found => return found,
        }
    }
    Err(last_error.unwrap_or_else(|| Error::Usage("no address to probe".into())))
}

/// `-z -u`: send one empty datagram to `addr` and wait up to `-w` (1 s without it) for
/// the answer. A refusal (the ICMP port unreachable that a closed port sends back, seen
/// as `ECONNREFUSED`) is an error; a reply or silence counts as open, as with nc: UDP
/// cannot tell an open port that stays quiet from a filtered one.
fn probe_udp(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    addr: SocketAddr,
) -> Result<std::result::Result<(), Outcome>> {
    let refused = |source: io::Error| Error::Connect {
        addr: addr.to_string(),
        source,
    };
    let source = source_addr(config, &addr)?;
    let mut socket = net::udp_connect(addr, source, &config.socket_options)?;
    let token = watch_connecting(lp, session, &mut socket, Interest::READABLE, addr)?;
    let deadline = Instant::now() + config.wait.unwrap_or(UDP_PROBE_WAIT);
    let result = match socket.send(&[]) {
        Err(e) => Err(refused(e)),
        Ok(_) => loop {
            let mut reply = [0u8; 1];
            match socket.recv(&mut reply) {
                Ok(_) => break Ok(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(refused(e)),
            }
            match wait_for(lp, session, Some(token), Some(deadline))? {
                Wait::Ended(outcome) => break Ok(Err(outcome)),
                Wait::TimedOut => break Ok(Ok(())),
                Wait::Ready => {}
            }
        },
    };
    lp.unwatch(&mut socket, token);
    result
}

/// nc's wording for an open UDP port, which only the absence of a refusal shows.
pub(crate) fn udp_probe_success(host: &Host, port: u16) -> String {
    format!("connection to {} {port} (udp) succeeded", host_text(host))
}

/// nc's wording for an open port: `connection to HOST PORT succeeded`.
pub(crate) fn zero_io_success(config: &Config, endpoint: &Endpoint) -> String {
    let (host, port) = match &config.target {
        // Through a proxy, the socket's peer is the proxy.
        Target::Inet {
            host: Some(host),
            port,
        } if config.proxy.is_some() => (host_text(host), Some(*port)),
        Target::Inet {
            host: Some(host), ..
        } => (host_text(host), endpoint.peer_port()),
        _ => (endpoint.peer_description().unwrap_or_default(), None),
    };
    match port {
        Some(port) => format!("connection to {host} {port} succeeded"),
        None => format!("connection to {host} succeeded"),
    }
}

/// A host as the user wrote it, for messages.
pub(crate) fn host_text(host: &Host) -> String {
    match host {
        Host::Literal { ip, .. } => ip.to_string(),
        Host::Name(name) => name.clone(),
    }
}

/// Resolve `host` without blocking the loop: `getaddrinfo` blocks, for seconds when a
/// DNS server does not answer, so a name is looked up on a helper thread that wakes the
/// loop when done. Meanwhile signals end rnc at once and the screen stays live (Ctrl-C
/// in interactive mode). A literal address needs no thread.
pub(crate) fn resolve_waiting(
    lp: &mut Loop,
    session: &mut Session,
    host: &Host,
    port: u16,
    family: Family,
) -> Result<std::result::Result<Vec<SocketAddr>, Outcome>> {
    if let Host::Literal { .. } = host {
        return net::resolve(host, port, family).map(Ok);
    }
    let waker =
        std::sync::Arc::new(
            Waker::new(lp.registry(), RESOLVER).map_err(|source| Error::Poll {
                what: "create waker",
                source,
            })?,
        );
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.clone();
    let wake = std::sync::Arc::clone(&waker);
    std::thread::Builder::new()
        .name("resolver".into())
        .spawn(move || {
            // If rnc has already ended, nobody receives this; that is fine.
            let _ = tx.send(net::resolve(&name, port, family));
            let _ = wake.wake();
        })
        .map_err(|source| Error::Poll {
            what: "start the resolver thread",
            source,
        })?;
    loop {
        if let Ok(result) = rx.try_recv() {
            if let (Ok(addrs), true) = (&result, trace::shows_lifecycle()) {
                let shown: Vec<String> = addrs.iter().map(addr_text).collect();
                print_line(&format!(
                    "{} resolved to {}",
                    host_text(host),
                    shown.join(", ")
                ));
            }
            return result.map(Ok);
        }
        if let Wait::Ended(outcome) = wait_for(lp, session, Some(RESOLVER), None)? {
            return Ok(Err(outcome));
        }
    }
}

/// The client's source address for a connection to `to` (`-s` and `-p`).
pub(crate) fn source_addr(config: &Config, to: &SocketAddr) -> Result<Option<SocketAddr>> {
    let port = config.source_port.unwrap_or(0);
    let ip = match &config.source_host {
        None if config.source_port.is_none() => return Ok(None),
        None if to.is_ipv4() => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        Some(host) => {
            let family = if to.is_ipv4() { Family::V4 } else { Family::V6 };
            net::resolve(host, port, family)?[0].ip()
        }
    };
    Ok(Some(SocketAddr::new(ip, port)))
}

/// Try each address in turn with a non-blocking connect and `-w` as the timeout.
/// Returns the connected endpoint, or the signal that interrupted; the error names the
/// last failure.
pub(crate) fn connect_tcp(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    addrs: &[SocketAddr],
) -> Result<std::result::Result<Endpoint, Outcome>> {
    let mut last_error = None;
    for (i, addr) in addrs.iter().enumerate() {
        let is_last = i + 1 == addrs.len();
        let failed = |source: io::Error| Error::Connect {
            addr: addr.to_string(),
            source,
        };
        let source = match source_addr(config, addr) {
            Ok(s) => s,
            Err(e) => {
                last_error = Some(e);
                continue;
            }
        };
        let mut stream = match net::tcp_connect_start(*addr, source, &config.socket_options) {
            Ok(stream) => stream,
            Err(e) => {
                note_failure(config, is_last, &e, false);
                last_error = Some(e);
                continue;
            }
        };
        if config.verbose {
            print_line(&format!("connecting to {} (SYN sent)", addr_text(addr)));
        }
        let started = Instant::now();
        let token = watch_connecting(lp, session, &mut stream, Interest::WRITABLE, *addr)?;
        let deadline = config.wait.map(|w| started + w);
        let result = loop {
            match wait_for(lp, session, Some(token), deadline)? {
                Wait::Ended(outcome) => {
                    lp.unwatch(&mut stream, token);
                    return Ok(Err(outcome));
                }
                Wait::TimedOut => {
                    break Err(Error::ConnectTimeout {
                        addr: addr.to_string(),
                        secs: format_secs(config.wait.unwrap_or_default()),
                    });
                }
                Wait::Ready => {}
            }
            match socket_error(&stream) {
                Ok(Some(e)) | Err(e) => break Err(failed(e)),
                Ok(None) => {}
            }
            match peer_of(&stream) {
                // A connect to a local port that nobody listens on can meet itself, when
                // the source port (chosen by the kernel, or `-p`) is that port: TCP's
                // simultaneous open. Nothing is there, which is what a refusal says.
                Ok(peer) if stream.local_addr().is_ok_and(|local| local == peer) => {
                    break Err(failed(io::ErrorKind::ConnectionRefused.into()));
                }
                Ok(_) => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(e) => break Err(failed(e)),
            }
        };
        lp.unwatch(&mut stream, token);
        match result {
            Ok(()) => {
                if config.verbose {
                    print_line(&format!(
                        "connected in {:.3} ms (SYN answered by SYN-ACK, ACK sent)",
                        started.elapsed().as_secs_f64() * 1000.0
                    ));
                }
                trace::snapshot("connected", stream.as_fd());
                return Ok(Ok(Endpoint::Tcp(stream)));
            }
            Err(e) => {
                note_failure(config, is_last, &e, false);
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| Error::Usage("no address to connect to".into())))
}

/// getsockopt(`SO_ERROR`): how a non-blocking connect ended (`-vv` shows it).
pub(crate) fn socket_error(stream: &TcpStream) -> io::Result<Option<io::Error>> {
    let result = stream.take_error();
    trace::call(|| {
        let shown = match &result {
            Ok(None) => "0".to_string(),
            Ok(Some(e)) | Err(e) => errno_name(e),
        };
        format!("getsockopt(SO_ERROR) = {shown}")
    });
    result
}

/// getpeername(2): whether a connect has finished (`ENOTCONN` while it has not).
pub(crate) fn peer_of(stream: &TcpStream) -> io::Result<SocketAddr> {
    traced(stream.peer_addr(), || "getpeername()".into(), addr_text)
}

/// `-v` says what a failed connect (or `-z -u` probe, `udp`) was on the wire. The error
/// of the last address is left to `main`'s error line, so nothing is printed twice; an
/// error with nothing more to say than that line is printed only for an earlier address.
fn note_failure(config: &Config, is_last: bool, err: &Error, udp: bool) {
    if !config.verbose {
        return;
    }
    match explain_failure(err, udp) {
        Some(line) => print_line(&line),
        None if !is_last => print_line(&err.one_line()),
        None => {}
    }
}

/// What a connect's failure means on the wire, in the words of socket tutorials.
pub(crate) fn explain_failure(err: &Error, udp: bool) -> Option<String> {
    match err {
        Error::ConnectTimeout { secs, .. } => Some(format!(
            "no answer to the SYN within {secs} (filtered, or the host is down)"
        )),
        Error::Connect { addr, source } => {
            let port = addr.rsplit_once(':').map_or("", |(_, port)| port);
            match source.raw_os_error() {
                _ if udp && source.kind() == io::ErrorKind::ConnectionRefused => Some(format!(
                    "connection refused: the datagram was answered by an ICMP port \
                     unreachable: nothing receives on port {port}"
                )),
                Some(libc::ECONNREFUSED) => Some(format!(
                    "connection refused: the SYN was answered by a RST (or a firewall's \
                     ICMP reject): nothing accepts on port {port}"
                )),
                Some(libc::ETIMEDOUT) => Some(
                    "no answer to the SYN after the kernel's retries (filtered, or the host \
                     is down)"
                        .to_string(),
                ),
                Some(libc::EHOSTUNREACH) => Some(format!(
                    "no route to host: nobody answered for {addr}'s address on the local \
                     network, or a router sent back ICMP host unreachable"
                )),
                Some(libc::ENETUNREACH) => Some(format!(
                    "network unreachable: this machine has no route to {addr}"
                )),
                _ if source.kind() == io::ErrorKind::ConnectionRefused => Some(format!(
                    "connection refused: nothing accepts on port {port}"
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

fn format_secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}
