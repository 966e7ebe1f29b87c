//! Table-driven tests: run named cases, one after another or all at once, and fail once,
//! naming every case that panicked, so one failure never hides the next.

use std::thread;

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
