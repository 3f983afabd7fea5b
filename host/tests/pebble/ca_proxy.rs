//! A CA in front of Pebble: an HTTPS proxy on its own loopback port that passes every
//! request through to the real Pebble (with the client's `Host`, so Pebble's URLs and its
//! JWS `url` checks name the proxy) and adds what Debian's Pebble 2.4.0 lacks: ACME Renewal
//! Information (RFC 9773), a `renewalInfo` endpoint answering a scripted window; and, when
//! asked, a hostile twist: newOrder answered with a redirect. It records every request,
//! with the JWS payload decoded, for the test to check.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use std::path::Path;

use super::Pebble;

/// What the proxy answers at `renewalInfo`: the suggested window, relative to the time of
/// the request, and the `Retry-After` it sends.
#[derive(Clone, Debug)]
pub struct AriScript {
    /// Seconds from now to the window's start (negative: in the past).
    pub start_secs: i64,
    /// Seconds from now to the window's end.
    pub end_secs: i64,
    /// The `explanationURL`, if any.
    pub explanation: Option<String>,
    /// The `Retry-After` header, in seconds.
    pub retry_after_secs: u64,
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `GET`, `POST`, `HEAD`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The JWS payload, decoded, for POSTs that have one.
    pub payload: Option<serde_json::Value>,
}

/// The proxy; stopped on drop.
pub struct CaProxy {
    /// The directory URL clients use.
    pub directory: String,
    /// Every request so far.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl CaProxy {
    /// Starts a proxy for `ca` that offers ARI as `ari` says.
    pub fn start(ca: &Pebble, ari: AriScript) -> Self {
        Self::scripted(ca, ari, None)
    }

    /// Starts a proxy for `ca` that answers every newOrder with a 307 redirect to
    /// `location` (a hostile or broken CA front).
    pub fn redirecting_new_order(ca: &Pebble, location: String) -> Self {
        let ari = AriScript {
            start_secs: 86_400,
            end_secs: 2 * 86_400,
            explanation: None,
            retry_after_secs: 3600,
        };
        Self::scripted(ca, ari, Some(location))
    }

    /// Starts a proxy for `ca` with ARI as `ari` says and newOrder redirected to
    /// `redirect_new_order`, if given.
    fn scripted(ca: &Pebble, ari: AriScript, redirect_new_order: Option<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let upstream = ca
            .directory
            .trim_end_matches("/dir")
            .trim_start_matches("https://")
            .to_owned();
        let tls = server_tls(ca);
        let client = upstream_client(ca);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let shared = Arc::new(Upstream {
            host: upstream,
            client,
            ari,
            redirect_new_order,
            seen: seen.clone(),
        });
        let thread = std::thread::spawn(move || serve(listener, tls, shared, stopped));
        Self {
            directory: format!("https://localhost:{port}/dir"),
            seen,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The requests so far whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Seen> {
        let seen = self.seen.lock().expect("seen");
        seen.iter()
            .filter(|s| s.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}

impl Drop for CaProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where requests go and what the proxy adds.
struct Upstream {
    /// Pebble's `host:port`.
    host: String,
    client: reqwest::Client,
    ari: AriScript,
    /// Where newOrder requests are redirected, if anywhere.
    redirect_new_order: Option<String>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// The proxy's TLS: Pebble's own `localhost` certificate, so clients trust it alike.
fn server_tls(ca: &Pebble) -> tokio_rustls::TlsAcceptor {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = ca.dir.path();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("localhost.pem"))
            .expect("localhost.pem")
            .collect::<Result<_, _>>()
            .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(dir.join("localhost.key")).expect("localhost.key");
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server TLS");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A client for Pebble, trusting its TLS root.
fn upstream_client(ca: &Pebble) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca.tls_root()).expect("root.pem") {
        roots.add(cert.expect("root")).expect("root added");
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client")
}

/// Serves connections until `stopped`.
fn serve(
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    upstream: Arc<Upstream>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        loop {
            let (tcp, _) = tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
            };
            let (tls, upstream) = (tls.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(stream) = tls.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |request| {
                    let upstream = upstream.clone();
                    async move { upstream.answer(request).await }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

impl Upstream {
    /// Answers one request: ARI here, everything else from Pebble.
    async fn answer(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let path = parts.uri.path().to_owned();
        let host = parts
            .headers
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let payload = jws_payload(&body);
        let new_order = payload
            .as_ref()
            .is_some_and(|p| p.get("identifiers").is_some());
        self.seen.lock().expect("seen").push(Seen {
            method: parts.method.to_string(),
            path: path.clone(),
            payload,
        });
        if let (true, Some(location)) = (new_order, &self.redirect_new_order) {
            return Ok(Response::builder()
                .status(307)
                .header("location", location)
                .body(Full::new(Bytes::new()))
                .expect("response"));
        }
        if path.starts_with("/ari/") {
            return Ok(self.renewal_info());
        }
        let url = format!("https://{}{}", self.host, parts.uri);
        let mut forward = self.client.request(parts.method.clone(), url);
        for (name, value) in &parts.headers {
            forward = forward.header(name, value);
        }
        let reply = match forward.body(body.to_vec()).send().await {
            Ok(reply) => reply,
            Err(e) => {
                return Ok(Response::builder()
                    .status(502)
                    .body(Full::new(Bytes::from(e.to_string())))
                    .expect("response"));
            }
        };
        let mut response = Response::builder().status(reply.status());
        for (name, value) in reply.headers() {
            if name != hyper::header::CONTENT_LENGTH && name != hyper::header::TRANSFER_ENCODING {
                response = response.header(name, value);
            }
        }
        let mut bytes = reply.bytes().await.unwrap_or_default();
        if path == "/dir" {
            let mut directory: serde_json::Value =
                serde_json::from_slice(&bytes).expect("directory");
            directory["renewalInfo"] = format!("https://{host}/ari").into();
            bytes = Bytes::from(directory.to_string());
        }
        Ok(response.body(Full::new(bytes)).expect("response"))
    }

    /// The scripted renewal information.
    fn renewal_info(&self) -> Response<Full<Bytes>> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let time = |offset: i64| {
            certsmith_core::Timestamp::from_unix_secs((now + offset) as u64).to_rfc3339()
        };
        let mut info = serde_json::json!({
            "suggestedWindow": { "start": time(self.ari.start_secs), "end": time(self.ari.end_secs) }
        });
        if let Some(url) = &self.ari.explanation {
            info["explanationURL"] = url.clone().into();
        }
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("retry-after", self.ari.retry_after_secs.to_string())
            .body(Full::new(Bytes::from(info.to_string())))
            .expect("response")
    }
}

/// The decoded payload of a JWS request body, if it is one with a non-empty payload.
fn jws_payload(body: &[u8]) -> Option<serde_json::Value> {
    let jws: serde_json::Value = serde_json::from_slice(body).ok()?;
    let payload = jws["payload"].as_str().filter(|p| !p.is_empty())?;
    let bytes = certsmith_core::jose::b64url_decode(payload, "payload").ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `certsmith --json issue` of `name` at `directory` (a proxy of `ca`), over HTTP-01.
pub fn issue_at(ca: &Pebble, directory: &str, state: &Path, name: &str) -> serde_json::Value {
    let http = format!("127.0.0.1:{}", ca.http_port);
    let output = super::certsmith(state)
        .args(["--json", "issue", "--server", directory, "--accept-tos"])
        .args(["--email", "admin@example.test", "--http", &http, "-d", name])
        .arg("--ca-cert")
        .arg(ca.tls_root())
        .output()
        .expect("issue runs");
    super::check_issued(ca, &output, &[name])
}

/// The ARI ID kept for lineage `name` at the CA of `directory`.
pub fn ari_id(state: &Path, directory: &str, name: &str) -> String {
    let slug = directory
        .trim_start_matches("https://")
        .replace([':', '/'], "-");
    let meta = state.join("certs").join(slug).join(name).join("meta.json");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta).expect("meta.json")).expect("meta JSON");
    meta["ariId"].as_str().expect("ariId").to_owned()
}

/// The `replaces` of each newOrder the proxy passed on.
pub fn replaces(ca: &Pebble, proxy: &CaProxy) -> Vec<Option<String>> {
    let new_order = ca.endpoint("newOrder");
    let path = new_order.splitn(4, '/').nth(3).expect("a path");
    proxy
        .requests_to(&format!("/{path}"))
        .iter()
        .map(|seen| {
            seen.payload.as_ref().expect("a payload")["replaces"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}
