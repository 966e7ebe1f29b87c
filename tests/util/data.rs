//! Test data and files: seeded pseudo-random payloads, a byte comparison that does not
//! print megabytes, and per-test temporary directories short enough for Unix socket paths.

use std::path::{Path, PathBuf};

/// 8 MiB: large enough to fill every socket and pipe buffer several times over.
pub const BIG: usize = 8 * 1024 * 1024;

/// `len` pseudo-random bytes from a seeded xorshift64, the same for the same seed.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Asserts two byte strings are equal without printing megabytes on failure.
#[track_caller]
pub fn assert_same_bytes(actual: &[u8], expected: &[u8]) {
    if actual != expected {
        let first_diff = actual
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(actual.len().min(expected.len()));
        panic!(
            "bytes differ: got {} bytes, expected {}; first difference at offset {first_diff}",
            actual.len(),
            expected.len()
        );
    }
}

/// A per-test temporary directory with a short path (Unix socket paths must stay < 100 bytes).
pub fn temp_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("rnc-")
        .tempdir_in("/tmp")
        .expect("create temp dir in /tmp");
    assert!(dir.path().as_os_str().len() < 40);
    dir
}

/// Writes `data` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}
