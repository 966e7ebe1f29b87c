//! Socket option flags (nc's `-I`, `-O`, `-T`; `--nodelay`, `--keepalive`) → what
//! `SocketOptions` holds: buffer sizes, the TOS byte from nc's keywords or a number, and
//! keepalive timing. Pure; setting them on a socket is `net.rs`'s job.

use std::time::Duration;

use super::{Transport, time, usage};
use crate::cli::Cli;
use crate::error::Error;

/// Largest `-I`/`-O` value: 1 GiB (the kernel caps it lower, at `net.core.rmem_max`).
const MAX_BUFFER_BYTES: usize = 1 << 30;
/// Largest keepalive idle time and interval the kernel takes (`TCP_KEEPIDLE`, seconds).
const MAX_KEEPALIVE_SECS: u64 = 32_767;
/// Largest keepalive probe count the kernel takes (`TCP_KEEPCNT`).
const MAX_KEEPALIVE_COUNT: u32 = 127;

/// Options set on every TCP or UDP socket rnc connects or accepts with, before the
/// connect starts (a listener sets them on the listening socket; accepted sockets inherit
/// them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SocketOptions {
    /// `-I`: `SO_RCVBUF` in bytes (the kernel doubles it for its bookkeeping).
    pub(crate) recv_buffer_bytes: Option<usize>,
    /// `-O`: `SO_SNDBUF` in bytes.
    pub(crate) send_buffer_bytes: Option<usize>,
    /// `-T`: `IP_TOS` (IPv4) or `IPV6_TCLASS` (IPv6).
    pub(crate) tos: Option<u8>,
    /// `--keepalive`: `SO_KEEPALIVE` with optional timing.
    pub(crate) keepalive: Option<Keepalive>,
}

/// `--keepalive[=IDLE,INTERVAL,COUNT]`; what is not given keeps the kernel's default
/// (`net.ipv4.tcp_keepalive_time` and friends: 2 h, 75 s, 9 probes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Keepalive {
    /// `TCP_KEEPIDLE`: silence before the first probe.
    pub(crate) idle: Option<Duration>,
    /// `TCP_KEEPINTVL`: time between probes.
    pub(crate) interval: Option<Duration>,
    /// `TCP_KEEPCNT`: unanswered probes before the connection is dropped.
    pub(crate) count: Option<u32>,
}

/// nc's `-T` keywords (netcat-openbsd's `map_tos`), with their TOS byte.
const TOS_KEYWORDS: [(&str, u8); 28] = [
    ("critical", 0xa0),
    ("inetcontrol", 0xc0),
    ("lowcost", 0x02),
    ("lowdelay", 0x10),
    ("netcontrol", 0xe0),
    ("throughput", 0x08),
    ("reliability", 0x04),
    ("ef", 0xb8),
    ("af11", 0x28),
    ("af12", 0x30),
    ("af13", 0x38),
    ("af21", 0x48),
    ("af22", 0x50),
    ("af23", 0x58),
    ("af31", 0x68),
    ("af32", 0x70),
    ("af33", 0x78),
    ("af41", 0x88),
    ("af42", 0x90),
    ("af43", 0x98),
    ("cs0", 0x00),
    ("cs1", 0x20),
    ("cs2", 0x40),
    ("cs3", 0x60),
    ("cs4", 0x80),
    ("cs5", 0xa0),
    ("cs6", 0xc0),
    ("cs7", 0xe0),
];

/// `-T VALUE`: a keyword (any case) or a number 0-255 in decimal or `0x` hex.
fn parse_tos(text: &str) -> Result<u8, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(&(_, tos)) = TOS_KEYWORDS.iter().find(|(name, _)| *name == lower) {
        return Ok(tos);
    }
    let number = match lower.strip_prefix("0x") {
        Some(hex) => u8::from_str_radix(hex, 16).ok(),
        None => lower.parse::<u8>().ok(),
    };
    number.ok_or_else(|| {
        format!(
            "invalid `-T {text}` (a number 0-255, or critical, inetcontrol, lowcost, \
             lowdelay, netcontrol, throughput, reliability, ef, af11-af43, cs0-cs7)"
        )
    })
}

/// `-I`/`-O BYTES`: a number of bytes, or of KiB/MiB with `k`/`m`.
fn parse_buffer_size(flag: &str, text: &str) -> Result<usize, String> {
    let (digits, scale) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 1024),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.checked_mul(scale))
        .filter(|n| (1..=MAX_BUFFER_BYTES).contains(n))
        .ok_or_else(|| format!("invalid `{flag} {text}` (bytes, 1 to 1G; 64k and 4m work too)"))
}

/// `--keepalive[=IDLE,INTERVAL,COUNT]`: empty turns keepalive on with the kernel's
/// timing; each field may be left empty (`--keepalive=,10s`). Times take units and must
/// be whole seconds, because the kernel counts in seconds.
fn parse_keepalive(text: &str) -> Result<Keepalive, String> {
    let bad = |why: &str| {
        format!("invalid `--keepalive={text}` ({why}; IDLE,INTERVAL,COUNT as in 60s,10s,5)")
    };
    if text.is_empty() {
        return Ok(Keepalive::default());
    }
    let fields: Vec<&str> = text.split(',').collect();
    if fields.len() > 3 {
        return Err(bad("at most three fields"));
    }
    let secs = |field: &str| -> Result<Option<Duration>, String> {
        if field.is_empty() {
            return Ok(None);
        }
        let d = time::parse_duration(field).ok_or_else(|| bad(time::SYNTAX))?;
        let whole = d.subsec_nanos() == 0 && (1..=MAX_KEEPALIVE_SECS).contains(&d.as_secs());
        if !whole {
            return Err(bad("times are whole seconds from 1 s to 32767 s"));
        }
        Ok(Some(d))
    };
    let count = match fields.get(2) {
        None | Some(&"") => None,
        Some(c) => Some(
            c.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_KEEPALIVE_COUNT).contains(n))
                .ok_or_else(|| bad("COUNT is 1 to 127"))?,
        ),
    };
    Ok(Keepalive {
        idle: secs(fields[0])?,
        interval: fields.get(1).map(|f| secs(f)).transpose()?.flatten(),
        count,
    })
}

/// `-I`, `-O`, `-T`, `--nodelay` and `--keepalive`: IP socket options; the last two are
/// TCP's.
pub(super) fn socket_options(
    cli: &Cli,
    transport: Transport,
) -> crate::error::Result<SocketOptions> {
    let given = [
        ("-I", cli.recv_buffer.is_some()),
        ("-O", cli.send_buffer.is_some()),
        ("-T", cli.tos.is_some()),
        ("--nodelay", cli.nodelay),
        ("--keepalive", cli.keepalive.is_some()),
    ];
    let first_given = |names: &[&str]| {
        given
            .iter()
            .find(|(name, on)| *on && names.contains(name))
            .map(|(name, _)| *name)
    };
    if cli.unix
        && let Some(flag) = first_given(&["-I", "-O", "-T", "--nodelay", "--keepalive"])
    {
        return usage(format!("`{flag}` needs a TCP or UDP socket, not `-U`"));
    }
    if transport == Transport::Udp
        && let Some(flag) = first_given(&["--nodelay", "--keepalive"])
    {
        return usage(format!("`{flag}` is for TCP, not `-u`"));
    }
    let size = |flag, text: &Option<String>| {
        text.as_deref()
            .map(|t| parse_buffer_size(flag, t))
            .transpose()
            .map_err(Error::Usage)
    };
    Ok(SocketOptions {
        recv_buffer_bytes: size("-I", &cli.recv_buffer)?,
        send_buffer_bytes: size("-O", &cli.send_buffer)?,
        tos: cli
            .tos
            .as_deref()
            .map(parse_tos)
            .transpose()
            .map_err(Error::Usage)?,
        keepalive: cli
            .keepalive
            .as_deref()
            .map(parse_keepalive)
            .transpose()
            .map_err(Error::Usage)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockopts_tos_keywords_and_numbers() {
        assert_eq!(parse_tos("lowdelay"), Ok(0x10));
        assert_eq!(parse_tos("THROUGHPUT"), Ok(0x08));
        assert_eq!(parse_tos("reliability"), Ok(0x04));
        assert_eq!(parse_tos("critical"), Ok(0xa0));
        assert_eq!(parse_tos("inetcontrol"), Ok(0xc0));
        assert_eq!(parse_tos("netcontrol"), Ok(0xe0));
        assert_eq!(parse_tos("ef"), Ok(0xb8));
        assert_eq!(parse_tos("af11"), Ok(0x28));
        assert_eq!(parse_tos("af43"), Ok(0x98));
        assert_eq!(parse_tos("cs0"), Ok(0));
        assert_eq!(parse_tos("cs7"), Ok(0xe0));
        assert_eq!(parse_tos("16"), Ok(16));
        assert_eq!(parse_tos("0xb8"), Ok(0xb8));
        for bad in ["", "256", "-1", "0x", "0x100", "af44", "cs8", "fast"] {
            assert!(parse_tos(bad).unwrap_err().contains("invalid `-T"), "{bad}");
        }
    }

    #[test]
    fn sockopts_buffer_sizes() {
        assert_eq!(parse_buffer_size("-I", "4096"), Ok(4096));
        assert_eq!(parse_buffer_size("-I", "64k"), Ok(65536));
        assert_eq!(parse_buffer_size("-O", "2M"), Ok(2 << 20));
        for bad in [
            "",
            "0",
            "k",
            "-5",
            "+5",
            "1.5k",
            "2g",
            "99999999999999999999",
        ] {
            let err = parse_buffer_size("-O", bad).unwrap_err();
            assert!(err.starts_with(&format!("invalid `-O {bad}`")), "{err}");
        }
        assert!(parse_buffer_size("-I", "2048m").is_err());
    }

    #[test]
    fn sockopts_keepalive_fields() {
        assert_eq!(parse_keepalive(""), Ok(Keepalive::default()));
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            parse_keepalive("1m,10s,5"),
            Ok(Keepalive {
                idle: secs(60),
                interval: secs(10),
                count: Some(5)
            })
        );
        assert_eq!(
            parse_keepalive(",7"),
            Ok(Keepalive {
                interval: secs(7),
                ..Keepalive::default()
            })
        );
        assert_eq!(
            parse_keepalive("30"),
            Ok(Keepalive {
                idle: secs(30),
                ..Keepalive::default()
            })
        );
        for bad in [
            "0", "1.5", "500ms", "40000", "1,1,0", "1,1,128", "1,1,1,1", "x",
        ] {
            assert!(parse_keepalive(bad).is_err(), "{bad}");
        }
    }
}
