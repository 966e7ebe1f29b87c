//! The integrity matrix: every byte arrives, in order, whatever stdin and stdout are.
//!
//! Over TCP and Unix stream sockets (rnc as the client), upload (rnc's stdin → peer) and
//! download (peer → rnc's stdout); stdin a regular file, a pipe from `cat`, `/dev/null`
//! or a closed fd; stdout a file, a file opened for append (`>>`: splice refuses
//! `O_APPEND`, so rnc must fall back to copying), a pipe, a slow reader or a pipe whose
//! reader leaves; with and without `--no-zero-copy`; at sizes around rnc's queue (256 KiB)
//! and a pipe's default capacity (64 KiB), and 32 MiB. Data is compared byte for byte (the
//! whole stream is held in memory; a mismatch reports the first differing offset). Exit
//! codes are those of docs/usage.md, and peak RSS (`VmHWM`) of a 32 MiB transfer stays
//! under 16 MiB.
//!
//! Owns no harness code (that is `util`). Each table runs its cases one after another
//! and names every failing case.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::path::Path;
use std::process::ChildStdout;
use std::sync::{OnceLock, mpsc};
use std::thread;
use std::time::Duration;

use crate::util::{
    Input, Output, PeerStream, Rnc, StreamTransport, TIMEOUT, TimedRead, assert_same_bytes,
    peak_rss_kib, pseudo_random, read_to_end_within, retry_eintr, run_cases, temp_dir, write_file,
};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// The largest transfer: many times every queue, pipe and socket buffer on the way.
const LARGE: usize = 32 * MIB;
/// Peak RSS a 32 MiB transfer may reach: rnc's queues are bounded, so it must never hold
/// a large part of the stream.
const MAX_PEAK_RSS_KIB: u64 = 16 * 1024;
/// Sizes around a pipe's default capacity and rnc's queue, and one large transfer.
const SIZES: [usize; 9] = [
    0,
    1,
    64 * KIB - 1,
    64 * KIB,
    64 * KIB + 1,
    256 * KIB - 1,
    256 * KIB,
    256 * KIB + 1,
    LARGE,
];
const TRANSPORTS: [StreamTransport; 2] = [StreamTransport::Tcp, StreamTransport::Unix];

/// `len` bytes of test data; the 32 MiB one is made once and shared.
fn data(len: usize) -> Vec<u8> {
    static LARGE_DATA: OnceLock<Vec<u8>> = OnceLock::new();
    if len == LARGE {
        LARGE_DATA.get_or_init(|| pseudo_random(LARGE, 32)).clone()
    } else {
        pseudo_random(len, len as u64)
    }
}

/// What rnc's stdin is.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// A regular file with the data (`< file`).
    File,
    /// A pipe that `cat file` writes (`cat file | rnc`).
    CatPipe,
    /// `/dev/null`: no data.
    DevNull,
    /// fd 0 closed (`0<&-`): no data.
    Closed,
    /// A pipe that stays open and never delivers (an idle terminal): no data.
    IdlePipe,
}

/// What rnc's stdout is.
#[derive(Clone, Copy, Debug)]
enum Sink {
    /// A regular file (`> file`).
    File,
    /// A regular file opened with `O_APPEND` after some existing content (`>> file`).
    AppendFile,
    /// A pipe read at full speed.
    Pipe,
}

/// The flags for the copy path: zero-copy (the default) or `--no-zero-copy`.
fn copy_flags(zero_copy: bool) -> &'static [&'static str] {
    if zero_copy { &[] } else { &["--no-zero-copy"] }
}

fn copy_name(zero_copy: bool) -> &'static str {
    if zero_copy {
        "zero-copy"
    } else {
        "no-zero-copy"
    }
}

/// Starts a client rnc with `flags` against a fresh peer listener and accepts it.
fn start(
    transport: StreamTransport,
    dir: &Path,
    flags: &[&str],
    stdin: Input,
    stdout: Output,
) -> (Rnc, PeerStream) {
    let (listener, target) = transport.peer_listener(dir);
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(target.iter().map(String::as_str));
    let rnc = Rnc::with(&args).stdin(stdin).stdout(stdout).spawn();
    let peer = listener.accept();
    (rnc, peer)
}

/// Makes rnc's stdin of kind `source` holding `payload` (only `File` and `CatPipe` can
/// hold bytes). Returns the input and whatever must stay alive while rnc runs.
fn make_stdin(source: Source, dir: &Path, payload: &[u8]) -> (Input, Option<Rnc>) {
    match source {
        Source::File => (Input::File(write_file(dir, "in", payload)), None),
        Source::CatPipe => {
            let path = write_file(dir, "in", payload);
            let mut cat = Rnc::tool(Path::new("/bin/cat"), &[path.to_str().expect("utf-8")])
                .stdin(Input::Null)
                .stdout(Output::Raw)
                .spawn();
            let read_end = std::os::fd::OwnedFd::from(cat.take_stdout());
            (Input::Fd(read_end), Some(cat))
        }
        Source::DevNull | Source::Closed | Source::IdlePipe => {
            assert!(payload.is_empty(), "{source:?} cannot hold data");
            let input = match source {
                Source::DevNull => Input::Null,
                Source::Closed => Input::Closed,
                _ => Input::Piped,
            };
            (input, None)
        }
    }
}

/// rnc's stdin → peer: the peer reads to EOF and then closes; rnc exits 0.
fn upload(transport: StreamTransport, source: Source, size: usize, zero_copy: bool) {
    let dir = temp_dir();
    let payload = data(size);
    let (stdin, cat) = make_stdin(source, dir.path(), &payload);
    let (rnc, mut peer) = start(
        transport,
        dir.path(),
        copy_flags(zero_copy),
        stdin,
        Output::Piped,
    );
    assert_same_bytes(&read_to_end_within(&mut peer), &payload);
    drop(peer);
    let exit = rnc.finish();
    exit.assert_code(0);
    assert!(exit.stdout.is_empty(), "stdout: {:?}", exit.stdout_text());
    assert_eq!(exit.stderr, "");
    if let Some(cat) = cat {
        cat.finish().assert_code(0);
    }
}

/// Sends `payload` to rnc from a thread and closes the peer; returns the write's result.
fn send_and_close(mut peer: PeerStream, payload: Vec<u8>) -> thread::JoinHandle<bool> {
    thread::spawn(move || {
        let ok = peer.write_all(&payload).is_ok();
        let _ = peer.shutdown(Shutdown::Write);
        ok
    })
}

/// Peer → rnc's stdout of kind `sink`, stdin of kind `source` (without data); rnc exits 0.
fn download(transport: StreamTransport, source: Source, sink: Sink, size: usize, zero_copy: bool) {
    let dir = temp_dir();
    let payload = data(size);
    let (stdin, _keep) = make_stdin(source, dir.path(), b"");
    let out_path = dir.path().join("out");
    let prefix: &[u8] = b"existing line\n";
    let stdout = match sink {
        Sink::File => Output::File(File::create(&out_path).expect("create out")),
        Sink::AppendFile => {
            std::fs::write(&out_path, prefix).expect("write prefix");
            let file = OpenOptions::new()
                .append(true)
                .open(&out_path)
                .expect("open out for append");
            Output::File(file)
        }
        Sink::Pipe => Output::Piped,
    };
    let (mut rnc, peer) = start(transport, dir.path(), copy_flags(zero_copy), stdin, stdout);
    let _held_open = rnc.stdin.take();
    let sender = send_and_close(peer, payload.clone());
    let exit = rnc.finish();
    exit.assert_code(0);
    assert_eq!(exit.stderr, "");
    assert!(sender.join().expect("sender thread"), "peer write failed");
    match sink {
        Sink::Pipe => assert_same_bytes(&exit.stdout, &payload),
        Sink::File => assert_same_bytes(&std::fs::read(&out_path).expect("read out"), &payload),
        Sink::AppendFile => {
            let written = std::fs::read(&out_path).expect("read out");
            assert!(
                written.starts_with(prefix),
                "`>>` lost the existing content"
            );
            assert_same_bytes(&written[prefix.len()..], &payload);
        }
    }
}

#[test]
fn stream_upload_matrix() {
    let mut cases: Vec<(String, Box<dyn FnOnce()>)> = Vec::new();
    for transport in TRANSPORTS {
        for source in [Source::File, Source::CatPipe] {
            for size in SIZES {
                for zero_copy in [true, false] {
                    let name = format!(
                        "{transport:?} upload, stdin {source:?}, {size} B, {}",
                        copy_name(zero_copy)
                    );
                    cases.push((
                        name,
                        Box::new(move || upload(transport, source, size, zero_copy)),
                    ));
                }
            }
        }
        for source in [Source::DevNull, Source::Closed] {
            let name = format!("{transport:?} upload, stdin {source:?}, 0 B");
            cases.push((name, Box::new(move || upload(transport, source, 0, true))));
        }
    }
    run_cases(cases);
}

#[test]
fn stream_download_matrix() {
    let mut cases: Vec<(String, Box<dyn FnOnce()>)> = Vec::new();
    for transport in TRANSPORTS {
        for sink in [Sink::File, Sink::AppendFile, Sink::Pipe] {
            for size in SIZES {
                for zero_copy in [true, false] {
                    let name = format!(
                        "{transport:?} download, stdout {sink:?}, {size} B, {}",
                        copy_name(zero_copy)
                    );
                    cases.push((
                        name,
                        Box::new(move || {
                            download(transport, Source::DevNull, sink, size, zero_copy)
                        }),
                    ));
                }
            }
        }
        for source in [Source::Closed, Source::IdlePipe] {
            for sink in [Sink::File, Sink::Pipe] {
                let size = 256 * KIB + 1;
                let name = format!("{transport:?} download, stdin {source:?}, stdout {sink:?}");
                cases.push((
                    name,
                    Box::new(move || download(transport, source, sink, size, true)),
                ));
            }
        }
    }
    run_cases(cases);
}

/// Reads `stdout` in small pieces with short pauses (a slow consumer: rnc's stdout blocks
/// and it must stop reading the socket). When `rss_at` bytes have been read, while rnc
/// is still mid-transfer, it reads rnc's peak RSS. Returns the bytes and that reading.
fn slow_reader(
    mut stdout: ChildStdout,
    pid: u32,
    rss_at: usize,
) -> mpsc::Receiver<(Vec<u8>, Option<u64>)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut out = Vec::new();
        let mut rss = None;
        let mut buf = vec![0u8; 16 * KIB];
        loop {
            match retry_eintr(|| stdout.read(&mut buf)) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
            if rss.is_none() && out.len() >= rss_at {
                rss = Some(peak_rss_kib(pid));
            }
            if out.len() % (64 * KIB) < 16 * KIB {
                thread::sleep(Duration::from_millis(1));
            }
        }
        let _ = tx.send((out, rss));
    });
    rx
}

#[test]
fn stream_download_to_slow_reader_with_bounded_memory() {
    let mut cases = Vec::new();
    for transport in TRANSPORTS {
        for zero_copy in [true, false] {
            for size in [256 * KIB + 1, LARGE] {
                let name = format!(
                    "{transport:?} download to a slow reader, {size} B, {}",
                    copy_name(zero_copy)
                );
                cases.push((name, move || {
                    let dir = temp_dir();
                    let payload = data(size);
                    let (mut rnc, peer) = start(
                        transport,
                        dir.path(),
                        copy_flags(zero_copy),
                        Input::Null,
                        Output::Raw,
                    );
                    // Only the large transfer is still running at three quarters: the
                    // last quarter of a small one fits in the pipe.
                    let rss_at = if size == LARGE {
                        LARGE * 3 / 4
                    } else {
                        usize::MAX
                    };
                    let reader = slow_reader(rnc.take_stdout(), rnc.pid(), rss_at);
                    let sender = send_and_close(peer, payload.clone());
                    let (received, rss) = reader
                        .recv_timeout(TIMEOUT)
                        .expect("the slow reader got no EOF");
                    assert_same_bytes(&received, &payload);
                    assert!(sender.join().expect("sender thread"), "peer write failed");
                    let exit = rnc.finish();
                    exit.assert_code(0);
                    assert_eq!(exit.stderr, "");
                    if size == LARGE {
                        let rss = rss.expect("peak RSS read mid-transfer");
                        assert!(rss < MAX_PEAK_RSS_KIB, "peak RSS {rss} KiB for 32 MiB");
                    }
                }));
            }
        }
    }
    run_cases(cases);
}

#[test]
fn stream_upload_to_slow_peer_with_bounded_memory() {
    let mut cases = Vec::new();
    for transport in TRANSPORTS {
        for zero_copy in [true, false] {
            for source in [Source::File, Source::CatPipe] {
                let name = format!(
                    "{transport:?} upload to a slow peer, stdin {source:?}, {}",
                    copy_name(zero_copy)
                );
                cases.push((name, move || {
                    let dir = temp_dir();
                    let payload = data(LARGE);
                    let (stdin, cat) = make_stdin(source, dir.path(), &payload);
                    let (rnc, mut peer) = start(
                        transport,
                        dir.path(),
                        copy_flags(zero_copy),
                        stdin,
                        Output::Piped,
                    );
                    peer.set_read_limit(TIMEOUT).expect("timeout");
                    let mut received = Vec::with_capacity(LARGE);
                    let mut rss = None;
                    let mut buf = vec![0u8; 16 * KIB];
                    loop {
                        let n = retry_eintr(|| peer.read(&mut buf)).expect("read from rnc");
                        if n == 0 {
                            break;
                        }
                        received.extend_from_slice(&buf[..n]);
                        if rss.is_none() && received.len() >= LARGE * 3 / 4 {
                            rss = Some(peak_rss_kib(rnc.pid()));
                        }
                        if received.len() % (64 * KIB) < 16 * KIB {
                            thread::sleep(Duration::from_millis(1));
                        }
                    }
                    assert_same_bytes(&received, &payload);
                    drop(peer);
                    let exit = rnc.finish();
                    exit.assert_code(0);
                    assert_eq!(exit.stderr, "");
                    if let Some(cat) = cat {
                        cat.finish().assert_code(0);
                    }
                    let rss = rss.expect("peak RSS read mid-transfer");
                    assert!(rss < MAX_PEAK_RSS_KIB, "peak RSS {rss} KiB for 32 MiB");
                }));
            }
        }
    }
    run_cases(cases);
}

#[test]
fn stream_download_reader_leaves_exits_0_quietly() {
    let mut cases = Vec::new();
    for transport in TRANSPORTS {
        for zero_copy in [true, false] {
            // `| head -c 0` (the reader closes without reading) and `| head -c 65536`.
            for keep in [0, 64 * KIB] {
                let name = format!(
                    "{transport:?} download, reader leaves after {keep} B, {}",
                    copy_name(zero_copy)
                );
                cases.push((name, move || {
                    let dir = temp_dir();
                    let payload = data(LARGE);
                    let (mut rnc, peer) = start(
                        transport,
                        dir.path(),
                        copy_flags(zero_copy),
                        Input::Null,
                        Output::Raw,
                    );
                    let mut stdout = rnc.take_stdout();
                    let expected_head = payload[..keep].to_vec();
                    // The peer sees its writes fail once rnc has gone: not checked.
                    let sender = send_and_close(peer, payload);
                    let mut head = vec![0u8; keep];
                    stdout.read_exact(&mut head).expect("read stdout");
                    assert_same_bytes(&head, &expected_head);
                    drop(stdout);
                    let exit = rnc.finish();
                    exit.assert_code(0);
                    assert_eq!(exit.stderr, "", "a gone stdout reader is not an error");
                    let _ = sender.join();
                }));
            }
        }
    }
    run_cases(cases);
}

/// Request/response traffic, the pattern that turns rnc's busy-polling on
/// (src/busy_poll.rs): messages from 1 byte to past its 16 KiB small-exchange bound go
/// out through rnc's stdin, an echoing peer sends each back, and every reply must come
/// out of rnc's stdout whole and in order, with busy-polling and with `--no-busy-poll`.
#[test]
fn request_response_exact_with_and_without_busy_poll() {
    let cases = TRANSPORTS.iter().flat_map(|&transport| {
        [true, false].map(move |busy_poll| {
            let name = format!(
                "{transport:?} {}",
                if busy_poll {
                    "busy-poll"
                } else {
                    "--no-busy-poll"
                }
            );
            (name, move || request_response(transport, busy_poll))
        })
    });
    run_cases(cases);
}

fn request_response(transport: StreamTransport, busy_poll: bool) {
    let dir = temp_dir();
    let flags: &[&str] = if busy_poll { &[] } else { &["--no-busy-poll"] };
    let (mut rnc, mut peer) = start(transport, dir.path(), flags, Input::Piped, Output::Piped);
    peer.read_within_timeout();
    let sizes = [1, 64, 1000, 16 * KIB, 16 * KIB + 1, 40 * KIB, 7, 3];
    for round in 0..160 {
        let len = sizes[round % sizes.len()];
        let request = pseudo_random(len, round as u64);
        rnc.write_stdin(&request);
        let mut at_peer = vec![0; len];
        retry_eintr(|| peer.read_exact(&mut at_peer))
            .unwrap_or_else(|e| panic!("round {round}: the peer read {len} bytes: {e}"));
        assert_same_bytes(&at_peer, &request);
        peer.write_all(&at_peer).expect("the peer echoes");
        assert_same_bytes(&rnc.stdout_exact(len), &request);
    }
    rnc.close_stdin();
    let mut rest = Vec::new();
    retry_eintr(|| peer.read_to_end(&mut rest)).expect("the peer reads to EOF");
    assert!(
        rest.is_empty(),
        "{} bytes after the last request",
        rest.len()
    );
    peer.shutdown(Shutdown::Write)
        .expect("the peer half-closes");
    rnc.finish().assert_code(0);
}
