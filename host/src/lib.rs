//! certsmith's store, as a library: the one interface over files and Redis (atomic puts,
//! locks with fencing tokens, certificate lineages switched as a unit), the layout that
//! names every key, and the clock they share. The `certsmith` binary is built on it; it is
//! a library so that benchmarks (`host/benches/storage.rs`) drive the same code.

pub mod clock;
pub mod crash_point;
pub mod layout;
pub mod storage;
