//! A CA in front of Pebble: an HTTPS proxy on its own loopback port that passes every
//! request through to the real Pebble (with the client's `Host`, so Pebble's URLs and its
//! JWS `url` checks name the proxy) and adds what Debian's Pebble 2.4.0 lacks: ACME Renewal
//! Information (RFC 9773), a `renewalInfo` endpoint answering a scripted window; and, when
//! asked, a hostile twist: newOrder answered with a redirect. It records every request,
//! with the JWS payload decoded, for the test to check.
//!
//! [`CaProxy::faulty`] makes it an unreliable CA instead: with a seeded, reproducible
//! chance per request it resets or closes the connection, stalls, answers a 5xx, or
//! mangles Pebble's answer (see [`FaultKind`]); no request ever reaches Pebble twice
//! because of it.

use std::collections::HashMap;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
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
    /// Whether it was passed on to Pebble (a fault can answer it instead).
    pub forwarded: bool,
    /// The fault injected into it, if any.
    pub fault: Option<FaultKind>,
}

/// The faults a [`CaProxy::faulty`] injects, one at most per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The TCP connection reset (RST) without a response.
    Reset,
    /// The connection closed (FIN) without a response.
    Close,
    /// 0.2–1.5 s of silence before the request is passed on.
    Delay,
    /// `500` with `Retry-After: 1`, instead of passing the request on.
    Error500RetryAfter,
    /// `503` without `Retry-After` or body, instead of passing the request on.
    Unavailable503,
    /// `503` with an `application/problem+json` `serverInternal`, instead of passing the
    /// request on.
    ServerInternal503,
    /// Pebble's answer with the first half of its body only (its status and headers kept,
    /// the length the shorter body's).
    Truncated,
    /// Pebble's status and headers with `{"status": ` and garbage as the body.
    Garbled,
    /// Pebble's answer with its body sent in small pieces over about a second.
    SlowDrip,
}

impl FaultKind {
    /// Every kind, in the order a fault is drawn from.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Reset,
        FaultKind::Close,
        FaultKind::Delay,
        FaultKind::Error500RetryAfter,
        FaultKind::Unavailable503,
        FaultKind::ServerInternal503,
        FaultKind::Truncated,
        FaultKind::Garbled,
        FaultKind::SlowDrip,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Reset => "reset",
            FaultKind::Close => "close",
            FaultKind::Delay => "delay",
            FaultKind::Error500RetryAfter => "500-retry-after",
            FaultKind::Unavailable503 => "503",
            FaultKind::ServerInternal503 => "503-serverInternal",
            FaultKind::Truncated => "truncated",
            FaultKind::Garbled => "garbled",
            FaultKind::SlowDrip => "slow-drip",
        }
    }

    /// Whether the client gets Pebble's real answer, only late or mangled (else the
    /// request is answered, or dropped, by the proxy alone, or its answer is lost).
    pub fn mangles_response(self) -> bool {
        matches!(
            self,
            FaultKind::Truncated | FaultKind::Garbled | FaultKind::SlowDrip
        )
    }
}

/// How often a [`CaProxy::faulty`] injects a fault, reproducibly.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// Seeds every decision: the same seed, the same faults for the same requests.
    pub seed: u64,
    /// The chance of a fault per request, in percent.
    pub rate_percent: u32,
}

/// The proxy; stopped on drop.
pub struct CaProxy {
    /// The directory URL clients use.
    pub directory: String,
    /// Every request so far.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// The fault state of a faulty proxy.
    chaos: Option<Arc<Chaos>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl CaProxy {
    /// Starts a proxy for `ca` that offers ARI as `ari` says.
    pub fn start(ca: &Pebble, ari: AriScript) -> Self {
        Self::scripted(ca, Some(ari), None, None)
    }

    /// Starts a proxy for `ca` (Pebble's directory as it is, no ARI) that injects one
    /// fault into a request with the chance `faults` gives (see [`FaultKind`]).
    ///
    /// Whether request *n* of a kind (its method and its path's first segment: `GET /dir`,
    /// `POST /authZ`, …) in the current round (see [`CaProxy::begin_round`]) gets a fault,
    /// and which, is drawn by splitmix64 from the seed, the round, the kind and *n*: a test
    /// that makes the same requests gets the same faults, and a request more or less of
    /// one kind (a poll) changes nothing for the others nor for the next round.
    ///
    /// No request reaches Pebble twice because of a fault: a reset, a close or a 5xx
    /// answers a request that changes state (a POST with a payload: newAccount, newOrder,
    /// a challenge, finalize) instead of passing it on; a reset or a close of any other
    /// request is its response lost after Pebble answered; a 5xx never passes the request
    /// on; a delay precedes passing it on, and the mangled answers are of the one request
    /// passed on.
    pub fn faulty(ca: &Pebble, faults: Faults) -> Self {
        let chaos = Chaos {
            faults,
            round: Mutex::new((0, HashMap::new())),
            injected: Mutex::new(HashMap::new()),
        };
        Self::scripted(ca, None, None, Some(Arc::new(chaos)))
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
        Self::scripted(ca, Some(ari), Some(location), None)
    }

    /// Starts a proxy for `ca` with ARI as `ari` says (none: Pebble's directory as it is),
    /// newOrder redirected to `redirect_new_order`, if given, and faults as `chaos` says.
    fn scripted(
        ca: &Pebble,
        ari: Option<AriScript>,
        redirect_new_order: Option<String>,
        chaos: Option<Arc<Chaos>>,
    ) -> Self {
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
            chaos: chaos.clone(),
        });
        let thread = std::thread::spawn(move || serve(listener, tls, shared, stopped));
        Self {
            directory: format!("https://localhost:{port}/dir"),
            seen,
            chaos,
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

    /// How many requests whose path starts with `prefix` reached Pebble.
    pub fn forwarded_to(&self, prefix: &str) -> usize {
        let seen = self.seen.lock().expect("seen");
        seen.iter()
            .filter(|s| s.forwarded && s.path.starts_with(prefix))
            .count()
    }

    /// The faults injected so far, by kind (every kind, in [`FaultKind::ALL`]'s order). A
    /// truncated or garbled answer without a body (to a `HEAD`) counts, though it changes
    /// nothing.
    pub fn faults_injected(&self) -> Vec<(String, usize)> {
        let injected = match &self.chaos {
            Some(chaos) => chaos.injected.lock().expect("injected").clone(),
            None => HashMap::new(),
        };
        FaultKind::ALL
            .iter()
            .map(|kind| {
                (
                    kind.name().to_owned(),
                    injected.get(kind).copied().unwrap_or(0),
                )
            })
            .collect()
    }

    /// Starts round `round` of a faulty proxy: from now on the faults are drawn for this
    /// round, with every kind's request count from zero (a test gives each of its steps a
    /// round, so what one step's polls did cannot shift the faults of the next).
    pub fn begin_round(&self, round: u64) {
        if let Some(chaos) = &self.chaos {
            *chaos.round.lock().expect("round") = (round, HashMap::new());
        }
    }
}

/// The fault state of a faulty proxy.
struct Chaos {
    faults: Faults,
    /// The round, and how many requests of each kind it has seen.
    round: Mutex<(u64, HashMap<String, u64>)>,
    /// Faults injected so far, by kind.
    injected: Mutex<HashMap<FaultKind, usize>>,
}

/// One fault drawn for a request: its kind and more randomness for its details.
#[derive(Clone, Copy, Debug)]
struct Draw {
    kind: FaultKind,
    bits: u64,
}

/// splitmix64's output function: a well-mixed 64-bit value of `x`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit value of `text` (FNV-1a), to seed from.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
    })
}

impl Chaos {
    /// Draws the fault of the next request of kind `class`, if it gets one, and counts it.
    fn draw(&self, class: &str) -> Option<Draw> {
        let (round, n) = {
            let mut round = self.round.lock().expect("round");
            let counter = round.1.entry(class.to_owned()).or_insert(0);
            let n = *counter;
            *counter += 1;
            (round.0, n)
        };
        let mut x = splitmix64(self.faults.seed);
        for part in [round, fnv1a(class), n] {
            x = splitmix64(x ^ part);
        }
        if x % 100 >= u64::from(self.faults.rate_percent) {
            return None;
        }
        let kind = FaultKind::ALL[((x >> 32) % FaultKind::ALL.len() as u64) as usize];
        *self
            .injected
            .lock()
            .expect("injected")
            .entry(kind)
            .or_insert(0) += 1;
        Some(Draw {
            kind,
            bits: splitmix64(x),
        })
    }
}

/// The answer the proxy gives up on: the connection is dropped without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

/// A response body: whole, or sent piece by piece.
type Body = BoxBody<Bytes, std::convert::Infallible>;

/// A whole body.
fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// One client connection: a second handle on its socket, to make its close a reset.
struct Connection {
    socket: Mutex<Option<std::net::TcpStream>>,
}

impl Connection {
    /// Makes the connection's close (when its response is dropped) a TCP reset.
    fn reset_on_close(&self) {
        if let Some(socket) = self.socket.lock().expect("socket").take() {
            let _ = tokio::net::TcpSocket::from_std_stream(socket).set_zero_linger();
        }
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
    /// What `renewalInfo` answers; none: no ARI in the directory.
    ari: Option<AriScript>,
    /// Where newOrder requests are redirected, if anywhere.
    redirect_new_order: Option<String>,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Faults to inject, if any.
    chaos: Option<Arc<Chaos>>,
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
            let connection = Arc::new(Connection {
                socket: Mutex::new(
                    tcp.as_fd()
                        .try_clone_to_owned()
                        .ok()
                        .map(std::net::TcpStream::from),
                ),
            });
            tokio::spawn(async move {
                let Ok(stream) = tls.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |request| {
                    let (upstream, connection) = (upstream.clone(), connection.clone());
                    async move { upstream.answer(&connection, request).await }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

impl Upstream {
    /// Answers one request: ARI here, everything else from Pebble, faults (if any) as
    /// drawn.
    async fn answer(
        &self,
        connection: &Connection,
        request: Request<Incoming>,
    ) -> Result<Response<Body>, Dropped> {
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
        // A POST with a payload changes state at the CA; a POST-as-GET has none.
        let changes_state = parts.method == hyper::Method::POST && payload.is_some();
        let class = format!(
            "{} /{}",
            parts.method,
            path.trim_start_matches('/').split('/').next().unwrap_or("")
        );
        let draw = self.chaos.as_ref().and_then(|chaos| chaos.draw(&class));
        let fault = draw.map(|d| d.kind);
        let record = |forwarded: bool| {
            self.seen.lock().expect("seen").push(Seen {
                method: parts.method.to_string(),
                path: path.clone(),
                payload: payload.clone(),
                forwarded,
                fault,
            });
        };
        if let (true, Some(location)) = (new_order, &self.redirect_new_order) {
            record(false);
            return Ok(Response::builder()
                .status(307)
                .header("location", location)
                .body(full(Bytes::new()))
                .expect("response"));
        }
        if path.starts_with("/ari/")
            && let Some(ari) = &self.ari
        {
            record(false);
            return Ok(renewal_info(ari));
        }
        // Faults that answer instead of Pebble, or come before it.
        match fault {
            Some(FaultKind::Reset | FaultKind::Close) if changes_state => {
                record(false);
                if fault == Some(FaultKind::Reset) {
                    connection.reset_on_close();
                }
                return Err(Dropped);
            }
            Some(FaultKind::Error500RetryAfter) => {
                record(false);
                return Ok(Response::builder()
                    .status(500)
                    .header("retry-after", "1")
                    .header("content-type", "text/plain")
                    .body(full("injected fault: internal error"))
                    .expect("response"));
            }
            Some(FaultKind::Unavailable503) => {
                record(false);
                return Ok(Response::builder()
                    .status(503)
                    .body(full(Bytes::new()))
                    .expect("response"));
            }
            Some(FaultKind::ServerInternal503) => {
                record(false);
                let problem = serde_json::json!({
                    "type": "urn:ietf:params:acme:error:serverInternal",
                    "detail": "injected fault: the CA is having trouble",
                    "status": 503,
                });
                return Ok(Response::builder()
                    .status(503)
                    .header("content-type", "application/problem+json")
                    .body(full(problem.to_string()))
                    .expect("response"));
            }
            Some(FaultKind::Delay) => {
                let millis = 200 + draw.map_or(0, |d| d.bits % 1301);
                tokio::time::sleep(Duration::from_millis(millis)).await;
            }
            _ => {}
        }
        record(true);
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
                    .body(full(e.to_string()))
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
        if path == "/dir" && self.ari.is_some() {
            let mut directory: serde_json::Value =
                serde_json::from_slice(&bytes).expect("directory");
            directory["renewalInfo"] = format!("https://{host}/ari").into();
            bytes = Bytes::from(directory.to_string());
        }
        // Faults of the answer: lost, mangled or slow.
        let body = match draw {
            Some(Draw {
                kind: FaultKind::Reset | FaultKind::Close,
                ..
            }) => {
                if fault == Some(FaultKind::Reset) {
                    connection.reset_on_close();
                }
                return Err(Dropped);
            }
            Some(Draw {
                kind: FaultKind::Truncated,
                ..
            }) => full(bytes.slice(..bytes.len() / 2)),
            Some(Draw {
                kind: FaultKind::Garbled,
                bits,
            }) => full(garbled(bits)),
            Some(Draw {
                kind: FaultKind::SlowDrip,
                ..
            }) => slow_drip(bytes),
            _ => full(bytes),
        };
        Ok(response.body(body).expect("response"))
    }
}

/// A body that starts as a JSON object and turns into garbage (drawn from `bits`).
fn garbled(bits: u64) -> Vec<u8> {
    let mut body = br#"{"status": "#.to_vec();
    let mut x = bits;
    for _ in 0..24 {
        x = splitmix64(x);
        body.push((x >> 56) as u8);
    }
    body
}

/// `bytes` sent in ten pieces (fewer for a shorter body), a tenth of a second apart.
fn slow_drip(bytes: Bytes) -> Body {
    let piece = bytes.len().div_ceil(10).max(1);
    let stream = futures_util::stream::unfold(bytes, move |mut rest| async move {
        if rest.is_empty() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let chunk = rest.split_to(piece.min(rest.len()));
        Some((Ok(Frame::data(chunk)), rest))
    });
    StreamBody::new(stream).boxed()
}

/// The scripted renewal information.
fn renewal_info(ari: &AriScript) -> Response<Body> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let time =
        |offset: i64| certsmith_core::Timestamp::from_unix_secs((now + offset) as u64).to_rfc3339();
    let mut info = serde_json::json!({
        "suggestedWindow": { "start": time(ari.start_secs), "end": time(ari.end_secs) }
    });
    if let Some(url) = &ari.explanation {
        info["explanationURL"] = url.clone().into();
    }
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("retry-after", ari.retry_after_secs.to_string())
        .body(full(info.to_string()))
        .expect("response")
}

/// The decoded payload of a JWS request body, if it is one with a non-empty payload.
fn jws_payload(body: &[u8]) -> Option<serde_json::Value> {
    let jws: serde_json::Value = serde_json::from_slice(body).ok()?;
    let payload = jws["payload"].as_str().filter(|p| !p.is_empty())?;
    let bytes = certsmith_core::b64url_decode(payload, "payload").ok()?;
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
