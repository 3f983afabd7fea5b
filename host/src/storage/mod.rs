//! The store: one interface over two backends with the same keys (`crate::layout` names
//! them all). Files under the state directory are the default; a Redis server is the store
//! of a fleet (and of the edge plugin). Every backend offers:
//!
//! - `get`, atomic `put`, `put_new` (create only if absent), `put_expiring` (HTTP-01
//!   tokens), `delete`, `children` (the names one level under a prefix);
//! - locks with a lease and a **fencing token** (`lock`): a number that grows with every
//!   grant; writes made through a [`Lease`] are refused once a newer token exists, so a
//!   holder whose lease ran out (paused, partitioned) cannot overwrite a newer result;
//! - certificate lineages replaced as one unit (`lineage`): the new files become current
//!   together, the previous generation is kept for a rollback.

mod fs;
pub mod lineage;
mod lock;
mod redis;
mod watch;

use std::path::Path;
use std::time::Duration;

pub use lock::{FencedKey, Holder, Lease};
pub use watch::LineageWatch;

/// Whether a value is secret (private keys, snapshots holding keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secrecy {
    /// Readable by others (certificates, metadata): 0644.
    Public,
    /// Owner only: 0600.
    Secret,
}

/// Which store: `fs` (the state directory) or a `redis://` / `rediss://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageSpec {
    /// Files under the state directory.
    Files,
    /// A Redis server.
    Redis {
        /// `redis://host:port/db`, `rediss://` for TLS.
        url: String,
        /// The root (PEM file) that signs a `rediss://` server's certificate, trusted
        /// instead of the system's roots (`--storage-ca-cert`).
        root_cert: Option<std::path::PathBuf>,
    },
}

impl StorageSpec {
    /// The same store, trusting `root_cert` for a `rediss://` server.
    pub fn trusting(self, root_cert: Option<std::path::PathBuf>) -> Self {
        match self {
            Self::Redis { url, .. } => Self::Redis { url, root_cert },
            files => files,
        }
    }
}

impl std::str::FromStr for StorageSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "fs" {
            Ok(Self::Files)
        } else if text.starts_with("redis://") || text.starts_with("rediss://") {
            Ok(Self::Redis {
                url: text.to_owned(),
                root_cert: None,
            })
        } else {
            Err(format!(
                "unknown storage {text:?}: expected fs or a redis:// or rediss:// URL (e.g. redis://127.0.0.1:6379)"
            ))
        }
    }
}

/// A storage failure, naming the file, key or server and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A key that is not a safe relative path.
    #[error("invalid storage key {0:?}: expected a relative path of plain names separated by '/'")]
    BadKey(String),
    /// The filesystem refused.
    #[error(
        "cannot {action} {path}: {source} — check that the state directory (--state-dir) is writable"
    )]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Redis failed.
    #[error("redis at {url}: {reason}")]
    Redis {
        /// The server, without credentials.
        url: String,
        /// What it said.
        reason: String,
    },
    /// A write under a lease that a newer holder has taken over.
    #[error(
        "the lock on {name} was taken over by a newer holder (our fencing token {ours}, now {current}): nothing was written"
    )]
    Fenced {
        /// The lock.
        name: String,
        /// The token of the lease the write was made under.
        ours: u64,
        /// The newest token granted.
        current: u64,
    },
    /// A lock that stayed held for longer than the caller would wait.
    #[error("gave up waiting for the lock on {name} after {waited_secs} s: held by {holder}")]
    LockTimeout {
        /// The lock.
        name: String,
        /// Who holds it.
        holder: String,
        /// How long we waited.
        waited_secs: u64,
    },
    /// A stored value that is not what it should be.
    #[error("{key}: {reason}")]
    Corrupt {
        /// Where.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// A lock's fencing token and the lock it belongs to: what a fenced write is checked against.
#[derive(Clone, Debug)]
pub struct Fence {
    /// The lock's name.
    pub name: String,
    /// The token granted with the lease.
    pub token: u64,
}

/// An open store (cheap to clone: clones share the connection).
#[derive(Clone)]
pub enum Store {
    /// Files under the state directory.
    Files(fs::FsStore),
    /// A Redis server.
    Redis(redis::RedisStore),
}

/// Creates the part `part` of the state directory (0700) and checks that it is writable;
/// its path. What must exist before a process is confined to that part (`plugin serve`).
pub fn prepare_part(state_dir: &Path, part: &str) -> Result<std::path::PathBuf, StorageError> {
    fs::FsStore::open_part(state_dir, part).map(|_| state_dir.join(part))
}

impl Store {
    /// Opens the store `spec` names; files live under `state_dir`.
    pub async fn open(spec: &StorageSpec, state_dir: &Path) -> Result<Self, StorageError> {
        match spec {
            StorageSpec::Files => Ok(Self::Files(fs::FsStore::open(state_dir)?)),
            StorageSpec::Redis { url, root_cert } => Ok(Self::Redis(
                redis::RedisStore::open(url, root_cert.as_deref()).await?,
            )),
        }
    }

    /// Opens the store `spec` names for a process that only uses the keys under `part`
    /// (`http01`): on files, only that directory is created and checked, so the process can
    /// be confined to it (`plugin serve`); Redis opens as [`Store::open`] does.
    pub async fn open_part(
        spec: &StorageSpec,
        state_dir: &Path,
        part: &str,
    ) -> Result<Self, StorageError> {
        match spec {
            StorageSpec::Files => Ok(Self::Files(fs::FsStore::open_part(state_dir, part)?)),
            StorageSpec::Redis { .. } => Self::open(spec, state_dir).await,
        }
    }

    /// Where the store is, for messages: the state directory, or the Redis server
    /// without credentials.
    pub fn describe(&self) -> String {
        match self {
            Self::Files(store) => format!("files under {}", store.root().display()),
            Self::Redis(store) => format!("redis at {}", store.url()),
        }
    }

    /// The file of `key` when the store is the filesystem (for paths shown to users and
    /// hooks); `None` on Redis.
    pub fn file_path(&self, key: &str) -> Option<std::path::PathBuf> {
        match self {
            Self::Files(store) => store.path(key).ok(),
            Self::Redis(_) => None,
        }
    }

    /// The value of `key`, if stored.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        match self {
            Self::Files(store) => store.get(key),
            Self::Redis(store) => store.get(key).await,
        }
    }

    /// Whether `key` is stored (without reading the value from Redis).
    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self {
            Self::Files(store) => store.exists(key),
            Self::Redis(store) => store.exists(key).await,
        }
    }

    /// Stores `bytes` at `key` atomically: readers see the old value or the new one.
    pub async fn put(&self, key: &str, bytes: &[u8], secrecy: Secrecy) -> Result<(), StorageError> {
        self.put_fenced(key, bytes, secrecy, None).await
    }

    /// [`Store::put`], refused if `fence` is given and a newer token exists.
    pub(crate) async fn put_fenced(
        &self,
        key: &str,
        bytes: &[u8],
        secrecy: Secrecy,
        fence: Option<&Fence>,
    ) -> Result<(), StorageError> {
        match self {
            Self::Files(store) => store.put_fenced(key, bytes, secrecy, fence),
            Self::Redis(store) => store.put_fenced(key, bytes, fence).await,
        }
    }

    /// Stores `bytes` at `key` only if nothing is stored there; whether it was stored.
    /// Two processes that race to create a value (an account key) end with one value.
    pub async fn put_new(
        &self,
        key: &str,
        bytes: &[u8],
        secrecy: Secrecy,
    ) -> Result<bool, StorageError> {
        match self {
            Self::Files(store) => store.put_new(key, bytes, secrecy),
            Self::Redis(store) => store.put_new(key, bytes).await,
        }
    }

    /// Stores a value that is only needed for `ttl` (an HTTP-01 token): Redis drops it by
    /// itself; on files, writing one removes the files under the same prefix older than their
    /// `ttl`, so a run that crashed leaves no litter for long.
    pub async fn put_expiring(
        &self,
        key: &str,
        bytes: &[u8],
        ttl: Duration,
    ) -> Result<(), StorageError> {
        match self {
            Self::Files(store) => store.put_expiring(key, bytes, ttl),
            Self::Redis(store) => store.put_expiring(key, bytes, ttl).await,
        }
    }

    /// Removes `key` (absent is fine).
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.delete_fenced(key, None).await
    }

    /// [`Store::delete`], refused if `fence` is given and a newer token exists.
    pub(crate) async fn delete_fenced(
        &self,
        key: &str,
        fence: Option<&Fence>,
    ) -> Result<(), StorageError> {
        match self {
            Self::Files(store) => store.delete_fenced(key, fence),
            Self::Redis(store) => store.delete_fenced(key, fence).await,
        }
    }

    /// The names directly under `prefix` (`http01` → every token), sorted, each once.
    pub async fn children(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        match self {
            Self::Files(store) => store.children(prefix),
            Self::Redis(store) => store.children(prefix).await,
        }
    }
}

#[cfg(test)]
mod conformance;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_names_parse_or_say_what_is_expected() {
        assert_eq!("fs".parse(), Ok(StorageSpec::Files));
        assert_eq!(
            "redis://127.0.0.1:6379".parse(),
            Ok(StorageSpec::Redis {
                url: "redis://127.0.0.1:6379".into(),
                root_cert: None
            })
        );
        assert_eq!(
            "rediss://cache.example.test:6380".parse(),
            Ok(StorageSpec::Redis {
                url: "rediss://cache.example.test:6380".into(),
                root_cert: None
            })
        );
        let error = "memcached://x".parse::<StorageSpec>().expect_err("refused");
        assert!(
            error.contains("memcached://x") && error.contains("redis://"),
            "{error}"
        );
    }
}
