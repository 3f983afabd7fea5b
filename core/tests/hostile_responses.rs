//! Property test: whatever a CA (or something pretending to be one) answers to any request of
//! a full account + order run, the engine never panics and the operation always ends.

// Test code: a panic with a message is how it reports a broken expectation.
#![allow(clippy::expect_used)]

mod support;

use certsmith_core::{Command, HttpResponse, NewAccountRequest, OrderRequest};
use proptest::prelude::*;
use support::{Harness, Knobs, dns};

/// Header names the engine reads, plus noise.
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Replay-Nonce".to_owned()),
        Just("Location".to_owned()),
        Just("Retry-After".to_owned()),
        Just("Link".to_owned()),
        Just("Content-Type".to_owned()),
        "[A-Za-z-]{1,12}",
    ]
}

/// Bodies shaped like what the engine parses, and noise.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        Just(br#"{"type":"urn:ietf:params:acme:error:badNonce"}"#.to_vec()),
        Just(br#"{"status":"valid","identifiers":[],"finalize":"https://ca.test/x"}"#.to_vec()),
        Just(br#"{"status":"pending","identifier":{"type":"dns","value":"a"},"challenges":[{"type":"http-01","url":"u","status":"pending","token":"../../etc"}]}"#.to_vec()),
        Just(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_vec()),
        "[{}\\[\\]\":,a-z0-9 ]{0,120}".prop_map(String::into_bytes),
    ]
}

fn response() -> impl Strategy<Value = HttpResponse> {
    (
        prop_oneof![
            Just(200u16),
            Just(201),
            Just(400),
            Just(429),
            Just(500),
            Just(503),
            any::<u16>()
        ],
        proptest::collection::vec((header_name(), "\\PC{0,60}"), 0..6),
        body(),
    )
        .prop_map(|(status, headers, body)| HttpResponse {
            status,
            headers,
            body,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_answer_at_any_step_ends_the_operation(step in 0usize..12, answer in response()) {
        let mut h = Harness::new(Knobs { authz_pending_polls: 1, ..Knobs::default() });
        h.tamper = Some((step, answer));
        let account = h.client.start(Command::NewAccount(NewAccountRequest {
            terms_of_service_agreed: true,
            ..Default::default()
        })).expect("starts");
        let order = h.client.start(Command::Order(OrderRequest::new(dns(&["hostile.example"])))).expect("valid");
        h.run();
        // Each operation ended one way or the other (result() panics if not).
        let _ = h.result(account);
        let _ = h.result(order);
        prop_assert_eq!(h.published_count(), 0, "no challenge left published");
    }
}
