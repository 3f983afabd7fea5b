//! What an operation asks to send, and how a response turns into a result or a problem.

use crate::error::Error;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::jose::{self, KeyId};
use crate::json::{self, FromJson};
use crate::keys::PrivateKey;
use crate::timestamp::Timestamp;
use crate::wire::{Problem, ProblemKind};

/// The media type of every JWS body.
const JOSE_JSON: &str = "application/jose+json";

/// The media type of a certificate chain download.
pub(crate) const PEM_CHAIN: &str = "application/pem-certificate-chain";

/// Who signs a POST.
#[derive(Clone, Debug)]
pub(crate) enum Signer {
    /// The account key, named by the account URL (`kid`).
    AccountKid,
    /// The account key, embedded as `jwk` (newAccount).
    AccountJwk,
    /// Another key, embedded as `jwk` (revocation by certificate key).
    OtherJwk(PrivateKey),
}

/// A request an operation wants made; signed only when it is sent, with the freshest nonce.
#[derive(Clone, Debug)]
pub(crate) struct RequestSpec {
    /// The method.
    pub method: Method,
    /// The URL.
    pub url: String,
    /// The signer of a POST; `None` for unauthenticated GETs.
    pub signer: Option<Signer>,
    /// The JSON payload of a POST; `None` is POST-as-GET.
    pub payload: Option<Vec<u8>>,
    /// The `Accept` header, if not JSON.
    pub accept: Option<&'static str>,
    /// The CA problems the operation wants to see itself instead of failing at once.
    pub tolerated: &'static [ProblemKind],
}

/// A response to an operation's own request, read once by the client: the URL the request
/// went to, the CA's problem (only one the request tolerates: every other one already
/// ended the operation), and the response.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The request URL.
    pub url: String,
    /// The tolerated problem the CA answered with, if it did.
    pub problem: Option<Problem>,
    /// The response.
    pub response: HttpResponse,
}

impl Reply {
    /// The body as `T`, or an error naming the URL and what was expected.
    pub(super) fn json<T: FromJson>(&self, what: &str) -> Result<T, Error> {
        parse_json(&self.response, &self.url, what)
    }

    /// The `Location` header, required on created resources.
    pub(super) fn location(&self) -> Result<String, Error> {
        location(&self.response, &self.url)
    }

    /// The tolerated problem as the operation's error, when the operation does not act on
    /// it after all.
    pub(super) fn problem_error(self, now: Timestamp) -> Result<Self, Error> {
        match self.problem {
            None => Ok(self),
            Some(problem) => Err(acme_error(&self.url, &self.response, problem, now)),
        }
    }
}

impl RequestSpec {
    /// An unauthenticated GET.
    pub(super) fn get(url: &str) -> Self {
        Self {
            method: Method::Get,
            url: url.to_owned(),
            signer: None,
            payload: None,
            accept: None,
            tolerated: &[],
        }
    }

    /// A POST-as-GET signed by the account (`kid`).
    pub(super) fn post_as_get(url: &str) -> Self {
        Self {
            method: Method::Post,
            url: url.to_owned(),
            signer: Some(Signer::AccountKid),
            payload: None,
            accept: None,
            tolerated: &[],
        }
    }

    /// A POST of `payload` (JSON) signed by the account (`kid`).
    pub(super) fn post(url: &str, payload: Vec<u8>) -> Self {
        Self {
            payload: Some(payload),
            ..Self::post_as_get(url)
        }
    }

    /// The same request signed by `signer`.
    pub(super) fn signed_by(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The same request, with these CA problems handed to the operation instead of ending
    /// it.
    pub(super) fn tolerating(mut self, kinds: &'static [ProblemKind]) -> Self {
        self.tolerated = kinds;
        self
    }

    /// The same request with an `Accept` header.
    pub(super) fn accepting(mut self, media_type: &'static str) -> Self {
        self.accept = Some(media_type);
        self
    }

    /// Whether sending needs a nonce.
    pub(super) fn needs_nonce(&self) -> bool {
        self.signer.is_some()
    }

    /// Whether sending needs the account URL.
    pub(super) fn needs_account_url(&self) -> bool {
        matches!(self.signer, Some(Signer::AccountKid))
    }

    /// The full HTTP request, signed with `nonce` when it is a POST.
    pub(super) fn build(
        &self,
        account_key: &PrivateKey,
        account_url: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<HttpRequest, Error> {
        let mut headers = Vec::new();
        let mut body = Vec::new();
        if let Some(signer) = &self.signer {
            let (key, key_id) = match signer {
                Signer::AccountKid => (
                    account_key,
                    KeyId::Kid(account_url.ok_or(Error::NoAccount)?),
                ),
                Signer::AccountJwk => (account_key, KeyId::Jwk),
                Signer::OtherJwk(key) => (key, KeyId::Jwk),
            };
            let jws = jose::sign(key, key_id, nonce, &self.url, self.payload.as_deref())?;
            body = jws.to_body();
            headers.push(("Content-Type".to_owned(), JOSE_JSON.to_owned()));
        }
        if let Some(accept) = self.accept {
            headers.push(("Accept".to_owned(), accept.to_owned()));
        }
        Ok(HttpRequest {
            method: self.method,
            url: self.url.clone(),
            headers,
            body,
        })
    }
}

/// The problem document of an error response (a stand-in one if the body is not one).
pub(crate) fn problem_of(response: &HttpResponse) -> Option<Problem> {
    if response.is_success() {
        return None;
    }
    let parsed = json::from_slice::<Problem>(&response.body)
        .ok()
        .filter(|p| !p.kind.is_empty());
    Some(parsed.unwrap_or_else(|| Problem {
        kind: "about:blank".to_owned(),
        detail: Some(format!(
            "HTTP {} without a problem document",
            response.status
        )),
        status: Some(response.status),
        subproblems: Vec::new(),
    }))
}

/// The CA's `problem` in `response` to a request to `url`, as an [`Error::Acme`].
pub(crate) fn acme_error(
    url: &str,
    response: &HttpResponse,
    problem: Problem,
    now: Timestamp,
) -> Error {
    Error::Acme {
        url: url.to_owned(),
        status: response.status,
        retry_after: response.retry_after(now),
        problem: Box::new(problem),
    }
}

/// Parses a JSON body, naming the URL and what was expected on failure.
pub(crate) fn parse_json<T: FromJson>(
    response: &HttpResponse,
    url: &str,
    what: &str,
) -> Result<T, Error> {
    json::from_slice(&response.body)
        .map_err(|e| Error::invalid_response(url, format!("{what} ({e})")))
}

/// The `Location` header, required on created resources.
pub(crate) fn location(response: &HttpResponse, url: &str) -> Result<String, Error> {
    response
        .header("location")
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid_response(url, "a Location header"))
}
