//! The engine's vocabulary with its host: operation ids, actions, outcomes and the
//! requests that start operations.

use core::fmt;

use zeroize::Zeroizing;

use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse};
use crate::keys::{KeyType, PrivateKey};
use crate::timestamp::Timestamp;
use crate::wire::{Account, Identifier};

/// Addresses one operation on a [`Client`](crate::Client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u32);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op-{}", self.0)
    }
}

/// An operation for [`Client::start`](crate::Client::start), and the [`Outcome`] it ends
/// with.
#[derive(Debug)]
pub enum Command {
    /// Create the account, or find it when the key is already registered (the CA then
    /// answers 200); the client's account URL is set on success. [`Outcome::Account`].
    NewAccount(NewAccountRequest),
    /// Fetch the account object. [`Outcome::Account`].
    FetchAccount,
    /// Replace the account's contacts. [`Outcome::Account`].
    UpdateAccount {
        /// The new contact URLs (`mailto:…`); empty removes them all.
        contact: Vec<String>,
    },
    /// Deactivate the account (permanent at the CA). [`Outcome::Account`].
    DeactivateAccount,
    /// Roll the account over to this key; on success the client signs with it.
    /// [`Outcome::KeyChanged`].
    ChangeKey(PrivateKey),
    /// Order a certificate. Identifiers are checked and normalised first: a malformed one
    /// is refused by `start`, and nothing is sent. [`Outcome::Certificate`].
    Order(OrderRequest),
    /// Revoke a certificate. [`Outcome::Revoked`].
    Revoke(RevocationRequest),
    /// Ask the CA's ARI endpoint (RFC 9773) when to renew a certificate; refused by `start`
    /// if it has no Authority Key Identifier. [`Outcome::RenewalInfo`].
    RenewalInfo {
        /// The certificate, DER.
        certificate_der: Vec<u8>,
    },
    /// Continue an order from a [`Snapshot`]: fetch the same order and carry on from its
    /// state, re-deploying challenges that are still pending. Never creates a new order.
    /// [`Outcome::Certificate`].
    Resume(Snapshot),
    /// Abandon a snapshot's order that will not be finished: deactivate its pending
    /// authorizations (valid ones stay, for a new order to reuse).
    /// [`Outcome::OrderAbandoned`].
    Abandon(Snapshot),
}

/// What the host reports about an operation, for [`Client::handle`](crate::Client::handle).
#[derive(Debug)]
pub enum Input {
    /// The response to the request the operation last sent.
    Response(HttpResponse),
    /// That request got no response (connection refused or reset, TLS failure, timeout).
    /// It is retried like a 5xx answer, up to `max_server_retries` times with backoff; then
    /// the operation fails with [`Error::Transport`] naming the URL and this reason.
    TransportError(String),
    /// A deployed challenge is answerable now.
    ChallengeReady {
        /// The challenge's token.
        token: String,
    },
    /// A challenge could not be deployed: the order fails after its cleanups.
    ChallengeFailed {
        /// The challenge's token.
        token: String,
        /// Why, for the error.
        reason: String,
    },
}

/// One piece of work for the host, from [`Client::poll`](crate::Client::poll).
#[derive(Debug)]
pub struct Output {
    /// The operation it belongs to.
    pub op: OpId,
    /// What to do.
    pub action: Action,
}

/// What the host must do for an operation.
#[derive(Debug)]
pub enum Action {
    /// Send this request and hand its response to `handle` ([`Input::Response`], or
    /// [`Input::TransportError`] when there is none).
    Send(HttpRequest),
    /// Make this challenge answerable, then report [`Input::ChallengeReady`] (or
    /// [`Input::ChallengeFailed`]).
    Deploy(ChallengeTask),
    /// Remove a deployed challenge; no answer expected.
    Cleanup(ChallengeTask),
    /// Store this checkpoint; give it to [`Command::Resume`] after a crash to continue the
    /// same order.
    Save(Snapshot),
    /// The operation succeeded; it is finished.
    Done(Outcome),
    /// The operation failed; it is finished (challenges were cleaned up first).
    Failed(Error),
}

/// The challenge types the engine can answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChallengeType {
    /// HTTP-01: a file under `/.well-known/acme-challenge/` on port 80.
    Http01,
    /// DNS-01: a TXT record at `_acme-challenge.<domain>`.
    Dns01,
    /// TLS-ALPN-01: a special certificate on port 443 for ALPN `acme-tls/1`.
    TlsAlpn01,
}

impl ChallengeType {
    /// The name the CA uses: `http-01`, `dns-01`, `tls-alpn-01`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeType::Http01 => "http-01",
            ChallengeType::Dns01 => "dns-01",
            ChallengeType::TlsAlpn01 => "tls-alpn-01",
        }
    }
}

impl core::str::FromStr for ChallengeType {
    type Err = Error;

    /// The type named as the CA spells it (`http-01`, `dns-01`, `tls-alpn-01`).
    fn from_str(name: &str) -> Result<Self, Error> {
        match name {
            "http-01" => Ok(ChallengeType::Http01),
            "dns-01" => Ok(ChallengeType::Dns01),
            "tls-alpn-01" => Ok(ChallengeType::TlsAlpn01),
            _ => Err(Error::invalid_input(
                format!("challenge type {name:?}"),
                "http-01, dns-01 or tls-alpn-01",
            )),
        }
    }
}

/// A challenge to deploy or clean up.
#[derive(Clone, Debug)]
pub struct ChallengeTask {
    /// The identifier as ordered (`*.example.com` for a wildcard).
    pub identifier: Identifier,
    /// The challenge token; also the handle for `challenge_ready`.
    pub token: String,
    /// The key authorization (`token.thumbprint`).
    pub key_authorization: String,
    /// What exactly to publish.
    pub solution: Solution,
}

/// What to publish for a challenge.
#[derive(Clone)]
pub enum Solution {
    /// Serve `key_authorization` as `text/plain` at `path` over HTTP on port 80.
    Http01 {
        /// `/.well-known/acme-challenge/<token>`.
        path: String,
    },
    /// Publish a TXT record.
    Dns01 {
        /// `_acme-challenge.<domain>` (no trailing dot).
        record_name: String,
        /// The TXT value.
        value: String,
    },
    /// Serve this certificate for the identifier's SNI when ALPN is `acme-tls/1`.
    TlsAlpn01 {
        /// The certificate, PEM.
        certificate_pem: String,
        /// Its private key, PKCS#8 PEM.
        private_key_pem: Zeroizing<String>,
    },
}

impl fmt::Debug for Solution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Solution::Http01 { path } => f.debug_struct("Http01").field("path", path).finish(),
            Solution::Dns01 { record_name, value } => f
                .debug_struct("Dns01")
                .field("record_name", record_name)
                .field("value", value)
                .finish(),
            Solution::TlsAlpn01 { .. } => f
                .debug_struct("TlsAlpn01")
                .field("private_key_pem", &"<redacted>")
                .finish_non_exhaustive(),
        }
    }
}

impl ChallengeTask {
    /// The challenge's type.
    pub fn challenge_type(&self) -> ChallengeType {
        match self.solution {
            Solution::Http01 { .. } => ChallengeType::Http01,
            Solution::Dns01 { .. } => ChallengeType::Dns01,
            Solution::TlsAlpn01 { .. } => ChallengeType::TlsAlpn01,
        }
    }
}

/// What a finished operation produced.
#[derive(Debug)]
pub enum Outcome {
    /// An account was created, found, fetched, updated or deactivated.
    Account(AccountInfo),
    /// A certificate was issued.
    Certificate(IssuedCertificate),
    /// The certificate was revoked.
    Revoked,
    /// The account key was replaced; the client now signs with the new key.
    KeyChanged,
    /// The CA's renewal advice for a certificate.
    RenewalInfo(RenewalAdvice),
    /// An order was abandoned.
    OrderAbandoned {
        /// How many of its pending authorizations were deactivated.
        authorizations_deactivated: u32,
    },
}

/// An account and its URL (the `kid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountInfo {
    /// The account URL.
    pub url: String,
    /// The account object.
    pub account: Account,
    /// Whether the CA created it now (201) rather than finding an existing one.
    pub created: bool,
}

/// An issued certificate.
pub struct IssuedCertificate {
    /// The chain as PEM, leaf first.
    pub chain_pem: String,
    /// The certificate key as PKCS#8 PEM, unless the caller supplied a CSR.
    pub private_key_pem: Option<Zeroizing<String>>,
    /// The order URL.
    pub order_url: String,
    /// The URL the chain was downloaded from.
    pub certificate_url: String,
    /// URLs of the alternate chains the CA offered.
    pub alternate_urls: Vec<String>,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("order_url", &self.order_url)
            .field("certificate_url", &self.certificate_url)
            .field("alternate_urls", &self.alternate_urls)
            .field(
                "private_key_pem",
                &self.private_key_pem.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// The CA's renewal advice (ARI) with the time chosen in its window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenewalAdvice {
    /// Start of the suggested window.
    pub window_start: Timestamp,
    /// End of the suggested window.
    pub window_end: Timestamp,
    /// A uniformly random time inside the window: when to renew.
    pub renew_at: Timestamp,
    /// The CA's explanation, if the window moved.
    pub explanation_url: Option<String>,
    /// When to ask again (`Retry-After`, else six hours).
    pub check_again_at: Timestamp,
}

/// Options for creating or finding an account.
#[derive(Clone, Debug, Default)]
pub struct NewAccountRequest {
    /// Contact URLs, e.g. `mailto:admin@example.com`.
    pub contact: Vec<String>,
    /// Whether the holder agrees to the CA's terms of service.
    pub terms_of_service_agreed: bool,
    /// Only find an existing account for this key; never create one.
    pub only_return_existing: bool,
    /// External account binding, for CAs that require it.
    pub external_account: Option<ExternalAccountKey>,
}

/// An external account binding key from the CA.
#[derive(Clone)]
pub struct ExternalAccountKey {
    /// The key id.
    pub kid: String,
    /// The decoded HMAC key.
    pub hmac_key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for ExternalAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalAccountKey")
            .field("kid", &self.kid)
            .field("hmac_key", &"<redacted>")
            .finish()
    }
}

/// The key the certificate will certify.
#[derive(Clone, Debug)]
pub enum CertificateKey {
    /// Generate a fresh key of this type (never the account key).
    Generate(KeyType),
    /// Use this key.
    Key(PrivateKey),
    /// Send this DER CSR as is; the caller holds the key.
    Csr(Vec<u8>),
}

impl Default for CertificateKey {
    fn default() -> Self {
        CertificateKey::Generate(KeyType::P256)
    }
}

/// What to order.
///
/// Its optional plain fields (an `Option` of a value every binding passes on as is) are
/// listed once, in the macro `order_request_options!` beside it (hidden from these docs), and
/// the bindings copy them from that list.
#[derive(Clone, Debug)]
pub struct OrderRequest {
    /// The names and addresses to certify.
    pub identifiers: Vec<Identifier>,
    /// Challenge types the host can deploy, most preferred first.
    pub challenge_types: Vec<ChallengeType>,
    /// The certificate key.
    pub certificate_key: CertificateKey,
    /// Requested notBefore.
    pub not_before: Option<Timestamp>,
    /// Requested notAfter.
    pub not_after: Option<Timestamp>,
    /// ARI certificate ID of the certificate this one replaces.
    pub replaces: Option<String>,
    /// The certificate profile, if the CA offers profiles.
    pub profile: Option<String>,
    /// Prefer the chain whose top issuer's common name is this (alternate chains).
    pub preferred_issuer: Option<String>,
}

impl OrderRequest {
    /// An order for `identifiers` with the defaults: HTTP-01 then DNS-01 then TLS-ALPN-01,
    /// a fresh P-256 key.
    pub fn new(identifiers: Vec<Identifier>) -> Self {
        Self {
            identifiers,
            challenge_types: vec![
                ChallengeType::Http01,
                ChallengeType::Dns01,
                ChallengeType::TlsAlpn01,
            ],
            certificate_key: CertificateKey::default(),
            not_before: None,
            not_after: None,
            replaces: None,
            profile: None,
            preferred_issuer: None,
        }
    }
}

/// Hands `$callback!` the plain options of [`OrderRequest`], as `field: Type,` each, so that
/// the bindings copy them without naming them: the component guest (`bindings/component`),
/// the host's conversion to the WIT (`host/src/engine/component.rs`) and the JS package's
/// `order` object (`bindings/js`, in camelCase). A plain option is an `Option` of a value
/// that crosses every seam as is (a string, a flag, a [`Timestamp`] as its `u64` of ms); the
/// WIT's `order-request` has a field of the same name. `identifiers`, `challenge_types` and
/// `certificate_key` are not plain: each binding converts them by hand. The test
/// `every_order_request_field_is_listed_or_converted_by_hand` fails to compile when a field
/// is in neither.
#[doc(hidden)]
#[macro_export]
macro_rules! order_request_options {
    ($callback:ident) => {
        $callback! {
            not_before: Option<$crate::Timestamp>,
            not_after: Option<$crate::Timestamp>,
            replaces: Option<String>,
            profile: Option<String>,
            preferred_issuer: Option<String>,
        }
    };
}

/// Who signs a revocation.
#[derive(Clone, Debug)]
pub enum RevocationSigner {
    /// The account that ordered it (`kid`).
    Account,
    /// The certificate's own key (`jwk`), when the account is lost.
    CertificateKey(PrivateKey),
}

/// What to revoke.
#[derive(Clone, Debug)]
pub struct RevocationRequest {
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
    /// The RFC 5280 reason code (0 unspecified, 1 keyCompromise, 4 superseded, 5
    /// cessationOfOperation…).
    pub reason: Option<u8>,
    /// Who signs.
    pub signer: RevocationSigner,
}

/// Bounds on the engine's waits and retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `badNonce` retries of one request before giving up.
    pub max_bad_nonce_retries: u32,
    /// Retries of one request after 5xx / `serverInternal`.
    pub max_server_retries: u32,
    /// First delay between polls when the CA gives no `Retry-After`, ms.
    pub poll_initial_ms: u64,
    /// Largest delay between polls when the CA gives no `Retry-After`, ms.
    pub poll_max_ms: u64,
    /// How long one operation may poll an authorization or order before it fails, ms; an
    /// operation waits for the host's report on a challenge it deployed this long or an
    /// hour, whichever is longer.
    pub poll_timeout_ms: u64,
    /// Longest `Retry-After` the engine waits out by itself before failing with the error,
    /// ms; longer ones (rate limits) are the host's to schedule.
    pub max_inline_wait_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_bad_nonce_retries: 20,
            max_server_retries: 3,
            poll_initial_ms: 50,
            poll_max_ms: 3_000,
            poll_timeout_ms: 10 * 60 * 1000,
            max_inline_wait_ms: 60_000,
        }
    }
}

/// How a [`Client`](crate::Client) is set up.
#[derive(Clone)]
pub struct ClientConfig {
    /// The CA's directory URL.
    pub directory_url: String,
    /// The account URL, if the account is already known.
    pub account_url: Option<String>,
    /// Retry and polling bounds.
    pub retry: RetryPolicy,
    /// The host's product token (`certsmith/0.1.0`), sent before the engine's own in every
    /// request's `User-Agent` (RFC 8555 §6.1 requires one).
    pub user_agent: Option<String>,
    /// A seed for the client's randomness (certificate keys, TLS-ALPN-01 certificates, the
    /// time picked in an ARI window), making a run with a fixed clock reproducible byte for
    /// byte: for tests and recorded transcripts only. `None` (the default): the platform's
    /// random source.
    pub seed: Option<[u8; 32]>,
}

impl ClientConfig {
    /// A configuration for the CA at `directory_url` with default bounds.
    pub fn new(directory_url: impl Into<String>) -> Self {
        Self {
            directory_url: directory_url.into(),
            account_url: None,
            retry: RetryPolicy::default(),
            user_agent: None,
            seed: None,
        }
    }
}

impl fmt::Debug for ClientConfig {
    /// Everything but the seed's bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("directory_url", &self.directory_url)
            .field("account_url", &self.account_url)
            .field("retry", &self.retry)
            .field("user_agent", &self.user_agent)
            .field("seeded", &self.seed.is_some())
            .finish()
    }
}

/// Re-exported for hosts: the checkpoint of an in-flight order.
pub use super::snapshot::Snapshot;

#[cfg(test)]
mod tests {
    use super::*;

    /// A field of `OrderRequest` missing from `order_request_options!` (and not one of the
    /// three the bindings convert by hand) is a compile error here, as is a listed one whose
    /// type differs from the field's.
    #[test]
    fn every_order_request_field_is_listed_or_converted_by_hand() {
        macro_rules! check {
            ($($field:ident: $ty:ty,)*) => {
                let request = OrderRequest::new(Vec::new());
                let OrderRequest {
                    identifiers: _,
                    challenge_types: _,
                    certificate_key: _,
                    $($field: _,)*
                } = &request;
                $(let _: &$ty = &request.$field;)*
                $(assert!(request.$field.is_none(), stringify!($field));)*
            };
        }
        crate::order_request_options!(check);
    }
}
