//! wasm-bindgen exports for JS runtimes (Node, Deno, Workers): the stateless helpers.
//! Errors are thrown as `Error` objects carrying the engine's message.

#![allow(missing_docs)] // wasm-bindgen generates items

use wasm_bindgen::prelude::*;

use crate::{KeyType, PrivateKey, challenge, jose};

/// An engine error as a JS `Error`.
fn js_error(error: crate::Error) -> JsError {
    JsError::new(&error.to_string())
}

/// A new private key (`"p256"` or `"p384"`), PKCS#8 PEM.
#[wasm_bindgen(js_name = generateKey)]
pub fn generate_key(kind: &str) -> Result<String, JsError> {
    let kind: KeyType = kind.parse().map_err(js_error)?;
    let key = PrivateKey::generate(kind).map_err(js_error)?;
    Ok(key.to_pem().to_string())
}

/// The RFC 7638 thumbprint of a private key's public JWK.
#[wasm_bindgen(js_name = jwkThumbprint)]
pub fn jwk_thumbprint(key_pem: &str) -> Result<String, JsError> {
    Ok(PrivateKey::from_pem(key_pem)
        .map_err(js_error)?
        .jwk()
        .thumbprint())
}

/// The key authorization `token.thumbprint`.
#[wasm_bindgen(js_name = keyAuthorization)]
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    challenge::key_authorization(token, thumbprint)
}

/// The DNS-01 TXT value for a key authorization.
#[wasm_bindgen(js_name = dns01Value)]
pub fn dns01_value(key_authorization: &str) -> String {
    challenge::dns01_value(key_authorization)
}

/// The DNS-01 record name for a domain.
#[wasm_bindgen(js_name = dns01RecordName)]
pub fn dns01_record_name(domain: &str) -> String {
    challenge::dns01_record_name(domain)
}

/// A flattened JWS (JSON text): `kid` undefined embeds the JWK, `payload` undefined is
/// POST-as-GET.
#[wasm_bindgen(js_name = signJws)]
pub fn sign_jws(
    key_pem: &str,
    kid: Option<String>,
    nonce: Option<String>,
    url: &str,
    payload: Option<Vec<u8>>,
) -> Result<String, JsError> {
    let key = PrivateKey::from_pem(key_pem).map_err(js_error)?;
    let key_id = match &kid {
        Some(kid) => jose::KeyId::Kid(kid),
        None => jose::KeyId::Jwk,
    };
    let jws =
        jose::sign(&key, key_id, nonce.as_deref(), url, payload.as_deref()).map_err(js_error)?;
    Ok(String::from_utf8(jws.to_body()).unwrap_or_default())
}

/// A DER CSR for DNS names, signed by the key.
#[wasm_bindgen(js_name = buildCsr)]
pub fn build_csr(names: Vec<String>, key_pem: &str) -> Result<Vec<u8>, JsError> {
    let key = PrivateKey::from_pem(key_pem).map_err(js_error)?;
    let identifiers: Vec<_> = names.into_iter().map(crate::Identifier::dns).collect();
    crate::csr::build_csr(&identifiers, &key).map_err(js_error)
}
