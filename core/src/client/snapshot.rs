//! Checkpoints of in-flight orders, so a host that crashes resumes the same order instead of
//! creating a new one.

use core::fmt;

use zeroize::Zeroizing;

use crate::base64url::{b64url, b64url_decode};
use crate::client::api::ChallengeType;
use crate::error::Error;
use crate::json::{self, JsonError, ObjectWriter};
use crate::keys::PrivateKey;
use crate::timestamp::Timestamp;
use crate::wire::{Identifier, identifiers_to_json};

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

    /// The challenge types the order may answer.
    pub fn challenge_types(&self) -> &[ChallengeType] {
        &self.0.plan.challenge_types
    }

    /// The type of the certificate key the order holds; `None` when it was given a CSR.
    pub fn key_type(&self) -> Option<crate::keys::KeyType> {
        match &self.0.key {
            OrderKey::Generated(key) => Some(key.key_type()),
            OrderKey::Csr(_) => None,
        }
    }

    /// The snapshot as JSON (contains the certificate key).
    ///
    /// `{"version":1,"directoryUrl":…,"accountUrl":…,"orderUrl":…,"identifiers":[…],
    /// "challengeTypes":[…],"profile":…,"preferredIssuer":…,"certificateKeyPem":…}` (or
    /// `"csr"`: base64url DER instead of the key); absent optional members are left out.
    pub fn to_json(&self) -> String {
        let challenge_types: Vec<String> = self
            .0
            .plan
            .challenge_types
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect();
        let json = ObjectWriter::new()
            .unsigned("version", u64::from(SNAPSHOT_VERSION))
            .string("directoryUrl", &self.0.directory_url)
            .opt_string("accountUrl", self.0.account_url.as_deref())
            .string("orderUrl", &self.0.order_url)
            .raw(
                "identifiers",
                &identifiers_to_json(&self.0.plan.identifiers),
            )
            .raw("challengeTypes", &json::write_strings(&challenge_types))
            .opt_string("profile", self.0.plan.profile.as_deref())
            .opt_string("preferredIssuer", self.0.plan.preferred_issuer.as_deref());
        match &self.0.key {
            OrderKey::Generated(key) => json.string("certificateKeyPem", &key.to_pem()),
            OrderKey::Csr(der) => json.string("csr", &b64url(der)),
        }
        .finish()
    }

    /// Reads a snapshot written by [`Snapshot::to_json`].
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let bad =
            |e: JsonError| Error::invalid_input("order snapshot", format!("snapshot JSON ({e})"));
        let value = json::parse(text.as_bytes()).map_err(bad)?;
        let f = json::object(&value).map_err(bad)?;
        let version: u32 = f.required("version", json::unsigned).map_err(bad)?;
        let directory_url = f.required("directoryUrl", json::string).map_err(bad)?;
        let account_url = f.optional("accountUrl", json::string).map_err(bad)?;
        let order_url = f.required("orderUrl", json::string).map_err(bad)?;
        let identifiers = f
            .required("identifiers", |v| json::array(v, json::read))
            .map_err(bad)?;
        let challenge_names = f.required("challengeTypes", json::strings).map_err(bad)?;
        let profile = f.optional("profile", json::string).map_err(bad)?;
        let preferred_issuer = f.optional("preferredIssuer", json::string).map_err(bad)?;
        let certificate_key_pem = f
            .optional("certificateKeyPem", json::string)
            .map_err(bad)?
            .map(Zeroizing::new);
        let csr = f.optional("csr", json::string).map_err(bad)?;
        if version != SNAPSHOT_VERSION {
            return Err(Error::invalid_input(
                format!("order snapshot version {version}"),
                format!("version {SNAPSHOT_VERSION}"),
            ));
        }
        let key = match (certificate_key_pem, csr) {
            (Some(pem), None) => OrderKey::Generated(PrivateKey::from_pem(&pem)?),
            (None, Some(csr)) => OrderKey::Csr(b64url_decode(&csr, "snapshot csr")?),
            _ => {
                return Err(Error::invalid_input(
                    "order snapshot",
                    "exactly one of certificateKeyPem and csr",
                ));
            }
        };
        let challenge_types = challenge_names
            .iter()
            .map(|name| name.parse::<ChallengeType>())
            .collect::<Result<_, _>>()?;
        Ok(Self(Box::new(Checkpoint {
            directory_url,
            account_url,
            order_url,
            plan: OrderPlan {
                identifiers,
                challenge_types,
                not_before: None,
                not_after: None,
                replaces: None,
                profile,
                preferred_issuer,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    /// The JSON form earlier versions wrote with serde: snapshots they saved must still load.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct SerdeSnapshot<'a> {
        version: u32,
        directory_url: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        account_url: Option<&'a str>,
        order_url: &'a str,
        identifiers: &'a [Identifier],
        challenge_types: Vec<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        profile: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        preferred_issuer: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        certificate_key_pem: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        csr: Option<&'a str>,
    }

    #[test]
    fn json_is_what_serde_wrote_and_round_trips() {
        let plan = OrderPlan {
            identifiers: vec![Identifier::dns("a.example"), Identifier::ip("::1")],
            challenge_types: vec![ChallengeType::Dns01, ChallengeType::Http01],
            not_before: None,
            not_after: None,
            replaces: None,
            profile: Some("shortlived".to_owned()),
            preferred_issuer: None,
        };
        let key = PrivateKey::generate(crate::KeyType::P256).expect("key");
        for (account, order_key) in [
            (Some("https://ca/acct/1"), OrderKey::Generated(key.clone())),
            (None, OrderKey::Csr(vec![0x30, 0x00, 0xff])),
        ] {
            let snapshot = Snapshot::new(
                "https://ca/dir",
                account,
                "https://ca/o/1",
                &plan,
                &order_key,
            );
            let pem = key.to_pem();
            let csr = b64url(&[0x30, 0x00, 0xff]);
            let (certificate_key_pem, csr) = match order_key {
                OrderKey::Generated(_) => (Some(pem.as_str()), None),
                OrderKey::Csr(_) => (None, Some(csr.as_str())),
            };
            let serde = serde_json::to_string(&SerdeSnapshot {
                version: 1,
                directory_url: "https://ca/dir",
                account_url: account,
                order_url: "https://ca/o/1",
                identifiers: &plan.identifiers,
                challenge_types: vec!["dns-01", "http-01"],
                profile: Some("shortlived"),
                preferred_issuer: None,
                certificate_key_pem,
                csr,
            })
            .expect("serde");
            assert_eq!(snapshot.to_json(), serde);
            let back = Snapshot::from_json(&serde).expect("reads");
            assert_eq!(back.to_json(), serde);
            assert_eq!(back.identifiers(), plan.identifiers.as_slice());
        }
        for bad in [
            "",
            "{}",
            r#"{"version":2,"directoryUrl":"d","orderUrl":"o","identifiers":[],"challengeTypes":[],"csr":""}"#,
            r#"{"version":1,"directoryUrl":"d","orderUrl":"o","identifiers":[],"challengeTypes":["x-01"],"csr":""}"#,
            r#"{"version":1,"directoryUrl":"d","orderUrl":"o","identifiers":[],"challengeTypes":[]}"#,
        ] {
            assert!(Snapshot::from_json(bad).is_err(), "{bad}");
        }
    }
}
