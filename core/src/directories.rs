//! The directory URLs of well-known public CAs, and the short names hosts accept for them.

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Let's Encrypt's staging directory (untrusted certificates, generous rate limits).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// ZeroSSL's directory (requires external account binding).
pub const ZEROSSL: &str = "https://acme.zerossl.com/v2/DV90";

/// The directory a short name stands for: `letsencrypt`, `letsencrypt-staging`, `zerossl`.
pub fn named(name: &str) -> Option<&'static str> {
    match name {
        "letsencrypt" => Some(LETS_ENCRYPT),
        "letsencrypt-staging" => Some(LETS_ENCRYPT_STAGING),
        "zerossl" => Some(ZEROSSL),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_name_their_directories_and_nothing_else() {
        assert_eq!(named("letsencrypt"), Some(LETS_ENCRYPT));
        assert_eq!(named("letsencrypt-staging"), Some(LETS_ENCRYPT_STAGING));
        assert_eq!(named("zerossl"), Some(ZEROSSL));
        assert_eq!(named("https://localhost:14000/dir"), None);
        assert_eq!(named("LetsEncrypt"), None);
    }
}
