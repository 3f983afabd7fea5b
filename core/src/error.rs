//! The engine's error type: every failure names what was at fault and what was expected.

use core::fmt;

use crate::timestamp::Timestamp;
use crate::wire::{Identifier, Problem, ProblemKind};

/// Whose fault an [`Error`] is: what a host decides on (retry later, fix the input, page
/// someone), as h11 splits local from remote errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The caller's: input the engine refused, a call that does not fit, no account.
    Caller,
    /// The CA's: it refused (a problem document), failed a validation, or answered
    /// something the engine could not use.
    Ca,
    /// The network's: a request got no response after the engine's retries.
    Network,
    /// The host's: a challenge it could not publish, cryptography that failed.
    Host,
}

/// Everything that can go wrong in the engine.
///
/// Messages never contain key material. Errors that come from the CA keep its problem
/// document so a host can act on the type (`rateLimited`, `badNonce`, …) and show its detail.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The CA answered `url` with a problem document.
    Acme {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The problem document.
        problem: Box<Problem>,
        /// When the CA allows a retry (`Retry-After`), if it said.
        retry_after: Option<Timestamp>,
    },
    /// An authorization became invalid.
    AuthorizationFailed {
        /// The identifier that could not be validated.
        identifier: Identifier,
        /// The challenge type that was tried (empty if none was tried by this client).
        challenge_type: String,
        /// The CA's reason, if it gave one.
        problem: Option<Box<Problem>>,
    },
    /// The CA offered no challenge type the caller accepts for an identifier.
    NoCompatibleChallenge {
        /// The identifier.
        identifier: Identifier,
        /// The types the CA offered.
        offered: Vec<String>,
        /// The types the caller accepts.
        accepted: Vec<String>,
    },
    /// The host could not deploy a challenge.
    ChallengeDeployFailed {
        /// The identifier the challenge was for.
        identifier: Identifier,
        /// The host's reason.
        reason: String,
    },
    /// The order failed at the CA.
    OrderFailed {
        /// The order URL.
        url: String,
        /// The CA's reason, if it gave one.
        problem: Option<Box<Problem>>,
    },
    /// A response could not be understood.
    InvalidResponse {
        /// The request URL.
        url: String,
        /// What was expected, naming the field or header.
        expected: String,
    },
    /// Caller input was not acceptable.
    InvalidInput {
        /// The input at fault.
        what: String,
        /// What was expected instead.
        expected: String,
    },
    /// A request got no response (the host's transport failed), after the engine's retries.
    Transport {
        /// The request URL.
        url: String,
        /// The host's description of the failure.
        reason: String,
    },
    /// A bounded wait or retry loop ran out.
    Timeout {
        /// What was being waited for.
        what: String,
    },
    /// An operation needs an account URL but none is known and none is being created.
    NoAccount,
    /// The call does not fit the operation's state (unknown id, no request in flight, …).
    InvalidState {
        /// What was wrong.
        reason: String,
    },
    /// A cryptographic operation failed.
    Crypto {
        /// What failed.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidResponse`].
    pub fn invalid_response(url: &str, expected: impl Into<String>) -> Self {
        Self::InvalidResponse {
            url: url.to_owned(),
            expected: expected.into(),
        }
    }

    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid_input(what: impl Into<String>, expected: impl Into<String>) -> Self {
        Self::InvalidInput {
            what: what.into(),
            expected: expected.into(),
        }
    }

    /// Shorthand for [`Error::Crypto`].
    pub fn crypto(reason: impl Into<String>) -> Self {
        Self::Crypto {
            reason: reason.into(),
        }
    }

    /// The CA's problem document, if this error carries one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Acme { problem, .. } => Some(problem),
            Error::AuthorizationFailed { problem, .. } | Error::OrderFailed { problem, .. } => {
                problem.as_deref()
            }
            _ => None,
        }
    }

    /// When the CA allows the next attempt, if it said (rate limits, overload).
    pub fn retry_after(&self) -> Option<Timestamp> {
        match self {
            Error::Acme { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The identifier at fault, for errors about one identifier (a failed authorization,
    /// no acceptable challenge, a challenge the host could not deploy).
    pub fn identifier(&self) -> Option<&Identifier> {
        match self {
            Error::AuthorizationFailed { identifier, .. }
            | Error::NoCompatibleChallenge { identifier, .. }
            | Error::ChallengeDeployFailed { identifier, .. } => Some(identifier),
            _ => None,
        }
    }

    /// Whether the CA refused because of a rate limit.
    pub fn is_rate_limited(&self) -> bool {
        self.problem()
            .is_some_and(|p| p.problem_kind() == ProblemKind::RateLimited)
    }

    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Acme { .. }
            | Error::AuthorizationFailed { .. }
            | Error::NoCompatibleChallenge { .. }
            | Error::OrderFailed { .. }
            | Error::InvalidResponse { .. }
            | Error::Timeout { .. } => Fault::Ca,
            Error::InvalidInput { .. } | Error::NoAccount | Error::InvalidState { .. } => {
                Fault::Caller
            }
            Error::Transport { .. } => Fault::Network,
            Error::ChallengeDeployFailed { .. } | Error::Crypto { .. } => Fault::Host,
        }
    }

    /// A short machine-readable name of the error's kind, stable across versions.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Acme { .. } => "acme",
            Error::AuthorizationFailed { .. } => "authorization-failed",
            Error::NoCompatibleChallenge { .. } => "no-compatible-challenge",
            Error::ChallengeDeployFailed { .. } => "challenge-deploy-failed",
            Error::OrderFailed { .. } => "order-failed",
            Error::InvalidResponse { .. } => "invalid-response",
            Error::InvalidInput { .. } => "invalid-input",
            Error::Transport { .. } => "transport",
            Error::Timeout { .. } => "timeout",
            Error::NoAccount => "no-account",
            Error::InvalidState { .. } => "invalid-state",
            Error::Crypto { .. } => "crypto",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Acme {
                url,
                status,
                problem,
                retry_after,
            } => {
                write!(f, "the CA refused {url} (HTTP {status}): {problem}")?;
                if let Some(at) = retry_after {
                    write!(f, " (retry after {at})")?;
                }
                Ok(())
            }
            Error::AuthorizationFailed {
                identifier,
                challenge_type,
                problem,
            } => {
                write!(f, "authorization for {identifier} failed")?;
                if !challenge_type.is_empty() {
                    write!(f, " ({challenge_type})")?;
                }
                match problem {
                    Some(p) => write!(f, ": {p}"),
                    None => Ok(()),
                }
            }
            Error::NoCompatibleChallenge {
                identifier,
                offered,
                accepted,
            } => write!(
                f,
                "the CA offers [{}] for {identifier}, none of the accepted [{}]",
                offered.join(", "),
                accepted.join(", ")
            ),
            Error::ChallengeDeployFailed { identifier, reason } => {
                write!(
                    f,
                    "could not deploy the challenge for {identifier}: {reason}"
                )
            }
            Error::OrderFailed { url, problem } => {
                write!(f, "order {url} failed")?;
                match problem {
                    Some(p) => write!(f, ": {p}"),
                    None => Ok(()),
                }
            }
            Error::InvalidResponse { url, expected } => {
                write!(f, "unexpected response from {url}: expected {expected}")
            }
            Error::InvalidInput { what, expected } => {
                write!(f, "invalid {what}: expected {expected}")
            }
            Error::Transport { url, reason } => write!(f, "no response from {url}: {reason}"),
            Error::Timeout { what } => write!(f, "gave up waiting for {what}"),
            Error::NoAccount => f.write_str(
                "no ACME account: create or find one (new-account) before this operation",
            ),
            Error::InvalidState { reason } => write!(f, "invalid call: {reason}"),
            Error::Crypto { reason } => write!(f, "cryptographic failure: {reason}"),
        }
    }
}

impl std::error::Error for Error {}
