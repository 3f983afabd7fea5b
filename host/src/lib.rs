//! certsmith's store and TLS serving, as a library: the one interface over files and Redis
//! (atomic puts, locks with fencing tokens, certificate lineages switched as a unit), the
//! layout that names every key, the clock they share, and a rustls resolver that serves
//! stored certificates with hot swaps. The `certsmith` binary is built on it; it is
//! a library so that benchmarks (`host/benches/storage.rs`) drive the same code.

pub mod clock;
pub mod confine;
pub mod crash_point;
pub mod layout;
pub mod storage;
pub mod tls;
