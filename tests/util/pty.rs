//! The pty harness for `tests/tty.rs`: rnc on the slave side of a fresh pseudo-terminal
//! that is its controlling terminal (`setsid --ctty`), what it draws read through the
//! `vt100` emulator, keys typed on the master side, and a loopback TCP `Peer`.
//!
//! `Launch` says how to start rnc (arguments, size, which stdio is a pipe or a file);
//! `Tty` is the running rnc and its emulated screen, killed and reaped when dropped. Every
//! wait is bounded by `TIMEOUT` and waits for the screen, the peer's socket or the exit.
//! `Tty::expect_exit` checks what every exit path must leave behind: the terminal mode
//! from before (same `stty -g`), a visible cursor, no status or input row, no scroll
//! region, no bracketed paste and no colour. Tests live in `tests/tty.rs`, not here.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroU16;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, Signal};
use rustix::pty::OpenptFlags;
use rustix::termios::{SpecialCodeIndex, Winsize};

use super::peers::retry_eintr;
use super::spawn::{Deadline, RNC, TIMEOUT, drain_in_thread};

/// The default terminal height.
pub const ROWS: u16 = 12;
/// The default terminal width.
pub const COLS: u16 = 100;

/// What the shell showed before rnc started (its own command line): rnc must keep it.
pub const SHELL_LINE: &str = "$ rnc 127.0.0.1 PORT";

/// What the test prints after rnc exits, as the shell's next prompt would.
pub const NEXT_PROMPT: &str = "$ next-prompt";

/// The separator between the local and the peer address: only the status row has it.
pub const ARROWS: &str = "⇄";

/// Terminal side effects that do not show on the screen grid, recorded by `vt100`.
#[derive(Debug, Default)]
pub struct Effects {
    /// Window titles and icon names set (OSC 0, 1, 2).
    pub titles: Vec<String>,
    /// Audible and visual bells.
    pub bells: usize,
    /// Clipboard reads and writes (OSC 52).
    pub clipboard: usize,
}

impl vt100::Callbacks for Effects {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
    }

    fn visual_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
    }

    fn set_window_icon_name(&mut self, _: &mut vt100::Screen, name: &[u8]) {
        self.titles.push(String::from_utf8_lossy(name).into_owned());
    }

    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.titles
            .push(String::from_utf8_lossy(title).into_owned());
    }

    fn copy_to_clipboard(&mut self, _: &mut vt100::Screen, _: &[u8], _: &[u8]) {
        self.clipboard += 1;
    }

    fn paste_from_clipboard(&mut self, _: &mut vt100::Screen, _: &[u8]) {
        self.clipboard += 1;
    }
}

/// The terminal mode as `stty -g` sees it: every flag word, the line discipline, the
/// special characters and the speeds.
#[derive(Debug, PartialEq, Eq)]
struct TermMode {
    input: rustix::termios::InputModes,
    output: rustix::termios::OutputModes,
    control: rustix::termios::ControlModes,
    local: rustix::termios::LocalModes,
    line_discipline: u8,
    special_codes: String,
    speeds: (u32, u32),
}

fn term_mode(fd: impl AsFd) -> TermMode {
    let t = rustix::termios::tcgetattr(fd).expect("tcgetattr on the pty slave");
    TermMode {
        input: t.input_modes,
        output: t.output_modes,
        control: t.control_modes,
        local: t.local_modes,
        line_discipline: t.line_discipline,
        special_codes: format!("{:?}", t.special_codes),
        speeds: (t.input_speed(), t.output_speed()),
    }
}

fn set_window_size(fd: impl AsFd, rows: u16, cols: u16) {
    let size = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(fd, size).expect("TIOCSWINSZ on the pty");
}

fn nonzero(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).expect("terminal sizes are positive")
}

/// A new pty pair of the given size: (master, slave). Neither becomes the test's
/// controlling terminal.
fn open_pty(rows: u16, cols: u16) -> (File, File) {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = rustix::pty::openpt(flags).expect("posix_openpt");
    rustix::pty::grantpt(&master).expect("grantpt");
    rustix::pty::unlockpt(&master).expect("unlockpt");
    let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("open the pty slave");
    set_window_size(&slave, rows, cols);
    // A mode that differs from the kernel's default, so "restored" cannot mean "reset to
    // defaults": ^H erases, ^X kills the line.
    let mut mode = rustix::termios::tcgetattr(&slave).expect("tcgetattr");
    mode.special_codes[SpecialCodeIndex::VERASE] = 0x08;
    mode.special_codes[SpecialCodeIndex::VKILL] = 0x18;
    rustix::termios::tcsetattr(&slave, rustix::termios::OptionalActions::Now, &mode)
        .expect("tcsetattr");
    (File::from(master), File::from(slave))
}

/// How to start rnc in the pty.
pub struct Launch {
    args: Vec<String>,
    no_color: bool,
    stdin_pipe: bool,
    stdout_pipe: bool,
    /// stdin from this file instead of the pty.
    stdin_file: Option<std::path::PathBuf>,
    /// stdout to this file instead of the pty.
    stdout_file: Option<std::path::PathBuf>,
    /// Environment set on top of the defaults (a UTF-8 locale).
    env: Vec<(String, String)>,
    rows: u16,
    cols: u16,
}

impl Launch {
    /// rnc with these arguments (the peer's address is appended by `connect`).
    pub fn new(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|a| a.to_string()).collect(),
            no_color: false,
            stdin_pipe: false,
            stdout_pipe: false,
            stdin_file: None,
            stdout_file: None,
            env: Vec::new(),
            rows: ROWS,
            cols: COLS,
        }
    }

    /// stdin read from `path` (stdout and stderr stay on the pty).
    pub fn stdin_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.stdin_file = Some(path.into());
        self
    }

    /// stdout written to `path`, created or truncated (`rnc … > file`).
    pub fn stdout_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.stdout_file = Some(path.into());
        self
    }

    /// `name=value` in rnc's environment (after the defaults: `LANG=C.UTF-8`, no
    /// `LC_ALL` or `LC_CTYPE`).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// `NO_COLOR=1` in the environment.
    pub fn no_color(mut self) -> Self {
        self.no_color = true;
        self
    }

    /// stdin is a pipe (stdout and stderr stay on the pty): not interactive.
    pub fn stdin_pipe(mut self) -> Self {
        self.stdin_pipe = true;
        self
    }

    /// stdout is a pipe the test reads (stdin and stderr stay on the pty): the progress
    /// line case, `rnc … > file` in a terminal.
    pub fn stdout_pipe(mut self) -> Self {
        self.stdout_pipe = true;
        self
    }

    /// The terminal's size at start.
    pub fn size(mut self, rows: u16, cols: u16) -> Self {
        self.rows = rows;
        self.cols = cols;
        self
    }

    /// Start rnc against a fresh loopback listener and accept its connection. When
    /// interactive, also wait until the status row says `connected`.
    pub fn connect(mut self) -> (Tty, Peer) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("listener address").port();
        self.args.push("127.0.0.1".to_string());
        self.args.push(port.to_string());
        // A terminal under 4 rows has no status row to wait for.
        let interactive = !self.stdin_pipe
            && !self.stdout_pipe
            && self.stdin_file.is_none()
            && self.stdout_file.is_none()
            && self.rows >= 4
            && !self.args.iter().any(|a| a == "--no-status");
        let mut tty = self.spawn();
        let stream = tty.accept(&listener);
        let peer = Peer {
            local: stream.local_addr().expect("peer address").to_string(),
            rnc: stream.peer_addr().expect("rnc's address").to_string(),
            stream,
        };
        if interactive {
            let want = peer.local.clone();
            tty.wait_for("the status row to say connected", |t| {
                let status = t.status_row();
                status.contains("connected") && status.contains(&want)
            });
        }
        (tty, peer)
    }

    /// Start rnc in a fresh pty, without a peer (the arguments say where it connects or
    /// listens).
    pub fn spawn(self) -> Tty {
        let (master, slave) = open_pty(self.rows, self.cols);
        let before = term_mode(&slave);
        // The shell echoed its command line before starting rnc.
        (&slave)
            .write_all(format!("{SHELL_LINE}\n").as_bytes())
            .expect("write to the pty slave");
        let stdio = || Stdio::from(OwnedFd::from(slave.try_clone().expect("dup the slave")));
        let mut cmd = Command::new("setsid");
        if !self.stdin_pipe && self.stdin_file.is_none() {
            // The controlling terminal is taken from stdin.
            cmd.arg("--ctty");
        }
        let stdin = match &self.stdin_file {
            Some(path) => Stdio::from(File::open(path).expect("open rnc's stdin file")),
            None if self.stdin_pipe => Stdio::piped(),
            None => stdio(),
        };
        let stdout = match &self.stdout_file {
            Some(path) => Stdio::from(File::create(path).expect("create rnc's stdout file")),
            None if self.stdout_pipe => Stdio::piped(),
            None => stdio(),
        };
        cmd.arg(RNC)
            .args(&self.args)
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .env_remove("COLUMNS")
            .env_remove("LINES")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stdio());
        if self.no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let mut child = cmd
            .spawn()
            .expect("setsid (util-linux) runs rnc in a session of its own");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(drain_in_thread);
        // The reader ends with EIO once every slave fd is closed.
        let rx = drain_in_thread(master.try_clone().expect("dup the master"));
        Tty {
            child,
            exited: None,
            master,
            slave: Some(slave),
            stdin,
            stdout,
            output: rx,
            disconnected: false,
            all_output: Vec::new(),
            parser: vt100::Parser::new_with_callbacks(
                nonzero(self.rows),
                nonzero(self.cols),
                1000,
                Effects::default(),
            ),
            before,
        }
    }
}

/// rnc running in a pty, with the emulated screen. Dropping it kills and reaps rnc.
pub struct Tty {
    child: Child,
    exited: Option<ExitStatus>,
    /// Keys go here.
    master: File,
    /// Kept open for `tcgetattr` and resizing; `None` once the test is done with it.
    slave: Option<File>,
    /// rnc's stdin when it is a pipe.
    pub stdin: Option<ChildStdin>,
    /// rnc's stdout when it is a pipe, chunk by chunk.
    pub stdout: Option<Receiver<Vec<u8>>>,
    /// What rnc wrote to the terminal, chunk by chunk, from the reader thread.
    output: Receiver<Vec<u8>>,
    /// The reader thread has ended.
    disconnected: bool,
    /// Everything rnc wrote to the terminal so far.
    pub all_output: Vec<u8>,
    /// The terminal emulator: the screen and the side effects it recorded.
    pub parser: vt100::Parser<Effects>,
    /// The terminal mode before rnc started.
    before: TermMode,
}

impl Drop for Tty {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Closing the last slave fd ends the reader thread (EIO on the master).
        self.slave = None;
    }
}

impl Tty {
    /// rnc's pid.
    pub fn pid(&self) -> Pid {
        Pid::from_child(&self.child)
    }

    /// The emulated screen.
    pub fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    /// The screen's height.
    pub fn rows(&self) -> u16 {
        self.screen().size().0.get()
    }

    /// The screen's width.
    pub fn cols(&self) -> u16 {
        self.screen().size().1.get()
    }

    /// The screen's rows as text, trailing blanks trimmed.
    pub fn lines(&self) -> Vec<String> {
        self.screen()
            .rows(0, self.cols())
            .map(|r| r.trim_end().to_string())
            .collect()
    }

    /// Row `row` as text, trailing blanks trimmed.
    pub fn line(&self, row: u16) -> String {
        self.lines()[usize::from(row)].clone()
    }

    /// The last row.
    pub fn status_row(&self) -> String {
        self.line(self.rows() - 1)
    }

    /// The row above the status row.
    pub fn input_row(&self) -> String {
        self.line(self.rows() - 2)
    }

    /// Whether some row is exactly `text` (trailing blanks ignored).
    pub fn has_line(&self, text: &str) -> bool {
        self.lines().iter().any(|l| l == text)
    }

    /// The row that is exactly `text`.
    pub fn row_of(&self, text: &str) -> u16 {
        let row = self.lines().iter().position(|l| l == text);
        let row = row.unwrap_or_else(|| panic!("no row {text:?} on\n{}", self.dump()));
        u16::try_from(row).expect("few rows")
    }

    /// The screen with row numbers and the cursor, for failure messages.
    pub fn dump(&self) -> String {
        let (row, col) = self.screen().cursor_position();
        let mut out = format!(
            "--- {}x{} screen, cursor at ({row}, {col}) ---\n",
            self.rows(),
            self.cols()
        );
        for (i, line) in self.lines().iter().enumerate() {
            out.push_str(&format!("{i:2}|{line}\n"));
        }
        out
    }

    /// Feed what has arrived within `wait` into the emulator.
    pub fn pump(&mut self, wait: Duration) {
        match self.output.recv_timeout(wait) {
            Ok(chunk) => {
                self.feed(&chunk);
                while let Ok(chunk) = self.output.try_recv() {
                    self.feed(&chunk);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => self.disconnected = true,
        }
    }

    /// Draws `chunk` of rnc's output, answering cursor position queries in it.
    pub fn feed(&mut self, chunk: &[u8]) {
        // Like a real terminal, answer a cursor position query (`ESC[6n`, which rnc sends
        // after a resize) with where the cursor is once the bytes before it are drawn.
        const QUERY: &[u8] = b"\x1b[6n";
        let mut rest = chunk;
        while let Some(at) = rest.windows(QUERY.len()).position(|w| w == QUERY) {
            let (before, after) = rest.split_at(at + QUERY.len());
            self.parser.process(before);
            let (row, col) = self.parser.screen().cursor_position();
            let answer = format!("\x1b[{};{}R", row + 1, col + 1);
            self.master
                .write_all(answer.as_bytes())
                .expect("answer the cursor query");
            rest = after;
        }
        self.parser.process(rest);
        self.all_output.extend_from_slice(chunk);
    }

    /// Wait until `ready` holds for the screen.
    pub fn wait_for(&mut self, what: &str, ready: impl Fn(&Tty) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if ready(self) {
                return;
            }
            let now = Instant::now();
            if now >= deadline || self.disconnected {
                panic!("timed out waiting for {what}\n{}", self.dump());
            }
            self.pump((deadline - now).min(Duration::from_millis(50)));
        }
    }

    /// Wait until some row is exactly `text`.
    pub fn wait_line(&mut self, text: &str) {
        let what = format!("a row {text:?}");
        self.wait_for(&what, |t| t.has_line(text));
    }

    /// The transcript's rows (above the input and status rows).
    pub fn transcript(&self) -> Vec<String> {
        let mut lines = self.lines();
        lines.truncate(usize::from(self.rows() - 2));
        lines
    }

    /// Wait until the transcript shows a line we sent (so not the input row, which has
    /// the same text until Enter is drawn).
    pub fn wait_sent(&mut self, line: &str) {
        let want = format!("> {line}");
        let what = format!("a transcript row {want:?}");
        self.wait_for(&what, |t| t.transcript().contains(&want));
    }

    /// Wait until the input row shows `typed` after the prompt, with the cursor at
    /// column `cursor` of the typed text.
    pub fn wait_input(&mut self, typed: &str, cursor: usize) {
        let want = format!("> {typed}");
        let what = format!("input row {want:?} with the cursor at {cursor}");
        let col = u16::try_from(2 + cursor).expect("short input");
        self.wait_for(&what, |t| {
            t.input_row() == want.trim_end() && t.screen().cursor_position() == (t.rows() - 2, col)
        });
    }

    /// Type on the keyboard.
    pub fn keys(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write keys to the pty");
    }

    /// Accept rnc's connection on `listener`.
    pub fn accept(&mut self, listener: &TcpListener) -> TcpStream {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking stream");
                    return stream;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept: {e}"),
            }
            if Instant::now() >= deadline || self.exit_status().is_some() {
                panic!(
                    "rnc did not connect (exit: {:?})\n{}",
                    self.exit_status(),
                    self.dump()
                );
            }
            self.pump(Duration::from_millis(10));
        }
    }

    /// Resize the terminal: the window size, the emulator, and SIGWINCH (sent by the
    /// kernel too, since the pty is rnc's controlling terminal; one more does no harm).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        // What rnc drew at the old size is drawn at the old size.
        while let Ok(chunk) = self.output.try_recv() {
            self.feed(&chunk);
        }
        set_window_size(self.slave.as_ref().expect("slave open"), rows, cols);
        self.parser.set_size(nonzero(rows), nonzero(cols));
        self.signal(Signal::WINCH);
    }

    /// Sends `signal` to rnc.
    pub fn signal(&self, signal: Signal) {
        rustix::process::kill_process(self.pid(), signal).expect("kill rnc");
    }

    /// rnc's exit status, if it has exited (without waiting).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("waitpid");
        }
        self.exited
    }

    /// Wait for rnc to exit with `code`, then check that it left the terminal as it found
    /// it: the same mode, a visible cursor, no status or input row, no scroll region,
    /// bracketed paste off, attributes reset, and the next prompt at column 0 right
    /// under what rnc left on screen. Returns the screen's rows with that prompt.
    pub fn expect_exit(&mut self, code: i32) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.exit_status() {
                break status;
            }
            if Instant::now() >= deadline {
                panic!("rnc did not exit\n{}", self.dump());
            }
            self.pump(Duration::from_millis(10));
        };
        let slave = self.slave.take().expect("slave open");
        assert_eq!(
            status.code(),
            Some(code),
            "exit status {status:?}\n{}",
            self.dump()
        );
        assert_eq!(
            term_mode(&slave),
            self.before,
            "the terminal mode differs after exit (stty -g)"
        );

        // The shell prints its next prompt: it lands where rnc left the cursor.
        (&slave)
            .write_all(NEXT_PROMPT.as_bytes())
            .expect("write to the pty slave");
        self.wait_line(NEXT_PROMPT);
        let screen = self.dump();
        let at_exit = self.lines();
        let prompt_row = self.row_of(NEXT_PROMPT);
        assert_eq!(
            self.screen().cursor_position(),
            (prompt_row, u16::try_from(NEXT_PROMPT.len()).expect("short")),
            "the prompt starts at column 0\n{screen}"
        );
        for (row, line) in self.lines().iter().enumerate() {
            assert!(
                !line.contains(ARROWS),
                "a status row was left on row {row}\n{screen}"
            );
            if row > usize::from(prompt_row) {
                assert!(line.is_empty(), "row {row} under the prompt:\n{screen}");
            }
        }
        assert!(!self.screen().hide_cursor(), "cursor hidden\n{screen}");
        assert!(
            !self.screen().bracketed_paste(),
            "bracketed paste left on\n{screen}"
        );
        let cell = self.screen().cell(prompt_row, 0).expect("cell");
        assert!(
            cell.fgcolor() == vt100::Color::Default
                && cell.bgcolor() == vt100::Color::Default
                && !cell.inverse()
                && !cell.bold()
                && !cell.dim(),
            "attributes left set\n{screen}"
        );

        // No scroll region: enough newlines scroll the whole screen, and the last one
        // lands on the last row.
        let scroll = "\n".repeat(usize::from(self.rows()));
        (&slave)
            .write_all(format!("{scroll}END").as_bytes())
            .expect("write to the pty slave");
        let last = self.rows() - 1;
        self.wait_for("END on the last row (no scroll region)", |t| {
            t.line(last) == "END"
        });
        assert!(
            self.lines()[..usize::from(last)]
                .iter()
                .all(String::is_empty),
            "everything scrolled off\n{}",
            self.dump()
        );
        assert!(self.parser.callbacks().titles.is_empty(), "window retitled");
        at_exit
    }

    /// Wait for rnc to exit, without checking anything: the screen may then be inspected
    /// before `expect_exit` lets the shell print its prompt.
    pub fn wait_exit(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        while self.exit_status().is_none() {
            if Instant::now() >= deadline {
                panic!("rnc did not exit\n{}", self.dump());
            }
            self.pump(Duration::from_millis(10));
        }
    }

    /// Another program on the same terminal prints `text` (as `tee` would).
    pub fn other_program_prints(&mut self, text: &str) {
        (self.slave.as_ref().expect("slave open"))
            .write_all(text.as_bytes())
            .expect("write to the pty slave");
    }

    /// The status row's cells (the whole last row).
    pub fn status_cells(&self) -> Vec<vt100::Cell> {
        let row = self.rows() - 1;
        (0..self.cols())
            .filter_map(|c| self.screen().cell(row, c).cloned())
            .collect()
    }

    /// Wait (bounded) until rnc has exited, keeping the pty open for more checks.
    pub fn wait_exited(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        while self.exit_status().is_none() {
            assert!(
                Instant::now() < deadline,
                "rnc did not exit\n{}",
                self.dump()
            );
            self.pump(Duration::from_millis(10));
        }
    }

    /// Start a shell on the same terminal once rnc is gone, as the user's shell reads it
    /// next, and end it with `exit`: returns what it left in `dir` (nothing, unless it ran
    /// something that was typed during rnc's session).
    pub fn shell_after_exit_creates(&mut self, dir: &std::path::Path) -> Vec<String> {
        let slave = self.slave.as_ref().expect("slave open");
        let mut shell = Command::new("sh")
            .current_dir(dir)
            .stdin(Stdio::from(OwnedFd::from(
                slave.try_clone().expect("dup the slave"),
            )))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh runs");
        self.keys(b"\nexit\n");
        let deadline = Instant::now() + TIMEOUT;
        while shell.try_wait().expect("waitpid sh").is_none() {
            if Instant::now() >= deadline {
                let _ = shell.kill();
                panic!("the shell did not exit");
            }
            self.pump(Duration::from_millis(10));
        }
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read the temp dir")
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }
}

/// The other end of rnc's TCP connection.
pub struct Peer {
    pub stream: TcpStream,
    /// Our address (rnc's peer).
    pub local: String,
    /// rnc's address.
    pub rnc: String,
}

impl Peer {
    /// Reads until EOF (bounded by `TIMEOUT` per read) and returns how many bytes came.
    pub fn read_to_eof(&mut self) -> u64 {
        let mut got = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        self.stream
            .set_read_timeout(Some(TIMEOUT))
            .expect("timeout");
        loop {
            match retry_eintr(|| self.stream.read(&mut buf)) {
                Ok(0) => return got,
                Ok(n) => got += n as u64,
                Err(e) => panic!("peer read after {got} bytes: {e}"),
            }
        }
    }

    /// Sends `bytes` to rnc.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("peer write");
    }

    /// Read exactly `expected.len()` bytes and compare.
    pub fn expect(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + TIMEOUT;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while got.len() < expected.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "peer timed out; got {:?}",
                String::from_utf8_lossy(&got)
            );
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            let want = (expected.len() - got.len()).min(buf.len());
            match self.stream.read(&mut buf[..want]) {
                Ok(0) => panic!("peer got EOF after {:?}", String::from_utf8_lossy(&got)),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("peer read: {e}"),
            }
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "what the peer received"
        );
    }

    /// Reads lines until one contains `needle` (bounded by `TIMEOUT`); returns every
    /// line read so far, the matching one last.
    pub fn read_until_line(&mut self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&got).into_owned();
            let lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
            if lines
                .iter()
                .any(|l| l.ends_with('\n') && l.contains(needle))
            {
                return lines;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no line with {needle:?}; got {text:?}");
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("peer got EOF before {needle:?}; got {text:?}"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("peer read: {e}"),
            }
        }
    }

    /// Read until EOF, which must come with no more data.
    pub fn expect_eof(&mut self) {
        self.stream
            .set_read_timeout(Some(TIMEOUT))
            .expect("timeout");
        let mut buf = [0u8; 256];
        match retry_eintr(|| self.stream.read(&mut buf)) {
            Ok(0) => {}
            Ok(n) => panic!(
                "peer expected EOF, got {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => panic!("peer expected EOF: {e}"),
        }
    }

    /// Close with an RST (SO_LINGER 0).
    pub fn reset(self) {
        socket2::SockRef::from(&self.stream)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER 0");
        drop(self.stream);
    }
}

/// The common start: rnc connected in a 12×100 terminal.
pub fn connected(args: &[&str]) -> (Tty, Peer) {
    Launch::new(args).connect()
}

/// The number of status rows on the screen.
pub fn status_rows(tty: &Tty) -> usize {
    tty.lines()
        .iter()
        .filter(|l| l.contains("tcp connected"))
        .count()
}

/// rnc connected in a 12×100 terminal whose transcript has scrolled (so the terminal has
/// scrollback), with `abc` typed.
pub fn connected_with_history() -> (Tty, Peer) {
    let (mut tty, mut peer) = connected(&[]);
    for i in 0..15 {
        peer.send(format!("line {i}\n").as_bytes());
    }
    tty.wait_line("line 14");
    tty.keys(b"abc");
    tty.wait_input("abc", 3);
    (tty, peer)
}

/// Waits (bounded) until the shell has written `path`.
pub fn wait_for_file(path: &str) {
    let deadline = Deadline::new();
    while std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(!deadline.expired(), "{path} never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the progress line is made of: none of it may stay on the screen after exit.
pub fn assert_no_progress_left(at_exit: &[String]) {
    for line in at_exit {
        assert!(
            !["tcp ", "connected", "↑", "↓", "%", "/s"]
                .iter()
                .any(|part| line.contains(part)),
            "a progress fragment was left on the screen: {at_exit:#?}"
        );
    }
}

/// Start an interactive `rnc -l 127.0.0.1 0 ARGS…` and read its port from the transcript.
pub fn interactive_listener(args: &[&str]) -> (Tty, u16) {
    let mut all = vec!["-l"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["127.0.0.1", "0"]);
    let mut tty = Launch::new(&all).spawn();
    tty.wait_for("the listening line", |t| {
        t.lines()
            .iter()
            .any(|l| l.contains("listening on 127.0.0.1:"))
    });
    let line = tty
        .lines()
        .into_iter()
        .find(|l| l.contains("listening on 127.0.0.1:"))
        .expect("listening line");
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (tty, port)
}

/// Whether `line` shows a percentage below 100 (`42%`), as the progress line and the
/// status row do while a file of known size is being sent.
pub fn shows_percent_below_100(line: &str) -> bool {
    line.split_whitespace().any(|w| {
        w.strip_suffix('%')
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n < 100)
    })
}
