//! ECDSA keys for accounts and certificates: P-256 (ES256, the default) and P-384 (ES384).

use core::fmt;
use core::str::FromStr;

use p256::ecdsa::signature::{self, Signer};
use zeroize::Zeroizing;

use crate::asn1::{self, Reader, tag};
use crate::base64url::b64url;
use crate::error::Error;
use crate::jwk::Jwk;
use crate::oid;
use crate::random::Random;

/// The curve of a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// NIST P-256, signs ES256. The default.
    #[default]
    P256,
    /// NIST P-384, signs ES384.
    P384,
}

impl KeyType {
    /// The name used on the command line and in WIT: `p256` or `p384`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::P256 => "p256",
            KeyType::P384 => "p384",
        }
    }

    /// The JWS algorithm this key signs with: `ES256` or `ES384`.
    pub fn jws_alg(self) -> &'static str {
        match self {
            KeyType::P256 => "ES256",
            KeyType::P384 => "ES384",
        }
    }

    /// The JWK curve name: `P-256` or `P-384`.
    pub fn jwk_curve(self) -> &'static str {
        match self {
            KeyType::P256 => "P-256",
            KeyType::P384 => "P-384",
        }
    }

    /// The length of a secret scalar (and of a coordinate) in bytes: 32 or 48.
    pub fn scalar_len(self) -> usize {
        match self {
            KeyType::P256 => 32,
            KeyType::P384 => 48,
        }
    }
}

impl FromStr for KeyType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "p256" | "p-256" | "ec256" | "es256" => Ok(KeyType::P256),
            "p384" | "p-384" | "ec384" | "es384" => Ok(KeyType::P384),
            _ => Err(Error::invalid_input(
                format!("key type {s:?}"),
                "p256 or p384",
            )),
        }
    }
}

/// The key itself.
#[derive(Clone)]
enum Inner {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// A private key. `Debug` never shows the secret.
#[derive(Clone)]
pub struct PrivateKey {
    inner: Inner,
}

/// The error for a key that is not a PEM EC key on a supported curve.
fn bad_pem() -> Error {
    Error::invalid_input(
        "private key PEM",
        "a PKCS#8 (\"PRIVATE KEY\") or SEC1 (\"EC PRIVATE KEY\") key on P-256 or P-384",
    )
}

impl PrivateKey {
    /// Generates a new key of `kind` from the platform's random source.
    pub fn generate(kind: KeyType) -> Result<Self, Error> {
        Self::generate_with(kind, &mut Random::platform())
    }

    /// Generates a new key of `kind` from `random`: the secret scalar is drawn uniformly
    /// (bytes that are zero or not below the curve's order are drawn again, which happens
    /// about once in 2^32 draws).
    pub fn generate_with(kind: KeyType, random: &mut Random) -> Result<Self, Error> {
        for _ in 0..8 {
            let mut bytes = Zeroizing::new([0u8; 48]);
            let bytes = &mut bytes[..kind.scalar_len()];
            random.fill(bytes)?;
            let inner = match kind {
                KeyType::P256 => p256::SecretKey::from_slice(bytes)
                    .ok()
                    .map(|k| Inner::P256(k.into())),
                KeyType::P384 => p384::SecretKey::from_slice(bytes)
                    .ok()
                    .map(|k| Inner::P384(k.into())),
            };
            if let Some(inner) = inner {
                return Ok(Self { inner });
            }
        }
        Err(Error::crypto(
            "the random source gave no valid secret key in eight draws",
        ))
    }

    /// Reads a PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) PEM key on P-256 or P-384.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let pem = pem.trim();
        let pkcs8 = pem.starts_with("-----BEGIN PRIVATE KEY-----");
        if !pkcs8 && !pem.starts_with("-----BEGIN EC PRIVATE KEY-----") {
            return Err(bad_pem());
        }
        let (label, der) = pem_rfc7468::decode_vec(pem.as_bytes()).map_err(|_| bad_pem())?;
        let der = Zeroizing::new(der);
        let inner = match (pkcs8, label) {
            (true, "PRIVATE KEY") => from_pkcs8(&der),
            (false, "EC PRIVATE KEY") => from_sec1(&der, None),
            _ => None,
        };
        inner.map(|inner| Self { inner }).ok_or_else(bad_pem)
    }

    /// Writes the key as PKCS#8 PEM (zeroized on drop): a v1 PrivateKeyInfo holding the SEC1
    /// ECPrivateKey with its public key, as RustCrypto and OpenSSL write them.
    pub fn to_pem(&self) -> Zeroizing<String> {
        let kind = self.key_type();
        let secret = self.secret_bytes();
        let public = self.public_key_sec1();
        // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [1] publicKey }
        let public_bits = asn1::bit_string(&public);
        let mut ec_key = Zeroizing::new(Vec::with_capacity(secret.len() + public.len() + 16));
        ec_key.extend_from_slice(&[tag::INTEGER, 1, 1]);
        asn1::write(&mut ec_key, tag::OCTET_STRING, &secret);
        asn1::write(&mut ec_key, tag::context_constructed(1), &public_bits);
        let ec_key = secret_element(tag::SEQUENCE, &[&ec_key]);
        // PrivateKeyInfo ::= SEQUENCE { version 0, algorithm, privateKey OCTET STRING }
        let algorithm = key_algorithm(kind);
        let octets = secret_element(tag::OCTET_STRING, &[&ec_key]);
        let info = secret_element(tag::SEQUENCE, &[&[tag::INTEGER, 1, 0], &algorithm, &octets]);
        // Encoding a valid in-memory key cannot fail; an empty string would be caught by
        // `from_pem` on the way back.
        Zeroizing::new(
            pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, &info)
                .unwrap_or_default(),
        )
    }

    /// The secret scalar, big-endian, curve-sized (zeroized on drop).
    pub(crate) fn secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match &self.inner {
            Inner::P256(k) => k.to_bytes().to_vec(),
            Inner::P384(k) => k.to_bytes().to_vec(),
        })
    }

    /// The key's curve.
    pub fn key_type(&self) -> KeyType {
        match self.inner {
            Inner::P256(_) => KeyType::P256,
            Inner::P384(_) => KeyType::P384,
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Jwk {
        let point = self.public_key_sec1();
        let n = (point.len() - 1) / 2;
        Jwk {
            kty: "EC".to_owned(),
            crv: self.key_type().jwk_curve().to_owned(),
            x: b64url(&point[1..=n]),
            y: b64url(&point[1 + n..]),
        }
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        asn1::sequence(&[
            &key_algorithm(self.key_type()),
            &asn1::bit_string(&self.public_key_sec1()),
        ])
    }

    /// The public key as an uncompressed SEC1 point (what rcgen wants).
    pub fn public_key_sec1(&self) -> Vec<u8> {
        self.public_point(false)
    }

    /// The public key as a SEC1 point, compressed or not.
    fn public_point(&self, compress: bool) -> Vec<u8> {
        match &self.inner {
            Inner::P256(k) => k
                .verifying_key()
                .to_sec1_point(compress)
                .as_bytes()
                .to_vec(),
            Inner::P384(k) => k
                .verifying_key()
                .to_sec1_point(compress)
                .as_bytes()
                .to_vec(),
        }
    }

    /// Signs `message` for JWS: SHA-256/384 then ECDSA, signature as fixed-size `r || s`.
    pub fn sign_jws(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = |e: signature::Error| Error::crypto(format!("ECDSA signing failed ({e})"));
        Ok(match &self.inner {
            Inner::P256(k) => {
                let sig: p256::ecdsa::Signature = k.try_sign(message).map_err(failed)?;
                sig.to_bytes().to_vec()
            }
            Inner::P384(k) => {
                let sig: p384::ecdsa::Signature = k.try_sign(message).map_err(failed)?;
                sig.to_bytes().to_vec()
            }
        })
    }

    /// Signs `message` for X.509 (CSRs, certificates): a DER-encoded ECDSA signature,
    /// `SEQUENCE { r INTEGER, s INTEGER }`.
    pub fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let fixed = self.sign_jws(message)?;
        let (r, s) = fixed.split_at(fixed.len() / 2);
        Ok(asn1::sequence(&[
            &asn1::unsigned_integer(r),
            &asn1::unsigned_integer(s),
        ]))
    }
}

/// The SubjectPublicKeyInfo / PKCS#8 AlgorithmIdentifier of an EC key on `kind`'s curve.
fn key_algorithm(kind: KeyType) -> Vec<u8> {
    asn1::sequence(&[
        &oid::element(oid::EC_PUBLIC_KEY),
        &oid::element(curve_oid(kind)),
    ])
}

/// The named-curve OID of `kind`.
fn curve_oid(kind: KeyType) -> &'static [u8] {
    match kind {
        KeyType::P256 => oid::SECP256R1,
        KeyType::P384 => oid::SECP384R1,
    }
}

/// One DER element whose content (the concatenation of `parts`) is secret: written into a
/// buffer of exactly the right size (no reallocation leaves copies behind), zeroized on drop.
fn secret_element(tag: u8, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Zeroizing::new(Vec::with_capacity(len + 6));
    asn1::write_header(&mut out, tag, len);
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// The curve and SEC1 ECPrivateKey of a PKCS#8 PrivateKeyInfo (v1, or v2 with its public
/// key): algorithm id-ecPublicKey on P-256 or P-384.
fn pkcs8_parts(der: &[u8]) -> Option<(KeyType, &[u8])> {
    let mut outer = Reader::new(der);
    let mut info = outer.nested(tag::SEQUENCE).ok()?;
    outer.finish().ok()?;
    let version = info.small_uint().ok()?;
    if version > 1 {
        return None;
    }
    let mut algorithm = info.nested(tag::SEQUENCE).ok()?;
    if algorithm.oid().ok()? != oid::EC_PUBLIC_KEY {
        return None;
    }
    let curve = algorithm.oid().ok()?;
    algorithm.finish().ok()?;
    let kind = [KeyType::P256, KeyType::P384]
        .into_iter()
        .find(|k| curve_oid(*k) == curve)?;
    let private_key = info.expect(tag::OCTET_STRING).ok()?.content;
    info.optional(tag::context_constructed(0)).ok()?; // attributes
    let public_key = info.optional(tag::context(1)).ok()?;
    if (version == 1) != public_key.is_some() {
        return None;
    }
    // Later versions' extra fields are context-specific; anything else is an error.
    while let Some(t) = info.peek_tag() {
        if t & 0xc0 != 0x80 {
            return None;
        }
        info.element().ok()?;
    }
    Some((kind, private_key))
}

/// A key from a PKCS#8 PrivateKeyInfo ([`pkcs8_parts`]).
fn from_pkcs8(der: &[u8]) -> Option<Inner> {
    let (kind, sec1) = pkcs8_parts(der)?;
    from_sec1(sec1, Some(kind))
}

/// The fields of a SEC1 ECPrivateKey: the secret, the named curve and the public key, the
/// last two when present.
struct Sec1Parts<'a> {
    secret: &'a [u8],
    named: Option<&'a [u8]>,
    public: Option<&'a [u8]>,
}

/// Reads a SEC1 ECPrivateKey's fields.
fn sec1_parts(der: &[u8]) -> Option<Sec1Parts<'_>> {
    let mut outer = Reader::new(der);
    let mut key = outer.nested(tag::SEQUENCE).ok()?;
    outer.finish().ok()?;
    if key.small_uint().ok()? != 1 {
        return None;
    }
    let secret = key.expect(tag::OCTET_STRING).ok()?.content;
    let named = match key.optional(tag::context_constructed(0)).ok()? {
        Some(parameters) => {
            let mut parameters = parameters.reader();
            let curve = parameters.oid().ok()?;
            parameters.finish().ok()?;
            Some(curve)
        }
        None => None,
    };
    let public = match key.optional(tag::context_constructed(1)).ok()? {
        Some(public) => {
            let mut public = public.reader();
            let bits = public.bit_string().ok()?;
            public.finish().ok()?;
            Some(bits)
        }
        None => None,
    };
    key.finish().ok()?;
    Some(Sec1Parts {
        secret,
        named,
        public,
    })
}

/// A key from a SEC1 ECPrivateKey. The curve is `kind` when the caller knows it; otherwise
/// the key's own parameters name it, or its length does (P-256 tried first).
fn from_sec1(der: &[u8], kind: Option<KeyType>) -> Option<Inner> {
    let Sec1Parts {
        secret,
        named,
        public,
    } = sec1_parts(der)?;
    let candidates: &[KeyType] = match kind {
        Some(KeyType::P256) => &[KeyType::P256],
        Some(KeyType::P384) => &[KeyType::P384],
        None => &[KeyType::P256, KeyType::P384],
    };
    candidates.iter().find_map(|&kind| {
        if named.is_some_and(|curve| curve != curve_oid(kind)) {
            return None;
        }
        let key = PrivateKey {
            inner: match kind {
                KeyType::P256 => Inner::P256(p256::SecretKey::from_slice(secret).ok()?.into()),
                KeyType::P384 => Inner::P384(p384::SecretKey::from_slice(secret).ok()?.into()),
            },
        };
        // A public key given alongside must be this secret's, in the same encoding.
        if let Some(public) = public {
            let compressed = matches!(public.first(), Some(0x02 | 0x03));
            if key.public_point(compressed) != public {
                return None;
            }
        }
        Some(key.inner)
    })
}

/// The SubjectPublicKeyInfo (DER) a PKCS#8 PEM private key declares alongside its secret,
/// read without deriving it from the secret (no scalar multiplication): what a check of
/// many stored pairs compares against their certificates. `None` when the key declares no
/// public key or is not a PKCS#8 P-256/P-384 key (then [`PrivateKey::from_pem`] decides).
pub(crate) fn declared_public_key_der(pem: &str) -> Option<Vec<u8>> {
    let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).ok()?;
    let der = Zeroizing::new(der);
    if label != "PRIVATE KEY" {
        return None;
    }
    let (kind, sec1) = pkcs8_parts(&der)?;
    let parts = sec1_parts(sec1)?;
    if parts.secret.len() != kind.scalar_len() || parts.named.is_some_and(|c| c != curve_oid(kind))
    {
        return None;
    }
    let public = parts.public?;
    Some(asn1::sequence(&[
        &key_algorithm(kind),
        &asn1::bit_string(public),
    ]))
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("type", &self.key_type())
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_both_curves() {
        for kind in [KeyType::P256, KeyType::P384] {
            let key = PrivateKey::generate(kind).expect("generate");
            let pem = key.to_pem();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            let back = PrivateKey::from_pem(&pem).expect("parse");
            assert_eq!(back.key_type(), kind);
            assert_eq!(back.jwk(), key.jwk());
            assert_ne!(
                PrivateKey::generate(kind).expect("generate").jwk(),
                key.jwk()
            );
        }
    }

    #[test]
    fn reads_sec1_keys() {
        use p256::pkcs8::LineEnding;
        let key = PrivateKey::generate(KeyType::P256).expect("generate");
        let Inner::P256(signing) = &key.inner else {
            unreachable!("generated a P-256 key")
        };
        let secret = p256::SecretKey::from(signing.as_nonzero_scalar());
        let sec1 = secret.to_sec1_pem(LineEnding::LF).expect("sec1");
        assert_eq!(PrivateKey::from_pem(&sec1).expect("sec1").jwk(), key.jwk());
    }

    #[test]
    fn encodings_match_rustcrypto_and_openssl() {
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        // Made with: openssl ecparam -genkey -noout (SEC1, with parameters and public key),
        // openssl pkcs8 -topk8 -nocrypt, openssl ec -pubout -outform DER.
        let vectors = [
            (
                KeyType::P256,
                include_str!("testdata/p256-sec1.pem"),
                include_str!("testdata/p256-pkcs8.pem"),
                &include_bytes!("testdata/p256-spki.der")[..],
            ),
            (
                KeyType::P384,
                include_str!("testdata/p384-sec1.pem"),
                include_str!("testdata/p384-pkcs8.pem"),
                &include_bytes!("testdata/p384-spki.der")[..],
            ),
        ];
        for (kind, sec1, pkcs8, spki) in vectors {
            let from_sec1 = PrivateKey::from_pem(sec1).expect("openssl SEC1");
            let from_pkcs8 = PrivateKey::from_pem(pkcs8).expect("openssl PKCS#8");
            assert_eq!(from_sec1.key_type(), kind);
            assert_eq!(from_sec1.jwk(), from_pkcs8.jwk());
            assert_eq!(from_pkcs8.public_key_der(), spki);
            assert_eq!(from_pkcs8.to_pem().as_str(), pkcs8, "same bytes as openssl");
        }
        for kind in [KeyType::P256, KeyType::P384] {
            let key = PrivateKey::generate(kind).expect("generate");
            let (pem, spki) = match &key.inner {
                Inner::P256(k) => (
                    k.to_pkcs8_pem(LineEnding::LF).expect("pem"),
                    k.verifying_key().to_public_key_der().expect("spki"),
                ),
                Inner::P384(k) => (
                    k.to_pkcs8_pem(LineEnding::LF).expect("pem"),
                    k.verifying_key().to_public_key_der().expect("spki"),
                ),
            };
            assert_eq!(key.to_pem().as_str(), pem.as_str());
            assert_eq!(key.public_key_der(), spki.as_bytes());
        }
    }

    #[test]
    fn der_signatures_verify_and_are_minimal() {
        use p256::ecdsa::signature::Verifier;
        let key = PrivateKey::generate(KeyType::P256).expect("generate");
        let verifying =
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.public_key_sec1()).expect("point");
        for i in 0..32u8 {
            let message = [i; 7];
            let der = key.sign_der(&message).expect("sign");
            let signature = p256::ecdsa::DerSignature::from_bytes(&der).expect("strict DER");
            verifying.verify(&message, &signature).expect("verifies");
        }
    }

    #[test]
    fn inconsistent_or_foreign_keys_are_refused() {
        let p256_pem = include_str!("testdata/p256-sec1.pem");
        let (_, der) = pem_rfc7468::decode_vec(p256_pem.as_bytes()).expect("pem");
        // Flip a bit of the embedded public key: it no longer matches the secret.
        let mut wrong_public = der.clone();
        let last = wrong_public.len() - 1;
        wrong_public[last] ^= 1;
        let pem = pem_rfc7468::encode_string(
            "EC PRIVATE KEY",
            pem_rfc7468::LineEnding::LF,
            &wrong_public,
        )
        .expect("pem");
        assert!(PrivateKey::from_pem(&pem).is_err());
        // A PKCS#8 label on SEC1 content, and trailing data.
        let pem = pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, &der)
            .expect("pem");
        assert!(PrivateKey::from_pem(&pem).is_err());
        let mut trailing = der.clone();
        trailing.push(0);
        let pem =
            pem_rfc7468::encode_string("EC PRIVATE KEY", pem_rfc7468::LineEnding::LF, &trailing)
                .expect("pem");
        assert!(PrivateKey::from_pem(&pem).is_err());
    }

    #[test]
    fn garbage_is_an_error_naming_the_input() {
        for bad in [
            "",
            "hello",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            let err = PrivateKey::from_pem(bad).expect_err("not a key");
            assert!(err.to_string().contains("private key PEM"), "{err}");
        }
        assert!("p521".parse::<KeyType>().is_err());
        assert_eq!("EC384".parse::<KeyType>().expect("alias"), KeyType::P384);
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = PrivateKey::generate(KeyType::P256).expect("generate");
        let debug = format!("{key:?}");
        assert!(debug.contains("redacted"));
        assert!(!debug.contains(key.to_pem().lines().nth(1).expect("body")));
    }
}
