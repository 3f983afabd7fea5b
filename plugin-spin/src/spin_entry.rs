//! The Spin entry point: adapts Spin's incoming request, the `default` key-value store and
//! the `admin_secret` variable to [`http01::handle`].
//!
//! The `#[http_component]` macro exports `wasi:http/incoming-handler@0.2.0`; its generated
//! glue converts resource handles with `unsafe`, hence the `allow` on this module only.
#![allow(unsafe_code)]

use futures::StreamExt;
use spin_sdk::http::{
    Fields, IncomingRequest, Method as SpinMethod, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;

use crate::http01::{self, Kv, KvError, Method, PluginRequest, PluginResponse, Route};

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

/// Sends `resp` through `out`, with the few host calls a small body needs: the headers in
/// one list, the body in one blocking write (it is far below a stream's 4096-byte write
/// limit; longer bodies are written in pieces of that size).
fn send(resp: PluginResponse, head: bool, out: ResponseOutparam) {
    let mut headers: Vec<(String, Vec<u8>)> = resp
        .headers
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.into_bytes()))
        .collect();
    if !head && resp.status != 204 {
        headers.push((
            "content-length".to_owned(),
            resp.body.len().to_string().into_bytes(),
        ));
    }
    let Ok(fields) = Fields::from_list(&headers) else {
        eprintln!("certsmith-http01: a response header was refused");
        return;
    };
    let response = OutgoingResponse::new(fields);
    // 200 is a new response's status already: one host call fewer for every validation.
    let status = if resp.status == 200 {
        Ok(())
    } else {
        response.set_status_code(resp.status)
    };
    let (Ok(()), Ok(body)) = (status, response.body()) else {
        eprintln!("certsmith-http01: the response could not be built");
        return;
    };
    out.set(response);
    if let Ok(stream) = body.write() {
        for piece in resp.body.chunks(MAX_WRITE) {
            if let Err(e) = stream.blocking_write_and_flush(piece) {
                eprintln!("certsmith-http01: writing the body failed: {e:?}");
                return;
            }
        }
    }
    if let Err(e) = OutgoingBody::finish(body, None) {
        eprintln!("certsmith-http01: finishing the body failed: {e:?}");
    }
}

/// The most a single blocking write of a WASI output stream may carry.
const MAX_WRITE: usize = 4096;

/// The `Authorization` header when exactly one was sent and it is UTF-8.
fn authorization(req: &IncomingRequest) -> Option<String> {
    let mut values = req.headers().get("authorization").into_iter();
    match (values.next(), values.next()) {
        (Some(one), None) => String::from_utf8(one).ok(),
        _ => None,
    }
}

/// Handles one request. Only the admin API reads headers and the body, so that an ACME
/// validation costs the fewest calls into the host.
#[http_component]
async fn serve(req: IncomingRequest, out: ResponseOutparam) {
    let method = method(&req.method());
    let path = req.path_with_query().unwrap_or_default();
    let admin = matches!(http01::route(&path), Route::Admin(_));
    let authorization = if admin { authorization(&req) } else { None };
    let body = if admin && method == Method::Put {
        read_capped(req, http01::MAX_BODY + 1).await
    } else {
        Vec::new()
    };
    let head = method == Method::Head;
    let request = PluginRequest {
        method,
        path,
        authorization,
        body,
    };
    let mut kv = SpinKv { store: None };
    send(http01::handle(&request, &mut kv, &admin_secret), head, out);
}
