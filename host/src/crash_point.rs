//! Named points where a test build stops the process as a crash would (`abort`): built only
//! with the `crash-points` feature, armed by `CERTSMITH_CRASH_AT=<point>`. The end-to-end
//! tests use it to prove that every interrupted write leaves the store whole.

/// Aborts the process if `CERTSMITH_CRASH_AT` names `point`.
#[cfg(feature = "crash-points")]
pub fn hit(point: &str) {
    if std::env::var("CERTSMITH_CRASH_AT").is_ok_and(|armed| armed == point) {
        eprintln!("certsmith: crash point {point} reached (CERTSMITH_CRASH_AT)");
        std::process::abort();
    }
}

/// Does nothing: crash points are compiled out of normal builds.
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn hit(_point: &str) {}
