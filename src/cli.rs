//! The command line as clap sees it: flags and positionals with their help text.
//!
//! Nothing here touches the network, the file system or DNS; turning a `Cli` into a
//! checked `Config` is `config.rs`'s job.

use clap::Parser;

const EXAMPLES: &str = "\
Examples:
  Chat between two machines:
    rnc -l 5000                      # on the first machine
    rnc HOST 5000                    # on the second
  Pipe a file over TCP:
    rnc -l 5000 > out                # receiver
    rnc HOST 5000 < file             # sender
  Poke a server by hand (CRLF line endings):
    rnc -C example.org 80
  Watch a connection's life: each socket call (-vv), TCP_INFO too (-vvv):
    rnc -vvv example.org 80 < /dev/null
  UDP and Unix sockets:
    rnc -u -l 5353                   # UDP listener
    rnc -l -U /tmp/app.sock          # Unix stream listener
  Scan ports (many at once; exit 0 if one is open):
    rnc -zv -w 1 HOST 20-25,80,443
  Wait for a server that is still starting, then send a file and quit:
    rnc --retry 20 --retry-delay 500ms --send-only HOST 5000 < file
  Script a telnet console (refuse its option negotiation), one line a second:
    rnc -t -i 1s HOST 23 < commands

Exit status:
  0    the session ended normally (also: idle timeout -w after connecting,
       or the reader of stdout went away)
  1    runtime or network error (refused, reset, unresolvable name,
       connect timeout, bind failure, I/O error)
  2    usage error (bad flag, port or address; nothing was sent)
  128+N  ended by signal N (130 for Ctrl-C, 143 for SIGTERM)";

/// What `--generate` prints (`generate.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Generate {
    /// The man page (roff), for `man -l -` or a `man1` directory.
    Man,
    /// bash completion.
    Bash,
    /// zsh completion.
    Zsh,
    /// fish completion.
    Fish,
}

/// rnc's command line (clap derive).
#[derive(Debug, Parser)]
#[command(
    name = "rnc",
    version,
    about = "netcat-style tool: one TCP, UDP or Unix socket, joined to stdin and stdout",
    long_about = None,
    after_help = EXAMPLES,
    override_usage = "rnc [OPTIONS] HOST PORT\n       rnc [OPTIONS] HOST:PORT\n       rnc -l [OPTIONS] [ADDR] PORT\n       rnc -U [OPTIONS] PATH\n       rnc -l -U [OPTIONS] PATH",
    disable_help_flag = true,
    disable_version_flag = true
)]
pub(crate) struct Cli {
    /// Listen for an incoming connection instead of connecting
    #[arg(short = 'l', long = "listen")]
    pub(crate) listen: bool,

    /// Use UDP instead of TCP (with -U: a Unix datagram socket)
    #[arg(short = 'u', long = "udp")]
    pub(crate) udp: bool,

    /// Use a Unix domain socket; the positional argument is its PATH
    #[arg(short = 'U', long = "unix")]
    pub(crate) unix: bool,

    /// Use IPv4 only
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub(crate) ipv4: bool,

    /// Use IPv6 only
    #[arg(short = '6')]
    pub(crate) ipv6: bool,

    /// Source address to bind a client to
    #[arg(short = 's', long = "source", value_name = "ADDR")]
    pub(crate) source: Option<String>,

    /// Source port for a client; the port to listen on with -l
    #[arg(
        short = 'p',
        long = "source-port",
        value_name = "PORT",
        allow_hyphen_values = true
    )]
    pub(crate) port: Option<String>,

    /// Numeric addresses and ports only: never resolve names
    #[arg(short = 'n', long = "numeric")]
    pub(crate) numeric: bool,

    /// Connect timeout, and idle timeout once connected (seconds, or 500ms, 2s, 1m)
    #[arg(
        short = 'w',
        long = "wait",
        value_name = "SECS",
        allow_hyphen_values = true,
        long_help = "Connect timeout, and idle timeout once connected, in seconds.\n\
                     A connect that takes longer fails (exit 1); a session with no data in \
                     either direction for SECS ends normally (exit 0). Fractions are allowed, \
                     and so are units: 500ms, 2s, 1.5m, 1h."
    )]
    pub(crate) wait: Option<String>,

    /// Quit SECS after stdin EOF (0: as soon as everything read is sent; units: 500ms, 2s)
    #[arg(
        short = 'q',
        long = "quit-after-eof",
        value_name = "SECS",
        allow_hyphen_values = true
    )]
    pub(crate) quit: Option<String>,

    /// Wait SECS between lines sent (nc; units: 500ms, 2s)
    #[arg(
        short = 'i',
        long = "interval",
        value_name = "SECS",
        allow_hyphen_values = true,
        long_help = "Wait SECS between the lines sent (nc's -i): the first line goes at once, \
                     each next one SECS after the one before. Units are allowed: 500ms, 2s, 1m. \
                     (ncat's -i is an idle timeout: that is rnc's -w.)"
    )]
    pub(crate) interval: Option<String>,

    /// Never read stdin (receive only)
    #[arg(short = 'd', long = "no-stdin", visible_alias = "recv-only")]
    pub(crate) no_stdin: bool,

    /// Never write received bytes to stdout; quit once stdin's bytes are sent (ncat)
    #[arg(
        long = "send-only",
        long_help = "Only send: what the peer sends is read and dropped, never written to \
                     stdout (ncat's --send-only).\n\
                     At stdin EOF rnc sends what is left, shuts down its side and exits, as \
                     with -q 0, without waiting for the peer to close. -q SECS still sets \
                     a longer wait."
    )]
    pub(crate) send_only: bool,

    /// Keep listening and serve every client at once (ncat's -k)
    #[arg(
        short = 'k',
        long = "keep-open",
        long_help = "Keep listening and serve every client at once, as ncat's -k: stdin goes \
                     to every client, what any client sends goes to stdout.\n\
                     With -u: every sender joins a table of peers and gets each datagram \
                     from stdin; a peer silent for -w (60 s without it) is forgotten, and -m \
                     bounds the table (1024 without it)."
    )]
    pub(crate) keep_open: bool,

    /// Answer telnet negotiation by refusing every option (nc), keep it out of stdout
    #[arg(
        short = 't',
        long = "telnet",
        long_help = "Answer telnet option negotiation by refusing everything, as nc -t does: \
                     DO x gets WONT x, WILL x gets DONT x (RFC 854). The telnet commands never \
                     reach stdout; IAC IAC arrives as one 0xFF byte. For scripting a telnet \
                     server with a plain connection."
    )]
    pub(crate) telnet: bool,

    /// Send CRLF for each LF read from stdin
    #[arg(short = 'C', long = "crlf")]
    pub(crate) crlf: bool,

    /// Report the session's lifecycle on stderr (-vv: socket calls, -vvv: TCP_INFO)
    #[arg(
        short = 'v',
        long = "verbose",
        action = clap::ArgAction::Count,
        long_help = "Report on stderr what happens to the socket, in the words of socket \
                     tutorials. -v: the lifecycle (what a name resolved to, `connecting to \
                     ADDR (SYN sent)`, `connected in 0.3 ms`, why a connect failed on the wire, `listening on ADDR (backlog 4096)`, `connection from ADDR`, `sent FIN \
                     (stdin EOF)`, `peer sent FIN`, `peer reset the connection (RST)`, the \
                     byte counts). -vv adds each socket call with its arguments and result, \
                     errno by name (`socket(AF_INET, SOCK_STREAM) = 3`, `connect(...) = \
                     EINPROGRESS`, `getsockopt(SO_ERROR) = ECONNREFUSED`, `accept4() = 4 from \
                     ADDR`, `shutdown(SHUT_WR) = 0`), for -z scans too (one line per call per \
                     port). -vvv adds a TCP_INFO snapshot (state, rtt/rttvar, cwnd, \
                     retransmits, bytes acked) at each event rnc observes: connected, each \
                     direction's EOF, reset, close. Never on stdout; in interactive mode in \
                     the transcript."
    )]
    pub(crate) verbose: u8,

    /// Zero-I/O mode: connect, report, close (port scanning)
    #[arg(
        short = 'z',
        long = "zero-io",
        long_help = "Zero-I/O mode: connect, report, close (port scanning).\n\
                     Ports may be a list and ranges (`20-25,80,443`) or several arguments \
                     (`HOST 22 80 443`); TCP ports are tried many at once \
                     (--scan-parallel), each bounded by -w, and reported in port order. \
                     Exit 0 if any port is open."
    )]
    pub(crate) zero_io: bool,

    /// Most TCP connects a -z scan keeps in flight [default: 1024]
    #[arg(
        long = "scan-parallel",
        value_name = "N",
        long_help = "Most TCP connects a -z scan keeps in flight at once [default: 1024].\n\
                     rnc raises its open-file limit for a scan and stays below it, so N is \
                     lowered to fit (-v says so)."
    )]
    pub(crate) scan_parallel: Option<String>,

    /// Connect through the proxy at HOST[:PORT] (nc; SOCKS5 unless -X says)
    #[arg(short = 'x', value_name = "HOST[:PORT]")]
    pub(crate) nc_proxy: Option<String>,

    /// The -x proxy's protocol: 4 (SOCKS4), 5 (SOCKS5) or connect (HTTP)
    #[arg(short = 'X', value_name = "PROTO")]
    pub(crate) nc_proxy_type: Option<String>,

    /// User name for the proxy; its password is asked for on the terminal
    #[arg(short = 'P', value_name = "USER")]
    pub(crate) nc_proxy_user: Option<String>,

    /// Connect through the proxy at HOST[:PORT] (ncat; HTTP unless --proxy-type says)
    #[arg(
        long = "proxy",
        value_name = "HOST[:PORT]",
        long_help = "Connect through the proxy at HOST[:PORT] (ncat's spelling; -x is nc's).\n\
                     The port defaults to 1080 for SOCKS and 3128 for HTTP. The proxy \
                     handshake runs before --tls, so TLS goes through the tunnel."
    )]
    pub(crate) proxy: Option<String>,

    /// The proxy's protocol: socks4, socks5 or http (CONNECT)
    #[arg(long = "proxy-type", value_name = "TYPE")]
    pub(crate) proxy_type: Option<String>,

    /// Proxy credentials USER:PASS (SOCKS5 username/password, HTTP basic; SOCKS4: USER)
    #[arg(long = "proxy-auth", value_name = "USER:PASS")]
    pub(crate) proxy_auth: Option<String>,

    /// Where the target's name is resolved: local, remote, both or none
    #[arg(
        long = "proxy-dns",
        value_name = "WHERE",
        long_help = "Where the target's name is resolved: local (by rnc), remote (by the \
                     proxy), both (by rnc, else by the proxy) or none (addresses only).\n\
                     The default is remote for SOCKS5 and HTTP, local for SOCKS4 (remote \
                     makes it SOCKS4a)."
    )]
    pub(crate) proxy_dns: Option<String>,

    /// Receive buffer size (SO_RCVBUF) in bytes; 64k, 4m work too
    #[arg(short = 'I', long = "recv-buffer", value_name = "BYTES")]
    pub(crate) recv_buffer: Option<String>,

    /// Send buffer size (SO_SNDBUF) in bytes; 64k, 4m work too
    #[arg(short = 'O', long = "send-buffer", value_name = "BYTES")]
    pub(crate) send_buffer: Option<String>,

    /// IPv4 TOS / IPv6 traffic class: a number or a keyword (lowdelay, ef, af11, cs1…)
    #[arg(
        short = 'T',
        long = "tos",
        value_name = "TOS",
        long_help = "Set the IPv4 TOS byte (IP_TOS) or the IPv6 traffic class (IPV6_TCLASS).\n\
                     TOS is a number 0-255 (decimal or 0x hex) or one of nc's keywords: \
                     critical, inetcontrol, lowcost, lowdelay, netcontrol, throughput, \
                     reliability, or a DiffServ code point: ef, af11 … af43, cs0 … cs7."
    )]
    pub(crate) tos: Option<String>,

    /// Set TCP_NODELAY (rnc's default already: accepted for ncat/socat habits)
    #[arg(long = "nodelay")]
    pub(crate) nodelay: bool,

    /// Turn on TCP keepalive probes, optionally with their timing
    #[arg(
        long = "keepalive",
        value_name = "IDLE,INTERVAL,COUNT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        long_help = "Turn on TCP keepalive probes (SO_KEEPALIVE).\n\
                     --keepalive=IDLE,INTERVAL,COUNT also sets the silence before the first \
                     probe (TCP_KEEPIDLE), the time between probes (TCP_KEEPINTVL) and how \
                     many unanswered probes drop the connection (TCP_KEEPCNT); any field may \
                     be left empty for the kernel's default. Times take units (60s, 1m) and \
                     are whole seconds. Example: --keepalive=60s,10s,5"
    )]
    pub(crate) keepalive: Option<String>,

    /// Try a refused connect again N times (the server is not up yet; socat's retry)
    #[arg(
        long = "retry",
        value_name = "N",
        allow_hyphen_values = true,
        long_help = "When the connect is refused (nothing listens yet, or a Unix socket path \
                     does not exist yet), try again up to N more times, --retry-delay apart \
                     (1 s unless said). Other failures end at once. -v shows each attempt."
    )]
    pub(crate) retry: Option<String>,

    /// The pause before each --retry (default 1 s; units: 500ms, 2s)
    #[arg(
        long = "retry-delay",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    pub(crate) retry_delay: Option<String>,

    /// Do not shut down the socket's write side at stdin EOF
    #[arg(long = "no-shutdown")]
    pub(crate) no_shutdown: bool,

    /// Shut down the write side at stdin EOF (the default; accepted for nc compatibility)
    #[arg(short = 'N', hide = true)]
    pub(crate) shutdown_compat: bool,

    /// No status line or progress display, even on a terminal (plain nc behaviour)
    #[arg(long = "no-status")]
    pub(crate) no_status: bool,

    /// Write received bytes to a terminal as they are, escape sequences included
    #[arg(
        long = "raw-output",
        long_help = "Write received bytes to a terminal as they are.\n\
                     By default, when stdout is a terminal, escape sequences and other control \
                     characters from the peer are shown escaped (`^[`, `\\x9b`) so a peer cannot \
                     move the cursor, clear the screen or retitle the window. Pipes and files \
                     always get the exact bytes."
    )]
    pub(crate) raw_output: bool,

    /// Log the session's bytes, both directions in the order they moved, to FILE (ncat)
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        long_help = "Log the session's bytes to FILE: what was sent and what was received, \
                     both directions in the order they moved, exactly as they are (ncat's -o). \
                     Under --tls the log holds the plaintext. The file is created, or emptied \
                     unless --append-output. With -k, --broker or --chat it holds what the \
                     local user sent and received; with -e, what the program sent and received."
    )]
    pub(crate) output: Option<std::path::PathBuf>,

    /// Log a hex dump of the session's bytes to FILE, a header per chunk (ncat's -x)
    #[arg(
        long = "hex-dump",
        value_name = "FILE",
        long_help = "Log a hex dump of the session's bytes to FILE (ncat's -x; nc's -x is the \
                     proxy). Each chunk that moved gets a header as socat's -x writes it: `>` \
                     sent or `<` received, the time (UTC), its length and its place in that \
                     direction's stream (`> 2026/11/29 21:30:00.123456  length=5 from=0 to=4`), \
                     then lines of offset, 16 bytes in hex and the same bytes as ASCII. Under \
                     --tls it dumps the plaintext."
    )]
    pub(crate) hex_dump: Option<std::path::PathBuf>,

    /// Append to the -o and --hex-dump files instead of emptying them (ncat)
    #[arg(long = "append-output")]
    pub(crate) append_output: bool,

    /// Speak TLS over the stream (client, or with -l a server)
    #[arg(
        long = "tls",
        visible_alias = "ssl",
        long_help = "Speak TLS over the TCP or Unix stream.\n\
                     A client verifies the server's certificate against the system's trust \
                     store and checks its name (see --tls-ca, --pin, --insecure, --sni). A \
                     listener serves --tls-cert/--tls-key, or a self-signed certificate made \
                     at start, whose fingerprint it prints with the client command that pins it."
    )]
    pub(crate) tls: bool,

    /// Trust the CA certificates in FILE (PEM) instead of the system's
    #[arg(long = "tls-ca", visible_alias = "ssl-trustfile", value_name = "FILE")]
    pub(crate) tls_ca: Option<std::path::PathBuf>,

    /// Trust exactly the certificate with this SHA-256 (sha256:HEX); no CA or name check
    #[arg(long = "pin", value_name = "sha256:HEX")]
    pub(crate) pin: Option<String>,

    /// Do not verify the server's certificate (encrypts, but anyone can be the server)
    #[arg(long = "insecure")]
    pub(crate) insecure: bool,

    /// Name to send as SNI and check the certificate against (default: the host)
    #[arg(long = "sni", visible_alias = "ssl-servername", value_name = "NAME")]
    pub(crate) sni: Option<String>,

    /// Offer these ALPN protocols (comma-separated, e.g. h2,http/1.1)
    #[arg(long = "alpn", visible_alias = "ssl-alpn", value_name = "LIST")]
    pub(crate) alpn: Option<String>,

    /// Verify the server's certificate (the default; accepted for ncat compatibility)
    #[arg(long = "ssl-verify", hide = true)]
    pub(crate) ssl_verify: bool,

    /// The listener's certificate chain, or the client's certificate (PEM)
    #[arg(long = "tls-cert", visible_alias = "ssl-cert", value_name = "FILE")]
    pub(crate) tls_cert: Option<std::path::PathBuf>,

    /// The private key of --tls-cert (PEM)
    #[arg(long = "tls-key", visible_alias = "ssl-key", value_name = "FILE")]
    pub(crate) tls_key: Option<std::path::PathBuf>,

    /// Listener: require client certificates issued by the CAs in FILE (PEM)
    #[arg(long = "tls-client-ca", value_name = "FILE")]
    pub(crate) tls_client_ca: Option<std::path::PathBuf>,

    /// Allow only these cipher suites (comma-separated, e.g. TLS13_AES_128_GCM_SHA256)
    #[arg(
        long = "tls-ciphers",
        visible_alias = "ssl-ciphers",
        value_name = "LIST",
        long_help = "Allow only these cipher suites, comma- or colon-separated.\n\
                     rustls's names (TLS13_AES_128_GCM_SHA256, \
                     TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, …) or OpenSSL's for the same \
                     suites (TLS_AES_128_GCM_SHA256, ECDHE-RSA-AES128-GCM-SHA256), any case. \
                     Only TLS 1.3 suites means TLS 1.3 only."
    )]
    pub(crate) tls_ciphers: Option<String>,

    /// Run PROG ARGS (split on whitespace, no shell) for each connection, joined to it
    /// instead of stdin and stdout (ncat's -e). It serves that program to anyone who can
    /// connect: see docs/usage.md
    #[arg(
        short = 'e',
        long = "exec",
        value_name = "PROG ARGS",
        conflicts_with = "sh_exec"
    )]
    pub(crate) exec: Option<String>,

    /// Run CMD through /bin/sh -c for each connection, joined to it (ncat's -c)
    #[arg(short = 'c', long = "sh-exec", value_name = "CMD")]
    pub(crate) sh_exec: Option<String>,

    /// With -l: relay every client's bytes to every other client (ncat's --broker)
    #[arg(long = "broker", conflicts_with = "chat")]
    pub(crate) broker: bool,

    /// With -l: a line-based chat room, each line prefixed with its sender (ncat's --chat)
    #[arg(long = "chat")]
    pub(crate) chat: bool,

    /// With -l: at most N clients at once; more are accepted and closed at once
    #[arg(short = 'm', long = "max-conns", value_name = "N")]
    pub(crate) max_conns: Option<String>,

    /// With -l: accept only these clients (addresses, CIDR blocks or names, comma-separated)
    #[arg(long = "allow", value_name = "LIST")]
    pub(crate) allow: Vec<String>,

    /// With -l: refuse these clients (addresses, CIDR blocks or names, comma-separated)
    #[arg(long = "deny", value_name = "LIST")]
    pub(crate) deny: Vec<String>,

    /// With -l: accept only the clients listed in FILE (one entry per line, # comments)
    #[arg(long = "allowfile", value_name = "FILE")]
    pub(crate) allowfile: Vec<std::path::PathBuf>,

    /// With -l: refuse the clients listed in FILE (one entry per line, # comments)
    #[arg(long = "denyfile", value_name = "FILE")]
    pub(crate) denyfile: Vec<std::path::PathBuf>,

    /// Always copy through user space (no sendfile/splice); for benchmarks and tests
    #[arg(long = "no-zero-copy", hide = true)]
    pub(crate) no_zero_copy: bool,

    /// Never poll briefly without sleeping after a small exchange: saves the CPU a
    /// request/response exchange spends waiting for a quick reply, at the cost of latency
    #[arg(long = "no-busy-poll", hide = true)]
    pub(crate) no_busy_poll: bool,

    /// Print the man page or a shell completion script: man, bash, zsh or fish
    #[arg(long = "generate", value_name = "KIND", value_enum, hide = true)]
    pub(crate) generate: Option<Generate>,

    /// HOST PORT (or HOST:PORT, [V6]:PORT) to connect to; [ADDR] PORT to listen on; PATH with -U;
    /// -z HOST PORTS… to scan
    #[arg(value_name = "ARGS", num_args = 0.., value_parser = clap::value_parser!(std::ffi::OsString))]
    pub(crate) args: Vec<std::ffi::OsString>,

    /// Print help (see more with '--help')
    #[arg(short = 'h', long = "help", action = clap::ArgAction::Help)]
    pub(crate) help: Option<bool>,

    /// Print version
    #[arg(short = 'V', long = "version", action = clap::ArgAction::Version)]
    pub(crate) version: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cli_accepts_nc_listen_spelling() {
        let cli = Cli::try_parse_from(["rnc", "-l", "-p", "5000"]).expect("valid command line");
        assert!(cli.listen);
        assert_eq!(cli.port.as_deref(), Some("5000"));
        assert!(cli.args.is_empty());
    }

    #[test]
    fn cli_takes_several_ports_for_a_scan() {
        // `-z HOST 22 80 443`; without `-z`, config rejects the third argument.
        let cli = Cli::try_parse_from(["rnc", "-z", "h", "22", "80", "443"]).expect("valid");
        assert_eq!(cli.args.len(), 4);
    }
}
