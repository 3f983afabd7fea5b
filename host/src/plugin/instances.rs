//! The plugin's instances: a fresh one per request (Spin's semantics), or, when reuse is
//! allowed, instances that finished a request kept idle for the next one, each for at most
//! a set number of requests. A call that traps or returns an error discards its instance.

use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::Store;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::p2::bindings::http::types::{IncomingRequest, ResponseOutparam};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};

use super::spin_api::SpinApi;
use super::{NoOutbound, PLUGIN_DEADLINE_TICKS, RequestState};

/// A store with (once it has served a request) its instantiated component.
pub(super) struct Instance {
    /// The store the instance lives in; its resource table holds the request's resources.
    pub(super) store: Store<RequestState>,
    /// The instantiated component, `None` until the first request instantiates it.
    proxy: Option<Proxy>,
    /// How many requests the instance has answered.
    served: u32,
}

/// Where requests get their instance from.
pub(super) struct Instances {
    /// The linked component, instantiated for each new instance.
    pre: ProxyPre<RequestState>,
    /// The key-value store and variables every instance is given.
    api: Arc<SpinApi>,
    /// Instances that answered a request and may answer another.
    idle: Mutex<Vec<Instance>>,
    /// How many requests one instance may answer (1: a fresh instance for every request).
    max_requests: u32,
    /// How many idle instances are kept at most.
    max_idle: usize,
}

impl Instances {
    /// Instances of `pre` with Spin's APIs `api`, each answering at most `max_requests`
    /// requests (at least 1), at most `max_idle` of them kept idle.
    pub(super) fn new(
        pre: ProxyPre<RequestState>,
        api: Arc<SpinApi>,
        max_requests: u32,
        max_idle: usize,
    ) -> Self {
        Self {
            pre,
            api,
            idle: Mutex::new(Vec::new()),
            max_requests: max_requests.max(1),
            max_idle,
        }
    }

    /// An idle instance, or a new store for a fresh one.
    pub(super) fn take(&self) -> Instance {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        idle.unwrap_or_else(|| Instance {
            store: Store::new(self.pre.engine(), new_state(&self.api)),
            proxy: None,
            served: 0,
        })
    }

    /// Answers the request `incoming` through `outparam` with `instance`, then keeps the
    /// instance for another request if it may answer more.
    pub(super) async fn run(
        self: Arc<Self>,
        mut instance: Instance,
        incoming: Resource<IncomingRequest>,
        outparam: Resource<ResponseOutparam>,
    ) -> wasmtime::Result<()> {
        // Each request's guest code must finish within the deadline, or it traps (and the
        // instance is dropped: a trapped instance never answers again).
        instance.store.set_epoch_deadline(PLUGIN_DEADLINE_TICKS);
        instance.store.epoch_deadline_trap();
        let proxy = match instance.proxy.take() {
            Some(proxy) => proxy,
            None => self.pre.instantiate_async(&mut instance.store).await?,
        };
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut instance.store, incoming, outparam)
            .await?;
        instance.served += 1;
        if instance.served < self.max_requests {
            instance.proxy = Some(proxy);
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < self.max_idle {
                idle.push(instance);
            }
        }
        Ok(())
    }
}

/// The state of a new instance: WASI without network access, wasi:http, and Spin's APIs.
fn new_state(api: &Arc<SpinApi>) -> RequestState {
    let wasi = WasiCtx::builder()
        .inherit_stderr()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    RequestState {
        wasi,
        http: WasiHttpCtx::new(),
        hooks: NoOutbound,
        table: ResourceTable::new(),
        api: Arc::clone(api),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;

    use super::super::{EMBEDDED_PLUGIN, Plugin, bind, serve};
    use super::Instances;
    use crate::storage::{StorageSpec, Store};

    impl Instances {
        /// How many instances wait for a request.
        fn idle_len(&self) -> usize {
            self.idle.lock().map(|idle| idle.len()).unwrap_or_default()
        }
    }

    /// One `GET path` on the keep-alive connection `conn`: the status and the body.
    async fn get(conn: &mut BufReader<TcpStream>, path: &str) -> (u16, String) {
        let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
        conn.get_mut().write_all(request.as_bytes()).await.unwrap();
        let mut status_line = String::new();
        conn.read_line(&mut status_line).await.unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            conn.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        conn.read_exact(&mut body).await.unwrap();
        (status, String::from_utf8(body).unwrap())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_instance_answers_its_share_of_requests_then_a_fresh_one_takes_over() {
        let state = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(state.path().join("http01")).unwrap();
        std::fs::write(state.path().join("http01/tok-1"), "tok-1.thumbprint").unwrap();
        let kv = Store::open(&StorageSpec::Files, state.path())
            .await
            .unwrap();
        let plugin = Plugin::load(&EMBEDDED_PLUGIN, None, kv, HashMap::new(), 2).unwrap();
        let instances = Arc::clone(&plugin.instances);
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(plugin, listener));
        let mut conn = BufReader::new(TcpStream::connect(addr).await.unwrap());
        let mut idle_after_each = Vec::new();
        for _ in 0..5 {
            let answer = get(&mut conn, "/.well-known/acme-challenge/tok-1").await;
            assert_eq!(answer, (200, "tok-1.thumbprint".to_owned()));
            idle_after_each.push(instances.idle_len());
        }
        server.abort();
        // Kept after its first request, retired after its second, then the same again.
        assert_eq!(idle_after_each, [1, 0, 1, 0, 1]);
    }
}
