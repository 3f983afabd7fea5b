//! base64url without padding (RFC 4648 §5), as ACME uses it everywhere: JWS parts, tokens,
//! thumbprints, CSRs and certificates in JSON.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::Error;

/// The longest challenge token accepted (RFC 8555 asks for at least 128 bits: 22
/// characters).
pub const MAX_TOKEN_LEN: usize = 256;

/// Whether `text` is unpadded base64url (`A-Z a-z 0-9 - _`) of 1 to `max_len` characters:
/// the shape of ACME tokens and nonces, safe in file names, store keys and URL paths.
pub fn is_base64url(text: &str, max_len: usize) -> bool {
    (1..=max_len).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Encodes bytes as base64url without padding.
pub(crate) fn b64url(data: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(data)
}

/// Decodes base64url without padding (canonical: the unused low bits must be zero); `what`
/// names the input in the error.
pub fn b64url_decode(text: &str, what: &str) -> Result<Vec<u8>, Error> {
    Base64UrlUnpadded::decode_vec(text)
        .map_err(|_| Error::invalid_input(what, "unpadded base64url (A-Z a-z 0-9 - _)"))
}
