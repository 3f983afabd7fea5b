//! Telling people when renewal fails: a webhook (POST of a JSON object) for each failed
//! attempt, beside the log line. It never holds up the renewal it reports on.

use std::rc::Rc;
use std::time::Duration;

use certsmith_core::{HttpRequest, Method};
use serde::Serialize;

use crate::transport::Transport;

/// How long a webhook may take to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed renewal, as the webhook receives it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failed<'a> {
    /// The lineage name.
    pub name: &'a str,
    /// The certificate's names.
    pub names: &'a [String],
    /// What went wrong (the CA's problem when it has one).
    pub error: &'a str,
    /// Failed attempts in a row, this one included.
    pub attempt: u32,
    /// When the next attempt is (RFC 3339).
    pub next_try: String,
    /// When the served certificate expires (RFC 3339), if one is served.
    pub not_after: Option<String>,
}

/// Where failures are posted.
pub struct Webhook {
    url: String,
    transport: Rc<Transport>,
}

impl Webhook {
    /// Posts to `url` (https://, or http:// on loopback), trusting the system's roots.
    pub fn new(url: &str) -> Result<Self, String> {
        let transport = Transport::new(&[], WEBHOOK_TIMEOUT)
            .map_err(|e| format!("cannot set up the webhook client: {e}"))?;
        Ok(Self {
            url: url.to_owned(),
            transport: Rc::new(transport),
        })
    }

    /// Posts `failed` in the background; a webhook that fails is logged.
    pub fn post(&self, failed: &Failed<'_>) {
        let request = HttpRequest {
            method: Method::Post,
            url: self.url.clone(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(failed).unwrap_or_default(),
        };
        let transport = Rc::clone(&self.transport);
        tokio::task::spawn_local(async move {
            match transport.send(&request).await {
                Ok(response) if (200..300).contains(&response.status) => {}
                Ok(response) => tracing::warn!(
                    "the failure webhook {} answered {}",
                    request.url,
                    response.status
                ),
                Err(e) => tracing::warn!("the failure webhook {} failed: {e}", request.url),
            }
        });
    }
}
