//! Wall-clock time as the engine sees it: passed in by the host, never read from a clock.

use core::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, in milliseconds since the Unix epoch (UTC).
///
/// The engine never reads a clock: every call that needs "now" takes a `Timestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The time `ms` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// The time `s` seconds after the Unix epoch.
    pub const fn from_unix_secs(s: u64) -> Self {
        Self(s.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the Unix epoch.
    pub const fn unix_secs(self) -> u64 {
        self.0 / 1000
    }

    /// This time plus `ms` milliseconds (saturating).
    pub const fn plus_millis(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, or 0 if `earlier` is later.
    pub const fn millis_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Parses an RFC 3339 date-time (as used by ACME for `expires`, `notAfter`, ARI windows).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        Self::from_offset_date_time(parsed)
    }

    /// Formats this time as RFC 3339 in UTC, e.g. `2026-11-24T21:00:00Z`.
    pub fn to_rfc3339(self) -> String {
        let secs = i64::try_from(self.unix_secs()).unwrap_or(i64::MAX);
        OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_owned())
    }

    /// Converts from a `time` date-time; `None` before 1970.
    pub fn from_offset_date_time(t: OffsetDateTime) -> Option<Self> {
        let nanos = t.unix_timestamp_nanos();
        u64::try_from(nanos / 1_000_000).ok().map(Self)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::parse_rfc3339("2026-11-24T21:00:00Z").expect("valid");
        assert_eq!(t.unix_secs(), 1_795_554_000);
        assert_eq!(t.to_rfc3339(), "2026-11-24T21:00:00Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-24T22:00:00+01:00"),
            Some(t)
        );
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
        assert_eq!(Timestamp::parse_rfc3339("1969-12-31T23:59:59Z"), None);
    }
}
