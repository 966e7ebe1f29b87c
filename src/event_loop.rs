//! The single-threaded mio loop: `Poll`, tokens, signals, and poll timeouts from
//! deadlines; `wait_for` keeps the screen and the keys alive while a phase (resolving,
//! connecting, accepting) waits for one token (`wait_any`: for any of many, as a scan's
//! connects), and `drive` runs a session's connection to its end.
//!
//! Only this file calls `poll`. It maps events to `Session` methods and never moves a
//! byte itself.

use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Registry, Token};
use signal_hook::consts::signal::{
    SIGALRM, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGUSR1, SIGUSR2, SIGWINCH,
};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::busy_poll::BusyPoll;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::net::endpoint::Endpoint;
use crate::relay::hub::{Hub, Ready, Watch};
use crate::relay::session::Session;

// Fixed tokens, one each per process.
/// Token for stdin.
const STDIN: Token = Token(0);
/// Token for stdout.
const STDOUT: Token = Token(1);
/// Token for the signal pipe.
const SIGNALS: Token = Token(2);
/// Token for the resolver thread's wake-up.
pub(crate) const RESOLVER: Token = Token(3);
/// Token for a stream listener.
pub(crate) const LISTENER: Token = Token(4);
/// Sockets (connecting, probing, connected) get tokens from a slab, starting here, so
/// the loop can hold any number of them.
const FIRST_SOCKET_TOKEN: usize = 16;

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

/// `Poll`, its events, the signal source, and the sockets' tokens.
pub(crate) struct Loop {
    poll: Poll,
    events: Events,
    signals: Signals,
    /// The sockets being watched, keyed by their token minus `FIRST_SOCKET_TOKEN`.
    sockets: Slab<()>,
    /// The token of the session's connection, while it has one.
    attached: Option<Token>,
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
    pub(crate) fn new() -> Result<Loop> {
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
            sockets: Slab::new(),
            attached: None,
        })
    }

    pub(crate) fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// Watch the session's stdin (readable) and stdout (writable), where epoll can.
    /// Done once per process: they outlive each connection.
    pub(crate) fn watch_stdio(&self, session: &mut Session) -> Result<()> {
        let (stdin, stdout) = session.stdio_to_watch();
        let refused =
            |e: &io::Error| e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error());
        if let Some(fd) = stdin {
            match self
                .registry()
                .register(&mut mio::unix::SourceFd(&fd), STDIN, Interest::READABLE)
            {
                Ok(()) => session.on_stdin_readable(false),
                // epoll refuses some fds (EPERM); they never block, so read them whenever.
                Err(e) if refused(&e) => session.on_stdin_unwatchable(),
                Err(source) => {
                    return Err(Error::Poll {
                        what: "register stdin",
                        source,
                    });
                }
            }
        }
        if let Some(fd) = stdout {
            match self.registry().register(
                &mut mio::unix::SourceFd(&fd),
                STDOUT,
                Interest::WRITABLE,
            ) {
                Ok(()) => {}
                Err(e) if refused(&e) => {}
                Err(source) => {
                    return Err(Error::Poll {
                        what: "register stdout",
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Watch a socket for `interest` under a token of its own.
    pub(crate) fn watch(
        &mut self,
        socket: &mut dyn mio::event::Source,
        interest: Interest,
    ) -> Result<Token> {
        let key = self.sockets.insert(());
        let token = Token(FIRST_SOCKET_TOKEN + key);
        match self.poll.registry().register(socket, token, interest) {
            Ok(()) => Ok(token),
            Err(source) => {
                self.sockets.remove(key);
                Err(Error::Poll {
                    what: "register socket",
                    source,
                })
            }
        }
    }

    /// Stop watching a socket and free its token.
    pub(crate) fn unwatch(&mut self, socket: &mut dyn mio::event::Source, token: Token) {
        let _ = self.poll.registry().deregister(socket);
        if let Some(key) = token.0.checked_sub(FIRST_SOCKET_TOKEN) {
            self.sockets.try_remove(key);
        }
    }

    /// Free the token of an fd that closed (closing it took it out of epoll).
    pub(crate) fn forget(&mut self, token: Token) {
        if let Some(key) = token.0.checked_sub(FIRST_SOCKET_TOKEN) {
            self.sockets.try_remove(key);
        }
    }

    /// Give `session` a connection on `endpoint`, watched both ways.
    /// `waiting_for_sender` marks a datagram listener that learns its peer from the first
    /// datagram.
    pub(crate) fn attach(
        &mut self,
        session: &mut Session,
        mut endpoint: Endpoint,
        waiting_for_sender: bool,
    ) -> Result<()> {
        let token = self.watch(endpoint.source(), Interest::READABLE | Interest::WRITABLE)?;
        self.attached = Some(token);
        session.attach(endpoint, waiting_for_sender);
        Ok(())
    }

    /// End the session's connection: stop watching its socket and close it. Returns
    /// `(bytes sent, bytes received, duration)` for the summary line.
    pub(crate) fn detach(&mut self, session: &mut Session) -> Option<(u64, u64, Duration)> {
        let (mut endpoint, stats) = session.detach()?;
        if let Some(token) = self.attached.take() {
            self.unwatch(endpoint.source(), token);
        }
        Some(stats)
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

    /// Append to `ready` the tokens of watched sockets (not the session's connection) that
    /// had an event in the last `wait`; epoll reports each fd once per wait.
    fn saw_sockets(&self, ready: &mut Vec<Token>) {
        for event in self.events.iter() {
            let token = event.token();
            let watched = token
                .0
                .checked_sub(FIRST_SOCKET_TOKEN)
                .is_some_and(|key| self.sockets.contains(key));
            if watched && Some(token) != self.attached {
                ready.push(token);
            }
        }
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
                token if Some(token) == self.attached => session.on_socket_event(
                    event.is_readable() || event.is_read_closed() || event.is_error(),
                    event.is_writable() || event.is_write_closed() || event.is_error(),
                    event.is_read_closed() || event.is_error(),
                    event.is_error() || (event.is_read_closed() && event.is_write_closed()),
                ),
                // LISTENER: the next `-k` connection waits in the backlog (or the accept
                // phase looks at it). SIGNALS: handled in `wait`. A connecting socket: its
                // phase looks at it (`wait_for`). Others: spurious, ignored.
                _ => {}
            }
        }
    }
}

impl Loop {
    /// Hand the last `wait`'s events that are not the session's to the hub: the listener
    /// and every client's fds.
    fn dispatch_hub(&self, hub: &mut Hub) {
        for event in self.events.iter() {
            let token = event.token();
            if matches!(token, STDIN | STDOUT | SIGNALS | RESOLVER) || Some(token) == self.attached
            {
                continue;
            }
            if token == LISTENER {
                hub.on_listener_ready();
                continue;
            }
            hub.on_event(
                token,
                Ready {
                    readable: event.is_readable() || event.is_read_closed() || event.is_error(),
                    writable: event.is_writable() || event.is_write_closed() || event.is_error(),
                    read_closed: event.is_read_closed() || event.is_error(),
                },
            );
        }
    }
}

/// Run a hub (many clients) and the session of the local user (stdin and stdout, over
/// the hub's socket pair) until a signal, Ctrl-C, or stdout's reader going away.
pub(crate) fn drive_hub(lp: &mut Loop, session: &mut Session, hub: &mut Hub) -> Result<Outcome> {
    loop {
        let more = session.pump()?;
        let more_hub = hub.pump(lp, session.ui())?;
        session.refresh_ui(Instant::now())?;
        if session.is_quit_requested() {
            return Ok(Outcome::Signal(SIGINT));
        }
        if session.is_done() {
            return Ok(Outcome::Finished);
        }
        let now = Instant::now();
        let deadline = if more || more_hub {
            Some(now)
        } else {
            [
                session.next_deadline(),
                session.ui_deadline(),
                hub.next_deadline(now),
            ]
            .into_iter()
            .flatten()
            .min()
        };
        let woke = lp.wait(deadline)?;
        if let Some(signal) = woke.ending_signal {
            return Ok(Outcome::Signal(signal));
        }
        lp.dispatch(session, &woke);
        lp.dispatch_hub(hub);
        let now = Instant::now();
        session.on_timer(now);
        hub.on_timer(now);
    }
}

impl Watch for Loop {
    fn watch(&mut self, source: &mut dyn mio::event::Source, interest: Interest) -> Result<Token> {
        Loop::watch(self, source, interest)
    }

    fn unwatch(&mut self, source: &mut dyn mio::event::Source, token: Token) {
        Loop::unwatch(self, source, token);
    }

    fn forget(&mut self, token: Token) {
        Loop::forget(self, token);
    }
}

/// How a wait for something other than the session ended.
pub(crate) enum Wait {
    /// The awaited token had an event.
    Ready,
    /// The deadline passed.
    TimedOut,
    /// A signal or the user (Ctrl-C) ended rnc.
    Ended(Outcome),
}

/// Wait for `token` (the connecting socket, the listener) until `deadline`, keeping the
/// terminal UI alive meanwhile: keys are read, the status row is drawn.
pub(crate) fn wait_for(
    lp: &mut Loop,
    session: &mut Session,
    token: Option<Token>,
    deadline: Option<Instant>,
) -> Result<Wait> {
    wait_until(lp, session, deadline, |lp| token.is_some_and(|t| lp.saw(t)))
}

/// Pump the session and poll until `ready` says the last events were what the phase waits
/// for, `deadline` passes, or a signal or Ctrl-C ends rnc.
fn wait_until(
    lp: &mut Loop,
    session: &mut Session,
    deadline: Option<Instant>,
    mut ready: impl FnMut(&Loop) -> bool,
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
        if ready(lp) {
            return Ok(Wait::Ready);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Wait::TimedOut);
        }
    }
}

/// Wait for `token` alone, with the session paused: nothing is read from stdin or drawn,
/// because the terminal is handed to a question (`tty/prompt.rs`) that reads the keys
/// itself. The session's readiness flags are still set, so no edge is lost. An ending
/// signal (Ctrl-C at the prompt) ends the wait. A resize needs nothing now: the screen is
/// redrawn at its current size afterwards. A stop (Ctrl-Z) is ignored while the question
/// is up, rather than leaving the terminal stopped with its echo off.
pub(crate) fn wait_paused(lp: &mut Loop, session: &mut Session, token: Token) -> Result<Wait> {
    loop {
        let woke = lp.wait(None)?;
        if let Some(signal) = woke.ending_signal {
            return Ok(Wait::Ended(Outcome::Signal(signal)));
        }
        lp.dispatch(session, &Woke::default());
        if lp.saw(token) {
            return Ok(Wait::Ready);
        }
    }
}

/// Wait until any watched socket (`Loop::watch`) has an event, or `deadline`, keeping the
/// terminal UI alive as `wait_for` does: for phases with many sockets in flight (a scan).
/// `Ready` appends the tokens that had events to `ready`; events may be spurious, so the
/// owner of each socket checks it.
pub(crate) fn wait_any(
    lp: &mut Loop,
    session: &mut Session,
    deadline: Option<Instant>,
    ready: &mut Vec<Token>,
) -> Result<Wait> {
    wait_until(lp, session, deadline, |lp| {
        let before = ready.len();
        lp.saw_sockets(ready);
        ready.len() > before
    })
}

pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    a.into_iter().chain(b).min()
}

/// Pump and poll until the session's connection is done.
pub(crate) fn drive(lp: &mut Loop, session: &mut Session, config: &Config) -> Result<Outcome> {
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
