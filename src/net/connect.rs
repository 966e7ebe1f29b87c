//! Connecting: resolve a name without blocking the loop, try each address with a
//! non-blocking connect and `-w` as its timeout, and the `-z -u` probe (the scan of many
//! ports is `scan.rs`). Each waits through the loop (`wait_for`), so signals, Ctrl-C and the status row
//! stay live meanwhile.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use mio::{Interest, Token, Waker};

use crate::config::{Config, Family, Host, Target};
use crate::error::{Error, Result};
use crate::event_loop::{Loop, Outcome, RESOLVER, Wait, wait_for};
use crate::net;
use crate::net::endpoint::Endpoint;
use crate::notices::print_line;
use crate::relay::session::Session;
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
    for &addr in addrs {
        match probe_udp(lp, session, config, addr) {
            Err(e) => {
                note_failure(config, addrs.len(), &e);
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
    for addr in addrs {
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
                note_failure(config, addrs.len(), &e);
                last_error = Some(e);
                continue;
            }
        };
        let token = watch_connecting(lp, session, &mut stream, Interest::WRITABLE, *addr)?;
        let deadline = config.wait.map(|w| Instant::now() + w);
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
            match stream.take_error() {
                Ok(Some(e)) | Err(e) => break Err(failed(e)),
                Ok(None) => {}
            }
            match stream.peer_addr() {
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
            Ok(()) => return Ok(Ok(Endpoint::Tcp(stream))),
            Err(e) => {
                note_failure(config, addrs.len(), &e);
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| Error::Usage("no address to connect to".into())))
}

/// With several addresses to try, `-v` shows each failure as it happens.
fn note_failure(config: &Config, candidates: usize, err: &Error) {
    if config.verbose && candidates > 1 {
        print_line(&err.one_line());
    }
}

fn format_secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}
