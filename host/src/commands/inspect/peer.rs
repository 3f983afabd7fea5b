//! Fetching the certificate chain a TLS server serves, and whether it is trusted: the
//! handshake goes through even for an untrusted chain (that is what one wants to look at),
//! while the normal WebPKI verdict is recorded beside it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;

use crate::commands::{Failure, exit};
use crate::transport::trust_roots;

/// How long connecting and the handshake may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What a server showed.
pub struct PeerChain {
    /// The chain as served, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The negotiated TLS version.
    pub tls_version: String,
    /// Why the chain is not trusted for the name; `None` when it is.
    pub trust_error: Option<String>,
}

/// A verifier that records the WebPKI verdict instead of acting on it.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    verdict: Mutex<Option<String>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .err()
            .map(|e| e.to_string());
        if let Ok(mut slot) = self.verdict.lock() {
            *slot = verdict;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Connects to `target` (HOST:PORT), sending HOST as SNI, and returns what it served.
pub async fn fetch_chain(target: &str, extra_roots: &[&Path]) -> Result<PeerChain, Failure> {
    let bad_target = || {
        Failure::new(
            exit::LOCAL,
            format!(
                "--host {target:?}: expected HOST:PORT (for example example.com:443 or [::1]:8443)"
            ),
        )
    };
    let (host, port) = target.rsplit_once(':').ok_or_else(bad_target)?;
    let port: u16 = port.parse().map_err(|_| bad_target())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let server_name = ServerName::try_from(host.to_owned()).map_err(|_| bad_target())?;
    let roots = trust_roots(extra_roots).map_err(|e| Failure::new(exit::LOCAL, e.to_string()))?;
    let inner = WebPkiServerVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|e| Failure::new(exit::OTHER, format!("cannot set up TLS checks: {e}")))?;
    let verifier = Arc::new(Recording {
        inner,
        verdict: Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    let unreachable = |e: &dyn std::fmt::Display| {
        Failure::new(exit::NETWORK, format!("cannot reach {target}: {e}"))
    };
    let handshake = async {
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| unreachable(&e))?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(server_name, stream)
            .await
            .map_err(|e| unreachable(&format!("TLS handshake failed: {e}")))
    };
    let tls = tokio::time::timeout(TIMEOUT, handshake)
        .await
        .map_err(|_| unreachable(&format!("no TLS handshake within {} s", TIMEOUT.as_secs())))??;
    let connection = tls.get_ref().1;
    let chain = connection
        .peer_certificates()
        .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    let tls_version = connection
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_else(|| "unknown TLS version".into());
    let trust_error = verifier.verdict.lock().ok().and_then(|v| v.clone());
    Ok(PeerChain {
        chain,
        tls_version,
        trust_error,
    })
}
