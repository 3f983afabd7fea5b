//! The shape every operation shares: what it needs to run, what it asks for next.

use std::collections::VecDeque;

use crate::client::api::{Action, ChallengeTask, Outcome, RetryPolicy};
use crate::client::request::{Reply, RequestSpec};
use crate::error::Error;
use crate::keys::PrivateKey;
use crate::random::Random;
use crate::timestamp::Timestamp;
use crate::wire::Directory;

/// What an operation can see of its client while it decides.
pub(crate) struct Ctx<'a> {
    /// The CA's directory.
    pub directory: &'a Directory,
    /// The directory's URL.
    pub directory_url: &'a str,
    /// The account key.
    pub account_key: &'a PrivateKey,
    /// The account URL, once known.
    pub account_url: Option<&'a str>,
    /// Retry and polling bounds.
    pub policy: &'a RetryPolicy,
    /// The client's random source.
    pub random: &'a mut Random,
    /// The current time.
    pub now: Timestamp,
    /// Actions for the host other than requests (Deploy, Save).
    pub outbox: &'a mut VecDeque<Action>,
}

/// What an operation wants next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send this request now.
    Send(RequestSpec),
    /// Send this request at that time.
    SendAt(RequestSpec, Timestamp),
    /// Wait for the host (a challenge to be ready).
    AwaitHost,
    /// The operation is finished.
    Finish(Outcome),
}

/// An operation's own protocol logic.
pub(crate) trait Flow {
    /// Whether the operation signs with the account URL (and so must wait for one).
    fn needs_account(&self) -> bool;
    /// The first step, once the directory is known.
    fn start(&mut self, ctx: &mut Ctx<'_>) -> Result<Step, Error>;
    /// The reply to the last request (after the client's own retries): a success, or a
    /// problem the request tolerates.
    fn on_response(&mut self, ctx: &mut Ctx<'_>, reply: Reply) -> Result<Step, Error>;
    /// The challenges to clean up when the operation ends, each with whether the host has
    /// reported on its deployment (one still being deployed is cleaned up once it has).
    fn deployed(&self) -> Vec<(ChallengeTask, bool)> {
        Vec::new()
    }
    /// The host says a challenge is deployed (or could not be: `failure`).
    fn challenge_ready(&mut self, token: &str, failure: Option<&str>) -> Result<(), Error> {
        let _ = failure;
        Err(Error::InvalidState {
            reason: format!("operation has no challenge with token {token}"),
        })
    }
    /// The next step after host input, when the operation was waiting for the host.
    fn after_host_input(&mut self, ctx: &mut Ctx<'_>) -> Result<Step, Error> {
        let _ = ctx;
        Ok(Step::AwaitHost)
    }
    /// Whether this operation creates or finds the account (others wait for it).
    fn creates_account(&self) -> bool {
        false
    }
    /// The key the client signs with after this operation succeeds, if it changes it.
    fn replacement_account_key(&self) -> Option<&PrivateKey> {
        None
    }
}

/// Exponential backoff: `initial * 2^attempt`, capped at `max`.
pub(crate) fn backoff_ms(initial: u64, max: u64, attempt: u32) -> u64 {
    initial.saturating_mul(1u64 << attempt.min(32)).min(max)
}
