//! `certsmith plugin serve`: runs a Spin HTTP component (WASIp2, `wasi:http/incoming-handler`)
//! in wasmtime, with Spin's key-value store backed by the host's shared store and Spin's
//! variables; an instance answers one request (Spin's semantics) or, when allowed, several
//! in turn (see [`instances`]). This is how the edge plugin is run on a plain
//! server or as a proxy plugin, and how it is tested here.

mod instances;
mod server;
pub mod spin_api;

pub use server::{bind, serve};

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::storage::Store;
use crate::wasm_cache::{self, WasmBytes};
use instances::Instances;
use spin_api::{SpinApi, SpinData, SpinView};

/// The plugin built from this workspace's `plugin-spin/` by `build.rs`.
pub static EMBEDDED_PLUGIN: WasmBytes = WasmBytes::embedded(
    include_bytes!(env!("CERTSMITH_PLUGIN_WASM")),
    env!("CERTSMITH_PLUGIN_WASM_SHA256"),
);

/// How many requests may run at once (a slot of the instance pool each).
const MAX_CONCURRENT_INSTANCES: u32 = 256;

/// How much of an instance slot's memory is wiped in place and kept between requests.
const KEEP_RESIDENT: usize = 1 << 20;

/// The largest linear memory a plugin instance may grow to (an HTTP-01 answer needs well
/// under 2 MiB).
const MAX_PLUGIN_MEMORY: usize = 64 << 20;

/// How often the plugins' clock ticks for their deadline.
const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// How many ticks of guest code one request may take (about 5 s): a plugin that loops
/// forever traps and its request gets a 500.
const PLUGIN_DEADLINE_TICKS: u64 = 50;

/// Refuses every outgoing HTTP request: a plugin has no network (it answers from the
/// store), whatever component is served.
struct NoOutbound;

impl wasmtime_wasi_http::WasiHttpHooks for NoOutbound {
    fn send_request(
        &mut self,
        _request: hyper::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn std::future::Future<
                Output = Result<
                    (
                        hyper::Response<wasmtime_wasi_http::WasiBody>,
                        Box<
                            dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                                + Send,
                        >,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(std::future::ready(Err(
            wasmtime_wasi_http::Error::HttpRequestDenied,
        )))
    }
}

/// The state of one request's instance.
struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: NoOutbound,
    table: ResourceTable,
    api: Arc<SpinApi>,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The view Spin's interfaces are implemented on.
fn spin_view(state: &mut RequestState) -> SpinView<'_> {
    SpinView {
        api: &state.api,
        table: &mut state.table,
    }
}

/// Why the plugin cannot be served.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PluginError(pub String);

/// A loaded plugin, ready to instantiate per request.
#[derive(Clone)]
pub struct Plugin {
    instances: Arc<Instances>,
}

impl Plugin {
    /// Compiles (or loads from `cache_dir`) the component `wasm` and links it against WASI,
    /// wasi:http and Spin's key-value store `kv` and `variables`; an instance answers at most
    /// `max_requests_per_instance` requests. Fails, naming the import, when the component
    /// needs anything else.
    pub fn load(
        wasm: &WasmBytes,
        cache_dir: Option<&Path>,
        kv: Store,
        variables: HashMap<String, String>,
        max_requests_per_instance: u32,
    ) -> Result<Self, PluginError> {
        let failed = |what: &str, e: wasmtime::Error| PluginError(format!("{what}: {e:#}"));
        let mut config = Config::new();
        config.wasm_component_model(true);
        // WASIp2 calls run one at a time: the bookkeeping for concurrent (WASIp3) guests
        // would only slow down every call into the plugin.
        config.concurrency_support(false);
        // New instances are frequent: the pooling allocator reuses preallocated slots instead
        // of mapping and unmapping memory for every instance, and the pages an instance
        // dirtied (found with Linux's PAGEMAP_SCAN where the kernel has it) are reset in
        // place and kept resident rather than returned to the kernel, whose TLB shootdowns
        // would cost more than the request.
        let mut pool = PoolingAllocationConfig::default();
        pool.linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT)
            .async_stack_keep_resident(KEEP_RESIDENT)
            .decommit_batch_size(MAX_CONCURRENT_INSTANCES as usize)
            .pagemap_scan(wasmtime::Enabled::Auto)
            .total_component_instances(MAX_CONCURRENT_INSTANCES)
            .total_core_instances(MAX_CONCURRENT_INSTANCES * 4)
            .total_memories(MAX_CONCURRENT_INSTANCES * 2)
            .total_tables(MAX_CONCURRENT_INSTANCES * 4)
            .max_memory_size(MAX_PLUGIN_MEMORY);
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .memory_reservation(MAX_PLUGIN_MEMORY as u64);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| failed("cannot start wasmtime", e))?;
        crate::epoch::start_clock(&engine, EPOCH_TICK);
        let component: Component =
            wasm_cache::load_component(&engine, wasm, cache_dir, "plugin", None)
                .map_err(|e| PluginError(format!("cannot compile the plugin: {e}")))?;
        let mut linker = Linker::<RequestState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| failed("cannot link WASI", e))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| failed("cannot link wasi:http", e))?;
        spin_api::key_value::add_to_linker::<RequestState, SpinData>(&mut linker, spin_view)
            .map_err(|e| failed("cannot link Spin's key-value store", e))?;
        spin_api::variables::add_to_linker::<RequestState, SpinData>(&mut linker, spin_view)
            .map_err(|e| failed("cannot link Spin's variables", e))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(ProxyPre::new)
            .map_err(|e| {
                failed(
                    "the component is not a Spin HTTP component this host can run (it needs wasi:http/incoming-handler and only WASI, wasi:http, fermyon:spin/key-value and fermyon:spin/variables imports)",
                    e,
                )
            })?;
        Ok(Self {
            instances: Arc::new(Instances::new(
                pre,
                Arc::new(SpinApi {
                    kv,
                    variables: Arc::new(variables),
                }),
                max_requests_per_instance,
                MAX_CONCURRENT_INSTANCES as usize,
            )),
        })
    }

    /// Answers one request with an instance of the component.
    pub async fn handle(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<HyperOutgoingBody> {
        match self.try_handle(request).await {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!("the plugin failed a request: {e:#}");
                let body = Full::new(Bytes::from_static(b"plugin error\n"))
                    .map_err(|never: Infallible| match never {})
                    .boxed_unsync();
                let mut response = hyper::Response::new(HyperOutgoingBody::new(body));
                *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        }
    }

    /// [`Plugin::handle`], with the failure.
    async fn try_handle(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
        let mut instance = self.instances.take();
        let (sender, mut receiver) = tokio::sync::oneshot::channel();
        let incoming = instance
            .store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let outparam = instance
            .store
            .data_mut()
            .http()
            .new_response_outparam(sender)?;
        let mut run = Box::pin(Arc::clone(&self.instances).run(instance, incoming, outparam));
        // The guest usually runs to its end within the first poll, right here on the
        // connection's task; only one still running when its response is set (a streamed
        // body) is moved to a task of its own, so that hyper can read the body meanwhile.
        let answer = tokio::select! {
            biased;
            finished = &mut run => match receiver.try_recv() {
                Ok(answer) => answer,
                Err(_) => {
                    let cause = finished
                        .err()
                        .unwrap_or_else(|| wasmtime::Error::msg("it returned without a response"));
                    return Err(cause.context("the plugin set no response"));
                }
            },
            received = &mut receiver => {
                tokio::spawn(async move {
                    if let Err(e) = run.await {
                        tracing::warn!("the plugin failed while sending its body: {e:#}");
                    }
                });
                match received {
                    Ok(answer) => answer,
                    Err(_) => return Err(wasmtime::Error::msg("the plugin set no response")),
                }
            }
        };
        answer.map_err(|code| {
            wasmtime::Error::msg(format!("the plugin answered with an error: {code:?}"))
        })
    }
}
