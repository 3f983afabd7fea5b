//! Routing and validation for the HTTP-01 responder, with no Spin types.
//!
//! [`handle`] is a pure function of the request, a [`Kv`] store and a lazily read admin
//! secret. The Spin entry point (`spin_entry`, WebAssembly only) adapts Spin's request, store
//! and variables to it; the native unit tests below drive it with a counting in-memory store
//! to show that hostile requests never reach the store.
//!
//! Routes:
//! - `GET`/`HEAD` [`CHALLENGE_PREFIX`]`<token>`: the stored value of `http01/<token>`.
//! - `PUT`/`DELETE` [`ADMIN_PREFIX`]`<token>` with `Authorization: Bearer <secret>`: write or
//!   remove that value, for hosts that cannot write the key-value store themselves.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Path prefix of ACME HTTP-01 challenge requests (RFC 8555 §8.3).
pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";
/// Path prefix of the admin API that publishes and withdraws key authorizations.
pub const ADMIN_PREFIX: &str = "/.well-known/certsmith/http01/";
/// Label of the Spin key-value store that holds the key authorizations.
pub const STORE_LABEL: &str = "default";
/// Prefix of the store keys: a token's key authorization lives at `http01/<token>`, the same
/// key the certsmith host writes on every storage backend.
pub const KEY_PREFIX: &str = "http01/";
/// Name of the Spin variable that holds the admin bearer secret.
pub const SECRET_VARIABLE: &str = "admin_secret";
/// Longest token accepted, in characters.
pub const MAX_TOKEN_LEN: usize = 128;
/// Largest admin `PUT` body accepted, in bytes; callers pass at least one byte more when the
/// body is larger so that [`handle`] can tell it apart.
pub const MAX_BODY: usize = 1024;
/// Length of a base64url (unpadded) SHA-256 JWK thumbprint.
pub const THUMBPRINT_LEN: usize = 43;

/// The `Allow` header for the challenge path.
const ALLOW_CHALLENGE: &str = "GET, HEAD";
/// The `Allow` header for the admin path.
const ALLOW_ADMIN: &str = "PUT, DELETE";

/// An HTTP method, as far as this component cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
    /// Any other method, by name.
    Other(String),
}

impl Method {
    /// The method named `name`; method names are case-sensitive (RFC 9110 §9.1).
    pub fn parse(name: &str) -> Self {
        match name {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "PUT" => Self::Put,
            "DELETE" => Self::Delete,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A request, reduced to what the responder reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRequest {
    /// The method.
    pub method: Method,
    /// The path as received (still percent-encoded), optionally with `?query`, which is
    /// ignored.
    pub path: String,
    /// The `Authorization` header when exactly one was sent.
    pub authorization: Option<String>,
    /// The body, or its first [`MAX_BODY`]` + 1` bytes when longer. Only `PUT` reads it.
    pub body: Vec<u8>,
}

/// A response to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(&'static str, String)>,
    /// The body; empty for `HEAD` and `204`.
    pub body: Vec<u8>,
}

impl PluginResponse {
    /// The first value of header `name` (lowercase), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A plain-text response with `body`.
    fn text(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type", "text/plain".to_owned()),
                ("cache-control", "no-store".to_owned()),
            ],
            body: body.into(),
        }
    }

    /// A short plain-text error: `reason` and a newline.
    fn error(status: u16, reason: &str) -> Self {
        Self::text(status, format!("{reason}\n"))
    }

    /// `204 No Content`.
    fn no_content() -> Self {
        Self {
            status: 204,
            headers: vec![("cache-control", "no-store".to_owned())],
            body: Vec::new(),
        }
    }

    /// This response with one more header.
    fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// A key-value store failure; the message is for logs, never for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvError(pub String);

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key-value store: {}", self.0)
    }
}

impl std::error::Error for KvError {}

/// The key-value store, opened lazily by implementations: a request that never calls it
/// never opens the store.
pub trait Kv {
    /// The value at `key`, or `None` when absent.
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Stores `value` at `key`, replacing any value.
    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// Removes `key`; absent keys are not an error.
    fn delete(&mut self, key: &str) -> Result<(), KvError>;
}

/// Where a path leads, with the still unvalidated token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// Under [`CHALLENGE_PREFIX`].
    Challenge(&'a str),
    /// Under [`ADMIN_PREFIX`].
    Admin(&'a str),
    /// Anywhere else.
    Other,
}

/// Routes `path` (a query string is ignored). Prefixes match byte for byte: no percent
/// decoding and no dot-segment removal, so `/.well-known/%61cme-challenge/x` is
/// [`Route::Other`] and `/.well-known/acme-challenge/../x` is a challenge with a malformed
/// token.
pub fn route(path: &str) -> Route<'_> {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    if let Some(token) = path.strip_prefix(CHALLENGE_PREFIX) {
        Route::Challenge(token)
    } else if let Some(token) = path.strip_prefix(ADMIN_PREFIX) {
        Route::Admin(token)
    } else {
        Route::Other
    }
}

/// Whether `s` is a token: 1 to [`MAX_TOKEN_LEN`] characters of the base64url alphabet
/// (`A-Z a-z 0-9 - _`, no padding). This rejects `.`, `/`, `%` and so every traversal, plain
/// or percent-encoded.
pub fn is_valid_token(s: &str) -> bool {
    (1..=MAX_TOKEN_LEN).contains(&s.len()) && is_base64url(s.as_bytes())
}

/// Whether every byte is in the base64url alphabet.
fn is_base64url(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// Whether `s` is a canonical unpadded base64url SHA-256 digest: 43 characters whose last
/// one carries 4 data bits and 2 zero bits.
fn is_thumbprint(s: &[u8]) -> bool {
    s.len() == THUMBPRINT_LEN
        && is_base64url(s)
        && s.last().is_some_and(|c| b"AEIMQUYcgkosw048".contains(c))
}

/// Checks that `body` is the key authorization `<token>.<thumbprint>` for `token`
/// (RFC 8555 §8.1), returning a reason when it is not.
pub fn check_key_authorization(token: &str, body: &[u8]) -> Result<(), &'static str> {
    let Some(dot) = body.iter().position(|b| *b == b'.') else {
        return Err("key authorization must be <token>.<thumbprint>");
    };
    let (head, thumbprint) = (&body[..dot], &body[dot + 1..]);
    if head != token.as_bytes() {
        return Err("key authorization is for another token");
    }
    if !is_thumbprint(thumbprint) {
        return Err("thumbprint must be 43 base64url characters (SHA-256)");
    }
    Ok(())
}

/// Whether `authorization` carries `Bearer <secret>`. Compares SHA-256 digests in constant
/// time, so neither the secret's content nor its length leaks through timing.
pub fn bearer_matches(authorization: Option<&str>, secret: &str) -> bool {
    let Some(value) = authorization else {
        return false;
    };
    let Some((scheme, credential)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return false;
    }
    let credential = credential.trim_start_matches(' ');
    let given = Sha256::digest(credential.as_bytes());
    let wanted = Sha256::digest(secret.as_bytes());
    bool::from(given.as_slice().ct_eq(wanted.as_slice()))
}

/// The store key of `token`'s key authorization.
pub fn store_key(token: &str) -> String {
    format!("{KEY_PREFIX}{token}")
}

/// Answers `req`. `store` is only called for well-formed requests that need it (and, for the
/// admin API, only once authorized); `secret` (the admin secret, `None` or empty when not
/// configured) is only called for admin paths.
pub fn handle(
    req: &PluginRequest,
    store: &mut dyn Kv,
    secret: &dyn Fn() -> Option<String>,
) -> PluginResponse {
    let mut response = match route(&req.path) {
        Route::Challenge(token) => challenge(req, token, store),
        Route::Admin(token) => admin(req, token, store, secret),
        Route::Other => PluginResponse::error(404, "not found"),
    };
    // HEAD gets GET's status and headers without the body, on every path.
    if req.method == Method::Head {
        response.body.clear();
    }
    response
}

/// `GET`/`HEAD` of a challenge token.
fn challenge(req: &PluginRequest, token: &str, store: &mut dyn Kv) -> PluginResponse {
    if !matches!(req.method, Method::Get | Method::Head) {
        return PluginResponse::error(405, "method not allowed")
            .with_header("allow", ALLOW_CHALLENGE);
    }
    if !is_valid_token(token) {
        PluginResponse::error(400, "malformed token")
    } else {
        match store.get(&store_key(token)) {
            Ok(Some(value)) => PluginResponse::text(200, value),
            Ok(None) => PluginResponse::error(404, "unknown token"),
            Err(_) => PluginResponse::error(500, "key-value store unavailable"),
        }
    }
}

/// The admin API: `PUT`/`DELETE` of a token's key authorization.
fn admin(
    req: &PluginRequest,
    token: &str,
    store: &mut dyn Kv,
    secret: &dyn Fn() -> Option<String>,
) -> PluginResponse {
    let Some(secret) = secret().filter(|s| !s.is_empty()) else {
        return PluginResponse::error(404, "admin API disabled (no admin_secret)");
    };
    if !bearer_matches(req.authorization.as_deref(), &secret) {
        return PluginResponse::error(401, "missing or wrong bearer token")
            .with_header("www-authenticate", "Bearer realm=\"certsmith\"");
    }
    match req.method {
        Method::Put | Method::Delete => {}
        _ => {
            return PluginResponse::error(405, "method not allowed")
                .with_header("allow", ALLOW_ADMIN);
        }
    }
    if !is_valid_token(token) {
        return PluginResponse::error(400, "malformed token");
    }
    let key = store_key(token);
    if req.method == Method::Delete {
        return match store.delete(&key) {
            Ok(()) => PluginResponse::no_content(),
            Err(_) => PluginResponse::error(500, "key-value store unavailable"),
        };
    }
    if req.body.len() > MAX_BODY {
        return PluginResponse::error(413, "body over 1024 bytes");
    }
    if let Err(reason) = check_key_authorization(token, &req.body) {
        return PluginResponse::error(422, reason);
    }
    match store.set(&key, &req.body) {
        Ok(()) => PluginResponse::no_content(),
        Err(_) => PluginResponse::error(500, "key-value store unavailable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::BTreeMap;

    /// A valid 43-character token.
    const TOKEN: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
    /// A valid thumbprint: the example JWK thumbprint of RFC 7638 §3.1.
    const THUMB: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    /// The admin secret used by the tests.
    const SECRET: &str = "s3cret-admin-token";

    /// An in-memory store that counts every call.
    #[derive(Default)]
    struct CountingKv {
        map: BTreeMap<String, Vec<u8>>,
        gets: usize,
        sets: usize,
        deletes: usize,
        fail: bool,
    }

    impl CountingKv {
        fn with(key: &str, value: &[u8]) -> Self {
            let mut kv = Self::default();
            kv.map.insert(key.to_owned(), value.to_vec());
            kv
        }
        fn calls(&self) -> usize {
            self.gets + self.sets + self.deletes
        }
    }

    impl Kv for CountingKv {
        fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
            self.gets += 1;
            if self.fail {
                return Err(KvError("down".into()));
            }
            Ok(self.map.get(key).cloned())
        }
        fn set(&mut self, key: &str, value: &[u8]) -> Result<(), KvError> {
            self.sets += 1;
            if self.fail {
                return Err(KvError("down".into()));
            }
            self.map.insert(key.to_owned(), value.to_vec());
            Ok(())
        }
        fn delete(&mut self, key: &str) -> Result<(), KvError> {
            self.deletes += 1;
            if self.fail {
                return Err(KvError("down".into()));
            }
            self.map.remove(key);
            Ok(())
        }
    }

    fn req(method: &str, path: &str) -> PluginRequest {
        PluginRequest {
            method: Method::parse(method),
            path: path.to_owned(),
            authorization: None,
            body: Vec::new(),
        }
    }

    fn admin_req(method: &str, token: &str, auth: Option<&str>, body: &[u8]) -> PluginRequest {
        PluginRequest {
            method: Method::parse(method),
            path: format!("{ADMIN_PREFIX}{token}"),
            authorization: auth.map(str::to_owned),
            body: body.to_vec(),
        }
    }

    fn bearer() -> Option<&'static str> {
        Some("Bearer s3cret-admin-token")
    }

    fn ka(token: &str) -> Vec<u8> {
        format!("{token}.{THUMB}").into_bytes()
    }

    /// Runs `r` with the test secret, returning the response and the number of secret reads.
    fn run(r: &PluginRequest, kv: &mut CountingKv) -> (PluginResponse, usize) {
        run_with(r, kv, Some(SECRET))
    }

    fn run_with(
        r: &PluginRequest,
        kv: &mut CountingKv,
        secret: Option<&str>,
    ) -> (PluginResponse, usize) {
        let reads = Cell::new(0);
        let secret_fn = || {
            reads.set(reads.get() + 1);
            secret.map(str::to_owned)
        };
        let resp = handle(r, kv, &secret_fn);
        (resp, reads.get())
    }

    fn text(resp: &PluginResponse) -> &str {
        std::str::from_utf8(&resp.body).unwrap()
    }

    /// Asserts a short plain-text error body.
    fn assert_error(resp: &PluginResponse, status: u16) {
        assert_eq!(resp.status, status, "body: {}", text(resp));
        assert_eq!(resp.header("content-type"), Some("text/plain"));
        let body = text(resp);
        assert!(
            !body.trim().is_empty() && body.len() < 80,
            "reason: {body:?}"
        );
    }

    // ---- challenge path: good cases ----

    #[test]
    fn get_known_token_returns_exact_value() {
        let value = ka(TOKEN);
        let mut kv = CountingKv::with(&store_key(TOKEN), &value);
        let (resp, secret_reads) = run(&req("GET", &format!("{CHALLENGE_PREFIX}{TOKEN}")), &mut kv);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, value);
        assert_eq!(resp.header("content-type"), Some("text/plain"));
        assert_eq!(kv.gets, 1);
        assert_eq!(kv.sets + kv.deletes, 0);
        assert_eq!(secret_reads, 0, "challenge requests never read the secret");
    }

    #[test]
    fn stored_bytes_are_served_verbatim() {
        let value = b"anything\r\n\0\xff".to_vec();
        let mut kv = CountingKv::with("http01/abc", &value);
        let (resp, _) = run(&req("GET", "/.well-known/acme-challenge/abc"), &mut kv);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, value);
    }

    #[test]
    fn head_known_token_has_headers_and_no_body() {
        let mut kv = CountingKv::with(&store_key(TOKEN), &ka(TOKEN));
        let (resp, _) = run(&req("HEAD", &format!("{CHALLENGE_PREFIX}{TOKEN}")), &mut kv);
        assert_eq!(resp.status, 200);
        assert!(resp.body.is_empty());
        assert_eq!(resp.header("content-type"), Some("text/plain"));
        assert_eq!(kv.gets, 1);
    }

    #[test]
    fn head_unknown_token_is_404_without_body() {
        let mut kv = CountingKv::default();
        let (resp, _) = run(&req("HEAD", &format!("{CHALLENGE_PREFIX}{TOKEN}")), &mut kv);
        assert_eq!(resp.status, 404);
        assert!(resp.body.is_empty());
    }

    /// Found by the `plugin_request` fuzz target: HEAD outside the challenge path (an
    /// unknown path, the admin API) answered with a body.
    #[test]
    fn head_has_no_body_on_any_path() {
        for path in ["/", "/.well-\u{1}kn", &format!("{ADMIN_PREFIX}{TOKEN}")] {
            let mut kv = CountingKv::default();
            let (resp, _) = run(&req("HEAD", path), &mut kv);
            assert!(resp.status >= 400, "{path}: {resp:?}");
            assert!(resp.body.is_empty(), "{path}: {resp:?}");
        }
    }

    #[test]
    fn query_string_is_ignored() {
        let mut kv = CountingKv::with(&store_key(TOKEN), b"v");
        let (resp, _) = run(
            &req("GET", &format!("{CHALLENGE_PREFIX}{TOKEN}?x=../../y")),
            &mut kv,
        );
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, b"v");
    }

    #[test]
    fn one_and_128_character_tokens_are_accepted() {
        for token in ["a".to_owned(), "A-_9".repeat(32)] {
            let mut kv = CountingKv::with(&store_key(&token), b"v");
            let (resp, _) = run(&req("GET", &format!("{CHALLENGE_PREFIX}{token}")), &mut kv);
            assert_eq!(resp.status, 200, "token of {} chars", token.len());
        }
    }

    #[test]
    fn unknown_token_is_404() {
        let mut kv = CountingKv::with("http01/other", b"v");
        let (resp, _) = run(&req("GET", &format!("{CHALLENGE_PREFIX}{TOKEN}")), &mut kv);
        assert_error(&resp, 404);
        assert_eq!(kv.gets, 1);
    }

    #[test]
    fn store_failure_is_500_without_details() {
        let mut kv = CountingKv {
            fail: true,
            ..Default::default()
        };
        let (resp, _) = run(&req("GET", &format!("{CHALLENGE_PREFIX}{TOKEN}")), &mut kv);
        assert_error(&resp, 500);
        assert!(!text(&resp).contains("down"));
    }

    // ---- challenge path: hostile cases never touch the store ----

    /// Paths under the challenge prefix whose token is malformed.
    const HOSTILE_TOKENS: &[&str] = &[
        "",
        "..",
        "../",
        "../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e",
        "%2E%2E%2F",
        "%2e%2e/secret",
        "..\\..\\win.ini",
        "a/b",
        "a/",
        "/a",
        "a.b",
        "tok%00",
        "tok\0",
        "tok en",
        "tok+en",
        "tok=",
        "tok==",
        "tok#frag",
        "tök",
        "tok\u{ff0e}",
        "tok\r\nx-injected: 1",
        "*",
    ];

    #[test]
    fn malformed_tokens_are_rejected_without_store_access() {
        for token in HOSTILE_TOKENS {
            for method in ["GET", "HEAD"] {
                let mut kv = CountingKv::with(&store_key("a"), b"secret");
                let path = format!("{CHALLENGE_PREFIX}{token}");
                let (resp, secret_reads) = run(&req(method, &path), &mut kv);
                assert!(
                    resp.status == 400 || resp.status == 404,
                    "{method} {path:?} -> {}",
                    resp.status
                );
                if method == "GET" {
                    assert_error(&resp, resp.status);
                }
                assert_eq!(kv.calls(), 0, "{method} {path:?} touched the store");
                assert_eq!(secret_reads, 0);
            }
        }
    }

    #[test]
    fn overlong_token_is_rejected_without_store_access() {
        for len in [129, 130, 1000, 100_000] {
            let token = "a".repeat(len);
            let mut kv = CountingKv::with(&store_key(&token), b"v");
            let (resp, _) = run(&req("GET", &format!("{CHALLENGE_PREFIX}{token}")), &mut kv);
            assert_error(&resp, 400);
            assert_eq!(kv.calls(), 0, "token of {len} chars");
        }
    }

    #[test]
    fn every_non_base64url_ascii_byte_is_rejected() {
        for b in 0u8..=127 {
            let c = b as char;
            // `?` starts the (ignored) query string, so `ab?cd` is token `ab`.
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '?' {
                continue;
            }
            let path = format!("{CHALLENGE_PREFIX}ab{c}cd");
            let mut kv = CountingKv::default();
            let (resp, _) = run(&req("GET", &path), &mut kv);
            assert!(
                resp.status == 400 || resp.status == 404,
                "byte {b:#x} -> {}",
                resp.status
            );
            assert_eq!(kv.calls(), 0, "byte {b:#x} touched the store");
        }
    }

    #[test]
    fn encoded_or_dotted_prefixes_are_other_paths() {
        for path in [
            "/.well-known/acme-challenge",
            "/.well-known/acme-challenge%2F",
            "/.well-known/acme-challenge%2f",
            "/.well-known/%61cme-challenge/abc",
            "/.well-known/./acme-challenge/abc",
            "/.well-known/x/../acme-challenge/abc",
            "//.well-known/acme-challenge/abc",
            "/%2ewell-known/acme-challenge/abc",
            "/.WELL-KNOWN/ACME-CHALLENGE/abc",
            "/.well-known/certsmith/http01",
            "/.well-known/certsmith/abc",
            "/",
            "",
            "/http01/abc",
            "*",
        ] {
            let mut kv = CountingKv::with("http01/abc", b"v");
            let (resp, secret_reads) = run(&req("GET", path), &mut kv);
            assert_error(&resp, 404);
            assert_eq!(kv.calls(), 0, "{path:?} touched the store");
            assert_eq!(secret_reads, 0);
        }
    }

    #[test]
    fn wrong_methods_on_challenge_path_are_405() {
        for method in [
            "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "get", "Get",
        ] {
            let mut kv = CountingKv::with(&store_key(TOKEN), b"v");
            let (resp, _) = run(&req(method, &format!("{CHALLENGE_PREFIX}{TOKEN}")), &mut kv);
            assert_error(&resp, 405);
            assert_eq!(resp.header("allow"), Some("GET, HEAD"), "{method}");
            assert_eq!(kv.calls(), 0, "{method} touched the store");
            assert_eq!(
                kv.map.get(&store_key(TOKEN)).map(Vec::as_slice),
                Some(&b"v"[..])
            );
        }
    }

    #[test]
    fn wrong_method_with_malformed_token_still_touches_nothing() {
        let mut kv = CountingKv::default();
        let (resp, _) = run(&req("PUT", &format!("{CHALLENGE_PREFIX}../x")), &mut kv);
        assert_eq!(resp.status, 405);
        assert_eq!(kv.calls(), 0);
    }

    // ---- admin API: good cases ----

    #[test]
    fn admin_put_stores_key_authorization() {
        let mut kv = CountingKv::default();
        let body = ka(TOKEN);
        let (resp, _) = run(&admin_req("PUT", TOKEN, bearer(), &body), &mut kv);
        assert_eq!(resp.status, 204);
        assert!(resp.body.is_empty());
        assert_eq!(kv.map.get(&store_key(TOKEN)), Some(&body));
        assert_eq!((kv.gets, kv.sets, kv.deletes), (0, 1, 0));

        // ... and the challenge path then serves it.
        let (resp, _) = run(&req("GET", &format!("{CHALLENGE_PREFIX}{TOKEN}")), &mut kv);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, body);
    }

    #[test]
    fn admin_put_replaces_and_delete_removes() {
        let mut kv = CountingKv::with(&store_key(TOKEN), b"old");
        let (resp, _) = run(&admin_req("PUT", TOKEN, bearer(), &ka(TOKEN)), &mut kv);
        assert_eq!(resp.status, 204);
        assert_eq!(kv.map.get(&store_key(TOKEN)), Some(&ka(TOKEN)));

        let (resp, _) = run(&admin_req("DELETE", TOKEN, bearer(), b""), &mut kv);
        assert_eq!(resp.status, 204);
        assert!(kv.map.is_empty());
        assert_eq!(kv.deletes, 1);

        // Deleting again is still a success (idempotent).
        let (resp, _) = run(&admin_req("DELETE", TOKEN, bearer(), b""), &mut kv);
        assert_eq!(resp.status, 204);

        let (resp, _) = run(&req("GET", &format!("{CHALLENGE_PREFIX}{TOKEN}")), &mut kv);
        assert_eq!(resp.status, 404);
    }

    #[test]
    fn admin_bearer_scheme_is_case_insensitive() {
        for auth in ["bearer s3cret-admin-token", "BEARER  s3cret-admin-token"] {
            let mut kv = CountingKv::default();
            let (resp, _) = run(&admin_req("PUT", TOKEN, Some(auth), &ka(TOKEN)), &mut kv);
            assert_eq!(resp.status, 204, "{auth:?}");
        }
    }

    #[test]
    fn admin_body_of_exactly_the_limit_is_size_checked_not_rejected() {
        // A 1024-byte body passes the size check (and then fails the shape check).
        let mut kv = CountingKv::default();
        let body = vec![b'a'; MAX_BODY];
        let (resp, _) = run(&admin_req("PUT", TOKEN, bearer(), &body), &mut kv);
        assert_error(&resp, 422);
        assert_eq!(kv.calls(), 0);
    }

    #[test]
    fn admin_store_failure_is_500() {
        let mut kv = CountingKv {
            fail: true,
            ..Default::default()
        };
        let (resp, _) = run(&admin_req("PUT", TOKEN, bearer(), &ka(TOKEN)), &mut kv);
        assert_error(&resp, 500);
        let (resp, _) = run(&admin_req("DELETE", TOKEN, bearer(), b""), &mut kv);
        assert_error(&resp, 500);
    }

    // ---- admin API: hostile cases ----

    #[test]
    fn admin_without_secret_is_off() {
        for secret in [None, Some("")] {
            for method in ["PUT", "DELETE", "GET", "POST"] {
                let mut kv = CountingKv::default();
                let r = admin_req(method, TOKEN, Some("Bearer "), &ka(TOKEN));
                let (resp, secret_reads) = run_with(&r, &mut kv, secret);
                assert_error(&resp, 404);
                assert_eq!(kv.calls(), 0);
                assert_eq!(secret_reads, 1);
                // Even a bearer equal to the empty secret does not open it.
                let r = admin_req(method, TOKEN, Some("Bearer"), &ka(TOKEN));
                let (resp, _) = run_with(&r, &mut kv, secret);
                assert_eq!(resp.status, 404);
                assert_eq!(kv.calls(), 0);
            }
        }
    }

    #[test]
    fn admin_without_or_with_wrong_bearer_is_401() {
        let wrong: &[Option<&str>] = &[
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Bearer wrong"),
            Some("Bearer s3cret-admin-toke"),
            Some("Bearer s3cret-admin-token "),
            Some("Bearer s3cret-admin-tokenX"),
            Some("Bearer S3CRET-ADMIN-TOKEN"),
            Some("Basic s3cret-admin-token"),
            Some("s3cret-admin-token"),
            Some("Bearers3cret-admin-token"),
            Some("Token s3cret-admin-token"),
        ];
        for auth in wrong {
            for method in ["PUT", "DELETE", "GET"] {
                let mut kv = CountingKv::with(&store_key(TOKEN), b"keep");
                let (resp, _) = run(&admin_req(method, TOKEN, *auth, &ka(TOKEN)), &mut kv);
                assert_error(&resp, 401);
                assert_eq!(
                    resp.header("www-authenticate"),
                    Some("Bearer realm=\"certsmith\""),
                    "{auth:?}"
                );
                assert_eq!(kv.calls(), 0, "{method} with {auth:?} touched the store");
                assert_eq!(
                    kv.map.get(&store_key(TOKEN)).map(Vec::as_slice),
                    Some(&b"keep"[..])
                );
            }
        }
    }

    #[test]
    fn admin_wrong_methods_are_405() {
        for method in ["GET", "HEAD", "POST", "PATCH", "put", "OPTIONS"] {
            let mut kv = CountingKv::default();
            let (resp, _) = run(&admin_req(method, TOKEN, bearer(), &ka(TOKEN)), &mut kv);
            assert_eq!(resp.status, 405, "{method}");
            assert_eq!(resp.header("allow"), Some("PUT, DELETE"));
            assert_eq!(kv.calls(), 0);
        }
    }

    #[test]
    fn admin_malformed_tokens_are_400_without_store_access() {
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        let mut tokens: Vec<&str> = HOSTILE_TOKENS.to_vec();
        tokens.push(&long);
        for token in tokens {
            for method in ["PUT", "DELETE"] {
                let mut kv = CountingKv::default();
                let body = format!("{token}.{THUMB}").into_bytes();
                let (resp, _) = run(&admin_req(method, token, bearer(), &body), &mut kv);
                assert_error(&resp, 400);
                assert_eq!(kv.calls(), 0, "{method} {token:?} touched the store");
            }
        }
    }

    #[test]
    fn admin_oversized_body_is_413() {
        for len in [MAX_BODY + 1, 4096] {
            let mut body = ka(TOKEN);
            body.resize(len, b'A');
            let mut kv = CountingKv::default();
            let (resp, _) = run(&admin_req("PUT", TOKEN, bearer(), &body), &mut kv);
            assert_error(&resp, 413);
            assert_eq!(kv.calls(), 0);
        }
    }

    #[test]
    fn admin_bad_key_authorization_shapes_are_422() {
        let other = "otherToken";
        let bad: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            TOKEN.as_bytes().to_vec(),
            format!("{TOKEN}.").into_bytes(),
            format!(".{THUMB}").into_bytes(),
            format!("{other}.{THUMB}").into_bytes(),
            format!("{TOKEN}x.{THUMB}").into_bytes(),
            format!("{TOKEN}.{THUMB}\n").into_bytes(),
            format!(" {TOKEN}.{THUMB}").into_bytes(),
            format!("{TOKEN}.{THUMB}=").into_bytes(),
            format!("{TOKEN}.{}", &THUMB[..42]).into_bytes(),
            format!("{TOKEN}.{THUMB}A").into_bytes(),
            format!("{TOKEN}.{}+", &THUMB[..42]).into_bytes(),
            format!("{TOKEN}.{}/", &THUMB[..42]).into_bytes(),
            format!("{TOKEN}.{}.", &THUMB[..42]).into_bytes(),
            // 43 base64url characters, but the last one has non-zero padding bits.
            format!("{TOKEN}.{}t", &THUMB[..42]).into_bytes(),
            format!("{TOKEN}.{THUMB}.{THUMB}").into_bytes(),
            format!("{TOKEN}..{THUMB}").into_bytes(),
            b"\xff\xfe".to_vec(),
        ];
        for body in bad {
            let mut kv = CountingKv::default();
            let (resp, _) = run(&admin_req("PUT", TOKEN, bearer(), &body), &mut kv);
            assert_error(&resp, 422);
            assert_eq!(
                kv.calls(),
                0,
                "body {:?} touched the store",
                String::from_utf8_lossy(&body)
            );
        }
    }

    // ---- helpers ----

    #[test]
    fn token_validator_bounds() {
        assert!(is_valid_token("a"));
        assert!(is_valid_token(&"Z".repeat(MAX_TOKEN_LEN)));
        assert!(!is_valid_token(""));
        assert!(!is_valid_token(&"Z".repeat(MAX_TOKEN_LEN + 1)));
        assert!(is_valid_token(TOKEN));
    }

    #[test]
    fn thumbprint_validator_accepts_real_digests() {
        // The base64url of any SHA-256 digest is canonical.
        for input in [&b""[..], b"certsmith", b"\x00\x01\x02"] {
            let digest = Sha256::digest(input);
            let encoded = base64url(&digest);
            assert_eq!(encoded.len(), THUMBPRINT_LEN);
            assert!(is_thumbprint(encoded.as_bytes()), "{encoded}");
            assert_eq!(
                check_key_authorization("t", format!("t.{encoded}").as_bytes()),
                Ok(())
            );
        }
        assert!(is_thumbprint(THUMB.as_bytes()));
    }

    /// Minimal unpadded base64url encoder for the tests.
    fn base64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn bearer_comparison() {
        assert!(bearer_matches(Some("Bearer abc"), "abc"));
        assert!(!bearer_matches(Some("Bearer abc"), "abcd"));
        assert!(!bearer_matches(Some("Bearer abcd"), "abc"));
        assert!(!bearer_matches(None, "abc"));
        assert!(!bearer_matches(Some("Bearer"), "abc"));
    }

    #[test]
    fn method_names_are_case_sensitive() {
        assert_eq!(Method::parse("GET"), Method::Get);
        assert_eq!(Method::parse("get"), Method::Other("get".into()));
    }

    #[test]
    fn routing() {
        assert_eq!(
            route("/.well-known/acme-challenge/x"),
            Route::Challenge("x")
        );
        assert_eq!(
            route("/.well-known/acme-challenge/x?y"),
            Route::Challenge("x")
        );
        assert_eq!(route("/.well-known/certsmith/http01/x"), Route::Admin("x"));
        assert_eq!(route("/.well-known/acme-challenge"), Route::Other);
    }
}
