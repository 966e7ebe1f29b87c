//! One member of the hub: a client's socket (with its TLS layer, if any), its outbox and
//! its readiness; or, with `-e`, a client and its program joined by two `Direction`s
//! (socket → program's stdin, program's stdout → socket) with the EOF rules of `-e`: the
//! client's EOF closes the program's stdin, the program's EOF half-closes the socket, and
//! the member is done when both are.

use std::io;
use std::time::Instant;

use mio::Token;
use mio::unix::SourceFd;

use super::outbox::Outbox;
use super::room::Lines;
use super::{Ready, Watch};
use crate::error::describe_io;
use crate::net::endpoint::Endpoint;
use crate::relay::child::{ChildPipes, ChildProgram};
use crate::relay::direction::{Direction, Source};
use crate::relay::ends::{SocketSink, SocketSource, StdinSource, StdoutSink};
use crate::relay::stdio::StdStream;
use crate::relay::tls::{TlsLayer, TlsSink, TlsSource};
use crate::trace;

/// Each way between a client and its program holds at most this much.
const PROGRAM_QUEUE_BYTES: usize = 64 * 1024;
/// Bytes per read between a client and its program, and reads per visit.
const PROGRAM_READ_BYTES: usize = 64 * 1024;
const PROGRAM_READS: usize = 4;

/// Which of a member's fds a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Socket,
    /// The program's stdout (readable).
    ProgramOut,
    /// The program's stdin (writable).
    ProgramIn,
}

/// A client (or the local user) in the hub.
pub(super) struct Member {
    /// `client N` (0: the local user).
    pub(super) number: u64,
    /// Its address, for messages.
    pub(super) addr: String,
    endpoint: Endpoint,
    token: Token,
    /// `--tls`: the layer, handshaking at first.
    pub(super) tls: Option<TlsLayer>,
    /// `-e`: its program.
    pub(super) program: Option<Program>,
    /// Its socket may be read.
    pub(super) readable: bool,
    /// Its socket may be written.
    writable: bool,
    /// An event carried its FIN or an error: read until EOF.
    read_closed_seen: bool,
    /// We sent our FIN.
    shut: bool,
    /// It is in: counted, greeted, given bytes (after its TLS handshake).
    pub(super) joined: bool,
    /// It is to be removed; the words say why (empty: its own EOF).
    pub(super) gone: Option<String>,
    /// It is on the hub's visit list.
    pub(super) dirty: bool,
    /// Bytes waiting for it.
    pub(super) outbox: Outbox,
    /// Since when its outbox has been at or over the high-water mark.
    pub(super) full_since: Option<Instant>,
    /// `--chat`: its partial line.
    pub(super) lines: Lines,
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
    pub(super) started: Instant,
    pub(super) last_activity: Instant,
}

impl Member {
    pub(super) fn new(
        number: u64,
        addr: String,
        endpoint: Endpoint,
        token: Token,
        tls: Option<TlsLayer>,
    ) -> Member {
        let now = Instant::now();
        Member {
            number,
            addr,
            endpoint,
            token,
            tls,
            program: None,
            readable: true,
            writable: true,
            read_closed_seen: false,
            shut: false,
            joined: false,
            gone: None,
            dirty: false,
            outbox: Outbox::default(),
            full_since: None,
            lines: Lines::default(),
            bytes_in: 0,
            bytes_out: 0,
            started: now,
            last_activity: now,
        }
    }

    /// Its tokens: the socket's, and its program's pipes'.
    pub(super) fn tokens(&self) -> Vec<(Token, Role)> {
        let mut tokens = vec![(self.token, Role::Socket)];
        if let Some(program) = &self.program {
            tokens.extend(program.tokens());
        }
        tokens
    }

    /// Stop watching its fds and free their tokens.
    pub(super) fn unwatch(&mut self, lp: &mut dyn Watch) {
        lp.unwatch(self.endpoint.source(), self.token);
        if let Some(program) = &mut self.program {
            program.unwatch(lp);
        }
    }

    /// `-vvv`'s `TCP_INFO` and `-vv`'s `close(FD)` as the member goes.
    pub(super) fn trace_close(&self) {
        use std::os::fd::AsRawFd;
        if self.endpoint.is_tcp() {
            trace::snapshot("close", self.endpoint.fd());
        }
        let fd = self.endpoint.fd().as_raw_fd();
        trace::call(|| format!("close({fd})"));
    }

    /// Why it went, in the words `-v` uses: a TCP reset is named as one.
    fn lost(&self, e: &io::Error) -> String {
        if e.kind() == io::ErrorKind::ConnectionReset && self.endpoint.is_tcp() {
            if self.number > 0 {
                trace::snapshot("reset", self.endpoint.fd());
            }
            "it reset the connection (RST)".into()
        } else {
            describe_io(e)
        }
    }

    /// The loop saw `ready` on one of its fds.
    pub(super) fn on_event(&mut self, role: Role, ready: Ready) {
        match role {
            Role::Socket => {
                self.readable |= ready.readable;
                self.writable |= ready.writable;
                self.read_closed_seen |= ready.read_closed;
                if let Some(program) = &mut self.program {
                    program.up.source_ready |= ready.readable;
                    program.down.sink_ready |= ready.writable;
                }
            }
            Role::ProgramOut => {
                if let Some(program) = &mut self.program {
                    program.down.source_ready = true;
                    // Its EOF is pending: a short read no longer means "empty".
                    program.from_closed_seen |= ready.read_closed;
                }
            }
            Role::ProgramIn => {
                if let Some(program) = &mut self.program {
                    program.up.sink_ready = true;
                }
            }
        }
    }

    /// One step of the TLS handshake; `true` when something happened (done or failed).
    pub(super) fn handshake(&mut self) -> bool {
        let Some(tls) = &mut self.tls else {
            return false;
        };
        match tls.handshake_step(&mut self.endpoint) {
            Ok(true) => {
                // Plaintext may have come with the last handshake records.
                self.readable = true;
                self.last_activity = Instant::now();
                true
            }
            Ok(false) => false,
            Err(e) => {
                self.gone = Some(format!("TLS handshake: {}", describe_io(&e)));
                true
            }
        }
    }

    /// One read of what it sent into `buf`: `Some(0)` at its EOF, `None` when nothing
    /// is there (or it failed: then `gone` says why).
    pub(super) fn read_into(&mut self, buf: &mut [u8]) -> Option<usize> {
        let result = match &mut self.tls {
            Some(tls) => TlsSource {
                tls,
                endpoint: &mut self.endpoint,
            }
            .read(buf),
            None => self.endpoint.read(buf),
        };
        match result {
            Ok(0) => {
                self.readable = false;
                if self.tls.as_ref().is_some_and(|t| t.truncated) {
                    self.gone = Some("closed without a TLS close_notify".into());
                }
                Some(0)
            }
            Ok(n) => {
                self.bytes_in += n as u64;
                self.last_activity = Instant::now();
                if n < buf.len() && self.tls.is_none() && !self.read_closed_seen {
                    // A stream socket returns less than asked only when it is empty.
                    self.readable = false;
                }
                Some(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                None
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
            Err(e) => {
                self.readable = false;
                self.gone = Some(self.lost(&e));
                None
            }
        }
    }

    /// Write its outbox as far as the socket takes it; returns the bytes written.
    pub(super) fn write_outbox(&mut self) -> usize {
        if !self.writable || self.gone.is_some() {
            return 0;
        }
        let result = match &mut self.tls {
            Some(tls) => {
                if let Err(e) = tls.flush(&mut self.endpoint) {
                    self.gone = Some(describe_io(&e));
                    return 0;
                }
                if self.outbox.is_empty() {
                    return 0;
                }
                self.outbox.write_to(&mut TlsSink {
                    tls,
                    endpoint: &mut self.endpoint,
                })
            }
            None if self.outbox.is_empty() => return 0,
            None => self.outbox.write_to(&mut SocketSink {
                endpoint: &mut self.endpoint,
            }),
        };
        match result {
            Ok((n, all)) => {
                self.writable &= all;
                self.bytes_out += n as u64;
                if n > 0 {
                    self.last_activity = Instant::now();
                }
                n
            }
            Err(e) => {
                self.outbox.clear();
                self.gone = Some(self.lost(&e));
                0
            }
        }
    }

    /// Send our FIN (after TLS's close_notify), once.
    pub(super) fn shut_down_write(&mut self) {
        if self.shut {
            return;
        }
        self.shut = true;
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
            let _ = tls.flush(&mut self.endpoint);
        }
        let _ = self.endpoint.shutdown_write();
    }

    /// `-e`: move bytes between the client and its program. Returns whether anything
    /// moved, and the bytes sent to and received from the client.
    pub(super) fn relay_program(&mut self) -> (bool, u64, u64) {
        let Some(mut program) = self.program.take() else {
            return (false, 0, 0);
        };
        let result = self.relay_with(&mut program);
        self.program = Some(program);
        match result {
            Ok(moved) => moved,
            Err(e) => {
                self.gone = Some(self.lost(&e));
                (true, 0, 0)
            }
        }
    }

    fn relay_with(&mut self, program: &mut Program) -> io::Result<(bool, u64, u64)> {
        let mut moved = false;
        // The program's stdout → the client.
        if let Some(out) = &mut program.from_program {
            let filled = program
                .down
                .fill(
                    &mut StdinSource {
                        stdin: out,
                        short_read_drains: !program.from_closed_seen,
                    },
                    PROGRAM_READ_BYTES,
                    PROGRAM_READS,
                )
                .unwrap_or_else(|_| {
                    // A read error on our own pipe: treat it as the program's EOF.
                    program.down.source_eof = true;
                    Default::default()
                });
            moved |= filled.bytes > 0 || filled.eof;
        }
        let sent = match &mut self.tls {
            Some(tls) => program.down.drain(&mut TlsSink {
                tls,
                endpoint: &mut self.endpoint,
            })?,
            None => program.down.drain(&mut SocketSink {
                endpoint: &mut self.endpoint,
            })?,
        };
        if program.down.source_eof && program.down.is_empty() && !self.shut {
            self.shut_down_write();
            moved = true;
        }
        // The client → the program's stdin.
        let filled = match &mut self.tls {
            Some(tls) => program.up.fill(
                &mut TlsSource {
                    tls,
                    endpoint: &mut self.endpoint,
                },
                PROGRAM_READ_BYTES,
                PROGRAM_READS,
            )?,
            None => program.up.fill(
                &mut SocketSource {
                    endpoint: &mut self.endpoint,
                    read_closed_seen: self.read_closed_seen,
                },
                PROGRAM_READ_BYTES,
                PROGRAM_READS,
            )?,
        };
        moved |= filled.bytes > 0 || filled.eof || sent > 0;
        // Room made in the queue must be filled again at once: the socket's data is
        // already waiting, and no new edge will say so.
        moved |= program.feed_stdin();
        let now = Instant::now();
        if filled.bytes > 0 || sent > 0 {
            self.last_activity = now;
        }
        self.bytes_in += filled.bytes as u64;
        self.bytes_out += sent as u64;
        let up_done = program.up.source_eof && program.up.is_empty();
        let down_done = program.down.source_eof && program.down.is_empty() && self.shut;
        if up_done && down_done {
            self.gone = Some(String::new());
            moved = true;
        }
        Ok((moved, sent as u64, filled.bytes as u64))
    }
}

/// A client's program: its pipes, their tokens, and the two directions between it and
/// the client.
pub(super) struct Program {
    pub(super) process: ChildProgram,
    /// Its stdout, until its EOF.
    from_program: Option<StdStream>,
    /// Its stdin, until the client's EOF has been passed on (closing it).
    to_program: Option<StdStream>,
    from_token: Option<Token>,
    to_token: Option<Token>,
    /// An event said the program closed its stdout: read it until EOF.
    from_closed_seen: bool,
    /// The client → the program.
    up: Direction,
    /// The program → the client.
    down: Direction,
}

impl Program {
    pub(super) fn new(process: ChildProgram, pipes: ChildPipes) -> Program {
        Program {
            process,
            from_program: Some(pipes.from_program),
            to_program: Some(pipes.to_program),
            from_token: None,
            to_token: None,
            from_closed_seen: false,
            up: Direction::new(PROGRAM_QUEUE_BYTES),
            down: Direction::new(PROGRAM_QUEUE_BYTES),
        }
    }

    /// Watch its pipes.
    pub(super) fn watch(&mut self, lp: &mut dyn Watch) -> crate::error::Result<()> {
        if let Some(out) = &self.from_program {
            let fd = out.raw_fd();
            self.from_token = Some(lp.watch(&mut SourceFd(&fd), mio::Interest::READABLE)?);
        }
        if let Some(inp) = &self.to_program {
            let fd = inp.raw_fd();
            self.to_token = Some(lp.watch(&mut SourceFd(&fd), mio::Interest::WRITABLE)?);
        }
        Ok(())
    }

    /// Whether the program closed its stdout (it is done, or about to be).
    pub(super) fn output_ended(&self) -> bool {
        self.down.source_eof
    }

    pub(super) fn tokens(&self) -> Vec<(Token, Role)> {
        let mut tokens = Vec::new();
        tokens.extend(self.from_token.map(|t| (t, Role::ProgramOut)));
        tokens.extend(self.to_token.map(|t| (t, Role::ProgramIn)));
        tokens
    }

    fn unwatch(&mut self, lp: &mut dyn Watch) {
        // A closed pipe left epoll when it closed; the token is freed either way.
        for token in [self.from_token.take(), self.to_token.take()]
            .into_iter()
            .flatten()
        {
            lp.forget(token);
        }
        self.from_program = None;
        self.to_program = None;
    }

    /// Write what the client sent to the program's stdin; close it after the client's
    /// EOF. A program that stopped reading (EPIPE) gets nothing more: the client's bytes
    /// are read and dropped, so its EOF is still seen. Returns whether anything moved.
    fn feed_stdin(&mut self) -> bool {
        let mut moved = false;
        if let Some(inp) = &mut self.to_program
            && !self.up.sink_closed
        {
            match self.up.drain(&mut StdoutSink {
                stdout: inp,
                short_write_fills: true,
            }) {
                Ok(n) => moved |= n > 0,
                Err(_) => self.up.sink_closed = true,
            }
        }
        if self.up.sink_closed && !self.up.is_empty() {
            self.up.queue.clear();
            moved = true;
        }
        if self.up.source_eof && self.up.is_empty() && self.to_program.is_some() {
            // Closing our end is the program's EOF.
            self.to_program = None;
            moved = true;
        }
        if self.down.source_eof {
            self.from_program = None;
        }
        moved
    }
}
