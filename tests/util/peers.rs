//! Loopback peers and the sockets a test holds: listeners and clients on 127.0.0.1 with
//! kernel-chosen ports, bounded accepts and reads, UDP and Unix datagram peers, one
//! `PeerStream` type over TCP and Unix for table-driven cases, resets and listeners that
//! never accept. Also whether a test can run here at all: IPv6, installed tools, and
//! `skip_or_fail`, the one way to skip (a failure under CI).
//!
//! Nothing here picks a free port and passes it on: peers bind port 0 and report the port
//! the kernel gave them, and a port that must refuse is held by a socket (`ClosedTcpPort`,
//! `ClosedUdpPort`) for as long as the test uses it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::spawn::{Deadline, Rnc, TIMEOUT};

/// A TCP listener on 127.0.0.1 with a kernel-chosen port.
pub fn tcp_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local_addr").port();
    (listener, port)
}

/// Whether `[::1]` binds here. When it does not, the IPv6 test (or the IPv6 part of a
/// test) is skipped through `skip_or_fail`: a message here, a failure under CI.
#[track_caller]
pub fn ipv6_available() -> bool {
    let ok = TcpListener::bind("[::1]:0").is_ok();
    if !ok {
        skip_or_fail("[::1] does not bind on this machine, so the IPv6 part cannot run");
    }
    ok
}

/// A TCP port on 127.0.0.1 that refuses connections for as long as this guard lives. A
/// socket bound to the port that never listens holds it: nothing else can bind it, and a
/// SYN to a port without a listener is answered with RST (connection refused).
pub struct ClosedTcpPort {
    /// Holds the port; never listens.
    _socket: socket2::Socket,
    /// The port it holds.
    port: u16,
}

impl ClosedTcpPort {
    /// The refusing port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// A TCP port that refuses connections while the returned guard lives (race-free: the port
/// is never free for another process to take).
pub fn closed_tcp_port() -> ClosedTcpPort {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&addr.into()).expect("bind 127.0.0.1:0");
    let port = socket
        .local_addr()
        .expect("local_addr")
        .as_socket()
        .expect("inet")
        .port();
    ClosedTcpPort {
        _socket: socket,
        port,
    }
}

/// A UDP port on 127.0.0.1 where datagrams draw ICMP port unreachable for as long as this
/// guard lives. A socket bound to the port and connected to itself holds it: nothing else
/// can bind it, and it takes datagrams only from its own address, which no other socket
/// can send from, so the kernel answers every other sender as if the port were closed.
pub struct ClosedUdpPort {
    /// Holds the port; connected to itself.
    socket: UdpSocket,
    /// The port it holds.
    port: u16,
}

impl ClosedUdpPort {
    /// Holds `port` on 127.0.0.1 (0: one the kernel picks); fails when it is taken.
    pub fn bind(port: u16) -> io::Result<ClosedUdpPort> {
        let socket = UdpSocket::bind(("127.0.0.1", port))?;
        let addr = socket.local_addr()?;
        socket.connect(addr)?;
        Ok(ClosedUdpPort {
            socket,
            port: addr.port(),
        })
    }

    /// The closed port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Opens the port to `peer` alone: the socket is connected to `peer` instead (it keeps
    /// its port; disconnecting would release it), so it receives what `peer` sends. Returns
    /// the socket, with a 10 s read timeout.
    pub fn open_to(self, peer: SocketAddr) -> UdpSocket {
        self.socket
            .connect(peer)
            .unwrap_or_else(|e| panic!("connect the held UDP port to {peer}: {e}"));
        self.socket
            .set_read_timeout(Some(TIMEOUT))
            .expect("timeout");
        self.socket
    }
}

/// A UDP port that refuses datagrams while the returned guard lives (race-free, as
/// `closed_tcp_port`).
pub fn closed_udp_port() -> ClosedUdpPort {
    ClosedUdpPort::bind(0).expect("bind udp 127.0.0.1:0")
}

/// Runs a blocking accept in a thread and waits for it, at most `TIMEOUT`.
/// On timeout, `unstick` connects to the listener so the thread ends too.
fn accept_within<T: Send + 'static>(
    accept: impl FnOnce() -> io::Result<T> + Send + 'static,
    unstick: impl FnOnce(),
    what: &str,
) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(accept());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(e)) => panic!("accept on {what}: {e}"),
        Err(_) => {
            unstick();
            panic!("no connection to {what} within {TIMEOUT:?}")
        }
    }
}

/// Starts `rnc FLAGS 127.0.0.1 PORT` against a fresh listener and accepts its connection:
/// rnc as a connected client, and the peer's end.
pub fn rnc_client(flags: &[&str]) -> (Rnc, TcpStream) {
    let (listener, port) = tcp_listener();
    let port = port.to_string();
    let mut args = flags.to_vec();
    args.extend_from_slice(&["127.0.0.1", &port]);
    let rnc = Rnc::spawn(&args);
    let (peer, _) = accept_tcp(&listener);
    (rnc, peer)
}

/// Accepts one TCP connection, at most `TIMEOUT`; the stream has 10 s I/O timeouts.
pub fn accept_tcp(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    let clone = listener.try_clone().expect("clone listener");
    let addr = listener.local_addr().expect("local_addr");
    let (stream, peer) = accept_within(
        move || clone.accept(),
        || drop(TcpStream::connect(addr)),
        &addr.to_string(),
    );
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    (stream, peer)
}

/// Accepts one Unix stream connection, at most `TIMEOUT`.
pub fn accept_unix(listener: &UnixListener, path: &Path) -> UnixStream {
    let clone = listener.try_clone().expect("clone listener");
    let unstick_path = path.to_path_buf();
    let (stream, _) = accept_within(
        move || clone.accept(),
        || drop(UnixStream::connect(unstick_path)),
        &path.display().to_string(),
    );
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

/// Connects to 127.0.0.1:`port` with 10 s I/O timeouts.
pub fn connect_tcp(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

/// Connects to a Unix stream socket with 10 s I/O timeouts.
pub fn connect_unix(path: &Path) -> UnixStream {
    let stream =
        UnixStream::connect(path).unwrap_or_else(|e| panic!("connect to {}: {e}", path.display()));
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

/// A stream socket whose reads can be bounded.
pub trait TimedRead: Read {
    /// Sets the read timeout.
    fn set_read_limit(&self, limit: Duration) -> io::Result<()>;
}

impl TimedRead for TcpStream {
    fn set_read_limit(&self, limit: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(limit))
    }
}

impl TimedRead for UnixStream {
    fn set_read_limit(&self, limit: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(limit))
    }
}

/// Reads until `n` bytes arrived (TCP may split or merge), at most `TIMEOUT`.
pub fn read_exact_within(stream: &mut impl TimedRead, n: usize) -> Vec<u8> {
    let deadline = Deadline::new();
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        stream
            .set_read_limit(deadline.remaining())
            .expect("timeout");
        match stream.read(&mut out[got..]) {
            Ok(0) => panic!(
                "EOF after {got} of {n} bytes ({:?})",
                String::from_utf8_lossy(&out[..got.min(200)])
            ),
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read after {got} of {n} bytes: {e}"),
        }
    }
    out
}

/// Reads until EOF, at most `TIMEOUT`.
pub fn read_to_end_within(stream: &mut impl TimedRead) -> Vec<u8> {
    let deadline = Deadline::new();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        stream
            .set_read_limit(deadline.remaining())
            .expect("timeout");
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read after {} bytes, no EOF: {e}", out.len()),
        }
    }
}

/// Asserts that the next read gives EOF, at most `TIMEOUT`.
pub fn expect_eof(stream: &mut impl TimedRead) {
    let rest = read_to_end_within(stream);
    assert!(
        rest.is_empty(),
        "expected EOF, got {:?}",
        String::from_utf8_lossy(&rest)
    );
}

/// A UDP socket on 127.0.0.1 with a kernel-chosen port and a 10 s read timeout.
pub fn udp_socket() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind udp 127.0.0.1:0");
    socket.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let port = socket.local_addr().expect("local_addr").port();
    (socket, port)
}

/// Receives one datagram, at most `TIMEOUT`.
pub fn recv_udp(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65536];
    let (n, from) = retry_eintr(|| socket.recv_from(&mut buf))
        .unwrap_or_else(|e| panic!("no datagram within {TIMEOUT:?}: {e}"));
    buf.truncate(n);
    (buf, from)
}

/// Receives one Unix datagram, at most `TIMEOUT`; returns the data and the sender's path.
pub fn recv_unix_datagram(socket: &UnixDatagram) -> (Vec<u8>, Option<PathBuf>) {
    socket.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut buf = vec![0u8; 65536];
    let (n, from) = retry_eintr(|| socket.recv_from(&mut buf))
        .unwrap_or_else(|e| panic!("no datagram within {TIMEOUT:?}: {e}"));
    buf.truncate(n);
    (buf, from.as_pathname().map(Path::to_path_buf))
}

/// A stream transport a case runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamTransport {
    /// TCP on 127.0.0.1.
    Tcp,
    /// A Unix stream socket in a per-test temp dir.
    Unix,
}

/// A connected peer socket of either transport, with 10 s write timeouts.
pub enum PeerStream {
    /// A TCP peer.
    Tcp(TcpStream),
    /// A Unix stream peer.
    Unix(UnixStream),
}

/// A peer listener that a client rnc connects to.
pub enum PeerListener {
    /// Listening on 127.0.0.1 with a kernel-chosen port.
    Tcp(TcpListener),
    /// Listening on a path.
    Unix(UnixListener, PathBuf),
}

impl StreamTransport {
    /// A peer listener (its Unix path in `dir`) and the rnc arguments that connect to it.
    pub fn peer_listener(self, dir: &Path) -> (PeerListener, Vec<String>) {
        match self {
            Self::Tcp => {
                let (listener, port) = tcp_listener();
                let args = vec!["127.0.0.1".to_string(), port.to_string()];
                (PeerListener::Tcp(listener), args)
            }
            Self::Unix => {
                let path = dir.join("peer.sock");
                let listener = UnixListener::bind(&path)
                    .unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
                let args = vec!["-U".to_string(), path.display().to_string()];
                (PeerListener::Unix(listener, path), args)
            }
        }
    }

    /// The rnc arguments for a listener of this transport (Unix path `dir/rnc.sock`).
    /// Both print a `listening on` line: TCP because it asks for port 0, Unix through `-v`.
    pub fn rnc_listen_args(self, dir: &Path) -> Vec<String> {
        match self {
            Self::Tcp => ["-l", "127.0.0.1", "0"].map(String::from).to_vec(),
            Self::Unix => {
                let path = dir.join("rnc.sock").display().to_string();
                vec!["-v".into(), "-l".into(), "-U".into(), path]
            }
        }
    }

    /// Waits for a listening rnc's `listening on` line and connects to it.
    pub fn connect_to(self, rnc: &mut Rnc) -> PeerStream {
        let addr = rnc.listening_addr();
        match self {
            Self::Tcp => PeerStream::Tcp(connect_tcp(&addr)),
            Self::Unix => PeerStream::Unix(connect_unix(Path::new(&addr))),
        }
    }
}

impl PeerListener {
    /// Accepts one connection, at most `TIMEOUT`.
    pub fn accept(&self) -> PeerStream {
        match self {
            Self::Tcp(listener) => PeerStream::Tcp(accept_tcp(listener).0),
            Self::Unix(listener, path) => PeerStream::Unix(accept_unix(listener, path)),
        }
    }
}

impl PeerStream {
    /// Bound every read from the peer by `TIMEOUT`.
    pub fn read_within_timeout(&self) {
        match self {
            Self::Tcp(s) => s.set_read_timeout(Some(TIMEOUT)),
            Self::Unix(s) => s.set_read_timeout(Some(TIMEOUT)),
        }
        .expect("set a read timeout");
    }

    /// `shutdown(how)` on the socket.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.shutdown(how),
            Self::Unix(s) => s.shutdown(how),
        }
    }
}

impl Read for PeerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for PeerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TimedRead for PeerStream {
    fn set_read_limit(&self, limit: Duration) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_read_timeout(Some(limit)),
            Self::Unix(s) => s.set_read_timeout(Some(limit)),
        }
    }
}

/// Closes `stream` with SO_LINGER 0: the peer gets RST instead of FIN.
pub fn reset_close(stream: TcpStream) {
    let socket = socket2::Socket::from(stream);
    socket
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(socket);
}

/// A listener with backlog 0 whose accept queue is full: further connects to it hang in
/// SYN_SENT (Linux drops their SYNs). Returns the listener, its port and the queued client.
pub fn never_accepting_listener() -> (socket2::Socket, u16, TcpStream) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
    listener.bind(&addr.into()).expect("bind 127.0.0.1:0");
    listener.listen(0).expect("listen(0)");
    let port = listener
        .local_addr()
        .expect("local_addr")
        .as_socket()
        .expect("inet")
        .port();
    let queued = TcpStream::connect(("127.0.0.1", port)).expect("queue one connection");
    (listener, port, queued)
}

/// The path of an installed tool, or `None` (and a message) when it is missing.
/// Under CI (`CI` set, as `.ci/run` runs) a missing tool is a failure: `.ci/run` installs
/// every tool, so a skip there would hide a test that never ran.
pub fn installed_tool(name: &str) -> Option<PathBuf> {
    let path = Path::new("/usr/bin").join(name);
    if path.exists() {
        return Some(path);
    }
    skip_or_fail(&format!("{} is not installed", path.display()));
    None
}

/// A test that cannot run here: a message and an early return on a developer's machine,
/// a failure under CI.
#[track_caller]
pub fn skip_or_fail(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}, and CI must run this test (.ci/run installs what it needs)"
    );
    eprintln!("skipping: {why}");
}

/// Runs a blocking socket or pipe call again when a signal interrupts it (`EINTR`), as
/// `read_exact` and `read_to_end` do on their own.
pub fn retry_eintr<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}
