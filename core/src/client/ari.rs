//! ACME Renewal Information (RFC 9773): when the CA wants a certificate renewed.

use crate::cert;
use crate::client::api::{Outcome, RenewalAdvice};
use crate::client::flow::{Ctx, Flow, Step};
use crate::client::request::{Reply, RequestSpec};
use crate::error::Error;
use crate::timestamp::Timestamp;
use crate::wire::RenewalInfo;

/// How long to wait before asking again when the CA does not say: six hours.
const DEFAULT_RECHECK_MS: u64 = 6 * 60 * 60 * 1000;

/// Fetches the renewal information of one certificate.
#[derive(Debug)]
pub(crate) struct RenewalInfoFlow {
    /// The certificate's ARI ID.
    pub cert_id: String,
    /// Entropy for choosing a time in the window.
    pub random: u64,
}

impl RenewalInfoFlow {
    /// A flow for the certificate with ARI ID `cert_id`.
    pub(super) fn new(cert_id: String, random: u64) -> Self {
        Self { cert_id, random }
    }
}

impl Flow for RenewalInfoFlow {
    fn needs_account(&self) -> bool {
        false
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) -> Result<Step, Error> {
        let base = ctx.directory.renewal_info.as_deref().ok_or_else(|| {
            Error::invalid_input(
                "renewal information request",
                "a CA that offers ARI (its directory has no renewalInfo)",
            )
        })?;
        let url = format!("{}/{}", base.trim_end_matches('/'), self.cert_id);
        Ok(Step::Send(RequestSpec::get(&url)))
    }

    fn on_response(&mut self, ctx: &mut Ctx<'_>, reply: Reply) -> Result<Step, Error> {
        let info: RenewalInfo = reply.json("a renewalInfo object")?;
        let parse = |text: &str, field: &str| {
            Timestamp::parse_rfc3339(text).ok_or_else(|| {
                Error::invalid_response(
                    &reply.url,
                    format!("suggestedWindow.{field} as an RFC 3339 time"),
                )
            })
        };
        let start = parse(&info.suggested_window.start, "start")?;
        let end = parse(&info.suggested_window.end, "end")?;
        if end <= start {
            return Err(Error::invalid_response(
                &reply.url,
                "a suggestedWindow whose end is after its start",
            ));
        }
        let check_again_at = reply
            .response
            .retry_after(ctx.now)
            .unwrap_or_else(|| ctx.now.plus_millis(DEFAULT_RECHECK_MS));
        Ok(Step::Finish(Outcome::RenewalInfo(RenewalAdvice {
            window_start: start,
            window_end: end,
            renew_at: cert::time_in_window(start, end, self.random),
            explanation_url: info.explanation_url,
            check_again_at,
        })))
    }
}
