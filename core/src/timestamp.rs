//! Wall-clock time as the engine sees it: passed in by the host, never read from a clock.
//!
//! RFC 3339 parsing and formatting and the civil-date arithmetic for X.509 times are written
//! out here (a few dozen lines) instead of pulling a date-time library's formatters into the
//! WebAssembly component.

use core::fmt;

use time::OffsetDateTime;

/// A point in time, in milliseconds since the Unix epoch (UTC).
///
/// The engine never reads a clock: every call that needs "now" takes a `Timestamp`. With the
/// `serde` feature it is the bare number of milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct Timestamp(pub u64);

impl From<u64> for Timestamp {
    /// The time `ms` milliseconds after the Unix epoch (the WIT's `timestamp`).
    fn from(ms: u64) -> Self {
        Self(ms)
    }
}

impl From<Timestamp> for u64 {
    /// Milliseconds since the Unix epoch (the WIT's `timestamp`).
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

/// The last second of year 9999, the end of what RFC 3339 and X.509 times can write.
pub(crate) const MAX_UNIX_SECS: i64 = 253_402_300_799;

/// Seconds in a day.
const DAY_SECS: i64 = 86_400;

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
    ///
    /// `YYYY-MM-DD`, any one separator character (`T`, `t`, a space), `hh:mm:ss`, optional
    /// fractional seconds, then `Z` (either case) or `±hh:mm`. A leap second (`:60`) is read
    /// as the millisecond before the next minute, and only where one can occur (the last
    /// second of a month, UTC). `None` for anything else, and for times before 1970.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let year = digits(b, 0, 4)?;
        let month = digits(b, 5, 2)?;
        let day = digits(b, 8, 2)?;
        let hour = digits(b, 11, 2)?;
        let minute = digits(b, 14, 2)?;
        let second = digits(b, 17, 2)?;
        if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let mut rest = &b[19..];
        let mut nanos: i128 = 0;
        if let Some(fraction) = rest.strip_prefix(b".") {
            let count = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if count == 0 {
                return None;
            }
            let mut scale = 100_000_000;
            for &d in &fraction[..count] {
                nanos += i128::from(d - b'0') * scale;
                scale /= 10;
            }
            rest = &fraction[count..];
        }
        let offset_secs = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let h = digits(rest, 1, 2)?;
                let m = digits(rest, 4, 2)?;
                if h > 23 || m > 59 {
                    return None;
                }
                let secs = i64::from(h * 3600 + m * 60);
                if *sign == b'-' { -secs } else { secs }
            }
            _ => return None,
        };
        let leap = second == 60;
        let second = if leap { 59 } else { second };
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(i64::from(year), month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let local = DateTime {
            year: i64::from(year),
            month,
            day,
            hour,
            minute,
            second,
        };
        let utc_secs = local.to_unix_secs() - offset_secs;
        if leap {
            // 23:59:60 UTC on the last day of a month is the only place for a leap second.
            let next = DateTime::from_unix_secs(utc_secs + 1);
            if next.day != 1 || next.hour != 0 || next.minute != 0 || next.second != 0 {
                return None;
            }
            nanos = 999_999_999;
        }
        let total_nanos = i128::from(utc_secs) * 1_000_000_000 + nanos;
        u64::try_from(total_nanos / 1_000_000).ok().map(Self)
    }

    /// Formats this time as RFC 3339 in UTC, e.g. `2026-11-24T21:00:00Z` (whole seconds).
    pub fn to_rfc3339(self) -> String {
        let secs = i64::try_from(self.unix_secs()).unwrap_or(i64::MAX);
        if secs > MAX_UNIX_SECS {
            return "9999-12-31T23:59:59Z".to_owned();
        }
        let t = DateTime::from_unix_secs(secs);
        let mut out = String::with_capacity(20);
        push_padded(&mut out, t.year as u32, 4);
        out.push('-');
        push_padded(&mut out, t.month, 2);
        out.push('-');
        push_padded(&mut out, t.day, 2);
        out.push('T');
        push_padded(&mut out, t.hour, 2);
        out.push(':');
        push_padded(&mut out, t.minute, 2);
        out.push(':');
        push_padded(&mut out, t.second, 2);
        out.push('Z');
        out
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

/// The `count` ASCII digits of `b` at `at` as a number.
fn digits(b: &[u8], at: usize, count: usize) -> Option<u32> {
    b.get(at..at + count)?.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Appends `n` in decimal, zero-padded to `width` digits.
pub(crate) fn push_padded(out: &mut String, n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut n = n;
    let mut i = digits.len();
    while n > 0 {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = i.min(digits.len() - width.min(digits.len()));
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

/// Whether `year` is a Gregorian leap year.
const fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1-12) of `year`.
pub(crate) const fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A UTC calendar date and time of day (proleptic Gregorian), whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DateTime {
    /// The year.
    pub year: i64,
    /// 1-12.
    pub month: u32,
    /// 1-31.
    pub day: u32,
    /// 0-23.
    pub hour: u32,
    /// 0-59.
    pub minute: u32,
    /// 0-59.
    pub second: u32,
}

impl DateTime {
    /// The date-time `secs` seconds after the Unix epoch (negative: before it).
    pub(crate) fn from_unix_secs(secs: i64) -> Self {
        let days = secs.div_euclid(DAY_SECS);
        let of_day = secs.rem_euclid(DAY_SECS) as u32;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day / 60 % 60,
            second: of_day % 60,
        }
    }

    /// Seconds since the Unix epoch (fields assumed in range).
    pub(crate) fn to_unix_secs(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = self.year - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = i64::from((self.month + 9) % 12);
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * DAY_SECS
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
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

    #[test]
    fn rfc3339_details_match_the_grammar() {
        let parse = Timestamp::parse_rfc3339;
        assert_eq!(parse("1970-01-01t00:00:00.1234z"), Some(Timestamp(123)));
        assert_eq!(parse("1970-01-01 00:00:01-00:00"), Some(Timestamp(1000)));
        assert_eq!(
            parse("2024-02-29T12:00:00Z").map(|t| t.unix_secs()),
            Some(1_709_208_000)
        );
        assert_eq!(
            parse("2016-12-31T23:59:60Z"),
            Some(Timestamp(1_483_228_799_999))
        );
        assert_eq!(
            parse("2017-01-01T00:59:60+01:00"),
            Some(Timestamp(1_483_228_799_999))
        );
        for bad in [
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T12:59:60Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+01:60",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00Zjunk",
            "2026-1-01T00:00:00Z",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix_secs(951_782_400).to_rfc3339(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(Timestamp(u64::MAX).to_rfc3339(), "9999-12-31T23:59:59Z");
        assert_eq!(
            Timestamp::from_unix_secs(MAX_UNIX_SECS as u64).to_rfc3339(),
            "9999-12-31T23:59:59Z"
        );
    }

    #[test]
    fn civil_dates_agree_with_the_time_crate() {
        for secs in [
            -62_135_596_800i64, // 0001-01-01
            -2_208_988_800,     // 1900-01-01
            -1,
            0,
            68_169_599,
            951_868_799,
            1_795_554_000,
            4_107_542_399,
            MAX_UNIX_SECS,
        ] {
            let ours = DateTime::from_unix_secs(secs);
            let theirs = OffsetDateTime::from_unix_timestamp(secs).expect("in range");
            assert_eq!(
                (
                    ours.year,
                    ours.month,
                    ours.day,
                    ours.hour,
                    ours.minute,
                    ours.second
                ),
                (
                    i64::from(theirs.year()),
                    u32::from(u8::from(theirs.month())),
                    u32::from(theirs.day()),
                    u32::from(theirs.hour()),
                    u32::from(theirs.minute()),
                    u32::from(theirs.second())
                ),
                "{secs}"
            );
            assert_eq!(ours.to_unix_secs(), secs);
        }
    }
}
