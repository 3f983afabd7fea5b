//! The key-value store that hosts share with the edge: the same keys on every backend
//! (`http01/<token>` holds a key authorization), either the state directory's files or a
//! Redis server, so `certsmith issue --http-kv` on one machine and the Spin plugin on
//! another answer the CA from one store.

use std::path::Path;

use redis::AsyncCommands;

use crate::storage::{FsStore, Secrecy, StorageError};

/// Which store: `fs` (the state directory) or a `redis://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvSpec {
    /// Files under the state directory.
    Files,
    /// A Redis server (`redis://host:port/db`, `rediss://` for TLS).
    Redis(String),
}

impl std::str::FromStr for KvSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "fs" {
            Ok(Self::Files)
        } else if text.starts_with("redis://") || text.starts_with("rediss://") {
            Ok(Self::Redis(text.to_owned()))
        } else {
            Err(format!(
                "unknown store {text:?}: expected fs or a redis:// URL (e.g. redis://127.0.0.1:6379)"
            ))
        }
    }
}

/// A store failure, naming the store and what failed.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The filesystem store failed.
    #[error(transparent)]
    Files(#[from] StorageError),
    /// Redis failed.
    #[error("redis at {url}: {reason}")]
    Redis {
        /// The server, without credentials.
        url: String,
        /// What it said.
        reason: String,
    },
}

/// An open shared store.
#[derive(Clone)]
pub enum SharedKv {
    /// Files under the state directory.
    Files(FsStore),
    /// A Redis connection (reconnects by itself).
    Redis {
        /// The connection.
        connection: redis::aio::ConnectionManager,
        /// The server, without credentials, for messages.
        url: String,
    },
}

/// `url` without a password, for messages.
fn shown_url(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://…@{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

impl SharedKv {
    /// Opens the store `spec` names; files live under `state_dir`.
    pub async fn open(spec: &KvSpec, state_dir: &Path) -> Result<Self, KvError> {
        match spec {
            KvSpec::Files => Ok(Self::Files(FsStore::open(state_dir)?)),
            KvSpec::Redis(url) => {
                let shown = shown_url(url);
                let failed = |e: redis::RedisError| KvError::Redis {
                    url: shown.clone(),
                    reason: format!("{e} — is redis-server running there?"),
                };
                let client = redis::Client::open(url.as_str()).map_err(failed)?;
                let connection = client.get_connection_manager().await.map_err(failed)?;
                Ok(Self::Redis {
                    connection,
                    url: shown,
                })
            }
        }
    }

    /// The error for a Redis failure.
    fn redis_error(url: &str, e: &redis::RedisError) -> KvError {
        KvError::Redis {
            url: url.to_owned(),
            reason: e.to_string(),
        }
    }

    /// The value of `key`, if stored.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match self {
            Self::Files(store) => Ok(store.get(key)?),
            Self::Redis { connection, url } => connection
                .clone()
                .get(key)
                .await
                .map_err(|e| Self::redis_error(url, &e)),
        }
    }

    /// Stores `value` at `key`.
    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        match self {
            Self::Files(store) => Ok(store.put(key, value, Secrecy::Public)?),
            Self::Redis { connection, url } => connection
                .clone()
                .set(key, value)
                .await
                .map_err(|e| Self::redis_error(url, &e)),
        }
    }

    /// Removes `key` (absent is fine).
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        match self {
            Self::Files(store) => Ok(store.delete(key)?),
            Self::Redis { connection, url } => connection
                .clone()
                .del(key)
                .await
                .map_err(|e| Self::redis_error(url, &e)),
        }
    }

    /// Whether `key` is stored (without reading the value from Redis).
    pub async fn exists(&self, key: &str) -> Result<bool, KvError> {
        match self {
            Self::Files(store) => Ok(store.get(key)?.is_some()),
            Self::Redis { connection, url } => connection
                .clone()
                .exists(key)
                .await
                .map_err(|e| Self::redis_error(url, &e)),
        }
    }

    /// The keys under `prefix/` (one level), e.g. every `http01/<token>`.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, KvError> {
        match self {
            Self::Files(store) => Ok(store
                .children(prefix)?
                .into_iter()
                .map(|name| format!("{prefix}/{name}"))
                .collect()),
            Self::Redis { connection, url } => {
                // SCAN, not KEYS: KEYS blocks a shared Redis for the whole keyspace walk.
                let pattern = format!("{prefix}/*");
                let mut connection = connection.clone();
                let mut found = connection
                    .scan_match::<_, String>(pattern)
                    .await
                    .map_err(|e| Self::redis_error(url, &e))?;
                let mut keys = Vec::new();
                while let Some(key) = found.next_item().await {
                    keys.push(key.map_err(|e| Self::redis_error(url, &e))?);
                }
                // SCAN may return a key more than once.
                keys.sort();
                keys.dedup();
                Ok(keys)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_names_parse_or_say_what_is_expected() {
        assert_eq!("fs".parse(), Ok(KvSpec::Files));
        assert_eq!(
            "redis://127.0.0.1:6379".parse(),
            Ok(KvSpec::Redis("redis://127.0.0.1:6379".into()))
        );
        let error = "memcached://x".parse::<KvSpec>().expect_err("refused");
        assert!(error.contains("redis://"), "{error}");
    }

    /// A throwaway redis-server (Debian `redis-server`) on a free loopback port, stopped on drop.
    struct Redis(std::process::Child);

    impl Drop for Redis {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Starts redis-server and returns it with its URL once it accepts connections.
    fn redis() -> (Redis, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server) starts");
        let running = Redis(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis did not listen");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        (running, format!("redis://127.0.0.1:{port}"))
    }

    /// Every key under the prefix, once, sorted, and none from elsewhere — with more keys
    /// than one SCAN batch holds.
    async fn lists_keys_under_a_prefix(kv: &SharedKv) {
        let mut expected = Vec::new();
        for n in 0..40 {
            let key = format!("http01/token{n:02}");
            kv.set(&key, b"value").await.expect("set");
            expected.push(key);
        }
        kv.set("certs/other", b"value").await.expect("set");
        assert_eq!(kv.keys("http01").await.expect("keys"), expected);
    }

    #[tokio::test]
    async fn files_list_keys_under_a_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = SharedKv::open(&KvSpec::Files, dir.path())
            .await
            .expect("open");
        lists_keys_under_a_prefix(&kv).await;
    }

    #[tokio::test]
    async fn redis_lists_keys_under_a_prefix() {
        let (_server, url) = redis();
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = SharedKv::open(&KvSpec::Redis(url), dir.path())
            .await
            .expect("open");
        lists_keys_under_a_prefix(&kv).await;
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            shown_url("redis://user:secret@cache.example.test:6379/0"),
            "redis://…@cache.example.test:6379/0"
        );
        assert_eq!(shown_url("redis://127.0.0.1"), "redis://127.0.0.1");
    }
}
