//! `certsmith run` against Pebble: certificates obtained and served by SNI to a real TLS
//! client verifying against Pebble's root, hot swaps under continuous handshakes, renewals by
//! another process picked up from the store, a corrupt pair refused, SIGHUP and SIGTERM.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod pebble;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pebble::ca_proxy::{AriScript, CaProxy, ari_id, issue_at, replaces};
use pebble::{Pebble, Running, certsmith, free_port, run};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

/// A running daemon and where it listens.
struct Daemon {
    process: Running,
    config: PathBuf,
    log: PathBuf,
    https: u16,
    http: u16,
    admin: u16,
}

/// How a test's daemon differs from the plain one.
struct Setup<'a> {
    /// Top-level keys (before `[acme]`), e.g. `storage`.
    top: &'a str,
    /// The site line of `[https]`.
    site: &'a str,
    /// Appended after `[renewal]`, e.g. `[on_demand]`.
    extra: &'a str,
    /// The HTTPS and HTTP ports [default: Pebble's TLS-ALPN-01 and HTTP-01 ports].
    ports: Option<(u16, u16)>,
    /// `RUST_LOG` for the daemon.
    log: &'a str,
    /// The CA's directory URL [default: Pebble's].
    directory: Option<&'a str>,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Self {
            top: "",
            site: r#"static_body = "hello from certsmith""#,
            extra: "",
            ports: None,
            log: "certsmith=info",
            directory: None,
        }
    }
}

/// The config of a daemon against `ca` managing `certificates` (TOML `[[certificate]]`
/// bodies) as `setup` says. The fallback rescan is an hour away: changes in the store must
/// be seen through its watch.
fn config_text(
    ca: &Pebble,
    state: &Path,
    admin: u16,
    setup: &Setup<'_>,
    certificates: &[&str],
) -> String {
    let (https, http) = setup.ports.unwrap_or((ca.tls_port, ca.http_port));
    let mut text = format!(
        r#"state_dir = "{state}"
{top}
[acme]
server = "{directory}"
ca_cert = "{root}"
email = "ops@example.test"
accept_tos = true
[https]
listen = "127.0.0.1:{https}"
http_listen = "127.0.0.1:{http}"
{site}
[admin]
listen = "127.0.0.1:{admin}"
[renewal]
rescan_secs = 3600
"#,
        state = state.display(),
        top = setup.top,
        site = setup.site,
        directory = setup.directory.unwrap_or(&ca.directory),
        root = ca.tls_root().display(),
    );
    text.push_str(setup.extra);
    for certificate in certificates {
        text.push_str(&format!("[[certificate]]\n{certificate}\n"));
    }
    text
}

impl Daemon {
    /// Starts `certsmith run` with the plain setup and `certificates`, waits until its
    /// admin listener answers.
    fn start(ca: &Pebble, state: &Path, admin: u16, certificates: &[&str]) -> Self {
        Self::start_with(ca, state, admin, &Setup::default(), certificates)
    }

    /// Starts `certsmith run` as `setup` says, waits until its admin listener answers.
    fn start_with(
        ca: &Pebble,
        state: &Path,
        admin: u16,
        setup: &Setup<'_>,
        certificates: &[&str],
    ) -> Self {
        let dir = state.parent().expect("parent");
        let config = dir.join(format!("certsmith-{admin}.toml"));
        std::fs::write(&config, config_text(ca, state, admin, setup, certificates))
            .expect("config");
        let log = dir.join(format!("daemon-{admin}.log"));
        let child = certsmith(state)
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", setup.log)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("certsmith run starts");
        let (https, http) = setup.ports.unwrap_or((ca.tls_port, ca.http_port));
        let daemon = Self {
            process: Running(child),
            config,
            log,
            https,
            http,
            admin,
        };
        ca.wait_for(admin);
        daemon
    }

    /// `/status` as JSON.
    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/status")).expect("status JSON")
    }

    /// The body of an admin GET.
    fn get(&self, path: &str) -> String {
        let out = run(Command::new("curl")
            .args(["-fsS", "--max-time", "10"])
            .arg(format!("http://127.0.0.1:{}{path}", self.admin)));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Waits (at most 60 s) until `/status` shows a served serial for every one of `names`
    /// other than the serial in `not`; the serials.
    fn wait_served(&self, names: &[&str], not: Option<&str>) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.status();
            let serials: Vec<Option<String>> = names
                .iter()
                .map(|n| {
                    status["certificates"][n]["serial"]
                        .as_str()
                        .filter(|s| Some(*s) != not)
                        .map(str::to_owned)
                })
                .collect();
            if serials.iter().all(Option::is_some) {
                return serials.into_iter().flatten().collect();
            }
            assert!(
                Instant::now() < deadline,
                "not served within 60 s: {status:#}\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The daemon's log so far.
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` to the daemon.
    fn signal(&self, signal: &str) {
        run(Command::new("kill")
            .args(["-s", signal])
            .arg(self.process.0.id().to_string()));
    }

    /// Sends SIGTERM and waits (at most 30 s) for the exit; whether it exited 0.
    fn stop(mut self) -> bool {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.process.0.try_wait().expect("wait") {
                return status.success();
            }
            assert!(Instant::now() < deadline, "no exit 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A TLS client trusting only Pebble's issuing root, with no session resumption: every
/// connection is a full handshake.
fn tls_client(ca: &Pebble) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let root = CertificateDer::from_pem_file(ca.issuing_root()).expect("issuing root");
    roots.add(root).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A full handshake with `name` on `port` and a GET /: the leaf's serial and the body.
fn fetch(
    config: &Arc<rustls::ClientConfig>,
    port: u16,
    name: &str,
) -> Result<(String, String), String> {
    let server = ServerName::try_from(name.to_owned()).map_err(|e| e.to_string())?;
    let mut connection =
        rustls::ClientConnection::new(Arc::clone(config), server).map_err(|e| e.to_string())?;
    let mut socket = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::Stream::new(&mut connection, &mut socket);
    write!(
        tls,
        "GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    // A peer that closes without close_notify still delivered the body.
    let _ = tls.read_to_string(&mut response);
    let leaf = connection
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("no certificate")?;
    let serial = certsmith_core::inspect_certificate(leaf)
        .map_err(|e| e.to_string())?
        .serial_hex;
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    Ok((serial, body))
}

/// curl's status code and redirect target for a plain-HTTP GET of `url` with `host`.
fn http_get(url: &str, host: &str) -> (String, String) {
    let out = run(Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "/dev/null"])
        .args(["-w", "%{http_code} %{redirect_url}", "-H"])
        .arg(format!("Host: {host}"))
        .arg(url));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let (code, location) = text.split_once(' ').unwrap_or((&text, ""));
    (code.to_owned(), location.to_owned())
}

#[test]
fn a_daemon_obtains_serves_and_hot_swaps_without_a_failed_handshake() {
    let ca = Pebble::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let deployed = dir.path().join("deployed-b");
    let b_entry = format!(
        "names = [\"b.example.test\"]\ndeploy_hook = \"env | grep ^CERTSMITH_ | sort > {}\"",
        deployed.display()
    );
    let daemon = Daemon::start(
        &ca,
        &state,
        free_port(),
        &[
            r#"names = ["a.example.test", "www.a.example.test"]"#,
            &b_entry,
            r#"names = ["c.example.test"]
challenge = "tls-alpn-01"
key_type = "p384""#,
        ],
    );
    let names = ["a.example.test", "b.example.test", "c.example.test"];
    let serials = daemon.wait_served(&names, None);

    // Each name is served by SNI with its own certificate, verified against Pebble's root.
    let client = tls_client(&ca);
    for (name, serial) in names.iter().zip(&serials) {
        let (served, body) = fetch(&client, daemon.https, name).expect("TLS to the daemon");
        assert_eq!(&served, serial, "{name}");
        assert_eq!(body, "hello from certsmith");
    }
    let (www, _) = fetch(&client, daemon.https, "www.a.example.test").unwrap();
    assert_eq!(
        www, serials[0],
        "the second name of a certificate is served too"
    );
    assert!(
        fetch(&client, daemon.https, "unknown.example.test").is_err(),
        "an unmanaged name gets no certificate"
    );

    // The deploy hook saw where the new certificate is.
    let hook_env = std::fs::read_to_string(&deployed).expect("the deploy hook ran");
    assert!(
        hook_env.contains("CERTSMITH_DOMAINS=b.example.test"),
        "{hook_env}"
    );
    assert!(
        hook_env.contains("/certs/") && hook_env.contains("CERTSMITH_FULLCHAIN_PATH="),
        "{hook_env}"
    );

    // HTTP/2 for a client that offers it.
    let h2 = run(Command::new("curl")
        .args([
            "-sS",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version}",
            "--cacert",
        ])
        .arg(ca.issuing_root())
        .args([
            "--resolve",
            &format!("a.example.test:{}:127.0.0.1", daemon.https),
        ])
        .arg(format!("https://a.example.test:{}/", daemon.https)));
    assert_eq!(String::from_utf8_lossy(&h2.stdout), "2");

    // Plain HTTP redirects to HTTPS, keeping the path.
    let (code, location) = http_get(
        &format!("http://127.0.0.1:{}/x?y=1", daemon.http),
        "a.example.test",
    );
    assert_eq!(code, "308");
    assert_eq!(
        location,
        format!("https://a.example.test:{}/x?y=1", daemon.https)
    );

    // Metrics name every certificate's expiry; requests to the CA are counted.
    let metrics = daemon.get("/metrics");
    for name in names {
        assert!(
            metrics.contains(&format!(
                "certsmith_certificate_expiry_timestamp_seconds{{name=\"{name}\"}}"
            )),
            "{metrics}"
        );
    }
    assert!(
        metrics.contains("certsmith_acme_requests_total{method=\"POST\"}"),
        "{metrics}"
    );
    assert!(
        counter(
            &metrics,
            "certsmith_acme_request_duration_seconds_count{method=\"POST\"}"
        ) > 10,
        "{metrics}"
    );
    assert!(
        metrics.contains("certsmith_certificate_renewals_total{result=\"success\"} 3"),
        "{metrics}"
    );

    // A forced renewal while two clients do full handshakes without pause: none fails, and
    // the new certificate is served.
    let stop = Arc::new(AtomicBool::new(false));
    let handshakes = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (stop, handshakes, client) = (
                Arc::clone(&stop),
                Arc::clone(&handshakes),
                Arc::clone(&client),
            );
            let port = daemon.https;
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                let mut serials = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(120);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match fetch(&client, port, "b.example.test") {
                        Ok((serial, _)) => serials.push(serial),
                        Err(e) => failures.push(e),
                    }
                    handshakes.fetch_add(1, Ordering::Relaxed);
                }
                (failures, serials)
            })
        })
        .collect();
    let out = run(Command::new("curl")
        .args(["-fsS", "-X", "POST"])
        .arg(format!(
            "http://127.0.0.1:{}/renew/b.example.test",
            daemon.admin
        )));
    assert!(String::from_utf8_lossy(&out.stdout).contains("renewing"));
    let renewed = daemon.wait_served(&["b.example.test"], Some(&serials[1]));
    // Keep handshaking a little after the swap.
    let swapped_at = handshakes.load(Ordering::Relaxed);
    while handshakes.load(Ordering::Relaxed) < swapped_at + 20 {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let mut seen_new = false;
    for client in clients {
        let (failures, serials) = client.join().unwrap();
        assert!(
            failures.is_empty(),
            "failed handshakes during the swap: {failures:?}"
        );
        seen_new |= serials.contains(&renewed[0]);
    }
    assert!(seen_new, "the renewed certificate was never served");
    assert!(handshakes.load(Ordering::Relaxed) > 20);

    // SIGTERM: exit 0, no challenge left published, no temporary files.
    assert!(daemon.stop(), "certsmith run exits 0 on SIGTERM");
    let leftovers =
        run(Command::new("find")
            .arg(&state)
            .args(["-name", "*.tmp*", "-o", "-path", "*http01/*"]));
    assert!(
        leftovers.stdout.is_empty(),
        "left behind: {}",
        String::from_utf8_lossy(&leftovers.stdout)
    );
}

#[test]
fn the_daemon_follows_the_store_and_its_config() {
    let ca = Pebble::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let daemon = Daemon::start(&ca, &state, free_port(), &[r#"names = ["d.example.test"]"#]);
    let first = daemon.wait_served(&["d.example.test"], None).remove(0);
    let client = tls_client(&ca);

    // Another process renews it on the same store (its tokens answered by the daemon's
    // HTTP listener): the daemon serves the new one after its rescan.
    let ca_dir = pebble::ca_dir(&ca);
    let renewed = certsmith(&state)
        .args([
            "--json",
            "renew",
            "--force",
            "-d",
            "d.example.test",
            "--server",
            &ca.directory,
        ])
        .arg("--ca-cert")
        .arg(ca.tls_root())
        .args(["--email", "ops@example.test"])
        .output()
        .unwrap();
    assert!(
        renewed.status.success(),
        "{}",
        String::from_utf8_lossy(&renewed.stderr)
    );
    let second = daemon
        .wait_served(&["d.example.test"], Some(&first))
        .remove(0);
    assert_eq!(
        fetch(&client, daemon.https, "d.example.test").unwrap().0,
        second
    );

    // A pair that does not match on disk is refused: the last good one stays served.
    let lineage = state.join("certs").join(&ca_dir).join("d.example.test");
    let key = lineage.join("key.pem");
    let other = run(Command::new("openssl").args([
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
    ]));
    let real_key = std::fs::read(std::fs::canonicalize(&key).unwrap()).unwrap();
    let key_file = std::fs::canonicalize(&key).unwrap();
    std::fs::write(&key_file, &other.stdout).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        fetch(&client, daemon.https, "d.example.test").unwrap().0,
        second
    );
    assert!(
        daemon.log_text().contains("the served one is kept"),
        "{}",
        daemon.log_text()
    );
    std::fs::write(&key_file, real_key).unwrap();

    // SIGHUP with a broken config: refused, the old one stays.
    let good = std::fs::read_to_string(&daemon.config).unwrap();
    std::fs::write(
        &daemon.config,
        good.replace("[[certificate]]", "[[certificat]]"),
    )
    .unwrap();
    daemon.signal("HUP");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        daemon
            .log_text()
            .contains("the new configuration is refused"),
        "{}",
        daemon.log_text()
    );
    assert!(daemon.status()["certificates"]["d.example.test"]["serial"].is_string());

    // SIGHUP adding a certificate: obtained and served.
    std::fs::write(
        &daemon.config,
        format!("{good}[[certificate]]\nnames = [\"e.example.test\"]\n"),
    )
    .unwrap();
    daemon.signal("HUP");
    daemon.wait_served(&["e.example.test"], None);
    assert!(fetch(&client, daemon.https, "e.example.test").is_ok());

    // SIGHUP removing a certificate: no longer served (or renewed).
    let only_e = good.replace(
        "names = [\"d.example.test\"]",
        "names = [\"e.example.test\"]",
    );
    std::fs::write(&daemon.config, only_e).unwrap();
    daemon.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while fetch(&client, daemon.https, "d.example.test").is_ok() {
        assert!(
            Instant::now() < deadline,
            "d.example.test still served 10 s after its removal"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(daemon.status()["certificates"]["d.example.test"].is_null());
    assert!(fetch(&client, daemon.https, "e.example.test").is_ok());
    assert!(daemon.stop());
}

/// The head of the HTTP request on `stream` (up to the blank line), as text.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A backend on a free port that answers every request with the request's head as its body.
fn echo_backend() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(100) {
            let Ok(mut stream) = stream else { continue };
            let body = read_head(&mut stream).to_ascii_lowercase();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// The value of a counter in the Prometheus text, 0 when absent.
fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn on_demand_tls_obtains_during_the_handshake_within_its_budget_behind_a_proxy() {
    let ca = Pebble::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let backend = echo_backend();
    let site = format!("proxy_to = \"http://127.0.0.1:{backend}\"");
    let setup = Setup {
        site: &site,
        extra: "[on_demand]\nallow = [\"*.dyn.example.test\"]\norders_per_minute = 3\n",
        ..Setup::default()
    };
    let daemon = Daemon::start_with(&ca, &state, free_port(), &setup, &[]);
    let client = tls_client(&ca);
    let orders = |daemon: &Daemon| {
        counter(
            &daemon.get("/metrics"),
            "certsmith_certificate_renewals_total{result=\"success\"}",
        )
    };

    // 20 handshakes at once for a new allowed name: every one gets the certificate, from one
    // order; the request reaches the backend with the forwarding headers.
    let handshakes: Vec<_> = (0..20)
        .map(|_| {
            let client = Arc::clone(&client);
            let port = daemon.https;
            std::thread::spawn(move || fetch(&client, port, "new.dyn.example.test"))
        })
        .collect();
    let mut serials = Vec::new();
    for handshake in handshakes {
        let (serial, body) = handshake.join().unwrap().expect("an on-demand handshake");
        assert!(body.contains("host: new.dyn.example.test"), "{body}");
        assert!(body.contains("x-forwarded-proto: https"), "{body}");
        assert!(body.contains("x-forwarded-for: 127.0.0.1"), "{body}");
        assert!(body.starts_with("get / http/1.1"), "{body}");
        serials.push(serial);
    }
    serials.dedup();
    assert_eq!(serials.len(), 1, "one certificate for all 20 handshakes");
    assert_eq!(orders(&daemon), 1, "one order for 20 handshakes");

    // A name no pattern allows fails fast and never reaches the CA.
    let started = Instant::now();
    assert!(fetch(&client, daemon.https, "x.other.example.test").is_err());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(orders(&daemon), 1);

    // The budget (3 new names a minute): two more are obtained, the fourth is refused.
    assert!(fetch(&client, daemon.https, "two.dyn.example.test").is_ok());
    assert!(fetch(&client, daemon.https, "three.dyn.example.test").is_ok());
    assert!(fetch(&client, daemon.https, "four.dyn.example.test").is_err());
    assert_eq!(orders(&daemon), 3);
    let metrics = daemon.get("/metrics");
    assert_eq!(
        counter(
            &metrics,
            "certsmith_on_demand_certificates_total{result=\"obtained\"}"
        ),
        3,
        "{metrics}"
    );
    assert_eq!(
        counter(
            &metrics,
            "certsmith_on_demand_certificates_total{result=\"refused\"}"
        ),
        2,
        "{metrics}"
    );
    assert!(
        daemon.log_text().contains("orders_per_minute"),
        "{}",
        daemon.log_text()
    );

    // A certificate obtained on demand is served from the store after a restart (no order).
    assert!(daemon.stop());
    let setup = Setup {
        site: "static_body = \"again\"",
        extra: "[on_demand]\nallow = [\"*.dyn.example.test\"]\n",
        ..Setup::default()
    };
    let daemon = Daemon::start_with(&ca, &state, free_port(), &setup, &[]);
    let (serial, body) = fetch(&client, daemon.https, "new.dyn.example.test").unwrap();
    assert_eq!(serial, serials[0]);
    assert_eq!(body, "again");
    assert_eq!(orders(&daemon), 0);
    assert!(daemon.stop());
}

/// How many newOrder requests a daemon's debug log shows.
fn new_orders(daemon: &Daemon, ca: &Pebble) -> usize {
    let new_order = ca.endpoint("newOrder");
    daemon
        .log_text()
        .lines()
        .filter(|line| line.contains("POST") && line.contains(&new_order))
        .count()
}

#[test]
fn a_fleet_on_one_redis_orders_each_certificate_once_and_survives_a_killed_member() {
    // Every nonce accepted: each newOrder request in the logs is one order.
    let ca = Pebble::start(&[("PEBBLE_WFE_NONCEREJECT", "0")]);
    let (_redis, url) = pebble::redis();
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..20).map(|i| format!("f{i}.example.test")).collect();
    let entries: Vec<String> = names.iter().map(|n| format!("names = [\"{n}\"]")).collect();
    let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
    let top = format!("storage = \"{url}\"");
    // A answers the CA (Pebble's ports); B elsewhere: its HTTP-01 tokens, in Redis, are
    // answered by A.
    let setup_a = Setup {
        top: &top,
        log: "certsmith=debug",
        ..Setup::default()
    };
    let setup_b = Setup {
        ports: Some((free_port(), free_port())),
        ..setup_a
    };
    let state = |n: &str| {
        let path = dir.path().join(n).join("state");
        std::fs::create_dir_all(&path).unwrap();
        path
    };
    let (state_a, state_b) = (state("a"), state("b"));
    let mut a = Daemon::start_with(&ca, &state_a, free_port(), &setup_a, &entries);
    let b = Daemon::start_with(&ca, &state_b, free_port(), &setup_b, &entries);
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let served_a = a.wait_served(&name_refs, None);
    let served_b = b.wait_served(&name_refs, None);
    assert_eq!(served_a, served_b, "both serve the same certificates");
    assert_eq!(
        new_orders(&a, &ca) + new_orders(&b, &ca),
        20,
        "exactly one order per certificate across the fleet"
    );
    let client = tls_client(&ca);
    for (name, serial) in name_refs.iter().zip(&served_a).step_by(5) {
        assert_eq!(
            &fetch(&client, b.https, name).unwrap().0,
            serial,
            "{name} from B"
        );
    }

    // A takes a new certificate's lock and hangs publishing its DNS record; it is killed
    // there. B, given the same certificate, takes the dead holder's lock over and finishes
    // A's saved order: no order is lost, none is added.
    let hook_dir = dir.path().join("hooks");
    std::fs::create_dir_all(hook_dir.join("hang")).unwrap();
    std::fs::create_dir_all(hook_dir.join("work")).unwrap();
    let hanging = pebble::dns_hook(&ca, &hook_dir.join("hang"), "sleep 120");
    let working = pebble::dns_hook(&ca, &hook_dir.join("work"), "");
    let dns_entry = |hook: &Path| {
        format!(
            "[[certificate]]\nnames = [\"killed.example.test\"]\nchallenge = \"dns-01\"\ndns_hook = \"{}\"\ndns_resolver = \"127.0.0.1:{}\"\n",
            hook.display(),
            ca.dns_port
        )
    };
    let config_a = std::fs::read_to_string(&a.config).unwrap();
    std::fs::write(&a.config, format!("{config_a}{}", dns_entry(&hanging))).unwrap();
    a.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while pebble::calls(&hook_dir.join("hang")).is_empty() {
        assert!(
            Instant::now() < deadline,
            "A never called its DNS hook\n{}",
            a.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = a.process.0.kill();
    let _ = a.process.0.wait();
    let orders_before = new_orders(&a, &ca) + new_orders(&b, &ca);
    let config_b = std::fs::read_to_string(&b.config).unwrap();
    std::fs::write(&b.config, format!("{config_b}{}", dns_entry(&working))).unwrap();
    b.signal("HUP");
    b.wait_served(&["killed.example.test"], None);
    assert_eq!(
        new_orders(&a, &ca) + new_orders(&b, &ca),
        orders_before,
        "B finished A's order instead of ordering again\n{}",
        b.log_text()
    );
    assert_eq!(
        orders_before, 21,
        "20, and the one A started and B finished"
    );
    assert!(b.stop());
}

#[test]
fn the_cas_renewal_window_schedules_the_daemon_and_its_order_names_what_it_replaces() {
    // Every nonce accepted: a badNonce retry would send (and count) a newOrder twice.
    let ca = Pebble::start(&[("PEBBLE_WFE_NONCEREJECT", "0")]);
    let proxy = CaProxy::start(
        &ca,
        AriScript {
            start_secs: -3600,
            end_secs: -60,
            explanation: None,
            retry_after_secs: 3600,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let name = "ari.example.test";
    // Issued by the CLI, years from expiry; the daemon finds it due by the CA's window.
    let first = issue_at(&ca, &proxy.directory, &state, name);
    let id = ari_id(&state, &proxy.directory, name);
    let setup = Setup {
        directory: Some(&proxy.directory),
        ..Setup::default()
    };
    let daemon = Daemon::start_with(
        &ca,
        &state,
        free_port(),
        &setup,
        &[r#"names = ["ari.example.test"]"#],
    );
    let old = first["serial"].as_str().unwrap();
    let renewed = daemon.wait_served(&[name], Some(old)).remove(0);
    assert_eq!(replaces(&ca, &proxy), vec![None, Some(id)]);
    // The new certificate is due by the same window, but one order does not follow another
    // at once: still one renewal a few seconds later.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(replaces(&ca, &proxy).len(), 2, "{}", daemon.log_text());
    assert_eq!(daemon.wait_served(&[name], None), vec![renewed]);
    assert!(daemon.stop());
}

/// A webhook receiver on a free port: the bodies of the POSTs it got, answered 200.
fn webhook_receiver() -> (u16, std::sync::mpsc::Receiver<serde_json::Value>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, bodies) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(10) {
            let Ok(mut stream) = stream else { continue };
            let head = read_head(&mut stream).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            let _ = stream.read_exact(&mut body);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            if let Ok(json) = serde_json::from_slice(&body) {
                let _ = sender.send(json);
            }
        }
    });
    (port, bodies)
}

#[test]
fn a_failed_renewal_is_reported_and_the_old_certificate_stays_served() {
    // No authorization reused: the renewal must publish a challenge again.
    let ca = Pebble::start(&[("PEBBLE_AUTHZREUSE", "0")]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let hooks = dir.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let hook = pebble::dns_hook(&ca, &hooks, "");
    let (webhook, reports) = webhook_receiver();
    let notify = format!("[notify]\nwebhook = \"http://127.0.0.1:{webhook}/certsmith\"\n");
    let setup = Setup {
        extra: &notify,
        ..Setup::default()
    };
    let entry = format!(
        "names = [\"g.example.test\"]\nchallenge = \"dns-01\"\ndns_hook = \"{}\"\ndns_resolver = \"127.0.0.1:{}\"",
        hook.display(),
        ca.dns_port
    );
    let daemon = Daemon::start_with(&ca, &state, free_port(), &setup, &[&entry]);
    let serial = daemon.wait_served(&["g.example.test"], None).remove(0);

    // The DNS provider breaks; a renewal is asked for.
    pebble::dns_hook(
        &ca,
        &hooks,
        "echo 'zone example.test: API token revoked' >&2; exit 7",
    );
    run(Command::new("curl")
        .args(["-fsS", "-X", "POST"])
        .arg(format!(
            "http://127.0.0.1:{}/renew/g.example.test",
            daemon.admin
        )));
    let report = reports
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("no webhook report ({e}):\n{}", daemon.log_text()));
    assert_eq!(report["name"], "g.example.test");
    assert_eq!(report["attempt"], 1);
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("API token revoked"), "{report}");
    assert!(
        report["nextTry"].is_string() && report["notAfter"].is_string(),
        "{report}"
    );

    // The old certificate is still served; the status and the metrics say what happened.
    let client = tls_client(&ca);
    assert_eq!(
        fetch(&client, daemon.https, "g.example.test").unwrap().0,
        serial
    );
    let status = daemon.status();
    let status = &status["certificates"]["g.example.test"];
    assert_eq!(status["failures"], 1, "{status}");
    assert!(
        status["lastError"]
            .as_str()
            .unwrap()
            .contains("API token revoked")
    );
    let metrics = daemon.get("/metrics");
    assert_eq!(
        counter(
            &metrics,
            "certsmith_certificate_renewals_total{result=\"failure\"}"
        ),
        1,
        "{metrics}"
    );
    assert!(daemon.log_text().contains("renewal failed (attempt 1"));
    assert!(daemon.stop());
}

/// An `ask` endpoint on a free port: 200 for `domain=allowed…`, 403 for the rest; the
/// names it was asked about.
fn ask_endpoint() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&asked);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let head = read_head(&mut stream);
            let domain = head
                .split_once("domain=")
                .map(|(_, rest)| rest.split([' ', '&']).next().unwrap_or_default().to_owned())
                .unwrap_or_default();
            let status = if domain.starts_with("allowed") {
                "200 OK"
            } else {
                "403 Forbidden"
            };
            seen.lock().unwrap().push(domain);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (port, asked)
}

#[test]
fn on_demand_tls_asks_the_ask_endpoint_before_ordering() {
    let ca = Pebble::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (ask, asked) = ask_endpoint();
    let extra = format!("[on_demand]\nask = \"http://127.0.0.1:{ask}/check\"\n");
    let setup = Setup {
        extra: &extra,
        ..Setup::default()
    };
    let daemon = Daemon::start_with(&ca, &state, free_port(), &setup, &[]);
    let client = tls_client(&ca);
    let (_, body) = fetch(&client, daemon.https, "allowed.ask.example.test").expect("allowed");
    assert_eq!(body, "hello from certsmith");
    assert!(fetch(&client, daemon.https, "denied.ask.example.test").is_err());
    assert_eq!(
        *asked.lock().unwrap(),
        vec!["allowed.ask.example.test", "denied.ask.example.test"]
    );
    let metrics = daemon.get("/metrics");
    assert_eq!(
        counter(
            &metrics,
            "certsmith_certificate_renewals_total{result=\"success\"}"
        ),
        1
    );
    assert!(
        daemon.log_text().contains("answered 403"),
        "{}",
        daemon.log_text()
    );
    assert!(daemon.stop());
}
