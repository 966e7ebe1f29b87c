//! A listening stream socket: TCP, or Unix with the socket file it owns (removed when it
//! goes); accepting one client without waiting, and its address as shown. Binding is in
//! `net.rs`; waiting for a client is `listen.rs`'s (one at a time) or the hub's (many).

use std::io;
use std::os::fd::AsRawFd;

use mio::net::{TcpListener, UnixListener};

use crate::net::endpoint::{Endpoint, canonical_addr};
use crate::net::{self, SocketFile};
use crate::trace;

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
