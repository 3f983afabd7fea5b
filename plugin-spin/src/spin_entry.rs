//! The Spin entry point: adapts Spin's incoming request, the `default` key-value store and
//! the `admin_secret` variable to [`http01::handle`].
//!
//! The `#[http_component]` macro exports `wasi:http/incoming-handler@0.2.0`; its generated
//! glue converts resource handles with `unsafe`, hence the `allow` on this module only.
#![allow(unsafe_code)]

use futures::StreamExt;
use spin_sdk::http::{IncomingRequest, Method as SpinMethod, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;

use crate::http01::{self, Kv, KvError, Method, PluginRequest, PluginResponse};

/// The `default` store, opened on first use so that rejected requests never open it.
struct SpinKv {
    /// The open store, once opened.
    store: Option<Store>,
}

impl SpinKv {
    /// The open store, opening it now if needed.
    fn store(&mut self) -> Result<&Store, KvError> {
        if self.store.is_none() {
            let store = Store::open(http01::STORE_LABEL).map_err(|e| logged("open", &e))?;
            self.store = Some(store);
        }
        self.store
            .as_ref()
            .ok_or_else(|| KvError("store not open".to_owned()))
    }
}

/// Logs a store error to the component's stderr (Spin keeps it in `.spin/logs/`).
fn logged(what: &str, err: &spin_sdk::key_value::Error) -> KvError {
    let err = KvError(format!("{what}: {err:?}"));
    eprintln!("certsmith-http01: {err}");
    err
}

impl Kv for SpinKv {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.store()?.get(key).map_err(|e| logged("get", &e))
    }

    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.store()?.set(key, value).map_err(|e| logged("set", &e))
    }

    fn delete(&mut self, key: &str) -> Result<(), KvError> {
        self.store()?.delete(key).map_err(|e| logged("delete", &e))
    }
}

/// The admin secret from the Spin variable, `None` when undefined or unreadable.
fn admin_secret() -> Option<String> {
    spin_sdk::variables::get(http01::SECRET_VARIABLE).ok()
}

/// Our method from Spin's.
fn method(m: &SpinMethod) -> Method {
    match m {
        SpinMethod::Get => Method::Get,
        SpinMethod::Head => Method::Head,
        SpinMethod::Put => Method::Put,
        SpinMethod::Delete => Method::Delete,
        other => Method::Other(other.to_string()),
    }
}

/// Reads at most `limit` bytes of the body, dropping the rest unread.
async fn read_capped(req: IncomingRequest, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    // The body has not been consumed yet, so this does not panic.
    let mut stream = req.into_body_stream();
    while body.len() < limit {
        match stream.next().await {
            Some(Ok(chunk)) => {
                let room = limit - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            // A broken body reads as what arrived so far; the validator rejects it.
            Some(Err(_)) | None => break,
        }
    }
    body
}

/// Spin's response from ours.
fn response(resp: PluginResponse) -> Response {
    let mut builder = Response::builder();
    builder.status(resp.status);
    for (name, value) in resp.headers {
        builder.header(name, value);
    }
    builder.body(resp.body).build()
}

/// Handles one request.
#[http_component]
async fn serve(req: IncomingRequest) -> Response {
    let method = method(&req.method());
    let path = req.path_with_query().unwrap_or_default();
    let mut values = req.headers().get("authorization").into_iter();
    let authorization = match (values.next(), values.next()) {
        (Some(one), None) => String::from_utf8(one).ok(),
        _ => None,
    };
    let body = if method == Method::Put {
        read_capped(req, http01::MAX_BODY + 1).await
    } else {
        Vec::new()
    };
    let request = PluginRequest {
        method,
        path,
        authorization,
        body,
    };
    let mut kv = SpinKv { store: None };
    response(http01::handle(&request, &mut kv, &admin_secret))
}
