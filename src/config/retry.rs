//! `--retry N` and `--retry-delay DURATION` → `RetryPolicy`, with their checks against the
//! mode and transport; pure, like the rest of `config` (retrying is `net/retry.rs`).

use std::time::Duration;

use super::{Mode, Transport, parse_timeout, usage};
use crate::cli::Cli;
use crate::error::{Error, Result};

/// `--retry N` with `--retry-delay`: how often and how patiently a refused connect is
/// tried again (`net/retry.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Connects tried again after the first one fails.
    pub(crate) retries: u32,
    /// The pause before each retry.
    pub(crate) delay: Duration,
}

/// The pause between retries when `--retry-delay` does not say (socat's `interval`).
const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// `--retry N` and `--retry-delay`: for a stream client only (a datagram connect is never
/// refused, and a listener or a probe has no server to wait for).
pub(super) fn retry_policy(
    cli: &Cli,
    mode: Mode,
    transport: Transport,
) -> Result<Option<RetryPolicy>> {
    let Some(text) = cli.retry.as_deref() else {
        return match cli.retry_delay {
            Some(_) => usage("`--retry-delay` needs `--retry`"),
            None => Ok(None),
        };
    };
    if mode != Mode::Connect {
        return usage("`--retry` is for a client (not with `-l` or `-z`)");
    }
    if transport.is_datagram() {
        return usage("`--retry` needs a stream socket: a datagram connect is never refused");
    }
    let retries = text
        .parse::<u32>()
        .ok()
        .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Error::Usage(format!("invalid `--retry {text}` (a number of retries)")))?;
    let delay = match cli.retry_delay.as_deref() {
        None => DEFAULT_RETRY_DELAY,
        Some(text) => parse_timeout("--retry-delay", text, true)?,
    };
    Ok(Some(RetryPolicy { retries, delay }))
}
