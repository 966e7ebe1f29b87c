//! A client's phases: connect (each address of a name in turn, a proxy first when asked,
//! the TLS handshake), then the session to its end; `-z` for one port (a probe) or many
//! (a scan).

use std::time::Instant;

use super::*;

/// `rnc HOST PORT` (or `-U PATH`): connect, then relay until the session ends.
pub(super) fn run_client(
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
        return serve_one(lp, session, config, endpoint, false, layer);
    }
    let (outcome, stats) = serve_measured(lp, session, config, endpoint, false, layer);
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
pub(super) const USUAL_TLS_PORTS: [u16; 15] = [
    443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061, 6697, 8443, 9443,
];

/// `-z HOST PORT`: connect and close (UDP: probe for a refusal); `-v` says it is open.
pub(super) fn run_probe(
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
pub(super) fn note_probe_failure<T>(config: &Config, result: &Result<T>) {
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
pub(super) fn run_scan(lp: &mut Loop, session: &mut Session, config: &Config) -> Result<Outcome> {
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
pub(super) fn connect(
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
pub(super) fn inet_host(host: &Option<Host>) -> Result<&Host> {
    host.as_ref().ok_or_else(|| Error::Usage("no host".into()))
}

/// Before a name is looked up: say so (`-v`) and show it in the status row.
pub(super) fn announce_resolving(
    session: &mut Session,
    config: &Config,
    host: &Host,
) -> Result<()> {
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
