//! The TLS flags' values → what `TlsOptions` holds: `--tls-ciphers` names (rustls's or
//! OpenSSL's spelling) → cipher suites, and `--pin sha256:HEX` → digest bytes. Pure, like
//! the rest of `config`; building configurations and loading files is `net/tls.rs`.

/// The suites `--tls-ciphers` may name: rustls's names, and OpenSSL's for the same suites.
fn known_suites() -> Vec<(rustls::SupportedCipherSuite, String, &'static str)> {
    rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .map(|&suite| {
            let name = format!("{:?}", suite.suite());
            let openssl = match name.as_str() {
                "TLS13_AES_256_GCM_SHA384" => "TLS_AES_256_GCM_SHA384",
                "TLS13_AES_128_GCM_SHA256" => "TLS_AES_128_GCM_SHA256",
                "TLS13_CHACHA20_POLY1305_SHA256" => "TLS_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => "ECDHE-ECDSA-AES256-GCM-SHA384",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => "ECDHE-ECDSA-AES128-GCM-SHA256",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => "ECDHE-ECDSA-CHACHA20-POLY1305",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => "ECDHE-RSA-AES256-GCM-SHA384",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => "ECDHE-RSA-AES128-GCM-SHA256",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => "ECDHE-RSA-CHACHA20-POLY1305",
                _ => "",
            };
            (suite, name, openssl)
        })
        .collect()
}

/// `--tls-ciphers LIST`: suite names separated by `,` or `:` (OpenSSL's separator), in
/// rustls's spelling (`TLS13_AES_128_GCM_SHA256`) or OpenSSL's (`TLS_AES_128_GCM_SHA256`,
/// `ECDHE-RSA-AES128-GCM-SHA256`), any case. An unknown name: the error lists the valid
/// ones.
pub(crate) fn parse_ciphers(
    list: &str,
) -> std::result::Result<Vec<rustls::SupportedCipherSuite>, String> {
    let known = known_suites();
    let mut chosen: Vec<rustls::SupportedCipherSuite> = Vec::new();
    for name in list.split([',', ':']).map(str::trim) {
        let found = known.iter().find(|(_, ours, openssl)| {
            name.eq_ignore_ascii_case(ours)
                || (!openssl.is_empty() && name.eq_ignore_ascii_case(openssl))
        });
        match found {
            Some((suite, _, _)) => {
                if !chosen.iter().any(|c| c.suite() == suite.suite()) {
                    chosen.push(*suite);
                }
            }
            None => {
                let valid: Vec<&str> = known.iter().map(|(_, ours, _)| ours.as_str()).collect();
                return Err(format!(
                    "unknown cipher suite `{name}` in `--tls-ciphers` (valid: {})",
                    valid.join(", ")
                ));
            }
        }
    }
    Ok(chosen)
}

/// `--pin sha256:HEX` → the 32 digest bytes (colons between bytes allowed, any case).
pub(crate) fn parse_pin(text: &str) -> Option<[u8; 32]> {
    let hex: String = text
        .strip_prefix("sha256:")?
        .chars()
        .filter(|&c| c != ':')
        .collect();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_pin_parses_hex_with_or_without_colons() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_pin(&format!("sha256:{hex}")), Some([0xab; 32]));
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_pin(&format!("sha256:{colons}")), Some([0xab; 32]));
        assert_eq!(parse_pin(&hex), None, "the algorithm is required");
        assert_eq!(parse_pin("sha256:abcd"), None);
        assert_eq!(parse_pin(&format!("sha256:{}", "zz".repeat(32))), None);
    }

    #[test]
    fn tls_ciphers_parse_rustls_and_openssl_names() {
        let names = |list: &str| -> Vec<String> {
            parse_ciphers(list)
                .expect("valid list")
                .iter()
                .map(|s| format!("{:?}", s.suite()))
                .collect()
        };
        assert_eq!(
            names("TLS13_AES_128_GCM_SHA256:ecdhe-rsa-aes256-gcm-sha384, TLS_AES_128_GCM_SHA256"),
            [
                "TLS13_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
            ]
        );
        let err = parse_ciphers("TLS13_AES_128_GCM_SHA256,nope").unwrap_err();
        assert!(err.starts_with("unknown cipher suite `nope`"), "{err}");
        assert!(parse_ciphers("").is_err());
    }
}
