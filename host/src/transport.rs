//! The HTTPS client that carries the engine's requests: rustls with the system's roots plus
//! any `--ca-cert` roots, one connection pool, timeouts, a body limit, and plain HTTP only
//! to loopback.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use certsmith_core::{HttpRequest, HttpResponse, Method};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Largest response body accepted (certificate chains are a few KB).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A root certificate file could not be used.
    #[error("cannot use the CA certificate file {path}: {reason}")]
    CaCert {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Plain HTTP to a host that is not loopback.
    #[error(
        "refusing plain http:// to {0}: ACME needs HTTPS (plain HTTP is allowed only to 127.0.0.1, ::1 or localhost)"
    )]
    PlainHttp(String),
    /// The request failed.
    #[error("{0}")]
    Request(String),
    /// The response body was too large.
    #[error("the response from {0} is larger than 2 MiB")]
    TooLarge(String),
}

/// The system's roots plus the certificates in `extra_roots` (PEM files).
pub fn trust_roots(extra_roots: &[&Path]) -> Result<rustls::RootCertStore, TransportError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    for path in extra_roots {
        let shown = path.display().to_string();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| TransportError::CaCert {
                path: shown.clone(),
                reason: e.to_string(),
            })?
            .collect::<Result<_, _>>()
            .map_err(|e| TransportError::CaCert {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(TransportError::CaCert {
                path: shown,
                reason: "it holds no PEM certificate".into(),
            });
        }
        for cert in certs {
            roots.add(cert).map_err(|e| TransportError::CaCert {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        }
    }
    Ok(roots)
}

/// certsmith's HTTP client: rustls trusting `roots`, its User-Agent, `timeout` per request.
pub fn https_client(
    roots: rustls::RootCertStore,
    timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // ACME needs no redirect, and following one would re-send a signed request to an
    // address the CA never named, perhaps in cleartext: a 3xx reaches the engine as the
    // CA's unusable answer instead.
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("certsmith/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .build()
}

/// The HTTPS client.
pub struct Transport {
    client: reqwest::Client,
}

/// Whether `url`'s host is loopback.
fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

impl Transport {
    /// A client trusting the system roots and the certificates in `extra_roots` (PEM files).
    pub fn new(extra_roots: &[&Path], timeout: Duration) -> Result<Self, TransportError> {
        let client = https_client(trust_roots(extra_roots)?, timeout)
            .map_err(|e| TransportError::Request(e.to_string()))?;
        Ok(Self { client })
    }

    /// Sends `request` and reads the whole response.
    pub async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| TransportError::Request(format!("invalid URL {}: {e}", request.url)))?;
        if url.scheme() == "http" && !is_loopback(&url) {
            return Err(TransportError::PlainHttp(request.url.clone()));
        }
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Post => reqwest::Method::POST,
        };
        let mut builder = self.client.request(method, url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let mut response = builder
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| TransportError::Request(describe(&request.url, &e)))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| TransportError::Request(describe(&request.url, &e)))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(TransportError::TooLarge(request.url.clone()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// One line that says what failed and what to check.
fn describe(url: &str, error: &reqwest::Error) -> String {
    let mut cause = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        cause = e.to_string();
        source = e.source();
    }
    let hint = if cause.contains("certificate") || cause.contains("UnknownIssuer") {
        " — is the server's CA trusted? (pass its root with --ca-cert)"
    } else if error.is_connect() {
        " — is the server running and the URL right?"
    } else if error.is_timeout() {
        " — the server did not answer in time"
    } else {
        ""
    };
    format!("cannot reach {url}: {cause}{hint}")
}
