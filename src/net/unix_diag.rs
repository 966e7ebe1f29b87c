//! Whether a Unix socket file is served (a socket bound to it listens or receives) or
//! stale, read from the kernel's socket table: never by connecting to it, because a live
//! stream listener would take that connection for a client (issue 9, bug 2).
//!
//! The first source is sock_diag (`NETLINK_SOCK_DIAG`, unix_diag in sock_diag(7)): it
//! gives each bound socket's file as a device and inode, compared exactly with the file's
//! own, however the path was spelled when it was bound. Where netlink is missing (some
//! sandboxes answer `EPROTONOSUPPORT`), `/proc/net/unix` is read instead: its Inode column
//! is the socket's own inode, not the file's, so only its Path column can be matched, and
//! only when the path is absolute or relative to our working directory. Both tables list
//! the sockets of this network namespace only. Nothing here binds, connects or removes.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, netlink, sockopt};

/// What the socket table says about a socket file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// A socket of this namespace serves the file: a listening stream or seqpacket
    /// socket, or a bound datagram socket.
    Served,
    /// No socket of this namespace serves it.
    NotListed,
    /// The table could not be read, or lists a socket that may be this file but cannot
    /// be matched to it (a relative path bound from another directory).
    Unknown,
}

/// Whether the socket file at `path`, whose metadata is `file`, is served.
pub(crate) fn liveness(path: &Path, file: &std::fs::Metadata) -> Liveness {
    let file_id = (file.dev(), file.ino());
    match sock_diag_dump() {
        Ok(sockets) => {
            if sockets.iter().any(|s| s.serves(file_id)) {
                Liveness::Served
            } else {
                Liveness::NotListed
            }
        }
        Err(_) => match std::fs::read("/proc/net/unix") {
            Ok(table) => proc_net_unix_liveness(&table, path, file_id),
            Err(_) => Liveness::Unknown,
        },
    }
}

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLM_F_REQUEST | NLM_F_DUMP` (linux/netlink.h).
const NLM_F_REQUEST_DUMP: u16 = 0x001 | 0x300;
/// `NLMSG_ERROR`, `NLMSG_DONE`.
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `sizeof(struct nlmsghdr)`, `sizeof(struct unix_diag_msg)`.
const NLMSG_HEADER_BYTES: usize = 16;
const UNIX_DIAG_MSG_BYTES: usize = 16;
/// `UDIAG_SHOW_VFS` (linux/unix_diag.h): ask for each socket's file.
const UDIAG_SHOW_VFS: u32 = 0x2;
/// `UNIX_DIAG_VFS`: the attribute holding `struct unix_diag_vfs { ino, dev }`.
const UNIX_DIAG_VFS: u16 = 1;
/// The socket state of a listening stream socket (`TCP_LISTEN`).
const STATE_LISTEN: u8 = 10;
/// `SOCK_DGRAM`.
const TYPE_DGRAM: u8 = 2;
/// Large enough for any one dump message (the kernel fills at most 32 KiB per read).
const DIAG_RECV_BYTES: usize = 64 * 1024;
/// The kernel answers at once; the bound only keeps a broken netlink from hanging rnc.
const DIAG_RECV_TIMEOUT: Duration = Duration::from_secs(2);

/// One bound Unix socket as sock_diag reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BoundSocket {
    /// The file's device, as the kernel stores it (`MAJOR << 20 | MINOR`).
    kernel_dev: u32,
    /// The file's inode, truncated to 32 bits by the kernel.
    ino: u32,
    /// Whether it takes connections or datagrams: an accepted connection or a bound but
    /// not listening stream socket also refers to the file, but serves nobody there.
    is_serving: bool,
}

impl BoundSocket {
    /// Whether this socket serves the file with `(st_dev, st_ino)`.
    fn serves(&self, (dev, ino): (u64, u64)) -> bool {
        // The kernel keeps a device as MAJOR << 20 | MINOR; stat(2) encodes it otherwise.
        let same_dev = self.kernel_dev >> 20 == rustix::fs::major(dev)
            && self.kernel_dev & 0xf_ffff == rustix::fs::minor(dev);
        // unix_diag_vfs carries the low 32 bits of the inode.
        self.is_serving && same_dev && u64::from(self.ino) == ino & 0xffff_ffff
    }
}

/// Every bound Unix socket of this network namespace with the file it is bound to.
fn sock_diag_dump() -> io::Result<Vec<BoundSocket>> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )?;
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(DIAG_RECV_TIMEOUT))?;
    rustix::net::send(&fd, &dump_request(), SendFlags::empty())?;
    let mut sockets = Vec::new();
    let mut buf = vec![0u8; DIAG_RECV_BYTES];
    loop {
        let (_, len) = rustix::net::recv(&fd, &mut buf[..], RecvFlags::TRUNC)?;
        if len > buf.len() {
            return Err(io::Error::other("sock_diag message truncated"));
        }
        if parse_dump(&buf[..len], &mut sockets)? {
            return Ok(sockets);
        }
    }
}

/// A `struct nlmsghdr` and `struct unix_diag_req` asking for every Unix socket in every
/// state, with its file.
fn dump_request() -> Vec<u8> {
    let mut req = Vec::with_capacity(NLMSG_HEADER_BYTES + 24);
    let total = (NLMSG_HEADER_BYTES + 24) as u32;
    req.extend_from_slice(&total.to_ne_bytes()); // nlmsg_len
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes()); // nlmsg_type
    req.extend_from_slice(&NLM_F_REQUEST_DUMP.to_ne_bytes()); // nlmsg_flags
    req.extend_from_slice(&1u32.to_ne_bytes()); // nlmsg_seq
    req.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel
    req.push(libc::AF_UNIX as u8); // sdiag_family
    req.push(0); // sdiag_protocol
    req.extend_from_slice(&0u16.to_ne_bytes()); // pad
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // udiag_states: all
    req.extend_from_slice(&0u32.to_ne_bytes()); // udiag_ino: any
    req.extend_from_slice(&UDIAG_SHOW_VFS.to_ne_bytes()); // udiag_show
    req.extend_from_slice(&[0u8; 8]); // udiag_cookie
    req
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

/// Netlink messages and attributes are padded to 4 bytes.
fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// Parse one read of the dump into `sockets`; true once the dump is complete.
fn parse_dump(buf: &[u8], sockets: &mut Vec<BoundSocket>) -> io::Result<bool> {
    let malformed = || io::Error::new(io::ErrorKind::InvalidData, "malformed sock_diag reply");
    let mut at = 0;
    while at + NLMSG_HEADER_BYTES <= buf.len() {
        let len = u32_at(buf, at).ok_or_else(malformed)? as usize;
        let kind = u16_at(buf, at + 4).ok_or_else(malformed)?;
        if len < NLMSG_HEADER_BYTES || at + len > buf.len() {
            return Err(malformed());
        }
        let msg = &buf[at..at + len];
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let errno = u32_at(msg, NLMSG_HEADER_BYTES).ok_or_else(malformed)? as i32;
                // A kernel without unix_diag answers ENOENT here.
                return Err(io::Error::from_raw_os_error(-errno));
            }
            SOCK_DIAG_BY_FAMILY => {
                if let Some(socket) = parse_socket(&msg[NLMSG_HEADER_BYTES..]) {
                    sockets.push(socket);
                }
            }
            _ => {}
        }
        at += align4(len);
    }
    Ok(false)
}

/// A `struct unix_diag_msg` and its attributes; `None` for a socket with no file
/// (unbound, abstract, or its file is gone).
fn parse_socket(body: &[u8]) -> Option<BoundSocket> {
    let kind = *body.get(1)?;
    let state = *body.get(2)?;
    let mut at = UNIX_DIAG_MSG_BYTES;
    while at + 4 <= body.len() {
        let len = usize::from(u16_at(body, at)?);
        let attr = u16_at(body, at + 2)? & 0x3fff; // without NLA_F_NESTED/NET_BYTEORDER
        if len < 4 {
            return None;
        }
        if attr == UNIX_DIAG_VFS && len >= 12 {
            return Some(BoundSocket {
                ino: u32_at(body, at + 4)?,
                kernel_dev: u32_at(body, at + 8)?,
                is_serving: kind == TYPE_DGRAM || state == STATE_LISTEN,
            });
        }
        at += align4(len);
    }
    None
}

/// `__SO_ACCEPTCON` in the Flags column: the socket listens.
const PROC_FLAG_LISTENING: u32 = 1 << 16;

/// The liveness of the file at `path` (`file_id` = its device and inode) from the text
/// of `/proc/net/unix`. Each listed path that serves is looked up from our working
/// directory and compared by device and inode; a relative one with our file's name that
/// does not match here may have been bound from elsewhere, so it makes the answer
/// `Unknown` rather than `NotListed`.
fn proc_net_unix_liveness(table: &[u8], path: &Path, file_id: (u64, u64)) -> Liveness {
    let mut unsure = false;
    // Header: `Num RefCount Protocol Flags Type St Inode Path`.
    for line in table.split(|&b| b == b'\n').skip(1) {
        let Some((fields, listed)) = split_fields(line, 7) else {
            continue;
        };
        let flags = u32::from_str_radix(fields[3], 16).unwrap_or(0);
        let kind = u16::from_str_radix(fields[4], 16).unwrap_or(0);
        let is_serving = u16::from(TYPE_DGRAM) == kind || flags & PROC_FLAG_LISTENING != 0;
        // Unbound sockets have no path; abstract names start with `@`.
        if !is_serving || listed.is_empty() || listed[0] == b'@' {
            continue;
        }
        let listed = Path::new(OsStr::from_bytes(listed));
        let same_file = std::fs::symlink_metadata(listed)
            .is_ok_and(|m| m.file_type().is_socket() && (m.dev(), m.ino()) == file_id);
        if same_file {
            return Liveness::Served;
        }
        if listed.is_relative() && listed.file_name() == path.file_name() {
            unsure = true;
        }
    }
    if unsure {
        Liveness::Unknown
    } else {
        Liveness::NotListed
    }
}

/// The first `n` space-separated fields of a `/proc/net/unix` line as text, and the
/// rest (the path, which may hold spaces) as bytes; `None` for a short line.
fn split_fields(line: &[u8], n: usize) -> Option<(Vec<&str>, &[u8])> {
    let mut rest = line;
    let mut fields = Vec::with_capacity(n);
    for _ in 0..n {
        let start = rest.iter().position(|&b| b != b' ')?;
        rest = &rest[start..];
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        fields.push(std::str::from_utf8(&rest[..end]).ok()?);
        rest = &rest[end..];
    }
    Some((fields, rest.strip_prefix(b" ").unwrap_or(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};

    fn id(path: &Path) -> (std::fs::Metadata, (u64, u64)) {
        let meta = std::fs::symlink_metadata(path).unwrap();
        let id = (meta.dev(), meta.ino());
        (meta, id)
    }

    #[test]
    fn unix_diag_tells_a_listener_from_a_stale_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let listener = UnixListener::bind(&path).unwrap();
        let sockets = match sock_diag_dump() {
            Ok(sockets) => sockets,
            Err(e) => {
                crate::test_support::skip_or_fail(&format!(
                    "sock_diag is not available here ({e})"
                ));
                return;
            }
        };
        let (meta, file_id) = id(&path);
        assert!(sockets.iter().any(|s| s.serves(file_id)), "{sockets:?}");
        assert_eq!(liveness(&path, &meta), Liveness::Served);
        // An accepted connection refers to the same file but serves nothing there.
        let _client = UnixStream::connect(&path).unwrap();
        let _accepted = listener.accept().unwrap();
        drop(listener);
        assert_eq!(liveness(&path, &meta), Liveness::NotListed);
    }

    #[test]
    fn unix_diag_sees_a_bound_datagram_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d");
        let socket = UnixDatagram::bind(&path).unwrap();
        if sock_diag_dump().is_err() {
            crate::test_support::skip_or_fail("sock_diag is not available here");
            return;
        }
        let (meta, _) = id(&path);
        assert_eq!(liveness(&path, &meta), Liveness::Served);
        drop(socket);
        assert_eq!(liveness(&path, &meta), Liveness::NotListed);
    }

    #[test]
    fn unix_diag_parses_a_dump_with_and_without_a_file() {
        let mut buf = Vec::new();
        let mut push_socket = |kind: u8, state: u8, vfs: Option<(u32, u32)>| {
            let mut body = vec![1, kind, state, 0];
            body.extend_from_slice(&77u32.to_ne_bytes()); // socket inode
            body.extend_from_slice(&[0; 8]);
            if let Some((ino, dev)) = vfs {
                body.extend_from_slice(&12u16.to_ne_bytes());
                body.extend_from_slice(&UNIX_DIAG_VFS.to_ne_bytes());
                body.extend_from_slice(&ino.to_ne_bytes());
                body.extend_from_slice(&dev.to_ne_bytes());
            }
            let len = (NLMSG_HEADER_BYTES + body.len()) as u32;
            buf.extend_from_slice(&len.to_ne_bytes());
            buf.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
            buf.extend_from_slice(&[0; 10]);
            buf.extend_from_slice(&body);
        };
        push_socket(1, STATE_LISTEN, Some((42, (8 << 20) | 1)));
        push_socket(1, 1, Some((42, (8 << 20) | 1)));
        push_socket(TYPE_DGRAM, 7, None);
        let mut sockets = Vec::new();
        assert!(!parse_dump(&buf, &mut sockets).unwrap(), "no DONE yet");
        assert_eq!(sockets.len(), 2, "the socket without a file is skipped");
        let dev = rustix::fs::makedev(8, 1);
        assert!(sockets[0].serves((dev, 42)));
        assert!(!sockets[0].serves((dev, 43)));
        assert!(!sockets[0].serves((rustix::fs::makedev(8, 2), 42)));
        assert!(!sockets[1].serves((dev, 42)), "connected, not listening");
        let mut done = 16u32.to_ne_bytes().to_vec();
        done.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        done.extend_from_slice(&[0; 10]);
        assert!(parse_dump(&done, &mut sockets).unwrap());
        assert!(parse_dump(&buf[..20], &mut sockets).is_err(), "cut short");
    }

    #[test]
    fn unix_diag_proc_table_matches_paths_by_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let _listener = UnixListener::bind(&path).unwrap();
        let (_, file_id) = id(&path);
        let line = |flags: &str, kind: &str, listed: &str| {
            format!(
                "Num       RefCount Protocol Flags    Type St Inode Path\n\
                 0000000000000000: 00000002 00000000 {flags} {kind} 01  1234 {listed}\n"
            )
        };
        let listed = path.to_str().unwrap();
        let live = |text: String| proc_net_unix_liveness(text.as_bytes(), &path, file_id);
        assert_eq!(live(line("00010000", "0001", listed)), Liveness::Served);
        assert_eq!(live(line("00000000", "0002", listed)), Liveness::Served);
        assert_eq!(
            live(line("00000000", "0001", listed)),
            Liveness::NotListed,
            "a connected stream socket serves nothing"
        );
        assert_eq!(live(line("00010000", "0001", "@s")), Liveness::NotListed);
        assert_eq!(live(line("00010000", "0001", "")), Liveness::NotListed);
        assert_eq!(
            live(line("00010000", "0001", "s")),
            Liveness::Unknown,
            "`s` bound relative to another directory may be this file"
        );
        assert_eq!(live(line("00010000", "0001", "t")), Liveness::NotListed);
        // The real table lists this listener by its absolute path.
        let table = std::fs::read("/proc/net/unix").unwrap();
        assert_eq!(
            proc_net_unix_liveness(&table, &path, file_id),
            Liveness::Served
        );
    }

    #[test]
    fn unix_diag_split_fields_keeps_spaces_in_paths() {
        let line = b"0000: 00000002 00000000 00010000 0001 01   123 /tmp/a b";
        let (fields, rest) = split_fields(line, 7).unwrap();
        assert_eq!(fields[6], "123");
        assert_eq!(rest, b"/tmp/a b");
        assert!(split_fields(b"0000: 00000002", 7).is_none());
    }
}
