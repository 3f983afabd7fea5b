//! Transcripts: recorded runs of the engine, and the one way to replay them.
//!
//! A transcript (JSON, format `certsmith-transcript/1`, README "Transcripts") holds a
//! client's configuration (directory URL, account key, the seed of its randomness, the
//! `User-Agent` token), the commands started at the beginning (the JS package's command
//! objects), and every step of the run: the time of a `poll`, the output it must give (the
//! JS package's output object, a request's body in base64; `null` for none) and the input
//! handed back for that output, if any (a response, `challenge-ready`, …). With the seed,
//! the clock and the inputs fixed, every build of the engine must give the same outputs
//! byte for byte: [`replay_native`] checks the Rust crate, [`replay`] any other build (the
//! host's test replays them through the component in wasmtime),
//! `tests/node/transcripts.test.cjs` the JS package and `component.transcripts.test.cjs` the
//! component transpiled by jco. [`recorder`] records them (`examples/record.rs` against the
//! engine's test CA, `examples/record_pebble.rs` against Pebble).

use base64ct::{Base64, Encoding};
use certsmith_core::{
    Action, Client, ClientConfig, Command, HttpResponse, Input, OpId, Output, PrivateKey, Timestamp,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod recorder;

/// The format name every transcript carries.
pub const FORMAT: &str = "certsmith-transcript/1";

/// One recorded run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transcript {
    /// [`FORMAT`].
    pub format: String,
    /// What the run shows.
    pub description: String,
    /// How the client is made.
    pub config: Config,
    /// The commands started before the first step, in order (their op ids are 1, 2, …).
    pub commands: Vec<Value>,
    /// Every `poll`, in order.
    pub steps: Vec<Step>,
}

/// A client's configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The CA's directory URL.
    pub directory_url: String,
    /// The account key, PKCS#8 PEM.
    pub account_key_pem: String,
    /// The 32-byte seed of the client's randomness, hex.
    pub seed_hex: String,
    /// The host's product token before the engine's in `User-Agent`.
    pub user_agent: Option<String>,
}

/// One `poll` and what follows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// The time passed to `poll`, ms since the epoch.
    pub now: u64,
    /// The output `poll` must give; `None` when it has nothing.
    pub output: Option<Value>,
    /// What the host hands back for that output with `handle(now, op, input)`, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

/// The seed as bytes, or an error naming it.
pub fn seed(config: &Config) -> Result<[u8; 32], String> {
    let hex = config.seed_hex.as_bytes();
    if hex.len() != 64 {
        return Err(format!(
            "seedHex {:?}: expected 64 hex digits",
            config.seed_hex
        ));
    }
    let mut seed = [0u8; 32];
    for (byte, pair) in seed.iter_mut().zip(hex.chunks(2)) {
        let text = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
        *byte = u8::from_str_radix(text, 16)
            .map_err(|_| format!("seedHex {:?}: expected hex digits", config.seed_hex))?;
    }
    Ok(seed)
}

/// The engine's configuration for a transcript's client: its directory, its seed as the
/// randomness, its `User-Agent` token, the rest default.
pub fn client_config(config: &Config) -> Result<ClientConfig, String> {
    Ok(ClientConfig {
        seed: Some(seed(config)?),
        user_agent: config.user_agent.clone(),
        ..ClientConfig::new(config.directory_url.clone())
    })
}

/// An output as a transcript holds it: the JS package's object (`{op, kind, …}`), a
/// request's body in base64.
pub fn output_value(output: &Output) -> Result<Value, String> {
    let text = certsmith_js::action_json(&output.action).map_err(|e| e.to_string())?;
    let mut value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    value["op"] = Value::from(output.op.0);
    if let Action::Send(request) = &output.action {
        value["request"]["body"] = Value::from(Base64::encode_string(&request.body));
    }
    Ok(value)
}

/// An input as a transcript holds it (see [`input_from_value`]).
pub fn input_value(input: &Input) -> Value {
    match input {
        Input::Response(r) => serde_json::json!({
            "kind": "response",
            "status": r.status,
            "headers": r.headers,
            "body": Base64::encode_string(&r.body),
        }),
        Input::TransportError(reason) => {
            serde_json::json!({"kind": "transport-error", "reason": reason})
        }
        Input::ChallengeReady { token } => {
            serde_json::json!({"kind": "challenge-ready", "token": token})
        }
        Input::ChallengeFailed { token, reason } => {
            serde_json::json!({"kind": "challenge-failed", "token": token, "reason": reason})
        }
    }
}

/// A transcript's input as the engine's: `{kind: 'response', status, headers: [[name,
/// value], …], body: base64}`, `{kind: 'transport-error', reason}`, `{kind:
/// 'challenge-ready', token}` or `{kind: 'challenge-failed', token, reason}`.
pub fn input_from_value(value: &Value) -> Result<Input, String> {
    let text = |field: &str| {
        value[field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("input {value}: expected a string {field}"))
    };
    match value["kind"].as_str() {
        Some("response") => {
            let headers: Vec<(String, String)> = serde_json::from_value(value["headers"].clone())
                .map_err(|e| format!("input headers: {e}"))?;
            let body =
                Base64::decode_vec(&text("body")?).map_err(|e| format!("input body: {e}"))?;
            let status = value["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .ok_or_else(|| format!("input {value}: expected a status"))?;
            Ok(Input::Response(HttpResponse {
                status,
                headers,
                body,
            }))
        }
        Some("transport-error") => Ok(Input::TransportError(text("reason")?)),
        Some("challenge-ready") => Ok(Input::ChallengeReady {
            token: text("token")?,
        }),
        Some("challenge-failed") => Ok(Input::ChallengeFailed {
            token: text("token")?,
            reason: text("reason")?,
        }),
        _ => Err(format!("input {value}: unknown kind")),
    }
}

/// A build of the engine that a transcript can be replayed through: the engine's doors,
/// with failures as text. The Rust [`Client`] is one; the host's component in wasmtime is
/// another (`host/src/engine/transcripts.rs`).
pub trait Engine {
    /// [`Client::start`].
    fn start(&mut self, command: Command) -> Result<OpId, String>;
    /// [`Client::poll`].
    fn poll(&mut self, now: Timestamp) -> Result<Option<Output>, String>;
    /// [`Client::handle`].
    fn handle(&mut self, now: Timestamp, op: OpId, input: Input) -> Result<(), String>;
}

impl Engine for Client {
    fn start(&mut self, command: Command) -> Result<OpId, String> {
        Client::start(self, command).map_err(|e| e.to_string())
    }

    fn poll(&mut self, now: Timestamp) -> Result<Option<Output>, String> {
        Ok(Client::poll(self, now))
    }

    fn handle(&mut self, now: Timestamp, op: OpId, input: Input) -> Result<(), String> {
        Client::handle(self, now, op, input).map_err(|e| e.to_string())
    }
}

/// Replays `transcript` through the Rust engine (see [`replay`]).
pub fn replay_native(transcript: &Transcript) -> Result<(), String> {
    replay(transcript, |config, account_key_pem| {
        let key = PrivateKey::from_pem(account_key_pem).map_err(|e| e.to_string())?;
        Ok(Client::new(config, key))
    })
}

/// Replays `transcript` through the engine `open` makes from the transcript's client
/// configuration and account key (PEM); the first output that differs from the recorded one
/// is an error naming the step and showing both.
pub fn replay<E: Engine>(
    transcript: &Transcript,
    open: impl FnOnce(ClientConfig, &str) -> Result<E, String>,
) -> Result<(), String> {
    if transcript.format != FORMAT {
        return Err(format!("format {:?}: expected {FORMAT}", transcript.format));
    }
    let config = &transcript.config;
    let mut engine = open(client_config(config)?, &config.account_key_pem)?;
    for command in &transcript.commands {
        let command = certsmith_js::command_from_json(&command.to_string())
            .map_err(|e| format!("command {command}: {e}"))?;
        engine.start(command)?;
    }
    for (i, step) in transcript.steps.iter().enumerate() {
        let now = Timestamp::from_unix_millis(step.now);
        let output = engine
            .poll(now)
            .map_err(|e| format!("step {i}: poll: {e}"))?;
        let got = output.as_ref().map(output_value).transpose()?;
        if got != step.output {
            return Err(format!(
                "step {i} (poll at {}): expected\n{}\ngot\n{}",
                step.now,
                pretty(step.output.as_ref()),
                pretty(got.as_ref())
            ));
        }
        if let (Some(input), Some(output)) = (&step.input, output) {
            engine
                .handle(now, output.op, input_from_value(input)?)
                .map_err(|e| format!("step {i}: handle: {e}"))?;
        }
    }
    Ok(())
}

/// Every shipped transcript (`core/tests/transcripts/*.json`), by file name, in name order.
pub fn shipped() -> Result<Vec<(String, Transcript)>, String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../core/tests/transcripts");
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{dir}: {e}"))?.path();
        if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
            let transcript = serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
            Ok((file.unwrap_or(name), transcript))
        })
        .collect()
}

/// A step's output for a mismatch message.
fn pretty(value: Option<&Value>) -> String {
    value.map_or_else(
        || "none".to_owned(),
        |v| serde_json::to_string_pretty(v).unwrap_or_default(),
    )
}
