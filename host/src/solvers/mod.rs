//! Challenge solvers: make a challenge answerable, and remove it afterwards.

pub mod http01;
pub mod webroot;

use std::future::Future;

use certsmith_core::ChallengeTask;

/// Why a challenge could not be published or removed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SolverError(pub String);

/// Publishes and removes challenges.
pub trait Solver {
    /// Makes `task` answerable; returns once the CA can validate it.
    fn deploy(&self, task: &ChallengeTask) -> impl Future<Output = Result<(), SolverError>>;
    /// Removes `task`.
    fn cleanup(&self, task: &ChallengeTask) -> impl Future<Output = Result<(), SolverError>>;
}

/// The solver a command line chose.
pub enum AnySolver {
    /// `--http ADDR:PORT`.
    Http(http01::Http01Standalone),
    /// `--webroot DIR`.
    Webroot(webroot::Webroot),
}

impl Solver for AnySolver {
    async fn deploy(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        match self {
            AnySolver::Http(s) => s.deploy(task).await,
            AnySolver::Webroot(s) => s.deploy(task).await,
        }
    }

    async fn cleanup(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        match self {
            AnySolver::Http(s) => s.cleanup(task).await,
            AnySolver::Webroot(s) => s.cleanup(task).await,
        }
    }
}

/// The HTTP-01 token and body of a task, or an error if it is not an HTTP-01 task.
pub(crate) fn http01_of(task: &ChallengeTask) -> Result<(&str, &str), SolverError> {
    match task.solution {
        certsmith_core::Solution::Http01 { .. } => {
            Ok((task.token.as_str(), task.key_authorization.as_str()))
        }
        _ => Err(SolverError(format!(
            "this solver answers http-01 only, not {} for {}",
            task.challenge_type().as_str(),
            task.identifier
        ))),
    }
}

/// Whether a token is base64url (safe as a file name and a URL path segment).
pub(crate) fn is_token(token: &str) -> bool {
    (1..=256).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
