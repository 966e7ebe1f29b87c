//! Thin, safe wrappers over the few OS calls rnc needs beyond std: file kind, the
//! `O_NONBLOCK` flag, and whether an fd is a terminal.
//!
//! They go through `rustix` (already in the dependency tree through crossterm), whose API
//! is safe, so rnc itself has no `unsafe` block. Nothing here decides policy.

use std::io;
use std::os::fd::AsFd;

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
    fn sys_nonblocking_round_trip() {
        let (r, _w) = std::io::pipe().unwrap();
        assert!(!is_nonblocking(&r).unwrap());
        let old = set_nonblocking(&r, true).unwrap();
        assert!(is_nonblocking(&r).unwrap());
        restore_flags(&r, old).unwrap();
        assert!(!is_nonblocking(&r).unwrap());
    }
}
