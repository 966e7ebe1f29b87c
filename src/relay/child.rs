//! A program per connection (`-e`, `-c`): started with its stdin and stdout on pipes rnc
//! watches on the same loop (no thread per child), its stderr passed through to rnc's, and
//! an environment that names the connection (`RNC_REMOTE_ADDR`…, and ncat's `NCAT_*`
//! names so ncat's scripts work unchanged). When a connection ends before its program
//! does, the program gets SIGTERM, then SIGKILL after a grace; every child is reaped.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::config::ExecCommand;
use crate::error::{Error, Result};
use crate::notices::print_line;
use crate::relay::stdio::StdStream;

/// How long a program has between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(1);

/// What the program's environment says about its connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionEnv {
    /// `tcp`, `udp` or `unix`.
    pub(crate) proto: &'static str,
    /// Our end (IP transports).
    pub(crate) local: Option<SocketAddr>,
    /// The peer's end (IP transports, once known).
    pub(crate) remote: Option<SocketAddr>,
}

/// A running program and the pipes to it, until the relay takes them.
pub(crate) struct ChildProgram {
    /// The process.
    child: Child,
    /// As the user typed it.
    shown: String,
}

/// The program's end of a connection: its stdout (what goes to the peer) and its stdin
/// (what the peer sent), non-blocking.
pub(crate) struct ChildPipes {
    /// Read end of the program's stdout.
    pub(crate) from_program: StdStream,
    /// Write end of the program's stdin.
    pub(crate) to_program: StdStream,
}

/// Start `command` for a connection described by `env`.
pub(crate) fn spawn(
    command: &ExecCommand,
    env: &ConnectionEnv,
) -> Result<(ChildProgram, ChildPipes)> {
    let failed = |source: std::io::Error| Error::Exec {
        program: command.shown.clone(),
        source,
    };
    let mut cmd = Command::new(&command.argv[0]);
    cmd.args(&command.argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut vars = vec![("PROTO", env.proto.to_uppercase())];
    if let Some(local) = env.local {
        vars.push(("LOCAL_ADDR", local.ip().to_string()));
        vars.push(("LOCAL_PORT", local.port().to_string()));
    }
    if let Some(remote) = env.remote {
        vars.push(("REMOTE_ADDR", remote.ip().to_string()));
        vars.push(("REMOTE_PORT", remote.port().to_string()));
    }
    for (name, value) in &vars {
        cmd.env(format!("RNC_{name}"), value);
        cmd.env(format!("NCAT_{name}"), value);
    }
    let mut child = cmd.spawn().map_err(failed)?;
    let stdin: OwnedFd = child.stdin.take().expect("piped stdin").into();
    let stdout: OwnedFd = child.stdout.take().expect("piped stdout").into();
    let pipes = ChildPipes {
        from_program: StdStream::from_pipe(stdout).map_err(failed)?,
        to_program: StdStream::from_pipe(stdin).map_err(failed)?,
    };
    Ok((
        ChildProgram {
            child,
            shown: command.shown.clone(),
        },
        pipes,
    ))
}

/// `-v`'s words for how a program ended.
fn describe_exit(shown: &str, status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("program `{shown}` exited with status {code}"),
        (None, Some(signal)) => format!("program `{shown}` was killed by signal {signal}"),
        _ => format!("program `{shown}` ended"),
    }
}

/// How far a program's ending has gone.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// Its output ended: it may exit on its own until then, then gets SIGTERM.
    Exiting(Instant),
    /// SIGTERM sent: SIGKILL at this time.
    Terminated(Instant),
    /// SIGKILL sent (or it cannot be signalled): reaped when it goes.
    Killed,
}

/// Programs whose connection is over: asked to stop (SIGTERM), then killed (SIGKILL) after
/// `GRACE`, and reaped, so no zombie is left however many connections come and go.
#[derive(Default)]
pub(crate) struct Reaper {
    /// Each program, and how far its ending has gone.
    ending: Vec<(ChildProgram, Stage)>,
    /// `-v`: say how each ended.
    verbose: bool,
}

impl Reaper {
    /// A reaper; `verbose` reports each program's exit status.
    pub(crate) fn new(verbose: bool) -> Reaper {
        Reaper {
            ending: Vec::new(),
            verbose,
        }
    }

    /// The connection of `program` is over. When the connection ended first (the client
    /// left, a timer, an error), a program still running gets SIGTERM now; when the
    /// program ended its output itself, it gets a grace to exit on its own first.
    pub(crate) fn end(&mut self, mut program: ChildProgram, now: Instant, connection_first: bool) {
        let stage = match program.child.try_wait() {
            Ok(Some(status)) => {
                self.report(&program, status);
                return;
            }
            Ok(None) if connection_first => {
                terminate(&program.child);
                Stage::Terminated(now + GRACE)
            }
            Ok(None) => Stage::Exiting(now + GRACE),
            Err(_) => Stage::Killed,
        };
        self.ending.push((program, stage));
    }

    /// Reap what has exited; SIGTERM, then SIGKILL, what outlived its grace.
    pub(crate) fn poll(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.ending.len() {
            let (program, stage) = &mut self.ending[i];
            match program.child.try_wait() {
                Ok(Some(status)) => {
                    let (program, _) = self.ending.swap_remove(i);
                    self.report(&program, status);
                    continue;
                }
                Ok(None) => match *stage {
                    Stage::Exiting(at) if now >= at => {
                        terminate(&program.child);
                        *stage = Stage::Terminated(now + GRACE);
                    }
                    Stage::Terminated(at) if now >= at => {
                        let _ = program.child.kill();
                        *stage = Stage::Killed;
                    }
                    _ => {}
                },
                Err(_) => {
                    self.ending.swap_remove(i);
                    continue;
                }
            }
            i += 1;
        }
    }

    /// When `poll` should next run: soon while any program is still ending.
    pub(crate) fn next_deadline(&self, now: Instant) -> Option<Instant> {
        (!self.ending.is_empty()).then(|| now + Duration::from_millis(20))
    }

    /// At exit: stop and reap every program (waits at most `GRACE`).
    pub(crate) fn finish(&mut self) {
        let until = Instant::now() + GRACE;
        for (program, _) in &mut self.ending {
            if let Ok(None) = program.child.try_wait() {
                terminate(&program.child);
            }
        }
        while !self.ending.is_empty() && Instant::now() < until {
            self.poll(Instant::now());
            std::thread::sleep(Duration::from_millis(5));
        }
        for (program, _) in &mut self.ending {
            let _ = program.child.kill();
            let _ = program.child.wait();
        }
        self.ending.clear();
    }

    fn report(&self, program: &ChildProgram, status: ExitStatus) {
        if self.verbose {
            print_line(&describe_exit(&program.shown, status));
        }
    }
}

/// SIGTERM to `child`.
fn terminate(child: &Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_exit_words() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            describe_exit("cat", ExitStatus::from_raw(3 << 8)),
            "program `cat` exited with status 3"
        );
        assert_eq!(
            describe_exit("cat", ExitStatus::from_raw(15)),
            "program `cat` was killed by signal 15"
        );
    }

    #[test]
    fn child_reaper_kills_a_program_that_ignores_sigterm() {
        let command = ExecCommand {
            argv: vec![
                "/bin/sh".into(),
                "-c".into(),
                "trap '' TERM; sleep 30".into(),
            ],
            shown: "stubborn".into(),
        };
        let (program, _pipes) = spawn(&command, &ConnectionEnv::default()).expect("spawn sh");
        let pid = program.child.id();
        let mut reaper = Reaper::new(false);
        std::thread::sleep(Duration::from_millis(100));
        reaper.end(program, Instant::now(), true);
        reaper.finish();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "the program is gone and reaped"
        );
    }
}
