//! `-z`'s port lists: `20-25,80,443` and several port arguments (`22 80 443`), as nc and
//! nmap write them, → the ports to scan, ascending and each once; and the other way, a
//! list → its short text (`20-25,80,443`) for messages. Pure, like the rest of `config`; in the library target, shared with the fuzz targets.

use super::address::{UsageError, parse_port, usage};

/// A result whose error is a usage message.
type Result<T> = std::result::Result<T, UsageError>;

/// Most connects a scan may keep in flight (`--scan-parallel`): far above any file limit
/// a scan could use, low enough that a typo does not read as "unlimited".
const MAX_SCAN_PARALLEL: usize = 1 << 20;

/// Whether `text` asks for more than one port: a list (`80,443`) or a range (`20-30`, but
/// not a service name with a dash such as `x11-ssh`).
pub fn is_port_list(text: &str) -> bool {
    text.contains(',') || is_range(text)
}

/// `LOW-HIGH` with digits on both sides.
fn is_range(text: &str) -> bool {
    text.split_once('-').is_some_and(|(low, high)| {
        [low, high]
            .iter()
            .all(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The ports that `texts` name, each a comma-separated list of ports (numbers, or service
/// names unless `numeric`) and `LOW-HIGH` ranges: ascending, each once.
pub fn parse_port_list(texts: &[&str], numeric: bool) -> Result<Vec<u16>> {
    let mut wanted = vec![false; usize::from(u16::MAX) + 1];
    for text in texts {
        for item in text.split(',') {
            if is_range(item) {
                let (low, high) = item.split_once('-').expect("a range has a dash");
                let low = parse_port(low, true, false)?;
                let high = parse_port(high, true, false)?;
                if low > high {
                    return usage(format!("invalid port range `{item}` (low-high)"));
                }
                wanted[usize::from(low)..=usize::from(high)].fill(true);
            } else if item.is_empty() {
                return usage(format!("empty item in the port list `{text}`"));
            } else {
                wanted[usize::from(parse_port(item, numeric, false)?)] = true;
            }
        }
    }
    Ok((1..=u16::MAX).filter(|&p| wanted[usize::from(p)]).collect())
}

/// `ports` (ascending) as a short list: runs of consecutive ports become ranges.
pub fn describe_ports(ports: &[u16]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ports.len() {
        let mut j = i;
        while j + 1 < ports.len() && ports[j + 1] == ports[j].wrapping_add(1) {
            j += 1;
        }
        parts.push(if i == j {
            ports[i].to_string()
        } else {
            format!("{}-{}", ports[i], ports[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// `--scan-parallel N`: a whole number from 1.
pub fn parse_scan_parallel(text: &str) -> Result<usize> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_SCAN_PARALLEL).contains(&n) => Ok(n),
        _ => usage(format!(
            "invalid `--scan-parallel {text}` (a number of connects, 1-{MAX_SCAN_PARALLEL})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn err(texts: &[&str]) -> String {
        parse_port_list(texts, false).unwrap_err().to_string()
    }

    #[test]
    fn config_port_lists_ranges_and_arguments() {
        assert_eq!(
            parse_port_list(&["20-25,80,443"], true).unwrap(),
            [20, 21, 22, 23, 24, 25, 80, 443]
        );
        assert_eq!(
            parse_port_list(&["443", "22", "80,22"], true).unwrap(),
            [22, 80, 443]
        );
        assert_eq!(parse_port_list(&["1-65535"], true).unwrap().len(), 65535);
        assert_eq!(parse_port_list(&["7-7"], true).unwrap(), [7]);
        assert_eq!(parse_port_list(&["ssh,http"], false).unwrap(), [22, 80]);
        assert!(err(&["30-20"]).contains("invalid port range `30-20`"));
        assert!(err(&["80,,443"]).contains("empty item"));
        assert!(err(&["0-5"]).contains("invalid port `0`"));
        assert!(err(&["1-70000"]).contains("invalid port `70000`"));
        assert!(
            parse_port_list(&["ssh"], true)
                .unwrap_err()
                .to_string()
                .contains("-n")
        );
    }

    #[test]
    fn config_port_list_detection() {
        assert!(is_port_list("20-30"));
        assert!(is_port_list("80,443"));
        assert!(!is_port_list("80"));
        assert!(!is_port_list("x11-ssh"));
        assert!(!is_port_list("-5"));
    }

    #[test]
    fn config_port_list_described_as_ranges() {
        assert_eq!(
            describe_ports(&[20, 21, 22, 80, 443, 444]),
            "20-22,80,443-444"
        );
        assert_eq!(describe_ports(&[65535]), "65535");
        assert_eq!(describe_ports(&[]), "");
    }

    #[test]
    fn config_scan_parallel_values() {
        assert_eq!(parse_scan_parallel("1").unwrap(), 1);
        assert_eq!(parse_scan_parallel("5000").unwrap(), 5000);
        for bad in ["0", "-1", "x", ""] {
            assert!(parse_scan_parallel(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// A set of ports, described as a short list, parses back to the same ports
        /// (ascending, each once), and the description has no run left unmerged.
        #[test]
        fn config_property_port_list_round_trips(
            // Sparse sets over the whole range, and dense ones that make runs.
            ports in prop_oneof![
                prop::collection::btree_set(1u16.., 0..40),
                prop::collection::btree_set(1u16..40, 0..30),
            ],
        ) {
            let ports: Vec<u16> = ports.into_iter().collect();
            let text = describe_ports(&ports);
            if ports.is_empty() {
                prop_assert_eq!(text, "");
            } else {
                prop_assert_eq!(parse_port_list(&[&text], true), Ok(ports.clone()));
                let items = text.split(',').count();
                let runs = 1 + ports.windows(2).filter(|w| w[1] != w[0] + 1).count();
                prop_assert_eq!(items, runs, "{}", text);
            }
        }
    }
}
