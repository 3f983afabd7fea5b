//! When a stored certificate is due for renewal: at the random time the CA's ACME Renewal
//! Information (ARI, RFC 9773) suggests when the CA offers it, else when 1/3 of its
//! lifetime is left (1/2 for certificates of 10 days or less). The CA's answer is kept in the
//! store until it says to ask again (its `Retry-After`, at most a day), so a renew run from
//! cron asks at most that often and keeps the same random time between runs.

use certsmith_core::CertificateInfo;
use certsmith_core::{Command, Error, Outcome, RenewalAdvice, Timestamp};
use serde::{Deserialize, Serialize};

use super::Failure;
use super::session::Session;
use crate::clock::now;
use crate::layout;
use crate::progress::Progress;
use crate::storage::Secrecy;

/// The longest a kept ARI answer is trusted: ARI is asked at least daily.
const MAX_RECHECK_MS: u64 = 24 * 60 * 60 * 1000;

/// The shortest wait before asking again, whatever `Retry-After` says.
const MIN_RECHECK_MS: u64 = 60 * 1000;

/// When a certificate is due, and whether its CA offers ARI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewalTime {
    /// When to renew.
    pub at: Timestamp,
    /// Whether the time came from the CA's ARI (then the renewal order names the
    /// certificate it replaces).
    pub from_ari: bool,
    /// When to ask the CA again (its `Retry-After`, kept between a minute and a day), when
    /// the time came from ARI.
    pub ask_again_at: Option<Timestamp>,
}

/// The CA's advice for one certificate, as kept in the store.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeptAdvice {
    /// The certificate it is about.
    serial: String,
    /// The random time in the suggested window picked for it.
    renew_at_ms: u64,
    /// When to ask again.
    check_again_at_ms: u64,
}

/// When the certificate `info` (DER `der`) of lineage `name` is due: by ARI if the CA
/// offers it (a failed ARI request is reported and the default time used), else the
/// default share of its lifetime.
pub async fn renewal_time(
    session: &mut Session,
    name: &str,
    (info, der): (&CertificateInfo, &[u8]),
    progress: &mut Progress,
) -> Result<RenewalTime, Failure> {
    let by_lifetime = RenewalTime {
        at: info.default_renewal_time(),
        from_ari: false,
        ask_again_at: None,
    };
    if info.ari_id.is_none() {
        return Ok(by_lifetime);
    }
    let key = layout::renewal_advice(&session.ca, name);
    let kept = session
        .store
        .get(&key)
        .await?
        .and_then(|bytes| serde_json::from_slice::<KeptAdvice>(&bytes).ok())
        .filter(|kept| {
            kept.serial == info.serial_hex && now().unix_millis() < kept.check_again_at_ms
        });
    if let Some(kept) = kept {
        return Ok(RenewalTime {
            at: Timestamp::from_unix_millis(kept.renew_at_ms),
            from_ari: true,
            ask_again_at: Some(Timestamp::from_unix_millis(kept.check_again_at_ms)),
        });
    }
    let Some(advice) = ask(session, name, der, progress).await? else {
        return Ok(by_lifetime);
    };
    if let Some(url) = &advice.explanation_url {
        progress.notice(format!(
            "the CA suggests renewing {name} between {} and {}: {url}",
            advice.window_start.to_rfc3339(),
            advice.window_end.to_rfc3339()
        ));
    }
    let kept = KeptAdvice {
        serial: info.serial_hex.clone(),
        renew_at_ms: advice.renew_at.unix_millis(),
        check_again_at_ms: recheck_at(now(), advice.check_again_at).unix_millis(),
    };
    let bytes = serde_json::to_vec(&kept).unwrap_or_default();
    session.store.put(&key, &bytes, Secrecy::Public).await?;
    Ok(RenewalTime {
        at: advice.renew_at,
        from_ari: true,
        ask_again_at: Some(Timestamp::from_unix_millis(kept.check_again_at_ms)),
    })
}

/// The CA's advice, or `None` when it offers no ARI or the request failed (reported).
async fn ask(
    session: &mut Session,
    name: &str,
    der: &[u8],
    progress: &mut Progress,
) -> Result<Option<RenewalAdvice>, Failure> {
    let op = session
        .start(Command::RenewalInfo {
            certificate_der: der.to_vec(),
        })
        .await?;
    let mut results = session.run(&[op], progress).await?;
    match results.remove(&op) {
        Some(Ok(Outcome::RenewalInfo(advice))) => Ok(Some(advice)),
        // The CA's directory names no renewalInfo: it offers no ARI.
        Some(Err(Error::InvalidInput { .. })) => Ok(None),
        Some(Err(failure)) => {
            progress.notice(format!(
                "the CA's renewal information for {name} is unavailable ({failure}); using 1/3 of the lifetime left"
            ));
            Ok(None)
        }
        other => {
            progress.notice(format!(
                "the CA's renewal information for {name} is unavailable ({other:?})"
            ));
            Ok(None)
        }
    }
}

/// When to ask again: what the CA said, kept between one minute and one day from `now`.
fn recheck_at(now: Timestamp, said: Timestamp) -> Timestamp {
    let wait = said.millis_since(now).clamp(MIN_RECHECK_MS, MAX_RECHECK_MS);
    now.plus_millis(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_to_ask_again_is_kept_between_a_minute_and_a_day() {
        let now = Timestamp::from_unix_secs(1_000_000);
        let at = |secs: u64| Timestamp::from_unix_secs(1_000_000 + secs);
        assert_eq!(recheck_at(now, at(0)), at(60));
        assert_eq!(recheck_at(now, at(6 * 3600)), at(6 * 3600));
        assert_eq!(recheck_at(now, at(30 * 86_400)), at(86_400));
        assert_eq!(recheck_at(now, Timestamp::from_unix_secs(5)), at(60));
    }
}
