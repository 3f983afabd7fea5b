//! What the daemon's listeners answer: plain HTTP (HTTP-01 answers from the store, every
//! other request redirected to HTTPS), HTTPS (the site), and the admin listener
//! (`/metrics`, `/status`, `/healthz`, `POST /renew/<name>`).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{mpsc, oneshot};

use super::proxy::Proxy;
use super::state::State;
use crate::layout;
use crate::serve::{Body, Handler, Reply, full};
use crate::storage::Store;

/// The path prefix of HTTP-01 requests.
const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// A response with a body and a content type.
fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A plain-text response.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    reply(status, "text/plain; charset=utf-8", body)
}

/// Plain HTTP: HTTP-01 answers, published by any process on the store (this daemon, another
/// in the fleet, `certsmith issue --http-kv`), and a redirect to HTTPS for the rest.
#[derive(Clone)]
pub struct HttpSite {
    /// Where tokens are.
    pub store: Store,
    /// The HTTPS port redirects point at (none: no redirect, 404).
    pub https_port: Option<u16>,
}

impl Handler for HttpSite {
    type Body = Body;

    async fn handle(&self, request: Request<Incoming>, _peer: SocketAddr) -> Reply {
        if let Some(token) = request.uri().path().strip_prefix(CHALLENGE_PREFIX) {
            return self.challenge(request.method(), token).await;
        }
        let Some(port) = self.https_port else {
            return text(StatusCode::NOT_FOUND, "not found\n");
        };
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(host_without_port)
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()));
        let Some(host) = host else {
            return text(StatusCode::BAD_REQUEST, "a Host header is needed\n");
        };
        let port = if port == 443 {
            String::new()
        } else {
            format!(":{port}")
        };
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let location = format!("https://{host}{port}{path}");
        let mut response = text(StatusCode::PERMANENT_REDIRECT, "");
        match HeaderValue::from_str(&location) {
            Ok(value) => {
                response.headers_mut().insert(header::LOCATION, value);
                response
            }
            Err(_) => text(StatusCode::BAD_REQUEST, "unusable Host header\n"),
        }
    }
}

impl HttpSite {
    /// The key authorization of `token`, from the store.
    async fn challenge(&self, method: &Method, token: &str) -> Reply {
        if method != Method::GET && method != Method::HEAD {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        if !certsmith_core::is_base64url(token, certsmith_core::MAX_CHALLENGE_TOKEN_LEN) {
            return text(StatusCode::NOT_FOUND, "no such challenge\n");
        }
        match self.store.get(&layout::http01_token(token)).await {
            Ok(Some(body)) => text(StatusCode::OK, body),
            Ok(None) => text(StatusCode::NOT_FOUND, "no such challenge\n"),
            Err(e) => {
                tracing::error!("cannot read an http-01 token: {e}");
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store is unavailable\n",
                )
            }
        }
    }
}

/// `host` of a Host header value `host[:port]` (IPv6 literals keep their brackets).
fn host_without_port(value: &str) -> &str {
    if value.starts_with('[') {
        return value.split_inclusive(']').next().unwrap_or(value);
    }
    value.split(':').next().unwrap_or(value)
}

/// The HTTPS site: what is behind TLS.
#[derive(Clone)]
pub enum HttpsSite {
    /// `proxy_to`: a backend.
    Proxy(Box<Proxy>),
    /// `static_body`: one body for every request.
    Static(Bytes),
    /// Neither: a 404 that says what to configure.
    Nothing,
}

impl Handler for HttpsSite {
    type Body = Body;

    async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Reply {
        match self {
            HttpsSite::Proxy(proxy) => proxy.forward(request, peer).await,
            HttpsSite::Static(body) => text(StatusCode::OK, body.clone()),
            HttpsSite::Nothing => text(
                StatusCode::NOT_FOUND,
                "nothing is served here: set proxy_to or static_body in [https]\n",
            ),
        }
    }
}

/// A request to the certificate manager from the admin listener.
pub enum AdminRequest {
    /// Renew the certificate with this lineage name now; the reply says whether it is
    /// managed.
    RenewNow(String, oneshot::Sender<bool>),
}

/// The admin listener.
#[derive(Clone)]
pub struct AdminSite {
    /// Metrics and status.
    pub state: Arc<State>,
    /// The certificate manager.
    pub manager: mpsc::UnboundedSender<AdminRequest>,
}

impl Handler for AdminSite {
    type Body = Body;

    async fn handle(&self, request: Request<Incoming>, _peer: SocketAddr) -> Reply {
        let path = request.uri().path();
        match (request.method(), path) {
            (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
            (&Method::GET, "/metrics") => reply(
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                self.state.metrics.encode(),
            ),
            (&Method::GET, "/status") => {
                reply(StatusCode::OK, "application/json", self.state.status_json())
            }
            (&Method::POST, _) if path.starts_with("/renew/") => {
                let name = path.trim_start_matches("/renew/").to_owned();
                let (answer, managed) = oneshot::channel();
                if self
                    .manager
                    .send(AdminRequest::RenewNow(name.clone(), answer))
                    .is_err()
                {
                    return text(StatusCode::SERVICE_UNAVAILABLE, "the manager has stopped\n");
                }
                match managed.await {
                    Ok(true) => text(StatusCode::ACCEPTED, format!("renewing {name}\n")),
                    _ => text(
                        StatusCode::NOT_FOUND,
                        format!("{name} is not a managed certificate (see /status)\n"),
                    ),
                }
            }
            _ => text(
                StatusCode::NOT_FOUND,
                "GET /healthz, /metrics, /status; POST /renew/<name>\n",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_header_loses_its_port() {
        assert_eq!(host_without_port("a.example.test:5002"), "a.example.test");
        assert_eq!(host_without_port("a.example.test"), "a.example.test");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
    }
}
