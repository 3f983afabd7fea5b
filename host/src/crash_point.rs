//! Named points where a test build stops the process as a crash would (`abort`): built only
//! with the `crash-points` feature, armed by `CERTSMITH_CRASH_AT=<point>`. The end-to-end
//! tests use it to prove that every interrupted write leaves the store whole, and that a
//! run stopped at any ACME response is finished by the next one (`acme-response-<n>`: the
//! n-th response of the run has arrived and the engine has not seen it).

/// Aborts the process if `CERTSMITH_CRASH_AT` names `point`.
#[cfg(feature = "crash-points")]
pub fn hit(point: &str) {
    if std::env::var("CERTSMITH_CRASH_AT").is_ok_and(|armed| armed == point) {
        eprintln!("certsmith: crash point {point} reached (CERTSMITH_CRASH_AT)");
        std::process::abort();
    }
}

/// Counts an ACME response that arrived, aborting at `acme-response-<n>` if armed for it.
#[cfg(feature = "crash-points")]
pub fn response_arrived() {
    use std::sync::atomic::{AtomicU32, Ordering};
    static RESPONSES: AtomicU32 = AtomicU32::new(0);
    let n = RESPONSES.fetch_add(1, Ordering::SeqCst) + 1;
    hit(&format!("acme-response-{n}"));
}

/// Does nothing: crash points are compiled out of normal builds.
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn hit(_point: &str) {}

/// Does nothing: crash points are compiled out of normal builds.
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn response_arrived() {}
