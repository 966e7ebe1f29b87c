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
    use proptest::prelude::*;

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

    /// Text with newlines, CRs and CRLFs in every order.
    fn lines() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(&b"\n\r\n\rab\x00\xff"[..]), 0..40)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// Cutting the input into three reads anywhere gives the output of feeding it whole.
        #[test]
        fn crlf_property_any_split_equals_whole(
            input in lines(),
            a: prop::sample::Index,
            b: prop::sample::Index,
        ) {
            let (x, y) = (a.index(input.len() + 1), b.index(input.len() + 1));
            let (first, second) = (x.min(y), x.max(y));
            let whole = encode_chunks(&[&input]);
            let parts = encode_chunks(&[&input[..first], &input[first..second], &input[second..]]);
            prop_assert_eq!(parts, whole);
        }

        /// Every LF goes out as CRLF, one CR added only where none was: the output is the
        /// input with a CR before each bare LF, and encoding it again changes nothing.
        #[test]
        fn crlf_property_adds_cr_only_before_bare_lf_and_is_idempotent(input in lines()) {
            let out = encode_chunks(&[&input]);
            let mut want = Vec::new();
            for (i, &byte) in input.iter().enumerate() {
                if byte == b'\n' && (i == 0 || input[i - 1] != b'\r') {
                    want.push(b'\r');
                }
                want.push(byte);
            }
            prop_assert_eq!(&out, &want);
            prop_assert_eq!(encode_chunks(&[&out]), out);
        }
    }
}
