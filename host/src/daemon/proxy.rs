//! The reverse proxy behind the HTTPS listener (`proxy_to`): each request streamed to the
//! backend over HTTP/1.1 with the client's `Host` kept and `X-Forwarded-For`,
//! `X-Forwarded-Proto` and `X-Forwarded-Host` set, the response streamed back (over HTTP/1.1
//! or HTTP/2, as the client chose). Hop-by-hop headers stay on their hop.

use std::net::SocketAddr;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::serve::{BoxError, Reply};

/// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A backend at `http://HOST:PORT` and the pooled client that reaches it.
#[derive(Clone)]
pub struct Proxy {
    backend: Uri,
    client: Client<HttpConnector, Incoming>,
}

impl Proxy {
    /// A proxy to `backend` (`http://HOST:PORT`, no path); an error says what is wrong.
    pub fn new(backend: &str) -> Result<Self, String> {
        let uri: Uri = backend
            .parse()
            .map_err(|e| format!("proxy_to = {backend:?} is not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(format!(
                "proxy_to = {backend:?}: expected http://HOST:PORT (the backend is reached over plain HTTP)"
            ));
        }
        if uri.path() != "/" && !uri.path().is_empty() {
            return Err(format!(
                "proxy_to = {backend:?}: give no path, requests keep theirs"
            ));
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self {
            backend: uri,
            client,
        })
    }

    /// Forwards `request` from `peer` and streams the answer back; a backend that cannot be
    /// reached gets the client a 502.
    pub async fn forward(&self, request: Request<Incoming>, peer: SocketAddr) -> Reply {
        let (mut parts, body) = request.into_parts();
        let host = parts.headers.get(header::HOST).cloned().or_else(|| {
            let authority = parts.uri.authority()?;
            HeaderValue::from_str(authority.as_str()).ok()
        });
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let Some(authority) = self.backend.authority() else {
            return super::sites::text(StatusCode::BAD_GATEWAY, "no backend\n");
        };
        parts.uri = match Uri::builder()
            .scheme("http")
            .authority(authority.as_str())
            .path_and_query(path)
            .build()
        {
            Ok(uri) => uri,
            Err(_) => return super::sites::text(StatusCode::BAD_REQUEST, "bad request target\n"),
        };
        parts.version = hyper::Version::HTTP_11;
        strip_hop_by_hop(&mut parts.headers);
        let headers = &mut parts.headers;
        if let Some(host) = host {
            headers.insert(header::HOST, host.clone());
            headers.insert(HeaderName::from_static("x-forwarded-host"), host);
        }
        let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(earlier) => format!("{earlier}, {}", peer.ip()),
            None => peer.ip().to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
            headers.insert(HeaderName::from_static("x-forwarded-for"), value);
        }
        headers.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("https"),
        );
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                hyper::Response::from_parts(parts, body.map_err(BoxError::from).boxed())
            }
            Err(e) => {
                tracing::warn!("the backend {} did not answer: {e}", self.backend);
                super::sites::text(StatusCode::BAD_GATEWAY, "the backend did not answer\n")
            }
        }
    }
}

/// Removes the hop-by-hop headers, and those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut hyper::HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|n| n.trim().to_ascii_lowercase()))
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        headers.remove(name);
    }
}
