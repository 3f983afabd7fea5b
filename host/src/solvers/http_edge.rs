//! HTTP-01 through the edge plugin's admin API, for hosts that cannot reach its store:
//! Deploy is `PUT <edge>/.well-known/certsmith/http01/<token>` with the key authorization,
//! Cleanup is `DELETE` of the same URL, both with `Authorization: Bearer <secret>`.

use certsmith_core::ChallengeTask;
use zeroize::Zeroizing;

use super::{Solver, SolverError, checked_token, http01_of};

/// How long one admin call may take.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The admin-API solver.
pub struct HttpEdge {
    base: String,
    secret: Zeroizing<String>,
    client: reqwest::Client,
}

impl HttpEdge {
    /// A solver for the plugin at `base` (e.g. `https://edge.example.com`), authenticating
    /// with `secret`; `roots` are the TLS roots to trust.
    pub fn new(
        base: &str,
        secret: Zeroizing<String>,
        roots: rustls::RootCertStore,
    ) -> Result<Self, SolverError> {
        let url = reqwest::Url::parse(base)
            .map_err(|e| SolverError(format!("--http-edge {base:?} is not a URL: {e}")))?;
        let loopback = url
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(SolverError(format!(
                "--http-edge {base:?}: the admin secret travels with every call, so use https:// (plain http:// only to loopback)"
            )));
        }
        if secret.is_empty() {
            return Err(SolverError(
                "--edge-secret is empty: give the plugin's admin_secret".into(),
            ));
        }
        let client = crate::transport::https_client(roots, TIMEOUT)
            .map_err(|e| SolverError(format!("cannot set up the edge client: {e}")))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            secret,
            client,
        })
    }

    /// Sends one admin call for `token`.
    async fn call(
        &self,
        method: reqwest::Method,
        token: &str,
        body: &str,
    ) -> Result<(), SolverError> {
        let url = format!(
            "{}/.well-known/certsmith/http01/{}",
            self.base,
            checked_token(token)?
        );
        let response = self
            .client
            .request(method.clone(), &url)
            .bearer_auth(self.secret.as_str())
            .header("content-type", "text/plain")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| SolverError(format!("{method} {url}: cannot reach the edge: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let reason = response.text().await.unwrap_or_default();
        let hint = match status.as_u16() {
            401 | 403 => " — check --edge-secret against the plugin's admin_secret",
            404 => {
                " — is the plugin's admin API on (admin_secret set) and --http-edge its base URL?"
            }
            _ => "",
        };
        Err(SolverError(format!(
            "{method} {url}: the edge answered {status}: {}{hint}",
            reason.trim()
        )))
    }
}

impl Solver for HttpEdge {
    async fn deploy(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        let (token, body) = http01_of(task)?;
        self.call(reqwest::Method::PUT, token, body).await
    }

    async fn cleanup(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        let (token, _) = http01_of(task)?;
        self.call(reqwest::Method::DELETE, token, "").await
    }
}
