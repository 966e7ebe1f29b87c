//! Building sockets: name resolution, socket options, bind, listen, non-blocking connect
//! start, and Unix socket files (stale replacement and removal).
//!
//! With `unix.rs` (Unix sockets and their files), the only place that imports socket2. Everything it returns is a non-blocking mio
//! type ready for registration; it never waits for readiness (the loop does).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, ToSocketAddrs};
use std::os::fd::AsRawFd;

use mio::net::{TcpListener, TcpStream, UdpSocket};
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{Family, Host, SocketOptions};
use crate::error::{Error, Result};
use crate::trace::{addr_text, family_name, traced, zero};

pub(crate) mod access;
pub(crate) mod connect;
pub(crate) mod endpoint;
pub(crate) mod listen;
pub(crate) mod listener;
pub(crate) mod proxy;
pub(crate) mod retry;
pub(crate) mod scan;
pub(crate) mod tls;
pub(crate) mod unix;
mod unix_diag;

pub(crate) use unix::{
    SocketFile, unix_connect, unix_datagram_connect, unix_datagram_listener, unix_listener,
};

/// Pending connections a listener keeps: enough for a burst of thousands of clients at a
/// `-k` listener (a full backlog drops SYNs, and a client whose handshake the kernel
/// finished but rnc could not accept waits seconds for a retransmit). The kernel caps it
/// at `net.core.somaxconn` (4096 by default since Linux 5.4). `-v`'s `listening on`
/// line shows it.
pub(crate) const LISTEN_BACKLOG: i32 = 4096;
/// Receive buffer asked for UDP sockets: a burst of 64 KiB datagrams overflows the
/// default (~208 KiB, three datagrams) long before rnc gets to read them. The kernel caps
/// it at `net.core.rmem_max`.
const UDP_RECV_BUFFER_BYTES: usize = 4 << 20;

/// Resolve `host` to the socket addresses to try, in the resolver's order.
pub(crate) fn resolve(host: &Host, port: u16, family: Family) -> Result<Vec<SocketAddr>> {
    match host {
        Host::Literal { ip, scope_id } => Ok(vec![socket_addr(*ip, port, *scope_id)]),
        Host::Name(name) => {
            let found =
                (name.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|source| Error::Resolve {
                        host: name.clone(),
                        source,
                    })?;
            let mut addrs: Vec<SocketAddr> = found.filter(|a| family.allows(&a.ip())).collect();
            addrs.dedup();
            if addrs.is_empty() {
                return Err(Error::NoAddress {
                    host: name.clone(),
                    family: match family {
                        Family::V4 => "IPv4",
                        Family::V6 => "IPv6",
                        Family::Any => "usable",
                    },
                });
            }
            Ok(addrs)
        }
    }
}

fn socket_addr(ip: IpAddr, port: u16, scope_id: u32) -> SocketAddr {
    match ip {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V4(v4), port),
        IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope_id)),
    }
}

/// Where a listener binds: the given host, or every address (dual-stack `[::]` first,
/// then `0.0.0.0`). The flag says whether the socket should be IPv6-only.
pub(crate) fn listen_addrs(
    host: Option<&Host>,
    port: u16,
    family: Family,
) -> Result<Vec<(SocketAddr, bool)>> {
    let unspecified_v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
    let unspecified_v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
    Ok(match (host, family) {
        (Some(host), _) => resolve(host, port, family)?
            .into_iter()
            .map(|a| (a, true))
            .collect(),
        (None, Family::Any) => vec![(unspecified_v6, false), (unspecified_v4, false)],
        (None, Family::V4) => vec![(unspecified_v4, false)],
        (None, Family::V6) => vec![(unspecified_v6, true)],
    })
}

fn domain_of(addr: &SocketAddr) -> Domain {
    if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    }
}

fn socket_error(what: String) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Socket { what, source }
}

/// Whether a bind failure on the dual-stack address means "no IPv6 here, try IPv4".
fn is_family_unavailable(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(code) if code == rustix::io::Errno::AFNOSUPPORT.raw_os_error()
            || code == rustix::io::Errno::ADDRNOTAVAIL.raw_os_error()
    )
}

/// The step of building a socket that failed, for the message: sockets vocabulary says
/// `bind to ADDR` for bind(2) and `listen on ADDR` for listen(2).
enum Step {
    /// socket(2) or a socket option rnc always sets.
    Create,
    /// A socket option the user asked for (`-I`, `-O`, `-T`, `--keepalive`): which.
    Options(&'static str),
    /// bind(2).
    Bind,
    /// listen(2).
    Listen,
}

/// Create, configure and bind an inet socket, and make it listen when asked; used by
/// listeners of both kinds.
fn bind_inet(
    addr: SocketAddr,
    v6only: bool,
    ty: Type,
    listen: bool,
    options: &SocketOptions,
) -> std::result::Result<Socket, (Step, io::Error)> {
    let create = |e| (Step::Create, e);
    let socket = new_socket(&addr, ty, false).map_err(create)?;
    traced(
        socket.set_reuse_address(true),
        || "setsockopt(SO_REUSEADDR, 1)".into(),
        zero,
    )
    .map_err(create)?;
    if addr.is_ipv6() {
        traced(
            socket.set_only_v6(v6only),
            || format!("setsockopt(IPV6_V6ONLY, {})", u8::from(v6only)),
            zero,
        )
        .map_err(create)?;
    }
    if ty == Type::DGRAM {
        // Best effort: a smaller buffer only means more loss under bursts.
        let _ = set_udp_recv_buffer(&socket);
    }
    // Accepted sockets inherit these (buffers, TOS, keepalive and its timing).
    apply_options(&socket, &addr, options).map_err(|(flag, e)| (Step::Options(flag), e))?;
    socket.set_nonblocking(true).map_err(create)?;
    traced(
        socket.bind(&addr.into()),
        || format!("bind({})", addr_text(&addr)),
        zero,
    )
    .map_err(|e| (Step::Bind, e))?;
    if listen {
        traced(
            socket.listen(LISTEN_BACKLOG),
            || format!("listen({LISTEN_BACKLOG})"),
            zero,
        )
        .map_err(|e| (Step::Listen, e))?;
    }
    Ok(socket)
}

/// socket(2) for `addr`'s family (`-vv` shows it with the descriptor it returned).
fn new_socket(addr: &SocketAddr, ty: Type, nonblocking: bool) -> io::Result<Socket> {
    let (proto, name) = if ty == Type::STREAM {
        (Protocol::TCP, "SOCK_STREAM")
    } else {
        (Protocol::UDP, "SOCK_DGRAM")
    };
    let (ty, flags) = if nonblocking {
        (ty.nonblocking().cloexec(), "|SOCK_NONBLOCK")
    } else {
        (ty.cloexec(), "")
    };
    traced(
        Socket::new(domain_of(addr), ty, Some(proto)),
        || format!("socket({}, {name}{flags})", family_name(addr)),
        |socket| socket.as_raw_fd().to_string(),
    )
}

/// Ask for a UDP receive buffer of `UDP_RECV_BUFFER_BYTES`.
fn set_udp_recv_buffer(socket: &Socket) -> io::Result<()> {
    traced(
        socket.set_recv_buffer_size(UDP_RECV_BUFFER_BYTES),
        || format!("setsockopt(SO_RCVBUF, {UDP_RECV_BUFFER_BYTES})"),
        zero,
    )
}

/// bind(2) of a client's source address (`-s`, `-p`), after `SO_REUSEADDR`.
fn bind_source(socket: &Socket, source: SocketAddr) -> Result<()> {
    traced(
        socket.set_reuse_address(true),
        || "setsockopt(SO_REUSEADDR, 1)".into(),
        zero,
    )
    .map_err(|e| bind_failed(source, e))?;
    traced(
        socket.bind(&source.into()),
        || format!("bind({})", addr_text(&source)),
        zero,
    )
    .map_err(|e| bind_failed(source, e))
}

/// Where the kernel puts the first port anyone may bind; ports below it need root or
/// `CAP_NET_BIND_SERVICE` (ip(7); it covers IPv6 too).
const UNPRIVILEGED_PORT_START: &str = "/proc/sys/net/ipv4/ip_unprivileged_port_start";

/// The error for a failed bind(2) of `addr`: with a hint when the port is a privileged
/// one and the kernel said `EACCES`.
fn bind_failed(addr: SocketAddr, source: io::Error) -> Error {
    let first_unprivileged = std::fs::read_to_string(UNPRIVILEGED_PORT_START)
        .ok()
        .and_then(|text| text.trim().parse::<u16>().ok())
        .unwrap_or(1024);
    let is_privileged = addr.port() != 0 && addr.port() < first_unprivileged;
    if source.kind() == io::ErrorKind::PermissionDenied && is_privileged {
        Error::BindPrivileged {
            addr: addr.to_string(),
            first_unprivileged,
            source,
        }
    } else {
        Error::Bind {
            addr: addr.to_string(),
            source,
        }
    }
}

/// Bind the first of `candidates` that works (a dual-stack address falls back to IPv4
/// when the machine has no IPv6). Returns the socket and the address actually bound.
fn bind_first(
    candidates: &[(SocketAddr, bool)],
    ty: Type,
    listen: bool,
    options: &SocketOptions,
) -> Result<Socket> {
    let mut last = None;
    for (i, &(addr, v6only)) in candidates.iter().enumerate() {
        match bind_inet(addr, v6only, ty, listen, options) {
            Ok(socket) => return Ok(socket),
            Err((Step::Create | Step::Bind, e))
                if i + 1 < candidates.len() && is_family_unavailable(&e) =>
            {
                last = Some(e)
            }
            Err((Step::Create, source)) => {
                return Err(Error::Socket {
                    what: format!("create a socket for {addr}"),
                    source,
                });
            }
            Err((Step::Options(flag), source)) => return Err(options_failed((flag, source))),
            Err((Step::Bind, source)) => return Err(bind_failed(addr, source)),
            Err((Step::Listen, source)) => {
                return Err(Error::Listen {
                    addr: addr.to_string(),
                    source,
                });
            }
        }
    }
    Err(Error::Socket {
        what: "no address to bind".into(),
        source: last.unwrap_or_else(|| io::ErrorKind::AddrNotAvailable.into()),
    })
}

/// A TCP listener on the first usable candidate address.
pub(crate) fn tcp_listener(
    candidates: &[(SocketAddr, bool)],
    options: &SocketOptions,
) -> Result<TcpListener> {
    let socket = bind_first(candidates, Type::STREAM, true, options)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// A UDP socket bound for listening on the first usable candidate address.
pub(crate) fn udp_listener(
    candidates: &[(SocketAddr, bool)],
    options: &SocketOptions,
) -> Result<UdpSocket> {
    let socket = bind_first(candidates, Type::DGRAM, false, options)?;
    Ok(UdpSocket::from_std(socket.into()))
}

/// Start a non-blocking TCP connect to `addr` from `source`; the loop waits for it.
/// A failed bind of `source` is `bind to SOURCE`; anything else is `connect to ADDR`.
pub(crate) fn tcp_connect_start(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    options: &SocketOptions,
) -> Result<TcpStream> {
    tcp_start(addr, source, true, options)
}

/// Start a `-z` scan's connect to `addr`: as `tcp_connect_start`, without `TCP_NODELAY`,
/// which a probe that sends nothing does not need (a scan of 65535 ports makes a system
/// call fewer for each).
pub(crate) fn tcp_probe_start(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    options: &SocketOptions,
) -> Result<TcpStream> {
    tcp_start(addr, source, false, options)
}

fn tcp_start(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    nodelay: bool,
    options: &SocketOptions,
) -> Result<TcpStream> {
    let failed = |source| Error::Connect {
        addr: addr.to_string(),
        source,
    };
    // Non-blocking from the start: no fcntl calls after.
    let socket = new_socket(&addr, Type::STREAM, true).map_err(failed)?;
    if nodelay {
        // Small interactive writes (a typed line, a request) go out at once; bulk writes
        // are large enough that Nagle would not merge anything anyway.
        traced(
            socket.set_tcp_nodelay(true),
            || "setsockopt(TCP_NODELAY, 1)".into(),
            zero,
        )
        .map_err(failed)?;
    }
    apply_options(&socket, &addr, options).map_err(options_failed)?;
    if let Some(source) = source {
        bind_source(&socket, source)?;
    }
    let connected = traced(
        socket.connect(&addr.into()),
        || format!("connect({})", addr_text(&addr)),
        zero,
    );
    match connected {
        Ok(()) => {}
        Err(e)
            if e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error())
                || e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(failed(e)),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// A connected UDP socket to `addr` from `source`; errors as for `tcp_connect_start`.
pub(crate) fn udp_connect(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    options: &SocketOptions,
) -> Result<UdpSocket> {
    let failed = |source| Error::Connect {
        addr: addr.to_string(),
        source,
    };
    let socket = new_socket(&addr, Type::DGRAM, false).map_err(failed)?;
    socket.set_nonblocking(true).map_err(failed)?;
    let _ = set_udp_recv_buffer(&socket);
    apply_options(&socket, &addr, options).map_err(options_failed)?;
    if let Some(source) = source {
        bind_source(&socket, source)?;
    }
    traced(
        socket.connect(&addr.into()),
        || format!("connect({})", addr_text(&addr)),
        zero,
    )
    .map_err(failed)?;
    Ok(UdpSocket::from_std(socket.into()))
}

/// Set the options the user asked for (`-I`, `-O`, `-T`, `--keepalive`) on a socket for
/// `addr`, before it connects or listens. An IPv6 socket gets the TOS as its traffic class,
/// and as `IP_TOS` too for IPv4 peers of a dual-stack listener.
fn apply_options(
    socket: &Socket,
    addr: &SocketAddr,
    options: &SocketOptions,
) -> std::result::Result<(), (&'static str, io::Error)> {
    let set = |result, what: &str, value: String| {
        traced(result, || format!("setsockopt({what}, {value})"), zero)
    };
    if let Some(bytes) = options.recv_buffer_bytes {
        set(
            socket.set_recv_buffer_size(bytes),
            "SO_RCVBUF",
            bytes.to_string(),
        )
        .map_err(|e| ("-I (SO_RCVBUF)", e))?;
    }
    if let Some(bytes) = options.send_buffer_bytes {
        set(
            socket.set_send_buffer_size(bytes),
            "SO_SNDBUF",
            bytes.to_string(),
        )
        .map_err(|e| ("-O (SO_SNDBUF)", e))?;
    }
    if let Some(tos) = options.tos {
        let tos = u32::from(tos);
        if addr.is_ipv6() {
            set(
                socket.set_tclass_v6(tos),
                "IPV6_TCLASS",
                format!("{tos:#04x}"),
            )
            .map_err(|e| ("-T (IPV6_TCLASS)", e))?;
            // Only for IPv4-mapped traffic; a v6-only socket may refuse it.
            let _ = set(socket.set_tos_v4(tos), "IP_TOS", format!("{tos:#04x}"));
        } else {
            set(socket.set_tos_v4(tos), "IP_TOS", format!("{tos:#04x}"))
                .map_err(|e| ("-T (IP_TOS)", e))?;
        }
    }
    if let Some(keepalive) = &options.keepalive {
        let mut params = socket2::TcpKeepalive::new();
        if let Some(idle) = keepalive.idle {
            params = params.with_time(idle);
        }
        if let Some(interval) = keepalive.interval {
            params = params.with_interval(interval);
        }
        if let Some(count) = keepalive.count {
            params = params.with_retries(count);
        }
        let shown = |d: Option<std::time::Duration>| {
            d.map_or("default".to_string(), |d| d.as_secs().to_string())
        };
        traced(
            socket.set_tcp_keepalive(&params),
            || {
                format!(
                    "setsockopt(SO_KEEPALIVE, 1; TCP_KEEPIDLE {}, TCP_KEEPINTVL {}, TCP_KEEPCNT {})",
                    shown(keepalive.idle),
                    shown(keepalive.interval),
                    keepalive.count.map_or("default".to_string(), |n| n.to_string())
                )
            },
            zero,
        )
        .map_err(|e| ("--keepalive", e))?;
    }
    Ok(())
}

/// The error for an option the kernel refused: which flag, and why.
fn options_failed((flag, source): (&'static str, io::Error)) -> Error {
    Error::Socket {
        what: format!("set {flag}"),
        source,
    }
}

/// Set TCP_NODELAY on an accepted stream (see `tcp_connect_start`).
pub(crate) fn tune_accepted(stream: &TcpStream) {
    // Failing to set it only costs latency.
    let _ = traced(
        stream.set_nodelay(true),
        || "setsockopt(TCP_NODELAY, 1)".into(),
        zero,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_resolve_literal_needs_no_dns() {
        let host = Host::Literal {
            ip: "127.0.0.1".parse().unwrap(),
            scope_id: 0,
        };
        assert_eq!(
            resolve(&host, 80, Family::Any).unwrap(),
            vec!["127.0.0.1:80".parse().unwrap()]
        );
    }

    #[test]
    fn net_listen_defaults_to_dual_stack_then_v4() {
        let addrs = listen_addrs(None, 5000, Family::Any).unwrap();
        assert_eq!(addrs[0], ("[::]:5000".parse().unwrap(), false));
        assert_eq!(addrs[1], ("0.0.0.0:5000".parse().unwrap(), false));
    }

    #[test]
    fn net_listener_bind_failure_says_bind() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = tcp_listener(&[(addr, true)], &SocketOptions::default()).unwrap_err();
        assert_eq!(
            err.one_line(),
            format!("bind to {addr}: address already in use")
        );
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        let err = udp_listener(&[(addr, true)], &SocketOptions::default()).unwrap_err();
        assert!(err.one_line().starts_with(&format!("bind to {addr}: ")));
    }

    #[test]
    fn net_only_a_refused_privileged_port_gets_the_hint() {
        let denied = || io::Error::from(rustix::io::Errno::ACCESS);
        let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let privileged = bind_failed(at(1), denied());
        if matches!(privileged, Error::Bind { .. }) {
            // Nothing to check on this half where every port is unprivileged (root, or
            // `ip_unprivileged_port_start` 0): the other half below still runs.
        } else {
            assert!(
                privileged
                    .one_line()
                    .ends_with("need root or CAP_NET_BIND_SERVICE)"),
                "{}",
                privileged.one_line()
            );
        }
        for err in [
            bind_failed(at(65535), denied()),
            bind_failed(at(0), denied()),
            bind_failed(at(1), io::ErrorKind::AddrInUse.into()),
        ] {
            assert!(matches!(err, Error::Bind { .. }), "{err:?}");
        }
    }

    #[test]
    fn net_unix_stale_socket_is_replaced_and_file_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        {
            let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
            drop(stale); // leaves the file behind, nobody listening
        }
        assert!(path.exists());
        let (listener, file) = unix_listener(&path).unwrap();
        assert!(unix_listener(&path).is_err(), "a live socket is in use");
        drop(listener);
        drop(file);
        assert!(!path.exists(), "the socket file is removed");
    }

    #[test]
    fn net_unix_client_says_a_regular_file_is_not_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain");
        std::fs::write(&path, b"text").unwrap();
        let want = format!("connect to {}: not a socket", path.display());
        assert_eq!(unix_connect(&path).unwrap_err().one_line(), want);
        assert_eq!(
            unix_datagram_connect(&path, None).unwrap_err().one_line(),
            want
        );
        // A stale socket file is still refused as such.
        drop(std::os::unix::net::UnixListener::bind(dir.path().join("s")).unwrap());
        let err = unix_connect(&dir.path().join("s")).unwrap_err();
        assert!(err.one_line().ends_with(": connection refused"), "{err:?}");
    }

    #[test]
    fn net_unix_refuses_to_replace_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain");
        std::fs::write(&path, b"keep me").unwrap();
        let err = unix_listener(&path).unwrap_err();
        assert!(
            err.one_line().contains("not a socket"),
            "{}",
            err.one_line()
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
    }
}
