//! The integration suite's harness, split by concern; this file is only the index. Test
//! files import from `crate::util` and need not know which module an item lives in,
//! except `tests/tty.rs`, which imports its harness from `util::pty`.
//!
//! | module | owns |
//! | --- | --- |
//! | `spawn` | starting rnc and other tools, their stdio channels, exits, `ChildGuard`, `Deadline` |
//! | `peers` | loopback peers, bounded accepts and reads, held closed ports, tool lookup, `skip_or_fail` |
//! | `procfs` | `/proc` readers: fds, fd flags, TCP socket states, CPU time, memory |
//! | `data` | payloads, byte comparison, temp dirs and files |
//! | `cases` | table-driven runners that name every failing case |
//! | `tmux` | a private tmux server: a real terminal emulator with job control |
//! | `pty` | rnc in a pseudo-terminal, read through the `vt100` emulator (Linux) |

mod cases;
mod data;
mod peers;
mod procfs;
#[cfg(target_os = "linux")]
pub mod pty;
mod spawn;
mod tmux;

pub use cases::{run_cases, run_cases_parallel};
pub use data::{BIG, assert_same_bytes, pseudo_random, temp_dir, write_file};
pub use peers::{
    ClosedUdpPort, PeerStream, StreamTransport, TimedRead, accept_tcp, accept_unix,
    closed_tcp_port, closed_udp_port, connect_tcp, connect_unix, expect_eof, installed_tool,
    ipv6_available, never_accepting_listener, read_exact_within, read_to_end_within, recv_udp,
    recv_unix_datagram, reset_close, retry_eintr, rnc_client, skip_or_fail, tcp_listener,
    udp_socket,
};
pub use procfs::{
    assert_idle, fd_count, first_unprivileged_port, is_nonblocking, peak_rss_kib, rss_kib,
    tcp_listen_port_of, try_tcp_listen_port_of, udp_addrs_of, wait_tcp_listen_port_of,
    wait_tcp_state,
};
pub use spawn::{
    ChildGuard, Deadline, Exit, Input, Output, RNC, Rnc, TIMEOUT, drain_in_thread, parse_port,
    pipe_through_cat, run_unprivileged,
};
pub use tmux::Tmux;
