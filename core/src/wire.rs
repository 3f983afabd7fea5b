//! The RFC 8555 objects as they travel: serde types for directories, accounts, orders,
//! authorizations, challenges, problem documents and renewal information.
//!
//! Deserialisation is lenient about fields the engine does not use and strict about the
//! ones it does: a missing or malformed required field is an error naming the field.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::json::{self, FromJson, JsonError, ObjectWriter, Value};

/// The kind of an identifier in an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum IdentifierType {
    /// A DNS name, possibly a wildcard (`*.example.com`).
    Dns,
    /// An IP address (RFC 8738).
    Ip,
}

/// An identifier a certificate is for: a DNS name or an IP address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Identifier {
    /// `dns` or `ip`.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub kind: IdentifierType,
    /// The name or the address in its textual form.
    pub value: String,
}

impl Identifier {
    /// A DNS identifier.
    pub fn dns(name: impl Into<String>) -> Self {
        Self {
            kind: IdentifierType::Dns,
            value: name.into(),
        }
    }

    /// An IP identifier.
    pub fn ip(address: impl Into<String>) -> Self {
        Self {
            kind: IdentifierType::Ip,
            value: address.into(),
        }
    }

    /// Whether this is a wildcard DNS name.
    pub fn is_wildcard(&self) -> bool {
        self.kind == IdentifierType::Dns && self.value.starts_with("*.")
    }
}

impl core::fmt::Display for Identifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.value)
    }
}

/// The directory object (RFC 8555 §7.1.1) with ARI's `renewalInfo` (RFC 9773).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Directory {
    /// URL for new nonces.
    pub new_nonce: String,
    /// URL for new accounts.
    pub new_account: String,
    /// URL for new orders.
    pub new_order: String,
    /// URL for pre-authorization, if offered.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub new_authz: Option<String>,
    /// URL for revocation.
    pub revoke_cert: String,
    /// URL for account key rollover.
    pub key_change: String,
    /// URL prefix for ARI renewal information, if offered.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub renewal_info: Option<String>,
    /// Metadata about the CA.
    #[cfg_attr(feature = "serde", serde(default))]
    pub meta: DirectoryMeta,
}

/// The directory's `meta` object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct DirectoryMeta {
    /// The terms of service the account holder must agree to.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub terms_of_service: Option<String>,
    /// The CA's website.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub website: Option<String>,
    /// Domain names the CA recognises in CAA records.
    #[cfg_attr(feature = "serde", serde(default))]
    pub caa_identities: Vec<String>,
    /// Whether new accounts need external account binding.
    #[cfg_attr(feature = "serde", serde(default))]
    pub external_account_required: bool,
    /// Certificate profiles the CA offers, name → description.
    #[cfg_attr(feature = "serde", serde(default))]
    pub profiles: std::collections::BTreeMap<String, String>,
}

/// The status of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum AccountStatus {
    /// Usable.
    Valid,
    /// Deactivated by its holder.
    Deactivated,
    /// Revoked by the CA.
    Revoked,
}

/// An account object (RFC 8555 §7.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Account {
    /// The account's status.
    pub status: AccountStatus,
    /// Contact URLs (`mailto:`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub contact: Vec<String>,
    /// The URL of the account's orders list, if the CA gives one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub orders: Option<String>,
}

/// The status of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub(crate) enum OrderStatus {
    /// Authorizations outstanding.
    Pending,
    /// Ready to finalize.
    Ready,
    /// Finalizing.
    Processing,
    /// Issued.
    Valid,
    /// Failed.
    Invalid,
}

/// An order object (RFC 8555 §7.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub(crate) struct Order {
    /// The order's status.
    pub status: OrderStatus,
    /// When the order expires.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub expires: Option<String>,
    /// The identifiers of the order.
    pub identifiers: Vec<Identifier>,
    /// Authorization URLs.
    #[cfg_attr(feature = "serde", serde(default))]
    pub authorizations: Vec<String>,
    /// The finalize URL.
    pub finalize: String,
    /// The certificate URL once valid.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub certificate: Option<String>,
    /// Why the order failed.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub error: Option<Problem>,
}

/// The body of a newOrder request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub(crate) struct NewOrder<'a> {
    /// The identifiers wanted.
    pub identifiers: &'a [Identifier],
    /// Requested notBefore, RFC 3339.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub not_before: Option<String>,
    /// Requested notAfter, RFC 3339.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub not_after: Option<String>,
    /// ARI certificate ID of the certificate this order replaces.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub replaces: Option<&'a str>,
    /// The certificate profile wanted.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub profile: Option<&'a str>,
}

/// The status of an authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub(crate) enum AuthorizationStatus {
    /// Waiting for a challenge to be answered and validated.
    Pending,
    /// Validated.
    Valid,
    /// Validation failed.
    Invalid,
    /// Deactivated by the account holder.
    Deactivated,
    /// Expired.
    Expired,
    /// Revoked by the CA.
    Revoked,
}

/// An authorization object (RFC 8555 §7.1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub(crate) struct Authorization {
    /// The identifier being authorized (without the `*.` of a wildcard).
    pub identifier: Identifier,
    /// The authorization's status.
    pub status: AuthorizationStatus,
    /// The challenges offered.
    #[cfg_attr(feature = "serde", serde(default))]
    pub challenges: Vec<Challenge>,
    /// Whether the order's identifier was a wildcard.
    #[cfg_attr(feature = "serde", serde(default))]
    pub wildcard: bool,
}

/// The status of a challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub(crate) enum ChallengeStatus {
    /// Not yet answered.
    Pending,
    /// Being validated.
    Processing,
    /// Validated.
    Valid,
    /// Failed.
    Invalid,
}

/// A challenge object (RFC 8555 §7.1.5, §8).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub(crate) struct Challenge {
    /// The challenge type, e.g. `http-01`.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub kind: String,
    /// The URL to answer the challenge at.
    pub url: String,
    /// The challenge's status.
    pub status: ChallengeStatus,
    /// The token (for the token-based types).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub token: Option<String>,
    /// Why validation failed.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub error: Option<Problem>,
}

/// A problem document (RFC 7807 with ACME's subproblems, RFC 8555 §6.7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Problem {
    /// The problem type URN, e.g. `urn:ietf:params:acme:error:badNonce`.
    #[cfg_attr(feature = "serde", serde(rename = "type", default))]
    pub kind: String,
    /// Human-readable detail.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub detail: Option<String>,
    /// The HTTP status the CA gave, if it repeated it in the body.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub status: Option<u16>,
    /// Problems with specific identifiers.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub subproblems: Vec<Subproblem>,
}

/// One identifier's part of a compound problem.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Subproblem {
    /// The problem type URN.
    #[cfg_attr(feature = "serde", serde(rename = "type", default))]
    pub kind: String,
    /// Human-readable detail.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub detail: Option<String>,
    /// The identifier at fault.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub identifier: Option<Identifier>,
}

/// The prefix of ACME's problem types.
pub(crate) const ACME_ERROR_PREFIX: &str = "urn:ietf:params:acme:error:";

impl Problem {
    /// The ACME problem name without its URN prefix (`badNonce`), or the whole type.
    pub fn short_kind(&self) -> &str {
        self.kind
            .strip_prefix(ACME_ERROR_PREFIX)
            .unwrap_or(&self.kind)
    }

    /// The problem's type, typed: the RFC 8555 §6.7 types (and ARI's `alreadyReplaced`),
    /// `Other` for anything else.
    pub fn problem_kind(&self) -> ProblemKind {
        ProblemKind::from_type(&self.kind)
    }
}

/// An ACME problem type (RFC 8555 §6.7, RFC 9773's `alreadyReplaced`), as a host matches
/// on it instead of comparing strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The request named an account that does not exist.
    AccountDoesNotExist,
    /// The certificate was already revoked.
    AlreadyRevoked,
    /// The certificate was already replaced by another order (ARI).
    AlreadyReplaced,
    /// The CSR is unacceptable.
    BadCsr,
    /// The nonce was not acceptable: the request is retried with a fresh one.
    BadNonce,
    /// The JWS was signed with an unsupported key.
    BadPublicKey,
    /// The revocation reason is not allowed.
    BadRevocationReason,
    /// The JWS algorithm is not supported.
    BadSignatureAlgorithm,
    /// CAA records forbid the CA to issue for the identifier.
    Caa,
    /// Several problems: see the subproblems.
    Compound,
    /// The CA could not connect to validate a challenge.
    Connection,
    /// A DNS problem during validation.
    Dns,
    /// The CA requires external account binding.
    ExternalAccountRequired,
    /// The challenge response was wrong.
    IncorrectResponse,
    /// A contact URL is invalid.
    InvalidContact,
    /// The request was malformed.
    Malformed,
    /// The order is not ready to be finalized.
    OrderNotReady,
    /// A rate limit was exceeded.
    RateLimited,
    /// The CA will not issue for the identifier.
    RejectedIdentifier,
    /// The CA failed internally.
    ServerInternal,
    /// A TLS problem during validation.
    Tls,
    /// The client lacks authorization.
    Unauthorized,
    /// The contact URL's scheme is not supported.
    UnsupportedContact,
    /// The identifier type is not supported.
    UnsupportedIdentifier,
    /// The account holder must visit the CA's instructions URL.
    UserActionRequired,
    /// Another type (its full URN, or whatever the CA sent).
    Other(String),
}

impl ProblemKind {
    /// The kind of a problem type URN (`urn:ietf:params:acme:error:badNonce`).
    pub fn from_type(urn: &str) -> Self {
        let Some(name) = urn.strip_prefix(ACME_ERROR_PREFIX) else {
            return Self::Other(urn.to_owned());
        };
        match name {
            "accountDoesNotExist" => Self::AccountDoesNotExist,
            "alreadyRevoked" => Self::AlreadyRevoked,
            "alreadyReplaced" => Self::AlreadyReplaced,
            "badCSR" => Self::BadCsr,
            "badNonce" => Self::BadNonce,
            "badPublicKey" => Self::BadPublicKey,
            "badRevocationReason" => Self::BadRevocationReason,
            "badSignatureAlgorithm" => Self::BadSignatureAlgorithm,
            "caa" => Self::Caa,
            "compound" => Self::Compound,
            "connection" => Self::Connection,
            "dns" => Self::Dns,
            "externalAccountRequired" => Self::ExternalAccountRequired,
            "incorrectResponse" => Self::IncorrectResponse,
            "invalidContact" => Self::InvalidContact,
            "malformed" => Self::Malformed,
            "orderNotReady" => Self::OrderNotReady,
            "rateLimited" => Self::RateLimited,
            "rejectedIdentifier" => Self::RejectedIdentifier,
            "serverInternal" => Self::ServerInternal,
            "tls" => Self::Tls,
            "unauthorized" => Self::Unauthorized,
            "unsupportedContact" => Self::UnsupportedContact,
            "unsupportedIdentifier" => Self::UnsupportedIdentifier,
            "userActionRequired" => Self::UserActionRequired,
            _ => Self::Other(urn.to_owned()),
        }
    }
}

impl core::fmt::Display for Problem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.short_kind())?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        for sub in &self.subproblems {
            f.write_str("; ")?;
            if let Some(id) = &sub.identifier {
                write!(f, "{id}: ")?;
            }
            f.write_str(
                sub.kind
                    .strip_prefix(ACME_ERROR_PREFIX)
                    .unwrap_or(&sub.kind),
            )?;
            if let Some(detail) = &sub.detail {
                write!(f, " ({detail})")?;
            }
        }
        Ok(())
    }
}

/// The renewal information object (RFC 9773 §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub(crate) struct RenewalInfo {
    /// The window in which the CA suggests renewing.
    pub suggested_window: SuggestedWindow,
    /// A page explaining why the window moved, if it did.
    #[cfg_attr(
        feature = "serde",
        serde(
            rename = "explanationURL",
            default,
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub explanation_url: Option<String>,
}

/// ARI's suggested window, RFC 3339 times.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub(crate) struct SuggestedWindow {
    /// The window's start.
    pub start: String,
    /// The window's end.
    pub end: String,
}

// ---- reading with the engine's JSON module ----
// (The serde derives above are for hosts on the exported types; the tests check this reader
// against them on every type.)

impl FromJson for IdentifierType {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        json::one_of(
            value,
            &[("dns", IdentifierType::Dns), ("ip", IdentifierType::Ip)],
        )
    }
}

impl FromJson for Identifier {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            kind: f.required("type", json::read)?,
            value: f.required("value", json::string)?,
        })
    }
}

impl Identifier {
    /// This identifier as JSON: `{"type":…,"value":…}`.
    pub(crate) fn to_json(&self) -> String {
        let kind = match self.kind {
            IdentifierType::Dns => "dns",
            IdentifierType::Ip => "ip",
        };
        ObjectWriter::new()
            .string("type", kind)
            .string("value", &self.value)
            .finish()
    }
}

/// A JSON array of identifiers.
pub(crate) fn identifiers_to_json(identifiers: &[Identifier]) -> String {
    json::write_array(identifiers.iter().map(Identifier::to_json))
}

impl FromJson for Directory {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            new_nonce: f.required("newNonce", json::string)?,
            new_account: f.required("newAccount", json::string)?,
            new_order: f.required("newOrder", json::string)?,
            new_authz: f.optional("newAuthz", json::string)?,
            revoke_cert: f.required("revokeCert", json::string)?,
            key_change: f.required("keyChange", json::string)?,
            renewal_info: f.optional("renewalInfo", json::string)?,
            meta: f.or_default("meta", json::read)?,
        })
    }
}

impl FromJson for DirectoryMeta {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            terms_of_service: f.optional("termsOfService", json::string)?,
            website: f.optional("website", json::string)?,
            caa_identities: f.or_default("caaIdentities", json::strings)?,
            external_account_required: f.or_default("externalAccountRequired", json::boolean)?,
            profiles: f.or_default("profiles", |v| {
                // A map: a name given twice keeps its last description, as serde's does.
                let Value::Object(members) = v else {
                    return Err(JsonError::expected("an object"));
                };
                members
                    .iter()
                    .map(|(name, description)| {
                        json::string(description)
                            .map(|d| (name.clone(), d))
                            .map_err(|e| e.in_field(name))
                    })
                    .collect()
            })?,
        })
    }
}

impl FromJson for AccountStatus {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        json::one_of(
            value,
            &[
                ("valid", AccountStatus::Valid),
                ("deactivated", AccountStatus::Deactivated),
                ("revoked", AccountStatus::Revoked),
            ],
        )
    }
}

impl FromJson for Account {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            status: f.required("status", json::read)?,
            contact: f.or_default("contact", json::strings)?,
            orders: f.optional("orders", json::string)?,
        })
    }
}

impl FromJson for OrderStatus {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        json::one_of(
            value,
            &[
                ("pending", OrderStatus::Pending),
                ("ready", OrderStatus::Ready),
                ("processing", OrderStatus::Processing),
                ("valid", OrderStatus::Valid),
                ("invalid", OrderStatus::Invalid),
            ],
        )
    }
}

impl FromJson for Order {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            status: f.required("status", json::read)?,
            expires: f.optional("expires", json::string)?,
            identifiers: f.required("identifiers", |v| json::array(v, json::read))?,
            authorizations: f.or_default("authorizations", json::strings)?,
            finalize: f.required("finalize", json::string)?,
            certificate: f.optional("certificate", json::string)?,
            error: f.optional("error", json::read)?,
        })
    }
}

impl NewOrder<'_> {
    /// The newOrder payload as JSON (members in declaration order, absent ones left out).
    pub(crate) fn to_json(&self) -> String {
        ObjectWriter::new()
            .raw("identifiers", &identifiers_to_json(self.identifiers))
            .opt_string("notBefore", self.not_before.as_deref())
            .opt_string("notAfter", self.not_after.as_deref())
            .opt_string("replaces", self.replaces)
            .opt_string("profile", self.profile)
            .finish()
    }
}

impl FromJson for AuthorizationStatus {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        json::one_of(
            value,
            &[
                ("pending", AuthorizationStatus::Pending),
                ("valid", AuthorizationStatus::Valid),
                ("invalid", AuthorizationStatus::Invalid),
                ("deactivated", AuthorizationStatus::Deactivated),
                ("expired", AuthorizationStatus::Expired),
                ("revoked", AuthorizationStatus::Revoked),
            ],
        )
    }
}

impl FromJson for Authorization {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            identifier: f.required("identifier", json::read)?,
            status: f.required("status", json::read)?,
            challenges: f.or_default("challenges", |v| json::array(v, json::read))?,
            wildcard: f.or_default("wildcard", json::boolean)?,
        })
    }
}

impl FromJson for ChallengeStatus {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        json::one_of(
            value,
            &[
                ("pending", ChallengeStatus::Pending),
                ("processing", ChallengeStatus::Processing),
                ("valid", ChallengeStatus::Valid),
                ("invalid", ChallengeStatus::Invalid),
            ],
        )
    }
}

impl FromJson for Challenge {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            kind: f.required("type", json::string)?,
            url: f.required("url", json::string)?,
            status: f.required("status", json::read)?,
            token: f.optional("token", json::string)?,
            error: f.optional("error", json::read)?,
        })
    }
}

impl FromJson for Problem {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            kind: f.or_default("type", json::string)?,
            detail: f.optional("detail", json::string)?,
            status: f.optional("status", json::unsigned)?,
            subproblems: f.or_default("subproblems", |v| json::array(v, json::read))?,
        })
    }
}

impl FromJson for Subproblem {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            kind: f.or_default("type", json::string)?,
            detail: f.optional("detail", json::string)?,
            identifier: f.optional("identifier", json::read)?,
        })
    }
}

impl FromJson for RenewalInfo {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            suggested_window: f.required("suggestedWindow", json::read)?,
            explanation_url: f.optional("explanationURL", json::string)?,
        })
    }
}

impl FromJson for SuggestedWindow {
    fn from_json(value: &Value) -> Result<Self, JsonError> {
        let f = json::object(value)?;
        Ok(Self {
            start: f.required("start", json::string)?,
            end: f.required("end", json::string)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `text` with the engine's reader and with the serde derive, and checks both agree:
    /// the same value, or both an error.
    fn agree<T>(text: &str)
    where
        T: FromJson + serde::de::DeserializeOwned + PartialEq + core::fmt::Debug,
    {
        let ours = json::from_slice::<T>(text.as_bytes());
        let theirs = serde_json::from_str::<T>(text);
        assert_eq!(
            ours.as_ref().ok(),
            theirs.as_ref().ok(),
            "{text}\nours: {ours:?}\nserde: {theirs:?}"
        );
    }

    /// `document` and variations of it: each member (and each member of `nested` members)
    /// removed, made null, replaced by values of other types, given twice.
    fn variations(document: &str, nested: &[&str]) -> Vec<String> {
        let original: serde_json::Value = serde_json::from_str(document).expect("valid JSON");
        let replacements = [
            serde_json::Value::Null,
            serde_json::json!(1),
            serde_json::json!(-1),
            serde_json::json!(1.5),
            serde_json::json!(70000),
            serde_json::json!("x"),
            serde_json::json!("valid"),
            serde_json::json!(true),
            serde_json::json!([]),
            serde_json::json!(["x"]),
            serde_json::json!({}),
        ];
        let mut paths: Vec<Vec<&str>> = Vec::new();
        for key in original.as_object().expect("object").keys() {
            paths.push(vec![key]);
        }
        for parent in nested {
            for key in object_at(&original, &[parent]).keys() {
                paths.push(vec![parent, key]);
            }
        }
        let mut out = vec![document.to_owned()];
        for path in &paths {
            let (last, parent) = path.split_last().expect("non-empty path");
            let object = object_at(&original, parent);
            for replacement in &replacements {
                // serde also reads a struct from a positional array; the engine does not
                // (only `[]`, PHP's empty object).
                let positional = object[*last].is_object()
                    && replacement.as_array().is_some_and(|a| !a.is_empty());
                if positional {
                    continue;
                }
                let mut changed = object.clone();
                changed.insert((*last).to_owned(), replacement.clone());
                out.push(rebuild(
                    &original,
                    parent,
                    &serde_json::Value::Object(changed).to_string(),
                ));
            }
            let mut without = object.clone();
            without.remove(*last);
            out.push(rebuild(
                &original,
                parent,
                &serde_json::Value::Object(without).to_string(),
            ));
            // The member twice.
            let duplicated = format!(
                "{{{}:{},{}",
                serde_json::to_string(last).expect("key"),
                object[*last],
                &serde_json::Value::Object(object.clone()).to_string()[1..]
            );
            out.push(rebuild(&original, parent, &duplicated));
        }
        out.push(format!("{document} x"));
        out.push(document.replace('{', "{\"unknown\":[1,{\"a\":null}],"));
        out
    }

    /// The object at `path` (through the first item of arrays).
    fn object_at<'v>(
        value: &'v serde_json::Value,
        path: &[&str],
    ) -> &'v serde_json::Map<String, serde_json::Value> {
        let mut value = value;
        for key in path {
            value = &value[*key];
            if value.is_array() {
                value = &value[0];
            }
        }
        value.as_object().expect("an object")
    }

    /// `original` as JSON text with the object at `path` replaced by the JSON text `object`.
    fn rebuild(original: &serde_json::Value, path: &[&str], object: &str) -> String {
        const MARK: &str = "\u{1}MARK\u{1}";
        if path.is_empty() {
            return object.to_owned();
        }
        let mut copy = original.clone();
        let mut slot = &mut copy;
        for key in path {
            slot = &mut slot[*key];
            if slot.is_array() {
                slot = &mut slot[0];
            }
        }
        *slot = serde_json::Value::String(MARK.to_owned());
        copy.to_string()
            .replace(&serde_json::to_string(MARK).expect("mark"), object)
    }

    #[test]
    fn the_engine_reader_agrees_with_the_serde_derives() {
        let directory = r#"{"newNonce":"n","newAccount":"a","newOrder":"o","newAuthz":"z",
            "revokeCert":"r","keyChange":"k","renewalInfo":"i","meta":{"termsOfService":"t",
            "website":"w","caaIdentities":["c"],"externalAccountRequired":true,
            "profiles":{"classic":"90 days"}}}"#;
        for text in variations(directory, &["meta"]) {
            agree::<Directory>(&text);
        }
        let order = r#"{"status":"pending","expires":"2026-01-01T00:00:00Z",
            "identifiers":[{"type":"dns","value":"a.example"}],"authorizations":["u"],
            "finalize":"f","certificate":"c","error":{"type":"t","detail":"d","status":400,
            "subproblems":[{"type":"s","detail":"sd","identifier":{"type":"ip","value":"::1"}}]}}"#;
        for text in variations(order, &["identifiers", "error"]) {
            agree::<Order>(&text);
        }
        let authorization = r#"{"identifier":{"type":"dns","value":"a.example"},
            "status":"valid","challenges":[{"type":"http-01","url":"u","status":"invalid",
            "token":"t","error":{"type":"e"}}],"wildcard":false}"#;
        for text in variations(authorization, &["identifier", "challenges"]) {
            agree::<Authorization>(&text);
        }
        let account = r#"{"status":"deactivated","contact":["mailto:a@b"],"orders":"o"}"#;
        for text in variations(account, &[]) {
            agree::<Account>(&text);
        }
        let problem = r#"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"d",
            "status":403,"subproblems":[{"type":"t","detail":"d",
            "identifier":{"type":"dns","value":"b"}}]}"#;
        for text in variations(problem, &["subproblems"]) {
            agree::<Problem>(&text);
        }
        let renewal = r#"{"suggestedWindow":{"start":"s","end":"e"},"explanationURL":"x"}"#;
        for text in variations(renewal, &["suggestedWindow"]) {
            agree::<RenewalInfo>(&text);
        }
        for text in ["", "null", "[]", "\"x\"", "{}", "{\"status\":\"valid\"}x"] {
            agree::<Account>(text);
            agree::<Problem>(text);
        }
    }

    #[test]
    fn identifiers_and_new_orders_write_what_serde_writes() {
        let identifiers = [Identifier::dns("a.example"), Identifier::ip("192.0.2.1")];
        let order = NewOrder {
            identifiers: &identifiers,
            not_before: None,
            not_after: Some("2026-01-01T00:00:00Z".to_owned()),
            replaces: Some("aki.serial"),
            profile: None,
        };
        assert_eq!(
            order.to_json(),
            serde_json::to_string(&order).expect("serde")
        );
    }

    #[test]
    fn problem_display_names_identifiers() {
        let p: Problem = serde_json::from_str(
            r#"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Some names were rejected",
                "subproblems":[{"type":"urn:ietf:params:acme:error:caa","detail":"CAA forbids",
                "identifier":{"type":"dns","value":"b.example"}}]}"#,
        )
        .expect("valid problem");
        assert_eq!(p.problem_kind(), ProblemKind::RejectedIdentifier);
        assert_eq!(
            ProblemKind::from_type("urn:example:teapot"),
            ProblemKind::Other("urn:example:teapot".into())
        );
        assert_eq!(
            ProblemKind::from_type("urn:ietf:params:acme:error:somethingNew"),
            ProblemKind::Other("urn:ietf:params:acme:error:somethingNew".into())
        );
        assert_eq!(
            p.to_string(),
            "rejectedIdentifier: Some names were rejected; b.example: caa (CAA forbids)"
        );
    }

    #[test]
    fn directory_with_meta_profiles_and_ari() {
        let d: Directory = serde_json::from_str(
            r#"{"newNonce":"n","newAccount":"a","newOrder":"o","revokeCert":"r","keyChange":"k",
                "renewalInfo":"https://ca/ari","meta":{"termsOfService":"https://ca/tos",
                "externalAccountRequired":true,"caaIdentities":["ca.example"],
                "profiles":{"classic":"90 days","shortlived":"6 days"},"website":"https://ca"}}"#,
        )
        .expect("valid directory");
        assert_eq!(d.renewal_info.as_deref(), Some("https://ca/ari"));
        assert!(d.meta.external_account_required);
        assert_eq!(d.meta.profiles.len(), 2);
        assert_eq!(d.meta.caa_identities, ["ca.example"]);
    }
}
