//! `certsmith issue`: account (created on first use), order (or the resumed order a crash
//! interrupted), challenges, certificate checked and stored.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use std::path::PathBuf;
use std::rc::Rc;

use certsmith_core::{
    CertificateInfo, CertificateKey, ChallengeType, Command, Error, ExternalAccountKey, Identifier,
    IssuedCertificate, OpId, OrderRequest, Outcome, PrivateKey, ProblemKind, Snapshot, Timestamp,
};
use serde::Serialize;
use zeroize::Zeroizing;

use super::recipe::Recipe;
use super::session::{Session, lock};
use super::{Failure, exit};
use crate::cli::{IssueArgs, ObtainArgs};
use crate::clock::now;
use crate::driver::OpIo;
use crate::hook::Hook;
use crate::layout;
use crate::progress::Progress;
use crate::solvers::AnySolver;
use crate::solvers::dns_hook::DnsHook;
use crate::solvers::http_edge::HttpEdge;
use crate::solvers::http_kv::HttpKv;
use crate::solvers::http01::Http01Standalone;
use crate::solvers::tls_alpn::TlsAlpnStandalone;
use crate::solvers::webroot::Webroot;
use crate::storage::lineage::Lineage;
use crate::storage::{Lease, StorageSpec, Store};
use crate::transport::trust_roots;

/// How long one run of a hook (`--dns-hook`, `--deploy-hook`) may take unless
/// `--hook-timeout` says.
const HOOK_TIMEOUT_SECS: u64 = 300;

/// The hook run time `args` allows.
fn hook_timeout(args: &ObtainArgs) -> Duration {
    Duration::from_secs(args.hook_timeout.unwrap_or(HOOK_TIMEOUT_SECS))
}

/// How long to wait for a TXT record to become visible unless `--dns-timeout` says.
const DNS_TIMEOUT_SECS: u64 = 120;

/// What is kept about a certificate besides its PEM files.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CertMeta<'a> {
    directory: &'a str,
    domains: &'a [String],
    issuer: String,
    serial: String,
    not_before: String,
    not_after: String,
    renew_at: String,
    ari_id: Option<String>,
    order_url: &'a str,
    certificate_url: &'a str,
    /// When it was stored: a process that waited for the lock meanwhile uses it.
    stored_at_ms: u64,
    /// What `issue` was given, for `renew` to repeat.
    obtained_with: Recipe,
}

/// The identifiers for `--domain` values: IP addresses as IP identifiers.
pub fn identifiers(domains: &[String]) -> Vec<Identifier> {
    domains
        .iter()
        .map(|d| match d.parse::<IpAddr>() {
            Ok(ip) => Identifier::ip(ip.to_string()),
            Err(_) => Identifier::dns(d.as_str()),
        })
        .collect()
}

/// The solver the flags ask for; binds its port now, before anything is sent to the CA.
pub async fn solver(args: &ObtainArgs, store: &Store) -> Result<AnySolver, Failure> {
    if let Some(addr) = args.http {
        return Http01Standalone::bind(addr)
            .await
            .map(AnySolver::Http)
            .map_err(|e| Failure::new(exit::LOCAL, e.to_string()));
    }
    if let Some(dir) = &args.webroot {
        return Ok(AnySolver::Webroot(Webroot::new(dir.clone())));
    }
    if let Some(addr) = args.tls_alpn {
        return TlsAlpnStandalone::bind(addr)
            .await
            .map(AnySolver::TlsAlpn)
            .map_err(|e| Failure::new(exit::LOCAL, e.to_string()));
    }
    if let Some(command) = &args.dns_hook {
        let hook = Hook {
            command: command.clone(),
            timeout: hook_timeout(args),
        };
        return DnsHook::new(
            hook,
            args.dns_resolver,
            Duration::from_secs(args.dns_timeout.unwrap_or(DNS_TIMEOUT_SECS)),
        )
        .map(|solver| AnySolver::Dns(Box::new(solver)))
        .map_err(|e| Failure::new(exit::LOCAL, e.to_string()));
    }
    if args.http_kv {
        return Ok(AnySolver::HttpKv(HttpKv::new(store.clone())));
    }
    if let Some(base) = &args.http_edge {
        let secret = secret(&args.edge_secret, &args.edge_secret_file, "--edge-secret")?
            .ok_or_else(|| {
                Failure::new(
                    exit::LOCAL,
                    format!(
                        "--http-edge {base} needs the plugin's admin secret: pass --edge-secret-file (or --edge-secret, CERTSMITH_EDGE_SECRET)"
                    ),
                )
            })?;
        let roots: Vec<&Path> = args.ca.ca_cert.iter().map(|p| p.as_path()).collect();
        let roots = trust_roots(&roots).map_err(|e| Failure::new(exit::LOCAL, e.to_string()))?;
        return HttpEdge::new(base, secret, roots)
            .map(AnySolver::HttpEdge)
            .map_err(|e| Failure::new(exit::LOCAL, e.to_string()));
    }
    Err(Failure::new(
        exit::LOCAL,
        "choose how to answer the CA's challenge: --http ADDR:PORT, --webroot DIR, --tls-alpn ADDR:PORT, --dns-hook CMD, --http-kv or --http-edge URL",
    ))
}

/// Runs `--deploy-hook` for a stored certificate: the paths of its files when the store
/// is files, its key in the store (`CERTSMITH_LINEAGE`) on every store.
async fn deploy_hook(
    (command, timeout): (&str, Duration),
    stored: &Stored,
    domains: &[String],
) -> Result<(), Failure> {
    let names = domains.join(" ");
    let mut env: Vec<(&str, String)> = vec![
        ("CERTSMITH_LINEAGE", stored.lineage.clone()),
        ("CERTSMITH_DOMAINS", names.clone()),
        // certbot's name, so existing deploy hooks work unchanged.
        ("RENEWED_DOMAINS", names),
    ];
    if let Some(dir) = &stored.dir {
        let path = |file: &str| dir.join(file).display().to_string();
        env.extend([
            ("CERTSMITH_CERT_PATH", path("cert.pem")),
            ("CERTSMITH_KEY_PATH", path("key.pem")),
            ("CERTSMITH_CHAIN_PATH", path("chain.pem")),
            ("CERTSMITH_FULLCHAIN_PATH", path("fullchain.pem")),
            ("CERTSMITH_CERT_DIR", dir.display().to_string()),
            ("RENEWED_LINEAGE", dir.display().to_string()),
        ]);
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let hook = Hook {
        command: command.to_owned(),
        timeout,
    };
    hook.run(&[], &env).await.map_err(|e| {
        Failure::new(
            exit::OTHER,
            format!(
                "the certificate is stored in {}, but the deploy hook failed: {e}",
                stored.place()
            ),
        )
    })
}

/// A secret given on the command line (`value`) or in a file: its text, trimmed; an error
/// names the file and the flag.
fn secret(
    value: &Option<String>,
    file: &Option<PathBuf>,
    flag: &str,
) -> Result<Option<Zeroizing<String>>, Failure> {
    if let Some(value) = value {
        return Ok(Some(Zeroizing::new(value.clone())));
    }
    let Some(path) = file else {
        return Ok(None);
    };
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        Failure::new(
            exit::LOCAL,
            format!("cannot read {flag}-file {}: {e}", path.display()),
        )
    })?);
    if text.trim().is_empty() {
        return Err(Failure::new(
            exit::LOCAL,
            format!("{flag}-file {} is empty", path.display()),
        ));
    }
    Ok(Some(Zeroizing::new(text.trim().to_owned())))
}

/// The external account binding of `--eab-kid` and `--eab-hmac` (or `--eab-hmac-file`),
/// if given.
fn external_account(args: &ObtainArgs) -> Result<Option<ExternalAccountKey>, Failure> {
    let hmac = secret(&args.eab_hmac, &args.eab_hmac_file, "--eab-hmac")?;
    let (kid, hmac) = match (&args.eab_kid, hmac) {
        (Some(kid), Some(hmac)) => (kid, hmac),
        (None, _) => return Ok(None),
        (Some(_), None) => {
            return Err(Failure::new(
                exit::LOCAL,
                "--eab-kid needs the HMAC key: pass --eab-hmac-file (or --eab-hmac)",
            ));
        }
    };
    let key = certsmith_core::b64url_decode(hmac.trim().trim_end_matches('='), "--eab-hmac")
        .map_err(|e| Failure::new(exit::LOCAL, e.to_string()))?;
    Ok(Some(ExternalAccountKey {
        kid: kid.clone(),
        hmac_key: zeroize::Zeroizing::new(key),
    }))
}

/// Where a stored certificate is and what it is.
pub struct Stored {
    /// Its directory, when the store is files (the lineage's stable path).
    dir: Option<PathBuf>,
    /// Its key in the store.
    lineage: String,
    /// The leaf's serial number (hex).
    pub serial: String,
    not_after: String,
    issuer: String,
}

impl Stored {
    /// A stored certificate's facts, from its leaf.
    fn new(store: &Store, ca: &str, name: &str, info: &CertificateInfo) -> Self {
        let lineage = layout::lineage(ca, name);
        Self {
            dir: store.file_path(&lineage),
            lineage,
            serial: info.serial_hex.clone(),
            not_after: info.not_after.to_rfc3339(),
            issuer: info.issuer.clone(),
        }
    }

    /// Where it is, for messages: its directory, or its key in the store.
    fn place(&self) -> String {
        self.dir
            .as_ref()
            .map_or_else(|| self.lineage.clone(), |dir| dir.display().to_string())
    }
}

/// Checks the issued chain (parses, certifies the key, names every domain) and only then
/// makes it the current generation of the lineage, in one step, under `lease`.
async fn store_certificate(
    lease: &Lease,
    store: &Store,
    (ca, name): (&str, &str),
    (directory, args): (&str, &ObtainArgs),
    domains: &[String],
    cert: &IssuedCertificate,
) -> Result<Stored, Failure> {
    let invalid = |why: String| {
        Failure::new(
            exit::CA_REFUSED,
            format!("the CA's certificate is unusable, nothing was replaced: {why}"),
        )
    };
    let key_pem = cert
        .private_key_pem
        .as_ref()
        .ok_or_else(|| invalid("no certificate key".into()))?;
    let (verified, info) = Lineage::from_chain(&cert.chain_pem, key_pem, Vec::new())
        .and_then(|lineage| lineage.verify(domains))
        .map_err(invalid)?;
    let meta = CertMeta {
        directory,
        domains,
        issuer: info.issuer.clone(),
        serial: info.serial_hex.clone(),
        not_before: info.not_before.to_rfc3339(),
        not_after: info.not_after.to_rfc3339(),
        renew_at: info.default_renewal_time().to_rfc3339(),
        ari_id: info.ari_id.clone(),
        order_url: &cert.order_url,
        certificate_url: &cert.certificate_url,
        stored_at_ms: now().unix_millis(),
        obtained_with: Recipe::of(args),
    };
    let lineage = verified.with_meta(serde_json::to_vec_pretty(&meta).unwrap_or_default());
    store
        .commit_lineage(ca, name, &lineage, Some(lease))
        .await?;
    Ok(Stored::new(store, ca, name, &info))
}

/// The current certificate of lineage `name` if it was stored at or after `since` (by
/// another process), is whole and names every domain.
async fn stored_since(
    store: &Store,
    (ca, name): (&str, &str),
    domains: &[String],
    since: Timestamp,
) -> Result<Option<CertificateInfo>, Failure> {
    let Some(lineage) = store.read_lineage(ca, name).await? else {
        return Ok(None);
    };
    let meta: serde_json::Value = serde_json::from_slice(&lineage.meta_json).unwrap_or_default();
    let stored_at = meta["storedAtMs"].as_u64().unwrap_or(0);
    if stored_at < since.unix_millis() {
        return Ok(None);
    }
    Ok(lineage.check(Some(domains)).ok())
}

/// Runs `certsmith issue`.
pub async fn run(
    args: IssueArgs,
    state_dir: &Path,
    storage: &StorageSpec,
    json: bool,
) -> Result<(), Failure> {
    let started = now();
    let store = Store::open(storage, state_dir).await?;
    let mut session = Session::open(&args.obtain.ca, store, state_dir).await?;
    let wanted = Wanted {
        domains: &args.domains,
        replaces: None,
        started,
    };
    obtain(&mut session, &wanted, &args.obtain, json).await
}

/// What to obtain.
pub struct Wanted<'a> {
    /// The names, the lineage's name first.
    pub domains: &'a [String],
    /// The ARI ID of the certificate a renewal replaces.
    pub replaces: Option<String>,
    /// When the command started: a certificate another process stored since then (while
    /// this one loaded the engine or waited for the lock) is used instead of ordering again.
    pub started: Timestamp,
}

/// Who answers an order's challenges.
pub enum Solving {
    /// The solver the flags ask for, set up for this order and stopped after it.
    FromFlags,
    /// A solver that outlives the order (the daemon's own listeners).
    With(Rc<AnySolver>),
}

/// A certificate obtained and stored, and how: ordered now (the certificate and the ACME
/// requests sent), or `None` when another process stored it meanwhile.
pub struct Obtained {
    /// Where it is stored and what it is.
    pub stored: Stored,
    /// The order's certificate and requests, when this process ordered it.
    pub ordered: Option<(IssuedCertificate, u64)>,
}

/// Obtains and stores the certificate `wanted`, then reports it on stdout.
pub async fn obtain(
    session: &mut Session,
    wanted: &Wanted<'_>,
    args: &ObtainArgs,
    json: bool,
) -> Result<(), Failure> {
    let mut progress = Progress::new(json);
    let obtained = obtain_quietly(session, wanted, args, Solving::FromFlags, &mut progress).await?;
    progress.finish_current();
    let name = layout::cert_name(&wanted.domains[0]);
    report(
        &obtained.stored,
        &name,
        wanted.domains,
        obtained.ordered.as_ref(),
        json,
    );
    Ok(())
}

/// Obtains and stores the certificate `wanted` (resuming an interrupted order for it),
/// holding the certificate's lock, and runs the deploy hook. A process that had to wait for
/// the lock while another obtained the certificate uses that one instead of ordering again.
pub async fn obtain_quietly(
    session: &mut Session,
    wanted: &Wanted<'_>,
    args: &ObtainArgs,
    solving: Solving,
    progress: &mut Progress,
) -> Result<Obtained, Failure> {
    let domains = wanted.domains;
    let name = layout::cert_name(&domains[0]);
    let store = session.store.clone();
    let store = &store;
    let ca = session.ca.clone();
    let lease = lock(store, &layout::cert_lock(&ca, &name), progress).await?;
    let meanwhile = stored_since(store, (&ca, &name), domains, wanted.started).await?;
    let obtained = match meanwhile {
        Some(info) => {
            progress.step(format!(
                "{} was just obtained by another process: using it",
                domains.join(", ")
            ));
            Ok((Stored::new(store, &ca, &name, &info), None))
        }
        None => solve_and_order(
            session,
            &lease,
            (domains, wanted.replaces.clone()),
            (args, solving),
            progress,
        )
        .await
        .map(|(stored, cert, requests)| (stored, Some((cert, requests)))),
    };
    let released = lease.release().await;
    let (stored, ordered) = obtained?;
    released?;
    if let (Some(command), Some(_)) = (&args.deploy_hook, &ordered) {
        progress.step("running the deploy hook");
        deploy_hook((command, hook_timeout(args)), &stored, domains).await?;
    }
    Ok(Obtained { stored, ordered })
}

/// [`order`] with the solver of `solving`. A solver the flags ask for (and its port) is set
/// up only once the lock is ours, since a process that waited for another's issuance never
/// needs it, and it is stopped whatever the order's outcome.
async fn solve_and_order(
    session: &mut Session,
    lease: &Lease,
    wanted: (&[String], Option<String>),
    (args, solving): (&ObtainArgs, Solving),
    progress: &mut Progress,
) -> Result<(Stored, IssuedCertificate, u64), Failure> {
    let mut solver = match solving {
        Solving::With(solver) => {
            return order(session, lease, &solver, wanted, args, progress).await;
        }
        Solving::FromFlags => Rc::new(solver(args, &session.store).await?),
    };
    let ordered = order(session, lease, &solver, wanted, args, progress).await;
    // The engine has let go of the solver once the order's cleanups are done.
    if let Some(solver) = Rc::get_mut(&mut solver) {
        solver.stop().await;
    }
    ordered
}

/// Orders (or resumes the saved order of) a certificate for `domains` (replacing the one
/// with ARI ID `replaces`) and stores it, under `lease`: the stored certificate, how the
/// CA issued it, and the ACME requests sent.
async fn order(
    session: &mut Session,
    lease: &Lease,
    solver: &Rc<AnySolver>,
    (domains, replaces): (&[String], Option<String>),
    args: &ObtainArgs,
    progress: &mut Progress,
) -> Result<(Stored, IssuedCertificate, u64), Failure> {
    let name = layout::cert_name(&domains[0]);
    let directory = session.directory.clone();
    let ca = session.ca.clone();
    let snapshot_key = layout::order_snapshot(&ca, &name);

    let resumable = saved_order(
        session,
        (lease, &snapshot_key),
        domains,
        (solver.challenge_type(), args),
        progress,
    )
    .await?;
    // Both operations start now, so a malformed name is refused before anything is sent;
    // the engine holds the order until the account exists.
    let io = OpIo {
        solver: Some(Rc::clone(solver)),
        snapshots: Some(lease.fenced(&snapshot_key)),
    };
    let account_op = match &session.account_url {
        Some(_) => None,
        None if !args.accept_tos => {
            return Err(Failure::new(
                exit::LOCAL,
                format!(
                    "no account at {directory} yet: pass --accept-tos to agree to the CA's terms of service and create one"
                ),
            ));
        }
        None => Some(
            session
                .start(Session::new_account(
                    args.ca.email.as_deref(),
                    external_account(args)?,
                ))
                .await?,
        ),
    };
    let new_order = OrderRequest {
        certificate_key: CertificateKey::Generate(args.key_type.unwrap_or_default()),
        challenge_types: vec![solver.challenge_type()],
        profile: args.profile.clone(),
        replaces,
        preferred_issuer: args.preferred_chain.clone(),
        ..OrderRequest::new(identifiers(domains))
    };
    // The key of the resumed order, for a new order should that one be dead.
    let saved_key = resumable.as_deref().and_then(saved_certificate_key);
    let resumed = resumable.is_some();
    let order_op = match resumable {
        Some(snapshot) => {
            progress.step(format!(
                "resuming the interrupted order for {}",
                domains.join(", ")
            ));
            session
                .engine
                .start(Command::Resume(Snapshot::from_json(&snapshot)?), io.clone())
                .await?
        }
        None => {
            progress.step(format!("order for {} at {directory}", domains.join(", ")));
            session
                .engine
                .start(Command::Order(new_order.clone()), io.clone())
                .await?
        }
    };
    let ops: Vec<OpId> = account_op.into_iter().chain([order_op]).collect();
    let mut results = session.run(&ops, progress).await?;
    if let Some(op) = account_op {
        session.registered(results.remove(&op)).await?;
    }
    let mut result = results
        .remove(&order_op)
        .ok_or_else(|| Failure::new(exit::OTHER, "the engine did not end the order"))?;
    // An interrupted order can die while no one answers its challenges (the CA validated
    // while the process was down) or expire: such an order is replaced once, here.
    if let Err(failure) = &result
        && resumed
        && order_is_dead(failure)
    {
        progress.notice(format!(
            "the interrupted order can no longer be finished ({failure}); ordering anew"
        ));
        lease.delete(&snapshot_key).await?;
        let op = session
            .engine
            .start(
                Command::Order(OrderRequest {
                    certificate_key: saved_key
                        .map_or(new_order.certificate_key, CertificateKey::Key),
                    ..new_order
                }),
                io,
            )
            .await?;
        result = session
            .run(&[op], progress)
            .await?
            .remove(&op)
            .ok_or_else(|| Failure::new(exit::OTHER, "the engine did not end the order"))?;
    }
    let requests = session.engine.requests_sent().await?;
    let cert = match result {
        Ok(Outcome::Certificate(cert)) => cert,
        Ok(other) => {
            return Err(Failure::new(
                exit::OTHER,
                format!("unexpected order outcome {other:?}"),
            ));
        }
        Err(failure) => {
            // A CA that could not be reached or answered with something unusable (cut
            // short, garbled), or a challenge that could not be published (so was never
            // answered), leaves the order usable: keep the snapshot so the next run resumes
            // it instead of spending a new order (and getting a second certificate, when
            // finalize had gone through). Anything else ends it.
            let resumable =
                is_transient(&failure) || matches!(failure, Error::ChallengeDeployFailed { .. });
            if !resumable {
                lease.delete(&snapshot_key).await?;
            }
            let mut failure = Failure::from(failure);
            if resumable {
                failure
                    .message
                    .push_str(" (the order is kept: run the same command again to resume it)");
            }
            return Err(failure);
        }
    };
    progress.step("storing the certificate");
    let stored = store_certificate(
        lease,
        &session.store,
        (&ca, &name),
        (&directory, args),
        domains,
        &cert,
    )
    .await?;
    crate::crash_point::hit("lineage-current");
    lease.delete(&snapshot_key).await?;
    Ok((stored, cert, requests))
}

/// The saved order (snapshot JSON) of this certificate if it fits the command; one that
/// does not is abandoned (its pending authorizations deactivated at the CA, its snapshot
/// deleted) and the reason shown.
async fn saved_order(
    session: &mut Session,
    (lease, snapshot_key): (&Lease, &str),
    domains: &[String],
    (challenge, args): (ChallengeType, &ObtainArgs),
    progress: &mut Progress,
) -> Result<Option<String>, Failure> {
    let Some(saved) = session.store.get(snapshot_key).await? else {
        return Ok(None);
    };
    let snapshot = String::from_utf8_lossy(&saved).into_owned();
    let Some(reason) = unlike(&snapshot, domains, challenge, args) else {
        return Ok(Some(snapshot));
    };
    progress.notice(format!(
        "not resuming the saved order: {reason}; ordering anew"
    ));
    match abandon(session, &snapshot, progress).await {
        Ok(0) => {}
        Ok(n) => progress.notice(format!(
            "deactivated {n} pending authorization(s) of the abandoned order"
        )),
        Err(why) => progress.notice(format!(
            "the abandoned order's authorizations stay pending until they expire: {why}"
        )),
    }
    lease.delete(snapshot_key).await?;
    Ok(None)
}

/// Abandons the order of `snapshot` at the CA: how many pending authorizations were
/// deactivated.
async fn abandon(
    session: &mut Session,
    snapshot: &str,
    progress: &mut Progress,
) -> Result<u32, String> {
    let snapshot = Snapshot::from_json(snapshot).map_err(|e| e.to_string())?;
    let op = session
        .start(Command::Abandon(snapshot))
        .await
        .map_err(|e| e.to_string())?;
    let mut results = session.run(&[op], progress).await.map_err(|f| f.message)?;
    match results.remove(&op) {
        Some(Ok(Outcome::OrderAbandoned {
            authorizations_deactivated,
        })) => Ok(authorizations_deactivated),
        Some(Err(failure)) => Err(failure.to_string()),
        other => Err(format!("unexpected outcome {other:?}")),
    }
}

/// The certificate key a saved order holds, if it holds one (not a CSR) and it reads.
fn saved_certificate_key(snapshot: &str) -> Option<PrivateKey> {
    let saved: serde_json::Value = serde_json::from_str(snapshot).ok()?;
    PrivateKey::from_pem(saved["certificateKeyPem"].as_str()?).ok()
}

/// Whether an order failed for good at the CA (invalid, expired, gone), rather than for a
/// reason that leaves it usable (network, a challenge not published) or that a new order
/// would meet too (a rate limit, bad input).
fn order_is_dead(failure: &Error) -> bool {
    matches!(
        failure,
        Error::OrderFailed { .. } | Error::AuthorizationFailed { .. } | Error::Acme { .. }
    ) && !is_transient(failure)
}

/// Whether `failure` says nothing about the order itself: the CA could not be reached, its
/// answer could not be used (cut short, garbled), it failed (5xx, `serverInternal`, after
/// the engine's retries) or it asked to slow down. The order stays worth resuming.
fn is_transient(failure: &Error) -> bool {
    match failure {
        Error::Transport { .. } | Error::InvalidResponse { .. } => true,
        Error::Acme {
            status, problem, ..
        } => {
            *status >= 500
                || matches!(
                    problem.problem_kind(),
                    ProblemKind::ServerInternal | ProblemKind::RateLimited
                )
        }
        _ => false,
    }
}

/// Why a saved order does not fit this command (other names, another challenge type or
/// key type, or unreadable), if it does not: such an order is abandoned, not resumed, so a
/// changed command line never repeats the old order's failure.
fn unlike(
    snapshot: &str,
    domains: &[String],
    challenge: ChallengeType,
    args: &ObtainArgs,
) -> Option<String> {
    let saved = match Snapshot::from_json(snapshot) {
        Ok(saved) => saved,
        Err(e) => return Some(format!("it cannot be read ({e})")),
    };
    let names = |ids: &[Identifier]| {
        let mut names: Vec<String> = ids.iter().map(|i| i.value.to_ascii_lowercase()).collect();
        names.sort();
        names.dedup();
        names
    };
    let (was, now) = (names(saved.identifiers()), names(&identifiers(domains)));
    if was != now {
        return Some(format!(
            "it is for {}, this command for {}",
            was.join(", "),
            now.join(", ")
        ));
    }
    if !saved.challenge_types().contains(&challenge) {
        return Some(format!(
            "it answers {}, this command {}",
            saved
                .challenge_types()
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            challenge.as_str()
        ));
    }
    let wanted = args.key_type.unwrap_or_default();
    match saved.key_type() {
        Some(key) if key != wanted => Some(format!(
            "its key is {}, this command asks for {}",
            key.as_str(),
            wanted.as_str()
        )),
        _ => None,
    }
}

/// Prints what `issue` stored: one JSON object, or lines for a person.
fn report(
    stored: &Stored,
    name: &str,
    domains: &[String],
    ordered: Option<&(IssuedCertificate, u64)>,
    json: bool,
) {
    let file = |f: &str| stored.dir.as_ref().map(|dir| dir.join(f));
    if json {
        let report = serde_json::json!({
            "name": name,
            "domains": domains,
            "lineage": stored.lineage,
            "fullchain": file("fullchain.pem"),
            "cert": file("cert.pem"),
            "chain": file("chain.pem"),
            "key": file("key.pem"),
            "serial": stored.serial,
            "notAfter": stored.not_after,
            "issuer": stored.issuer,
            "orderUrl": ordered.map(|(cert, _)| &cert.order_url),
            "acmeRequests": ordered.map_or(0, |(_, requests)| *requests),
            "obtainedByAnotherProcess": ordered.is_none(),
        });
        println!("{report}");
        return;
    }
    println!(
        "certificate for {} saved in {}",
        domains.join(", "),
        stored.place()
    );
    println!("  fullchain.pem, cert.pem, chain.pem, key.pem (0600), meta.json");
    println!(
        "  serial {}, valid until {}, issued by {}",
        stored.serial, stored.not_after, stored.issuer
    );
    match ordered {
        Some((_, requests)) => println!("  {requests} ACME requests"),
        None => println!("  obtained by another process while this one waited for its lock"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certsmith_core::Problem;

    /// A CA's problem answer to a request of the resumed order.
    fn acme(status: u16, kind: &str) -> Error {
        Error::Acme {
            url: "https://ca.test/order/1".into(),
            status,
            problem: Box::new(Problem {
                kind: format!("urn:ietf:params:acme:error:{kind}"),
                detail: None,
                status: Some(status),
                subproblems: Vec::new(),
            }),
            retry_after: None,
        }
    }

    /// A resumed order is given up for a new one only when the CA says it is over; a CA
    /// that failed (5xx, after the engine's retries) or asked to slow down leaves it to
    /// resume, so a passing outage never costs a second certificate.
    #[test]
    fn only_a_dead_order_is_replaced_and_a_passing_failure_keeps_it() {
        for dead in [acme(404, "malformed"), acme(403, "unauthorized")] {
            assert!(order_is_dead(&dead), "{dead}");
            assert!(!is_transient(&dead), "{dead}");
        }
        for passing in [
            acme(503, "serverInternal"),
            acme(500, "malformed"),
            acme(429, "rateLimited"),
            Error::Transport {
                url: "https://ca.test/nonce".into(),
                reason: "connection reset".into(),
            },
        ] {
            assert!(!order_is_dead(&passing), "{passing}");
            assert!(is_transient(&passing), "{passing}");
        }
    }
}
