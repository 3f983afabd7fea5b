//! certsmith-core: a sans-IO ACME (RFC 8555) engine.
//!
//! The engine turns protocol events into descriptions of work and never performs I/O: the
//! host sends the [`HttpRequest`]s it is given, deploys the challenges, stores the snapshots
//! and passes time in. See [`Client`] for the poll/handle loop.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(unreachable_pub)]

mod asn1;
mod base64url;
pub mod cert;
pub mod challenge;
pub mod client;
pub mod csr;
pub mod directories;
mod dn;
pub mod error;
pub mod http;
pub mod jose;
mod json;
mod jwk;
pub mod keys;
mod oid;
pub mod random;
pub mod timestamp;
pub mod wire;

/// Doors into readers that are not part of the API, for the fuzz targets (`fuzz/`, which
/// turn the `fuzzing` feature on); absent from every other build.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    /// Whether the engine's JSON reader accepts `input`.
    pub fn json_accepts(input: &[u8]) -> bool {
        crate::json::parse(input).is_ok()
    }
}

pub use client::*;
pub use error::{Error, Fault};
pub use http::{HttpRequest, HttpResponse, Method};
pub use keys::{KeyType, PrivateKey};
pub use random::Random;
pub use timestamp::Timestamp;
pub use wire::{Identifier, IdentifierType};
