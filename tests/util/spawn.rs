//! Spawning rnc (and the tools it is compared with) under one harness: the `Spawn`
//! builder and its stdio kinds (`Input`, `Output`), the running `Rnc` whose stdout and
//! stderr reader threads feed channels, its `Exit`, the `ChildGuard` that kills and reaps
//! a child on every path, and the `Deadline` that bounds every wait in the suite.
//!
//! Every wait here is bounded (10 s by default) and waits for something observable: a line
//! on stderr, bytes on stdout, EOF, or the exit. Nothing here sleeps to let another process
//! "get ready". Sockets belong to `peers`, `/proc` readings to `procfs`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Once;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Resource, Rlimit};

use super::peers::{installed_tool, skip_or_fail};
use super::procfs::first_unprivileged_port;

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

    /// Adds one argument that need not be UTF-8 (hostile-input tests).
    pub fn arg_os(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Starts the process. stderr is always piped and drained by a reader thread.
    pub fn spawn(self) -> Rnc {
        raise_fd_limit();
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

/// Raises this test binary's soft open-file limit to its hard limit, once. Tests run in
/// parallel, each with its peers' sockets, the pipes of its children and their reader
/// threads, and some open hundreds of sockets: the usual soft limit of 1024 is too close.
/// Children inherit the raised limit; a test that needs rnc to have a low one sets it.
fn raise_fd_limit() {
    static RAISED: Once = Once::new();
    RAISED.call_once(|| {
        let limit = rustix::process::getrlimit(Resource::Nofile);
        // `None` is unlimited; only a finite soft limit below a finite hard one can grow.
        if let (Some(soft), Some(hard)) = (limit.current, limit.maximum)
            && soft < hard
        {
            rustix::process::setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(hard),
                    maximum: Some(hard),
                },
            )
            .unwrap_or_else(|e| panic!("raise RLIMIT_NOFILE from {soft} to {hard}: {e}"));
        }
    });
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

    /// Waits for `rnc: listening on ADDR` and returns ADDR.
    pub fn listening_addr(&mut self) -> String {
        let line = self.wait_stderr("listening on ");
        let at = line.find("listening on ").expect("matched above") + "listening on ".len();
        // `-v` adds ` (backlog 4096)` after a stream listener's address.
        let rest = &line[at..];
        let addr = rest.find(" (backlog ").map_or(rest, |end| &rest[..end]);
        addr.trim().to_string()
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

/// A real pipe made without `unsafe` and within the crate's MSRV (`std::io::pipe` is
/// newer): `cat`'s stdout. Returns its read end and the `cat` process, whose stdin the
/// test writes (and closes, for EOF on the read end).
pub fn pipe_through_cat() -> (OwnedFd, Rnc) {
    let mut cat = Rnc::tool(Path::new("/bin/cat"), &[])
        .stdout(Output::Raw)
        .spawn();
    (OwnedFd::from(cat.take_stdout()), cat)
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
