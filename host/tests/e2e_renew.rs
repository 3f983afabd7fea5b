//! End to end for renewal against Pebble: `renew --all` from cron with no flags repeats how
//! each certificate was obtained (solver, key type, deploy hook, account, CA roots), and a
//! CA that offers ARI (Pebble behind a proxy that adds it) decides when a certificate is
//! due, is asked no more often than its `Retry-After` allows, and hears which certificate a
//! renewal replaces.

// Test helpers: a panic with a message is how they report a broken expectation.
#![allow(clippy::expect_used)]

use std::path::Path;
use std::process::Output;

mod pebble;

use pebble::ca_proxy::{AriScript, CaProxy, ari_id, issue_at, replaces};
use pebble::*;

/// `certsmith --json renew --all ARGS…` on `state`, with nothing else on the command line.
fn renew_all(state: &Path, args: &[&str]) -> Output {
    certsmith(state)
        .args(["--json", "renew", "--all"])
        .args(args)
        .output()
        .expect("renew runs")
}

/// The JSON lines `renew` printed.
fn lines(output: &Output) -> Vec<serde_json::Value> {
    assert!(
        output.status.success(),
        "renew failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// What `inspect` says about a stored lineage's leaf.
fn leaf(state: &Path, ca_dir: &str, name: &str) -> serde_json::Value {
    let fullchain = state
        .join("certs")
        .join(ca_dir)
        .join(name)
        .join("fullchain.pem");
    let out = run(certsmith(Path::new("/nonexistent"))
        .args(["--json", "inspect"])
        .arg(fullchain));
    let certs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
    certs[0].clone()
}

#[test]
fn renew_all_with_no_flags_renews_as_issued_with_its_hook_key_type_and_deploy_hook() {
    // No authorization reuse (Pebble reuses half by default): every order asks the hook.
    let ca = Pebble::start(&[("PEBBLE_AUTHZREUSE", "0")]);
    let state = tempfile::tempdir().expect("state");
    let hooks = tempfile::tempdir().expect("hooks");
    let hook = dns_hook(&ca, hooks.path(), "");
    let deployed = hooks.path().join("deployed.log");
    let deploy = format!("echo \"$CERTSMITH_DOMAINS\" >> '{}'", deployed.display());
    let name = "remember.example.test";
    let mut flags = dns_flags(&ca, &hook);
    flags.extend(["--key-type", "p384", "--deploy-hook", &deploy].map(str::to_owned));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let first = check_issued(
        &ca,
        &issue_via(&ca, state.path(), &[name], &flags, &[]),
        &[name],
    );

    // What cron runs: no CA, no roots, no account, no solver, no hooks on the line.
    let renewed = lines(&renew_all(state.path(), &["--force"]));
    assert_eq!(renewed.len(), 1, "{renewed:?}");
    assert_ne!(renewed[0]["serial"], first["serial"], "a new certificate");
    let presents = calls(hooks.path())
        .iter()
        .filter(|l| l.starts_with("present "))
        .count();
    assert_eq!(presents, 2, "the DNS hook answered both orders");
    let deploys = std::fs::read_to_string(&deployed).expect("deploy log");
    assert_eq!(deploys.lines().count(), 2, "the deploy hook ran twice");
    let leaf = leaf(state.path(), &ca_dir(&ca), name);
    assert_eq!(leaf["keyType"], "p384", "the key type it was issued with");

    // A flag given now wins over the remembered one, and becomes the new recipe.
    let http = format!("127.0.0.1:{}", ca.http_port);
    let mut command = certsmith(state.path());
    command.args([
        "--json",
        "renew",
        "-d",
        name,
        "--force",
        "--server",
        &ca.directory,
    ]);
    command.args(["--http", &http]);
    let once_more = lines(&command.output().expect("renew runs"));
    assert_ne!(once_more[0]["serial"], renewed[0]["serial"]);
    assert_eq!(
        calls(hooks.path())
            .iter()
            .filter(|l| l.starts_with("present "))
            .count(),
        2,
        "--http replaced the remembered DNS hook"
    );
    let meta = state
        .path()
        .join("certs")
        .join(ca_dir(&ca))
        .join(name)
        .join("meta.json");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta).expect("meta.json")).expect("meta JSON");
    assert_eq!(meta["obtainedWith"]["solver"]["kind"], "http");
    assert_eq!(meta["obtainedWith"]["keyType"], "p384");
}

#[test]
fn a_window_in_the_past_renews_now_and_the_new_order_names_the_certificate_it_replaces() {
    // Every nonce accepted: a badNonce retry would send (and count) a newOrder twice.
    let ca = Pebble::start(&[("PEBBLE_WFE_NONCEREJECT", "0")]);
    let explanation = "https://ca.example.test/incident/42";
    let proxy = CaProxy::start(
        &ca,
        AriScript {
            start_secs: -3600,
            end_secs: -60,
            explanation: Some(explanation.into()),
            retry_after_secs: 3600,
        },
    );
    let state = tempfile::tempdir().expect("state");
    let name = "ari-now.example.test";
    let first = issue_at(&ca, &proxy.directory, state.path(), name);
    let id = ari_id(state.path(), &proxy.directory, name);

    // Years from expiry, yet due: the CA's window says so.
    let output = renew_all(state.path(), &[]);
    let renewed = lines(&output);
    assert_ne!(renewed[0]["serial"], first["serial"], "{renewed:?}");
    assert_eq!(proxy.requests_to(&format!("/ari/{id}")).len(), 1);
    assert_eq!(replaces(&ca, &proxy), vec![None, Some(id)]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(explanation),
        "the explanation is shown: {stderr}"
    );
}

#[test]
fn a_window_ahead_is_waited_for_and_the_ca_is_asked_again_only_after_retry_after() {
    // Every nonce accepted: a badNonce retry would send (and count) a newOrder twice.
    let ca = Pebble::start(&[("PEBBLE_WFE_NONCEREJECT", "0")]);
    let proxy = CaProxy::start(
        &ca,
        AriScript {
            start_secs: 7 * 86_400,
            end_secs: 8 * 86_400,
            explanation: None,
            retry_after_secs: 3600,
        },
    );
    let state = tempfile::tempdir().expect("state");
    let name = "ari-later.example.test";
    let first = issue_at(&ca, &proxy.directory, state.path(), name);
    let id = ari_id(state.path(), &proxy.directory, name);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    for _ in 0..2 {
        let waiting = lines(&renew_all(state.path(), &[]));
        assert_eq!(waiting[0]["renewed"], false, "{waiting:?}");
        let at = waiting[0]["renewAt"].as_str().expect("renewAt");
        let at = certsmith_core::Timestamp::parse_rfc3339(at).expect("a time");
        let window = (now + 7 * 86_400 - 60)..(now + 8 * 86_400 + 60);
        assert!(window.contains(&at.unix_secs()), "{at} in the window");
    }
    assert_eq!(
        proxy.requests_to(&format!("/ari/{id}")).len(),
        1,
        "the second run used the kept answer"
    );
    let forced = lines(&renew_all(state.path(), &["--force"]));
    assert_ne!(forced[0]["serial"], first["serial"]);
    assert_eq!(replaces(&ca, &proxy), vec![None, Some(id)]);
}

/// The common name of Pebble's root number `index` (0 is the default chain's).
fn root_common_name(ca: &Pebble, index: usize) -> String {
    let pem = run(std::process::Command::new("curl")
        .args(["-fsS", "--cacert"])
        .arg(ca.tls_root())
        .arg(format!("https://localhost:{}/roots/{index}", ca.management)));
    let path = ca.dir.path().join(format!("root-{index}.pem"));
    std::fs::write(&path, pem.stdout).expect("root");
    let subject = run(std::process::Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "multiline", "-in"])
        .arg(&path));
    String::from_utf8_lossy(&subject.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("commonName"))
        .map(|cn| cn.trim().trim_start_matches('=').trim().to_owned())
        .expect("a common name")
}

#[test]
fn preferred_chain_picks_the_alternate_and_renew_keeps_picking_it() {
    let ca = Pebble::start(&[("PEBBLE_ALTERNATE_ROOTS", "1")]);
    let alternate = root_common_name(&ca, 1);
    assert_ne!(alternate, root_common_name(&ca, 0));
    let state = tempfile::tempdir().expect("state");
    let name = "chain.example.test";
    let output = issue(
        &ca,
        state.path(),
        &[name],
        &["--preferred-chain", &alternate],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let top_issuer = |state: &Path| {
        let chain = state
            .join("certs")
            .join(ca_dir(&ca))
            .join(name)
            .join("chain.pem");
        let out = run(certsmith(Path::new("/nonexistent"))
            .args(["--json", "inspect"])
            .arg(chain));
        let certs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect");
        let certs = certs.as_array().expect("certificates").clone();
        certs.last().expect("a chain")["issuer"]
            .as_str()
            .expect("issuer")
            .to_owned()
    };
    assert!(
        top_issuer(state.path()).contains(&alternate),
        "the alternate chain"
    );
    lines(&renew_all(state.path(), &["--force"]));
    assert!(
        top_issuer(state.path()).contains(&alternate),
        "still the alternate chain"
    );
}

#[test]
fn a_profile_the_ca_does_not_offer_is_refused_before_any_order() {
    let ca = Pebble::start(&[("PEBBLE_WFE_NONCEREJECT", "0")]);
    let state = tempfile::tempdir().expect("state");
    let http = format!("127.0.0.1:{}", ca.http_port);
    let output = issue_command(
        &ca,
        state.path(),
        &["profile.example.test"],
        &["--http", &http],
    )
    .args(["--profile", "shortlived"])
    .env("RUST_LOG", "certsmith=debug")
    .output()
    .expect("issue runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("\"shortlived\"") && stderr.contains("offers none"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&ca.endpoint("newOrder")),
        "no order: {stderr}"
    );
}

#[test]
fn a_redirect_is_never_followed_so_no_signed_request_leaves_for_another_address() {
    let ca = Pebble::start(&[("PEBBLE_WFE_NONCEREJECT", "0")]);
    // Where a redirect-following client would re-send its signed newOrder, in cleartext.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").expect("trap");
    trap.set_nonblocking(true).expect("nonblocking");
    let location = format!(
        "http://127.0.0.1:{}/stolen",
        trap.local_addr().expect("addr").port()
    );
    let proxy = CaProxy::redirecting_new_order(&ca, location);
    let state = tempfile::tempdir().expect("state");
    let http = format!("127.0.0.1:{}", ca.http_port);
    let output = certsmith(state.path())
        .args(["issue", "--server", &proxy.directory, "--accept-tos"])
        .args(["--http", &http, "-d", "redirect.example.test"])
        .arg("--ca-cert")
        .arg(ca.tls_root())
        .output()
        .expect("issue runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(3),
        "the CA's answer is refused: {stderr}"
    );
    assert!(stderr.contains("307"), "{stderr}");
    assert!(
        trap.accept().is_err(),
        "nothing connected to the redirect's target"
    );
}

#[test]
fn secrets_come_from_files_and_no_hook_inherits_one() {
    let ca = Pebble::start_eab();
    let state = tempfile::tempdir().expect("state");
    let files = tempfile::tempdir().expect("files");
    let http = format!("127.0.0.1:{}", ca.http_port);

    // Secrets in the environment reach certsmith, never its hooks.
    let seen = files.path().join("hook-env");
    let deploy = format!("env > '{}'", seen.display());
    let output = issue_command(&ca, state.path(), &["env.example.test"], &["--http", &http])
        .args(["--eab-kid", "kid-1", "--deploy-hook", &deploy])
        .env("CERTSMITH_EAB_HMAC", EAB_HMAC)
        .env("CERTSMITH_EDGE_SECRET", "edge-secret-in-env")
        .output()
        .expect("issue runs");
    check_issued(&ca, &output, &["env.example.test"]);
    let env = std::fs::read_to_string(&seen).expect("the hook ran");
    assert!(env.contains("CERTSMITH_DOMAINS="), "{env}");
    assert!(
        !env.contains(EAB_HMAC) && !env.contains("edge-secret-in-env"),
        "a hook saw a secret: {env}"
    );

    // The HMAC key from a file (never on the command line): a second account binds with it.
    let hmac_file = files.path().join("eab-hmac");
    std::fs::write(&hmac_file, format!("{EAB_HMAC}\n")).expect("hmac file");
    let second = tempfile::tempdir().expect("second state");
    let output = issue_command(
        &ca,
        second.path(),
        &["file.example.test"],
        &["--http", &http],
    )
    .args(["--eab-kid", "kid-1", "--eab-hmac-file"])
    .arg(&hmac_file)
    .output()
    .expect("issue runs");
    check_issued(&ca, &output, &["file.example.test"]);

    // A file that cannot be read is named, before anything is sent.
    let missing = files.path().join("none");
    let third = tempfile::tempdir().expect("third state");
    let output = issue_command(
        &ca,
        third.path(),
        &["other.example.test"],
        &["--http", &http],
    )
    .args(["--eab-kid", "kid-1", "--eab-hmac-file"])
    .arg(&missing)
    .output()
    .expect("issue runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("--eab-hmac-file") && stderr.contains(&missing.display().to_string()),
        "{stderr}"
    );
}
