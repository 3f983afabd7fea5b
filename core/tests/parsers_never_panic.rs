//! Property tests: arbitrary bytes given to any parser of the engine give a value or an
//! error, never a panic (a panic traps the whole WebAssembly instance).

// Test code: a panic with a message is how it reports a broken expectation.
#![allow(clippy::expect_used)]

use certsmith_core::{
    HttpResponse, PrivateKey, Snapshot, Timestamp, ari_cert_id, b64url_decode, inspect_certificate,
    split_pem_chain,
};
use proptest::prelude::*;

/// Bytes biased towards the shapes the parsers look for, so the tests get past the first
/// byte: PEM armour, JSON punctuation, DER tags, base64 characters.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        "(-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]{0,200}\n-----END CERTIFICATE-----\n){0,3}"
            .prop_map(String::into_bytes),
        "[{}\\[\\]\":,a-zA-Z0-9 ]{0,200}".prop_map(String::into_bytes),
        proptest::collection::vec(
            prop_oneof![Just(0x30u8), Just(0x82), Just(0x02), any::<u8>()],
            0..256
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn certificate_parsers(bytes in hostile_bytes()) {
        let _ = inspect_certificate(&bytes);
        let _ = ari_cert_id(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(ders) = split_pem_chain(&text) {
            for der in ders {
                let _ = inspect_certificate(&der);
            }
        }
    }

    #[test]
    fn key_and_snapshot_parsers(bytes in hostile_bytes()) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = PrivateKey::from_pem(&text);
        let _ = Snapshot::from_json(&text);
        let _ = b64url_decode(&text, "fuzz input");
    }

    #[test]
    fn response_header_parsers(
        status in any::<u16>(),
        headers in proptest::collection::vec(("[A-Za-z-]{1,16}", "\\PC{0,80}"), 0..8),
        body in hostile_bytes(),
        now in any::<u64>(),
    ) {
        let mut headers = headers;
        headers.push(("Link".into(), String::from_utf8_lossy(&body).into_owned()));
        headers.push(("Retry-After".into(), String::from_utf8_lossy(&body).into_owned()));
        let response = HttpResponse { status, headers, body };
        let _ = response.retry_after(Timestamp::from_unix_millis(now));
        let _ = response.links("alternate");
        let _ = response.is_success();
    }
}
