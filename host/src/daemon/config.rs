//! `certsmith.toml`: what `certsmith run` manages and serves. Unknown keys are refused (a
//! typo must not silently drop a setting), and every error names the file, the line and what
//! to write instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use certsmith_core::{ChallengeType, KeyType};
use serde::Deserialize;
use toml::Spanned;

use crate::storage::StorageSpec;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where files are kept (the store with `storage = "fs"`, and compiled-code caches).
    pub state_dir: Option<PathBuf>,
    /// `fs` (default) or a `redis://` / `rediss://` URL shared by a fleet.
    pub storage: Option<Spanned<String>>,
    /// The root (PEM) that signs a `rediss://` server's certificate.
    pub storage_ca_cert: Option<PathBuf>,
    /// The CA and the account.
    pub acme: Acme,
    /// The HTTPS (and HTTP) listeners.
    pub https: Option<Https>,
    /// The admin listener: `/metrics`, `/status`, `/healthz`.
    pub admin: Option<Admin>,
    /// When to renew and warn.
    #[serde(default)]
    pub renewal: Renewal,
    /// Certificates obtained during the first handshake for a name.
    pub on_demand: Option<OnDemand>,
    /// Where failures are reported.
    #[serde(default)]
    pub notify: Notify,
    /// The managed certificates.
    #[serde(default, rename = "certificate")]
    pub certificates: Vec<Spanned<Certificate>>,
}

/// `[acme]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acme {
    /// A directory URL, or letsencrypt, letsencrypt-staging, zerossl.
    pub server: String,
    /// An extra root for the CA's HTTPS (test CAs such as Pebble).
    pub ca_cert: Option<PathBuf>,
    /// The account's contact (and its name in the store).
    pub email: Option<String>,
    /// Agreement to the CA's terms of service, needed to create the account.
    #[serde(default)]
    pub accept_tos: bool,
    /// An ACME profile to ask for (e.g. Let's Encrypt's `shortlived`).
    pub profile: Option<String>,
}

/// `[https]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Https {
    /// Where TLS is served (port 443 in production; also answers TLS-ALPN-01).
    pub listen: SocketAddr,
    /// Where plain HTTP is served: HTTP-01 answers and a redirect to HTTPS.
    pub http_listen: Option<SocketAddr>,
    /// The backend HTTPS requests are forwarded to (`http://HOST:PORT`).
    pub proxy_to: Option<String>,
    /// A body to answer every HTTPS request with (instead of `proxy_to`).
    pub static_body: Option<String>,
}

/// `[admin]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Where `/metrics`, `/status` and `/healthz` are served (keep it private).
    pub listen: SocketAddr,
}

/// `[renewal]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Renewal {
    /// A certificate this close to expiry while renewal keeps failing is warned about.
    pub warn_days: u32,
    /// How often every stored certificate is read again, in seconds: the fallback for a
    /// change the store's watch missed (changes are otherwise seen at once).
    pub rescan_secs: u64,
    /// How many orders run at once.
    pub concurrency: usize,
}

impl Default for Renewal {
    fn default() -> Self {
        Self {
            warn_days: 7,
            rescan_secs: 300,
            concurrency: 8,
        }
    }
}

impl Renewal {
    /// The rescan period.
    pub fn rescan(&self) -> Duration {
        Duration::from_secs(self.rescan_secs.max(1))
    }
}

/// `[notify]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// Each failed renewal is POSTed here as JSON (https://, or http:// on loopback).
    pub webhook: Option<String>,
}

impl Notify {
    /// What is wrong with it.
    fn check(&self) -> Result<(), String> {
        match &self.webhook {
            Some(url)
                if !url.starts_with("https://")
                    && !url.starts_with("http://127.")
                    && !url.starts_with("http://localhost")
                    && !url.starts_with("http://[::1]") =>
            {
                Err(format!(
                    "webhook = {url:?}: expected an https:// URL (http:// only on loopback: a failure report names your certificates)"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// `[on_demand]`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct OnDemand {
    /// Names allowed: exact, or `*.parent` for any one label under `parent`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// An `http://` URL asked `GET URL?domain=NAME` before ordering; only 200 allows.
    pub ask: Option<String>,
    /// `http-01` (default) or `tls-alpn-01`.
    #[serde(default = "http01")]
    pub challenge: String,
    /// How long a handshake waits for its certificate, in seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// New names let through per minute, across all clients.
    #[serde(default = "default_orders_per_minute")]
    pub orders_per_minute: usize,
    /// On-demand orders running at once.
    #[serde(default = "default_max_pending")]
    pub max_pending: usize,
    /// How long a name that failed is refused, in seconds.
    #[serde(default = "default_failure_backoff_secs")]
    pub failure_backoff_secs: u64,
}

/// The default handshake wait.
fn default_timeout_secs() -> u64 {
    30
}

/// The default new names per minute.
fn default_orders_per_minute() -> usize {
    10
}

/// The default cap on on-demand orders running.
fn default_max_pending() -> usize {
    20
}

/// The default refusal after a failure.
fn default_failure_backoff_secs() -> u64 {
    300
}

impl OnDemand {
    /// What is wrong with it, given the listeners.
    fn check(&self, https: Option<&Https>) -> Result<(), String> {
        let Some(https) = https else {
            return Err("on-demand TLS needs [https] listen".into());
        };
        if self.allow.is_empty() && self.ask.is_none() {
            return Err("say which names may get a certificate: allow = [\"*.example.com\"] and/or ask = \"http://127.0.0.1:8081/allowed\"".into());
        }
        if let Some(bad) = self
            .allow
            .iter()
            .find(|p| p.trim_start_matches("*.").contains('*'))
        {
            return Err(format!("allow: {bad:?}: a pattern is a name or *.parent"));
        }
        if let Some(ask) = &self.ask
            && !ask.starts_with("http://")
        {
            return Err(format!(
                "ask = {ask:?}: expected an http:// URL (a local service)"
            ));
        }
        let probe = Certificate {
            names: vec!["on-demand.invalid".into()],
            challenge: self.challenge.clone(),
            dns_hook: None,
            dns_resolver: None,
            key_type: None,
            deploy_hook: None,
        };
        if probe.challenge_type()? == ChallengeType::Dns01 {
            return Err(
                "challenge = \"dns-01\" cannot be used on demand: use http-01 or tls-alpn-01"
                    .into(),
            );
        }
        probe.check(Some(https))
    }

    /// The certificate entry of an on-demand name.
    pub fn certificate(&self, name: String) -> Certificate {
        Certificate {
            names: vec![name],
            challenge: self.challenge.clone(),
            dns_hook: None,
            dns_resolver: None,
            key_type: None,
            deploy_hook: None,
        }
    }
}

/// One `[[certificate]]`.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// The names; the first names the lineage.
    pub names: Vec<String>,
    /// `http-01` (default), `tls-alpn-01` or `dns-01`.
    #[serde(default = "http01")]
    pub challenge: String,
    /// For dns-01: `CMD present|cleanup <fqdn> <value>`.
    pub dns_hook: Option<String>,
    /// For dns-01: where to check the TXT record.
    pub dns_resolver: Option<SocketAddr>,
    /// `p256` (default) or `p384`.
    pub key_type: Option<String>,
    /// Run after each new certificate is stored (paths in `CERTSMITH_*` variables).
    pub deploy_hook: Option<String>,
}

/// The default challenge.
fn http01() -> String {
    "http-01".to_owned()
}

/// A config that cannot be used: what is wrong, and where.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Certificate {
    /// The challenge type.
    pub fn challenge_type(&self) -> Result<ChallengeType, String> {
        self.challenge.parse().map_err(|_| {
            format!(
                "challenge = {:?} is not one of \"http-01\", \"tls-alpn-01\", \"dns-01\"",
                self.challenge
            )
        })
    }

    /// The key type.
    pub fn key_type(&self) -> Result<KeyType, String> {
        match self.key_type.as_deref() {
            None => Ok(KeyType::default()),
            Some(text) => text
                .parse()
                .map_err(|_| format!("key_type = {text:?} is not one of \"p256\", \"p384\"")),
        }
    }
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text, path)
    }

    /// Parses and checks `text`, read from `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.to_string().trim())))?;
        let at = |span: std::ops::Range<usize>, why: String| {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            ConfigError(format!("{}, line {line}: {why}", path.display()))
        };
        if let Some(storage) = &config.storage {
            storage
                .get_ref()
                .parse::<StorageSpec>()
                .map_err(|why| at(storage.span(), format!("storage: {why}")))?;
        }
        if let Some(https) = &config.https {
            https
                .check()
                .map_err(|why| ConfigError(format!("{}, [https]: {why}", path.display())))?;
        }
        config
            .notify
            .check()
            .map_err(|why| ConfigError(format!("{}, [notify]: {why}", path.display())))?;
        if let Some(on_demand) = &config.on_demand {
            on_demand
                .check(config.https.as_ref())
                .map_err(|why| ConfigError(format!("{}, [on_demand]: {why}", path.display())))?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for certificate in &config.certificates {
            let span = certificate.span();
            let cert = certificate.get_ref();
            cert.check(config.https.as_ref())
                .map_err(|why| at(span.clone(), why))?;
            let name = crate::layout::cert_name(&cert.names[0]);
            if !seen.insert(name.clone()) {
                return Err(at(
                    span,
                    format!(
                        "a second [[certificate]] starts with {name}: merge them or put another name first"
                    ),
                ));
            }
        }
        Ok(config)
    }

    /// The store.
    pub fn storage(&self) -> StorageSpec {
        let spec = self
            .storage
            .as_ref()
            .and_then(|s| s.get_ref().parse().ok())
            .unwrap_or(StorageSpec::Files);
        spec.trusting(self.storage_ca_cert.clone())
    }
}

impl Https {
    /// What is wrong with the site settings.
    fn check(&self) -> Result<(), String> {
        if self.proxy_to.is_some() && self.static_body.is_some() {
            return Err("set proxy_to or static_body, not both".into());
        }
        if let Some(backend) = &self.proxy_to {
            super::proxy::Proxy::new(backend)?;
        }
        Ok(())
    }
}

impl Certificate {
    /// What is wrong with this entry, given the listeners it can use.
    fn check(&self, https: Option<&Https>) -> Result<(), String> {
        if self.names.is_empty() {
            return Err("[[certificate]] needs names = [\"example.com\", …]".into());
        }
        // The check every order makes, here at start rather than at the first order.
        certsmith_core::normalize_identifiers(&crate::commands::issue::identifiers(&self.names))
            .map_err(|e| format!("names: {e}"))?;
        self.key_type()?;
        match self.challenge_type()? {
            ChallengeType::Http01 if https.and_then(|h| h.http_listen).is_none() => Err(
                "challenge = \"http-01\" needs [https] http_listen = \"ADDR:80\" to answer the CA"
                    .into(),
            ),
            ChallengeType::TlsAlpn01 if https.is_none() => Err(
                "challenge = \"tls-alpn-01\" needs [https] listen = \"ADDR:443\" to answer the CA"
                    .into(),
            ),
            ChallengeType::Dns01 if self.dns_hook.is_none() => {
                Err("challenge = \"dns-01\" needs dns_hook = \"CMD\" (called as CMD present|cleanup FQDN VALUE)".into())
            }
            _ if self.names.iter().any(|n| n.starts_with("*."))
                && self.challenge_type()? != ChallengeType::Dns01 =>
            {
                Err("a wildcard name needs challenge = \"dns-01\" (the CA validates wildcards only over DNS)".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
state_dir = "/var/lib/certsmith"
[acme]
server = "https://localhost:14000/dir"
email = "ops@example.com"
accept_tos = true
[https]
listen = "127.0.0.1:8443"
http_listen = "127.0.0.1:5002"
static_body = "hello"
[admin]
listen = "127.0.0.1:9090"
[[certificate]]
names = ["a.example.test", "www.a.example.test"]
[[certificate]]
names = ["b.example.test"]
challenge = "tls-alpn-01"
key_type = "p384"
"#;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("certsmith.toml")).map_err(|e| e.0)
    }

    #[test]
    fn the_documented_example_parses() {
        let config = parse(GOOD).unwrap();
        assert_eq!(config.certificates.len(), 2);
        assert_eq!(
            config.certificates[1].get_ref().key_type().unwrap(),
            KeyType::P384
        );
        assert_eq!(config.storage(), StorageSpec::Files);
        assert_eq!(config.renewal.warn_days, 7);
    }

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../../README.md");
        let section = &readme[readme.find("## Leave it running").unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let config = parse(example).unwrap();
        assert_eq!(config.acme.profile.as_deref(), Some("shortlived"));
        assert_eq!(config.renewal.concurrency, 8);
        assert_eq!(config.certificates.len(), 1);
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_fix() {
        let typo = GOOD.replace("static_body", "static_bdy");
        let e = parse(&typo).unwrap_err();
        assert!(e.starts_with("certsmith.toml: "), "{e}");
        assert!(e.contains("line 10") && e.contains("static_bdy"), "{e}");

        let bad = GOOD.replace("\"tls-alpn-01\"", "\"tls-alpn\"");
        let e = parse(&bad).unwrap_err();
        assert!(e.starts_with("certsmith.toml, line 15:"), "{e}");
        assert!(
            e.contains("\"http-01\", \"tls-alpn-01\", \"dns-01\""),
            "{e}"
        );

        let no_http = GOOD.replace("http_listen = \"127.0.0.1:5002\"\n", "");
        let e = parse(&no_http).unwrap_err();
        assert!(e.contains("line 12") && e.contains("http_listen"), "{e}");

        let dup = format!("{GOOD}[[certificate]]\nnames = [\"a.example.test\"]\n");
        assert!(parse(&dup).unwrap_err().contains("second [[certificate]]"));

        let wildcard = GOOD.replace("\"b.example.test\"", "\"*.b.example.test\"");
        assert!(parse(&wildcard).unwrap_err().contains("dns-01"));

        let both = GOOD.replace(
            "static_body",
            "proxy_to = \"http://127.0.0.1:8080\"\nstatic_body",
        );
        assert!(parse(&both).unwrap_err().contains("not both"));
        let https_backend = GOOD.replace("static_body = \"hello\"", "proxy_to = \"https://b:1\"");
        let e = parse(&https_backend).unwrap_err();
        assert!(
            e.contains("[https]: proxy_to") && e.contains("http://HOST:PORT"),
            "{e}"
        );

        let on_demand = format!("{GOOD}[on_demand]\nchallenge = \"http-01\"\n");
        assert!(
            parse(&on_demand)
                .unwrap_err()
                .contains("[on_demand]: say which names")
        );
        let on_demand = format!("{GOOD}[on_demand]\nallow = [\"*.d.test\"]\nask = \"https://x\"\n");
        assert!(parse(&on_demand).unwrap_err().contains("http:// URL"));
        let on_demand = format!("{GOOD}[on_demand]\nallow = [\"*.d.test\"]\n");
        assert_eq!(
            parse(&on_demand)
                .unwrap()
                .on_demand
                .unwrap()
                .orders_per_minute,
            10
        );

        let storage = format!("storage = \"postgres://x\"\n{GOOD}");
        let e = parse(&storage).unwrap_err();
        assert!(e.contains("line 1: storage: unknown storage"), "{e}");
    }
}
