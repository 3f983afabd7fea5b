//! How a certificate was obtained: what `issue` was given (solver and its options, key type,
//! profile, preferred chain, deploy hook, account, extra CA roots), kept in the lineage's
//! `meta.json` so that `renew` repeats it and `certsmith renew --all` needs no flags.
//! Secrets (`--eab-hmac`, `--edge-secret`) are never kept.

use std::net::SocketAddr;
use std::path::PathBuf;

use certsmith_core::KeyType;
use serde::{Deserialize, Serialize};

use crate::cli::ObtainArgs;

/// What `issue` was given, as kept in `meta.json` under `"obtainedWith"`.
#[derive(Serialize, Deserialize, Default, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Recipe {
    /// How the challenges were answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solver: Option<SolverRecipe>,
    /// The certificate key's type (`p256`, `p384`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// The ACME profile asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The preferred chain's top issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_chain: Option<String>,
    /// The command run after the certificate was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_hook: Option<String>,
    /// How long a hook run may take, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_timeout_secs: Option<u64>,
    /// The account's contact address (it names the account in the store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Extra roots trusted for the CA's HTTPS.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ca_certs: Vec<PathBuf>,
}

/// The solver flags `issue` was given.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SolverRecipe {
    /// `--http ADDR:PORT`.
    Http {
        /// Where the built-in HTTP-01 server listened.
        listen: SocketAddr,
    },
    /// `--webroot DIR`.
    Webroot {
        /// The web server's document root.
        dir: PathBuf,
    },
    /// `--tls-alpn ADDR:PORT`.
    TlsAlpn {
        /// Where the built-in TLS-ALPN-01 server listened.
        listen: SocketAddr,
    },
    /// `--dns-hook CMD` with its resolver and timeout.
    DnsHook {
        /// The hook command.
        command: String,
        /// `--dns-resolver`.
        #[serde(skip_serializing_if = "Option::is_none")]
        resolver: Option<SocketAddr>,
        /// `--dns-timeout`, in seconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_secs: Option<u64>,
    },
    /// `--http-kv`.
    HttpKv,
    /// `--http-edge URL` (the secret is not kept; the file it was read from is).
    HttpEdge {
        /// The edge plugin's base URL.
        url: String,
        /// `--edge-secret-file`.
        #[serde(skip_serializing_if = "Option::is_none")]
        secret_file: Option<PathBuf>,
    },
}

impl SolverRecipe {
    /// The solver flags of `args`, if any.
    fn of(args: &ObtainArgs) -> Option<Self> {
        if let Some(listen) = args.http {
            return Some(Self::Http { listen });
        }
        if let Some(dir) = &args.webroot {
            return Some(Self::Webroot { dir: dir.clone() });
        }
        if let Some(listen) = args.tls_alpn {
            return Some(Self::TlsAlpn { listen });
        }
        if let Some(command) = &args.dns_hook {
            return Some(Self::DnsHook {
                command: command.clone(),
                resolver: args.dns_resolver,
                timeout_secs: args.dns_timeout,
            });
        }
        if args.http_kv {
            return Some(Self::HttpKv);
        }
        args.http_edge.as_ref().map(|url| Self::HttpEdge {
            url: url.clone(),
            secret_file: args.edge_secret_file.clone(),
        })
    }

    /// Sets these solver flags on `args`.
    fn apply(self, args: &mut ObtainArgs) {
        match self {
            Self::Http { listen } => args.http = Some(listen),
            Self::Webroot { dir } => args.webroot = Some(dir),
            Self::TlsAlpn { listen } => args.tls_alpn = Some(listen),
            Self::DnsHook {
                command,
                resolver,
                timeout_secs,
            } => {
                args.dns_hook = Some(command);
                args.dns_resolver = args.dns_resolver.or(resolver);
                args.dns_timeout = args.dns_timeout.or(timeout_secs);
            }
            Self::HttpKv => args.http_kv = true,
            Self::HttpEdge { url, secret_file } => {
                args.http_edge = Some(url);
                args.edge_secret_file = args.edge_secret_file.take().or(secret_file);
            }
        }
    }

    /// The flags, as a user would type them (for progress lines).
    pub fn flags(&self) -> String {
        match self {
            Self::Http { listen } => format!("--http {listen}"),
            Self::Webroot { dir } => format!("--webroot {}", dir.display()),
            Self::TlsAlpn { listen } => format!("--tls-alpn {listen}"),
            Self::DnsHook { command, .. } => format!("--dns-hook {command:?}"),
            Self::HttpKv => "--http-kv".to_owned(),
            Self::HttpEdge { url, .. } => format!("--http-edge {url}"),
        }
    }
}

impl Recipe {
    /// What `args` asks for.
    pub fn of(args: &ObtainArgs) -> Self {
        Self {
            solver: SolverRecipe::of(args),
            key_type: args.key_type.map(|k| k.as_str().to_owned()),
            profile: args.profile.clone(),
            preferred_chain: args.preferred_chain.clone(),
            deploy_hook: args.deploy_hook.clone(),
            hook_timeout_secs: args.hook_timeout,
            email: args.ca.email.clone(),
            ca_certs: args.ca.ca_cert.clone(),
        }
    }

    /// The recipe kept in a lineage's `meta.json` (empty for lineages stored before recipes
    /// were kept, or an unreadable one).
    pub fn from_meta(meta: &serde_json::Value) -> Self {
        serde_json::from_value(meta["obtainedWith"].clone()).unwrap_or_default()
    }

    /// `args` with what it leaves out taken from this recipe: the command line wins
    /// wherever it says something (a solver flag replaces the remembered solver whole).
    pub fn under(self, args: &ObtainArgs) -> ObtainArgs {
        let mut args = args.clone();
        if !args.names_a_solver()
            && let Some(solver) = self.solver
        {
            solver.apply(&mut args);
        }
        args.key_type = args
            .key_type
            .or_else(|| self.key_type.and_then(|k| k.parse::<KeyType>().ok()));
        args.profile = args.profile.or(self.profile);
        args.preferred_chain = args.preferred_chain.or(self.preferred_chain);
        args.deploy_hook = args.deploy_hook.or(self.deploy_hook);
        args.hook_timeout = args.hook_timeout.or(self.hook_timeout_secs);
        args.ca.email = args.ca.email.or(self.email);
        if args.ca.ca_cert.is_empty() {
            args.ca.ca_cert = self.ca_certs;
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    /// The obtain flags of `certsmith renew --all ARGS…`.
    fn renew_args(args: &[&str]) -> ObtainArgs {
        let cli = Cli::try_parse_from(["certsmith", "renew", "--all"].iter().chain(args))
            .unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            Command::Renew(renew) => renew.obtain,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn a_recipe_survives_meta_json_and_fills_what_renew_leaves_out() {
        let issued = renew_args(&[
            "--dns-hook",
            "/usr/local/bin/dns-hook",
            "--dns-resolver",
            "127.0.0.1:8053",
            "--dns-timeout",
            "30",
            "--key-type",
            "p384",
            "--profile",
            "shortlived",
            "--preferred-chain",
            "Root X2",
            "--deploy-hook",
            "systemctl reload nginx",
            "--email",
            "ops@example.test",
            "--ca-cert",
            "/etc/ca.pem",
            "--eab-kid",
            "kid",
            "--eab-hmac",
            "secret-hmac",
        ]);
        let recipe = Recipe::of(&issued);
        let meta = serde_json::json!({ "obtainedWith": recipe });
        let text = meta.to_string();
        assert!(!text.contains("secret-hmac"), "no secret kept: {text}");
        let renewed = Recipe::from_meta(&meta).under(&renew_args(&[]));
        assert_eq!(Recipe::of(&renewed), recipe);
        assert_eq!(renewed.dns_timeout, Some(30));
        assert_eq!(renewed.key_type, Some(KeyType::P384));
    }

    #[test]
    fn the_command_line_wins_and_a_solver_flag_replaces_the_remembered_solver_whole() {
        let issued = renew_args(&[
            "--dns-hook",
            "hook",
            "--dns-timeout",
            "30",
            "--key-type",
            "p384",
        ]);
        let recipe = Recipe::of(&issued);
        let renewed = recipe.under(&renew_args(&[
            "--http",
            "127.0.0.1:80",
            "--key-type",
            "p256",
        ]));
        assert_eq!(renewed.http, Some("127.0.0.1:80".parse().expect("addr")));
        assert_eq!(renewed.dns_hook, None);
        assert_eq!(renewed.dns_timeout, None);
        assert_eq!(renewed.key_type, Some(KeyType::P256));
    }

    #[test]
    fn a_lineage_without_a_recipe_renews_with_the_command_line_alone() {
        let meta = serde_json::json!({ "directory": "https://ca/dir" });
        let args = renew_args(&["--webroot", "/srv/www"]);
        let renewed = Recipe::from_meta(&meta).under(&args);
        assert_eq!(Recipe::of(&renewed), Recipe::of(&args));
    }
}
