//! The plugin's HTTP server: connections on the runtime's threads with the bounds of
//! [`crate::serve`], every request answered by the plugin.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::watch;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::{Plugin, PluginError};
use crate::serve::{Handler, Plain};

impl Handler for Plugin {
    type Body = HyperOutgoingBody;

    async fn handle(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
        _peer: SocketAddr,
    ) -> hyper::Response<HyperOutgoingBody> {
        Plugin::handle(self, request).await
    }
}

/// Serves `plugin` on `listener` until the process ends.
pub async fn serve(plugin: Plugin, listener: TcpListener) {
    // Never asked to stop: the sender lives as long as the server.
    let (_stop, stopping) = watch::channel(false);
    crate::serve::serve(listener, Plain, plugin, stopping).await;
}

/// Binds the plugin's listener.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, PluginError> {
    crate::serve::bind(addr, "--listen")
        .await
        .map_err(PluginError)
}
