//! The hub: a listener serving many clients at once on the one loop (`-k`, `--broker`,
//! `--chat`, and `-k` with `-e`/`-c`). Each client is a member with its own socket, its own
//! bounded outbox and, with `-e`, its own program. The listener's own user (stdin and
//! stdout, or the terminal's editor and screen) is a member too: the session relays them
//! as for one connection, over an in-process socket pair whose other end is the local
//! member, so the screen, the editor, `-C` and the EOF rules stay in one place.
//!
//! Where bytes go: with `-k`, stdin to every client and every client to stdout; with
//! `--broker`, every member to every other client; with `--chat`, each line to everyone
//! else as `<userN> line`. Backpressure: plain `-k` loses nothing (stdin is read only as
//! fast as the slowest client takes it, clients only as fast as stdout takes them); in
//! `--broker` and `--chat` the room also waits for its slowest member, but a client whose
//! outbox stays full for `SLOW_CLIENT_GRACE` is disconnected, so one stuck client never
//! stalls the room for longer, and memory stays bounded.
//!
//! Only members with something to do are visited (`dirty`), so 10,000 idle clients cost
//! nothing per event. The loop hands events over with `on_event`; `pump` moves bytes.

mod admit;
mod fanout;
mod member;
mod outbox;
mod room;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use slab::Slab;

use crate::config::{ExecCommand, Fanout};
use crate::error::Result;
use crate::net::access::AccessFilter;
use crate::net::endpoint::Endpoint;
use crate::net::listener::StreamListener;
use crate::notices::print_line;
use crate::relay::child::Reaper;
use crate::tty::status::ConnState;
use crate::tty::ui::Ui;

use member::{Member, Role};
use room::SenderMarks;

/// An outbox this full holds back what feeds it (plain `-k`), and the local member's
/// holds back the clients.
const HIGH_WATER_BYTES: usize = 256 * 1024;
/// In `--broker` and `--chat`, a client whose outbox stays over `HIGH_WATER_BYTES` this
/// long holds the room back: it is disconnected, and the others go on.
const SLOW_CLIENT_GRACE: Duration = Duration::from_secs(2);
/// Bytes read from one member at a time.
const READ_BYTES: usize = 64 * 1024;
/// Reads from one member per visit (fairness between busy members).
const READS_PER_VISIT: usize = 4;
/// How long to wait before accepting again when out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Readiness the loop reports for one token.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ready {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer's FIN or an error came with it: read until EOF or `WouldBlock`.
    pub(crate) read_closed: bool,
}

/// What the hub needs from the event loop, which owns every token and all registration:
/// tokens for its sockets and its programs' pipes.
pub(crate) trait Watch {
    /// Watch `source` for `interest` under a new token.
    fn watch(&mut self, source: &mut dyn mio::event::Source, interest: Interest) -> Result<Token>;
    /// Stop watching `source` and free its token.
    fn unwatch(&mut self, source: &mut dyn mio::event::Source, token: Token);
    /// Free the token of an fd that closed (closing took it out of epoll).
    fn forget(&mut self, token: Token);
}

/// How the hub serves, from `Config`.
pub(crate) struct HubOptions {
    pub(crate) fanout: Fanout,
    /// `-e`/`-c`: a program per client instead of the fan-out.
    pub(crate) exec: Option<ExecCommand>,
    /// `-m`.
    pub(crate) max_conns: Option<usize>,
    /// `-v`.
    pub(crate) verbose: bool,
    /// Send each client our FIN once stdin has ended (plain `-k`).
    pub(crate) shutdown_on_eof: bool,
    /// `-w`: a client idle this long is closed.
    pub(crate) idle_timeout: Option<Duration>,
    /// `tcp` or `unix`, for the program's environment.
    pub(crate) proto: &'static str,
    /// The local reader is a person at a terminal: mark who sent what.
    pub(crate) mark_senders: bool,
}

/// Many clients on one loop.
pub(crate) struct Hub {
    opts: HubOptions,
    listener: StreamListener,
    filter: AccessFilter,
    tls: Option<Arc<rustls::ServerConfig>>,
    members: Slab<Member>,
    /// Which member (and which of its fds) a token belongs to.
    by_token: HashMap<Token, (usize, Role)>,
    /// The local member (stdin and stdout), when there is one.
    local: Option<usize>,
    /// stdin has ended.
    local_eof: bool,
    /// The listener may have clients waiting.
    accept_ready: bool,
    /// Out of fds: accept again after this.
    accept_paused_until: Option<Instant>,
    warned_fd_limit: bool,
    /// Clients accepted so far (numbers them).
    served: u64,
    /// Clients connected now.
    clients: usize,
    /// Clients whose outbox is at or over `HIGH_WATER_BYTES`.
    full: usize,
    /// Members to visit at the next pump.
    dirty: Vec<usize>,
    /// Members that could be read but were held back by a full outbox.
    stalled: Vec<usize>,
    /// Members found leaving, to close and forget at the end of the pump round.
    leaving: Vec<usize>,
    marks: SenderMarks,
    reaper: Reaper,
    scratch: Vec<u8>,
    /// Bytes to and from clients, over the hub's life.
    totals: (u64, u64),
    /// The client count the status row shows.
    shown_clients: Option<usize>,
}

impl Hub {
    /// A hub on `listener` (already registered under the loop's listener token).
    pub(crate) fn new(
        opts: HubOptions,
        listener: StreamListener,
        filter: AccessFilter,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Hub {
        let verbose = opts.verbose;
        Hub {
            opts,
            listener,
            filter,
            tls,
            members: Slab::new(),
            by_token: HashMap::new(),
            local: None,
            local_eof: false,
            accept_ready: true,
            accept_paused_until: None,
            warned_fd_limit: false,
            served: 0,
            clients: 0,
            full: 0,
            dirty: Vec::new(),
            stalled: Vec::new(),
            leaving: Vec::new(),
            marks: SenderMarks::default(),
            reaper: Reaper::new(verbose),
            scratch: vec![0; READ_BYTES],
            totals: (0, 0),
            shown_clients: None,
        }
    }

    /// Join the local user: `endpoint` is the hub's end of the session's socket pair.
    pub(crate) fn add_local(&mut self, lp: &mut dyn Watch, mut endpoint: Endpoint) -> Result<()> {
        let token = lp.watch(endpoint.source(), Interest::READABLE | Interest::WRITABLE)?;
        let key = self
            .members
            .insert(Member::new(0, "stdin".into(), endpoint, token, None));
        self.by_token.insert(token, (key, Role::Socket));
        self.local = Some(key);
        self.mark_dirty(key);
        Ok(())
    }

    /// The loop saw `ready` on `token`; unknown tokens are ignored.
    pub(crate) fn on_event(&mut self, token: Token, ready: Ready) {
        let Some(&(key, role)) = self.by_token.get(&token) else {
            return;
        };
        if let Some(member) = self.members.get_mut(key) {
            member.on_event(role, ready);
            self.mark_dirty(key);
        }
    }

    /// The listener may have clients waiting.
    pub(crate) fn on_listener_ready(&mut self) {
        self.accept_ready = true;
    }

    /// When the hub next needs a turn without an event: the accept back-off, idle
    /// clients, programs being stopped.
    pub(crate) fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let idle = self.opts.idle_timeout.and_then(|idle| {
            self.members
                .iter()
                .filter(|(key, _)| Some(*key) != self.local)
                .map(|(_, m)| m.last_activity + idle)
                .min()
        });
        [
            self.accept_paused_until,
            idle,
            self.reaper.next_deadline(now),
            self.next_slow_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// `--broker`, `--chat`: when the first client holding the room back runs out of
    /// grace (looked for only while one is).
    fn next_slow_deadline(&self) -> Option<Instant> {
        if self.full == 0 || self.opts.fanout == Fanout::Each {
            return None;
        }
        self.members
            .iter()
            .filter_map(|(_, m)| m.full_since)
            .min()
            .map(|since| since + SLOW_CLIENT_GRACE)
    }

    /// Close idle clients (`-w`) and, in a room, clients too slow for it; reap programs.
    pub(crate) fn on_timer(&mut self, now: Instant) {
        self.reaper.poll(now);
        if self.next_slow_deadline().is_some_and(|at| now >= at) {
            let slow: Vec<usize> = self
                .members
                .iter()
                .filter(|(_, m)| m.full_since.is_some_and(|s| now >= s + SLOW_CLIENT_GRACE))
                .map(|(key, _)| key)
                .collect();
            for key in slow {
                self.members[key].gone = Some(format!(
                    "too slow: what it was sent waited over {} s",
                    SLOW_CLIENT_GRACE.as_secs()
                ));
                self.mark_dirty(key);
            }
        }
        if let Some(idle) = self.opts.idle_timeout {
            let expired: Vec<usize> = self
                .members
                .iter()
                .filter(|(key, m)| Some(*key) != self.local && now >= m.last_activity + idle)
                .map(|(key, _)| key)
                .collect();
            for key in expired {
                self.members[key].gone = Some(format!("idle for {}", idle.as_secs_f64()));
                self.mark_dirty(key);
            }
        }
        if self.accept_paused_until.is_some_and(|at| now >= at) {
            self.accept_paused_until = None;
            self.accept_ready = true;
        }
    }

    /// Accept, handshake, move bytes and close what ended, until nothing more moves now.
    /// Returns `true` when work may remain.
    pub(crate) fn pump(&mut self, lp: &mut dyn Watch, ui: &mut Ui) -> Result<bool> {
        for _ in 0..16 {
            let mut progress = self.accept(lp, ui)?;
            let visit = std::mem::take(&mut self.dirty);
            for &key in &visit {
                if let Some(member) = self.members.get_mut(key) {
                    member.dirty = false;
                }
            }
            for key in visit {
                progress |= self.visit(key, ui);
                if self.members.get(key).is_some_and(|m| m.gone.is_some())
                    && !self.leaving.contains(&key)
                {
                    self.leaving.push(key);
                }
            }
            progress |= self.remove_gone(lp, ui);
            if !progress {
                break;
            }
        }
        ui.set_bytes(self.totals.0, self.totals.1);
        if self.shown_clients != Some(self.clients) {
            self.shown_clients = Some(self.clients);
            let count = match self.clients {
                0 => "no clients".to_string(),
                1 => "1 client".to_string(),
                n => format!("{n} clients"),
            };
            // "listening" while nobody is there (a typed line then says it waits).
            ui.set_state(if self.clients == 0 {
                ConnState::Listening
            } else {
                ConnState::Connected
            });
            ui.set_addresses(Some(&self.listener.local_description()), Some(&count));
        }
        Ok(!self.dirty.is_empty())
    }

    /// Stop every program (at exit).
    pub(crate) fn finish(&mut self) {
        for (_, member) in self.members.iter_mut() {
            if let Some(program) = member.program.take() {
                self.reaper.end(program.process, Instant::now(), true);
            }
        }
        self.reaper.finish();
    }

    fn mark_dirty(&mut self, key: usize) {
        if let Some(member) = self.members.get_mut(key)
            && !member.dirty
        {
            member.dirty = true;
            self.dirty.push(key);
        }
    }

    /// Close and forget the members that ended, saying so.
    fn remove_gone(&mut self, lp: &mut dyn Watch, ui: &mut Ui) -> bool {
        // Only the members a visit found leaving: no walk over every client.
        let gone = std::mem::take(&mut self.leaving);
        for &key in &gone {
            if self.members.get(key).is_none_or(|m| m.gone.is_none()) {
                continue;
            }
            let mut member = self.members.remove(key);
            for (token, _) in member.tokens() {
                self.by_token.remove(&token);
            }
            member.unwatch(lp);
            if Some(key) == self.local {
                // The session closed its end: nothing more comes from stdin.
                self.local = None;
                self.local_eof = true;
                continue;
            }
            self.clients -= 1;
            if member.outbox.len() >= HIGH_WATER_BYTES {
                self.full -= 1;
            }
            if let Some(program) = member.program.take() {
                let program_done = program.output_ended();
                self.reaper
                    .end(program.process, Instant::now(), !program_done);
            }
            // `-vvv`: the kernel's view of the connection as rnc lets it go; `-vv`: the
            // close itself.
            member.trace_close();
            let departure = Departure {
                number: member.number,
                addr: std::mem::take(&mut member.addr),
                reason: member.gone.take().unwrap_or_default(),
                joined: member.joined,
                bytes: (member.bytes_out, member.bytes_in),
                lasted: member.started.elapsed(),
            };
            // Closed before it is reported, so whoever reads the report sees the fd gone.
            drop(member);
            self.say_left(&departure, ui);
        }
        if !gone.is_empty() {
            self.wake_stalled();
        }
        !gone.is_empty()
    }

    /// `-v` and the transcript: a client left, and why when it was not its own FIN.
    fn say_left(&mut self, member: &Departure, ui: &mut Ui) {
        let reason = member.reason.as_str();
        let why = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        if let Some(local) = self.local
            && let Some(newline) = self.marks.close(member.number)
        {
            self.send_to(local, newline.to_vec());
        }
        if self.opts.verbose {
            print_line(&format!(
                "client {} from {} left{why}",
                member.number, member.addr
            ));
            print_line(&format!(
                "{} bytes sent, {} bytes received in {:.3} s",
                member.bytes.0,
                member.bytes.1,
                member.lasted.as_secs_f64()
            ));
        } else if ui.is_interactive() {
            ui.announce(&format!(
                "client {} left{why} ({} bytes sent, {} received)",
                member.number, member.bytes.0, member.bytes.1
            ));
        } else if !reason.is_empty() && !reason.starts_with("idle") {
            print_line(&format!(
                "client {} from {}{why}",
                member.number, member.addr
            ));
        }
        if self.opts.fanout == Fanout::Chat && member.joined {
            self.broadcast(None, room::left(member.number).into_bytes());
        }
    }
}

/// What is said of a client that left.
struct Departure {
    number: u64,
    addr: String,
    /// Why, when it was not its own EOF.
    reason: String,
    /// It had been greeted (a chat room says goodbye).
    joined: bool,
    /// Bytes sent to it and received from it.
    bytes: (u64, u64),
    lasted: Duration,
}

/// An address without its port, as ncat's chat names members (`127.0.0.1`).
fn host_part(addr: &str) -> String {
    match addr.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        _ => addr.to_string(),
    }
}
