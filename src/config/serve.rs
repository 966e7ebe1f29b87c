//! How a listener serves its clients, checked: one after another or all at once (`-k`),
//! what joins them (stdin and stdout, each other with `--broker`/`--chat`, or a program
//! per connection with `--exec`/`--sh-exec`), how many (`-m`) and which (`--allow`,
//! `--deny`). Pure: names in the access lists are looked up when the listener starts.

use std::net::IpAddr;
use std::path::Path;

use super::{Mode, Transport, usage};
use crate::cli::Cli;
use crate::error::{Error, Result};

/// What a listener's clients are joined to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fanout {
    /// stdin goes to every client, every client's bytes go to stdout (`-k`).
    Each,
    /// Every client's bytes go to every other client; stdin goes to all (`--broker`).
    Broker,
    /// A line-based room: each line goes to everyone else, prefixed with its sender
    /// (`--chat`).
    Chat,
}

/// A program run for each connection (`-e`, `-c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecCommand {
    /// The program and its arguments (`/bin/sh`, `-c`, CMD for `-c`).
    pub(crate) argv: Vec<String>,
    /// As the user typed it, for messages.
    pub(crate) shown: String,
}

/// One entry of `--allow`/`--deny`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AccessEntry {
    /// An address block: an address and how many leading bits must match.
    Block(IpAddr, u8),
    /// A host name, looked up when the listener starts.
    Name(String),
}

/// Who may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AccessLists {
    /// When not empty, only these.
    pub(crate) allow: Vec<AccessEntry>,
    /// Never these.
    pub(crate) deny: Vec<AccessEntry>,
}

impl AccessLists {
    /// Whether any rule is set.
    pub(crate) fn is_set(&self) -> bool {
        !self.allow.is_empty() || !self.deny.is_empty()
    }
}

/// How a listener serves, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServeOptions {
    /// What joins the clients.
    pub(crate) fanout: Fanout,
    /// `-e`/`-c`.
    pub(crate) exec: Option<ExecCommand>,
    /// `-m`.
    pub(crate) max_conns: Option<usize>,
    /// `--allow`, `--deny` and their files.
    pub(crate) access: AccessLists,
}

/// `-e`, `-c`, `--broker`, `--chat`, `-m`, `--allow`, `--deny`: checked against the mode.
/// Returns the options and whether they make the listener keep serving (`--broker` and
/// `--chat` imply `-k`, as in ncat).
pub(crate) fn serve_options(
    cli: &Cli,
    mode: Mode,
    transport: Transport,
) -> Result<(ServeOptions, bool)> {
    let exec = exec_command(cli)?;
    let fanout = match (cli.broker, cli.chat) {
        (true, _) => Fanout::Broker,
        (_, true) => Fanout::Chat,
        _ => Fanout::Each,
    };
    let name = if cli.chat { "--chat" } else { "--broker" };
    if fanout != Fanout::Each {
        if mode != Mode::Listen {
            return usage(format!("`{name}` needs `-l`"));
        }
        if transport.is_datagram() {
            return usage(format!("`{name}` needs a stream socket (not `-u`)"));
        }
        if exec.is_some() {
            return usage(format!("`{name}` cannot be used with `-e`/`-c`"));
        }
    }
    if exec.is_some() && matches!(mode, Mode::Probe | Mode::Scan { .. }) {
        return usage("`-e`/`-c` cannot be used with `-z`");
    }
    if exec.is_some() && cli.no_stdin {
        return usage("`-e`/`-c` cannot be used with `-d`: the program is the stdin");
    }
    let max_conns = match &cli.max_conns {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return usage(format!(
                    "`-m {text}`: the number of clients must be 1 or more"
                ));
            }
        },
    };
    let mut access = AccessLists::default();
    for list in &cli.allow {
        access.allow.extend(parse_list("--allow", list)?);
    }
    for list in &cli.deny {
        access.deny.extend(parse_list("--deny", list)?);
    }
    for file in &cli.allowfile {
        access.allow.extend(read_list("--allowfile", file)?);
    }
    for file in &cli.denyfile {
        access.deny.extend(read_list("--denyfile", file)?);
    }
    if mode != Mode::Listen {
        if max_conns.is_some() {
            return usage("`-m` needs `-l`");
        }
        if access.is_set() {
            return usage("`--allow`/`--deny` need `-l`");
        }
    }
    if access.is_set() && matches!(transport, Transport::UnixStream | Transport::UnixDatagram) {
        return usage("`--allow`/`--deny` need an IP listener: Unix clients have no address");
    }
    let keeps_serving = fanout != Fanout::Each;
    Ok((
        ServeOptions {
            fanout,
            exec,
            max_conns,
            access,
        },
        keeps_serving,
    ))
}

/// `-e PROG ARGS` (split on whitespace, as ncat) or `-c CMD` (through `/bin/sh -c`).
fn exec_command(cli: &Cli) -> Result<Option<ExecCommand>> {
    if let Some(text) = &cli.exec {
        let argv: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        if argv.is_empty() {
            return usage("`-e` needs a program");
        }
        return Ok(Some(ExecCommand {
            argv,
            shown: text.clone(),
        }));
    }
    if let Some(text) = &cli.sh_exec {
        if text.trim().is_empty() {
            return usage("`-c` needs a command");
        }
        return Ok(Some(ExecCommand {
            argv: vec!["/bin/sh".into(), "-c".into(), text.clone()],
            shown: text.clone(),
        }));
    }
    Ok(None)
}

/// A comma- (or space-) separated list of addresses, CIDR blocks and names.
fn parse_list(flag: &str, list: &str) -> Result<Vec<AccessEntry>> {
    list.split([',', ' ', '\t'])
        .filter(|item| !item.is_empty())
        .map(|item| parse_entry(flag, item))
        .collect()
}

/// A file of entries, one or more per line; `#` starts a comment.
fn read_list(flag: &str, path: &Path) -> Result<Vec<AccessEntry>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "`{flag} {}`: {}",
            path.display(),
            crate::error::describe_io(&e)
        ))
    })?;
    let mut entries = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        entries.extend(parse_list(flag, line)?);
    }
    Ok(entries)
}

/// `ADDR`, `ADDR/BITS` or a host name.
pub(crate) fn parse_entry(flag: &str, item: &str) -> Result<AccessEntry> {
    let bad = || Error::Usage(format!("`{flag} {item}`: not an address, block or name"));
    if let Some((addr, bits)) = item.split_once('/') {
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let most = if ip.is_ipv4() { 32 } else { 128 };
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        if bits > most {
            return Err(bad());
        }
        return Ok(AccessEntry::Block(ip, bits));
    }
    if let Ok(ip) = item
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        return Ok(AccessEntry::Block(ip, bits));
    }
    let valid_name = item
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !valid_name || item.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    Ok(AccessEntry::Name(item.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_entries_parse_addresses_blocks_and_names() {
        assert_eq!(
            parse_entry("--allow", "10.0.0.0/8").unwrap(),
            AccessEntry::Block("10.0.0.0".parse().unwrap(), 8)
        );
        assert_eq!(
            parse_entry("--allow", "::1").unwrap(),
            AccessEntry::Block("::1".parse().unwrap(), 128)
        );
        assert_eq!(
            parse_entry("--allow", "localhost").unwrap(),
            AccessEntry::Name("localhost".into())
        );
        assert!(parse_entry("--allow", "10.0.0.0/33").is_err());
        assert!(parse_entry("--allow", "300.1.1.1").is_err());
        assert!(parse_entry("--allow", "a;b").is_err());
    }

    #[test]
    fn serve_lists_split_on_commas_and_spaces() {
        let list = parse_list("--deny", "127.0.0.1, ::1,example.org").unwrap();
        assert_eq!(list.len(), 3);
    }
}
