//! An in-process ACME CA for the engine's tests. It checks what it receives as a real CA
//! would: every JWS signature (against the embedded `jwk` or the account's key), the
//! protected `url`, single-use nonces, the content type, key authorizations against what the
//! harness published, and the CSR's names and key. Knobs script its failure modes.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certsmith_core::{
    FlattenedJws, HttpRequest, HttpResponse, Identifier, IdentifierType, Jwk, KeyType, Method,
    PrivateKey, RcgenKey, Timestamp,
};
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::Verifier;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, Encode};

/// The CA's base URL.
pub const BASE: &str = "https://ca.test";
/// Its directory URL.
pub const DIRECTORY: &str = "https://ca.test/dir";
/// Common name of the default chain's top certificate.
pub const DEFAULT_ISSUER: &str = "Fake Root A";
/// Common name of the alternate chain's top certificate.
pub const ALTERNATE_ISSUER: &str = "Fake Root B";

/// Scripted behaviour.
#[derive(Clone, Debug, Default)]
pub struct Knobs {
    /// The next N signed requests get badNonce even with a good nonce.
    pub reject_nonces: u32,
    /// The next N requests get 500 serverInternal.
    pub server_errors: u32,
    /// newOrder answers 429 rateLimited.
    pub rate_limited: bool,
    /// Polls an answered authorization stays pending for.
    pub authz_pending_polls: u32,
    /// Retry-After (seconds) on pending authorizations and processing orders.
    pub retry_after_secs: Option<u64>,
    /// Polls a finalized order stays processing for.
    pub finalize_processing_polls: u32,
    /// Identifiers whose authorizations start valid.
    pub preset_valid: Vec<String>,
    /// External account binding required, with this key id and HMAC key.
    pub eab: Option<(String, Vec<u8>)>,
    /// Offer ARI.
    pub ari: bool,
    /// newOrder with `replaces` answers 409 alreadyReplaced.
    pub already_replaced: bool,
    /// Offer an alternate chain.
    pub alternate_chain: bool,
    /// Profiles offered.
    pub profiles: Vec<String>,
    /// Authorizations name this DNS identifier instead of the ordered one (a hostile CA).
    pub foreign_identifier: Option<String>,
    /// Take JWS signatures as valid without checking them (every other check stays): the
    /// fuzz targets, where checking them would take most of each run's time.
    pub trust_signatures: bool,
}

/// What the harness published for challenges.
#[derive(Debug, Default)]
pub struct Published {
    /// http-01: token → body.
    pub http: BTreeMap<String, String>,
    /// dns-01: record name → TXT values.
    pub dns: BTreeMap<String, Vec<String>>,
    /// tls-alpn-01: identifier → certificate PEM.
    pub alpn: BTreeMap<String, String>,
}

/// One request the CA saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// When.
    pub at: Timestamp,
    /// The endpoint name (`new-order`, `authz`, …).
    pub endpoint: String,
}

#[derive(Debug)]
struct Account {
    jwk: Jwk,
    status: &'static str,
    contact: Vec<String>,
}

#[derive(Debug)]
struct Chall {
    kind: &'static str,
    token: String,
    status: &'static str,
    error: Option<Value>,
}

#[derive(Debug)]
struct Authz {
    identifier: Identifier,
    wildcard: bool,
    status: &'static str,
    challenges: Vec<Chall>,
    polls_left: u32,
}

#[derive(Debug)]
struct Order {
    account: usize,
    identifiers: Vec<Identifier>,
    authzs: Vec<usize>,
    status: &'static str,
    processing_polls_left: u32,
    cert: Option<usize>,
}

/// An issued certificate: default and alternate chains, leaf DER.
#[derive(Debug)]
pub struct Issued {
    /// Default chain PEM.
    pub chain: String,
    /// Alternate chain PEM.
    pub alternate: String,
    /// Leaf DER.
    pub leaf_der: Vec<u8>,
    /// Owning account.
    pub account: usize,
}

/// The fake CA.
pub struct FakeCa {
    /// Scripted behaviour.
    pub knobs: Knobs,
    /// What the host published (shared with the harness).
    pub published: Rc<RefCell<Published>>,
    /// Every request, in order.
    pub log: Vec<Seen>,
    /// Certificates issued.
    pub issued: Vec<Issued>,
    /// DERs revoked.
    pub revoked: Vec<Vec<u8>>,
    nonces: HashSet<String>,
    next_nonce: u64,
    accounts: Vec<Account>,
    orders: Vec<Order>,
    authzs: Vec<Authz>,
    root_a: (PrivateKey, rcgen::CertificateParams, String),
    root_b: (PrivateKey, rcgen::CertificateParams, String),
}

/// base64url without padding.
pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// RFC 7638 thumbprint, computed here independently of the engine.
pub fn thumbprint(jwk: &Jwk) -> String {
    let canonical = format!(
        r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
        jwk.crv, jwk.kty, jwk.x, jwk.y
    );
    b64(&Sha256::digest(canonical.as_bytes()))
}

/// A self-signed root with common name `cn`.
fn root(cn: &str) -> (PrivateKey, rcgen::CertificateParams, String) {
    let key = PrivateKey::generate(KeyType::P256).expect("root key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[1]));
    let pem = params
        .self_signed(&RcgenKey::new(&key))
        .expect("root")
        .pem();
    (key, params, pem)
}

/// A CSR's public key, for rcgen.
struct CsrKey(Vec<u8>);

impl rcgen::PublicKeyData for CsrKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        if self.0.len() == 97 {
            &rcgen::PKCS_ECDSA_P384_SHA384
        } else {
            &rcgen::PKCS_ECDSA_P256_SHA256
        }
    }
}

/// An error response.
fn problem(status: u16, kind: &str, detail: &str) -> (u16, Value) {
    (
        status,
        json!({"type": format!("urn:ietf:params:acme:error:{kind}"), "detail": detail, "status": status}),
    )
}

/// Verifies a JWS signature with a key rebuilt from a JWK.
fn verify(jws: &FlattenedJws, jwk: &Jwk) -> bool {
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap_or_default();
    let mut point = vec![4u8];
    point.extend(decode(&jwk.x));
    point.extend(decode(&jwk.y));
    let sig = decode(&jws.signature);
    let input = format!("{}.{}", jws.protected, jws.payload);
    match jwk.crv.as_str() {
        "P-256" => match (
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&point),
            p256::ecdsa::Signature::from_slice(&sig),
        ) {
            (Ok(k), Ok(s)) => k.verify(input.as_bytes(), &s).is_ok(),
            _ => false,
        },
        "P-384" => match (
            p384::ecdsa::VerifyingKey::from_sec1_bytes(&point),
            p384::ecdsa::Signature::from_slice(&sig),
        ) {
            (Ok(k), Ok(s)) => k.verify(input.as_bytes(), &s).is_ok(),
            _ => false,
        },
        _ => false,
    }
}

/// A verified request: who signed and what.
struct Signed {
    /// Account index for `kid`, or None for `jwk`.
    account: Option<usize>,
    /// The embedded JWK, for `jwk` requests.
    jwk: Option<Jwk>,
    /// The decoded payload (empty for POST-as-GET).
    payload: Vec<u8>,
}

impl FakeCa {
    /// A CA with these knobs, sharing `published` with the host.
    pub fn new(knobs: Knobs, published: Rc<RefCell<Published>>) -> Self {
        Self {
            knobs,
            published,
            log: Vec::new(),
            issued: Vec::new(),
            revoked: Vec::new(),
            nonces: HashSet::new(),
            next_nonce: 0,
            accounts: Vec::new(),
            orders: Vec::new(),
            authzs: Vec::new(),
            root_a: root(DEFAULT_ISSUER),
            root_b: root(ALTERNATE_ISSUER),
        }
    }

    /// Requests made to `endpoint`.
    pub fn count(&self, endpoint: &str) -> usize {
        self.log.iter().filter(|s| s.endpoint == endpoint).count()
    }

    /// Accounts registered.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// The status of account `i`.
    pub fn account_status(&self, i: usize) -> &str {
        self.accounts[i].status
    }

    fn nonce(&mut self) -> String {
        self.next_nonce += 1;
        let nonce = format!("nonce-{:06}", self.next_nonce);
        self.nonces.insert(nonce.clone());
        nonce
    }

    /// Answers one request.
    pub fn handle(&mut self, req: &HttpRequest, now: Timestamp) -> HttpResponse {
        let path = req.url.strip_prefix(BASE).unwrap_or("").to_owned();
        let endpoint = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_owned();
        let mut headers = Vec::new();
        let (status, body) = if self.knobs.server_errors > 0 {
            self.knobs.server_errors -= 1;
            let (s, b) = problem(500, "serverInternal", "scripted failure");
            (s, b.to_string().into_bytes())
        } else {
            match self.route(req, &path, &mut headers) {
                Ok((status, body)) => (status, body),
                Err((status, value)) => (status, value.to_string().into_bytes()),
            }
        };
        // RFC 8555 §6.5: nonces on every POST response and from newNonce; none elsewhere.
        if req.method == Method::Post || endpoint == "nonce" {
            let nonce = self.nonce();
            headers.push(("Replay-Nonce".to_owned(), nonce));
        }
        if status >= 400 {
            headers.push((
                "Content-Type".to_owned(),
                "application/problem+json".to_owned(),
            ));
        }
        self.log.push(Seen { at: now, endpoint });
        HttpResponse {
            status,
            headers,
            body,
        }
    }

    /// Checks the JWS of a POST.
    fn verify_post(&mut self, req: &HttpRequest) -> Result<Signed, (u16, Value)> {
        if req.method != Method::Post {
            return Err(problem(405, "malformed", "POST required"));
        }
        let ctype = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if ctype.map(|(_, v)| v.as_str()) != Some("application/jose+json") {
            return Err(problem(
                415,
                "malformed",
                "Content-Type must be application/jose+json",
            ));
        }
        let jws: FlattenedJws = serde_json::from_slice(&req.body)
            .map_err(|_| problem(400, "malformed", "not a flattened JWS"))?;
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&jws.protected).unwrap_or_default())
                .map_err(|_| problem(400, "malformed", "bad protected header"))?;
        if header["url"] != json!(req.url) {
            return Err(problem(400, "unauthorized", "url header does not match"));
        }
        let nonce = header["nonce"].as_str().unwrap_or_default().to_owned();
        if !self.nonces.remove(&nonce) {
            return Err(problem(400, "badNonce", "unknown or reused nonce"));
        }
        if self.knobs.reject_nonces > 0 {
            self.knobs.reject_nonces -= 1;
            return Err(problem(400, "badNonce", "scripted rejection"));
        }
        let (account, jwk) = match (header.get("jwk"), header.get("kid")) {
            (Some(jwk), None) => {
                let jwk: Jwk = serde_json::from_value(jwk.clone())
                    .map_err(|_| problem(400, "malformed", "bad jwk"))?;
                (None, jwk)
            }
            (None, Some(kid)) => {
                let kid = kid.as_str().unwrap_or_default();
                let i = kid
                    .strip_prefix(&format!("{BASE}/acct/"))
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|i| *i < self.accounts.len())
                    .ok_or_else(|| problem(400, "accountDoesNotExist", "unknown kid"))?;
                (Some(i), self.accounts[i].jwk.clone())
            }
            _ => return Err(problem(400, "malformed", "exactly one of jwk and kid")),
        };
        let expected_alg = if jwk.crv == "P-384" { "ES384" } else { "ES256" };
        let signed = self.knobs.trust_signatures || verify(&jws, &jwk);
        if header["alg"] != json!(expected_alg) || !signed {
            return Err(problem(400, "unauthorized", "signature does not verify"));
        }
        if let Some(i) = account
            && self.accounts[i].status != "valid"
        {
            return Err(problem(401, "unauthorized", "account is deactivated"));
        }
        let payload = URL_SAFE_NO_PAD
            .decode(&jws.payload)
            .map_err(|_| problem(400, "malformed", "payload is not base64url"))?;
        Ok(Signed {
            account,
            jwk: account.is_none().then_some(jwk),
            payload,
        })
    }

    fn route(
        &mut self,
        req: &HttpRequest,
        path: &str,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(u16, Vec<u8>), (u16, Value)> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let json_ok = |status: u16, v: Value| Ok((status, v.to_string().into_bytes()));
        match parts.as_slice() {
            ["dir"] => {
                let mut meta = json!({"termsOfService": format!("{BASE}/tos"), "website": BASE});
                if self.knobs.eab.is_some() {
                    meta["externalAccountRequired"] = json!(true);
                }
                if !self.knobs.profiles.is_empty() {
                    let profiles: serde_json::Map<String, Value> = self
                        .knobs
                        .profiles
                        .iter()
                        .map(|p| (p.clone(), json!("a profile")))
                        .collect();
                    meta["profiles"] = Value::Object(profiles);
                }
                let mut dir = json!({
                    "newNonce": format!("{BASE}/nonce"), "newAccount": format!("{BASE}/new-acct"),
                    "newOrder": format!("{BASE}/new-order"), "revokeCert": format!("{BASE}/revoke"),
                    "keyChange": format!("{BASE}/key-change"), "meta": meta,
                });
                if self.knobs.ari {
                    dir["renewalInfo"] = json!(format!("{BASE}/ari"));
                }
                json_ok(200, dir)
            }
            ["nonce"] => Ok((200, Vec::new())),
            ["ari", id] => {
                if !self.knobs.ari {
                    return Err(problem(404, "malformed", "no ARI"));
                }
                if !id.contains('.') {
                    return Err(problem(400, "malformed", "bad certificate ID"));
                }
                headers.push(("Retry-After".into(), "21600".into()));
                json_ok(
                    200,
                    json!({"suggestedWindow": {"start": "2027-01-01T00:00:00Z", "end": "2027-01-03T00:00:00Z"},
                    "explanationURL": format!("{BASE}/why")}),
                )
            }
            ["new-acct"] => self.new_account(req, headers),
            ["acct", n] => {
                let i: usize = n
                    .parse()
                    .map_err(|_| problem(404, "malformed", "no such account"))?;
                let signed = self.verify_post(req)?;
                if signed.account != Some(i) {
                    return Err(problem(403, "unauthorized", "not your account"));
                }
                let payload: Value = serde_json::from_slice(&signed.payload).unwrap_or(Value::Null);
                if let Some(contact) = payload.get("contact") {
                    self.accounts[i].contact =
                        serde_json::from_value(contact.clone()).unwrap_or_default();
                }
                if payload.get("status") == Some(&json!("deactivated")) {
                    self.accounts[i].status = "deactivated";
                }
                json_ok(200, self.account_json(i))
            }
            ["key-change"] => {
                let signed = self.verify_post(req)?;
                let i = signed
                    .account
                    .ok_or_else(|| problem(400, "malformed", "kid required"))?;
                let inner: FlattenedJws = serde_json::from_slice(&signed.payload)
                    .map_err(|_| problem(400, "malformed", "inner JWS"))?;
                let h: Value = serde_json::from_slice(
                    &URL_SAFE_NO_PAD.decode(&inner.protected).unwrap_or_default(),
                )
                .map_err(|_| problem(400, "malformed", "inner header"))?;
                let new_jwk: Jwk = serde_json::from_value(h["jwk"].clone())
                    .map_err(|_| problem(400, "malformed", "inner jwk"))?;
                let body: Value = serde_json::from_slice(
                    &URL_SAFE_NO_PAD.decode(&inner.payload).unwrap_or_default(),
                )
                .map_err(|_| problem(400, "malformed", "inner payload"))?;
                let ok = h.get("nonce").is_none()
                    && h["url"] == json!(req.url)
                    && verify(&inner, &new_jwk)
                    && body["account"] == json!(format!("{BASE}/acct/{i}"))
                    && body["oldKey"] == json!(self.accounts[i].jwk);
                if !ok {
                    return Err(problem(400, "malformed", "inner JWS rejected"));
                }
                self.accounts[i].jwk = new_jwk;
                json_ok(200, self.account_json(i))
            }
            ["new-order"] => self.new_order(req, headers),
            ["order", n] => {
                let i: usize = n
                    .parse()
                    .map_err(|_| problem(404, "malformed", "no such order"))?;
                self.owned_order(req, i)?;
                if self.orders[i].status == "processing" {
                    if self.orders[i].processing_polls_left == 0 {
                        self.issue(i);
                    } else {
                        self.orders[i].processing_polls_left -= 1;
                        self.retry_after(headers);
                    }
                }
                json_ok(200, self.order_json(i))
            }
            ["authz", n] => {
                let i: usize = n
                    .parse()
                    .ok()
                    .filter(|i| *i < self.authzs.len())
                    .ok_or_else(|| problem(404, "malformed", "no such authz"))?;
                let signed = self.verify_post(req)?;
                // Deactivation by the account holder (RFC 8555 7.5.2).
                let payload: Value = serde_json::from_slice(&signed.payload).unwrap_or_default();
                if payload.get("status") == Some(&json!("deactivated")) {
                    self.authzs[i].status = "deactivated";
                    return json_ok(200, self.authz_json(i));
                }
                let answered = self.authzs[i]
                    .challenges
                    .iter()
                    .any(|c| c.status == "processing");
                if answered {
                    if self.authzs[i].polls_left == 0 {
                        self.validate(i);
                    } else {
                        self.authzs[i].polls_left -= 1;
                    }
                }
                if self.authzs[i].status == "pending" {
                    self.retry_after(headers);
                }
                json_ok(200, self.authz_json(i))
            }
            ["chall", a, c] => {
                let (a, c): (usize, usize) = (
                    a.parse().unwrap_or(usize::MAX),
                    c.parse().unwrap_or(usize::MAX),
                );
                self.verify_post(req)?;
                let authz = self
                    .authzs
                    .get_mut(a)
                    .ok_or_else(|| problem(404, "malformed", "no authz"))?;
                let chall = authz
                    .challenges
                    .get_mut(c)
                    .ok_or_else(|| problem(404, "malformed", "no challenge"))?;
                if chall.status == "pending" {
                    chall.status = "processing";
                }
                if authz.polls_left == 0 {
                    self.validate(a);
                }
                json_ok(200, self.challenge_json(a, c))
            }
            ["finalize", n] => self.finalize(req, n, headers),
            ["cert", n] | ["cert", n, "alt"] => {
                let i: usize = n
                    .parse()
                    .map_err(|_| problem(404, "malformed", "no such cert"))?;
                self.verify_post(req)?;
                let issued = self
                    .issued
                    .get(i)
                    .ok_or_else(|| problem(404, "malformed", "no cert"))?;
                let accept = req.headers.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("accept") && v == "application/pem-certificate-chain"
                });
                if !accept {
                    return Err(problem(
                        406,
                        "malformed",
                        "Accept: application/pem-certificate-chain",
                    ));
                }
                let alt = parts.len() == 3;
                if self.knobs.alternate_chain && !alt {
                    headers.push((
                        "Link".into(),
                        format!("<{BASE}/cert/{i}/alt>;rel=\"alternate\""),
                    ));
                }
                headers.push((
                    "Content-Type".into(),
                    "application/pem-certificate-chain".into(),
                ));
                Ok((
                    200,
                    if alt {
                        issued.alternate.clone()
                    } else {
                        issued.chain.clone()
                    }
                    .into_bytes(),
                ))
            }
            ["revoke"] => {
                let signed = self.verify_post(req)?;
                let payload: Value = serde_json::from_slice(&signed.payload).unwrap_or(Value::Null);
                let der = URL_SAFE_NO_PAD
                    .decode(payload["certificate"].as_str().unwrap_or_default())
                    .map_err(|_| problem(400, "malformed", "certificate"))?;
                let issued = self
                    .issued
                    .iter()
                    .find(|c| c.leaf_der == der)
                    .ok_or_else(|| problem(404, "malformed", "unknown certificate"))?;
                let authorised = match (&signed.account, &signed.jwk) {
                    (Some(a), _) => *a == issued.account,
                    (None, Some(jwk)) => {
                        let cert = x509_cert::Certificate::from_der(&der).expect("issued DER");
                        let spki = cert.tbs_certificate().subject_public_key_info();
                        let point = spki.subject_public_key.raw_bytes();
                        let mut ours = vec![4u8];
                        ours.extend(URL_SAFE_NO_PAD.decode(&jwk.x).unwrap_or_default());
                        ours.extend(URL_SAFE_NO_PAD.decode(&jwk.y).unwrap_or_default());
                        point == ours.as_slice()
                    }
                    _ => false,
                };
                if !authorised {
                    return Err(problem(403, "unauthorized", "not allowed to revoke"));
                }
                if self.revoked.contains(&der) {
                    return Err(problem(400, "alreadyRevoked", "already revoked"));
                }
                self.revoked.push(der);
                Ok((200, Vec::new()))
            }
            _ => Err(problem(404, "malformed", "no such resource")),
        }
    }

    fn retry_after(&self, headers: &mut Vec<(String, String)>) {
        if let Some(secs) = self.knobs.retry_after_secs {
            headers.push(("Retry-After".into(), secs.to_string()));
        }
    }

    fn account_json(&self, i: usize) -> Value {
        json!({"status": self.accounts[i].status, "contact": self.accounts[i].contact,
               "orders": format!("{BASE}/acct/{i}/orders")})
    }

    fn new_account(
        &mut self,
        req: &HttpRequest,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(u16, Vec<u8>), (u16, Value)> {
        let signed = self.verify_post(req)?;
        let jwk = signed
            .jwk
            .ok_or_else(|| problem(400, "malformed", "newAccount needs jwk"))?;
        let payload: Value = serde_json::from_slice(&signed.payload)
            .map_err(|_| problem(400, "malformed", "payload JSON"))?;
        let existing = self
            .accounts
            .iter()
            .position(|a| thumbprint(&a.jwk) == thumbprint(&jwk));
        if let Some(i) = existing {
            headers.push(("Location".into(), format!("{BASE}/acct/{i}")));
            return Ok((200, self.account_json(i).to_string().into_bytes()));
        }
        if payload["onlyReturnExisting"] == json!(true) {
            return Err(problem(
                400,
                "accountDoesNotExist",
                "no account for this key",
            ));
        }
        if payload["termsOfServiceAgreed"] != json!(true) {
            return Err(problem(
                403,
                "userActionRequired",
                "agree to the terms of service",
            ));
        }
        if let Some((kid, key)) = &self.knobs.eab {
            let eab: FlattenedJws =
                serde_json::from_value(payload["externalAccountBinding"].clone())
                    .map_err(|_| problem(403, "externalAccountRequired", "EAB required"))?;
            let h: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&eab.protected).unwrap_or_default())
                    .unwrap_or(Value::Null);
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac key");
            mac.update(format!("{}.{}", eab.protected, eab.payload).as_bytes());
            let bound: Jwk =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&eab.payload).unwrap_or_default())
                    .map_err(|_| problem(400, "malformed", "EAB payload"))?;
            let ok = h["alg"] == json!("HS256")
                && h["kid"] == json!(kid)
                && h["url"] == json!(req.url)
                && b64(&mac.finalize().into_bytes()) == eab.signature
                && bound == jwk;
            if !ok {
                return Err(problem(403, "unauthorized", "EAB does not verify"));
            }
        }
        self.accounts.push(Account {
            jwk,
            status: "valid",
            contact: serde_json::from_value(payload["contact"].clone()).unwrap_or_default(),
        });
        let i = self.accounts.len() - 1;
        headers.push(("Location".into(), format!("{BASE}/acct/{i}")));
        Ok((201, self.account_json(i).to_string().into_bytes()))
    }

    fn new_order(
        &mut self,
        req: &HttpRequest,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(u16, Vec<u8>), (u16, Value)> {
        let signed = self.verify_post(req)?;
        let account = signed
            .account
            .ok_or_else(|| problem(400, "malformed", "kid required"))?;
        let payload: Value = serde_json::from_slice(&signed.payload)
            .map_err(|_| problem(400, "malformed", "payload JSON"))?;
        if self.knobs.rate_limited {
            headers.push(("Retry-After".into(), "3600".into()));
            return Err(problem(429, "rateLimited", "too many new orders"));
        }
        if self.knobs.already_replaced && payload.get("replaces").is_some() {
            return Err(problem(
                409,
                "alreadyReplaced",
                "that certificate was already replaced",
            ));
        }
        if let Some(p) = payload.get("profile").and_then(Value::as_str)
            && !self.knobs.profiles.iter().any(|x| x == p)
        {
            return Err(problem(400, "invalidProfile", "unknown profile"));
        }
        let identifiers: Vec<Identifier> = serde_json::from_value(payload["identifiers"].clone())
            .map_err(|_| problem(400, "malformed", "identifiers"))?;
        let mut authzs = Vec::new();
        for id in &identifiers {
            let wildcard = id.value.starts_with("*.");
            let base = Identifier {
                kind: id.kind,
                value: id.value.trim_start_matches("*.").to_owned(),
            };
            let kinds: &[&'static str] = match (id.kind, wildcard) {
                (IdentifierType::Dns, true) => &["dns-01"],
                (IdentifierType::Dns, false) => &["http-01", "dns-01", "tls-alpn-01"],
                (IdentifierType::Ip, _) => &["http-01", "tls-alpn-01"],
            };
            let n = self.authzs.len();
            let valid = self.knobs.preset_valid.contains(&id.value);
            self.authzs.push(Authz {
                identifier: base,
                wildcard,
                status: if valid { "valid" } else { "pending" },
                challenges: kinds
                    .iter()
                    .enumerate()
                    .map(|(c, kind)| Chall {
                        kind,
                        token: format!("tok{n}x{c}_-AZ"),
                        status: "pending",
                        error: None,
                    })
                    .collect(),
                polls_left: self.knobs.authz_pending_polls,
            });
            authzs.push(n);
        }
        self.orders.push(Order {
            account,
            identifiers,
            authzs,
            status: "pending",
            processing_polls_left: 0,
            cert: None,
        });
        let i = self.orders.len() - 1;
        headers.push(("Location".into(), format!("{BASE}/order/{i}")));
        Ok((201, self.order_json(i).to_string().into_bytes()))
    }

    fn owned_order(&mut self, req: &HttpRequest, i: usize) -> Result<Signed, (u16, Value)> {
        let signed = self.verify_post(req)?;
        match self.orders.get(i) {
            Some(o) if Some(o.account) == signed.account => Ok(signed),
            _ => Err(problem(404, "malformed", "no such order")),
        }
    }

    fn order_status(&self, i: usize) -> &'static str {
        let order = &self.orders[i];
        if order.status != "pending" {
            return order.status;
        }
        let statuses: Vec<&str> = order
            .authzs
            .iter()
            .map(|a| self.authzs[*a].status)
            .collect();
        if statuses.contains(&"invalid") {
            "invalid"
        } else if statuses.iter().all(|s| *s == "valid") {
            "ready"
        } else {
            "pending"
        }
    }

    fn order_json(&self, i: usize) -> Value {
        let order = &self.orders[i];
        let mut v = json!({
            "status": self.order_status(i),
            "identifiers": order.identifiers,
            "authorizations": order.authzs.iter().map(|a| format!("{BASE}/authz/{a}")).collect::<Vec<_>>(),
            "finalize": format!("{BASE}/finalize/{i}"),
        });
        if let Some(c) = order.cert {
            v["certificate"] = json!(format!("{BASE}/cert/{c}"));
        }
        v
    }

    fn challenge_json(&self, a: usize, c: usize) -> Value {
        let chall = &self.authzs[a].challenges[c];
        let mut v = json!({"type": chall.kind, "url": format!("{BASE}/chall/{a}/{c}"),
                           "status": chall.status, "token": chall.token});
        if let Some(e) = &chall.error {
            v["error"] = e.clone();
        }
        v
    }

    fn authz_json(&self, i: usize) -> Value {
        let authz = &self.authzs[i];
        let identifier = match &self.knobs.foreign_identifier {
            Some(foreign) => json!({"type": "dns", "value": foreign}),
            None => json!(authz.identifier),
        };
        json!({"identifier": identifier, "status": authz.status, "wildcard": authz.wildcard,
               "challenges": (0..authz.challenges.len()).map(|c| self.challenge_json(i, c)).collect::<Vec<_>>()})
    }

    /// Validates the answered challenge of authorization `i` against what was published.
    fn validate(&mut self, i: usize) {
        let order = self
            .orders
            .iter()
            .find(|o| o.authzs.contains(&i))
            .expect("authz has an order");
        let tp = thumbprint(&self.accounts[order.account].jwk);
        let published = self.published.borrow();
        let authz = &mut self.authzs[i];
        let name = authz.identifier.value.clone();
        let Some(chall) = authz
            .challenges
            .iter_mut()
            .find(|c| c.status == "processing")
        else {
            return;
        };
        let key_auth = format!("{}.{}", chall.token, tp);
        let ok = match chall.kind {
            "http-01" => published.http.get(&chall.token) == Some(&key_auth),
            "dns-01" => published
                .dns
                .get(&format!("_acme-challenge.{name}"))
                .is_some_and(|values| values.contains(&b64(&Sha256::digest(key_auth.as_bytes())))),
            _ => published
                .alpn
                .get(&name)
                .is_some_and(|pem| alpn_cert_ok(pem, &name, &key_auth)),
        };
        chall.status = if ok { "valid" } else { "invalid" };
        if !ok {
            chall.error = Some(
                json!({"type": "urn:ietf:params:acme:error:incorrectResponse",
                "detail": format!("{} validation of {name} saw the wrong answer", chall.kind)}),
            );
        }
        authz.status = chall.status;
    }

    fn finalize(
        &mut self,
        req: &HttpRequest,
        n: &str,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(u16, Vec<u8>), (u16, Value)> {
        let i: usize = n
            .parse()
            .map_err(|_| problem(404, "malformed", "no such order"))?;
        let signed = self.owned_order(req, i)?;
        if self.order_status(i) != "ready" {
            return Err(problem(403, "orderNotReady", "order is not ready"));
        }
        let payload: Value = serde_json::from_slice(&signed.payload).unwrap_or(Value::Null);
        let csr_der = URL_SAFE_NO_PAD
            .decode(payload["csr"].as_str().unwrap_or_default())
            .map_err(|_| problem(400, "badCSR", "csr is not base64url"))?;
        let csr = x509_cert::request::CertReq::from_der(&csr_der)
            .map_err(|_| problem(400, "badCSR", "not a CSR"))?;
        let mut names = csr_names(&csr);
        let mut wanted: Vec<String> = self.orders[i]
            .identifiers
            .iter()
            .map(|id| id.value.clone())
            .collect();
        names.sort();
        wanted.sort();
        if names != wanted {
            return Err(problem(
                400,
                "badCSR",
                &format!("CSR names {names:?} differ from the order's {wanted:?}"),
            ));
        }
        let key = CsrKey(csr.info.public_key.subject_public_key.raw_bytes().to_vec());
        let leaf_for = |root: &(PrivateKey, rcgen::CertificateParams, String), serial: u8| {
            let mut params = rcgen::CertificateParams::new(wanted.clone()).expect("leaf params");
            params.distinguished_name = rcgen::DistinguishedName::new();
            params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x42, serial, i as u8]));
            params.use_authority_key_identifier_extension = true;
            let issuer = rcgen::Issuer::new(root.1.clone(), RcgenKey::new(&root.0));
            params.signed_by(&key, &issuer).expect("leaf")
        };
        let leaf = leaf_for(&self.root_a, 1);
        let alt_leaf = leaf_for(&self.root_b, 2);
        self.issued.push(Issued {
            chain: format!("{}{}", leaf.pem(), self.root_a.2),
            alternate: format!("{}{}", alt_leaf.pem(), self.root_b.2),
            leaf_der: leaf.der().to_vec(),
            account: self.orders[i].account,
        });
        self.orders[i].status = "processing";
        self.orders[i].processing_polls_left = self.knobs.finalize_processing_polls;
        if self.knobs.finalize_processing_polls == 0 {
            self.issue(i);
        } else {
            self.retry_after(headers);
        }
        Ok((200, self.order_json(i).to_string().into_bytes()))
    }

    fn issue(&mut self, i: usize) {
        self.orders[i].status = "valid";
        self.orders[i].cert = Some(self.issued.len() - 1);
    }
}

/// The DNS and IP names of a CSR's extensionRequest.
fn csr_names(csr: &x509_cert::request::CertReq) -> Vec<String> {
    let mut names = Vec::new();
    for attr in csr.info.attributes.iter() {
        for value in attr.values.iter() {
            let Ok(der) = value.to_der() else { continue };
            let Ok(req) = x509_cert::request::ExtensionReq::from_der(&der) else {
                continue;
            };
            for ext in req.0 {
                let Ok(san) =
                    x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes())
                else {
                    continue;
                };
                for name in san.0 {
                    match name {
                        x509_cert::ext::pkix::name::GeneralName::DnsName(d) => {
                            names.push(d.to_string())
                        }
                        x509_cert::ext::pkix::name::GeneralName::IpAddress(ip) => {
                            let b = ip.as_bytes();
                            let addr = if b.len() == 4 {
                                std::net::IpAddr::from(<[u8; 4]>::try_from(b).expect("4 bytes"))
                            } else {
                                std::net::IpAddr::from(<[u8; 16]>::try_from(b).expect("16 bytes"))
                            };
                            names.push(addr.to_string());
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    names
}

/// Whether a TLS-ALPN-01 certificate names `name` and carries the right critical digest.
fn alpn_cert_ok(pem: &str, name: &str, key_auth: &str) -> bool {
    let Ok(ders) = certsmith_core::split_pem_chain(pem) else {
        return false;
    };
    let Ok(cert) = x509_cert::Certificate::from_der(&ders[0]) else {
        return false;
    };
    let Ok(info) = certsmith_core::inspect_certificate(&ders[0]) else {
        return false;
    };
    let mut expected = vec![0x04, 0x20];
    expected.extend_from_slice(&Sha256::digest(key_auth.as_bytes()));
    let ext_ok = cert.tbs_certificate().extensions().is_some_and(|exts| {
        exts.iter().any(|e| {
            e.extn_id.to_string() == "1.3.6.1.5.5.7.1.31"
                && e.critical
                && e.extn_value.as_bytes() == expected.as_slice()
        })
    });
    ext_ok && info.sans.iter().any(|s| s.value == name)
}
