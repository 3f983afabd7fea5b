//! Account key rollover that never loses the key the CA holds. The new key is stored as
//! pending (`key.pem.next`) before the CA hears of it and becomes `key.pem` only once the CA
//! agreed. A process stopped in between leaves the pending key behind; the next command for
//! that account asks the CA which key it holds (a POST-as-GET of the account signed with
//! each) and finishes the rollover (the CA holds the new key) or undoes it (the old one).

use certsmith_core::{Command, OpId, Outcome, PrivateKey};

use super::session::{Session, lock, pem_text};
use super::{Failure, exit};
use crate::engine::{AcmeEngine, EngineError};
use crate::layout;
use crate::progress::Progress;
use crate::storage::{Lease, Secrecy};

/// Opens an engine for the session's CA and account signing with a key (PEM).
pub type Reopen<'a> = dyn Fn(&str) -> Result<Box<dyn AcmeEngine>, EngineError> + 'a;

/// Rolls the session's account over to `new_key_pem` under `lease` (the account's lock).
pub async fn roll_over(
    session: &mut Session,
    lease: &Lease,
    new_key_pem: &str,
    progress: &mut Progress,
) -> Result<(), Failure> {
    let pending = pending_key(session);
    lease
        .put(&pending, new_key_pem.as_bytes(), Secrecy::Secret)
        .await?;
    crate::crash_point::hit("rollover-key-pending");
    progress.step(format!(
        "rolling the account key over at {}",
        session.directory
    ));
    let op = session
        .start(Command::ChangeKey(PrivateKey::from_pem(new_key_pem)?))
        .await?;
    match run_one(session, op, progress).await {
        Ok(_) => {
            crate::crash_point::hit("rollover-ca-switched");
            lease
                .put(
                    &session.account_key,
                    new_key_pem.as_bytes(),
                    Secrecy::Secret,
                )
                .await?;
            lease.delete(&pending).await?;
            Ok(())
        }
        // The CA said no: it keeps the old key, so the pending one is of no use.
        Err(failure) if failure.code != exit::NETWORK => {
            lease.delete(&pending).await?;
            Err(failure)
        }
        Err(mut failure) => {
            failure.message.push_str(
                " (whether the CA switched keys is unknown: the next command for this account asks it and finishes or undoes the rollover)",
            );
            Err(failure)
        }
    }
}

/// Settles a rollover a stopped process left behind, if there is one: afterwards the
/// session's engine signs with the key the CA holds, and that key is `key.pem`.
pub async fn settle(session: &mut Session, reopen: &Reopen<'_>) -> Result<(), Failure> {
    let pending = pending_key(session);
    if !session.store.exists(&pending).await? {
        return Ok(());
    }
    let mut progress = Progress::new(true);
    let lock_name = layout::account_lock(&session.ca, &session.account);
    let lease = lock(&session.store, &lock_name, &mut progress).await?;
    let settled = settle_under(session, &lease, reopen, &mut progress).await;
    let released = lease.release().await;
    settled?;
    Ok(released?)
}

/// [`settle`] once the account's lock is held.
async fn settle_under(
    session: &mut Session,
    lease: &Lease,
    reopen: &Reopen<'_>,
    progress: &mut Progress,
) -> Result<(), Failure> {
    let pending_name = pending_key(session);
    let current = read_key(session, &session.account_key.clone()).await?;
    let Some(pending) = session.store.get(&pending_name).await? else {
        // Another process settled it while this one waited: use the key it left.
        session.replace_engine(reopen(&current)?);
        return Ok(());
    };
    let pending = pem_text(pending, &pending_name)?;
    session.replace_engine(reopen(&current)?);
    if holds_key(session, progress).await? {
        lease.delete(&pending_name).await?;
        progress.notice(
            "an interrupted account key rollover never reached the CA: the account keeps its key (run `certsmith account rollover` again to replace it)",
        );
        return Ok(());
    }
    session.replace_engine(reopen(&pending)?);
    if holds_key(session, progress).await? {
        lease
            .put(&session.account_key, pending.as_bytes(), Secrecy::Secret)
            .await?;
        lease.delete(&pending_name).await?;
        progress.notice("finished an interrupted account key rollover: the CA holds the new key");
        return Ok(());
    }
    Err(Failure::new(
        exit::CA_REFUSED,
        format!(
            "the CA accepts neither the account key {} nor the key of an interrupted rollover {pending_name}: both are kept; check the account with the CA",
            session.account_key
        ),
    ))
}

/// Whether the CA accepts the session engine's key for the account: the account fetched
/// (POST-as-GET) with it. A CA that cannot be reached is an error: nothing can be decided.
async fn holds_key(session: &mut Session, progress: &mut Progress) -> Result<bool, Failure> {
    let op = session.start(Command::FetchAccount).await?;
    match run_one(session, op, progress).await {
        Ok(_) => Ok(true),
        Err(failure) if failure.code == exit::CA_REFUSED => Ok(false),
        Err(mut failure) => {
            failure.message.push_str(
                " (an interrupted account key rollover is pending: the CA must say which key it holds)",
            );
            Err(failure)
        }
    }
}

/// Runs one operation to its end: its outcome, or its failure.
pub async fn run_one(
    session: &mut Session,
    op: OpId,
    progress: &mut Progress,
) -> Result<Outcome, Failure> {
    let mut results = session.run(&[op], progress).await?;
    match results.remove(&op) {
        Some(Ok(outcome)) => Ok(outcome),
        Some(Err(failure)) => Err(failure.into()),
        None => Err(Failure::new(
            exit::OTHER,
            "the engine did not end the operation",
        )),
    }
}

/// Where the session account's pending key is kept.
fn pending_key(session: &Session) -> String {
    layout::account_pending_key(&session.ca, &session.account)
}

/// The key stored at `name`, as PEM text.
async fn read_key(session: &Session, name: &str) -> Result<String, Failure> {
    let bytes =
        session.store.get(name).await?.ok_or_else(|| {
            Failure::new(exit::LOCAL, format!("the account key {name} is missing"))
        })?;
    pem_text(bytes, name)
}
