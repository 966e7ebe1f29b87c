//! A new client of the hub: accepting (with the back-off at the open-file limit), the
//! checks right after `accept` (`--allow`/`--deny`, `-m`), its TLS layer and `-e`
//! program, and the greeting once it is in (the `-v` line, the transcript, a chat room's
//! announcements).

use std::io;
use std::sync::Arc;
use std::time::Instant;

use mio::Interest;

use super::member::{Member, Program, Role};
use super::{ACCEPT_BACKOFF, Hub, Watch, host_part, room};
use crate::config::Fanout;
use crate::error::{Error, Result, describe_io};
use crate::net::endpoint::Endpoint;
use crate::notices::print_line;
use crate::relay::child::{ConnectionEnv, spawn};
use crate::relay::tls::TlsLayer;
use crate::tty::ui::Ui;

impl Hub {
    /// Accept every waiting client.
    pub(super) fn accept(&mut self, lp: &mut dyn Watch, ui: &mut Ui) -> Result<bool> {
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
        lp: &mut dyn Watch,
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
    pub(super) fn joined(&mut self, key: usize, ui: &mut Ui) {
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
}
