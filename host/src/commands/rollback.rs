//! `certsmith rollback`: make the previous generation of a certificate lineage current
//! again, under the certificate's lock, in one atomic step; a second rollback undoes the
//! first.

use std::path::Path;

use super::session::lock;
use super::{Failure, exit};
use crate::cli::{RollbackArgs, directory_url};
use crate::layout;
use crate::progress::Progress;
use crate::storage::{StorageSpec, Store};

/// Runs `certsmith rollback`.
pub async fn run(
    args: RollbackArgs,
    state_dir: &Path,
    storage: &StorageSpec,
    json: bool,
) -> Result<(), Failure> {
    let store = Store::open(storage, state_dir).await?;
    let ca = layout::ca_slug(directory_url(&args.server));
    let name = layout::cert_name(&args.domain);
    let mut progress = Progress::new(json);
    let lease = lock(&store, &layout::cert_lock(&ca, &name), &mut progress).await?;
    let rolled = store.rollback_lineage(&ca, &name, Some(&lease)).await;
    lease.release().await?;
    if !rolled? {
        return Err(Failure::new(
            exit::LOCAL,
            format!(
                "no previous certificate for {} in {} (see certsmith list): nothing was changed",
                args.domain,
                store.describe()
            ),
        ));
    }
    progress.finish_current();
    let lineage = store.read_lineage(&ca, &name).await?;
    let info = lineage
        .as_ref()
        .map(|lineage| lineage.check(None))
        .transpose()
        .map_err(|why| {
            Failure::new(
                exit::LOCAL,
                format!("{}: {why}", layout::lineage(&ca, &name)),
            )
        })?;
    let serial = info
        .as_ref()
        .map(|i| i.serial_hex.clone())
        .unwrap_or_default();
    let not_after = info.map(|i| i.not_after.to_rfc3339()).unwrap_or_default();
    if json {
        println!(
            "{}",
            serde_json::json!({ "name": name, "rolledBack": true, "serial": serial, "notAfter": not_after })
        );
    } else {
        println!(
            "{name}: the previous certificate is current again (serial {serial}, valid until {not_after})"
        );
    }
    Ok(())
}
