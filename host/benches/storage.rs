//! The store's costs on each backend: a lock taken and released (the whole of what a lock
//! adds to an `issue`: grant with its fencing token, the renewal task started and stopped,
//! compare-and-delete release), and a fenced write under a held lease. Files in a temporary
//! directory; Redis a throwaway `redis-server` on a loopback TCP port, as a fleet reaches it.

// Bench code: a panic with a message is how it reports a broken setup.
#![allow(clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certsmith::storage::{Secrecy, StorageSpec, Store};
use criterion::{Criterion, criterion_group, criterion_main};

/// How long a lock may wait (never, here: nothing else holds it).
const WAIT: Duration = Duration::from_secs(5);

/// A redis-server on a free loopback port, stopped on drop.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts redis-server on a free loopback port; its URL.
fn redis() -> (Redis, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (Debian package redis-server) starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Redis(child), format!("redis://127.0.0.1:{port}"))
}

/// Lock round trips and fenced writes on one backend.
fn bench_backend(c: &mut Criterion, backend: &str, spec: &StorageSpec, dir: &std::path::Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store: Store = runtime
        .block_on(Store::open(spec, dir))
        .expect("the store opens");
    let mut waiting = |_: &certsmith::storage::Holder| {};
    c.bench_function(&format!("lock_round_trip_{backend}"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let lease = store
                    .lock("certs/bench/lock.example.test", WAIT, &mut waiting)
                    .await
                    .expect("granted");
                lease.release().await.expect("released");
            })
        })
    });
    let lease = runtime
        .block_on(store.lock("certs/bench/write.example.test", WAIT, &mut waiting))
        .expect("granted");
    let snapshot = vec![b'x'; 2048];
    c.bench_function(&format!("fenced_put_2KiB_{backend}"), |b| {
        b.iter(|| {
            runtime
                .block_on(lease.put(
                    "orders/bench/write.example.test.json",
                    &snapshot,
                    Secrecy::Secret,
                ))
                .expect("written")
        })
    });
    runtime.block_on(lease.release()).expect("released");
}

fn storage(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    bench_backend(c, "files", &StorageSpec::Files, dir.path());
    let (_server, url) = redis();
    let spec = StorageSpec::Redis {
        url,
        root_cert: None,
    };
    bench_backend(c, "redis", &spec, dir.path());
}

criterion_group!(benches, storage);
criterion_main!(benches);
