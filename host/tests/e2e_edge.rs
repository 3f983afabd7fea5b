//! End to end for the edge: the Spin plugin served by `certsmith plugin serve` answers
//! Pebble's HTTP-01 validation while `certsmith issue` publishes the tokens — into the
//! shared store (files, or a real Redis server) or through the plugin's admin API — and the
//! plugin refuses hostile requests without touching the store.

// Test helpers: a panic with a message is how they report a broken expectation.
#![allow(clippy::expect_used)]

use std::path::Path;
use std::process::Command;

mod pebble;

use pebble::*;

/// The files under `state/http01` with their contents.
fn http01_files(state: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(state.join("http01"))
        .map(|entries| {
            entries
                .filter_map(|e| {
                    let e = e.ok()?;
                    let body = std::fs::read_to_string(e.path()).ok()?;
                    Some((e.file_name().to_string_lossy().into_owned(), body))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// One request to the plugin on `port` (curl, the path sent exactly as given): the status
/// code and the body (for `HEAD`, the response head).
fn call(port: u16, method: &str, path: &str, bearer: Option<&str>, body: &str) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args(["-sS", "--path-as-is", "--max-time", "10"]);
    if method == "HEAD" {
        command.arg("--head");
    } else {
        command.args(["-X", method]);
    }
    command.args(["-w", "\n%{http_code}"]);
    if let Some(bearer) = bearer {
        command.args(["-H", &format!("Authorization: Bearer {bearer}")]);
    }
    if !body.is_empty() {
        command.args(["-H", "Content-Type: text/plain", "--data-binary", body]);
    }
    let out = run(command.arg(format!("http://127.0.0.1:{port}{path}")));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (status.trim().parse().expect("status"), body.to_owned())
}

#[test]
fn the_plugin_answers_pebble_from_the_file_store() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let _plugin = plugin_serve(&ca, state.path(), ca.http_port, "fs", &[]);
    let output = issue_via(
        &ca,
        state.path(),
        &["edge-fs.example.test"],
        &["--http-kv"],
        &[],
    );
    check_issued(&ca, &output, &["edge-fs.example.test"]);
    assert!(http01_files(state.path()).is_empty(), "tokens cleaned up");
    // It served Pebble while confined to http01/ and cache/ (the confinement itself is
    // tested in certsmith::confine).
    let log = std::fs::read_to_string(plugin_serve_log(state.path())).expect("log");
    assert!(log.contains("file access confined to"), "{log}");
}

#[test]
fn the_plugin_answers_pebble_from_redis() {
    let ca = Pebble::start(&[]);
    let (_redis, url) = redis();
    let plugin_state = tempfile::tempdir().expect("plugin state");
    let issuer_state = tempfile::tempdir().expect("issuer state");
    let _plugin = plugin_serve(&ca, plugin_state.path(), ca.http_port, &url, &[]);
    let names = ["edge-redis.example.test", "www.edge-redis.example.test"];
    let output = issue_via(
        &ca,
        issuer_state.path(),
        &names,
        &["--http-kv", "--storage", &url],
        &[],
    );
    check_issued_in_redis(&ca, &output, &names, &url);
    assert!(redis_keys(&url, "http01/*").is_empty(), "tokens cleaned up");
    assert!(
        std::fs::read_dir(issuer_state.path().join("certs")).is_err(),
        "the certificate is kept in Redis, not in the issuer's state dir"
    );
}

#[test]
fn the_plugin_answers_pebble_through_its_admin_api() {
    let ca = Pebble::start(&[]);
    let plugin_state = tempfile::tempdir().expect("plugin state");
    let issuer_state = tempfile::tempdir().expect("issuer state");
    // Spin's semantics, a fresh instance for every request (the others reuse instances).
    let _plugin = plugin_serve(
        &ca,
        plugin_state.path(),
        ca.http_port,
        "fs",
        &["--instance-reuse", "1"],
    );
    let edge = format!("http://127.0.0.1:{}", ca.http_port);
    let output = issue_via(
        &ca,
        issuer_state.path(),
        &["edge-admin.example.test"],
        &["--http-edge", &edge, "--edge-secret", SECRET],
        &[],
    );
    check_issued(&ca, &output, &["edge-admin.example.test"]);
    assert!(
        http01_files(plugin_state.path()).is_empty(),
        "tokens deleted"
    );

    let wrong = issue_via(
        &ca,
        issuer_state.path(),
        &["edge-wrong.example.test"],
        &["--http-edge", &edge, "--edge-secret", "not-the-secret"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    assert!(stderr.contains("--edge-secret"), "{stderr}");
}

#[test]
fn hostile_requests_get_the_right_status_and_leave_the_store_alone() {
    let ca = Pebble::start(&[]);
    let (_redis, url) = redis();
    let state = tempfile::tempdir().expect("state");
    let port = free_port();
    // One instance answers every request below in turn: none may leave a trace for the next.
    let _plugin = plugin_serve(&ca, state.path(), port, &url, &[]);
    let token = "tok_en-1";
    let thumbprint = "A".repeat(43);
    let good = format!("{token}.{thumbprint}");
    let path = format!("/.well-known/certsmith/http01/{token}");
    assert_eq!(
        call(port, "PUT", &path, Some(SECRET), &good).0,
        204,
        "the admin API stores a well-formed key authorization"
    );
    let challenge = format!("/.well-known/acme-challenge/{token}");
    assert_eq!(call(port, "GET", &challenge, None, ""), (200, good.clone()));
    let before = redis_keys(&url, "*");
    assert_eq!(before, [format!("http01/{token}")]);

    let long = format!("/.well-known/acme-challenge/{}", "a".repeat(129));
    let other = "/.well-known/certsmith/http01/other";
    let big = "x".repeat(4096);
    let cases: [(&str, &str, Option<&str>, &str, u16); 18] = [
        (
            "GET",
            "/.well-known/acme-challenge/../../etc/passwd",
            None,
            "",
            400,
        ),
        (
            "GET",
            "/.well-known/acme-challenge/%2e%2e%2fhttp01",
            None,
            "",
            400,
        ),
        ("GET", "/.well-known/acme-challenge/a%2fb", None, "", 400),
        ("GET", &long, None, "", 400),
        ("GET", "/.well-known/acme-challenge/tok*en", None, "", 400),
        (
            "GET",
            "/.well-known/acme-challenge/unknown-token",
            None,
            "",
            404,
        ),
        ("HEAD", &challenge, None, "", 200),
        ("POST", &challenge, None, "x", 405),
        ("DELETE", &challenge, None, "", 405),
        ("GET", "/", None, "", 404),
        ("GET", "/http01/tok_en-1", None, "", 404),
        ("PUT", other, None, &good, 401),
        ("PUT", other, Some("wrong"), &good, 401),
        ("DELETE", &path, Some("wrong"), "", 401),
        ("PUT", other, Some(SECRET), &big, 413),
        ("PUT", other, Some(SECRET), &good, 422),
        ("PUT", other, Some(SECRET), "other.short", 422),
        (
            "PUT",
            "/.well-known/certsmith/http01/../x",
            Some(SECRET),
            &good,
            400,
        ),
    ];
    for (method, target, bearer, body, want) in cases {
        let (status, answer) = call(port, method, target, bearer, body);
        assert_eq!(status, want, "{method} {target}: {answer}");
    }
    assert_eq!(redis_keys(&url, "*"), before, "the store is unchanged");
    assert_eq!(call(port, "GET", &challenge, None, ""), (200, good));
}

#[test]
fn a_trace_log_of_a_run_with_every_secret_shows_none_of_them() {
    let ca = Pebble::start_eab();
    let plugin_state = tempfile::tempdir().expect("plugin state");
    let state = tempfile::tempdir().expect("issuer state");
    let secrets = tempfile::tempdir().expect("secret files");
    let _plugin = plugin_serve(&ca, plugin_state.path(), ca.http_port, "fs", &[]);
    let hmac_file = secrets.path().join("eab-hmac");
    std::fs::write(&hmac_file, EAB_HMAC).expect("hmac file");
    let secret_file = secrets.path().join("edge-secret");
    std::fs::write(&secret_file, SECRET).expect("secret file");
    let edge = format!("http://127.0.0.1:{}", ca.http_port);
    let secret_path = secret_file.display().to_string();
    let output = issue_command(
        &ca,
        state.path(),
        &["secret.example.test"],
        &["--http-edge", &edge, "--edge-secret-file", &secret_path],
    )
    .args(["--eab-kid", "kid-1", "--eab-hmac-file"])
    .arg(&hmac_file)
    // Everything that sees requests, keys or secrets at its most verbose (the compiler's
    // own trace, cranelift's, would only make the run slow).
    .env(
        "RUST_LOG",
        "certsmith=trace,reqwest=trace,hyper=trace,hyper_util=trace,rustls=trace,h2=trace,wasmtime_wasi_http=trace",
    )
    .output()
    .expect("issue runs");
    let report = check_issued(&ca, &output, &["secret.example.test"]);
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        log.lines().count() > 100,
        "a trace log: {} lines",
        log.lines().count()
    );
    assert!(!log.contains(EAB_HMAC), "the EAB HMAC key is in the log");
    assert!(!log.contains(SECRET), "the edge secret is in the log");
    assert!(!log.contains("PRIVATE KEY"), "a private key is in the log");
    // Nor the base64 body of either private key, in any line.
    let account_dir = state.path().join("accounts").join(ca_dir(&ca));
    let account_key = std::fs::read_dir(&account_dir)
        .expect("accounts")
        .flatten()
        .map(|entry| entry.path().join("key.pem"))
        .find(|path| path.exists())
        .expect("the account key");
    let certificate_key = std::path::PathBuf::from(report["key"].as_str().expect("key path"));
    for key in [account_key, certificate_key] {
        let pem = std::fs::read_to_string(&key).expect("key");
        for line in pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 20)
        {
            assert!(!log.contains(line), "{} is in the log", key.display());
        }
    }
}

/// Builds the misbehaving test component (`plugin-spin/examples/misbehaving.rs`).
fn misbehaving_component() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target/plugin-spin");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root.join("plugin-spin"))
        .args(["build", "--release", "--locked", "--example", "misbehaving"])
        .args(["--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    run(&mut build);
    target.join("wasm32-wasip2/release/examples/misbehaving.wasm")
}

/// A GET of `path` on `port`: the status and how long the answer took.
fn timed_get(port: u16, path: &str) -> (String, std::time::Duration) {
    let started = std::time::Instant::now();
    let out = run(Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "30",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(format!("http://127.0.0.1:{port}{path}")));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn a_plugin_that_loops_or_calls_out_is_stopped_and_idle_connections_do_not_starve_it() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let component = misbehaving_component();
    let port = free_port();
    let component_flag = component.display().to_string();
    let _plugin = plugin_serve(
        &ca,
        state.path(),
        port,
        "fs",
        &["--component", &component_flag],
    );

    // A thousand connections that never send a request do not keep others out.
    let idle: Vec<std::net::TcpStream> = (0..1000)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    let (status, took) = timed_get(port, "/nothing");
    assert_eq!(status, "404");
    assert!(took < std::time::Duration::from_millis(100), "{took:?}");
    drop(idle);

    // Guest code that never returns is stopped at the deadline: a 500, not a hung request.
    let (status, took) = timed_get(port, "/loop");
    assert_eq!(status, "500");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    // And the server still answers.
    assert_eq!(timed_get(port, "/nothing").0, "404");

    // A plugin has no network: its outgoing request to a listening server is refused by
    // the host, and the server never sees a connection.
    let target = std::net::TcpListener::bind("127.0.0.1:0").expect("a server to call");
    target.set_nonblocking(true).expect("nonblocking");
    let target_port = target.local_addr().expect("address").port();
    let out = run(Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!(
            "http://127.0.0.1:{port}/outbound?port={target_port}"
        )));
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("HttpRequestDenied"), "{body}");
    assert!(target.accept().is_err(), "the plugin reached the server");
}
