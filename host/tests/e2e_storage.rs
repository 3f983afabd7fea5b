//! End to end for the store's promises, with real processes against Pebble: certsmith never
//! makes two orders for one certificate (4 processes on one state dir, and a fleet of 4 on
//! one Redis), never loses a key or serves a mismatched pair when it crashes mid-write, and
//! `renew --all` renews every certificate it can and reports the rest.

// Test helpers: a panic with a message is how they report a broken expectation.
#![allow(clippy::expect_used)]

#[cfg(feature = "crash-points")]
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

mod pebble;

use pebble::*;

/// A CA that accepts every nonce (Pebble rejects 5 % by default, and the retried request
/// would count twice), so the requests counted below are the orders and accounts made.
fn exact_ca() -> Pebble {
    Pebble::start(&[("PEBBLE_WFE_NONCEREJECT", "0")])
}

/// How many times `url` was requested, summed over the debug logs of `outputs`.
fn requests_to(url: &str, outputs: &[Output]) -> usize {
    outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stderr).matches(url).count())
        .sum()
}

/// Starts every command at once and waits for all of them.
fn together(commands: Vec<Command>) -> Vec<Output> {
    let children: Vec<_> = commands
        .into_iter()
        .map(|mut c| {
            c.env("RUST_LOG", "certsmith=debug")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("certsmith starts")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("certsmith ends"))
        .collect()
}

/// The JSON reports of `outputs`, each checked to be a success.
fn reports(outputs: &[Output]) -> Vec<serde_json::Value> {
    outputs
        .iter()
        .map(|o| {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            serde_json::from_slice(&o.stdout).expect("JSON report")
        })
        .collect()
}

/// Checks that all of `outputs` succeeded with the same certificate, that exactly one of
/// them ordered it, and that they made one newAccount and one newOrder between them.
fn one_ordered(ca: &Pebble, outputs: &[Output]) {
    let reports = reports(outputs);
    let ordered = reports
        .iter()
        .filter(|r| r["obtainedByAnotherProcess"] == false)
        .count();
    assert_eq!(ordered, 1, "{reports:?}");
    assert!(
        reports.iter().all(|r| r["serial"] == reports[0]["serial"]),
        "{reports:?}"
    );
    assert_eq!(
        requests_to(&ca.endpoint("newOrder"), outputs),
        1,
        "one order"
    );
    assert_eq!(
        requests_to(&ca.endpoint("newAccount"), outputs),
        1,
        "one account"
    );
}

#[test]
fn four_processes_on_one_state_dir_make_one_account_and_one_order() {
    let ca = exact_ca();
    let state = tempfile::tempdir().expect("state");
    let http = format!("127.0.0.1:{}", ca.http_port);
    let commands = (0..4)
        .map(|_| {
            issue_command(
                &ca,
                state.path(),
                &["same.example.test"],
                &["--http", &http],
            )
        })
        .collect();
    let outputs = together(commands);
    one_ordered(&ca, &outputs);
    check_issued(&ca, &outputs[0], &["same.example.test"]);
    let generations = state
        .path()
        .join("certs")
        .join(ca_dir(&ca))
        .join(".generations/same.example.test");
    assert_eq!(
        std::fs::read_dir(generations).expect("generations").count(),
        1,
        "one lineage generation"
    );
}

#[test]
fn a_fleet_of_four_on_one_redis_makes_one_order() {
    let ca = exact_ca();
    let (_redis, url) = redis();
    let plugin_state = tempfile::tempdir().expect("plugin state");
    let _plugin = plugin_serve(&ca, plugin_state.path(), ca.http_port, &url, &[]);
    let members: Vec<_> = (0..4)
        .map(|_| tempfile::tempdir().expect("member state"))
        .collect();
    let commands = members
        .iter()
        .map(|state| {
            let mut command =
                issue_command(&ca, state.path(), &["fleet.example.test"], &["--http-kv"]);
            command.args(["--storage", &url]);
            command
        })
        .collect();
    let outputs = together(commands);
    one_ordered(&ca, &outputs);
    check_issued_in_redis(&ca, &outputs[0], &["fleet.example.test"], &url);
    assert!(redis_keys(&url, "http01/*").is_empty(), "tokens cleaned up");
    assert!(
        redis_keys(&url, "certs/*/previous/*").is_empty(),
        "one generation"
    );
}

#[test]
fn a_store_on_redis_over_tls_holds_the_account_and_certificate_and_an_untrusted_one_is_refused() {
    let ca = exact_ca();
    let (_redis, url) = redis_tls(&ca);
    let root = ca.tls_root();
    let root = root.to_str().expect("path");
    let state = tempfile::tempdir().expect("state");
    let http = format!("127.0.0.1:{}", ca.http_port);
    let name = "tls-store.example.test";
    let issued = issue_command(&ca, state.path(), &[name], &["--http", &http])
        .args(["--storage", &url, "--storage-ca-cert", root])
        .output()
        .expect("runs");
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&issued.stdout).expect("report");
    let lineage = report["lineage"].as_str().expect("lineage");
    // Read back over TLS by redis-cli, and verified.
    let port = url.rsplit(':').next().expect("port");
    let files = tempfile::tempdir().expect("files");
    for file in ["cert.pem", "chain.pem"] {
        let value = run(Command::new("redis-cli")
            .args([
                "--tls",
                "--cacert",
                root,
                "-h",
                "localhost",
                "-p",
                port,
                "--raw",
                "GET",
            ])
            .arg(format!("{lineage}/{file}")));
        std::fs::write(files.path().join(file), value.stdout).expect("write");
    }
    verify_chain(
        &ca,
        &files.path().join("cert.pem"),
        &files.path().join("chain.pem"),
    );
    assert!(
        !state.path().join("certs").exists(),
        "nothing stored in the state dir"
    );

    // Without the root, the system's roots do not trust the server: one clear line.
    let untrusted = certsmith(state.path())
        .args(["--storage", &url, "list"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert_eq!(untrusted.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains(&url)
            && stderr.contains("--storage-ca-cert")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn renew_all_goes_on_past_a_failure_and_reports_it() {
    let ca = exact_ca();
    let state = tempfile::tempdir().expect("state");
    let mut serials = Vec::new();
    for name in ["r1.example.test", "r2.example.test", "r3.example.test"] {
        let report = issued(&ca, state.path(), name);
        serials.push(report["serial"].clone());
    }
    // r2's CA is gone: its meta.json names a directory nothing answers at.
    let meta = state
        .path()
        .join("certs")
        .join(ca_dir(&ca))
        .join("r2.example.test/meta.json");
    let text = std::fs::read_to_string(&meta).expect("meta.json");
    let gone = format!("https://127.0.0.1:{}/dir", free_port());
    std::fs::write(&meta, text.replace(&ca.directory, &gone)).expect("write meta");

    let http = format!("127.0.0.1:{}", ca.http_port);
    let output = certsmith(state.path())
        .args([
            "renew",
            "--all",
            "--force",
            "--accept-tos",
            "--email",
            "admin@example.test",
        ])
        .arg("--ca-cert")
        .arg(ca.tls_root())
        .args(["--http", &http])
        .output()
        .expect("renew runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(5),
        "the CA that could not be reached: {stderr}"
    );
    assert!(
        stderr.contains("1 of 3 certificates failed to renew")
            && stderr.contains("r2.example.test"),
        "{stderr}"
    );
    let list = run(certsmith(state.path()).args(["--json", "list"]));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).expect("list");
    let serial_of = |name: &str| {
        let entry = listed
            .as_array()
            .expect("list")
            .iter()
            .find(|e| e["name"] == name)
            .expect("listed");
        entry["serial"].clone()
    };
    assert_ne!(serial_of("r1.example.test"), serials[0], "r1 renewed");
    assert_eq!(serial_of("r2.example.test"), serials[1], "r2 kept");
    assert_ne!(serial_of("r3.example.test"), serials[2], "r3 renewed");
}

#[test]
fn a_lineage_can_be_rolled_back_and_forward() {
    let ca = exact_ca();
    let state = tempfile::tempdir().expect("state");
    let first = issued(&ca, state.path(), "rb.example.test");
    let second = issued(&ca, state.path(), "rb.example.test");
    let rollback = || {
        let out = run(certsmith(state.path()).args([
            "--json",
            "rollback",
            "-d",
            "rb.example.test",
            "--server",
            &ca.directory,
        ]));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")["serial"].clone()
    };
    assert_eq!(rollback(), first["serial"]);
    // The same paths now hold the first pair, whole.
    let fullchain = Path::new(first["fullchain"].as_str().expect("path"));
    verify_chain(&ca, fullchain, &fullchain.with_file_name("chain.pem"));
    assert_eq!(
        rollback(),
        second["serial"],
        "a second rollback undoes the first"
    );
    let none = certsmith(state.path())
        .args([
            "rollback",
            "-d",
            "none.example.test",
            "--server",
            &ca.directory,
        ])
        .output()
        .expect("runs");
    assert_eq!(none.status.code(), Some(6));
    assert!(
        String::from_utf8_lossy(&none.stderr)
            .contains("no previous certificate for none.example.test")
    );
}

/// Crash points need the test build of the binary (`--features crash-points`).
#[cfg(feature = "crash-points")]
#[test]
fn a_crash_at_each_step_of_storing_leaves_a_whole_pair_and_the_next_run_finishes_the_order() {
    let ca = exact_ca();
    let state = tempfile::tempdir().expect("state");
    let name = "crash.example.test";
    let first = issued(&ca, state.path(), name);
    let lineage = state.path().join("certs").join(ca_dir(&ca)).join(name);
    for point in ["lineage-written", "lineage-current"] {
        let http = format!("127.0.0.1:{}", ca.http_port);
        let crashed = issue_command(&ca, state.path(), &[name], &["--http", &http])
            .env("CERTSMITH_CRASH_AT", point)
            .output()
            .expect("runs");
        assert!(
            !crashed.status.success(),
            "{point}: the process was stopped"
        );
        // Whatever generation is current is whole: its key is its certificate's.
        let listed = run(certsmith(state.path()).args(["--json", "list"]));
        let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("list");
        assert!(listed[0]["names"].is_array(), "{point}: {listed}");
        if point == "lineage-written" {
            assert_eq!(
                listed[0]["serial"], first["serial"],
                "the old pair stays until the switch"
            );
        }
        verify_chain(&ca, &lineage.join("cert.pem"), &lineage.join("chain.pem"));
        let leftovers: Vec<_> = walk(state.path())
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: {leftovers:?}");
        // The next run finishes the same order: no second newOrder.
        let next = issue_command(&ca, state.path(), &[name], &["--http", &http])
            .env("RUST_LOG", "certsmith=debug")
            .output()
            .expect("runs");
        check_issued(&ca, &next, &[name]);
        assert_eq!(
            requests_to(&ca.endpoint("newOrder"), std::slice::from_ref(&next)),
            0,
            "{point}: resumed"
        );
    }
}

/// The most responses one order of a registered account takes here (9 at Pebble with
/// its validation delay off); the loop below ends at the first run that is not stopped.
#[cfg(feature = "crash-points")]
const MAX_ORDER_RESPONSES: u32 = 16;

#[cfg(feature = "crash-points")]
#[test]
fn a_run_stopped_at_each_acme_response_is_finished_by_the_next_with_the_same_order_and_key() {
    let ca = exact_ca();
    let state = tempfile::tempdir().expect("state");
    // The account exists, so every run below is one order's requests.
    issued(&ca, state.path(), "account.example.test");
    let http = format!("127.0.0.1:{}", ca.http_port);
    let mut stopped = 0;
    for n in 1..=MAX_ORDER_RESPONSES {
        let name = format!("stop{n}.example.test");
        let crashed = issue_command(&ca, state.path(), &[&name], &["--http", &http])
            .env("CERTSMITH_CRASH_AT", format!("acme-response-{n}"))
            .output()
            .expect("runs");
        if crashed.status.success() {
            break;
        }
        stopped += 1;
        let snapshot = state
            .path()
            .join("orders")
            .join(ca_dir(&ca))
            .join(format!("{name}.json"));
        let saved: Option<serde_json::Value> = std::fs::read(&snapshot)
            .ok()
            .map(|bytes| serde_json::from_slice(&bytes).expect("snapshot JSON"));
        let next = issue_command(&ca, state.path(), &[&name], &["--http", &http])
            .env("RUST_LOG", "certsmith=debug")
            .output()
            .expect("runs");
        let report = check_issued(&ca, &next, &[&name]);
        let new_orders = requests_to(&ca.endpoint("newOrder"), std::slice::from_ref(&next));
        match saved {
            // Stopped after the order was saved: the same order (or, when the CA validated
            // while no one answered, one new order, said so), always with the saved key.
            Some(saved) => {
                let stderr = String::from_utf8_lossy(&next.stderr);
                if new_orders == 0 {
                    assert_eq!(report["orderUrl"], saved["orderUrl"], "response {n}");
                } else {
                    assert_eq!(new_orders, 1, "response {n}");
                    assert!(
                        stderr.contains("the interrupted order can no longer be finished"),
                        "response {n}: {stderr}"
                    );
                }
                let key =
                    std::fs::read_to_string(report["key"].as_str().expect("key")).expect("key.pem");
                assert_eq!(
                    key.trim(),
                    saved["certificateKeyPem"].as_str().expect("key").trim(),
                    "response {n}: the saved key"
                );
            }
            // Stopped before the CA's newOrder answer was seen: nothing to resume.
            None => assert_eq!(new_orders, 1, "response {n}: ordered"),
        }
        assert!(!snapshot.exists(), "response {n}: the snapshot is gone");
    }
    eprintln!("stopped at each of {stopped} responses");
    assert!(
        (5..MAX_ORDER_RESPONSES).contains(&stopped),
        "every response of an order was a stopping point ({stopped})"
    );
}

/// `certsmith account ARGS… --json` against `ca` for the test account.
#[cfg(feature = "crash-points")]
fn account(ca: &Pebble, state: &Path, args: &[&str]) -> Command {
    let mut command = certsmith(state);
    command.args(["--json", "account"]).args(args);
    command.args(["--server", &ca.directory, "--email", "admin@example.test"]);
    command.arg("--ca-cert").arg(ca.tls_root());
    command
}

#[cfg(feature = "crash-points")]
#[test]
fn an_interrupted_key_rollover_is_undone_or_finished_by_the_next_command() {
    let ca = exact_ca();
    let state = tempfile::tempdir().expect("state");
    issued(&ca, state.path(), "roll.example.test");
    let dir = state
        .path()
        .join("accounts")
        .join(ca_dir(&ca))
        .join("admin-example.test");
    let (key, pending) = (dir.join("key.pem"), dir.join("key.pem.next"));
    let read = |path: &Path| std::fs::read_to_string(path).expect("key");
    let old_key = read(&key);

    // Stopped before the CA heard of the new key: the next command undoes the rollover.
    let crashed = account(&ca, state.path(), &["rollover"])
        .env("CERTSMITH_CRASH_AT", "rollover-key-pending")
        .output()
        .expect("runs");
    assert!(!crashed.status.success());
    assert!(pending.exists(), "the new key was stored first");
    let shown = run(&mut account(&ca, state.path(), &["show"]));
    assert!(
        String::from_utf8_lossy(&shown.stderr).contains("never reached the CA"),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert_eq!(read(&key), old_key);
    assert!(!pending.exists());

    // Stopped after the CA switched keys: the next command finishes the rollover.
    let crashed = account(&ca, state.path(), &["rollover"])
        .env("CERTSMITH_CRASH_AT", "rollover-ca-switched")
        .output()
        .expect("runs");
    assert!(!crashed.status.success());
    let new_key = read(&pending);
    assert_eq!(
        read(&key),
        old_key,
        "key.pem is the old key until the CA agreed"
    );
    let next = issue(&ca, state.path(), &["roll2.example.test"], &[]);
    check_issued(&ca, &next, &["roll2.example.test"]);
    assert!(
        String::from_utf8_lossy(&next.stderr)
            .contains("finished an interrupted account key rollover"),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    assert_eq!(read(&key), new_key, "the key the CA holds");
    assert_ne!(new_key, old_key);
    assert!(!pending.exists());
    let mode = std::fs::metadata(&key).expect("key").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// Every path under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            paths.extend(walk(&path));
        }
        paths.push(path);
    }
    paths
}

/// `command` run in its own user and mount namespace where `dir` is read-only (a bind
/// mount remounted `ro`), as a full or failing disk would refuse writes there.
fn with_read_only(dir: &Path, command: &Command) -> Command {
    let mut wrapped = Command::new("unshare");
    wrapped.args([
        "-Urm",
        "sh",
        "-c",
        r#"d=$1; shift; mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" "$d" && exec "$@""#,
        "sh",
    ]);
    wrapped
        .arg(dir)
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

#[test]
fn a_lineage_that_cannot_be_written_fails_in_one_line_and_the_old_pair_stays() {
    let ca = exact_ca();
    let state = tempfile::tempdir().expect("state");
    let name = "readonly.example.test";
    let first = issued(&ca, state.path(), name);
    let certs = state.path().join("certs").join(ca_dir(&ca));
    let lineage = certs.join(name);
    let read = |file: &str| std::fs::read(lineage.join(file)).expect("lineage file");
    let (cert, key) = (read("cert.pem"), read("key.pem"));

    let http = format!("127.0.0.1:{}", ca.http_port);
    let mut renew = certsmith(state.path());
    renew
        .args(["renew", "-d", name, "--force", "--server", &ca.directory])
        .arg("--ca-cert")
        .arg(ca.tls_root())
        .args(["--email", "admin@example.test", "--http", &http]);
    let refused = with_read_only(&certs.join(".generations"), &renew)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(6), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("certsmith:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("Read-only file system"), "{stderr}");

    // The old pair is still current and whole, and nothing half-written is left.
    assert_eq!((read("cert.pem"), read("key.pem")), (cert, key));
    let listed = run(certsmith(state.path()).args(["--json", "list"]));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("list");
    assert_eq!(listed[0]["serial"], first["serial"], "{listed}");
    verify_chain(&ca, &lineage.join("cert.pem"), &lineage.join("chain.pem"));
    let leftovers: Vec<_> = walk(state.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Once the disk takes writes again, the next run stores the certificate of the same
    // order: the CA issued it once.
    let next = renew
        .arg("--json")
        .env("RUST_LOG", "certsmith=debug")
        .output()
        .expect("runs");
    let renewed = check_issued(&ca, &next, &[name]);
    assert_ne!(renewed["serial"], first["serial"]);
    assert_eq!(
        requests_to(&ca.endpoint("newOrder"), std::slice::from_ref(&next)),
        0,
        "the stored order was finished"
    );
}

#[test]
fn an_order_that_cannot_be_saved_is_never_answered() {
    let ca = exact_ca();
    let state = tempfile::tempdir().expect("state");
    issued(&ca, state.path(), "first.example.test");
    let orders = state.path().join("orders").join(ca_dir(&ca));
    assert!(
        orders.is_dir(),
        "the first issue made the snapshot directory"
    );
    let webroot = tempfile::tempdir().expect("webroot");
    let issue = issue_command(
        &ca,
        state.path(),
        &["unsaved.example.test"],
        &["--webroot", &webroot.path().display().to_string()],
    );
    let refused = with_read_only(&orders, &issue).output().expect("runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("could not be saved") && stderr.contains("Read-only file system"),
        "{stderr}"
    );
    // Nothing was published for the CA to validate.
    let published: Vec<_> = walk(webroot.path())
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert!(published.is_empty(), "{published:?}");
}

#[test]
fn a_saved_order_for_other_names_is_abandoned_and_the_reason_shown() {
    let ca = exact_ca();
    let state = tempfile::tempdir().expect("state");
    // The first run stops after its order was saved: its webroot cannot take the challenge.
    let webroot = tempfile::tempdir().expect("webroot");
    std::fs::write(webroot.path().join(".well-known"), "in the way").expect("blocker");
    let webroot = webroot.path().display().to_string();
    let first = issue_via(
        &ca,
        state.path(),
        &["changed.example.test"],
        &["--webroot", &webroot],
        &[],
    );
    assert_eq!(
        first.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    let names = ["changed.example.test", "www.changed.example.test"];
    let http = format!("127.0.0.1:{}", ca.http_port);
    let second = issue_command(&ca, state.path(), &names, &["--http", &http])
        .env("RUST_LOG", "certsmith=debug")
        .output()
        .expect("runs");
    check_issued(&ca, &second, &names);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("not resuming the saved order: it is for changed.example.test, this command for changed.example.test, www.changed.example.test"),
        "{stderr}"
    );
    // Its authorization was pending (the webroot never took the challenge): the CA
    // answered its deactivation with status "deactivated".
    assert!(
        stderr.contains("deactivated 1 pending authorization(s) of the abandoned order"),
        "{stderr}"
    );
    assert_eq!(
        requests_to(&ca.endpoint("newOrder"), std::slice::from_ref(&second)),
        1,
        "a new order"
    );
}
