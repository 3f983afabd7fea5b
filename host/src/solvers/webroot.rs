//! HTTP-01 through an existing web server: write the key authorization under its document
//! root at `.well-known/acme-challenge/<token>`, remove it afterwards.

use std::path::PathBuf;

use certsmith_core::ChallengeTask;

use super::{Solver, SolverError, checked_token, http01_of};

/// The webroot solver.
pub struct Webroot {
    root: PathBuf,
}

impl Webroot {
    /// A solver writing under `root` (the web server's document root).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The file for `token`, refusing anything but a base64url token.
    fn file(&self, token: &str) -> Result<PathBuf, SolverError> {
        Ok(self
            .root
            .join(".well-known/acme-challenge")
            .join(checked_token(token)?))
    }
}

impl Solver for Webroot {
    async fn deploy(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        let (token, body) = http01_of(task)?;
        let file = self.file(token)?;
        let dir = file.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| SolverError(format!("cannot create {}: {e} — is --webroot the web server's document root, and writable?", dir.display())))?;
        tokio::fs::write(&file, body)
            .await
            .map_err(|e| SolverError(format!("cannot write {}: {e}", file.display())))
    }

    async fn cleanup(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        let (token, _) = http01_of(task)?;
        let file = self.file(token)?;
        match tokio::fs::remove_file(&file).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SolverError(format!(
                "cannot remove {}: {e}",
                file.display()
            ))),
            _ => Ok(()),
        }
    }
}
