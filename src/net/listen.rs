//! Accepting the next stream client through the loop, one at a time (a listener without
//! `-k`), backing off when out of file descriptors. The listener itself is in
//! `listener.rs`, binding in `net.rs`; the hub accepts many at once itself.

use std::io;
use std::time::{Duration, Instant};

use crate::error::{Error, Result, describe_io};
use crate::event_loop::{LISTENER, Loop, Outcome, Wait, wait_for};
use crate::net::endpoint::Endpoint;
use crate::net::listener::StreamListener;
use crate::notices::print_line;
use crate::relay::session::Session;

/// How long to wait before accepting again when out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

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
