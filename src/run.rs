//! The top level: open stdin, stdout and the screen, then run the mode `config` decided,
//! once: connect (or scan, or probe), or listen for one client, for many at once on the
//! hub (`-k`, `--broker`, `--chat`), or for datagrams. One connection is handed to the
//! loop's `drive`, a hub to `drive_hub`.

use std::os::fd::AsFd;
use std::time::Duration;

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

mod client;
mod listener;
mod secure;

use client::{run_client, run_probe, run_scan};
use listener::{run_listener, serve_measured, serve_one};
use secure::{TlsSide, listener_tls, secure};

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
