//! The commands, one module each.

pub mod account;
pub mod inspect;
pub mod issue;
mod key_rollover;
pub mod list;
pub mod plugin;
mod recipe;
pub mod renew;
pub mod renewal_time;
pub mod revoke;
pub mod rollback;
pub mod session;

use std::process::ExitCode;

use crate::engine::EngineError;

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
    /// Stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
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

impl From<certsmith_core::Error> for Failure {
    fn from(error: certsmith_core::Error) -> Self {
        Failure::new(exit_code(&error), error.to_string())
    }
}

/// The documented exit code of an engine error: from whose fault it is, and for a few
/// variants which one.
fn exit_code(error: &certsmith_core::Error) -> u8 {
    use certsmith_core::{Error, Fault};
    match (error.fault(), error) {
        (_, error) if error.is_rate_limited() => exit::RATE_LIMITED,
        (Fault::Ca, _) => exit::CA_REFUSED,
        (Fault::Network, _) => exit::NETWORK,
        // A call that does not fit the engine's state is a bug, not the user's input.
        (Fault::Caller, Error::InvalidState { .. }) => exit::OTHER,
        (Fault::Caller, _) => exit::LOCAL,
        // A challenge that could not be published is the solver's trouble, not the CA's.
        (Fault::Host, Error::ChallengeDeployFailed { .. }) => exit::LOCAL,
        (Fault::Host, _) => exit::OTHER,
    }
}

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Refused(error) => error.into(),
            EngineError::Wasm(message) => Failure::new(exit::OTHER, message),
            interrupted @ EngineError::Interrupted(_) => {
                Failure::new(exit::INTERRUPTED, interrupted.to_string())
            }
        }
    }
}

impl From<crate::storage::StorageError> for Failure {
    fn from(error: crate::storage::StorageError) -> Self {
        Failure::new(exit::LOCAL, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use certsmith_core::{Error, Fault, Identifier, Problem};

    use super::{exit, exit_code};

    /// A CA refusal with the ACME problem `name`.
    fn refusal(name: &str) -> Error {
        Error::Acme {
            url: "https://ca/new-order".into(),
            status: 429,
            problem: Box::new(Problem {
                kind: format!("urn:ietf:params:acme:error:{name}"),
                ..Problem::default()
            }),
            retry_after: None,
        }
    }

    #[test]
    fn every_engine_error_has_its_documented_exit_code() {
        let who = || Identifier::dns("a.example");
        let table = [
            (refusal("rateLimited"), Fault::Ca, exit::RATE_LIMITED),
            (refusal("unauthorized"), Fault::Ca, exit::CA_REFUSED),
            (
                Error::AuthorizationFailed {
                    identifier: who(),
                    challenge_type: "http-01".into(),
                    problem: None,
                },
                Fault::Ca,
                exit::CA_REFUSED,
            ),
            (
                Error::NoCompatibleChallenge {
                    identifier: who(),
                    offered: vec!["dns-01".into()],
                    accepted: vec!["http-01".into()],
                },
                Fault::Ca,
                exit::CA_REFUSED,
            ),
            (
                Error::OrderFailed {
                    url: "https://ca/order/1".into(),
                    problem: None,
                },
                Fault::Ca,
                exit::CA_REFUSED,
            ),
            (
                Error::invalid_response("https://ca/dir", "a directory object"),
                Fault::Ca,
                exit::CA_REFUSED,
            ),
            (
                Error::Timeout {
                    what: "the order".into(),
                },
                Fault::Ca,
                exit::CA_REFUSED,
            ),
            (
                Error::Transport {
                    url: "https://ca/dir".into(),
                    reason: "connection refused".into(),
                },
                Fault::Network,
                exit::NETWORK,
            ),
            (
                Error::invalid_input("identifier", "a DNS name"),
                Fault::Caller,
                exit::LOCAL,
            ),
            (Error::NoAccount, Fault::Caller, exit::LOCAL),
            (
                Error::InvalidState {
                    reason: "op-9 is not a running operation".into(),
                },
                Fault::Caller,
                exit::OTHER,
            ),
            (
                Error::ChallengeDeployFailed {
                    identifier: who(),
                    reason: "the hook failed".into(),
                },
                Fault::Host,
                exit::LOCAL,
            ),
            (Error::crypto("no randomness"), Fault::Host, exit::OTHER),
        ];
        for (error, fault, code) in table {
            assert_eq!(error.fault(), fault, "{error}");
            assert_eq!(exit_code(&error), code, "{error}");
        }
    }
}
