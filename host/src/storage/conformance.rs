//! The store's promises, checked on both backends (files in a temporary directory, and a
//! real `redis-server` on a Unix socket): mutual exclusion, lease expiry, fencing, dead
//! holders taken over, prefix listing, whole values under concurrent writes, one winner
//! of a create race, and lineages switched as a unit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use certsmith_core::tls_alpn01_certificate;
use certsmith_core::{Identifier, Random, Timestamp};

use super::lineage::Lineage;
use super::lock::{Attempt, Holder};
use super::{Lease, Secrecy, StorageError, StorageSpec, Store};

/// What a test step failed with.
type TestError = Box<dyn std::error::Error + Send + Sync>;

/// A test's outcome: a failed step is an error naming it.
type TestResult<T = ()> = Result<T, TestError>;

/// A throwaway redis-server (Debian `redis-server`) on a Unix socket, stopped on drop.
struct RedisServer {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    url: String,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts redis-server on a socket in a new temporary directory (no port to collide on).
fn redis_server() -> TestResult<RedisServer> {
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("redis.sock");
    let child = std::process::Command::new("redis-server")
        .args(["--port", "0", "--unixsocket"])
        .arg(&socket)
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server (Debian package redis-server) does not start: {e}"))?;
    let server = RedisServer {
        url: format!("redis+unix://{}", socket.display()),
        child,
        _dir: dir,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        if std::time::Instant::now() > deadline {
            return Err("redis-server did not listen within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

/// A store of each backend, with what keeps it alive.
async fn backends() -> TestResult<Vec<(Store, Box<dyn std::any::Any>)>> {
    let dir = tempfile::tempdir()?;
    let files = Store::open(&StorageSpec::Files, dir.path()).await?;
    let server = redis_server()?;
    let redis = Store::Redis(super::redis::RedisStore::open(&server.url, None).await?);
    Ok(vec![(files, Box::new(dir)), (redis, Box::new(server))])
}

/// One attempt at `name` that must be granted.
async fn granted(store: &Store, name: &str, lease: Duration) -> TestResult<Lease> {
    store
        .try_lock(name, lease)
        .await?
        .map_err(|holder| format!("{name} is held by {holder}").into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn never_two_holders_and_no_lost_update() -> TestResult {
    const CONTENDERS: usize = 8;
    const ROUNDS: usize = 200;
    for (store, _keep) in backends().await? {
        let inside = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..CONTENDERS {
            let (store, inside) = (store.clone(), inside.clone());
            tasks.push(tokio::spawn(async move {
                let mut fences = Vec::new();
                for _ in 0..ROUNDS {
                    let lease = store
                        .lock("certs/ca/race", Duration::from_secs(60), &mut |_| {})
                        .await?;
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                    let count = match store.get("counter").await? {
                        Some(bytes) => String::from_utf8(bytes)?.parse::<usize>()?,
                        None => 0,
                    };
                    tokio::task::yield_now().await;
                    let next = (count + 1).to_string();
                    lease
                        .put("counter", next.as_bytes(), Secrecy::Public)
                        .await?;
                    fences.push(lease.fence().token);
                    inside.fetch_sub(1, Ordering::SeqCst);
                    lease.release().await?;
                }
                TestResult::Ok(fences)
            }));
        }
        let mut fences = Vec::new();
        for task in tasks {
            fences.extend(task.await??);
        }
        let count = store.get("counter").await?;
        assert_eq!(
            count.as_deref(),
            Some((CONTENDERS * ROUNDS).to_string().as_bytes()),
            "{}",
            store.describe()
        );
        fences.sort_unstable();
        fences.dedup();
        assert_eq!(
            fences.len(),
            CONTENDERS * ROUNDS,
            "every grant has its own token"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_its_writes_are_refused() -> TestResult {
    for (store, _keep) in backends().await? {
        let short = Duration::from_millis(300);
        let first = granted(&store, "certs/ca/a", short).await?;
        let holder = store.try_lock("certs/ca/a", short).await?.err();
        assert_eq!(
            holder.map(|h| h.pid),
            Some(std::process::id()),
            "held until the lease ends"
        );
        tokio::time::sleep(short + Duration::from_millis(100)).await;
        let second = granted(&store, "certs/ca/a", short).await?;
        assert!(second.fence().token > first.fence().token);
        store.put("k", b"old", Secrecy::Public).await?;
        let refused = first.put("k", b"stale", Secrecy::Public).await;
        assert!(
            matches!(refused, Err(StorageError::Fenced { ours, current, .. }) if ours < current),
            "{}: {refused:?}",
            store.describe()
        );
        assert!(matches!(
            first.delete("k").await,
            Err(StorageError::Fenced { .. })
        ));
        let message = first
            .put("k", b"x", Secrecy::Public)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("certs/ca/a") && message.contains("nothing was written"),
            "{message}"
        );
        // A lease released by someone who no longer holds it changes nothing.
        first.release().await?;
        assert!(store.try_lock("certs/ca/a", short).await?.is_err());
        second.put("k", b"new", Secrecy::Public).await?;
        assert_eq!(store.get("k").await?.as_deref(), Some(&b"new"[..]));
        second.release().await?;
        assert!(
            store.try_lock("certs/ca/a", short).await?.is_ok(),
            "released"
        );
    }
    Ok(())
}

/// `holder` granted lock `name` on `store`, as if another process had taken it.
async fn held_by(store: &Store, name: &str, holder: &Holder) -> TestResult {
    let lease = Duration::from_secs(60);
    let attempt = match store {
        Store::Files(s) => s.lock_once(name, holder, lease, None)?,
        Store::Redis(s) => s.lock_once(name, holder, lease, None).await?,
    };
    assert!(matches!(attempt, Attempt::Granted(_)));
    Ok(())
}

#[tokio::test]
async fn a_dead_holder_is_taken_over_at_once_and_a_remote_one_is_not() -> TestResult {
    let mut child = std::process::Command::new("true").spawn()?;
    let dead_pid = child.id();
    child.wait()?;
    for (store, _keep) in backends().await? {
        let me = Holder::this_process();
        let dead = Holder {
            pid: dead_pid,
            ..me.clone()
        };
        held_by(&store, "certs/ca/dead", &dead).await?;
        let lease = store
            .try_lock("certs/ca/dead", Duration::from_secs(60))
            .await?;
        assert!(
            lease.is_ok(),
            "{}: a dead holder's lock is taken over",
            store.describe()
        );
        let remote = Holder {
            host: "another-host".into(),
            pid: dead_pid,
            ..me
        };
        held_by(&store, "certs/ca/remote", &remote).await?;
        let held = store
            .try_lock("certs/ca/remote", Duration::from_secs(60))
            .await?;
        assert_eq!(
            held.err(),
            Some(remote),
            "a holder elsewhere keeps its lease"
        );
        let waited = store
            .lock("certs/ca/remote", Duration::from_millis(200), &mut |_| {})
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            waited.contains("another-host/") && waited.contains("certs/ca/remote"),
            "{waited}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn children_lists_only_its_prefix_across_many_keys() -> TestResult {
    for (store, _keep) in backends().await? {
        let mut expected = Vec::new();
        // More keys than one SCAN step returns.
        for n in 0..1100 {
            let token = format!("token{n:04}");
            store
                .put(&format!("http01/{token}"), b"v", Secrecy::Public)
                .await?;
            expected.push(token);
        }
        store.put("http01x/other", b"v", Secrecy::Public).await?;
        store
            .put("certs/ca/a.example/cert.pem", b"v", Secrecy::Public)
            .await?;
        store
            .put("certs/ca/a.example/key.pem", b"v", Secrecy::Secret)
            .await?;
        assert_eq!(store.children("http01").await?, expected);
        assert_eq!(store.children("certs").await?, ["ca"]);
        assert_eq!(store.children("certs/ca").await?, ["a.example"]);
        assert!(store.children("nothing").await?.is_empty());
        assert!(store.children("../etc").await.is_err(), "keys are checked");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_leave_one_whole_value_and_one_creator() -> TestResult {
    const WRITERS: u8 = 8;
    for (store, _keep) in backends().await? {
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let value = vec![b'a' + writer; 64 * 1024];
                for _ in 0..10 {
                    store.put("one/key", &value, Secrecy::Secret).await?;
                }
                store.put_new("one/new", &value, Secrecy::Secret).await
            }));
        }
        let mut created = 0;
        for task in tasks {
            created += usize::from(task.await??);
        }
        assert_eq!(created, 1, "{}: exactly one creator", store.describe());
        for key in ["one/key", "one/new"] {
            let value = store.get(key).await?.unwrap_or_default();
            assert_eq!(value.len(), 64 * 1024);
            assert!(value.iter().all(|b| *b == value[0]), "{key} is a mix");
        }
        assert!(!store.put_new("one/new", b"late", Secrecy::Public).await?);
    }
    Ok(())
}

/// A self-signed certificate for `name` as a lineage.
fn lineage_for(name: &str) -> TestResult<Lineage> {
    let cert = tls_alpn01_certificate(
        &Identifier::dns(name),
        "x",
        Timestamp::from_unix_secs(1_800_000_000),
        &mut Random::platform(),
    )?;
    Ok(Lineage::from_chain(
        &cert.certificate_pem,
        &cert.private_key_pem,
        b"{}".to_vec(),
    )?)
}

/// The leaf and key of the current generation of `ca`/`a.example.test`, checked whole.
async fn current(store: &Store) -> TestResult<(String, String)> {
    let lineage = store
        .read_lineage("ca", "a.example.test")
        .await?
        .ok_or("no lineage")?;
    lineage.check(Some(&["a.example.test".to_owned()]))?;
    Ok((lineage.cert_pem, lineage.key_pem.to_string()))
}

#[tokio::test]
async fn lineages_switch_as_a_unit_and_roll_back() -> TestResult {
    for (store, _keep) in backends().await? {
        let names = ["a.example.test".to_owned()];
        let lease = granted(&store, "certs/ca/a.example.test", Duration::from_secs(60)).await?;
        let (first, second) = (
            lineage_for("a.example.test")?,
            lineage_for("a.example.test")?,
        );
        let first_pair = (first.cert_pem.clone(), first.key_pem.to_string());
        let second_pair = (second.cert_pem.clone(), second.key_pem.to_string());
        assert!(store.read_lineage("ca", "a.example.test").await?.is_none());
        for lineage in [first, second] {
            let (verified, _) = lineage.verify(&names)?;
            store
                .commit_lineage("ca", "a.example.test", &verified, Some(&lease))
                .await?;
        }
        assert_eq!(current(&store).await?, second_pair);

        // A pair that does not match, or names something else, is never made current.
        let mut mixed = lineage_for("a.example.test")?;
        mixed.key_pem = first_pair.1.clone().into();
        let refused = mixed.verify(&names).err().unwrap_or_default();
        assert!(
            refused.contains("key.pem is not the key of cert.pem"),
            "{refused}"
        );
        let refused = lineage_for("b.example.test")?
            .verify(&names)
            .err()
            .unwrap_or_default();
        assert!(
            refused.contains("does not name a.example.test"),
            "{refused}"
        );
        assert_eq!(current(&store).await?, second_pair, "{}", store.describe());

        // The previous generation comes back, and a second rollback undoes the first.
        assert!(
            store
                .rollback_lineage("ca", "a.example.test", Some(&lease))
                .await?
        );
        assert_eq!(current(&store).await?, first_pair);
        assert!(
            store
                .rollback_lineage("ca", "a.example.test", Some(&lease))
                .await?
        );
        assert_eq!(current(&store).await?, second_pair);
        // The paths users read show the same generation.
        let cert = store.get("certs/ca/a.example.test/cert.pem").await?;
        assert_eq!(cert.as_deref(), Some(second_pair.0.as_bytes()));

        // A holder that lost its lock cannot switch the lineage.
        lease.release().await?;
        let short = Duration::from_millis(200);
        let paused = granted(&store, "certs/ca/a.example.test", short).await?;
        tokio::time::sleep(short + Duration::from_millis(100)).await;
        let _newer = granted(&store, "certs/ca/a.example.test", short).await?;
        let (stale, _) = lineage_for("a.example.test")?.verify(&names)?;
        let refused = store
            .commit_lineage("ca", "a.example.test", &stale, Some(&paused))
            .await;
        assert!(
            matches!(refused, Err(StorageError::Fenced { .. })),
            "{refused:?}"
        );
        assert_eq!(current(&store).await?, second_pair);
        assert!(
            !store
                .rollback_lineage("ca", "none.example.test", None)
                .await?
        );
    }
    Ok(())
}

#[tokio::test]
async fn many_lineages_are_read_at_once_in_order_and_a_mixed_pair_is_named() -> TestResult {
    for (store, _keep) in backends().await? {
        let names = ["a.example.test", "b.example.test", "c.example.test"];
        for name in names {
            let (verified, _) = lineage_for(name)?.verify(&[name.to_owned()])?;
            store.commit_lineage("ca", name, &verified, None).await?;
        }
        // c's key replaced behind certsmith's back: the pair no longer belongs together.
        let other = lineage_for("c.example.test")?;
        store
            .put(
                "certs/ca/c.example.test/key.pem",
                other.key_pem.as_bytes(),
                Secrecy::Secret,
            )
            .await?;
        // More than one pipelined batch, with a missing lineage among them.
        let wanted: Vec<(String, String)> = (0..1_200)
            .map(|i| {
                let name = [
                    "a.example.test",
                    "none.example.test",
                    "b.example.test",
                    "c.example.test",
                ][i % 4];
                ("ca".to_owned(), name.to_owned())
            })
            .collect();
        let read = store.read_lineages(&wanted).await?;
        assert_eq!(read.len(), wanted.len());
        for ((_, name), lineage) in wanted.iter().zip(read) {
            let lineage = lineage?;
            match name.as_str() {
                "none.example.test" => assert!(lineage.is_none(), "{name}"),
                "c.example.test" => {
                    let checked = lineage.ok_or("no lineage")?.check(None);
                    assert_eq!(
                        checked.err().as_deref(),
                        Some("key.pem is not the key of cert.pem"),
                        "{}",
                        store.describe()
                    );
                }
                _ => {
                    let info = lineage.ok_or("no lineage")?.check(None)?;
                    assert_eq!(info.sans[0].value, *name);
                }
            }
        }
    }
    Ok(())
}
