//! The commands, one module each.

pub mod account;
pub mod inspect;
pub mod issue;
mod key_rollover;
pub mod list;
pub mod plugin;
mod recipe;
pub mod renew;
mod renewal_time;
pub mod revoke;
pub mod rollback;
mod session;

use std::process::ExitCode;

use crate::engine::{EngineError, EngineFailure};

/// A command's failure: one line for the user and the exit code that classifies it.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong and what to do.
    pub message: String,
    /// The documented exit code.
    pub code: u8,
}

/// Exit codes (documented in the README).
pub mod exit {
    /// Something else went wrong.
    pub const OTHER: u8 = 1;
    /// The CA refused (ACME problem, failed validation, invalid order).
    pub const CA_REFUSED: u8 = 3;
    /// A rate limit: try again after the time given.
    pub const RATE_LIMITED: u8 = 4;
    /// The CA could not be reached.
    pub const NETWORK: u8 = 5;
    /// Local trouble: input files, the state directory, a port in use, a challenge that
    /// could not be published.
    pub const LOCAL: u8 = 6;
}

impl Failure {
    /// A failure with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code,
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl From<EngineFailure> for Failure {
    fn from(failure: EngineFailure) -> Self {
        let code = match failure.kind.as_str() {
            "transport" => exit::NETWORK,
            // A challenge that could not be published is the solver's trouble, not the CA's.
            "invalid-input" | "no-account" | "challenge-deploy-failed" => exit::LOCAL,
            "acme"
                if failure
                    .problem
                    .as_ref()
                    .is_some_and(|p| p.is("rateLimited")) =>
            {
                exit::RATE_LIMITED
            }
            "acme"
            | "authorization-failed"
            | "order-failed"
            | "no-compatible-challenge"
            | "invalid-response"
            | "timeout" => exit::CA_REFUSED,
            _ => exit::OTHER,
        };
        Failure::new(code, failure.message)
    }
}

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Refused(failure) => failure.into(),
            EngineError::Wasm(message) => Failure::new(exit::OTHER, message),
        }
    }
}

impl From<certsmith_core::Error> for Failure {
    fn from(error: certsmith_core::Error) -> Self {
        EngineFailure::from(error).into()
    }
}

impl From<crate::storage::StorageError> for Failure {
    fn from(error: crate::storage::StorageError) -> Self {
        Failure::new(exit::LOCAL, error.to_string())
    }
}
