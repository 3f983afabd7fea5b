//! `certsmith run`: the daemon. It keeps the certificates of `certsmith.toml` valid forever
//! (the manager, on a thread of its own with the engine), serves them over HTTPS with hot
//! swaps (the resolver), answers HTTP-01 and TLS-ALPN-01 itself, and reports on an admin
//! listener. SIGHUP reloads the config (a bad one is refused and the old one kept);
//! SIGTERM and SIGINT let requests in flight finish and stop.

pub mod config;
mod events;
mod manager;
mod on_demand;
mod proxy;
mod sites;
mod state;
mod tls_accept;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use certsmith::tls::{ACME_TLS_1, CertResolver};
use hyper::body::Bytes;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};

use crate::commands::{Failure, exit};
use crate::serve::{self, Plain};
use crate::storage::Store;
use config::Config;
use manager::Control;
use sites::{AdminSite, HttpSite, HttpsSite};
use state::State;

/// The TLS configuration of the HTTPS listener: certificates from `resolver`, HTTP/2 and
/// HTTP/1.1, and `acme-tls/1` for the CA's TLS-ALPN-01 validation.
fn tls_config(resolver: Arc<CertResolver>) -> Result<rustls::ServerConfig, Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Failure::new(exit::OTHER, format!("cannot set up TLS: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), ACME_TLS_1.to_vec()];
    Ok(config)
}

/// Runs the manager on a thread of its own (the engine and the orders are single-threaded;
/// the listeners use every core); its result when it stops.
fn spawn_manager(
    config: Config,
    state_dir: PathBuf,
    store: Store,
    shared: (Arc<CertResolver>, Arc<State>),
    inboxes: manager::Inboxes,
) -> std::thread::JoinHandle<Result<(), Failure>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::new(exit::OTHER, format!("cannot start the manager: {e}")))?;
        let local = tokio::task::LocalSet::new();
        local.block_on(
            &runtime,
            manager::manage(config, state_dir, store, shared, inboxes),
        )
    })
}

/// Runs `certsmith run --config FILE`; `state_dir` is used unless the config names one.
pub async fn run(config_path: &Path, state_dir: &Path) -> Result<(), Failure> {
    let config = Config::load(config_path).map_err(|e| Failure::new(exit::LOCAL, e.0))?;
    let state_dir = config
        .state_dir
        .clone()
        .unwrap_or_else(|| state_dir.to_owned());
    let store = Store::open(&config.storage(), &state_dir).await?;
    let resolver = Arc::new(CertResolver::new());
    let state = Arc::new(State::new());
    let (stop, stopping) = watch::channel(false);
    let (admin_requests, admin_inbox) = mpsc::unbounded_channel();
    let (on_demand_requests, on_demand_inbox) = mpsc::unbounded_channel();
    let mut servers = Vec::new();
    if let Some(https) = &config.https {
        let listener = serve::bind(https.listen, "[https] listen")
            .await
            .map_err(|e| Failure::new(exit::LOCAL, e))?;
        let tls = tls_accept::Tls {
            config: Arc::new(tls_config(Arc::clone(&resolver))?),
            resolver: Arc::clone(&resolver),
            on_demand: config.on_demand.as_ref().map(|od| {
                on_demand::Asker::new(
                    on_demand_requests.clone(),
                    Duration::from_secs(od.timeout_secs),
                )
            }),
            state: Arc::clone(&state),
        };
        let site = match (&https.proxy_to, &https.static_body) {
            (Some(backend), _) => HttpsSite::Proxy(Box::new(
                proxy::Proxy::new(backend).map_err(|e| Failure::new(exit::LOCAL, e))?,
            )),
            (None, Some(body)) => HttpsSite::Static(Bytes::from(body.clone())),
            (None, None) => HttpsSite::Nothing,
        };
        servers.push(tokio::spawn(serve::serve(
            listener,
            tls,
            site,
            stopping.clone(),
        )));
        if let Some(addr) = https.http_listen {
            let listener = serve::bind(addr, "[https] http_listen")
                .await
                .map_err(|e| Failure::new(exit::LOCAL, e))?;
            let site = HttpSite {
                store: store.clone(),
                https_port: Some(https.listen.port()),
            };
            servers.push(tokio::spawn(serve::serve(
                listener,
                Plain,
                site,
                stopping.clone(),
            )));
        }
    }
    if let Some(admin) = &config.admin {
        let listener = serve::bind(admin.listen, "[admin] listen")
            .await
            .map_err(|e| Failure::new(exit::LOCAL, e))?;
        let site = AdminSite {
            state: Arc::clone(&state),
            manager: admin_requests,
        };
        servers.push(tokio::spawn(serve::serve(
            listener,
            Plain,
            site,
            stopping.clone(),
        )));
    }
    let (control, control_inbox) = mpsc::unbounded_channel();
    let mut manager = spawn_manager(
        config,
        state_dir,
        store,
        (resolver, state),
        manager::Inboxes {
            control: control_inbox,
            admin: admin_inbox,
            on_demand: on_demand_inbox,
        },
    );
    let signal_error =
        |e: std::io::Error| Failure::new(exit::OTHER, format!("cannot watch signals: {e}"));
    let mut hangup = signal(SignalKind::hangup()).map_err(signal_error)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(signal_error)?;
    tracing::info!(
        "certsmith run: managing the certificates of {}",
        config_path.display()
    );
    loop {
        tokio::select! {
            _ = hangup.recv() => match Config::load(config_path) {
                Ok(config) => {
                    let _ = control.send(Control::Reload(Box::new(config)));
                }
                Err(e) => tracing::error!("the new configuration is refused, the old one stays: {}", e.0),
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            () = wait_for_thread(&mut manager) => break,
        }
    }
    tracing::info!("stopping");
    let _ = control.send(Control::Stop);
    let _ = stop.send(true);
    for server in servers {
        let _ = server.await;
    }
    match tokio::task::spawn_blocking(move || manager.join()).await {
        Ok(Ok(result)) => result,
        _ => Err(Failure::new(
            exit::OTHER,
            "the certificate manager panicked",
        )),
    }
}

/// Returns once the thread has finished (checked twice a second).
async fn wait_for_thread<T>(thread: &mut std::thread::JoinHandle<T>) {
    while !thread.is_finished() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
