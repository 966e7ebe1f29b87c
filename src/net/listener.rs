//! A listening stream socket: TCP, or Unix with the socket file it owns (removed when it
//! goes); accepting one client without waiting, and its address as shown. Binding is in
//! `net.rs`; waiting for a client is `listen.rs`'s (one at a time) or the hub's (many).

use std::io;

use mio::net::{TcpListener, UnixListener};

use crate::net::endpoint::{Endpoint, canonical_addr};
use crate::net::{self, SocketFile};

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

    pub(crate) fn accept(&mut self) -> io::Result<(Endpoint, String)> {
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
