//! The Pebble harness shared by the end-to-end test binaries: a throwaway CA and
//! pebble-challtestsrv on free loopback ports, the certsmith binary, and checks of what it
//! issued. The Pebble transcript recorder (`tools/transcripts/examples/record_pebble.rs`)
//! compiles it in too, for [`Pebble::start`].

// Each test binary uses a part of the harness.
#![allow(dead_code)]
// Test helpers: a panic with a message is how they report a broken expectation.
#![allow(clippy::expect_used)]

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

pub mod ca_proxy;
/// The EAB HMAC key of Pebble's example EAB configuration (base64url).
pub const EAB_HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

/// How often the harness starts a CA on fresh ports before it gives up.
const START_ATTEMPTS: usize = 3;

/// How long a started server (the CA, a test's certsmith) may take to listen: generous,
/// because the tests of a binary start their servers at once on two cores.
const LISTEN_WITHIN: Duration = Duration::from_secs(30);

/// The lowest port the harness hands out: below it are well-known services.
const FIRST_TEST_PORT: u16 = 20_000;

/// A loopback port that is free now (TCP and UDP) and that no other call in this process
/// returns. Ports come from below the kernel's ephemeral range, so no client connection of
/// a running test (curl, certsmith, Pebble's validations) can take a port before the server
/// meant for it binds it; the ephemeral range is read from
/// `/proc/sys/net/ipv4/ip_local_port_range`.
pub fn free_port() -> u16 {
    static HANDED_OUT: AtomicU16 = AtomicU16::new(0);
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_start.saturating_sub(FIRST_TEST_PORT).max(1);
    // Processes started at the same time begin at different places in the span.
    let offset = (std::process::id() % u32::from(span)) as u16;
    for _ in 0..span {
        let n = HANDED_OUT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST_TEST_PORT + (offset.wrapping_add(n) % span);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if TcpListener::bind(addr).is_ok() && UdpSocket::bind(addr).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {FIRST_TEST_PORT} and {ephemeral_start}")
}

/// Waits (at most [`LISTEN_WITHIN`]) until `port` accepts connections, failing early when
/// one of `children` has exited.
fn listening(children: &mut [Child], port: u16) -> Result<(), String> {
    let deadline = Instant::now() + LISTEN_WITHIN;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        for child in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "a CA process exited ({status}) before port {port} listened"
                ));
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "nothing listened on port {port} within {LISTEN_WITHIN:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The last lines of each log file `names` in `dir`, one line per file, for a failure
/// message.
fn log_tails(dir: &Path, names: &[&str]) -> String {
    let tails: Vec<String> = names
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(5)..];
            format!("  {name}: {}", tail.join(" | "))
        })
        .collect();
    tails.join("\n")
}

/// Runs a command that must succeed.
pub fn run(command: &mut Command) -> Output {
    let output = command.output().expect("command starts");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Pebble and challtestsrv on free loopback ports; both are killed on drop.
pub struct Pebble {
    pub dir: tempfile::TempDir,
    pub children: Vec<Child>,
    pub directory: String,
    pub management: u16,
    pub http_port: u16,
    pub tls_port: u16,
    pub dns_port: u16,
    pub dns_management: u16,
}

impl Pebble {
    /// Starts a fresh CA (no state, new roots) with `env` for Pebble.
    pub fn start(env: &[(&str, &str)]) -> Self {
        Self::start_with(env, r#""externalAccountBindingRequired": false"#)
    }

    /// Starts a CA that requires external account binding with key `kid-1`.
    pub fn start_eab() -> Self {
        Self::start_with(
            &[],
            &format!(
                r#""externalAccountBindingRequired": true, "externalAccountMACKeys": {{"kid-1": "{EAB_HMAC}"}}"#
            ),
        )
    }

    /// Starts a fresh CA in Pebble's `-strict` mode (upcoming breaking API changes on)
    /// with `env`.
    pub fn start_strict(env: &[(&str, &str)]) -> Self {
        Self::start_full(
            env,
            r#""externalAccountBindingRequired": false"#,
            &["-strict"],
        )
    }

    /// Starts a fresh CA with extra Pebble config members.
    pub fn start_with(env: &[(&str, &str)], extra_config: &str) -> Self {
        Self::start_full(env, extra_config, &[])
    }

    /// Starts a fresh CA with `env`, extra config members and extra Pebble arguments.
    fn start_full(env: &[(&str, &str)], extra_config: &str, pebble_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
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
        let mut dir = dir;
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::launch(dir, env, (extra_config, pebble_args)) {
                Ok(ca) => return ca,
                Err((returned, failure)) => {
                    dir = returned;
                    failures.push(failure);
                }
            }
        }
        panic!(
            "Pebble did not start in {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        )
    }

    /// Starts challtestsrv and Pebble on fresh ports with the TLS files in `dir`, and waits
    /// until both listen. On failure both are stopped, `dir` is handed back and the error
    /// says which port or process failed, with the tail of their logs.
    fn launch(
        dir: tempfile::TempDir,
        env: &[(&str, &str)],
        (extra_config, pebble_args): (&str, &[&str]),
    ) -> Result<Self, (tempfile::TempDir, String)> {
        let d = dir.path();
        let (listen, management, http_port, tls_port, dns, dns_mgmt) = (
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        );
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{listen}", "managementListenAddress": "127.0.0.1:{management}",
            "certificate": "{0}/localhost.pem", "privateKey": "{0}/localhost.key", "httpPort": {http_port},
            "tlsPort": {tls_port}, "ocspResponderURL": "", {extra_config}}}}}"#,
            d.display(),
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
            .stderr(log("challtestsrv.err"))
            .spawn()
            .expect("pebble-challtestsrv (Debian package pebble) starts");
        let mut command = Command::new("pebble");
        command
            .args(["-config", &d.join("pebble.json").display().to_string()])
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .args(pebble_args)
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"));
        for (k, v) in env {
            command.env(k, v);
        }
        let pebble = command.spawn().expect("pebble starts");
        let mut children = vec![challtestsrv, pebble];
        let listening = [dns_mgmt, listen, management]
            .into_iter()
            .try_for_each(|port| listening(&mut children, port));
        if let Err(failure) = listening {
            for child in &mut children {
                let _ = child.kill();
                let _ = child.wait();
            }
            let logs = log_tails(d, &["challtestsrv.err", "pebble.log", "pebble.err"]);
            return Err((dir, format!("{failure}\n{logs}")));
        }
        Ok(Self {
            dir,
            children,
            directory: format!("https://localhost:{listen}/dir"),
            management,
            http_port,
            tls_port,
            dns_port: dns,
            dns_management: dns_mgmt,
        })
    }

    /// Waits (at most [`LISTEN_WITHIN`]) until a port accepts connections.
    pub fn wait_for(&self, port: u16) {
        if let Err(failure) = listening(&mut [], port) {
            panic!("{failure}");
        }
    }

    /// The URL of a directory endpoint (`newAccount`, `newOrder`, …): Pebble's paths are
    /// deliberately odd, never guessed.
    pub fn endpoint(&self, name: &str) -> String {
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
    pub fn tls_root(&self) -> PathBuf {
        self.dir.path().join("root.pem")
    }

    /// Pebble's issuing root, from its management API.
    pub fn issuing_root(&self) -> PathBuf {
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

/// The certsmith binary with a state dir. Cargo names the binary only to the host's own
/// tests; the harness is also compiled into the Pebble transcript recorder
/// (`tools/transcripts/examples/record_pebble.rs`), which has no certsmith binary and never
/// calls this.
pub fn certsmith(state: &Path) -> Command {
    let Some(binary) = option_env!("CARGO_BIN_EXE_certsmith") else {
        panic!("no certsmith binary: only the host's tests have one")
    };
    let mut command = Command::new(binary);
    command.arg("--state-dir").arg(state).env_remove("RUST_LOG");
    command
}

/// `certsmith issue` against `ca` answering HTTP-01 on Pebble's validation port.
pub fn issue(ca: &Pebble, state: &Path, names: &[&str], extra: &[&str]) -> Output {
    let http = format!("127.0.0.1:{}", ca.http_port);
    issue_via(ca, state, names, &["--http", &http], extra)
}

/// `certsmith issue --json` against `ca` with the `solver` flags.
pub fn issue_via(
    ca: &Pebble,
    state: &Path,
    names: &[&str],
    solver: &[&str],
    extra: &[&str],
) -> Output {
    issue_command(ca, state, names, solver)
        .args(extra)
        .output()
        .expect("certsmith runs")
}

/// The command line of `certsmith issue --json` against `ca` with the `solver` flags.
pub fn issue_command<S: AsRef<std::ffi::OsStr>>(
    ca: &Pebble,
    state: &Path,
    names: &[&str],
    solver: &[S],
) -> Command {
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
    command.args(solver);
    for name in names {
        command.args(["-d", name]);
    }
    command
}

/// `certsmith issue` of the one name `name` over HTTP-01, checked: its JSON report.
pub fn issued(ca: &Pebble, state: &Path, name: &str) -> serde_json::Value {
    check_issued(ca, &issue(ca, state, &[name], &[]), &[name])
}

/// Checks the stored certificate: verifies against Pebble's root, names `names`, key 0600.
pub fn check_issued(ca: &Pebble, output: &Output, names: &[&str]) -> serde_json::Value {
    assert!(
        output.status.success(),
        "issue failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let path = |k: &str| PathBuf::from(report[k].as_str().expect(k));
    verify_chain(ca, &path("cert"), &path("chain"));
    let inspect = run(certsmith(Path::new("/nonexistent"))
        .args(["--json", "inspect"])
        .arg(path("fullchain")));
    let certs: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("inspect JSON");
    assert_names(&certs[0], names);
    let mode = std::fs::metadata(path("key"))
        .expect("key")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "certificate key must be 0600");
    report
}

/// Checks with openssl that `cert` chains through `chain` to Pebble's issuing root.
pub fn verify_chain(ca: &Pebble, cert: &Path, chain: &Path) {
    let verify = run(Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca.issuing_root())
        .arg("-untrusted")
        .arg(chain)
        .arg(cert));
    assert!(String::from_utf8_lossy(&verify.stdout).contains(": OK"));
}

/// Checks a certificate `issue --json` stored in Redis at `url`: its chain, read back from
/// Redis, verifies against Pebble's root, and `certsmith list` finds it whole with `names`.
pub fn check_issued_in_redis(ca: &Pebble, output: &Output, names: &[&str], url: &str) {
    assert!(
        output.status.success(),
        "issue failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let lineage = report["lineage"].as_str().expect("lineage");
    let files = tempfile::tempdir().expect("tempdir");
    for file in ["cert.pem", "chain.pem"] {
        let value = redis_get(url, &format!("{lineage}/{file}"));
        std::fs::write(files.path().join(file), value).expect("write");
    }
    verify_chain(
        ca,
        &files.path().join("cert.pem"),
        &files.path().join("chain.pem"),
    );
    let list = run(certsmith(Path::new("/nonexistent")).args(["--storage", url, "--json", "list"]));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).expect("list JSON");
    let entry = listed
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["name"] == report["name"])
        .expect("listed");
    assert_names(entry, names);
}

/// Checks that a certificate's JSON (from `inspect` or `list`) names exactly `names`.
pub fn assert_names(certificate: &serde_json::Value, names: &[&str]) {
    let mut got: Vec<&str> = certificate["names"]
        .as_array()
        .expect("names")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    let mut want = names.to_vec();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

/// The value of `key` in Redis at `url` (`redis://127.0.0.1:PORT`).
pub fn redis_get(url: &str, key: &str) -> Vec<u8> {
    let port = url.rsplit(':').next().expect("port");
    run(Command::new("redis-cli").args(["-p", port, "--raw", "GET", key])).stdout
}

/// The CA's directory name in the state dir.
pub fn ca_dir(ca: &Pebble) -> String {
    ca.directory
        .trim_start_matches("https://")
        .replace([':', '/'], "-")
}

impl Pebble {
    /// Pebble's view of a certificate's status (management API), by serial (hex).
    pub fn certificate_status(&self, serial: &str) -> String {
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
pub fn copy_tree(from: &Path, to: &Path) {
    run(Command::new("cp").arg("-a").arg(from).arg(to));
}

/// The admin secret the tests give the plugin.
pub const SECRET: &str = "edge-test-secret";

/// A child process killed (by PID) when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `certsmith plugin serve` on `port` with the store `kv` and `extra` options, the admin
/// secret set; its log (at `info`) goes to `plugin-serve.log` in the state directory.
pub fn plugin_serve(ca: &Pebble, state: &Path, port: u16, kv: &str, extra: &[&str]) -> Running {
    let log = std::fs::File::create(plugin_serve_log(state)).expect("plugin serve's log");
    let child = certsmith(state)
        .args(["plugin", "serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--kv", kv])
        .args(extra)
        .env("SPIN_VARIABLE_ADMIN_SECRET", SECRET)
        .env("RUST_LOG", "certsmith=info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("certsmith plugin serve starts");
    let running = Running(child);
    ca.wait_for(port);
    running
}

/// Where [`plugin_serve`] writes the log of the plugin serving `state`.
pub fn plugin_serve_log(state: &Path) -> std::path::PathBuf {
    state.join("plugin-serve.log")
}

/// A throwaway redis-server (Debian `redis-server`) on a free loopback port, no persistence.
pub fn redis() -> (Running, String) {
    let port = free_port();
    let mut command = Command::new("redis-server");
    command.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
    (
        start_redis(command, port),
        format!("redis://127.0.0.1:{port}"),
    )
}

/// A redis-server speaking only TLS on a free loopback port, with Pebble's own `localhost`
/// certificate (so Pebble's TLS root, `ca.tls_root()`, is the one to trust); its
/// `rediss://` URL.
pub fn redis_tls(ca: &Pebble) -> (Running, String) {
    let port = free_port();
    let dir = ca.dir.path();
    let mut command = Command::new("redis-server");
    command
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--tls-auth-clients", "no"])
        .arg("--tls-cert-file")
        .arg(dir.join("localhost.pem"))
        .arg("--tls-key-file")
        .arg(dir.join("localhost.key"))
        .arg("--tls-ca-cert-file")
        .arg(ca.tls_root());
    (
        start_redis(command, port),
        format!("rediss://localhost:{port}"),
    )
}

/// Starts `command` (a redis-server listening on `port`) without persistence and waits
/// until it listens.
fn start_redis(mut command: Command, port: u16) -> Running {
    let child = command
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (Debian package redis-server) starts");
    let running = Running(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "redis did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    running
}

/// The keys in Redis matching `pattern`.
pub fn redis_keys(url: &str, pattern: &str) -> Vec<String> {
    let port = url.rsplit(':').next().expect("port");
    let out = run(Command::new("redis-cli").args(["-p", port, "--raw", "keys", pattern]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Writes an executable DNS hook script that publishes and clears TXT records in
/// challtestsrv and logs each call to `calls.log` beside it. `before_present` runs first on
/// `present` (to make the hook fail, or hang).
pub fn dns_hook(ca: &Pebble, dir: &Path, before_present: &str) -> PathBuf {
    let script = dir.join("hook.sh");
    let log = dir.join("calls.log");
    let management = format!("http://127.0.0.1:{}", ca.dns_management);
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
set -e
echo "$1 $2 $3" >> '{log}'
case "$1" in
  present)
    {before_present}
    curl -fsS -X POST -d "{{\"host\":\"$2\",\"value\":\"$3\"}}" {management}/set-txt ;;
  cleanup)
    curl -fsS -X POST -d "{{\"host\":\"$2\"}}" {management}/clear-txt ;;
esac
"#,
            log = log.display(),
        ),
    )
    .expect("hook script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

/// The `--dns-hook` solver flags for `hook`, checking visibility at challtestsrv's DNS.
pub fn dns_flags(ca: &Pebble, hook: &Path) -> Vec<String> {
    vec![
        "--dns-hook".into(),
        hook.display().to_string(),
        "--dns-resolver".into(),
        format!("127.0.0.1:{}", ca.dns_port),
    ]
}

/// The lines of the hook's call log.
pub fn calls(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}
