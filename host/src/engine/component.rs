//! The engine's WebAssembly component in wasmtime. The component is embedded in the binary
//! (built by `build.rs`) unless `--engine FILE` names another; it is pre-initialised
//! ([`super::prepare`]) and compiled once, and the machine code cached on disk, keyed by
//! the component's hash and wasmtime's compatibility hash.

use std::path::Path;

use certsmith_core::{
    Account, AccountInfo, AccountStatus, Action, ChallengeTask, ClientConfig, Command, Error,
    HttpRequest, Identifier, Input, IssuedCertificate, Method, OpId, OrderRequest, Outcome, Output,
    Problem, RenewalAdvice, RevocationSigner, Snapshot, Solution, Subproblem, Timestamp,
};
use wasmtime::component::{HasSelf, Linker, ResourceAny};
use wasmtime::{Config, Store};
use zeroize::Zeroizing;

use super::{AcmeEngine, EngineError};
use crate::wasm_cache::WasmBytes;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "engine",
});

use exports::certsmith::acme::acme;
use exports::certsmith::acme::types as wit;

/// The component built from this workspace by `build.rs`.
static EMBEDDED: WasmBytes = WasmBytes::embedded(
    include_bytes!(env!("CERTSMITH_ENGINE_WASM")),
    env!("CERTSMITH_ENGINE_WASM_SHA256"),
);

/// How often the engine's clock ticks for its deadline.
const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// How many ticks one call into the engine may take (about 10 s; a call takes well under a
/// millisecond): a guest gone wrong traps instead of hanging the process.
const ENGINE_DEADLINE_TICKS: u64 = 100;

/// The most memory the engine may grow to: an order needs well under 2 MiB; a guest
/// gone wrong must fail its call, not take the machine's memory.
const ENGINE_MEMORY_LIMIT: usize = 64 << 20;

/// The store's data: the component's only import is randomness from the OS, and the limits
/// it runs under.
pub(super) struct HostState {
    limits: wasmtime::StoreLimits,
    /// How many times the component drew randomness (a pre-initialisation must not).
    draws: u64,
}

impl HostState {
    /// The state of a new store: the engine's memory limit.
    pub(super) fn new() -> Self {
        let limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(ENGINE_MEMORY_LIMIT)
            .trap_on_grow_failure(true)
            .build();
        Self { limits, draws: 0 }
    }

    /// How many times the component has drawn randomness in this store.
    pub(super) fn draws(&self) -> u64 {
        self.draws
    }

    /// The limits a store of this state runs under.
    pub(super) fn limiter(&mut self) -> &mut dyn wasmtime::ResourceLimiter {
        &mut self.limits
    }
}

/// Adds the engine's one import, `wasi:random`, to `linker`.
pub(super) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasi::random::random::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

impl wasi::random::random::Host for HostState {
    fn get_random_bytes(&mut self, len: u64) -> Vec<u8> {
        self.draws += 1;
        let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(0)];
        // The OS RNG failing is not recoverable; zero bytes would be worse than a trap.
        if getrandom::fill(&mut bytes).is_err() {
            std::process::abort();
        }
        bytes
    }

    fn get_random_u64(&mut self) -> u64 {
        self.draws += 1;
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            std::process::abort();
        }
        u64::from_le_bytes(bytes)
    }
}

/// How wasmtime runs the engine.
pub(super) fn wasm_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // The engine's calls are plain synchronous ones: no bookkeeping for concurrent guests.
    config.concurrency_support(false);
    // Unwind tables for the compiled code serve only native debuggers and profilers, and
    // registering them with the system unwinder cost about 3 ms of CPU at every start.
    config.native_unwind_info(false);
    config.epoch_interruption(true);
    config
}

/// A wasmtime failure as an engine error: one line with the reason (a trap's own message,
/// not the multi-line backtrace around it).
fn wasm(error: impl Into<wasmtime::Error>) -> EngineError {
    let error: wasmtime::Error = error.into();
    let reason = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => format!("the engine trapped: {trap}"),
        None => error.root_cause().to_string(),
    };
    let first_line = reason.lines().next().unwrap_or_default().to_owned();
    EngineError::Wasm(first_line)
}

/// The engine component, instantiated, with one ACME client.
pub struct ComponentEngine {
    store: Store<HostState>,
    bindings: Engine,
    client: ResourceAny,
}

impl ComponentEngine {
    /// Loads the component (embedded, or `engine_file`), compiling it or reusing the cache
    /// in `cache_dir`, and creates a client for `config` with the account key.
    pub fn new(
        config: ClientConfig,
        account_key_pem: &str,
        engine_file: Option<&Path>,
        cache_dir: Option<&Path>,
    ) -> Result<Self, EngineError> {
        let bytes =
            WasmBytes::file_or(engine_file, &EMBEDDED, "engine file").map_err(EngineError::Wasm)?;
        let wasm_config = wasm_config();
        let engine = wasmtime::Engine::new(&wasm_config).map_err(wasm)?;
        crate::epoch::start_clock(&engine, EPOCH_TICK);
        let preinitialize = |bytes: &[u8]| super::prepare::preinitialize(&wasm_config, bytes);
        let component = crate::wasm_cache::load_component(
            &engine,
            &bytes,
            cache_dir,
            "engine-prepared",
            Some(&preinitialize),
        )
        .map_err(EngineError::Wasm)?;
        let mut linker = Linker::<HostState>::new(&engine);
        link(&mut linker).map_err(wasm)?;
        let mut store = Store::new(&engine, HostState::new());
        store.limiter(HostState::limiter);
        store.set_epoch_deadline(ENGINE_DEADLINE_TICKS);
        let bindings = Engine::instantiate(&mut store, &component, &linker).map_err(|e| {
            EngineError::Wasm(format!(
                "cannot instantiate the engine component (it must import only wasi:random): {}",
                e.root_cause()
            ))
        })?;
        let client = bindings
            .certsmith_acme_acme()
            .client()
            .call_create(&mut store, &config_out(config), account_key_pem)
            .map_err(wasm)?
            .map_err(refused)?;
        Ok(Self {
            store,
            bindings,
            client,
        })
    }
}

/// A refused call's error.
fn refused(e: wit::EngineError) -> EngineError {
    error_in(e).map_or_else(|bug| bug, EngineError::Refused)
}

impl AcmeEngine for ComponentEngine {
    fn start(&mut self, command: Command) -> Result<OpId, EngineError> {
        let command = command_out(command);
        let api = self.bindings.certsmith_acme_acme().client();
        self.store.set_epoch_deadline(ENGINE_DEADLINE_TICKS);
        api.call_start(&mut self.store, self.client, &command)
            .map_err(wasm)?
            .map(OpId)
            .map_err(refused)
    }

    fn poll(&mut self, now: Timestamp) -> Result<Option<Output>, EngineError> {
        let api = self.bindings.certsmith_acme_acme().client();
        self.store.set_epoch_deadline(ENGINE_DEADLINE_TICKS);
        let output = api
            .call_poll(&mut self.store, self.client, now.0)
            .map_err(wasm)?;
        output.map(output_in).transpose()
    }

    fn handle(&mut self, now: Timestamp, op: OpId, input: Input) -> Result<(), EngineError> {
        let input = match input {
            Input::Response(response) => acme::Input::Response(wit::HttpResponse {
                status: response.status,
                headers: response.headers,
                body: response.body,
            }),
            Input::TransportError(reason) => acme::Input::TransportError(reason),
            Input::ChallengeReady { token } => acme::Input::ChallengeReady(token),
            Input::ChallengeFailed { token, reason } => {
                acme::Input::ChallengeFailed(acme::ChallengeFailure { token, reason })
            }
        };
        let api = self.bindings.certsmith_acme_acme().client();
        self.store.set_epoch_deadline(ENGINE_DEADLINE_TICKS);
        api.call_handle(&mut self.store, self.client, now.0, op.0, &input)
            .map_err(wasm)?
            .map_err(refused)
    }

    fn next_wakeup(&mut self) -> Result<Option<Timestamp>, EngineError> {
        let api = self.bindings.certsmith_acme_acme().client();
        self.store.set_epoch_deadline(ENGINE_DEADLINE_TICKS);
        let next = api
            .call_next_wakeup(&mut self.store, self.client)
            .map_err(wasm)?;
        Ok(next.map(Timestamp))
    }

    fn requests_sent(&mut self) -> Result<u64, EngineError> {
        let api = self.bindings.certsmith_acme_acme().client();
        self.store.set_epoch_deadline(ENGINE_DEADLINE_TICKS);
        api.call_requests_sent(&mut self.store, self.client)
            .map_err(wasm)
    }
}

// ---- host → component ----

fn identifier_out(id: Identifier) -> wit::Identifier {
    wit::Identifier {
        kind: match id.kind {
            certsmith_core::IdentifierType::Dns => wit::IdentifierKind::Dns,
            certsmith_core::IdentifierType::Ip => wit::IdentifierKind::Ip,
        },
        value: id.value,
    }
}

fn config_out(c: ClientConfig) -> wit::ClientConfig {
    let r = c.retry;
    wit::ClientConfig {
        directory_url: c.directory_url,
        account_url: c.account_url,
        retry: Some(wit::RetryPolicy {
            max_bad_nonce_retries: r.max_bad_nonce_retries,
            max_server_retries: r.max_server_retries,
            poll_initial_ms: r.poll_initial_ms,
            poll_max_ms: r.poll_max_ms,
            poll_timeout_ms: r.poll_timeout_ms,
            max_inline_wait_ms: r.max_inline_wait_ms,
        }),
        user_agent: c.user_agent,
        seed: c.seed.map(Vec::from),
    }
}

/// The engine's command as the WIT's.
fn command_out(command: Command) -> acme::Command {
    match command {
        Command::NewAccount(r) => acme::Command::NewAccount(wit::NewAccountRequest {
            contact: r.contact,
            terms_of_service_agreed: r.terms_of_service_agreed,
            only_return_existing: r.only_return_existing,
            external_account: r.external_account.map(|e| wit::ExternalAccountKey {
                kid: e.kid,
                hmac_key: e.hmac_key.to_vec(),
            }),
        }),
        Command::FetchAccount => acme::Command::FetchAccount,
        Command::UpdateAccount { contact } => acme::Command::UpdateAccount(contact),
        Command::DeactivateAccount => acme::Command::DeactivateAccount,
        Command::ChangeKey(key) => acme::Command::ChangeKey(key.to_pem().to_string()),
        Command::Order(r) => acme::Command::Order(order_out(r)),
        Command::Revoke(r) => acme::Command::Revoke(wit::RevocationRequest {
            certificate_der: r.certificate_der,
            reason: r.reason,
            signer: match r.signer {
                RevocationSigner::Account => wit::RevocationSigner::Account,
                RevocationSigner::CertificateKey(key) => {
                    wit::RevocationSigner::CertificateKey(key.to_pem().to_string())
                }
            },
        }),
        Command::RenewalInfo { certificate_der } => acme::Command::RenewalInfo(certificate_der),
        Command::Resume(snapshot) => acme::Command::Resume(snapshot.to_json()),
        Command::Abandon(snapshot) => acme::Command::Abandon(snapshot.to_json()),
    }
}

fn order_out(r: OrderRequest) -> wit::OrderRequest {
    let identifiers = r.identifiers.into_iter().map(identifier_out).collect();
    let challenge_types = r
        .challenge_types
        .into_iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    let certificate_key = match r.certificate_key {
        certsmith_core::CertificateKey::Generate(kind) => {
            wit::CertificateKey::Generate(match kind {
                certsmith_core::KeyType::P256 => wit::KeyType::P256,
                certsmith_core::KeyType::P384 => wit::KeyType::P384,
            })
        }
        certsmith_core::CertificateKey::Key(key) => {
            wit::CertificateKey::Key(key.to_pem().to_string())
        }
        certsmith_core::CertificateKey::Csr(der) => wit::CertificateKey::Csr(der),
    };
    // The plain options, field for field (core's list, `order_request_options!`).
    macro_rules! with_options {
        ($($field:ident: $ty:ty,)*) => {
            wit::OrderRequest {
                identifiers,
                challenge_types,
                certificate_key,
                $($field: r.$field.map(Into::into),)*
            }
        };
    }
    certsmith_core::order_request_options!(with_options)
}

// ---- component → host ----

fn identifier_in(id: wit::Identifier) -> Identifier {
    match id.kind {
        wit::IdentifierKind::Dns => Identifier::dns(id.value),
        wit::IdentifierKind::Ip => Identifier::ip(id.value),
    }
}

/// A WIT problem document as the engine's.
fn problem_in(p: wit::Problem) -> Problem {
    Problem {
        kind: p.kind,
        detail: p.detail,
        status: p.status,
        subproblems: p
            .subproblems
            .into_iter()
            .map(|s| Subproblem {
                kind: s.kind,
                detail: s.detail,
                identifier: s.identifier.map(identifier_in),
            })
            .collect(),
    }
}

/// A WIT engine error as the engine's own, variant for variant (the problem and the
/// identifier from the record's own fields). A case about an identifier that names none
/// is the engine's bug, reported as such.
fn error_in(e: wit::EngineError) -> Result<Error, EngineError> {
    let problem = e.problem.map(|p| Box::new(problem_in(p)));
    let identifier = e.identifier.map(identifier_in);
    let named = || {
        identifier.clone().ok_or_else(|| {
            EngineError::Wasm(format!(
                "the engine's error names no identifier: {}",
                e.message
            ))
        })
    };
    Ok(match e.kind {
        wit::ErrorKind::Acme(a) => Error::Acme {
            url: a.url,
            status: a.status,
            problem: problem.unwrap_or_default(),
            retry_after: a.retry_after.map(Timestamp),
        },
        wit::ErrorKind::AuthorizationFailed(challenge_type) => Error::AuthorizationFailed {
            identifier: named()?,
            challenge_type,
            problem,
        },
        wit::ErrorKind::NoCompatibleChallenge(types) => Error::NoCompatibleChallenge {
            identifier: named()?,
            offered: types.offered,
            accepted: types.accepted,
        },
        wit::ErrorKind::ChallengeDeployFailed(reason) => Error::ChallengeDeployFailed {
            identifier: named()?,
            reason,
        },
        wit::ErrorKind::OrderFailed(url) => Error::OrderFailed { url, problem },
        wit::ErrorKind::InvalidResponse(u) => Error::InvalidResponse {
            url: u.what,
            expected: u.expected,
        },
        wit::ErrorKind::InvalidInput(u) => Error::InvalidInput {
            what: u.what,
            expected: u.expected,
        },
        wit::ErrorKind::Transport(t) => Error::Transport {
            url: t.url,
            reason: t.reason,
        },
        wit::ErrorKind::Timeout(what) => Error::Timeout { what },
        wit::ErrorKind::NoAccount => Error::NoAccount,
        wit::ErrorKind::InvalidState(reason) => Error::InvalidState { reason },
        wit::ErrorKind::Crypto(reason) => Error::Crypto { reason },
    })
}

fn task_in(t: wit::ChallengeTask) -> ChallengeTask {
    ChallengeTask {
        identifier: identifier_in(t.identifier),
        token: t.token,
        key_authorization: t.key_authorization,
        solution: match t.solution {
            wit::Solution::Http01(path) => Solution::Http01 { path },
            wit::Solution::Dns01(r) => Solution::Dns01 {
                record_name: r.name,
                value: r.value,
            },
            wit::Solution::TlsAlpn01(c) => Solution::TlsAlpn01 {
                certificate_pem: c.certificate_pem,
                private_key_pem: Zeroizing::new(c.private_key_pem),
            },
        },
    }
}

fn outcome_in(o: wit::Outcome) -> Outcome {
    match o {
        wit::Outcome::Account(a) => Outcome::Account(AccountInfo {
            url: a.url,
            account: Account {
                status: match a.status {
                    wit::AccountStatus::Valid => AccountStatus::Valid,
                    wit::AccountStatus::Deactivated => AccountStatus::Deactivated,
                    wit::AccountStatus::Revoked => AccountStatus::Revoked,
                },
                contact: a.contact,
                orders: None,
            },
            created: a.created,
        }),
        wit::Outcome::Certificate(c) => Outcome::Certificate(IssuedCertificate {
            chain_pem: c.chain_pem,
            private_key_pem: c.private_key_pem.map(Zeroizing::new),
            order_url: c.order_url,
            certificate_url: c.certificate_url,
            alternate_urls: c.alternate_urls,
        }),
        wit::Outcome::Revoked => Outcome::Revoked,
        wit::Outcome::KeyChanged => Outcome::KeyChanged,
        wit::Outcome::RenewalInfo(a) => Outcome::RenewalInfo(RenewalAdvice {
            window_start: Timestamp(a.window_start),
            window_end: Timestamp(a.window_end),
            renew_at: Timestamp(a.renew_at),
            explanation_url: a.explanation_url,
            check_again_at: Timestamp(a.check_again_at),
        }),
        wit::Outcome::OrderAbandoned(n) => Outcome::OrderAbandoned {
            authorizations_deactivated: n,
        },
    }
}

fn output_in(o: wit::Output) -> Result<Output, EngineError> {
    let action = match o.action {
        wit::Action::Send(r) => Action::Send(HttpRequest {
            method: match r.method {
                wit::Method::Get => Method::Get,
                wit::Method::Head => Method::Head,
                wit::Method::Post => Method::Post,
            },
            url: r.url,
            headers: r.headers,
            body: r.body,
        }),
        wit::Action::Deploy(t) => Action::Deploy(task_in(t)),
        wit::Action::Cleanup(t) => Action::Cleanup(task_in(t)),
        wit::Action::Save(json) => Action::Save(Snapshot::from_json(&json).map_err(|e| {
            EngineError::Wasm(format!(
                "the engine's order snapshot does not read back: {e}"
            ))
        })?),
        wit::Action::Done(outcome) => Action::Done(outcome_in(outcome)),
        wit::Action::Failed(e) => Action::Failed(error_in(e)?),
    };
    Ok(Output {
        op: OpId(o.op),
        action,
    })
}

#[cfg(test)]
mod tests {
    use certsmith_core::{HttpResponse, KeyType, PrivateKey, b64url_decode};

    use super::*;

    /// A response with `headers` and `body`.
    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Input {
        Input::Response(HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    /// The plain order options cross the seam both ways (`order_out` here, `order_in` in the
    /// component): newOrder carries notBefore, notAfter, replaces and the profile, and the
    /// snapshot the preferred issuer.
    #[test]
    fn plain_order_options_cross_into_the_component() {
        let key = PrivateKey::generate(KeyType::P256).expect("key").to_pem();
        let mut config = ClientConfig::new("https://ca.test/dir");
        config.account_url = Some("https://ca.test/acct/1".to_owned());
        let mut engine = ComponentEngine::new(config, &key, None, None).expect("engine");
        let now = Timestamp(1_800_000_000_000);
        let order = OrderRequest {
            not_before: Some(now),
            not_after: Some(now.plus_millis(86_400_000)),
            replaces: Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".to_owned()),
            profile: Some("shortlived".to_owned()),
            preferred_issuer: Some("Root X2".to_owned()),
            ..OrderRequest::new(vec![Identifier::dns("a.example")])
        };
        let op = engine.start(Command::Order(order)).expect("started");
        let nonce = [("Replay-Nonce", "nonce-1")];
        let mut answers = vec![
            response(
                200,
                &[("Content-Type", "application/json")],
                r#"{"newNonce":"https://ca.test/nonce","newAccount":"https://ca.test/new-acct",
                "newOrder":"https://ca.test/new-order","revokeCert":"https://ca.test/revoke",
                "keyChange":"https://ca.test/key-change","meta":{"profiles":{"shortlived":"6 days"}}}"#,
            ),
            response(200, &nonce, ""),
            response(
                201,
                &[
                    ("Replay-Nonce", "nonce-2"),
                    ("Location", "https://ca.test/order/1"),
                    ("Content-Type", "application/json"),
                ],
                r#"{"status":"pending","expires":"2027-01-16T08:00:00Z",
                "identifiers":[{"type":"dns","value":"a.example"}],
                "authorizations":["https://ca.test/authz/1"],"finalize":"https://ca.test/finalize/1"}"#,
            ),
        ]
        .into_iter();
        let (mut new_order, mut snapshot) = (None, None);
        while snapshot.is_none() {
            let output = engine.poll(now).expect("poll").expect("an action");
            match output.action {
                Action::Send(request) => {
                    if request.url.ends_with("/new-order") {
                        let jws: serde_json::Value =
                            serde_json::from_slice(&request.body).expect("JWS");
                        let payload = jws["payload"].as_str().expect("payload");
                        new_order = Some(
                            serde_json::from_slice::<serde_json::Value>(
                                &b64url_decode(payload, "payload").expect("base64url"),
                            )
                            .expect("JSON"),
                        );
                    }
                    let answer = answers.next().expect("an answer");
                    engine.handle(now, op, answer).expect("handled");
                }
                Action::Save(s) => snapshot = Some(s),
                other => panic!("unexpected {other:?}"),
            }
        }
        let new_order = new_order.expect("newOrder sent");
        assert_eq!(new_order["notBefore"], "2027-01-15T08:00:00Z");
        assert_eq!(new_order["notAfter"], "2027-01-16T08:00:00Z");
        assert_eq!(new_order["replaces"], "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        assert_eq!(new_order["profile"], "shortlived");
        let snapshot = snapshot.expect("snapshot").to_json();
        assert!(
            snapshot.contains(r#""preferredIssuer":"Root X2""#),
            "{snapshot}"
        );
    }
}
