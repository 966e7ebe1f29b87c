//! Unix domain sockets: stream and datagram, listening and connecting, and the socket
//! files they live at: a stale file replaced (never a live listener's: `unix_diag.rs`
//! asks the kernel), a regular file refused, our own removed when we are done, and the
//! temporary path a datagram client answers from.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use mio::net::{UnixDatagram, UnixListener, UnixStream};
use socket2::{Domain, SockAddr, Socket, Type};

use super::unix_diag::{self, Liveness};
use super::{LISTEN_BACKLOG, socket_error};
use crate::config::UNIX_PATH_MAX_BYTES;
use crate::error::{Error, Result};
use crate::trace::{traced, zero};

/// A Unix socket file rnc created; removed on drop if it is still the same file.
#[derive(Debug)]
pub(crate) struct SocketFile {
    /// Where it is.
    path: PathBuf,
    /// Its device and inode, so a file someone put in its place is left alone.
    id: (u64, u64),
}

impl SocketFile {
    fn record(path: &Path) -> io::Result<SocketFile> {
        let meta = std::fs::symlink_metadata(path)?;
        Ok(SocketFile {
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
        })
    }

    /// The path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && meta.file_type().is_socket()
            && (meta.dev(), meta.ino()) == self.id
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Make `path` free for a new socket: nothing there is fine; a stale socket (nobody
/// listening) is removed; a live one is "in use"; any other file is refused.
///
/// Whether a socket is live comes from the kernel's socket table, not from a connect: a
/// live stream listener would take a probing connect for its client and end its session
/// (issue 9, bug 2).
fn clear_stale_socket(path: &Path, datagram: bool) -> Result<()> {
    let bind_error = bind_error(path);
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(bind_error(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(bind_error(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "file exists and is not a socket",
        )));
    }
    match unix_diag::liveness(path, &meta) {
        Liveness::Served => return Err(bind_error(io::ErrorKind::AddrInUse.into())),
        Liveness::Unknown => {
            return Err(bind_error(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a socket file is there and rnc cannot tell whether it is in use \
                 (remove it if it is stale)",
            )));
        }
        Liveness::NotListed => {}
    }
    // The table lists this network namespace only, and a process in another one can
    // serve a file we see (a shared mount). A connect settles that: a stale file refuses
    // it, and in the usual case it reaches nobody. Better a stray connection there than
    // taking another namespace's live socket file.
    let probe = if datagram {
        std::os::unix::net::UnixDatagram::unbound().and_then(|s| s.connect(path))
    } else {
        std::os::unix::net::UnixStream::connect(path).map(drop)
    };
    match probe {
        Ok(()) => Err(bind_error(io::ErrorKind::AddrInUse.into())),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path).map_err(bind_error)
        }
        Err(e) => Err(bind_error(e)),
    }
}

fn unix_socket(ty: Type) -> Result<Socket> {
    let name = if ty == Type::STREAM {
        "SOCK_STREAM"
    } else {
        "SOCK_DGRAM"
    };
    let socket = traced(
        Socket::new(Domain::UNIX, ty.cloexec(), None),
        || format!("socket(AF_UNIX, {name})"),
        |socket| socket.as_raw_fd().to_string(),
    )
    .map_err(socket_error("create unix socket".into()))?;
    socket
        .set_nonblocking(true)
        .map_err(socket_error("set unix socket non-blocking".into()))?;
    Ok(socket)
}

fn unix_addr(path: &Path) -> Result<SockAddr> {
    SockAddr::unix(path).map_err(|e| Error::UnixPath {
        path: path.to_path_buf(),
        reason: crate::error::describe_io(&e),
    })
}

fn bind_error(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |source| Error::Bind {
        addr: path.display().to_string(),
        source,
    }
}

fn bind_unix(socket: &Socket, path: &Path, datagram: bool) -> Result<SocketFile> {
    clear_stale_socket(path, datagram)?;
    traced(
        socket.bind(&unix_addr(path)?),
        || format!("bind({})", path.display()),
        zero,
    )
    .map_err(bind_error(path))?;
    SocketFile::record(path).map_err(bind_error(path))
}

/// A Unix stream listener at `path`, with the guard that removes its file.
pub(crate) fn unix_listener(path: &Path) -> Result<(UnixListener, SocketFile)> {
    let socket = unix_socket(Type::STREAM)?;
    let file = bind_unix(&socket, path, false)?;
    traced(
        socket.listen(LISTEN_BACKLOG),
        || format!("listen({LISTEN_BACKLOG})"),
        zero,
    )
    .map_err(|source| Error::Listen {
        addr: path.display().to_string(),
        source,
    })?;
    Ok((UnixListener::from_std(socket.into()), file))
}

/// A Unix datagram socket bound at `path` (listener side).
pub(crate) fn unix_datagram_listener(path: &Path) -> Result<(UnixDatagram, SocketFile)> {
    let socket = unix_socket(Type::DGRAM)?;
    let file = bind_unix(&socket, path, true)?;
    Ok((UnixDatagram::from_std(socket.into()), file))
}

/// Connect a Unix stream socket to `path`. Unix connects finish at once or fail.
pub(crate) fn unix_connect(path: &Path) -> Result<UnixStream> {
    let socket = unix_socket(Type::STREAM)?;
    connect_unix(&socket, path)?;
    Ok(UnixStream::from_std(socket.into()))
}

/// A Unix datagram client connected to `path`, bound to `local` (`-s PATH`, checked as a
/// listener's path is: a stale socket file is replaced) or else to a temporary path, so
/// the listener can reply. The file is removed when the `SocketFile` drops.
pub(crate) fn unix_datagram_connect(
    path: &Path,
    local: Option<&Path>,
) -> Result<(UnixDatagram, SocketFile)> {
    let socket = unix_socket(Type::DGRAM)?;
    let file = match local {
        Some(local) => bind_unix(&socket, local, true)?,
        None => {
            let local = temp_socket_path()?;
            traced(
                socket.bind(&unix_addr(&local)?),
                || format!("bind({})", local.display()),
                zero,
            )
            .map_err(bind_error(&local))?;
            SocketFile::record(&local).map_err(bind_error(&local))?
        }
    };
    connect_unix(&socket, path)?;
    Ok((UnixDatagram::from_std(socket.into()), file))
}

fn connect_unix(socket: &Socket, path: &Path) -> Result<()> {
    traced(
        socket.connect(&unix_addr(path)?),
        || format!("connect({})", path.display()),
        zero,
    )
    .map_err(|source| Error::Connect {
        addr: path.display().to_string(),
        source: explain_unix_refusal(path, source),
    })
}

/// connect(2) to a file that is not a socket says `ECONNREFUSED`, as for a stale socket
/// file; name the real cause, in the words the listener uses for such a file.
fn explain_unix_refusal(path: &Path, err: io::Error) -> io::Error {
    let is_other_file = err.kind() == io::ErrorKind::ConnectionRefused
        && std::fs::metadata(path).is_ok_and(|m| !m.file_type().is_socket());
    if is_other_file {
        io::Error::other("not a socket")
    } else {
        err
    }
}

/// A fresh path for a client's own Unix datagram address, in `$TMPDIR` (or /tmp when
/// that would be too long for `sun_path`).
fn temp_socket_path() -> Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!(
        "rnc-{}-{}-{}.sock",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::env::temp_dir();
    let path = dir.join(&name);
    if path.as_os_str().len() <= UNIX_PATH_MAX_BYTES {
        Ok(path)
    } else {
        Ok(Path::new("/tmp").join(name))
    }
}
