//! ECDSA keys for accounts and certificates: P-256 (ES256, the default) and P-384 (ES384).

use core::fmt;
use core::str::FromStr;

use p256::ecdsa::signature::{self, Signer};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::jose::{Jwk, b64url};

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
        let failed = |e: getrandom::Error| Error::crypto(format!("no randomness for a key ({e})"));
        let inner = match kind {
            KeyType::P256 => Inner::P256(p256::ecdsa::SigningKey::try_generate().map_err(failed)?),
            KeyType::P384 => Inner::P384(p384::ecdsa::SigningKey::try_generate().map_err(failed)?),
        };
        Ok(Self { inner })
    }

    /// Reads a PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) PEM key on P-256 or P-384.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let pem = pem.trim();
        let inner = if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
                Inner::P256(key)
            } else if let Ok(key) = p384::ecdsa::SigningKey::from_pkcs8_pem(pem) {
                Inner::P384(key)
            } else {
                return Err(bad_pem());
            }
        } else if pem.starts_with("-----BEGIN EC PRIVATE KEY-----") {
            if let Ok(key) = p256::SecretKey::from_sec1_pem(pem) {
                Inner::P256(key.into())
            } else if let Ok(key) = p384::SecretKey::from_sec1_pem(pem) {
                Inner::P384(key.into())
            } else {
                return Err(bad_pem());
            }
        } else {
            return Err(bad_pem());
        };
        Ok(Self { inner })
    }

    /// Writes the key as PKCS#8 PEM (zeroized on drop).
    pub fn to_pem(&self) -> Zeroizing<String> {
        let pem = match &self.inner {
            Inner::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
            Inner::P384(k) => k.to_pkcs8_pem(LineEnding::LF),
        };
        // Encoding a valid in-memory key cannot fail; an empty string would be caught by
        // `from_pem` on the way back.
        pem.unwrap_or_default()
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
        let der = match &self.inner {
            Inner::P256(k) => k.verifying_key().to_public_key_der(),
            Inner::P384(k) => k.verifying_key().to_public_key_der(),
        };
        der.map(|d| d.into_vec()).unwrap_or_default()
    }

    /// The public key as an uncompressed SEC1 point (what rcgen wants).
    pub fn public_key_sec1(&self) -> Vec<u8> {
        match &self.inner {
            Inner::P256(k) => k.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            Inner::P384(k) => k.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
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

    /// Signs `message` for X.509 (CSRs, certificates): a DER-encoded ECDSA signature.
    pub fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = |e: signature::Error| Error::crypto(format!("ECDSA signing failed ({e})"));
        Ok(match &self.inner {
            Inner::P256(k) => {
                let sig: p256::ecdsa::DerSignature = k.try_sign(message).map_err(failed)?;
                sig.as_bytes().to_vec()
            }
            Inner::P384(k) => {
                let sig: p384::ecdsa::DerSignature = k.try_sign(message).map_err(failed)?;
                sig.as_bytes().to_vec()
            }
        })
    }
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
        let key = PrivateKey::generate(KeyType::P256).expect("generate");
        let Inner::P256(signing) = &key.inner else {
            unreachable!("generated a P-256 key")
        };
        let secret = p256::SecretKey::from(signing.as_nonzero_scalar());
        let sec1 = secret.to_sec1_pem(LineEnding::LF).expect("sec1");
        assert_eq!(PrivateKey::from_pem(&sec1).expect("sec1").jwk(), key.jwk());
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
