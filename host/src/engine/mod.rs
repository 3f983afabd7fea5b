//! The ACME engine as the host drives it: the WebAssembly component in wasmtime (default),
//! or the same crate linked natively (feature `native`, to measure what WebAssembly costs).
//!
//! Both yield the same [`EngineOutput`]s, so the driver cannot tell them apart.

#[cfg(not(feature = "native"))]
pub mod component;
#[cfg(feature = "native")]
pub mod native;

use std::fmt;

use certsmith_core::wire::Problem;
use certsmith_core::{
    ChallengeTask, ClientConfig, Command, HttpRequest, Input, OpId, Outcome, Timestamp,
};

/// How an operation failed, as both engines report it (the WIT `engine-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineFailure {
    /// Stable kind (`acme`, `authorization-failed`, `transport`, …).
    pub kind: String,
    /// One line for people.
    pub message: String,
    /// The CA's problem document, if any.
    pub problem: Option<Box<Problem>>,
    /// When the CA allows a retry.
    pub retry_after: Option<Timestamp>,
}

impl fmt::Display for EngineFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<certsmith_core::Error> for EngineFailure {
    fn from(error: certsmith_core::Error) -> Self {
        Self {
            kind: error.kind().to_owned(),
            message: error.to_string(),
            problem: error.problem().cloned().map(Box::new),
            retry_after: error.retry_after(),
        }
    }
}

/// What the host must do for an operation.
#[derive(Debug)]
pub enum EngineAction {
    /// Send this request.
    Send(HttpRequest),
    /// Publish this challenge.
    Deploy(ChallengeTask),
    /// Unpublish this challenge.
    Cleanup(ChallengeTask),
    /// Store this order snapshot (JSON, holds the certificate key).
    Save(String),
    /// The operation succeeded.
    Done(Outcome),
    /// The operation failed.
    Failed(EngineFailure),
}

/// One action for one operation.
#[derive(Debug)]
pub struct EngineOutput {
    /// The operation.
    pub op: OpId,
    /// What to do.
    pub action: EngineAction,
}

/// A failure of the engine itself, or a refused call.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine refused a call (bad input, unknown operation).
    #[error("{0}")]
    Refused(EngineFailure),
    /// The WebAssembly engine could not be loaded, or trapped.
    #[error("the ACME engine component failed: {0}")]
    Wasm(String),
}

impl From<certsmith_core::Error> for EngineError {
    fn from(error: certsmith_core::Error) -> Self {
        Self::Refused(error.into())
    }
}

/// Everything the driver asks of an ACME engine: the engine's two doors (`start`, `handle`),
/// `poll` and `next_wakeup`.
pub trait AcmeEngine {
    /// Starts an operation.
    fn start(&mut self, command: Command) -> Result<OpId, EngineError>;
    /// The next piece of work due at `now`.
    fn poll(&mut self, now: Timestamp) -> Result<Option<EngineOutput>, EngineError>;
    /// Hands over what the host learnt for operation `op` at `now`.
    fn handle(&mut self, now: Timestamp, op: OpId, input: Input) -> Result<(), EngineError>;
    /// When to poll next without new input.
    fn next_wakeup(&mut self) -> Result<Option<Timestamp>, EngineError>;
    /// Requests handed to the host so far.
    fn requests_sent(&mut self) -> Result<u64, EngineError>;
}

/// The engine this build uses, for `config` and the account key (PEM). `engine_file`
/// replaces the embedded component (`--engine`); `cache_dir` keeps compiled code.
pub fn open(
    config: ClientConfig,
    account_key_pem: &str,
    engine_file: Option<&std::path::Path>,
    cache_dir: Option<&std::path::Path>,
) -> Result<Box<dyn AcmeEngine>, EngineError> {
    #[cfg(feature = "native")]
    {
        let _ = (engine_file, cache_dir);
        Ok(Box::new(native::NativeEngine::new(
            config,
            account_key_pem,
        )?))
    }
    #[cfg(not(feature = "native"))]
    {
        Ok(Box::new(component::ComponentEngine::new(
            config,
            account_key_pem,
            engine_file,
            cache_dir,
        )?))
    }
}
