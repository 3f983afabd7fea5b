//! Prints the native engine's JWS, thumbprint, key authorization and DNS-01 value for a key
//! (PEM file given as the only argument) and fixed inputs, and the keys a seeded random
//! source makes, as JSON: the reference the JS build's test compares its own output with.

use certsmith_core::{KeyId, KeyType, PrivateKey, Random, dns01_value, sign_jws};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: known_answers KEY.pem")?;
    let key = PrivateKey::from_pem(&std::fs::read_to_string(path)?)?;
    let thumbprint = key.jwk().thumbprint();
    let key_authorization = certsmith_core::key_authorization("token-123_ABC", &thumbprint);
    let jws = sign_jws(
        &key,
        KeyId::Kid("https://ca.example/acct/1"),
        Some("nonce-xyz"),
        "https://ca.example/new-order",
        Some(br#"{"identifiers":[{"type":"dns","value":"example.com"}]}"#),
    )?;
    let report = serde_json::json!({
        "thumbprint": thumbprint,
        "keyAuthorization": key_authorization,
        "dns01": dns01_value(&key_authorization),
        "jws": String::from_utf8(jws.to_body())?,
        // The seed the JS test uses too: 32 bytes of 7.
        "seededKeys": {
            "p256": PrivateKey::generate_with(KeyType::P256, &mut Random::seeded([7; 32]))?.to_pem().as_str(),
            "p384": PrivateKey::generate_with(KeyType::P384, &mut Random::seeded([7; 32]))?.to_pem().as_str(),
        },
    });
    println!("{report}");
    Ok(())
}
