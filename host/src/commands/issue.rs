//! `certsmith issue`: account (created on first use), order (or the resumed order a crash
//! interrupted), challenges, certificate checked and stored.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use certsmith_core::cert::{inspect, key_matches_certificate, split_pem_chain};
use certsmith_core::{
    CertificateKey, ExternalAccountKey, Identifier, IssuedCertificate, NewAccountRequest, OpId,
    OrderRequest, Outcome, PrivateKey,
};
use serde::Serialize;
use zeroize::Zeroizing;

use super::session::Session;
use super::{Failure, exit};
use crate::cli::{IssueArgs, ObtainArgs};
use crate::hook::Hook;
use crate::kv::SharedKv;
use crate::layout;
use crate::progress::Progress;
use crate::solvers::AnySolver;
use crate::solvers::dns_hook::DnsHook;
use crate::solvers::http_edge::HttpEdge;
use crate::solvers::http_kv::HttpKv;
use crate::solvers::http01::Http01Standalone;
use crate::solvers::tls_alpn::TlsAlpnStandalone;
use crate::solvers::webroot::Webroot;
use crate::storage::{FsStore, Secrecy};
use crate::transport::trust_roots;

/// How long one run of a hook (`--dns-hook`, `--deploy-hook`) may take.
const HOOK_TIMEOUT: Duration = Duration::from_secs(300);

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
}

/// The identifiers for `--domain` values: IP addresses as IP identifiers.
fn identifiers(domains: &[String]) -> Vec<Identifier> {
    domains
        .iter()
        .map(|d| match d.parse::<IpAddr>() {
            Ok(ip) => Identifier::ip(ip.to_string()),
            Err(_) => Identifier::dns(d.as_str()),
        })
        .collect()
}

/// The solver the flags ask for; binds its port now, before anything is sent to the CA.
async fn solver(args: &ObtainArgs, state_dir: &Path) -> Result<AnySolver, Failure> {
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
            timeout: HOOK_TIMEOUT,
        };
        return DnsHook::new(
            hook,
            args.dns_resolver,
            Duration::from_secs(args.dns_timeout),
        )
        .map(|solver| AnySolver::Dns(Box::new(solver)))
        .map_err(|e| Failure::new(exit::LOCAL, e.to_string()));
    }
    if args.http_kv {
        return SharedKv::open(&args.store.kv, state_dir)
            .await
            .map(|store| AnySolver::HttpKv(HttpKv::new(store)))
            .map_err(|e| Failure::new(exit::LOCAL, e.to_string()));
    }
    if let (Some(base), Some(secret)) = (&args.http_edge, &args.edge_secret) {
        let roots: Vec<&Path> = args.ca.ca_cert.iter().map(|p| p.as_path()).collect();
        let roots = trust_roots(&roots).map_err(|e| Failure::new(exit::LOCAL, e.to_string()))?;
        return HttpEdge::new(base, Zeroizing::new(secret.clone()), roots)
            .map(AnySolver::HttpEdge)
            .map_err(|e| Failure::new(exit::LOCAL, e.to_string()));
    }
    Err(Failure::new(
        exit::LOCAL,
        "choose how to answer the CA's challenge: --http ADDR:PORT, --webroot DIR, --tls-alpn ADDR:PORT, --dns-hook CMD, --http-kv or --http-edge URL",
    ))
}

/// Runs `--deploy-hook` for a stored certificate.
async fn deploy_hook(command: &str, stored: &Stored, domains: &[String]) -> Result<(), Failure> {
    let path = |file: &str| stored.dir.join(file).display().to_string();
    let (cert, key, chain, fullchain) = (
        path("cert.pem"),
        path("key.pem"),
        path("chain.pem"),
        path("fullchain.pem"),
    );
    let dir = stored.dir.display().to_string();
    let names = domains.join(" ");
    let hook = Hook {
        command: command.to_owned(),
        timeout: HOOK_TIMEOUT,
    };
    hook.run(
        &[],
        &[
            ("CERTSMITH_CERT_PATH", &cert),
            ("CERTSMITH_KEY_PATH", &key),
            ("CERTSMITH_CHAIN_PATH", &chain),
            ("CERTSMITH_FULLCHAIN_PATH", &fullchain),
            ("CERTSMITH_CERT_DIR", &dir),
            ("CERTSMITH_DOMAINS", &names),
            // certbot's names, so existing deploy hooks work unchanged.
            ("RENEWED_LINEAGE", &dir),
            ("RENEWED_DOMAINS", &names),
        ],
    )
    .await
    .map_err(|e| {
        Failure::new(
            exit::OTHER,
            format!("the certificate is stored in {dir}, but the deploy hook failed: {e}"),
        )
    })
}

/// The external account binding of `--eab-kid` / `--eab-hmac`, if given.
fn external_account(args: &ObtainArgs) -> Result<Option<ExternalAccountKey>, Failure> {
    let (Some(kid), Some(hmac)) = (&args.eab_kid, &args.eab_hmac) else {
        return Ok(None);
    };
    let key = certsmith_core::jose::b64url_decode(hmac.trim().trim_end_matches('='), "--eab-hmac")
        .map_err(|e| Failure::new(exit::LOCAL, e.to_string()))?;
    Ok(Some(ExternalAccountKey {
        kid: kid.clone(),
        hmac_key: zeroize::Zeroizing::new(key),
    }))
}

/// The paths and facts of a stored certificate.
struct Stored {
    dir: std::path::PathBuf,
    serial: String,
    not_after: String,
    issuer: String,
}

/// Checks the issued chain (parses, certifies the key) and only then stores it.
fn store_certificate(
    store: &FsStore,
    ca: &str,
    name: &str,
    directory: &str,
    domains: &[String],
    cert: &IssuedCertificate,
) -> Result<Stored, Failure> {
    let invalid = |why: String| {
        Failure::new(
            exit::CA_REFUSED,
            format!("the CA's certificate is unusable, nothing was replaced: {why}"),
        )
    };
    let ders = split_pem_chain(&cert.chain_pem).map_err(|e| invalid(e.to_string()))?;
    let key_pem = cert
        .private_key_pem
        .as_ref()
        .ok_or_else(|| invalid("no certificate key".into()))?;
    let key = PrivateKey::from_pem(key_pem).map_err(|e| invalid(e.to_string()))?;
    if !key_matches_certificate(&key, &ders[0]).map_err(|e| invalid(e.to_string()))? {
        return Err(invalid("the certificate is not for its key".into()));
    }
    let info = inspect(&ders[0]).map_err(|e| invalid(e.to_string()))?;
    const END: &str = "-----END CERTIFICATE-----";
    let leaf_end = cert
        .chain_pem
        .find(END)
        .map(|i| i + END.len())
        .ok_or_else(|| invalid("no PEM certificate".into()))?;
    let leaf_pem = format!("{}\n", cert.chain_pem[..leaf_end].trim());
    let chain_pem = cert.chain_pem[leaf_end..].trim_start().to_owned();
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
    };
    let meta_json = serde_json::to_vec_pretty(&meta).unwrap_or_default();
    // Key first: until cert.pem is replaced too, a crash leaves the new key beside the old
    // certificate; the next `issue` run sees the mismatch and replaces both.
    for (file, bytes, secrecy) in [
        ("key.pem", key_pem.as_bytes(), Secrecy::Secret),
        ("cert.pem", leaf_pem.as_bytes(), Secrecy::Public),
        ("chain.pem", chain_pem.as_bytes(), Secrecy::Public),
        ("fullchain.pem", cert.chain_pem.as_bytes(), Secrecy::Public),
        ("meta.json", meta_json.as_slice(), Secrecy::Public),
    ] {
        store.put(&layout::cert_file(ca, name, file), bytes, secrecy)?;
    }
    let dir = store
        .path(&layout::cert_file(ca, name, "cert.pem"))?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Ok(Stored {
        dir,
        serial: info.serial_hex,
        not_after: info.not_after.to_rfc3339(),
        issuer: info.issuer,
    })
}

/// Runs `certsmith issue`.
pub async fn run(args: IssueArgs, state_dir: &Path, json: bool) -> Result<(), Failure> {
    obtain(&args.domains, &args.obtain, state_dir, json).await
}

/// Obtains and stores a certificate for `domains` (resuming an interrupted order for them).
pub async fn obtain(
    domains: &[String],
    args: &ObtainArgs,
    state_dir: &Path,
    json: bool,
) -> Result<(), Failure> {
    let name = layout::cert_name(&domains[0]);
    let solver = solver(args, state_dir).await?;
    let mut session = Session::open(&args.ca, state_dir)?;
    let directory = session.directory.clone();
    let ca = session.ca.clone();
    let mut progress = Progress::new(json);
    let snapshot_key = layout::order_snapshot(&ca, &name);

    // Both operations start now, so a malformed name is refused before anything is sent;
    // the engine holds the order until the account exists.
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
            session.engine.new_account(NewAccountRequest {
                contact: args
                    .ca
                    .email
                    .iter()
                    .map(|e| format!("mailto:{e}"))
                    .collect(),
                terms_of_service_agreed: true,
                only_return_existing: false,
                external_account: external_account(args)?,
            })?,
        ),
    };
    let order_op = match session.store.get(&snapshot_key)? {
        Some(snapshot) => {
            progress.step(format!(
                "resuming the interrupted order for {}",
                domains.join(", ")
            ));
            session.engine.resume(&String::from_utf8_lossy(&snapshot))?
        }
        None => {
            progress.step(format!("order for {} at {directory}", domains.join(", ")));
            session.engine.order(OrderRequest {
                certificate_key: CertificateKey::Generate(args.key_type),
                challenge_types: vec![solver.challenge_type()],
                ..OrderRequest::new(identifiers(domains))
            })?
        }
    };
    let ops: Vec<OpId> = account_op.into_iter().chain([order_op]).collect();
    let mut results = session
        .run(&ops, Some(&solver), Some(&snapshot_key), &mut progress)
        .await?;
    if let Some(op) = account_op {
        match results.remove(&op) {
            Some(Ok(Outcome::Account(info))) => session.save_account(info.url)?,
            Some(Err(failure)) => return Err(failure.into()),
            other => {
                return Err(Failure::new(
                    exit::OTHER,
                    format!("unexpected account outcome {other:?}"),
                ));
            }
        }
    }
    let result = results
        .remove(&order_op)
        .ok_or_else(|| Failure::new(exit::OTHER, "the engine did not end the order"))?;
    let requests = session.engine.requests_sent()?;
    let cert = match result {
        Ok(Outcome::Certificate(cert)) => cert,
        Ok(other) => {
            return Err(Failure::new(
                exit::OTHER,
                format!("unexpected order outcome {other:?}"),
            ));
        }
        Err(failure) => {
            // A CA that could not be reached, or a challenge that could not be published
            // (so was never answered), leaves the order usable: keep the snapshot so the
            // next run resumes it instead of spending a new order. Anything else ends it.
            let resumable = matches!(
                failure.kind.as_str(),
                "transport" | "challenge-deploy-failed"
            );
            if !resumable {
                session.store.delete(&snapshot_key)?;
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
    let stored = store_certificate(&session.store, &ca, &name, &directory, domains, &cert)?;
    session.store.delete(&snapshot_key)?;
    if let Some(command) = &args.deploy_hook {
        progress.step("running the deploy hook");
        deploy_hook(command, &stored, domains).await?;
    }
    progress.finish_current();
    let fullchain = stored.dir.join("fullchain.pem");
    let key = stored.dir.join("key.pem");
    if json {
        let report = serde_json::json!({
            "name": name,
            "domains": domains,
            "fullchain": fullchain,
            "cert": stored.dir.join("cert.pem"),
            "chain": stored.dir.join("chain.pem"),
            "key": key,
            "serial": stored.serial,
            "notAfter": stored.not_after,
            "issuer": stored.issuer,
            "orderUrl": cert.order_url,
            "acmeRequests": requests,
        });
        println!("{report}");
    } else {
        println!(
            "certificate for {} saved in {}",
            domains.join(", "),
            stored.dir.display()
        );
        println!("  fullchain.pem, cert.pem, chain.pem, key.pem (0600), meta.json");
        println!(
            "  serial {}, valid until {}, issued by {}",
            stored.serial, stored.not_after, stored.issuer
        );
        println!("  {requests} ACME requests");
    }
    Ok(())
}
