//! Prints the native engine's JWS, thumbprint, key authorization and DNS-01 value for a key
//! (PEM file given as the only argument) and fixed inputs, as JSON: the reference the JS
//! build's test compares its own output with.

use certsmith_core::jose::{self, KeyId};
use certsmith_core::{PrivateKey, challenge};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: known_answers KEY.pem")?;
    let key = PrivateKey::from_pem(&std::fs::read_to_string(path)?)?;
    let thumbprint = key.jwk().thumbprint();
    let key_authorization = challenge::key_authorization("token-123_ABC", &thumbprint);
    let jws = jose::sign(
        &key,
        KeyId::Kid("https://ca.example/acct/1"),
        Some("nonce-xyz"),
        "https://ca.example/new-order",
        Some(br#"{"identifiers":[{"type":"dns","value":"example.com"}]}"#),
    )?;
    let report = serde_json::json!({
        "thumbprint": thumbprint,
        "keyAuthorization": key_authorization,
        "dns01": challenge::dns01_value(&key_authorization),
        "jws": String::from_utf8(jws.to_body())?,
    });
    println!("{report}");
    Ok(())
}
