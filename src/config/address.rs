//! Hosts and ports as the user writes them (`1.2.3.4`, `[::1]`, `fe80::1%lo`, a name; `80`,
//! `http`) → values, with the usage message when they are not. Pure but for two lookups:
//! the services table for port names (`/etc/services`, with a built-in fallback) and
//! `/sys/class/net` for an IPv6 scope given as an interface name. In the library target,
//! so the fuzz targets share it; `config.rs` turns `UsageError` into `Error::Usage`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A command-line value that is wrong: the one-line message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// `Err(UsageError(msg))`.
pub(crate) fn usage<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

/// A host as the user wrote it: a literal address (no DNS needed) or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A literal IPv4 or IPv6 address, with the IPv6 scope id (`%lo`) resolved.
    Literal { ip: IpAddr, scope_id: u32 },
    /// A name for `net::resolve`.
    Name(String),
}

/// Whether `text` is a non-empty run of ASCII digits.
pub fn is_all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Parse a port: a number in 1-65535 (0 too when `allow_zero`), or a service name.
pub fn parse_port(text: &str, numeric: bool, allow_zero: bool) -> Result<u16, UsageError> {
    let range = if allow_zero { "0-65535" } else { "1-65535" };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u16>() {
            Ok(0) if !allow_zero => usage(format!("invalid port `{text}` ({range})")),
            Ok(port) => Ok(port),
            Err(_) => usage(format!("invalid port `{text}` ({range})")),
        };
    }
    let is_name = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && text.as_bytes()[0].is_ascii_alphabetic();
    if !is_name {
        return usage(format!("invalid port `{}` ({range})", text.escape_debug()));
    }
    if numeric {
        return usage(format!(
            "`-n` forbids the service name `{text}`: give a port number"
        ));
    }
    match lookup_service(text) {
        Some(port) => Ok(port),
        None => usage(format!("invalid port `{text}`: unknown service name")),
    }
}

/// Look a TCP/UDP service name up in /etc/services, then in a small built-in table for
/// machines without one.
fn lookup_service(name: &str) -> Option<u16> {
    static TABLE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| std::fs::read_to_string("/etc/services").ok());
    if let Some(port) = table.as_deref().and_then(|t| find_service(t, name)) {
        return Some(port);
    }
    const BUILT_IN: &[(&str, u16)] = &[
        ("ftp", 21),
        ("ssh", 22),
        ("telnet", 23),
        ("smtp", 25),
        ("domain", 53),
        ("http", 80),
        ("www", 80),
        ("pop3", 110),
        ("imap", 143),
        ("https", 443),
        ("submission", 587),
        ("imaps", 993),
        ("pop3s", 995),
    ];
    BUILT_IN
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, p)| p)
}

/// Find `name` (or an alias) in the text of an /etc/services file.
fn find_service(table: &str, name: &str) -> Option<u16> {
    table.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let primary = fields.next()?;
        let port_proto = fields.next()?;
        let (port, _proto) = port_proto.split_once('/')?;
        let matches = primary == name || fields.any(|alias| alias == name);
        if matches { port.parse().ok() } else { None }
    })
}

/// Parse a host: `1.2.3.4`, `::1`, `[::1]`, `fe80::1%lo`, or a name (an error under `-n`).
pub fn parse_host(text: &str, numeric: bool) -> Result<Host, UsageError> {
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = unbracketed.parse::<Ipv4Addr>() {
        return Ok(Host::Literal {
            ip: IpAddr::V4(ip),
            scope_id: 0,
        });
    }
    let (addr, scope) = match unbracketed.split_once('%') {
        Some((a, s)) => (a, Some(s)),
        None => (unbracketed, None),
    };
    if let Ok(ip) = addr.parse::<Ipv6Addr>() {
        let scope_id = match scope {
            None => 0,
            Some(scope) => parse_scope(scope).ok_or_else(|| {
                // Escaped like every other text the user typed that rnc could not take, so
                // the message stays one line (the `address` fuzz target found a newline).
                UsageError(format!(
                    "unknown IPv6 scope `{}` in `{}`",
                    scope.escape_debug(),
                    text.escape_debug()
                ))
            })?,
        };
        return Ok(Host::Literal {
            ip: IpAddr::V6(ip),
            scope_id,
        });
    }
    if is_all_digits(text) {
        // inet_aton(3) would take `2130706433` for 127.0.0.1 and `5000` for 0.0.19.136.
        return usage(format!(
            "invalid address `{text}` (write an IPv4 address as `a.b.c.d`)"
        ));
    }
    let is_name = !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !is_name {
        return usage(format!("invalid address `{}`", text.escape_debug()));
    }
    if numeric {
        return usage(format!(
            "`-n` forbids the host name `{text}`: give an address"
        ));
    }
    Ok(Host::Name(text.to_string()))
}

/// An IPv6 scope: a number, or an interface name looked up in /sys/class/net.
fn parse_scope(scope: &str) -> Option<u32> {
    if let Ok(n) = scope.parse::<u32>() {
        return Some(n);
    }
    if scope.is_empty() || scope.contains('/') || scope.starts_with('.') {
        return None;
    }
    let index = std::fs::read_to_string(format!("/sys/class/net/{scope}/ifindex")).ok()?;
    index.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn address_service_name_port() {
        let table = "# comment\nhttp\t\t80/tcp\t\twww\t# WorldWideWeb\nssh 22/tcp\n";
        assert_eq!(find_service(table, "http"), Some(80));
        assert_eq!(find_service(table, "www"), Some(80));
        assert_eq!(find_service(table, "ssh"), Some(22));
        assert_eq!(find_service(table, "nope"), None);
        assert_eq!(parse_port("http", false, false).unwrap(), 80);
    }

    #[test]
    fn address_unknown_scope_message_is_one_escaped_line() {
        // The `address` fuzz target's find, cut down: a newline in the scope.
        let err = parse_host("44:4::5:0%%p\np", false).unwrap_err();
        assert_eq!(err.0, "unknown IPv6 scope `%p\\np` in `44:4::5:0%%p\\np`");
        let err = parse_host("fe80::1%no\x1b[2Jsuch", false).unwrap_err();
        assert!(!err.0.contains(['\n', '\x1b']), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// A port as text parses back to itself; 0 only where it is allowed.
        #[test]
        fn address_property_port_round_trips(port: u16, numeric: bool) {
            let text = port.to_string();
            prop_assert_eq!(parse_port(&text, numeric, true), Ok(port));
            prop_assert_eq!(parse_port(&text, numeric, false).is_ok(), port != 0);
        }

        /// An IPv4 address as text, bare or bracketed, parses back to itself.
        #[test]
        fn address_property_ipv4_round_trips(ip: Ipv4Addr, numeric: bool) {
            let want = Host::Literal { ip: IpAddr::V4(ip), scope_id: 0 };
            prop_assert_eq!(parse_host(&ip.to_string(), numeric), Ok(want.clone()));
            prop_assert_eq!(parse_host(&format!("[{ip}]"), numeric), Ok(want));
        }

        /// An IPv6 address as text, bare, bracketed or with a numeric scope, parses back to
        /// itself.
        #[test]
        fn address_property_ipv6_round_trips(ip: Ipv6Addr, scope: u32, numeric: bool) {
            let bare = Host::Literal { ip: IpAddr::V6(ip), scope_id: 0 };
            prop_assert_eq!(parse_host(&ip.to_string(), numeric), Ok(bare.clone()));
            prop_assert_eq!(parse_host(&format!("[{ip}]"), numeric), Ok(bare));
            prop_assert_eq!(
                parse_host(&format!("{ip}%{scope}"), numeric),
                Ok(Host::Literal { ip: IpAddr::V6(ip), scope_id: scope })
            );
        }

        /// A host name is kept as written, and refused under `-n`.
        #[test]
        fn address_property_names_kept_as_written(name in "[a-z][a-z0-9-]{0,20}(\\.[a-z0-9-]{1,10}){0,3}") {
            prop_assert_eq!(parse_host(&name, false), Ok(Host::Name(name.clone())));
            prop_assert!(parse_host(&name, true).is_err());
        }
    }
}
