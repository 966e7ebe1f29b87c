//! The `-C` translator: every LF read from stdin goes to the peer as CRLF.
//!
//! An LF that already follows a CR is left alone, also when the CR ended the previous
//! read, so CRLF input is not doubled. It is pure: bytes in, bytes out.

/// LF → CRLF, remembering whether the last byte seen was a CR.
#[derive(Debug, Default)]
pub(crate) struct CrlfEncoder {
    /// The last byte of the previous chunk was `\r`.
    last_was_cr: bool,
}

impl CrlfEncoder {
    /// Append `input`, translated, to `out`. `out` grows by at most `2 * input.len()`.
    pub(crate) fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut rest = input;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(at);
            out.extend_from_slice(line);
            let preceded_by_cr = match line.last() {
                Some(&b) => b == b'\r',
                None => self.last_was_cr,
            };
            if !preceded_by_cr {
                out.push(b'\r');
            }
            out.push(b'\n');
            self.last_was_cr = false;
            rest = &tail[1..];
        }
        out.extend_from_slice(rest);
        if let Some(&last) = input.last() {
            self.last_was_cr = last == b'\r';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_chunks(chunks: &[&[u8]]) -> Vec<u8> {
        let mut enc = CrlfEncoder::default();
        let mut out = Vec::new();
        for chunk in chunks {
            enc.encode(chunk, &mut out);
        }
        out
    }

    #[test]
    fn crlf_translates_lone_lf() {
        assert_eq!(encode_chunks(&[b"a\nb\n\n"]), b"a\r\nb\r\n\r\n");
        assert_eq!(encode_chunks(&[b"no newline"]), b"no newline");
    }

    #[test]
    fn crlf_keeps_existing_crlf_even_across_reads() {
        assert_eq!(encode_chunks(&[b"a\r\n"]), b"a\r\n");
        assert_eq!(encode_chunks(&[b"a\r", b"\nb"]), b"a\r\nb");
        assert_eq!(encode_chunks(&[b"a\r", b"x\n"]), b"a\rx\r\n");
        assert_eq!(encode_chunks(&[b"\r", b"", b"\n"]), b"\r\n");
    }

    #[test]
    fn crlf_any_split_equals_whole() {
        let input = b"GET / HTTP/1.0\nHost: x\r\n\n\r\r\n\n";
        let whole = encode_chunks(&[input]);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(encode_chunks(&[a, b]), whole, "split at {split}");
        }
    }
}
