//! Object identifiers (DER content octets) the engine writes or looks for, and their DER
//! element.

use crate::asn1::{self, tag};

/// id-ecPublicKey, 1.2.840.10045.2.1.
pub(crate) const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// secp256r1 (P-256), 1.2.840.10045.3.1.7.
pub(crate) const SECP256R1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1 (P-384), 1.3.132.0.34.
pub(crate) const SECP384R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// ecdsa-with-SHA256, 1.2.840.10045.4.3.2.
pub(crate) const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
/// ecdsa-with-SHA384, 1.2.840.10045.4.3.3.
pub(crate) const ECDSA_WITH_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
/// rsaEncryption, 1.2.840.113549.1.1.1.
pub(crate) const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// Ed25519, 1.3.101.112.
pub(crate) const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
/// PKCS #9 extensionRequest, 1.2.840.113549.1.9.14.
pub(crate) const EXTENSION_REQUEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e];
/// subjectAltName, 2.5.29.17.
pub(crate) const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
/// basicConstraints, 2.5.29.19.
pub(crate) const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
/// authorityKeyIdentifier, 2.5.29.35.
pub(crate) const AUTHORITY_KEY_IDENTIFIER: &[u8] = &[0x55, 0x1d, 0x23];
/// id-pe-acmeIdentifier (RFC 8737), 1.3.6.1.5.5.7.1.31.
pub(crate) const ACME_IDENTIFIER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f];
/// commonName, 2.5.4.3.
pub(crate) const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// An OBJECT IDENTIFIER element.
pub(crate) fn element(content: &[u8]) -> Vec<u8> {
    asn1::element(tag::OID, content)
}
