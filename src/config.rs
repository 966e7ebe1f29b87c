//! `Cli` → `Config`: every cross-flag check, port and address parsing, timeouts.
//!
//! No network I/O and no DNS happen here: a host that is not a literal address stays a
//! `Host::Name` for `net::resolve`. The one file read is the services table for port names.

use std::ffi::{OsStr, OsString};
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::Cli;
use crate::error::{Error, Result};

mod log;
mod proxy;
mod retry;
mod serve;
mod sockopts;
mod time;
mod tls;

pub(crate) use log::LogOptions;
pub(crate) use proxy::{ProxyDns, ProxyKind, ProxyOptions};
pub(crate) use retry::RetryPolicy;
pub(crate) use serve::{AccessEntry, AccessLists, ExecCommand, Fanout, ServeOptions};
pub(crate) use sockopts::SocketOptions;
pub(crate) use tls::TlsOptions;

// Hosts, ports and port lists are parsed in the library target, which the fuzz targets share.
pub(crate) use rnc::config::address::Host;
use rnc::config::address::{self, is_all_digits};
use rnc::config::ports;
pub(crate) use rnc::config::ports::describe_ports;

/// Room in `sockaddr_un.sun_path` for a path, leaving its terminating NUL.
pub(crate) const UNIX_PATH_MAX_BYTES: usize = 107;

/// What rnc does, decided once here and matched once in `run.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `rnc HOST PORT`: connect and join the connection to stdin and stdout.
    Connect,
    /// `rnc -z HOST PORT`: connect (UDP: probe) and close at once; exit 0 when open.
    Probe,
    /// `rnc -z HOST 20-25,80 443`: probe each port of `Config::scan_ports` (TCP: many at
    /// once); the target's port is the first.
    Scan,
    /// `rnc -l [ADDR] PORT`: wait for a client (with `-k`, clients in turn) or for
    /// datagrams.
    Listen,
}

/// Which kind of socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Tcp,
    Udp,
    UnixStream,
    UnixDatagram,
}

impl Transport {
    /// True for UDP and Unix datagram sockets: no EOF, message boundaries kept.
    pub(crate) fn is_datagram(self) -> bool {
        matches!(self, Transport::Udp | Transport::UnixDatagram)
    }

    /// The short name shown to users.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::UnixStream => "unix",
            Transport::UnixDatagram => "unixgram",
        }
    }
}

/// Address family restriction from `-4` / `-6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Any,
    V4,
    V6,
}

impl Family {
    /// Whether `ip` is allowed by this restriction.
    pub(crate) fn allows(self, ip: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }
}

/// Where the socket goes: an internet host and port, or a Unix path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Host (or listen address; `None` = every address) and port.
    Inet { host: Option<Host>, port: u16 },
    /// A Unix socket path.
    Unix(PathBuf),
}

/// Everything `run` needs, checked.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// What to do.
    pub(crate) mode: Mode,
    /// Socket kind.
    pub(crate) transport: Transport,
    /// Remote end (connect) or local address (listen).
    pub(crate) target: Target,
    /// `-4` / `-6`.
    pub(crate) family: Family,
    /// Client source address (`-s`).
    pub(crate) source_host: Option<Host>,
    /// Client source port (`-p`).
    pub(crate) source_port: Option<u16>,
    /// `-w`: connect timeout and idle timeout.
    pub(crate) wait: Option<Duration>,
    /// `Mode::Scan`: the ports, ascending, each once (empty otherwise).
    pub(crate) scan_ports: Vec<u16>,
    /// `--scan-parallel`: most TCP connects a scan keeps in flight (`None`: the default).
    pub(crate) scan_parallel: Option<usize>,
    /// `-q`: quit this long after stdin EOF.
    /// `-U -u -s PATH`: the datagram client's own socket path (else a temporary one).
    pub(crate) unix_source: Option<PathBuf>,
    /// `-q`: quit this long after stdin EOF (`--send-only` without `-q`: zero).
    pub(crate) quit_after_eof: Option<Duration>,
    /// `--send-only`: received bytes are dropped, never written to stdout.
    pub(crate) send_only: bool,
    /// `-i`: the pause between lines sent.
    pub(crate) line_delay: Option<Duration>,
    /// `-t`: refuse telnet negotiation, keep it out of stdout.
    pub(crate) telnet: bool,
    /// `--retry`, `--retry-delay`: a refused client connect is tried again.
    pub(crate) retry: Option<RetryPolicy>,
    /// `-I`, `-O`, `-T`, `--keepalive`: set on TCP and UDP sockets.
    pub(crate) socket_options: SocketOptions,
    /// `-d`: do not read stdin.
    pub(crate) no_stdin: bool,
    /// `-k`: accept again after a connection ends.
    pub(crate) keep_open: bool,
    /// `-C`: LF → CRLF towards the peer.
    pub(crate) crlf: bool,
    /// `-v` (at least once): lifecycle lines on stderr.
    pub(crate) verbose: bool,
    /// How many `-v`: 2 adds socket calls, 3 adds TCP_INFO snapshots (`trace.rs`).
    pub(crate) verbosity: u8,
    /// Send `shutdown(Write)` at stdin EOF (off with `--no-shutdown`).
    pub(crate) shutdown_on_eof: bool,
    /// Use sendfile/splice where possible (off with the hidden `--no-zero-copy`).
    pub(crate) zero_copy: bool,
    /// Poll briefly without sleeping after small exchanges (off with `--no-busy-poll`).
    pub(crate) busy_poll: bool,
    /// Status line / progress display allowed (off with `--no-status`).
    pub(crate) status: bool,
    /// `--raw-output`.
    pub(crate) raw_output: bool,
    /// `--tls` and its settings.
    pub(crate) tls: Option<TlsOptions>,
    /// `-x`/`--proxy` and its settings: connect through this proxy.
    pub(crate) proxy: Option<ProxyOptions>,
    /// How a listener serves its clients; `-e`/`-c` for a client too.
    pub(crate) serve: ServeOptions,
    /// `-o`, `--hex-dump`: the traffic logs.
    pub(crate) log: LogOptions,
}

impl Config {
    /// Check a parsed command line and turn it into a `Config`.
    pub(crate) fn from_cli(cli: Cli) -> Result<Config> {
        let mut mode = match (cli.listen, cli.zero_io) {
            (true, true) => return usage("`-z` cannot be used with `-l`"),
            (true, false) => Mode::Listen,
            (false, true) => Mode::Probe,
            (false, false) => Mode::Connect,
        };
        let transport = match (cli.unix, cli.udp) {
            (false, false) => Transport::Tcp,
            (false, true) => Transport::Udp,
            (true, false) => Transport::UnixStream,
            (true, true) => Transport::UnixDatagram,
        };
        let family = match (cli.ipv4, cli.ipv6) {
            (true, true) => return usage("`-4` and `-6` cannot be used together"),
            (true, false) => Family::V4,
            (false, true) => Family::V6,
            (false, false) => Family::Any,
        };
        if cli.keep_open && mode != Mode::Listen {
            return usage("`-k` needs `-l`");
        }
        let wait = cli
            .wait
            .as_deref()
            .map(|s| parse_timeout("-w", s, false))
            .transpose()?;
        let mut quit_after_eof = cli
            .quit
            .as_deref()
            .map(|s| parse_timeout("-q", s, true))
            .transpose()?;
        let line_delay = cli
            .interval
            .as_deref()
            .map(|s| parse_timeout("-i", s, false))
            .transpose()?;
        if cli.send_only {
            if cli.no_stdin {
                return usage("`--send-only` cannot be used with `-d`/`--recv-only`");
            }
            // ncat quits at stdin EOF instead of waiting for the peer.
            quit_after_eof.get_or_insert(Duration::ZERO);
        }

        let mut source_host = None;
        let mut source_port = None;
        let mut scan_ports = Vec::new();
        let mut unix_source = None;
        let target = if cli.unix {
            if cli.ipv4 || cli.ipv6 {
                return usage("`-4`/`-6` cannot be used with `-U`");
            }
            let datagram_client = cli.udp && mode != Mode::Listen;
            if cli.port.is_some() || (cli.source.is_some() && !datagram_client) {
                return usage(
                    "`-s`/`-p` cannot be used with `-U` (except `-s PATH` for a `-U -u` client)",
                );
            }
            let [path] = cli.args.as_slice() else {
                return usage("`-U` takes exactly one argument: the socket PATH");
            };
            // nc's `-U -u -s PATH`: the client's own address, so the server can answer.
            unix_source = cli
                .source
                .as_deref()
                .map(|s| parse_unix_path(OsStr::new(s)))
                .transpose()?;
            Target::Unix(parse_unix_path(path)?)
        } else if mode == Mode::Listen {
            let args = utf8_args(&cli.args)?;
            const BOTH_PORTS: &str = "a port was given both with `-p` and as an argument";
            let (addr, port) = match (args.as_slice(), cli.port.as_deref()) {
                ([one], None) => match split_host_port(one)? {
                    Some((addr, port)) => (Some(addr), port),
                    None if is_ip_literal(one) => {
                        return usage(format!(
                            "`{one}` is an address without a port: \
                             give the port as its own argument (`rnc -l {one} PORT`)"
                        ));
                    }
                    None => (None, one.as_str()),
                },
                ([addr, port], None) => {
                    reject_port_as_host(addr, [addr, port], "`-l` takes [ADDR] PORT")?;
                    (Some(addr.as_str()), port.as_str())
                }
                ([], Some(port)) => (None, port),
                ([addr], Some(port)) => {
                    if split_host_port(addr)?.is_some() {
                        return usage(BOTH_PORTS);
                    }
                    let dash_p = format!("-p {port}");
                    reject_port_as_host(addr, [&dash_p, addr], "`-l` takes [ADDR] PORT")?;
                    (Some(addr.as_str()), port)
                }
                ([_, _], Some(_)) => return usage(BOTH_PORTS),
                ([], None) => return usage("`-l` needs a PORT to listen on"),
                _ => return usage("too many arguments"),
            };
            let addr = match (addr, cli.source.as_deref()) {
                (Some(_), Some(_)) => {
                    return usage("a listen address was given both with `-s` and as an argument");
                }
                (a, s) => a.or(s),
            };
            let host = addr.map(|a| parse_host(a, cli.numeric)).transpose()?;
            Target::Inet {
                host,
                port: parse_port(port, cli.numeric, true)?,
            }
        } else {
            let args = utf8_args(&cli.args)?;
            const NEEDS_HOST_AND_PORT: &str = "a client needs HOST and PORT (or `-l` to listen)";
            let (host, port, more) = match args.as_slice() {
                // `-z HOST 22 80 443` scans several ports, as nc does.
                [host, port, more @ ..] if more.is_empty() || cli.zero_io => {
                    reject_port_as_host(host, [host, port], "a client takes HOST PORT")?;
                    (host.as_str(), port.as_str(), more)
                }
                [_, _, _, ..] => {
                    return usage("too many arguments (several ports need `-z`)");
                }
                [one] => match split_host_port(one)? {
                    Some((host, port)) => (host, port, &[][..]),
                    None if is_ip_literal(one) => {
                        return usage(format!(
                            "`{one}` is an address without a port: \
                             give the port as its own argument (`rnc {one} PORT`)"
                        ));
                    }
                    None => return usage(NEEDS_HOST_AND_PORT),
                },
                _ => return usage(NEEDS_HOST_AND_PORT),
            };
            source_host = cli
                .source
                .as_deref()
                .map(|s| parse_host(s, cli.numeric))
                .transpose()?;
            source_port = cli
                .port
                .as_deref()
                .map(|p| parse_port(p, cli.numeric, true))
                .transpose()?;
            // `-z HOST 20-30` scans a range, `20-25,80,443` a list, as nc and nmap write them.
            let first = if cli.zero_io && (!more.is_empty() || ports::is_port_list(port)) {
                let texts: Vec<&str> = std::iter::once(port)
                    .chain(more.iter().map(String::as_str))
                    .collect();
                scan_ports = ports::parse_port_list(&texts, cli.numeric)?;
                mode = Mode::Scan;
                scan_ports[0]
            } else {
                parse_port(port, cli.numeric, false)?
            };
            Target::Inet {
                host: Some(parse_host(host, cli.numeric)?),
                port: first,
            }
        };
        if let Target::Inet {
            host: Some(Host::Literal { ip, .. }),
            ..
        } = &target
            && !family.allows(ip)
        {
            return usage(format!("address `{ip}` does not match `-4`/`-6`"));
        }

        let scan_parallel = scan_parallel(&cli, mode, transport)?;
        let socket_options = sockopts::socket_options(&cli, transport)?;
        let retry = retry::retry_policy(&cli, mode, transport)?;
        let tls = tls::tls_options(&cli, mode, transport)?;
        let proxy = proxy::proxy_options(&cli, mode, transport, &target)?;
        let (serve, keeps_serving) = serve::serve_options(&cli, mode, transport)?;
        let serves_programs = mode == Mode::Listen
            && (cli.keep_open || keeps_serving)
            && !transport.is_datagram()
            && serve.exec.is_some();
        let log = log::log_options(&cli, mode, serves_programs)?;
        if cli.telnet && transport.is_datagram() {
            return usage("`-t` (telnet) needs a stream socket, not `-u`");
        }
        if cli.telnet && (cli.keep_open || keeps_serving) {
            // The hub merges every client into one stream: telnet state is per connection.
            return usage("`-t` (telnet) is for one connection, not with `-k`");
        }
        Ok(Config {
            log,
            serve,
            tls,
            proxy,
            mode,
            transport,
            target,
            family,
            source_host,
            source_port,
            wait,
            scan_ports,
            scan_parallel,
            quit_after_eof,
            unix_source,
            send_only: cli.send_only,
            line_delay,
            telnet: cli.telnet,
            retry,
            socket_options,
            no_stdin: cli.no_stdin,
            keep_open: cli.keep_open || keeps_serving,
            crlf: cli.crlf,
            verbose: cli.verbose > 0,
            verbosity: cli.verbose,
            shutdown_on_eof: !cli.no_shutdown,
            zero_copy: !cli.no_zero_copy,
            busy_poll: !cli.no_busy_poll,
            status: !cli.no_status && !cli.zero_io,
            raw_output: cli.raw_output,
        })
    }
}

/// `--scan-parallel N`, which only a TCP scan uses; `--tls` does not scan.
fn scan_parallel(cli: &Cli, mode: Mode, transport: Transport) -> Result<Option<usize>> {
    if mode == Mode::Scan && cli.tls {
        return usage("`--tls` cannot be used with a `-z` port list: give one port");
    }
    let Some(text) = cli.scan_parallel.as_deref() else {
        return Ok(None);
    };
    if !cli.zero_io {
        return usage("`--scan-parallel` needs `-z`");
    }
    if transport == Transport::Udp {
        return usage("`--scan-parallel` is for TCP: `-z -u` probes one port at a time");
    }
    Ok(ports::parse_scan_parallel(text).map(Some)?)
}

pub(super) fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::Usage(msg.into()))
}

/// `HOST:PORT` or `[V6]:PORT` given as one argument, split where that is unambiguous: a
/// bracketed address, or text with exactly one `:`. `None` when there is no port in it
/// this way: no `:` at all, or a bare IPv6 address (`::1`, `::1:80` is an address too).
fn split_host_port(text: &str) -> Result<Option<(&str, &str)>> {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => match rest.split_once("]:") {
            Some((host, port)) => (host, port),
            None => return Ok(None),
        },
        None => match text.split_once(':') {
            Some((_, port)) if port.contains(':') => return Ok(None),
            Some(pair) => pair,
            None => return Ok(None),
        },
    };
    if host.is_empty() {
        return usage(format!("`{text}` has no host before the port"));
    }
    Ok(Some((host, port)))
}

/// Whether `text` is an IP address, bracketed or not (`::1`, `[fe80::1%lo]`).
fn is_ip_literal(text: &str) -> bool {
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let addr = unbracketed.split_once('%').map_or(unbracketed, |(a, _)| a);
    addr.parse::<IpAddr>().is_ok()
}

/// A host that is a port number is a port the user meant (`rnc -l 5000 6000`), not an
/// address: the resolver would read `5000` as 0.0.19.136, as inet_aton(3) does.
/// `ports` is the pair as the user gave it, for the message.
fn reject_port_as_host(host: &str, ports: [&str; 2], shape: &str) -> Result<()> {
    if is_all_digits(host) && host.parse::<u16>().is_ok() {
        let [first, second] = ports;
        return usage(format!(
            "two ports given (`{first}` and `{second}`): {shape}"
        ));
    }
    Ok(())
}

/// Parse a port: a number in 1-65535 (0 too when `allow_zero`), or a service name
/// (`config/address.rs`, in the library target).
pub(crate) fn parse_port(text: &str, numeric: bool, allow_zero: bool) -> Result<u16> {
    Ok(address::parse_port(text, numeric, allow_zero)?)
}

/// Parse a host: `1.2.3.4`, `::1`, `[::1]`, `fe80::1%lo`, or a name (an error under `-n`;
/// `config/address.rs`).
pub(crate) fn parse_host(text: &str, numeric: bool) -> Result<Host> {
    Ok(address::parse_host(text, numeric)?)
}

/// Parse a time value given to `flag` (`config/time.rs`: seconds, or with a unit);
/// `allow_zero` lets 0 through (`-q 0`).
pub(super) fn parse_timeout(flag: &str, text: &str, allow_zero: bool) -> Result<Duration> {
    match time::parse_duration(text) {
        Some(d) if allow_zero || !d.is_zero() => Ok(d),
        _ => {
            let lower = if allow_zero { "0 <=" } else { "0 <" };
            usage(format!(
                "invalid timeout `{text}` for `{flag}` ({}; {lower} value <= 1 year)",
                time::SYNTAX
            ))
        }
    }
}

/// Hosts and ports must be text; only a Unix path may be any bytes.
fn utf8_args(args: &[OsString]) -> Result<Vec<String>> {
    args.iter()
        .map(|arg| {
            arg.to_str().map(str::to_owned).ok_or_else(|| {
                Error::Usage(format!(
                    "invalid UTF-8 in `{}`",
                    arg.to_string_lossy().escape_debug()
                ))
            })
        })
        .collect()
}

/// Check a Unix socket path: not empty, no NUL, short enough for `sun_path`. Any other
/// bytes are fine: a path need not be UTF-8.
fn parse_unix_path(text: &OsStr) -> Result<PathBuf> {
    let path = PathBuf::from(text);
    let bytes = text.as_bytes();
    let reason = if bytes.is_empty() {
        Some("empty path".to_string())
    } else if bytes.contains(&0) {
        Some("path contains a NUL byte".to_string())
    } else if bytes.len() > UNIX_PATH_MAX_BYTES {
        Some(format!(
            "path too long ({} bytes, at most {UNIX_PATH_MAX_BYTES})",
            bytes.len()
        ))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::UnixPath { path, reason }),
        None => Ok(path),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config> {
        let cli = Cli::try_parse_from(std::iter::once("rnc").chain(args.iter().copied()))
            .expect("clap accepts the test's command line");
        Config::from_cli(cli)
    }

    fn usage_text(args: &[&str]) -> String {
        match config(args) {
            Err(Error::Usage(msg)) => msg,
            other => panic!("expected a usage error for {args:?}, got {other:?}"),
        }
    }

    #[test]
    fn config_client_literal_and_port() {
        let c = config(&["127.0.0.1", "80"]).unwrap();
        assert_eq!(c.mode, Mode::Connect);
        assert_eq!(c.transport, Transport::Tcp);
        assert_eq!(
            c.target,
            Target::Inet {
                host: Some(Host::Literal {
                    ip: "127.0.0.1".parse().unwrap(),
                    scope_id: 0
                }),
                port: 80
            }
        );
        assert!(c.shutdown_on_eof);
    }

    #[test]
    fn config_verbose_counts_as_in_ncat() {
        let levels = |args: &[&str]| {
            let c = config(args).unwrap();
            (c.verbose, c.verbosity)
        };
        assert_eq!(levels(&["h", "1"]), (false, 0));
        assert_eq!(levels(&["-v", "h", "1"]), (true, 1));
        assert_eq!(levels(&["-vv", "h", "1"]), (true, 2));
        assert_eq!(levels(&["-v", "--verbose", "-v", "h", "1"]), (true, 3));
        assert_eq!(levels(&["-zvv", "h", "1"]), (true, 2));
    }

    #[test]
    fn config_listen_spellings() {
        for args in [
            &["-l", "5000"][..],
            &["-l", "-p", "5000"],
            &["-l", "::1", "5000"],
            &["-l", "-p", "5000", "[::1]"],
            &["-l", "-s", "::1", "-p", "5000"],
        ] {
            let c = config(args).unwrap();
            assert_eq!(c.mode, Mode::Listen);
            let Target::Inet { port, .. } = c.target else {
                panic!("inet target")
            };
            assert_eq!(port, 5000, "{args:?}");
        }
        let c = config(&["-l", "0"]).unwrap();
        assert_eq!(
            c.target,
            Target::Inet {
                host: None,
                port: 0
            }
        );
    }

    #[test]
    fn config_bad_ports_are_usage_errors() {
        assert_eq!(
            usage_text(&["h", "70000"]),
            "invalid port `70000` (1-65535)"
        );
        assert_eq!(
            usage_text(&["h", "65536"]),
            "invalid port `65536` (1-65535)"
        );
        assert_eq!(usage_text(&["h", "80x"]), "invalid port `80x` (1-65535)");
        assert_eq!(usage_text(&["h", ""]), "invalid port `` (1-65535)");
        assert_eq!(usage_text(&["h", "0"]), "invalid port `0` (1-65535)");
        assert!(usage_text(&["h", "nosuchservice"]).contains("unknown service"));
        assert!(usage_text(&["-n", "127.0.0.1", "http"]).contains("-n"));
    }

    #[test]
    fn config_ipv6_forms() {
        let lo6 = Host::Literal {
            ip: "::1".parse().unwrap(),
            scope_id: 0,
        };
        assert_eq!(parse_host("::1", true).unwrap(), lo6);
        assert_eq!(parse_host("[::1]", true).unwrap(), lo6);
        assert_eq!(
            parse_host("fe80::1%1", true).unwrap(),
            Host::Literal {
                ip: "fe80::1".parse().unwrap(),
                scope_id: 1
            }
        );
        if std::path::Path::new("/sys/class/net/lo/ifindex").exists() {
            assert!(matches!(
                parse_host("fe80::1%lo", true).unwrap(),
                Host::Literal { scope_id, .. } if scope_id > 0
            ));
        }
        assert!(parse_host("fe80::1%nosuchif0", true).is_err());
    }

    #[test]
    fn config_numeric_forbids_names() {
        assert!(usage_text(&["-n", "localhost", "80"]).contains("localhost"));
        assert_eq!(
            parse_host("example.org", false).unwrap(),
            Host::Name("example.org".into())
        );
        assert!(parse_host("bad host", false).is_err());
    }

    #[test]
    fn config_conflicting_flags() {
        assert!(usage_text(&["-k", "h", "80"]).contains("-k"));
        assert!(usage_text(&["-z", "-l", "80"]).contains("-z"));
        assert!(usage_text(&["-U", "-s", "x", "/tmp/s"]).contains("-U"));
        assert!(usage_text(&["-4", "::1", "80"]).contains("-4"));
        assert!(usage_text(&["h"]).contains("HOST and PORT"));
        assert!(usage_text(&["-l"]).contains("PORT"));
        assert!(usage_text(&["-l", "-p", "1", "a", "2"]).contains("-p"));
    }

    fn inet_target(args: &[&str]) -> (Option<Host>, u16) {
        match config(args) {
            Ok(Config {
                target: Target::Inet { host, port },
                ..
            }) => (host, port),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn literal(ip: &str) -> Option<Host> {
        Some(Host::Literal {
            ip: ip.parse().unwrap(),
            scope_id: 0,
        })
    }

    #[test]
    fn config_all_digit_host_is_two_ports_not_an_address() {
        for (args, text) in [
            (
                &["-l", "5000", "6000"][..],
                "two ports given (`5000` and `6000`)",
            ),
            (
                &["-l", "-p", "5000", "6000"],
                "two ports given (`-p 5000` and `6000`)",
            ),
            (&["5000", "6000"], "two ports given (`5000` and `6000`)"),
            (&["-u", "5000", "6000"], "two ports given"),
        ] {
            let msg = usage_text(args);
            assert!(msg.contains(text), "{args:?}: {msg}");
        }
        // Not a port either: still not an address (inet_aton would say 127.0.0.1).
        assert_eq!(
            usage_text(&["2130706433", "80"]),
            "invalid address `2130706433` (write an IPv4 address as `a.b.c.d`)"
        );
        assert!(usage_text(&["-s", "5000", "127.0.0.1", "80"]).contains("`5000`"));
        assert!(usage_text(&["-l", "-s", "5000", "6000"]).contains("`5000`"));
        // `-n` still refuses the other legacy forms; names with digits are names.
        assert!(usage_text(&["-n", "127.1", "80"]).contains("-n"));
        assert!(usage_text(&["-n", "0x7f.1", "80"]).contains("-n"));
        assert_eq!(
            parse_host("1and1.example", false).unwrap(),
            Host::Name("1and1.example".into())
        );
    }

    #[test]
    fn config_host_and_port_in_one_argument() {
        assert_eq!(
            inet_target(&["127.0.0.1:8000"]),
            (literal("127.0.0.1"), 8000)
        );
        assert_eq!(inet_target(&["[::1]:8000"]), (literal("::1"), 8000));
        assert_eq!(
            inet_target(&["localhost:http"]),
            (Some(Host::Name("localhost".into())), 80)
        );
        assert_eq!(
            inet_target(&["-l", "127.0.0.1:5000"]),
            (literal("127.0.0.1"), 5000)
        );
        assert_eq!(inet_target(&["-l", "[::1]:0"]), (literal("::1"), 0));
        assert_eq!(inet_target(&["-u", "-l", "[::]:53"]), (literal("::"), 53));
        let c = config(&["-z", "127.0.0.1:20-30"]).unwrap();
        assert_eq!(c.mode, Mode::Scan);
        assert_eq!(c.scan_ports, (20..=30).collect::<Vec<u16>>());
        // The old spellings keep working.
        assert_eq!(inet_target(&["-l", "5000"]), (None, 5000));
        assert_eq!(
            inet_target(&["-l", "-p", "5000", "[::1]"]),
            (literal("::1"), 5000)
        );
        assert_eq!(
            inet_target(&["-l", "-p", "5000", "::1"]),
            (literal("::1"), 5000)
        );
    }

    #[test]
    fn config_host_and_port_in_one_argument_only_when_unambiguous() {
        for (args, text) in [
            (
                &["::1"][..],
                "give the port as its own argument (`rnc ::1 PORT`)",
            ),
            (&["::1:80"], "`::1:80` is an address without a port"),
            (&["[::1]"], "`[::1]` is an address without a port"),
            (&["-l", "::1"], "(`rnc -l ::1 PORT`)"),
            (&["-l", "fe80::1%1"], "without a port"),
            (&["127.0.0.1"], "(`rnc 127.0.0.1 PORT`)"),
            (&["-l", "127.0.0.1"], "(`rnc -l 127.0.0.1 PORT`)"),
            (&["example.org"], "HOST and PORT"),
            (&[":8000"], "`:8000` has no host before the port"),
            (&["-l", ":5000"], "no host"),
            (&["127.0.0.1:"], "invalid port ``"),
            (&["127.0.0.1:70000"], "invalid port `70000`"),
            (&["-l", "-p", "5000", "127.0.0.1:6000"], "both with `-p`"),
            (&["-l", "-s", "::1", "127.0.0.1:5000"], "both with `-s`"),
        ] {
            let msg = usage_text(args);
            assert!(msg.contains(text), "{args:?}: {msg}");
        }
    }

    #[test]
    fn config_zero_io_port_range() {
        let c = config(&["-z", "127.0.0.1", "20-30"]).unwrap();
        assert_eq!(c.mode, Mode::Scan);
        assert!(matches!(c.target, Target::Inet { port: 20, .. }));
        assert!(usage_text(&["-z", "h", "30-20"]).contains("range"));
        assert!(usage_text(&["h", "20-30"]).contains("invalid port"));
        // Lists, and several port arguments (nc's `-z HOST 22 80 443`).
        let c = config(&["-z", "h", "443", "20-22,80"]).unwrap();
        assert_eq!(c.mode, Mode::Scan);
        assert_eq!(c.scan_ports, [20, 21, 22, 80, 443]);
        assert!(matches!(c.target, Target::Inet { port: 20, .. }));
        assert_eq!(config(&["-z", "h", "80"]).unwrap().mode, Mode::Probe);
        assert!(usage_text(&["h", "80", "443"]).contains("too many arguments"));
        assert!(usage_text(&["h", "80,443"]).contains("invalid port"));
        assert!(usage_text(&["-l", "h", "80", "443"]).contains("too many arguments"));
        assert!(usage_text(&["-z", "--tls", "h", "80,443"]).contains("--tls"));
    }

    #[test]
    fn config_scan_parallel_flag() {
        let c = config(&["-z", "--scan-parallel", "50", "h", "1-100"]).unwrap();
        assert_eq!(c.scan_parallel, Some(50));
        assert_eq!(config(&["-z", "h", "1-9"]).unwrap().scan_parallel, None);
        assert!(usage_text(&["--scan-parallel", "5", "h", "80"]).contains("needs `-z`"));
        assert!(usage_text(&["-zu", "--scan-parallel", "5", "h", "1-9"]).contains("TCP"));
        assert!(usage_text(&["-z", "--scan-parallel", "0", "h", "1-9"]).contains("invalid"));
    }

    #[test]
    fn config_timeouts() {
        assert_eq!(
            config(&["-w", "1.5", "h", "80"]).unwrap().wait,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            config(&["-q", "0", "h", "80"]).unwrap().quit_after_eof,
            Some(Duration::ZERO)
        );
        for bad in ["0", "-1", "1e9", "nan", "inf", "x", ""] {
            assert!(
                usage_text(&["-w", bad, "h", "80"]).contains("invalid timeout"),
                "{bad}"
            );
        }
        assert!(usage_text(&["-q", "-1", "h", "80"]).contains("invalid timeout"));
        assert_eq!(
            config(&["-w", "500ms", "-q", "2s", "h", "80"])
                .unwrap()
                .wait,
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            config(&["-q", "1m", "h", "80"]).unwrap().quit_after_eof,
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            usage_text(&["-w", "5x", "h", "80"]),
            "invalid timeout `5x` for `-w` (seconds, or a number with a unit: 500ms, 2s, \
             1.5m, 1h; 0 < value <= 1 year)"
        );
    }

    #[test]
    fn config_send_only_quits_at_stdin_eof_and_excludes_recv_only() {
        let c = config(&["--send-only", "h", "80"]).unwrap();
        assert!(c.send_only);
        assert_eq!(c.quit_after_eof, Some(Duration::ZERO));
        let c = config(&["--send-only", "-q", "2", "h", "80"]).unwrap();
        assert_eq!(c.quit_after_eof, Some(Duration::from_secs(2)));
        assert!(config(&["--recv-only", "h", "80"]).unwrap().no_stdin);
        assert!(usage_text(&["--send-only", "--recv-only", "h", "80"]).contains("--send-only"));
    }

    #[test]
    fn config_retry() {
        let c = config(&["--retry", "4", "--retry-delay", "250ms", "h", "80"]).unwrap();
        assert_eq!(
            c.retry,
            Some(RetryPolicy {
                retries: 4,
                delay: Duration::from_millis(250)
            })
        );
        let c = config(&["--retry", "2", "-U", "/tmp/s"]).unwrap();
        assert_eq!(c.retry.map(|r| r.delay), Some(Duration::from_secs(1)));
        assert!(usage_text(&["--retry", "-1", "h", "80"]).contains("invalid `--retry -1`"));
        assert!(usage_text(&["--retry-delay", "1", "h", "80"]).contains("needs `--retry`"));
        assert!(usage_text(&["--retry", "1", "-l", "80"]).contains("for a client"));
        assert!(usage_text(&["--retry", "1", "-u", "h", "80"]).contains("stream socket"));
        assert!(usage_text(&["-t", "-k", "-l", "80"]).contains("`-t` (telnet) is for one"));
    }

    #[test]
    fn config_unix_datagram_client_source_path() {
        let c = config(&["-U", "-u", "-s", "/tmp/me.sock", "/tmp/srv.sock"]).unwrap();
        assert_eq!(c.unix_source, Some(PathBuf::from("/tmp/me.sock")));
        for args in [
            &["-U", "-s", "/tmp/me.sock", "/tmp/srv.sock"][..],
            &["-U", "-u", "-l", "-s", "/tmp/me.sock", "/tmp/srv.sock"],
            &["-U", "-u", "-p", "5", "/tmp/srv.sock"],
        ] {
            assert!(usage_text(args).contains("`-s`/`-p` cannot"), "{args:?}");
        }
        let long = format!("/tmp/{}", "a".repeat(120));
        assert!(config(&["-U", "-u", "-s", &long, "/tmp/srv.sock"]).is_err());
    }

    #[test]
    fn config_unix_paths() {
        let c = config(&["-U", "-u", "/tmp/x.sock"]).unwrap();
        assert_eq!(c.transport, Transport::UnixDatagram);
        assert_eq!(c.target, Target::Unix("/tmp/x.sock".into()));
        let long = format!("/tmp/{}", "a".repeat(120));
        assert!(matches!(
            config(&["-U", &long]),
            Err(Error::UnixPath { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Ports, hosts and timeouts from the characters that matter never panic, a port
        /// is accepted exactly when it is digits that `u16` parsing takes (0 aside), and a
        /// usage message is one line.
        #[test]
        fn config_property_ports_hosts_timeouts_never_panic_and_agree_with_u16(
            text in "[0-9+x.:%\\[\\]abcz_ \t\n\x1b-]{0,12}",
            numeric: bool,
        ) {
            match parse_port(&text, true, false) {
                Ok(port) => {
                    prop_assert!(port >= 1, "{:?}", text);
                    prop_assert_eq!(text.parse::<u16>().ok(), Some(port));
                }
                Err(Error::Usage(msg)) => {
                    prop_assert!(!msg.contains('\n'), "{:?}", msg);
                    let digits = text.bytes().all(|b| b.is_ascii_digit());
                    prop_assert!(!(digits && matches!(text.parse::<u16>(), Ok(1..))), "{:?}", text);
                }
                Err(other) => prop_assert!(false, "{:?}: {:?}", text, other),
            }
            if let Err(Error::Usage(msg)) = parse_host(&text, numeric) {
                prop_assert!(!msg.contains('\n'), "{:?}", msg);
            }
            let _ = parse_timeout("-w", &text, numeric);
        }
    }

    proptest! {
        // clap builds its parser per call (~0.3 ms in a debug build): a few hundred lines.
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whole command lines from nc's flags and awkward values never panic: either clap
        /// refuses them, or `Config` takes them or gives a usage error.
        #[test]
        fn config_property_command_lines_never_panic(
            words in prop::collection::vec(prop::sample::select(COMMAND_WORDS), 0..6),
        ) {
            let argv: Vec<&str> = std::iter::once("rnc").chain(words.iter().copied()).collect();
            if let Ok(cli) = Cli::try_parse_from(&argv) {
                match Config::from_cli(cli) {
                    Ok(_) | Err(Error::Usage(_)) | Err(Error::UnixPath { .. }) => {}
                    Err(other) => prop_assert!(false, "{:?}: {:?}", argv, other),
                }
            }
        }
    }

    /// Flags and values for `config_property_command_lines_never_panic`.
    const COMMAND_WORDS: &[&str] = &[
        "-l",
        "-u",
        "-U",
        "-4",
        "-6",
        "-n",
        "-k",
        "-d",
        "-C",
        "-v",
        "-z",
        "-N",
        "-p",
        "-s",
        "-w",
        "-q",
        "--no-shutdown",
        "127.0.0.1",
        "::1",
        "[::1]",
        "0",
        "80",
        "70000",
        "-1",
        "http",
        "/tmp/x.sock",
        "",
        "1e9",
        "0.5",
        "fe80::1%lo",
        "name.example",
        "-x",
        "-X",
        "5",
        "--proxy",
        "127.0.0.1:1080",
        "-t",
        "-i",
        "500ms",
        "--retry",
        "20-25,80",
        "-T",
        "lowdelay",
        "--tls",
        "--keepalive",
    ];
}
