//! DNS-01 through a hook command (lego's exec-provider convention): `CMD present <fqdn>
//! <value>` publishes the TXT record, `CMD cleanup <fqdn> <value>` removes it. After
//! `present`, the solver waits until the record is visible at the chosen resolver before the
//! engine answers the CA, so a slow DNS provider does not burn a failed authorization.

use std::net::SocketAddr;
use std::time::Duration;

use certsmith_core::{ChallengeTask, Solution};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use tokio::time::Instant;

use super::{Solver, SolverError};
use crate::hook::Hook;

/// How often visibility is checked while waiting.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The DNS-01 hook solver.
pub struct DnsHook {
    hook: Hook,
    resolver: TokioResolver,
    /// Where the record is looked up, for messages.
    resolver_name: String,
    /// How long to wait for the record to become visible; zero skips the check.
    propagation_timeout: Duration,
}

impl DnsHook {
    /// A solver running `hook`, checking visibility at `resolver` (the system's resolvers
    /// when `None`) for at most `propagation_timeout`.
    pub fn new(
        hook: Hook,
        resolver: Option<SocketAddr>,
        propagation_timeout: Duration,
    ) -> Result<Self, SolverError> {
        let mut options = ResolverOpts::default();
        options.timeout = Duration::from_secs(2);
        options.attempts = 1;
        let provider = TokioRuntimeProvider::default();
        let (builder, resolver_name) = match resolver {
            Some(addr) => {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                let config = ResolverConfig::from_name_servers(vec![server]);
                (
                    TokioResolver::builder_with_config(config, provider),
                    addr.to_string(),
                )
            }
            None => (
                TokioResolver::builder(provider).map_err(|e| {
                    SolverError(format!(
                        "cannot read the system's DNS configuration ({e}): pass --dns-resolver ADDR:PORT"
                    ))
                })?,
                "the system resolver".to_owned(),
            ),
        };
        let resolver = builder
            .with_options(options)
            .build()
            .map_err(|e| SolverError(format!("cannot set up DNS lookups: {e}")))?;
        Ok(Self {
            hook,
            resolver,
            resolver_name,
            propagation_timeout,
        })
    }

    /// What a TXT lookup of `fqdn` returns now, or the resolver's error as text.
    async fn txt_values(&self, fqdn: &str) -> Result<Vec<String>, String> {
        self.resolver.clear_cache();
        let lookup = self
            .resolver
            .txt_lookup(fqdn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part))
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }

    /// Waits until `fqdn` has a TXT record `value`, or fails saying what was seen last.
    async fn wait_visible(&self, fqdn: &str, value: &str) -> Result<(), SolverError> {
        if self.propagation_timeout.is_zero() {
            return Ok(());
        }
        let deadline = Instant::now() + self.propagation_timeout;
        loop {
            let seen = self.txt_values(fqdn).await;
            if seen.as_ref().is_ok_and(|v| v.iter().any(|v| v == value)) {
                return Ok(());
            }
            if Instant::now() + CHECK_EVERY > deadline {
                let seen = match seen {
                    Ok(values) if values.is_empty() => "no TXT record".to_owned(),
                    Ok(values) => format!("only {values:?}"),
                    Err(e) => e,
                };
                return Err(SolverError(format!(
                    "the TXT record {fqdn} = {value:?} is not visible at {} after {} s (it answered: {seen}); check the hook, or the resolver with --dns-resolver, or wait longer with --dns-timeout",
                    self.resolver_name,
                    self.propagation_timeout.as_secs()
                )));
            }
            tokio::time::sleep(CHECK_EVERY).await;
        }
    }
}

/// The record's FQDN (with the trailing dot) and value of a DNS-01 task.
fn record_of(task: &ChallengeTask) -> Result<(String, &str), SolverError> {
    match &task.solution {
        Solution::Dns01 { record_name, value } => Ok((format!("{record_name}."), value.as_str())),
        _ => Err(SolverError(format!(
            "this solver answers dns-01 only, not {} for {}",
            task.challenge_type().as_str(),
            task.identifier
        ))),
    }
}

impl DnsHook {
    /// Runs the hook for `action` (`present` or `cleanup`) on a task's record.
    async fn run_hook(&self, action: &str, task: &ChallengeTask) -> Result<(), SolverError> {
        let (fqdn, value) = record_of(task)?;
        self.hook
            .run(
                &[action, &fqdn, value],
                &[
                    ("CERTSMITH_DNS_FQDN", &fqdn),
                    ("CERTSMITH_DNS_VALUE", value),
                    ("CERTSMITH_DOMAIN", &task.identifier.value),
                ],
            )
            .await
            .map_err(SolverError)
    }
}

impl Solver for DnsHook {
    async fn deploy(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        self.run_hook("present", task).await?;
        let (fqdn, value) = record_of(task)?;
        self.wait_visible(&fqdn, value).await
    }

    async fn cleanup(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        self.run_hook("cleanup", task).await
    }
}
