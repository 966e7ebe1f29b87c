//! The EOF grid, after OpenBSD's nc regress suite: rnc as client and as listener, over TCP
//! and Unix stream sockets, against a scripted std-socket peer that sends, half-closes
//! (`shutdown(Write)`), reads to EOF and closes in every order that means something.
//!
//! Each case asserts when rnc sends its FIN (the peer's `read` returns 0: right after
//! rnc's stdin ends and everything read from it was sent, never earlier), that rnc prints
//! everything the peer sends after rnc's own EOF, and that rnc exits once both directions
//! are done, or as `-q`, `--no-shutdown` and `-d` say (docs/usage.md, "How a session
//! ends"). Each test runs its script on all four setups at once, one named thread each.
//!
//! Owns no harness code (that is `util`).

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::util::{
    Input, PeerStream, Rnc, StreamTransport, TimedRead, assert_same_bytes, expect_eof,
    pseudo_random, read_exact_within, read_to_end_within, retry_eintr, run_cases_parallel,
    temp_dir, write_file,
};

/// How long a peer waits to show that rnc has *not* sent its FIN (a negative check).
const NO_FIN_WINDOW: Duration = Duration::from_millis(300);

/// Which side rnc plays.
#[derive(Clone, Copy, Debug)]
enum Role {
    /// rnc connects to the peer's listener.
    Client,
    /// rnc listens and the peer connects.
    Listener,
}

/// One of the four setups every script runs on.
#[derive(Clone, Copy)]
struct Setup {
    transport: StreamTransport,
    role: Role,
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = match self.transport {
            StreamTransport::Tcp => "tcp",
            StreamTransport::Unix => "unix",
        };
        let role = match self.role {
            Role::Client => "client",
            Role::Listener => "listener",
        };
        write!(f, "{transport} {role}")
    }
}

const SETUPS: [Setup; 4] = [
    Setup {
        transport: StreamTransport::Tcp,
        role: Role::Client,
    },
    Setup {
        transport: StreamTransport::Tcp,
        role: Role::Listener,
    },
    Setup {
        transport: StreamTransport::Unix,
        role: Role::Client,
    },
    Setup {
        transport: StreamTransport::Unix,
        role: Role::Listener,
    },
];

/// A running rnc, its connected peer, and the temp dir that holds any socket file.
struct Session {
    rnc: Rnc,
    peer: PeerStream,
    /// The socket file a Unix listener rnc must remove when it exits.
    rnc_socket: Option<PathBuf>,
    dir: tempfile::TempDir,
}

impl Setup {
    /// Starts rnc with `flags` and `stdin` in this setup and connects the peer.
    fn start(self, flags: &[&str], stdin: impl FnOnce(&std::path::Path) -> Input) -> Session {
        let dir = temp_dir();
        let stdin = stdin(dir.path());
        let mut args: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        match self.role {
            Role::Client => {
                let (listener, target) = self.transport.peer_listener(dir.path());
                args.extend(target);
                let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                let rnc = Rnc::with(&argv).stdin(stdin).spawn();
                let peer = listener.accept();
                Session {
                    rnc,
                    peer,
                    rnc_socket: None,
                    dir,
                }
            }
            Role::Listener => {
                args.extend(self.transport.rnc_listen_args(dir.path()));
                let rnc_socket = (self.transport == StreamTransport::Unix)
                    .then(|| PathBuf::from(args.last().expect("a path")));
                let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                let mut rnc = Rnc::with(&argv).stdin(stdin).spawn();
                let peer = self.transport.connect_to(&mut rnc);
                Session {
                    rnc,
                    peer,
                    rnc_socket,
                    dir,
                }
            }
        }
    }
}

impl Session {
    /// The peer sends `data`; rnc prints exactly it.
    fn peer_sends_and_rnc_prints(&mut self, data: &[u8]) {
        self.peer.write_all(data).expect("peer write");
        assert_same_bytes(&self.rnc.stdout_exact(data.len()), data);
    }

    /// rnc's stdin delivers `data`; the peer receives exactly it.
    fn stdin_sends_and_peer_receives(&mut self, data: &[u8]) {
        self.rnc.write_stdin(data);
        assert_same_bytes(&read_exact_within(&mut self.peer, data.len()), data);
    }

    /// A negative check: for `NO_FIN_WINDOW` the peer reads neither bytes nor EOF.
    fn peer_sees_no_fin(&mut self, why: &str) {
        self.peer.set_read_limit(NO_FIN_WINDOW).expect("timeout");
        let mut buf = [0u8; 64];
        match retry_eintr(|| self.peer.read(&mut buf)) {
            Ok(0) => panic!("rnc sent its FIN too early: {why}"),
            Ok(n) => panic!(
                "unexpected bytes from rnc: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("peer read: {e}"),
        }
    }

    /// Waits for rnc to exit with `code`, with nothing more on stdout, and checks that a
    /// Unix listener removed its socket file. The peer stays open until rnc has exited.
    fn exits_with(self, code: i32) {
        self.end(false, code);
    }

    /// The peer closes its socket (a full close); then as `exits_with`.
    fn peer_closes_then_exits_with(self, code: i32) {
        self.end(true, code);
    }

    fn end(self, close_peer_first: bool, code: i32) {
        let Session {
            rnc,
            peer,
            rnc_socket,
            dir,
        } = self;
        let peer = if close_peer_first {
            drop(peer);
            None
        } else {
            Some(peer)
        };
        let exit = rnc.finish();
        exit.assert_code(code);
        assert!(
            exit.stdout.is_empty(),
            "unexpected extra stdout: {:?}",
            exit.stdout_text()
        );
        if let Some(path) = rnc_socket {
            assert!(!path.exists(), "socket file {} left behind", path.display());
        }
        drop(peer);
        drop(dir);
    }
}

/// Runs `script` on all four setups at once, naming each failure `test[setup]`.
fn on_every_setup(test: &str, script: impl Fn(Setup) + Sync) {
    let script = &script;
    run_cases_parallel(
        SETUPS
            .into_iter()
            .map(|setup| (format!("{test}[{setup}]"), move || script(setup))),
    );
}

/// rnc's stdin: a pipe the test writes and closes.
fn piped(_: &std::path::Path) -> Input {
    Input::Piped
}

#[test]
fn stream_fin_only_after_stdin_eof_and_late_replies_are_printed() {
    on_every_setup("fin_after_stdin_eof", |setup| {
        let mut s = setup.start(&[], piped);
        s.stdin_sends_and_peer_receives(b"request\n");
        s.peer_sees_no_fin("stdin is still open");
        s.rnc.close_stdin();
        // FIN right after stdin's EOF: no bytes left over, then EOF.
        expect_eof(&mut s.peer);
        // Half-closed, not closed: everything the peer sends now is printed.
        s.peer_sends_and_rnc_prints(b"late reply\n");
        s.peer_sends_and_rnc_prints(&pseudo_random(1024 * 1024, 1));
        s.peer.shutdown(Shutdown::Write).expect("peer shutdown");
        s.exits_with(0);
    });
}

#[test]
fn stream_fin_after_a_large_stdin_is_fully_sent() {
    on_every_setup("fin_after_large_stdin", |setup| {
        let data = pseudo_random(3 * 256 * 1024 + 7, 2);
        let mut s = setup.start(&[], piped);
        let feeder = s.rnc.feed_stdin_and_close(data.clone());
        // Everything stdin gave arrives before the FIN, and the FIN does arrive.
        assert_same_bytes(&read_to_end_within(&mut s.peer), &data);
        feeder.join().expect("feeder thread").expect("write stdin");
        s.peer_sends_and_rnc_prints(b"done");
        s.peer_closes_then_exits_with(0);
    });
}

#[test]
fn stream_peer_half_closes_first_then_rnc_sends_until_stdin_eof() {
    on_every_setup("peer_half_closes_first", |setup| {
        let mut s = setup.start(&[], piped);
        s.stdin_sends_and_peer_receives(b"one ");
        s.peer.write_all(b"bye").expect("peer write");
        s.peer.shutdown(Shutdown::Write).expect("peer shutdown");
        assert_eq!(s.rnc.stdout_exact(3), b"bye");
        // stdin has delivered bytes: rnc keeps sending, and has not sent its FIN.
        s.stdin_sends_and_peer_receives(b"two ");
        s.stdin_sends_and_peer_receives(&pseudo_random(300 * 1024, 3));
        s.rnc.close_stdin();
        expect_eof(&mut s.peer);
        s.exits_with(0);
    });
}

#[test]
fn stream_peer_and_stdin_end_at_the_same_time() {
    on_every_setup("both_end_together", |setup| {
        let mut s = setup.start(&[], piped);
        s.stdin_sends_and_peer_receives(b"ping");
        s.peer_sends_and_rnc_prints(b"pong");
        s.peer.shutdown(Shutdown::Write).expect("peer shutdown");
        s.rnc.close_stdin();
        expect_eof(&mut s.peer);
        s.exits_with(0);
    });
}

#[test]
fn stream_peer_closes_while_stdin_is_idle_receive_only_exit_0() {
    on_every_setup("receive_only", |setup| {
        // The peer half-closes after sending; stdin is an open pipe that never delivered.
        let mut s = setup.start(&[], piped);
        let _held_open = s.rnc.stdin.take();
        let data = pseudo_random(256 * 1024 + 1, 4);
        s.peer_sends_and_rnc_prints(&data);
        s.peer.shutdown(Shutdown::Write).expect("peer shutdown");
        // rnc ends, and closing its socket is the peer's EOF.
        expect_eof(&mut s.peer);
        s.exits_with(0);

        // The peer connects and closes at once, without a byte.
        let mut s = setup.start(&[], piped);
        let _held_open = s.rnc.stdin.take();
        s.peer_closes_then_exits_with(0);
    });
}

#[test]
fn stream_stdin_at_eof_from_the_start_sends_fin_at_once() {
    on_every_setup("stdin_eof_at_start", |setup| {
        for (what, stdin) in [
            (
                "/dev/null",
                (|_: &std::path::Path| Input::Null) as fn(&_) -> Input,
            ),
            ("closed fd", |_: &std::path::Path| Input::Closed),
            ("empty file", |dir: &std::path::Path| {
                Input::File(write_file(dir, "empty", b""))
            }),
        ] {
            let mut s = setup.start(&[], stdin);
            // The listener case is the one nc gets wrong: it must not end after accept.
            let mut probe = [0u8; 1];
            s.peer
                .set_read_limit(crate::util::TIMEOUT)
                .expect("timeout");
            assert_eq!(
                retry_eintr(|| s.peer.read(&mut probe)).expect("peer read"),
                0,
                "stdin {what}: FIN expected"
            );
            s.peer_sends_and_rnc_prints(format!("reply to {what}").as_bytes());
            s.peer_closes_then_exits_with(0);
        }
    });
}

#[test]
fn stream_file_stdin_is_sent_whole_after_peer_half_closes() {
    on_every_setup("file_stdin_after_peer_eof", |setup| {
        let data = pseudo_random(1024 * 1024 + 3, 5);
        let mut s = setup.start(&[], |dir| Input::File(write_file(dir, "up", &data)));
        s.peer_sends_and_rnc_prints(b"go");
        s.peer.shutdown(Shutdown::Write).expect("peer shutdown");
        // A file is finite: rnc sends all of it, then its FIN, then exits.
        assert_same_bytes(&read_to_end_within(&mut s.peer), &data);
        s.exits_with(0);
    });
}

#[test]
fn stream_quit_after_eof_zero_exits_without_waiting_for_the_peer() {
    on_every_setup("q0", |setup| {
        let mut s = setup.start(&["-q", "0"], piped);
        s.peer_sends_and_rnc_prints(b"early");
        s.rnc.write_stdin(b"data");
        s.rnc.close_stdin();
        // The peer never closes: -q 0 ends the session once everything was sent.
        let Session {
            rnc,
            mut peer,
            rnc_socket,
            dir,
        } = s;
        let exit = rnc.finish();
        exit.assert_code(0);
        assert!(
            exit.stdout.is_empty(),
            "extra stdout {:?}",
            exit.stdout_text()
        );
        assert_eq!(read_to_end_within(&mut peer), b"data");
        if let Some(path) = rnc_socket {
            assert!(!path.exists(), "socket file left behind");
        }
        drop(dir);
    });
}

#[test]
fn stream_quit_after_eof_one_prints_replies_then_exits() {
    on_every_setup("q1", |setup| {
        let mut s = setup.start(&["-q", "1"], piped);
        s.rnc.write_stdin(b"question");
        let eof_at = Instant::now();
        s.rnc.close_stdin();
        // The shutdown is sent at once, as without -q.
        assert_eq!(read_to_end_within(&mut s.peer), b"question");
        // Replies within the second are still printed.
        s.peer_sends_and_rnc_prints(b"answer");
        // The peer stays open; -q 1 ends the session about a second after stdin's EOF.
        let Session { rnc, peer, dir, .. } = s;
        let exit = rnc.finish();
        let took = eof_at.elapsed();
        exit.assert_code(0);
        assert!(
            exit.stdout.is_empty(),
            "extra stdout {:?}",
            exit.stdout_text()
        );
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "-q 1 quit {took:?} after stdin EOF"
        );
        drop(peer);
        drop(dir);
    });
}

#[test]
fn stream_no_shutdown_sends_no_fin_and_ends_with_the_peer() {
    on_every_setup("no_shutdown", |setup| {
        let mut s = setup.start(&["--no-shutdown"], piped);
        s.stdin_sends_and_peer_receives(b"data");
        s.rnc.close_stdin();
        s.peer_sees_no_fin("--no-shutdown was given");
        s.peer_sends_and_rnc_prints(b"reply");
        s.peer.shutdown(Shutdown::Write).expect("peer shutdown");
        // rnc ends when the peer closes; only then does its socket close.
        expect_eof(&mut s.peer);
        s.exits_with(0);
    });
}

#[test]
fn stream_no_stdin_ignores_stdin_and_ends_with_the_peer() {
    on_every_setup("no_stdin", |setup| {
        let mut s = setup.start(&["-d"], piped);
        // Bytes are waiting on stdin (a pipe that "delivered"), but -d never reads them,
        // so they neither reach the peer nor keep the session open.
        s.rnc.write_stdin(b"never sent");
        let _held_open = s.rnc.stdin.take();
        s.peer_sends_and_rnc_prints(b"capture");
        s.peer.shutdown(Shutdown::Write).expect("peer shutdown");
        assert_eq!(read_to_end_within(&mut s.peer), b"");
        s.exits_with(0);
    });
}
