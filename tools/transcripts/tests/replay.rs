//! Every shipped transcript (`core/tests/transcripts/*.json`) replayed through the Rust
//! engine gives the recorded outputs, byte for byte; a transcript with one recorded byte
//! changed is refused, naming the step.

#![allow(clippy::expect_used)]

use certsmith_transcripts::{Transcript, replay_native};

/// The shipped transcripts, by file name.
fn shipped() -> Vec<(String, Transcript)> {
    certsmith_transcripts::shipped().expect("the shipped transcripts")
}

#[test]
fn every_shipped_transcript_replays_byte_for_byte() {
    let transcripts = shipped();
    assert!(transcripts.len() >= 7, "the shipped transcripts are there");
    for (name, transcript) in &transcripts {
        replay_native(transcript).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_changed_output_is_refused_naming_the_step() {
    let (name, mut transcript) = shipped().remove(0);
    let step = transcript
        .steps
        .iter()
        .position(|s| s.output.as_ref().is_some_and(|o| o["kind"] == "send"))
        .expect("a request");
    let output = transcript.steps[step].output.as_mut().expect("output");
    output["request"]["url"] = serde_json::Value::from("https://elsewhere.test/");
    let err = replay_native(&transcript).expect_err("a changed transcript");
    assert!(err.starts_with(&format!("step {step} ")), "{name}: {err}");
    assert!(err.contains("elsewhere.test"), "{err}");
}
