//! Where a member's bytes go and when it may be read: the fan-out (`-k`, `--broker`,
//! `--chat`), outboxes written and filled, and the backpressure that holds back the
//! members feeding a full outbox.

use std::rc::Rc;
use std::time::Instant;

use super::{HIGH_WATER_BYTES, Hub, READS_PER_VISIT, room};
use crate::config::Fanout;
use crate::tty::ui::Ui;

impl Hub {
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
    pub(super) fn visit(&mut self, key: usize, ui: &mut Ui) -> bool {
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
    pub(super) fn wake_stalled(&mut self) {
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
    pub(super) fn broadcast(&mut self, except: Option<usize>, message: Vec<u8>) {
        let chunk: Rc<[u8]> = Rc::from(message);
        let mut keys = self.client_keys(except);
        keys.extend(self.local.filter(|&l| Some(l) != except));
        for key in keys {
            self.push(key, &chunk);
        }
    }

    /// `message` to one member.
    pub(super) fn send_to(&mut self, key: usize, message: Vec<u8>) {
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
}
