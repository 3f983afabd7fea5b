//! Keeping a [`CertResolver`] in step with a store that certsmith writes (`certsmith run`,
//! `certsmith renew` from cron, a fleet on Redis): read the lineages, serve each new whole
//! certificate, keep the last good one when a stored pair does not check out. Call
//! [`refresh`] at start and whenever [`Store::watch_lineages`] reports a change.

use std::sync::Arc;

use super::{CertResolver, Served};
use crate::storage::{StorageError, Store};

/// A stored lineage to serve: its name in the store and the names its certificate must
/// carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// The lineage's name (`certs/<ca>/<name>`).
    pub name: String,
    /// The names the certificate must carry to be served.
    pub names: Vec<String>,
}

/// What reading one lineage again did.
#[derive(Debug)]
pub enum Refreshed {
    /// A new certificate is served for its names.
    Installed(Arc<Served>),
    /// The certificate served is still the stored one, or none is stored.
    Unchanged,
    /// The stored files cannot be served (why); what was served before stays.
    Refused(String),
}

/// Reads the lineages of `wanted` (of CA `ca`) at once and serves each whole one whose
/// serial is not served yet, all in one swap: one result per wanted lineage, in order.
pub async fn refresh(
    store: &Store,
    ca: &str,
    resolver: &CertResolver,
    wanted: &[Wanted],
) -> Result<Vec<Refreshed>, StorageError> {
    let keys: Vec<(String, String)> = wanted
        .iter()
        .map(|w| (ca.to_owned(), w.name.clone()))
        .collect();
    let read = store.read_lineages(&keys).await?;
    let mut fresh = Vec::new();
    let results = wanted
        .iter()
        .zip(read)
        .map(|(wanted, lineage)| {
            let lineage = match lineage {
                Ok(Some(lineage)) => lineage,
                Ok(None) => return Refreshed::Unchanged,
                Err(e) => return Refreshed::Refused(e.to_string()),
            };
            let info = match lineage.check(Some(&wanted.names)) {
                Ok(info) => info,
                Err(why) => return Refreshed::Refused(why),
            };
            let served = wanted.names.first().and_then(|name| resolver.get(name));
            if served.is_some_and(|s| s.serial == info.serial_hex) {
                return Refreshed::Unchanged;
            }
            match Served::from_lineage(&lineage) {
                Ok(new) => {
                    let new = Arc::new(new);
                    fresh.push(Arc::clone(&new));
                    Refreshed::Installed(new)
                }
                Err(why) => Refreshed::Refused(why),
            }
        })
        .collect();
    resolver.install_all(fresh);
    Ok(results)
}
