//! End to end against Pebble for the other solvers and what comes after issuance:
//! TLS-ALPN-01, DNS-01 through a hook (a normal name and a wildcard, published in
//! pebble-challtestsrv's DNS), the deploy hook, a process killed with SIGKILL mid-order and
//! resumed, and `inspect --host` against a live TLS server.

// Test helpers: a panic with a message is how they report a broken expectation.
#![allow(clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod pebble;

use pebble::*;

#[test]
fn tls_alpn01_then_the_deploy_hook_sees_the_stored_files() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let out_dir = tempfile::tempdir().expect("hook output");
    let seen = out_dir.path().join("deployed");
    let hook = format!(
        "printf '%s\\n' \"$CERTSMITH_FULLCHAIN_PATH\" \"$CERTSMITH_KEY_PATH\" \"$CERTSMITH_DOMAINS\" \"$RENEWED_LINEAGE\" > '{}'",
        seen.display()
    );
    let tls = format!("127.0.0.1:{}", ca.tls_port);
    let names = ["alpn.example.test", "www.alpn.example.test"];
    let output = issue_via(
        &ca,
        state.path(),
        &names,
        &["--tls-alpn", &tls],
        &["--deploy-hook", &hook],
    );
    let report = check_issued(&ca, &output, &names);
    let lines: Vec<String> = std::fs::read_to_string(&seen)
        .expect("the deploy hook ran")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines[0], report["fullchain"].as_str().expect("fullchain"));
    assert_eq!(lines[1], report["key"].as_str().expect("key"));
    assert_eq!(lines[2], names.join(" "));
    assert!(Path::new(&lines[3]).join("cert.pem").is_file());

    // A deploy hook that fails is reported, and the certificate stays stored.
    let failed = issue_via(
        &ca,
        state.path(),
        &["hookfail.example.test"],
        &["--tls-alpn", &tls],
        &["--deploy-hook", "echo 'nginx: reload refused' >&2; exit 4"],
    );
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("deploy hook failed"), "{stderr}");
    assert!(stderr.contains("nginx: reload refused"), "{stderr}");
    assert!(
        state
            .path()
            .join("certs")
            .join(ca_dir(&ca))
            .join("hookfail.example.test/fullchain.pem")
            .is_file(),
        "stored before the hook ran"
    );
}

#[test]
fn dns01_through_a_hook_for_a_name_and_its_wildcard() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let hooks = tempfile::tempdir().expect("hook dir");
    let hook = dns_hook(&ca, hooks.path(), "");
    let flags = dns_flags(&ca, &hook);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let names = ["dns.example.test", "*.dns.example.test"];
    let output = issue_via(&ca, state.path(), &names, &flags, &[]);
    check_issued(&ca, &output, &names);
    let log = calls(hooks.path());
    let presents = log.iter().filter(|l| l.starts_with("present ")).count();
    let cleanups = log.iter().filter(|l| l.starts_with("cleanup ")).count();
    assert_eq!((presents, cleanups), (2, 2), "{log:?}");
    assert!(
        log.iter()
            .all(|l| l.split(' ').nth(1) == Some("_acme-challenge.dns.example.test.")),
        "both records at the base name, fully qualified: {log:?}"
    );
}

#[test]
fn dns_hook_failures_are_one_clear_line_and_keep_the_order() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let hooks = tempfile::tempdir().expect("hook dir");

    let failing = dns_hook(
        &ca,
        hooks.path(),
        "echo 'zone example.test not found' >&2; exit 2",
    );
    let flags = dns_flags(&ca, &failing);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let output = issue_via(&ca, state.path(), &["hook.example.test"], &flags, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("zone example.test not found"), "{stderr}");
    assert!(stderr.contains("resume"), "{stderr}");

    // A hook that says it published, but the record never shows: the wait is bounded and
    // says where it looked.
    let silent = hooks.path().join("silent.sh");
    std::fs::write(&silent, "#!/bin/sh\nexit 0\n").expect("script");
    std::fs::set_permissions(&silent, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut flags = dns_flags(&ca, &silent);
    flags.extend(["--dns-timeout".to_owned(), "2".to_owned()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let started = Instant::now();
    let output = issue_via(&ca, state.path(), &["hook.example.test"], &flags, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("_acme-challenge.hook.example.test."),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("127.0.0.1:{}", ca.dns_port)),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));

    // The order survived both: a working hook finishes it.
    let working = dns_hook(&ca, hooks.path(), "");
    let flags = dns_flags(&ca, &working);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let output = issue_via(&ca, state.path(), &["hook.example.test"], &flags, &[]);
    check_issued(&ca, &output, &["hook.example.test"]);
}

#[test]
fn a_run_killed_mid_order_is_resumed_by_the_next_run() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let hooks = tempfile::tempdir().expect("hook dir");
    let marker = hooks.path().join("presenting");
    // The first run's hook announces itself and hangs, so the kill lands while the order is
    // saved and its challenge not yet answered.
    let hanging = dns_hook(
        &ca,
        hooks.path(),
        &format!("echo $$ > '{}'; sleep 60", marker.display()),
    );
    let flags = dns_flags(&ca, &hanging);
    let mut first = issue_command(&ca, state.path(), &["killed.example.test"], &flags);
    first.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = first.spawn().expect("certsmith starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the hook never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let hook_pid = std::fs::read_to_string(&marker).expect("pid");
    let _ = Command::new("kill").arg(hook_pid.trim()).status();

    let snapshot = state
        .path()
        .join("orders")
        .join(ca_dir(&ca))
        .join("killed.example.test.json");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&snapshot).expect("the order was saved"))
            .expect("snapshot JSON");

    let working = dns_hook(&ca, hooks.path(), "");
    let flags = dns_flags(&ca, &working);
    let mut second = issue_command(&ca, state.path(), &["killed.example.test"], &flags);
    second.env("RUST_LOG", "certsmith=debug");
    let output = second.output().expect("runs");
    let report = check_issued(&ca, &output, &["killed.example.test"]);
    assert_eq!(report["orderUrl"], saved["orderUrl"], "the same order");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains(&ca.endpoint("newOrder")),
        "no second newOrder"
    );
}

#[test]
fn a_zone_failing_fast_beside_a_slow_one_reports_the_real_cause_and_cleans_up_both() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let hooks = tempfile::tempdir().expect("hook dir");
    let hook = dns_hook(
        &ca,
        hooks.path(),
        r#"case "$2" in _acme-challenge.broken.*) echo 'zone broken.example.test: no such zone' >&2; exit 1;; esac; sleep 2"#,
    );
    let flags = dns_flags(&ca, &hook);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let output = issue_via(
        &ca,
        state.path(),
        &["broken.example.test", "slow.example.test"],
        &flags,
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("no such zone"), "the real cause: {stderr}");
    assert!(!stderr.contains("not a running operation"), "{stderr}");
    // The slow zone's record was published after the order had failed, and removed.
    let log = calls(hooks.path());
    let slow = |verb: &str| {
        log.iter()
            .any(|l| l.starts_with(verb) && l.contains("_acme-challenge.slow.example.test."))
    };
    assert!(slow("present ") && slow("cleanup "), "{log:?}");
    let last_present = log
        .iter()
        .rposition(|l| l.starts_with("present "))
        .expect("a present");
    let last_cleanup = log
        .iter()
        .rposition(|l| l.starts_with("cleanup "))
        .expect("a cleanup");
    assert!(
        last_cleanup > last_present,
        "a cleanup follows the slow present: {log:?}"
    );
}

#[test]
fn ctrl_c_removes_the_published_record_and_keeps_the_order() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    let hooks = tempfile::tempdir().expect("hook dir");
    let hook = dns_hook(&ca, hooks.path(), "");
    // The record is published, but the propagation check asks a resolver that never
    // answers: the run waits, with the record out there, until it is interrupted.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("a silent resolver");
    let resolver = silent.local_addr().expect("address").to_string();
    let flags = [
        "--dns-hook",
        &hook.display().to_string(),
        "--dns-resolver",
        &resolver,
        "--dns-timeout",
        "120",
    ]
    .map(str::to_owned);
    let mut command = issue_command(&ca, state.path(), &["interrupted.example.test"], &flags);
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let child = command.spawn().expect("certsmith starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !calls(hooks.path())
        .iter()
        .any(|l| l.starts_with("present "))
    {
        assert!(Instant::now() < deadline, "the hook never published");
        std::thread::sleep(Duration::from_millis(50));
    }
    let interrupted = Instant::now();
    run(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let output = child.wait_with_output().expect("exits");
    assert!(
        interrupted.elapsed() < Duration::from_secs(10),
        "{:?}",
        interrupted.elapsed()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: 1 published challenge(s) removed"),
        "{stderr}"
    );
    let log = calls(hooks.path());
    assert!(log.iter().any(|l| l.starts_with("cleanup ")), "{log:?}");
    let snapshot = state
        .path()
        .join("orders")
        .join(ca_dir(&ca))
        .join("interrupted.example.test.json");
    assert!(snapshot.exists(), "the order is kept for the next run");
}

#[test]
fn inspect_host_shows_the_served_chain_and_whether_it_is_trusted() {
    let ca = Pebble::start(&[]);
    let state = tempfile::tempdir().expect("state");
    // An IP identifier (RFC 8738), so the TLS server below is reachable by its name.
    let report = check_issued(
        &ca,
        &issue(&ca, state.path(), &["127.0.0.1"], &[]),
        &["127.0.0.1"],
    );
    let port = free_port();
    let mut server = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept", &port.to_string()])
        .arg("-cert")
        .arg(report["cert"].as_str().expect("cert"))
        .arg("-cert_chain")
        .arg(report["chain"].as_str().expect("chain"))
        .arg("-key")
        .arg(report["key"].as_str().expect("key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    ca.wait_for(port);
    let target = format!("127.0.0.1:{port}");
    let inspect = |extra: &[&Path]| {
        let mut command = certsmith(state.path());
        command.args(["--json", "inspect", "--host", &target]);
        for root in extra {
            command.arg("--ca-cert").arg(root);
        }
        let out = run(&mut command);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let trusted = inspect(&[&ca.issuing_root()]);
    let untrusted = inspect(&[]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(trusted["trusted"], true, "{trusted}");
    assert_eq!(trusted["certificates"][0]["serial"], report["serial"]);
    assert_eq!(trusted["certificates"][0]["names"][0], "127.0.0.1");
    assert!(
        trusted["certificates"].as_array().expect("chain").len() >= 2,
        "leaf and intermediate"
    );
    assert_eq!(untrusted["trusted"], false, "{untrusted}");
    assert!(
        untrusted["trustError"]
            .as_str()
            .is_some_and(|e| e.contains("UnknownIssuer")),
        "{untrusted}"
    );
}
