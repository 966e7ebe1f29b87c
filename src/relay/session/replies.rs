//! Bytes the session itself sends to the peer, apart from stdin's: `-t`'s telnet
//! refusals, written ahead of the to-peer queue through the same socket or TLS sink.

use std::io;

use super::Session;
use crate::error::Result;
use crate::relay::ends::SocketSink;
use crate::relay::tls::TlsSink;

impl Session {
    /// `-t`'s refusals → the socket, ahead of what stdin queued (telnet commands may come
    /// between any two data bytes).
    pub(super) fn send_telnet_replies(&mut self) -> Result<bool> {
        let (Some(conn), Some(telnet)) = (&mut self.conn, &mut self.telnet) else {
            return Ok(false);
        };
        if !telnet.has_replies() || !self.to_peer.sink_ready || conn.to_peer_done_at.is_some() {
            return Ok(false);
        }
        let written = match &mut conn.tls {
            Some(tls) => telnet.send_replies(&mut TlsSink {
                tls,
                endpoint: &mut conn.endpoint,
            }),
            None => telnet.send_replies(&mut SocketSink {
                endpoint: &mut conn.endpoint,
            }),
        };
        match written {
            Ok(n) => Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.to_peer.sink_ready = false;
                Ok(false)
            }
            Err(source) => Err(conn.error("send to", source)),
        }
    }
}
