//! `certsmith renew`: renew stored certificates when they are due (at the time the CA's ARI
//! suggests, else 1/3 of the lifetime left, 1/2 for certificates of 10 days or less), or now
//! with `--force`, as each was obtained (the recipe in its `meta.json`; flags given now win).
//! The new certificate has the same names, names the one it replaces when the CA offers
//! ARI, and replaces the old lineage only once it is verified. `--all` covers every lineage
//! in the store, from every CA (each renewed at the CA that issued it), goes on past a
//! failure, reports each certificate and fails if any failed.

use std::path::Path;

use certsmith_core::{CertificateInfo, Timestamp, leaf_der};

use super::recipe::Recipe;
use super::renewal_time::{RenewalTime, renewal_time};
use super::session::Session;
use super::{Failure, exit, issue};
use crate::cli::{ObtainArgs, RenewArgs, directory_url};
use crate::clock::now;
use crate::layout;
use crate::progress::Progress;
use crate::storage::{StorageSpec, Store};

/// A stored certificate to look at: its CA and its lineage name.
struct Candidate {
    ca: String,
    name: String,
}

/// What renewing a stored certificate needs to know about it.
struct Stored {
    /// The names to certify, the lineage's own name first.
    names: Vec<String>,
    /// The current certificate's facts and DER, when its lineage is whole (else it is due
    /// now, with the names from `meta.json`).
    current: Option<(CertificateInfo, Vec<u8>)>,
    /// The CA that issued it (its directory URL, from `meta.json`).
    directory: Option<String>,
    /// What `issue` was given.
    recipe: Recipe,
}

/// What is stored about certificate `name` from `ca`.
async fn stored(store: &Store, ca: &str, name: &str) -> Result<Stored, Failure> {
    let Some(lineage) = store.read_lineage(ca, name).await? else {
        return Err(Failure::new(
            exit::LOCAL,
            format!("no stored certificate {name} (see certsmith list)"),
        ));
    };
    let meta: serde_json::Value = serde_json::from_slice(&lineage.meta_json).unwrap_or_default();
    let directory = meta["directory"].as_str().map(str::to_owned);
    let recipe = Recipe::from_meta(&meta);
    let whole = lineage
        .check(None)
        .ok()
        .and_then(|info| Some((info, leaf_der(&lineage.cert_pem).ok()?)));
    let mut names: Vec<String> = match &whole {
        Some((info, _)) => info.sans.iter().map(|s| s.value.clone()).collect(),
        None => serde_json::from_value(meta["domains"].clone()).unwrap_or_default(),
    };
    if names.is_empty() {
        return Err(Failure::new(
            exit::LOCAL,
            format!(
                "certs/{ca}/{name} is not whole and its meta.json names no domains: issue it again with certsmith issue"
            ),
        ));
    }
    // The first name picks the lineage: keep the certificate where it is.
    if let Some(i) = names.iter().position(|d| layout::cert_name(d) == name) {
        names.swap(0, i);
    }
    Ok(Stored {
        names,
        current: whole,
        directory,
        recipe,
    })
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

/// Renews one certificate if due (or forced), at the CA that issued it and as it was
/// obtained, the command line overriding; whether it was renewed.
async fn renew_one(
    candidate: &Candidate,
    args: &RenewArgs,
    store: &Store,
    state_dir: &Path,
    json: bool,
) -> Result<bool, Failure> {
    let started = now();
    let stored = stored(store, &candidate.ca, &candidate.name).await?;
    let name = &candidate.name;
    // Each certificate of --all is renewed at the CA that issued it.
    let obtain: ObtainArgs = match stored.directory {
        Some(directory) if args.domain.is_none() => args.obtain.at_server(directory),
        _ => args.obtain.clone(),
    };
    let solver = stored.recipe.solver.clone();
    let obtain = stored.recipe.under(&obtain);
    let mut session = Session::open(&obtain.ca, store.clone(), state_dir).await?;
    let mut progress = Progress::new(json);
    let due = match &stored.current {
        Some((info, der)) => {
            Some(renewal_time(&mut session, name, (info, der), &mut progress).await?)
        }
        None => None,
    };
    progress.finish_current();
    if !args.force
        && let Some(due) = due
        && now() < due.at
    {
        not_due(name, due.at, json);
        return Ok(false);
    }
    if let (Some(solver), false) = (&solver, args.obtain.names_a_solver()) {
        progress.step(format!(
            "renewing {name} as it was issued: {}",
            solver.flags()
        ));
    }
    // A renewal the CA's ARI scheduled names the certificate it replaces.
    let replaces = match (due, &stored.current) {
        (Some(RenewalTime { from_ari: true, .. }), Some((info, _))) => info.ari_id.clone(),
        _ => None,
    };
    let wanted = issue::Wanted {
        domains: &stored.names,
        replaces,
        started,
    };
    issue::obtain(&mut session, &wanted, &obtain, json).await?;
    Ok(true)
}

/// Reports a certificate that is not due yet.
fn not_due(name: &str, at: Timestamp, json: bool) {
    let at = at.to_rfc3339();
    if json {
        println!(
            "{}",
            serde_json::json!({ "name": name, "renewed": false, "renewAt": at })
        );
    } else {
        println!("{name}: not due until {at} (--force renews now)");
    }
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
