//! Accepting connections with the bounds a public listener needs, for every server in
//! certsmith (the daemon's listeners, `plugin serve`, the HTTP-01 standalone server): a cap
//! on open connections, a deadline for the request head (a slow client cannot hold a
//! connection forever), a pause after an accept error (EMFILE must not spin a core), and a
//! graceful stop that lets requests in flight finish. HTTP/1.1 and HTTP/2 are chosen per
//! connection.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// How long a client may take to send a request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections one listener keeps open.
const MAX_CONNECTIONS: usize = 10_000;

/// How long to pause after a failed accept (out of file descriptors, say).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long requests in flight may take to finish once a stop was asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The error of a streamed body (a backend that broke off).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: complete, or streamed from a backend.
pub type Body = BoxBody<Bytes, BoxError>;

/// A response.
pub type Reply = Response<Body>;

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// What a listener does with a request.
pub trait Handler: Clone + Send + Sync + 'static {
    /// The response body.
    type Body: hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static;
    /// Answers `request` from `peer`.
    fn handle(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = Response<Self::Body>> + Send;
}

/// How an accepted connection becomes the stream HTTP is spoken on (TLS, or as it is).
pub trait Accept: Clone + Send + Sync + 'static {
    /// The stream.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The stream of `tcp` from `peer`, or `None` when nothing is to be served on it (a
    /// failed handshake, a CA's TLS-ALPN-01 validation).
    fn accept(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> impl Future<Output = Option<Self::Stream>> + Send;
}

/// Plain TCP.
#[derive(Clone, Copy)]
pub struct Plain;

impl Accept for Plain {
    type Stream = TcpStream;

    async fn accept(&self, tcp: TcpStream, _peer: SocketAddr) -> Option<TcpStream> {
        Some(tcp)
    }
}

/// Serves `handler` on `listener` (through `accept`) until `stop` turns true, then lets the
/// connections' requests in flight finish (at most [`DRAIN_TIMEOUT`]).
pub async fn serve(
    listener: TcpListener,
    accept: impl Accept,
    handler: impl Handler,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Full: close at once rather than queue without bound.
            drop(stream);
            continue;
        };
        let handler = handler.clone();
        let service = hyper::service::service_fn(move |request| {
            let handler = handler.clone();
            async move { Ok::<_, std::convert::Infallible>(handler.handle(request, peer).await) }
        });
        let builder = Arc::clone(&builder);
        let watcher = graceful.watcher();
        let accept = accept.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let Some(stream) = accept.accept(stream, peer).await else {
                return;
            };
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = watcher.watch(connection.into_owned()).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN_TIMEOUT:?} were closed");
    }
}

/// Binds `addr`, naming the option that chose it in the error.
pub async fn bind(addr: SocketAddr, option: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| crate::solvers::bind_error(addr, option, &e).0)
}
