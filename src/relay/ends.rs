//! The ends a `Direction` plugs in today: stdin as a source, a stream socket's read and
//! write halves, stdout as a sink, each with its short-read or short-write rule. The
//! screen and datagram sockets keep their own loops in the session and the connection.

use std::io;

use crate::net::endpoint::Endpoint;
use crate::relay::direction::{Sink, Source};
use crate::relay::stdio::StdStream;

/// stdin as a direction's source.
pub(crate) struct StdinSource<'a> {
    /// stdin.
    pub(crate) stdin: &'a mut StdStream,
    /// stdin is a pipe: a short read means it is empty.
    pub(crate) short_read_drains: bool,
}

impl Source for StdinSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stdin.read(buf)
    }

    fn is_drained(&self, asked: usize, got: usize) -> bool {
        self.short_read_drains && got < asked
    }
}

/// A stream socket's read half as a direction's source.
pub(crate) struct SocketSource<'a> {
    /// The socket.
    pub(crate) endpoint: &'a mut Endpoint,
    /// An event carried the peer's FIN or an error: read until EOF or `WouldBlock`, since
    /// no new edge will come.
    pub(crate) read_closed_seen: bool,
}

impl Source for SocketSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.endpoint.read(buf)
    }

    fn is_drained(&self, asked: usize, got: usize) -> bool {
        // A stream socket returns less than asked only when its receive queue is empty.
        got < asked && !self.read_closed_seen
    }
}

/// A stream socket's write half as a direction's sink.
pub(crate) struct SocketSink<'a> {
    /// The socket.
    pub(crate) endpoint: &'a mut Endpoint,
}

impl Sink for SocketSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.endpoint.write(buf, None)
    }

    fn short_write_fills(&self) -> bool {
        // A short write means the send buffer is full; its draining brings a new edge.
        true
    }
}

/// stdout as a direction's sink.
pub(crate) struct StdoutSink<'a> {
    /// stdout.
    pub(crate) stdout: &'a mut StdStream,
    /// stdout is a pipe or socket: a short write means it is full.
    pub(crate) short_write_fills: bool,
}

impl Sink for StdoutSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stdout.write(buf)
    }

    fn short_write_fills(&self) -> bool {
        self.short_write_fills
    }
}
