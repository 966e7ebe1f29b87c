//! The traffic log flags (`-o`, `--hex-dump`, `--append-output`) → `LogOptions`, checked
//! against the mode; pure (`relay/tap.rs` opens the files).

use std::path::PathBuf;

use super::{Mode, usage};
use crate::cli::Cli;
use crate::error::Result;

/// Where the session's bytes are logged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LogOptions {
    /// `-o`: the bytes as they are.
    pub(crate) output: Option<PathBuf>,
    /// `--hex-dump`: their hex dump.
    pub(crate) hex_dump: Option<PathBuf>,
    /// `--append-output`: append instead of emptying the files.
    pub(crate) append: bool,
}

/// The log flags, checked. `serves_programs`: `-k -e`, where no session of rnc's own
/// carries bytes (each client talks to its own program).
pub(crate) fn log_options(cli: &Cli, mode: Mode, serves_programs: bool) -> Result<LogOptions> {
    let options = LogOptions {
        output: cli.output.clone(),
        hex_dump: cli.hex_dump.clone(),
        append: cli.append_output,
    };
    if options.output.is_none() && options.hex_dump.is_none() {
        if options.append {
            return usage("`--append-output` needs `-o` or `--hex-dump`");
        }
        return Ok(options);
    }
    if matches!(mode, Mode::Probe | Mode::Scan) {
        return usage("`-o`/`--hex-dump` log a session's bytes: not with `-z`");
    }
    if serves_programs {
        return usage(
            "`-o`/`--hex-dump` with `-k -e`: each client has its own program and there is \
             no one session to log",
        );
    }
    if options.output.is_some() && options.output == options.hex_dump {
        return usage("`-o` and `--hex-dump` need different files");
    }
    Ok(options)
}
