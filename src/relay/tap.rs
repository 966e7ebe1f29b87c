//! The traffic logs (`-o`, `--hex-dump`): a `Tap` the session owns, told about every chunk
//! that moved (which way, which bytes) in the order it moved, and writing it to the log
//! files: `-o` gets the bytes as they are, `--hex-dump` their dump (`hexdump.rs`).
//!
//! The copy paths reach it through two layers, `TappedSource` (what came from the peer)
//! and `TappedSink` (what went to it), outermost, so the logs hold what stdin gave and
//! stdout got: plaintext under TLS, without telnet's commands. The zero-copy paths hand it
//! a pipe holding a `tee(2)` copy (`take_from_pipe`) or a file range that `sendfile` sent
//! (`take_from_file`), so their own bytes still never enter rnc's memory.
//!
//! Writes are buffered (at most `BUFFER_BYTES` per file) and flushed when a buffer fills
//! and at the end of each pump, so a log follows a slow conversation closely. A failed
//! write is kept (`failed`) and later ones skipped; the session ends with it at the next
//! `check`. It does no polling: a log is a regular file, written blocking.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustix::io::Errno;
use rustix::pipe::SpliceFlags;

use crate::config::LogOptions;
use crate::error::{Error, Result};
use crate::relay::direction::{Sink, Source};
use crate::relay::hexdump::{Way, dump_chunk};

/// Bytes a log keeps in memory before writing them out.
const BUFFER_BYTES: usize = 64 * 1024;
/// Most bytes of a sent file read back for the logs at a time (the size of one zero-copy
/// step, so a hex dump's chunks are the same size both ways).
const READ_BACK_BYTES: usize = 1 << 20;

/// One log file and what waits to be written to it.
struct LogFile {
    /// As the user gave it, for messages.
    path: PathBuf,
    /// The open file.
    file: File,
    /// Bytes not yet written.
    pending: Vec<u8>,
}

impl LogFile {
    fn open(path: &Path, append: bool) -> Result<LogFile> {
        let opened = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(!append)
            .open(path)
            // Appending by seeking to the end, not `O_APPEND`: the kernel refuses to splice
            // into an `O_APPEND` file, and the zero-copy path splices into the log.
            .and_then(|mut file| {
                if append {
                    file.seek(SeekFrom::End(0))?;
                }
                Ok(file)
            });
        let file = opened.map_err(|source| Error::Log {
            op: "open log",
            path: path.to_path_buf(),
            source,
        })?;
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            pending: Vec::with_capacity(BUFFER_BYTES),
        })
    }

    fn error(&self, source: io::Error) -> Error {
        Error::Log {
            op: "write to log",
            path: self.path.clone(),
            source,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        if self.pending.len() + bytes.len() > BUFFER_BYTES {
            self.flush()?;
        }
        if bytes.len() >= BUFFER_BYTES {
            return self.file.write_all(bytes).map_err(|e| self.error(e));
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.pending);
        self.pending.clear();
        written.map_err(|e| self.error(e))
    }

    /// Move `n` bytes from `pipe` into the file without copying them (after what is
    /// buffered); `Ok(false)` when the kernel will not splice into this file, with nothing
    /// moved.
    fn splice_from(&mut self, pipe: BorrowedFd<'_>, mut n: usize) -> Result<bool> {
        self.flush()?;
        while n > 0 {
            match rustix::pipe::splice(pipe, None, &self.file, None, n, SpliceFlags::MOVE) {
                Ok(0) => return Err(self.error(io::ErrorKind::WriteZero.into())),
                Ok(m) => n -= m,
                Err(Errno::INTR) => {}
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP | Errno::XDEV) => {
                    return Ok(false);
                }
                Err(e) => return Err(self.error(e.into())),
            }
        }
        Ok(true)
    }
}

/// `--hex-dump`'s file and how far each direction has got.
struct HexLog {
    file: LogFile,
    /// Bytes dumped so far sent to the peer.
    sent: u64,
    /// Bytes dumped so far received from the peer.
    received: u64,
    /// One chunk's text, reused.
    text: Vec<u8>,
}

/// The traffic logs of one session.
pub(crate) struct Tap {
    /// `-o`: the bytes as they are.
    output: Option<LogFile>,
    /// `--hex-dump`: their dump.
    hex: Option<HexLog>,
    /// The first write that failed; nothing more is written after it.
    failed: Option<Error>,
    /// Bytes read back from a pipe or file for the logs.
    scratch: Vec<u8>,
}

impl Tap {
    /// Open (create, or truncate unless `--append-output`) the logs `options` name; `None`
    /// when there are none.
    pub(crate) fn open(options: &LogOptions) -> Result<Option<Tap>> {
        if options.output.is_none() && options.hex_dump.is_none() {
            return Ok(None);
        }
        let output = options
            .output
            .as_deref()
            .map(|p| LogFile::open(p, options.append))
            .transpose()?;
        let hex = options
            .hex_dump
            .as_deref()
            .map(|p| LogFile::open(p, options.append))
            .transpose()?
            .map(|file| HexLog {
                file,
                sent: 0,
                received: 0,
                text: Vec::new(),
            });
        Ok(Some(Tap {
            output,
            hex,
            failed: None,
            scratch: Vec::new(),
        }))
    }

    /// `bytes` moved `way`, after everything recorded before.
    pub(crate) fn record(&mut self, way: Way, bytes: &[u8]) {
        if bytes.is_empty() || self.failed.is_some() {
            return;
        }
        let result = record_into(&mut self.output, &mut self.hex, way, bytes);
        self.keep(result);
    }

    /// The `n` bytes waiting in `pipe` (a `tee(2)` copy) moved `way`: take them all out of
    /// it. With `-o` alone they go on into the file without copying.
    pub(crate) fn take_from_pipe(&mut self, way: Way, pipe: BorrowedFd<'_>, n: usize) {
        if n == 0 {
            return;
        }
        if self.failed.is_none()
            && self.hex.is_none()
            && let Some(output) = &mut self.output
        {
            match output.splice_from(pipe, n) {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    self.failed = Some(e);
                    // Emptied below, so the pipe stays ready for the next copy.
                }
            }
        }
        self.scratch.resize(n, 0);
        let mut got = 0;
        while got < n {
            match rustix::io::read(pipe, &mut self.scratch[got..n]) {
                Ok(0) => break,
                Ok(m) => got += m,
                Err(Errno::INTR) => {}
                Err(e) => {
                    self.keep(Err(Error::Log {
                        op: "read the copy for the log",
                        path: self.first_path(),
                        source: e.into(),
                    }));
                    return;
                }
            }
        }
        let bytes = std::mem::take(&mut self.scratch);
        self.record(way, &bytes[..got]);
        self.scratch = bytes;
    }

    /// The `n` bytes of `file` from `offset` on (which `sendfile` just sent) moved `way`:
    /// read them back for the logs, at most `READ_BACK_BYTES` at a time (one chunk each),
    /// so memory stays bounded whatever one pump sent.
    pub(crate) fn take_from_file(&mut self, way: Way, file: BorrowedFd<'_>, offset: u64, n: usize) {
        let mut done = 0;
        while done < n && self.failed.is_none() {
            let want = (n - done).min(READ_BACK_BYTES);
            self.scratch.resize(want, 0);
            let at = offset + done as u64;
            let got = match rustix::io::pread(file, &mut self.scratch[..want], at) {
                Ok(0) => return,
                Ok(m) => m,
                Err(Errno::INTR) => continue,
                Err(e) => {
                    self.keep(Err(Error::Stdio {
                        op: "read stdin again for the log",
                        source: e.into(),
                    }));
                    return;
                }
            };
            let bytes = std::mem::take(&mut self.scratch);
            self.record(way, &bytes[..got]);
            self.scratch = bytes;
            done += got;
        }
    }

    /// Write out what is buffered.
    pub(crate) fn flush(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let mut result = self.output.as_mut().map_or(Ok(()), LogFile::flush);
        if result.is_ok() {
            result = self.hex.as_mut().map_or(Ok(()), |h| h.file.flush());
        }
        self.keep(result);
    }

    /// The first failure, once.
    pub(crate) fn check(&mut self) -> Result<()> {
        match self.failed.take() {
            Some(e) => {
                // Later calls must not pretend the logs are whole again.
                self.output = None;
                self.hex = None;
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// `source` from copying bytes for the logs (a `tee` that failed), as an error that
    /// names a log; the first failure of a write, if there was one, comes first.
    pub(crate) fn copy_error(&mut self, source: io::Error) -> Error {
        match self.failed.take() {
            Some(e) => e,
            None => Error::Log {
                op: "copy the bytes for log",
                path: self.first_path(),
                source,
            },
        }
    }

    fn keep(&mut self, result: Result<()>) {
        if let Err(e) = result {
            self.failed.get_or_insert(e);
        }
    }

    fn first_path(&self) -> PathBuf {
        self.output
            .as_ref()
            .or(self.hex.as_ref().map(|h| &h.file))
            .map(|f| f.path.clone())
            .unwrap_or_default()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        // Best effort on paths that end without a last pump (a signal, an error).
        self.flush();
    }
}

fn record_into(
    output: &mut Option<LogFile>,
    hex: &mut Option<HexLog>,
    way: Way,
    bytes: &[u8],
) -> Result<()> {
    if let Some(output) = output {
        output.push(bytes)?;
    }
    if let Some(hex) = hex {
        let start = match way {
            Way::ToPeer => &mut hex.sent,
            Way::FromPeer => &mut hex.received,
        };
        hex.text.clear();
        dump_chunk(&mut hex.text, way, SystemTime::now(), *start, bytes);
        *start += bytes.len() as u64;
        let text = std::mem::take(&mut hex.text);
        let pushed = hex.file.push(&text);
        hex.text = text;
        pushed?;
    }
    Ok(())
}

/// A layer on the from-peer source: every byte read is recorded as received.
pub(crate) struct TappedSource<'a> {
    /// The source below (the socket, TLS, telnet).
    pub(crate) inner: &'a mut dyn Source,
    /// The logs.
    pub(crate) tap: &'a mut Tap,
}

impl Source for TappedSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tap.record(Way::FromPeer, &buf[..n]);
        Ok(n)
    }

    fn is_drained(&self, asked: usize, got: usize) -> bool {
        self.inner.is_drained(asked, got)
    }

    fn min_room(&self) -> usize {
        self.inner.min_room()
    }
}

/// A layer on the to-peer sink: every byte written is recorded as sent.
pub(crate) struct TappedSink<'a> {
    /// The sink below (the socket, TLS).
    pub(crate) inner: &'a mut dyn Sink,
    /// The logs.
    pub(crate) tap: &'a mut Tap,
}

impl Sink for TappedSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.tap.record(Way::ToPeer, &buf[..n]);
        Ok(n)
    }

    fn short_write_fills(&self) -> bool {
        self.inner.short_write_fills()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;

    fn options(dir: &Path, hex: bool, append: bool) -> LogOptions {
        LogOptions {
            output: Some(dir.join("out.log")),
            hex_dump: hex.then(|| dir.join("hex.log")),
            append,
        }
    }

    #[test]
    fn tap_records_both_ways_in_order_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let mut tap = Tap::open(&options(dir.path(), true, false))
            .unwrap()
            .unwrap();
        tap.record(Way::ToPeer, b"ping\n");
        tap.record(Way::FromPeer, b"pong\n");
        tap.flush();
        tap.check().unwrap();
        drop(tap);
        let out = std::fs::read(dir.path().join("out.log")).unwrap();
        assert_eq!(out, b"ping\npong\n");
        let hex = std::fs::read_to_string(dir.path().join("hex.log")).unwrap();
        let headers: Vec<&str> = hex.lines().filter(|l| !l.starts_with('0')).collect();
        assert_eq!(headers.len(), 2);
        assert!(headers[0].starts_with("> ") && headers[0].ends_with("length=5 from=0 to=4"));
        assert!(headers[1].starts_with("< ") && headers[1].ends_with("length=5 from=0 to=4"));
        let mut tap = Tap::open(&options(dir.path(), false, true))
            .unwrap()
            .unwrap();
        tap.record(Way::ToPeer, b"again\n");
        drop(tap);
        let out = std::fs::read(dir.path().join("out.log")).unwrap();
        assert_eq!(out, b"ping\npong\nagain\n");
    }

    #[test]
    fn tap_takes_a_tee_copy_from_a_pipe() {
        let dir = tempfile::tempdir().unwrap();
        for hex in [false, true] {
            let mut tap = Tap::open(&options(dir.path(), hex, false))
                .unwrap()
                .unwrap();
            let (mut r, mut w) = std::io::pipe().unwrap();
            tap.record(Way::ToPeer, b"<");
            w.write_all(b"piped bytes").unwrap();
            tap.take_from_pipe(Way::FromPeer, r.as_fd(), 11);
            tap.record(Way::ToPeer, b">");
            tap.flush();
            tap.check().unwrap();
            drop(w);
            let mut left = Vec::new();
            r.read_to_end(&mut left).unwrap();
            assert!(left.is_empty(), "the copy was taken out of the pipe");
            let out = std::fs::read(dir.path().join("out.log")).unwrap();
            assert_eq!(out, b"<piped bytes>", "hex: {hex}");
        }
    }

    #[test]
    fn tap_write_error_names_the_log() {
        let options = LogOptions {
            output: Some("/dev/full".into()),
            hex_dump: None,
            append: false,
        };
        let mut tap = Tap::open(&options).unwrap().unwrap();
        tap.record(Way::FromPeer, b"x");
        tap.flush();
        let err = tap.check().unwrap_err();
        assert_eq!(
            err.one_line(),
            "write to log /dev/full: no space left on device"
        );
        assert!(tap.check().is_ok(), "reported once");
    }
}
