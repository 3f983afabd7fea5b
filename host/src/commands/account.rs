//! `certsmith account show|update|rollover|deactivate`.

use std::path::Path;

use certsmith_core::{AccountInfo, Command, KeyType, OpId, Outcome, PrivateKey};

use super::session::{Session, lock};
use super::{Failure, exit, key_rollover};
use crate::cli::{AccountCommand, CaArgs};
use crate::layout;
use crate::progress::Progress;
use crate::storage::{Lease, StorageSpec, Store};

/// Opens the session and checks the account is registered here.
async fn registered(
    args: &CaArgs,
    state_dir: &Path,
    storage: &StorageSpec,
) -> Result<Session, Failure> {
    let store = Store::open(storage, state_dir).await?;
    let session = Session::open(args, store, state_dir).await?;
    if session.account_url.is_none() {
        let who = args.email.as_deref().unwrap_or("the default account");
        return Err(Failure::new(
            exit::LOCAL,
            format!(
                "no account for {who} at {} here: `certsmith issue --accept-tos` creates one (pass the same --email)",
                session.directory
            ),
        ));
    }
    Ok(session)
}

/// Takes the account's lock: one change to an account at a time, across the fleet.
async fn account_lease(session: &Session, json: bool) -> Result<Lease, Failure> {
    let mut progress = Progress::new(json);
    let name = layout::account_lock(&session.ca, &session.account);
    lock(&session.store, &name, &mut progress).await
}

/// Runs one operation to its end, as a progress step named `what`.
async fn finish(
    session: &mut Session,
    op: OpId,
    json: bool,
    what: &str,
) -> Result<Outcome, Failure> {
    let mut progress = Progress::new(json);
    progress.step(format!("{what} at {}", session.directory));
    let outcome = key_rollover::run_one(session, op, &mut progress).await;
    progress.finish_current();
    outcome
}

/// Prints an account.
fn print_account(info: &AccountInfo, json: bool) {
    let status = format!("{:?}", info.account.status).to_lowercase();
    if json {
        println!(
            "{}",
            serde_json::json!({ "url": info.url, "status": status, "contact": info.account.contact })
        );
    } else {
        println!(
            "account {}\n  status:   {status}\n  contacts: {}",
            info.url,
            info.account.contact.join(", ")
        );
    }
}

/// Runs `certsmith account …`.
pub async fn run(
    command: AccountCommand,
    state_dir: &Path,
    storage: &StorageSpec,
    json: bool,
) -> Result<(), Failure> {
    match command {
        AccountCommand::Show(ca) => {
            let mut session = registered(&ca, state_dir, storage).await?;
            let op = session.start(Command::FetchAccount).await?;
            if let Outcome::Account(info) =
                finish(&mut session, op, json, "fetching the account").await?
            {
                print_account(&info, json);
            }
        }
        AccountCommand::Update { contacts, ca } => {
            let mut session = registered(&ca, state_dir, storage).await?;
            let lease = account_lease(&session, json).await?;
            let contact = contacts.iter().map(|c| format!("mailto:{c}")).collect();
            let op = session.start(Command::UpdateAccount { contact }).await?;
            let outcome = finish(&mut session, op, json, "updating the contacts").await;
            lease.release().await?;
            if let Outcome::Account(info) = outcome? {
                print_account(&info, json);
            }
        }
        AccountCommand::Deactivate(ca) => {
            let mut session = registered(&ca, state_dir, storage).await?;
            let lease = account_lease(&session, json).await?;
            let op = session.start(Command::DeactivateAccount).await?;
            let outcome = finish(&mut session, op, json, "deactivating the account").await;
            lease.release().await?;
            if let Outcome::Account(info) = outcome? {
                print_account(&info, json);
            }
        }
        AccountCommand::Rollover(ca) => {
            let mut session = registered(&ca, state_dir, storage).await?;
            let lease = account_lease(&session, json).await?;
            let new_key = PrivateKey::generate(KeyType::P256)
                .map_err(|e| Failure::new(exit::OTHER, e.to_string()))?
                .to_pem();
            let mut progress = Progress::new(json);
            let rolled =
                key_rollover::roll_over(&mut session, &lease, &new_key, &mut progress).await;
            progress.finish_current();
            lease.release().await?;
            rolled?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "rolledOver": true, "url": session.account_url })
                );
            } else {
                println!("account key replaced; the old key is no longer accepted by the CA");
            }
        }
    }
    Ok(())
}
