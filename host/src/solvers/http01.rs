//! HTTP-01 standalone: a small HTTP server on ADDR:PORT that answers
//! `/.well-known/acme-challenge/<token>` for the challenges currently deployed, and nothing
//! else.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use certsmith_core::ChallengeTask;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{Solver, SolverError, bind_error, http01_of};
use crate::serve::{Handler, Plain};

/// Token → key authorization of the deployed challenges.
type Tokens = Arc<Mutex<HashMap<String, String>>>;

/// The path prefix the CA asks.
const PREFIX: &str = "/.well-known/acme-challenge/";

/// The standalone HTTP-01 server; stops when dropped.
pub struct Http01Standalone {
    tokens: Tokens,
    server: JoinHandle<()>,
}

/// The server's side of the token table.
#[derive(Clone)]
struct Answers(Tokens);

impl Handler for Answers {
    type Body = Full<Bytes>;

    async fn handle(&self, request: Request<Incoming>, _peer: SocketAddr) -> Response<Full<Bytes>> {
        answer(&self.0, &request)
    }
}

impl Http01Standalone {
    /// Listens on `addr` (port 80 for a real CA; the CA's validation port in tests).
    pub async fn bind(addr: SocketAddr) -> Result<Self, SolverError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| bind_error(addr, "--http", &e))?;
        let tokens = Tokens::default();
        let answers = Answers(Arc::clone(&tokens));
        let server = tokio::spawn(async move {
            // Stopped by aborting the task: the sender lives as long as the server.
            let (_stop, stopping) = tokio::sync::watch::channel(false);
            crate::serve::serve(listener, Plain, answers, stopping).await;
        });
        Ok(Self { tokens, server })
    }

    /// Stops the server and waits until its listener is closed, so the port is free for
    /// the next command in this process (`renew --all`).
    pub async fn stop(&mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for Http01Standalone {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A response with a plain-text body.
fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    response
}

/// The answer to one request.
fn answer(tokens: &Tokens, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(token) = request.uri().path().strip_prefix(PREFIX) else {
        return text(StatusCode::NOT_FOUND, "not found\n".into());
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n".into());
        response.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        return response;
    }
    let found = tokens.lock().ok().and_then(|t| t.get(token).cloned());
    match found {
        Some(key_authorization) => text(StatusCode::OK, key_authorization),
        None => text(StatusCode::NOT_FOUND, "no such challenge\n".into()),
    }
}

impl Solver for Http01Standalone {
    async fn deploy(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        let (token, body) = http01_of(task)?;
        let mut tokens = self
            .tokens
            .lock()
            .map_err(|_| SolverError("the HTTP-01 server's token table is poisoned".into()))?;
        tokens.insert(token.to_owned(), body.to_owned());
        Ok(())
    }

    async fn cleanup(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(&task.token);
        }
        Ok(())
    }
}
