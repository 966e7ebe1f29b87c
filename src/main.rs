//! rnc's entry point: installs the panic hook, parses the command line, runs, prints the
//! error once, and turns the outcome into the exit code.
//!
//! Nothing below `main` exits the process, so every destructor (stdin flags, Unix socket
//! files) runs on every path.

mod busy_poll;
mod cli;
mod config;
mod error;
mod event_loop;
mod generate;
mod net;
mod notices;
mod relay;
mod run;
mod sys;
#[cfg(test)]
mod test_support;
mod trace;
mod tty;

use std::process::ExitCode;

use clap::Parser;

use crate::notices::print_line;

fn main() -> ExitCode {
    install_panic_hook();
    let cli = cli::Cli::parse();
    if let Some(kind) = cli.generate {
        return print_generated(kind);
    }
    let config = match config::Config::from_cli(cli) {
        Ok(config) => config,
        Err(e) => {
            print_line(&e.one_line());
            return ExitCode::from(e.exit_code());
        }
    };
    match run::run(&config) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            print_line(&e.one_line());
            ExitCode::from(e.exit_code())
        }
    }
}

/// `--generate KIND` on stdout; a reader that went away (`| head`) is a quiet end, as for
/// a session.
fn print_generated(kind: cli::Generate) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match generate::generate(kind, &mut stdout).and_then(|()| std::io::Write::flush(&mut stdout)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            print_line(&format!("write to stdout: {}", error::describe_io(&e)));
            ExitCode::from(1)
        }
    }
}

/// A panic is a bug in rnc: say so on one line, without a backtrace, and let unwinding
/// run the destructors that put stdin's flags back.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        // The terminal first (ratatui's order), so the message lands on a sane screen.
        tty::terminal::restore();
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        print_line(&format!(
            "internal error{location}: {payload} (please report this bug)"
        ));
    }));
}
