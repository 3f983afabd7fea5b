//! Checkpoints of in-flight orders, so a host that crashes resumes the same order.

/// Placeholder, replaced by the implementation.
#[derive(Clone, Debug)]
pub struct Snapshot;
