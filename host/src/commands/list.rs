//! `certsmith list`: every stored certificate, read from its lineage (not from what
//! `meta.json` claims): names, issuer, expiry, days left, renewal time; a lineage whose files
//! do not belong together is listed with what is wrong.

use std::path::Path;

use certsmith_core::CertificateInfo;

use super::Failure;
use crate::clock::now;
use crate::storage::{StorageSpec, Store};

/// One stored certificate.
struct Entry {
    ca: String,
    name: String,
    info: Result<CertificateInfo, String>,
}

/// Runs `certsmith list`.
pub async fn run(state_dir: &Path, storage: &StorageSpec, json: bool) -> Result<(), Failure> {
    let store = Store::open(storage, state_dir).await?;
    let mut lineages = Vec::new();
    for ca in store.children("certs").await? {
        for name in store.children(&format!("certs/{ca}")).await? {
            lineages.push((ca.clone(), name));
        }
    }
    let read = store.read_lineages(&lineages).await?;
    let entries: Vec<Entry> = lineages
        .into_iter()
        .zip(read)
        .map(|((ca, name), lineage)| Entry {
            ca,
            name,
            info: match lineage {
                Ok(Some(lineage)) => lineage.check(None),
                Ok(None) => Err("no certificate".to_owned()),
                Err(e) => Err(e.to_string()),
            },
        })
        .collect();
    let now = now();
    if json {
        let list: Vec<_> = entries
            .iter()
            .map(|e| match &e.info {
                Ok(i) => serde_json::json!({
                    "ca": e.ca, "name": e.name,
                    "names": i.sans.iter().map(|s| &s.value).collect::<Vec<_>>(),
                    "issuer": i.issuer, "serial": i.serial_hex, "notAfter": i.not_after.to_rfc3339(),
                    "daysLeft": i.days_left(now), "renewAt": i.default_renewal_time().to_rfc3339(),
                }),
                Err(error) => serde_json::json!({ "ca": e.ca, "name": e.name, "error": error }),
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    if entries.is_empty() {
        println!("no certificates in {}", store.describe());
    }
    for e in &entries {
        match &e.info {
            Ok(i) => {
                let names: Vec<&str> = i.sans.iter().map(|s| s.value.as_str()).collect();
                println!(
                    "{}  ({})\n  names:     {}\n  issuer:    {}\n  not after: {} ({} days left)\n  renew at:  {}",
                    e.name,
                    e.ca,
                    names.join(", "),
                    i.issuer_common_name.as_deref().unwrap_or(&i.issuer),
                    i.not_after,
                    i.days_left(now),
                    i.default_renewal_time(),
                );
            }
            Err(error) => println!("{}  ({})\n  unreadable: {error}", e.name, e.ca),
        }
    }
    Ok(())
}
