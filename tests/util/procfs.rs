//! Readers of `/proc`: a process's open fds and their flags, its TCP sockets and their
//! states, its CPU time and memory, and the kernel's unprivileged-port boundary. They
//! observe a running rnc from outside; none of them changes it.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::Duration;

use super::spawn::{Deadline, TIMEOUT};

/// Number of open fds of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .count()
}

/// Whether `O_NONBLOCK` is set on the open file description behind `fd`, read from
/// `/proc/self/fdinfo` (no `unsafe` fcntl needed).
pub fn is_nonblocking(fd: &impl AsRawFd) -> bool {
    const O_NONBLOCK: u32 = 0o4000;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))
        .expect("read /proc/self/fdinfo");
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .expect("flags line in fdinfo");
    let flags = u32::from_str_radix(flags.trim(), 8).expect("octal flags");
    flags & O_NONBLOCK != 0
}

/// The TCP sockets process `pid` owns, from `/proc`: (state as the hex code of
/// `/proc/net/tcp`, local port). Empty when the process is gone.
pub fn tcp_sockets_of(pid: u32) -> Vec<(String, u16)> {
    sockets_of(pid, &["/proc/net/tcp", "/proc/net/tcp6"])
}

/// The local addresses of the IPv4 UDP sockets process `pid` owns, from `/proc`. Empty when
/// the process is gone.
pub fn udp_addrs_of(pid: u32) -> Vec<SocketAddr> {
    let mut addrs = Vec::new();
    for (local, _) in socket_rows_of(pid, &["/proc/net/udp"]) {
        let (ip, port) = local.split_once(':').expect("ADDR:PORT");
        // The address is in hex, in network byte order read as a native-endian u32.
        let ip = u32::from_str_radix(ip, 16).expect("hex address");
        let ip = Ipv4Addr::from(ip.to_ne_bytes());
        let port = u16::from_str_radix(port, 16).expect("hex port");
        addrs.push(SocketAddr::from((ip, port)));
    }
    addrs
}

/// The sockets of process `pid` listed in `tables` (`/proc/net/tcp` and the like):
/// (state as its hex code, local port).
fn sockets_of(pid: u32, tables: &[&str]) -> Vec<(String, u16)> {
    socket_rows_of(pid, tables)
        .into_iter()
        .map(|(local, state)| {
            let port = local.rsplit(':').next().expect("local address");
            let port = u16::from_str_radix(port, 16).expect("hex port");
            (state, port)
        })
        .collect()
}

/// The rows of `tables` whose socket process `pid` owns: (local address as the table
/// writes it, state).
fn socket_rows_of(pid: u32, tables: &[&str]) -> Vec<(String, String)> {
    let mut inodes = Vec::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in dir.flatten() {
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
            {
                inodes.push(inode.to_string());
            }
        }
    }
    let mut rows = Vec::new();
    for table in tables {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            // fields: sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && inodes.iter().any(|i| i == fields[9]) {
                rows.push((fields[1].to_string(), fields[3].to_string()));
            }
        }
    }
    rows
}

/// The port of the TCP socket that process `pid` is listening on, from `/proc`
/// (for tools that do not print the port the kernel chose).
pub fn tcp_listen_port_of(pid: u32) -> u16 {
    match try_tcp_listen_port_of(pid) {
        Some(port) => port,
        None => panic!("process {pid} has no listening TCP socket"),
    }
}

/// Like `tcp_listen_port_of`, `None` while process `pid` has no listening TCP socket
/// (for a caller that also watches the process exit).
pub fn try_tcp_listen_port_of(pid: u32) -> Option<u16> {
    tcp_sockets_of(pid)
        .into_iter()
        .find(|(state, _)| state == "0A")
        .map(|(_, port)| port)
}

/// Like `tcp_listen_port_of`, for a tool that may not have called listen(2) yet: waits
/// (bounded) until it has.
pub fn wait_tcp_listen_port_of(pid: u32) -> u16 {
    let deadline = Deadline::new();
    loop {
        if let Some((_, port)) = tcp_sockets_of(pid)
            .into_iter()
            .find(|(state, _)| state == "0A")
        {
            return port;
        }
        assert!(!deadline.expired(), "process {pid} never listened on TCP");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Peak resident set size (`VmHWM`) of process `pid` in KiB, from `/proc/PID/status`.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM line in /proc/{pid}/status:\n{status}"))
}

/// Resident set size (`VmRSS`) of process `pid` in KiB, from `/proc/PID/status`.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS line in /proc/{pid}/status:\n{status}"))
}

/// Clock ticks a second for `/proc/PID/stat` times (`USER_HZ`, 100 on Linux).
pub const TICKS_PER_SEC: u64 = 100;

/// CPU time (user + system) that process `pid` has used so far, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/stat: {e}"));
    // The command name may hold spaces and parentheses: fields start after the last `)`.
    let rest = &stat[stat.rfind(')').expect("comm in /proc/PID/stat") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After `)`: state(0) ... utime(11) stime(12).
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

/// CPU ticks process `pid` uses over the next `window` (a measurement, not a sync point).
pub fn cpu_ticks_over(pid: u32, window: Duration) -> u64 {
    let before = cpu_ticks(pid);
    thread::sleep(window);
    cpu_ticks(pid) - before
}

/// Asserts that process `pid` sleeps: at most `max_ticks` of CPU over about a second.
#[track_caller]
pub fn assert_idle(pid: u32, max_ticks: u64, what: &str) {
    let used = cpu_ticks_over(pid, Duration::from_secs(1));
    assert!(
        used <= max_ticks,
        "{what}: rnc used {used} ticks of CPU in 1 s ({TICKS_PER_SEC} = one busy core), \
         at most {max_ticks} expected"
    );
}

/// Waits until process `pid` owns a TCP socket in state `state` (the hex code of
/// `/proc/net/tcp`: `02` SYN_SENT, `0A` LISTEN, `01` ESTABLISHED), at most `TIMEOUT`.
pub fn wait_tcp_state(pid: u32, state: &str) {
    let deadline = Deadline::new();
    while !tcp_sockets_of(pid).iter().any(|(s, _)| s == state) {
        assert!(
            !deadline.expired(),
            "process {pid} has no TCP socket in state {state} after {TIMEOUT:?}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// The lowest port a user without CAP_NET_BIND_SERVICE may bind (ip(7)).
pub fn first_unprivileged_port() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1024)
}
