//! `-z` over many ports (`Mode::Scan`). TCP connects are in flight concurrently on the
//! loop, at most `--scan-parallel` of them and below the open-file limit, each bounded by
//! `-w`; a port is reported once every lower port is decided, so the lines come in port
//! order whatever order the answers arrive in. UDP probes go one after another, as before:
//! hosts rate-limit the ICMP refusals that tell a closed UDP port (Linux: about one a
//! second per peer), so probes at once would show closed ports as open.
//!
//! A probe connects and closes; no byte is sent. Waiting goes through the loop
//! (`wait_any`), so signals end a scan at once.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};

use crate::config::{Config, Host, Transport, describe_ports};
use crate::error::{Error, Result, describe_io};
use crate::event_loop::{Loop, Outcome, Wait, wait_any};
use crate::net;
use crate::net::connect::{host_text, peer_of, probe_udp_addrs, socket_error, source_addr};
use crate::notices::print_line;
use crate::relay::session::Session;

/// TCP connects a scan keeps in flight without `--scan-parallel`: 1,000 filtered ports
/// take one `-w`. The open-file limit lowers it where it must.
pub(crate) const DEFAULT_SCAN_PARALLEL: usize = 1024;
/// File descriptors kept free under the open-file limit for stdio, the poll, the signal
/// pipe, the resolver's waker and the like.
const FD_MARGIN: u64 = 64;
/// The open-file limit assumed when rnc cannot read it: Linux's usual soft limit.
const USUAL_FD_LIMIT: u64 = 1024;

/// How a port answered.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// The connect succeeded (UDP: no refusal came).
    Open,
    /// Refused: nothing listens there (TCP's RST, UDP's ICMP port unreachable).
    Refused,
    /// No answer within `-w`, or the kernel's own connect timeout: something drops the SYN.
    Filtered,
    /// Anything else (`no route to host`, …), in the user's words.
    Failed(String),
}

impl Verdict {
    /// The `-v` line: nc's `connection to HOST PORT succeeded`, and the same shape for the
    /// others.
    fn line(&self, host: &str, port: u16, udp: bool) -> String {
        let udp = if udp { " (udp)" } else { "" };
        let what = match self {
            Verdict::Open => "succeeded".to_string(),
            Verdict::Refused => "refused".to_string(),
            Verdict::Filtered => "timed out (filtered)".to_string(),
            Verdict::Failed(why) => format!("failed: {why}"),
        };
        format!("connection to {host} {port}{udp} {what}")
    }

    /// The verdict an I/O error from a connect means.
    fn of_io(err: &io::Error) -> Verdict {
        match err.kind() {
            io::ErrorKind::ConnectionRefused => Verdict::Refused,
            io::ErrorKind::TimedOut => Verdict::Filtered,
            _ => Verdict::Failed(describe_io(err)),
        }
    }

    /// The verdict a failed connect or probe means.
    fn of_error(err: &Error) -> Verdict {
        match err {
            Error::Connect { source, .. } => Verdict::of_io(source),
            Error::ConnectTimeout { .. } => Verdict::Filtered,
            other => Verdict::Failed(other.one_line()),
        }
    }
}

/// The `-v` line of `-z HOST PORT` that ended in `err`, in the scan's format
/// (`connection to HOST PORT refused`), so open and closed ports read alike.
pub(crate) fn probe_failed_line(host: &str, port: u16, udp: bool, err: &Error) -> String {
    Verdict::of_error(err).line(host, port, udp)
}

/// Prints verdicts in port order as they become known, and counts them.
struct Report {
    /// The host as the user wrote it.
    host: String,
    /// Whether `-v` asked for a line per port.
    verbose: bool,
    /// Whether the ports are UDP's.
    udp: bool,
    /// The first port not reported yet (an index into the port list).
    next: usize,
    /// How many ports were open, refused, filtered, or failed otherwise.
    counts: [usize; 4],
}

impl Report {
    /// Report every port from `next` on that is decided, stopping at the first that is not.
    fn advance(&mut self, ports: &[u16], verdicts: &mut [Option<Verdict>]) {
        while let Some(verdict) = verdicts.get_mut(self.next).and_then(Option::take) {
            if self.verbose {
                print_line(&verdict.line(&self.host, ports[self.next], self.udp));
            }
            let kind = match verdict {
                Verdict::Open => 0,
                Verdict::Refused => 1,
                Verdict::Filtered => 2,
                Verdict::Failed(_) => 3,
            };
            self.counts[kind] += 1;
            self.next += 1;
        }
    }

    fn open(&self) -> usize {
        self.counts[0]
    }
}

/// `-z HOST PORTS`: scan `config.scan_ports` on the addresses `host` resolved to (their
/// port does not matter). Succeeds when at least one port was open.
pub(crate) fn scan_ports(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    host: &Host,
    addrs: &[SocketAddr],
) -> Result<Outcome> {
    let ports = &config.scan_ports;
    let udp = config.transport == Transport::Udp;
    let mut report = Report {
        host: host_text(host),
        verbose: config.verbose,
        udp,
        next: 0,
        counts: [0; 4],
    };
    let started = Instant::now();
    let ended = if udp {
        scan_udp(lp, session, config, addrs, &mut report)?
    } else {
        let sources = addrs
            .iter()
            .map(|addr| Ok((*addr, source_addr(config, addr)?)))
            .collect::<Result<Vec<_>>>()?;
        let limit = parallel_limit(config, ports.len());
        let mut scan = TcpScan::new(config, ports, sources, limit);
        let ended = scan.run(lp, session, &mut report);
        scan.abandon(lp);
        ended?
    };
    if let Some(outcome) = ended {
        return Ok(outcome);
    }
    if config.verbose {
        let [open, refused, filtered, failed] = report.counts;
        let count = ports.len();
        let mut line = format!(
            "{count} port{} scanned in {:.2} s: {open} open, {refused} refused",
            if count == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64()
        );
        if !udp {
            line.push_str(&format!(", {filtered} timed out"));
        }
        if failed > 0 {
            line.push_str(&format!(", {failed} failed"));
        }
        print_line(&line);
    }
    if report.open() > 0 {
        Ok(Outcome::Finished)
    } else {
        Err(Error::ScanFoundNothing {
            host: report.host,
            ports: describe_ports(ports),
        })
    }
}

/// `-z -u` over the ports, one after another (see the module's note); a signal's outcome
/// when one ended the scan.
fn scan_udp(
    lp: &mut Loop,
    session: &mut Session,
    config: &Config,
    addrs: &[SocketAddr],
    report: &mut Report,
) -> Result<Option<Outcome>> {
    let ports = &config.scan_ports;
    let mut verdicts: Vec<Option<Verdict>> = (0..ports.len()).map(|_| None).collect();
    for (index, &port) in ports.iter().enumerate() {
        let targets: Vec<SocketAddr> = addrs
            .iter()
            .map(|&a| {
                let mut target = a; // keeps an IPv6 scope id
                target.set_port(port);
                target
            })
            .collect();
        let verdict = match probe_udp_addrs(lp, session, config, &targets) {
            Ok(Ok(())) => Verdict::Open,
            Ok(Err(outcome)) => return Ok(Some(outcome)),
            Err(e) => Verdict::of_error(&e),
        };
        verdicts[index] = Some(verdict);
        report.advance(ports, &mut verdicts);
    }
    Ok(None)
}

/// How many TCP connects may be in flight: `--scan-parallel` (or the default), lowered to
/// fit under the open-file limit, which is first raised to its hard limit; `-v` says when
/// the limit lowered it.
fn parallel_limit(config: &Config, port_count: usize) -> usize {
    let wanted = config.scan_parallel.unwrap_or(DEFAULT_SCAN_PARALLEL);
    let fd_limit = match crate::sys::raise_nofile_limit() {
        Ok(limit) => limit,
        Err(_) => Some(USUAL_FD_LIMIT),
    };
    let room = fd_limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit.saturating_sub(FD_MARGIN).max(1)).unwrap_or(usize::MAX)
    });
    let limit = wanted.min(room);
    if config.verbose && limit < wanted.min(port_count) {
        print_line(&format!(
            "{limit} connects at a time, not {wanted}: the open-file limit is {}",
            fd_limit.unwrap_or_default()
        ));
    }
    limit.min(port_count).max(1)
}

/// One TCP connect in flight.
struct Probe {
    /// Its port's index in the port list.
    index: usize,
    /// Which of the host's addresses it tries.
    addr: usize,
    /// The connecting socket.
    stream: TcpStream,
    /// When `-w` gives up on it.
    deadline: Option<Instant>,
}

/// The state of a concurrent TCP scan.
struct TcpScan<'a> {
    /// `-w`.
    config: &'a Config,
    /// The ports, ascending.
    ports: &'a [u16],
    /// The host's addresses (their port ignored), each with its source address (`-s`, `-p`).
    addrs: Vec<(SocketAddr, Option<SocketAddr>)>,
    /// Most probes in flight at once.
    limit: usize,
    /// The probes in flight, by their loop token.
    in_flight: HashMap<Token, Probe>,
    /// `-w` deadlines in the order they fall (probes start in order and share `-w`). An
    /// entry whose probe has gone, or whose token a newer probe holds, is skipped.
    deadlines: VecDeque<(Instant, Token)>,
    /// Ports whose earlier address failed and that wait to try the next one: (index, addr).
    retries: VecDeque<(usize, usize)>,
    /// The index of the next port to start.
    next_start: usize,
    /// Each port's verdict, until the report takes it.
    verdicts: Vec<Option<Verdict>>,
}

impl<'a> TcpScan<'a> {
    fn new(
        config: &'a Config,
        ports: &'a [u16],
        addrs: Vec<(SocketAddr, Option<SocketAddr>)>,
        limit: usize,
    ) -> TcpScan<'a> {
        TcpScan {
            config,
            ports,
            addrs,
            limit,
            in_flight: HashMap::with_capacity(limit),
            deadlines: VecDeque::with_capacity(limit),
            retries: VecDeque::new(),
            next_start: 0,
            verdicts: (0..ports.len()).map(|_| None).collect(),
        }
    }

    /// Keep `limit` connects in flight until every port is reported; a signal's outcome
    /// when one ended the scan.
    fn run(
        &mut self,
        lp: &mut Loop,
        session: &mut Session,
        report: &mut Report,
    ) -> Result<Option<Outcome>> {
        let mut ready = Vec::new();
        loop {
            self.start_more(lp)?;
            report.advance(self.ports, &mut self.verdicts);
            if report.next == self.ports.len() {
                return Ok(None);
            }
            ready.clear();
            let deadline = self.deadlines.front().map(|&(d, _)| d);
            match wait_any(lp, session, deadline, &mut ready)? {
                Wait::Ended(outcome) => return Ok(Some(outcome)),
                Wait::Ready => {
                    for &token in &ready {
                        self.on_event(lp, token);
                    }
                }
                Wait::TimedOut => {}
            }
            self.expire(lp, Instant::now());
        }
    }

    /// Start connects (next addresses first, then new ports) while there is room. When
    /// the system runs short (no file descriptor or local port left), fewer stay in
    /// flight from then on.
    fn start_more(&mut self, lp: &mut Loop) -> Result<()> {
        while self.in_flight.len() < self.limit {
            let (index, addr) = match self.retries.pop_front() {
                Some(retry) => retry,
                None if self.next_start < self.ports.len() => {
                    self.next_start += 1;
                    (self.next_start - 1, 0)
                }
                None => break,
            };
            if !self.start(lp, index, addr)? {
                self.retries.push_front((index, addr));
                self.limit = self.in_flight.len();
                break;
            }
        }
        Ok(())
    }

    /// Start the connect of port `index` to address `addr`. `false` when the system is
    /// short of resources and other probes are in flight, so it should be tried later.
    fn start(&mut self, lp: &mut Loop, index: usize, addr: usize) -> Result<bool> {
        let (mut target, source) = self.addrs[addr];
        target.set_port(self.ports[index]);
        match net::tcp_probe_start(target, source, &self.config.socket_options) {
            Ok(stream) => match connect_result(&stream) {
                // On loopback the answer is usually in before connect(2) returns: one
                // getsockopt(2) then saves registering with the poll and deregistering.
                Some(verdict) => {
                    close_probe(stream);
                    self.decide(index, addr, verdict);
                    Ok(true)
                }
                None => self.watch(lp, index, addr, stream),
            },
            Err(e) if is_shortage(&e) && !self.in_flight.is_empty() => Ok(false),
            Err(e) => {
                self.decide(index, addr, Verdict::of_error(&e));
                Ok(true)
            }
        }
    }

    /// Watch the connect of port `index` to address `addr` until it ends or `-w` passes.
    fn watch(
        &mut self,
        lp: &mut Loop,
        index: usize,
        addr: usize,
        mut stream: TcpStream,
    ) -> Result<bool> {
        let token = lp.watch(&mut stream, Interest::WRITABLE)?;
        let deadline = self.config.wait.map(|w| Instant::now() + w);
        if let Some(d) = deadline {
            self.deadlines.push_back((d, token));
        }
        let probe = Probe {
            index,
            addr,
            stream,
            deadline,
        };
        self.in_flight.insert(token, probe);
        Ok(true)
    }

    /// A probe's socket had an event: decide its port if its connect has ended.
    fn on_event(&mut self, lp: &mut Loop, token: Token) {
        let Some(probe) = self.in_flight.get(&token) else {
            return;
        };
        if let Some(verdict) = connect_result(&probe.stream) {
            self.finish(lp, token, verdict);
        }
    }

    /// Give up on the probes whose `-w` has passed: filtered.
    fn expire(&mut self, lp: &mut Loop, now: Instant) {
        while let Some(&(deadline, token)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let current = self
                .in_flight
                .get(&token)
                .is_some_and(|p| p.deadline == Some(deadline));
            if current {
                self.finish(lp, token, Verdict::Filtered);
            }
        }
    }

    /// Close a probe with `verdict`.
    fn finish(&mut self, lp: &mut Loop, token: Token, verdict: Verdict) {
        if let Some(mut probe) = self.in_flight.remove(&token) {
            lp.unwatch(&mut probe.stream, token);
            close_probe(probe.stream);
            self.decide(probe.index, probe.addr, verdict);
        }
    }

    /// Record how port `index` answered on address `addr`: its verdict, unless it failed
    /// and the host has another address to try (as a plain connect tries each in turn).
    fn decide(&mut self, index: usize, addr: usize, verdict: Verdict) {
        if verdict != Verdict::Open && addr + 1 < self.addrs.len() {
            self.retries.push_back((index, addr + 1));
        } else {
            self.verdicts[index] = Some(verdict);
        }
    }

    /// Stop watching the probes still in flight (a signal ended the scan); closing them
    /// is their drop.
    fn abandon(&mut self, lp: &mut Loop) {
        for (token, mut probe) in self.in_flight.drain() {
            lp.unwatch(&mut probe.stream, token);
        }
    }
}

/// Close a decided probe; `-vv` says so, so that a learner sees why its fd number comes
/// back for the next port.
fn close_probe(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    drop(stream);
    crate::trace::call(|| format!("close({fd})"));
}

/// How a connect ended, or `None` while it is in progress.
fn connect_result(stream: &TcpStream) -> Option<Verdict> {
    match socket_error(stream) {
        Ok(Some(e)) | Err(e) => Some(Verdict::of_io(&e)),
        Ok(None) => match peer_of(stream) {
            // A connect to a local port with no listener can meet itself when the kernel
            // picks that same port as its source (TCP simultaneous open): closed.
            Ok(peer) if stream.local_addr().is_ok_and(|local| local == peer) => {
                Some(Verdict::Refused)
            }
            Ok(_) => Some(Verdict::Open),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
            Err(e) => Some(Verdict::of_io(&e)),
        },
    }
}

/// Whether a connect could not start for want of a resource that probes in flight hold:
/// file descriptors (`EMFILE`, `ENFILE`), local ports (`EADDRNOTAVAIL`), or buffers.
fn is_shortage(err: &Error) -> bool {
    use rustix::io::Errno;
    let Error::Connect { source, .. } = err else {
        return false;
    };
    let shortages = [
        Errno::MFILE,
        Errno::NFILE,
        Errno::ADDRNOTAVAIL,
        Errno::NOBUFS,
    ];
    source
        .raw_os_error()
        .is_some_and(|code| shortages.iter().any(|e| e.raw_os_error() == code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_lines_share_nc_shape() {
        let line = |v: Verdict| v.line("127.0.0.1", 22, false);
        assert_eq!(line(Verdict::Open), "connection to 127.0.0.1 22 succeeded");
        assert_eq!(line(Verdict::Refused), "connection to 127.0.0.1 22 refused");
        assert_eq!(
            line(Verdict::Filtered),
            "connection to 127.0.0.1 22 timed out (filtered)"
        );
        assert_eq!(
            line(Verdict::Failed("no route to host".into())),
            "connection to 127.0.0.1 22 failed: no route to host"
        );
        assert_eq!(
            Verdict::Refused.line("h", 53, true),
            "connection to h 53 (udp) refused"
        );
    }

    #[test]
    fn scan_verdicts_from_errors() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(Verdict::of_io(&refused), Verdict::Refused);
        let timed_out = io::Error::from(rustix::io::Errno::TIMEDOUT);
        assert_eq!(Verdict::of_io(&timed_out), Verdict::Filtered);
        let unreachable = io::Error::from(rustix::io::Errno::HOSTUNREACH);
        assert_eq!(
            Verdict::of_io(&unreachable),
            Verdict::Failed("no route to host".into())
        );
        let emfile = Error::Connect {
            addr: "127.0.0.1:1".into(),
            source: io::Error::from(rustix::io::Errno::MFILE),
        };
        assert!(is_shortage(&emfile));
        let refused = Error::Connect {
            addr: "127.0.0.1:1".into(),
            source: refused,
        };
        assert!(!is_shortage(&refused));
    }

    #[test]
    fn scan_report_waits_for_lower_ports() {
        let mut report = Report {
            host: "h".into(),
            verbose: false,
            udp: false,
            next: 0,
            counts: [0; 4],
        };
        let ports = [1, 2, 3];
        let mut verdicts = vec![None, Some(Verdict::Open), Some(Verdict::Refused)];
        report.advance(&ports, &mut verdicts);
        assert_eq!(
            report.next, 0,
            "port 1 is undecided, so nothing is reported"
        );
        verdicts[0] = Some(Verdict::Filtered);
        report.advance(&ports, &mut verdicts);
        assert_eq!(report.next, 3);
        assert_eq!(report.counts, [1, 1, 1, 0]);
    }
}
