//! Test harness: a client, the fake CA, a virtual clock and the challenges "published", run
//! in one loop until every operation ends.

// Shared by several test binaries and the benchmark; each uses a different subset.
#![allow(dead_code)]
// Test support: a panic with a message is how it reports a broken expectation.
#![allow(clippy::expect_used)]

pub mod fake_ca;

use std::cell::RefCell;
use std::rc::Rc;

use certsmith_core::{
    Action, ChallengeTask, Client, ClientConfig, Command, Error, Identifier, Input, KeyType,
    NewAccountRequest, OpId, OrderRequest, Outcome, PrivateKey, Snapshot, Solution, Timestamp,
};
pub use fake_ca::{DIRECTORY, FakeCa, Knobs, Published};

/// The start of virtual time.
pub const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);
/// Bound on loop iterations: a run that needs more is stuck.
const MAX_STEPS: usize = 20_000;

/// How the harness answers a Deploy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeployMode {
    /// Publish what the engine asked for.
    Correct,
    /// Publish a wrong value.
    Wrong,
    /// Report the deployment as failed.
    Fail,
    /// Publish, but never say it is ready (simulates a crash before).
    Silent,
    /// Report the first deployment as failed at once; publish the others but hold their
    /// reports (in `held`) for the test to give later (a slow DNS zone beside a broken one).
    FailFirstHoldRest,
}

/// Something the engine asked the host to do, with its operation.
#[derive(Debug)]
pub enum Event {
    /// A challenge to publish.
    Deploy(OpId, ChallengeTask),
    /// A challenge to remove.
    Cleanup(OpId, ChallengeTask),
    /// A checkpoint.
    Save(OpId, Snapshot),
    /// Success.
    Done(OpId, Outcome),
    /// Failure.
    Failed(OpId, Error),
}

/// A client against the fake CA.
pub struct Harness {
    /// The engine.
    pub client: Client,
    /// The CA.
    pub ca: FakeCa,
    /// Virtual time.
    pub now: Timestamp,
    /// Everything the engine asked for, in order.
    pub events: Vec<Event>,
    /// How Deploys are answered.
    pub deploy: DeployMode,
    /// Stop the run at the first Save (a crash right after the order was created).
    pub crash_after_save: bool,
    /// Replace the CA's answer to the n-th request (0-based) with this one.
    pub tamper: Option<(usize, certsmith_core::HttpResponse)>,
    /// Cut the body of the CA's answer to the n-th request (0-based) short, its status and
    /// headers kept: an answer lost on the way after the CA acted on the request.
    pub cut_body_of: Option<usize>,
    /// Requests sent so far.
    pub sent: usize,
    /// Every answer the engine was given, in order (the fuzz seeds are written from them).
    pub answers: Vec<certsmith_core::HttpResponse>,
    /// Every request the engine described, in order.
    pub requests: Vec<certsmith_core::HttpRequest>,
    /// Deployments whose report is held (`DeployMode::FailFirstHoldRest`).
    pub held: Vec<(OpId, String)>,
    published: Rc<RefCell<Published>>,
    /// The first deployment was failed (`DeployMode::FailFirstHoldRest`).
    failed_once: bool,
}

impl Harness {
    /// A fresh client (P-256 account key) against a CA with `knobs`.
    pub fn new(knobs: Knobs) -> Self {
        let published = Rc::new(RefCell::new(Published::default()));
        let key = PrivateKey::generate(KeyType::P256).expect("account key");
        Self {
            client: Client::new(ClientConfig::new(DIRECTORY), key),
            ca: FakeCa::new(knobs, Rc::clone(&published)),
            now: T0,
            events: Vec::new(),
            deploy: DeployMode::Correct,
            crash_after_save: false,
            tamper: None,
            cut_body_of: None,
            sent: 0,
            answers: Vec::new(),
            requests: Vec::new(),
            held: Vec::new(),
            failed_once: false,
            published,
        }
    }

    /// Replaces the client (same CA), as after a restart.
    pub fn restart(&mut self, config: ClientConfig, key: PrivateKey) {
        self.client = Client::new(config, key);
    }

    /// Runs until no operation has work left (or the crash point).
    pub fn run(&mut self) {
        for _ in 0..MAX_STEPS {
            match self.client.poll(self.now) {
                Some(output) => {
                    let op = output.op;
                    match output.action {
                        Action::Send(request) => {
                            let user_agent = request
                                .headers
                                .iter()
                                .find(|(name, _)| name.eq_ignore_ascii_case("user-agent"));
                            assert!(
                                user_agent.is_some_and(|(_, v)| v.contains("certsmith-core/")),
                                "every request names the engine (RFC 8555 6.1): {:?}",
                                request.headers
                            );
                            let mut response = self.ca.handle(&request, self.now);
                            self.requests.push(request);
                            if let Some((n, replacement)) = &self.tamper
                                && *n == self.sent
                            {
                                response = replacement.clone();
                            }
                            if self.cut_body_of == Some(self.sent) {
                                let keep = response.body.len().min(11);
                                response.body.truncate(keep);
                                response.body.extend_from_slice(b"{\"status\": ");
                            }
                            self.sent += 1;
                            self.answers.push(response.clone());
                            self.client
                                .handle(self.now, op, Input::Response(response))
                                .expect("a response to a sent request is accepted");
                        }
                        Action::Deploy(task) => {
                            self.publish(op, &task);
                            self.events.push(Event::Deploy(op, task));
                        }
                        Action::Cleanup(task) => {
                            self.unpublish(&task);
                            self.events.push(Event::Cleanup(op, task));
                        }
                        Action::Save(snapshot) => {
                            self.events.push(Event::Save(op, snapshot));
                            if self.crash_after_save {
                                return;
                            }
                        }
                        Action::Done(outcome) => self.events.push(Event::Done(op, outcome)),
                        Action::Failed(error) => self.events.push(Event::Failed(op, error)),
                    }
                }
                None => match self.client.next_wakeup() {
                    // One readiness rule: when poll has nothing now, the next wake-up is
                    // later (a host sleeping until it never spins).
                    Some(at) => {
                        assert!(
                            at > self.now,
                            "poll had nothing at {} but next_wakeup said {at}",
                            self.now
                        );
                        self.now = at;
                    }
                    None => return,
                },
            }
        }
        panic!("the engine did not settle within {MAX_STEPS} steps");
    }

    /// Publishes a challenge as `self.deploy` says, then reports to the engine.
    fn publish(&mut self, op: OpId, task: &ChallengeTask) {
        let wrong = self.deploy == DeployMode::Wrong;
        let mut published = self.published.borrow_mut();
        let value = |v: &str| {
            if wrong {
                format!("{v}-wrong")
            } else {
                v.to_owned()
            }
        };
        match &task.solution {
            Solution::Http01 { path } => {
                assert_eq!(*path, format!("/.well-known/acme-challenge/{}", task.token));
                published
                    .http
                    .insert(task.token.clone(), value(&task.key_authorization));
            }
            Solution::Dns01 {
                record_name,
                value: txt,
            } => {
                published
                    .dns
                    .entry(record_name.clone())
                    .or_default()
                    .push(value(txt));
            }
            Solution::TlsAlpn01 {
                certificate_pem, ..
            } => {
                let name = task.identifier.value.clone();
                let pem = if wrong {
                    String::new()
                } else {
                    certificate_pem.clone()
                };
                published.alpn.insert(name, pem);
            }
        }
        drop(published);
        let fail_now = match self.deploy {
            DeployMode::Fail => true,
            DeployMode::FailFirstHoldRest if self.held.is_empty() && !self.failed_once => {
                self.failed_once = true;
                true
            }
            DeployMode::FailFirstHoldRest => {
                self.held.push((op, task.token.clone()));
                return;
            }
            _ => false,
        };
        match self.deploy {
            _ if fail_now => self
                .client
                .handle(
                    self.now,
                    op,
                    Input::ChallengeFailed {
                        token: task.token.clone(),
                        reason: "the hook exited with status 3".into(),
                    },
                )
                .expect("known challenge"),
            DeployMode::Silent | DeployMode::FailFirstHoldRest => {}
            _ => self
                .client
                .handle(
                    self.now,
                    op,
                    Input::ChallengeReady {
                        token: task.token.clone(),
                    },
                )
                .expect("known challenge"),
        }
    }

    /// Removes a published challenge.
    fn unpublish(&mut self, task: &ChallengeTask) {
        let mut published = self.published.borrow_mut();
        match &task.solution {
            Solution::Http01 { .. } => {
                published.http.remove(&task.token);
            }
            Solution::Dns01 { record_name, .. } => {
                published.dns.remove(record_name);
            }
            Solution::TlsAlpn01 { .. } => {
                published.alpn.remove(&task.identifier.value);
            }
        }
    }

    /// What is published now (to check cleanup).
    pub fn published_count(&self) -> usize {
        let p = self.published.borrow();
        p.http.len() + p.dns.len() + p.alpn.len()
    }

    /// How operation `op` ended.
    pub fn result(&mut self, op: OpId) -> Result<Outcome, Error> {
        let i = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Done(o, _) | Event::Failed(o, _) if *o == op))
            .unwrap_or_else(|| panic!("{op} did not end"));
        match self.events.remove(i) {
            Event::Done(_, outcome) => Ok(outcome),
            Event::Failed(_, error) => Err(error),
            _ => unreachable!("matched above"),
        }
    }

    /// Runs `op` to its end.
    pub fn finish(&mut self, op: OpId) -> Result<Outcome, Error> {
        self.run();
        self.result(op)
    }

    /// Creates the account (agreeing to the terms).
    pub fn register(&mut self) -> certsmith_core::AccountInfo {
        let op = self
            .client
            .start(Command::NewAccount(NewAccountRequest {
                contact: vec!["mailto:admin@example.com".into()],
                terms_of_service_agreed: true,
                ..Default::default()
            }))
            .expect("starts");
        match self.finish(op) {
            Ok(Outcome::Account(info)) => info,
            other => panic!("account creation: {other:?}"),
        }
    }

    /// Orders `names` (DNS) with the given challenge preference and runs it to its end.
    pub fn order(&mut self, request: OrderRequest) -> Result<Outcome, Error> {
        let op = self
            .client
            .start(Command::Order(request))
            .expect("valid order request");
        self.finish(op)
    }

    /// Deploys recorded for any operation.
    pub fn deploys(&self) -> Vec<&ChallengeTask> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Deploy(_, t) => Some(t),
                _ => None,
            })
            .collect()
    }

    /// Cleanups recorded for any operation.
    pub fn cleanups(&self) -> Vec<&ChallengeTask> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Cleanup(_, t) => Some(t),
                _ => None,
            })
            .collect()
    }
}

/// DNS identifiers for `names`.
pub fn dns(names: &[&str]) -> Vec<Identifier> {
    names.iter().map(|n| Identifier::dns(*n)).collect()
}

/// One account and one single-name HTTP-01 order, for the benchmark.
pub fn bench_one_order() -> usize {
    let mut h = Harness::new(Knobs::default());
    h.register();
    let outcome = h.order(OrderRequest::new(dns(&["bench.example.com"])));
    assert!(matches!(outcome, Ok(Outcome::Certificate(_))));
    h.ca.log.len()
}
