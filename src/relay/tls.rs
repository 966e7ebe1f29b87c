//! The TLS layer on a stream socket (`--tls`): rustls's state machine between the socket
//! and the two directions. The from-peer direction's source reads ciphertext from the
//! socket into rustls and hands out plaintext (`TlsSource`); the to-peer direction's sink
//! takes plaintext and writes ciphertext (`TlsSink`); `TlsLayer::flush` writes what rustls
//! has pending (handshake messages, tickets, alerts, close_notify) whenever the socket
//! takes it. It also puts rustls's errors in plain words.
//!
//! It never builds a configuration or loads a certificate (that is `net/tls.rs`) and never
//! waits: every call returns `WouldBlock` where the socket would block, like the socket.

use std::io::{self, Read, Write};

use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError, Error as RustlsError, InvalidMessage};

use crate::error::lowercase_first;
use crate::net::endpoint::Endpoint;
use crate::relay::direction::{Sink, Source};

/// The words for a TCP FIN that came without the peer's close_notify.
const TRUNCATED: &str = "TLS stream truncated (no close_notify): data may be missing";

/// One connection's TLS state.
pub(crate) struct TlsLayer {
    /// rustls's client or server connection.
    pub(crate) conn: rustls::Connection,
    /// Our close_notify has been queued (at stdin EOF).
    pub(crate) close_notify_sent: bool,
    /// The socket ended without the peer's close_notify: the EOF the source gave is an
    /// error, reported once the bytes before it are delivered.
    pub(crate) truncated: bool,
}

/// The socket as `Read`/`Write` for rustls's `read_tls`/`write_tls`.
struct SocketIo<'a>(&'a mut Endpoint);

impl Read for SocketIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for SocketIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf, None)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsLayer {
    /// A layer over a connection whose handshake has not started.
    pub(crate) fn new(conn: impl Into<rustls::Connection>) -> TlsLayer {
        TlsLayer {
            conn: conn.into(),
            close_notify_sent: false,
            truncated: false,
        }
    }

    /// Whether we are the client.
    fn is_client(&self) -> bool {
        matches!(self.conn, rustls::Connection::Client(_))
    }

    /// Write pending ciphertext to the socket until none is left (`Ok(true)`) or the
    /// socket is full (`Ok(false)`).
    pub(crate) fn flush(&mut self, endpoint: &mut Endpoint) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut SocketIo(endpoint)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Read ciphertext from the socket once and process it. `Ok(false)` at the socket's
    /// EOF; `WouldBlock` when it has nothing; a TLS error in words (after sending our
    /// alert, best effort).
    pub(crate) fn read_and_process(&mut self, endpoint: &mut Endpoint) -> io::Result<bool> {
        let n = loop {
            match self.conn.read_tls(&mut SocketIo(endpoint)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        let handshaking = self.conn.is_handshaking();
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.flush(endpoint);
            return Err(tls_io_error(&e, self.is_client(), handshaking));
        }
        Ok(n > 0)
    }

    /// Move the handshake on as far as it goes without waiting: `Ok(true)` once it is
    /// done (and its last flight written), `Ok(false)` when it waits for the socket.
    pub(crate) fn handshake_step(&mut self, endpoint: &mut Endpoint) -> io::Result<bool> {
        loop {
            self.flush(endpoint)?;
            if !self.conn.is_handshaking() {
                return Ok(!self.conn.wants_write());
            }
            if !self.conn.wants_read() {
                // Waiting to write only: the flush above could not finish.
                return Ok(false);
            }
            match self.read_and_process(endpoint) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection closed during the TLS handshake",
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// Queue our close_notify (once).
    pub(crate) fn send_close_notify(&mut self) {
        if !self.close_notify_sent {
            self.conn.send_close_notify();
            self.close_notify_sent = true;
        }
    }
}

/// The TLS layer's plaintext as the from-peer direction's source.
pub(crate) struct TlsSource<'a> {
    /// The layer.
    pub(crate) tls: &'a mut TlsLayer,
    /// Its socket.
    pub(crate) endpoint: &'a mut Endpoint,
}

impl Source for TlsSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.conn.reader().read(buf) {
                // 0: the peer's close_notify, a clean EOF.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.tls.truncated = true;
                    return Ok(0);
                }
                Err(e) => return Err(e),
            }
            // No plaintext buffered: more ciphertext is needed. At the socket's EOF the
            // reader above says which EOF it was.
            self.tls.read_and_process(self.endpoint)?;
        }
    }

    fn is_drained(&self, _asked: usize, _got: usize) -> bool {
        // A short read says only that rustls's plaintext ran out; the socket may hold
        // more ciphertext, so read until `WouldBlock`.
        false
    }
}

/// The TLS layer as the to-peer direction's sink: plaintext in, ciphertext to the socket.
pub(crate) struct TlsSink<'a> {
    /// The layer.
    pub(crate) tls: &'a mut TlsLayer,
    /// Its socket.
    pub(crate) endpoint: &'a mut Endpoint,
}

impl Sink for TlsSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Take new plaintext only once earlier ciphertext has gone, so rustls's buffer
        // stays bounded and `Ok(0)` (its buffer full) cannot happen.
        if !self.tls.flush(self.endpoint)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.tls.conn.writer().write(buf)?;
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // What the socket does not take now goes at the next write or writable event.
        self.tls.flush(self.endpoint)?;
        Ok(n)
    }

    fn short_write_fills(&self) -> bool {
        false
    }
}

/// The error for a TCP FIN that came without the peer's close_notify.
pub(crate) fn truncated_error() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, TRUNCATED)
}

/// A rustls error as an `io::Error` in plain words. `handshaking`: the error came before
/// the handshake finished (garbage then is a peer that does not speak TLS).
pub(crate) fn tls_io_error(err: &RustlsError, we_are_client: bool, handshaking: bool) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        describe_tls_error(err, we_are_client, handshaking),
    )
}

/// rustls's error in words a user acts on.
pub(crate) fn describe_tls_error(
    err: &RustlsError,
    we_are_client: bool,
    handshaking: bool,
) -> String {
    let peer = if we_are_client { "server" } else { "client" };
    match err {
        RustlsError::InvalidCertificate(cert) => describe_certificate_error(cert, peer),
        RustlsError::AlertReceived(AlertDescription::CertificateRequired) if we_are_client => {
            "the server requires a client certificate (give `--tls-cert FILE --tls-key FILE`)"
                .to_string()
        }
        RustlsError::AlertReceived(
            alert @ (AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::UnsupportedCertificate),
        ) if we_are_client => format!(
            "the server refused our client certificate (TLS alert `{}`)",
            alert_name(*alert)
        ),
        RustlsError::AlertReceived(alert) => {
            format!("the {peer} sent the TLS alert `{}`", alert_name(*alert))
        }
        RustlsError::InvalidMessage(InvalidMessage::InvalidContentType)
        | RustlsError::InvalidMessage(InvalidMessage::UnknownProtocolVersion)
            if handshaking =>
        {
            if we_are_client {
                "the server answered in plain text: is this a TLS port?".to_string()
            } else {
                "the client spoke plain text, not TLS".to_string()
            }
        }
        RustlsError::NoCertificatesPresented if !we_are_client => {
            "the client presented no certificate (`--tls-client-ca` requires one)".to_string()
        }
        RustlsError::NoCertificatesPresented => format!("the {peer} presented no certificate"),
        RustlsError::PeerIncompatible(why) => {
            format!("the {peer} is incompatible: {}", debug_words(why))
        }
        RustlsError::NoApplicationProtocol => {
            format!("the {peer} accepted none of the `--alpn` protocols")
        }
        RustlsError::InvalidMessage(InvalidMessage::MessageTooLarge) => {
            format!("the {peer} sent a TLS record longer than TLS allows: not a TLS peer?")
        }
        RustlsError::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge) => format!(
            "the {peer} sent a TLS handshake message over 64 KiB (rnc's limit; a certificate chain that large?)"
        ),
        other => lowercase_first(&other.to_string()),
    }
}

/// A certificate problem, with the way out where there is one.
fn describe_certificate_error(err: &CertificateError, peer: &str) -> String {
    let hint = if peer == "client" {
        "not issued by a CA in `--tls-client-ca`"
    } else {
        "use `--tls-ca FILE`, `--pin sha256:HEX` or `--insecure`"
    };
    let what = match err {
        CertificateError::UnknownIssuer => {
            return format!(
                "the {peer}'s certificate is not trusted: self-signed or issued by an unknown authority ({hint})"
            );
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } if !presented.is_empty() => {
            let expected = match expected {
                ServerName::DnsName(name) => name.as_ref().to_string(),
                ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
                other => format!("{other:?}"),
            };
            // rustls gives each name as `DnsName("a.example")` or `IpAddress(…)`.
            let names: Vec<&str> = presented
                .iter()
                .map(|name| {
                    let inner = name
                        .split_once('(')
                        .map_or(name.as_str(), |(_, rest)| rest.trim_end_matches(')'));
                    inner.trim_matches('"')
                })
                .collect();
            return format!(
                "the {peer}'s certificate is for {}, not {expected} (`--sni NAME` checks another name; {hint})",
                names.join(", ")
            );
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            return format!(
                "the {peer}'s certificate is not valid for this name (`--sni NAME` checks another name; {hint})"
            );
        }
        CertificateError::ExpiredContext { time, not_after } => {
            return format!(
                "the {peer}'s certificate has expired: valid until {}, now {}",
                utc_text(not_after.as_secs()),
                utc_text(time.as_secs())
            );
        }
        CertificateError::NotValidYetContext { time, not_before } => {
            return format!(
                "the {peer}'s certificate is not valid yet: valid from {}, now {} (check the clock)",
                utc_text(not_before.as_secs()),
                utc_text(time.as_secs())
            );
        }
        CertificateError::Expired => "has expired",
        CertificateError::NotValidYet => "is not valid yet (check the clock)",
        CertificateError::Revoked => "has been revoked",
        CertificateError::BadSignature => "has a bad signature",
        CertificateError::BadEncoding => "is malformed",
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "uses an unsupported signature algorithm"
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "is not for TLS servers"
        }
        CertificateError::ApplicationVerificationFailure => {
            return format!("the {peer}'s certificate does not match `--pin`");
        }
        // webpki's own reasons arrive wrapped; the common one is a certificate made with
        // `openssl req -x509`, which marks it as a CA by default.
        CertificateError::Other(other) if other.to_string() == "CaUsedAsEndEntity" => {
            "is a CA certificate (`CA:TRUE`), not one for a server: make it with \
             `basicConstraints=CA:FALSE`"
        }
        CertificateError::Other(other) => {
            return format!(
                "the {peer}'s certificate is invalid: {}",
                camel_words(&other.to_string(), ' ')
            );
        }
        other => {
            return format!(
                "the {peer}'s certificate is invalid: {}",
                debug_words(other)
            );
        }
    };
    format!("the {peer}'s certificate {what}")
}

/// Seconds since the Unix epoch as `2026-11-29 20:31 UTC` (the civil-from-days algorithm
/// of Howard Hinnant's `date` library).
fn utc_text(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let (year, month, day) = crate::relay::hexdump::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// An alert's name as the RFC spells it: `handshake_failure`.
fn alert_name(alert: AlertDescription) -> String {
    camel_words(&format!("{alert:?}"), '_')
}

/// A rustls enum variant's name as lowercase words: `NoCipherSuitesInCommon` → `no
/// cipher suites in common`.
fn debug_words(value: &impl std::fmt::Debug) -> String {
    camel_words(&format!("{value:?}"), ' ')
}

/// `CamelCase` (any payload after it dropped) → lowercase words joined by `sep`.
fn camel_words(camel: &str, sep: char) -> String {
    let camel = camel.split(['(', ' ', '{']).next().unwrap_or(camel);
    let mut out = String::new();
    let mut after_lower = false;
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            // An acronym stays one word: `UnknownCA` → `unknown_ca`.
            if after_lower {
                out.push(sep);
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
        after_lower = !c.is_ascii_uppercase();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_errors_are_plain_words() {
        let unknown = RustlsError::InvalidCertificate(CertificateError::UnknownIssuer);
        let text = describe_tls_error(&unknown, true, true);
        assert!(
            text.contains("not trusted") && text.contains("--insecure"),
            "{text}"
        );
        let expired = RustlsError::InvalidCertificate(CertificateError::Expired);
        assert_eq!(
            describe_tls_error(&expired, true, true),
            "the server's certificate has expired"
        );
        let expired = RustlsError::InvalidCertificate(CertificateError::ExpiredContext {
            time: rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                1_796_000_000,
            )),
            not_after: rustls::pki_types::UnixTime::since_unix_epoch(
                std::time::Duration::from_secs(1_700_000_000),
            ),
        });
        assert_eq!(
            describe_tls_error(&expired, true, true),
            "the server's certificate has expired: valid until 2023-11-14 22:13 UTC, \
             now 2026-11-30 00:53 UTC"
        );
        let wrong_name =
            RustlsError::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("c.example").unwrap(),
                presented: vec![r#"DnsName("a.example")"#.into(), "b.example".into()],
            });
        assert!(
            describe_tls_error(&wrong_name, true, true)
                .starts_with("the server's certificate is for a.example, b.example, not c.example"),
            "{}",
            describe_tls_error(&wrong_name, true, true)
        );
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00 UTC");
        let alert = RustlsError::AlertReceived(AlertDescription::HandshakeFailure);
        assert_eq!(
            describe_tls_error(&alert, true, true),
            "the server sent the TLS alert `handshake_failure`"
        );
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        let plain = RustlsError::InvalidMessage(InvalidMessage::InvalidContentType);
        assert_eq!(
            describe_tls_error(&plain, true, true),
            "the server answered in plain text: is this a TLS port?"
        );
        let big = RustlsError::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge);
        assert!(
            describe_tls_error(&big, true, true).contains("over 64 KiB"),
            "{}",
            describe_tls_error(&big, true, true)
        );
    }
}
