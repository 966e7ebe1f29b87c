//! rnc's one error type, its exit codes and the one-line printer.
//!
//! Every variant names the operation that failed and the thing it failed on; sources are
//! kept as `#[source]` so the printer can join them. No blanket `From<io::Error>`: an I/O
//! error without its address or file would not tell the user anything.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;

/// Everything that can end rnc with a message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A flag or argument is wrong by meaning (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A host name did not resolve.
    #[error("cannot resolve `{host}`")]
    Resolve {
        host: String,
        #[source]
        source: io::Error,
    },
    /// A host name resolved to nothing usable for the requested family.
    #[error("`{host}` has no {family} address")]
    NoAddress { host: String, family: &'static str },
    /// Creating or configuring a socket failed.
    #[error("{what}")]
    Socket {
        what: String,
        #[source]
        source: io::Error,
    },
    /// Binding a local address failed.
    #[error("bind to {addr}")]
    Bind {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// Binding a port below the first unprivileged one was refused: a user without the
    /// right to bind it gets the hint.
    #[error("bind to {addr}")]
    BindPrivileged {
        addr: String,
        /// The lowest port anyone may bind (`net.ipv4.ip_unprivileged_port_start`).
        first_unprivileged: u16,
        #[source]
        source: io::Error,
    },
    /// Listening (listen(2), after the bind) failed.
    #[error("listen on {addr}")]
    Listen {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// Accepting a connection failed.
    #[error("accept on {addr}")]
    Accept {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// Connecting failed.
    #[error("connect to {addr}")]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// `-z` over several ports found nothing open (`ports` as `20-25,80`).
    #[error("no open port on {host} in {ports}")]
    ScanFoundNothing { host: String, ports: String },
    /// A connect did not finish within `-w`.
    #[error("connect to {addr}: timed out after {secs}")]
    ConnectTimeout { addr: String, secs: String },
    /// The proxy hop failed: its handshake broke, timed out, or it refused us
    /// (`proxy 127.0.0.1:1080: authentication required`).
    #[error("proxy {proxy}")]
    Proxy {
        proxy: String,
        #[source]
        source: io::Error,
    },
    /// Finding the proxy failed (`proxy p.invalid:1080: cannot resolve …`): said so, or
    /// it would read as if the target had failed.
    #[error("proxy {proxy}")]
    ProxyHost {
        proxy: String,
        #[source]
        source: Box<Error>,
    },
    /// The proxy wants the password of `-P USER` and there is no terminal to ask on.
    #[error(
        "proxy {proxy} asks for a password for `{user}`, and there is no terminal to ask on: \
         use `--proxy-auth {user}:PASS`"
    )]
    ProxyPasswordUnasked { proxy: String, user: String },
    /// An HTTP proxy answered CONNECT with a status other than 2xx.
    #[error("proxy {proxy} answered HTTP {status}")]
    ProxyAnswered { proxy: String, status: String },
    /// The proxy could not reach the target (`via proxy …: connection refused by …`).
    #[error("via proxy {proxy}: {reason}")]
    ViaProxy { proxy: String, reason: String },
    /// A Unix socket path problem found before any syscall on the socket.
    #[error("unix socket `{}`: {reason}", path.display())]
    UnixPath { path: PathBuf, reason: String },
    /// Reading from or writing to the peer failed.
    #[error("{op} {peer}")]
    Peer {
        op: &'static str,
        peer: String,
        #[source]
        source: io::Error,
    },
    /// Loading or making TLS certificates and keys failed.
    #[error("{what}: {reason}")]
    TlsSetup { what: String, reason: String },
    /// Without `--tls`, the server's first bytes were a TLS record.
    #[error("the peer speaks TLS: try --tls")]
    PeerSpeaksTls,
    /// The TLS handshake failed.
    #[error("TLS handshake with {peer}")]
    TlsHandshake {
        peer: String,
        #[source]
        source: io::Error,
    },
    /// Starting the program of `-e`/`-c` failed.
    #[error("run `{program}`")]
    Exec {
        program: String,
        #[source]
        source: io::Error,
    },
    /// Reading stdin or writing stdout failed.
    #[error("{op}")]
    Stdio {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// Opening or writing a traffic log (`-o`, `--hex-dump`) failed.
    #[error("{op} {}", path.display())]
    Log {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Setting up the event loop failed.
    #[error("event loop: {what}")]
    Poll {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

/// rnc's result type.
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// A wrong host, port or port list from the library target's parsers is a usage error.
impl From<rnc::config::address::UsageError> for Error {
    fn from(e: rnc::config::address::UsageError) -> Self {
        Error::Usage(e.0)
    }
}

impl Error {
    /// The documented exit code: 2 for usage errors, 1 for everything that happened at run time.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::UnixPath { .. } => 2,
            _ => 1,
        }
    }

    /// The whole error on one line: the message, then each source, joined by `: `.
    pub(crate) fn one_line(&self) -> String {
        let mut line = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(err) = source {
            let _ = write!(line, ": {}", describe_source(err));
            source = err.source();
        }
        if let Some(hint) = self.hint() {
            let _ = write!(line, " ({hint})");
        }
        line
    }

    /// What the user can do about it, when rnc knows.
    fn hint(&self) -> Option<String> {
        match self {
            Error::BindPrivileged {
                first_unprivileged, ..
            } => Some(format!(
                "ports below {first_unprivileged} need root or CAP_NET_BIND_SERVICE"
            )),
            _ => None,
        }
    }
}

/// A lowercase, terse text for an error from the OS: `connection refused`, not
/// `Connection refused (os error 111)`.
fn describe_source(err: &(dyn std::error::Error + 'static)) -> String {
    if let Some(io_err) = err.downcast_ref::<io::Error>() {
        return describe_io(io_err);
    }
    err.to_string()
}

/// The user-facing text of an `io::Error`.
pub(crate) fn describe_io(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::TimedOut => return "timed out".to_string(),
        io::ErrorKind::ConnectionRefused => return "connection refused".to_string(),
        io::ErrorKind::ConnectionReset => return "connection reset by peer".to_string(),
        io::ErrorKind::AddrInUse => return "address already in use".to_string(),
        _ => {}
    }
    let text = err.to_string();
    // std formats OS errors as "Message text (os error N)"; keep the text only.
    let text = match text.find(" (os error ") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    lowercase_first(text)
}

/// `text` with its first letter in lower case, as rnc's messages are, unless it starts
/// with an acronym (`TLS stream truncated`).
pub(crate) fn lowercase_first(text: &str) -> String {
    if text.chars().take(2).all(|c| c.is_ascii_uppercase()) {
        return text.to_string();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_connect_refused_names_address() {
        let err = Error::Connect {
            addr: "127.0.0.1:9".into(),
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        assert_eq!(err.one_line(), "connect to 127.0.0.1:9: connection refused");
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn error_os_text_is_lowercased_without_os_error_suffix() {
        let err = Error::Listen {
            addr: "0.0.0.0:5000".into(),
            source: io::Error::from(rustix::io::Errno::ADDRINUSE),
        };
        assert_eq!(
            err.one_line(),
            "listen on 0.0.0.0:5000: address already in use"
        );
        let err = Error::Stdio {
            op: "write to stdout",
            source: io::Error::from(rustix::io::Errno::NOSPC),
        };
        assert_eq!(err.one_line(), "write to stdout: no space left on device");
    }

    #[test]
    fn error_privileged_port_says_bind_and_what_it_needs() {
        let err = Error::BindPrivileged {
            addr: "[::]:80".into(),
            first_unprivileged: 1024,
            source: io::Error::from(rustix::io::Errno::ACCESS),
        };
        assert_eq!(
            err.one_line(),
            "bind to [::]:80: permission denied \
             (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        );
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn error_usage_exit_code_is_2() {
        assert_eq!(
            Error::Usage("invalid port `70000` (1-65535)".into()).exit_code(),
            2
        );
        let err = Error::UnixPath {
            path: "/x".into(),
            reason: "path too long".into(),
        };
        assert_eq!(err.exit_code(), 2);
        assert_eq!(err.one_line(), "unix socket `/x`: path too long");
    }
}
