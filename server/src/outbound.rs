//! HTTP clients for the calls this service makes itself (the command-line tools): TLS by rustls with
//! the platform's root certificates (on Linux the system store; `SSL_CERT_FILE` / `SSL_CERT_DIR`
//! point it elsewhere), and optional public-key pinning for BrightData's API.
//!
//! Pinning (`WEBHOOK_ENABLE_CERT_PINNING` with `BRIGHTDATA_PINNED_SPKI_SHA256`) is checked on top of
//! normal verification, never instead of it: the chain must verify AND a pinned key must be on the
//! verified path (the server's certificate, an intermediate the path runs through, or the trusted
//! root it ends at). Only the path counts, never merely what the server sent: a server holding a
//! wrongly issued certificate could append BrightData's real (public) intermediate to its chain,
//! which path building ignores. It fails closed.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
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
            roots: trusted_roots()?,
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

/// The roots the platform verifier trusts on Linux (the system store, or `SSL_CERT_FILE` /
/// `SSL_CERT_DIR`), as webpki trust anchors: the pin check builds its paths to them.
fn trusted_roots() -> Result<Vec<TrustAnchor<'static>>, String> {
    let found = rustls_native_certs::load_native_certs();
    let roots: Vec<TrustAnchor<'static>> = found
        .certs
        .iter()
        .filter_map(|cert| webpki::anchor_from_trusted_cert(cert).ok())
        .map(|anchor| anchor.to_owned())
        .collect();
    if roots.is_empty() {
        return Err(format!(
            "certificate pinning: no trusted root certificates could be loaded ({} errors)",
            found.errors.len()
        ));
    }
    Ok(roots)
}

/// Normal verification, then: does a verified path to a trusted root hold a pinned key?
#[derive(Debug)]
struct Pinned {
    inner: Arc<dyn ServerCertVerifier>,
    roots: Vec<TrustAnchor<'static>>,
    pins: Vec<[u8; 32]>,
}

impl Pinned {
    fn is_pinned(&self, spki_der: &[u8]) -> bool {
        let hash: [u8; 32] = Sha256::digest(spki_der).into();
        self.pins.contains(&hash)
    }

    /// Whether `path` (leaf, intermediates, root) carries a pinned key.
    fn path_is_pinned(&self, path: &webpki::VerifiedPath<'_>) -> bool {
        let anchor = der_sequence(path.anchor().subject_public_key_info.as_ref());
        self.is_pinned(path.end_entity().subject_public_key_info().as_ref())
            || path
                .intermediate_certificates()
                .any(|cert| self.is_pinned(cert.subject_public_key_info().as_ref()))
            || self.is_pinned(&anchor)
    }
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
        // Path building again, now with the pins as a condition on the path: webpki tries every
        // path it can build and keeps the first that verifies and carries a pin. Certificates the
        // server sent that no verified path uses never count.
        let refused = || {
            rustls::Error::General(
                "certificate pinning: no verified certificate path carries a key of BRIGHTDATA_PINNED_SPKI_SHA256".into(),
            )
        };
        let leaf = webpki::EndEntityCert::try_from(end_entity).map_err(|_| refused())?;
        let pinned_path = |path: &webpki::VerifiedPath<'_>| {
            if self.path_is_pinned(path) {
                Ok(())
            } else {
                Err(webpki::Error::UnknownIssuer)
            }
        };
        leaf.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            Some(&pinned_path),
        )
        .map_err(|_| refused())?;
        Ok(verified)
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

/// `content` wrapped as a DER SEQUENCE (a trust anchor keeps its key info without the wrapper).
fn der_sequence(content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
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
    fn a_sequence_wrapper_round_trips_through_the_der_reader() {
        for length in [0usize, 5, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; length];
            let wrapped = der_sequence(&content);
            let (element, rest) = der_element(&wrapped, 0x30).unwrap();
            assert_eq!(element.content, content.as_slice());
            assert!(rest.is_empty());
        }
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
