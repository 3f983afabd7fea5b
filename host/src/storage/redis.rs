//! The Redis backend: the same keys as the files, one Redis string each. Writes under a
//! lease, lock grants, renewals and releases, and lineage switches are Lua scripts, so each
//! is one atomic step on the server: a fenced write compares the lock's fencing counter
//! (`fences/<lock>`, grown by `INCR` at every grant) before it writes; a lock is
//! `locks/<lock>` holding its holder with the lease as expiry (taken only when absent,
//! renewed and released only by the holder that took it); a lineage's new files replace the
//! current ones in one script that moves those to `…/previous/`.

use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use redis::AsyncCommands;

/// How often a lost connection is tried again (100 ms, then 200 ms): a command fails within
/// a second when the server is down, rather than after the crate's default ten.
const CONNECT_RETRIES: usize = 2;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one command may wait for its answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many lineages one pipelined read asks for.
const READ_BATCH: usize = 500;

/// A lineage's files from the values of an `MGET` of [`layout::LINEAGE_FILES`]; `None`
/// when none is stored.
fn lineage_files(values: Vec<Option<Vec<u8>>>) -> Option<StoredFiles> {
    if values.iter().all(Option::is_none) {
        return None;
    }
    Some(
        layout::LINEAGE_FILES
            .iter()
            .zip(values)
            .filter_map(|(file, value)| Some((file.to_string(), value?)))
            .collect(),
    )
}

use super::lineage::StoredFiles;
use super::lock::{Attempt, Holder};
use super::{Fence, StorageError};
use crate::layout;

/// A fenced SET/DEL: KEYS = fence, key; ARGV = token, then (SET only) the value.
/// Returns -1 when written, else the newest token.
const FENCED_WRITE: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current ~= tonumber(ARGV[1]) then return current end
if ARGV[2] then redis.call('SET', KEYS[2], ARGV[2]) else redis.call('DEL', KEYS[2]) end
return -1
";

/// A grant: KEYS = lock, fence; ARGV = holder, lease ms, the dead holder to take it from
/// (or ''). Returns {token, ''} when granted, else {0, current holder}.
const LOCK: &str = r"
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[3] then return {0, held} end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {token, ''}
";

/// A renewal: KEYS = lock; ARGV = holder, lease ms. Returns 1 if still held.
const RELOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// A release (compare and delete): KEYS = lock; ARGV = holder.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// A lineage commit: KEYS = fence, the current files, the previous files; ARGV = token
/// (or '' unfenced), the new values. The current files move to previous, the new ones
/// become current. Returns -1 when done, else the newest token.
const COMMIT_LINEAGE: &str = r"
if ARGV[1] ~= '' then
  local current = tonumber(redis.call('GET', KEYS[1]) or '0')
  if current ~= tonumber(ARGV[1]) then return current end
end
local n = (#KEYS - 1) / 2
for i = 1, n do
  local now, before = KEYS[1 + i], KEYS[1 + n + i]
  if redis.call('EXISTS', now) == 1 then redis.call('RENAME', now, before) else redis.call('DEL', before) end
  redis.call('SET', now, ARGV[1 + i])
end
redis.call('PUBLISH', ARGV[2 + n], KEYS[2])
return -1
";

/// A rollback: KEYS as for a commit; ARGV = token (or ''). Swaps current and previous.
/// Returns -1 when done, -2 when there is no previous generation, else the newest token.
const ROLLBACK_LINEAGE: &str = r"
if ARGV[1] ~= '' then
  local current = tonumber(redis.call('GET', KEYS[1]) or '0')
  if current ~= tonumber(ARGV[1]) then return current end
end
local n = (#KEYS - 1) / 2
if redis.call('EXISTS', KEYS[2 + n]) == 0 then return -2 end
for i = 1, n do
  local now, before = KEYS[1 + i], KEYS[1 + n + i]
  local a, b = redis.call('GET', now), redis.call('GET', before)
  if b then redis.call('SET', now, b) else redis.call('DEL', now) end
  if a then redis.call('SET', before, a) else redis.call('DEL', before) end
end
redis.call('PUBLISH', ARGV[2], KEYS[2])
return -1
";

/// The scripts, loaded once (EVALSHA with the SHA1, EVAL on a cache miss).
struct Scripts {
    fenced_write: redis::Script,
    lock: redis::Script,
    relock: redis::Script,
    unlock: redis::Script,
    commit_lineage: redis::Script,
    rollback_lineage: redis::Script,
}

/// The scripts.
static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    fenced_write: redis::Script::new(FENCED_WRITE),
    lock: redis::Script::new(LOCK),
    relock: redis::Script::new(RELOCK),
    unlock: redis::Script::new(UNLOCK),
    commit_lineage: redis::Script::new(COMMIT_LINEAGE),
    rollback_lineage: redis::Script::new(ROLLBACK_LINEAGE),
});

/// How many keys one SCAN step asks for.
const SCAN_COUNT: usize = 1000;

/// `url` without a password, for messages.
fn shown_url(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://…@{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// A holder as stored in Redis.
fn holder_json(holder: &Holder) -> String {
    serde_json::to_string(holder).unwrap_or_default()
}

/// A lease in milliseconds.
fn lease_millis(lease: Duration) -> u64 {
    u64::try_from(lease.as_millis()).unwrap_or(u64::MAX)
}

/// A connection to a Redis server (reconnects by itself).
#[derive(Clone)]
pub struct RedisStore {
    /// The client, for subscriptions (shared: it is large, and the store is cloned often).
    client: std::sync::Arc<redis::Client>,
    /// The connection.
    connection: redis::aio::ConnectionManager,
    /// The server, without credentials, for messages.
    url: String,
}

impl RedisStore {
    /// Connects to the server at `url` (`redis://` or `rediss://` for TLS).
    pub async fn open(url: &str, root_cert: Option<&Path>) -> Result<Self, StorageError> {
        let shown = shown_url(url);
        let failed = |e: redis::RedisError| {
            let hint = if e.to_string().contains("certificate") {
                "pass --storage-ca-cert with the root that signs the server's certificate"
            } else {
                "is redis-server running there?"
            };
            StorageError::Redis {
                url: shown.clone(),
                reason: format!("{e} — {hint}"),
            }
        };
        if url.starts_with("rediss://") {
            // TLS through rustls with the ring provider, as for the CA's HTTPS.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = match root_cert {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| StorageError::Redis {
                    url: shown.clone(),
                    reason: format!("cannot read --storage-ca-cert {}: {e}", path.display()),
                })?;
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(url, certificates).map_err(failed)?
            }
            None => redis::Client::open(url).map_err(failed)?,
        };
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(CONNECT_RETRIES)
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(failed)?;
        Ok(Self {
            client: std::sync::Arc::new(client),
            connection,
            url: shown,
        })
    }

    /// Sends the name of each lineage under `prefix` (`certs/<ca>/`) that is committed or
    /// rolled back on this server (its scripts publish its `cert.pem` key on
    /// [`layout::LINEAGE_CHANNEL`]) on `changed`, until `changed` closes; a lost subscription
    /// is made again after a second, and `None` (read them all) sent when it is back.
    pub async fn watch_lineages(
        &self,
        prefix: &str,
        changed: tokio::sync::mpsc::UnboundedSender<Option<String>>,
    ) {
        use futures_util::StreamExt;
        while !changed.is_closed() {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(layout::LINEAGE_CHANNEL).await {
                    Ok(()) => {
                        // Whatever changed while unsubscribed.
                        let _ = changed.send(None);
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            let key: String = message.get_payload().unwrap_or_default();
                            let Some(inside) = key.strip_prefix(prefix) else {
                                continue;
                            };
                            let name = inside.split('/').next().map(str::to_owned);
                            if changed.send(name).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => tracing::warn!("cannot subscribe at {}: {e}", self.url),
                },
                Err(e) => tracing::warn!("cannot subscribe at {}: {e}", self.url),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    /// The server, without credentials.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The error for a Redis failure.
    fn error(&self, e: &redis::RedisError) -> StorageError {
        StorageError::Redis {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }

    /// The connection (a cheap clone).
    fn connection(&self) -> redis::aio::ConnectionManager {
        self.connection.clone()
    }

    /// The value of `key`, if stored.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        layout::check_key(key)?;
        self.connection().get(key).await.map_err(|e| self.error(&e))
    }

    /// Whether `key` is stored.
    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        layout::check_key(key)?;
        self.connection()
            .exists(key)
            .await
            .map_err(|e| self.error(&e))
    }

    /// Runs a fenced write script (`value` None: a delete).
    async fn fenced(
        &self,
        key: &str,
        value: Option<&[u8]>,
        fence: &Fence,
    ) -> Result<(), StorageError> {
        let mut script = SCRIPTS.fenced_write.key(layout::fence_key(&fence.name));
        script.key(key).arg(fence.token);
        if let Some(value) = value {
            script.arg(value);
        }
        let current: i64 = script
            .invoke_async(&mut self.connection())
            .await
            .map_err(|e| self.error(&e))?;
        refused(fence, current)
    }

    /// Stores `bytes` at `key`, checking `fence` first if given.
    pub async fn put_fenced(
        &self,
        key: &str,
        bytes: &[u8],
        fence: Option<&Fence>,
    ) -> Result<(), StorageError> {
        layout::check_key(key)?;
        match fence {
            Some(fence) => self.fenced(key, Some(bytes), fence).await,
            None => self
                .connection()
                .set(key, bytes)
                .await
                .map_err(|e| self.error(&e)),
        }
    }

    /// Stores `bytes` at `key` only if absent (`SET NX`); whether it was stored.
    pub async fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool, StorageError> {
        layout::check_key(key)?;
        let stored: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(bytes)
            .arg("NX")
            .query_async(&mut self.connection())
            .await
            .map_err(|e| self.error(&e))?;
        Ok(stored.is_some())
    }

    /// Stores `bytes` at `key`, dropped by the server after `ttl`.
    pub async fn put_expiring(
        &self,
        key: &str,
        bytes: &[u8],
        ttl: Duration,
    ) -> Result<(), StorageError> {
        layout::check_key(key)?;
        self.connection()
            .pset_ex(key, bytes, lease_millis(ttl))
            .await
            .map_err(|e| self.error(&e))
    }

    /// Removes `key` (absent is fine), checking `fence` first if given.
    pub async fn delete_fenced(
        &self,
        key: &str,
        fence: Option<&Fence>,
    ) -> Result<(), StorageError> {
        layout::check_key(key)?;
        match fence {
            Some(fence) => self.fenced(key, None, fence).await,
            None => self.connection().del(key).await.map_err(|e| self.error(&e)),
        }
    }

    /// The names directly under `prefix/`: SCAN (never KEYS, which blocks a shared server
    /// for the whole keyspace) in steps of [`SCAN_COUNT`].
    pub async fn children(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        layout::check_key(prefix)?;
        let start = format!("{prefix}/");
        let options = redis::ScanOptions::default()
            .with_pattern(format!("{start}*"))
            .with_count(SCAN_COUNT);
        let mut connection = self.connection();
        let mut found = connection
            .scan_options::<String>(options)
            .await
            .map_err(|e| self.error(&e))?;
        let mut names = Vec::new();
        while let Some(key) = found.next_item().await {
            let key = key.map_err(|e| self.error(&e))?;
            if let Some(name) = key
                .strip_prefix(&start)
                .and_then(|rest| rest.split('/').next())
            {
                names.push(name.to_owned());
            }
        }
        // SCAN may return a key more than once, and deeper keys share their first name.
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// One attempt at lock `name` for `holder`; with `dead`, only takes it from that holder.
    pub async fn lock_once(
        &self,
        name: &str,
        holder: &Holder,
        lease: Duration,
        dead: Option<&Holder>,
    ) -> Result<Attempt, StorageError> {
        let (token, held): (u64, String) = SCRIPTS
            .lock
            .key(layout::lock_key(name))
            .key(layout::fence_key(name))
            .arg(holder_json(holder))
            .arg(lease_millis(lease))
            .arg(dead.map(holder_json).unwrap_or_default())
            .invoke_async(&mut self.connection())
            .await
            .map_err(|e| self.error(&e))?;
        if token > 0 {
            return Ok(Attempt::Granted(token));
        }
        serde_json::from_str(&held)
            .map(Attempt::Held)
            .map_err(|e| StorageError::Corrupt {
                key: layout::lock_key(name),
                reason: format!("not a lock holder ({e})"),
            })
    }

    /// Extends `holder`'s lease; false if it no longer holds the lock.
    pub async fn relock(
        &self,
        name: &str,
        holder: &Holder,
        lease: Duration,
    ) -> Result<bool, StorageError> {
        let held: i64 = SCRIPTS
            .relock
            .key(layout::lock_key(name))
            .arg(holder_json(holder))
            .arg(lease_millis(lease))
            .invoke_async(&mut self.connection())
            .await
            .map_err(|e| self.error(&e))?;
        Ok(held == 1)
    }

    /// Releases `holder`'s lock (nothing happens if it no longer holds it).
    pub async fn unlock(&self, name: &str, holder: &Holder) -> Result<(), StorageError> {
        let _: i64 = SCRIPTS
            .unlock
            .key(layout::lock_key(name))
            .arg(holder_json(holder))
            .invoke_async(&mut self.connection())
            .await
            .map_err(|e| self.error(&e))?;
        Ok(())
    }

    /// A lineage script's invocation with its keys and the fence argument.
    fn lineage_script<'a>(
        script: &'a redis::Script,
        ca: &str,
        name: &str,
        fence: Option<&Fence>,
    ) -> redis::ScriptInvocation<'a> {
        let fence_key = fence.map_or_else(
            || layout::fence_key("unfenced"),
            |f| layout::fence_key(&f.name),
        );
        let mut invocation = script.key(fence_key);
        for file in layout::LINEAGE_FILES {
            invocation.key(layout::cert_file(ca, name, file));
        }
        for file in layout::LINEAGE_FILES {
            invocation.key(layout::previous_file(ca, name, file));
        }
        invocation.arg(fence.map(|f| f.token.to_string()).unwrap_or_default());
        invocation
    }

    /// Makes `files` (one value per [`layout::LINEAGE_FILES`], in that order) the current
    /// generation of lineage `name`, keeping the one it replaces as previous.
    pub async fn commit_lineage(
        &self,
        ca: &str,
        name: &str,
        files: &[&[u8]],
        fence: Option<&Fence>,
    ) -> Result<(), StorageError> {
        let mut invocation = Self::lineage_script(&SCRIPTS.commit_lineage, ca, name, fence);
        for bytes in files {
            invocation.arg(*bytes);
        }
        invocation.arg(layout::LINEAGE_CHANNEL);
        let result: i64 = invocation
            .invoke_async(&mut self.connection())
            .await
            .map_err(|e| self.error(&e))?;
        match fence {
            Some(fence) => refused(fence, result),
            None => Ok(()),
        }
    }

    /// Every file of lineage `name`'s current generation, in one read.
    pub async fn read_lineage(
        &self,
        ca: &str,
        name: &str,
    ) -> Result<Option<StoredFiles>, StorageError> {
        let keys: Vec<String> = layout::LINEAGE_FILES
            .iter()
            .map(|file| layout::cert_file(ca, name, file))
            .collect();
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.connection())
            .await
            .map_err(|e| self.error(&e))?;
        Ok(lineage_files(values))
    }

    /// The current files of many lineages (`(ca, name)` pairs): one `MGET` each, sent
    /// [`READ_BATCH`] to a pipeline, so thousands cost a few round trips.
    pub async fn read_lineages(
        &self,
        lineages: &[(String, String)],
    ) -> Result<Vec<Option<StoredFiles>>, StorageError> {
        let mut all = Vec::with_capacity(lineages.len());
        for batch in lineages.chunks(READ_BATCH) {
            let mut pipe = redis::pipe();
            for (ca, name) in batch {
                let keys: Vec<String> = layout::LINEAGE_FILES
                    .iter()
                    .map(|file| layout::cert_file(ca, name, file))
                    .collect();
                pipe.cmd("MGET").arg(keys);
            }
            let values: Vec<Vec<Option<Vec<u8>>>> = pipe
                .query_async(&mut self.connection())
                .await
                .map_err(|e| self.error(&e))?;
            all.extend(values.into_iter().map(lineage_files));
        }
        Ok(all)
    }

    /// Swaps lineage `name`'s current and previous generations; false if there is none.
    pub async fn rollback_lineage(
        &self,
        ca: &str,
        name: &str,
        fence: Option<&Fence>,
    ) -> Result<bool, StorageError> {
        let result: i64 = Self::lineage_script(&SCRIPTS.rollback_lineage, ca, name, fence)
            .arg(layout::LINEAGE_CHANNEL)
            .invoke_async(&mut self.connection())
            .await
            .map_err(|e| self.error(&e))?;
        if result == -2 {
            return Ok(false);
        }
        if let Some(fence) = fence {
            refused(fence, result)?;
        }
        Ok(true)
    }
}

/// A fenced script's result: -1 (written) or the newest token (refused).
fn refused(fence: &Fence, result: i64) -> Result<(), StorageError> {
    if result == -1 {
        return Ok(());
    }
    Err(StorageError::Fenced {
        name: fence.name.clone(),
        ours: fence.token,
        current: u64::try_from(result).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            shown_url("redis://user:secret@cache.example.test:6379/0"),
            "redis://…@cache.example.test:6379/0"
        );
        assert_eq!(shown_url("redis://127.0.0.1"), "redis://127.0.0.1");
    }
}
