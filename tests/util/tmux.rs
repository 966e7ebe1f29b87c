//! tmux, a real terminal emulator with a shell's job control: a private server per test
//! (`tmux -L NAME`) to type keys into and capture the pane from, killed when dropped.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::peers::installed_tool;
use super::spawn::Deadline;

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
