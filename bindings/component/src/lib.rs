//! The engine's WebAssembly component exports (`wit/acme.wit`), for `wasm32-unknown-unknown`
//! made into a component with wit-component. Its only import is `wasi:random`.

// The generated bindings and the getrandom hook below need `unsafe`; generated items have no
// docs.
#![allow(unsafe_code, missing_docs)]
// The exports return the WIT's `engine-error` as generated (large on 64-bit native builds,
// which only lint this crate; the component is wasm32).
#![allow(clippy::result_large_err)]

use core::cell::RefCell;

use zeroize::Zeroizing;

use certsmith_core as core_api;

wit_bindgen::generate!({
    path: "../../wit",
    world: "engine",
    generate_all,
});

use exports::certsmith::acme::acme::{self, Guest as AcmeGuest, GuestClient};
use exports::certsmith::acme::helpers::Guest as HelpersGuest;
use exports::certsmith::acme::types as wit;

/// Routes getrandom (keys, serials, ARI times) to the imported `wasi:random`.
#[cfg(getrandom_backend = "custom")]
#[unsafe(no_mangle)]
unsafe extern "Rust" fn __getrandom_v03_custom(
    dest: *mut u8,
    len: usize,
) -> Result<(), getrandom::Error> {
    let bytes = wasi::random::random::get_random_bytes(len as u64);
    if bytes.len() != len {
        return Err(getrandom::Error::UNEXPECTED);
    }
    // SAFETY: getrandom hands us `len` writable bytes at `dest`; `bytes` has exactly `len`.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), dest, len) };
    Ok(())
}

struct Component;

export!(Component);

impl Guest for Component {
    /// Builds the tables of base-point multiples (p256's and p384's, built lazily at the
    /// first use) by generating a key of each curve from a fixed seed and signing with it:
    /// no randomness is drawn, nothing is kept.
    fn prepare() {
        for kind in [core_api::KeyType::P256, core_api::KeyType::P384] {
            let mut seeded = core_api::Random::seeded([0x70; 32]);
            if let Ok(key) = core_api::PrivateKey::generate_with(kind, &mut seeded) {
                // A failed signature only leaves the tables to the first real one.
                let _ = key.sign_jws(b"prepare");
            }
        }
    }
}

// ---- conversions: WIT → core ----

fn identifier_in(id: wit::Identifier) -> core_api::Identifier {
    match id.kind {
        wit::IdentifierKind::Dns => core_api::Identifier::dns(id.value),
        wit::IdentifierKind::Ip => core_api::Identifier::ip(id.value),
    }
}

fn key_type_in(kind: wit::KeyType) -> core_api::KeyType {
    match kind {
        wit::KeyType::P256 => core_api::KeyType::P256,
        wit::KeyType::P384 => core_api::KeyType::P384,
    }
}

fn key_in(pem: &str) -> Result<core_api::PrivateKey, wit::EngineError> {
    core_api::PrivateKey::from_pem(pem).map_err(error_out)
}

/// A helper's key (PEM), or its failure.
fn key(pem: &str) -> Result<core_api::PrivateKey, wit::HelperError> {
    core_api::PrivateKey::from_pem(pem).map_err(helper_error_out)
}

/// A helper's failure: whose fault, and the engine's one line.
fn helper_error_out(e: core_api::Error) -> wit::HelperError {
    wit::HelperError {
        fault: fault_out(e.fault()),
        message: e.to_string(),
    }
}

/// Whose fault, as the WIT says it.
fn fault_out(fault: core_api::Fault) -> wit::Fault {
    match fault {
        core_api::Fault::Caller => wit::Fault::Caller,
        core_api::Fault::Ca => wit::Fault::Ca,
        core_api::Fault::Network => wit::Fault::Network,
        core_api::Fault::Host => wit::Fault::Host,
    }
}

fn response_in(r: wit::HttpResponse) -> core_api::HttpResponse {
    core_api::HttpResponse {
        status: r.status,
        headers: r.headers,
        body: r.body,
    }
}

fn order_in(r: wit::OrderRequest) -> Result<core_api::OrderRequest, wit::EngineError> {
    let mut order =
        core_api::OrderRequest::new(r.identifiers.into_iter().map(identifier_in).collect());
    // ACME's names: a misspelt one is an error the host sees, not a trap.
    order.challenge_types = r
        .challenge_types
        .iter()
        .map(|name| name.parse())
        .collect::<Result<_, _>>()
        .map_err(error_out)?;
    order.certificate_key = match r.certificate_key {
        wit::CertificateKey::Generate(kind) => {
            core_api::CertificateKey::Generate(key_type_in(kind))
        }
        wit::CertificateKey::Key(pem) => core_api::CertificateKey::Key(key_in(&pem)?),
        wit::CertificateKey::Csr(der) => core_api::CertificateKey::Csr(der),
    };
    // The plain options, field for field (core's list, `order_request_options!`).
    macro_rules! copy_options {
        ($($field:ident: $ty:ty,)*) => {
            $(order.$field = r.$field.map(Into::into);)*
        };
    }
    core_api::order_request_options!(copy_options);
    Ok(order)
}

fn config_in(c: wit::ClientConfig) -> Result<core_api::ClientConfig, wit::EngineError> {
    let defaults = core_api::RetryPolicy::default();
    let seed = c
        .seed
        .map(|bytes| core_api::Random::seed_from_bytes(&bytes))
        .transpose()
        .map_err(error_out)?;
    Ok(core_api::ClientConfig {
        directory_url: c.directory_url,
        account_url: c.account_url,
        retry: c.retry.map_or(defaults, |r| core_api::RetryPolicy {
            max_bad_nonce_retries: r.max_bad_nonce_retries,
            max_server_retries: r.max_server_retries,
            poll_initial_ms: r.poll_initial_ms,
            poll_max_ms: r.poll_max_ms,
            poll_timeout_ms: r.poll_timeout_ms,
            max_inline_wait_ms: r.max_inline_wait_ms,
        }),
        user_agent: c.user_agent,
        seed,
    })
}

// ---- conversions: core → WIT ----

fn identifier_out(id: core_api::Identifier) -> wit::Identifier {
    wit::Identifier {
        kind: match id.kind {
            core_api::IdentifierType::Dns => wit::IdentifierKind::Dns,
            core_api::IdentifierType::Ip => wit::IdentifierKind::Ip,
        },
        value: id.value,
    }
}

fn problem_out(p: core_api::Problem) -> wit::Problem {
    wit::Problem {
        kind: p.kind,
        detail: p.detail,
        status: p.status,
        subproblems: p
            .subproblems
            .into_iter()
            .map(|s| wit::Subproblem {
                kind: s.kind,
                detail: s.detail,
                identifier: s.identifier.map(identifier_out),
            })
            .collect(),
    }
}

fn error_out(e: core_api::Error) -> wit::EngineError {
    let message = e.to_string();
    let fault = fault_out(e.fault());
    let problem = e.problem().cloned().map(problem_out);
    let identifier = e.identifier().cloned().map(identifier_out);
    let unexpected = |what, expected| wit::Unexpected { what, expected };
    let kind = match e {
        core_api::Error::Acme {
            url,
            status,
            retry_after,
            ..
        } => wit::ErrorKind::Acme(wit::AcmeRefusal {
            url,
            status,
            retry_after: retry_after.map(|t| t.0),
        }),
        core_api::Error::AuthorizationFailed { challenge_type, .. } => {
            wit::ErrorKind::AuthorizationFailed(challenge_type)
        }
        core_api::Error::NoCompatibleChallenge {
            offered, accepted, ..
        } => wit::ErrorKind::NoCompatibleChallenge(wit::ChallengeTypes { offered, accepted }),
        core_api::Error::ChallengeDeployFailed { reason, .. } => {
            wit::ErrorKind::ChallengeDeployFailed(reason)
        }
        core_api::Error::OrderFailed { url, .. } => wit::ErrorKind::OrderFailed(url),
        core_api::Error::InvalidResponse { url, expected } => {
            wit::ErrorKind::InvalidResponse(unexpected(url, expected))
        }
        core_api::Error::InvalidInput { what, expected } => {
            wit::ErrorKind::InvalidInput(unexpected(what, expected))
        }
        core_api::Error::Transport { url, reason } => {
            wit::ErrorKind::Transport(wit::TransportFailure { url, reason })
        }
        core_api::Error::Timeout { what } => wit::ErrorKind::Timeout(what),
        core_api::Error::NoAccount => wit::ErrorKind::NoAccount,
        core_api::Error::InvalidState { reason } => wit::ErrorKind::InvalidState(reason),
        core_api::Error::Crypto { reason } => wit::ErrorKind::Crypto(reason),
        // A kind newer than this WIT (the engine's error is non-exhaustive): its message.
        other => wit::ErrorKind::InvalidState(other.to_string()),
    };
    wit::EngineError {
        kind,
        fault,
        message,
        problem,
        identifier,
    }
}

fn task_out(t: core_api::ChallengeTask) -> wit::ChallengeTask {
    wit::ChallengeTask {
        identifier: identifier_out(t.identifier),
        token: t.token,
        key_authorization: t.key_authorization,
        solution: match t.solution {
            core_api::Solution::Http01 { path } => wit::Solution::Http01(path),
            core_api::Solution::Dns01 { record_name, value } => {
                wit::Solution::Dns01(wit::DnsRecord {
                    name: record_name,
                    value,
                })
            }
            core_api::Solution::TlsAlpn01 {
                certificate_pem,
                private_key_pem,
            } => wit::Solution::TlsAlpn01(wit::TlsAlpnCertificate {
                certificate_pem,
                private_key_pem: private_key_pem.to_string(),
            }),
        },
    }
}

fn outcome_out(o: core_api::Outcome) -> wit::Outcome {
    match o {
        core_api::Outcome::Account(info) => wit::Outcome::Account(wit::AccountInfo {
            url: info.url,
            status: match info.account.status {
                core_api::AccountStatus::Valid => wit::AccountStatus::Valid,
                core_api::AccountStatus::Deactivated => wit::AccountStatus::Deactivated,
                core_api::AccountStatus::Revoked => wit::AccountStatus::Revoked,
            },
            contact: info.account.contact,
            created: info.created,
        }),
        core_api::Outcome::Certificate(c) => wit::Outcome::Certificate(wit::IssuedCertificate {
            chain_pem: c.chain_pem,
            private_key_pem: c.private_key_pem.map(|k| k.to_string()),
            order_url: c.order_url,
            certificate_url: c.certificate_url,
            alternate_urls: c.alternate_urls,
        }),
        core_api::Outcome::Revoked => wit::Outcome::Revoked,
        core_api::Outcome::KeyChanged => wit::Outcome::KeyChanged,
        core_api::Outcome::RenewalInfo(a) => wit::Outcome::RenewalInfo(wit::RenewalAdvice {
            window_start: a.window_start.0,
            window_end: a.window_end.0,
            renew_at: a.renew_at.0,
            explanation_url: a.explanation_url,
            check_again_at: a.check_again_at.0,
        }),
        core_api::Outcome::OrderAbandoned {
            authorizations_deactivated,
        } => wit::Outcome::OrderAbandoned(authorizations_deactivated),
    }
}

/// A WIT command as the engine's.
fn command_in(command: acme::Command) -> Result<core_api::Command, wit::EngineError> {
    Ok(match command {
        acme::Command::NewAccount(r) => {
            core_api::Command::NewAccount(core_api::NewAccountRequest {
                contact: r.contact,
                terms_of_service_agreed: r.terms_of_service_agreed,
                only_return_existing: r.only_return_existing,
                external_account: r.external_account.map(|e| core_api::ExternalAccountKey {
                    kid: e.kid,
                    hmac_key: Zeroizing::new(e.hmac_key),
                }),
            })
        }
        acme::Command::FetchAccount => core_api::Command::FetchAccount,
        acme::Command::UpdateAccount(contact) => core_api::Command::UpdateAccount { contact },
        acme::Command::DeactivateAccount => core_api::Command::DeactivateAccount,
        acme::Command::ChangeKey(pem) => core_api::Command::ChangeKey(key_in(&pem)?),
        acme::Command::Order(request) => core_api::Command::Order(order_in(request)?),
        acme::Command::Revoke(r) => {
            let signer = match r.signer {
                wit::RevocationSigner::Account => core_api::RevocationSigner::Account,
                wit::RevocationSigner::CertificateKey(pem) => {
                    core_api::RevocationSigner::CertificateKey(key_in(&pem)?)
                }
            };
            core_api::Command::Revoke(core_api::RevocationRequest {
                certificate_der: r.certificate_der,
                reason: r.reason,
                signer,
            })
        }
        acme::Command::RenewalInfo(certificate_der) => {
            core_api::Command::RenewalInfo { certificate_der }
        }
        acme::Command::Resume(json) => core_api::Command::Resume(snapshot_in(&json)?),
        acme::Command::Abandon(json) => core_api::Command::Abandon(snapshot_in(&json)?),
    })
}

/// A snapshot from its JSON.
fn snapshot_in(json: &str) -> Result<core_api::Snapshot, wit::EngineError> {
    core_api::Snapshot::from_json(json).map_err(error_out)
}

fn output_out(o: core_api::Output) -> wit::Output {
    let action = match o.action {
        core_api::Action::Send(r) => wit::Action::Send(wit::HttpRequest {
            method: match r.method {
                core_api::Method::Get => wit::Method::Get,
                core_api::Method::Head => wit::Method::Head,
                core_api::Method::Post => wit::Method::Post,
            },
            url: r.url,
            headers: r.headers,
            body: r.body,
        }),
        core_api::Action::Deploy(t) => wit::Action::Deploy(task_out(t)),
        core_api::Action::Cleanup(t) => wit::Action::Cleanup(task_out(t)),
        core_api::Action::Save(s) => wit::Action::Save(s.to_json()),
        core_api::Action::Done(outcome) => wit::Action::Done(outcome_out(outcome)),
        core_api::Action::Failed(e) => wit::Action::Failed(error_out(e)),
    };
    wit::Output { op: o.op.0, action }
}

fn info_out(info: core_api::CertificateInfo) -> wit::CertificateInfo {
    wit::CertificateInfo {
        default_renewal_time: info.default_renewal_time().0,
        subject: info.subject,
        issuer: info.issuer,
        issuer_common_name: info.issuer_common_name,
        sans: info.sans.into_iter().map(identifier_out).collect(),
        serial_hex: info.serial_hex,
        not_before: info.not_before.0,
        not_after: info.not_after.0,
        key_type: info.key_type,
        is_ca: info.is_ca,
        ari_id: info.ari_id,
    }
}

// ---- exports ----

impl HelpersGuest for Component {
    fn generate_key(kind: wit::KeyType) -> Result<String, wit::HelperError> {
        let key = core_api::PrivateKey::generate(key_type_in(kind)).map_err(helper_error_out)?;
        Ok(key.to_pem().to_string())
    }

    fn jwk_thumbprint(key_pem: String) -> Result<String, wit::HelperError> {
        Ok(key(&key_pem)?.jwk().thumbprint())
    }

    fn key_authorization(token: String, thumbprint: String) -> String {
        core_api::key_authorization(&token, &thumbprint)
    }

    fn dns01_record_name(domain: String) -> String {
        core_api::dns01_record_name(&domain)
    }

    fn dns01_value(key_authorization: String) -> String {
        core_api::dns01_value(&key_authorization)
    }

    fn tls_alpn01_certificate(
        identifier: wit::Identifier,
        key_authorization: String,
        now: u64,
    ) -> Result<wit::TlsAlpnCertificate, wit::HelperError> {
        let cert = core_api::tls_alpn01_certificate(
            &identifier_in(identifier),
            &key_authorization,
            core_api::Timestamp(now),
            &mut core_api::Random::platform(),
        )
        .map_err(helper_error_out)?;
        Ok(wit::TlsAlpnCertificate {
            certificate_pem: cert.certificate_pem,
            private_key_pem: cert.private_key_pem.to_string(),
        })
    }

    fn build_csr(
        identifiers: Vec<wit::Identifier>,
        key_pem: String,
    ) -> Result<Vec<u8>, wit::HelperError> {
        let ids: Vec<_> = identifiers.into_iter().map(identifier_in).collect();
        core_api::build_csr(&ids, &key(&key_pem)?).map_err(helper_error_out)
    }

    fn inspect_certificates(pem: String) -> Result<Vec<wit::CertificateInfo>, wit::HelperError> {
        let ders = core_api::split_pem_chain(&pem).map_err(helper_error_out)?;
        ders.iter()
            .map(|der| {
                core_api::inspect_certificate(der)
                    .map(info_out)
                    .map_err(helper_error_out)
            })
            .collect()
    }

    fn ari_cert_id(certificate_der: Vec<u8>) -> Result<String, wit::HelperError> {
        core_api::ari_cert_id(&certificate_der).map_err(helper_error_out)
    }

    fn key_matches_certificate(
        key_pem: String,
        certificate_der: Vec<u8>,
    ) -> Result<bool, wit::HelperError> {
        core_api::key_matches_certificate(&key(&key_pem)?, &certificate_der)
            .map_err(helper_error_out)
    }

    fn sign_jws(
        key_pem: String,
        kid: Option<String>,
        nonce: Option<String>,
        url: String,
        payload: Option<Vec<u8>>,
    ) -> Result<String, wit::HelperError> {
        let key = key(&key_pem)?;
        let key_id = match &kid {
            Some(kid) => core_api::KeyId::Kid(kid),
            None => core_api::KeyId::Jwk,
        };
        let jws = core_api::sign_jws(&key, key_id, nonce.as_deref(), &url, payload.as_deref())
            .map_err(helper_error_out)?;
        Ok(String::from_utf8(jws.to_body()).unwrap_or_default())
    }
}

/// The `client` resource: a core client behind a `RefCell` (WIT methods take `&self`).
pub struct EngineClient(RefCell<core_api::Client>);

impl EngineClient {
    /// Runs `f` on the client.
    fn with<T>(&self, f: impl FnOnce(&mut core_api::Client) -> T) -> T {
        f(&mut self.0.borrow_mut())
    }
}

impl AcmeGuest for Component {
    type Client = EngineClient;
}

impl GuestClient for EngineClient {
    fn create(
        config: wit::ClientConfig,
        account_key_pem: String,
    ) -> Result<exports::certsmith::acme::acme::Client, wit::EngineError> {
        let key = key_in(&account_key_pem)?;
        let client = core_api::Client::new(config_in(config)?, key);
        Ok(exports::certsmith::acme::acme::Client::new(EngineClient(
            RefCell::new(client),
        )))
    }

    fn start(&self, command: acme::Command) -> Result<wit::OpId, wit::EngineError> {
        let command = command_in(command)?;
        self.with(|c| c.start(command))
            .map(|op| op.0)
            .map_err(error_out)
    }

    fn poll(&self, now: u64) -> Option<wit::Output> {
        self.with(|c| c.poll(core_api::Timestamp(now)))
            .map(output_out)
    }

    fn handle(
        &self,
        now: wit::Timestamp,
        op: wit::OpId,
        input: acme::Input,
    ) -> Result<(), wit::EngineError> {
        let input = match input {
            acme::Input::Response(response) => core_api::Input::Response(response_in(response)),
            acme::Input::TransportError(reason) => core_api::Input::TransportError(reason),
            acme::Input::ChallengeReady(token) => core_api::Input::ChallengeReady { token },
            acme::Input::ChallengeFailed(f) => core_api::Input::ChallengeFailed {
                token: f.token,
                reason: f.reason,
            },
        };
        self.with(|c| c.handle(core_api::Timestamp(now), core_api::OpId(op), input))
            .map_err(error_out)
    }

    fn next_wakeup(&self) -> Option<u64> {
        self.with(|c| c.next_wakeup()).map(|t| t.0)
    }

    fn account_url(&self) -> Option<String> {
        self.with(|c| c.account_url().map(str::to_owned))
    }

    fn account_key_pem(&self) -> String {
        self.with(|c| c.account_key().to_pem().to_string())
    }

    fn requests_sent(&self) -> u64 {
        self.with(|c| c.requests_sent())
    }
}
