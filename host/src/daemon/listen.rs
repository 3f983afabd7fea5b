//! Accepting connections with bounds a public listener needs: a cap on open connections, a
//! deadline for the request head and for the TLS handshake (a slow client cannot hold a
//! connection forever), a pause after an accept error (EMFILE must not spin a core), and a
//! graceful stop that lets requests in flight finish.

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
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use super::on_demand::Asker;
use super::state::{ResultLabel, State};
use certsmith::tls::{ACME_TLS_1, CertResolver};

/// How long a client may take to send a request head or finish a TLS handshake.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

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

/// TLS on a listener: the configuration (its resolver holds the certificates), and who
/// obtains a certificate for a name that has none (on-demand TLS), if anyone.
#[derive(Clone)]
pub struct Tls {
    /// The server configuration.
    pub config: Arc<rustls::ServerConfig>,
    /// The resolver in `config`.
    pub resolver: Arc<CertResolver>,
    /// On-demand TLS.
    pub on_demand: Option<Asker>,
}

impl Tls {
    /// The handshake on `stream`: the ClientHello within [`HEAD_TIMEOUT`]; for a name with
    /// no certificate, on-demand TLS gets one (within its own timeout); then the rest of the
    /// handshake within [`HEAD_TIMEOUT`].
    async fn accept(&self, stream: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        let lazy = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
        let start = tokio::time::timeout(HEAD_TIMEOUT, lazy)
            .await
            .map_err(|_| "no ClientHello in time".to_owned())?
            .map_err(|e| e.to_string())?;
        let hello = start.client_hello();
        let validating = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_1));
        let name = hello.server_name().map(str::to_owned);
        if let (Some(asker), Some(name), false) = (&self.on_demand, &name, validating)
            && self.resolver.get(name).is_none()
        {
            asker.obtain(name).await;
        }
        tokio::time::timeout(HEAD_TIMEOUT, start.into_stream(Arc::clone(&self.config)))
            .await
            .map_err(|_| "the handshake did not finish in time".to_owned())?
            .map_err(|e| e.to_string())
    }
}

/// What a listener does with a request: given the request and whether it came over TLS.
pub trait Handler: Clone + Send + Sync + 'static {
    /// Answers `request` from `peer`.
    fn handle(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = Reply> + Send;
}

/// Serves `handler` on `listener` (over TLS with `tls`) until `stop` turns true, then lets
/// the connections' requests in flight finish (at most [`DRAIN_TIMEOUT`]).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Tls>,
    handler: impl Handler,
    state: Arc<State>,
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
        let tls = tls.clone();
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let _slot = slot;
            let Some(tls) = tls else {
                let connection =
                    builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let _ = watcher.watch(connection.into_owned()).await;
                return;
            };
            let accepted = tokio::time::timeout(HEAD_TIMEOUT, tls.accept(stream)).await;
            let result = |result| ResultLabel { result };
            let stream = match accepted {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    state
                        .metrics
                        .handshakes
                        .get_or_create(&result("failed"))
                        .inc();
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    state
                        .metrics
                        .handshakes
                        .get_or_create(&result("failed"))
                        .inc();
                    return;
                }
            };
            state.metrics.handshakes.get_or_create(&result("ok")).inc();
            // A CA validating TLS-ALPN-01 needs the handshake only.
            if stream.get_ref().1.alpn_protocol() == Some(ACME_TLS_1) {
                return;
            }
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

/// Binds `addr`, naming the config key that chose it in the error.
pub async fn bind(addr: SocketAddr, key: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => " — another server is there; stop it or change it",
            std::io::ErrorKind::PermissionDenied => {
                " — ports below 1024 need root or CAP_NET_BIND_SERVICE"
            }
            _ => "",
        };
        format!("cannot listen on {addr} ({key}): {e}{hint}")
    })
}
