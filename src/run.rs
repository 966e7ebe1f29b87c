//! The top level: open stdin, stdout and the screen, then run the mode `config` decided,
//! once: connect (or scan, or probe), or listen for one client, clients in turn (`-k`),
//! or datagrams. Each connection is handed to the loop's `drive`.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use mio::Interest;

use crate::config::{Config, Host, Mode, Target, Transport};
use crate::error::{Error, Result};
use crate::event_loop::{LISTENER, Loop, Outcome, drive, drive_hub};
use crate::net;
use crate::net::access::AccessFilter;
use crate::net::connect::{
    connect_tcp, host_text, probe_udp_addrs, resolve_waiting, source_addr, udp_probe_success,
    zero_io_success,
};
use crate::net::endpoint::Endpoint;
use crate::net::listen::accept_next;
use crate::net::listener::StreamListener;
use crate::net::scan::{probe_failed_line, scan_ports};
use crate::net::{proxy, retry, tls};
use crate::notices::print_line;
use crate::relay::child::{self, ConnectionEnv, Reaper};
use crate::relay::hub::{Hub, HubOptions};
use crate::relay::peers::{DEFAULT_MAX_PEERS, DEFAULT_PEER_EXPIRY, PeerRules};
use crate::relay::session::{Options, Session};
use crate::relay::stdio::StdStream;
use crate::relay::tap::Tap;
use crate::relay::tls::TlsLayer;
use crate::tty::status::{ConnState, PeerCheck};
use crate::tty::ui::{Ui, UiWish};

/// Run rnc as `config` says.
pub(crate) fn run(config: &Config) -> Result<Outcome> {
    crate::trace::set_level(config.verbosity);
    let mut lp = Loop::new()?;
    // A bad `--tls-ca` or an empty trust store is reported before any connection.
    let tls_client = match (&config.tls, config.mode) {
        (Some(opts), Mode::Connect | Mode::Probe) => Some(tls::client_config(opts)?),
        _ => None,
    };
    let mut session = open_session(&lp, config)?;
    let tls = TlsSide {
        client: tls_client,
        server: None,
    };
    match config.mode {
        Mode::Connect => run_client(&mut lp, &mut session, config, &tls),
        Mode::Probe => run_probe(&mut lp, &mut session, config, &tls),
        Mode::Scan => run_scan(&mut lp, &mut session, config),
        Mode::Listen => run_listener(&mut lp, &mut session, config),
    }
}

/// The TLS configuration of this run, if `--tls`.
struct TlsSide {
    /// A client's.
    client: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// A listener's.
    server: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl TlsSide {
    /// A fresh TLS state for one connection, if `--tls`.
    fn new_layer(&self, config: &Config) -> Result<Option<TlsLayer>> {
        let failed = |e: rustls::Error| Error::TlsSetup {
            what: "tls".into(),
            reason: e.to_string(),
        };
        if let (Some(client), Some(opts)) = (&self.client, &config.tls) {
            let name = tls::server_name(opts, tls_host(config).as_deref())?;
            let conn = rustls::ClientConnection::new(std::sync::Arc::clone(client), name)
                .map_err(failed)?;
            return Ok(Some(TlsLayer::new(conn)));
        }
        if let Some(server) = &self.server {
            let conn =
                rustls::ServerConnection::new(std::sync::Arc::clone(server)).map_err(failed)?;
            return Ok(Some(TlsLayer::new(conn)));
        }
        Ok(None)
    }
}

/// The host a TLS client checks the certificate for (before `--sni`).
fn tls_host(config: &Config) -> Option<String> {
    match &config.target {
        Target::Inet {
            host: Some(Host::Name(name)),
            ..
        } => Some(name.clone()),
        Target::Inet {
            host: Some(Host::Literal { ip, .. }),
            ..
        } => Some(ip.to_string()),
        _ => None,
    }
}

/// How the peer's certificate was checked: the status row's words and `-v`'s line.
fn peer_check(config: &Config) -> Result<(PeerCheck, Option<String>)> {
    let Some(opts) = &config.tls else {
        return Ok((PeerCheck::Unchecked, None));
    };
    if config.mode == Mode::Listen {
        return Ok(tls::peer_check(opts, None));
    }
    let name = tls::server_name(opts, tls_host(config).as_deref())?;
    Ok(tls::peer_check(opts, Some(&name.to_str())))
}

/// With `--tls`, run the handshake on `endpoint` (bounded by `-w`); `-v` says what was
/// agreed. `Ok(Err(outcome))` when a signal ended rnc meanwhile.
fn secure(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    tls: &TlsSide,
    endpoint: &mut Endpoint,
) -> Result<std::result::Result<Option<TlsLayer>, Outcome>> {
    let Some(mut layer) = tls.new_layer(config)? else {
        return Ok(Ok(None));
    };
    let started = Instant::now();
    let deadline = config.wait.map(|w| started + w);
    let peer = proxy::route_text(config, endpoint)
        .or_else(|| endpoint.peer_description())
        .unwrap_or_else(|| "peer".to_string());
    if let Err(outcome) = tls::handshake(lp, session, endpoint, &mut layer, &peer, deadline)? {
        return Ok(Err(outcome));
    }
    let (check, line) = peer_check(config)?;
    if config.verbose {
        print_line(&format!(
            "{} in {:.1} ms",
            tls::describe_session(&layer),
            started.elapsed().as_secs_f64() * 1000.0
        ));
        if let Some(line) = &line {
            print_line(line);
        }
        let peer = if config.mode == Mode::Listen {
            "client"
        } else {
            "server"
        };
        for line in tls::describe_peer_certificate(&layer, peer) {
            print_line(&line);
        }
    }
    session
        .ui()
        .set_tls(Some(tls::shown_session(&layer, check)));
    Ok(Ok(Some(layer)))
}

fn session_options(config: &Config) -> Result<Options> {
    let peer_table = peer_rules(config)?;
    Ok(Options {
        crlf: config.crlf,
        shutdown_on_eof: config.shutdown_on_eof,
        verbose: config.verbose,
        // The hub keeps `-w` per client, the table of UDP peers per peer; the socket pair
        // to the hub is never idle.
        idle_timeout: config
            .wait
            .filter(|_| !serves_many(config) && peer_table.is_none()),
        quit_after_eof: config.quit_after_eof.filter(|_| !serves_many(config)),
        peer_table,
        keep_listening: config.keep_open,
        zero_copy: config.zero_copy,
        sniff_tls: config.mode == Mode::Connect
            && config.tls.is_none()
            && !config.transport.is_datagram(),
        for_hub: serves_many(config),
        program: false,
        send_only: config.send_only,
        line_delay: config.line_delay,
        telnet: config.telnet,
    })
}

/// `-u -l -k`: the rules of the table of peers (`-m`, `-w`, `--allow`/`--deny`, whose
/// names are looked up now).
fn peer_rules(config: &Config) -> Result<Option<PeerRules>> {
    if config.mode != Mode::Listen || !config.keep_open || !config.transport.is_datagram() {
        return Ok(None);
    }
    Ok(Some(PeerRules {
        max: config.serve.max_conns.unwrap_or(DEFAULT_MAX_PEERS),
        expiry: config.wait.unwrap_or(DEFAULT_PEER_EXPIRY),
        filter: AccessFilter::new(&config.serve.access)?,
    }))
}

/// Whether a hub serves the clients: a stream listener with `-k` (or `--broker`,
/// `--chat`).
fn serves_many(config: &Config) -> bool {
    config.mode == Mode::Listen && config.keep_open && !config.transport.is_datagram()
}

fn open_session(lp: &Loop, config: &Config) -> Result<Session> {
    let exec = config.serve.exec.is_some();
    let stdin = if config.no_stdin || exec {
        None
    } else {
        Some(StdStream::stdin().map_err(|source| Error::Stdio {
            op: "open stdin",
            source,
        })?)
    };
    let stdout = StdStream::stdout().map_err(|source| Error::Stdio {
        op: "open stdout",
        source,
    })?;
    let ui = Ui::new(
        UiWish {
            // With `-e` the program has the connection; its stderr shares the terminal.
            status: config.status && !exec,
            raw_output: config.raw_output,
            reads_stdin: !config.no_stdin && !exec,
            transport: config.transport.name(),
        },
        stdout.as_fd(),
    );
    let mut session = Session::new(session_options(config)?, stdin, stdout, ui);
    // Opened before any connection, so a log that cannot be written stops rnc first.
    session.set_tap(Tap::open(&config.log)?);
    if !exec {
        lp.watch_stdio(&mut session)?;
    }
    Ok(session)
}

/// Print the `-v` summary of a finished connection.
fn print_summary(config: &Config, stats: Option<(u64, u64, Duration)>) {
    if let (true, Some((sent, received, elapsed))) = (config.verbose, stats) {
        print_line(&format!(
            "{sent} bytes sent, {received} bytes received in {:.3} s",
            elapsed.as_secs_f64()
        ));
    }
}

/// `rnc HOST PORT` (or `-U PATH`): connect, then relay until the session ends.
fn run_client(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    tls: &TlsSide,
) -> Result<Outcome> {
    let attempt = |lp: &mut Loop, session: &mut Session| connect(lp, session, config);
    let mut endpoint =
        match retry::with_retries(lp, session, config.retry, config.verbose, attempt)? {
            Ok(endpoint) => endpoint,
            Err(outcome) => return Ok(outcome),
        };
    let peer = proxy::route_text(config, &endpoint)
        .or_else(|| endpoint.peer_description())
        .unwrap_or_else(|| "peer".to_string());
    let local = endpoint.local_description();
    if config.verbose {
        print_line(&format!("connected to {peer} (from {local})"));
    }
    session.ui().set_addresses(Some(&local), Some(&peer));
    let layer = match secure(lp, session, config, tls, &mut endpoint)? {
        Ok(layer) => layer,
        Err(outcome) => return Ok(outcome),
    };
    let tls_port = endpoint
        .peer_port()
        .filter(|port| layer.is_none() && endpoint.is_tcp() && USUAL_TLS_PORTS.contains(port));
    if config.serve.exec.is_some() {
        return serve_program(lp, config, endpoint, false, layer, session.take_tap());
    }
    let route = proxy::route_text(config, &endpoint);
    session.ui().new_connection(None);
    lp.attach(session, endpoint, false)?;
    if let Some(route) = route {
        // Errors later in the session name the target and the hop, not the proxy alone.
        session.name_peer(route);
    }
    if let Some(layer) = layer {
        session.start_tls(layer);
    }
    let outcome = drive(lp, session, config);
    let stats = lp.detach(session);
    print_summary(config, stats);
    let outcome = outcome?;
    let silent = matches!(stats, Some((sent, 0, _)) if sent > 0);
    if let (Some(port), Outcome::Finished, true) = (tls_port, outcome, silent)
        && !session.is_stdout_closed()
    {
        // Many TLS servers (OpenSSL's among them) close on plain text without a word. rnc
        // does not knock again to find out: the port says enough to give a hint.
        print_line(&format!(
            "the server closed without a reply; port {port} usually speaks TLS: try --tls"
        ));
    }
    Ok(outcome)
}

/// Ports whose servers usually speak TLS from the first byte (HTTPS, SMTPS, NNTPS, LDAPS,
/// DNS over TLS, FTPS, TELNETS, IMAPS, IRCS, POP3S, SIPS, and the usual alternates).
const USUAL_TLS_PORTS: [u16; 15] = [
    443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061, 6697, 8443, 9443,
];

/// One connection (or a datagram listener's whole life): attach it, drive it to its end,
/// detach it and print the `-v` summary.
fn serve_one(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    endpoint: Endpoint,
    waiting_for_sender: bool,
    tls: Option<TlsLayer>,
) -> Result<Outcome> {
    let route = proxy::route_text(config, &endpoint);
    session.ui().new_connection(None);
    lp.attach(session, endpoint, waiting_for_sender)?;
    if let Some(route) = route {
        session.name_peer(route);
    }
    if let Some(layer) = tls {
        session.start_tls(layer);
    }
    let outcome = drive(lp, session, config);
    let stats = lp.detach(session);
    print_summary(config, stats);
    outcome
}

/// `-z HOST PORT`: connect and close (UDP: probe for a refusal); `-v` says it is open.
fn run_probe(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    tls: &TlsSide,
) -> Result<Outcome> {
    if let (Target::Inet { host, port }, Transport::Udp) = (&config.target, config.transport) {
        let host = inet_host(host)?;
        announce_resolving(session, config, host)?;
        let addrs = match resolve_waiting(lp, session, host, *port, config.family)? {
            Ok(addrs) => addrs,
            Err(outcome) => return Ok(outcome),
        };
        let probed = probe_udp_addrs(lp, session, config, &addrs);
        note_probe_failure(config, &probed);
        return match probed? {
            Ok(()) => {
                if config.verbose {
                    print_line(&udp_probe_success(host, addrs[0].port()));
                }
                Ok(Outcome::Finished)
            }
            Err(outcome) => Ok(outcome),
        };
    }
    let connected = connect(lp, session, config);
    note_probe_failure(config, &connected);
    match connected? {
        Ok(mut endpoint) => {
            // `-z --tls`: open means the handshake succeeds.
            if let Err(outcome) = secure(lp, session, config, tls, &mut endpoint)? {
                return Ok(outcome);
            }
            if config.verbose {
                print_line(&zero_io_success(config, &endpoint));
            }
            Ok(Outcome::Finished)
        }
        Err(outcome) => Ok(outcome),
    }
}

/// `-v` on `-z HOST PORT`: a closed port gets the scan's line, as an open one does
/// (`connection to HOST PORT refused`); the error line follows from `main`. Failures
/// before any connect (a name that does not resolve) have only the error line.
fn note_probe_failure<T>(config: &Config, result: &Result<T>) {
    if let (
        true,
        Err(e @ (Error::Connect { .. } | Error::ConnectTimeout { .. })),
        Target::Inet {
            host: Some(host),
            port,
        },
    ) = (config.verbose, result, &config.target)
    {
        let udp = config.transport == Transport::Udp;
        print_line(&probe_failed_line(&host_text(host), *port, udp, e));
    }
}

/// `-z HOST PORTS`: resolve the host once, then probe each port (`net/scan.rs`).
fn run_scan(lp: &mut Loop, session: &mut Session, config: &Config) -> Result<Outcome> {
    let Target::Inet { host, port } = &config.target else {
        return Err(Error::Usage("a port list needs a host".into()));
    };
    let host = inet_host(host)?;
    announce_resolving(session, config, host)?;
    match resolve_waiting(lp, session, host, *port, config.family)? {
        Ok(addrs) => scan_ports(lp, session, config, host, &addrs),
        Err(outcome) => Ok(outcome),
    }
}

/// The endpoint `config` names, connected: a Unix socket, a connected UDP socket, or a TCP
/// stream (each address of a name tried in turn); or the signal that interrupted.
fn connect(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
) -> Result<std::result::Result<Endpoint, Outcome>> {
    match (&config.target, config.transport) {
        (Target::Unix(path), transport) => {
            let shown = path.display().to_string();
            session.ui().set_addresses(None, Some(&shown));
            Ok(Ok(if transport == Transport::UnixStream {
                Endpoint::Unix(net::unix_connect(path)?)
            } else {
                let (socket, file) =
                    net::unix_datagram_connect(path, config.unix_source.as_deref())?;
                Endpoint::UnixDatagram(socket, Some(file))
            }))
        }
        (Target::Inet { host, port }, transport) => {
            let host = inet_host(host)?;
            if let Some(options) = &config.proxy {
                return proxy::connect_via(lp, session, config, options, host, *port);
            }
            announce_resolving(session, config, host)?;
            let addrs = match resolve_waiting(lp, session, host, *port, config.family)? {
                Ok(addrs) => addrs,
                Err(outcome) => return Ok(Err(outcome)),
            };
            if transport == Transport::Udp {
                let addr = addrs[0];
                let source = source_addr(config, &addr)?;
                Ok(Ok(Endpoint::Udp(net::udp_connect(
                    addr,
                    source,
                    &config.socket_options,
                )?)))
            } else {
                connect_tcp(lp, session, config, &addrs)
            }
        }
    }
}

/// A client's host (config guarantees one).
fn inet_host(host: &Option<Host>) -> Result<&Host> {
    host.as_ref().ok_or_else(|| Error::Usage("no host".into()))
}

/// Before a name is looked up: say so (`-v`) and show it in the status row.
fn announce_resolving(session: &mut Session, config: &Config, host: &Host) -> Result<()> {
    if let Host::Name(name) = host {
        if config.verbose {
            print_line(&format!("resolving {name}"));
        }
        session.ui().set_state(ConnState::Resolving);
        session.ui().set_addresses(None, Some(name));
        session.refresh_ui(Instant::now())?;
    }
    Ok(())
}

fn run_listener(lp: &mut Loop, session: &mut Session, config: &Config) -> Result<Outcome> {
    let asked_port_zero = matches!(config.target, Target::Inet { port: 0, .. });
    let announce = |session: &mut Session, local: &str, state: ConnState| {
        if config.verbose && state == ConnState::Listening {
            // The backlog is what a stream listener keeps waiting: clients the kernel has
            // completed the handshake with before rnc accepts them.
            print_line(&format!(
                "listening on {local} (backlog {})",
                net::LISTEN_BACKLOG
            ));
        } else if config.verbose || asked_port_zero {
            print_line(&format!("listening on {local}"));
        }
        session.ui().set_state(state);
        session.ui().set_addresses(Some(local), None);
    };
    let mut listener = match (&config.target, config.transport) {
        (Target::Inet { host, port }, Transport::Tcp) => {
            let candidates = net::listen_addrs(host.as_ref(), *port, config.family)?;
            StreamListener::Tcp(net::tcp_listener(&candidates, &config.socket_options)?)
        }
        (Target::Unix(path), Transport::UnixStream) => {
            let (l, file) = net::unix_listener(path)?;
            StreamListener::Unix(l, file)
        }
        (Target::Inet { host, port }, _) => {
            let candidates = net::listen_addrs(host.as_ref(), *port, config.family)?;
            let endpoint = Endpoint::Udp(net::udp_listener(&candidates, &config.socket_options)?);
            let local = endpoint.local_description();
            announce(session, &local, ConnState::WaitingForDatagram);
            return run_datagram_listener(lp, session, config, endpoint);
        }
        (Target::Unix(path), _) => {
            let (socket, file) = net::unix_datagram_listener(path)?;
            announce(
                session,
                &path.display().to_string(),
                ConnState::WaitingForDatagram,
            );
            // The file stays until the session ends.
            let endpoint = Endpoint::UnixDatagram(socket, None);
            let result = run_datagram_listener(lp, session, config, endpoint);
            drop(file);
            return result;
        }
    };
    let local = listener.local_description();
    announce(session, &local, ConnState::Listening);
    let tls = listener_tls(config, &local)?;
    lp.registry()
        .register(listener.source(), LISTENER, Interest::READABLE)
        .map_err(|source| Error::Poll {
            what: "register listener",
            source,
        })?;
    if serves_many(config) {
        return run_hub(lp, session, config, listener, &tls);
    }
    let mut listener = Some(listener);
    let mut served = 0u64;
    loop {
        let Some(active) = listener.as_mut() else {
            return Ok(Outcome::Finished);
        };
        let (mut endpoint, from) = match accept_next(lp, session, active)? {
            Ok(accepted) => accepted,
            Err(outcome) => return Ok(outcome),
        };
        served += 1;
        if !config.keep_open {
            // One connection only: stop listening now, so later clients are refused
            // instead of waiting in a backlog nobody serves.
            if let Some(mut l) = listener.take() {
                let _ = lp.registry().deregister(l.source());
            }
        }
        if config.verbose {
            print_line(&format!("connection from {from}"));
        }
        let ui = session.ui();
        ui.new_connection(config.keep_open.then_some(served));
        ui.set_addresses(Some(&endpoint.local_description()), Some(&from));
        if config.keep_open {
            ui.note(&format!("client {served} from {from}"));
            if !config.verbose {
                ui.announce(&format!("client {served} connected from {from}"));
            }
        }
        let layer = match secure(lp, session, config, &tls, &mut endpoint) {
            Ok(Ok(layer)) => layer,
            Ok(Err(outcome)) => return Ok(outcome),
            Err(e) if config.keep_open => {
                // A client that fails its handshake does not end a `-k` listener.
                print_line(&e.one_line());
                session.ui().set_state(ConnState::Listening);
                continue;
            }
            Err(e) => return Err(e),
        };
        if config.serve.exec.is_some() {
            return serve_program(lp, config, endpoint, false, layer, session.take_tap());
        }
        lp.attach(session, endpoint, false)?;
        if let Some(layer) = layer {
            session.start_tls(layer);
        }
        let outcome = drive(lp, session, config);
        let stats = lp.detach(session);
        session
            .ui()
            .end_connection(stats.map_or(0, |(sent, _, _)| sent));
        if let (true, false, Some((sent, received, _))) = (config.keep_open, config.verbose, stats)
        {
            session.ui().announce(&format!(
                "client {served} left ({sent} bytes sent, {received} received)"
            ));
        }
        print_summary(config, stats);
        match outcome {
            Ok(Outcome::Finished) if config.keep_open && !session.is_stdout_closed() => {
                session.ui().set_state(ConnState::Listening);
                session.ui().set_addresses(Some(&local), None);
            }
            Err(e) if config.keep_open && !matches!(e, Error::Stdio { .. }) => {
                // One client's failure does not end a `-k` listener (a broken stdin or
                // stdout would fail every client alike, so that does).
                print_line(&e.one_line());
                session.ui().set_state(ConnState::Listening);
            }
            other => return other,
        }
    }
}

/// `-k` (or `--broker`, `--chat`) on a stream listener: serve every client at once on
/// the hub. The local user joins through a socket pair the session relays, unless `-e`
/// gives each client a program instead.
fn run_hub(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    listener: StreamListener,
    tls: &TlsSide,
) -> Result<Outcome> {
    // Many clients want many fds; the hub says so when the limit is reached.
    let _ = crate::sys::raise_nofile_limit();
    let filter = AccessFilter::new(&config.serve.access)?;
    let opts = HubOptions {
        fanout: config.serve.fanout,
        exec: config.serve.exec.clone(),
        max_conns: config.serve.max_conns,
        verbose: config.verbose,
        shutdown_on_eof: config.shutdown_on_eof,
        idle_timeout: config.wait,
        proto: config.transport.name(),
        mark_senders: session.ui().is_interactive()
            && config.serve.fanout == crate::config::Fanout::Each,
    };
    let mut hub = Hub::new(opts, listener, filter, tls.server.clone());
    if config.serve.exec.is_none() {
        let (ours, theirs) = mio::net::UnixStream::pair().map_err(|source| Error::Socket {
            what: "make the socket pair between stdin/stdout and the clients".into(),
            source,
        })?;
        hub.add_local(lp, Endpoint::Unix(theirs))?;
        lp.attach(session, Endpoint::Unix(ours), false)?;
    }
    let outcome = drive_hub(lp, session, &mut hub);
    lp.detach(session);
    hub.finish();
    outcome
}

/// A listener's TLS side: its certificate, or one made now for `localhost`, the listen
/// address and the host name; a made one's fingerprint and the client command that pins
/// it are printed.
fn listener_tls(config: &Config, local: &str) -> Result<TlsSide> {
    let Some(opts) = &config.tls else {
        return Ok(TlsSide {
            client: None,
            server: None,
        });
    };
    let mut names = vec!["localhost".to_string()];
    let listen_host = match &config.target {
        Target::Inet {
            host: Some(Host::Literal { ip, .. }),
            ..
        } if !ip.is_unspecified() => Some(ip.to_string()),
        Target::Inet {
            host: Some(Host::Name(name)),
            ..
        } => Some(name.clone()),
        _ => None,
    };
    names.extend(listen_host.clone());
    let identity = tls::server_identity(opts, names)?;
    if let Some(print) = &identity.generated {
        print_line(&format!(
            "TLS certificate {print} (generated, new at every start)"
        ));
        let target = match &config.target {
            Target::Unix(path) => format!("-U {}", path.display()),
            Target::Inet { .. } => {
                // The bound port: `-l 0` asked the kernel for one.
                let port = local.rsplit_once(':').map_or("PORT", |(_, port)| port);
                format!("{} {port}", listen_host.as_deref().unwrap_or("HOST"))
            }
        };
        print_line(&format!(
            "clients connect with: rnc --tls --pin {print} {target}"
        ));
    }
    Ok(TlsSide {
        client: None,
        server: Some(identity.config),
    })
}

fn run_datagram_listener(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    endpoint: Endpoint,
) -> Result<Outcome> {
    if config.serve.exec.is_some() {
        return serve_program(lp, config, endpoint, true, None, session.take_tap());
    }
    serve_one(lp, session, config, endpoint, true, None)
}

/// `-e`/`-c` for one connection: the program's stdout and stdin take the place of
/// rnc's stdin and stdout in a session of their own, so every rule of a session (EOF,
/// half-close, TLS, datagrams, zero-copy between pipe and socket) holds for it. The
/// program is stopped and reaped when the connection ends.
fn serve_program(
    lp: &mut Loop,
    config: &Config,
    endpoint: Endpoint,
    waiting_for_sender: bool,
    tls: Option<TlsLayer>,
    tap: Option<Tap>,
) -> Result<Outcome> {
    let Some(command) = &config.serve.exec else {
        return Ok(Outcome::Finished);
    };
    let addrs = endpoint.inet_addrs();
    let env = ConnectionEnv {
        proto: config.transport.name(),
        local: addrs.map(|(local, _)| local),
        remote: addrs.and_then(|(_, peer)| peer),
    };
    let (program, pipes) = child::spawn(command, &env)?;
    let mut options = session_options(config)?;
    // The program is a pipe: it ends its side with its EOF, and its stdout is not a
    // screen.
    options.for_hub = false;
    options.program = true;
    let mut session = Session::new(
        options,
        Some(pipes.from_program),
        pipes.to_program,
        Ui::plain(),
    );
    // The logs hold what the program sent and received.
    session.set_tap(tap);
    lp.watch_stdio(&mut session)?;
    let mut reaper = Reaper::new(config.verbose);
    let outcome = serve_one(lp, &mut session, config, endpoint, waiting_for_sender, tls);
    let program_done = session.is_stdin_ended();
    drop(session);
    reaper.end(program, Instant::now(), !program_done);
    reaper.finish();
    outcome
}
