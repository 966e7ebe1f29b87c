//! Time values on the command line (`-w`, `-q`, `-i`, `--retry-delay`, `--keepalive`):
//! a plain number is seconds, as in nc (fractions allowed), or a number with a unit
//! (`500ms`, `2s`, `1m`, `1h`). Pure text → `Duration`; which range a flag allows and the
//! usage error that names the flag are `config.rs`'s.

use std::time::Duration;

/// Longest accepted time value: one year.
pub(crate) const MAX_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// The units a time value may carry, with their length in seconds. `ms` before `m` and
/// `s`, so the longest suffix wins.
const UNITS: [(&str, f64); 6] = [
    ("ms", 0.001),
    ("us", 0.000_001),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86400.0),
];

/// What a valid value looks like, for usage errors.
pub(crate) const SYNTAX: &str = "seconds, or a number with a unit: 500ms, 2s, 1.5m, 1h";

/// `text` as a duration of at most `MAX_SECS`, or `None` when it is not a plain
/// non-negative number with an optional unit. Zero is allowed here; flags that need more
/// check it themselves.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale) = UNITS
        .iter()
        .find_map(|&(unit, scale)| text.strip_suffix(unit).map(|n| (n, scale)))
        .unwrap_or((text, 1.0));
    // Digits and at most one dot only: no sign, exponent, `inf` or `nan`.
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let dots = number.chars().filter(|&c| c == '.').count();
    if digits == 0 || dots > 1 || digits + dots != number.len() {
        return None;
    }
    let secs = number.parse::<f64>().ok()? * scale;
    (secs.is_finite() && secs <= MAX_SECS).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_plain_numbers_are_seconds() {
        assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration(".5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
    }

    #[test]
    fn time_units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86400)));
    }

    #[test]
    fn time_rejects_junk_and_huge_values() {
        for bad in [
            "", "s", "ms", "-1", "+1", "1e3", "inf", "nan", "1.2.3", "1 s", "1x", "1sec", "2y",
            "366d", "1..", "x1",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_duration("365d"),
            Some(Duration::from_secs(31_536_000))
        );
    }
}
