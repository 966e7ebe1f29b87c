//! TLS before bytes flow (`--tls`): the rustls client and server configurations (system
//! trust store or `--tls-ca`, `--pin`, `--insecure`, SNI, ALPN, `--tls-ciphers`, a client
//! certificate; `--tls-cert`/`--tls-key` or a self-signed certificate made at start,
//! `--tls-client-ca`; `SSLKEYLOGFILE`), certificate fingerprints and what a certificate
//! says (`-v`), and the handshake as a phase of its own that waits through the loop
//! (`wait_for`), bounded by `-w`, like a connect.
//!
//! Moving application bytes through TLS is the relay's layer (`relay/tls.rs`); this file
//! never touches the directions.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use mio::Interest;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use crate::config::TlsOptions;
use crate::error::{Error, Result};
use crate::event_loop::{Loop, Outcome, Wait, wait_for};
use crate::net::endpoint::Endpoint;
use crate::notices::print_line;
use crate::relay::session::Session;
use crate::relay::tls::TlsLayer;
use crate::tty::status::{PeerCheck, TlsShown};

/// The one crypto provider rnc uses (ring), limited to `--tls-ciphers` when given.
fn provider(opts: &TlsOptions) -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !opts.ciphers.is_empty() {
        provider.cipher_suites = opts.ciphers.clone();
    }
    Arc::new(provider)
}

/// The protocol versions that have a suite among `provider`'s: `--tls-ciphers
/// TLS13_AES_128_GCM_SHA256` alone means TLS 1.3 only.
fn versions(provider: &CryptoProvider) -> Vec<&'static rustls::SupportedProtocolVersion> {
    [&rustls::version::TLS13, &rustls::version::TLS12]
        .into_iter()
        .filter(|v| {
            provider
                .cipher_suites
                .iter()
                .any(|s| s.version().version == v.version)
        })
        .collect()
}

/// rustls's session keys to `SSLKEYLOGFILE` when it is set (NSS's key log format), so
/// Wireshark can decrypt a capture; nothing otherwise.
fn key_log() -> Arc<dyn rustls::KeyLog> {
    Arc::new(rustls::KeyLogFile::new())
}

/// A PEM certificate chain and key: `--tls-cert`/`--tls-key`.
fn load_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = load_certs(cert, "--tls-cert")?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| setup_error(format!("--tls-key `{}`", key.display()), pem_words(&e)))?;
    Ok((chain, key))
}

/// The certificates in a PEM file given with `flag`.
fn load_certs(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>> {
    let what = format!("{flag} `{}`", path.display());
    CertificateDer::pem_file_iter(path)
        .map_err(|e| setup_error(&what, pem_words(&e)))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| setup_error(&what, pem_words(&e)))
}

fn setup_error(what: impl Into<String>, reason: impl std::fmt::Display) -> Error {
    Error::TlsSetup {
        what: what.into(),
        reason: reason.to_string(),
    }
}

/// `sha256:HEX` of a certificate's DER bytes, as `--pin` takes it.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The client's configuration: who is trusted and what is offered.
pub(crate) fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>> {
    let provider = provider(opts);
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions(&provider))
        .map_err(|e| setup_error("--tls-ciphers", e))?;
    let builder = if let Some(pin) = opts.pin {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LooseVerifier {
                pin: Some(pin),
                provider,
            }))
    } else if opts.insecure {
        print_line("--insecure: the server's certificate is not verified");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LooseVerifier {
                pin: None,
                provider,
            }))
    } else {
        builder.with_root_certificates(trust_roots(opts.ca_file.as_deref())?)
    };
    let mut config = match (&opts.cert_file, &opts.key_file) {
        (Some(cert), Some(key)) => {
            let (chain, key) = load_identity(cert, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| setup_error("--tls-cert/--tls-key", e))?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = opts.alpn.clone();
    config.key_log = key_log();
    Ok(Arc::new(config))
}

/// `--tls-ca FILE`'s certificates, or the system's trust store.
fn trust_roots(ca_file: Option<&Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = match ca_file {
        Some(path) => load_certs(path, "--tls-ca")?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        let what = match ca_file {
            Some(path) => format!("--tls-ca `{}`", path.display()),
            None => "the system trust store".to_string(),
        };
        return Err(setup_error(
            what,
            "no usable certificate (install ca-certificates, or give `--tls-ca FILE`)",
        ));
    }
    Ok(roots)
}

fn pem_words(err: &rustls::pki_types::pem::Error) -> String {
    match err {
        rustls::pki_types::pem::Error::Io(e) => crate::error::describe_io(e),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item found".to_string(),
        other => format!("not valid PEM ({other:?})"),
    }
}

/// The name the client checks the certificate against and sends as SNI: `--sni`, else
/// the host as given (an IP address is checked as such and sends no SNI), else
/// `localhost` (a Unix socket).
pub(crate) fn server_name(opts: &TlsOptions, host: Option<&str>) -> Result<ServerName<'static>> {
    let name = opts.sni.as_deref().or(host).unwrap_or("localhost");
    let unbracketed = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    let unscoped = unbracketed.split('%').next().unwrap_or(unbracketed);
    ServerName::try_from(unscoped.to_string())
        .map_err(|_| Error::Usage(format!("invalid TLS server name `{name}`")))
}

/// A listener's configuration, and the fingerprint of the certificate when rnc made it.
pub(crate) struct ServerIdentity {
    /// What rustls serves with.
    pub(crate) config: Arc<ServerConfig>,
    /// `sha256:HEX` of a certificate generated at start.
    pub(crate) generated: Option<String>,
}

/// The listener's certificate: `--tls-cert`/`--tls-key`, or one made now for `names`.
pub(crate) fn server_identity(opts: &TlsOptions, names: Vec<String>) -> Result<ServerIdentity> {
    let (chain, key, generated) = match (&opts.cert_file, &opts.key_file) {
        (Some(cert), Some(key)) => {
            let (chain, key) = load_identity(cert, key)?;
            (chain, key, None)
        }
        _ => {
            let made = rcgen::generate_simple_self_signed(names)
                .map_err(|e| setup_error("generate a certificate", e))?;
            let der = made.cert.der().clone();
            let print = fingerprint(&der);
            let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
                .map_err(|e| setup_error("generate a certificate", e))?;
            (vec![der], key, Some(print))
        }
    };
    let provider = provider(opts);
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions(&provider))
        .map_err(|e| setup_error("--tls-ciphers", e))?;
    let builder = match &opts.client_ca_file {
        Some(path) => {
            // `--tls-client-ca`: every client shows a certificate that CA issued.
            let mut roots = RootCertStore::empty();
            let (added, _ignored) =
                roots.add_parsable_certificates(load_certs(path, "--tls-client-ca")?);
            let what = format!("--tls-client-ca `{}`", path.display());
            if added == 0 {
                return Err(setup_error(what, "no usable certificate"));
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| setup_error(what, e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| setup_error("--tls-cert/--tls-key", e))?;
    config.key_log = key_log();
    Ok(ServerIdentity {
        config: Arc::new(config),
        generated,
    })
}

/// `--pin` (exactly the certificate with that SHA-256) or `--insecure` (any
/// certificate). Either way the handshake's signatures are still checked, so the peer
/// holds the key of the certificate it showed.
#[derive(Debug)]
struct LooseVerifier {
    /// The pinned digest, or `None` for `--insecure`.
    pin: Option<[u8; 32]>,
    /// For the signature checks.
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for LooseVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.pin {
            Some(pin)
                if ring::digest::digest(&ring::digest::SHA256, end_entity).as_ref() != pin =>
            {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Run the handshake on `endpoint` until it completes, fails, `deadline` passes or a
/// signal ends rnc. The socket is watched only for this phase; the session attaches it
/// afterwards as usual. Errors name `peer`: the socket's peer, or through a proxy the
/// target and the proxy (`127.0.0.1:443 via socks5 proxy 127.0.0.1:1080`).
pub(crate) fn handshake(
    lp: &mut Loop,
    session: &mut Session,
    endpoint: &mut Endpoint,
    tls: &mut TlsLayer,
    peer: &str,
    deadline: Option<Instant>,
) -> Result<std::result::Result<(), Outcome>> {
    let failed = |source: io::Error| Error::TlsHandshake {
        peer: peer.to_string(),
        source,
    };
    let token = lp.watch(endpoint.source(), Interest::READABLE | Interest::WRITABLE)?;
    let result = loop {
        match tls.handshake_step(endpoint) {
            Ok(true) => break Ok(Ok(())),
            Ok(false) => {}
            Err(e) => break Err(failed(e)),
        }
        match wait_for(lp, session, Some(token), deadline) {
            Ok(Wait::Ready) => {}
            Ok(Wait::TimedOut) => {
                break Err(failed(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake timed out",
                )));
            }
            Ok(Wait::Ended(outcome)) => break Ok(Err(outcome)),
            Err(e) => break Err(e),
        }
    };
    lp.unwatch(endpoint.source(), token);
    result
}

/// `-v`: what the peer's certificate says, one line each: subject, issuer, validity and
/// the names it is for (`peer` is `server` or `client`). Empty when it showed none.
pub(crate) fn describe_peer_certificate(tls: &TlsLayer, peer: &str) -> Vec<String> {
    let Some(der) = tls.conn.peer_certificates().and_then(<[_]>::first) else {
        return Vec::new();
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return vec![format!("{peer} certificate: not parsable")];
    };
    let when = |t: &x509_parser::time::ASN1Time| {
        let t = t.to_datetime();
        format!(
            "{}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    };
    let validity = cert.validity();
    let mut lines = vec![
        format!("{peer} certificate subject: {}", cert.subject()),
        format!("{peer} certificate issuer: {}", cert.issuer()),
        format!(
            "{peer} certificate valid: not before {}, not after {}",
            when(&validity.not_before),
            when(&validity.not_after)
        ),
    ];
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|name| match name {
                x509_parser::extensions::GeneralName::DNSName(n) => (*n).to_string(),
                x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                    4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).expect("4 bytes"))
                        .to_string(),
                    16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).expect("16 bytes"))
                        .to_string(),
                    _ => "?".to_string(),
                },
                other => other.to_string(),
            })
            .collect();
        lines.push(format!("{peer} certificate names: {}", names.join(", ")));
    }
    lines
}

/// `-v`: what was agreed.
pub(crate) fn describe_session(tls: &TlsLayer) -> String {
    let version = tls
        .conn
        .protocol_version()
        .map_or_else(|| "?".to_string(), |v| format!("{v:?}").replace('_', "."));
    let suite = tls
        .conn
        .negotiated_cipher_suite()
        .map_or_else(|| "?".to_string(), |s| format!("{:?}", s.suite()));
    let alpn = tls
        .conn
        .alpn_protocol()
        .map(|p| format!(", alpn {}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    format!("TLS handshake done: {version}, {suite}{alpn}")
}

/// The status row's view of a finished handshake: `TLS1.3`, the suite without its
/// protocol and hash (`AES_256_GCM`), the ALPN protocol, and `check`.
pub(crate) fn shown_session(tls: &TlsLayer, check: PeerCheck) -> TlsShown {
    let version = tls.conn.protocol_version().map_or_else(
        || "TLS".to_string(),
        |v| format!("{v:?}").replace("TLSv", "TLS").replace('_', "."),
    );
    let suite = tls
        .conn
        .negotiated_cipher_suite()
        .map_or_else(String::new, |s| short_suite(&format!("{:?}", s.suite())));
    let alpn = tls
        .conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    TlsShown {
        version,
        suite,
        alpn,
        check,
    }
}

/// `TLS13_AES_256_GCM_SHA384` → `AES_256_GCM`; `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256` →
/// `AES_128_GCM`.
fn short_suite(name: &str) -> String {
    let name = name
        .split_once("_WITH_")
        .map_or(name, |(_, cipher)| cipher)
        .trim_start_matches("TLS13_");
    let name = name
        .strip_suffix("_SHA256")
        .or_else(|| name.strip_suffix("_SHA384"))
        .unwrap_or(name);
    name.to_string()
}

/// How the peer's certificate is checked (the status row's words) and the `-v` line
/// saying so. `name`: what a client checks the server's certificate for; `None` on a
/// listener.
pub(crate) fn peer_check(opts: &TlsOptions, name: Option<&str>) -> (PeerCheck, Option<String>) {
    let Some(name) = name else {
        return match &opts.client_ca_file {
            Some(ca) => (
                PeerCheck::Unchecked,
                Some(format!(
                    "client certificate verified by --tls-client-ca {}",
                    ca.display()
                )),
            ),
            None => (PeerCheck::Unchecked, None),
        };
    };
    if opts.pin.is_some() {
        return (
            PeerCheck::Pinned,
            Some("certificate matches --pin".to_string()),
        );
    }
    if opts.insecure {
        return (
            PeerCheck::NotVerified,
            Some("certificate NOT verified (--insecure)".to_string()),
        );
    }
    let by = match &opts.ca_file {
        Some(ca) => format!("--tls-ca {}", ca.display()),
        None => "the system trust store".to_string(),
    };
    (
        PeerCheck::Verified(name.to_string()),
        Some(format!("certificate verified for {name} by {by}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_short_suite_names() {
        assert_eq!(short_suite("TLS13_AES_256_GCM_SHA384"), "AES_256_GCM");
        assert_eq!(
            short_suite("TLS13_CHACHA20_POLY1305_SHA256"),
            "CHACHA20_POLY1305"
        );
        assert_eq!(
            short_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            "AES_128_GCM"
        );
    }

    #[test]
    fn tls_peer_check_words() {
        let mut opts = TlsOptions::default();
        assert_eq!(
            peer_check(&opts, Some("example.org")),
            (
                PeerCheck::Verified("example.org".into()),
                Some("certificate verified for example.org by the system trust store".into())
            )
        );
        opts.ca_file = Some("ca.pem".into());
        assert_eq!(
            peer_check(&opts, Some("h")).1.as_deref(),
            Some("certificate verified for h by --tls-ca ca.pem")
        );
        opts.insecure = true;
        assert_eq!(
            peer_check(&opts, Some("h")),
            (
                PeerCheck::NotVerified,
                Some("certificate NOT verified (--insecure)".into())
            )
        );
        opts.pin = Some([0; 32]);
        assert_eq!(peer_check(&opts, Some("h")).0, PeerCheck::Pinned);
        assert_eq!(peer_check(&opts, None), (PeerCheck::Unchecked, None));
    }

    #[test]
    fn tls_fingerprint_is_sha256_hex() {
        assert_eq!(
            fingerprint(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
