//! What the fuzz targets in `fuzz_targets/` run: each target is one line calling into here, so
//! the targets share one decoder of fuzz input and one harness.
//!
//! The engine's response handlers are fuzzed inside a whole account + order + renewal-info
//! run against the engine's test CA (`core/tests/support`, compiled in below, not copied):
//! the CA answers every request correctly except one, whose answer is the fuzz input. That
//! reaches each handler with the state it really meets, and checks what a user relies on
//! after any answer: every operation ends, and no challenge is left published.

// The test CA's helpers report broken expectations by panicking, which is what a fuzzer
// catches; parts of it are unused here.
#[path = "../../core/tests/support/mod.rs"]
#[allow(missing_docs, clippy::unwrap_used)]
mod support;

pub mod flow;
pub mod plugin;
pub mod readers;
pub mod response;
