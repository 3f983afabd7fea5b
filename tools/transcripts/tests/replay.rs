//! Every shipped transcript (`core/tests/transcripts/*.json`) replayed through the Rust
//! engine gives the recorded outputs, byte for byte; a transcript with one recorded byte
//! changed is refused, naming the step.

#![allow(clippy::expect_used)]

use std::path::PathBuf;

use certsmith_transcripts::{Transcript, replay_native};

/// The shipped transcripts, by file name.
fn shipped() -> Vec<(String, Transcript)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../core/tests/transcripts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("core/tests/transcripts")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let transcript = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, transcript)
        })
        .collect()
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
