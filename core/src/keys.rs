//! ECDSA keys for accounts and certificates: P-256 (ES256, the default) and P-384 (ES384).

use core::fmt;
use core::str::FromStr;

use zeroize::Zeroizing;

use crate::error::Error;
use crate::jose::Jwk;

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
}

impl FromStr for KeyType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        todo!(
            "parse p256/p384 (also ec256/ec384, es256/es384, case-insensitive) else InvalidInput naming '{s}'"
        )
    }
}

/// A private key. `Debug` never shows the secret.
#[derive(Clone)]
pub struct PrivateKey {
    // private representation chosen by the implementation
}

impl PrivateKey {
    /// Generates a new key of `kind` from the platform's random source.
    pub fn generate(kind: KeyType) -> Result<Self, Error> {
        todo!()
    }

    /// Reads a PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) PEM key on P-256 or P-384.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        todo!()
    }

    /// Writes the key as PKCS#8 PEM (zeroized on drop).
    pub fn to_pem(&self) -> Zeroizing<String> {
        todo!()
    }

    /// The key's curve.
    pub fn key_type(&self) -> KeyType {
        todo!()
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Jwk {
        todo!()
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        todo!()
    }

    /// The public key as an uncompressed SEC1 point (what rcgen wants).
    pub fn public_key_sec1(&self) -> Vec<u8> {
        todo!()
    }

    /// Signs `message` for JWS: SHA-256/384 then ECDSA, signature as fixed-size `r || s`.
    pub fn sign_jws(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        todo!()
    }

    /// Signs `message` for X.509 (CSRs, certificates): a DER-encoded ECDSA signature.
    pub fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        todo!()
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("PrivateKey {{ type: P256, secret: <redacted> }}")
    }
}
