//! Serving managed certificates over TLS: a rustls certificate resolver that holds the
//! current certificate of every managed name and swaps one in atomically (lock-free for the
//! handshakes reading it) the moment a new one is stored, and answers TLS-ALPN-01 challenges
//! (RFC 8737) for handshakes offering `acme-tls/1`.
//!
//! [`feed`] keeps it in step with the store; `host/examples/serve_stored.rs` is a whole HTTPS
//! server built on both.
//!
//! ```no_run
//! use std::sync::Arc;
//! use certsmith::storage::{StorageSpec, Store};
//! use certsmith::tls::CertResolver;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open(&StorageSpec::Files, "/var/lib/certsmith".as_ref()).await?;
//! let resolver = Arc::new(CertResolver::new());
//! // Serve what the store holds now; call again (or run `certsmith run`) to pick up renewals.
//! let ca = "localhost-14000-dir";
//! if let Some(lineage) = store.read_lineage(ca, "a.example.test").await? {
//!     resolver.install(&lineage)?;
//! }
//! let config = rustls::ServerConfig::builder()
//!     .with_no_client_auth()
//!     .with_cert_resolver(resolver.clone());
//! let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
//! # let _ = acceptor;
//! # Ok(())
//! # }
//! ```

pub mod feed;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::storage::lineage::Lineage;

/// The ALPN protocol of TLS-ALPN-01.
pub const ACME_TLS_1: &[u8] = b"acme-tls/1";

/// A certificate as the resolver serves it: the chain and key for rustls, and the facts
/// reported about it.
#[derive(Debug)]
pub struct Served {
    /// What rustls sends and signs with.
    pub key: Arc<CertifiedKey>,
    /// The leaf's serial number (hex).
    pub serial: String,
    /// The leaf's names.
    pub names: Vec<String>,
    /// When the leaf expires (Unix seconds).
    pub not_after: u64,
}

/// Name → served certificate. Names are lowercase; a wildcard is kept as `*.parent`.
type Table = HashMap<String, Arc<Served>>;

/// The resolver: managed certificates by name, and the TLS-ALPN-01 challenge certificates.
#[derive(Debug, Default)]
pub struct CertResolver {
    /// The current certificate of every managed name, replaced as a whole on each change.
    current: ArcSwap<Table>,
    /// Challenge certificates by SNI name, for handshakes offering `acme-tls/1`.
    challenges: ChallengeCerts,
}

impl CertResolver {
    /// An empty resolver: every handshake fails until a certificate is installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks a stored lineage (the chain parses, the key is the leaf's) and serves it for
    /// every name its leaf carries from now on. On an error the names keep what they had.
    pub fn install(&self, lineage: &Lineage) -> Result<Arc<Served>, String> {
        let served = Arc::new(Served::from_lineage(lineage)?);
        self.install_all([Arc::clone(&served)]);
        Ok(served)
    }

    /// Serves each of `certificates` for the names its leaf carries, in one swap.
    pub fn install_all(&self, certificates: impl IntoIterator<Item = Arc<Served>>) {
        let certificates: Vec<Arc<Served>> = certificates.into_iter().collect();
        self.current.rcu(|table| {
            let mut table = Table::clone(table);
            for served in &certificates {
                for name in &served.names {
                    table.insert(name.to_ascii_lowercase(), Arc::clone(served));
                }
            }
            table
        });
    }

    /// Stops serving `names`.
    pub fn remove(&self, names: &[String]) {
        self.current.rcu(|table| {
            let mut table = Table::clone(table);
            for name in names {
                table.remove(&name.to_ascii_lowercase());
            }
            table
        });
    }

    /// The certificate served for `name` (an exact name, else a wildcard one level up).
    pub fn get(&self, name: &str) -> Option<Arc<Served>> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let table = self.current.load();
        if let Some(served) = table.get(&name) {
            return Some(Arc::clone(served));
        }
        let (_, parent) = name.split_once('.')?;
        table.get(&format!("*.{parent}")).cloned()
    }

    /// Every certificate served, once each.
    pub fn all(&self) -> Vec<Arc<Served>> {
        let table = self.current.load();
        let mut seen: Vec<Arc<Served>> = Vec::new();
        for served in table.values() {
            if !seen.iter().any(|s| Arc::ptr_eq(s, served)) {
                seen.push(Arc::clone(served));
            }
        }
        seen
    }

    /// The TLS-ALPN-01 challenge certificates this resolver answers with.
    pub fn challenges(&self) -> &ChallengeCerts {
        &self.challenges
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if offers_acme_tls(&hello) {
            return self.challenges.resolve(hello);
        }
        let name = hello.server_name()?;
        self.get(name).map(|served| Arc::clone(&served.key))
    }
}

/// Whether the client offers ALPN `acme-tls/1` (a CA validating TLS-ALPN-01).
pub fn offers_acme_tls(hello: &ClientHello<'_>) -> bool {
    hello
        .alpn()
        .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_1))
}

impl Served {
    /// The chain and key of a lineage, checked (the chain parses, the key is the leaf's),
    /// as rustls serves them.
    pub fn from_lineage(lineage: &Lineage) -> Result<Self, String> {
        let info = lineage.check(None)?;
        let chain = CertificateDer::pem_slice_iter(lineage.fullchain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("fullchain.pem: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(lineage.key_pem.as_bytes())
            .map_err(|e| format!("key.pem: {e}"))?;
        let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|e| format!("key.pem: {e}"))?;
        Ok(Served {
            key: Arc::new(CertifiedKey::new(chain, signing_key)),
            serial: info.serial_hex.clone(),
            names: info.sans.iter().map(|san| san.value.clone()).collect(),
            not_after: info.not_after.unix_millis() / 1000,
        })
    }
}

/// SNI name → challenge certificate of the deployed TLS-ALPN-01 challenges.
#[derive(Debug, Default)]
pub struct ChallengeCerts(Mutex<HashMap<String, Arc<CertifiedKey>>>);

impl ChallengeCerts {
    /// Answers handshakes for `sni_name` offering `acme-tls/1` with `key`.
    pub fn insert(&self, sni_name: String, key: Arc<CertifiedKey>) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|_| "the tls-alpn-01 certificate table is poisoned".to_owned())?
            .insert(sni_name, key);
        Ok(())
    }

    /// Stops answering for `sni_name`.
    pub fn remove(&self, sni_name: &str) {
        if let Ok(mut certs) = self.0.lock() {
            certs.remove(sni_name);
        }
    }
}

impl ResolvesServerCert for ChallengeCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if !offers_acme_tls(&hello) {
            return None;
        }
        let name = hello.server_name()?.to_ascii_lowercase();
        self.0.lock().ok()?.get(&name).cloned()
    }
}
