//! Certificate signing requests for finalize, built with rcgen and signed with our keys.

use crate::error::Error;
use crate::keys::{KeyType, PrivateKey};
use crate::wire::{Identifier, IdentifierType};

/// A [`PrivateKey`] as rcgen's signing key, so rcgen needs no crypto backend of its own.
/// Hosts use it to make certificates with rcgen (self-signed fallbacks, test CAs).
pub struct RcgenKey<'a> {
    key: &'a PrivateKey,
    public: Vec<u8>,
}

impl<'a> RcgenKey<'a> {
    /// Wraps `key`.
    pub fn new(key: &'a PrivateKey) -> Self {
        Self {
            key,
            public: key.public_key_sec1(),
        }
    }
}

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

impl rcgen::SigningKey for RcgenKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key
            .sign_der(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// rcgen's subject alternative names for `identifiers`, or an error naming the bad one.
pub(crate) fn san_types(identifiers: &[Identifier]) -> Result<Vec<rcgen::SanType>, Error> {
    identifiers
        .iter()
        .map(|id| match id.kind {
            IdentifierType::Dns => id
                .value
                .clone()
                .try_into()
                .map(rcgen::SanType::DnsName)
                .map_err(|_| {
                    Error::invalid_input(
                        format!("domain name {:?}", id.value),
                        "ASCII (punycode for IDNs)",
                    )
                }),
            IdentifierType::Ip => id
                .value
                .parse()
                .map(rcgen::SanType::IpAddress)
                .map_err(|_| {
                    Error::invalid_input(
                        format!("IP address {:?}", id.value),
                        "an IPv4 or IPv6 address",
                    )
                }),
        })
        .collect()
}

/// A DER CSR for `identifiers` (DNS and IP SANs, empty subject) signed by `key`.
pub fn build_csr(identifiers: &[Identifier], key: &PrivateKey) -> Result<Vec<u8>, Error> {
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = san_types(identifiers)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&RcgenKey::new(key))
        .map_err(|e| Error::crypto(format!("could not build the CSR ({e})")))?;
    Ok(csr.der().to_vec())
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
    fn non_ascii_names_are_refused_naming_them() {
        let key = PrivateKey::generate(KeyType::P256).expect("key");
        let err = build_csr(&[Identifier::dns("bücher.example")], &key).expect_err("IDN");
        assert!(err.to_string().contains("bücher.example"), "{err}");
    }
}
