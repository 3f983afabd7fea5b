//! wasm-bindgen exports for JS runtimes (Node, Deno, Workers): the engine's [`certsmith_core::Client`]
//! as the JS class `Client`, and the stateless helpers.
//!
//! Values cross as plain JS objects: the views below are serialised with serde_json and
//! parsed with `JSON.parse` (option objects go the other way with `JSON.stringify`), with
//! request and response bodies as `Uint8Array`s set beside them. Times are milliseconds since
//! the Unix epoch (`Date.now()`), operation ids are numbers. Errors are thrown as `Error`s
//! carrying the engine's typed fields (`kind`, `message`, `problem`, `retryAfter`,
//! `identifier`), the same fields a `failed` action has.

#![allow(missing_docs)] // wasm-bindgen generates items

use js_sys::{Array, JSON, Object, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use certsmith_core::{
    AccountStatus, Action, CertificateKey, ChallengeTask, ChallengeType, ClientConfig, Command,
    Error, HttpResponse, Identifier, Input, KeyId, KeyType, OpId, Outcome, Output, PrivateKey,
    Problem, Random, RetryPolicy, Solution, Timestamp, b64url_decode, leaf_der,
};

// ---- JS values in and out ----

/// An engine error as a JS `Error` with the typed fields of [`ErrorView`].
fn js_error(error: Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    if let Ok(fields) = to_js(&ErrorView::of(&error)) {
        Object::assign(&js, fields.unchecked_ref());
    }
    js.into()
}

/// A serialisable view as a plain JS object (`JSON.parse` of its JSON).
fn to_js(value: &impl Serialize) -> Result<JsValue, Error> {
    let text = Zeroizing::new(
        serde_json::to_string(value).map_err(|e| Error::InvalidState {
            reason: format!("cannot serialise a value for JS ({e})"),
        })?,
    );
    JSON::parse(&text).map_err(|_| Error::InvalidState {
        reason: "JSON.parse refused the engine's JSON".to_owned(),
    })
}

/// A JS options object (`JSON.stringify`-able) as `T`; `undefined` or `null` is `{}`.
fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue, what: &str) -> Result<T, Error> {
    let text = if value.is_undefined() || value.is_null() {
        Zeroizing::new("{}".to_owned())
    } else {
        let text = JSON::stringify(value)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| Error::invalid_input(what, "a plain object"))?;
        Zeroizing::new(text)
    };
    from_json(&text, what)
}

/// JSON text of an options object as `T`; `what` names it in the error.
fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| {
        // serde_json ends its messages with the position in the JSON text: noise here.
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        Error::invalid_input(
            format!("{what} ({message})"),
            "an object with the documented fields",
        )
    })
}

/// Sets `object[key] = value` on an object the engine made.
fn set(object: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

/// `object[key]`, or `undefined`.
fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Bytes from a `Uint8Array` (or `Buffer`, `ArrayBuffer`, array of numbers) or a string
/// (UTF-8); `undefined` and `null` are empty.
fn bytes_in(value: &JsValue) -> Vec<u8> {
    if let Some(text) = value.as_string() {
        text.into_bytes()
    } else if value.is_undefined() || value.is_null() {
        Vec::new()
    } else {
        Uint8Array::new(value).to_vec()
    }
}

/// Header pairs from an array of `[name, value]`, a `Headers` or `Map`, or a plain object.
fn headers_in(value: &JsValue) -> Result<Vec<(String, String)>, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    let iterable = Reflect::has(value, &js_sys::Symbol::iterator()).unwrap_or(false);
    let entries = if iterable {
        Array::from(value)
    } else {
        value
            .dyn_ref::<Object>()
            .map(Object::entries)
            .ok_or_else(|| Error::invalid_input("response headers", "pairs or an object"))?
    };
    entries
        .iter()
        .map(|entry| {
            let pair = Array::from(&entry);
            match (pair.get(0).as_string(), pair.get(1).as_string()) {
                (Some(name), Some(value)) => Ok((name, value)),
                _ => Err(Error::invalid_input(
                    "response header",
                    "a [name, value] pair of strings",
                )),
            }
        })
        .collect()
}

/// A response `{status, headers, body}` as the engine's.
fn response_in(value: &JsValue) -> Result<HttpResponse, Error> {
    let status = get(value, "status")
        .as_f64()
        .filter(|s| (100.0..1000.0).contains(s))
        .ok_or_else(|| Error::invalid_input("response status", "a number from 100 to 999"))?;
    Ok(HttpResponse {
        status: status as u16,
        headers: headers_in(&get(value, "headers"))?,
        body: bytes_in(&get(value, "body")),
    })
}

/// A JS time (ms since the epoch) as the engine's; negative and NaN are the epoch.
fn time_in(millis: f64) -> Timestamp {
    Timestamp(millis as u64)
}

/// A JS operation id as the engine's (an unknown id is the engine's error).
fn op_in(op: f64) -> OpId {
    OpId(op as u32)
}

// ---- views: what JS sees ----

/// An error's typed fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorView<'a> {
    kind: &'static str,
    fault: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<&'a Problem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identifier: Option<&'a Identifier>,
}

impl<'a> ErrorView<'a> {
    fn of(e: &'a Error) -> Self {
        Self {
            kind: e.kind(),
            fault: match e.fault() {
                certsmith_core::Fault::Caller => "caller",
                certsmith_core::Fault::Ca => "ca",
                certsmith_core::Fault::Network => "network",
                certsmith_core::Fault::Host => "host",
            },
            message: e.to_string(),
            problem: e.problem(),
            retry_after: e.retry_after().map(|t| t.0),
            identifier: e.identifier(),
        }
    }
}

/// A challenge to deploy or clean up, its solution's fields flattened beside `type`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    identifier: &'a Identifier,
    token: &'a str,
    key_authorization: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record_value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_pem: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key_pem: Option<&'a str>,
}

impl<'a> TaskView<'a> {
    fn of(t: &'a ChallengeTask) -> Self {
        let mut view = Self {
            kind: t.challenge_type().as_str(),
            identifier: &t.identifier,
            token: &t.token,
            key_authorization: &t.key_authorization,
            path: None,
            record_name: None,
            record_value: None,
            certificate_pem: None,
            private_key_pem: None,
        };
        match &t.solution {
            Solution::Http01 { path } => view.path = Some(path),
            Solution::Dns01 { record_name, value } => {
                view.record_name = Some(record_name);
                view.record_value = Some(value);
            }
            Solution::TlsAlpn01 {
                certificate_pem,
                private_key_pem,
            } => {
                view.certificate_pem = Some(certificate_pem);
                view.private_key_pem = Some(private_key_pem);
            }
        }
        view
    }
}

/// A finished operation's result.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum OutcomeView<'a> {
    #[serde(rename_all = "camelCase")]
    Account {
        url: &'a str,
        status: AccountStatus,
        contact: &'a [String],
        created: bool,
    },
    #[serde(rename_all = "camelCase")]
    Certificate {
        chain_pem: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        private_key_pem: Option<&'a str>,
        order_url: &'a str,
        certificate_url: &'a str,
        alternate_urls: &'a [String],
    },
    Revoked,
    KeyChanged,
    #[serde(rename_all = "camelCase")]
    RenewalInfo {
        window_start: u64,
        window_end: u64,
        renew_at: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        explanation_url: Option<&'a str>,
        check_again_at: u64,
    },
    #[serde(rename_all = "camelCase")]
    OrderAbandoned {
        authorizations_deactivated: u32,
    },
}

impl<'a> OutcomeView<'a> {
    fn of(o: &'a Outcome) -> Self {
        match o {
            Outcome::Account(info) => OutcomeView::Account {
                url: &info.url,
                status: info.account.status,
                contact: &info.account.contact,
                created: info.created,
            },
            Outcome::Certificate(c) => OutcomeView::Certificate {
                chain_pem: &c.chain_pem,
                private_key_pem: c.private_key_pem.as_ref().map(|k| k.as_str()),
                order_url: &c.order_url,
                certificate_url: &c.certificate_url,
                alternate_urls: &c.alternate_urls,
            },
            Outcome::Revoked => OutcomeView::Revoked,
            Outcome::KeyChanged => OutcomeView::KeyChanged,
            Outcome::RenewalInfo(a) => OutcomeView::RenewalInfo {
                window_start: a.window_start.0,
                window_end: a.window_end.0,
                renew_at: a.renew_at.0,
                explanation_url: a.explanation_url.as_deref(),
                check_again_at: a.check_again_at.0,
            },
            Outcome::OrderAbandoned {
                authorizations_deactivated,
            } => OutcomeView::OrderAbandoned {
                authorizations_deactivated: *authorizations_deactivated,
            },
        }
    }
}

/// An action, tagged by `kind`; `op` (and a request's `body`) are set on the JS object.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum ActionView<'a> {
    Send { request: RequestView<'a> },
    Deploy { challenge: TaskView<'a> },
    Cleanup { challenge: TaskView<'a> },
    Save { snapshot: String },
    Done { outcome: OutcomeView<'a> },
    Failed { error: ErrorView<'a> },
}

/// A request to send, but its body.
#[derive(Serialize)]
struct RequestView<'a> {
    method: &'static str,
    url: &'a str,
    headers: &'a [(String, String)],
}

/// An action as the JS object `poll` hands out has it, but `op` and a request's `body`, as
/// JSON text: for hosts outside JS that compare their outputs with recorded ones
/// (`tools/transcripts`).
pub fn action_json(action: &Action) -> Result<String, Error> {
    serde_json::to_string(&ActionView::of(action)).map_err(|e| Error::InvalidState {
        reason: format!("cannot serialise an action ({e})"),
    })
}

impl<'a> ActionView<'a> {
    /// The view of `action`.
    fn of(action: &'a Action) -> Self {
        match action {
            Action::Send(r) => ActionView::Send {
                request: RequestView {
                    method: r.method.as_str(),
                    url: &r.url,
                    headers: &r.headers,
                },
            },
            Action::Deploy(t) => ActionView::Deploy {
                challenge: TaskView::of(t),
            },
            Action::Cleanup(t) => ActionView::Cleanup {
                challenge: TaskView::of(t),
            },
            Action::Save(s) => ActionView::Save {
                snapshot: s.to_json(),
            },
            Action::Done(o) => ActionView::Done {
                outcome: OutcomeView::of(o),
            },
            Action::Failed(e) => ActionView::Failed {
                error: ErrorView::of(e),
            },
        }
    }
}

/// An [`Output`] as the JS object `{op, kind, …}`.
fn output_out(output: &Output) -> Result<JsValue, Error> {
    let object = to_js(&ActionView::of(&output.action))?;
    set(&object, "op", &JsValue::from_f64(output.op.0 as f64));
    if let Action::Send(r) = &output.action {
        set(
            &get(&object, "request"),
            "body",
            &Uint8Array::from(r.body.as_slice()),
        );
    }
    Ok(object)
}

// ---- options: what JS passes ----

/// `newAccount` options.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct NewAccountIn {
    #[serde(rename = "kind")]
    _kind: Kind,
    contact: Vec<String>,
    terms_of_service_agreed: bool,
    only_return_existing: bool,
    external_account: Option<ExternalAccountIn>,
}

impl NewAccountIn {
    /// The engine's command.
    fn into_command(self) -> Result<Command, Error> {
        let external_account = match self.external_account {
            Some(e) => Some(certsmith_core::ExternalAccountKey {
                kid: e.kid,
                hmac_key: Zeroizing::new(b64url_decode(
                    e.hmac_key.trim_end_matches('='),
                    "hmacKey",
                )?),
            }),
            None => None,
        };
        Ok(Command::NewAccount(certsmith_core::NewAccountRequest {
            contact: self.contact,
            terms_of_service_agreed: self.terms_of_service_agreed,
            only_return_existing: self.only_return_existing,
            external_account,
        }))
    }
}

/// An external account binding: the key id and the HMAC key as the CA gives it (base64url).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExternalAccountIn {
    kid: String,
    hmac_key: Zeroizing<String>,
}

/// An identifier: `{type, value}`, or a string (an IP address if it parses as one).
#[derive(Deserialize)]
#[serde(untagged)]
enum IdentifierIn {
    Text(String),
    Typed(Identifier),
}

impl From<IdentifierIn> for Identifier {
    fn from(id: IdentifierIn) -> Self {
        match id {
            IdentifierIn::Typed(id) => id,
            IdentifierIn::Text(text) if text.parse::<std::net::IpAddr>().is_ok() => {
                Identifier::ip(text)
            }
            IdentifierIn::Text(text) => Identifier::dns(text),
        }
    }
}

/// Declares `OrderIn` with the engine's plain order options (core's list,
/// `order_request_options!`) after its own fields.
macro_rules! order_in {
    ($($field:ident: $ty:ty,)*) => {
        /// `order` options: the engine's plain options in camelCase (`notBefore`,
        /// `preferredIssuer`; times in ms), beside the ones converted here.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct OrderIn {
            #[serde(rename = "kind")]
            _kind: Kind,
            identifiers: Vec<IdentifierIn>,
            #[serde(default)]
            challenge_types: Option<Vec<String>>,
            #[serde(default)]
            key_type: Option<String>,
            #[serde(default)]
            certificate_key_pem: Option<Zeroizing<String>>,
            #[serde(default)]
            csr_pem: Option<String>,
            $(
                #[serde(default)]
                $field: $ty,
            )*
        }
    };
}
certsmith_core::order_request_options!(order_in);

impl OrderIn {
    /// The engine's order request.
    fn into_request(self) -> Result<certsmith_core::OrderRequest, Error> {
        let mut request = certsmith_core::OrderRequest::new(
            self.identifiers.into_iter().map(Into::into).collect(),
        );
        if let Some(types) = self.challenge_types {
            request.challenge_types = types
                .iter()
                .map(|name| name.parse::<ChallengeType>())
                .collect::<Result<_, _>>()?;
        }
        request.certificate_key = match (self.csr_pem, self.certificate_key_pem, self.key_type) {
            (Some(csr), None, None) => CertificateKey::Csr(csr_der(&csr)?),
            (None, Some(pem), None) => CertificateKey::Key(PrivateKey::from_pem(&pem)?),
            (None, None, kind) => {
                CertificateKey::Generate(kind.map_or(Ok(KeyType::P256), |k| k.parse())?)
            }
            _ => {
                return Err(Error::invalid_input(
                    "order options",
                    "at most one of keyType, certificateKeyPem, csrPem",
                ));
            }
        };
        macro_rules! copy_options {
            ($($field:ident: $ty:ty,)*) => {
                $(request.$field = self.$field;)*
            };
        }
        certsmith_core::order_request_options!(copy_options);
        Ok(request)
    }
}

/// A PEM CSR, DER.
fn csr_der(pem: &str) -> Result<Vec<u8>, Error> {
    match pem_rfc7468::decode_vec(pem.trim().as_bytes()) {
        Ok((label, der)) if label.ends_with("CERTIFICATE REQUEST") => Ok(der),
        _ => Err(Error::invalid_input(
            "csrPem",
            "one -----BEGIN CERTIFICATE REQUEST----- block",
        )),
    }
}

/// Retry and polling bounds; missing fields keep the defaults.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct RetryIn {
    max_bad_nonce_retries: Option<u32>,
    max_server_retries: Option<u32>,
    poll_initial_ms: Option<u64>,
    poll_max_ms: Option<u64>,
    poll_timeout_ms: Option<u64>,
    max_inline_wait_ms: Option<u64>,
}

impl From<RetryIn> for RetryPolicy {
    fn from(r: RetryIn) -> Self {
        let d = RetryPolicy::default();
        RetryPolicy {
            max_bad_nonce_retries: r.max_bad_nonce_retries.unwrap_or(d.max_bad_nonce_retries),
            max_server_retries: r.max_server_retries.unwrap_or(d.max_server_retries),
            poll_initial_ms: r.poll_initial_ms.unwrap_or(d.poll_initial_ms),
            poll_max_ms: r.poll_max_ms.unwrap_or(d.poll_max_ms),
            poll_timeout_ms: r.poll_timeout_ms.unwrap_or(d.poll_timeout_ms),
            max_inline_wait_ms: r.max_inline_wait_ms.unwrap_or(d.max_inline_wait_ms),
        }
    }
}

/// `revoke` options.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RevokeIn {
    #[serde(rename = "kind")]
    _kind: Kind,
    certificate_pem: String,
    #[serde(default)]
    reason: Option<u8>,
    #[serde(default)]
    certificate_key_pem: Option<Zeroizing<String>>,
}

/// A command's `kind`, checked by `command_in` and otherwise ignored.
type Kind = serde::de::IgnoredAny;

/// Checks that command object `value` has no field but `kind` and `allowed`.
fn only_fields(value: &JsValue, what: &str, allowed: &[&str]) -> Result<(), Error> {
    let object = value
        .dyn_ref::<Object>()
        .ok_or_else(|| Error::invalid_input(what, "a plain object"))?;
    for key in Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if key != "kind" && !allowed.contains(&key.as_str()) {
            return Err(Error::invalid_input(
                format!("{what}: unknown field `{key}`"),
                format!("kind and {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// String field `field` of command object `value`.
fn string_field(value: &JsValue, what: &str, field: &str) -> Result<String, Error> {
    get(value, field)
        .as_string()
        .ok_or_else(|| Error::invalid_input(format!("{what}: {field}"), "a string"))
}

/// A command object as the engine's: `{kind: 'new-account' | 'fetch-account' |
/// 'update-account' | 'deactivate-account' | 'change-key' | 'order' | 'revoke' |
/// 'renewal-info' | 'resume' | 'abandon', …its options}`.
fn command_in(value: &JsValue) -> Result<Command, Error> {
    let kind = get(value, "kind").as_string();
    Ok(match kind.as_deref() {
        Some("new-account") => {
            from_js::<NewAccountIn>(value, "new-account command")?.into_command()?
        }
        Some("fetch-account") => {
            only_fields(value, "fetch-account command", &[])?;
            Command::FetchAccount
        }
        Some("update-account") => {
            let what = "update-account command";
            only_fields(value, what, &["contact"])?;
            let contact = get(value, "contact")
                .dyn_into::<Array>()
                .ok()
                .and_then(|list| list.iter().map(|c| c.as_string()).collect())
                .ok_or_else(|| {
                    Error::invalid_input(format!("{what}: contact"), "a list of strings")
                })?;
            Command::UpdateAccount { contact }
        }
        Some("deactivate-account") => {
            only_fields(value, "deactivate-account command", &[])?;
            Command::DeactivateAccount
        }
        Some("change-key") => {
            let what = "change-key command";
            only_fields(value, what, &["newKeyPem"])?;
            let pem = Zeroizing::new(string_field(value, what, "newKeyPem")?);
            Command::ChangeKey(PrivateKey::from_pem(&pem)?)
        }
        Some("order") => {
            let options: OrderIn = from_js(value, "order command")?;
            Command::Order(options.into_request()?)
        }
        Some("revoke") => {
            let options: RevokeIn = from_js(value, "revoke command")?;
            let signer = match options.certificate_key_pem {
                Some(pem) => {
                    certsmith_core::RevocationSigner::CertificateKey(PrivateKey::from_pem(&pem)?)
                }
                None => certsmith_core::RevocationSigner::Account,
            };
            Command::Revoke(certsmith_core::RevocationRequest {
                certificate_der: leaf_der(&options.certificate_pem)?,
                reason: options.reason,
                signer,
            })
        }
        Some("renewal-info") => {
            let what = "renewal-info command";
            only_fields(value, what, &["certificatePem"])?;
            Command::RenewalInfo {
                certificate_der: leaf_der(&string_field(value, what, "certificatePem")?)?,
            }
        }
        Some(kind @ ("resume" | "abandon")) => {
            let what = format!("{kind} command");
            only_fields(value, &what, &["snapshot"])?;
            let snapshot =
                certsmith_core::Snapshot::from_json(&string_field(value, &what, "snapshot")?)?;
            if kind == "resume" {
                Command::Resume(snapshot)
            } else {
                Command::Abandon(snapshot)
            }
        }
        other => {
            return Err(Error::invalid_input(
                format!("command kind {other:?}"),
                "new-account, fetch-account, update-account, deactivate-account, change-key, order, revoke, renewal-info, resume or abandon",
            ));
        }
    })
}

/// The JSON text of a `new-account` or `order` command object (the shapes `start` takes) as
/// the engine's command: for hosts outside JS that replay the same objects, such as the
/// recorded runs of `tools/transcripts`.
pub fn command_from_json(text: &str) -> Result<Command, Error> {
    /// A command object's kind alone.
    #[derive(Deserialize)]
    struct KindOnly {
        kind: String,
    }
    match from_json::<KindOnly>(text, "command")?.kind.as_str() {
        "new-account" => from_json::<NewAccountIn>(text, "new-account command")?.into_command(),
        "order" => Ok(Command::Order(
            from_json::<OrderIn>(text, "order command")?.into_request()?,
        )),
        other => Err(Error::invalid_input(
            format!("command kind {other:?}"),
            "new-account or order",
        )),
    }
}

/// An input: `{kind: 'response', status, headers, body}`, `{kind: 'transport-error',
/// reason}`, `{kind: 'challenge-ready', token}` or `{kind: 'challenge-failed', token,
/// reason}`.
fn input_in(value: &JsValue) -> Result<Input, Error> {
    let text = |field: &str| {
        get(value, field)
            .as_string()
            .ok_or_else(|| Error::invalid_input(format!("input {field}"), "a string"))
    };
    match get(value, "kind").as_string().as_deref() {
        Some("response") => Ok(Input::Response(response_in(value)?)),
        Some("transport-error") => Ok(Input::TransportError(text("reason")?)),
        Some("challenge-ready") => Ok(Input::ChallengeReady {
            token: text("token")?,
        }),
        Some("challenge-failed") => Ok(Input::ChallengeFailed {
            token: text("token")?,
            reason: text("reason")?,
        }),
        other => Err(Error::invalid_input(
            format!("input kind {other:?}"),
            "response, transport-error, challenge-ready or challenge-failed",
        )),
    }
}

// ---- the client ----

/// An ACME client for one CA directory and one account key (the engine's `Client`). Drive
/// it like the Rust one, through the same doors: `start(command)` for each operation,
/// `poll(now)` until `undefined` carrying out each action, `handle(now, op, input)` for each
/// response and published challenge, and wait until `nextWakeup()` or the next response.
#[wasm_bindgen(js_name = Client)]
pub struct JsClient(certsmith_core::Client);

#[wasm_bindgen(js_class = Client)]
impl JsClient {
    /// A client for the CA at `directoryUrl` signing with `accountKeyPem` (PKCS#8 PEM);
    /// `accountUrl` if the account is already known; `retry` overrides retry and polling
    /// bounds (`maxBadNonceRetries`, `maxServerRetries`, `pollInitialMs`, `pollMaxMs`,
    /// `pollTimeoutMs`, `maxInlineWaitMs`); `userAgent` is the host's product token
    /// (`myapp/1.0`), sent before the engine's own in every request's `User-Agent`; `seed`
    /// (32 bytes) makes the client's randomness a deterministic stream, so that a run with
    /// the same clock repeats byte for byte: for tests and recorded transcripts only.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = directoryUrl)] directory_url: String,
        #[wasm_bindgen(js_name = accountKeyPem)] account_key_pem: &str,
        #[wasm_bindgen(js_name = accountUrl)] account_url: Option<String>,
        retry: Option<Object>,
        #[wasm_bindgen(js_name = userAgent)] user_agent: Option<String>,
        seed: Option<Vec<u8>>,
    ) -> Result<JsClient, JsValue> {
        let key = PrivateKey::from_pem(account_key_pem).map_err(js_error)?;
        let retry = retry.map_or(JsValue::UNDEFINED, JsValue::from);
        let retry: RetryIn = from_js(&retry, "retry options").map_err(js_error)?;
        let seed = seed
            .map(|bytes| Random::seed_from_bytes(&bytes))
            .transpose()
            .map_err(js_error)?;
        let config = ClientConfig {
            directory_url,
            account_url,
            retry: retry.into(),
            user_agent,
            seed,
        };
        Ok(JsClient(certsmith_core::Client::new(config, key)))
    }

    /// Starts an operation (a command object: `{kind: 'order', identifiers, …}` and so on,
    /// see `command_in`); its op id. Throws, sending nothing, for a malformed
    /// command (an unknown kind or option, a malformed identifier).
    pub fn start(&mut self, command: JsValue) -> Result<f64, JsValue> {
        let command = command_in(&command).map_err(js_error)?;
        self.0
            .start(command)
            .map(|op| op.0 as f64)
            .map_err(js_error)
    }

    /// The next action due at `now` (ms since the epoch), or `undefined`:
    /// `{op, kind: 'send', request: {method, url, headers: [[name, value]…], body}}`,
    /// `{op, kind: 'deploy' | 'cleanup', challenge: {type, identifier, token,
    /// keyAuthorization, path | recordName, recordValue | certificatePem, privateKeyPem}}`,
    /// `{op, kind: 'save', snapshot}`, `{op, kind: 'done', outcome: {kind, …}}` or
    /// `{op, kind: 'failed', error: {kind, message, problem, retryAfter, identifier}}`.
    pub fn poll(&mut self, now: f64) -> Result<JsValue, JsValue> {
        match self.0.poll(time_in(now)) {
            Some(output) => output_out(&output).map_err(js_error),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// Hands over what the host learnt for operation `op` at `now` (ms since the epoch):
    /// `{kind: 'response', status, headers, body}` (headers as `[name, value]` pairs, a
    /// `Headers` or an object; body a `Uint8Array` or string), `{kind: 'transport-error',
    /// reason}`, `{kind: 'challenge-ready', token}` or `{kind: 'challenge-failed', token,
    /// reason}`. Throws only for a call that does not fit (unknown operation, nothing in
    /// flight, unknown token, malformed input).
    pub fn handle(&mut self, now: f64, op: f64, input: JsValue) -> Result<(), JsValue> {
        let input = input_in(&input).map_err(js_error)?;
        self.0
            .handle(time_in(now), op_in(op), input)
            .map_err(js_error)
    }

    /// When `poll` next has work without new input (ms since the epoch), or `undefined` if
    /// every operation waits for a response or the host.
    #[wasm_bindgen(js_name = nextWakeup)]
    pub fn next_wakeup(&self) -> Option<f64> {
        self.0.next_wakeup().map(|t| t.0 as f64)
    }

    /// The account URL, once known.
    #[wasm_bindgen(getter, js_name = accountUrl)]
    pub fn account_url(&self) -> Option<String> {
        self.0.account_url().map(str::to_owned)
    }

    /// The CA's directory once fetched (`{newNonce, newAccount, newOrder, …, meta:
    /// {termsOfService, website, caaIdentities, externalAccountRequired, profiles}}`), or
    /// `undefined`.
    #[wasm_bindgen(getter)]
    pub fn directory(&self) -> Result<JsValue, JsValue> {
        match self.0.directory() {
            Some(directory) => to_js(directory).map_err(js_error),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// The key the client signs with, PKCS#8 PEM (changes after `changeKey`).
    #[wasm_bindgen(getter, js_name = accountKeyPem)]
    pub fn account_key_pem(&self) -> String {
        self.0.account_key().to_pem().to_string()
    }

    /// How many requests the client has asked the host to send.
    #[wasm_bindgen(getter, js_name = requestsSent)]
    pub fn requests_sent(&self) -> f64 {
        self.0.requests_sent() as f64
    }
}

// ---- stateless helpers ----

/// A new private key (`"p256"` or `"p384"`), PKCS#8 PEM.
#[wasm_bindgen(js_name = generateKey)]
pub fn generate_key(kind: &str, seed: Option<Vec<u8>>) -> Result<String, JsValue> {
    let kind: KeyType = kind.parse().map_err(js_error)?;
    let mut random = match seed {
        None => Random::platform(),
        Some(bytes) => Random::seeded(Random::seed_from_bytes(&bytes).map_err(js_error)?),
    };
    let key = PrivateKey::generate_with(kind, &mut random).map_err(js_error)?;
    Ok(key.to_pem().to_string())
}

/// The RFC 7638 thumbprint of a private key's public JWK.
#[wasm_bindgen(js_name = jwkThumbprint)]
pub fn jwk_thumbprint(#[wasm_bindgen(js_name = keyPem)] key_pem: &str) -> Result<String, JsValue> {
    Ok(PrivateKey::from_pem(key_pem)
        .map_err(js_error)?
        .jwk()
        .thumbprint())
}

/// The key authorization `token.thumbprint`.
#[wasm_bindgen(js_name = keyAuthorization)]
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    certsmith_core::key_authorization(token, thumbprint)
}

/// The DNS-01 TXT value for a key authorization.
#[wasm_bindgen(js_name = dns01Value)]
pub fn dns01_value(#[wasm_bindgen(js_name = keyAuthorization)] key_authorization: &str) -> String {
    certsmith_core::dns01_value(key_authorization)
}

/// The DNS-01 record name for a domain.
#[wasm_bindgen(js_name = dns01RecordName)]
pub fn dns01_record_name(domain: &str) -> String {
    certsmith_core::dns01_record_name(domain)
}

/// A flattened JWS (JSON text): `kid` undefined embeds the JWK, `payload` undefined is
/// POST-as-GET.
#[wasm_bindgen(js_name = signJws)]
pub fn sign_jws(
    #[wasm_bindgen(js_name = keyPem)] key_pem: &str,
    kid: Option<String>,
    nonce: Option<String>,
    url: &str,
    payload: Option<Vec<u8>>,
) -> Result<String, JsValue> {
    let key = PrivateKey::from_pem(key_pem).map_err(js_error)?;
    let key_id = match &kid {
        Some(kid) => KeyId::Kid(kid),
        None => KeyId::Jwk,
    };
    let jws = certsmith_core::sign_jws(&key, key_id, nonce.as_deref(), url, payload.as_deref())
        .map_err(js_error)?;
    Ok(String::from_utf8(jws.to_body()).unwrap_or_default())
}

/// A DER CSR for DNS names, signed by the key.
#[wasm_bindgen(js_name = buildCsr)]
pub fn build_csr(
    names: Vec<String>,
    #[wasm_bindgen(js_name = keyPem)] key_pem: &str,
) -> Result<Vec<u8>, JsValue> {
    let key = PrivateKey::from_pem(key_pem).map_err(js_error)?;
    let identifiers: Vec<_> = names.into_iter().map(Identifier::dns).collect();
    certsmith_core::build_csr(&identifiers, &key).map_err(js_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain order options reach the engine's request under their camelCase names,
    /// times as ms; a misspelt one is refused, named.
    #[test]
    fn order_options_by_their_camel_case_names() {
        let command = command_from_json(
            r#"{"kind":"order","identifiers":["a.example"],"notBefore":1800000000000,
            "notAfter":1800086400000,"replaces":"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
            "profile":"shortlived","preferredIssuer":"Root X2"}"#,
        )
        .expect("an order");
        let Command::Order(order) = command else {
            panic!("an order, not {command:?}");
        };
        assert_eq!(order.not_before, Some(Timestamp(1_800_000_000_000)));
        assert_eq!(order.not_after, Some(Timestamp(1_800_086_400_000)));
        assert_eq!(
            order.replaces.as_deref(),
            Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
        );
        assert_eq!(order.profile.as_deref(), Some("shortlived"));
        assert_eq!(order.preferred_issuer.as_deref(), Some("Root X2"));
        let error = command_from_json(r#"{"kind":"order","identifiers":["a"],"profil":"x"}"#)
            .expect_err("a misspelt option");
        assert!(error.to_string().contains("`profil`"), "{error}");
    }
}
