//! End to end against a real CA: Pebble and pebble-challtestsrv (Debian package `pebble`)
//! on loopback, the `certsmith` binary issuing real certificates, verified with openssl
//! against Pebble's issuing root.

// Test helpers: a panic with a message is how they report a broken expectation.
#![allow(clippy::expect_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The EAB HMAC key of Pebble's example EAB configuration (base64url).
const EAB_HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs a command that must succeed.
fn run(command: &mut Command) -> Output {
    let output = command.output().expect("command starts");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Pebble and challtestsrv on free loopback ports; both are killed on drop.
struct Pebble {
    dir: tempfile::TempDir,
    children: Vec<Child>,
    directory: String,
    management: u16,
    http_port: u16,
}

impl Pebble {
    /// Starts a fresh CA (no state, new roots) with `env` for Pebble.
    fn start(env: &[(&str, &str)]) -> Self {
        Self::start_with(env, r#""externalAccountBindingRequired": false"#)
    }

    /// Starts a CA that requires external account binding with key `kid-1`.
    fn start_eab() -> Self {
        Self::start_with(
            &[],
            &format!(
                r#""externalAccountBindingRequired": true, "externalAccountMACKeys": {{"kid-1": "{EAB_HMAC}"}}"#
            ),
        )
    }

    /// Starts a fresh CA with extra Pebble config members.
    fn start_with(env: &[(&str, &str)], extra_config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let (listen, management, http_port, dns, dns_mgmt) = (
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        );
        let openssl = |args: &[&str]| run(Command::new("openssl").current_dir(d).args(args));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=test TLS root",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "localhost.key",
            "-out",
            "localhost.csr",
        ]);
        std::fs::write(
            d.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .expect("ext");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "localhost.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "localhost.pem",
        ]);
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{listen}", "managementListenAddress": "127.0.0.1:{management}",
            "certificate": "{0}/localhost.pem", "privateKey": "{0}/localhost.key", "httpPort": {http_port},
            "tlsPort": {tls}, "ocspResponderURL": "", {extra_config}}}}}"#,
            d.display(),
            tls = free_port(),
        );
        std::fs::write(d.join("pebble.json"), config).expect("config");
        let log = |name: &str| std::fs::File::create(d.join(name)).expect("log");
        let challtestsrv = Command::new("pebble-challtestsrv")
            .args([
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
            ])
            .args([
                "-dns01",
                &format!("127.0.0.1:{dns}"),
                "-management",
                &format!("127.0.0.1:{dns_mgmt}"),
            ])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (Debian package pebble) starts");
        let mut command = Command::new("pebble");
        command
            .args(["-config", &d.join("pebble.json").display().to_string()])
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        let pebble = command.spawn().expect("pebble starts");
        let ca = Self {
            dir,
            children: vec![challtestsrv, pebble],
            directory: format!("https://localhost:{listen}/dir"),
            management,
            http_port,
        };
        ca.wait_for(listen);
        ca.wait_for(management);
        ca
    }

    /// Waits (at most 10 s) until a port accepts connections.
    fn wait_for(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Pebble did not listen on {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The URL of a directory endpoint (`newAccount`, `newOrder`, …): Pebble's paths are
    /// deliberately odd, never guessed.
    fn endpoint(&self, name: &str) -> String {
        let out = run(Command::new("curl")
            .args(["-fsS", "--cacert"])
            .arg(self.tls_root())
            .arg(&self.directory));
        let directory: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("directory JSON");
        directory[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in the directory"))
            .to_owned()
    }

    /// The root that signs Pebble's own HTTPS listeners.
    fn tls_root(&self) -> PathBuf {
        self.dir.path().join("root.pem")
    }

    /// Pebble's issuing root, from its management API.
    fn issuing_root(&self) -> PathBuf {
        let path = self.dir.path().join("issuing-root.pem");
        let out = run(Command::new("curl")
            .args(["-fsS", "--cacert"])
            .arg(self.tls_root())
            .arg(format!("https://localhost:{}/roots/0", self.management)));
        std::fs::write(&path, out.stdout).expect("write root");
        path
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The certsmith binary with a state dir.
fn certsmith(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_certsmith"));
    command.arg("--state-dir").arg(state).env_remove("RUST_LOG");
    command
}

/// `certsmith issue` against `ca` answering HTTP-01 on Pebble's validation port.
fn issue(ca: &Pebble, state: &Path, names: &[&str], extra: &[&str]) -> Output {
    let mut command = certsmith(state);
    command.args([
        "--json",
        "issue",
        "--server",
        &ca.directory,
        "--accept-tos",
        "--email",
        "admin@example.test",
    ]);
    command.arg("--ca-cert").arg(ca.tls_root());
    command.args(["--http", &format!("127.0.0.1:{}", ca.http_port)]);
    for name in names {
        command.args(["-d", name]);
    }
    command.args(extra).output().expect("certsmith runs")
}

/// Checks the stored certificate: verifies against Pebble's root, names `names`, key 0600.
fn check_issued(ca: &Pebble, output: &Output, names: &[&str]) -> serde_json::Value {
    assert!(
        output.status.success(),
        "issue failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let path = |k: &str| PathBuf::from(report[k].as_str().expect(k));
    let verify = run(Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca.issuing_root())
        .arg("-untrusted")
        .arg(path("chain"))
        .arg(path("cert")));
    assert!(String::from_utf8_lossy(&verify.stdout).contains(": OK"));
    let inspect = run(certsmith(Path::new("/nonexistent"))
        .args(["--json", "inspect"])
        .arg(path("fullchain")));
    let certs: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("inspect JSON");
    let mut got: Vec<&str> = certs[0]["names"]
        .as_array()
        .expect("names")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    let mut want = names.to_vec();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let mode = std::fs::metadata(path("key"))
        .expect("key")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "certificate key must be 0600");
    report
}

#[test]
fn issues_one_name_and_three_names_over_http01() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    check_issued(
        &ca,
        &issue(&ca, state.path(), &["one.example.test"], &[]),
        &["one.example.test"],
    );
    let three = ["a.example.test", "b.example.test", "c.example.test"];
    check_issued(&ca, &issue(&ca, state.path(), &three, &[]), &three);
}

#[test]
fn the_account_is_reused_across_runs() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let new_account = ca.endpoint("newAccount");
    let logged_issue = |state: &Path| {
        let mut command = certsmith(state);
        command.env("RUST_LOG", "certsmith=debug");
        command.args([
            "--json",
            "issue",
            "--server",
            &ca.directory,
            "--accept-tos",
            "--email",
            "admin@example.test",
        ]);
        command
            .arg("--ca-cert")
            .arg(ca.tls_root())
            .args(["--http", &format!("127.0.0.1:{}", ca.http_port)]);
        command
            .args(["-d", "reuse.example.test"])
            .output()
            .expect("runs")
    };
    let first = logged_issue(state.path());
    check_issued(&ca, &first, &["reuse.example.test"]);
    assert!(
        String::from_utf8_lossy(&first.stderr).contains(&new_account),
        "the first run registers"
    );
    let account_file = state
        .path()
        .join("accounts")
        .join(ca_dir(&ca))
        .join("admin-example.test/account.json");
    let before = std::fs::read_to_string(&account_file).expect("account.json");
    let second = logged_issue(state.path());
    check_issued(&ca, &second, &["reuse.example.test"]);
    assert!(
        !String::from_utf8_lossy(&second.stderr).contains(&new_account),
        "no newAccount the second time"
    );
    assert_eq!(
        std::fs::read_to_string(&account_file).expect("account.json"),
        before
    );
}

/// The CA's directory name in the state dir.
fn ca_dir(ca: &Pebble) -> String {
    ca.directory
        .trim_start_matches("https://")
        .replace([':', '/'], "-")
}

#[test]
fn many_bad_nonces_are_survived() {
    let ca = Pebble::start(&[("PEBBLE_WFE_NONCEREJECT", "50")]);
    let state = tempfile::tempdir().expect("state");
    check_issued(
        &ca,
        &issue(&ca, state.path(), &["nonce.example.test"], &[]),
        &["nonce.example.test"],
    );
}

#[test]
fn webroot_through_an_existing_web_server() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let webroot = tempfile::tempdir().expect("webroot");
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &ca.http_port.to_string(),
            "--directory",
        ])
        .arg(webroot.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 http.server");
    ca.wait_for(ca.http_port);
    let mut command = certsmith(state.path());
    command.args([
        "--json",
        "issue",
        "--server",
        &ca.directory,
        "--accept-tos",
        "-d",
        "webroot.example.test",
    ]);
    command
        .arg("--ca-cert")
        .arg(ca.tls_root())
        .arg("--webroot")
        .arg(webroot.path());
    let output = command.output().expect("runs");
    let _ = server.kill();
    let _ = server.wait();
    check_issued(&ca, &output, &["webroot.example.test"]);
    let left = std::fs::read_dir(webroot.path().join(".well-known/acme-challenge"))
        .expect("dir")
        .count();
    assert_eq!(left, 0, "challenge files removed");
}

/// Runs certsmith with `args` (after `issue`) and returns the exit code and stderr.
fn failing(state: &Path, args: &[&str]) -> (i32, String) {
    let output = certsmith(state)
        .arg("issue")
        .args(args)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    (output.status.code().expect("exit code"), stderr)
}

#[test]
fn bad_input_gets_one_clear_line_and_a_documented_exit_code() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let root = ca.tls_root().display().to_string();
    let http = format!("127.0.0.1:{}", ca.http_port);
    let base = [
        "--server",
        &ca.directory,
        "--ca-cert",
        &root,
        "--accept-tos",
        "--http",
        &http,
    ];

    let (code, err) = failing(
        state.path(),
        &[&base[..], &["-d", "bad name.example"]].concat(),
    );
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("bad name.example"), "{err}");

    let (code, err) = failing(
        state.path(),
        &[
            "--server",
            &ca.directory,
            "--accept-tos",
            "--http",
            &http,
            "-d",
            "x.example.test",
        ],
    );
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("--ca-cert"), "untrusted CA: {err}");

    let dead = format!("https://127.0.0.1:{}/dir", free_port());
    let (code, err) = failing(
        state.path(),
        &[
            "--server",
            &dead,
            "--ca-cert",
            &root,
            "--accept-tos",
            "--http",
            &http,
            "-d",
            "x.example.test",
        ],
    );
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("cannot reach"), "{err}");

    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy_addr = busy.local_addr().expect("addr").to_string();
    let (code, err) = failing(
        state.path(),
        &[
            "--server",
            &ca.directory,
            "--ca-cert",
            &root,
            "--accept-tos",
            "--http",
            &busy_addr,
            "-d",
            "x.example.test",
        ],
    );
    assert_eq!(code, 6, "{err}");
    assert!(
        err.to_lowercase().contains("address already in use"),
        "{err}"
    );

    let file = state.path().join("a-file");
    std::fs::write(&file, "x").expect("file");
    let output = certsmith(&file.join("state"))
        .arg("issue")
        .args(base)
        .args(["-d", "x.example.test"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--state-dir"));

    let fresh = tempfile::tempdir().expect("state");
    let (code, err) = failing(
        fresh.path(),
        &[
            "--server",
            &ca.directory,
            "--ca-cert",
            &root,
            "--http",
            &http,
            "-d",
            "x.example.test",
        ],
    );
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("--accept-tos"), "{err}");
    let registered = state
        .path()
        .join("accounts")
        .join(ca_dir(&ca))
        .join("default/account.json");
    assert!(
        !registered.exists(),
        "no account was registered by the refused runs"
    );
}

#[test]
fn an_interrupted_order_is_resumed_not_recreated() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let new_order = ca.endpoint("newOrder");
    let issue_command = |solver: &[&str]| {
        let mut command = certsmith(state.path());
        command.env("RUST_LOG", "certsmith=debug");
        command.args([
            "--json",
            "issue",
            "--server",
            &ca.directory,
            "--accept-tos",
            "-d",
            "resume.example.test",
        ]);
        command.arg("--ca-cert").arg(ca.tls_root()).args(solver);
        command.output().expect("runs")
    };
    // The first run stops after its order was created and saved: its webroot cannot take
    // the challenge file (a regular file stands where the directory must go), so the
    // challenge is never answered and the order stays usable.
    let webroot = tempfile::tempdir().expect("webroot");
    std::fs::write(webroot.path().join(".well-known"), "in the way").expect("blocker");
    let first = issue_command(&["--webroot", &webroot.path().display().to_string()]);
    assert_eq!(
        first.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    let snapshot = state
        .path()
        .join("orders")
        .join(ca_dir(&ca))
        .join("resume.example.test.json");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&snapshot).expect("snapshot kept"))
            .expect("snapshot JSON");
    let mode = std::fs::metadata(&snapshot)
        .expect("snapshot")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the snapshot holds the certificate key");

    let second = issue_command(&["--http", &format!("127.0.0.1:{}", ca.http_port)]);
    let report = check_issued(&ca, &second, &["resume.example.test"]);
    assert_eq!(
        report["orderUrl"], saved["orderUrl"],
        "the same order was finished"
    );
    assert!(
        !String::from_utf8_lossy(&second.stderr).contains(&new_order),
        "no second newOrder"
    );
    assert!(
        !snapshot.exists(),
        "the snapshot is gone once the certificate is stored"
    );
}

impl Pebble {
    /// Pebble's view of a certificate's status (management API), by serial (hex).
    fn certificate_status(&self, serial: &str) -> String {
        let out = run(Command::new("curl")
            .args(["-fsS", "--cacert"])
            .arg(self.tls_root())
            .arg(format!(
                "https://localhost:{}/cert-status-by-serial/{serial}",
                self.management
            )));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    run(Command::new("cp").arg("-a").arg(from).arg(to));
}

#[test]
fn revoke_by_account_and_by_certificate_key_then_list() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let one = check_issued(
        &ca,
        &issue(&ca, state.path(), &["revoke1.example.test"], &[]),
        &["revoke1.example.test"],
    );
    let two = check_issued(
        &ca,
        &issue(&ca, state.path(), &["revoke2.example.test"], &[]),
        &["revoke2.example.test"],
    );

    let listed = run(certsmith(state.path()).args(["--json", "list"]));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("list JSON");
    let names: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["revoke1.example.test", "revoke2.example.test"]);
    assert!(listed[0]["daysLeft"].as_i64().expect("days") > 300);

    let revoke = |state: &Path, name: &str, extra: &[&str]| {
        let mut command = certsmith(state);
        command.args(["--json", "revoke", "--server", &ca.directory, "-d", name]);
        command.arg("--ca-cert").arg(ca.tls_root()).args(extra);
        command.output().expect("runs")
    };
    let serial = |report: &serde_json::Value| report["serial"].as_str().expect("serial").to_owned();

    // By the account that ordered it.
    let out = revoke(
        state.path(),
        "revoke1.example.test",
        &["--email", "admin@example.test", "--reason", "keyCompromise"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = ca.certificate_status(&serial(&one));
    assert!(
        status.to_lowercase().contains("revoked"),
        "Pebble says: {status}"
    );

    // By the certificate's own key, from a state dir that has the certificate but not the account.
    let other = tempfile::tempdir().expect("state");
    copy_tree(&state.path().join("certs"), other.path());
    let out = revoke(
        other.path(),
        "revoke2.example.test",
        &["--reason", "superseded"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = ca.certificate_status(&serial(&two));
    assert!(
        status.to_lowercase().contains("revoked"),
        "Pebble says: {status}"
    );

    // Revoking again is the CA's clear refusal.
    let out = revoke(
        state.path(),
        "revoke1.example.test",
        &["--email", "admin@example.test"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("alreadyRevoked"));
}

#[test]
fn external_account_binding_against_pebble() {
    let ca = Pebble::start_eab();
    let state = tempfile::tempdir().expect("state");
    let without = issue(&ca, state.path(), &["eab.example.test"], &[]);
    assert_eq!(
        without.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    assert!(String::from_utf8_lossy(&without.stderr).contains("external account binding"));
    let with = issue(
        &ca,
        state.path(),
        &["eab.example.test"],
        &["--eab-kid", "kid-1", "--eab-hmac", EAB_HMAC],
    );
    check_issued(&ca, &with, &["eab.example.test"]);
    let wrong = tempfile::tempdir().expect("state");
    let bad_key = issue(
        &ca,
        wrong.path(),
        &["eab.example.test"],
        &["--eab-kid", "kid-1", "--eab-hmac", "c2VjcmV0"],
    );
    assert_eq!(
        bad_key.status.code(),
        Some(3),
        "the CA refuses a wrong key: {}",
        String::from_utf8_lossy(&bad_key.stderr)
    );
}

#[test]
fn account_show_update_rollover_then_deactivate() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    check_issued(
        &ca,
        &issue(&ca, state.path(), &["acct.example.test"], &[]),
        &["acct.example.test"],
    );
    let account = |args: &[&str]| {
        let mut command = certsmith(state.path());
        command.args(["--json", "account"]).args(args);
        command
            .args(["--server", &ca.directory, "--email", "admin@example.test"])
            .arg("--ca-cert")
            .arg(ca.tls_root());
        command.output().expect("runs")
    };
    let json = |out: &Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let shown = json(&account(&["show"]));
    assert_eq!(shown["status"], "valid");
    assert_eq!(shown["contact"][0], "mailto:admin@example.test");
    let updated = json(&account(&["update", "--contact", "ops@example.test"]));
    assert_eq!(updated["contact"][0], "mailto:ops@example.test");

    let key_file = state
        .path()
        .join("accounts")
        .join(ca_dir(&ca))
        .join("admin-example.test/key.pem");
    let old_key = std::fs::read(&key_file).expect("key");
    json(&account(&["rollover"]));
    assert_ne!(
        std::fs::read(&key_file).expect("key"),
        old_key,
        "the new key is stored"
    );
    assert!(!key_file.with_extension("pem.next").exists());
    // The CA verifies the next order with the new key.
    check_issued(
        &ca,
        &issue(&ca, state.path(), &["after-rollover.example.test"], &[]),
        &["after-rollover.example.test"],
    );

    assert_eq!(json(&account(&["deactivate"]))["status"], "deactivated");
    let refused = issue(&ca, state.path(), &["after-deactivate.example.test"], &[]);
    assert_eq!(
        refused.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let err = String::from_utf8_lossy(&refused.stderr).to_lowercase();
    assert!(
        err.contains("unauthorized") || err.contains("deactivated"),
        "{err}"
    );
}

#[test]
fn renew_only_when_due_unless_forced() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let names = ["renew.example.test", "www.renew.example.test"];
    let first = check_issued(&ca, &issue(&ca, state.path(), &names, &[]), &names);
    let renew = |extra: &[&str]| {
        let mut command = certsmith(state.path());
        command.args([
            "--json",
            "renew",
            "--server",
            &ca.directory,
            "--email",
            "admin@example.test",
        ]);
        command
            .arg("--ca-cert")
            .arg(ca.tls_root())
            .args(["--http", &format!("127.0.0.1:{}", ca.http_port)]);
        command.args(extra).output().expect("runs")
    };
    // Pebble's certificates last five years: not due.
    let skipped = renew(&["-d", "renew.example.test"]);
    assert!(
        skipped.status.success(),
        "{}",
        String::from_utf8_lossy(&skipped.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&skipped.stdout).expect("JSON");
    assert_eq!(report["renewed"], false);
    let cert = state
        .path()
        .join("certs")
        .join(ca_dir(&ca))
        .join("renew.example.test/cert.pem");
    let serial_of = || {
        let out = run(certsmith(state.path())
            .args(["--json", "inspect"])
            .arg(&cert));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v[0]["serial"].as_str().expect("serial").to_owned()
    };
    assert_eq!(serial_of(), first["serial"].as_str().expect("serial"));

    let forced = renew(&["--all", "--force"]);
    let report = check_issued(&ca, &forced, &names);
    assert_ne!(report["serial"], first["serial"], "a new certificate");
    assert_eq!(
        serial_of(),
        report["serial"].as_str().expect("serial"),
        "stored in the same place"
    );
}
