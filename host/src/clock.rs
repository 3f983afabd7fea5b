//! The wall clock, as the engine and the store want it.

use std::time::{SystemTime, UNIX_EPOCH};

use certsmith_core::Timestamp;

/// The current wall-clock time.
pub fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix_millis(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}
