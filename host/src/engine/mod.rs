//! The ACME engine as the host drives it: the WebAssembly component in wasmtime (default),
//! or the same crate linked natively (feature `native`, to measure what WebAssembly costs).
//!
//! Both yield the engine's own [`Output`]s and [`Error`](certsmith_core::Error)s (the
//! component's WIT values converted straight back), so the driver cannot tell them apart.

#[cfg(not(feature = "native"))]
pub mod component;
#[cfg(feature = "native")]
pub mod native;
#[cfg(not(feature = "native"))]
mod prepare;
#[cfg(test)]
mod transcripts;

use certsmith_core::{ClientConfig, Command, Input, OpId, Output, Timestamp};

/// A failure of the engine itself, or a refused call.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine refused a call (bad input, unknown operation).
    #[error("{0}")]
    Refused(certsmith_core::Error),
    /// The WebAssembly engine could not be loaded, or trapped.
    #[error("the ACME engine component failed: {0}")]
    Wasm(String),
    /// SIGINT or SIGTERM: the published challenges were removed (how many).
    #[error(
        "interrupted: {0} published challenge(s) removed; an order in flight is kept (run the same command again to resume it)"
    )]
    Interrupted(usize),
}

impl From<certsmith_core::Error> for EngineError {
    fn from(error: certsmith_core::Error) -> Self {
        Self::Refused(error)
    }
}

/// Everything the driver asks of an ACME engine: the engine's two doors (`start`, `handle`),
/// `poll` and `next_wakeup`.
pub trait AcmeEngine {
    /// Starts an operation.
    fn start(&mut self, command: Command) -> Result<OpId, EngineError>;
    /// The next piece of work due at `now`.
    fn poll(&mut self, now: Timestamp) -> Result<Option<Output>, EngineError>;
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
