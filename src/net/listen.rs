//! Listening for stream clients: the TCP or Unix listener (with the socket file it owns)
//! and accepting the next client through the loop, backing off when out of file
//! descriptors. Binding is in `net.rs`; what to do with each client is in `run.rs`.

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UnixListener};

use crate::error::{Error, Result, describe_io};
use crate::event_loop::{LISTENER, Loop, Outcome, Wait, wait_for};
use crate::net::endpoint::{Endpoint, canonical_addr};
use crate::net::{self, SocketFile};
use crate::notices::print_line;
use crate::relay::session::Session;
use crate::trace;

/// How long to wait before accepting again when out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A stream listener: TCP, or Unix with the file it owns.
pub(crate) enum StreamListener {
    Tcp(TcpListener),
    Unix(UnixListener, SocketFile),
}

impl StreamListener {
    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            StreamListener::Tcp(l) => l,
            StreamListener::Unix(l, _) => l,
        }
    }

    pub(crate) fn local_description(&self) -> String {
        match self {
            StreamListener::Tcp(l) => l
                .local_addr()
                .map(|a| canonical_addr(a).to_string())
                .unwrap_or_else(|_| "(unknown)".into()),
            StreamListener::Unix(_, file) => file.path().display().to_string(),
        }
    }

    /// The next client, if one is waiting: its endpoint and address. `-vv` shows the
    /// call (but not `EAGAIN`, which only means nobody is waiting), `-vvv` the new
    /// connection's `TCP_INFO`.
    pub(crate) fn accept(&mut self) -> io::Result<(Endpoint, String)> {
        let accepted = match self {
            StreamListener::Tcp(l) => l.accept().map(|(stream, from)| {
                let from = canonical_addr(from).to_string();
                (Endpoint::Tcp(stream), from)
            }),
            StreamListener::Unix(l, _) => l.accept().map(|(stream, from)| {
                let from = from
                    .as_pathname()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "a unix client".to_string());
                (Endpoint::Unix(stream), from)
            }),
        };
        match &accepted {
            Ok((endpoint, from)) => {
                trace::call(|| format!("accept4() = {} from {from}", endpoint.fd().as_raw_fd()));
                if let Endpoint::Tcp(stream) = endpoint {
                    net::tune_accepted(stream);
                    trace::snapshot("connected", endpoint.fd());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => trace::call(|| format!("accept4() = {}", trace::errno_name(e))),
        }
        accepted
    }
}

/// Accept the next stream connection, waiting for it.
pub(crate) fn accept_next(
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
