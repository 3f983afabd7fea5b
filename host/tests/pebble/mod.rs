//! The Pebble harness shared by the end-to-end test binaries: a throwaway CA and
//! pebble-challtestsrv on free loopback ports, the certsmith binary, and checks of what it
//! issued.

// Each test binary uses a part of the harness.
#![allow(dead_code)]
// Test helpers: a panic with a message is how they report a broken expectation.
#![allow(clippy::expect_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
/// The EAB HMAC key of Pebble's example EAB configuration (base64url).
pub const EAB_HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
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

    /// Starts a fresh CA with extra Pebble config members.
    pub fn start_with(env: &[(&str, &str)], extra_config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let (listen, management, http_port, tls_port, dns, dns_mgmt) = (
            free_port(),
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
            tls_port,
            dns_port: dns,
            dns_management: dns_mgmt,
        };
        ca.wait_for(listen);
        ca.wait_for(management);
        ca
    }

    /// Waits (at most 10 s) until a port accepts connections.
    pub fn wait_for(&self, port: u16) {
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

/// The certsmith binary with a state dir.
pub fn certsmith(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_certsmith"));
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

/// Checks the stored certificate: verifies against Pebble's root, names `names`, key 0600.
pub fn check_issued(ca: &Pebble, output: &Output, names: &[&str]) -> serde_json::Value {
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
