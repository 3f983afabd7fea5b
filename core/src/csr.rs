//! Certificate signing requests for finalize, and the X.509 writing they share with the
//! TLS-ALPN-01 certificate: a few DER structures written out and signed with our keys.

use std::net::IpAddr;

use crate::asn1::{self, tag};
use crate::error::Error;
use crate::keys::{KeyType, PrivateKey};
use crate::oid;
use crate::timestamp::{DateTime, MAX_UNIX_SECS};
use crate::wire::{Identifier, IdentifierType};

/// A [`PrivateKey`] as rcgen's signing key, so rcgen needs no crypto backend of its own.
/// Hosts use it to make certificates with rcgen (self-signed fallbacks, test CAs).
///
/// Only with the `rcgen` feature (off by default; the tests turn it on); the engine itself
/// writes its CSRs and certificates without rcgen.
#[cfg(any(test, feature = "rcgen"))]
pub struct RcgenKey<'a> {
    key: &'a PrivateKey,
    public: Vec<u8>,
}

#[cfg(any(test, feature = "rcgen"))]
impl<'a> RcgenKey<'a> {
    /// Wraps `key`.
    pub fn new(key: &'a PrivateKey) -> Self {
        Self {
            key,
            public: key.public_key_sec1(),
        }
    }
}

#[cfg(any(test, feature = "rcgen"))]
impl rcgen::PublicKeyData for RcgenKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.key.key_type() {
            KeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }
}

#[cfg(any(test, feature = "rcgen"))]
impl rcgen::SigningKey for RcgenKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key
            .sign_der(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// The subjectAltName extension for `identifiers` (dNSName / iPAddress entries), or an error
/// naming the first one that cannot be written. Critical: the subjects we write are empty
/// (RFC 5280 §4.2.1.6).
pub(crate) fn subject_alt_name(identifiers: &[Identifier]) -> Result<Vec<u8>, Error> {
    let mut names = Vec::new();
    for id in identifiers {
        match id.kind {
            IdentifierType::Dns => {
                if !id.value.is_ascii() {
                    return Err(Error::invalid_input(
                        format!("domain name {:?}", id.value),
                        "ASCII (punycode for IDNs)",
                    ));
                }
                asn1::write(&mut names, tag::context(2), id.value.as_bytes());
            }
            IdentifierType::Ip => {
                let ip: IpAddr = id.value.parse().map_err(|_| {
                    Error::invalid_input(
                        format!("IP address {:?}", id.value),
                        "an IPv4 or IPv6 address",
                    )
                })?;
                match ip {
                    IpAddr::V4(v4) => asn1::write(&mut names, tag::context(7), &v4.octets()),
                    IpAddr::V6(v6) => asn1::write(&mut names, tag::context(7), &v6.octets()),
                }
            }
        }
    }
    Ok(extension(
        oid::SUBJECT_ALT_NAME,
        true,
        &asn1::element(tag::SEQUENCE, &names),
    ))
}

/// An X.509 Extension: `SEQUENCE { extnID, critical (only when true), extnValue }`.
pub(crate) fn extension(oid: &[u8], critical: bool, value_der: &[u8]) -> Vec<u8> {
    let mut content = oid::element(oid);
    if critical {
        asn1::write(&mut content, tag::BOOLEAN, &[0xff]);
    }
    asn1::write(&mut content, tag::OCTET_STRING, value_der);
    asn1::element(tag::SEQUENCE, &content)
}

/// The AlgorithmIdentifier of the signatures `kind` makes (no parameters, RFC 5758).
fn signature_algorithm(kind: KeyType) -> Vec<u8> {
    let oid = match kind {
        KeyType::P256 => oid::ECDSA_WITH_SHA256,
        KeyType::P384 => oid::ECDSA_WITH_SHA384,
    };
    asn1::sequence(&[&oid::element(oid)])
}

/// `SEQUENCE { to_be_signed, signatureAlgorithm, BIT STRING signature }`, signed by `key`:
/// the outer shape of both certificates and CSRs.
fn signed(to_be_signed: &[u8], key: &PrivateKey) -> Result<Vec<u8>, Error> {
    let signature = key.sign_der(to_be_signed)?;
    Ok(asn1::sequence(&[
        to_be_signed,
        &signature_algorithm(key.key_type()),
        &asn1::bit_string(&signature),
    ]))
}

/// An X.509 time `secs` after the Unix epoch: UTCTime for 1950-2049, GeneralizedTime
/// otherwise (RFC 5280 §4.1.2.5), clamped to year 9999.
fn x509_time(secs: i64) -> Vec<u8> {
    let t = DateTime::from_unix_secs(secs.min(MAX_UNIX_SECS));
    let mut text = String::with_capacity(15);
    let utc = (1950..2050).contains(&t.year);
    if utc {
        crate::timestamp::push_padded(&mut text, (t.year % 100) as u32, 2);
    } else {
        crate::timestamp::push_padded(&mut text, t.year.max(0) as u32, 4);
    }
    for part in [t.month, t.day, t.hour, t.minute, t.second] {
        crate::timestamp::push_padded(&mut text, part, 2);
    }
    text.push('Z');
    let tag = if utc {
        tag::UTC_TIME
    } else {
        tag::GENERALIZED_TIME
    };
    asn1::element(tag, text.as_bytes())
}

/// A DER CSR for `identifiers` (DNS and IP SANs, empty subject) signed by `key`.
pub fn build_csr(identifiers: &[Identifier], key: &PrivateKey) -> Result<Vec<u8>, Error> {
    // attributes [0] IMPLICIT SET OF Attribute: the extensionRequest with the SANs.
    let mut attributes = Vec::new();
    if !identifiers.is_empty() {
        let extensions = asn1::sequence(&[&subject_alt_name(identifiers)?]);
        attributes = asn1::sequence(&[
            &oid::element(oid::EXTENSION_REQUEST),
            &asn1::element(tag::SET, &extensions),
        ]);
    }
    let info = asn1::sequence(&[
        &[tag::INTEGER, 1, 0], // version 1 (0)
        &[tag::SEQUENCE, 0],   // empty subject
        &key.public_key_der(),
        &asn1::element(tag::context_constructed(0), &attributes),
    ]);
    signed(&info, key)
}

/// A self-signed v3 certificate with an empty subject and issuer, valid from `not_before`
/// to `not_after` (Unix seconds), carrying `extensions` (encoded Extension elements).
pub(crate) fn self_signed_certificate(
    key: &PrivateKey,
    serial: &[u8],
    not_before: i64,
    not_after: i64,
    extensions: &[&[u8]],
) -> Result<Vec<u8>, Error> {
    let tbs = asn1::sequence(&[
        &[tag::context_constructed(0), 3, tag::INTEGER, 1, 2], // version v3 (2)
        &asn1::unsigned_integer(serial),
        &signature_algorithm(key.key_type()),
        &[tag::SEQUENCE, 0], // issuer
        &asn1::sequence(&[&x509_time(not_before), &x509_time(not_after)]),
        &[tag::SEQUENCE, 0], // subject
        &key.public_key_der(),
        &asn1::element(tag::context_constructed(3), &asn1::sequence(extensions)),
    ]);
    signed(&tbs, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs openssl on `der` (a CSR) with `args`; `None` when openssl is not installed.
    fn openssl_req(der: &[u8], args: &[&str]) -> Option<std::process::Output> {
        let path = std::env::temp_dir().join(format!(
            "certsmith-csr-{}-{:?}.der",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, der).expect("write CSR");
        let output = Command::new("openssl")
            .args(["req", "-inform", "DER", "-noout", "-in"])
            .arg(&path)
            .args(args)
            .output();
        let _ = std::fs::remove_file(&path);
        output.ok()
    }

    #[test]
    fn openssl_accepts_the_csr_on_both_curves() {
        let identifiers = [
            Identifier::dns("example.com"),
            Identifier::dns("*.example.com"),
            Identifier::ip("2001:db8::1"),
        ];
        for kind in [KeyType::P256, KeyType::P384] {
            let key = PrivateKey::generate(kind).expect("key");
            let der = build_csr(&identifiers, &key).expect("CSR");
            let Some(verify) = openssl_req(&der, &["-verify"]) else {
                eprintln!("openssl not installed: CSR not checked by openssl");
                return;
            };
            assert!(
                verify.status.success(),
                "openssl req -verify: {}",
                String::from_utf8_lossy(&verify.stderr)
            );
            let text = openssl_req(&der, &["-text"]).expect("openssl");
            let text = String::from_utf8_lossy(&text.stdout);
            for expected in [
                "DNS:example.com",
                "DNS:*.example.com",
                "IP Address:2001:DB8:0:0:0:0:0:1",
            ] {
                assert!(text.contains(expected), "{expected} in\n{text}");
            }
        }
    }

    #[test]
    fn csr_decodes_with_x509_cert_and_verifies() {
        use p256::ecdsa::signature::Verifier;
        use x509_cert::der::{Decode, Encode};
        let key = PrivateKey::generate(KeyType::P256).expect("key");
        let der = build_csr(
            &[Identifier::dns("a.example"), Identifier::ip("192.0.2.1")],
            &key,
        )
        .expect("CSR");
        let csr = x509_cert::request::CertReq::from_der(&der).expect("a PKCS#10 request");
        assert_eq!(csr.info.subject.to_der().expect("der"), [0x30, 0]);
        assert_eq!(
            csr.info.public_key.to_der().expect("der"),
            key.public_key_der()
        );
        assert_eq!(csr.info.attributes.len(), 1);
        let info = csr.info.to_der().expect("der");
        let verifying =
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.public_key_sec1()).expect("point");
        let signature =
            p256::ecdsa::DerSignature::from_bytes(csr.signature.raw_bytes()).expect("DER sig");
        verifying
            .verify(&info, &signature)
            .expect("signature over the info");
    }

    #[test]
    fn non_ascii_names_are_refused_naming_them() {
        let key = PrivateKey::generate(KeyType::P256).expect("key");
        let err = build_csr(&[Identifier::dns("bücher.example")], &key).expect_err("IDN");
        assert!(err.to_string().contains("bücher.example"), "{err}");
        let err = build_csr(&[Identifier::ip("192.0.2.300")], &key).expect_err("bad IP");
        assert!(err.to_string().contains("192.0.2.300"), "{err}");
    }

    #[test]
    fn times_switch_to_generalized_from_2050() {
        assert_eq!(x509_time(0), b"\x17\x0d700101000000Z");
        assert_eq!(x509_time(2_524_607_999), b"\x17\x0d491231235959Z");
        assert_eq!(x509_time(2_524_608_000), b"\x18\x0f20500101000000Z");
        assert_eq!(x509_time(-86_400), b"\x17\x0d691231000000Z");
        assert_eq!(x509_time(i64::MAX), b"\x18\x0f99991231235959Z");
    }
}
