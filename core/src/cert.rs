//! Certificate inspection: PEM chains, names, validity, serial, ARI certificate IDs, renewal
//! times and key matching.

use std::net::IpAddr;

use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BasicConstraints, SubjectAltName};
use x509_cert::spki::ObjectIdentifier;

use crate::error::Error;
use crate::jose::b64url;
use crate::keys::PrivateKey;
use crate::timestamp::Timestamp;
use crate::wire::Identifier;

/// A day in milliseconds.
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// id-ecPublicKey.
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// The P-256 curve.
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// The P-384 curve.
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// rsaEncryption.
const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// Ed25519.
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

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
        let diff = i128::from(self.not_after.unix_millis()) - i128::from(now.unix_millis());
        i64::try_from(diff.div_euclid(i128::from(DAY_MS))).unwrap_or(i64::MIN)
    }

    /// When to renew without ARI: with 1/3 of the lifetime left, or 1/2 for certificates
    /// valid for 10 days or less.
    pub fn default_renewal_time(&self) -> Timestamp {
        let lifetime = self.not_after.millis_since(self.not_before);
        let elapsed = if lifetime <= 10 * DAY_MS {
            lifetime / 2
        } else {
            lifetime / 3 * 2
        };
        self.not_before.plus_millis(elapsed)
    }
}

/// The error for something that is not a certificate.
fn not_a_certificate(detail: impl core::fmt::Display) -> Error {
    Error::invalid_input("certificate", format!("a DER X.509 certificate ({detail})"))
}

/// Splits a PEM bundle into DER certificates, in order. Other PEM blocks (keys) are skipped;
/// a bundle without certificates, or with a malformed one, is an error.
pub fn split_pem_chain(pem: &str) -> Result<Vec<Vec<u8>>, Error> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut ders = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start..];
        let end = after.find(END).ok_or_else(|| {
            Error::invalid_input(
                "certificate PEM",
                "an END CERTIFICATE line after each BEGIN",
            )
        })? + END.len();
        let block = &after[..end];
        let (label, der) = pem_rfc7468::decode_vec(block.as_bytes()).map_err(|e| {
            Error::invalid_input(
                "certificate PEM",
                format!("valid base64 in each block ({e})"),
            )
        })?;
        if label != "CERTIFICATE" {
            return Err(Error::invalid_input(
                "certificate PEM",
                "CERTIFICATE blocks",
            ));
        }
        Certificate::from_der(&der).map_err(not_a_certificate)?;
        ders.push(der);
        rest = &after[end..];
    }
    if ders.is_empty() {
        return Err(Error::invalid_input(
            "certificate PEM",
            "at least one -----BEGIN CERTIFICATE----- block",
        ));
    }
    Ok(ders)
}

/// Inspects one DER certificate.
pub fn inspect(der: &[u8]) -> Result<CertificateInfo, Error> {
    let cert = Certificate::from_der(der).map_err(not_a_certificate)?;
    let tbs = cert.tbs_certificate();
    let validity = tbs.validity();
    let to_ts = |t: x509_cert::time::Time| {
        Timestamp::from_unix_millis(
            u64::try_from(t.to_unix_duration().as_millis()).unwrap_or(u64::MAX),
        )
    };
    let sans = match tbs.get_extension::<SubjectAltName>() {
        Ok(Some((_, san))) => san.0.iter().filter_map(identifier_of).collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(not_a_certificate(format!("its subjectAltName: {e}"))),
    };
    let is_ca = matches!(tbs.get_extension::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca);
    let issuer_common_name = tbs
        .issuer()
        .common_name()
        .ok()
        .flatten()
        .map(|cn| cn.value().into_owned());
    Ok(CertificateInfo {
        subject: crate::dn::to_rfc4514(tbs.subject()),
        issuer: crate::dn::to_rfc4514(tbs.issuer()),
        issuer_common_name,
        sans,
        serial_hex: hex(strip_sign_byte(tbs.serial_number().as_bytes())),
        not_before: to_ts(validity.not_before),
        not_after: to_ts(validity.not_after),
        key_type: key_type(&cert),
        is_ca,
        ari_id: ari_cert_id(der).ok(),
    })
}

/// A DNS or IP identifier from a SAN entry.
fn identifier_of(name: &GeneralName) -> Option<Identifier> {
    match name {
        GeneralName::DnsName(dns) => Some(Identifier::dns(dns.as_str())),
        GeneralName::IpAddress(octets) => {
            let bytes = octets.as_bytes();
            let ip = match bytes.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
                16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
                _ => return None,
            };
            Some(Identifier::ip(ip.to_string()))
        }
        _ => None,
    }
}

/// The key algorithm of a certificate in certsmith's names.
fn key_type(cert: &Certificate) -> String {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let oid = spki.algorithm.oid;
    if oid == EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return match curve {
            Some(c) if c == SECP256R1 => "p256".to_owned(),
            Some(c) if c == SECP384R1 => "p384".to_owned(),
            Some(c) => format!("ec-{c}"),
            None => "ec".to_owned(),
        };
    }
    if oid == RSA {
        // The modulus is the first INTEGER of the RSAPublicKey SEQUENCE.
        let bits = spki
            .subject_public_key
            .as_bytes()
            .and_then(rsa_modulus_bits)
            .map(|b| b.to_string())
            .unwrap_or_default();
        return format!("rsa{bits}");
    }
    if oid == ED25519 {
        return "ed25519".to_owned();
    }
    oid.to_string()
}

/// The bit length of an RSAPublicKey's modulus (the first INTEGER of its SEQUENCE).
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    use x509_cert::der::asn1::UintRef;
    use x509_cert::der::{Reader, SliceReader};
    let mut reader = SliceReader::new(der).ok()?;
    let modulus = reader
        .sequence(|seq: &mut SliceReader<'_>| {
            let modulus = UintRef::decode(seq)?;
            UintRef::decode(seq)?; // the public exponent
            Ok::<_, x509_cert::der::Error>(modulus)
        })
        .ok()?;
    let bytes = modulus.as_bytes();
    let lead = bytes.first()?;
    Some(bytes.len() * 8 - lead.leading_zeros() as usize)
}

/// Drops the leading zero byte DER adds to keep a positive INTEGER positive.
fn strip_sign_byte(bytes: &[u8]) -> &[u8] {
    match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => bytes,
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ARI certificate ID from its two parts (RFC 9773 §4.1).
fn ari_id_of(key_identifier: &[u8], serial_der_content: &[u8]) -> String {
    format!("{}.{}", b64url(key_identifier), b64url(serial_der_content))
}

/// The ARI certificate ID (RFC 9773 §4.1): base64url(AKI keyIdentifier) "." base64url(serial
/// DER content octets).
pub fn ari_cert_id(der: &[u8]) -> Result<String, Error> {
    let cert = Certificate::from_der(der).map_err(not_a_certificate)?;
    let tbs = cert.tbs_certificate();
    let key_id = match tbs.get_extension::<AuthorityKeyIdentifier>() {
        Ok(Some((_, aki))) => aki.key_identifier,
        _ => None,
    }
    .ok_or_else(|| {
        Error::invalid_input(
            "certificate",
            "an Authority Key Identifier extension (ARI needs it to name the certificate)",
        )
    })?;
    // The serial's DER content octets: the INTEGER encoding minus its tag and length.
    let serial_der = tbs
        .serial_number()
        .to_der()
        .map_err(|e| not_a_certificate(format!("its serial number: {e}")))?;
    let header_len = if serial_der.get(1).is_some_and(|l| l & 0x80 != 0) {
        2 + usize::from(serial_der[1] & 0x7f)
    } else {
        2
    };
    let content = serial_der.get(header_len..).unwrap_or_default();
    Ok(ari_id_of(key_id.as_bytes(), content))
}

/// Whether `key` is the private key of the certificate `der`.
pub fn key_matches_certificate(key: &PrivateKey, der: &[u8]) -> Result<bool, Error> {
    let cert = Certificate::from_der(der).map_err(not_a_certificate)?;
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| not_a_certificate(format!("its public key: {e}")))?;
    Ok(spki == key.public_key_der())
}

/// A time inside the ARI window `[start, end)` chosen by `random` (uniform over the window).
pub fn time_in_window(start: Timestamp, end: Timestamp, random: u64) -> Timestamp {
    let width = end.millis_since(start);
    if width == 0 {
        return start;
    }
    start.plus_millis(random % width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ari_id_matches_rfc9773_example() {
        let aki = [
            0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
            0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4,
        ];
        let serial = [0x00, 0x87, 0x65, 0x43, 0x21];
        assert_eq!(
            ari_id_of(&aki, &serial),
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
        );
    }

    #[test]
    fn window_choice_stays_inside() {
        let (start, end) = (Timestamp(1_000), Timestamp(2_000));
        for random in [0, 1, 999, 1_000, u64::MAX] {
            let t = time_in_window(start, end, random);
            assert!(start <= t && t < end, "{t:?}");
        }
        assert_eq!(time_in_window(end, start, 5), end);
    }
}

#[cfg(test)]
mod inspect_tests {
    use super::*;
    use crate::challenge::to_offset_date_time;
    use crate::csr::RcgenKey;
    use crate::keys::KeyType;

    const DAY: i64 = 86_400;
    const T0: u64 = 1_800_000_000;

    /// A leaf for `names` valid for `days`, issued by a throwaway CA, with the chain PEM.
    fn issue(names: &[&str], days: i64) -> (PrivateKey, Vec<u8>, String) {
        let ca_key = PrivateKey::generate(KeyType::P384).expect("ca key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Test Issuing CA");
        ca.serial_number = Some(rcgen::SerialNumber::from_slice(&[1]));
        let ca_signer = RcgenKey::new(&ca_key);
        let ca_cert = ca.self_signed(&ca_signer).expect("ca cert");
        let issuer = rcgen::Issuer::new(ca, RcgenKey::new(&ca_key));

        let leaf_key = PrivateKey::generate(KeyType::P256).expect("leaf key");
        let mut leaf = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .expect("leaf params");
        leaf.distinguished_name = rcgen::DistinguishedName::new();
        leaf.not_before = to_offset_date_time(Timestamp::from_unix_secs(T0), 0);
        leaf.not_after = to_offset_date_time(Timestamp::from_unix_secs(T0), days * DAY);
        leaf.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x87, 0x65, 0x43, 0x21]));
        leaf.use_authority_key_identifier_extension = true;
        let leaf_cert = leaf
            .signed_by(&RcgenKey::new(&leaf_key), &issuer)
            .expect("leaf cert");
        let chain = format!("{}{}", leaf_cert.pem(), ca_cert.pem());
        (leaf_key, leaf_cert.der().to_vec(), chain)
    }

    #[test]
    fn inspects_every_field() {
        let (key, der, chain) = issue(&["www.example.com", "192.0.2.1"], 90);
        let info = inspect(&der).expect("inspect");
        assert_eq!(info.subject, "");
        assert_eq!(info.issuer, "CN=Test Issuing CA");
        assert_eq!(info.issuer_common_name.as_deref(), Some("Test Issuing CA"));
        assert_eq!(
            info.sans,
            [
                Identifier::dns("www.example.com"),
                Identifier::ip("192.0.2.1")
            ]
        );
        assert_eq!(info.serial_hex, "87654321");
        assert_eq!(info.not_before, Timestamp::from_unix_secs(T0));
        assert_eq!(info.not_after, Timestamp::from_unix_secs(T0 + 90 * 86_400));
        assert_eq!(info.key_type, "p256");
        assert!(!info.is_ca);
        let id = info.ari_id.clone().expect("AKI present");
        assert!(
            id.ends_with(".AIdlQyE"),
            "serial content keeps its sign byte: {id}"
        );
        assert_eq!(ari_cert_id(&der).expect("ari"), id);

        let ders = split_pem_chain(&chain).expect("chain");
        assert_eq!(ders.len(), 2);
        assert_eq!(ders[0], der);
        let ca = inspect(&ders[1]).expect("ca");
        assert!(ca.is_ca);
        assert_eq!(ca.key_type, "p384");

        assert!(key_matches_certificate(&key, &der).expect("match"));
        let other = PrivateKey::generate(KeyType::P256).expect("other");
        assert!(!key_matches_certificate(&other, &der).expect("no match"));
    }

    #[test]
    fn rsa_keys_and_escaped_names() {
        // Made with: openssl req -x509 -newkey rsa:2048 -subj "/CN=RSA test/O=Example, Inc."
        let pem = include_str!("testdata/rsa2048.pem");
        let der = split_pem_chain(pem).expect("pem").remove(0);
        let info = inspect(&der).expect("inspect");
        assert_eq!(info.key_type, "rsa2048");
        assert_eq!(info.subject, "O=Example\\, Inc.,CN=RSA test");
    }

    #[test]
    fn days_left_and_renewal_times() {
        let (_, der, _) = issue(&["a.example"], 90);
        let info = inspect(&der).expect("inspect");
        let start = Timestamp::from_unix_secs(T0);
        assert_eq!(info.days_left(start), 90);
        assert_eq!(info.days_left(start.plus_millis(89 * 86_400_000 + 1)), 0);
        assert_eq!(info.days_left(start.plus_millis(91 * 86_400_000)), -1);
        assert_eq!(
            info.default_renewal_time(),
            Timestamp::from_unix_secs(T0 + 60 * 86_400)
        );

        let (_, short, _) = issue(&["a.example"], 6);
        let info = inspect(&short).expect("inspect");
        assert_eq!(
            info.default_renewal_time(),
            Timestamp::from_unix_secs(T0 + 3 * 86_400)
        );
    }

    #[test]
    fn malformed_input_is_an_error_naming_it() {
        for bad in [
            "",
            "not pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "-----BEGIN CERTIFICATE-----\nMIIB\n",
        ] {
            let err = split_pem_chain(bad).expect_err("malformed");
            assert!(
                err.to_string().contains("certificate PEM")
                    || err.to_string().contains("certificate"),
                "{err}"
            );
        }
        assert!(inspect(b"\x30\x03\x02\x01\x01").is_err());
        let self_signed = crate::challenge::tls_alpn01_certificate(
            &Identifier::dns("x.example"),
            "k",
            Timestamp::from_unix_secs(T0),
        )
        .expect("cert");
        let err = ari_cert_id(&self_signed.certificate_der).expect_err("no AKI");
        assert!(
            err.to_string().contains("Authority Key Identifier"),
            "{err}"
        );
    }
}
