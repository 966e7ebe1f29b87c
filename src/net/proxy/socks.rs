//! SOCKS requests and replies for `Handshake`: SOCKS5 (RFC 1928) with its method choice
//! and username/password sub-negotiation (RFC 1929), and SOCKS4 with 4a's names. Pure:
//! bytes in, bytes out; the reply codes in words.

use std::net::IpAddr;

use super::handshake::{Destination, Handshake, Refusal, Stage, Step, not_a_reply};

impl Handshake {
    /// SOCKS5: the method the proxy chose (none, or username/password).
    pub(super) fn on_socks5_method(&mut self, reply: &[u8]) -> std::result::Result<Step, Refusal> {
        let [version, method, ..] = *reply else {
            return Ok(Step::NeedMore);
        };
        if version != 5 {
            return Err(not_a_reply("SOCKS5", reply));
        }
        match (method, &self.auth) {
            (0, _) => {
                self.stage = Stage::Socks5Connect;
                Ok(Step::Next {
                    used: 2,
                    send: Some(self.socks5_connect_request()),
                })
            }
            (2, Some((user, Some(pass)))) => {
                let request = Self::socks5_auth_request(user, pass);
                self.stage = Stage::Socks5Auth;
                Ok(Step::Next {
                    used: 2,
                    send: Some(request),
                })
            }
            (2, Some((_, None))) => Ok(Step::NeedPassword { used: 2 }),
            (0xff, None) => Err(Refusal::Proxy(
                "authentication required (give `--proxy-auth USER:PASS`)".into(),
            )),
            (0xff, Some(_)) => Err(Refusal::Proxy(
                "refused every authentication method offered (none, username/password)".into(),
            )),
            (other, _) => Err(Refusal::Proxy(format!(
                "chose authentication method {other}, which rnc did not offer"
            ))),
        }
    }

    /// SOCKS5: the CONNECT request for the destination.
    pub(super) fn socks5_connect_request(&self) -> Vec<u8> {
        let mut request = vec![5, 1, 0];
        match &self.destination {
            Destination::Ip(IpAddr::V4(ip)) => {
                request.push(1);
                request.extend_from_slice(&ip.octets());
            }
            Destination::Ip(IpAddr::V6(ip)) => {
                request.push(4);
                request.extend_from_slice(&ip.octets());
            }
            Destination::Name(name) => {
                // `config` keeps names to 253 bytes.
                request.push(3);
                request.push(name.len().min(255) as u8);
                request.extend_from_slice(&name.as_bytes()[..name.len().min(255)]);
            }
        }
        request.extend_from_slice(&self.port.to_be_bytes());
        request
    }

    /// SOCKS5: the CONNECT reply, whose bound address is skipped.
    pub(super) fn on_socks5_connect(&self, reply: &[u8]) -> std::result::Result<Step, Refusal> {
        let [version, code, _reserved, address_type, ..] = *reply else {
            if reply.first().is_some_and(|&v| v != 5) {
                return Err(not_a_reply("SOCKS5", reply));
            }
            return Ok(Step::NeedMore);
        };
        if version != 5 {
            return Err(not_a_reply("SOCKS5", reply));
        }
        if code != 0 {
            return Err(Refusal::Via(socks5_reason(code, &self.target_text())));
        }
        let address_len = match address_type {
            1 => 4,
            4 => 16,
            3 => match reply.get(4) {
                Some(&len) => 1 + usize::from(len),
                None => return Ok(Step::NeedMore),
            },
            other => {
                return Err(Refusal::Proxy(format!(
                    "SOCKS5 reply with unknown address type {other}"
                )));
            }
        };
        let used = 4 + address_len + 2;
        if reply.len() < used {
            return Ok(Step::NeedMore);
        }
        Ok(Step::Next { used, send: None })
    }

    /// SOCKS4 (4a for a name): the CONNECT request, with the user id.
    pub(super) fn socks4_request(&self) -> std::result::Result<Vec<u8>, Refusal> {
        let mut request = vec![4, 1];
        request.extend_from_slice(&self.port.to_be_bytes());
        let name = match &self.destination {
            Destination::Ip(IpAddr::V4(ip)) => {
                request.extend_from_slice(&ip.octets());
                None
            }
            Destination::Ip(IpAddr::V6(ip)) => {
                return Err(Refusal::Proxy(format!(
                    "SOCKS4 cannot carry the IPv6 address {ip} (use SOCKS5)"
                )));
            }
            Destination::Name(name) => {
                // SOCKS4a: the address 0.0.0.x (x ≠ 0) says a name follows the user id.
                request.extend_from_slice(&[0, 0, 0, 1]);
                Some(name)
            }
        };
        if let Some((user, _)) = &self.auth {
            request.extend_from_slice(user.as_bytes());
        }
        request.push(0);
        if let Some(name) = name {
            request.extend_from_slice(name.as_bytes());
            request.push(0);
        }
        Ok(request)
    }

    /// SOCKS4: the 8-byte CONNECT reply.
    pub(super) fn on_socks4_connect(&self, reply: &[u8]) -> std::result::Result<Step, Refusal> {
        // Version 0, then the code; some proxies put 4 in the version byte.
        if reply.first().is_some_and(|&v| v != 0 && v != 4) {
            return Err(not_a_reply("SOCKS4", reply));
        }
        let Some(&code) = reply.get(1) else {
            return Ok(Step::NeedMore);
        };
        let target = self.target_text();
        let reason = match code {
            90 if reply.len() >= 8 => {
                return Ok(Step::Next {
                    used: 8,
                    send: None,
                });
            }
            90 => return Ok(Step::NeedMore),
            91 => format!("connection to {target} rejected or failed"),
            92 => format!("connection to {target} rejected: the proxy cannot reach our identd"),
            93 => format!("connection to {target} rejected: identd reports another user id"),
            _ => return Err(not_a_reply("SOCKS4", reply)),
        };
        Err(Refusal::Via(reason))
    }
}

impl Handshake {
    /// The username/password request (RFC 1929); `config` and `with_password` keep each to
    /// 255 bytes.
    pub(super) fn socks5_auth_request(user: &str, pass: &str) -> Vec<u8> {
        let mut request = vec![1, user.len().min(255) as u8];
        request.extend_from_slice(&user.as_bytes()[..user.len().min(255)]);
        request.push(pass.len().min(255) as u8);
        request.extend_from_slice(&pass.as_bytes()[..pass.len().min(255)]);
        request
    }

    pub(super) fn on_socks5_auth(reply: &[u8]) -> std::result::Result<Step, Refusal> {
        // RFC 1929 says version 1; some proxies answer 5. The status decides.
        let [_version, status, ..] = *reply else {
            return Ok(Step::NeedMore);
        };
        if status != 0 {
            return Err(Refusal::Proxy(
                "authentication failed (wrong user or password)".into(),
            ));
        }
        Ok(Step::Next {
            used: 2,
            send: None,
        })
    }
}

/// A SOCKS5 reply code in words (RFC 1928, section 6).
fn socks5_reason(code: u8, target: &str) -> String {
    match code {
        1 => format!("general SOCKS server failure connecting to {target}"),
        2 => format!("connection to {target} not allowed by the proxy's rules"),
        3 => format!("network unreachable for {target}"),
        4 => format!("host unreachable: {target}"),
        5 => format!("connection refused by {target}"),
        6 => format!("TTL expired on the way to {target}"),
        7 => "command not supported (CONNECT)".to_string(),
        8 => format!("address type not supported (for {target})"),
        other => format!("error {other} connecting to {target}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::proxy::handshake::ProxyKind;

    use crate::net::proxy::handshake::testing::{ip, start};

    #[test]
    fn proxy_socks5_with_auth_walks_every_stage() {
        let (mut hs, first) = start(ProxyKind::Socks5, ip("127.0.0.1"), Some(("u", "pw")));
        assert_eq!(first, [5, 2, 0, 2]);
        assert_eq!(hs.on_reply(&[5]), Ok(Step::NeedMore));
        assert_eq!(
            hs.on_reply(&[5, 2, 0xaa]),
            Ok(Step::Next {
                used: 2,
                send: Some(vec![1, 1, b'u', 2, b'p', b'w'])
            })
        );
        assert_eq!(
            hs.on_reply(&[1, 0]),
            Ok(Step::Next {
                used: 2,
                send: Some(vec![5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90])
            })
        );
        let reply = [5, 0, 0, 1, 10, 0, 0, 1, 0, 80];
        for cut in 0..reply.len() {
            assert_eq!(hs.on_reply(&reply[..cut]), Ok(Step::NeedMore), "{cut}");
        }
        let mut with_data = reply.to_vec();
        with_data.extend_from_slice(b"hello");
        assert_eq!(
            hs.on_reply(&with_data),
            Ok(Step::Next {
                used: 10,
                send: None
            })
        );
    }

    #[test]
    fn proxy_socks5_names_and_refusals() {
        let (mut hs, _) = start(
            ProxyKind::Socks5,
            Destination::Name("a.example".into()),
            None,
        );
        let Ok(Step::Next {
            send: Some(request),
            ..
        }) = hs.on_reply(&[5, 0])
        else {
            panic!("no connect request");
        };
        assert_eq!(&request[..5], &[5, 1, 0, 3, 9]);
        assert_eq!(&request[5..14], b"a.example");
        let domain_reply = [5, 0, 0, 3, 3, b'a', b'b', b'c', 0, 1];
        assert_eq!(hs.on_reply(&domain_reply[..9]), Ok(Step::NeedMore));
        assert_eq!(
            hs.on_reply(&domain_reply),
            Ok(Step::Next {
                used: 10,
                send: None
            })
        );
        assert_eq!(
            hs.on_reply(&[5, 5, 0, 1]),
            Err(Refusal::Via("connection refused by a.example:8080".into()))
        );
        assert!(matches!(hs.on_reply(&[5, 0, 0, 9]), Err(Refusal::Proxy(_))));
        assert!(matches!(
            hs.on_reply(b"HTTP/1.0 400"),
            Err(Refusal::Proxy(_))
        ));

        let (mut hs, _) = start(ProxyKind::Socks5, ip("::1"), None);
        assert_eq!(
            hs.on_reply(&[5, 0xff]),
            Err(Refusal::Proxy(
                "authentication required (give `--proxy-auth USER:PASS`)".into()
            ))
        );
        let (mut hs, _) = start(ProxyKind::Socks5, ip("::1"), Some(("u", "p")));
        hs.on_reply(&[5, 2]).expect("auth chosen");
        assert!(matches!(hs.on_reply(&[1, 1]), Err(Refusal::Proxy(t)) if t.contains("failed")));
    }

    #[test]
    fn proxy_socks5_asks_for_the_password_only_when_chosen() {
        let asking = || Some(("alice".to_string(), None));
        let (mut hs, first) =
            Handshake::start(ProxyKind::Socks5, ip("127.0.0.1"), 80, asking()).expect("starts");
        assert_eq!(first, [5, 2, 0, 2], "offers none and username/password");
        assert_eq!(hs.user_without_password(), Some("alice"));
        assert_eq!(hs.on_reply(&[5, 2, 9]), Ok(Step::NeedPassword { used: 2 }));
        assert_eq!(
            hs.with_password("pw".into()),
            Ok(vec![1, 5, b'a', b'l', b'i', b'c', b'e', 2, b'p', b'w'])
        );
        assert_eq!(hs.user_without_password(), None);
        assert!(matches!(
            hs.on_reply(&[1, 0]),
            Ok(Step::Next {
                used: 2,
                send: Some(_)
            })
        ));
        let (mut hs, _) =
            Handshake::start(ProxyKind::Socks5, ip("127.0.0.1"), 80, asking()).expect("starts");
        assert!(
            matches!(
                hs.on_reply(&[5, 0]),
                Ok(Step::Next {
                    used: 2,
                    send: Some(_)
                })
            ),
            "no password wanted, none asked"
        );
        let (mut hs, _) =
            Handshake::start(ProxyKind::Socks5, ip("127.0.0.1"), 80, asking()).expect("starts");
        hs.on_reply(&[5, 2]).expect("asks");
        assert!(matches!(
            hs.with_password("x".repeat(256)),
            Err(Refusal::Proxy(t)) if t.contains("255")
        ));
    }

    #[test]
    fn proxy_socks4_and_4a_requests_and_replies() {
        let (mut hs, first) = start(ProxyKind::Socks4, ip("10.1.2.3"), Some(("me", "")));
        assert_eq!(first, [4, 1, 0x1f, 0x90, 10, 1, 2, 3, b'm', b'e', 0]);
        assert_eq!(hs.on_reply(&[0, 90, 0, 0]), Ok(Step::NeedMore));
        assert_eq!(
            hs.on_reply(&[0, 90, 0, 0, 0, 0, 0, 0, b'x']),
            Ok(Step::Next {
                used: 8,
                send: None
            })
        );
        assert!(matches!(hs.on_reply(&[0, 91]), Err(Refusal::Via(_))));
        assert!(matches!(hs.on_reply(&[0, 7]), Err(Refusal::Proxy(_))));
        assert!(matches!(hs.on_reply(b"<html>"), Err(Refusal::Proxy(_))));
        let (_, first) = start(ProxyKind::Socks4, Destination::Name("h".into()), None);
        assert_eq!(first, [4, 1, 0x1f, 0x90, 0, 0, 0, 1, 0, b'h', 0]);
        assert!(Handshake::start(ProxyKind::Socks4, ip("::1"), 1, None).is_err());
    }
}
