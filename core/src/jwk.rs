//! The account key's public half as a JWK (RFC 7517/7518) and its RFC 7638 thumbprint.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::base64url::b64url;
use crate::json::ObjectWriter;

/// An EC public key as a JWK (RFC 7517/7518).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Jwk {
    /// Always `"EC"`.
    pub kty: String,
    /// `"P-256"` or `"P-384"`.
    pub crv: String,
    /// The x coordinate, base64url.
    pub x: String,
    /// The y coordinate, base64url.
    pub y: String,
}

impl Jwk {
    /// The RFC 7638 thumbprint: base64url(SHA-256 of `{"crv":…,"kty":…,"x":…,"y":…}`).
    pub fn thumbprint(&self) -> String {
        // RFC 7638's canonical form: the required members in lexicographic order.
        let canonical = ObjectWriter::new()
            .string("crv", &self.crv)
            .string("kty", &self.kty)
            .string("x", &self.x)
            .string("y", &self.y)
            .finish();
        b64url(&Sha256::digest(canonical.as_bytes()))
    }

    /// The JWK as JSON: `{"kty":…,"crv":…,"x":…,"y":…}`.
    pub(crate) fn to_json(&self) -> String {
        ObjectWriter::new()
            .string("kty", &self.kty)
            .string("crv", &self.crv)
            .string("x", &self.x)
            .string("y", &self.y)
            .finish()
    }
}
