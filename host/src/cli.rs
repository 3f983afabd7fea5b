//! The command line: familiar to lego and certbot users; every flag also reads a
//! `CERTSMITH_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use certsmith_core::KeyType;
use clap::{Args, Parser, Subcommand};

use crate::storage::StorageSpec;

/// HTTPS certificates over ACME, with the protocol engine sandboxed in WebAssembly.
#[derive(Parser, Debug)]
#[command(name = "certsmith", version, about)]
pub struct Cli {
    /// Where accounts, certificates and order snapshots live [default: the user's data
    /// directory, e.g. ~/.local/share/certsmith].
    #[arg(long, env = "CERTSMITH_STATE_DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Where everything is kept: `fs` (files in the state directory) or a Redis server
    /// (`redis://HOST:PORT/DB`, `rediss://` for TLS) shared by a fleet and the edge plugin.
    #[arg(
        long,
        alias = "kv",
        env = "CERTSMITH_STORAGE",
        global = true,
        default_value = "fs",
        value_parser = parse_storage
    )]
    pub storage: StorageSpec,
    /// Trust this root certificate (PEM) for a `rediss://` store instead of the system's
    /// roots (a Redis with its own CA).
    #[arg(
        long = "storage-ca-cert",
        env = "CERTSMITH_STORAGE_CA_CERT",
        global = true
    )]
    pub storage_ca_cert: Option<PathBuf>,
    /// Print one JSON result object on stdout instead of progress lines.
    #[arg(long, env = "CERTSMITH_JSON", global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Obtain a certificate (resuming an order a crash interrupted).
    Issue(IssueArgs),
    /// Renew stored certificates that are due (1/3 of their lifetime left), or all with --force.
    Renew(RenewArgs),
    /// Revoke a stored certificate (or one given as a file) at its CA.
    Revoke(RevokeArgs),
    /// List the stored certificates: names, issuer, expiry, days left, renewal time.
    List,
    /// Make the previous certificate of a lineage current again (after a bad deploy).
    Rollback(RollbackArgs),
    /// Show or change the ACME account.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Show what a PEM certificate file says, like `openssl x509 -text` but readable.
    Inspect(InspectArgs),
    /// Run the edge plugin (a Spin HTTP component) on this machine.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Keep the certificates of a config file valid and serve them over HTTPS (the daemon).
    Run(RunArgs),
}

/// `certsmith run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The config file (TOML; see README "certsmith run").
    #[arg(long, short = 'c', env = "CERTSMITH_CONFIG")]
    pub config: PathBuf,
}

/// `certsmith plugin …`.
#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Serve a Spin HTTP component (default: the built-in HTTP-01 plugin) with Spin's
    /// key-value store backed by the shared store and Spin's variables.
    Serve(PluginServeArgs),
}

/// `certsmith plugin serve`.
#[derive(Args, Debug)]
pub struct PluginServeArgs {
    /// The Spin HTTP component (.wasm) to run [default: the built-in HTTP-01 plugin].
    #[arg(long, env = "CERTSMITH_PLUGIN_COMPONENT")]
    pub component: Option<PathBuf>,
    /// Where to listen (port 80 for the CA's HTTP-01 validation).
    #[arg(long, env = "CERTSMITH_PLUGIN_LISTEN")]
    pub listen: SocketAddr,
    /// A Spin variable NAME=VALUE for the component; repeat for more. Also read from
    /// SPIN_VARIABLE_<NAME> (prefer that for secrets such as admin_secret).
    #[arg(long = "variable", value_parser = parse_variable)]
    pub variables: Vec<(String, String)>,
    /// How many requests one instance answers before a fresh one replaces it; 1 gives every
    /// request a fresh instance, as Spin does. A call that traps or returns an error
    /// discards its instance. [default: 1000 for the built-in plugin, which keeps nothing between
    /// requests; 1 with --component]
    #[arg(long, env = "CERTSMITH_PLUGIN_INSTANCE_REUSE", value_parser = clap::value_parser!(u32).range(1..))]
    pub instance_reuse: Option<u32>,
}

/// Which CA, how to reach it, and which account: shared by the commands that talk to a CA.
#[derive(Args, Debug, Clone, Default)]
pub struct CaArgs {
    /// The CA: a directory URL, or letsencrypt, letsencrypt-staging, zerossl.
    #[arg(long, env = "CERTSMITH_SERVER", default_value = "letsencrypt-staging")]
    pub server: String,
    /// Also trust this root certificate (PEM) for the CA's HTTPS (test CAs like Pebble).
    #[arg(long = "ca-cert", env = "CERTSMITH_CA_CERT")]
    pub ca_cert: Vec<PathBuf>,
    /// Contact address for the account; also names the account in the state directory.
    #[arg(long, env = "CERTSMITH_EMAIL")]
    pub email: Option<String>,
    /// Run this engine component instead of the embedded one.
    #[arg(long, env = "CERTSMITH_ENGINE")]
    pub engine: Option<PathBuf>,
}

/// How to obtain a certificate: shared by `issue` and `renew`.
#[derive(Args, Debug, Clone, Default)]
pub struct ObtainArgs {
    /// The CA and account.
    #[command(flatten)]
    pub ca: CaArgs,
    /// Agree to the CA's terms of service (needed to create an account).
    #[arg(long, env = "CERTSMITH_ACCEPT_TOS")]
    pub accept_tos: bool,
    /// The certificate key's type: p256 or p384 [default: p256; renew: what it was issued
    /// with].
    #[arg(long, env = "CERTSMITH_KEY_TYPE", value_parser = parse_key_type)]
    pub key_type: Option<KeyType>,
    /// External account binding key id, for CAs that require it (ZeroSSL, many private CAs).
    #[arg(long, env = "CERTSMITH_EAB_KID")]
    pub eab_kid: Option<String>,
    /// External account binding HMAC key, base64url as the CA gives it (prefer
    /// --eab-hmac-file: a command line is visible to every user of the machine).
    #[arg(
        long,
        env = "CERTSMITH_EAB_HMAC",
        requires = "eab_kid",
        hide_env_values = true
    )]
    pub eab_hmac: Option<String>,
    /// A file holding the external account binding HMAC key.
    #[arg(
        long = "eab-hmac-file",
        env = "CERTSMITH_EAB_HMAC_FILE",
        requires = "eab_kid",
        conflicts_with = "eab_hmac"
    )]
    pub eab_hmac_file: Option<PathBuf>,
    /// Answer HTTP-01 with a built-in server on ADDR:PORT (port 80 for a public CA).
    #[arg(long, env = "CERTSMITH_HTTP", group = "solver")]
    pub http: Option<SocketAddr>,
    /// Answer HTTP-01 through an existing web server's document root.
    #[arg(long, env = "CERTSMITH_WEBROOT", group = "solver")]
    pub webroot: Option<PathBuf>,
    /// Answer TLS-ALPN-01 with a built-in TLS server on ADDR:PORT (port 443 for a public CA).
    #[arg(long = "tls-alpn", env = "CERTSMITH_TLS_ALPN", group = "solver")]
    pub tls_alpn: Option<SocketAddr>,
    /// Answer DNS-01 through this command: `CMD present <fqdn> <value>` and
    /// `CMD cleanup <fqdn> <value>` (lego's exec convention), run by `sh -c`.
    #[arg(long = "dns-hook", env = "CERTSMITH_DNS_HOOK", group = "solver")]
    pub dns_hook: Option<String>,
    /// Where to check that the TXT record is visible before answering the CA
    /// [default: the system's resolvers].
    #[arg(
        long = "dns-resolver",
        env = "CERTSMITH_DNS_RESOLVER",
        requires = "dns_hook"
    )]
    pub dns_resolver: Option<SocketAddr>,
    /// How long to wait for the TXT record to become visible, in seconds (0: do not check)
    /// [default: 120].
    #[arg(long = "dns-timeout", env = "CERTSMITH_DNS_TIMEOUT")]
    pub dns_timeout: Option<u64>,
    /// Answer HTTP-01 through the store (`--storage`): the token goes to `http01/<token>`,
    /// where the edge plugin (`certsmith plugin serve` or Spin) on the same store serves it.
    #[arg(long = "http-kv", env = "CERTSMITH_HTTP_KV", group = "solver")]
    pub http_kv: bool,
    /// Answer HTTP-01 through the edge plugin's admin API at this base URL (PUT/DELETE
    /// /.well-known/certsmith/http01/<token>), for hosts that cannot reach its store.
    #[arg(long = "http-edge", env = "CERTSMITH_HTTP_EDGE", group = "solver")]
    pub http_edge: Option<String>,
    /// The plugin's admin secret (its `admin_secret` variable), sent as a bearer token.
    /// `renew` needs it again for a certificate issued with `--http-edge` (it is never
    /// stored).
    #[arg(
        long = "edge-secret",
        env = "CERTSMITH_EDGE_SECRET",
        hide_env_values = true
    )]
    pub edge_secret: Option<String>,
    /// A file holding the plugin's admin secret (keeps it out of `ps` and the environment).
    #[arg(
        long = "edge-secret-file",
        env = "CERTSMITH_EDGE_SECRET_FILE",
        conflicts_with = "edge_secret"
    )]
    pub edge_secret_file: Option<PathBuf>,
    /// Run this command (by `sh -c`) after a certificate is stored; the paths are in
    /// CERTSMITH_CERT_PATH, CERTSMITH_KEY_PATH, CERTSMITH_CHAIN_PATH,
    /// CERTSMITH_FULLCHAIN_PATH, CERTSMITH_CERT_DIR and the names in CERTSMITH_DOMAINS.
    #[arg(long = "deploy-hook", env = "CERTSMITH_DEPLOY_HOOK")]
    pub deploy_hook: Option<String>,
    /// How long one run of a hook (`--dns-hook`, `--deploy-hook`) may take, in seconds,
    /// before it is stopped with everything it started [default: 300].
    #[arg(long = "hook-timeout", env = "CERTSMITH_HOOK_TIMEOUT")]
    pub hook_timeout: Option<u64>,
    /// Ask for this certificate profile (a name from the CA's directory, e.g. Let's
    /// Encrypt's `shortlived` or `tlsserver`).
    #[arg(long, env = "CERTSMITH_PROFILE")]
    pub profile: Option<String>,
    /// Prefer the CA's alternate chain whose top certificate's issuer has this common name.
    #[arg(long = "preferred-chain", env = "CERTSMITH_PREFERRED_CHAIN")]
    pub preferred_chain: Option<String>,
}

impl ObtainArgs {
    /// The same options at another CA (`renew --all` renews each certificate at its own).
    pub fn at_server(&self, directory: String) -> Self {
        let mut args = self.clone();
        args.ca.server = directory;
        args
    }

    /// Whether the command line names a way to answer challenges.
    pub fn names_a_solver(&self) -> bool {
        self.http.is_some()
            || self.webroot.is_some()
            || self.tls_alpn.is_some()
            || self.dns_hook.is_some()
            || self.http_kv
            || self.http_edge.is_some()
    }
}

/// `certsmith issue`.
#[derive(Args, Debug)]
pub struct IssueArgs {
    /// A name (or IP address) for the certificate; repeat for more. The first names the
    /// certificate's directory.
    #[arg(
        short = 'd',
        long = "domain",
        env = "CERTSMITH_DOMAINS",
        value_delimiter = ',',
        required = true
    )]
    pub domains: Vec<String>,
    /// How to obtain it.
    #[command(flatten)]
    pub obtain: ObtainArgs,
}

/// `certsmith renew`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["domain", "all"])))]
pub struct RenewArgs {
    /// The stored certificate to renew, by its first name.
    #[arg(short = 'd', long = "domain", env = "CERTSMITH_DOMAIN")]
    pub domain: Option<String>,
    /// Every stored certificate, from every CA (each renewed at the CA that issued it).
    #[arg(long)]
    pub all: bool,
    /// Renew even if it is not due yet.
    #[arg(long)]
    pub force: bool,
    /// How to obtain the new certificate.
    #[command(flatten)]
    pub obtain: ObtainArgs,
}

/// `certsmith revoke`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["domain", "cert"])))]
pub struct RevokeArgs {
    /// The stored certificate to revoke, by its first name.
    #[arg(short = 'd', long = "domain", env = "CERTSMITH_DOMAIN")]
    pub domain: Option<String>,
    /// A certificate file (PEM) to revoke, signed by the account.
    #[arg(long, env = "CERTSMITH_CERT")]
    pub cert: Option<PathBuf>,
    /// Why: unspecified, keyCompromise, superseded, cessationOfOperation,
    /// affiliationChanged, or an RFC 5280 code number.
    #[arg(long, env = "CERTSMITH_REASON", value_parser = parse_reason)]
    pub reason: Option<u8>,
    /// The CA and account.
    #[command(flatten)]
    pub ca: CaArgs,
}

/// `certsmith rollback`.
#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The stored certificate, by its first name.
    #[arg(short = 'd', long = "domain", env = "CERTSMITH_DOMAIN")]
    pub domain: String,
    /// The CA it came from: a directory URL, or letsencrypt, letsencrypt-staging, zerossl.
    #[arg(long, env = "CERTSMITH_SERVER", default_value = "letsencrypt-staging")]
    pub server: String,
}

/// `certsmith account …`.
#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Show the account as the CA has it: URL, status, contacts.
    Show(CaArgs),
    /// Replace the account's contacts.
    Update {
        /// A new contact address; repeat for more (none removes all).
        #[arg(long = "contact")]
        contacts: Vec<String>,
        /// The CA and account.
        #[command(flatten)]
        ca: CaArgs,
    },
    /// Replace the account key (the CA is told first; the old key is kept until it agrees).
    Rollover(CaArgs),
    /// Deactivate the account at the CA. This cannot be undone.
    Deactivate(CaArgs),
}

/// `certsmith inspect`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["file", "host"])))]
pub struct InspectArgs {
    /// A PEM file with one or more certificates.
    pub file: Option<PathBuf>,
    /// A TLS server to connect to (HOST:PORT): shows the chain it serves for HOST and
    /// whether it is trusted.
    #[arg(long)]
    pub host: Option<String>,
    /// Also trust this root certificate (PEM) when checking a server's chain.
    #[arg(long = "ca-cert", requires = "host")]
    pub ca_cert: Vec<PathBuf>,
}

/// Parses `--storage`.
fn parse_storage(text: &str) -> Result<StorageSpec, String> {
    text.parse()
}

/// Parses `--variable NAME=VALUE` (Spin variable names are lower case).
fn parse_variable(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAME=VALUE"))?;
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(format!(
            "{name:?}: a Spin variable name is lower-case letters, digits and '_'"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// Parses `--key-type`.
fn parse_key_type(text: &str) -> Result<KeyType, String> {
    text.parse()
        .map_err(|e: certsmith_core::Error| e.to_string())
}

/// Parses `--reason`: an RFC 5280 reason name or code.
fn parse_reason(text: &str) -> Result<u8, String> {
    let code = match text.to_ascii_lowercase().as_str() {
        "unspecified" => 0,
        "keycompromise" => 1,
        "affiliationchanged" => 3,
        "superseded" => 4,
        "cessationofoperation" => 5,
        other => other.parse().map_err(|_| {
            format!("unknown reason {text:?}: expected unspecified, keyCompromise, superseded, cessationOfOperation, affiliationChanged or a number")
        })?,
    };
    Ok(code)
}

/// The directory URL for a `--server` value: a well-known CA's short name, or a URL.
pub fn directory_url(server: &str) -> &str {
    certsmith_core::named_directory(server).unwrap_or(server)
}
