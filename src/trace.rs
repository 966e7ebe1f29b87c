//! What `-vv` and `-vvv` add to `-v`'s lifecycle lines: each socket call with its
//! arguments and result, errno by name (`connect(127.0.0.1:9) = EINPROGRESS`), and
//! `TCP_INFO` snapshots at the events rnc observes (connected, each direction's EOF, reset,
//! close). It formats and prints through `notices`, so in interactive mode the lines land
//! in the transcript; it makes no socket calls itself but reading `TCP_INFO` (`sys.rs`).
//!
//! The level is process-wide, set once by `run` from `-v`'s count, because the calls are
//! made in every phase (`net.rs`, connecting, accepting, the session's half-close) and a
//! flag threaded through each of them would say nothing more.

use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use crate::notices::print_line;
use crate::sys;

/// How many `-v` were given.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// Set the level from `-v`'s count (0 to 3; more counts as 3).
pub(crate) fn set_level(count: u8) {
    LEVEL.store(count, Ordering::Relaxed);
}

/// `-v`: lifecycle lines are shown (for the few places that have no `Config` at hand).
pub(crate) fn shows_lifecycle() -> bool {
    LEVEL.load(Ordering::Relaxed) >= 1
}

/// `-vv`: socket calls are shown.
pub(crate) fn shows_calls() -> bool {
    LEVEL.load(Ordering::Relaxed) >= 2
}

/// `-vvv`: `TCP_INFO` snapshots are shown.
pub(crate) fn shows_snapshots() -> bool {
    LEVEL.load(Ordering::Relaxed) >= 3
}

/// `-vv`: print `call = result` for a socket call that has been made, and hand the result
/// back unchanged. `ok` says what a success returned (`0`, a descriptor).
pub(crate) fn traced<T>(
    result: io::Result<T>,
    call: impl FnOnce() -> String,
    ok: impl FnOnce(&T) -> String,
) -> io::Result<T> {
    if shows_calls() {
        let shown = match &result {
            Ok(value) => ok(value),
            Err(e) => errno_name(e),
        };
        print_line(&format!("{} = {shown}", call()));
    }
    result
}

/// What a call that returns nothing but success shows: `0`.
pub(crate) fn zero<T>(_: &T) -> String {
    "0".to_string()
}

/// `-vv`: print a line about a socket call made elsewhere (mio's accept, a shutdown).
pub(crate) fn call(line: impl FnOnce() -> String) {
    if shows_calls() {
        print_line(&line());
    }
}

/// An address as the calls show it: `127.0.0.1:80`, `[::1]:80`, with an IPv4 peer of a
/// dual-stack socket shown as IPv4.
pub(crate) fn addr_text(addr: &SocketAddr) -> String {
    crate::net::endpoint::canonical_addr(*addr).to_string()
}

/// The socket's address family as socket(2) names it.
pub(crate) fn family_name(addr: &SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    }
}

/// An OS error by its errno name (`ECONNREFUSED`), as a learner finds it in the man pages;
/// an error that is not the OS's in rnc's words.
pub(crate) fn errno_name(err: &io::Error) -> String {
    let Some(code) = err.raw_os_error() else {
        return match err.kind() {
            io::ErrorKind::WouldBlock => "EAGAIN".to_string(),
            io::ErrorKind::ConnectionRefused => "ECONNREFUSED".to_string(),
            io::ErrorKind::ConnectionReset => "ECONNRESET".to_string(),
            io::ErrorKind::TimedOut => "ETIMEDOUT".to_string(),
            io::ErrorKind::NotConnected => "ENOTCONN".to_string(),
            _ => crate::error::describe_io(err),
        };
    };
    let name = match code {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::EPIPE => "EPIPE",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        _ => return format!("errno {code}"),
    };
    name.to_string()
}

/// `-vvv`: the kernel's view of a TCP socket at `event`, as one line:
/// `tcp_info at connected: ESTABLISHED, rtt 0.045 ms, rttvar 0.022 ms, cwnd 10,
/// retransmits 0, bytes acked 1`. Nothing for a socket that is not TCP.
pub(crate) fn snapshot(event: &str, fd: BorrowedFd<'_>) {
    if !shows_snapshots() {
        return;
    }
    if let Some(info) = sys::tcp_info(fd) {
        print_line(&snapshot_line(event, &info));
    }
}

fn snapshot_line(event: &str, info: &sys::TcpInfo) -> String {
    let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1000.0);
    let acked = info
        .bytes_acked
        .map_or_else(String::new, |n| format!(", bytes acked {n}"));
    format!(
        "tcp_info at {event}: {}, rtt {}, rttvar {}, cwnd {}, retransmits {}{acked}",
        info.state_name,
        ms(info.srtt),
        ms(info.rttvar),
        info.cwnd,
        info.retransmits,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_errno_names_come_from_the_os_code() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(errno_name(&refused), "ECONNREFUSED");
        let pending = io::Error::from_raw_os_error(libc::EINPROGRESS);
        assert_eq!(errno_name(&pending), "EINPROGRESS");
        assert_eq!(
            errno_name(&io::Error::from_raw_os_error(4095)),
            "errno 4095"
        );
        assert_eq!(
            errno_name(&io::ErrorKind::ConnectionRefused.into()),
            "ECONNREFUSED"
        );
    }

    #[test]
    fn trace_snapshot_line_names_every_field() {
        let info = sys::TcpInfo {
            state: sys::TcpState::Established,
            state_name: "ESTABLISHED",
            srtt: Duration::from_micros(45),
            rttvar: Duration::from_micros(22),
            min_rtt: None,
            cwnd: 10,
            retransmits: 0,
            bytes_acked: Some(1),
        };
        assert_eq!(
            snapshot_line("connected", &info),
            "tcp_info at connected: ESTABLISHED, rtt 0.045 ms, rttvar 0.022 ms, cwnd 10, \
             retransmits 0, bytes acked 1"
        );
    }
}
