//! What the unit tests share: a skip that fails under CI, as the integration tests'
//! `skip_or_fail` does, so a machine that cannot run a test is never mistaken for a pass.

/// A test that cannot run here: a message on a developer's machine, a failure when `CI` is
/// set.
#[track_caller]
pub(crate) fn skip_or_fail(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("cannot run here, and CI is set: {why}");
    }
    eprintln!("skipping: {why}");
}
