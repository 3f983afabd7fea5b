//! On-demand TLS: a handshake for a name without a certificate obtains one while the client
//! waits, if the name is allowed (a pattern list, and/or an `ask` URL that must answer 200:
//! Caddy's contract). Concurrent handshakes for one name share one order; a name that failed
//! is not tried again for a while; global budgets (new names per minute, orders pending)
//! keep the CA's rate limits; a disallowed name is refused before the CA hears of it.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{mpsc, oneshot};

use super::config::OnDemand;
use super::manager::Tasks;
use crate::clock::now;
use crate::layout;
use certsmith_core::Timestamp;

/// A handshake's request for a certificate: the name, and where to say whether it is served.
pub struct Wanted {
    /// The SNI name, lowercase.
    pub name: String,
    /// `true` once a certificate for it is served.
    pub reply: oneshot::Sender<bool>,
}

/// The listeners' side: asks the manager and waits at most the configured time.
#[derive(Clone)]
pub struct Asker {
    requests: mpsc::UnboundedSender<Wanted>,
    timeout: Duration,
}

impl Asker {
    /// A handle sending to `requests`, waiting at most `timeout`.
    pub fn new(requests: mpsc::UnboundedSender<Wanted>, timeout: Duration) -> Self {
        Self { requests, timeout }
    }

    /// Whether a certificate for `name` is served now (obtained within the timeout).
    pub async fn obtain(&self, name: &str) -> bool {
        let Some(name) = normalized(name) else {
            return false;
        };
        let (reply, answer) = oneshot::channel();
        if self.requests.send(Wanted { name, reply }).is_err() {
            return false;
        }
        matches!(
            tokio::time::timeout(self.timeout, answer).await,
            Ok(Ok(true))
        )
    }
}

/// `name` as the engine normalises it, if it is a DNS name an order can carry, with at least
/// two labels and no wildcard (IP addresses and wildcards are never obtained on demand).
fn normalized(name: &str) -> Option<String> {
    let checked = certsmith_core::normalize_identifiers(&[certsmith_core::Identifier::dns(name)])
        .ok()?
        .pop()?;
    (checked.value.contains('.') && !checked.value.starts_with("*.")).then_some(checked.value)
}

/// Whether `name` matches `pattern`: the name itself, or `*.parent` for one label more.
fn matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(parent) => name
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => pattern == name,
    }
}

/// Why a name is refused, or that it may be ordered.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Order it.
    Order,
    /// Refused, and why (for the log).
    Refused(String),
}

/// The manager's side: the policy, the budgets and the names that failed.
pub struct Policy {
    config: OnDemand,
    /// When each recent new name was let through (the last minute's).
    recent: VecDeque<Timestamp>,
    /// Names that failed, and until when they are not tried again.
    failed: HashMap<String, Timestamp>,
    /// The `ask` client.
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Policy {
    /// The policy of `[on_demand]`.
    pub fn new(config: OnDemand) -> Self {
        Self {
            config,
            recent: VecDeque::new(),
            failed: HashMap::new(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Whether `name` is allowed by the pattern list and the budgets, before `ask` (no I/O:
    /// a disallowed name is refused at once). `pending` is the number of on-demand orders
    /// running.
    pub fn check(&mut self, name: &str, pending: usize) -> Verdict {
        let now = now();
        if let Some(until) = self.failed.get(name) {
            if now < *until {
                return Verdict::Refused(format!(
                    "it failed recently; not tried again before {}",
                    until.to_rfc3339()
                ));
            }
            self.failed.remove(name);
        }
        let allowed = self.config.allow.iter().any(|p| matches(p, name));
        if !allowed && self.config.ask.is_none() {
            return Verdict::Refused("no pattern in [on_demand] allow matches it".into());
        }
        if !self.config.allow.is_empty() && !allowed {
            return Verdict::Refused("no pattern in [on_demand] allow matches it".into());
        }
        if pending >= self.config.max_pending {
            return Verdict::Refused(format!(
                "{pending} on-demand orders are already running (max_pending)"
            ));
        }
        while self
            .recent
            .front()
            .is_some_and(|at| now.millis_since(*at) >= 60_000)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.config.orders_per_minute {
            return Verdict::Refused(format!(
                "{} new names were let through in the last minute (orders_per_minute)",
                self.recent.len()
            ));
        }
        self.recent.push_back(now);
        Verdict::Order
    }

    /// Asks the `ask` URL (if set) whether `name` may have a certificate: only a 200 allows.
    pub fn ask(&self, name: &str) -> Option<impl Future<Output = Verdict> + use<>> {
        let ask = self.config.ask.clone()?;
        let client = self.client.clone();
        let name = name.to_owned();
        Some(async move {
            let separator = if ask.contains('?') { '&' } else { '?' };
            let url = format!("{ask}{separator}domain={name}");
            let Ok(uri) = url.parse::<hyper::Uri>() else {
                return Verdict::Refused(format!("the ask URL {url} is not a URL"));
            };
            let asked = tokio::time::timeout(Duration::from_secs(10), client.get(uri)).await;
            match asked {
                Ok(Ok(response)) if response.status() == hyper::StatusCode::OK => Verdict::Order,
                Ok(Ok(response)) => {
                    Verdict::Refused(format!("{ask} answered {}", response.status()))
                }
                Ok(Err(e)) => Verdict::Refused(format!("{ask} could not be asked: {e}")),
                Err(_) => Verdict::Refused(format!("{ask} did not answer within 10 s")),
            }
        })
    }

    /// Records that `name` failed: not tried again for the backoff period.
    pub fn failed(&mut self, name: &str) {
        let until = now().plus_millis(self.config.failure_backoff_secs.saturating_mul(1000));
        self.failed.insert(name.to_owned(), until);
    }
}

/// What the manager learns about an on-demand name after the fact.
pub enum Settled {
    /// The `ask` URL answered.
    Asked(String, Verdict),
    /// The name's task has a certificate served (`true`) or failed to get one.
    Ready(String, bool),
}

/// The manager's on-demand side: the policy, and the handshakes waiting per name.
pub struct OnDemandManager {
    config: OnDemand,
    policy: Policy,
    /// Name → the handshakes waiting for it (one order per name).
    waiting: HashMap<String, Vec<oneshot::Sender<bool>>>,
}

impl OnDemandManager {
    /// On-demand TLS as `[on_demand]` says.
    pub fn new(config: OnDemand) -> Self {
        Self {
            policy: Policy::new(config.clone()),
            config,
            waiting: HashMap::new(),
        }
    }

    /// A handshake wants `wanted.name`: answered at once when it is served or refused,
    /// else when its certificate is obtained (one order for every handshake waiting).
    pub fn wanted(
        &mut self,
        wanted: Wanted,
        tasks: &mut Tasks,
        settled: &mpsc::UnboundedSender<Settled>,
    ) {
        let Wanted { name, reply } = wanted;
        if tasks.serves(&name) {
            let _ = reply.send(true);
            return;
        }
        if let Some(waiters) = self.waiting.get_mut(&name) {
            waiters.push(reply);
            return;
        }
        if tasks.manages(&layout::cert_name(&name)) {
            // A configured certificate still on its first order: not an on-demand name.
            let _ = reply.send(false);
            return;
        }
        match self.policy.check(&name, self.waiting.len()) {
            Verdict::Refused(why) => {
                tracing::info!("on-demand TLS refused {name}: {why}");
                tasks.count_on_demand("refused");
                let _ = reply.send(false);
            }
            Verdict::Order => {
                self.waiting.insert(name.clone(), vec![reply]);
                match self.policy.ask(&name) {
                    Some(asking) => {
                        let settled = settled.clone();
                        tokio::task::spawn_local(async move {
                            let verdict = asking.await;
                            let _ = settled.send(Settled::Asked(name, verdict));
                        });
                    }
                    None => self.start(name, tasks, settled),
                }
            }
        }
    }

    /// Starts the task of `name`, and reports when it is ready.
    fn start(&mut self, name: String, tasks: &mut Tasks, settled: &mpsc::UnboundedSender<Settled>) {
        tracing::info!("on-demand TLS: obtaining a certificate for {name}");
        let (ready, is_ready) = oneshot::channel();
        tasks.spawn(self.config.certificate(name.clone()), true, Some(ready));
        let settled = settled.clone();
        tokio::task::spawn_local(async move {
            let ok = is_ready.await.unwrap_or(false);
            let _ = settled.send(Settled::Ready(name, ok));
        });
    }

    /// Takes what was learnt about a name: its order starts, or its handshakes are answered.
    pub fn settled(
        &mut self,
        step: Settled,
        tasks: &mut Tasks,
        settled: &mpsc::UnboundedSender<Settled>,
    ) {
        let (name, served) = match step {
            Settled::Asked(name, Verdict::Order) => return self.start(name, tasks, settled),
            Settled::Asked(name, Verdict::Refused(why)) => {
                tracing::info!("on-demand TLS refused {name}: {why}");
                tasks.count_on_demand("refused");
                (name, false)
            }
            Settled::Ready(name, true) => {
                tasks.count_on_demand("obtained");
                (name, true)
            }
            Settled::Ready(name, false) => {
                tasks.count_on_demand("failed");
                self.policy.failed(&name);
                tasks.stop(&layout::cert_name(&name));
                (name, false)
            }
        };
        for waiter in self.waiting.remove(&name).unwrap_or_default() {
            let _ = waiter.send(served);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], per_minute: usize) -> Policy {
        Policy::new(OnDemand {
            allow: allow.iter().map(|s| (*s).to_owned()).collect(),
            ask: None,
            challenge: "http-01".into(),
            timeout_secs: 30,
            orders_per_minute: per_minute,
            max_pending: 2,
            failure_backoff_secs: 300,
        })
    }

    #[test]
    fn patterns_match_one_label_or_the_name_itself() {
        assert!(matches("*.dyn.example.test", "a.dyn.example.test"));
        assert!(!matches("*.dyn.example.test", "a.b.dyn.example.test"));
        assert!(!matches("*.dyn.example.test", "dyn.example.test"));
        assert!(matches("Exact.Example.test.", "exact.example.test"));
        assert_eq!(normalized("A.Example.TEST."), Some("a.example.test".into()));
        for bad in [
            "127.0.0.1",
            "localhost",
            "-a.example.test",
            "a..b",
            "a_b.example.test",
        ] {
            assert_eq!(normalized(bad), None, "{bad}");
        }
    }

    #[test]
    fn budgets_and_failures_refuse_names() {
        let mut p = policy(&["*.dyn.example.test"], 2);
        assert!(matches!(p.check("x.other.test", 0), Verdict::Refused(_)));
        assert_eq!(p.check("a.dyn.example.test", 0), Verdict::Order);
        assert_eq!(p.check("b.dyn.example.test", 0), Verdict::Order);
        let Verdict::Refused(why) = p.check("c.dyn.example.test", 0) else {
            panic!("the third name in a minute must be refused");
        };
        assert!(why.contains("orders_per_minute"), "{why}");
        let mut p = policy(&["*.dyn.example.test"], 10);
        assert!(
            matches!(p.check("a.dyn.example.test", 2), Verdict::Refused(why) if why.contains("max_pending"))
        );
        p.failed("a.dyn.example.test");
        assert!(
            matches!(p.check("a.dyn.example.test", 0), Verdict::Refused(why) if why.contains("failed recently"))
        );
    }
}
