//! Certificate inspection: PEM chains, names, validity, serial, ARI certificate IDs, renewal
//! times and key matching.
//!
//! Certificates are read with the engine's own small DER reader ([`crate::asn1`]): the whole
//! structure is checked (RFC 5280 `Certificate`, strict DER lengths, times, OIDs), but only
//! the fields below are decoded.

use std::net::IpAddr;

use crate::asn1::{self, DerError, DerResult, Element, Reader, tag};
use crate::base64url::b64url;
use crate::error::Error;
use crate::keys::PrivateKey;
use crate::oid;
use crate::timestamp::{DateTime, Timestamp, days_in_month};
use crate::wire::Identifier;

/// A day in milliseconds.
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

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

/// The parts of a certificate the engine reads, borrowed from its DER.
struct Parsed<'a> {
    /// The serial number's INTEGER content octets (sign byte kept).
    serial: &'a [u8],
    /// The issuer Name (the whole SEQUENCE).
    issuer: Element<'a>,
    /// Start of validity.
    not_before: Timestamp,
    /// End of validity.
    not_after: Timestamp,
    /// The subject Name (the whole SEQUENCE).
    subject: Element<'a>,
    /// The SubjectPublicKeyInfo (the whole SEQUENCE).
    spki: Element<'a>,
    /// The public key's algorithm OID (content octets).
    key_algorithm: &'a [u8],
    /// The algorithm's parameters, if any.
    key_parameters: Option<Element<'a>>,
    /// The subjectPublicKey BIT STRING's content octets.
    key_bits: &'a [u8],
    /// The extensions, in order.
    extensions: Vec<Extension<'a>>,
}

/// One X.509 extension.
struct Extension<'a> {
    /// extnID (content octets).
    oid: &'a [u8],
    /// extnValue's content: the DER of the extension's value.
    value: &'a [u8],
}

/// An AlgorithmIdentifier: `SEQUENCE { algorithm OID, parameters ANY OPTIONAL }`.
fn algorithm_identifier<'a>(reader: &mut Reader<'a>) -> DerResult<(&'a [u8], Option<Element<'a>>)> {
    let mut seq = reader.nested(tag::SEQUENCE)?;
    let algorithm = seq.oid()?;
    let parameters = if seq.is_empty() {
        None
    } else {
        Some(seq.element()?)
    };
    seq.finish()?;
    Ok((algorithm, parameters))
}

/// A Name: `SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }` (checked, kept whole).
fn name<'a>(reader: &mut Reader<'a>) -> DerResult<Element<'a>> {
    let element = reader.expect(tag::SEQUENCE)?;
    let mut rdns = element.reader();
    while !rdns.is_empty() {
        let mut rdn = rdns.nested(tag::SET)?;
        if rdn.is_empty() {
            return Err(DerError("empty RelativeDistinguishedName"));
        }
        while !rdn.is_empty() {
            let mut atv = rdn.nested(tag::SEQUENCE)?;
            atv.oid()?;
            atv.element()?;
            atv.finish()?;
        }
    }
    Ok(element)
}

/// A UTCTime or GeneralizedTime as DER writes them (`YYMMDDHHMMSSZ`, `YYYYMMDDHHMMSSZ`),
/// from 1970 on.
fn time(reader: &mut Reader<'_>) -> DerResult<Timestamp> {
    let element = reader.element()?;
    let text = element.content;
    let (year, rest) = match (element.tag, text.len()) {
        (tag::UTC_TIME, 13) => {
            let yy = two_digits(text, 0)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        (tag::GENERALIZED_TIME, 15) => (
            two_digits(text, 0)? * 100 + two_digits(text, 2)?,
            &text[4..],
        ),
        (tag::UTC_TIME | tag::GENERALIZED_TIME, _) => return Err(DerError("malformed time")),
        _ => return Err(DerError("unexpected tag for a time")),
    };
    let t = DateTime {
        year: i64::from(year),
        month: two_digits(rest, 0)?,
        day: two_digits(rest, 2)?,
        hour: two_digits(rest, 4)?,
        minute: two_digits(rest, 6)?,
        second: two_digits(rest, 8)?,
    };
    if rest[10] != b'Z'
        || year < 1970
        || !(1..=12).contains(&t.month)
        || t.day == 0
        || t.day > days_in_month(t.year, t.month)
        || t.hour > 23
        || t.minute > 59
        || t.second > 59
    {
        return Err(DerError("malformed time"));
    }
    let secs = u64::try_from(t.to_unix_secs()).map_err(|_| DerError("malformed time"))?;
    Ok(Timestamp::from_unix_secs(secs))
}

/// Two ASCII digits of `text` at `at`.
fn two_digits(text: &[u8], at: usize) -> DerResult<u32> {
    match text.get(at..at + 2) {
        Some([a, b]) if a.is_ascii_digit() && b.is_ascii_digit() => {
            Ok(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
        }
        _ => Err(DerError("malformed time")),
    }
}

/// Parses (and checks) a whole DER certificate.
fn parse(der: &[u8]) -> DerResult<Parsed<'_>> {
    let mut outer = Reader::new(der);
    let mut certificate = outer.nested(tag::SEQUENCE)?;
    outer.finish()?;
    let mut tbs = certificate.nested(tag::SEQUENCE)?;
    algorithm_identifier(&mut certificate)?;
    asn1::check_bit_string(certificate.expect(tag::BIT_STRING)?.content)?;
    certificate.finish()?;

    if let Some(version) = tbs.optional(tag::context_constructed(0))? {
        let mut version = version.reader();
        if version.small_uint()? > 2 {
            return Err(DerError("unknown certificate version"));
        }
        version.finish()?;
    }
    let serial = tbs.integer()?;
    if serial.len() > 21 {
        return Err(DerError("serial number over 20 octets"));
    }
    algorithm_identifier(&mut tbs)?;
    let issuer = name(&mut tbs)?;
    let mut validity = tbs.nested(tag::SEQUENCE)?;
    let not_before = time(&mut validity)?;
    let not_after = time(&mut validity)?;
    validity.finish()?;
    let subject = name(&mut tbs)?;
    let spki = tbs.expect(tag::SEQUENCE)?;
    let mut spki_reader = spki.reader();
    let (key_algorithm, key_parameters) = algorithm_identifier(&mut spki_reader)?;
    let key_bits = spki_reader.expect(tag::BIT_STRING)?.content;
    spki_reader.finish()?;
    asn1::check_bit_string(key_bits)?;
    // issuerUniqueID and subjectUniqueID: [1] and [2] IMPLICIT BIT STRING, unread but checked.
    for unique_id in [tag::context(1), tag::context(2)] {
        if let Some(bits) = tbs.optional(unique_id)? {
            asn1::check_bit_string(bits.content)?;
        }
    }
    let mut extensions = Vec::new();
    if let Some(wrapper) = tbs.optional(tag::context_constructed(3))? {
        let mut wrapper = wrapper.reader();
        let mut list = wrapper.nested(tag::SEQUENCE)?;
        wrapper.finish()?;
        while !list.is_empty() {
            let mut ext = list.nested(tag::SEQUENCE)?;
            let oid = ext.oid()?;
            if ext.peek_tag() == Some(tag::BOOLEAN) {
                ext.boolean()?;
            }
            let value = ext.expect(tag::OCTET_STRING)?.content;
            ext.finish()?;
            extensions.push(Extension { oid, value });
        }
    }
    tbs.finish()?;
    Ok(Parsed {
        serial,
        issuer,
        not_before,
        not_after,
        subject,
        spki,
        key_algorithm,
        key_parameters,
        key_bits,
        extensions,
    })
}

impl<'a> Parsed<'a> {
    /// The value of the extension `oid`: `Ok(None)` if absent, an error if it appears twice.
    fn extension(&self, oid: &[u8]) -> DerResult<Option<&'a [u8]>> {
        let mut found = self.extensions.iter().filter(|e| e.oid == oid);
        match (found.next(), found.next()) {
            (Some(e), None) => Ok(Some(e.value)),
            (None, _) => Ok(None),
            (Some(_), Some(_)) => Err(DerError("duplicate extension")),
        }
    }
}

/// The DNS and IP names of a subjectAltName value (other name types are skipped).
fn subject_alt_names(value: &[u8]) -> DerResult<Vec<Identifier>> {
    let mut outer = Reader::new(value);
    let mut names = outer.nested(tag::SEQUENCE)?;
    outer.finish()?;
    let mut sans = Vec::new();
    while !names.is_empty() {
        let name = names.element()?;
        match name.tag {
            // dNSName [2] IMPLICIT IA5String
            0x82 => {
                let dns = core::str::from_utf8(name.content)
                    .ok()
                    .filter(|s| s.is_ascii())
                    .ok_or(DerError("dNSName not IA5String"))?;
                sans.push(Identifier::dns(dns));
            }
            // iPAddress [7] IMPLICIT OCTET STRING
            0x87 => {
                let ip = match name.content.len() {
                    4 => <[u8; 4]>::try_from(name.content).ok().map(IpAddr::from),
                    16 => <[u8; 16]>::try_from(name.content).ok().map(IpAddr::from),
                    _ => None,
                };
                if let Some(ip) = ip {
                    sans.push(Identifier::ip(ip.to_string()));
                }
            }
            _ => {}
        }
    }
    Ok(sans)
}

/// Whether a basicConstraints value says CA (`cA BOOLEAN DEFAULT FALSE` first).
fn basic_constraints_ca(value: &[u8]) -> DerResult<bool> {
    let mut outer = Reader::new(value);
    let mut seq = outer.nested(tag::SEQUENCE)?;
    outer.finish()?;
    let ca = if seq.peek_tag() == Some(tag::BOOLEAN) {
        seq.boolean()?
    } else {
        false
    };
    if !seq.is_empty() {
        seq.integer()?; // pathLenConstraint
    }
    seq.finish()?;
    Ok(ca)
}

/// The keyIdentifier of an authorityKeyIdentifier value, if it has one.
fn authority_key_id(value: &[u8]) -> DerResult<Option<&[u8]>> {
    let mut outer = Reader::new(value);
    let mut seq = outer.nested(tag::SEQUENCE)?;
    outer.finish()?;
    let key_id = seq.optional(tag::context(0))?.map(|e| e.content);
    seq.optional(tag::context_constructed(1))?; // authorityCertIssuer
    seq.optional(tag::context(2))?; // authorityCertSerialNumber
    seq.finish()?;
    Ok(key_id)
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
        parse(&der).map_err(not_a_certificate)?;
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
    let cert = parse(der).map_err(not_a_certificate)?;
    let sans = match cert.extension(oid::SUBJECT_ALT_NAME) {
        Ok(Some(value)) => subject_alt_names(value)
            .map_err(|e| not_a_certificate(format!("its subjectAltName: {e}")))?,
        Ok(None) => Vec::new(),
        Err(e) => return Err(not_a_certificate(format!("its subjectAltName: {e}"))),
    };
    let is_ca = matches!(
        cert.extension(oid::BASIC_CONSTRAINTS)
            .and_then(|v| v.map(basic_constraints_ca).transpose()),
        Ok(Some(true))
    );
    Ok(CertificateInfo {
        subject: crate::dn::to_rfc4514(cert.subject.content),
        issuer: crate::dn::to_rfc4514(cert.issuer.content),
        issuer_common_name: crate::dn::common_name(cert.issuer.content),
        sans,
        serial_hex: hex(strip_sign_byte(cert.serial)),
        not_before: cert.not_before,
        not_after: cert.not_after,
        key_type: key_type(&cert),
        is_ca,
        ari_id: ari_id_of_parsed(&cert).ok(),
    })
}

/// The key algorithm of a certificate in certsmith's names.
fn key_type(cert: &Parsed<'_>) -> String {
    let algorithm = cert.key_algorithm;
    if algorithm == oid::EC_PUBLIC_KEY {
        let curve = cert
            .key_parameters
            .filter(|p| p.tag == tag::OID && asn1::check_oid(p.content).is_ok())
            .map(|p| p.content);
        return match curve {
            Some(c) if c == oid::SECP256R1 => "p256".to_owned(),
            Some(c) if c == oid::SECP384R1 => "p384".to_owned(),
            Some(c) => format!("ec-{}", asn1::oid_to_string(c)),
            None => "ec".to_owned(),
        };
    }
    if algorithm == oid::RSA_ENCRYPTION {
        let mut name = "rsa".to_owned();
        if let Some(bits) = asn1::bit_string_bytes(cert.key_bits)
            .ok()
            .and_then(rsa_modulus_bits)
        {
            asn1::push_decimal(&mut name, bits as u64);
        }
        return name;
    }
    if algorithm == oid::ED25519 {
        return "ed25519".to_owned();
    }
    asn1::oid_to_string(algorithm)
}

/// The bit length of an RSAPublicKey's modulus (the first INTEGER of its SEQUENCE).
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let mut outer = Reader::new(der);
    let mut seq = outer.nested(tag::SEQUENCE).ok()?;
    let modulus = seq.integer().ok()?;
    seq.integer().ok()?; // the public exponent
    let bytes = strip_sign_byte(modulus);
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
    let mut out = String::with_capacity(bytes.len() * 2);
    asn1::push_hex(&mut out, bytes);
    out
}

/// The ARI certificate ID from its two parts (RFC 9773 §4.1).
fn ari_id_of(key_identifier: &[u8], serial_der_content: &[u8]) -> String {
    format!("{}.{}", b64url(key_identifier), b64url(serial_der_content))
}

/// The ARI certificate ID of a parsed certificate.
fn ari_id_of_parsed(cert: &Parsed<'_>) -> Result<String, Error> {
    let key_id = cert
        .extension(oid::AUTHORITY_KEY_IDENTIFIER)
        .ok()
        .flatten()
        .and_then(|value| authority_key_id(value).ok().flatten())
        .ok_or_else(|| {
            Error::invalid_input(
                "certificate",
                "an Authority Key Identifier extension (ARI needs it to name the certificate)",
            )
        })?;
    // The serial's DER content octets: the INTEGER encoding minus its tag and length.
    Ok(ari_id_of(key_id, cert.serial))
}

/// The ARI certificate ID (RFC 9773 §4.1): base64url(AKI keyIdentifier) "." base64url(serial
/// DER content octets).
pub fn ari_cert_id(der: &[u8]) -> Result<String, Error> {
    ari_id_of_parsed(&parse(der).map_err(not_a_certificate)?)
}

/// Whether `key` is the private key of the certificate `der`.
pub fn key_matches_certificate(key: &PrivateKey, der: &[u8]) -> Result<bool, Error> {
    let cert = parse(der).map_err(not_a_certificate)?;
    Ok(cert.spki.raw == key.public_key_der())
}

/// The first certificate of a PEM bundle (the leaf of a chain), DER.
pub fn leaf_der(pem: &str) -> Result<Vec<u8>, Error> {
    split_pem_chain(pem)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::invalid_input("certificate PEM", "a certificate"))
}

/// Whether the PEM private key `key_pem` is the key of certificate `der`, compared by the
/// public key the key file declares (no scalar multiplication, so reading thousands of
/// stored pairs stays cheap); a key that declares none is read in full. A key whose
/// declared public key is not its secret's is caught where keys are used and where
/// lineages are committed ([`key_matches_certificate`]), not here.
pub fn key_pem_matches_certificate(key_pem: &str, der: &[u8]) -> Result<bool, Error> {
    let cert = parse(der).map_err(not_a_certificate)?;
    let public = match crate::keys::declared_public_key_der(key_pem) {
        Some(public) => public,
        None => PrivateKey::from_pem(key_pem)?.public_key_der(),
    };
    Ok(cert.spki.raw == public)
}

/// A time inside the ARI window `[start, end)` chosen by `random` (uniform over the window).
pub(crate) fn time_in_window(start: Timestamp, end: Timestamp, random: u64) -> Timestamp {
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
    use crate::csr::RcgenKey;
    use crate::keys::KeyType;

    /// `t` plus `shift_secs` as rcgen's date-time.
    fn to_offset_date_time(t: Timestamp, shift_secs: i64) -> time::OffsetDateTime {
        let secs = i64::try_from(t.unix_secs()).expect("in range") + shift_secs;
        time::OffsetDateTime::from_unix_timestamp(secs).expect("in range")
    }

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

        // The same answers from the key files, by the public key they declare.
        assert!(key_pem_matches_certificate(&key.to_pem(), &der).expect("match"));
        assert!(!key_pem_matches_certificate(&other.to_pem(), &der).expect("no match"));
        let leaf_ca = PrivateKey::generate(KeyType::P384).expect("p384");
        assert!(!key_pem_matches_certificate(&leaf_ca.to_pem(), &der).expect("other curve"));
        assert!(key_pem_matches_certificate("not a key", &der).is_err());
    }

    #[test]
    fn a_key_file_without_a_declared_public_key_is_read_in_full() {
        // SEC1 without the optional publicKey: openssl ec -no_public.
        let (key, cert, _) = issue(&["bare.example"], 90);
        let declared = crate::keys::declared_public_key_der(&key.to_pem()).expect("declared");
        assert_eq!(declared, key.public_key_der());
        let secret = key.secret_bytes();
        let mut sec1 = vec![tag::INTEGER, 1, 1];
        asn1::write(&mut sec1, tag::OCTET_STRING, &secret);
        let sec1 = asn1::sequence(&[&sec1]);
        let pem = pem_rfc7468::encode_string("EC PRIVATE KEY", pem_rfc7468::LineEnding::LF, &sec1)
            .expect("pem");
        assert_eq!(crate::keys::declared_public_key_der(&pem), None);
        assert!(key_pem_matches_certificate(&pem, &cert).expect("derived"));
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
    fn the_reader_is_never_laxer_than_x509_cert() {
        use x509_cert::der::Decode;
        let (_, leaf, chain) = issue(&["a.example", "192.0.2.9"], 30);
        let mut certificates = split_pem_chain(&chain).expect("chain");
        certificates.push(leaf);
        certificates.push(
            split_pem_chain(include_str!("testdata/rsa2048.pem"))
                .expect("pem")
                .remove(0),
        );
        for der in &certificates {
            for n in 0..der.len() {
                assert!(inspect(&der[..n]).is_err(), "truncated to {n}");
            }
            for i in 0..der.len() {
                for value in [0x00, 0x01, 0x7f, 0x80, 0xff, der[i] ^ 0x01, der[i] ^ 0x20] {
                    let mut mutated = der.clone();
                    mutated[i] = value;
                    if inspect(&mutated).is_ok() {
                        let theirs = x509_cert::Certificate::from_der(&mutated);
                        assert!(
                            theirs.is_ok(),
                            "byte {i} set to {value:#04x}: accepted, but x509-cert says {theirs:?}"
                        );
                    }
                }
            }
        }
    }

    /// Found by the `pem_der` fuzz target: an issuerUniqueID whose BIT STRING has an
    /// impossible unused-bits count was accepted (x509-cert refuses it).
    #[test]
    fn a_malformed_unique_id_is_refused() {
        let der = include_bytes!("testdata/fuzz-issuer-unique-id.der");
        let err = inspect(der).expect_err("malformed issuerUniqueID");
        assert!(err.to_string().contains("BIT STRING"), "{err}");
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
            &mut crate::Random::platform(),
        )
        .expect("cert");
        let err = ari_cert_id(&self_signed.certificate_der).expect_err("no AKI");
        assert!(
            err.to_string().contains("Authority Key Identifier"),
            "{err}"
        );
    }
}
