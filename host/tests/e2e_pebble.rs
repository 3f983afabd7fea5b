//! End to end against a real CA: Pebble and pebble-challtestsrv (Debian package `pebble`)
//! on loopback, the `certsmith` binary issuing real certificates, verified with openssl
//! against Pebble's issuing root.

// Test helpers: a panic with a message is how they report a broken expectation.
#![allow(clippy::expect_used)]

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod pebble;

use pebble::*;

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
    let http = format!("127.0.0.1:{}", ca.http_port);
    let logged_issue = |state: &Path| {
        issue_command(&ca, state, &["reuse.example.test"], &["--http", &http])
            .env("RUST_LOG", "certsmith=debug")
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

#[test]
fn twenty_issuances_from_a_strict_ca_rejecting_half_the_nonces_all_succeed() {
    let ca = Pebble::start_strict(&[("PEBBLE_WFE_NONCEREJECT", "50")]);
    let state = tempfile::tempdir().expect("state");
    for i in 0..20 {
        let name = format!("nonce{i}.example.test");
        check_issued(&ca, &issue(&ca, state.path(), &[&name], &[]), &[&name]);
    }
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
    let webroot_dir = webroot.path().display().to_string();
    let output = issue_via(
        &ca,
        state.path(),
        &["webroot.example.test"],
        &["--webroot", &webroot_dir],
        &[],
    );
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
        issue_command(&ca, state.path(), &["resume.example.test"], solver)
            .env("RUST_LOG", "certsmith=debug")
            .output()
            .expect("runs")
    };
    // The first run stops after its order was created and saved: its webroot cannot take
    // the challenge file (a regular file stands where the directory must go), so the
    // challenge is never answered and the order stays usable.
    let webroot = tempfile::tempdir().expect("webroot");
    std::fs::write(webroot.path().join(".well-known"), "in the way").expect("blocker");
    let first = issue_command(&["--webroot", &webroot.path().display().to_string()]);
    assert_eq!(
        first.status.code(),
        Some(6),
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
