//! Where things live in the store (the same keys on every backend):
//! `accounts/<ca>/<account>/{key.pem,account.json}`,
//! `certs/<ca>/<name>/{cert.pem,chain.pem,fullchain.pem,key.pem,meta.json}` (certbot's file
//! names), `orders/<ca>/<name>.json` (snapshots of orders in flight).

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

/// The key of an account's metadata (its URL).
pub fn account_meta(ca: &str, account: &str) -> String {
    format!("accounts/{ca}/{}/account.json", slug(account))
}

/// The key of one file of a certificate (`cert.pem`, `key.pem`, …).
pub fn cert_file(ca: &str, name: &str, file: &str) -> String {
    format!("certs/{ca}/{name}/{file}")
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
