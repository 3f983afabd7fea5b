//! Every shipped transcript (`core/tests/transcripts/`) replayed through this build's engine:
//! the component in wasmtime by default (pre-initialised and cached, as the commands run
//! it), the linked crate with `--features native`. The
//! outputs must be the recorded ones byte for byte, as they are for the Rust crate
//! (`tools/transcripts`) and the JS package and jco's transpiled component (`tests/node/`).

use certsmith_core::{Command, Input, OpId, Output, Timestamp};
use certsmith_transcripts::{Engine, replay, shipped};

use super::{AcmeEngine, EngineError};

/// This build's engine, as the transcript runner drives it.
struct Host(Box<dyn AcmeEngine>);

/// An engine failure as the runner reports it.
fn text(error: EngineError) -> String {
    error.to_string()
}

impl Engine for Host {
    fn start(&mut self, command: Command) -> Result<OpId, String> {
        self.0.start(command).map_err(text)
    }

    fn poll(&mut self, now: Timestamp) -> Result<Option<Output>, String> {
        self.0.poll(now).map_err(text)
    }

    fn handle(&mut self, now: Timestamp, op: OpId, input: Input) -> Result<(), String> {
        self.0.handle(now, op, input).map_err(text)
    }
}

#[test]
fn every_shipped_transcript_replays_through_this_builds_engine() {
    let transcripts = shipped().expect("the shipped transcripts");
    assert!(transcripts.len() >= 7, "the shipped transcripts are there");
    let cache = tempfile::tempdir().expect("cache dir");
    for (name, transcript) in &transcripts {
        replay(transcript, |config, key| {
            super::open(config, key, None, Some(cache.path()))
                .map(Host)
                .map_err(text)
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_changed_output_is_refused_through_this_builds_engine() {
    let (name, mut transcript) = shipped().expect("transcripts").remove(0);
    let step = transcript
        .steps
        .iter()
        .rposition(|s| s.output.as_ref().is_some_and(|o| o["kind"] == "send"))
        .expect("a request");
    let output = transcript.steps[step].output.as_mut().expect("output");
    output["request"]["body"] = serde_json::Value::from("AAAA");
    let err = replay(&transcript, |config, key| {
        super::open(config, key, None, None).map(Host).map_err(text)
    })
    .expect_err("a changed transcript");
    assert!(err.starts_with(&format!("step {step} ")), "{name}: {err}");
}
