//! `Endpoint`: the one connected (or, for datagram listeners, bound) socket of a session,
//! over TCP, UDP, Unix stream or Unix datagram, with one interface for reading, writing,
//! half-closing and registering.
//!
//! It moves bytes and reports addresses; it decides nothing about when to do either
//! (that is `session.rs`).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use mio::net::{TcpStream, UdpSocket, UnixDatagram, UnixStream};

use crate::net::SocketFile;

/// A datagram peer's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PeerAddr {
    /// An IP peer.
    Inet(SocketAddr),
    /// A Unix datagram peer: its path, or `None` when it did not bind one (cannot be
    /// replied to).
    Unix(Option<PathBuf>),
}

/// `addr` as users read it: an IPv4-mapped IPv6 address, which a dual-stack socket
/// reports for an IPv4 peer (`[::ffff:127.0.0.1]:5000`), becomes the IPv4 address it
/// carries (`127.0.0.1:5000`), as ncat shows it. Only for showing: a reply still goes to
/// the address the socket reported.
pub(crate) fn canonical_addr(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Inet(addr) => write!(f, "{}", canonical_addr(*addr)),
            PeerAddr::Unix(Some(path)) => write!(f, "{}", path.display()),
            PeerAddr::Unix(None) => f.write_str("(unnamed unix socket)"),
        }
    }
}

/// The session's socket.
pub(crate) enum Endpoint {
    /// A connected TCP stream.
    Tcp(TcpStream),
    /// A connected Unix stream.
    Unix(UnixStream),
    /// A UDP socket: connected (client) or bound (listener).
    Udp(UdpSocket),
    /// A Unix datagram socket: connected (client) or bound (listener); the client's own
    /// temporary address file rides along so it is removed with the socket.
    UnixDatagram(
        UnixDatagram,
        #[allow(dead_code, reason = "held only so that its Drop removes the file")]
        Option<SocketFile>,
    ),
}

impl Endpoint {
    /// True for a TCP stream.
    pub(crate) fn is_tcp(&self) -> bool {
        matches!(self, Endpoint::Tcp(_))
    }

    /// True for UDP and Unix datagram sockets.
    pub(crate) fn is_datagram(&self) -> bool {
        matches!(self, Endpoint::Udp(_) | Endpoint::UnixDatagram(..))
    }

    /// The mio source, for registration.
    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Endpoint::Tcp(s) => s,
            Endpoint::Unix(s) => s,
            Endpoint::Udp(s) => s,
            Endpoint::UnixDatagram(s, _) => s,
        }
    }

    /// The socket's fd, for the zero-copy path.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Endpoint::Tcp(s) => s.as_fd(),
            Endpoint::Unix(s) => s.as_fd(),
            Endpoint::Udp(s) => s.as_fd(),
            Endpoint::UnixDatagram(s, _) => s.as_fd(),
        }
    }

    /// Read from a stream, or receive one datagram on a connected socket.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Endpoint::Tcp(s) => s.read(buf),
            Endpoint::Unix(s) => s.read(buf),
            Endpoint::Udp(s) => s.recv(buf),
            Endpoint::UnixDatagram(s, _) => s.recv(buf),
        }
    }

    /// Receive one datagram and its sender (datagram sockets only; streams read).
    pub(crate) fn recv_from(&mut self, buf: &mut [u8]) -> io::Result<(usize, Option<PeerAddr>)> {
        match self {
            Endpoint::Udp(s) => s
                .recv_from(buf)
                .map(|(n, from)| (n, Some(PeerAddr::Inet(from)))),
            Endpoint::UnixDatagram(s, _) => s.recv_from(buf).map(|(n, from)| {
                (
                    n,
                    Some(PeerAddr::Unix(from.as_pathname().map(PathBuf::from))),
                )
            }),
            _ => self.read(buf).map(|n| (n, None)),
        }
    }

    /// Write to a stream, or send one datagram: to `to` when given, else on the
    /// connected socket.
    pub(crate) fn write(&mut self, buf: &[u8], to: Option<&PeerAddr>) -> io::Result<usize> {
        match (self, to) {
            (Endpoint::Tcp(s), _) => s.write(buf),
            (Endpoint::Unix(s), _) => s.write(buf),
            (Endpoint::Udp(s), Some(PeerAddr::Inet(addr))) => s.send_to(buf, *addr),
            (Endpoint::Udp(s), _) => s.send(buf),
            (Endpoint::UnixDatagram(s, _), Some(PeerAddr::Unix(Some(path)))) => {
                s.send_to(buf, path)
            }
            (Endpoint::UnixDatagram(s, _), _) => s.send(buf),
        }
    }

    /// Half-close: tell the peer we will send nothing more (streams only).
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Endpoint::Tcp(s) => s.shutdown(Shutdown::Write),
            Endpoint::Unix(s) => s.shutdown(Shutdown::Write),
            Endpoint::Udp(_) | Endpoint::UnixDatagram(..) => Ok(()),
        }
    }

    /// Our own address, for messages.
    pub(crate) fn local_description(&self) -> String {
        match self {
            Endpoint::Tcp(s) => describe(s.local_addr()),
            Endpoint::Udp(s) => describe(s.local_addr()),
            Endpoint::Unix(s) => describe_unix(s.local_addr()),
            Endpoint::UnixDatagram(s, _) => describe_unix(s.local_addr()),
        }
    }

    /// The IP addresses of both ends (TCP and UDP): `(local, peer)`, the peer `None` for
    /// an unconnected datagram listener.
    pub(crate) fn inet_addrs(&self) -> Option<(SocketAddr, Option<SocketAddr>)> {
        let (local, peer) = match self {
            Endpoint::Tcp(s) => (s.local_addr(), s.peer_addr()),
            Endpoint::Udp(s) => (s.local_addr(), s.peer_addr()),
            _ => return None,
        };
        Some((canonical_addr(local.ok()?), peer.ok().map(canonical_addr)))
    }

    /// The connected peer's port (TCP and UDP).
    pub(crate) fn peer_port(&self) -> Option<u16> {
        match self {
            Endpoint::Tcp(s) => s.peer_addr().ok().map(|a| a.port()),
            Endpoint::Udp(s) => s.peer_addr().ok().map(|a| a.port()),
            _ => None,
        }
    }

    /// The connected peer's address, for messages (`None` for an unconnected datagram
    /// listener).
    pub(crate) fn peer_description(&self) -> Option<String> {
        match self {
            Endpoint::Tcp(s) => s.peer_addr().ok().map(|a| canonical_addr(a).to_string()),
            Endpoint::Udp(s) => s.peer_addr().ok().map(|a| canonical_addr(a).to_string()),
            Endpoint::Unix(s) => s.peer_addr().ok().map(|a| describe_unix(Ok(a))),
            Endpoint::UnixDatagram(s, _) => s.peer_addr().ok().map(|a| describe_unix(Ok(a))),
        }
    }
}

fn describe(addr: io::Result<SocketAddr>) -> String {
    addr.map(|a| canonical_addr(a).to_string())
        .unwrap_or_else(|_| "(unknown)".to_string())
}

fn describe_unix(addr: io::Result<std::os::unix::net::SocketAddr>) -> String {
    match addr {
        Ok(a) => match a.as_pathname() {
            Some(p) => p.display().to_string(),
            None => "(unnamed)".to_string(),
        },
        Err(_) => "(unknown)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_unix_pair_reads_writes_and_half_closes() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut a = Endpoint::Unix(a);
        let mut b = Endpoint::Unix(b);
        assert_eq!(a.write(b"ping", None).unwrap(), 4);
        a.shutdown_write().unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(b.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
        assert_eq!(b.read(&mut buf).unwrap(), 0, "EOF after the half-close");
        assert!(!a.is_datagram());
    }

    #[test]
    fn endpoint_ipv4_mapped_addresses_are_shown_as_ipv4() {
        let shown = |text: &str| canonical_addr(text.parse().unwrap()).to_string();
        assert_eq!(shown("[::ffff:127.0.0.1]:5000"), "127.0.0.1:5000");
        assert_eq!(shown("[::1]:5000"), "[::1]:5000");
        assert_eq!(
            shown("[::127.0.0.1]:5000"),
            "[::7f00:1]:5000",
            "compatible, not mapped"
        );
        assert_eq!(shown("10.0.0.1:53"), "10.0.0.1:53");
        let peer = PeerAddr::Inet("[::ffff:10.1.2.3]:40000".parse().unwrap());
        assert_eq!(peer.to_string(), "10.1.2.3:40000");
    }

    #[test]
    fn endpoint_dual_stack_accepted_ipv4_client_is_described_as_ipv4() {
        let Ok(listener) = std::net::TcpListener::bind("[::]:0") else {
            crate::test_support::skip_or_fail("[::] does not bind here");
            return;
        };
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (accepted, from) = listener.accept().unwrap();
        assert!(from.is_ipv6(), "a dual-stack socket reports {from}");
        let endpoint = Endpoint::Tcp(TcpStream::from_std(accepted));
        assert_eq!(
            endpoint.peer_description().unwrap(),
            client.local_addr().unwrap().to_string()
        );
        assert_eq!(endpoint.local_description(), format!("127.0.0.1:{port}"));
    }
}
