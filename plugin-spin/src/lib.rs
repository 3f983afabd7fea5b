//! certsmith's edge plugin: a Fermyon Spin HTTP component that answers ACME HTTP-01
//! challenges (`GET /.well-known/acme-challenge/<token>`) from Spin's key-value store, plus a
//! small bearer-protected admin API to publish and withdraw key authorizations.
//!
//! All routing and validation lives in [`http01`], which has no Spin types and is unit-tested
//! natively. The Spin entry point (`spin_entry`) is compiled only for `wasm32` and only adapts
//! Spin's request, key-value store and variables to [`http01::handle`].

pub mod http01;

#[cfg(target_arch = "wasm32")]
mod spin_entry;
