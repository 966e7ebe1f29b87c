//! stdin and stdout as raw fds: what kind they are, whether epoll can watch them, how
//! they become non-blocking without disturbing the shell, and plain reads and writes.
//!
//! Pipes and terminals are re-opened through `/proc/self/fd/N`, which gives rnc a private
//! open file description: setting `O_NONBLOCK` on it cannot leak into the shell or into
//! another process sharing the pipe. Where that is impossible (a socket, no /proc) the
//! shared description is switched and its old flags are put back on drop. Regular files
//! and devices such as /dev/null are not pollable; they are used blocking and counted as
//! always ready. No std `Stdin`/`Stdout` (they buffer) and no `print!` here.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use rustix::fs::OFlags;

use crate::sys::{self, FdKind};

/// One of rnc's standard streams, opened for the event loop.
pub(crate) struct StdStream {
    /// The fd rnc reads or writes (a private re-open or a dup of 0/1).
    file: File,
    /// What it is.
    kind: FdKind,
    /// Flags to put back on drop when the shared description was made non-blocking.
    restore: Option<OFlags>,
}

impl StdStream {
    /// Open stdin for reading.
    pub(crate) fn stdin() -> io::Result<StdStream> {
        StdStream::open(io::stdin().as_fd(), false)
    }

    /// Open stdout for writing.
    pub(crate) fn stdout() -> io::Result<StdStream> {
        StdStream::open(io::stdout().as_fd(), true)
    }

    /// Open `fd` (stdin or stdout, or a test pipe) for the loop.
    pub(crate) fn open(fd: BorrowedFd<'_>, write: bool) -> io::Result<StdStream> {
        let kind = sys::fd_kind(fd)?;
        if !kind.is_pollable() {
            // Files and devices: blocking I/O is what they do anyway.
            return Ok(StdStream {
                file: File::from(fd.try_clone_to_owned()?),
                kind,
                restore: None,
            });
        }
        if kind != FdKind::Socket
            && let Ok(file) = reopen(fd.as_raw_fd(), write)
        {
            return Ok(StdStream {
                file,
                kind,
                restore: None,
            });
        }
        let owned: OwnedFd = fd.try_clone_to_owned()?;
        let old = sys::set_nonblocking(&owned, true)?;
        Ok(StdStream {
            file: File::from(owned),
            kind,
            restore: (!old.contains(OFlags::NONBLOCK)).then_some(old),
        })
    }

    /// A pipe rnc made (a child's stdin or stdout), switched to non-blocking: it is rnc's
    /// own, so no flags need putting back.
    pub(crate) fn from_pipe(fd: OwnedFd) -> io::Result<StdStream> {
        sys::set_nonblocking(&fd, true)?;
        Ok(StdStream {
            file: File::from(fd),
            kind: FdKind::Pipe,
            restore: None,
        })
    }

    /// Close it (a program's stdin: the program reads EOF). What is written after goes
    /// to `/dev/null`, so the fd stays valid for whoever still holds this handle.
    pub(crate) fn close(&mut self) {
        if let Ok(null) = OpenOptions::new().write(true).open("/dev/null") {
            self.file = null;
            self.kind = FdKind::CharDevice;
            self.restore = None;
        }
    }

    /// What this stream is.
    pub(crate) fn kind(&self) -> FdKind {
        self.kind
    }

    /// Whether the loop can register it with epoll.
    pub(crate) fn is_pollable(&self) -> bool {
        self.kind.is_pollable()
    }

    /// What a regular file still has to give: its size less its offset (a shell's
    /// `< file` may have read part of it already). `None` for anything else, or when
    /// the kernel will not say.
    pub(crate) fn bytes_left(&self) -> Option<u64> {
        if self.kind != FdKind::File {
            return None;
        }
        let size = u64::try_from(rustix::fs::fstat(&self.file).ok()?.st_size).ok()?;
        let offset = rustix::fs::seek(&self.file, rustix::fs::SeekFrom::Current(0)).ok()?;
        Some(size.saturating_sub(offset))
    }

    /// The raw fd, for registration.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// One `read(2)`.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }

    /// One `write(2)`.
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
}

impl AsFd for StdStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl Drop for StdStream {
    fn drop(&mut self) {
        if let Some(flags) = self.restore.take() {
            // Nothing useful can be done if this fails at exit; the fd is still valid here.
            let _ = sys::restore_flags(&self.file, flags);
        }
    }
}

/// A private, non-blocking open file description for a pipe or terminal.
fn reopen(fd: RawFd, write: bool) -> io::Result<File> {
    let path = format!("/proc/self/fd/{fd}");
    let mut options = OpenOptions::new();
    if write {
        options.write(true);
    } else {
        options.read(true);
    }
    options
        .custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdio_reopened_pipe_is_nonblocking_and_private() {
        let (r, mut w) = io::pipe().unwrap();
        let r_fd: OwnedFd = r.into();
        let stream = StdStream::open(r_fd.as_fd(), false).unwrap();
        assert_eq!(stream.kind(), FdKind::Pipe);
        assert!(sys::is_nonblocking(&stream).unwrap());
        assert!(
            !sys::is_nonblocking(&r_fd).unwrap(),
            "the original description keeps its flags"
        );
        w.write_all(b"hi").unwrap();
        let mut stream = stream;
        let mut buf = [0u8; 8];
        assert_eq!(stream.read(&mut buf).unwrap(), 2);
        assert_eq!(
            stream.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }

    #[test]
    fn stdio_bytes_left_of_a_file_counts_from_its_offset() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&[7; 1000]).unwrap();
        let stream = StdStream::open(file.as_fd(), false).unwrap();
        assert_eq!(stream.bytes_left(), Some(0), "the offset is at the end");
        rustix::fs::seek(&file, rustix::fs::SeekFrom::Start(300)).unwrap();
        assert_eq!(stream.bytes_left(), Some(700), "the offset is shared");
        let (r, _w) = io::pipe().unwrap();
        let pipe = StdStream::open(r.as_fd(), false).unwrap();
        assert_eq!(pipe.bytes_left(), None);
    }

    #[test]
    fn stdio_file_is_not_pollable() {
        let file = tempfile::tempfile().unwrap();
        let stream = StdStream::open(file.as_fd(), false).unwrap();
        assert_eq!(stream.kind(), FdKind::File);
        assert!(!stream.is_pollable());
    }
}
