//! Test harness for the integration suite: spawning rnc (and the other tools it is
//! compared with) with controlled stdio, reaping them on every path, and loopback peers.
//!
//! Every wait here is bounded by a `Deadline` (10 s by default) and waits for something
//! observable: a line on stderr, bytes on stdout or a socket, EOF, or the exit. Nothing
//! here sleeps to let another process "get ready", and nothing picks a free port and
//! passes it on: peers bind port 0 and report the port the kernel gave them.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in the suite may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The rnc binary Cargo built for this test run.
pub const RNC: &str = env!("CARGO_BIN_EXE_rnc");

/// A point in time that bounds a wait.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// The default deadline: `TIMEOUT` from now.
    pub fn new() -> Self {
        Self::after(TIMEOUT)
    }

    /// A deadline `d` from now.
    pub fn after(d: Duration) -> Self {
        Self {
            at: Instant::now() + d,
        }
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// Time left, never zero (socket timeouts reject a zero duration).
    pub fn remaining(&self) -> Duration {
        self.at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    }
}

/// What the child's stdin is.
pub enum Input {
    /// A pipe the test writes through `Rnc::stdin` (the default).
    Piped,
    /// `/dev/null`.
    Null,
    /// A regular file opened for reading.
    File(PathBuf),
    /// An fd the test made, e.g. the read end of `pipe_through_cat` (to keep a dup of it).
    Fd(OwnedFd),
    /// fd 0 closed.
    Closed,
}

/// What the child's stdout is.
pub enum Output {
    /// A pipe drained by a reader thread (the default).
    Piped,
    /// A pipe the test reads itself through `Rnc::take_stdout` (slow readers, early close).
    Raw,
    /// `/dev/null`.
    Null,
    /// An open file, e.g. `/dev/full`.
    File(File),
    /// fd 1 closed.
    Closed,
}

/// A child process that is killed and reaped when dropped, so a failed assert leaks nothing.
pub struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    /// Guard `child`.
    pub fn new(child: Child) -> ChildGuard {
        ChildGuard { child }
    }

    /// The child's pid.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child itself.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// How to start a process: program, arguments, stdio and environment.
pub struct Spawn {
    program: PathBuf,
    args: Vec<OsString>,
    stdin: Input,
    stdout: Output,
    envs: Vec<(String, OsString)>,
    cwd: Option<PathBuf>,
}

impl Spawn {
    /// Sets stdin.
    pub fn stdin(mut self, input: Input) -> Self {
        self.stdin = input;
        self
    }

    /// Sets stdout.
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.envs.push((key.to_string(), value.into()));
        self
    }

    /// Sets the working directory (relative Unix socket paths).
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// Starts the process. stderr is always piped and drained by a reader thread.
    pub fn spawn(self) -> Rnc {
        let name = self.program.display().to_string();
        let closed_in = matches!(self.stdin, Input::Closed);
        let closed_out = matches!(self.stdout, Output::Closed);
        // std cannot start a child with fd 0 or 1 closed without `unsafe` `pre_exec`,
        // so a shell closes it and then `exec`s the program (same pid).
        let mut command = if closed_in || closed_out {
            let mut script = String::from("exec \"$0\" \"$@\"");
            if closed_in {
                script.push_str(" 0<&-");
            }
            if closed_out {
                script.push_str(" 1>&-");
            }
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(script).arg(&self.program);
            c
        } else {
            Command::new(&self.program)
        };
        command.args(&self.args);
        for key in ["TERM", "NO_COLOR", "COLUMNS"] {
            command.env_remove(key);
        }
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        command.stdin(match self.stdin {
            Input::Piped => Stdio::piped(),
            Input::Null | Input::Closed => Stdio::null(),
            Input::File(path) => Stdio::from(
                File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display())),
            ),
            Input::Fd(fd) => Stdio::from(fd),
        });
        let raw_stdout = matches!(self.stdout, Output::Raw);
        command.stdout(match self.stdout {
            Output::Piped | Output::Raw => Stdio::piped(),
            Output::Null | Output::Closed => Stdio::null(),
            Output::File(file) => Stdio::from(file),
        });
        command.stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take().expect("stderr is piped");
        let (stdout, stdout_rx) = match stdout {
            Some(out) if !raw_stdout => (None, Some(drain_in_thread(out))),
            other => (other, None),
        };
        Rnc {
            child: ChildGuard { child },
            name,
            stdin,
            stdout,
            stdout_rx,
            stdout_buf: Vec::new(),
            stdout_eof: false,
            stderr_rx: drain_in_thread(stderr),
            stderr_buf: String::new(),
            stderr_eof: false,
            status: None,
        }
    }
}

/// Reads `source` to its end in a thread, sending each chunk through the channel.
pub fn drain_in_thread(mut source: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    });
    rx
}

/// A running process (rnc, or a tool it is compared with) and its stdio.
pub struct Rnc {
    child: ChildGuard,
    name: String,
    /// The write end of a piped stdin; drop it (or call `close_stdin`) for EOF.
    pub stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stdout_rx: Option<Receiver<Vec<u8>>>,
    stdout_buf: Vec<u8>,
    stdout_eof: bool,
    stderr_rx: Receiver<Vec<u8>>,
    stderr_buf: String,
    stderr_eof: bool,
    status: Option<ExitStatus>,
}

/// How a finished process ended and everything it printed.
pub struct Exit {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything on stdout (empty unless stdout was `Output::Piped`).
    pub stdout: Vec<u8>,
    /// Everything on stderr.
    pub stderr: String,
}

impl Exit {
    /// The exit code, `None` if a signal killed the process.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts the exit code, showing stderr when it is not the expected one.
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(expected),
            "exit status {:?} (signal {:?}), expected code {expected}; stderr:\n{}",
            self.status,
            self.status.signal(),
            self.stderr
        );
        self
    }

    /// stdout as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Rnc {
    /// A builder for rnc with `args`; stdin and stdout piped.
    pub fn with(args: &[&str]) -> Spawn {
        Self::tool(Path::new(RNC), args)
    }

    /// A builder for any program (nc, ncat, socat, python3) with the same harness.
    pub fn tool(program: &Path, args: &[&str]) -> Spawn {
        Spawn {
            program: program.to_path_buf(),
            args: args.iter().map(OsString::from).collect(),
            stdin: Input::Piped,
            stdout: Output::Piped,
            envs: Vec::new(),
            cwd: None,
        }
    }

    /// Starts rnc with all three stdio streams piped.
    pub fn spawn(args: &[&str]) -> Rnc {
        Self::with(args).spawn()
    }

    /// Runs rnc with stdin from `/dev/null` to its end.
    pub fn run(args: &[&str]) -> Exit {
        Self::with(args).stdin(Input::Null).spawn().finish()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes all of `data` to the piped stdin.
    pub fn write_stdin(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is piped and open");
        stdin
            .write_all(data)
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("write to {}'s stdin: {e}", self.name));
    }

    /// Writes `data` to stdin from a thread, then closes stdin (for data larger than a pipe).
    pub fn feed_stdin_and_close(&mut self, data: Vec<u8>) -> thread::JoinHandle<io::Result<()>> {
        let mut stdin = self.stdin.take().expect("stdin is piped and open");
        thread::spawn(move || stdin.write_all(&data))
    }

    /// Closes the piped stdin: the child sees EOF.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The raw stdout pipe (only with `Output::Raw`).
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.stdout
            .take()
            .expect("stdout was spawned as Output::Raw")
    }

    /// Everything on stderr so far.
    pub fn stderr_so_far(&mut self) -> String {
        while let Ok(chunk) = self.stderr_rx.try_recv() {
            self.stderr_buf.push_str(&String::from_utf8_lossy(&chunk));
        }
        self.stderr_buf.clone()
    }

    /// Waits for a complete stderr line containing `needle` and returns it.
    pub fn wait_stderr(&mut self, needle: &str) -> String {
        let deadline = Deadline::new();
        loop {
            if let Some(line) = self
                .stderr_buf
                .split_inclusive('\n')
                .find(|l| l.ends_with('\n') && l.contains(needle))
            {
                return line.trim_end().to_string();
            }
            if self.stderr_eof {
                let status = self.wait_exit();
                panic!(
                    "{} ended ({status:?}) without a stderr line containing `{needle}`; stderr:\n{}",
                    self.name, self.stderr_buf
                );
            }
            match self.stderr_rx.recv_timeout(deadline.remaining()) {
                Ok(chunk) => self.stderr_buf.push_str(&String::from_utf8_lossy(&chunk)),
                Err(RecvTimeoutError::Disconnected) => self.stderr_eof = true,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no stderr line containing `{needle}` from {} within {TIMEOUT:?}; stderr:\n{}",
                    self.name, self.stderr_buf
                ),
            }
        }
    }

    /// Waits for `rnc: listening on ADDR` and returns ADDR.
    pub fn listening_addr(&mut self) -> String {
        let line = self.wait_stderr("listening on ");
        let at = line.find("listening on ").expect("matched above") + "listening on ".len();
        line[at..].trim().to_string()
    }

    /// Waits for `listening on HOST:PORT` and returns PORT.
    pub fn listening_port(&mut self) -> u16 {
        let addr = self.listening_addr();
        parse_port(&addr)
    }

    /// Waits until stdout has given `n` more bytes and returns exactly those.
    pub fn stdout_exact(&mut self, n: usize) -> Vec<u8> {
        let deadline = Deadline::new();
        while self.stdout_buf.len() < n {
            if self.stdout_eof || !self.recv_stdout(&deadline) {
                let stderr = self.stderr_so_far();
                let status = self.wait_exit();
                panic!(
                    "{}'s stdout ended after {} of {n} bytes ({:?}), {status:?}; stderr:\n{stderr}",
                    self.name,
                    self.stdout_buf.len(),
                    String::from_utf8_lossy(&self.stdout_buf[..self.stdout_buf.len().min(200)]),
                );
            }
        }
        self.stdout_buf.drain(..n).collect()
    }

    /// Waits for the next complete line on stdout and returns it without the newline.
    pub fn stdout_line(&mut self) -> String {
        let deadline = Deadline::new();
        loop {
            if let Some(end) = self.stdout_buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.stdout_buf.drain(..=end).collect();
                return String::from_utf8_lossy(&line).trim_end().to_string();
            }
            if self.stdout_eof || !self.recv_stdout(&deadline) {
                panic!("{}'s stdout ended without a line", self.name);
            }
        }
    }

    /// Receives one stdout chunk; false at EOF. Panics at the deadline.
    fn recv_stdout(&mut self, deadline: &Deadline) -> bool {
        let rx = self
            .stdout_rx
            .as_ref()
            .expect("stdout was spawned as Output::Piped");
        match rx.recv_timeout(deadline.remaining()) {
            Ok(chunk) => {
                self.stdout_buf.extend_from_slice(&chunk);
                true
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.stdout_eof = true;
                false
            }
            Err(RecvTimeoutError::Timeout) => {
                let stderr = self.stderr_so_far();
                panic!(
                    "{}'s stdout still open after {TIMEOUT:?} ({} bytes so far); stderr:\n{stderr}",
                    self.name,
                    self.stdout_buf.len()
                )
            }
        }
    }

    /// Whether the process has exited (without waiting).
    pub fn has_exited(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self
                .child
                .child
                .try_wait()
                .unwrap_or_else(|e| panic!("wait for {}: {e}", self.name));
        }
        self.status.is_some()
    }

    /// Waits for the process to exit, at most `TIMEOUT`.
    pub fn wait_exit(&mut self) -> ExitStatus {
        self.wait_exit_within(TIMEOUT)
    }

    /// Waits for the process to exit, at most `limit`; panics after that.
    pub fn wait_exit_within(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Deadline::after(limit);
        // stderr reaches EOF when the process exits: an event to wait on, not a poll.
        while !self.stderr_eof {
            match self.stderr_rx.recv_timeout(deadline.remaining()) {
                Ok(chunk) => self.stderr_buf.push_str(&String::from_utf8_lossy(&chunk)),
                Err(RecvTimeoutError::Disconnected) => self.stderr_eof = true,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{} still running after {limit:?}; stderr:\n{}",
                    self.name, self.stderr_buf
                ),
            }
        }
        // After stderr's EOF the process is exiting; std has no wait with a timeout, so
        // poll try_wait (this checks an observable, it does not wait for readiness).
        while !self.has_exited() {
            if deadline.expired() {
                panic!(
                    "{} closed stderr but did not exit within {limit:?}",
                    self.name
                );
            }
            thread::sleep(Duration::from_millis(1));
        }
        self.status.expect("has_exited set it")
    }

    /// Whether the process is still running after `limit` (a negative check: keep rare).
    pub fn still_running_after(&mut self, limit: Duration) -> bool {
        let deadline = Deadline::after(limit);
        while !self.stderr_eof && !deadline.expired() {
            match self.stderr_rx.recv_timeout(deadline.remaining()) {
                Ok(chunk) => self.stderr_buf.push_str(&String::from_utf8_lossy(&chunk)),
                Err(RecvTimeoutError::Disconnected) => self.stderr_eof = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        !self.has_exited()
    }

    /// Sends signal `name` (`INT`, `TERM`, `HUP`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -s {name} {} failed", self.pid());
    }

    /// Waits for the exit, then collects the rest of stdout and stderr.
    pub fn finish(mut self) -> Exit {
        let status = self.wait_exit();
        let deadline = Deadline::new();
        if self.stdout_rx.is_some() {
            while !self.stdout_eof {
                self.recv_stdout(&deadline);
            }
        }
        Exit {
            status,
            stdout: std::mem::take(&mut self.stdout_buf),
            stderr: std::mem::take(&mut self.stderr_buf),
        }
    }
}

/// The port at the end of `HOST:PORT` or `[V6]:PORT`.
pub fn parse_port(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in `{addr}`"))
}

/// 8 MiB: large enough to fill every socket and pipe buffer several times over.
pub const BIG: usize = 8 * 1024 * 1024;

/// `len` pseudo-random bytes from a seeded xorshift64, the same for the same seed.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Asserts two byte strings are equal without printing megabytes on failure.
#[track_caller]
pub fn assert_same_bytes(actual: &[u8], expected: &[u8]) {
    if actual != expected {
        let first_diff = actual
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(actual.len().min(expected.len()));
        panic!(
            "bytes differ: got {} bytes, expected {}; first difference at offset {first_diff}",
            actual.len(),
            expected.len()
        );
    }
}

/// A per-test temporary directory with a short path (Unix socket paths must stay < 100 bytes).
pub fn temp_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("rnc-")
        .tempdir_in("/tmp")
        .expect("create temp dir in /tmp");
    assert!(dir.path().as_os_str().len() < 40);
    dir
}

/// Writes `data` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// A TCP listener on 127.0.0.1 with a kernel-chosen port.
pub fn tcp_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local_addr").port();
    (listener, port)
}

/// Whether `[::1]` binds here; IPv6 tests return early (and say so) when it does not.
pub fn ipv6_available() -> bool {
    let ok = TcpListener::bind("[::1]:0").is_ok();
    if !ok {
        eprintln!("skipping the IPv6 part: [::1] does not bind on this machine");
    }
    ok
}

/// A port nothing listens on. There is no race-free way to get one: the port is taken
/// from a listener that is then closed. Nothing else on loopback picks that exact port in
/// the few milliseconds before it is used (the kernel hands out ephemeral ports
/// pseudo-randomly), so a refusal is what the test sees.
pub fn closed_tcp_port() -> u16 {
    let (listener, port) = tcp_listener();
    drop(listener);
    port
}

/// The UDP counterpart of `closed_tcp_port`, with the same caveat.
pub fn closed_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind udp 127.0.0.1:0");
    socket.local_addr().expect("local_addr").port()
}

/// Runs a blocking accept in a thread and waits for it, at most `TIMEOUT`.
/// On timeout, `unstick` connects to the listener so the thread ends too.
fn accept_within<T: Send + 'static>(
    accept: impl FnOnce() -> io::Result<T> + Send + 'static,
    unstick: impl FnOnce(),
    what: &str,
) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(accept());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(e)) => panic!("accept on {what}: {e}"),
        Err(_) => {
            unstick();
            panic!("no connection to {what} within {TIMEOUT:?}")
        }
    }
}

/// Starts `rnc FLAGS 127.0.0.1 PORT` against a fresh listener and accepts its connection:
/// rnc as a connected client, and the peer's end.
pub fn rnc_client(flags: &[&str]) -> (Rnc, TcpStream) {
    let (listener, port) = tcp_listener();
    let port = port.to_string();
    let mut args = flags.to_vec();
    args.extend_from_slice(&["127.0.0.1", &port]);
    let rnc = Rnc::spawn(&args);
    let (peer, _) = accept_tcp(&listener);
    (rnc, peer)
}

/// Accepts one TCP connection, at most `TIMEOUT`; the stream has 10 s I/O timeouts.
pub fn accept_tcp(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    let clone = listener.try_clone().expect("clone listener");
    let addr = listener.local_addr().expect("local_addr");
    let (stream, peer) = accept_within(
        move || clone.accept(),
        || drop(TcpStream::connect(addr)),
        &addr.to_string(),
    );
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    (stream, peer)
}

/// Accepts one Unix stream connection, at most `TIMEOUT`.
pub fn accept_unix(listener: &UnixListener, path: &Path) -> UnixStream {
    let clone = listener.try_clone().expect("clone listener");
    let unstick_path = path.to_path_buf();
    let (stream, _) = accept_within(
        move || clone.accept(),
        || drop(UnixStream::connect(unstick_path)),
        &path.display().to_string(),
    );
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

/// Connects to 127.0.0.1:`port` with 10 s I/O timeouts.
pub fn connect_tcp(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

/// Connects to a Unix stream socket with 10 s I/O timeouts.
pub fn connect_unix(path: &Path) -> UnixStream {
    let stream =
        UnixStream::connect(path).unwrap_or_else(|e| panic!("connect to {}: {e}", path.display()));
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

/// A stream socket whose reads can be bounded.
pub trait TimedRead: Read {
    /// Sets the read timeout.
    fn set_read_limit(&self, limit: Duration) -> io::Result<()>;
}

impl TimedRead for TcpStream {
    fn set_read_limit(&self, limit: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(limit))
    }
}

impl TimedRead for UnixStream {
    fn set_read_limit(&self, limit: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(limit))
    }
}

/// Reads until `n` bytes arrived (TCP may split or merge), at most `TIMEOUT`.
pub fn read_exact_within(stream: &mut impl TimedRead, n: usize) -> Vec<u8> {
    let deadline = Deadline::new();
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        stream
            .set_read_limit(deadline.remaining())
            .expect("timeout");
        match stream.read(&mut out[got..]) {
            Ok(0) => panic!(
                "EOF after {got} of {n} bytes ({:?})",
                String::from_utf8_lossy(&out[..got.min(200)])
            ),
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read after {got} of {n} bytes: {e}"),
        }
    }
    out
}

/// Reads until EOF, at most `TIMEOUT`.
pub fn read_to_end_within(stream: &mut impl TimedRead) -> Vec<u8> {
    let deadline = Deadline::new();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        stream
            .set_read_limit(deadline.remaining())
            .expect("timeout");
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read after {} bytes, no EOF: {e}", out.len()),
        }
    }
}

/// Asserts that the next read gives EOF, at most `TIMEOUT`.
pub fn expect_eof(stream: &mut impl TimedRead) {
    let rest = read_to_end_within(stream);
    assert!(
        rest.is_empty(),
        "expected EOF, got {:?}",
        String::from_utf8_lossy(&rest)
    );
}

/// A UDP socket on 127.0.0.1 with a kernel-chosen port and a 10 s read timeout.
pub fn udp_socket() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind udp 127.0.0.1:0");
    socket.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let port = socket.local_addr().expect("local_addr").port();
    (socket, port)
}

/// Receives one datagram, at most `TIMEOUT`.
pub fn recv_udp(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65536];
    let (n, from) = retry_eintr(|| socket.recv_from(&mut buf))
        .unwrap_or_else(|e| panic!("no datagram within {TIMEOUT:?}: {e}"));
    buf.truncate(n);
    (buf, from)
}

/// Receives one Unix datagram, at most `TIMEOUT`; returns the data and the sender's path.
pub fn recv_unix_datagram(socket: &UnixDatagram) -> (Vec<u8>, Option<PathBuf>) {
    socket.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut buf = vec![0u8; 65536];
    let (n, from) = retry_eintr(|| socket.recv_from(&mut buf))
        .unwrap_or_else(|e| panic!("no datagram within {TIMEOUT:?}: {e}"));
    buf.truncate(n);
    (buf, from.as_pathname().map(Path::to_path_buf))
}

/// A real pipe made without `unsafe` and within the crate's MSRV (`std::io::pipe` is
/// newer): `cat`'s stdout. Returns its read end and the `cat` process, whose stdin the
/// test writes (and closes, for EOF on the read end).
pub fn pipe_through_cat() -> (OwnedFd, Rnc) {
    let mut cat = Rnc::tool(Path::new("/bin/cat"), &[])
        .stdout(Output::Raw)
        .spawn();
    (OwnedFd::from(cat.take_stdout()), cat)
}

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
    let mut sockets = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            // fields: sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && inodes.iter().any(|i| i == fields[9]) {
                let port = fields[1].rsplit(':').next().expect("local address");
                let port = u16::from_str_radix(port, 16).expect("hex port");
                sockets.push((fields[3].to_string(), port));
            }
        }
    }
    sockets
}

/// The port of the TCP socket that process `pid` is listening on, from `/proc`
/// (for tools that do not print the port the kernel chose).
pub fn tcp_listen_port_of(pid: u32) -> u16 {
    match tcp_sockets_of(pid)
        .into_iter()
        .find(|(state, _)| state == "0A")
    {
        Some((_, port)) => port,
        None => panic!("process {pid} has no listening TCP socket"),
    }
}

/// The path of an installed tool, or `None` (and a message) when it is missing.
/// Under CI (`CI` set, as `.ci/run` runs) a missing tool is a failure: `.ci/run` installs
/// every tool, so a skip there would hide a test that never ran.
pub fn installed_tool(name: &str) -> Option<PathBuf> {
    let path = Path::new("/usr/bin").join(name);
    if path.exists() {
        return Some(path);
    }
    skip_or_fail(&format!("{} is not installed", path.display()));
    None
}

/// A test that cannot run here: a message and an early return on a developer's machine,
/// a failure under CI.
#[track_caller]
pub fn skip_or_fail(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}, and CI must run this test (.ci/run installs what it needs)"
    );
    eprintln!("skipping: {why}");
}

/// The lowest port a user without CAP_NET_BIND_SERVICE may bind (ip(7)).
pub fn first_unprivileged_port() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1024)
}

/// Runs rnc with `args` as a user without the right to bind privileged ports: as
/// nobody through setpriv(1) when the suite runs as root, directly otherwise. `None` (and
/// a message) when that cannot show anything here: no setpriv, or a sysctl
/// `net.ipv4.ip_unprivileged_port_start` that makes `port` unprivileged.
pub fn run_unprivileged(args: &[&str], port: u16) -> Option<Exit> {
    let first_unprivileged = first_unprivileged_port();
    if port >= first_unprivileged {
        skip_or_fail(&format!(
            "port {port} is unprivileged here (ip_unprivileged_port_start = {first_unprivileged})"
        ));
        return None;
    }
    if !rustix::process::getuid().is_root() {
        return Some(Rnc::run(args));
    }
    let setpriv = installed_tool("setpriv")?;
    let mut all = vec!["--reuid=65534", "--regid=65534", "--clear-groups", RNC];
    all.extend_from_slice(args);
    Some(
        Rnc::tool(&setpriv, &all)
            .stdin(Input::Null)
            .spawn()
            .finish(),
    )
}

// ---------------------------------------------------------------------------------------
// Stream peers over either TCP or Unix (used by eof_grid and integrity): one peer type so a
// table of cases can run unchanged over both transports, and peak-memory readings.
// ---------------------------------------------------------------------------------------

/// A stream transport a case runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamTransport {
    /// TCP on 127.0.0.1.
    Tcp,
    /// A Unix stream socket in a per-test temp dir.
    Unix,
}

/// A connected peer socket of either transport, with 10 s write timeouts.
pub enum PeerStream {
    /// A TCP peer.
    Tcp(TcpStream),
    /// A Unix stream peer.
    Unix(UnixStream),
}

/// A peer listener that a client rnc connects to.
pub enum PeerListener {
    /// Listening on 127.0.0.1 with a kernel-chosen port.
    Tcp(TcpListener),
    /// Listening on a path.
    Unix(UnixListener, PathBuf),
}

impl StreamTransport {
    /// A peer listener (its Unix path in `dir`) and the rnc arguments that connect to it.
    pub fn peer_listener(self, dir: &Path) -> (PeerListener, Vec<String>) {
        match self {
            Self::Tcp => {
                let (listener, port) = tcp_listener();
                let args = vec!["127.0.0.1".to_string(), port.to_string()];
                (PeerListener::Tcp(listener), args)
            }
            Self::Unix => {
                let path = dir.join("peer.sock");
                let listener = UnixListener::bind(&path)
                    .unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
                let args = vec!["-U".to_string(), path.display().to_string()];
                (PeerListener::Unix(listener, path), args)
            }
        }
    }

    /// The rnc arguments for a listener of this transport (Unix path `dir/rnc.sock`).
    /// Both print a `listening on` line: TCP because it asks for port 0, Unix through `-v`.
    pub fn rnc_listen_args(self, dir: &Path) -> Vec<String> {
        match self {
            Self::Tcp => ["-l", "127.0.0.1", "0"].map(String::from).to_vec(),
            Self::Unix => {
                let path = dir.join("rnc.sock").display().to_string();
                vec!["-v".into(), "-l".into(), "-U".into(), path]
            }
        }
    }

    /// Waits for a listening rnc's `listening on` line and connects to it.
    pub fn connect_to(self, rnc: &mut Rnc) -> PeerStream {
        let addr = rnc.listening_addr();
        match self {
            Self::Tcp => PeerStream::Tcp(connect_tcp(&addr)),
            Self::Unix => PeerStream::Unix(connect_unix(Path::new(&addr))),
        }
    }
}

impl PeerListener {
    /// Accepts one connection, at most `TIMEOUT`.
    pub fn accept(&self) -> PeerStream {
        match self {
            Self::Tcp(listener) => PeerStream::Tcp(accept_tcp(listener).0),
            Self::Unix(listener, path) => PeerStream::Unix(accept_unix(listener, path)),
        }
    }
}

impl PeerStream {
    /// Bound every read from the peer by `TIMEOUT`.
    pub fn read_within_timeout(&self) {
        match self {
            Self::Tcp(s) => s.set_read_timeout(Some(TIMEOUT)),
            Self::Unix(s) => s.set_read_timeout(Some(TIMEOUT)),
        }
        .expect("set a read timeout");
    }

    /// `shutdown(how)` on the socket.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.shutdown(how),
            Self::Unix(s) => s.shutdown(how),
        }
    }
}

impl Read for PeerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for PeerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TimedRead for PeerStream {
    fn set_read_limit(&self, limit: Duration) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_read_timeout(Some(limit)),
            Self::Unix(s) => s.set_read_timeout(Some(limit)),
        }
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

/// Runs named test cases one after another, each caught on its own, then fails listing
/// every case that panicked with its message (so a table-driven test names its failures
/// and one failure does not hide the next).
pub fn run_cases<F: FnOnce()>(cases: impl IntoIterator<Item = (String, F)>) {
    let mut failed = Vec::new();
    for (name, case) in cases {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case)) {
            failed.push(format!("{name}: {}", panic_text(payload.as_ref())));
        }
    }
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// Like `run_cases`, but every case runs at once in its own named thread.
pub fn run_cases_parallel<F: FnOnce() + Send>(cases: impl IntoIterator<Item = (String, F)>) {
    let failed: Vec<String> = thread::scope(|scope| {
        let running: Vec<_> = cases
            .into_iter()
            .map(|(name, case)| {
                let handle = thread::Builder::new()
                    .name(name.clone())
                    .spawn_scoped(scope, case)
                    .expect("spawn a case thread");
                (name, handle)
            })
            .collect();
        running
            .into_iter()
            .filter_map(|(name, handle)| {
                let payload = handle.join().err()?;
                Some(format!("{name}: {}", panic_text(payload.as_ref())))
            })
            .collect()
    });
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// The message of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "(non-text panic)".to_string()
    }
}

// ---------------------------------------------------------------------------------------
// CPU, socket-state and reset helpers for the faults, limits and hostile-input families.

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

/// Closes `stream` with SO_LINGER 0: the peer gets RST instead of FIN.
pub fn reset_close(stream: TcpStream) {
    let socket = socket2::Socket::from(stream);
    socket
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(socket);
}

/// A listener with backlog 0 whose accept queue is full: further connects to it hang in
/// SYN_SENT (Linux drops their SYNs). Returns the listener, its port and the queued client.
pub fn never_accepting_listener() -> (socket2::Socket, u16, TcpStream) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
    listener.bind(&addr.into()).expect("bind 127.0.0.1:0");
    listener.listen(0).expect("listen(0)");
    let port = listener
        .local_addr()
        .expect("local_addr")
        .as_socket()
        .expect("inet")
        .port();
    let queued = TcpStream::connect(("127.0.0.1", port)).expect("queue one connection");
    (listener, port, queued)
}

impl Spawn {
    /// Adds one argument that need not be UTF-8 (hostile-input tests).
    pub fn arg_os(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }
}

impl Rnc {
    /// Waits until stderr holds `n` complete lines containing `needle`, at most `TIMEOUT`.
    pub fn wait_stderr_count(&mut self, needle: &str, n: usize) {
        let deadline = Deadline::new();
        loop {
            let seen = self
                .stderr_buf
                .split_inclusive('\n')
                .filter(|l| l.ends_with('\n') && l.contains(needle))
                .count();
            if seen >= n {
                return;
            }
            assert!(
                !self.stderr_eof,
                "{} ended after {seen} of {n} lines containing `{needle}`",
                self.name
            );
            match self.stderr_rx.recv_timeout(deadline.remaining()) {
                Ok(chunk) => self.stderr_buf.push_str(&String::from_utf8_lossy(&chunk)),
                Err(RecvTimeoutError::Disconnected) => self.stderr_eof = true,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{seen} of {n} stderr lines containing `{needle}` from {} within {TIMEOUT:?}",
                    self.name
                ),
            }
        }
    }
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

// ---------------------------------------------------------------------------------------
// tmux, a real terminal emulator with a shell's job control.

/// A private tmux server (`tmux -L NAME`), killed when dropped.
pub struct Tmux {
    tmux: PathBuf,
    name: String,
}

impl Tmux {
    /// Starts a detached session running `command` in a 100x20 pane, or `None` (with a
    /// message) when tmux is missing.
    pub fn start(command: &str) -> Option<Tmux> {
        static SERIAL: AtomicUsize = AtomicUsize::new(0);
        let tmux = installed_tool("tmux")?;
        let name = format!(
            "rnc-test-{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let server = Tmux { tmux, name };
        let status = server
            .command()
            .args(["new-session", "-d", "-x", "100", "-y", "20", command])
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        Some(server)
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.tmux);
        c.args(["-L", &self.name, "-f", "/dev/null"]);
        c.env_remove("TMUX");
        c
    }

    /// Types `keys` into the pane (tmux key names such as `Enter` or `C-z` allowed).
    pub fn send_keys(&self, keys: &[&str]) {
        let status = self
            .command()
            .arg("send-keys")
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success(), "tmux send-keys failed");
    }

    /// The pane's visible text.
    pub fn capture(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pane's scrollback: the lines that scrolled off its top (or were copied there
    /// when the screen was cleared).
    pub fn history(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-S", "-", "-E", "-1"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the pane no longer shows `needle`, at most 10 s.
    pub fn wait_gone(&self, needle: &str) {
        let deadline = Deadline::new();
        loop {
            let pane = self.capture();
            if !pane.contains(needle) {
                return;
            }
            assert!(
                !deadline.expired(),
                "the pane kept showing `{needle}`:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the pane shows `needle`, at most 10 s, and returns the pane.
    pub fn wait_for(&self, needle: &str) -> String {
        let deadline = Deadline::new();
        loop {
            let pane = self.capture();
            if pane.contains(needle) {
                return pane;
            }
            assert!(
                !deadline.expired(),
                "the pane never showed `{needle}`:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs a blocking socket or pipe call again when a signal interrupts it (`EINTR`), as
/// `read_exact` and `read_to_end` do on their own.
pub fn retry_eintr<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}
