//! Where things live in the store (the same keys on every backend), and every key's name:
//! `accounts/<ca>/<account>/{key.pem,account.json}` (and `key.pem.next` while a key
//! rollover is in flight),
//! `certs/<ca>/<name>/{cert.pem,chain.pem,fullchain.pem,key.pem,meta.json}` (certbot's file
//! names; the current generation of a lineage), `orders/<ca>/<name>.json` (snapshots of
//! orders in flight), `renewal/<ca>/<name>.json` (the CA's last ARI answer for a
//! certificate), `http01/<token>` (key authorizations the edge plugin serves), and the
//! locks: `locks/<lock>.{lock,json}` on files, `locks/<lock>` and `fences/<lock>` in Redis.
//! The previous generation of a lineage is `certs/<ca>/.generations/<name>/<n>/` on files
//! (`certs/<ca>/<name>` is a symlink to the current one) and `certs/<ca>/<name>/previous/…`
//! in Redis.

use crate::storage::StorageError;

/// The files of a certificate lineage, replaced together.
pub const LINEAGE_FILES: [&str; 5] = [
    "cert.pem",
    "chain.pem",
    "fullchain.pem",
    "key.pem",
    "meta.json",
];

/// The directory (beside the lineages of a CA) that holds their generations on files.
pub const GENERATIONS: &str = ".generations";

/// Checks that `key` is a relative path of plain names: no `..`, no empty or `.` parts.
pub fn check_key(key: &str) -> Result<(), StorageError> {
    let valid = !key.is_empty()
        && !key.contains(['\\', '\0'])
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if valid {
        Ok(())
    } else {
        Err(StorageError::BadKey(key.to_owned()))
    }
}

/// Checks a lock's name (a key-like path, e.g. `certs/<ca>/<name>`).
pub fn check_lock_name(name: &str) -> Result<(), StorageError> {
    check_key(name)
}

/// A filesystem-safe name for a CA: host, port and path of its directory URL.
pub fn ca_slug(directory_url: &str) -> String {
    let rest = directory_url
        .split_once("://")
        .map_or(directory_url, |(_, rest)| rest);
    slug(rest.trim_end_matches('/'))
}

/// `text` with everything but `[A-Za-z0-9._-]` turned into `-`, and no leading dot.
fn slug(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.trim_start_matches('.').to_owned()
}

/// The directory name of a certificate: its first name, `*` as `_`.
pub fn cert_name(first_identifier: &str) -> String {
    slug(&first_identifier.replace('*', "_"))
}

/// The key of an account's private key.
pub fn account_key(ca: &str, account: &str) -> String {
    format!("accounts/{ca}/{}/key.pem", slug(account))
}

/// The key of an account's next private key while a key rollover is in flight.
pub fn account_pending_key(ca: &str, account: &str) -> String {
    format!("accounts/{ca}/{}/key.pem.next", slug(account))
}

/// The key of an account's metadata (its URL).
pub fn account_meta(ca: &str, account: &str) -> String {
    format!("accounts/{ca}/{}/account.json", slug(account))
}

/// The key of one file of a certificate (`cert.pem`, `key.pem`, …).
pub fn cert_file(ca: &str, name: &str, file: &str) -> String {
    format!("certs/{ca}/{name}/{file}")
}

/// The lineage of a certificate: where its current files are.
pub fn lineage(ca: &str, name: &str) -> String {
    format!("certs/{ca}/{name}")
}

/// The directory of a lineage's generations (files backend).
pub fn generations(ca: &str, name: &str) -> String {
    format!("certs/{ca}/{GENERATIONS}/{name}")
}

/// The key of one file of a lineage's previous generation (Redis backend).
pub fn previous_file(ca: &str, name: &str, file: &str) -> String {
    format!("certs/{ca}/{name}/previous/{file}")
}

/// The lock taken to change a certificate (issue, renew, revoke, rollback).
pub fn cert_lock(ca: &str, name: &str) -> String {
    format!("certs/{ca}/{name}")
}

/// The lock taken to change an account (contacts, key, deactivation).
pub fn account_lock(ca: &str, account: &str) -> String {
    format!("accounts/{ca}/{}", slug(account))
}

/// The file a lock's `flock` is taken on (files backend).
pub fn lock_file(lock: &str) -> String {
    format!("locks/{lock}.lock")
}

/// The file holding a lock's fencing counter and holder (files backend).
pub fn lock_state(lock: &str) -> String {
    format!("locks/{lock}.json")
}

/// The key holding a lock's holder, with the lease as its expiry (Redis backend).
pub fn lock_key(lock: &str) -> String {
    format!("locks/{lock}")
}

/// The key holding a lock's fencing counter (Redis backend).
pub fn fence_key(lock: &str) -> String {
    format!("fences/{lock}")
}

/// The prefix of the HTTP-01 key authorizations.
pub const HTTP01: &str = "http01";

/// The directory under the state directory that holds compiled WebAssembly (the engine's
/// and the plugin's), never keys.
pub const CACHE_DIR: &str = "cache";

/// The Redis channel on which every commit or rollback of a lineage is announced (the
/// message is the lineage's `cert.pem` key), so daemons sharing a store serve it at once.
pub const LINEAGE_CHANNEL: &str = "certsmith:lineages";

/// How long an HTTP-01 key authorization is kept at most: a run that crashed leaves none
/// behind for longer (CAs validate within minutes).
pub const HTTP01_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The key of an HTTP-01 token's key authorization, as the edge plugin reads it.
pub fn http01_token(token: &str) -> String {
    format!("{HTTP01}/{token}")
}

/// The key of the CA's last renewal advice (ARI) for a certificate.
pub fn renewal_advice(ca: &str, name: &str) -> String {
    format!("renewal/{ca}/{name}.json")
}

/// The key of an order snapshot.
pub fn order_snapshot(ca: &str, name: &str) -> String {
    format!("orders/{ca}/{name}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_filesystem_safe() {
        assert_eq!(
            ca_slug("https://localhost:14000/dir"),
            "localhost-14000-dir"
        );
        assert_eq!(
            ca_slug("https://acme-v02.api.letsencrypt.org/directory"),
            "acme-v02.api.letsencrypt.org-directory"
        );
        assert_eq!(cert_name("*.example.com"), "_.example.com");
        assert_eq!(cert_name("2001:db8::1"), "2001-db8--1");
        assert_eq!(
            account_key("ca", "../me@example.com"),
            "accounts/ca/-me-example.com/key.pem"
        );
    }
}
