//! `certsmith revoke`: revoke a stored certificate (signed by the account, or by the
//! certificate's own key when the account is not known here), or a certificate file.

use std::path::Path;

use certsmith_core::{
    Command, Outcome, PrivateKey, RevocationRequest, RevocationSigner, inspect_certificate,
};

use super::session::{Session, lock};
use super::{Failure, exit};
use crate::cli::RevokeArgs;
use crate::layout;
use crate::progress::Progress;
use crate::storage::{StorageSpec, Store};

/// The first certificate of PEM text, DER; `what` names the source in errors.
fn leaf_der(pem: &[u8], what: &str) -> Result<Vec<u8>, Failure> {
    let bad = |e: certsmith_core::Error| Failure::new(exit::LOCAL, format!("{what}: {e}"));
    certsmith_core::leaf_der(&String::from_utf8_lossy(pem)).map_err(bad)
}

/// Runs `certsmith revoke`.
pub async fn run(
    args: RevokeArgs,
    state_dir: &Path,
    storage: &StorageSpec,
    json: bool,
) -> Result<(), Failure> {
    let store = Store::open(storage, state_dir).await?;
    let mut session = Session::open(&args.ca, store, state_dir).await?;
    let mut progress = Progress::new(json);
    // A stored certificate is revoked under its lock: no renewal replaces it meanwhile.
    let lease = match &args.domain {
        Some(domain) => {
            let name = layout::cert_lock(&session.ca, &layout::cert_name(domain));
            Some(lock(&session.store, &name, &mut progress).await?)
        }
        None => None,
    };
    let revoked = revoke(&mut session, &args, &mut progress, json).await;
    if let Some(lease) = lease {
        lease.release().await?;
    }
    revoked
}

/// Revokes the certificate `args` names.
async fn revoke(
    session: &mut Session,
    args: &RevokeArgs,
    progress: &mut Progress,
    json: bool,
) -> Result<(), Failure> {
    let (der, signer) = match (&args.domain, &args.cert) {
        (Some(domain), _) => {
            let name = layout::cert_name(domain);
            let cert_key = layout::cert_file(&session.ca, &name, "cert.pem");
            let pem = session.store.get(&cert_key).await?.ok_or_else(|| {
                Failure::new(
                    exit::LOCAL,
                    format!(
                        "no stored certificate for {domain} from {} (see certsmith list)",
                        session.directory
                    ),
                )
            })?;
            let der = leaf_der(&pem, &cert_key)?;
            let signer = match session.account_url {
                Some(_) => RevocationSigner::Account,
                None => {
                    let key_key = layout::cert_file(&session.ca, &name, "key.pem");
                    let key_pem = session.store.get(&key_key).await?.unwrap_or_default();
                    let key = PrivateKey::from_pem(&String::from_utf8_lossy(&key_pem))
                        .map_err(|e| Failure::new(exit::LOCAL, format!("{key_key}: {e}")))?;
                    RevocationSigner::CertificateKey(key)
                }
            };
            (der, signer)
        }
        (None, Some(file)) => {
            let pem = std::fs::read(file).map_err(|e| {
                Failure::new(exit::LOCAL, format!("cannot read {}: {e}", file.display()))
            })?;
            if session.account_url.is_none() {
                return Err(Failure::new(
                    exit::LOCAL,
                    format!(
                        "no account at {} here: revoke a certificate file with the account that ordered it (--email), or a stored one with -d",
                        session.directory
                    ),
                ));
            }
            (
                leaf_der(&pem, &file.display().to_string())?,
                RevocationSigner::Account,
            )
        }
        (None, None) => {
            return Err(Failure::new(
                exit::LOCAL,
                "name the certificate: -d NAME or --cert FILE",
            ));
        }
    };
    let serial = inspect_certificate(&der)
        .map(|i| i.serial_hex)
        .unwrap_or_default();
    progress.step(format!(
        "revoking certificate {serial} at {}",
        session.directory
    ));
    let op = session
        .start(Command::Revoke(RevocationRequest {
            certificate_der: der,
            reason: args.reason,
            signer,
        }))
        .await?;
    let mut results = session.run(&[op], progress).await?;
    match results.remove(&op) {
        Some(Ok(Outcome::Revoked)) => {
            progress.finish_current();
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "revoked": true, "serial": serial })
                );
            } else {
                println!("certificate {serial} revoked");
            }
            Ok(())
        }
        Some(Err(failure)) => Err(failure.into()),
        other => Err(Failure::new(
            exit::OTHER,
            format!("unexpected revocation outcome {other:?}"),
        )),
    }
}
