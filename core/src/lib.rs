//! certsmith-core: a sans-IO ACME (RFC 8555) engine.
//!
//! The engine turns protocol events into descriptions of work and never performs I/O: the
//! host sends the [`HttpRequest`]s it is given, deploys the challenges, stores the snapshots
//! and passes time in. See [`Client`] for the poll/handle loop.
//!
//! The modules are private: everything public is re-exported at the crate root from one
//! commented list at the end of `lib.rs`, and nothing else is reachable. It holds the
//! [`Client`] and what goes in and out of it, the ACME objects and errors it hands over, and
//! the helpers hosts and bindings use beside it: keys and JWS signing, challenge material,
//! certificate inspection, CSRs and the well-known directories. The `rcgen` feature adds
//! `RcgenKey` (certsmith keys as rcgen signing keys, for the tests' CA).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(unreachable_pub)]

mod asn1;
mod base64url;
mod cert;
mod challenge;
mod client;
mod csr;
mod directories;
mod dn;
mod error;
mod http;
mod jose;
mod json;
mod jwk;
mod keys;
mod oid;
mod random;
mod timestamp;
mod wire;

/// Doors into readers that are not part of the API, for the fuzz targets (`fuzz/`, which
/// turn the `fuzzing` feature on); absent from every other build.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    /// Whether the engine's JSON reader accepts `input`.
    pub fn json_accepts(input: &[u8]) -> bool {
        crate::json::parse(input).is_ok()
    }
}

// The public surface, all of it.

// The engine: one client per (directory, account), its configuration, and its two doors
// (`start`/`handle` in, `poll` out).
pub use client::{Action, Client, ClientConfig, Command, Input, OpId, Output, RetryPolicy};
// What the commands carry.
pub use client::{
    CertificateKey, ChallengeType, ExternalAccountKey, NewAccountRequest, OrderRequest,
    RevocationRequest, RevocationSigner, normalize_identifiers,
};
// What the actions and outcomes carry.
pub use client::{
    AccountInfo, ChallengeTask, IssuedCertificate, Outcome, RenewalAdvice, Snapshot, Solution,
};
// The ACME objects a host sees: identifiers, the account, the directory.
pub use wire::{Account, AccountStatus, Directory, DirectoryMeta, Identifier, IdentifierType};
// The work described and the time and randomness passed in.
pub use http::{HttpRequest, HttpResponse, Method};
pub use random::Random;
pub use timestamp::Timestamp;
// Errors, with the CA's problem documents.
pub use error::{Error, Fault};
pub use wire::{Problem, ProblemKind, Subproblem};
// Keys, and JWS signing for hosts that sign outside a client (the bindings' helpers).
pub use jose::{FlattenedJws, KeyId, sign as sign_jws};
pub use jwk::Jwk;
pub use keys::{KeyType, PrivateKey};
// base64url as ACME writes it: decoding (an EAB key, a JWS part), and the shape check a host
// applies to a challenge token before using it as a file name or a store key.
pub use base64url::{MAX_TOKEN_LEN as MAX_CHALLENGE_TOKEN_LEN, b64url_decode, is_base64url};
// Challenge material, for hosts that deploy challenges themselves.
pub use challenge::{
    TlsAlpnCertificate, dns01_record_name, dns01_value, key_authorization, tls_alpn01_certificate,
};
// Certificates and CSRs.
pub use cert::{
    CertificateInfo, ari_cert_id, inspect as inspect_certificate, key_matches_certificate,
    key_pem_matches_certificate, leaf_der, split_pem_chain,
};
#[cfg(feature = "rcgen")]
pub use csr::RcgenKey;
pub use csr::build_csr;
// Well-known CAs: their directory URLs, and the short names hosts accept for them.
pub use directories::{LETS_ENCRYPT, LETS_ENCRYPT_STAGING, ZEROSSL, named as named_directory};
