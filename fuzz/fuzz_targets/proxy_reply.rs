//! The proxy handshake's reply parsers (`net/proxy/{handshake,socks,http}.rs`) on any bytes
//! from a proxy, arriving in pieces as a driver would see them: no panic, a step never
//! claims more bytes than were received, and a refusal's words (which quote the proxy) hold
//! no control character, so a proxy cannot drive the terminal through rnc's message.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use rnc::net::proxy::handshake::{Destination, Handshake, ProxyKind, Refusal, Step};

fuzz_target!(|data: &[u8]| {
    let Some((&setup, reply)) = data.split_first() else {
        return;
    };
    let kind = match setup % 3 {
        0 => ProxyKind::Socks4,
        1 => ProxyKind::Socks5,
        _ => ProxyKind::Http,
    };
    let destination = if setup & 4 != 0 {
        Destination::Name("target.example".into())
    } else {
        Destination::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
    };
    let auth = match setup >> 3 & 3 {
        0 => None,
        1 => Some(("user".to_string(), None)),
        _ => Some(("user".to_string(), Some("secret".to_string()))),
    };
    let Ok((mut handshake, _request)) = Handshake::start(kind, destination, 443, auth) else {
        return;
    };
    // The bytes arrive in pieces of 1 to 8 bytes (set by the setup byte's top bits).
    let piece = usize::from(setup >> 5) + 1;
    let (mut start, mut end) = (0, 0);
    for _ in 0..=reply.len() * 2 + 4 {
        end = (end + piece).min(reply.len());
        let received = &reply[start..end];
        match handshake.on_reply(received) {
            Ok(Step::NeedMore) if end == reply.len() => return,
            Ok(Step::NeedMore) => {}
            Ok(Step::Next { used, send }) => {
                assert!(used <= received.len(), "used {used} of {}", received.len());
                start += used;
                if send.is_none() {
                    return; // The tunnel is up; the rest is the tunnelled stream.
                }
            }
            Ok(Step::NeedPassword { used }) => {
                assert!(used <= received.len(), "used {used} of {}", received.len());
                start += used;
                if handshake.with_password("pw".into()).is_err() {
                    return;
                }
            }
            Err(Refusal::Proxy(text) | Refusal::Via(text) | Refusal::Answered(text)) => {
                assert!(!text.chars().any(char::is_control), "{text:?}");
                return;
            }
        }
    }
});
