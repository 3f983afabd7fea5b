//! Checkpoints of in-flight orders, so a host that crashes resumes the same order instead of
//! creating a new one.

use core::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::client::api::ChallengeType;
use crate::error::Error;
use crate::jose;
use crate::keys::PrivateKey;
use crate::timestamp::Timestamp;
use crate::wire::Identifier;

/// The snapshot format this engine writes and reads.
const SNAPSHOT_VERSION: u32 = 1;

/// What an order asks for, once validated.
#[derive(Clone, Debug)]
pub(crate) struct OrderPlan {
    /// The identifiers, normalised.
    pub identifiers: Vec<Identifier>,
    /// Challenge types in order of preference.
    pub challenge_types: Vec<ChallengeType>,
    /// Requested notBefore.
    pub not_before: Option<Timestamp>,
    /// Requested notAfter.
    pub not_after: Option<Timestamp>,
    /// ARI ID of the certificate replaced.
    pub replaces: Option<String>,
    /// Certificate profile.
    pub profile: Option<String>,
    /// Preferred top issuer CN.
    pub preferred_issuer: Option<String>,
}

/// The certificate key of an order, or the caller's CSR.
#[derive(Clone, Debug)]
pub(crate) enum OrderKey {
    /// A key the engine holds (generated or given); the CSR is built from it.
    Generated(PrivateKey),
    /// A DER CSR from the caller.
    Csr(Vec<u8>),
}

/// A checkpoint of an order in flight. It holds the certificate key: store it like a key
/// file (owner-only permissions). `Debug` does not show the key.
#[derive(Clone)]
pub struct Snapshot(Box<Checkpoint>);

/// What a snapshot holds.
#[derive(Clone)]
struct Checkpoint {
    directory_url: String,
    account_url: Option<String>,
    order_url: String,
    plan: OrderPlan,
    key: OrderKey,
}

/// The JSON form of a snapshot.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotJson {
    version: u32,
    directory_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_url: Option<String>,
    order_url: String,
    identifiers: Vec<Identifier>,
    challenge_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preferred_issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate_key_pem: Option<Zeroizing<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    csr: Option<String>,
}

impl Snapshot {
    /// A snapshot of the order at `order_url`.
    pub(crate) fn new(
        directory_url: &str,
        account_url: Option<&str>,
        order_url: &str,
        plan: &OrderPlan,
        key: &OrderKey,
    ) -> Self {
        Self(Box::new(Checkpoint {
            directory_url: directory_url.to_owned(),
            account_url: account_url.map(str::to_owned),
            order_url: order_url.to_owned(),
            plan: plan.clone(),
            key: key.clone(),
        }))
    }

    /// The directory URL of the CA the order was placed with.
    pub fn directory_url(&self) -> &str {
        &self.0.directory_url
    }

    /// The account URL that placed the order.
    pub fn account_url(&self) -> Option<&str> {
        self.0.account_url.as_deref()
    }

    /// The order URL.
    pub fn order_url(&self) -> &str {
        &self.0.order_url
    }

    /// The identifiers ordered.
    pub fn identifiers(&self) -> &[Identifier] {
        &self.0.plan.identifiers
    }

    /// The snapshot as JSON (contains the certificate key).
    pub fn to_json(&self) -> String {
        let (certificate_key_pem, csr) = match &self.0.key {
            OrderKey::Generated(key) => (Some(key.to_pem()), None),
            OrderKey::Csr(der) => (None, Some(jose::b64url(der))),
        };
        let json = SnapshotJson {
            version: SNAPSHOT_VERSION,
            directory_url: self.0.directory_url.clone(),
            account_url: self.0.account_url.clone(),
            order_url: self.0.order_url.clone(),
            identifiers: self.0.plan.identifiers.clone(),
            challenge_types: self
                .0
                .plan
                .challenge_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            profile: self.0.plan.profile.clone(),
            preferred_issuer: self.0.plan.preferred_issuer.clone(),
            certificate_key_pem,
            csr,
        };
        serde_json::to_string(&json).unwrap_or_default()
    }

    /// Reads a snapshot written by [`Snapshot::to_json`].
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let json: SnapshotJson = serde_json::from_str(text)
            .map_err(|e| Error::invalid_input("order snapshot", format!("snapshot JSON ({e})")))?;
        if json.version != SNAPSHOT_VERSION {
            return Err(Error::invalid_input(
                format!("order snapshot version {}", json.version),
                format!("version {SNAPSHOT_VERSION}"),
            ));
        }
        let key = match (json.certificate_key_pem, json.csr) {
            (Some(pem), None) => OrderKey::Generated(PrivateKey::from_pem(&pem)?),
            (None, Some(csr)) => OrderKey::Csr(jose::b64url_decode(&csr, "snapshot csr")?),
            _ => {
                return Err(Error::invalid_input(
                    "order snapshot",
                    "exactly one of certificateKeyPem and csr",
                ));
            }
        };
        let challenge_types = json
            .challenge_types
            .iter()
            .map(|name| {
                ChallengeType::from_name(name).ok_or_else(|| {
                    Error::invalid_input(
                        format!("snapshot challenge type {name:?}"),
                        "http-01, dns-01 or tls-alpn-01",
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self(Box::new(Checkpoint {
            directory_url: json.directory_url,
            account_url: json.account_url,
            order_url: json.order_url,
            plan: OrderPlan {
                identifiers: json.identifiers,
                challenge_types,
                not_before: None,
                not_after: None,
                replaces: None,
                profile: json.profile,
                preferred_issuer: json.preferred_issuer,
            },
            key,
        })))
    }

    /// The plan, key and order URL, to continue the order.
    pub(crate) fn into_parts(self) -> (OrderPlan, OrderKey, String) {
        let checkpoint = *self.0;
        (checkpoint.plan, checkpoint.key, checkpoint.order_url)
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("directory_url", &self.0.directory_url)
            .field("order_url", &self.0.order_url)
            .field("identifiers", &self.0.plan.identifiers)
            .finish_non_exhaustive()
    }
}
