//! `--hex-dump`'s text: one chunk of bytes that moved one way → a header (socat's `-x`
//! style: direction, UTC time, length, the chunk's place in its direction's stream) and
//! offset / hex / ASCII lines (ncat's `-x` body: offsets restart at each chunk, 16 bytes a
//! line, a gap after the eighth).
//!
//! Pure: no I/O, no clock. The caller passes the time and where the chunk starts, so the
//! text is a function of its inputs (for tests and fuzzing: it is in the library target,
//! which the `hexdump` fuzz target shares).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes on one hex line.
const BYTES_PER_LINE: usize = 16;

/// Which way a chunk went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Sent to the peer (`>`).
    ToPeer,
    /// Received from the peer (`<`).
    FromPeer,
}

impl Way {
    /// socat's mark: `>` for what went out, `<` for what came in.
    pub fn mark(self) -> char {
        match self {
            Way::ToPeer => '>',
            Way::FromPeer => '<',
        }
    }
}

/// Append the dump of one chunk to `out`: its header, then its lines. `start` is how many
/// bytes went this way before it; `when` is the time it moved. An empty chunk gets only
/// its header. The text is ASCII.
pub fn dump_chunk(out: &mut Vec<u8>, way: Way, when: SystemTime, start: u64, bytes: &[u8]) {
    let len = bytes.len() as u64;
    let header = format!(
        "{} {}  length={} from={} to={}\n",
        way.mark(),
        utc_timestamp(when),
        len,
        start,
        // socat's `to` is the last byte's offset.
        (start + len).saturating_sub(1)
    );
    out.extend_from_slice(header.as_bytes());
    // Offsets within the chunk: four hex digits, more for a chunk over 64 KiB.
    let last = bytes.len().saturating_sub(1);
    let width = (usize::BITS - last.leading_zeros()).div_ceil(4).max(4) as usize;
    out.reserve(bytes.len().div_ceil(BYTES_PER_LINE) * (width + LINE_BYTES_AFTER_OFFSET));
    for (i, line) in bytes.chunks(BYTES_PER_LINE).enumerate() {
        hex_line(out, i * BYTES_PER_LINE, width, line);
    }
}

/// A line's length after its offset: 3 spaces, 16 × 3 hex columns less one space, the gap,
/// 2 spaces, 16 ASCII columns, the newline.
const LINE_BYTES_AFTER_OFFSET: usize = 3 + 47 + 1 + 2 + 16 + 1;

/// One line: offset, hex (with a gap after the eighth byte, padded so the ASCII column
/// lines up), ASCII (printable bytes as themselves, others as `.`). Built byte by byte:
/// a bulk transfer's dump is hundreds of megabytes of these.
fn hex_line(out: &mut Vec<u8>, offset: usize, width: usize, line: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for digit in (0..width).rev() {
        out.push(HEX[(offset >> (4 * digit)) & 0xf]);
    }
    out.extend_from_slice(b"  ");
    for i in 0..BYTES_PER_LINE {
        if i == BYTES_PER_LINE / 2 {
            out.push(b' ');
        }
        match line.get(i) {
            Some(&b) => {
                out.extend_from_slice(&[b' ', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
            }
            None => out.extend_from_slice(b"   "),
        }
    }
    out.extend_from_slice(b"  ");
    out.extend(line.iter().map(|&b| {
        if b.is_ascii_graphic() || b == b' ' {
            b
        } else {
            b'.'
        }
    }));
    out.push(b'\n');
}

/// `2026/11/29 21:30:00.123456` in UTC (socat prints local time; UTC needs no time zone
/// database and reads the same on every machine).
pub fn utc_timestamp(when: SystemTime) -> String {
    let since = when.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}.{:06}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_micros()
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`). The TLS messages' certificate dates use it too.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(secs: u64, micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)
    }

    #[test]
    fn hexdump_timestamp_is_utc_with_microseconds() {
        assert_eq!(utc_timestamp(at(0, 0)), "1970/01/01 00:00:00.000000");
        // 2026-11-29 21:30:00 UTC.
        assert_eq!(
            utc_timestamp(at(1_795_987_800, 123_456)),
            "2026/11/29 21:30:00.123456"
        );
        // A leap day.
        assert_eq!(
            utc_timestamp(at(951_782_400, 1)),
            "2000/02/29 00:00:00.000001"
        );
    }

    /// The dump of one chunk, as text.
    fn dump(way: Way, when: SystemTime, start: u64, bytes: &[u8]) -> String {
        let mut out = Vec::new();
        dump_chunk(&mut out, way, when, start, bytes);
        String::from_utf8(out).expect("a dump is ASCII")
    }

    #[test]
    fn hexdump_chunk_has_header_offsets_hex_and_ascii() {
        let want = "\
> 2026/11/29 21:30:00.123456  length=32 from=0 to=31
0000   68 65 6c 6c 6f 2c 20 77  6f 72 6c 64 00 01 ff 20  hello, world... 
0010   47 45 54 20 2f 20 48 54  54 50 2f 31 2e 30 0a 00  GET / HTTP/1.0..
";
        let mut bytes = b"hello, world\x00\x01\xff GET / HTTP/1.0\n\x00".to_vec();
        assert_eq!(
            dump(Way::ToPeer, at(1_795_987_800, 123_456), 0, &bytes),
            want
        );
        bytes.truncate(5);
        assert_eq!(
            dump(Way::FromPeer, at(1_795_987_800, 0), 32, &bytes),
            "< 2026/11/29 21:30:00.000000  length=5 from=32 to=36\n\
             0000   68 65 6c 6c 6f                                    hello\n"
        );
    }

    #[test]
    fn hexdump_gap_after_eighth_byte_and_wide_offsets_for_big_chunks() {
        let out = dump(Way::ToPeer, at(0, 0), 0, b"ABCDEFGHI");
        assert!(
            out.ends_with("0000   41 42 43 44 45 46 47 48  49                       ABCDEFGHI\n"),
            "{out}"
        );
        let big = vec![b'x'; 0x10001];
        let out = dump(Way::FromPeer, at(0, 0), 0, &big);
        let last = out.lines().last().unwrap();
        assert!(last.starts_with("10000   78  "), "{last}");
        assert!(out.lines().nth(1).unwrap().starts_with("00000   78"));
        assert_eq!(out.lines().count(), 1 + 0x1000 + 1);
    }

    #[test]
    fn hexdump_empty_chunk_is_a_header_only() {
        assert_eq!(
            dump(Way::ToPeer, at(0, 0), 7, b""),
            "> 1970/01/01 00:00:00.000000  length=0 from=7 to=6\n"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// A dump parses back: one header, then a line per 16 bytes whose offset counts
        /// up by 16 and whose hex bytes are the chunk's, with the ASCII column beside them.
        #[test]
        fn hexdump_property_lines_parse_back_to_the_chunk(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
            start in 0u64..1 << 40,
            secs in 0u64..4_102_444_800,
        ) {
            let text = dump(Way::FromPeer, at(secs, 0), start, &bytes);
            let mut lines = text.lines();
            let header = lines.next().expect("a header");
            let to = (start + bytes.len() as u64).saturating_sub(1);
            let range = format!("  length={} from={start} to={to}", bytes.len());
            prop_assert!(header.ends_with(&range), "{}", header);
            let mut got = Vec::new();
            for (i, line) in lines.enumerate() {
                let (offset, rest) = line.split_once("  ").expect("an offset");
                prop_assert_eq!(usize::from_str_radix(offset, 16).unwrap(), i * 16);
                let (hex, ascii) = rest.split_at(16 * 3 + 1);
                let row: Vec<u8> = hex
                    .split_whitespace()
                    .map(|h| u8::from_str_radix(h, 16).unwrap())
                    .collect();
                prop_assert_eq!(ascii.len(), 2 + row.len(), "{}", line);
                got.extend(row);
            }
            prop_assert_eq!(got, bytes);
        }
    }
}
