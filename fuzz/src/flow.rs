//! One run of the engine against the test CA with one answer replaced.

use std::sync::OnceLock;

use certsmith_core::{
    Command, HttpResponse, NewAccountRequest, OrderRequest, Outcome, Snapshot, leaf_der,
};

use crate::response;
use crate::support::{Event, Harness, Knobs, dns};

/// The CA endpoints whose answers the engine handles, as the test CA names them: directory,
/// new nonce, new account, new order, authorization, challenge, order poll, finalize,
/// certificate, renewal info.
pub const ENDPOINTS: [&str; 10] = [
    "dir",
    "nonce",
    "new-acct",
    "new-order",
    "authz",
    "chall",
    "order",
    "finalize",
    "cert",
    "ari",
];

/// A CA that makes the engine poll (authorization and order) and offers ARI, so that
/// every handler is reached.
fn knobs() -> Knobs {
    Knobs {
        authz_pending_polls: 1,
        finalize_processing_polls: 1,
        ari: true,
        trust_signatures: true,
        ..Knobs::default()
    }
}

/// Runs an account, a two-name order and, when a certificate came out, a renewal-info
/// request, with the `n`-th request answered by `tamper` when given. Panics when an
/// operation does not end or a challenge is left published.
pub fn run(tamper: Option<(usize, HttpResponse)>) -> Harness {
    let mut h = Harness::new(knobs());
    h.tamper = tamper;
    let account = h.client.start(Command::NewAccount(NewAccountRequest {
        terms_of_service_agreed: true,
        ..Default::default()
    }));
    let order = h.client.start(Command::Order(OrderRequest::new(dns(&[
        "fuzz.example",
        "www.fuzz.example",
    ]))));
    h.run();
    if let Ok(op) = account {
        let _ = h.result(op);
    }
    if let Ok(op) = order
        && let Ok(Outcome::Certificate(issued)) = h.result(op)
        && let Ok(der) = leaf_der(&issued.chain_pem)
        && let Ok(op) = h.client.start(Command::RenewalInfo {
            certificate_der: der,
        })
    {
        let _ = h.finish(op);
    }
    assert_eq!(h.published_count(), 0, "a challenge was left published");
    h
}

/// Each request of a run with no answer replaced, in order: its endpoint and the test CA's
/// answer.
pub fn clean_run_answers() -> &'static [(String, HttpResponse)] {
    static ANSWERS: OnceLock<Vec<(String, HttpResponse)>> = OnceLock::new();
    ANSWERS.get_or_init(|| {
        let h = run(None);
        let endpoints = h.ca.log.iter().map(|seen| seen.endpoint.clone());
        endpoints.zip(h.answers).collect()
    })
}

/// The snapshot a clean run saves when its order is created, or why there is none.
pub fn saved_snapshot() -> Result<Snapshot, String> {
    let mut h = Harness::new(knobs());
    h.crash_after_save = true;
    h.register();
    let order = OrderRequest::new(dns(&["fuzz.example"]));
    h.client
        .start(Command::Order(order))
        .map_err(|e| format!("the order does not start: {e}"))?;
    h.run();
    h.events
        .into_iter()
        .find_map(|event| match event {
            Event::Save(_, snapshot) => Some(snapshot),
            _ => None,
        })
        .ok_or_else(|| "a clean run saved no snapshot".to_owned())
}

/// The fuzz target of `endpoint`'s handler: the first request to `endpoint` is answered by
/// `data` (see [`response::decode`]).
pub fn answer_first(endpoint: &str, data: &[u8]) {
    let step = clean_run_answers()
        .iter()
        .position(|(seen, _)| seen == endpoint)
        .unwrap_or_else(|| panic!("a clean run never calls {endpoint}"));
    run(Some((step, response::decode(data))));
}

/// The problem-document target: the first byte picks the request (any step of the run), the
/// rest is the body of an error answer (`application/problem+json`, status from the second
/// byte: 400–599).
pub fn answer_with_problem(data: &[u8]) {
    let [pick, status, body @ ..] = data else {
        return;
    };
    let steps = clean_run_answers().len();
    let problem = HttpResponse {
        status: 400 + u16::from(*status) % 200,
        headers: vec![
            ("Content-Type".into(), "application/problem+json".into()),
            ("Replay-Nonce".into(), "fuzz-nonce".into()),
        ],
        body: body.to_vec(),
    };
    run(Some((usize::from(*pick) % steps, problem)));
}

/// The snapshot target: `data` read as a snapshot; one that parses is resumed and abandoned
/// against the test CA (which knows no such order), and both operations must end.
pub fn restore_snapshot(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(snapshot) = Snapshot::from_json(text) else {
        return;
    };
    // What the engine writes it reads back the same.
    let again = Snapshot::from_json(&snapshot.to_json()).map(|again| again.to_json());
    assert_eq!(
        again.ok(),
        Some(snapshot.to_json()),
        "a written snapshot reads back as written"
    );
    let mut h = Harness::new(knobs());
    for command in [
        Command::Resume(snapshot.clone()),
        Command::Abandon(snapshot),
    ] {
        if let Ok(op) = h.client.start(command) {
            let _ = h.finish(op);
        }
    }
    assert_eq!(h.published_count(), 0, "a challenge was left published");
}
