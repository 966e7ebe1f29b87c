//! `-z` over many ports: lists, ranges and several port arguments, lines in port order
//! whatever order the answers come in, open, refused and filtered ports on real loopback
//! sockets, exit codes, `-w` per probe, the open-file limit, and 1,000 filtered ports in a
//! private network namespace (nftables drops their SYNs) that must take about one `-w`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{
    Input, Rnc, closed_tcp_port, installed_tool, ipv6_available, never_accepting_listener,
    skip_or_fail, tcp_listener, wait_tcp_state,
};

/// The `-v` lines for `host` in `stderr`: (port, the words after it), in printed order.
fn port_lines(stderr: &str, host: &str) -> Vec<(u16, String)> {
    let prefix = format!("rnc: connection to {host} ");
    stderr
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (port, words) = rest.split_once(' ')?;
            Some((port.parse().ok()?, words.to_string()))
        })
        .collect()
}

/// `ports` as a comma-separated list.
fn list(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `n` consecutive ports on 127.0.0.1, all held by this test: bound and not listening, so
/// each refuses a connect, except the middle one, which listens. A scan of the range then
/// touches no other test's sockets. Returns the sockets, the first port and the open one.
fn owned_range(n: u16) -> (Vec<socket2::Socket>, u16, u16) {
    use socket2::{Domain, Socket, Type};
    let mut seed = u64::from(std::process::id()) ^ Instant::now().elapsed().as_nanos() as u64;
    for _ in 0..200 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let low = 20_000 + (seed >> 33) as u16 % 40_000;
        let mut held = Vec::new();
        for port in low..low.saturating_add(n) {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
            let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            if socket.bind(&addr.into()).is_err() {
                break;
            }
            held.push(socket);
        }
        if held.len() == usize::from(n) {
            let open = low + n / 2;
            held[usize::from(n / 2)].listen(16).expect("listen");
            return (held, low, open);
        }
    }
    panic!("no {n} consecutive free ports on 127.0.0.1");
}

#[test]
fn tcp_scan_list_reports_each_port_in_order() {
    let (_l1, open1) = tcp_listener();
    let (_l2, open2) = tcp_listener();
    let closed = [closed_tcp_port(), closed_tcp_port(), closed_tcp_port()];
    let mut expected: Vec<(u16, String)> = vec![
        (open1, "succeeded".to_string()),
        (open2, "succeeded".to_string()),
    ];
    expected.extend(closed.iter().map(|c| (c.port(), "refused".to_string())));
    // Given out of order, and with a port twice: each is reported once, ascending.
    let mut given: Vec<u16> = expected.iter().map(|(p, _)| *p).rev().collect();
    given.push(open1);
    expected.sort();
    let exit = Rnc::run(&["-v", "-z", "127.0.0.1", &list(&given)]);
    exit.assert_code(0);
    assert!(exit.stdout.is_empty());
    assert_eq!(
        port_lines(&exit.stderr, "127.0.0.1"),
        expected,
        "{}",
        exit.stderr
    );
    assert!(
        exit.stderr.contains("5 ports scanned in ")
            && exit.stderr.contains(": 2 open, 3 refused, 0 timed out"),
        "{}",
        exit.stderr
    );
}

#[test]
fn tcp_scan_takes_several_port_arguments() {
    let (_listener, open) = tcp_listener();
    let closed = closed_tcp_port();
    let (open_text, closed_text) = (open.to_string(), closed.port().to_string());
    let exit = Rnc::run(&["-v", "-z", "127.0.0.1", &closed_text, &open_text]);
    exit.assert_code(0);
    let mut expected = vec![
        (open, "succeeded".to_string()),
        (closed.port(), "refused".to_string()),
    ];
    expected.sort();
    assert_eq!(
        port_lines(&exit.stderr, "127.0.0.1"),
        expected,
        "{}",
        exit.stderr
    );
}

/// Each port of a range gets exactly one line, ascending; the listener's says it is open,
/// every other one refused. (The range is the test's own: a scan must not knock on other
/// tests' listeners.)
#[test]
fn tcp_scan_range_covers_every_port_once_in_order() {
    let (_held, low, open) = owned_range(81);
    let high = low + 80;
    let exit = Rnc::run(&["-v", "-z", "-w", "5", "127.0.0.1", &format!("{low}-{high}")]);
    exit.assert_code(0);
    let lines = port_lines(&exit.stderr, "127.0.0.1");
    let ports: Vec<u16> = lines.iter().map(|(p, _)| *p).collect();
    assert_eq!(ports, (low..=high).collect::<Vec<_>>(), "{}", exit.stderr);
    for (port, words) in &lines {
        let expected = if *port == open {
            "succeeded"
        } else {
            "refused"
        };
        assert_eq!(words, expected, "port {port}\n{}", exit.stderr);
    }
}

#[test]
fn tcp_scan_with_nothing_open_exits_1_naming_the_ports() {
    let closed = [closed_tcp_port(), closed_tcp_port()];
    let mut ports: Vec<u16> = closed.iter().map(|c| c.port()).collect();
    ports.sort();
    let exit = Rnc::run(&["-z", "127.0.0.1", &list(&ports)]);
    exit.assert_code(1);
    assert!(exit.stdout.is_empty());
    // Without -v nothing per port, as nc; the one error line names host and ports.
    let expected = if ports[1] == ports[0] + 1 {
        format!("{}-{}", ports[0], ports[1])
    } else {
        list(&ports)
    };
    assert_eq!(
        exit.stderr.trim_end(),
        format!("rnc: no open port on 127.0.0.1 in {expected}")
    );
}

#[test]
fn tcp_scan_without_verbose_prints_nothing_when_a_port_is_open() {
    let (_listener, open) = tcp_listener();
    let closed = closed_tcp_port();
    let exit = Rnc::run(&["-z", "127.0.0.1", &list(&[open, closed.port()])]);
    exit.assert_code(0);
    assert!(exit.stdout.is_empty());
    assert_eq!(exit.stderr, "");
}

/// `-w` bounds each probe: a port whose SYNs are dropped (a listener with a full accept
/// queue) is reported as timed out, in its place among the others that answered at once,
/// and the scan ends after about one `-w`, not one per port.
#[test]
fn tcp_scan_wait_bounds_each_probe_and_keeps_port_order() {
    let (_full, silent, _queued) = never_accepting_listener();
    let (_listener, open) = tcp_listener();
    let closed = closed_tcp_port();
    let started = Instant::now();
    let exit = Rnc::run(&[
        "-v",
        "-z",
        "-w",
        "1",
        "127.0.0.1",
        &list(&[silent, open, closed.port()]),
    ]);
    exit.assert_code(0);
    let mut expected = vec![
        (silent, "timed out (filtered)".to_string()),
        (open, "succeeded".to_string()),
        (closed.port(), "refused".to_string()),
    ];
    expected.sort();
    assert_eq!(
        port_lines(&exit.stderr, "127.0.0.1"),
        expected,
        "{}",
        exit.stderr
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the silent port was given up before -w"
    );
}

#[test]
fn tcp_scan_one_at_a_time_gives_the_same_lines() {
    let (_listener, open) = tcp_listener();
    let closed = [closed_tcp_port(), closed_tcp_port()];
    let mut ports = vec![open, closed[0].port(), closed[1].port()];
    ports.sort();
    let text = list(&ports);
    let parallel = Rnc::run(&["-v", "-z", "127.0.0.1", &text]);
    let serial = Rnc::run(&["-v", "-z", "--scan-parallel", "1", "127.0.0.1", &text]);
    parallel.assert_code(0);
    serial.assert_code(0);
    let lines = port_lines(&serial.stderr, "127.0.0.1");
    assert_eq!(lines.len(), 3, "{}", serial.stderr);
    assert_eq!(lines, port_lines(&parallel.stderr, "127.0.0.1"));
}

#[test]
fn tcp_scan_over_ipv6_loopback() {
    if !ipv6_available() {
        return;
    }
    let listener = std::net::TcpListener::bind("[::1]:0").expect("bind [::1]:0");
    let open = listener.local_addr().expect("local_addr").port();
    let exit = Rnc::run(&["-v", "-z", "::1", &format!("{open}-{open}")]);
    exit.assert_code(0);
    assert_eq!(
        port_lines(&exit.stderr, "::1"),
        [(open, "succeeded".to_string())],
        "{}",
        exit.stderr
    );
}

/// Under a low open-file limit rnc keeps fewer connects in flight (and says so with `-v`)
/// instead of failing with `too many open files`.
#[test]
fn tcp_scan_stays_under_the_open_file_limit() {
    let Some(prlimit) = installed_tool("prlimit") else {
        return;
    };
    let (_held, low, open) = owned_range(301);
    let high = low + 300;
    let range = format!("{low}-{high}");
    let rnc = Path::new(crate::util::RNC).to_str().expect("utf-8 path");
    let args = [
        "--nofile=100:100",
        rnc,
        "-v",
        "-z",
        "-w",
        "5",
        "--scan-parallel",
        "1000",
        "127.0.0.1",
        &range,
    ];
    let exit = Rnc::tool(&prlimit, &args)
        .stdin(Input::Null)
        .spawn()
        .finish();
    exit.assert_code(0);
    assert!(
        exit.stderr
            .contains("36 connects at a time, not 1000: the open-file limit is 100"),
        "{}",
        exit.stderr
    );
    assert!(
        !exit.stderr.contains("too many open files"),
        "{}",
        exit.stderr
    );
    let lines = port_lines(&exit.stderr, "127.0.0.1");
    assert_eq!(lines.len(), usize::from(high - low) + 1, "{}", exit.stderr);
    assert!(lines.contains(&(open, "succeeded".to_string())));
}

#[test]
fn tcp_scan_usage_errors_exit_2() {
    for (args, text) in [
        (&["127.0.0.1", "80", "443"][..], "too many arguments"),
        (
            &["-z", "--scan-parallel", "0", "127.0.0.1", "1-9"],
            "--scan-parallel",
        ),
        (&["--scan-parallel", "8", "127.0.0.1", "80"], "needs `-z`"),
        (&["-z", "127.0.0.1", "80,,81"], "empty item"),
        (&["-z", "127.0.0.1", "90-80"], "invalid port range `90-80`"),
    ] {
        let exit = Rnc::run(args);
        exit.assert_code(2);
        assert!(exit.stderr.contains(text), "{args:?}: {}", exit.stderr);
    }
}

/// The script that builds the namespace's firewall: SYNs to 127.0.0.1 ports 20000-20999
/// are dropped, so those ports neither accept nor refuse.
const DROP_SYNS: &str = "ip link set lo up && nft -f - <<'EOF' || exit 97
table inet rnc_scan_test {
    chain input {
        type filter hook input priority 0; policy accept;
        ip daddr 127.0.0.1 tcp dport 20000-20999 tcp flags & (syn | ack) == syn drop
    }
}
EOF
";

/// 1,000 filtered ports with `-w 1` take about one `-w`, not 1,000 of them (nc's
/// one-after-another way): in a network namespace of the test's own, where nftables drops
/// the SYNs. `unshare -n` as root, `unshare -rn` (a user namespace) otherwise.
#[test]
fn tcp_scan_of_1000_filtered_ports_takes_about_one_wait() {
    let (Some(unshare), Some(_)) = (installed_tool("unshare"), find_nft()) else {
        return;
    };
    let unshare_flags = if rustix::process::getuid().is_root() {
        "-n"
    } else {
        "-rn"
    };
    let script = format!("{DROP_SYNS}exec \"$0\" -v -z -w 1 127.0.0.1 20000-20999",);
    let started = Instant::now();
    let args = [unshare_flags, "sh", "-c", &script, crate::util::RNC];
    let exit = Rnc::tool(&unshare, &args)
        .stdin(Input::Null)
        .spawn()
        .finish();
    let elapsed = started.elapsed();
    if exit.code() == Some(97) || exit.stderr.contains("unshare: ") {
        skip_or_fail(&format!(
            "cannot build a network namespace with nftables here: {}",
            exit.stderr
        ));
        return;
    }
    exit.assert_code(1);
    let lines = port_lines(&exit.stderr, "127.0.0.1");
    let expected: Vec<(u16, String)> = (20000..=20999)
        .map(|p| (p, "timed out (filtered)".to_string()))
        .collect();
    assert!(
        lines == expected,
        "not 1000 filtered ports in order:\n{}",
        exit.stderr
    );
    assert!(
        exit.stderr
            .contains("rnc: no open port on 127.0.0.1 in 20000-20999"),
        "{}",
        exit.stderr
    );
    // One port after another would take 1000 s; concurrently it is about 1 s.
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}

/// nft lives in /usr/sbin (not where `installed_tool` looks); `.ci/run` installs it.
fn find_nft() -> Option<std::path::PathBuf> {
    let found = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists());
    if found.is_none() {
        skip_or_fail("nft (nftables) is not installed");
    }
    found.map(Path::to_path_buf)
}

/// A connect from port P to the same port P with no listener meets itself (TCP's
/// simultaneous open): nc reports such a port as open. rnc reports it refused, in a scan
/// and for one port. `-p` makes it happen on purpose; in a scan of many local ports the
/// kernel's own choice of source port does it now and then.
#[test]
fn tcp_scan_a_connect_that_meets_itself_is_not_open() {
    use socket2::{Domain, Socket, Type};
    // Holds the port (bound, not listening) and lets rnc's `-p` bind it too.
    let holder = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    holder.set_reuse_address(true).expect("SO_REUSEADDR");
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("address");
    holder.bind(&addr.into()).expect("bind 127.0.0.1:0");
    let port = holder
        .local_addr()
        .expect("local_addr")
        .as_socket()
        .expect("inet")
        .port()
        .to_string();
    let exit = Rnc::run(&[
        "-v",
        "-z",
        "-p",
        &port,
        "127.0.0.1",
        &format!("{port}-{port}"),
    ]);
    exit.assert_code(1);
    assert_eq!(
        port_lines(&exit.stderr, "127.0.0.1"),
        [(port.parse().unwrap(), "refused".to_string())],
        "{}",
        exit.stderr
    );
    let exit = Rnc::run(&["-z", "-p", &port, "127.0.0.1", &port]);
    exit.assert_code(1);
    assert!(
        exit.stderr.contains("connection refused"),
        "{}",
        exit.stderr
    );
}

/// A signal ends a scan at once, even with connects in flight that have no `-w` (the
/// kernel would retry their SYNs for about two minutes).
#[test]
fn tcp_scan_ends_at_once_on_sigterm() {
    let (_full, silent, _queued) = never_accepting_listener();
    let closed = closed_tcp_port();
    let rnc = Rnc::with(&["-z", "127.0.0.1", &list(&[silent, closed.port()])])
        .stdin(Input::Null)
        .spawn();
    wait_tcp_state(rnc.pid(), "02");
    rnc.signal("TERM");
    let exit = rnc.finish();
    exit.assert_code(143);
    assert_eq!(exit.stderr, "");
}

/// `-vv` traces each probe's socket calls, its `close` included, so a learner sees why
/// the same fd number comes back for the next port.
#[test]
fn tcp_scan_vv_traces_each_probe_to_its_close() {
    let closed = [closed_tcp_port(), closed_tcp_port()];
    let text = list(&[closed[0].port(), closed[1].port()]);
    let exit = Rnc::run(&["-vv", "-z", "127.0.0.1", &text]);
    exit.assert_code(1);
    let calls: Vec<&str> = exit
        .stderr
        .lines()
        .filter(|l| l.starts_with("rnc: socket(") || l.starts_with("rnc: close("))
        .collect();
    let opened: Vec<&str> = calls
        .iter()
        .filter_map(|l| l.rsplit_once(" = ").map(|(_, fd)| fd))
        .collect();
    let closed_fds: Vec<&str> = calls
        .iter()
        .filter_map(|l| l.strip_prefix("rnc: close(")?.strip_suffix(')'))
        .collect();
    assert_eq!(opened.len(), 2, "{}", exit.stderr);
    assert_eq!(closed_fds.len(), 2, "{}", exit.stderr);
    for fd in closed_fds {
        assert!(
            opened.contains(&fd),
            "close({fd}) of a socket never opened\n{}",
            exit.stderr
        );
    }
}
