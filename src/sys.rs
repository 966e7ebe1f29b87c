//! Thin, safe wrappers over the few OS calls rnc needs beyond std: file kind, the
//! `O_NONBLOCK` flag, whether an fd is a terminal, the open-file limit.
//!
//! They go through `rustix` (already in the dependency tree through crossterm), whose API
//! is safe. The one call rustix lacks, `getsockopt(TCP_INFO)`, goes through `libc` in the
//! crate's only `unsafe` block, below. Nothing here decides policy.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use rustix::fs::{FileType, OFlags};

/// What an fd refers to, as far as the event loop cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// A regular file: always ready, never pollable.
    File,
    /// A pipe or FIFO.
    Pipe,
    /// A terminal.
    Tty,
    /// A socket (inetd-style stdio).
    Socket,
    /// Another character device, such as `/dev/null` or `/dev/full`: not pollable.
    CharDevice,
    /// Anything else (a directory, a block device).
    Other,
}

impl FdKind {
    /// Whether epoll can watch this kind of fd.
    pub(crate) fn is_pollable(self) -> bool {
        matches!(self, FdKind::Pipe | FdKind::Tty | FdKind::Socket)
    }
}

/// Classify an fd with `fstat` (and `isatty` for character devices).
pub(crate) fn fd_kind(fd: impl AsFd) -> io::Result<FdKind> {
    let stat = rustix::fs::fstat(&fd)?;
    Ok(match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => FdKind::File,
        FileType::Fifo => FdKind::Pipe,
        FileType::Socket => FdKind::Socket,
        FileType::CharacterDevice if rustix::termios::isatty(&fd) => FdKind::Tty,
        FileType::CharacterDevice => FdKind::CharDevice,
        _ => FdKind::Other,
    })
}

/// A TCP socket's state as the kernel reports it (the states rnc tells apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpState {
    /// SYN_SENT / SYN_RECV.
    Opening,
    /// ESTABLISHED.
    Established,
    /// FIN_WAIT1 / FIN_WAIT2: we sent our FIN.
    FinWait,
    /// CLOSE_WAIT: the peer sent its FIN.
    CloseWait,
    /// LAST_ACK, CLOSING, TIME_WAIT, CLOSE.
    Closed,
    /// LISTEN.
    Listen,
}

/// What `TCP_INFO` tells about a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpInfo {
    /// The connection's state.
    pub(crate) state: TcpState,
    /// The kernel's own name for the state (`ESTABLISHED`, `FIN_WAIT2`), for `-vvv`.
    pub(crate) state_name: &'static str,
    /// The smoothed RTT estimate (`tcpi_rtt`), which a peer's delayed ACKs inflate.
    pub(crate) srtt: Duration,
    /// The RTT's mean deviation (`tcpi_rttvar`).
    pub(crate) rttvar: Duration,
    /// The congestion window, in segments (`tcpi_snd_cwnd`).
    pub(crate) cwnd: u32,
    /// Segments retransmitted over the connection's life (`tcpi_total_retrans`).
    pub(crate) retransmits: u32,
    /// Bytes the peer acknowledged (`tcpi_bytes_acked`, Linux 4.1+), when reported.
    pub(crate) bytes_acked: Option<u64>,
    /// The lowest RTT of the last few minutes (`tcpi_min_rtt`, Linux 4.6+), once the
    /// kernel has a sample and when it reports one at all.
    pub(crate) min_rtt: Option<Duration>,
}

/// The kernel's view of a TCP socket (Linux `TCP_INFO`): its state, RTTs, congestion
/// window, retransmissions and acknowledged bytes. `None` when the socket is not TCP or
/// the call fails.
#[allow(unsafe_code)]
pub(crate) fn tcp_info(fd: BorrowedFd<'_>) -> Option<TcpInfo> {
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `fd` is borrowed, so it stays open for the call. `info` points to a
    // writable `tcp_info` and `len` holds exactly its size, so the kernel writes at most
    // that many bytes into it, as getsockopt(2) specifies.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: `tcp_info` is plain integers, so the zeroed value is a valid one, and the
    // kernel overwrote a prefix of it (`len` bytes) with valid integers; the fields past
    // that prefix stay zero, which the checks of `len` below account for.
    let info = unsafe { info.assume_init() };
    let state = match info.tcpi_state {
        1 => TcpState::Established,
        2 | 3 => TcpState::Opening,
        4 | 5 => TcpState::FinWait,
        8 => TcpState::CloseWait,
        10 => TcpState::Listen,
        _ => TcpState::Closed,
    };
    // An older kernel fills a shorter struct (the rest stays zero); without a sample the
    // kernel reports ~0.
    let min_rtt_end = std::mem::offset_of!(libc::tcp_info, tcpi_min_rtt) + 4;
    let min_rtt = (len as usize >= min_rtt_end)
        .then_some(info.tcpi_min_rtt)
        .filter(|&us| us != 0 && us != u32::MAX)
        .map(|us| Duration::from_micros(u64::from(us)));
    let bytes_acked_end = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + 8;
    let bytes_acked = (len as usize >= bytes_acked_end).then_some(info.tcpi_bytes_acked);
    Some(TcpInfo {
        state,
        state_name: tcp_state_name(info.tcpi_state),
        srtt: Duration::from_micros(u64::from(info.tcpi_rtt)),
        rttvar: Duration::from_micros(u64::from(info.tcpi_rttvar)),
        min_rtt,
        cwnd: info.tcpi_snd_cwnd,
        retransmits: info.tcpi_total_retrans,
        bytes_acked,
    })
}

/// The kernel's name of a TCP state number (include/net/tcp_states.h).
fn tcp_state_name(state: u8) -> &'static str {
    match state {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// Whether `fd` is a terminal.
pub(crate) fn is_tty(fd: impl AsFd) -> bool {
    rustix::termios::isatty(fd)
}

/// Set or clear `O_NONBLOCK` on the open file description behind `fd`; returns the flags
/// it had before, for `restore_flags`.
pub(crate) fn set_nonblocking(fd: impl AsFd, on: bool) -> io::Result<OFlags> {
    let old = rustix::fs::fcntl_getfl(&fd)?;
    let new = if on {
        old | OFlags::NONBLOCK
    } else {
        old - OFlags::NONBLOCK
    };
    if new != old {
        rustix::fs::fcntl_setfl(&fd, new)?;
    }
    Ok(old)
}

/// Whether `O_NONBLOCK` is set on `fd`'s open file description.
#[cfg(test)]
pub(crate) fn is_nonblocking(fd: impl AsFd) -> io::Result<bool> {
    Ok(rustix::fs::fcntl_getfl(&fd)?.contains(OFlags::NONBLOCK))
}

/// Put back the flags `set_nonblocking` returned.
pub(crate) fn restore_flags(fd: impl AsFd, flags: OFlags) -> io::Result<()> {
    rustix::fs::fcntl_setfl(&fd, flags)?;
    Ok(())
}

/// Raise the soft open-file limit to the hard one (a listener for many clients, a
/// concurrent scan), and return the limit now in force. `None` when there is no limit.
pub(crate) fn raise_nofile_limit() -> io::Result<Option<u64>> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, raised)?;
    }
    Ok(getrlimit(Resource::Nofile).current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_kinds_of_common_fds() {
        let file = tempfile::tempfile().unwrap();
        assert_eq!(fd_kind(&file).unwrap(), FdKind::File);
        let null = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(fd_kind(&null).unwrap(), FdKind::CharDevice);
        let (r, _w) = std::io::pipe().unwrap();
        assert_eq!(fd_kind(&r).unwrap(), FdKind::Pipe);
        assert!(!FdKind::File.is_pollable());
        assert!(FdKind::Pipe.is_pollable());
    }

    #[test]
    fn sys_tcp_info_reports_states() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(tcp_info(listener.as_fd()).unwrap().state, TcpState::Listen);
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert_eq!(
            tcp_info(client.as_fd()).unwrap().state,
            TcpState::Established
        );
        client.shutdown(std::net::Shutdown::Write).unwrap();
        // The server sees the FIN at once on loopback; poll its state for a moment.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while tcp_info(server.as_fd()).unwrap().state != TcpState::CloseWait {
            assert!(
                std::time::Instant::now() < deadline,
                "server never reached CLOSE_WAIT"
            );
            std::thread::yield_now();
        }
        assert_eq!(tcp_info(client.as_fd()).unwrap().state, TcpState::FinWait);
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(tcp_info(a.as_fd()).is_none());
    }

    #[test]
    fn sys_tcp_info_reports_loopback_rtts() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let info = tcp_info(client.as_fd()).unwrap();
        // The handshake gave a sample; a kernel without tcpi_min_rtt reports none.
        assert!(info.srtt < Duration::from_secs(1), "loopback: {info:?}");
        if let Some(min) = info.min_rtt {
            assert!(min < Duration::from_secs(1), "loopback: {info:?}");
        }
        assert_eq!(info.state_name, "ESTABLISHED");
        assert!(info.cwnd > 0, "{info:?}");
        assert_eq!(info.retransmits, 0, "{info:?}");
        // The SYN counts as the one byte acknowledged so far.
        assert!(matches!(info.bytes_acked, None | Some(1)), "{info:?}");
    }

    #[test]
    fn sys_raise_nofile_limit_reaches_the_hard_limit() {
        let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
        assert_eq!(raise_nofile_limit().expect("setrlimit"), hard);
    }

    #[test]
    fn sys_nonblocking_round_trip() {
        let (r, _w) = std::io::pipe().unwrap();
        assert!(!is_nonblocking(&r).unwrap());
        let old = set_nonblocking(&r, true).unwrap();
        assert!(is_nonblocking(&r).unwrap());
        restore_flags(&r, old).unwrap();
        assert!(!is_nonblocking(&r).unwrap());
    }
}
