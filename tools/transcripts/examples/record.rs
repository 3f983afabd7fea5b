//! Records the shipped transcripts (`core/tests/transcripts/*.json`) against the engine's
//! test CA (`core/tests/support/fake_ca.rs`, compiled in, not copied): a seeded client, a
//! fixed clock, every `poll` and every answer written down. Run from the repository root:
//! `cargo run -p certsmith-transcripts --example record`. The engine's side of a run is
//! deterministic; the test CA's keys and certificates are new at each recording, so a new
//! recording changes those answers (and what the engine derives from them) in every file.

#![allow(missing_docs)]

// The engine's test CA: test code, which reports a broken expectation by panicking.
#[path = "../../../core/tests/support/fake_ca.rs"]
#[allow(dead_code, clippy::expect_used, clippy::unwrap_used)]
mod fake_ca;

use std::cell::RefCell;
use std::rc::Rc;

use certsmith_core::{Action, Input, KeyType, PrivateKey, Random, Solution};
use certsmith_transcripts::Transcript;
use certsmith_transcripts::recorder::{Recorder, SimulatedClock};
use fake_ca::{DIRECTORY, FakeCa, Knobs, Published};
use serde_json::{Value, json};

/// Why a recording failed.
type Failure = Box<dyn std::error::Error>;

/// The clock's start: 2027-01-15T08:00:00Z.
const T0: u64 = 1_800_000_000_000;
/// The seed of every recorded client's randomness.
const SEED: [u8; 32] = [0x5e; 32];
/// The most polls one run may take.
const MAX_STEPS: usize = 10_000;

/// How the recorder answers a deployment.
#[derive(Clone, Copy, PartialEq)]
enum Deploy {
    /// Publish what the engine asked for.
    Correct,
    /// Publish a wrong value (the CA's validation fails).
    Wrong,
}

/// Runs `commands` against a CA with `knobs` and writes down every step.
fn record(
    description: &str,
    knobs: Knobs,
    deploy: Deploy,
    commands: Vec<Value>,
) -> Result<Transcript, Failure> {
    let published = Rc::new(RefCell::new(Published::default()));
    let mut ca = FakeCa::new(knobs, Rc::clone(&published));
    let key = PrivateKey::generate_with(KeyType::P256, &mut Random::seeded([0xac; 32]))?;
    let mut recorder = Recorder::new(description, DIRECTORY, key, SEED, "transcript-recorder/1")?;
    for command in commands {
        recorder.start(command)?;
    }
    let transcript = recorder.run(&mut SimulatedClock(T0), MAX_STEPS, |output, at| {
        Ok(match &output.action {
            Action::Send(request) => Some(Input::Response(ca.handle(request, at))),
            Action::Deploy(task) => {
                let mut published = published.borrow_mut();
                let wrong = |v: &str| match deploy {
                    Deploy::Correct => v.to_owned(),
                    Deploy::Wrong => format!("{v}-wrong"),
                };
                match &task.solution {
                    Solution::Http01 { .. } => {
                        published
                            .http
                            .insert(task.token.clone(), wrong(&task.key_authorization));
                    }
                    Solution::Dns01 { record_name, value } => {
                        published
                            .dns
                            .entry(record_name.clone())
                            .or_default()
                            .push(wrong(value));
                    }
                    Solution::TlsAlpn01 {
                        certificate_pem, ..
                    } => {
                        published
                            .alpn
                            .insert(task.identifier.value.clone(), certificate_pem.clone());
                    }
                }
                Some(Input::ChallengeReady {
                    token: task.token.clone(),
                })
            }
            _ => None,
        })
    })?;
    Ok(transcript)
}

fn main() -> Result<(), Failure> {
    let account = json!({"kind": "new-account", "termsOfServiceAgreed": true,
        "contact": ["mailto:admin@example.test"]});
    let order = |names: &[&str], types: &[&str]| json!({"kind": "order", "identifiers": names, "challengeTypes": types});
    let runs = [
        (
            "happy-path",
            "An account and a two-name HTTP-01 order, issued.",
            Knobs::default(),
            Deploy::Correct,
            vec![
                account.clone(),
                order(&["a.example", "b.example"], &["http-01"]),
            ],
        ),
        (
            "bad-nonce-storm",
            "Five badNonce answers in a row, each retried with the nonce the error carried.",
            Knobs {
                reject_nonces: 5,
                ..Knobs::default()
            },
            Deploy::Correct,
            vec![account.clone(), order(&["nonce.example"], &["dns-01"])],
        ),
        (
            "server-errors-and-polling",
            "Two 500 serverInternal answers retried, then an authorization pending for two polls with Retry-After: 3.",
            Knobs {
                server_errors: 2,
                authz_pending_polls: 2,
                retry_after_secs: Some(3),
                ..Knobs::default()
            },
            Deploy::Correct,
            vec![account.clone(), order(&["poll.example"], &["http-01"])],
        ),
        (
            "rate-limited",
            "newOrder answered 429 rateLimited: the order fails with the CA's problem.",
            Knobs {
                rate_limited: true,
                ..Knobs::default()
            },
            Deploy::Correct,
            vec![account.clone(), order(&["limited.example"], &["http-01"])],
        ),
        (
            "already-replaced",
            "newOrder with `replaces` answered 409 alreadyReplaced: ordered again without it.",
            Knobs {
                already_replaced: true,
                ari: true,
                ..Knobs::default()
            },
            Deploy::Correct,
            vec![
                account.clone(),
                json!({"kind": "order", "identifiers": ["renewed.example"], "challengeTypes": ["http-01"],
                    "replaces": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"}),
            ],
        ),
        (
            "invalid-challenge",
            "The challenge is published with a wrong value: the authorization becomes invalid, the challenge is cleaned up and the order fails naming it.",
            Knobs::default(),
            Deploy::Wrong,
            vec![account.clone(), order(&["wrong.example"], &["http-01"])],
        ),
        (
            "hostile-authorization",
            "The CA's authorization names a domain that was not ordered: the order ends before anything is published.",
            Knobs {
                foreign_identifier: Some("victim.example".into()),
                ..Knobs::default()
            },
            Deploy::Correct,
            vec![account.clone(), order(&["mine.example"], &["dns-01"])],
        ),
    ];
    let dir = std::path::Path::new("core/tests/transcripts");
    std::fs::create_dir_all(dir)?;
    for (name, description, knobs, deploy, commands) in runs {
        let transcript = record(description, knobs, deploy, commands)?;
        let path = dir.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&transcript)? + "\n";
        std::fs::write(&path, text)?;
        println!("{}: {} steps", path.display(), transcript.steps.len());
    }
    Ok(())
}
