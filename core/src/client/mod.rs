//! The protocol state machine: one [`Client`] per (directory, account), many operations,
//! driven through two doors: [`Client::start`] and [`Client::handle`].

mod abandon;
mod account;
mod api;
mod ari;
mod flow;
mod identifiers;
mod order;
mod request;
mod snapshot;

use std::collections::{BTreeMap, VecDeque};

pub use api::*;
pub use identifiers::normalize as normalize_identifiers;

use crate::cert;
use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::keys::PrivateKey;
use crate::random::Random;
use crate::timestamp::Timestamp;
use crate::wire::{Directory, Problem, ProblemKind};
use abandon::AbandonFlow;
use account::{AccountFlow, KeyChangeFlow, RevokeFlow};
use ari::RenewalInfoFlow;
use flow::{Ctx, Flow, Step, backoff_ms};
use order::OrderFlow;
use snapshot::OrderKey;

/// The engine's product token in every request's `User-Agent`.
const ENGINE_PRODUCT: &str = concat!("certsmith-core/", env!("CARGO_PKG_VERSION"));

/// The longest `Replay-Nonce` kept.
const MAX_NONCE_LEN: usize = 512;

/// Nonces kept for later requests; older ones are dropped first.
const NONCE_POOL_MAX: usize = 16;
/// First delay before retrying a request the CA failed with a 5xx, ms.
const SERVER_RETRY_INITIAL_MS: u64 = 1_000;
/// Largest delay between such retries, ms.
const SERVER_RETRY_MAX_MS: u64 = 30_000;

/// What a request in flight was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InFlight {
    /// The directory, fetched for every operation waiting on it.
    Directory,
    /// A fresh nonce.
    Nonce,
    /// The operation's own request.
    Main,
}

/// State shared by all operations of a client.
struct Shared {
    /// The CA's directory URL.
    directory_url: String,
    /// Retry and polling bounds.
    policy: RetryPolicy,
    /// The directory, once fetched.
    directory: Option<Directory>,
    /// An operation is fetching the directory.
    directory_in_flight: bool,
    /// The account key.
    account_key: PrivateKey,
    /// The account URL (`kid`), once known.
    account_url: Option<String>,
    /// Unused nonces, oldest first.
    nonces: VecDeque<String>,
    /// Requests handed to the host.
    requests_sent: u64,
    /// The `User-Agent` of every request: the host's token, then the engine's.
    user_agent: String,
    /// Every random draw of the client's operations.
    random: Random,
}

impl Shared {
    /// Counts and wraps a request for the host, naming the client in its `User-Agent`.
    fn send(&mut self, mut request: HttpRequest) -> Action {
        self.requests_sent += 1;
        request
            .headers
            .push(("User-Agent".to_owned(), self.user_agent.clone()));
        Action::Send(request)
    }

    /// Keeps the response's `Replay-Nonce`, if it looks like one (RFC 8555 §6.5.1).
    fn take_nonce(&mut self, response: &HttpResponse) {
        let Some(nonce) = response.header("replay-nonce") else {
            return;
        };
        if crate::base64url::is_base64url(nonce, MAX_NONCE_LEN) {
            if self.nonces.len() == NONCE_POOL_MAX {
                self.nonces.pop_front();
            }
            self.nonces.push_back(nonce.to_owned());
        }
    }

    /// The decision context for an operation, once the directory is known.
    fn ctx<'a>(
        &'a mut self,
        outbox: &'a mut VecDeque<Action>,
        now: Timestamp,
    ) -> Result<Ctx<'a>, Error> {
        let directory = self.directory.as_ref().ok_or_else(|| Error::InvalidState {
            reason: "the directory has not been fetched".to_owned(),
        })?;
        Ok(Ctx {
            directory,
            directory_url: &self.directory_url,
            account_key: &self.account_key,
            account_url: self.account_url.as_deref(),
            policy: &self.policy,
            random: &mut self.random,
            now,
            outbox,
        })
    }
}

/// One operation and its progress.
struct Operation {
    /// Its protocol logic.
    flow: Box<dyn Flow>,
    /// `flow.start` ran.
    started: bool,
    /// Actions waiting for `poll`.
    outbox: VecDeque<Action>,
    /// The request the flow wants sent (kept until answered, for retries).
    pending: Option<request::RequestSpec>,
    /// Nothing is sent before this time.
    wake_at: Timestamp,
    /// The request the host is carrying out, and its URL.
    in_flight: Option<(InFlight, String)>,
    /// Consecutive `badNonce` answers.
    bad_nonces: u32,
    /// Consecutive 5xx answers.
    server_errors: u32,
    /// The host reported on a challenge since the flow last decided.
    host_input: bool,
    /// While the operation waits for the host to report on its challenges: when that wait
    /// fails it ([`host_report_timeout_ms`] after it began), so a host that never reports
    /// does not hold the order for ever.
    host_deadline: Option<Timestamp>,
    /// Done or Failed is queued.
    finished: bool,
    /// Challenges whose deployment was still running when the operation ended: each is
    /// cleaned up once the host reports on it.
    deploying: Vec<ChallengeTask>,
}

impl Operation {
    /// Ends the operation: cleanup for every deployed challenge the host has reported on
    /// (the others once it has: a cleanup must not race the deployment it undoes), then
    /// `last`.
    fn end(&mut self, last: Action) {
        self.pending = None;
        for (task, reported) in self.flow.deployed() {
            if reported {
                self.outbox.push_back(Action::Cleanup(task));
            } else {
                self.deploying.push(task);
            }
        }
        self.outbox.push_back(last);
        self.finished = true;
    }

    /// Whether the flow must decide again because the host reported while it was idle.
    fn has_host_input(&self) -> bool {
        self.host_input && self.started && self.pending.is_none() && self.in_flight.is_none()
    }

    /// Schedules a retry of a 5xx answer, if the policy allows one; says whether it did.
    fn retry_server_error(
        &mut self,
        response: &HttpResponse,
        problem: Option<&Problem>,
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> bool {
        let server_error = response.status >= 500
            || problem.is_some_and(|p| p.problem_kind() == ProblemKind::ServerInternal);
        server_error && self.schedule_retry(response.retry_after(now), now, policy)
    }

    /// Schedules a retry of the request in flight at `retry_after` or by backoff, if the
    /// policy allows one; says whether it did.
    fn schedule_retry(
        &mut self,
        retry_after: Option<Timestamp>,
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> bool {
        if self.server_errors >= policy.max_server_retries {
            return false;
        }
        let at = retry_after.unwrap_or_else(|| {
            now.plus_millis(backoff_ms(
                SERVER_RETRY_INITIAL_MS,
                SERVER_RETRY_MAX_MS,
                self.server_errors,
            ))
        });
        if at.millis_since(now) > policy.max_inline_wait_ms {
            return false;
        }
        self.server_errors += 1;
        self.wake_at = at;
        true
    }
}

/// An ACME client for one CA directory and one account key: owns the directory, the
/// account URL and the nonce pool shared by all its operations. It does no I/O and reads
/// no clock: the host does both.
///
/// # The calling contract
///
/// 1. Start operations with [`Client::start`]; each has an [`OpId`].
/// 2. Drain [`Client::poll`] until it returns `None`, carrying out each [`Action`]: send a
///    request and hand its response (or why there is none) to [`Client::handle`]; publish a
///    challenge and report it ready or failed; remove a cleaned-up challenge (nothing to
///    report); store a snapshot.
/// 3. When `poll` has nothing, wait until [`Client::next_wakeup`] or the next piece of I/O,
///    whichever comes first, and go to 2. Waking early is harmless: `poll` returns `None`.
///
/// Every operation ends with exactly one [`Action::Done`] or [`Action::Failed`], after the
/// cleanups of its challenges. Operations run concurrently and share the directory and
/// the nonces; an operation that needs the account URL waits for one that creates it.
///
/// ```no_run
/// use certsmith_core::{
///     Action, Client, ClientConfig, Command, Error, HttpRequest, HttpResponse, Input, KeyType,
///     NewAccountRequest, Output, PrivateKey, Timestamp,
/// };
///
/// /// Creates an account, with the host's HTTPS client (`send`), clock (`now`) and timer
/// /// (`sleep_until`).
/// fn create_account(
///     send: impl Fn(&HttpRequest) -> Result<HttpResponse, String>,
///     now: impl Fn() -> Timestamp,
///     sleep_until: impl Fn(Option<Timestamp>),
/// ) -> Result<(), Error> {
///     let key = PrivateKey::generate(KeyType::P256)?;
///     let mut client = Client::new(ClientConfig::new("https://acme.example/directory"), key);
///     client.start(Command::NewAccount(NewAccountRequest {
///         contact: vec!["mailto:ops@example.com".into()],
///         terms_of_service_agreed: true,
///         ..NewAccountRequest::default()
///     }))?;
///     loop {
///         while let Some(Output { op, action }) = client.poll(now()) {
///             match action {
///                 Action::Send(request) => {
///                     let input = match send(&request) {
///                         Ok(response) => Input::Response(response),
///                         Err(reason) => Input::TransportError(reason),
///                     };
///                     client.handle(now(), op, input)?;
///                 }
///                 Action::Done(outcome) => {
///                     println!("{op} done: {outcome:?}");
///                     return Ok(());
///                 }
///                 Action::Failed(error) => return Err(error),
///                 Action::Deploy(_) | Action::Cleanup(_) | Action::Save(_) => {}
///             }
///         }
///         sleep_until(client.next_wakeup());
///     }
/// }
/// ```
pub struct Client {
    shared: Shared,
    ops: BTreeMap<OpId, Operation>,
    next_op: u32,
    /// Challenges of ended operations still being deployed, and whether the host has
    /// reported on each since (then its cleanup is due). A handful at most: a list.
    deploying: Vec<(OpId, ChallengeTask, bool)>,
}

impl Client {
    /// A client for `config.directory_url` signing with `account_key`.
    pub fn new(config: ClientConfig, account_key: PrivateKey) -> Self {
        Self {
            shared: Shared {
                directory_url: config.directory_url,
                policy: config.retry,
                directory: None,
                directory_in_flight: false,
                account_key,
                account_url: config.account_url,
                nonces: VecDeque::new(),
                requests_sent: 0,
                user_agent: match config.user_agent {
                    Some(host) => format!("{host} {ENGINE_PRODUCT}"),
                    None => ENGINE_PRODUCT.to_owned(),
                },
                random: config.seed.map_or_else(Random::platform, Random::seeded),
            },
            ops: BTreeMap::new(),
            next_op: 1,
            deploying: Vec::new(),
        }
    }

    /// Starts an operation: its id, or an error (and nothing sent) for a command that
    /// cannot start (a malformed identifier, a certificate without an Authority Key
    /// Identifier, a snapshot of another CA's or account's order).
    pub fn start(&mut self, command: Command) -> Result<OpId, Error> {
        let flow: Box<dyn Flow> = match command {
            Command::NewAccount(request) => Box::new(AccountFlow::Create(request)),
            Command::FetchAccount => Box::new(AccountFlow::Fetch),
            Command::UpdateAccount { contact } => Box::new(AccountFlow::Update(contact)),
            Command::DeactivateAccount => Box::new(AccountFlow::Deactivate),
            Command::ChangeKey(new_key) => Box::new(KeyChangeFlow { new_key }),
            Command::Order(request) => self.order_flow(request)?,
            Command::Revoke(request) => Box::new(RevokeFlow { request }),
            Command::RenewalInfo { certificate_der } => {
                renewal_info_flow(&certificate_der, &mut self.shared.random)?
            }
            Command::Resume(snapshot) => {
                self.adopt(&snapshot)?;
                Box::new(OrderFlow::resume(snapshot))
            }
            Command::Abandon(snapshot) => {
                self.adopt(&snapshot)?;
                Box::new(AbandonFlow::new(snapshot.order_url().to_owned()))
            }
        };
        Ok(self.register(flow))
    }

    /// Registers an operation.
    fn register(&mut self, flow: Box<dyn Flow>) -> OpId {
        let id = OpId(self.next_op);
        // 4 billion operations before an id repeats: decades of a busy daemon.
        self.next_op = self.next_op.wrapping_add(1);
        self.ops.insert(
            id,
            Operation {
                flow,
                started: false,
                outbox: VecDeque::new(),
                pending: None,
                wake_at: Timestamp::default(),
                in_flight: None,
                bad_nonces: 0,
                server_errors: 0,
                host_input: false,
                host_deadline: None,
                finished: false,
                deploying: Vec::new(),
            },
        );
        id
    }

    /// The flow of an order: identifiers checked and normalised, the key chosen.
    fn order_flow(&mut self, mut request: OrderRequest) -> Result<Box<dyn Flow>, Error> {
        request.identifiers = identifiers::normalize(&request.identifiers)?;
        if request.challenge_types.is_empty() {
            return Err(Error::invalid_input(
                "challenge types",
                "at least one of http-01, dns-01, tls-alpn-01",
            ));
        }
        if let (Some(nb), Some(na)) = (request.not_before, request.not_after)
            && nb >= na
        {
            return Err(Error::invalid_input(
                format!("validity {nb} to {na}"),
                "notBefore earlier than notAfter",
            ));
        }
        let key = match core::mem::take(&mut request.certificate_key) {
            CertificateKey::Generate(kind) => {
                OrderKey::Generated(PrivateKey::generate_with(kind, &mut self.shared.random)?)
            }
            CertificateKey::Key(key) => {
                if key.jwk() == self.shared.account_key.jwk() {
                    return Err(Error::invalid_input(
                        "certificate key",
                        "a key other than the account key",
                    ));
                }
                OrderKey::Generated(key)
            }
            CertificateKey::Csr(der) => OrderKey::Csr(der),
        };
        Ok(Box::new(OrderFlow::new(request, key)))
    }

    /// Checks that a snapshot's order belongs to this client's CA and account (learning
    /// the account URL from it if this client has none yet).
    fn adopt(&mut self, snapshot: &Snapshot) -> Result<(), Error> {
        if snapshot.directory_url() != self.shared.directory_url {
            return Err(Error::invalid_input(
                format!("snapshot of an order at {}", snapshot.directory_url()),
                format!(
                    "an order of this client's CA ({})",
                    self.shared.directory_url
                ),
            ));
        }
        match (snapshot.account_url(), self.shared.account_url.as_deref()) {
            (Some(theirs), Some(ours)) if theirs != ours => {
                return Err(Error::invalid_input(
                    format!("snapshot of an order by account {theirs}"),
                    format!("an order of this client's account ({ours})"),
                ));
            }
            (Some(theirs), None) => self.shared.account_url = Some(theirs.to_owned()),
            _ => {}
        }
        Ok(())
    }

    /// The next piece of work due at `now`, if any: drain it until `None`.
    #[must_use]
    pub fn poll(&mut self, now: Timestamp) -> Option<Output> {
        if let Some(i) = self.deploying.iter().position(|(_, _, reported)| *reported) {
            let (op, task, _) = self.deploying.remove(i);
            return Some(Output {
                op,
                action: Action::Cleanup(task),
            });
        }
        let ids: Vec<OpId> = self.ops.keys().copied().collect();
        for id in ids {
            if let Some(action) = self.poll_op(id, now) {
                if matches!(action, Action::Done(_) | Action::Failed(_))
                    && let Some(ended) = self.ops.remove(&id)
                {
                    self.deploying
                        .extend(ended.deploying.into_iter().map(|task| (id, task, false)));
                }
                return Some(Output { op: id, action });
            }
        }
        None
    }

    /// Whether an operation that creates the account is still running.
    fn account_pending(&self) -> bool {
        self.ops
            .values()
            .any(|op| op.flow.creates_account() && !op.finished)
    }

    /// The next action of one operation.
    fn poll_op(&mut self, id: OpId, now: Timestamp) -> Option<Action> {
        let account_pending = self.account_pending();
        let Client { shared, ops, .. } = self;
        let op = ops.get_mut(&id)?;
        match readiness(shared, op, account_pending) {
            Readiness::Blocked => return None,
            Readiness::At(at) if at > now => return None,
            Readiness::Ready | Readiness::At(_) => {}
        }
        if let Some(action) = op.outbox.pop_front() {
            return Some(action);
        }
        if !op.started {
            if shared.directory.is_none() {
                shared.directory_in_flight = true;
                op.in_flight = Some((InFlight::Directory, shared.directory_url.clone()));
                let request = HttpRequest {
                    method: Method::Get,
                    url: shared.directory_url.clone(),
                    headers: Vec::new(),
                    body: Vec::new(),
                };
                return Some(shared.send(request));
            }
            if op.flow.needs_account() && shared.account_url.is_none() {
                // No account, and none being created (readiness waits while one is).
                op.end(Action::Failed(Error::NoAccount));
                return op.outbox.pop_front();
            }
            op.started = true;
            decide(shared, op, now, |flow, ctx| flow.start(ctx));
        } else if op.has_host_input() {
            op.host_input = false;
            decide(shared, op, now, |flow, ctx| flow.after_host_input(ctx));
        }
        if let Some(action) = op.outbox.pop_front() {
            return Some(action);
        }
        if op.wake_at > now {
            return None;
        }
        if op.pending.is_none() && op.host_deadline.is_some_and(|at| at <= now) {
            let waited = host_report_timeout_ms(&shared.policy) / 1000;
            op.end(Action::Failed(host_never_reported(
                op.flow.as_ref(),
                waited,
            )));
            return op.outbox.pop_front();
        }
        let spec = op.pending.as_ref()?;
        if spec.needs_account_url() && shared.account_url.is_none() {
            op.end(Action::Failed(Error::NoAccount));
            return op.outbox.pop_front();
        }
        let nonce = if spec.needs_nonce() {
            match shared.nonces.pop_front() {
                Some(nonce) => Some(nonce),
                None => {
                    let url = shared.directory.as_ref()?.new_nonce.clone();
                    op.in_flight = Some((InFlight::Nonce, url.clone()));
                    let request = HttpRequest {
                        method: Method::Head,
                        url,
                        headers: Vec::new(),
                        body: Vec::new(),
                    };
                    return Some(shared.send(request));
                }
            }
        } else {
            None
        };
        match spec.build(
            &shared.account_key,
            shared.account_url.as_deref(),
            nonce.as_deref(),
        ) {
            Ok(request) => {
                op.in_flight = Some((InFlight::Main, request.url.clone()));
                Some(shared.send(request))
            }
            Err(e) => {
                op.end(Action::Failed(e));
                op.outbox.pop_front()
            }
        }
    }

    /// Hands the client what the host learnt for operation `op` at `now`. Errors only for
    /// calls that do not fit (an unknown or finished operation, nothing in flight, a token
    /// the operation does not know); protocol failures end the operation with
    /// [`Action::Failed`] instead.
    pub fn handle(&mut self, now: Timestamp, op: OpId, input: Input) -> Result<(), Error> {
        match input {
            Input::Response(response) => self.handle_response(op, response, now),
            Input::TransportError(reason) => self.handle_transport_error(op, &reason, now),
            Input::ChallengeReady { token } => self.host_input(op, &token, None),
            Input::ChallengeFailed { token, reason } => self.host_input(op, &token, Some(&reason)),
        }
    }

    /// Feeds the response to the request `op` last sent.
    fn handle_response(
        &mut self,
        op: OpId,
        response: HttpResponse,
        now: Timestamp,
    ) -> Result<(), Error> {
        let Client { shared, ops, .. } = self;
        let operation = ops.get_mut(&op).ok_or_else(|| unknown_op(op))?;
        let in_flight = operation
            .in_flight
            .take()
            .ok_or_else(|| Error::InvalidState {
                reason: format!("{op} has no request in flight"),
            })?;
        shared.take_nonce(&response);
        // The one reading of the CA's problem, for every decision below.
        let problem = request::problem_of(&response);
        let (kind, url) = in_flight;
        if operation.retry_server_error(&response, problem.as_ref(), now, &shared.policy) {
            if kind == InFlight::Directory {
                shared.directory_in_flight = false;
            }
            return Ok(());
        }
        match kind {
            InFlight::Directory => {
                shared.directory_in_flight = false;
                let parsed = match problem {
                    Some(problem) => Err(request::acme_error(&url, &response, problem, now)),
                    None => request::parse_json::<Directory>(&response, &url, "a directory object"),
                };
                match parsed {
                    Ok(directory) => shared.directory = Some(directory),
                    // A directory cut short or garbled is fetched again, as after a 5xx.
                    Err(Error::InvalidResponse { .. })
                        if operation.schedule_retry(None, now, &shared.policy) => {}
                    Err(e) => operation.end(Action::Failed(e)),
                }
            }
            InFlight::Nonce => {
                let error = match problem {
                    Some(problem) => Some(request::acme_error(&url, &response, problem, now)),
                    // No header at all is the host loop's bug, not the CA's: said at once.
                    None if response.headers.is_empty() => Some(Error::invalid_input(
                        format!("response to {url}"),
                        "its headers (it has none at all: does the host pass the response's headers on?)",
                    )),
                    None if response.header("replay-nonce").is_none() => {
                        Some(Error::invalid_response(&url, "a Replay-Nonce header"))
                    }
                    None => None,
                };
                match error {
                    // A nonce answer without the header is asked for again, as after a 5xx.
                    Some(Error::InvalidResponse { .. })
                        if operation.schedule_retry(None, now, &shared.policy) => {}
                    Some(error) => operation.end(Action::Failed(error)),
                    None => {}
                }
            }
            InFlight::Main => {
                let bad_nonce = problem
                    .as_ref()
                    .is_some_and(|p| p.problem_kind() == ProblemKind::BadNonce);
                if bad_nonce && operation.bad_nonces < shared.policy.max_bad_nonce_retries {
                    operation.bad_nonces += 1;
                    return Ok(());
                }
                operation.bad_nonces = 0;
                let spec = operation.pending.take();
                let tolerated = spec.as_ref().map_or(&[][..], |spec| spec.tolerated);
                match problem {
                    // A problem the request did not ask to see ends the operation here.
                    Some(problem) if !tolerated.contains(&problem.problem_kind()) => {
                        operation.server_errors = 0;
                        let error = request::acme_error(&url, &response, problem, now);
                        operation.end(Action::Failed(error));
                    }
                    problem => {
                        let reply = request::Reply {
                            url,
                            problem,
                            response,
                        };
                        let step = match shared.ctx(&mut operation.outbox, now) {
                            Ok(mut ctx) => operation.flow.on_response(&mut ctx, reply),
                            Err(e) => Err(e),
                        };
                        // An answer that cannot be used (cut short, garbled) to a request
                        // that changes nothing at the CA (a GET or POST-as-GET) is asked
                        // for again, as a 5xx would be; a request that changes something
                        // is not repeated blindly.
                        let read_again = spec.filter(|spec| spec.payload.is_none());
                        if let (Err(Error::InvalidResponse { .. }), Some(spec)) =
                            (&step, read_again)
                            && operation.schedule_retry(None, now, &shared.policy)
                        {
                            operation.pending = Some(spec);
                            return Ok(());
                        }
                        operation.server_errors = 0;
                        apply(shared, operation, now, step);
                    }
                }
            }
        }
        Ok(())
    }

    /// Says the request `op` last sent got no response ([`Input::TransportError`]).
    fn handle_transport_error(
        &mut self,
        op: OpId,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), Error> {
        let Client { shared, ops, .. } = self;
        let operation = ops.get_mut(&op).ok_or_else(|| unknown_op(op))?;
        let (kind, url) = operation
            .in_flight
            .take()
            .ok_or_else(|| Error::InvalidState {
                reason: format!("{op} has no request in flight"),
            })?;
        if kind == InFlight::Directory {
            shared.directory_in_flight = false;
        }
        if !operation.schedule_retry(None, now, &shared.policy) {
            operation.end(Action::Failed(Error::Transport {
                url,
                reason: reason.to_owned(),
            }));
        }
        Ok(())
    }

    /// Passes a challenge's deployment result to its order; for an order that has ended
    /// meanwhile, the challenge's cleanup follows.
    fn host_input(&mut self, op: OpId, token: &str, failure: Option<&str>) -> Result<(), Error> {
        if let Some(late) = self
            .deploying
            .iter_mut()
            .find(|(ended, task, _)| *ended == op && task.token == token)
        {
            late.2 = true;
            return Ok(());
        }
        let operation = self.ops.get_mut(&op).ok_or_else(|| unknown_op(op))?;
        operation.flow.challenge_ready(token, failure)?;
        operation.host_input = true;
        Ok(())
    }

    /// When `poll` will next have work without new input: `None` if every operation waits
    /// for a response or the host; a time at or before now means "poll again now".
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        if self.deploying.iter().any(|(_, _, reported)| *reported) {
            return Some(Timestamp::default());
        }
        let account_pending = self.account_pending();
        self.ops
            .values()
            .filter_map(|op| match readiness(&self.shared, op, account_pending) {
                Readiness::Ready => Some(Timestamp::default()),
                Readiness::At(at) => Some(at),
                Readiness::Blocked => None,
            })
            .min()
    }

    /// The account URL, once known.
    pub fn account_url(&self) -> Option<&str> {
        self.shared.account_url.as_deref()
    }

    /// The directory, once fetched.
    pub fn directory(&self) -> Option<&Directory> {
        self.shared.directory.as_ref()
    }

    /// The key the client signs with.
    pub fn account_key(&self) -> &PrivateKey {
        &self.shared.account_key
    }

    /// How many requests the client has asked the host to send.
    pub fn requests_sent(&self) -> u64 {
        self.shared.requests_sent
    }
}

/// The flow of an ARI request for a certificate (DER), with the randomness that picks the
/// time in the CA's window.
fn renewal_info_flow(certificate_der: &[u8], random: &mut Random) -> Result<Box<dyn Flow>, Error> {
    let cert_id = cert::ari_cert_id(certificate_der)?;
    Ok(Box::new(RenewalInfoFlow::new(cert_id, random.next_u64()?)))
}

/// When an operation can make progress without new input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Readiness {
    /// Now: it has an action queued or host input to act on.
    Ready,
    /// At this time (its next request, a retry or a poll); now if it is in the past.
    At(Timestamp),
    /// Only after input: a response, a challenge report, the directory or the account
    /// another operation is fetching or creating.
    Blocked,
}

/// The one rule behind both `poll` (what it may do now) and `next_wakeup` (when to call it
/// again): an operation's readiness.
fn readiness(shared: &Shared, op: &Operation, account_pending: bool) -> Readiness {
    if !op.outbox.is_empty() || op.has_host_input() {
        return Readiness::Ready;
    }
    if op.finished || op.in_flight.is_some() {
        return Readiness::Blocked;
    }
    if !op.started {
        let waits_for_directory = shared.directory.is_none() && shared.directory_in_flight;
        let waits_for_account = shared.directory.is_some()
            && op.flow.needs_account()
            && shared.account_url.is_none()
            && account_pending;
        if waits_for_directory || waits_for_account {
            return Readiness::Blocked;
        }
        return Readiness::At(op.wake_at);
    }
    match (&op.pending, op.host_deadline) {
        (Some(_), _) => Readiness::At(op.wake_at),
        (None, Some(deadline)) => Readiness::At(deadline),
        (None, None) => Readiness::Blocked,
    }
}

/// How long an operation waits for the host's report on the challenges it deployed: an hour,
/// or `poll_timeout_ms` if that is longer. Long enough for a DNS hook and its propagation
/// wait (the CLI stops a hook after 5 minutes and waits 2 for propagation by default; both
/// can be raised); the point is that a host loop that dropped a report does not hold the
/// order for ever.
fn host_report_timeout_ms(policy: &RetryPolicy) -> u64 {
    policy.poll_timeout_ms.max(HOST_REPORT_TIMEOUT_MS)
}

/// The least time an operation waits for the host's challenge reports: an hour.
const HOST_REPORT_TIMEOUT_MS: u64 = 60 * 60 * 1000;

/// The error for an operation whose host did not report on a challenge it was asked to
/// deploy within `waited` seconds.
fn host_never_reported(flow: &dyn Flow, waited: u64) -> Error {
    let unreported = flow.deployed().into_iter().find(|(_, reported)| !reported);
    match unreported {
        Some((task, _)) => Error::ChallengeDeployFailed {
            reason: format!(
                "no challenge-ready or challenge-failed for the challenge (token {}) within {waited} s",
                task.token
            ),
            identifier: task.identifier,
        },
        None => Error::InvalidState {
            reason: format!("waited {waited} s for the host without a challenge to report on"),
        },
    }
}

/// The error for an unknown operation id.
fn unknown_op(op: OpId) -> Error {
    Error::InvalidState {
        reason: format!("{op} is not a running operation"),
    }
}

/// Lets the operation's flow decide with the client's context, and carries it out.
fn decide(
    shared: &mut Shared,
    op: &mut Operation,
    now: Timestamp,
    choose: impl FnOnce(&mut dyn Flow, &mut Ctx<'_>) -> Result<Step, Error>,
) {
    let step = match shared.ctx(&mut op.outbox, now) {
        Ok(mut ctx) => choose(op.flow.as_mut(), &mut ctx),
        Err(e) => Err(e),
    };
    apply(shared, op, now, step);
}

/// Carries out a flow's decision on its operation.
fn apply(shared: &mut Shared, op: &mut Operation, now: Timestamp, step: Result<Step, Error>) {
    if !matches!(step, Ok(Step::AwaitHost)) {
        op.host_deadline = None;
    }
    match step {
        Ok(Step::Send(spec)) => {
            op.pending = Some(spec);
            op.wake_at = Timestamp::default();
        }
        Ok(Step::SendAt(spec, at)) => {
            op.pending = Some(spec);
            op.wake_at = at;
        }
        Ok(Step::AwaitHost) => {
            op.pending = None;
            op.host_deadline
                .get_or_insert(now.plus_millis(host_report_timeout_ms(&shared.policy)));
        }
        Ok(Step::Finish(outcome)) => {
            if let Outcome::Account(info) = &outcome {
                shared.account_url = Some(info.url.clone());
            }
            if let Some(key) = op.flow.replacement_account_key() {
                shared.account_key = key.clone();
            }
            op.end(Action::Done(outcome));
        }
        Err(e) => op.end(Action::Failed(e)),
    }
}
