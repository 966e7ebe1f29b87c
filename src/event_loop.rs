//! The single-threaded mio loop: `Poll`, tokens, signals, poll timeouts from deadlines,
//! and the phases around a session: resolve and connect, or bind, listen and accept.
//!
//! Only this file calls `poll`. It maps events to `Session` methods and never moves a
//! byte itself.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UnixListener};
use mio::{Events, Interest, Poll, Registry, Token};
use signal_hook::consts::signal::{
    SIGALRM, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH,
};
use signal_hook_mio::v1_0::Signals;

use crate::config::{Config, Family, Host, Mode, Target, Transport};
use crate::endpoint::Endpoint;
use crate::error::{Error, Result, describe_io, print_line};
use crate::net::{self, SocketFile};
use crate::session::{Options, SOCKET, STDIN, STDOUT, Session};
use crate::stdio::StdStream;

/// Token for a stream listener.
const LISTENER: Token = Token(3);
/// Token for the signal pipe.
const SIGNALS: Token = Token(4);

/// How long to wait before accepting again when out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Signals that end rnc cleanly (exit 128+n).
const ENDING_SIGNALS: [i32; 7] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM];

/// How a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The session ended normally.
    Finished,
    /// A signal ended it.
    Signal(i32),
}

impl Outcome {
    /// The process exit code.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Outcome::Finished => 0,
            Outcome::Signal(n) => (128 + n).clamp(0, 255) as u8,
        }
    }
}

/// `Poll`, its events and the signal source.
struct Loop {
    poll: Poll,
    events: Events,
    signals: Signals,
}

impl Loop {
    fn new() -> Result<Loop> {
        let poll = Poll::new().map_err(|source| Error::Poll {
            what: "create poll",
            source,
        })?;
        let mut all = ENDING_SIGNALS.to_vec();
        all.push(SIGWINCH);
        let mut signals = Signals::new(&all).map_err(|source| Error::Poll {
            what: "install signal handlers",
            source,
        })?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(|source| Error::Poll {
                what: "register signals",
                source,
            })?;
        Ok(Loop {
            poll,
            events: Events::with_capacity(64),
            signals,
        })
    }

    fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// Poll once, until an event or `deadline`. Returns the ending signal, if one came;
    /// the other events stay in `self.events`.
    fn wait(&mut self, deadline: Option<Instant>) -> Result<Option<i32>> {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        loop {
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Poll {
                        what: "poll",
                        source,
                    });
                }
            }
        }
        if self.events.iter().any(|e| e.token() == SIGNALS) {
            for signal in self.signals.pending() {
                if ENDING_SIGNALS.contains(&signal) {
                    return Ok(Some(signal));
                }
                // SIGWINCH: nothing to redraw without a status line.
            }
        }
        Ok(None)
    }

    /// Whether the last `wait` saw an event for `token`.
    fn saw(&self, token: Token) -> bool {
        self.events.iter().any(|e| e.token() == token)
    }
}

/// Run rnc as `config` says.
pub(crate) fn run(config: &Config) -> Result<Outcome> {
    let mut lp = Loop::new()?;
    match config.mode {
        Mode::Connect => run_client(&mut lp, config),
        Mode::Listen => run_listener(&mut lp, config),
    }
}

fn session_options(config: &Config) -> Options {
    Options {
        crlf: config.crlf,
        shutdown_on_eof: config.shutdown_on_eof,
        verbose: config.verbose,
        idle_timeout: config.wait,
        quit_after_eof: config.quit_after_eof,
        follow_latest_sender: config.keep_open,
        zero_copy: config.zero_copy,
    }
}

fn open_session(lp: &Loop, config: &Config) -> Result<Session> {
    let stdin = if config.no_stdin {
        None
    } else {
        Some(StdStream::stdin().map_err(|source| Error::Stdio {
            op: "open stdin",
            source,
        })?)
    };
    let stdout = StdStream::stdout().map_err(|source| Error::Stdio {
        op: "open stdout",
        source,
    })?;
    let mut session = Session::new(session_options(config), stdin, stdout);
    session.register_stdio(lp.registry())?;
    Ok(session)
}

/// Pump and poll until the session's connection is done.
fn drive(lp: &mut Loop, session: &mut Session) -> Result<Outcome> {
    loop {
        let more = session.pump()?;
        if session.is_done() {
            return Ok(Outcome::Finished);
        }
        let deadline = if more {
            Some(Instant::now())
        } else {
            session.next_deadline()
        };
        if let Some(signal) = lp.wait(deadline)? {
            return Ok(Outcome::Signal(signal));
        }
        for event in lp.events.iter() {
            match event.token() {
                STDIN => session.on_stdin_readable(event.is_read_closed() || event.is_error()),
                STDOUT => session.on_stdout_writable(),
                SOCKET => session.on_socket_event(
                    event.is_readable() || event.is_read_closed() || event.is_error(),
                    event.is_writable() || event.is_write_closed() || event.is_error(),
                    event.is_read_closed() || event.is_error(),
                ),
                // LISTENER: the next `-k` connection waits in the backlog. SIGNALS: handled.
                _ => {}
            }
        }
        session.on_timer(Instant::now());
    }
}

/// Print the `-v` summary of a finished connection.
fn print_summary(config: &Config, stats: Option<(u64, u64, Duration)>) {
    if let (true, Some((sent, received, elapsed))) = (config.verbose, stats) {
        print_line(&format!(
            "{sent} bytes sent, {received} bytes received in {:.3} s",
            elapsed.as_secs_f64()
        ));
    }
}

fn run_client(lp: &mut Loop, config: &Config) -> Result<Outcome> {
    let endpoint = match (&config.target, config.transport) {
        (Target::Unix(path), Transport::UnixStream) => Endpoint::Unix(net::unix_connect(path)?),
        (Target::Unix(path), _) => {
            let (socket, file) = net::unix_datagram_connect(path)?;
            Endpoint::UnixDatagram(socket, Some(file))
        }
        (Target::Inet { host, port }, transport) => {
            let host = host
                .as_ref()
                .ok_or_else(|| Error::Usage("no host".into()))?;
            if config.verbose
                && let Host::Name(name) = host
            {
                print_line(&format!("resolving {name}"));
            }
            let addrs = net::resolve(host, *port, config.family)?;
            if transport == Transport::Udp {
                let addr = addrs[0];
                let source = source_addr(config, &addr)?;
                Endpoint::Udp(
                    net::udp_connect(addr, source).map_err(|source| Error::Connect {
                        addr: addr.to_string(),
                        source,
                    })?,
                )
            } else {
                match connect_tcp(lp, config, &addrs)? {
                    Ok(endpoint) => endpoint,
                    Err(signal) => return Ok(Outcome::Signal(signal)),
                }
            }
        }
    };
    let peer = endpoint
        .peer_description()
        .unwrap_or_else(|| "peer".to_string());
    if config.zero_io {
        if config.verbose {
            print_line(&format!("connection to {peer} succeeded"));
        }
        return Ok(Outcome::Finished);
    }
    if config.verbose {
        print_line(&format!(
            "connected to {peer} (from {})",
            endpoint.local_description()
        ));
    }
    let mut session = open_session(lp, config)?;
    session.attach(endpoint, false, lp.registry())?;
    let outcome = drive(lp, &mut session);
    let stats = session.detach(lp.registry());
    print_summary(config, stats);
    outcome
}

/// The client's source address for a connection to `to` (`-s` and `-p`).
fn source_addr(config: &Config, to: &SocketAddr) -> Result<Option<SocketAddr>> {
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
fn connect_tcp(
    lp: &mut Loop,
    config: &Config,
    addrs: &[SocketAddr],
) -> Result<std::result::Result<Endpoint, i32>> {
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
        let mut stream = match net::tcp_connect_start(*addr, source) {
            Ok(stream) => stream,
            Err(e) => {
                let e = match source {
                    Some(src)
                        if e.kind() == io::ErrorKind::AddrInUse
                            || e.kind() == io::ErrorKind::AddrNotAvailable =>
                    {
                        Error::Bind {
                            addr: src.to_string(),
                            source: e,
                        }
                    }
                    _ => failed(e),
                };
                note_failure(config, addrs.len(), &e);
                last_error = Some(e);
                continue;
            }
        };
        lp.registry()
            .register(&mut stream, SOCKET, Interest::WRITABLE)
            .map_err(|source| Error::Poll {
                what: "register socket",
                source,
            })?;
        let deadline = config.wait.map(|w| Instant::now() + w);
        let result = loop {
            if let Some(signal) = lp.wait(deadline)? {
                let _ = lp.registry().deregister(&mut stream);
                return Ok(Err(signal));
            }
            if lp.saw(SOCKET) {
                match stream.take_error() {
                    Ok(Some(e)) | Err(e) => break Err(failed(e)),
                    Ok(None) => {}
                }
                match stream.peer_addr() {
                    Ok(_) => break Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                    Err(e) => break Err(failed(e)),
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break Err(Error::ConnectTimeout {
                    addr: addr.to_string(),
                    secs: format_secs(config.wait.unwrap_or_default()),
                });
            }
        };
        let _ = lp.registry().deregister(&mut stream);
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

/// A stream listener: TCP, or Unix with the file it owns.
enum StreamListener {
    Tcp(TcpListener),
    Unix(UnixListener, SocketFile),
}

impl StreamListener {
    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            StreamListener::Tcp(l) => l,
            StreamListener::Unix(l, _) => l,
        }
    }

    fn local_description(&self) -> String {
        match self {
            StreamListener::Tcp(l) => l
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "(unknown)".into()),
            StreamListener::Unix(_, file) => file.path().display().to_string(),
        }
    }

    fn accept(&mut self) -> io::Result<(Endpoint, String)> {
        match self {
            StreamListener::Tcp(l) => {
                let (stream, from) = l.accept()?;
                net::tune_accepted(&stream);
                Ok((Endpoint::Tcp(stream), from.to_string()))
            }
            StreamListener::Unix(l, _) => {
                let (stream, from) = l.accept()?;
                let from = from
                    .as_pathname()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "a unix client".to_string());
                Ok((Endpoint::Unix(stream), from))
            }
        }
    }
}

fn run_listener(lp: &mut Loop, config: &Config) -> Result<Outcome> {
    let asked_port_zero = matches!(config.target, Target::Inet { port: 0, .. });
    let announce = |local: &str| {
        if config.verbose || asked_port_zero {
            print_line(&format!("listening on {local}"));
        }
    };
    let mut listener = match (&config.target, config.transport) {
        (Target::Inet { host, port }, Transport::Tcp) => {
            let candidates = net::listen_addrs(host.as_ref(), *port, config.family)?;
            StreamListener::Tcp(net::tcp_listener(&candidates)?)
        }
        (Target::Unix(path), Transport::UnixStream) => {
            let (l, file) = net::unix_listener(path)?;
            StreamListener::Unix(l, file)
        }
        (Target::Inet { host, port }, _) => {
            let candidates = net::listen_addrs(host.as_ref(), *port, config.family)?;
            let socket = net::udp_listener(&candidates)?;
            let endpoint = Endpoint::Udp(socket);
            announce(&endpoint.local_description());
            return run_datagram_listener(lp, config, endpoint);
        }
        (Target::Unix(path), _) => {
            let (socket, file) = net::unix_datagram_listener(path)?;
            announce(&path.display().to_string());
            // The file stays until the session ends.
            let result = run_datagram_listener(lp, config, Endpoint::UnixDatagram(socket, None));
            drop(file);
            return result;
        }
    };
    announce(&listener.local_description());
    lp.registry()
        .register(listener.source(), LISTENER, Interest::READABLE)
        .map_err(|source| Error::Poll {
            what: "register listener",
            source,
        })?;
    let mut session = open_session(lp, config)?;
    let mut listener = Some(listener);
    loop {
        let Some(active) = listener.as_mut() else {
            return Ok(Outcome::Finished);
        };
        let (endpoint, from) = match accept_next(lp, active)? {
            Ok(accepted) => accepted,
            Err(signal) => return Ok(Outcome::Signal(signal)),
        };
        if !config.keep_open {
            // One connection only: stop listening now, so later clients are refused
            // instead of waiting in a backlog nobody serves.
            if let Some(mut l) = listener.take() {
                let _ = lp.registry().deregister(l.source());
            }
        }
        if config.verbose {
            print_line(&format!("connection from {from}"));
        }
        session.attach(endpoint, false, lp.registry())?;
        let outcome = drive(lp, &mut session);
        let stats = session.detach(lp.registry());
        print_summary(config, stats);
        match outcome {
            Ok(Outcome::Finished) if config.keep_open && !session.is_stdout_closed() => {}
            Err(e) if config.keep_open => {
                // One client's failure does not end a `-k` listener.
                print_line(&e.one_line());
            }
            other => return other,
        }
    }
}

/// Accept the next stream connection, waiting for it.
fn accept_next(
    lp: &mut Loop,
    listener: &mut StreamListener,
) -> Result<std::result::Result<(Endpoint, String), i32>> {
    let mut warned_fd_limit = false;
    loop {
        let mut deadline = None;
        match listener.accept() {
            Ok(accepted) => return Ok(Ok(accepted)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e)
                if e.kind() == io::ErrorKind::Interrupted
                    || e.kind() == io::ErrorKind::ConnectionAborted =>
            {
                continue;
            }
            Err(e)
                if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error())
                    || e.raw_os_error() == Some(rustix::io::Errno::NFILE.raw_os_error()) =>
            {
                // Out of fds: the pending client stays in the backlog and the listener
                // stays readable, so accepting at once again would spin. Back off.
                if !warned_fd_limit {
                    print_line(&format!(
                        "accept on {}: {}; retrying",
                        listener.local_description(),
                        describe_io(&e)
                    ));
                    warned_fd_limit = true;
                }
                deadline = Some(Instant::now() + ACCEPT_BACKOFF);
            }
            Err(source) => {
                return Err(Error::Accept {
                    addr: listener.local_description(),
                    source,
                });
            }
        }
        if let Some(signal) = lp.wait(deadline)? {
            return Ok(Err(signal));
        }
    }
}

fn run_datagram_listener(lp: &mut Loop, config: &Config, endpoint: Endpoint) -> Result<Outcome> {
    let mut session = open_session(lp, config)?;
    session.attach(endpoint, true, lp.registry())?;
    let outcome = drive(lp, &mut session);
    let stats = session.detach(lp.registry());
    print_summary(config, stats);
    outcome
}
