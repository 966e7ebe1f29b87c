//! HTTP `CONNECT` for `Handshake`: the request (with basic authentication once the
//! password is known) and the reply's status line and header, which must end within
//! the reply limit; 2xx opens the tunnel, 407 may ask for `-P USER`'s password. Pure.

use std::fmt::Write as _;

use super::handshake::{Handshake, Refusal, Step, not_a_reply, shown};

impl Handshake {
    /// HTTP: the CONNECT request, with basic credentials once the password is known.
    pub(super) fn http_request(&self) -> Vec<u8> {
        let target = self.target_text();
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some((user, Some(pass))) = &self.auth {
            let credentials = base64(format!("{user}:{pass}").as_bytes());
            let _ = write!(request, "Proxy-Authorization: Basic {credentials}\r\n");
        }
        request.push_str("\r\n");
        request.into_bytes()
    }
}

impl Handshake {
    /// An HTTP reply: a status line, headers, an empty line. 2xx opens the tunnel; 407 asks
    /// for the password when `asks_password` (`-P USER` without one).
    pub(super) fn on_http_connect(
        reply: &[u8],
        asks_password: bool,
    ) -> std::result::Result<Step, Refusal> {
        let prefix = &reply[..reply.len().min(5)];
        if !b"HTTP/".starts_with(prefix) {
            return Err(not_a_reply("HTTP", reply));
        }
        let Some(end) = header_end(reply) else {
            return Ok(Step::NeedMore);
        };
        let first_line = reply.split(|&b| b == b'\n').next().unwrap_or_default();
        let status_line = first_line.strip_suffix(b"\r").unwrap_or(first_line);
        let mut parts = status_line.splitn(3, |&b| b == b' ');
        let _version = parts.next();
        let code = parts.next().unwrap_or_default();
        let reason = parts.next().unwrap_or_default();
        if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
            return Err(not_a_reply("HTTP", reply));
        }
        if code[0] == b'2' {
            return Ok(Step::Next {
                used: end,
                send: None,
            });
        }
        if code == b"407" && asks_password {
            return Ok(Step::NeedPassword { used: end });
        }
        let mut status = String::from_utf8_lossy(code).into_owned();
        let reason = shown(reason, 80);
        if !reason.is_empty() {
            status.push(' ');
            status.push_str(&reason);
        }
        Err(Refusal::Answered(status))
    }
}

/// The length of an HTTP header up to and including its empty line (CRLF or bare LF).
fn header_end(reply: &[u8]) -> Option<usize> {
    reply.windows(2).enumerate().find_map(|(i, w)| match w {
        b"\n\n" => Some(i + 2),
        b"\n\r" if reply.get(i + 2) == Some(&b'\n') => Some(i + 3),
        _ => None,
    })
}

/// Standard base64 with padding (RFC 4648), for HTTP basic authentication.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::proxy::handshake::ProxyKind;

    use crate::net::proxy::handshake::testing::{ip, start};

    #[test]
    fn proxy_base64_matches_rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("user:pass", "dXNlcjpwYXNz"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain}");
        }
    }

    #[test]
    fn proxy_http_connect_request_and_replies() {
        let (mut hs, first) = start(ProxyKind::Http, ip("::1"), Some(("user", "pass")));
        assert_eq!(
            String::from_utf8(first).unwrap(),
            "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\
             Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n"
        );
        assert_eq!(hs.on_reply(b"HTT"), Ok(Step::NeedMore));
        assert_eq!(
            hs.on_reply(b"HTTP/1.1 200 OK\r\nX: y\r\n"),
            Ok(Step::NeedMore)
        );
        assert_eq!(
            hs.on_reply(b"HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0"),
            Ok(Step::Next {
                used: 39,
                send: None
            })
        );
        assert_eq!(
            hs.on_reply(b"HTTP/1.0 200 OK\n\nrest"),
            Ok(Step::Next {
                used: 17,
                send: None
            })
        );
        assert_eq!(
            hs.on_reply(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"),
            Err(Refusal::Answered(
                "407 Proxy Authentication Required".into()
            ))
        );
        assert_eq!(
            hs.on_reply(b"HTTP/1.1 502 \x1b[2J\r\n\r\n"),
            Err(Refusal::Answered("502 \\x1b[2J".into()))
        );
        assert!(matches!(hs.on_reply(b"\x05\x00"), Err(Refusal::Proxy(_))));
        assert!(matches!(
            hs.on_reply(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Err(Refusal::Proxy(_))
        ));
        assert!(matches!(hs.on_reply(b"\n\n"), Err(Refusal::Proxy(_))));
    }

    #[test]
    fn proxy_http_407_asks_for_the_password_of_p_user() {
        let (mut hs, first) = Handshake::start(
            ProxyKind::Http,
            ip("127.0.0.1"),
            80,
            Some(("user".to_string(), None)),
        )
        .expect("starts");
        assert_eq!(
            String::from_utf8(first).unwrap(),
            "CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
            "no credentials before the proxy asks"
        );
        let reply = b"HTTP/1.1 407 Proxy Authentication Required\r\nX: y\r\n\r\nbody";
        assert_eq!(hs.on_reply(reply), Ok(Step::NeedPassword { used: 52 }));
        let again = hs.with_password("pass".into()).expect("a request");
        assert!(
            String::from_utf8(again)
                .unwrap()
                .contains("Proxy-Authorization: Basic dXNlcjpwYXNz\r\n")
        );
        assert_eq!(
            hs.on_reply(reply),
            Err(Refusal::Answered(
                "407 Proxy Authentication Required".into()
            )),
            "a second 407 is the answer"
        );
    }
}
