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
    ChallengeTask, ClientConfig, HttpRequest, HttpResponse, NewAccountRequest, OpId, OrderRequest,
    Outcome, RevocationRequest, Timestamp,
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

/// Everything the driver asks of an ACME engine: start operations, then poll and feed.
pub trait AcmeEngine {
    /// Creates or finds the account.
    fn new_account(&mut self, request: NewAccountRequest) -> Result<OpId, EngineError>;
    /// Orders a certificate.
    fn order(&mut self, request: OrderRequest) -> Result<OpId, EngineError>;
    /// Fetches the account.
    fn fetch_account(&mut self) -> Result<OpId, EngineError>;
    /// Replaces the account's contacts.
    fn update_account(&mut self, contact: Vec<String>) -> Result<OpId, EngineError>;
    /// Deactivates the account.
    fn deactivate_account(&mut self) -> Result<OpId, EngineError>;
    /// Rolls the account over to the key in `new_key_pem`.
    fn change_key(&mut self, new_key_pem: &str) -> Result<OpId, EngineError>;
    /// Revokes a certificate.
    fn revoke(&mut self, request: RevocationRequest) -> Result<OpId, EngineError>;
    /// Continues an order from its snapshot JSON.
    fn resume(&mut self, snapshot_json: &str) -> Result<OpId, EngineError>;
    /// Abandons the order of a snapshot JSON: deactivates its pending authorizations.
    fn abandon(&mut self, snapshot_json: &str) -> Result<OpId, EngineError>;
    /// Asks the CA's ARI endpoint when to renew a certificate (DER).
    fn renewal_info(&mut self, certificate_der: &[u8]) -> Result<OpId, EngineError>;
    /// The next piece of work due at `now`.
    fn poll(&mut self, now: Timestamp) -> Result<Option<EngineOutput>, EngineError>;
    /// Feeds a response.
    fn handle_response(
        &mut self,
        op: OpId,
        response: HttpResponse,
        now: Timestamp,
    ) -> Result<(), EngineError>;
    /// Reports a request that got no response.
    fn handle_transport_error(
        &mut self,
        op: OpId,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), EngineError>;
    /// Reports a deployed challenge.
    fn challenge_ready(&mut self, op: OpId, token: &str) -> Result<(), EngineError>;
    /// Reports a challenge that could not be deployed.
    fn challenge_failed(&mut self, op: OpId, token: &str, reason: &str) -> Result<(), EngineError>;
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
