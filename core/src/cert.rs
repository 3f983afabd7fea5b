//! Certificate inspection: PEM chains, names, validity, serial, ARI certificate IDs, renewal
//! times and key matching.

use crate::error::Error;
use crate::keys::PrivateKey;
use crate::timestamp::Timestamp;
use crate::wire::Identifier;

/// What a host needs to know about a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject as an RFC 4514 string (may be empty).
    pub subject: String,
    /// The issuer as an RFC 4514 string.
    pub issuer: String,
    /// The issuer's common name, if any (for preferred-chain selection).
    pub issuer_common_name: Option<String>,
    /// DNS and IP subject alternative names, in order.
    pub sans: Vec<Identifier>,
    /// The serial number, lowercase hex without separators.
    pub serial_hex: String,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// The public key's algorithm: `p256`, `p384`, `rsa2048`…, or the OID.
    pub key_type: String,
    /// Whether basicConstraints says CA.
    pub is_ca: bool,
    /// The ARI certificate ID (needs AKI), if computable.
    pub ari_id: Option<String>,
}

impl CertificateInfo {
    /// Whole days from `now` to notAfter (negative once expired).
    pub fn days_left(&self, now: Timestamp) -> i64 {
        todo!()
    }

    /// When to renew without ARI: with 1/3 of the lifetime left, or 1/2 for certificates
    /// valid for 10 days or less.
    pub fn default_renewal_time(&self) -> Timestamp {
        todo!()
    }
}

/// Splits a PEM bundle into DER certificates (ignores non-certificate blocks? no: errors).
pub fn split_pem_chain(pem: &str) -> Result<Vec<Vec<u8>>, Error> {
    todo!()
}

/// Inspects one DER certificate.
pub fn inspect(der: &[u8]) -> Result<CertificateInfo, Error> {
    todo!()
}

/// The ARI certificate ID (RFC 9773 §4.1): base64url(AKI keyIdentifier) "." base64url(serial
/// DER content octets).
pub fn ari_cert_id(der: &[u8]) -> Result<String, Error> {
    todo!()
}

/// Whether `key` is the private key of the certificate `der`.
pub fn key_matches_certificate(key: &PrivateKey, der: &[u8]) -> Result<bool, Error> {
    todo!()
}

/// A time inside the ARI window `[start, end)` chosen by `random` (uniform over the window).
pub fn time_in_window(start: Timestamp, end: Timestamp, random: u64) -> Timestamp {
    todo!()
}
