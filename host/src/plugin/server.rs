//! The plugin's HTTP server: HTTP/1.1 connections on the runtime's threads, every request
//! answered by the plugin.

use std::convert::Infallible;
use std::net::SocketAddr;

use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{Plugin, PluginError};

/// Serves `plugin` on `listener` until the process ends.
pub async fn serve(plugin: Plugin, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let plugin = plugin.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let plugin = plugin.clone();
                async move { Ok::<_, Infallible>(plugin.handle(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Binds the plugin's listener.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, PluginError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| PluginError(crate::solvers::bind_error(addr, "--listen", &e).0))
}
