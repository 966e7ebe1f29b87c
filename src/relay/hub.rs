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

mod member;
mod outbox;
mod room;

use std::collections::HashMap;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use slab::Slab;

use crate::config::{ExecCommand, Fanout};
use crate::error::{Error, Result, describe_io};
use crate::event_loop::Loop;
use crate::net::access::AccessFilter;
use crate::net::endpoint::Endpoint;
use crate::net::listen::StreamListener;
use crate::notices::print_line;
use crate::relay::child::{ConnectionEnv, Reaper, spawn};
use crate::relay::tls::TlsLayer;
use crate::tty::status::ConnState;
use crate::tty::ui::Ui;

use member::{Member, Program, Role};
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
            marks: SenderMarks::default(),
            reaper: Reaper::new(verbose),
            scratch: vec![0; READ_BYTES],
            totals: (0, 0),
            shown_clients: None,
        }
    }

    /// Join the local user: `endpoint` is the hub's end of the session's socket pair.
    pub(crate) fn add_local(&mut self, lp: &mut Loop, mut endpoint: Endpoint) -> Result<()> {
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
        if token == crate::event_loop::LISTENER {
            self.accept_ready = true;
            return;
        }
        let Some(&(key, role)) = self.by_token.get(&token) else {
            return;
        };
        if let Some(member) = self.members.get_mut(key) {
            member.on_event(role, ready);
            self.mark_dirty(key);
        }
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
    pub(crate) fn pump(&mut self, lp: &mut Loop, ui: &mut Ui) -> Result<bool> {
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

    /// Accept every waiting client.
    fn accept(&mut self, lp: &mut Loop, ui: &mut Ui) -> Result<bool> {
        let mut progress = false;
        while self.accept_ready && self.accept_paused_until.is_none() {
            match self.listener.accept() {
                Ok((endpoint, from)) => {
                    progress = true;
                    self.admit(lp, ui, endpoint, from)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.accept_ready = false,
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e)
                    if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error())
                        || e.raw_os_error() == Some(rustix::io::Errno::NFILE.raw_os_error()) =>
                {
                    // Out of fds: the client waits in the backlog; accepting again at once
                    // would spin. The clients already here are served meanwhile.
                    if !self.warned_fd_limit {
                        print_line(&format!(
                            "accept on {}: {} ({} clients connected); retrying",
                            self.listener.local_description(),
                            describe_io(&e),
                            self.clients
                        ));
                        self.warned_fd_limit = true;
                    }
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
                }
                Err(source) => {
                    return Err(Error::Accept {
                        addr: self.listener.local_description(),
                        source,
                    });
                }
            }
        }
        Ok(progress)
    }

    /// A new client: checked against `--allow`/`--deny` and `-m`, then joined.
    fn admit(
        &mut self,
        lp: &mut Loop,
        ui: &mut Ui,
        mut endpoint: Endpoint,
        from: String,
    ) -> Result<()> {
        let addrs = endpoint.inet_addrs();
        if let Some((_, Some(peer))) = addrs
            && !self.filter.admits(peer.ip())
        {
            if self.opts.verbose {
                print_line(&format!("refused connection from {from} (--allow/--deny)"));
            }
            return Ok(());
        }
        if let Some(max) = self.opts.max_conns
            && self.clients >= max
        {
            if self.opts.verbose {
                print_line(&format!(
                    "refused connection from {from}: {max} clients connected already (-m {max})"
                ));
            }
            return Ok(());
        }
        self.served += 1;
        let number = self.served;
        let tls = match &self.tls {
            Some(config) => match rustls::ServerConnection::new(Arc::clone(config)) {
                Ok(conn) => Some(TlsLayer::new(conn)),
                Err(e) => {
                    print_line(&format!("TLS with {from}: {e}"));
                    return Ok(());
                }
            },
            None => None,
        };
        let program = match &self.opts.exec {
            Some(command) => {
                let env = ConnectionEnv {
                    proto: self.opts.proto,
                    local: addrs.map(|(local, _)| local),
                    remote: addrs.and_then(|(_, peer)| peer),
                };
                match spawn(command, &env) {
                    Ok((process, pipes)) => Some(Program::new(process, pipes)),
                    Err(e) => {
                        // The program cannot start for this client; the listener goes on.
                        print_line(&e.one_line());
                        return Ok(());
                    }
                }
            }
            None => None,
        };
        let token = lp.watch(endpoint.source(), Interest::READABLE | Interest::WRITABLE)?;
        let mut member = Member::new(number, from, endpoint, token, tls);
        let key_hint = self.members.vacant_key();
        if let Some(mut program) = program {
            program.watch(lp)?;
            for (token, role) in program.tokens() {
                self.by_token.insert(token, (key_hint, role));
            }
            member.program = Some(program);
        }
        let key = self.members.insert(member);
        debug_assert_eq!(key, key_hint);
        self.by_token.insert(token, (key, Role::Socket));
        self.clients += 1;
        if self.members[key].tls.is_none() {
            self.joined(key, ui);
        }
        self.mark_dirty(key);
        Ok(())
    }

    /// A client is in (its TLS handshake done): say so, and greet it in a chat room.
    fn joined(&mut self, key: usize, ui: &mut Ui) {
        let (number, addr) = {
            let m = &mut self.members[key];
            m.joined = true;
            (m.number, m.addr.clone())
        };
        self.wake_stalled();
        if self.opts.verbose {
            print_line(&format!("connection from {addr} (client {number})"));
        } else if ui.is_interactive() {
            ui.announce(&format!("client {number} connected from {addr}"));
        }
        if self.opts.fanout == Fanout::Chat && self.opts.exec.is_none() {
            let host = host_part(&addr);
            let others: Vec<(String, u64)> = self
                .members
                .iter()
                .filter(|(k, m)| *k != key && m.joined && Some(*k) != self.local)
                .map(|(_, m)| (host_part(&m.addr), m.number))
                .collect();
            self.broadcast(None, room::joined(&host, number).into_bytes());
            self.send_to(key, room::already_here(&others).into_bytes());
        }
    }

    /// Whether `key` may be read now (backpressure).
    fn may_read(&self, key: usize) -> bool {
        let local_has_room = self
            .local
            .is_none_or(|local| self.members[local].outbox.len() < HIGH_WATER_BYTES);
        if Some(key) == self.local {
            return self.clients > 0 && self.full == 0;
        }
        match self.opts.fanout {
            Fanout::Each => local_has_room,
            Fanout::Chat => local_has_room && self.full == 0,
            Fanout::Broker => self.full == 0,
        }
    }

    /// One member's turn: handshake, write its outbox, read it and route what it sent,
    /// or relay it and its program.
    fn visit(&mut self, key: usize, ui: &mut Ui) -> bool {
        let Some(member) = self.members.get_mut(key) else {
            return false;
        };
        if member.gone.is_some() {
            return true;
        }
        let mut progress = false;
        if member.tls.as_ref().is_some_and(|t| t.conn.is_handshaking()) {
            progress |= member.handshake();
            if member.gone.is_some() || member.tls.as_ref().is_some_and(|t| t.conn.is_handshaking())
            {
                return progress;
            }
            self.joined(key, ui);
        }
        if self.members[key].program.is_some() {
            let (moved, sent, received) = self.members[key].relay_program();
            self.totals.0 += sent;
            self.totals.1 += received;
            if moved {
                // A read or write limit may have stopped it with more to do: no new event
                // would come for that.
                self.mark_dirty(key);
            }
            return progress | moved;
        }
        progress |= self.flush(key);
        progress |= self.read(key);
        progress |= self.flush(key);
        progress
    }

    /// Write `key`'s outbox; send our FIN when it is due.
    fn flush(&mut self, key: usize) -> bool {
        let is_local = Some(key) == self.local;
        let shut_due = !is_local
            && self.opts.fanout == Fanout::Each
            && self.local_eof
            && self.opts.shutdown_on_eof;
        let member = &mut self.members[key];
        let before = member.outbox.len();
        let written = member.write_outbox();
        let after = member.outbox.len();
        if shut_due && after == 0 {
            member.shut_down_write();
        }
        if written == 0 {
            return false;
        }
        if is_local {
            self.totals.1 += written as u64;
        } else {
            self.totals.0 += written as u64;
        }
        if !is_local && before >= HIGH_WATER_BYTES && after < HIGH_WATER_BYTES {
            self.full -= 1;
            self.members[key].full_since = None;
        }
        // Room was made: whoever was held back may go on.
        self.wake_stalled();
        true
    }

    /// Visit again the members held back by backpressure or by nobody to send to.
    fn wake_stalled(&mut self) {
        for stalled in std::mem::take(&mut self.stalled) {
            self.mark_dirty(stalled);
        }
    }

    /// Read what `key` sent and route it.
    fn read(&mut self, key: usize) -> bool {
        let mut progress = false;
        for _ in 0..READS_PER_VISIT {
            if !self.members[key].readable || self.members[key].gone.is_some() {
                return progress;
            }
            if !self.may_read(key) {
                // Woken when an outbox makes room, or a client comes.
                self.stalled.push(key);
                return progress;
            }
            let mut scratch = std::mem::take(&mut self.scratch);
            let got = self.members[key].read_into(&mut scratch);
            match got {
                Some(0) => {
                    self.scratch = scratch;
                    self.on_eof(key);
                    return true;
                }
                Some(n) => {
                    self.route(key, &scratch[..n]);
                    self.scratch = scratch;
                    progress = true;
                }
                None => {
                    self.scratch = scratch;
                    return progress;
                }
            }
        }
        if self.members[key].readable {
            // The visit's reads ran out with more waiting: come back next round.
            self.mark_dirty(key);
        }
        progress
    }

    /// `key` sent its FIN.
    fn on_eof(&mut self, key: usize) {
        if Some(key) == self.local {
            self.local_eof = true;
            if self.opts.fanout == Fanout::Each {
                let keys: Vec<usize> = self.members.iter().map(|(k, _)| k).collect();
                for k in keys {
                    self.mark_dirty(k);
                }
            }
            return;
        }
        if self.opts.fanout == Fanout::Chat {
            let number = self.members[key].number;
            let mut lines = Vec::new();
            self.members[key]
                .lines
                .finish(|line| lines.push(room::chat_line(number, line)));
            for line in lines {
                self.broadcast(Some(key), line);
            }
        }
        // A client's EOF ends its connection.
        self.members[key].gone = Some(String::new());
        self.mark_dirty(key);
    }

    /// Send what `from` sent where the fan-out says.
    fn route(&mut self, from: usize, data: &[u8]) {
        let is_local = Some(from) == self.local;
        match self.opts.fanout {
            Fanout::Each if is_local => {
                let chunk: Rc<[u8]> = Rc::from(data);
                let keys: Vec<usize> = self.client_keys(None);
                for key in keys {
                    self.push(key, &chunk);
                }
            }
            Fanout::Each => {
                let Some(local) = self.local else { return };
                let number = self.members[from].number;
                let chunk: Rc<[u8]> = if self.opts.mark_senders {
                    Rc::from(self.marks.mark(number, data))
                } else {
                    Rc::from(data)
                };
                self.push(local, &chunk);
            }
            Fanout::Broker => {
                let chunk: Rc<[u8]> = Rc::from(data);
                for key in self.client_keys(Some(from)) {
                    self.push(key, &chunk);
                }
            }
            Fanout::Chat => {
                let number = self.members[from].number;
                let mut lines = Vec::new();
                self.members[from]
                    .lines
                    .feed(data, |line| lines.push(room::chat_line(number, line)));
                for line in lines {
                    self.broadcast(Some(from), line);
                }
            }
        }
    }

    /// Clients that take bytes now (joined, not leaving), except `except`.
    fn client_keys(&self, except: Option<usize>) -> Vec<usize> {
        self.members
            .iter()
            .filter(|(k, m)| {
                Some(*k) != except && Some(*k) != self.local && m.joined && m.gone.is_none()
            })
            .map(|(k, _)| k)
            .collect()
    }

    /// `message` to every member but `except` (the local one included).
    fn broadcast(&mut self, except: Option<usize>, message: Vec<u8>) {
        let chunk: Rc<[u8]> = Rc::from(message);
        let mut keys = self.client_keys(except);
        keys.extend(self.local.filter(|&l| Some(l) != except));
        for key in keys {
            self.push(key, &chunk);
        }
    }

    /// `message` to one member.
    fn send_to(&mut self, key: usize, message: Vec<u8>) {
        let chunk: Rc<[u8]> = Rc::from(message);
        self.push(key, &chunk);
    }

    /// Queue `chunk` for `key`; a client too slow for the room is let go.
    fn push(&mut self, key: usize, chunk: &Rc<[u8]>) {
        let is_local = Some(key) == self.local;
        let member = &mut self.members[key];
        let before = member.outbox.len();
        member.outbox.push(chunk);
        let after = member.outbox.len();
        if !is_local && before < HIGH_WATER_BYTES && after >= HIGH_WATER_BYTES {
            self.full += 1;
            member.full_since = Some(Instant::now());
        }
        self.mark_dirty(key);
    }

    /// Close and forget the members that ended, saying so.
    fn remove_gone(&mut self, lp: &mut Loop, ui: &mut Ui) -> bool {
        let gone: Vec<usize> = self
            .members
            .iter()
            .filter(|(_, m)| m.gone.is_some())
            .map(|(k, _)| k)
            .collect();
        for &key in &gone {
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
