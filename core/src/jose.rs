//! JOSE as ACME uses it: JWKs, RFC 7638 thumbprints, flattened JWS (ES256/ES384 with `jwk`
//! or `kid`), external account binding (HS256) and the nested JWS of key rollover.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::keys::PrivateKey;

/// Encodes bytes as base64url without padding.
pub fn b64url(data: &[u8]) -> String {
    todo!()
}

/// Decodes base64url without padding; `what` names the input in the error.
pub fn b64url_decode(text: &str, what: &str) -> Result<Vec<u8>, Error> {
    todo!()
}

/// An EC public key as a JWK (RFC 7517/7518).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
        todo!()
    }
}

/// How a JWS names its key.
#[derive(Clone, Copy, Debug)]
pub enum KeyId<'a> {
    /// Embed the public key (`jwk`): newAccount, revocation by certificate key, inner keyChange.
    Jwk,
    /// The account URL (`kid`): every other request.
    Kid(&'a str),
}

/// A JWS in flattened JSON serialisation: the body of every ACME POST.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlattenedJws {
    /// base64url of the protected header JSON.
    pub protected: String,
    /// base64url of the payload (empty string for POST-as-GET).
    pub payload: String,
    /// base64url of the signature.
    pub signature: String,
}

impl FlattenedJws {
    /// The JSON body to send.
    pub fn to_body(&self) -> Vec<u8> {
        todo!()
    }
}

/// Signs `payload` (None = POST-as-GET, an empty payload) for `url` with `key`.
///
/// The protected header holds `alg`, `jwk` or `kid`, `nonce` (when given) and `url`.
pub fn sign(
    key: &PrivateKey,
    key_id: KeyId<'_>,
    nonce: Option<&str>,
    url: &str,
    payload: Option<&[u8]>,
) -> Result<FlattenedJws, Error> {
    todo!()
}

/// The external account binding JWS (RFC 8555 §7.3.4): HS256 over the account's JWK, with
/// `kid` = the EAB key id and `url` = the newAccount URL. `hmac_key` is the decoded key.
pub fn external_account_binding(
    eab_kid: &str,
    hmac_key: &[u8],
    account_jwk: &Jwk,
    url: &str,
) -> Result<FlattenedJws, Error> {
    todo!()
}

/// The inner JWS of a key rollover (RFC 8555 §7.3.5): signed by `new_key` with its `jwk`, no
/// nonce, `url` = keyChange URL, payload `{"account": account_url, "oldKey": old_jwk}`.
pub fn key_change_inner(
    new_key: &PrivateKey,
    account_url: &str,
    old_jwk: &Jwk,
    url: &str,
) -> Result<FlattenedJws, Error> {
    todo!()
}
