//! Checkpoints of in-flight orders, so a host that crashes resumes the same order instead of
//! creating a new one.

use core::fmt;

use zeroize::Zeroizing;

use crate::base64url::{b64url, b64url_decode};
use crate::client::api::{ChallengeType, OrderRequest};
use crate::error::Error;
use crate::json::{self, JsonError, ObjectWriter};
use crate::keys::PrivateKey;
use crate::wire::{Identifier, identifiers_to_json};

/// The snapshot format this engine writes and reads.
const SNAPSHOT_VERSION: u32 = 1;

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

/// What a snapshot holds: what the order still reads once it exists. The rest of its
/// [`OrderRequest`] went only into newOrder, which a resumed order never sends again: a
/// resumed order has `OrderRequest::new`'s defaults there.
#[derive(Clone)]
struct Checkpoint {
    directory_url: String,
    account_url: Option<String>,
    order_url: String,
    /// The identifiers, normalised: an authorization for another one is refused, and the
    /// chain must name them all.
    identifiers: Vec<Identifier>,
    /// The challenge types to choose from for pending authorizations.
    challenge_types: Vec<ChallengeType>,
    /// The top issuer to pick the chain by.
    preferred_issuer: Option<String>,
    key: OrderKey,
}

impl Snapshot {
    /// A snapshot of the order at `order_url`.
    pub(crate) fn new(
        directory_url: &str,
        account_url: Option<&str>,
        order_url: &str,
        order: &OrderRequest,
        key: &OrderKey,
    ) -> Self {
        Self(Box::new(Checkpoint {
            directory_url: directory_url.to_owned(),
            account_url: account_url.map(str::to_owned),
            order_url: order_url.to_owned(),
            identifiers: order.identifiers.clone(),
            challenge_types: order.challenge_types.clone(),
            preferred_issuer: order.preferred_issuer.clone(),
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
        &self.0.identifiers
    }

    /// The challenge types the order may answer.
    pub fn challenge_types(&self) -> &[ChallengeType] {
        &self.0.challenge_types
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
    /// "challengeTypes":[…],"preferredIssuer":…,"certificateKeyPem":…}` (or `"csr"`:
    /// base64url DER instead of the key); absent optional members are left out. (Earlier
    /// versions also wrote the order's `"profile"`, which only newOrder needed; reading
    /// ignores it.)
    pub fn to_json(&self) -> String {
        let challenge_types: Vec<String> = self
            .0
            .challenge_types
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect();
        let json = ObjectWriter::new()
            .unsigned("version", u64::from(SNAPSHOT_VERSION))
            .string("directoryUrl", &self.0.directory_url)
            .opt_string("accountUrl", self.0.account_url.as_deref())
            .string("orderUrl", &self.0.order_url)
            .raw("identifiers", &identifiers_to_json(&self.0.identifiers))
            .raw("challengeTypes", &json::write_strings(&challenge_types))
            .opt_string("preferredIssuer", self.0.preferred_issuer.as_deref());
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
            identifiers,
            challenge_types,
            preferred_issuer,
            key,
        })))
    }

    /// The order as far as it is still read, its key and its URL, to continue the order.
    pub(crate) fn into_parts(self) -> (OrderRequest, OrderKey, String) {
        let checkpoint = *self.0;
        let order = OrderRequest {
            challenge_types: checkpoint.challenge_types,
            preferred_issuer: checkpoint.preferred_issuer,
            ..OrderRequest::new(checkpoint.identifiers)
        };
        (order, checkpoint.key, checkpoint.order_url)
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("directory_url", &self.0.directory_url)
            .field("order_url", &self.0.order_url)
            .field("identifiers", &self.0.identifiers)
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
        let order = OrderRequest {
            challenge_types: vec![ChallengeType::Dns01, ChallengeType::Http01],
            profile: Some("shortlived".to_owned()),
            preferred_issuer: Some("Root X2".to_owned()),
            ..OrderRequest::new(vec![Identifier::dns("a.example"), Identifier::ip("::1")])
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
                &order,
                &order_key,
            );
            let pem = key.to_pem();
            let csr = b64url(&[0x30, 0x00, 0xff]);
            let (certificate_key_pem, csr) = match order_key {
                OrderKey::Generated(_) => (Some(pem.as_str()), None),
                OrderKey::Csr(_) => (None, Some(csr.as_str())),
            };
            let serde = |profile| {
                serde_json::to_string(&SerdeSnapshot {
                    version: 1,
                    directory_url: "https://ca/dir",
                    account_url: account,
                    order_url: "https://ca/o/1",
                    identifiers: &order.identifiers,
                    challenge_types: vec!["dns-01", "http-01"],
                    profile,
                    preferred_issuer: Some("Root X2"),
                    certificate_key_pem,
                    csr,
                })
                .expect("serde")
            };
            // The profile only went into newOrder: it is no longer written.
            let written = serde(None);
            assert_eq!(snapshot.to_json(), written);
            // A snapshot an earlier version wrote with the profile still loads, and is
            // continued with what a resumed order reads.
            for text in [written.clone(), serde(Some("shortlived"))] {
                let back = Snapshot::from_json(&text).expect("reads");
                assert_eq!(back.to_json(), written);
                let (resumed, resumed_key, url) = back.into_parts();
                assert_eq!(resumed.identifiers, order.identifiers);
                assert_eq!(resumed.challenge_types, order.challenge_types);
                assert_eq!(resumed.preferred_issuer, order.preferred_issuer);
                assert_eq!(resumed.profile, None);
                assert_eq!(url, "https://ca/o/1");
                assert_eq!(
                    matches!(resumed_key, OrderKey::Csr(_)),
                    matches!(order_key, OrderKey::Csr(_))
                );
            }
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
