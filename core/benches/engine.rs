//! CPU cost of the native engine: JWS signing, and one scripted order end to end against the
//! in-process fake CA (no network, no sleeping: virtual time).

// Test code: a panic with a message is how it reports a broken expectation.
#![allow(clippy::expect_used)]

use certsmith_core::{KeyId, KeyType, PrivateKey, sign_jws};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../tests/support/mod.rs"]
mod support;

/// ES256 and ES384 flattened JWS over a typical order payload.
fn jws_signing(c: &mut Criterion) {
    let payload = br#"{"identifiers":[{"type":"dns","value":"example.com"}]}"#;
    for kind in [KeyType::P256, KeyType::P384] {
        let key = PrivateKey::generate(kind).expect("key generation");
        c.bench_function(&format!("jws_sign_{}", kind.jws_alg()), |b| {
            b.iter(|| {
                sign_jws(
                    &key,
                    KeyId::Kid("https://ca.test/acct/1"),
                    Some("nonce-0123456789"),
                    "https://ca.test/new-order",
                    Some(payload),
                )
                .expect("signing")
            })
        });
    }
}

/// A one-name HTTP-01 order from directory fetch to downloaded chain, fake CA included.
fn scripted_order(c: &mut Criterion) {
    c.bench_function("order_end_to_end_scripted", |b| {
        b.iter(support::bench_one_order)
    });
}

criterion_group!(benches, jws_signing, scripted_order);
criterion_main!(benches);
