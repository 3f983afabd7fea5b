//! HTTP-01 through the shared key-value store: Deploy writes the key authorization at
//! `http01/<token>` (files or Redis), Cleanup deletes it; the edge plugin, wherever it runs
//! on the same store, answers the CA.

use certsmith_core::ChallengeTask;

use super::{Solver, SolverError, checked_token, http01_of};
use crate::layout;
use crate::storage::Store;

/// The key of a token's key authorization, as the edge plugin reads it.
pub fn token_key(token: &str) -> Result<String, SolverError> {
    Ok(layout::http01_token(checked_token(token)?))
}

/// The shared-store solver.
pub struct HttpKv {
    store: Store,
}

impl HttpKv {
    /// A solver writing into `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl Solver for HttpKv {
    async fn deploy(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        let (token, body) = http01_of(task)?;
        self.store
            .put_expiring(&token_key(token)?, body.as_bytes(), layout::HTTP01_TTL)
            .await
            .map_err(|e| SolverError(format!("cannot publish the http-01 token: {e}")))
    }

    async fn cleanup(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        let (token, _) = http01_of(task)?;
        self.store
            .delete(&token_key(token)?)
            .await
            .map_err(|e| SolverError(format!("cannot remove the http-01 token: {e}")))
    }
}
