//! The daemon's TLS handshakes: the ClientHello read first, so a name without a certificate
//! can get one on demand before the handshake goes on; a deadline for each part; the
//! handshakes counted; a CA's TLS-ALPN-01 validation ended once its handshake is done.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use super::on_demand::Asker;
use super::state::{ResultLabel, State};
use crate::serve::{Accept, HEAD_TIMEOUT};
use certsmith::tls::{ACME_TLS_1, CertResolver};

/// TLS on a listener: the configuration (its resolver holds the certificates), who obtains
/// a certificate for a name that has none (on-demand TLS), and where handshakes are counted.
#[derive(Clone)]
pub struct Tls {
    /// The server configuration.
    pub config: Arc<rustls::ServerConfig>,
    /// The resolver in `config`.
    pub resolver: Arc<CertResolver>,
    /// On-demand TLS.
    pub on_demand: Option<Asker>,
    /// The handshake metrics.
    pub state: Arc<State>,
}

impl Tls {
    /// The handshake on `stream`: the ClientHello within [`HEAD_TIMEOUT`]; for a name with
    /// no certificate, on-demand TLS gets one (within its own timeout); then the rest of the
    /// handshake within [`HEAD_TIMEOUT`].
    async fn handshake(&self, stream: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        let lazy = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
        let start = tokio::time::timeout(HEAD_TIMEOUT, lazy)
            .await
            .map_err(|_| "no ClientHello in time".to_owned())?
            .map_err(|e| e.to_string())?;
        let hello = start.client_hello();
        let validating = certsmith::tls::offers_acme_tls(&hello);
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

impl Accept for Tls {
    type Stream = TlsStream<TcpStream>;

    async fn accept(&self, tcp: TcpStream, peer: SocketAddr) -> Option<Self::Stream> {
        let result = |result| ResultLabel { result };
        match self.handshake(tcp).await {
            Ok(stream) => {
                self.state
                    .metrics
                    .handshakes
                    .get_or_create(&result("ok"))
                    .inc();
                // A CA validating TLS-ALPN-01 needs the handshake only.
                (stream.get_ref().1.alpn_protocol() != Some(ACME_TLS_1)).then_some(stream)
            }
            Err(e) => {
                self.state
                    .metrics
                    .handshakes
                    .get_or_create(&result("failed"))
                    .inc();
                tracing::debug!(%peer, "TLS handshake failed: {e}");
                None
            }
        }
    }
}
