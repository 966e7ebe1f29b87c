//! The proxy handshake's protocol half, sans I/O: `Handshake` makes each request and
//! reads each reply from a byte slice (everything received so far), and says what comes
//! next (`Step`) or why it failed (`Refusal`). It never trusts a length or a byte it was
//! sent. The protocols' own requests and replies are in `socks.rs` (SOCKS4/4a, SOCKS5 and
//! RFC 1929) and `http.rs` (`CONNECT`); the loop-driven exchange on the socket is
//! `proxy.rs`. No sockets, no loop, no terminal here: it is in the library target, which
//! the fuzz targets share.

use std::net::{IpAddr, SocketAddr};

/// The proxy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// SOCKS version 4 (4a for a name the proxy resolves).
    Socks4,
    /// SOCKS version 5 (RFC 1928), with username/password (RFC 1929) when given.
    Socks5,
    /// HTTP `CONNECT`, with basic authentication when given.
    Http,
}

impl ProxyKind {
    /// The name shown to users (`-v`, errors).
    pub fn name(self) -> &'static str {
        match self {
            ProxyKind::Socks4 => "socks4",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Http => "http",
        }
    }

    /// The protocol's well-known port, used when `-x`/`--proxy` gives none.
    pub fn default_port(self) -> u16 {
        match self {
            ProxyKind::Socks4 | ProxyKind::Socks5 => 1080,
            ProxyKind::Http => 3128,
        }
    }
}

/// Where the proxy is asked to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An address rnc resolved, or that the user gave.
    Ip(IpAddr),
    /// A name the proxy resolves.
    Name(String),
}

/// Which request the handshake waits on the reply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// SOCKS5: the methods we offered; the proxy picks one.
    Socks5Greeting,
    /// SOCKS5: our user and password.
    Socks5Auth,
    /// SOCKS5: CONNECT.
    Socks5Connect,
    /// SOCKS4: CONNECT (the only request).
    Socks4Connect,
    /// HTTP: CONNECT (the only request).
    HttpConnect,
}

/// What a reply leads to.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The reply is not complete yet.
    NeedMore,
    /// The reply took the first `used` bytes; send `send` next, or, with `None`, the
    /// tunnel is up.
    Next { used: usize, send: Option<Vec<u8>> },
    /// The reply took the first `used` bytes and asks for the password of `-P USER`
    /// (`Handshake::with_password` gives the request that carries it).
    NeedPassword { used: usize },
}

/// Why the handshake failed, in words; the driver names the hop.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The proxy itself: `proxy P: …`.
    Proxy(String),
    /// The proxy could not reach the target: `via proxy P: …`.
    Via(String),
    /// An HTTP proxy's status line: `proxy P answered HTTP …`.
    Answered(String),
}

/// The handshake's protocol state (sans I/O).
#[derive(Debug)]
pub struct Handshake {
    /// The protocol.
    pub(super) kind: ProxyKind,
    /// The request whose reply comes next.
    pub(super) stage: Stage,
    /// Where to.
    pub(super) destination: Destination,
    /// The target's port.
    pub(super) port: u16,
    /// User and password (`None`: not known yet, asked for when the proxy wants it).
    pub(super) auth: Option<(String, Option<String>)>,
}

impl Handshake {
    /// A handshake and its first request.
    pub fn start(
        kind: ProxyKind,
        destination: Destination,
        port: u16,
        auth: Option<(String, Option<String>)>,
    ) -> std::result::Result<(Handshake, Vec<u8>), Refusal> {
        let stage = match kind {
            ProxyKind::Socks5 => Stage::Socks5Greeting,
            ProxyKind::Socks4 => Stage::Socks4Connect,
            ProxyKind::Http => Stage::HttpConnect,
        };
        let hs = Handshake {
            kind,
            stage,
            destination,
            port,
            auth,
        };
        let first = match kind {
            ProxyKind::Socks5 if hs.auth.is_some() => vec![5, 2, 0, 2],
            ProxyKind::Socks5 => vec![5, 1, 0],
            ProxyKind::Socks4 => hs.socks4_request()?,
            ProxyKind::Http => hs.http_request(),
        };
        Ok((hs, first))
    }

    /// The target as shown: `127.0.0.1:8080`, `[::1]:8080`, `example.org:443`.
    pub fn target_text(&self) -> String {
        destination_text(&self.destination, self.port)
    }

    /// Read the reply to the last request from `reply` (everything received so far).
    pub fn on_reply(&mut self, reply: &[u8]) -> std::result::Result<Step, Refusal> {
        match self.stage {
            Stage::Socks5Greeting => self.on_socks5_method(reply),
            Stage::Socks5Auth => Self::on_socks5_auth(reply).map(|step| match step {
                Step::Next { used, .. } => {
                    self.stage = Stage::Socks5Connect;
                    Step::Next {
                        used,
                        send: Some(self.socks5_connect_request()),
                    }
                }
                more => more,
            }),
            Stage::Socks5Connect => self.on_socks5_connect(reply),
            Stage::Socks4Connect => self.on_socks4_connect(reply),
            Stage::HttpConnect => {
                Self::on_http_connect(reply, self.user_without_password().is_some())
            }
        }
    }

    /// The user whose password is not known yet (`-P USER`).
    pub fn user_without_password(&self) -> Option<&str> {
        match &self.auth {
            Some((user, None)) => Some(user),
            _ => None,
        }
    }

    /// After `Step::NeedPassword`: the password typed, and the request that carries it.
    /// SOCKS5 sends it on the same connection (RFC 1929); HTTP sends its `CONNECT` again
    /// with credentials, on a new connection, as nc does after a 407.
    pub fn with_password(&mut self, password: String) -> std::result::Result<Vec<u8>, Refusal> {
        if let Some((_, pass)) = &mut self.auth {
            *pass = Some(password);
        }
        match (self.kind, &self.auth) {
            (ProxyKind::Socks5, Some((user, Some(pass)))) => {
                if pass.len() > 255 {
                    return Err(Refusal::Proxy(
                        "the password takes more than the 255 bytes SOCKS5 can carry".into(),
                    ));
                }
                self.stage = Stage::Socks5Auth;
                Ok(Self::socks5_auth_request(user, pass))
            }
            _ => Ok(self.http_request()),
        }
    }

    /// The protocol's name as shown (`socks5`).
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }
}

/// Bytes from a proxy as text that is safe to print: printable ASCII kept, the rest
/// escaped, at most `max` bytes shown.
pub(super) fn shown(bytes: &[u8], max: usize) -> String {
    let mut text: String = bytes[..bytes.len().min(max)]
        .escape_ascii()
        .to_string()
        .chars()
        .collect();
    if bytes.len() > max {
        text.push('…');
    }
    text
}

pub(super) fn not_a_reply(protocol: &str, reply: &[u8]) -> Refusal {
    Refusal::Proxy(format!(
        "the reply is not {protocol} (starts with `{}`)",
        shown(reply, 16)
    ))
}

fn destination_text(destination: &Destination, port: u16) -> String {
    match destination {
        Destination::Ip(ip) => SocketAddr::new(*ip, port).to_string(),
        Destination::Name(name) => format!("{name}:{port}"),
    }
}

/// What the proxy modules' tests share: a handshake started for port 8080.
#[cfg(test)]
pub(super) mod testing {
    use super::*;

    pub(crate) fn start(
        kind: ProxyKind,
        dest: Destination,
        auth: Option<(&str, &str)>,
    ) -> (Handshake, Vec<u8>) {
        let auth = auth.map(|(u, p)| (u.to_string(), Some(p.to_string())));
        Handshake::start(kind, dest, 8080, auth).expect("starts")
    }

    pub(crate) fn ip(text: &str) -> Destination {
        Destination::Ip(text.parse().expect("address"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::testing::start;
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Any reply, read at every length it reaches, never panics, a step never claims
        /// more bytes than were received, and a refusal's words hold no control character.
        #[test]
        fn proxy_property_replies_never_panic_on_any_prefix_of_noise(
            kind in prop::sample::select(&[ProxyKind::Socks4, ProxyKind::Socks5, ProxyKind::Http][..]),
            noise in prop::collection::vec(any::<u8>(), 0..40),
        ) {
            let (mut hs, _) = start(kind, Destination::Name("n".into()), Some(("u", "")));
            for cut in 0..=noise.len() {
                match hs.on_reply(&noise[..cut]) {
                    Ok(Step::Next { used, .. } | Step::NeedPassword { used }) => {
                        prop_assert!(used <= cut, "{:?} used {} of {}", kind, used, cut);
                    }
                    Ok(Step::NeedMore) => {}
                    Err(Refusal::Proxy(text) | Refusal::Via(text) | Refusal::Answered(text)) => {
                        prop_assert!(!text.chars().any(char::is_control), "{:?}", text);
                    }
                }
            }
        }
    }
}
