//! Ordering a certificate: newOrder, authorizations and their challenges, finalize, polling,
//! download with alternate chains.

use crate::base64url::{self, b64url};
use crate::cert;
use crate::challenge;
use crate::client::api::{
    Action, ChallengeTask, ChallengeType, IssuedCertificate, OrderRequest, Outcome, RetryPolicy,
    Solution,
};
use crate::client::flow::{Ctx, Flow, Step, backoff_ms};
use crate::client::request::{PEM_CHAIN, Reply, RequestSpec};
use crate::client::snapshot::{OrderKey, Snapshot};
use crate::error::Error;
use crate::timestamp::Timestamp;
use crate::wire::{
    Authorization, AuthorizationStatus, Challenge, ChallengeStatus, Identifier, IdentifierType,
    NewOrder, Order, OrderStatus, ProblemKind,
};

/// Polling state of one resource: when to ask next, and since when.
#[derive(Debug, Default)]
struct Poller {
    /// When polling began.
    started: Option<Timestamp>,
    /// Polls so far.
    attempts: u32,
    /// When to poll next.
    next_at: Timestamp,
}

impl Poller {
    /// Schedules the next poll after `now`: at `Retry-After` if the CA said, else by backoff;
    /// never later than `max_inline_wait_ms` from now nor than the polling deadline
    /// (`poll_timeout_ms` after the first poll), so a CA asking for a day does not hold a
    /// published challenge for a day: the poll at the deadline is the last.
    fn schedule(
        &mut self,
        now: Timestamp,
        retry_after: Option<Timestamp>,
        policy: &RetryPolicy,
        what: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        let started = *self.started.get_or_insert(now);
        if now.millis_since(started) >= policy.poll_timeout_ms {
            return Err(Error::Timeout { what: what() });
        }
        let latest = now
            .plus_millis(policy.max_inline_wait_ms)
            .min(started.plus_millis(policy.poll_timeout_ms));
        let asked = retry_after.filter(|at| *at > now).unwrap_or_else(|| {
            now.plus_millis(backoff_ms(
                policy.poll_initial_ms,
                policy.poll_max_ms,
                self.attempts,
            ))
        });
        self.next_at = asked.min(latest);
        self.attempts += 1;
        Ok(())
    }
}

/// A challenge this order deployed.
#[derive(Debug)]
struct ActiveChallenge {
    /// What the host published.
    task: ChallengeTask,
    /// The challenge URL to answer.
    challenge_url: String,
    /// The authorization URL to poll.
    authz_url: String,
    /// The host said it is published.
    ready: bool,
    /// The host reported on its deployment (published, or failed).
    reported: bool,
    /// The CA was told to validate it.
    answered: bool,
    /// The authorization is valid.
    valid: bool,
    /// Polling of the authorization.
    poll: Poller,
}

/// What the request in flight was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Nothing sent yet.
    Nothing,
    /// newOrder.
    NewOrder,
    /// POST-as-GET of the order.
    Order,
    /// POST-as-GET of the order's i-th authorization.
    Authz(usize),
    /// POST of the i-th active challenge.
    Answer(usize),
    /// Poll of the i-th active challenge's authorization.
    PollAuthz(usize),
    /// finalize.
    Finalize,
    /// Download of the default chain.
    Chain,
    /// Download of the i-th alternate chain.
    Alternate(usize),
}

/// A chain downloaded and checked.
#[derive(Debug)]
struct Chain {
    /// The PEM.
    pem: String,
    /// Where it came from.
    url: String,
}

/// One certificate order, from newOrder (or a snapshot) to the downloaded chain.
#[derive(Debug)]
pub(crate) struct OrderFlow {
    /// What was asked for, its identifiers normalised (its `certificate_key` was taken out:
    /// the key is `key`). A resumed order has only what its snapshot keeps.
    plan: OrderRequest,
    /// The certificate key or CSR.
    key: OrderKey,
    /// Set when resuming: the order exists already.
    order_url: Option<String>,
    /// The latest order object.
    order: Option<Order>,
    /// How many of the order's authorizations were fetched.
    authz_fetched: usize,
    /// Challenges deployed, in order.
    challenges: Vec<ActiveChallenge>,
    /// What the request in flight is for.
    expect: Expect,
    /// `replaces` was refused once and left out.
    replaces_dropped: bool,
    /// The order must be polled before finalize (the CA said orderNotReady).
    order_not_ready: bool,
    /// Polling of the order.
    order_poll: Poller,
    /// The host could not deploy a challenge.
    deploy_failure: Option<Error>,
    /// The default chain, once downloaded.
    default_chain: Option<Chain>,
    /// Alternate chain URLs from the default download.
    alternates: Vec<String>,
}

impl OrderFlow {
    /// A new order.
    pub(super) fn new(plan: OrderRequest, key: OrderKey) -> Self {
        Self {
            plan,
            key,
            order_url: None,
            order: None,
            authz_fetched: 0,
            challenges: Vec::new(),
            expect: Expect::Nothing,
            replaces_dropped: false,
            order_not_ready: false,
            order_poll: Poller::default(),
            deploy_failure: None,
            default_chain: None,
            alternates: Vec::new(),
        }
    }

    /// Continues the order of a snapshot.
    pub(super) fn resume(snapshot: Snapshot) -> Self {
        let (plan, key, order_url) = snapshot.into_parts();
        let mut flow = Self::new(plan, key);
        flow.order_url = Some(order_url);
        flow
    }

    /// The order URL, once known.
    fn order_url(&self) -> Result<&str, Error> {
        self.order_url
            .as_deref()
            .ok_or_else(|| Error::InvalidState {
                reason: "the order has no URL yet".to_owned(),
            })
    }

    /// The latest order object.
    fn order(&self) -> Result<&Order, Error> {
        self.order.as_ref().ok_or_else(|| Error::InvalidState {
            reason: "the order has not been fetched yet".to_owned(),
        })
    }

    /// The newOrder request.
    fn new_order_request(&self, ctx: &Ctx<'_>) -> Result<RequestSpec, Error> {
        let payload = NewOrder {
            identifiers: &self.plan.identifiers,
            not_before: self.plan.not_before.map(Timestamp::to_rfc3339),
            not_after: self.plan.not_after.map(Timestamp::to_rfc3339),
            replaces: self
                .plan
                .replaces
                .as_deref()
                .filter(|_| !self.replaces_dropped),
            profile: self.plan.profile.as_deref(),
        };
        // A CA that will not take `replaces` says so with one of these: see on_new_order.
        Ok(
            RequestSpec::post(&ctx.directory.new_order, payload.to_json().into_bytes())
                .tolerating(&[ProblemKind::AlreadyReplaced, ProblemKind::Malformed]),
        )
    }

    /// Sends `spec`, remembering what it is for.
    fn send(&mut self, expect: Expect, spec: RequestSpec) -> Step {
        self.expect = expect;
        Step::Send(spec)
    }

    /// Sends `spec` at `at`, remembering what it is for.
    fn send_at(&mut self, expect: Expect, spec: RequestSpec, at: Timestamp) -> Step {
        self.expect = expect;
        Step::SendAt(spec, at)
    }

    /// Decides the next step from the order's state.
    fn next_step(&mut self) -> Result<Step, Error> {
        if let Some(error) = self.deploy_failure.take() {
            return Err(error);
        }
        let order = self.order()?;
        if order.status == OrderStatus::Pending && self.authz_fetched < order.authorizations.len() {
            let url = order.authorizations[self.authz_fetched].clone();
            return Ok(self.send(
                Expect::Authz(self.authz_fetched),
                RequestSpec::post_as_get(&url),
            ));
        }
        if let Some(i) = self.challenges.iter().position(|c| c.ready && !c.answered) {
            let url = self.challenges[i].challenge_url.clone();
            return Ok(self.send(Expect::Answer(i), RequestSpec::post(&url, b"{}".to_vec())));
        }
        if self.challenges.iter().any(|c| !c.answered) {
            return Ok(Step::AwaitHost);
        }
        if let Some(i) = self.challenges.iter().position(|c| !c.valid) {
            let c = &self.challenges[i];
            let (url, at) = (c.authz_url.clone(), c.poll.next_at);
            return Ok(self.send_at(Expect::PollAuthz(i), RequestSpec::post_as_get(&url), at));
        }
        let order_url = self.order_url()?.to_owned();
        let order = self.order()?;
        match order.status {
            OrderStatus::Invalid => Err(Error::OrderFailed {
                url: order_url,
                problem: order.error.clone().map(Box::new),
            }),
            OrderStatus::Valid => {
                let url = order.certificate.clone().ok_or_else(|| {
                    Error::invalid_response(&order_url, "a certificate URL in the valid order")
                })?;
                Ok(self.send(
                    Expect::Chain,
                    RequestSpec::post_as_get(&url).accepting(PEM_CHAIN),
                ))
            }
            OrderStatus::Processing => self.poll_order(),
            OrderStatus::Pending if self.order_not_ready => self.poll_order(),
            OrderStatus::Pending | OrderStatus::Ready => {
                let url = order.finalize.clone();
                let csr = match &self.key {
                    OrderKey::Generated(key) => crate::csr::build_csr(&self.plan.identifiers, key)?,
                    OrderKey::Csr(der) => der.clone(),
                };
                let body = format!("{{\"csr\":\"{}\"}}", b64url(&csr));
                let spec = RequestSpec::post(&url, body.into_bytes())
                    .tolerating(&[ProblemKind::OrderNotReady]);
                Ok(self.send(Expect::Finalize, spec))
            }
        }
    }

    /// Polls the order at its scheduled time.
    fn poll_order(&mut self) -> Result<Step, Error> {
        let spec = RequestSpec::post_as_get(self.order_url()?);
        let at = self.order_poll.next_at;
        Ok(self.send_at(Expect::Order, spec, at))
    }

    /// Takes a fresh order object; schedules a poll while the CA is busy with it.
    fn take_order(&mut self, ctx: &Ctx<'_>, reply: &Reply) -> Result<(), Error> {
        let url = self.order_url()?.to_owned();
        let order: Order = reply.json("an order object")?;
        let waiting = order.status == OrderStatus::Processing
            || (order.status == OrderStatus::Pending && self.order_not_ready);
        if order.status == OrderStatus::Ready {
            self.order_not_ready = false;
        }
        if waiting {
            let retry_after = reply.response.retry_after(ctx.now);
            self.order_poll
                .schedule(ctx.now, retry_after, ctx.policy, || {
                    format!("order {url} to be issued")
                })?;
        }
        self.order = Some(order);
        Ok(())
    }

    /// Chooses and deploys a challenge for a pending authorization.
    fn activate(
        &mut self,
        ctx: &mut Ctx<'_>,
        authz: &Authorization,
        authz_url: &str,
    ) -> Result<(), Error> {
        let identifier = if authz.wildcard {
            Identifier::dns(format!("*.{}", authz.identifier.value))
        } else {
            authz.identifier.clone()
        };
        // A CA must not make the host publish a challenge for a name never ordered (a DNS
        // hook would write records for it).
        let ordered = self.plan.identifiers.iter().any(|wanted| {
            wanted.kind == identifier.kind && wanted.value.eq_ignore_ascii_case(&identifier.value)
        });
        if !ordered {
            return Err(Error::InvalidResponse {
                url: authz_url.to_owned(),
                expected: format!("an authorization for an ordered identifier, not {identifier}"),
            });
        }
        let allowed = |t: &ChallengeType| match t {
            ChallengeType::Dns01 => identifier.kind == IdentifierType::Dns,
            ChallengeType::Http01 | ChallengeType::TlsAlpn01 => !identifier.is_wildcard(),
        };
        let accepted: Vec<ChallengeType> = self
            .plan
            .challenge_types
            .iter()
            .copied()
            .filter(allowed)
            .collect();
        let chosen = accepted.iter().find_map(|t| {
            authz
                .challenges
                .iter()
                .find(|c| c.kind == t.as_str())
                .map(|c| (*t, c))
        });
        let Some((kind, offered)) = chosen else {
            return Err(Error::NoCompatibleChallenge {
                identifier,
                offered: authz.challenges.iter().map(|c| c.kind.clone()).collect(),
                accepted: accepted.iter().map(|t| t.as_str().to_owned()).collect(),
            });
        };
        let task = challenge_task(ctx, identifier, &authz.identifier, kind, offered, authz_url)?;
        // The host reports on challenges by token: two alike would leave one unreported and
        // the order waiting for ever.
        if let Some(other) = self
            .challenges
            .iter()
            .find(|c| c.task.token == task.token || c.task.identifier == task.identifier)
        {
            return Err(Error::invalid_response(
                authz_url,
                format!(
                    "an authorization of its own, not one repeating {} (token {}) of {}",
                    other.task.identifier, other.task.token, other.authz_url
                ),
            ));
        }
        let already_answered = matches!(
            offered.status,
            ChallengeStatus::Processing | ChallengeStatus::Valid
        );
        ctx.outbox.push_back(Action::Deploy(task.clone()));
        self.challenges.push(ActiveChallenge {
            task,
            challenge_url: offered.url.clone(),
            authz_url: authz_url.to_owned(),
            ready: false,
            reported: false,
            answered: already_answered,
            valid: false,
            poll: Poller {
                next_at: ctx.now,
                ..Poller::default()
            },
        });
        Ok(())
    }

    /// The error for an authorization that can no longer become valid.
    fn authorization_failed(
        identifier: Identifier,
        challenge_type: &str,
        authz: &Authorization,
    ) -> Error {
        let failed = authz
            .challenges
            .iter()
            .find(|c| c.kind == challenge_type && c.error.is_some())
            .or_else(|| authz.challenges.iter().find(|c| c.error.is_some()));
        Error::AuthorizationFailed {
            identifier,
            challenge_type: failed
                .map(|c| c.kind.clone())
                .unwrap_or_else(|| challenge_type.to_owned()),
            problem: failed.and_then(|c| c.error.clone()).map(Box::new),
        }
    }

    /// Checks a downloaded chain: parses, certifies our key, names every identifier.
    fn check_chain(&self, pem: &str, url: &str) -> Result<Option<String>, Error> {
        let ders = cert::split_pem_chain(pem)
            .map_err(|e| Error::invalid_response(url, format!("a PEM certificate chain ({e})")))?;
        let leaf_der = ders
            .first()
            .ok_or_else(|| Error::invalid_response(url, "at least one certificate"))?;
        if let OrderKey::Generated(key) = &self.key
            && !cert::key_matches_certificate(key, leaf_der)?
        {
            return Err(Error::invalid_response(
                url,
                "a certificate for the order's key (the leaf certifies another key)",
            ));
        }
        let leaf = cert::inspect(leaf_der).map_err(|e| {
            Error::invalid_response(url, format!("a readable leaf certificate ({e})"))
        })?;
        if let Some(missing) = self
            .plan
            .identifiers
            .iter()
            .find(|id| !leaf.sans.contains(id))
        {
            return Err(Error::invalid_response(
                url,
                format!("a certificate naming {missing} (its SANs lack it)"),
            ));
        }
        let top = ders.last().map(|d| cert::inspect(d)).transpose()?;
        Ok(top.and_then(|t| t.issuer_common_name))
    }

    /// Takes a downloaded chain; finishes or downloads the next alternate.
    fn take_chain(&mut self, reply: Reply) -> Result<Step, Error> {
        let url = reply.url.as_str();
        let pem = String::from_utf8(reply.response.body.clone())
            .map_err(|_| Error::invalid_response(url, "a UTF-8 PEM certificate chain"))?;
        let top_issuer = self.check_chain(&pem, url)?;
        if self.expect == Expect::Chain {
            self.alternates = reply.response.links("alternate");
        }
        let preferred = self.plan.preferred_issuer.as_deref();
        let matches = preferred.is_none() || top_issuer.as_deref() == preferred;
        let chain = Chain {
            pem,
            url: url.to_owned(),
        };
        if matches {
            return self.finish(chain);
        }
        if self.default_chain.is_none() {
            self.default_chain = Some(chain);
        }
        let next = match self.expect {
            Expect::Alternate(i) => i + 1,
            _ => 0,
        };
        match self.alternates.get(next).cloned() {
            Some(alt) => Ok(self.send(
                Expect::Alternate(next),
                RequestSpec::post_as_get(&alt).accepting(PEM_CHAIN),
            )),
            None => match self.default_chain.take() {
                Some(default) => self.finish(default),
                None => Err(Error::InvalidState {
                    reason: "no chain was downloaded".to_owned(),
                }),
            },
        }
    }

    /// The outcome for `chain`.
    fn finish(&mut self, chain: Chain) -> Result<Step, Error> {
        Ok(Step::Finish(Outcome::Certificate(IssuedCertificate {
            chain_pem: chain.pem,
            private_key_pem: match &self.key {
                OrderKey::Generated(key) => Some(key.to_pem()),
                OrderKey::Csr(_) => None,
            },
            order_url: self.order_url()?.to_owned(),
            certificate_url: chain.url,
            alternate_urls: core::mem::take(&mut self.alternates),
        })))
    }

    /// Handles the newOrder response.
    fn on_new_order(&mut self, ctx: &mut Ctx<'_>, reply: Reply) -> Result<Step, Error> {
        if let Some(problem) = &reply.problem {
            let replaces_refused = problem.problem_kind() == ProblemKind::AlreadyReplaced
                || (problem.problem_kind() == ProblemKind::Malformed
                    && problem
                        .detail
                        .as_deref()
                        .is_some_and(|d| d.contains("replaces")));
            if replaces_refused && self.plan.replaces.is_some() && !self.replaces_dropped {
                self.replaces_dropped = true;
                let spec = self.new_order_request(ctx)?;
                return Ok(self.send(Expect::NewOrder, spec));
            }
        }
        let reply = reply.problem_error(ctx.now)?;
        self.order_url = Some(reply.location()?);
        let snapshot = Snapshot::new(
            ctx.directory_url,
            ctx.account_url,
            self.order_url()?,
            &self.plan,
            &self.key,
        );
        ctx.outbox.push_back(Action::Save(snapshot));
        match self.take_order(ctx, &reply) {
            Ok(()) => self.next_step(),
            Err(Error::InvalidResponse { .. }) => self.read_order_instead(),
            Err(e) => Err(e),
        }
    }

    /// After an unusable answer (cut short, garbled) to a request the CA took (newOrder,
    /// finalize: a 2xx whose body could not be read), the order's state is read instead of
    /// the run ending: sending the request again would make a second order or trip over
    /// the CA's own progress, and reading it is safe to repeat.
    fn read_order_instead(&mut self) -> Result<Step, Error> {
        let spec = RequestSpec::post_as_get(self.order_url()?);
        Ok(self.send(Expect::Order, spec))
    }

    /// Handles a fetched authorization.
    fn on_authz(&mut self, ctx: &mut Ctx<'_>, reply: &Reply, i: usize) -> Result<(), Error> {
        let url = &reply.url;
        let authz: Authorization = reply.json("an authorization object")?;
        self.authz_fetched = i + 1;
        match authz.status {
            AuthorizationStatus::Valid => Ok(()),
            AuthorizationStatus::Pending => self.activate(ctx, &authz, url),
            _ => {
                let identifier = authz.identifier.clone();
                Err(Self::authorization_failed(identifier, "", &authz))
            }
        }
    }

    /// Handles the answer to a challenge.
    fn on_answer(&mut self, ctx: &mut Ctx<'_>, reply: &Reply, i: usize) -> Result<(), Error> {
        let active = &mut self.challenges[i];
        let Ok(challenge) = reply.json::<Challenge>("a challenge object") else {
            // The CA took the answer (2xx) but its body is unusable: poll the
            // authorization, which says how validation goes (answering again is refused by
            // CAs once validation has started).
            active.answered = true;
            active.poll.next_at = ctx.now.plus_millis(ctx.policy.poll_initial_ms);
            return Ok(());
        };
        if challenge.status == ChallengeStatus::Invalid {
            return Err(Error::AuthorizationFailed {
                identifier: active.task.identifier.clone(),
                challenge_type: challenge.kind,
                problem: challenge.error.map(Box::new),
            });
        }
        active.answered = true;
        // A valid challenge makes its authorization valid (RFC 8555 §7.1.6): no poll needed.
        active.valid = challenge.status == ChallengeStatus::Valid;
        active.poll.next_at = reply
            .response
            .retry_after(ctx.now)
            .unwrap_or_else(|| ctx.now.plus_millis(ctx.policy.poll_initial_ms));
        Ok(())
    }

    /// Handles a poll of an authorization.
    fn on_authz_poll(&mut self, ctx: &mut Ctx<'_>, reply: &Reply, i: usize) -> Result<(), Error> {
        let active = &mut self.challenges[i];
        let authz: Authorization = reply.json("an authorization object")?;
        match authz.status {
            AuthorizationStatus::Valid => {
                active.valid = true;
                Ok(())
            }
            AuthorizationStatus::Pending => {
                let identifier = active.task.identifier.clone();
                active.poll.schedule(
                    ctx.now,
                    reply.response.retry_after(ctx.now),
                    ctx.policy,
                    || format!("the authorization of {identifier} to become valid"),
                )
            }
            _ => Err(Self::authorization_failed(
                active.task.identifier.clone(),
                active.task.challenge_type().as_str(),
                &authz,
            )),
        }
    }
}

/// The challenge task for `offered`, answering for `identifier` (as ordered).
fn challenge_task(
    ctx: &mut Ctx<'_>,
    identifier: Identifier,
    authorized: &Identifier,
    kind: ChallengeType,
    offered: &Challenge,
    authz_url: &str,
) -> Result<ChallengeTask, Error> {
    let token = offered
        .token
        .clone()
        .filter(|t| base64url::is_base64url(t, base64url::MAX_TOKEN_LEN))
        .ok_or_else(|| {
            Error::invalid_response(
                authz_url,
                format!("a base64url token in the {} challenge", kind.as_str()),
            )
        })?;
    let key_authorization =
        challenge::key_authorization(&token, &ctx.account_key.jwk().thumbprint());
    let solution = match kind {
        ChallengeType::Http01 => Solution::Http01 {
            path: format!("/.well-known/acme-challenge/{token}"),
        },
        ChallengeType::Dns01 => Solution::Dns01 {
            record_name: challenge::dns01_record_name(&identifier.value),
            value: challenge::dns01_value(&key_authorization),
        },
        ChallengeType::TlsAlpn01 => {
            let cert = challenge::tls_alpn01_certificate(
                authorized,
                &key_authorization,
                ctx.now,
                ctx.random,
            )?;
            Solution::TlsAlpn01 {
                certificate_pem: cert.certificate_pem,
                private_key_pem: cert.private_key_pem,
            }
        }
    };
    Ok(ChallengeTask {
        identifier,
        token,
        key_authorization,
        solution,
    })
}

impl Flow for OrderFlow {
    fn needs_account(&self) -> bool {
        true
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) -> Result<Step, Error> {
        if let Some(url) = self.order_url.clone() {
            return Ok(self.send(Expect::Order, RequestSpec::post_as_get(&url)));
        }
        if let Some(profile) = &self.plan.profile {
            let offered = &ctx.directory.meta.profiles;
            if !offered.contains_key(profile) {
                let names: Vec<&str> = offered.keys().map(String::as_str).collect();
                return Err(Error::invalid_input(
                    format!("profile {profile:?}"),
                    if names.is_empty() {
                        "no profile: this CA offers none".to_owned()
                    } else {
                        format!("one of the CA's profiles: {}", names.join(", "))
                    },
                ));
            }
        }
        let spec = self.new_order_request(ctx)?;
        Ok(self.send(Expect::NewOrder, spec))
    }

    fn on_response(&mut self, ctx: &mut Ctx<'_>, reply: Reply) -> Result<Step, Error> {
        let expect = self.expect;
        let step = self.on_expected(ctx, reply, expect);
        // An answer that could not be used leaves the order expecting it still: the client
        // may ask again for a read.
        if matches!(step, Err(Error::InvalidResponse { .. })) {
            self.expect = expect;
        }
        step
    }

    fn deployed(&self) -> Vec<(ChallengeTask, bool)> {
        self.challenges
            .iter()
            .map(|c| (c.task.clone(), c.reported))
            .collect()
    }

    fn challenge_ready(&mut self, token: &str, failure: Option<&str>) -> Result<(), Error> {
        OrderFlow::challenge_ready(self, token, failure)
    }

    fn after_host_input(&mut self, ctx: &mut Ctx<'_>) -> Result<Step, Error> {
        OrderFlow::after_host_input(self, ctx)
    }
}

impl OrderFlow {
    /// [`Flow::on_response`] for the answer the order was waiting for (`expect`).
    fn on_expected(
        &mut self,
        ctx: &mut Ctx<'_>,
        reply: Reply,
        expect: Expect,
    ) -> Result<Step, Error> {
        self.expect = Expect::Nothing;
        match expect {
            Expect::NewOrder => return self.on_new_order(ctx, reply),
            Expect::Nothing => {
                return Err(Error::InvalidState {
                    reason: "the order expected no response".to_owned(),
                });
            }
            Expect::Order => self.take_order(ctx, &reply)?,
            Expect::Authz(i) => self.on_authz(ctx, &reply, i)?,
            Expect::Answer(i) => self.on_answer(ctx, &reply, i)?,
            Expect::PollAuthz(i) => self.on_authz_poll(ctx, &reply, i)?,
            Expect::Finalize => match &reply.problem {
                // The only problem finalize tolerates: poll the order until it is ready.
                Some(_) => {
                    self.order_not_ready = true;
                    let order_url = self.order_url()?.to_owned();
                    self.order_poll.schedule(
                        ctx.now,
                        reply.response.retry_after(ctx.now),
                        ctx.policy,
                        || format!("order {order_url} to become ready"),
                    )?;
                }
                None => match self.take_order(ctx, &reply) {
                    Ok(()) => {}
                    Err(Error::InvalidResponse { .. }) => return self.read_order_instead(),
                    Err(e) => return Err(e),
                },
            },
            Expect::Chain | Expect::Alternate(_) => {
                self.expect = expect;
                return self.take_chain(reply);
            }
        }
        self.next_step()
    }

    /// [`Flow::challenge_ready`].
    fn challenge_ready(&mut self, token: &str, failure: Option<&str>) -> Result<(), Error> {
        let active = self
            .challenges
            .iter_mut()
            .find(|c| c.task.token == token)
            .ok_or_else(|| Error::InvalidState {
                reason: format!("the order deployed no challenge with token {token}"),
            })?;
        active.reported = true;
        match failure {
            Some(reason) => {
                self.deploy_failure = Some(Error::ChallengeDeployFailed {
                    identifier: active.task.identifier.clone(),
                    reason: reason.to_owned(),
                });
            }
            None => active.ready = true,
        }
        Ok(())
    }

    /// [`Flow::after_host_input`].
    fn after_host_input(&mut self, _ctx: &mut Ctx<'_>) -> Result<Step, Error> {
        self.next_step()
    }
}
