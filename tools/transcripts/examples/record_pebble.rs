//! Records transcripts from Pebble, the real ACME test CA (`core/tests/transcripts/pebble-*.json`):
//! for each run it starts a fresh Pebble and pebble-challtestsrv (Debian package `pebble`)
//! with the host's end-to-end harness (`host/tests/pebble/mod.rs`, compiled in, not
//! copied: a temporary directory, TLS root and configuration, free loopback ports), drives a
//! seeded client (the scheme of `record.rs`) over real HTTPS to it, answers HTTP-01 with a
//! small responder on that Pebble's `httpPort` so that Pebble really validates, and writes
//! down every `poll` with the wall clock as its time. Run from the repository root:
//! `cargo run -p certsmith-transcripts --example record_pebble`.
//!
//! The harness picks each Pebble's six ports itself (listener, management, HTTP-01,
//! TLS-ALPN-01, DNS, DNS management): free ones from 20000 up to the kernel's ephemeral
//! range, as for the host's end-to-end tests, so nothing is configured and nothing needs
//! moving. A Pebble that does not start stops the recorder with the harness's panic, which
//! names the port or process and the tail of their logs. Every address the recorder talks
//! to is loopback.
//!
//! The engine's side of a run is deterministic, but Pebble's is not: its keys, nonces,
//! ports, URLs, which nonces it refuses, and the times are new at each recording, so a new
//! recording differs from the previous one throughout (and may take another number of
//! steps). A run that does not show what it is for (the order issued or failed as planned,
//! the storm's `badNonce` answers) is recorded again, at most three times, and each
//! transcript is replayed through the Rust engine before it is written. Pebble 2.4.0
//! (Debian's) offers no `renewalInfo` (ARI), so no renewal is recorded from it.

#![allow(missing_docs)]

// The host's Pebble harness: test code, which reports a broken expectation by panicking
// (it allows that, and its unused parts, itself).
#[path = "../../../host/tests/pebble/mod.rs"]
mod pebble;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use certsmith_core::{
    Action, HttpRequest, HttpResponse, Input, KeyType, Method, PrivateKey, Random, Solution,
};
use certsmith_transcripts::recorder::{Recorder, WallClock};
use certsmith_transcripts::{Transcript, replay_native};
use pebble::Pebble;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::json;

/// Why a recording failed.
type Failure = Box<dyn std::error::Error>;

/// The seed of every recorded client's randomness (as in `record.rs`).
const SEED: [u8; 32] = [0x5e; 32];
/// The seed the account key is drawn from (as in `record.rs`).
const ACCOUNT_KEY_SEED: [u8; 32] = [0xac; 32];
/// The recorder's `User-Agent` token (as in `record.rs`).
const USER_AGENT: &str = "transcript-recorder/1";
/// The longest one run may take, waits included.
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// The most polls one run may take.
const MAX_STEPS: usize = 2_000;
/// How long one request to Pebble may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a run whose transcript does not show what it is for is recorded again.
const ATTEMPTS: usize = 3;
/// The largest HTTP-01 request head the responder reads.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// The longest the HTTP-01 responder runs.
const RESPONDER_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Pebble's version, from its Debian package (`pebble` has no version flag).
fn pebble_version() -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "pebble"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "(version unknown)".to_owned())
}

/// The HTTPS client for Pebble: rustls trusting only the root of Pebble's listener,
/// `localhost` pinned to 127.0.0.1 (on the port each URL names), no proxy, no redirect.
fn https_client(root: &Path) -> Result<reqwest::Client, Failure> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(root)? {
        roots.add(cert?)?;
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        // Port 0: the port in the URL is used.
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}

/// Sends `request` to Pebble and reads the whole response; a request to anything but
/// loopback is refused.
fn send(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    request: &HttpRequest,
) -> Result<HttpResponse, String> {
    let url = reqwest::Url::parse(&request.url).map_err(|e| format!("{}: {e}", request.url))?;
    if !matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) {
        return Err(format!("refusing {}: not loopback", request.url));
    }
    let method = match request.method {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
    };
    let mut builder = client.request(method, url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let builder = builder.body(request.body.clone());
    runtime.block_on(async {
        let response = builder
            .send()
            .await
            .map_err(|e| format!("{}: {e}", request.url))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("{}: {e}", request.url))?
            .to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    })
}

/// The HTTP-01 answers being served, by token.
type Published = Arc<Mutex<HashMap<String, String>>>;

/// A loopback HTTP server for HTTP-01 on a Pebble's `httpPort`: it answers
/// `/.well-known/acme-challenge/<token>` with what is published for the token, 404
/// otherwise. It stops when dropped (or after [`RESPONDER_LIMIT`]).
struct Responder {
    published: Published,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    /// Listens on 127.0.0.1:`port`.
    fn start(port: u16) -> Result<Self, Failure> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .map_err(|e| format!("HTTP-01 responder on 127.0.0.1:{port}: {e}"))?;
        listener.set_nonblocking(true)?;
        let published = Published::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (published, stop) = (Arc::clone(&published), Arc::clone(&stop));
            std::thread::spawn(move || {
                let until = Instant::now() + RESPONDER_LIMIT;
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            // A validation that cannot be answered shows in the transcript
                            // as Pebble's problem.
                            let _ = serve(stream, &published);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        Ok(Self {
            published,
            stop,
            thread: Some(thread),
        })
    }

    /// Serves `body` for `token`.
    fn publish(&self, token: &str, body: String) {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        published.insert(token.to_owned(), body);
    }

    /// Stops serving `token`.
    fn withdraw(&self, token: &str) {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        published.remove(token);
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one HTTP-01 validation request.
fn serve(mut stream: TcpStream, published: &Published) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or_default();
    let body = path
        .strip_prefix("/.well-known/acme-challenge/")
        .and_then(|token| {
            let published = published.lock().unwrap_or_else(PoisonError::into_inner);
            published.get(token).cloned()
        });
    let response = match body {
        Some(body) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        None => {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
        }
    };
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

/// How the recorder answers an HTTP-01 deployment.
#[derive(Clone, Copy, PartialEq)]
enum Deploy {
    /// Serve the key authorization the engine asked for.
    Correct,
    /// Serve a wrong one (Pebble's validation fails).
    Wrong,
}

/// What a run must show for its transcript to be kept.
#[derive(Clone, Copy)]
enum Expect {
    /// The order ends with a certificate.
    Issued,
    /// The order ends with a certificate after at least this many `badNonce` answers.
    IssuedAfterBadNonces(usize),
    /// The order fails.
    Failed,
}

/// One run to record.
struct Run {
    name: &'static str,
    description: &'static str,
    nonce_reject: u8,
    deploy: Deploy,
    name_ordered: &'static str,
    expect: Expect,
}

/// Records `run` against a fresh Pebble, refusing `run.nonce_reject` percent of good nonces.
fn record(run: &Run, version: &str) -> Result<Transcript, Failure> {
    let nonce_reject = run.nonce_reject.to_string();
    let pebble = Pebble::start(&[("PEBBLE_WFE_NONCEREJECT", &nonce_reject)]);
    let responder = Responder::start(pebble.http_port)?;
    let client = https_client(&pebble.tls_root())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let key = PrivateKey::generate_with(KeyType::P256, &mut Random::seeded(ACCOUNT_KEY_SEED))?;
    let description = format!(
        "Recorded from Pebble {version} (Debian package pebble, the real ACME test CA) with the wall clock: {}",
        run.description
    );
    let mut recorder = Recorder::new(&description, &pebble.directory, key, SEED, USER_AGENT)?;
    recorder.start(json!({"kind": "new-account", "termsOfServiceAgreed": true,
        "contact": ["mailto:admin@example.test"]}))?;
    recorder.start(json!({"kind": "order", "identifiers": [run.name_ordered],
        "challengeTypes": ["http-01"]}))?;
    let mut clock = WallClock::with_limit(RUN_LIMIT);
    let transcript = recorder.run(&mut clock, MAX_STEPS, |output, _| {
        Ok(match &output.action {
            Action::Send(request) => Some(Input::Response(send(&runtime, &client, request)?)),
            Action::Deploy(task) => {
                let Solution::Http01 { .. } = task.solution else {
                    return Err(format!("only HTTP-01 is answered here, not {task:?}"));
                };
                let body = match run.deploy {
                    Deploy::Correct => task.key_authorization.clone(),
                    Deploy::Wrong => format!("{}-wrong", task.key_authorization),
                };
                responder.publish(&task.token, body);
                Some(Input::ChallengeReady {
                    token: task.token.clone(),
                })
            }
            Action::Cleanup(task) => {
                responder.withdraw(&task.token);
                None
            }
            _ => None,
        })
    })?;
    drop(responder);
    drop(pebble);
    Ok(transcript)
}

/// Why `transcript` does not show what `expect` asks for, if it does not.
fn shortfall(transcript: &Transcript, expect: Expect) -> Option<String> {
    let order_end = transcript.steps.iter().rev().find_map(|s| {
        let output = s.output.as_ref()?;
        let ended = output["op"] == 2 && matches!(output["kind"].as_str(), Some("done" | "failed"));
        ended.then(|| output["kind"].as_str().unwrap_or_default().to_owned())
    });
    let bad_nonces = transcript
        .steps
        .iter()
        .filter_map(|s| s.input.as_ref())
        .filter(|input| input["status"] == 400)
        .filter_map(|input| input["body"].as_str())
        .filter_map(|body| Base64::decode_vec(body).ok())
        .filter(|body| String::from_utf8_lossy(body).contains("badNonce"))
        .count();
    let (want, min_bad_nonces) = match expect {
        Expect::Issued => ("done", 0),
        Expect::IssuedAfterBadNonces(n) => ("done", n),
        Expect::Failed => ("failed", 0),
    };
    if order_end.as_deref() != Some(want) {
        return Some(format!("the order ended {order_end:?}, not {want:?}"));
    }
    (bad_nonces < min_bad_nonces)
        .then(|| format!("{bad_nonces} badNonce answers, fewer than {min_bad_nonces}"))
}

fn main() -> Result<(), Failure> {
    let runs = [
        Run {
            name: "pebble-happy-path",
            description: "an account and a one-name order, HTTP-01 validated by Pebble (the authorization polled until valid), finalized, the certificate downloaded.",
            nonce_reject: 0,
            deploy: Deploy::Correct,
            name_ordered: "happy.example.test",
            expect: Expect::Issued,
        },
        Run {
            name: "pebble-bad-nonce-storm",
            description: "Pebble refusing 60% of good nonces (PEBBLE_WFE_NONCEREJECT=60): badNonce answers throughout, each retried with the nonce the error carried, and the order issued.",
            nonce_reject: 60,
            deploy: Deploy::Correct,
            name_ordered: "storm.example.test",
            expect: Expect::IssuedAfterBadNonces(4),
        },
        Run {
            name: "pebble-invalid-challenge",
            description: "the HTTP-01 responder serves a wrong key authorization: Pebble marks the challenge and authorization invalid, the challenge is cleaned up and the order fails naming it.",
            nonce_reject: 0,
            deploy: Deploy::Wrong,
            name_ordered: "wrong.example.test",
            expect: Expect::Failed,
        },
    ];
    let version = pebble_version();
    let dir = Path::new("core/tests/transcripts");
    if !dir.is_dir() {
        return Err(format!("{}: run from the repository root", dir.display()).into());
    }
    for run in &runs {
        let mut kept = None;
        for attempt in 1..=ATTEMPTS {
            let transcript = record(run, &version)?;
            match shortfall(&transcript, run.expect) {
                None => {
                    kept = Some(transcript);
                    break;
                }
                Some(why) => eprintln!("{}: attempt {attempt}: {why}; recording again", run.name),
            }
        }
        let transcript = kept.ok_or_else(|| {
            format!(
                "{}: no recording in {ATTEMPTS} attempts showed what it is for",
                run.name
            )
        })?;
        replay_native(&transcript).map_err(|e| format!("{}: does not replay: {e}", run.name))?;
        let path = dir.join(format!("{}.json", run.name));
        let text = serde_json::to_string_pretty(&transcript)? + "\n";
        std::fs::write(&path, text)?;
        println!("{}: {} steps", path.display(), transcript.steps.len());
    }
    Ok(())
}
