//! TLS-ALPN-01 standalone (RFC 8737): a TLS server on ADDR:PORT that completes a handshake
//! only for a client offering ALPN `acme-tls/1` and naming (SNI) an identifier whose challenge
//! is deployed, with that challenge's self-signed certificate; every other handshake fails.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use certsmith::tls::{ACME_TLS_1, CertResolver, ChallengeCerts};
use certsmith_core::{ChallengeTask, Identifier, Solution};
use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{Solver, SolverError, bind_error};

/// The TLS-ALPN-01 server; stops when dropped.
pub struct TlsAlpnStandalone {
    certs: Arc<ChallengeCerts>,
    server: JoinHandle<()>,
}

impl TlsAlpnStandalone {
    /// Listens on `addr` (port 443 for a real CA; the CA's validation port in tests).
    pub async fn bind(addr: SocketAddr) -> Result<Self, SolverError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| bind_error(addr, "--tls-alpn", &e))?;
        let certs = Arc::new(ChallengeCerts::default());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| SolverError(format!("cannot set up TLS for tls-alpn-01: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&certs) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![ACME_TLS_1.to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor.accept(stream).await {
                        // The validation is the handshake itself; nothing is served after it.
                        Ok(mut tls) => {
                            tracing::debug!(%peer, "tls-alpn-01 handshake done");
                            let _ = tls.shutdown().await;
                        }
                        Err(e) => tracing::debug!(%peer, "tls-alpn-01 handshake refused: {e}"),
                    }
                });
            }
        });
        Ok(Self { certs, server })
    }

    /// Stops the server and waits until its listener is closed, so the port is free for
    /// the next command in this process (`renew --all`).
    pub async fn stop(&mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for TlsAlpnStandalone {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The SNI name a CA uses for an identifier: the name itself, or for an IP address its
/// reverse-mapping name (RFC 8738 §6).
pub fn sni_name(identifier: &Identifier) -> String {
    match identifier.value.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            let [a, b, c, d] = ip.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        Ok(IpAddr::V6(ip)) => {
            let mut name = String::with_capacity(73);
            for byte in ip.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            name.push_str("ip6.arpa");
            name
        }
        Err(_) => identifier.value.to_ascii_lowercase(),
    }
}

/// The challenge certificate of a task, ready for rustls.
fn certified_key(task: &ChallengeTask) -> Result<CertifiedKey, SolverError> {
    let Solution::TlsAlpn01 {
        certificate_pem,
        private_key_pem,
    } = &task.solution
    else {
        return Err(SolverError(format!(
            "this solver answers tls-alpn-01 only, not {} for {}",
            task.challenge_type().as_str(),
            task.identifier
        )));
    };
    let unusable = |what: &str, e: &dyn std::fmt::Display| {
        SolverError(format!(
            "the engine's tls-alpn-01 {what} for {} is unusable: {e}",
            task.identifier
        ))
    };
    let cert = CertificateDer::from_pem_slice(certificate_pem.as_bytes())
        .map_err(|e| unusable("certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(private_key_pem.as_bytes())
        .map_err(|e| unusable("key", &e))?;
    let signing_key =
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| unusable("key", &e))?;
    Ok(CertifiedKey::new(vec![cert], signing_key))
}

/// Answers `task` from `certs`.
fn deploy_into(certs: &ChallengeCerts, task: &ChallengeTask) -> Result<(), SolverError> {
    let key = Arc::new(certified_key(task)?);
    certs
        .insert(sni_name(&task.identifier), key)
        .map_err(SolverError)
}

impl Solver for TlsAlpnStandalone {
    async fn deploy(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        deploy_into(&self.certs, task)
    }

    async fn cleanup(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        self.certs.remove(&sni_name(&task.identifier));
        Ok(())
    }
}

/// TLS-ALPN-01 answered by a server that also serves the managed certificates (the
/// daemon's HTTPS listener): challenges go into its resolver.
pub struct TlsAlpnResolver(pub Arc<CertResolver>);

impl Solver for TlsAlpnResolver {
    async fn deploy(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        deploy_into(self.0.challenges(), task)
    }

    async fn cleanup(&self, task: &ChallengeTask) -> Result<(), SolverError> {
        self.0.challenges().remove(&sni_name(&task.identifier));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_identifiers_use_their_reverse_names() {
        assert_eq!(
            sni_name(&Identifier::ip("192.0.2.7")),
            "7.2.0.192.in-addr.arpa"
        );
        let v6 = sni_name(&Identifier::ip("2001:db8::1"));
        assert!(v6.starts_with("1.0.0.0.0.0.0.0."), "{v6}");
        assert!(v6.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"), "{v6}");
        assert_eq!(sni_name(&Identifier::dns("Example.COM")), "example.com");
    }
}
