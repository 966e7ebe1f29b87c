//! `--tls` at the top level: the client's or the listener's configuration (a listener's
//! certificate made now when given none, with the command that pins it), one TLS layer
//! per connection, and the handshake with what `-v` and the status row say of it.

use std::time::Instant;

use super::*;

/// The TLS configuration of this run, if `--tls`.
pub(super) struct TlsSide {
    /// A client's.
    pub(super) client: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// A listener's.
    pub(super) server: Option<std::sync::Arc<rustls::ServerConfig>>,
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
pub(super) fn tls_host(config: &Config) -> Option<String> {
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
pub(super) fn peer_check(config: &Config) -> Result<(PeerCheck, Option<String>)> {
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
pub(super) fn secure(
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

/// A listener's TLS side: its certificate, or one made now for `localhost`, the listen
/// address and the host name; a made one's fingerprint and the client command that pins
/// it are printed.
pub(super) fn listener_tls(config: &Config, local: &str) -> Result<TlsSide> {
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
