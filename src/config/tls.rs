//! `--tls` and its flags → `TlsOptions`: which flags need `--tls` and which side each is
//! for, `--tls-ciphers` names (rustls's or OpenSSL's spelling) → cipher suites, and
//! `--pin sha256:HEX` → digest bytes. Pure, like the rest of `config`; building
//! configurations and loading files is `net/tls.rs`.

use std::path::PathBuf;

use super::{Mode, Transport, usage};
use crate::cli::Cli;
use crate::error::{Error, Result};

/// `--tls`'s settings, checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsOptions {
    /// `--tls-ca`: trust these CAs instead of the system's.
    pub(crate) ca_file: Option<PathBuf>,
    /// `--insecure`: accept any certificate.
    pub(crate) insecure: bool,
    /// `--pin`: accept exactly the certificate with this SHA-256.
    pub(crate) pin: Option<[u8; 32]>,
    /// `--sni`: the name sent and checked, instead of the host.
    pub(crate) sni: Option<String>,
    /// `--alpn`: protocols offered.
    pub(crate) alpn: Vec<Vec<u8>>,
    /// `--tls-cert`: the listener's chain, or the client's certificate.
    pub(crate) cert_file: Option<PathBuf>,
    /// `--tls-key`: the key that goes with `cert_file`.
    pub(crate) key_file: Option<PathBuf>,
    /// `--tls-ciphers`: the suites allowed (empty: rustls's defaults).
    pub(crate) ciphers: Vec<rustls::SupportedCipherSuite>,
    /// `--tls-client-ca`: a listener requires client certificates these CAs issued.
    pub(crate) client_ca_file: Option<PathBuf>,
}

/// `--tls` and the flags that go with it; each of those needs `--tls`, and the client's
/// and the listener's do not mix.
pub(super) fn tls_options(
    cli: &Cli,
    mode: Mode,
    transport: Transport,
) -> Result<Option<TlsOptions>> {
    let client_flags = [
        ("--tls-ca", cli.tls_ca.is_some()),
        ("--pin", cli.pin.is_some()),
        ("--insecure", cli.insecure),
        ("--sni", cli.sni.is_some()),
        ("--alpn", cli.alpn.is_some()),
    ];
    let server_flags = [("--tls-client-ca", cli.tls_client_ca.is_some())];
    let either_flags = [
        ("--tls-cert", cli.tls_cert.is_some()),
        ("--tls-key", cli.tls_key.is_some()),
        ("--tls-ciphers", cli.tls_ciphers.is_some()),
    ];
    let given = || {
        client_flags
            .iter()
            .chain(&server_flags)
            .chain(&either_flags)
            .find(|(_, on)| *on)
            .map(|(name, _)| *name)
    };
    if !cli.tls {
        return match given() {
            Some(flag) => usage(format!("`{flag}` needs `--tls`")),
            None if cli.ssl_verify => usage("`--ssl-verify` needs `--tls`"),
            None => Ok(None),
        };
    }
    if transport.is_datagram() {
        return usage("--tls needs a stream socket: DTLS is not supported");
    }
    let listening = mode == Mode::Listen;
    let misplaced = if listening {
        client_flags.iter().find(|(_, on)| *on)
    } else {
        server_flags.iter().find(|(_, on)| *on)
    };
    if let Some((flag, _)) = misplaced {
        let side = if listening {
            "a client"
        } else {
            "a listener (`-l`)"
        };
        return usage(format!("`{flag}` is for {side}"));
    }
    if cli.tls_cert.is_some() != cli.tls_key.is_some() {
        return usage("`--tls-cert` and `--tls-key` go together");
    }
    if cli.tls_client_ca.is_some() && cli.tls_cert.is_none() {
        return usage("`--tls-client-ca` needs `--tls-cert` and `--tls-key`");
    }
    let ciphers = match cli.tls_ciphers.as_deref() {
        None => Vec::new(),
        Some(list) => parse_ciphers(list).map_err(Error::Usage)?,
    };
    let pin = match cli.pin.as_deref() {
        None => None,
        Some(text) => Some(parse_pin(text).ok_or_else(|| {
            Error::Usage(format!(
                "invalid `--pin {text}` (sha256: and 64 hex digits)"
            ))
        })?),
    };
    let alpn = match cli.alpn.as_deref() {
        None => Vec::new(),
        Some(list) => {
            let protocols: Vec<Vec<u8>> = list.split(',').map(|p| p.as_bytes().to_vec()).collect();
            if protocols.iter().any(|p| p.is_empty() || p.len() > 255) {
                return usage(format!("invalid `--alpn {list}` (comma-separated names)"));
            }
            protocols
        }
    };
    Ok(Some(TlsOptions {
        ca_file: cli.tls_ca.clone(),
        insecure: cli.insecure,
        pin,
        sni: cli.sni.clone(),
        alpn,
        cert_file: cli.tls_cert.clone(),
        key_file: cli.tls_key.clone(),
        ciphers,
        client_ca_file: cli.tls_client_ca.clone(),
    }))
}

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
