//! Locks with a lease and a fencing token, on either backend. A holder renews its lease
//! while it works; a holder that stops renewing (paused, partitioned, killed) loses the lock
//! when the lease runs out, and one that is known dead (same host, same PID namespace, its
//! process gone) loses it at once. Every grant gets a larger fencing token, and writes made
//! through a [`Lease`] are refused once a newer token exists.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Fence, Secrecy, StorageError, Store};
use crate::clock::now;

/// How long a lease lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(60);

/// Who holds a lock, as stored beside it (shown to whoever waits for it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The holder's host name.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Its PID namespace (`pid:[…]`), so a PID is only compared within one namespace.
    pub pid_ns: String,
    /// Its process start time (clock ticks since boot), so a reused PID is not mistaken for it.
    pub started: u64,
    /// When it took the lock (ms since the Unix epoch).
    pub since_ms: u64,
    /// A random value unique to this grant: what renewal and release compare.
    pub token: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} since {}",
            self.host,
            self.pid,
            certsmith_core::Timestamp::from_unix_millis(self.since_ms).to_rfc3339()
        )
    }
}

/// This process's host name, PID namespace and start time, read from `/proc` once.
fn this_process() -> &'static (String, String, u64) {
    static IDENTITY: OnceLock<(String, String, u64)> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "unknown-host".into());
        let ns = std::fs::read_link("/proc/self/ns/pid")
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let started = process_start(std::process::id()).unwrap_or(0);
        (host, ns, started)
    })
}

/// When process `pid` started (field 22 of `/proc/<pid>/stat`), if it runs.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after its end.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

impl Holder {
    /// A new holder record for this process.
    pub fn this_process() -> Self {
        let (host, pid_ns, started) = this_process().clone();
        let mut random = [0u8; 16];
        // Without randomness the token still differs by PID and time.
        let _ = getrandom::fill(&mut random);
        let token: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            host,
            pid: std::process::id(),
            pid_ns,
            started,
            since_ms: now().unix_millis(),
            token,
        }
    }

    /// Whether the holder is known to be dead: a process of this host and PID namespace
    /// that no longer runs (or whose PID now belongs to a later process). Holders elsewhere
    /// are never known dead; their lease decides.
    pub fn known_dead(&self) -> bool {
        let (host, pid_ns, _) = this_process();
        self.host == *host
            && self.pid_ns == *pid_ns
            && !pid_ns.is_empty()
            && process_start(self.pid) != Some(self.started)
    }
}

/// What one attempt to take a lock found.
pub enum Attempt {
    /// Granted, with this fencing token.
    Granted(u64),
    /// Held by someone else.
    Held(Holder),
}

/// A held lock. Its lease is renewed in the background until it is released or dropped;
/// writes through it are fenced. Dropping it without [`Lease::release`] leaves the lock to
/// expire with its lease.
pub struct Lease {
    store: Store,
    holder: Holder,
    fence: Fence,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
    }
}

impl Lease {
    /// The fencing token of this grant.
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// A handle that writes `key` under this lease's fence, for a writer that outlives a
    /// borrow of the lease (an operation running in the engine's hub).
    pub fn fenced(&self, key: &str) -> FencedKey {
        FencedKey {
            store: self.store.clone(),
            fence: self.fence.clone(),
            key: key.to_owned(),
        }
    }

    /// Stores `bytes` at `key`, unless a newer holder has taken the lock over.
    pub async fn put(&self, key: &str, bytes: &[u8], secrecy: Secrecy) -> Result<(), StorageError> {
        self.store
            .put_fenced(key, bytes, secrecy, Some(&self.fence))
            .await
    }

    /// Removes `key`, unless a newer holder has taken the lock over.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.store.delete_fenced(key, Some(&self.fence)).await
    }

    /// Gives the lock up now.
    pub async fn release(mut self) -> Result<(), StorageError> {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
        self.store.unlock(&self.fence.name, &self.holder).await
    }
}

/// One key written under a lock's fence: refused once a newer holder has taken the lock.
#[derive(Clone)]
pub struct FencedKey {
    store: Store,
    fence: Fence,
    key: String,
}

impl FencedKey {
    /// Stores `bytes` as a secret (mode 0600 on files).
    pub async fn put_secret(&self, bytes: &[u8]) -> Result<(), StorageError> {
        self.store
            .put_fenced(&self.key, bytes, Secrecy::Secret, Some(&self.fence))
            .await
    }
}

impl Store {
    /// One attempt at lock `name` with a lease of `lease` and no background renewal (a dead
    /// holder's lock is taken over): the lease, or who holds it.
    pub async fn try_lock(
        &self,
        name: &str,
        lease: Duration,
    ) -> Result<Result<Lease, Holder>, StorageError> {
        crate::layout::check_lock_name(name)?;
        let holder = Holder::this_process();
        let attempt = match self.lock_once(name, &holder, lease).await? {
            Attempt::Held(other) if other.known_dead() => {
                tracing::info!("taking over the lock on {name} from {other}, which is gone");
                self.lock_steal(name, &other, &holder, lease).await?
            }
            attempt => attempt,
        };
        Ok(match attempt {
            Attempt::Granted(token) => Ok(Lease {
                store: self.clone(),
                holder,
                fence: Fence {
                    name: name.to_owned(),
                    token,
                },
                renewer: None,
            }),
            Attempt::Held(other) => Err(other),
        })
    }

    /// Takes lock `name`, waiting at most `wait` for its holder (calling `waiting` each time
    /// the holder changes), and keeps its lease renewed until it is released.
    pub async fn lock(
        &self,
        name: &str,
        wait: Duration,
        waiting: &mut (dyn FnMut(&Holder) + Send),
    ) -> Result<Lease, StorageError> {
        let started = Instant::now();
        let mut seen: Option<Holder> = None;
        loop {
            match self.try_lock(name, LEASE).await? {
                Ok(mut lease) => {
                    let store = self.clone();
                    let (name, holder) = (lease.fence.name.clone(), lease.holder.clone());
                    lease.renewer = Some(tokio::spawn(async move {
                        loop {
                            tokio::time::sleep(LEASE / 3).await;
                            match store.relock(&name, &holder, LEASE).await {
                                Ok(true) => {}
                                Ok(false) => {
                                    tracing::warn!("lost the lock on {name}: its lease ran out");
                                    return;
                                }
                                Err(e) => tracing::warn!("cannot renew the lock on {name}: {e}"),
                            }
                        }
                    }));
                    return Ok(lease);
                }
                Err(holder) => {
                    if started.elapsed() >= wait {
                        return Err(StorageError::LockTimeout {
                            name: name.to_owned(),
                            holder: holder.to_string(),
                            waited_secs: started.elapsed().as_secs(),
                        });
                    }
                    if seen.as_ref() != Some(&holder) {
                        waiting(&holder);
                        seen = Some(holder);
                    }
                    let mut jitter = [0u8; 1];
                    let _ = getrandom::fill(&mut jitter);
                    let pause = Duration::from_millis(20 + u64::from(jitter[0]) / 4);
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// One attempt at lock `name` for `holder`.
    async fn lock_once(
        &self,
        name: &str,
        holder: &Holder,
        lease: Duration,
    ) -> Result<Attempt, StorageError> {
        match self {
            Self::Files(store) => store.lock_once(name, holder, lease, None),
            Self::Redis(store) => store.lock_once(name, holder, lease, None).await,
        }
    }

    /// Takes lock `name` from `dead` (only if `dead` still holds it) for `holder`.
    async fn lock_steal(
        &self,
        name: &str,
        dead: &Holder,
        holder: &Holder,
        lease: Duration,
    ) -> Result<Attempt, StorageError> {
        match self {
            Self::Files(store) => store.lock_once(name, holder, lease, Some(dead)),
            Self::Redis(store) => store.lock_once(name, holder, lease, Some(dead)).await,
        }
    }

    /// Extends `holder`'s lease on `name`; false if it no longer holds the lock.
    async fn relock(
        &self,
        name: &str,
        holder: &Holder,
        lease: Duration,
    ) -> Result<bool, StorageError> {
        match self {
            Self::Files(store) => store.relock(name, holder, lease),
            Self::Redis(store) => store.relock(name, holder, lease).await,
        }
    }

    /// Releases `holder`'s lock on `name` (nothing happens if it no longer holds it).
    async fn unlock(&self, name: &str, holder: &Holder) -> Result<(), StorageError> {
        match self {
            Self::Files(store) => store.unlock(name, holder),
            Self::Redis(store) => store.unlock(name, holder).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_gone_one_is_dead() -> std::io::Result<()> {
        let me = Holder::this_process();
        assert!(!me.known_dead(), "{me:?}");
        let mut child = std::process::Command::new("true").spawn()?;
        let pid = child.id();
        child.wait()?;
        let gone = Holder { pid, ..me.clone() };
        assert!(gone.known_dead());
        let reused = Holder {
            started: me.started + 1,
            ..me.clone()
        };
        assert!(reused.known_dead(), "a reused PID is not the holder");
        let elsewhere = Holder {
            host: "another-host".into(),
            pid,
            ..me
        };
        assert!(!elsewhere.known_dead(), "other hosts are left to the lease");
        Ok(())
    }
}
