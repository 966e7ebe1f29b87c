//! A listener's phases: bind, then one client (or datagrams), or many at once on the hub
//! (`-k`, `--broker`, `--chat`); and a program per connection (`-e`, `-c`) in a session of
//! its own.

use std::time::{Duration, Instant};

use mio::Interest;

use super::*;

pub(super) fn run_listener(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
) -> Result<Outcome> {
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
            return serve_one(lp, session, config, endpoint, true, None);
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
            let result = serve_one(lp, session, config, endpoint, true, None);
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
    serve_first_client(lp, session, config, listener, &tls)
}

/// Without `-k`: accept one client, stop listening (later clients are refused rather than
/// left waiting in a backlog nobody serves), and serve it.
fn serve_first_client(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    mut listener: StreamListener,
    tls: &TlsSide,
) -> Result<Outcome> {
    let (mut endpoint, from) = match accept_next(lp, session, &mut listener)? {
        Ok(accepted) => accepted,
        Err(outcome) => return Ok(outcome),
    };
    let _ = lp.registry().deregister(listener.source());
    drop(listener);
    if config.verbose {
        print_line(&format!("connection from {from}"));
    }
    session
        .ui()
        .set_addresses(Some(&endpoint.local_description()), Some(&from));
    let layer = match secure(lp, session, config, tls, &mut endpoint)? {
        Ok(layer) => layer,
        Err(outcome) => return Ok(outcome),
    };
    serve_one(lp, session, config, endpoint, false, layer)
}

/// `-k` (or `--broker`, `--chat`) on a stream listener: serve every client at once on
/// the hub. The local user joins through a socket pair the session relays, unless `-e`
/// gives each client a program instead.
pub(super) fn run_hub(
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

/// One connection (or a datagram listener's whole life): attach it, drive it to its end,
/// detach it and print the `-v` summary. With `-e`/`-c`, a program serves it instead of
/// stdin and stdout.
pub(super) fn serve_one(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    endpoint: Endpoint,
    waiting_for_sender: bool,
    tls: Option<TlsLayer>,
) -> Result<Outcome> {
    if config.serve.exec.is_some() {
        let tap = session.take_tap();
        return serve_program(lp, config, endpoint, waiting_for_sender, tls, tap);
    }
    serve_measured(lp, session, config, endpoint, waiting_for_sender, tls).0
}

/// As `serve_one`, and also `(bytes sent, bytes received, duration)` of the connection.
pub(super) fn serve_measured(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    endpoint: Endpoint,
    waiting_for_sender: bool,
    tls: Option<TlsLayer>,
) -> (Result<Outcome>, Option<(u64, u64, Duration)>) {
    let route = proxy::route_text(config, &endpoint);
    session.ui().new_connection(None);
    if let Err(e) = lp.attach(session, endpoint, waiting_for_sender) {
        return (Err(e), None);
    }
    if let Some(route) = route {
        // Errors later in the session name the target and the hop, not the proxy alone.
        session.name_peer(route);
    }
    if let Some(layer) = tls {
        session.start_tls(layer);
    }
    let outcome = drive(lp, session, config);
    let stats = lp.detach(session);
    print_summary(config, stats);
    (outcome, stats)
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
    let (outcome, _) = serve_measured(lp, &mut session, config, endpoint, waiting_for_sender, tls);
    let program_done = session.is_stdin_ended();
    drop(session);
    reaper.end(program, Instant::now(), !program_done);
    reaper.finish();
    outcome
}
