//! `certsmith renew`: renew stored certificates when they are due (1/3 of the lifetime left,
//! 1/2 for certificates of 10 days or less), or now with `--force`. The new certificate has
//! the same names and replaces the old lineage only once it is verified. `--all` covers
//! every lineage in the store, from every CA (each renewed at the CA that issued it), goes
//! on past a failure, reports each certificate and fails if any failed.

use std::path::Path;

use certsmith_core::Timestamp;

use super::{Failure, exit, issue};
use crate::cli::{ObtainArgs, RenewArgs, directory_url};
use crate::driver::now;
use crate::layout;
use crate::storage::{StorageSpec, Store};

/// A stored certificate to look at: its CA and its lineage name.
struct Candidate {
    ca: String,
    name: String,
}

/// The names on a stored certificate and when it is due; `None` when its lineage is not
/// whole (then it is due now, with the names from `meta.json`).
async fn stored(
    store: &Store,
    ca: &str,
    name: &str,
) -> Result<(Vec<String>, Option<Timestamp>, Option<String>), Failure> {
    let Some(lineage) = store.read_lineage(ca, name).await? else {
        return Err(Failure::new(
            exit::LOCAL,
            format!("no stored certificate {name} (see certsmith list)"),
        ));
    };
    let meta: serde_json::Value = serde_json::from_slice(&lineage.meta_json).unwrap_or_default();
    let directory = meta["directory"].as_str().map(str::to_owned);
    if let Ok(info) = lineage.check(None) {
        let names = info.sans.iter().map(|s| s.value.clone()).collect();
        return Ok((names, Some(info.default_renewal_time()), directory));
    }
    let domains: Vec<String> = serde_json::from_value(meta["domains"].clone()).unwrap_or_default();
    if domains.is_empty() {
        return Err(Failure::new(
            exit::LOCAL,
            format!(
                "certs/{ca}/{name} is not whole and its meta.json names no domains: issue it again with certsmith issue"
            ),
        ));
    }
    Ok((domains, None, directory))
}

/// The certificates the command names: `-d NAME` at `--server`'s CA, or every lineage.
async fn candidates(args: &RenewArgs, store: &Store) -> Result<Vec<Candidate>, Failure> {
    if let Some(domain) = &args.domain {
        return Ok(vec![Candidate {
            ca: layout::ca_slug(directory_url(&args.obtain.ca.server)),
            name: layout::cert_name(domain),
        }]);
    }
    let mut all = Vec::new();
    for ca in store.children("certs").await? {
        for name in store.children(&format!("certs/{ca}")).await? {
            all.push(Candidate {
                ca: ca.clone(),
                name,
            });
        }
    }
    Ok(all)
}

/// Renews one certificate if due (or forced); whether it was renewed.
async fn renew_one(
    candidate: &Candidate,
    args: &RenewArgs,
    store: &Store,
    state_dir: &Path,
    json: bool,
) -> Result<bool, Failure> {
    let (mut domains, due_at, directory) = stored(store, &candidate.ca, &candidate.name).await?;
    let name = &candidate.name;
    // The first name picks the lineage: keep the certificate where it is.
    if let Some(i) = domains.iter().position(|d| layout::cert_name(d) == *name) {
        domains.swap(0, i);
    }
    let due = due_at.is_none_or(|at| now() >= at);
    if !due && !args.force {
        let at = due_at.map(|t| t.to_rfc3339()).unwrap_or_default();
        if json {
            println!(
                "{}",
                serde_json::json!({ "name": name, "renewed": false, "renewAt": at })
            );
        } else {
            println!("{name}: not due until {at} (--force renews now)");
        }
        return Ok(false);
    }
    // Each certificate is renewed at the CA that issued it (named in its meta.json).
    let at_its_ca;
    let obtain: &ObtainArgs = match directory {
        Some(directory) if args.domain.is_none() => {
            at_its_ca = args.obtain.at_server(directory);
            &at_its_ca
        }
        _ => &args.obtain,
    };
    issue::obtain(&domains, obtain, store, state_dir, json).await?;
    Ok(true)
}

/// Runs `certsmith renew`.
pub async fn run(
    args: RenewArgs,
    state_dir: &Path,
    storage: &StorageSpec,
    json: bool,
) -> Result<(), Failure> {
    let store = Store::open(storage, state_dir).await?;
    let candidates = candidates(&args, &store).await?;
    if candidates.is_empty() {
        println!("no certificates in {}", store.describe());
    }
    let mut failed = Vec::new();
    for candidate in &candidates {
        if let Err(failure) = renew_one(candidate, &args, &store, state_dir, json).await {
            if args.domain.is_some() {
                return Err(failure);
            }
            let line = format!("{} ({}): {}", candidate.name, candidate.ca, failure.message);
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "name": candidate.name, "ca": candidate.ca, "renewed": false, "error": failure.message })
                );
            } else {
                eprintln!("certsmith: renewing {line}");
            }
            failed.push((line, failure.code));
        }
    }
    let Some((_, code)) = failed.last() else {
        return Ok(());
    };
    let lines: Vec<&str> = failed.iter().map(|(line, _)| line.as_str()).collect();
    Err(Failure::new(
        *code,
        format!(
            "{} of {} certificates failed to renew: {}",
            failed.len(),
            candidates.len(),
            lines.join("; ")
        ),
    ))
}
