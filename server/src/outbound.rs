//! HTTP clients for the calls this service makes itself (the command-line tools): TLS by rustls with
//! the platform's root certificates (on Linux the system store; `SSL_CERT_FILE` / `SSL_CERT_DIR`
//! point it elsewhere), and optional public-key pinning for BrightData's API.
//!
//! Pinning (`WEBHOOK_ENABLE_CERT_PINNING` with `BRIGHTDATA_PINNED_SPKI_SHA256`) is checked on top of
//! normal verification, never instead of it: the chain must verify AND one of the certificates the
//! server presents (its own or an intermediate) must carry a pinned key. It fails closed.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// `reqwest::Client::builder()` for this process: rustls' ring provider installed first (reqwest,
/// built without a provider of its own, panics without one). Every client starts here.
pub fn builder() -> reqwest::ClientBuilder {
    // Err means a provider is installed already: the same one, from an earlier call.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A client that verifies servers as a browser would; with `pins`, also pins their keys.
/// `pins: Some(&[])` is refused: pinning that pins nothing would silently pin nothing.
pub fn client(pins: Option<&[[u8; 32]]>, timeout: Duration) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let platform = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| format!("loading the platform's root certificates: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match pins {
        None => Arc::new(platform),
        Some([]) => {
            return Err(
                "WEBHOOK_ENABLE_CERT_PINNING is on but BRIGHTDATA_PINNED_SPKI_SHA256 is empty: refusing to call BrightData unpinned"
                    .to_owned(),
            );
        }
        Some(pins) => Arc::new(Pinned {
            inner: Arc::new(platform),
            pins: pins.to_vec(),
        }),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .user_agent(concat!("track-futura/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// Normal verification, then: does the presented chain hold a pinned key?
#[derive(Debug)]
struct Pinned {
    inner: Arc<dyn ServerCertVerifier>,
    pins: Vec<[u8; 32]>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let pinned = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(|cert| spki_sha256(cert))
            .any(|hash| self.pins.contains(&hash));
        if pinned {
            Ok(verified)
        } else {
            Err(rustls::Error::General(
                "certificate pinning: no certificate of the chain carries a key of BRIGHTDATA_PINNED_SPKI_SHA256".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (DER), as `openssl x509 -pubkey | openssl pkey
/// -pubin -outform der | openssl dgst -sha256 -binary | base64` prints it.
pub fn spki_sha256(cert_der: &[u8]) -> Option<[u8; 32]> {
    let (certificate, _) = der_element(cert_der, 0x30)?;
    let (tbs, _) = der_element(certificate.content, 0x30)?;
    let mut rest = tbs.content;
    // version [0] EXPLICIT, optional
    if rest.first() == Some(&0xA0) {
        rest = der_any(rest)?.1;
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        rest = der_any(rest)?.1;
    }
    let (spki, _) = der_element(rest, 0x30)?;
    Some(Sha256::digest(spki.whole).into())
}

struct Der<'a> {
    whole: &'a [u8],
    content: &'a [u8],
}

fn der_element(input: &[u8], tag: u8) -> Option<(Der<'_>, &[u8])> {
    (input.first() == Some(&tag)).then_some(())?;
    der_any(input)
}

/// One DER element (definite lengths only, as DER requires) and what follows it.
fn der_any(input: &[u8]) -> Option<(Der<'_>, &[u8])> {
    let first = *input.get(1)?;
    let (length, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let count = (first & 0x7F) as usize;
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = input.get(2..2 + count)?;
        let length = bytes.iter().fold(0usize, |n, b| (n << 8) | *b as usize);
        (length, 2 + count)
    };
    let end = header.checked_add(length)?;
    let whole = input.get(..end)?;
    Some((
        Der {
            whole,
            content: &whole[header..],
        },
        &input[end..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_has_no_key() {
        assert_eq!(spki_sha256(b""), None);
        assert_eq!(spki_sha256(&[0x30, 0x82, 0xff]), None);
        assert_eq!(spki_sha256(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
        assert_eq!(spki_sha256(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
    }

    #[test]
    fn empty_pins_are_refused() {
        let error = client(Some(&[]), Duration::from_secs(1)).unwrap_err();
        assert!(
            error.contains("BRIGHTDATA_PINNED_SPKI_SHA256 is empty"),
            "{error}"
        );
        assert!(client(None, Duration::from_secs(1)).is_ok());
    }
}
