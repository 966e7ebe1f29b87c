//! The proxy flags → `ProxyOptions`: nc's `-x HOST[:PORT] -X 4|5|connect -P USER` and
//! ncat's `--proxy HOST[:PORT] --proxy-type socks4|socks5|http --proxy-auth USER[:PASS]
//! --proxy-dns local|remote|both|none`, and every check between them and the other flags.
//!
//! Pure, like the rest of `config`: no DNS (a proxy host that is a name stays a
//! `Host::Name`) and no network. Talking to the proxy is `net/proxy.rs`.

use super::{Host, Mode, Target, Transport, parse_host, parse_port, split_host_port, usage};
use crate::cli::Cli;
use crate::error::Result;

// The protocol is the handshake's (in the library target, with the reply parsers).
pub(crate) use rnc::net::proxy::handshake::ProxyKind;

/// Where the target's name is resolved (`--proxy-dns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProxyDns {
    /// By rnc; the proxy is given an address.
    Local,
    /// By the proxy; it is given the name.
    Remote,
    /// By rnc first, by the proxy when rnc cannot.
    Both,
    /// Nowhere: the target must be an address.
    None,
}

/// A proxy to connect through, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyOptions {
    /// The protocol.
    pub(crate) kind: ProxyKind,
    /// The proxy's host, resolved by rnc.
    pub(crate) host: Host,
    /// The proxy's port.
    pub(crate) port: u16,
    /// User and password. `-P USER` gives no password: rnc asks for it on the terminal
    /// when the proxy wants one, as nc does (SOCKS4: the user id only, never asked).
    pub(crate) auth: Option<(String, Option<String>)>,
    /// Where the target's name is resolved.
    pub(crate) dns: ProxyDns,
}

/// The proxy flags, checked against each other and against the mode and transport.
pub(crate) fn proxy_options(
    cli: &Cli,
    mode: Mode,
    transport: Transport,
    target: &Target,
) -> Result<Option<ProxyOptions>> {
    let (address, default_kind, address_flag) = match (&cli.nc_proxy, &cli.proxy) {
        (Some(_), Some(_)) => return usage("`-x` and `--proxy` cannot be used together"),
        (Some(a), None) => (a, ProxyKind::Socks5, "-x"),
        (None, Some(a)) => (a, ProxyKind::Http, "--proxy"),
        (None, None) => {
            let stray = [
                ("-X", cli.nc_proxy_type.is_some()),
                ("--proxy-type", cli.proxy_type.is_some()),
                ("-P", cli.nc_proxy_user.is_some()),
                ("--proxy-auth", cli.proxy_auth.is_some()),
                ("--proxy-dns", cli.proxy_dns.is_some()),
            ];
            return match stray.iter().find(|(_, on)| *on) {
                Some((flag, _)) => usage(format!(
                    "`{flag}` needs a proxy (`-x HOST[:PORT]` or `--proxy HOST[:PORT]`)"
                )),
                None => Ok(None),
            };
        }
    };
    let conflict = if mode == Mode::Listen {
        Some("-l")
    } else if transport.is_datagram() && !cli.unix {
        Some("-u")
    } else if cli.unix {
        Some("-U")
    } else if mode == Mode::Scan {
        Some("a `-z` port list")
    } else {
        None
    };
    if let Some(other) = conflict {
        let other = if other.starts_with('-') {
            format!("`{other}`")
        } else {
            other.to_string()
        };
        return usage(format!("`{address_flag}` cannot be used with {other}"));
    }
    let kind = match (cli.nc_proxy_type.as_deref(), cli.proxy_type.as_deref()) {
        (Some(_), Some(_)) => return usage("`-X` and `--proxy-type` cannot be used together"),
        (Some(t), None) => parse_kind("-X", t)?,
        (None, Some(t)) => parse_kind("--proxy-type", t)?,
        (None, None) => default_kind,
    };
    let (host, port) = match split_host_port(address)? {
        Some((host, port)) => (host, parse_port(port, cli.numeric, false)?),
        None => (address.as_str(), kind.default_port()),
    };
    let host = parse_host(host, cli.numeric)?;
    let auth = match (cli.nc_proxy_user.as_deref(), cli.proxy_auth.as_deref()) {
        (Some(_), Some(_)) => return usage("`-P` and `--proxy-auth` cannot be used together"),
        (Some(user), None) => Some((user.to_string(), None)),
        (None, Some(text)) => Some(match text.split_once(':') {
            Some((user, pass)) => (user.to_string(), Some(pass.to_string())),
            None => (text.to_string(), Some(String::new())),
        }),
        (None, None) => None,
    };
    if let Some((user, pass)) = &auth {
        check_auth(kind, user, pass.as_deref().unwrap_or_default())?;
    }
    let dns = match cli.proxy_dns.as_deref() {
        None if kind == ProxyKind::Socks4 => ProxyDns::Local,
        None => ProxyDns::Remote,
        Some("local") => ProxyDns::Local,
        Some("remote") => ProxyDns::Remote,
        Some("both") => ProxyDns::Both,
        Some("none") => ProxyDns::None,
        Some(other) => {
            return usage(format!(
                "invalid `--proxy-dns {other}` (local, remote, both or none)"
            ));
        }
    };
    if let Target::Inet {
        host: Some(Host::Name(name)),
        ..
    } = target
        && dns == ProxyDns::None
    {
        return usage(format!(
            "`--proxy-dns none` needs an address, not the name `{name}`"
        ));
    }
    Ok(Some(ProxyOptions {
        kind,
        host,
        port,
        auth,
        dns,
    }))
}

/// `-X 4|5|connect` or `--proxy-type socks4|socks5|http`; either flag takes either
/// spelling.
fn parse_kind(flag: &str, text: &str) -> Result<ProxyKind> {
    match text.to_ascii_lowercase().as_str() {
        "4" | "socks4" | "socks4a" => Ok(ProxyKind::Socks4),
        "5" | "socks5" => Ok(ProxyKind::Socks5),
        "connect" | "http" => Ok(ProxyKind::Http),
        _ => usage(format!(
            "invalid `{flag} {text}` (4, 5 or connect; socks4, socks5 or http)"
        )),
    }
}

/// What each protocol can carry: SOCKS5 sends each of user and password in at most 255
/// bytes (RFC 1929), SOCKS4 a user id only, ending in a NUL; an HTTP header line
/// cannot hold a line break. A password typed at the prompt is checked in `net/proxy.rs`.
fn check_auth(kind: ProxyKind, user: &str, pass: &str) -> Result<()> {
    match kind {
        ProxyKind::Socks5 if user.is_empty() || user.len() > 255 || pass.len() > 255 => {
            usage("SOCKS5 user and password take 1-255 and 0-255 bytes")
        }
        ProxyKind::Socks4 if !pass.is_empty() => {
            usage("a SOCKS4 proxy takes a user id only (`--proxy-auth USER`)")
        }
        ProxyKind::Socks4 if user.contains('\0') => usage("a SOCKS4 user id cannot hold a NUL"),
        ProxyKind::Http if user.contains(['\r', '\n']) || pass.contains(['\r', '\n']) => {
            usage("proxy user and password cannot hold a line break")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use clap::Parser;

    fn proxy(args: &[&str]) -> Result<Option<ProxyOptions>> {
        let cli = Cli::try_parse_from(std::iter::once("rnc").chain(args.iter().copied()))
            .expect("clap accepts the command line");
        Config::from_cli(cli).map(|c| c.proxy)
    }

    fn usage_text(args: &[&str]) -> String {
        match proxy(args) {
            Err(e) => {
                assert_eq!(e.exit_code(), 2, "{args:?}");
                e.one_line()
            }
            Ok(p) => panic!("{args:?} was accepted: {p:?}"),
        }
    }

    fn literal(ip: &str) -> Host {
        parse_host(ip, true).expect("literal")
    }

    #[test]
    fn proxy_nc_flags_default_to_socks5_on_1080() {
        let p = proxy(&["-x", "127.0.0.1", "h", "80"]).unwrap().unwrap();
        assert_eq!(p.kind, ProxyKind::Socks5);
        assert_eq!((p.host, p.port), (literal("127.0.0.1"), 1080));
        assert_eq!(p.dns, ProxyDns::Remote);
        let p = proxy(&["-X", "connect", "-x", "[::1]:8080", "-P", "me", "h", "80"])
            .unwrap()
            .unwrap();
        assert_eq!(p.kind, ProxyKind::Http);
        assert_eq!((p.host, p.port), (literal("::1"), 8080));
        assert_eq!(
            p.auth,
            Some(("me".into(), None)),
            "-P asks for the password"
        );
        let p = proxy(&["-X", "4", "-x", "proxy.example", "h", "80"])
            .unwrap()
            .unwrap();
        assert_eq!(p.kind, ProxyKind::Socks4);
        assert_eq!(p.port, 1080);
        assert_eq!(p.dns, ProxyDns::Local, "SOCKS4 needs an address");
    }

    #[test]
    fn proxy_ncat_flags_default_to_http_on_3128() {
        let p = proxy(&["--proxy", "127.0.0.1", "h", "80"])
            .unwrap()
            .unwrap();
        assert_eq!((p.kind, p.port), (ProxyKind::Http, 3128));
        let p = proxy(&[
            "--proxy",
            "127.0.0.1:1",
            "--proxy-type",
            "socks5",
            "--proxy-auth",
            "u:p:q",
            "--proxy-dns",
            "both",
            "h",
            "80",
        ])
        .unwrap()
        .unwrap();
        assert_eq!((p.kind, p.port), (ProxyKind::Socks5, 1));
        assert_eq!(p.auth, Some(("u".into(), Some("p:q".into()))));
        assert_eq!(p.dns, ProxyDns::Both);
        let p = proxy(&["--proxy", "127.0.0.1", "--proxy-type", "socks4"])
            .err()
            .map(|e| e.one_line());
        assert!(p.is_some(), "a target is still needed");
        assert_eq!(proxy(&["h", "80"]).unwrap(), None);
    }

    #[test]
    fn proxy_conflicts_are_usage_errors() {
        for (args, needle) in [
            (
                &["-x", "p", "-l", "80"][..],
                "`-x` cannot be used with `-l`",
            ),
            (
                &["-x", "p", "-u", "h", "80"],
                "`-x` cannot be used with `-u`",
            ),
            (
                &["-x", "p", "-U", "/tmp/s"],
                "`-x` cannot be used with `-U`",
            ),
            (&["--proxy", "p", "-U", "-u", "/tmp/s"], "with `-U`"),
            (&["-x", "p", "-z", "h", "1-5"], "port list"),
            (&["-x", "p", "--proxy", "q", "h", "80"], "together"),
            (&["-X", "5", "h", "80"], "`-X` needs a proxy"),
            (&["--proxy-auth", "u:p", "h", "80"], "`--proxy-auth` needs"),
            (&["-x", "p", "-X", "6", "h", "80"], "invalid `-X 6`"),
            (&["-x", "p", "--proxy-dns", "dns", "h", "80"], "--proxy-dns"),
            (&["-x", "p", "--proxy-dns", "none", "h", "80"], "`h`"),
            (
                &["-x", "p", "-P", "u", "--proxy-auth", "u", "h", "80"],
                "-P",
            ),
            (
                &["-X", "4", "-x", "p", "--proxy-auth", "u:p", "h", "80"],
                "SOCKS4",
            ),
            (&["-x", "p:0", "h", "80"], "invalid port"),
            (&["-x", "p", "-n", "1.2.3.4", "80"], "-n"),
        ] {
            let text = usage_text(args);
            assert!(text.contains(needle), "{args:?}: {text}");
            assert!(!text.contains('\n'), "{args:?}: one line");
        }
        assert!(
            proxy(&["-x", "1.2.3.4", "--proxy-dns", "none", "5.6.7.8", "80"])
                .unwrap()
                .is_some()
        );
    }
}
