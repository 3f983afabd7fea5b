//! The store's promises, checked on both backends (files in a temporary directory, and a
//! real `redis-server` on a Unix socket): mutual exclusion, lease expiry, fencing, dead
//! holders taken over, prefix listing, whole values under concurrent writes, one winner
//! of a create race, and lineages switched as a unit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use certsmith_core::challenge::tls_alpn01_certificate;
use certsmith_core::{Identifier, Timestamp};

use super::lineage::Lineage;
use super::{Secrecy, StorageError, StorageSpec, Store};

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
fn redis_server() -> RedisServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("redis.sock");
    let child = std::process::Command::new("redis-server")
        .args(["--port", "0", "--unixsocket"])
        .arg(&socket)
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server (Debian package redis-server) starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(std::time::Instant::now() < deadline, "redis did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    RedisServer {
        url: format!("redis+unix://{}", socket.display()),
        child,
        _dir: dir,
    }
}

/// A store of each backend, with what keeps it alive.
async fn backends() -> Vec<(Store, Box<dyn std::any::Any>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = Store::open(&StorageSpec::Files, dir.path())
        .await
        .expect("open files");
    let server = redis_server();
    let redis = Store::Redis(
        super::redis::RedisStore::open(&server.url)
            .await
            .expect("open redis"),
    );
    vec![(files, Box::new(dir)), (redis, Box::new(server))]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn never_two_holders_and_no_lost_update() {
    const CONTENDERS: usize = 8;
    const ROUNDS: usize = 200;
    for (store, _keep) in backends().await {
        let inside = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..CONTENDERS {
            let (store, inside) = (store.clone(), inside.clone());
            tasks.push(tokio::spawn(async move {
                let mut fences = Vec::new();
                for _ in 0..ROUNDS {
                    let lease = store
                        .lock("certs/ca/race", Duration::from_secs(60), &mut |_| {})
                        .await
                        .expect("lock");
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                    let count = store.get("counter").await.expect("get").map_or(0, |v| {
                        String::from_utf8(v)
                            .expect("utf8")
                            .parse::<usize>()
                            .expect("number")
                    });
                    tokio::task::yield_now().await;
                    lease
                        .put(
                            "counter",
                            (count + 1).to_string().as_bytes(),
                            Secrecy::Public,
                        )
                        .await
                        .expect("fenced put of the holder");
                    fences.push(lease.fence().token);
                    inside.fetch_sub(1, Ordering::SeqCst);
                    lease.release().await.expect("release");
                }
                fences
            }));
        }
        let mut fences = Vec::new();
        for task in tasks {
            fences.extend(task.await.expect("contender"));
        }
        let count = store.get("counter").await.expect("get").expect("counter");
        assert_eq!(
            count,
            (CONTENDERS * ROUNDS).to_string().as_bytes(),
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
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_its_writes_are_refused() {
    for (store, _keep) in backends().await {
        let short = Duration::from_millis(300);
        let first = store
            .try_lock("certs/ca/a", short)
            .await
            .expect("try")
            .expect("free");
        let holder = store
            .try_lock("certs/ca/a", short)
            .await
            .expect("try")
            .err();
        assert_eq!(
            holder.map(|h| h.pid),
            Some(std::process::id()),
            "held until the lease ends"
        );
        tokio::time::sleep(short + Duration::from_millis(100)).await;
        let second = store
            .try_lock("certs/ca/a", short)
            .await
            .expect("try")
            .expect("expired");
        assert!(second.fence().token > first.fence().token);
        store
            .put("k", b"old", Secrecy::Public)
            .await
            .expect("an unfenced write");
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
            .expect_err("fenced")
            .to_string();
        assert!(
            message.contains("certs/ca/a") && message.contains("nothing was written"),
            "{message}"
        );
        // A lease released by someone who no longer holds it changes nothing.
        first.release().await.expect("release of a lost lease");
        assert!(
            store
                .try_lock("certs/ca/a", short)
                .await
                .expect("try")
                .is_err()
        );
        second
            .put("k", b"new", Secrecy::Public)
            .await
            .expect("holder writes");
        assert_eq!(
            store.get("k").await.expect("get").as_deref(),
            Some(&b"new"[..])
        );
        second.release().await.expect("release");
        assert!(
            store
                .try_lock("certs/ca/a", short)
                .await
                .expect("try")
                .is_ok(),
            "released"
        );
    }
}

/// `holder` granted lock `name` on `store`, as if another process had taken it.
async fn held_by(store: &Store, name: &str, holder: &super::Holder) {
    let attempt = match store {
        Store::Files(s) => s.lock_once(name, holder, Duration::from_secs(60), None),
        Store::Redis(s) => {
            s.lock_once(name, holder, Duration::from_secs(60), None)
                .await
        }
    };
    assert!(matches!(attempt, Ok(super::lock::Attempt::Granted(_))));
}

#[tokio::test]
async fn a_dead_holder_is_taken_over_at_once_and_a_remote_one_is_not() {
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let dead_pid = child.id();
    child.wait().expect("wait");
    for (store, _keep) in backends().await {
        let me = super::Holder::this_process();
        let dead = super::Holder {
            pid: dead_pid,
            ..me.clone()
        };
        held_by(&store, "certs/ca/dead", &dead).await;
        let lease = store
            .try_lock("certs/ca/dead", Duration::from_secs(60))
            .await
            .expect("try");
        assert!(
            lease.is_ok(),
            "{}: a dead holder's lock is taken over",
            store.describe()
        );
        let remote = super::Holder {
            host: "another-host".into(),
            pid: dead_pid,
            ..me
        };
        held_by(&store, "certs/ca/remote", &remote).await;
        let held = store
            .try_lock("certs/ca/remote", Duration::from_secs(60))
            .await
            .expect("try");
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
}

#[tokio::test]
async fn children_lists_only_its_prefix_across_many_keys() {
    for (store, _keep) in backends().await {
        let mut expected = Vec::new();
        // More keys than one SCAN step returns.
        for n in 0..1100 {
            let token = format!("token{n:04}");
            store
                .put(&format!("http01/{token}"), b"v", Secrecy::Public)
                .await
                .expect("put");
            expected.push(token);
        }
        store
            .put("http01x/other", b"v", Secrecy::Public)
            .await
            .expect("put");
        store
            .put("certs/ca/a.example/cert.pem", b"v", Secrecy::Public)
            .await
            .expect("put");
        store
            .put("certs/ca/a.example/key.pem", b"v", Secrecy::Secret)
            .await
            .expect("put");
        assert_eq!(store.children("http01").await.expect("list"), expected);
        assert_eq!(store.children("certs").await.expect("list"), ["ca"]);
        assert_eq!(
            store.children("certs/ca").await.expect("list"),
            ["a.example"]
        );
        assert!(store.children("nothing").await.expect("list").is_empty());
        assert!(store.children("../etc").await.is_err(), "keys are checked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_leave_one_whole_value_and_one_creator() {
    const WRITERS: u8 = 8;
    for (store, _keep) in backends().await {
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let value = vec![b'a' + writer; 64 * 1024];
                for _ in 0..10 {
                    store
                        .put("one/key", &value, Secrecy::Secret)
                        .await
                        .expect("put");
                }
                store
                    .put_new("one/new", &value, Secrecy::Secret)
                    .await
                    .expect("put_new")
            }));
        }
        let mut created = 0;
        for task in tasks {
            created += usize::from(task.await.expect("writer"));
        }
        assert_eq!(created, 1, "{}: exactly one creator", store.describe());
        for key in ["one/key", "one/new"] {
            let value = store.get(key).await.expect("get").expect("stored");
            assert_eq!(value.len(), 64 * 1024);
            assert!(value.iter().all(|b| *b == value[0]), "{key} is a mix");
        }
        assert!(
            !store
                .put_new("one/new", b"late", Secrecy::Public)
                .await
                .expect("put_new")
        );
    }
}

/// A self-signed certificate for `name` as a lineage.
fn lineage_for(name: &str) -> Lineage {
    let cert = tls_alpn01_certificate(
        &Identifier::dns(name),
        "x",
        Timestamp::from_unix_secs(1_800_000_000),
    )
    .expect("certificate");
    Lineage::from_chain(&cert.certificate_pem, &cert.private_key_pem, b"{}".to_vec())
        .expect("lineage")
}

#[tokio::test]
async fn lineages_switch_as_a_unit_and_roll_back() {
    for (store, _keep) in backends().await {
        let names = ["a.example.test".to_owned()];
        let lease = store
            .try_lock("certs/ca/a.example.test", Duration::from_secs(60))
            .await
            .expect("try")
            .expect("free");
        let first = lineage_for("a.example.test");
        let second = lineage_for("a.example.test");
        assert!(
            store
                .read_lineage("ca", "a.example.test")
                .await
                .expect("read")
                .is_none()
        );
        store
            .commit_lineage("ca", "a.example.test", &first, &names, Some(&lease))
            .await
            .expect("first");
        store
            .commit_lineage("ca", "a.example.test", &second, &names, Some(&lease))
            .await
            .expect("second");
        let current = store
            .read_lineage("ca", "a.example.test")
            .await
            .expect("read")
            .expect("lineage");
        assert_eq!(current.cert_pem, second.cert_pem);
        assert_eq!(*current.key_pem, *second.key_pem);
        current.check(Some(&names)).expect("a matching pair");

        // A pair that does not match, or names something else, is never made current.
        let mut mixed = lineage_for("a.example.test");
        mixed.key_pem = first.key_pem.clone();
        let refused = store
            .commit_lineage("ca", "a.example.test", &mixed, &names, Some(&lease))
            .await;
        assert!(
            refused
                .expect_err("mismatch")
                .to_string()
                .contains("key.pem is not the key of cert.pem")
        );
        let other = lineage_for("b.example.test");
        let refused = store
            .commit_lineage("ca", "a.example.test", &other, &names, Some(&lease))
            .await;
        assert!(
            refused
                .expect_err("names")
                .to_string()
                .contains("does not name a.example.test")
        );
        let current = store
            .read_lineage("ca", "a.example.test")
            .await
            .expect("read")
            .expect("lineage");
        assert_eq!(current.cert_pem, second.cert_pem, "{}", store.describe());

        // The previous generation comes back, and a second rollback undoes the first.
        assert!(
            store
                .rollback_lineage("ca", "a.example.test", Some(&lease))
                .await
                .expect("rollback")
        );
        let current = store
            .read_lineage("ca", "a.example.test")
            .await
            .expect("read")
            .expect("lineage");
        assert_eq!(current.cert_pem, first.cert_pem);
        assert_eq!(*current.key_pem, *first.key_pem);
        assert!(
            store
                .rollback_lineage("ca", "a.example.test", Some(&lease))
                .await
                .expect("rollback")
        );
        let current = store
            .read_lineage("ca", "a.example.test")
            .await
            .expect("read")
            .expect("lineage");
        assert_eq!(current.cert_pem, second.cert_pem);
        // The paths users read show the same generation.
        let cert = store
            .get("certs/ca/a.example.test/cert.pem")
            .await
            .expect("get")
            .expect("cert");
        assert_eq!(cert, second.cert_pem.as_bytes());

        // A holder that lost its lock cannot switch the lineage.
        lease.release().await.expect("release");
        let short = Duration::from_millis(200);
        let paused = store
            .try_lock("certs/ca/a.example.test", short)
            .await
            .expect("try")
            .expect("free");
        tokio::time::sleep(short + Duration::from_millis(100)).await;
        let _newer = store
            .try_lock("certs/ca/a.example.test", short)
            .await
            .expect("try")
            .expect("expired");
        let stale = lineage_for("a.example.test");
        let refused = store
            .commit_lineage("ca", "a.example.test", &stale, &names, Some(&paused))
            .await;
        assert!(
            matches!(refused, Err(StorageError::Fenced { .. })),
            "{refused:?}"
        );
        let current = store
            .read_lineage("ca", "a.example.test")
            .await
            .expect("read")
            .expect("lineage");
        assert_eq!(current.cert_pem, second.cert_pem);
        assert!(
            !store
                .rollback_lineage("ca", "none.example.test", None)
                .await
                .expect("nothing to roll back")
        );
    }
}
