//! JOSE as ACME uses it: JWKs, RFC 7638 thumbprints, flattened JWS (ES256/ES384 with `jwk`
//! or `kid`), external account binding (HS256) and the nested JWS of key rollover.

use hmac::{Hmac, KeyInit, Mac};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::base64url::b64url;
use crate::error::Error;
use crate::json::ObjectWriter;
use crate::jwk::Jwk;
use crate::keys::PrivateKey;

/// A JWS protected header: `alg`, then `jwk` or `kid`, `nonce` when given, and `url`.
fn protected_header(
    alg: &str,
    jwk: Option<&Jwk>,
    kid: Option<&str>,
    nonce: Option<&str>,
    url: &str,
) -> String {
    let mut header = ObjectWriter::new().string("alg", alg);
    if let Some(jwk) = jwk {
        header = header.raw("jwk", &jwk.to_json());
    }
    header
        .opt_string("kid", kid)
        .opt_string("nonce", nonce)
        .string("url", url)
        .finish()
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
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
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
        self.to_json().into_bytes()
    }

    /// The JWS as JSON: `{"protected":…,"payload":…,"signature":…}`.
    pub(crate) fn to_json(&self) -> String {
        ObjectWriter::new()
            .string("protected", &self.protected)
            .string("payload", &self.payload)
            .string("signature", &self.signature)
            .finish()
    }

    /// The bytes the signature covers: `protected "." payload`.
    pub fn signing_input(&self) -> Vec<u8> {
        signing_input(&self.protected, &self.payload)
    }
}

/// `protected "." payload` as bytes.
fn signing_input(protected: &str, payload: &str) -> Vec<u8> {
    let mut input = Vec::with_capacity(protected.len() + 1 + payload.len());
    input.extend_from_slice(protected.as_bytes());
    input.push(b'.');
    input.extend_from_slice(payload.as_bytes());
    input
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
    let jwk = key.jwk();
    let (jwk, kid) = match key_id {
        KeyId::Jwk => (Some(&jwk), None),
        KeyId::Kid(kid) => (None, Some(kid)),
    };
    let header = protected_header(key.key_type().jws_alg(), jwk, kid, nonce, url);
    let protected = b64url(header.as_bytes());
    let payload = payload.map(b64url).unwrap_or_default();
    let signature = b64url(&key.sign_jws(&signing_input(&protected, &payload))?);
    Ok(FlattenedJws {
        protected,
        payload,
        signature,
    })
}

/// The external account binding JWS (RFC 8555 §7.3.4): HS256 over the account's JWK, with
/// `kid` = the EAB key id and `url` = the newAccount URL. `hmac_key` is the decoded key.
pub(crate) fn external_account_binding(
    eab_kid: &str,
    hmac_key: &[u8],
    account_jwk: &Jwk,
    url: &str,
) -> Result<FlattenedJws, Error> {
    if hmac_key.is_empty() {
        return Err(Error::invalid_input(
            "EAB HMAC key",
            "a non-empty key (base64url as the CA gave it)",
        ));
    }
    let header = protected_header("HS256", None, Some(eab_kid), None, url);
    let protected = b64url(header.as_bytes());
    let payload = b64url(account_jwk.to_json().as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(hmac_key)
        .map_err(|_| Error::invalid_input("EAB HMAC key", "a usable HMAC-SHA256 key"))?;
    mac.update(&signing_input(&protected, &payload));
    let signature = b64url(&mac.finalize().into_bytes());
    Ok(FlattenedJws {
        protected,
        payload,
        signature,
    })
}

/// The inner JWS of a key rollover (RFC 8555 §7.3.5): signed by `new_key` with its `jwk`, no
/// nonce, `url` = keyChange URL, payload `{"account": account_url, "oldKey": old_jwk}`.
pub(crate) fn key_change_inner(
    new_key: &PrivateKey,
    account_url: &str,
    old_jwk: &Jwk,
    url: &str,
) -> Result<FlattenedJws, Error> {
    let payload = ObjectWriter::new()
        .string("account", account_url)
        .raw("oldKey", &old_jwk.to_json())
        .finish();
    sign(new_key, KeyId::Jwk, None, url, Some(payload.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base64url::b64url_decode;
    use crate::keys::KeyType;
    use p256::ecdsa::signature::Verifier;
    use serde_json::json;

    /// The public key of RFC 7515 Appendix A.3.
    fn rfc7515_jwk() -> Jwk {
        Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0".into(),
            y: "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps".into(),
        }
    }

    #[test]
    fn thumbprint_known_answer() {
        // Expected value computed independently with Python:
        // b64url(sha256('{"crv":"P-256","kty":"EC","x":"gI0G…","y":"SLW_…"}')).
        assert_eq!(
            rfc7515_jwk().thumbprint(),
            "_GK0r6GCoJt9zcssg9lay4obIxgCq05ntiRymRHADSU"
        );
    }

    /// Decodes a protected header.
    fn header(jws: &FlattenedJws) -> serde_json::Value {
        serde_json::from_slice(&b64url_decode(&jws.protected, "protected").expect("b64"))
            .expect("header JSON")
    }

    /// Verifies an ES256/ES384 JWS with a key rebuilt from the JWK alone.
    fn verify_with_jwk(jws: &FlattenedJws, jwk: &Jwk) {
        let x = b64url_decode(&jwk.x, "x").expect("x");
        let y = b64url_decode(&jwk.y, "y").expect("y");
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let signature = b64url_decode(&jws.signature, "signature").expect("sig");
        let input = jws.signing_input();
        match jwk.crv.as_str() {
            "P-256" => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("point");
                let sig = p256::ecdsa::Signature::from_slice(&signature).expect("64 bytes");
                key.verify(&input, &sig).expect("ES256 signature verifies");
            }
            "P-384" => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("point");
                let sig = p384::ecdsa::Signature::from_slice(&signature).expect("96 bytes");
                key.verify(&input, &sig).expect("ES384 signature verifies");
            }
            other => panic!("unexpected curve {other}"),
        }
    }

    #[test]
    fn jws_verifies_independently_on_both_curves() {
        for kind in [KeyType::P256, KeyType::P384] {
            let key = PrivateKey::generate(kind).expect("key");
            let jws = sign(
                &key,
                KeyId::Jwk,
                Some("n0nce"),
                "https://ca/new-acct",
                Some(b"{}"),
            )
            .expect("sign");
            let h = header(&jws);
            assert_eq!(h["alg"], kind.jws_alg());
            assert_eq!(h["nonce"], "n0nce");
            assert_eq!(h["url"], "https://ca/new-acct");
            assert!(h.get("kid").is_none(), "jwk and kid are exclusive");
            let jwk: Jwk = serde_json::from_value(h["jwk"].clone()).expect("jwk");
            verify_with_jwk(&jws, &jwk);
            assert_eq!(b64url_decode(&jws.payload, "payload").expect("b64"), b"{}");

            let mut tampered = jws.clone();
            tampered.payload = b64url(b"{\"x\":1}");
            let result = std::panic::catch_unwind(|| verify_with_jwk(&tampered, &jwk));
            assert!(result.is_err(), "a changed payload must not verify");
        }
    }

    #[test]
    fn kid_and_post_as_get() {
        let key = PrivateKey::generate(KeyType::P256).expect("key");
        let jws = sign(
            &key,
            KeyId::Kid("https://ca/acct/7"),
            Some("n"),
            "https://ca/o/1",
            None,
        )
        .expect("sign");
        let h = header(&jws);
        assert_eq!(h["kid"], "https://ca/acct/7");
        assert!(h.get("jwk").is_none());
        assert_eq!(jws.payload, "", "POST-as-GET has an empty payload");
        verify_with_jwk(&jws, &key.jwk());
        let body: serde_json::Value = serde_json::from_slice(&jws.to_body()).expect("json");
        assert_eq!(body["payload"], "");
    }

    #[test]
    fn external_account_binding_is_hs256_over_the_jwk() {
        let key = PrivateKey::generate(KeyType::P256).expect("key");
        let hmac_key = b"an EAB key from the CA";
        let eab = external_account_binding("kid-1", hmac_key, &key.jwk(), "https://ca/new-acct")
            .expect("eab");
        let h = header(&eab);
        assert_eq!(
            h,
            json!({"alg": "HS256", "kid": "kid-1", "url": "https://ca/new-acct"})
        );
        let payload: Jwk =
            serde_json::from_slice(&b64url_decode(&eab.payload, "payload").expect("b64"))
                .expect("jwk payload");
        assert_eq!(payload, key.jwk());
        let mut mac = Hmac::<Sha256>::new_from_slice(hmac_key).expect("hmac");
        mac.update(format!("{}.{}", eab.protected, eab.payload).as_bytes());
        assert_eq!(eab.signature, b64url(&mac.finalize().into_bytes()));
        assert!(external_account_binding("kid-1", b"", &key.jwk(), "u").is_err());
    }

    #[test]
    fn key_change_inner_is_signed_by_the_new_key() {
        let old = PrivateKey::generate(KeyType::P256).expect("old");
        let new = PrivateKey::generate(KeyType::P384).expect("new");
        let inner = key_change_inner(
            &new,
            "https://ca/acct/1",
            &old.jwk(),
            "https://ca/key-change",
        )
        .expect("inner");
        let h = header(&inner);
        assert!(h.get("nonce").is_none(), "the inner JWS has no nonce");
        assert_eq!(h["url"], "https://ca/key-change");
        assert_eq!(h["jwk"], json!(new.jwk()));
        let payload: serde_json::Value =
            serde_json::from_slice(&b64url_decode(&inner.payload, "payload").expect("b64"))
                .expect("json");
        assert_eq!(
            payload,
            json!({"account": "https://ca/acct/1", "oldKey": old.jwk()})
        );
        verify_with_jwk(&inner, &new.jwk());
    }

    #[test]
    fn base64url_agrees_with_the_base64_crate() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..40 {
            let encoded = b64url(&data[len * 3..len * 4 + 7]);
            assert_eq!(encoded, URL_SAFE_NO_PAD.encode(&data[len * 3..len * 4 + 7]));
        }
        let alphabet = b"AQgw-_=+/ .";
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    for text in [vec![*a, *b], vec![*a, *b, *c], vec![b'A', *a, *b, *c]] {
                        let text = String::from_utf8(text).expect("ascii");
                        assert_eq!(
                            b64url_decode(&text, "t").ok(),
                            URL_SAFE_NO_PAD.decode(&text).ok(),
                            "{text:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn base64url_rejects_padding_and_foreign_characters() {
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(b64url_decode("-_8", "t").expect("ok"), [0xfb, 0xff]);
        for bad in ["-_8=", "+/8", "a b"] {
            let err = b64url_decode(bad, "the token").expect_err("bad");
            assert!(err.to_string().contains("the token"));
        }
    }
}
