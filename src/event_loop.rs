//! The single-threaded mio loop: `Poll`, tokens, signals, poll timeouts from deadlines,
//! and the phases around a session: resolve and connect, or bind, listen and accept.
//!
//! Only this file calls `poll`. It maps events to `Session` methods and never moves a
//! byte itself.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UnixListener};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use signal_hook::consts::signal::{
    SIGALRM, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGUSR1, SIGUSR2, SIGWINCH,
};
use signal_hook_mio::v1_0::Signals;

use crate::busy_poll::BusyPoll;
use crate::config::{Config, Family, Host, Mode, Target, Transport};
use crate::endpoint::{Endpoint, canonical_addr};
use crate::error::{Error, Result, describe_io, print_line};
use crate::net::{self, SocketFile};
use crate::session::{Options, SOCKET, STDIN, STDOUT, Session};
use crate::status::ConnState;
use crate::stdio::StdStream;
use crate::ui::{Ui, UiWish};

/// Token for a stream listener.
const LISTENER: Token = Token(3);
/// Token for the signal pipe.
const SIGNALS: Token = Token(4);
/// Token for the resolver thread's wake-up.
const RESOLVER: Token = Token(5);

/// How long `-z -u` waits for a refusal when `-w` does not say.
const UDP_PROBE_WAIT: Duration = Duration::from_secs(1);

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

/// What a `Loop::wait` saw besides socket and stdio events.
#[derive(Debug, Default)]
struct Woke {
    /// A signal that ends rnc.
    ending_signal: Option<i32>,
    /// SIGWINCH.
    resized: bool,
    /// SIGTSTP.
    stopped: bool,
}

impl Loop {
    fn new() -> Result<Loop> {
        let poll = Poll::new().map_err(|source| Error::Poll {
            what: "create poll",
            source,
        })?;
        let mut all = ENDING_SIGNALS.to_vec();
        // SIGTSTP is caught so that the screen is handed back before rnc stops.
        all.extend([SIGWINCH, SIGTSTP]);
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

    /// Poll once, until an event or `deadline`. Signals are reported in the result; the
    /// other events stay in `self.events`.
    fn wait(&mut self, deadline: Option<Instant>) -> Result<Woke> {
        self.wait_spinning(deadline, Duration::ZERO)
    }

    /// Like `wait`, but first poll without sleeping for up to `spin` (see `busy_poll.rs`).
    fn wait_spinning(&mut self, deadline: Option<Instant>, spin: Duration) -> Result<Woke> {
        let now = Instant::now();
        let timeout = deadline.map(|d| d.saturating_duration_since(now));
        let spin = timeout.map_or(spin, |t| spin.min(t));
        let mut polled = false;
        while !spin.is_zero() && now.elapsed() < spin {
            self.poll_once(Some(Duration::ZERO))?;
            if !self.events.is_empty() {
                polled = true;
                break;
            }
            std::thread::yield_now();
        }
        if !polled {
            self.poll_once(timeout.map(|t| t.saturating_sub(now.elapsed())))?;
        }
        let mut woke = Woke::default();
        if self.events.iter().any(|e| e.token() == SIGNALS) {
            for signal in self.signals.pending() {
                if signal == SIGWINCH {
                    woke.resized = true;
                } else if signal == SIGTSTP {
                    woke.stopped = true;
                } else if woke.ending_signal.is_none() && ENDING_SIGNALS.contains(&signal) {
                    woke.ending_signal = Some(signal);
                }
            }
        }
        Ok(woke)
    }

    fn poll_once(&mut self, timeout: Option<Duration>) -> Result<()> {
        loop {
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Poll {
                        what: "poll",
                        source,
                    });
                }
            }
        }
    }

    /// Whether the last `wait` saw an event for `token`.
    fn saw(&self, token: Token) -> bool {
        self.events.iter().any(|e| e.token() == token)
    }

    /// Hand the last `wait`'s events to the session.
    fn dispatch(&self, session: &mut Session, woke: &Woke) {
        if woke.stopped {
            session.ui().suspend(false);
        }
        if woke.resized {
            session.on_resize();
        }
        for event in self.events.iter() {
            match event.token() {
                STDIN => session.on_stdin_readable(event.is_read_closed() || event.is_error()),
                STDOUT => session.on_stdout_writable(),
                SOCKET => session.on_socket_event(
                    event.is_readable() || event.is_read_closed() || event.is_error(),
                    event.is_writable() || event.is_write_closed() || event.is_error(),
                    event.is_read_closed() || event.is_error(),
                    event.is_error() || (event.is_read_closed() && event.is_write_closed()),
                ),
                // LISTENER: the next `-k` connection waits in the backlog (or the accept
                // phase looks at it). SIGNALS: handled in `wait`. Others: spurious.
                _ => {}
            }
        }
    }
}

/// How a wait for something other than the session ended.
enum Wait {
    /// The awaited token had an event.
    Ready,
    /// The deadline passed.
    TimedOut,
    /// A signal or the user (Ctrl-C) ended rnc.
    Ended(Outcome),
}

/// Wait for `token` (the connecting socket, the listener) until `deadline`, keeping the
/// terminal UI alive meanwhile: keys are read, the status row is drawn.
fn wait_for(
    lp: &mut Loop,
    session: &mut Session,
    token: Option<Token>,
    deadline: Option<Instant>,
) -> Result<Wait> {
    loop {
        let more = session.pump()?;
        session.refresh_ui(Instant::now())?;
        if session.is_quit_requested() {
            return Ok(Wait::Ended(Outcome::Signal(SIGINT)));
        }
        let wake = if more {
            Some(Instant::now())
        } else {
            earliest(deadline, session.ui_deadline())
        };
        let woke = lp.wait(wake)?;
        if let Some(signal) = woke.ending_signal {
            return Ok(Wait::Ended(Outcome::Signal(signal)));
        }
        lp.dispatch(session, &woke);
        if token.is_some_and(|t| lp.saw(t)) {
            return Ok(Wait::Ready);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Wait::TimedOut);
        }
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    a.into_iter().chain(b).min()
}

/// Run rnc as `config` says.
pub(crate) fn run(config: &Config) -> Result<Outcome> {
    let mut lp = Loop::new()?;
    let mut session = open_session(&lp, config)?;
    match config.mode {
        Mode::Connect => run_client(&mut lp, &mut session, config),
        Mode::Listen => run_listener(&mut lp, &mut session, config),
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
        keep_listening: config.keep_open,
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
    let ui = Ui::new(
        UiWish {
            status: config.status,
            raw_output: config.raw_output,
            crlf: config.crlf,
            reads_stdin: !config.no_stdin,
            transport: config.transport.name(),
        },
        stdout.as_fd(),
    );
    let mut session = Session::new(session_options(config), stdin, stdout, ui);
    session.register_stdio(lp.registry())?;
    Ok(session)
}

/// Pump and poll until the session's connection is done.
fn drive(lp: &mut Loop, session: &mut Session, config: &Config) -> Result<Outcome> {
    let mut busy = BusyPoll::new(config.busy_poll, config.transport.is_datagram());
    let mut moved = session.bytes_moved();
    loop {
        let more = session.pump()?;
        session.refresh_ui(Instant::now())?;
        if session.is_quit_requested() {
            return Ok(Outcome::Signal(SIGINT));
        }
        if session.is_done() {
            return Ok(Outcome::Finished);
        }
        let deadline = if more {
            Some(Instant::now())
        } else {
            earliest(session.next_deadline(), session.ui_deadline())
        };
        let (sent, received) = session.bytes_moved();
        busy.exchanged(
            sent.saturating_sub(moved.0),
            received.saturating_sub(moved.1),
        );
        moved = (sent, received);
        let started = Instant::now();
        let woke = lp.wait_spinning(deadline, busy.window(session.both_ways_open()))?;
        busy.waited(started.elapsed());
        if let Some(signal) = woke.ending_signal {
            return Ok(Outcome::Signal(signal));
        }
        lp.dispatch(session, &woke);
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

fn run_client(lp: &mut Loop, session: &mut Session, config: &Config) -> Result<Outcome> {
    let endpoint = match (&config.target, config.transport) {
        (Target::Unix(path), transport) => {
            let shown = path.display().to_string();
            session.ui().set_addresses(None, Some(&shown));
            if transport == Transport::UnixStream {
                Endpoint::Unix(net::unix_connect(path)?)
            } else {
                let (socket, file) = net::unix_datagram_connect(path)?;
                Endpoint::UnixDatagram(socket, Some(file))
            }
        }
        (Target::Inet { host, port }, transport) => {
            let host = host
                .as_ref()
                .ok_or_else(|| Error::Usage("no host".into()))?;
            if let Host::Name(name) = host {
                if config.verbose {
                    print_line(&format!("resolving {name}"));
                }
                session.ui().set_state(ConnState::Resolving);
                session.ui().set_addresses(None, Some(name));
                session.refresh_ui(Instant::now())?;
            }
            if let (true, Some(last)) = (config.zero_io, config.scan_to) {
                return scan_ports(lp, session, config, host, *port, last);
            }
            let addrs = match resolve_waiting(lp, session, host, *port, config.family)? {
                Ok(addrs) => addrs,
                Err(outcome) => return Ok(outcome),
            };
            if transport == Transport::Udp && config.zero_io {
                return match probe_udp_addrs(lp, session, config, &addrs)? {
                    Ok(()) => {
                        if config.verbose {
                            print_line(&udp_probe_success(host, addrs[0].port()));
                        }
                        Ok(Outcome::Finished)
                    }
                    Err(outcome) => Ok(outcome),
                };
            }
            if transport == Transport::Udp {
                let addr = addrs[0];
                let source = source_addr(config, &addr)?;
                Endpoint::Udp(net::udp_connect(addr, source)?)
            } else {
                match connect_tcp(lp, session, config, &addrs)? {
                    Ok(endpoint) => endpoint,
                    Err(outcome) => return Ok(outcome),
                }
            }
        }
    };
    let peer = endpoint
        .peer_description()
        .unwrap_or_else(|| "peer".to_string());
    if config.zero_io {
        if config.verbose {
            print_line(&zero_io_success(config, &endpoint));
        }
        return Ok(Outcome::Finished);
    }
    let local = endpoint.local_description();
    if config.verbose {
        print_line(&format!("connected to {peer} (from {local})"));
    }
    session.ui().set_addresses(Some(&local), Some(&peer));
    session.ui().new_connection(None);
    session.attach(endpoint, false, lp.registry())?;
    let outcome = drive(lp, session, config);
    let stats = session.detach(lp.registry());
    print_summary(config, stats);
    outcome
}

/// `-z HOST LOW-HIGH`: try each port in turn; `-v` reports each one. Succeeds when at
/// least one port was open.
fn scan_ports(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    host: &Host,
    first: u16,
    last: u16,
) -> Result<Outcome> {
    let mut any_open = false;
    for port in first..=last {
        let addrs = net::resolve(host, port, config.family)?;
        let found = if config.transport == Transport::Udp {
            probe_udp_addrs(lp, session, config, &addrs)
                .map(|r| r.map(|()| udp_probe_success(host, port)))
        } else {
            connect_tcp(lp, session, config, &addrs)
                .map(|r| r.map(|endpoint| zero_io_success(config, &endpoint)))
        };
        match found {
            Ok(Ok(success)) => {
                any_open = true;
                if config.verbose {
                    print_line(&success);
                }
            }
            Ok(Err(outcome)) => return Ok(outcome),
            Err(e) if config.verbose => print_line(&e.one_line()),
            Err(_) => {}
        }
    }
    if any_open {
        Ok(Outcome::Finished)
    } else {
        Err(Error::ScanFoundNothing {
            host: host_text(host),
            first,
            last,
        })
    }
}

/// Register a socket that is connecting (or probing) `addr` on `SOCKET`, and say so in
/// the status row.
fn watch_connecting(
    lp: &Loop,
    session: &mut Session,
    socket: &mut impl mio::event::Source,
    interest: Interest,
    addr: SocketAddr,
) -> Result<()> {
    lp.registry()
        .register(socket, SOCKET, interest)
        .map_err(|source| Error::Poll {
            what: "register socket",
            source,
        })?;
    session.ui().set_state(ConnState::Connecting);
    session.ui().set_addresses(None, Some(&addr.to_string()));
    Ok(())
}

/// `-z -u` over every address a name gave, in order, until one is not refused (as a TCP
/// connect tries each address); the error is the last refusal.
fn probe_udp_addrs(
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
    let mut socket = net::udp_connect(addr, source)?;
    watch_connecting(lp, session, &mut socket, Interest::READABLE, addr)?;
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
            match wait_for(lp, session, Some(SOCKET), Some(deadline))? {
                Wait::Ended(outcome) => break Ok(Err(outcome)),
                Wait::TimedOut => break Ok(Ok(())),
                Wait::Ready => {}
            }
        },
    };
    let _ = lp.registry().deregister(&mut socket);
    result
}

/// nc's wording for an open UDP port, which only the absence of a refusal shows.
fn udp_probe_success(host: &Host, port: u16) -> String {
    format!("connection to {} {port} (udp) succeeded", host_text(host))
}

/// nc's wording for an open port: `connection to HOST PORT succeeded`.
fn zero_io_success(config: &Config, endpoint: &Endpoint) -> String {
    let (host, port) = match &config.target {
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

fn host_text(host: &Host) -> String {
    match host {
        Host::Literal { ip, .. } => ip.to_string(),
        Host::Name(name) => name.clone(),
    }
}

/// Resolve `host` without blocking the loop: `getaddrinfo` blocks, for seconds when a
/// DNS server does not answer, so a name is looked up on a helper thread that wakes the
/// loop when done. Meanwhile signals end rnc at once and the screen stays live (Ctrl-C
/// in interactive mode). A literal address needs no thread.
fn resolve_waiting(
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
        let mut stream = match net::tcp_connect_start(*addr, source) {
            Ok(stream) => stream,
            Err(e) => {
                note_failure(config, addrs.len(), &e);
                last_error = Some(e);
                continue;
            }
        };
        watch_connecting(lp, session, &mut stream, Interest::WRITABLE, *addr)?;
        let deadline = config.wait.map(|w| Instant::now() + w);
        let result = loop {
            match wait_for(lp, session, Some(SOCKET), deadline)? {
                Wait::Ended(outcome) => {
                    let _ = lp.registry().deregister(&mut stream);
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
                Ok(_) => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(e) => break Err(failed(e)),
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
                .map(|a| canonical_addr(a).to_string())
                .unwrap_or_else(|_| "(unknown)".into()),
            StreamListener::Unix(_, file) => file.path().display().to_string(),
        }
    }

    fn accept(&mut self) -> io::Result<(Endpoint, String)> {
        match self {
            StreamListener::Tcp(l) => {
                let (stream, from) = l.accept()?;
                net::tune_accepted(&stream);
                Ok((Endpoint::Tcp(stream), canonical_addr(from).to_string()))
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

fn run_listener(lp: &mut Loop, session: &mut Session, config: &Config) -> Result<Outcome> {
    let asked_port_zero = matches!(config.target, Target::Inet { port: 0, .. });
    let announce = |session: &mut Session, local: &str, state: ConnState| {
        if config.verbose || asked_port_zero {
            print_line(&format!("listening on {local}"));
        }
        session.ui().set_state(state);
        session.ui().set_addresses(Some(local), None);
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
            let endpoint = Endpoint::Udp(net::udp_listener(&candidates)?);
            let local = endpoint.local_description();
            announce(session, &local, ConnState::WaitingForDatagram);
            return run_datagram_listener(lp, session, config, endpoint);
        }
        (Target::Unix(path), _) => {
            let (socket, file) = net::unix_datagram_listener(path)?;
            announce(
                session,
                &path.display().to_string(),
                ConnState::WaitingForDatagram,
            );
            // The file stays until the session ends.
            let endpoint = Endpoint::UnixDatagram(socket, None);
            let result = run_datagram_listener(lp, session, config, endpoint);
            drop(file);
            return result;
        }
    };
    let local = listener.local_description();
    announce(session, &local, ConnState::Listening);
    lp.registry()
        .register(listener.source(), LISTENER, Interest::READABLE)
        .map_err(|source| Error::Poll {
            what: "register listener",
            source,
        })?;
    let mut listener = Some(listener);
    let mut served = 0u64;
    loop {
        let Some(active) = listener.as_mut() else {
            return Ok(Outcome::Finished);
        };
        let (endpoint, from) = match accept_next(lp, session, active)? {
            Ok(accepted) => accepted,
            Err(outcome) => return Ok(outcome),
        };
        served += 1;
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
        let ui = session.ui();
        ui.new_connection(config.keep_open.then_some(served));
        ui.set_addresses(Some(&endpoint.local_description()), Some(&from));
        if config.keep_open {
            ui.note(&format!("client {served} from {from}"));
            if !config.verbose {
                ui.announce(&format!("client {served} connected from {from}"));
            }
        }
        session.attach(endpoint, false, lp.registry())?;
        let outcome = drive(lp, session, config);
        let stats = session.detach(lp.registry());
        session
            .ui()
            .end_connection(stats.map_or(0, |(sent, _, _)| sent));
        if let (true, false, Some((sent, received, _))) = (config.keep_open, config.verbose, stats)
        {
            session.ui().announce(&format!(
                "client {served} left ({sent} bytes sent, {received} received)"
            ));
        }
        print_summary(config, stats);
        match outcome {
            Ok(Outcome::Finished) if config.keep_open && !session.is_stdout_closed() => {
                session.ui().set_state(ConnState::Listening);
                session.ui().set_addresses(Some(&local), None);
            }
            Err(e) if config.keep_open && !matches!(e, Error::Stdio { .. }) => {
                // One client's failure does not end a `-k` listener (a broken stdin or
                // stdout would fail every client alike, so that does).
                print_line(&e.one_line());
                session.ui().set_state(ConnState::Listening);
            }
            other => return other,
        }
    }
}

/// Accept the next stream connection, waiting for it.
fn accept_next(
    lp: &mut Loop,
    session: &mut Session,
    listener: &mut StreamListener,
) -> Result<std::result::Result<(Endpoint, String), Outcome>> {
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
        match wait_for(lp, session, Some(LISTENER), deadline)? {
            Wait::Ended(outcome) => return Ok(Err(outcome)),
            Wait::Ready | Wait::TimedOut => {}
        }
    }
}

fn run_datagram_listener(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    endpoint: Endpoint,
) -> Result<Outcome> {
    session.ui().new_connection(None);
    session.attach(endpoint, true, lp.registry())?;
    let outcome = drive(lp, session, config);
    let stats = session.detach(lp.registry());
    print_summary(config, stats);
    outcome
}
