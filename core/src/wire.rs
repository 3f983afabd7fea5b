//! The RFC 8555 objects as they travel: serde types for directories, accounts, orders,
//! authorizations, challenges, problem documents and renewal information.
//!
//! Deserialisation is lenient about fields the engine does not use and strict about the
//! ones it does: a missing or malformed required field is an error naming the field.

use serde::{Deserialize, Serialize};

/// The kind of an identifier in an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierType {
    /// A DNS name, possibly a wildcard (`*.example.com`).
    Dns,
    /// An IP address (RFC 8738).
    Ip,
}

/// An identifier a certificate is for: a DNS name or an IP address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Identifier {
    /// `dns` or `ip`.
    #[serde(rename = "type")]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    /// URL for new nonces.
    pub new_nonce: String,
    /// URL for new accounts.
    pub new_account: String,
    /// URL for new orders.
    pub new_order: String,
    /// URL for pre-authorization, if offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_authz: Option<String>,
    /// URL for revocation.
    pub revoke_cert: String,
    /// URL for account key rollover.
    pub key_change: String,
    /// URL prefix for ARI renewal information, if offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_info: Option<String>,
    /// Metadata about the CA.
    #[serde(default)]
    pub meta: DirectoryMeta,
}

/// The directory's `meta` object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    /// The terms of service the account holder must agree to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service: Option<String>,
    /// The CA's website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Domain names the CA recognises in CAA records.
    #[serde(default)]
    pub caa_identities: Vec<String>,
    /// Whether new accounts need external account binding.
    #[serde(default)]
    pub external_account_required: bool,
    /// Certificate profiles the CA offers, name → description.
    #[serde(default)]
    pub profiles: std::collections::BTreeMap<String, String>,
}

/// The status of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Usable.
    Valid,
    /// Deactivated by its holder.
    Deactivated,
    /// Revoked by the CA.
    Revoked,
}

/// An account object (RFC 8555 §7.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The account's status.
    pub status: AccountStatus,
    /// Contact URLs (`mailto:`).
    #[serde(default)]
    pub contact: Vec<String>,
    /// The URL of the account's orders list, if the CA gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<String>,
}

/// The status of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The order's status.
    pub status: OrderStatus,
    /// When the order expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The identifiers of the order.
    pub identifiers: Vec<Identifier>,
    /// Authorization URLs.
    #[serde(default)]
    pub authorizations: Vec<String>,
    /// The finalize URL.
    pub finalize: String,
    /// The certificate URL once valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Why the order failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

/// The body of a newOrder request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrder<'a> {
    /// The identifiers wanted.
    pub identifiers: &'a [Identifier],
    /// Requested notBefore, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// Requested notAfter, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// ARI certificate ID of the certificate this order replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<&'a str>,
    /// The certificate profile wanted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<&'a str>,
}

/// The status of an authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorizationStatus {
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// The identifier being authorized (without the `*.` of a wildcard).
    pub identifier: Identifier,
    /// The authorization's status.
    pub status: AuthorizationStatus,
    /// The challenges offered.
    #[serde(default)]
    pub challenges: Vec<Challenge>,
    /// Whether the order's identifier was a wildcard.
    #[serde(default)]
    pub wildcard: bool,
}

/// The status of a challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeStatus {
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The challenge type, e.g. `http-01`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL to answer the challenge at.
    pub url: String,
    /// The challenge's status.
    pub status: ChallengeStatus,
    /// The token (for the token-based types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Why validation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

/// A problem document (RFC 7807 with ACME's subproblems, RFC 8555 §6.7).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The problem type URN, e.g. `urn:ietf:params:acme:error:badNonce`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The HTTP status the CA gave, if it repeated it in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Problems with specific identifiers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subproblems: Vec<Subproblem>,
}

/// One identifier's part of a compound problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subproblem {
    /// The problem type URN.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The identifier at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
}

/// The prefix of ACME's problem types.
pub const ACME_ERROR_PREFIX: &str = "urn:ietf:params:acme:error:";

impl Problem {
    /// The ACME problem name without its URN prefix (`badNonce`), or the whole type.
    pub fn short_kind(&self) -> &str {
        self.kind
            .strip_prefix(ACME_ERROR_PREFIX)
            .unwrap_or(&self.kind)
    }

    /// Whether this problem is the ACME error `name` (e.g. `"badNonce"`).
    pub fn is(&self, name: &str) -> bool {
        self.short_kind() == name
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalInfo {
    /// The window in which the CA suggests renewing.
    pub suggested_window: SuggestedWindow,
    /// A page explaining why the window moved, if it did.
    #[serde(
        rename = "explanationURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub explanation_url: Option<String>,
}

/// ARI's suggested window, RFC 3339 times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedWindow {
    /// The window's start.
    pub start: String,
    /// The window's end.
    pub end: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_display_names_identifiers() {
        let p: Problem = serde_json::from_str(
            r#"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Some names were rejected",
                "subproblems":[{"type":"urn:ietf:params:acme:error:caa","detail":"CAA forbids",
                "identifier":{"type":"dns","value":"b.example"}}]}"#,
        )
        .expect("valid problem");
        assert!(p.is("rejectedIdentifier"));
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
