//! `certsmith renew`: renew stored certificates when they are due (1/3 of the lifetime left,
//! 1/2 for certificates of 10 days or less), or now with `--force`. The new certificate has
//! the same names and replaces the old files only once it is verified.

use std::path::Path;

use certsmith_core::cert::{inspect, split_pem_chain};

use super::{Failure, exit, issue};
use crate::cli::{RenewArgs, directory_url};
use crate::driver::now;
use crate::layout;
use crate::storage::FsStore;

/// The names on a stored certificate, and when it is due; `None` when its `cert.pem` is
/// missing or unreadable (then it is due now, with the names from `meta.json`).
fn stored(
    store: &FsStore,
    ca: &str,
    name: &str,
) -> Result<(Vec<String>, Option<certsmith_core::Timestamp>), Failure> {
    let pem = store.get(&layout::cert_file(ca, name, "cert.pem"))?;
    let info = pem.and_then(|pem| {
        split_pem_chain(&String::from_utf8_lossy(&pem))
            .and_then(|ders| inspect(&ders[0]))
            .ok()
    });
    if let Some(info) = info {
        let names = info.sans.iter().map(|s| s.value.clone()).collect();
        return Ok((names, Some(info.default_renewal_time())));
    }
    let meta = store
        .get(&layout::cert_file(ca, name, "meta.json"))?
        .unwrap_or_default();
    let domains: Vec<String> = serde_json::from_slice::<serde_json::Value>(&meta)
        .ok()
        .and_then(|m| serde_json::from_value(m["domains"].clone()).ok())
        .unwrap_or_default();
    if domains.is_empty() {
        return Err(Failure::new(
            exit::LOCAL,
            format!(
                "certs/{ca}/{name} has neither a readable cert.pem nor meta.json: issue it again with certsmith issue"
            ),
        ));
    }
    Ok((domains, None))
}

/// Runs `certsmith renew`.
pub async fn run(args: RenewArgs, state_dir: &Path, json: bool) -> Result<(), Failure> {
    let store = FsStore::open(state_dir)?;
    let directory = directory_url(&args.obtain.ca.server).to_owned();
    let ca = layout::ca_slug(&directory);
    let names = match &args.domain {
        Some(domain) => vec![layout::cert_name(domain)],
        None => store.children(&format!("certs/{ca}"))?,
    };
    if names.is_empty() {
        println!(
            "no certificates from {directory} in {}",
            state_dir.display()
        );
    }
    for name in names {
        let (mut domains, due_at) = stored(&store, &ca, &name)?;
        // The first name picks the directory: keep the certificate where it is.
        if let Some(i) = domains.iter().position(|d| layout::cert_name(d) == name) {
            domains.swap(0, i);
        }
        if domains.is_empty() {
            return Err(Failure::new(
                exit::LOCAL,
                format!("no stored certificate {name} from {directory} (see certsmith list)"),
            ));
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
            continue;
        }
        issue::obtain(&domains, &args.obtain, state_dir, json).await?;
    }
    Ok(())
}
