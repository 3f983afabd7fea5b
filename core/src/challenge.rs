//! Challenge material: key authorizations, DNS-01 records and TLS-ALPN-01 certificates.

use zeroize::Zeroizing;

use crate::error::Error;
use crate::timestamp::Timestamp;
use crate::wire::Identifier;

/// The key authorization of RFC 8555 §8.1: `token "." thumbprint`.
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    todo!()
}

/// The DNS-01 TXT value: base64url(SHA-256(key authorization)).
pub fn dns01_value(key_authorization: &str) -> String {
    todo!()
}

/// The DNS-01 record name for a domain: `_acme-challenge.<domain>` (a wildcard's `*.` dropped).
pub fn dns01_record_name(domain: &str) -> String {
    todo!()
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

/// Builds the TLS-ALPN-01 certificate for `identifier`: its only SAN is the identifier and it
/// carries the critical `id-pe-acmeIdentifier` extension holding SHA-256(key authorization).
/// Valid from `now` minus a day for a week.
pub fn tls_alpn01_certificate(
    identifier: &Identifier,
    key_authorization: &str,
    now: Timestamp,
) -> Result<TlsAlpnCertificate, Error> {
    todo!()
}
