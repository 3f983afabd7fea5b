//! The Spin plugin's request handler (`certsmith_plugin_spin::http01::handle`) given any
//! request, with the invariants a site relies on checked on every answer.

use std::collections::BTreeMap;

use certsmith_plugin_spin::http01::{self, Kv, KvError, Method, PluginRequest};

/// The admin secret the fuzzed plugin is configured with.
const SECRET: &str = "fuzz-admin-secret";

/// A key-value store in memory; the first byte of the input can make it fail.
struct MemoryKv {
    map: BTreeMap<String, Vec<u8>>,
    failing: bool,
}

impl Kv for MemoryKv {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.check()?;
        Ok(self.map.get(key).cloned())
    }
    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.check()?;
        self.map.insert(key.to_owned(), value.to_vec());
        Ok(())
    }
    fn delete(&mut self, key: &str) -> Result<(), KvError> {
        self.check()?;
        self.map.remove(key);
        Ok(())
    }
}

impl MemoryKv {
    /// An error when the store is set to fail.
    fn check(&self) -> Result<(), KvError> {
        if self.failing {
            Err(KvError("fuzz: store down".into()))
        } else {
            Ok(())
        }
    }
}

/// The fuzz target: byte 0 picks the method, byte 1 the store's state (failing, holding
/// the token) and the `Authorization` header (none, right, wrong, raw); the rest is the
/// path, a newline, then the body.
pub fn handle_request(data: &[u8]) {
    let [method, flags, rest @ ..] = data else {
        return;
    };
    let method = match method % 5 {
        0 => Method::Get,
        1 => Method::Head,
        2 => Method::Put,
        3 => Method::Delete,
        _ => Method::Other(String::from_utf8_lossy(&[*method]).into_owned()),
    };
    let (path, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let path = String::from_utf8_lossy(path).into_owned();
    let authorization = match (flags >> 2) % 4 {
        0 => None,
        1 => Some(format!("Bearer {SECRET}")),
        2 => Some(format!("Bearer {SECRET}x")),
        _ => Some(String::from_utf8_lossy(body).into_owned()),
    };
    let mut store = MemoryKv {
        map: BTreeMap::new(),
        failing: flags & 1 == 1,
    };
    let route = http01::route(&path);
    if flags & 2 == 2
        && let http01::Route::Challenge(token) | http01::Route::Admin(token) = route
    {
        store
            .map
            .insert(http01::store_key(token), b"stored".to_vec());
    }
    let request = PluginRequest {
        method: method.clone(),
        path: path.clone(),
        authorization: authorization.clone(),
        body: body.to_vec(),
    };
    let response = http01::handle(&request, &mut store, &|| Some(SECRET.to_owned()));

    assert_eq!(
        response.header("cache-control"),
        Some("no-store"),
        "{response:?}"
    );
    if method == Method::Head || response.status == 204 {
        assert!(response.body.is_empty(), "HEAD and 204 have no body");
    }
    if response.status == 401 {
        assert!(response.header("www-authenticate").is_some());
    }
    let authorized = authorization.as_deref() == Some(&format!("Bearer {SECRET}"));
    match route {
        http01::Route::Challenge(token) if response.status == 200 => {
            assert!(matches!(method, Method::Get | Method::Head));
            assert!(
                http01::is_valid_token(token),
                "served a malformed token {token:?}"
            );
        }
        http01::Route::Admin(token) if response.status == 204 => {
            assert!(
                authorized,
                "the admin API changed the store without the secret"
            );
            assert!(
                http01::is_valid_token(token),
                "stored a malformed token {token:?}"
            );
            let stored = store.map.get(&http01::store_key(token));
            match method {
                Method::Put => assert_eq!(stored.map(Vec::as_slice), Some(body)),
                _ => assert_eq!(stored, None),
            }
        }
        http01::Route::Other => assert_eq!(response.status, 404),
        _ => assert!(response.status >= 400, "{response:?}"),
    }
}
