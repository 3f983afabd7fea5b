//! Challenge material: key authorizations, DNS-01 records and TLS-ALPN-01 certificates.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::asn1;
use crate::base64url::b64url;
use crate::csr;
use crate::error::Error;
use crate::keys::{KeyType, PrivateKey};
use crate::oid;
use crate::random::Random;
use crate::timestamp::Timestamp;
use crate::wire::Identifier;

/// A day in seconds.
const DAY_SECS: i64 = 24 * 60 * 60;

/// The key authorization of RFC 8555 §8.1: `token "." thumbprint`.
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    format!("{token}.{thumbprint}")
}

/// The DNS-01 TXT value: base64url(SHA-256(key authorization)).
pub fn dns01_value(key_authorization: &str) -> String {
    b64url(&Sha256::digest(key_authorization.as_bytes()))
}

/// The DNS-01 record name for a domain: `_acme-challenge.<domain>` (a wildcard's `*.` dropped).
pub fn dns01_record_name(domain: &str) -> String {
    let domain = domain.trim_end_matches('.');
    let domain = domain.strip_prefix("*.").unwrap_or(domain);
    format!("_acme-challenge.{domain}")
}

/// A TLS-ALPN-01 (RFC 8737) self-signed certificate and its fresh P-256 key.
#[derive(Clone)]
pub struct TlsAlpnCertificate {
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// Its private key, PKCS#8 PEM.
    pub private_key_pem: Zeroizing<String>,
}

/// A random serial number for a certificate the engine makes (16 bytes, positive).
fn random_serial(random: &mut Random) -> Result<[u8; 16], Error> {
    let mut serial = [0u8; 16];
    random.fill(&mut serial)?;
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    Ok(serial)
}

/// Builds the TLS-ALPN-01 certificate for `identifier`: its only SAN is the identifier and it
/// carries the critical `id-pe-acmeIdentifier` extension holding SHA-256(key authorization).
/// Valid from `now` minus a day for a week; its key and serial come from `random`.
pub fn tls_alpn01_certificate(
    identifier: &Identifier,
    key_authorization: &str,
    now: Timestamp,
    random: &mut Random,
) -> Result<TlsAlpnCertificate, Error> {
    let key = PrivateKey::generate_with(KeyType::P256, random)?;
    let san = csr::subject_alt_name(core::slice::from_ref(identifier))?;
    // extnValue: Authorization ::= OCTET STRING (SIZE (32)), RFC 8737 §3.
    let digest = asn1::element(
        asn1::tag::OCTET_STRING,
        &Sha256::digest(key_authorization.as_bytes()),
    );
    let acme = csr::extension(oid::ACME_IDENTIFIER, true, &digest);
    let now_secs = i64::try_from(now.unix_secs()).unwrap_or(i64::MAX);
    let der = csr::self_signed_certificate(
        &key,
        &random_serial(random)?,
        now_secs.saturating_sub(DAY_SECS),
        now_secs.saturating_add(7 * DAY_SECS),
        &[&san, &acme],
    )?;
    Ok(TlsAlpnCertificate {
        certificate_pem: certificate_pem(&der),
        certificate_der: der,
        private_key_pem: key.to_pem(),
    })
}

/// A DER certificate as PEM (64-column base64, LF line ends).
pub(crate) fn certificate_pem(der: &[u8]) -> String {
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert;
    use x509_cert::der::Decode;

    #[test]
    fn key_authorization_and_dns01_known_answers() {
        // Expected values computed independently with Python (hashlib, base64) from the
        // RFC 7515 A.3 key's thumbprint.
        let ka = key_authorization(
            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
            "_GK0r6GCoJt9zcssg9lay4obIxgCq05ntiRymRHADSU",
        );
        assert_eq!(
            ka,
            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA._GK0r6GCoJt9zcssg9lay4obIxgCq05ntiRymRHADSU"
        );
        assert_eq!(
            dns01_value(&ka),
            "SSbTjDJmL5j4dHDYDYB0KMw3xkcIlVvoxmYgG-gxaLc"
        );
        assert_eq!(
            dns01_record_name("*.example.com."),
            "_acme-challenge.example.com"
        );
        assert_eq!(
            dns01_record_name("www.example.com"),
            "_acme-challenge.www.example.com"
        );
    }

    #[test]
    fn tls_alpn01_certificate_has_the_critical_acme_identifier() {
        for identifier in [
            Identifier::dns("alpn.example.com"),
            Identifier::ip("192.0.2.7"),
        ] {
            let ka = "token.thumbprint";
            let now = Timestamp::from_unix_secs(1_800_000_000);
            let made = tls_alpn01_certificate(&identifier, ka, now, &mut Random::platform())
                .expect("certificate");
            let parsed = x509_cert::Certificate::from_der(&made.certificate_der).expect("DER");
            let extensions = parsed.tbs_certificate().extensions().expect("extensions");
            let acme = extensions
                .iter()
                .find(|e| e.extn_id.to_string() == "1.3.6.1.5.5.7.1.31")
                .expect("acmeIdentifier extension");
            assert!(acme.critical, "RFC 8737 requires it critical");
            let mut expected = vec![0x04, 0x20];
            expected.extend_from_slice(&Sha256::digest(ka.as_bytes()));
            assert_eq!(acme.extn_value.as_bytes(), expected.as_slice());

            let info = cert::inspect(&made.certificate_der).expect("inspect");
            assert_eq!(info.sans, core::slice::from_ref(&identifier));
            assert!(info.not_before < now && now < info.not_after);
            let key = PrivateKey::from_pem(&made.private_key_pem).expect("key");
            assert!(cert::key_matches_certificate(&key, &made.certificate_der).expect("match"));
            assert_eq!(
                cert::split_pem_chain(&made.certificate_pem).expect("pem"),
                core::slice::from_ref(&made.certificate_der)
            );
        }
    }
}
