//! The hex-dump writer (`relay/hexdump.rs`) on any chunk, time and stream offset: the dump
//! is ASCII, its header says the direction, length and range, and it parses back: each
//! line's offset, hex bytes and ASCII column give the chunk again, and the UTC time stamp
//! gives the seconds and microseconds it was made from.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use rnc::relay::hexdump::{Way, dump_chunk};

/// (year, month, day) → days since 1970-01-01 (Howard Hinnant's `days_from_civil`), the
/// inverse of what the writer uses, written again here to check it.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 17 {
        return;
    }
    let (head, bytes) = data.split_at(17);
    let way = if head[0] & 1 == 0 {
        Way::ToPeer
    } else {
        Way::FromPeer
    };
    // Up to year 9999, and a stream offset below 2^63 (a session never reaches either end).
    let secs = u64::from_le_bytes(head[1..9].try_into().unwrap()) % 253_402_300_800;
    let micros = u64::from_le_bytes(head[9..17].try_into().unwrap()) % 1_000_000;
    let start = u64::from_le_bytes(head[9..17].try_into().unwrap()) >> 1;
    let when = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros);

    let mut out = Vec::new();
    dump_chunk(&mut out, way, when, start, bytes);
    let text = std::str::from_utf8(&out).expect("a dump is ASCII");
    assert!(text.is_ascii());
    let mut lines = text.lines();

    // `> 2026/11/29 21:30:00.123456  length=N from=A to=B`
    let header = lines.next().expect("a header");
    let (mark, rest) = header.split_at(2);
    assert_eq!(mark, if way == Way::ToPeer { "> " } else { "< " });
    let (stamp, range) = rest.split_once("  ").expect("two spaces after the time");
    let len = bytes.len() as u64;
    let to = (start + len).saturating_sub(1);
    assert_eq!(range, format!("length={len} from={start} to={to}"));
    let (date, time) = stamp.split_once(' ').expect("date and time");
    let ymd: Vec<i64> = date.split('/').map(|f| f.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').expect("microseconds");
    let hms: Vec<u64> = hms.split(':').map(|f| f.parse().unwrap()).collect();
    assert!(
        (1..=12).contains(&ymd[1]) && (1..=31).contains(&ymd[2]),
        "{stamp}"
    );
    assert!(hms[0] < 24 && hms[1] < 60 && hms[2] < 60, "{stamp}");
    let days = days_from_civil(ymd[0], ymd[1], ymd[2]);
    assert_eq!(
        days as u64 * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2],
        secs,
        "{stamp}"
    );
    assert_eq!(frac.len(), 6);
    assert_eq!(frac.parse::<u64>().unwrap(), micros, "{stamp}");

    // `0010   47 45 54 20 2f 20 48 54  54 50 2f 31 2e 30 0a 00  GET / HTTP/1.0..`
    let mut got = Vec::new();
    for (i, line) in lines.enumerate() {
        let width = line.find(' ').expect("an offset");
        assert!(width >= 4);
        assert_eq!(
            usize::from_str_radix(&line[..width], 16).unwrap(),
            i * 16,
            "{line}"
        );
        let ascii_at = width + 3 + 16 * 3 + 2;
        let hex: Vec<u8> = line[width..ascii_at]
            .split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        let ascii = &line.as_bytes()[ascii_at..];
        assert_eq!(ascii.len(), hex.len(), "{line}");
        for (&a, &b) in ascii.iter().zip(&hex) {
            let shown = if b.is_ascii_graphic() || b == b' ' {
                b
            } else {
                b'.'
            };
            assert_eq!(a, shown, "{line}");
        }
        got.extend_from_slice(&hex);
    }
    assert_eq!(got, bytes);
});
