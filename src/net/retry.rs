//! `--retry N` / `--retry-delay DURATION` (socat's `retry`): a client whose server is not
//! up yet tries again. Only a refusal is retried (nothing listens yet: `ECONNREFUSED`, or
//! a Unix socket path that does not exist yet); any other failure ends at once. The pause
//! waits through the loop, so signals, Ctrl-C and the status row stay live. Connecting
//! itself is `connect.rs`'s and `run.rs`'s; this only repeats it.

use std::io;
use std::time::{Duration, Instant};

use crate::config::RetryPolicy;
use crate::error::{Error, Result};
use crate::event_loop::{Loop, Outcome, Wait, wait_for};
use crate::notices::print_line;
use crate::relay::session::Session;

/// Whether `err` means "nothing accepts there yet", which a later try may not meet.
fn is_refusal(err: &Error) -> bool {
    match err {
        Error::Connect { source, .. } => matches!(
            source.kind(),
            io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
        ),
        _ => false,
    }
}

/// `d` as a person writes it: `1 s`, `250 ms`, `1.5 s`.
fn format_delay(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

/// Run `attempt` until it connects, fails other than by a refusal, or the retries run
/// out (then its last error is the error). `-v` shows each refusal and the pause; the
/// status row notes the attempt.
pub(crate) fn with_retries<T>(
    lp: &mut Loop,
    session: &mut Session,
    policy: Option<RetryPolicy>,
    verbose: bool,
    mut attempt: impl FnMut(&mut Loop, &mut Session) -> Result<std::result::Result<T, Outcome>>,
) -> Result<std::result::Result<T, Outcome>> {
    let Some(policy) = policy else {
        return attempt(lp, session);
    };
    let total = policy.retries.saturating_add(1);
    let mut number = 1;
    loop {
        match attempt(lp, session) {
            Err(err) if number < total && is_refusal(&err) => {
                number += 1;
                let delay = format_delay(policy.delay);
                if verbose {
                    print_line(&format!(
                        "{}; retrying in {delay} (attempt {number} of {total})",
                        err.one_line()
                    ));
                }
                session
                    .ui()
                    .note(&format!("refused; attempt {number} of {total} in {delay}"));
                if let Some(outcome) = pause(lp, session, policy.delay)? {
                    return Ok(Err(outcome));
                }
            }
            Ok(Ok(connected)) if number > 1 => {
                session
                    .ui()
                    .note(&format!("connected on attempt {number} of {total}"));
                return Ok(Ok(connected));
            }
            other => return other,
        }
    }
}

/// Wait `delay` with the loop running; the signal (or Ctrl-C) that ended the wait, if any.
fn pause(lp: &mut Loop, session: &mut Session, delay: Duration) -> Result<Option<Outcome>> {
    let deadline = Instant::now() + delay;
    loop {
        match wait_for(lp, session, None, Some(deadline))? {
            Wait::Ended(outcome) => return Ok(Some(outcome)),
            Wait::TimedOut => return Ok(None),
            Wait::Ready => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_only_a_refusal_is_retried() {
        let connect = |kind: io::ErrorKind| Error::Connect {
            addr: "127.0.0.1:9".into(),
            source: kind.into(),
        };
        assert!(is_refusal(&connect(io::ErrorKind::ConnectionRefused)));
        assert!(is_refusal(&connect(io::ErrorKind::NotFound)));
        assert!(!is_refusal(&connect(io::ErrorKind::PermissionDenied)));
        assert!(!is_refusal(&Error::ConnectTimeout {
            addr: "127.0.0.1:9".into(),
            secs: "1 s".into()
        }));
    }

    #[test]
    fn retry_delays_read_as_people_write_them() {
        assert_eq!(format_delay(Duration::from_secs(1)), "1 s");
        assert_eq!(format_delay(Duration::from_millis(250)), "250 ms");
        assert_eq!(format_delay(Duration::from_millis(1500)), "1.5 s");
    }
}
