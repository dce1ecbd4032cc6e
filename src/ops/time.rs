//! Instants as the operations commands store and compare them: UTC milliseconds, written as
//! fixed-width ISO 8601 (`2024-05-01T12:00:03.250Z`).
//!
//! The fixed width matters: the versions log sorts by this text, and a variable number of
//! fraction digits (what RFC 3339 formatters produce) does not sort in time order. EC2 reports
//! launch times to the second, so comparisons with them are conservative (see
//! `instances::judge`). The calendar is `jiff`'s; this type only fixes the representation.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant, in milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Now, by the system clock.
    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    /// A `SystemTime` (before 1970 counts as the epoch).
    pub fn from_system(time: SystemTime) -> Self {
        let millis = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
    }

    /// From whole seconds since the epoch.
    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    /// The time `d` later.
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// The start of its second: how it compares with EC2's launch times, which are whole
    /// seconds.
    pub fn whole_second(self) -> Self {
        Timestamp(self.0.div_euclid(1000) * 1000)
    }

    /// How long after `earlier` this is (zero if it is not later).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff…]Z` (what this module writes, and what AWS returns).
    /// Offsets other than `Z` are refused: every instant here is written in UTC.
    pub fn parse(text: &str) -> Option<Self> {
        if !text.ends_with('Z') {
            return None;
        }
        let instant: jiff::Timestamp = text.parse().ok()?;
        Some(Timestamp(instant.as_millisecond()))
    }

    /// `YYYY-MM-DD HH:MM:SS`, UTC implied: for tables, where width counts.
    pub fn short(self) -> String {
        self.instant().strftime("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// As `jiff`'s instant, clamped to the range it represents (years -9999 to 9999).
    fn instant(self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(if self.0 < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        })
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, always this width.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.instant().strftime("%Y-%m-%dT%H:%M:%S.%3fZ"))
    }
}

impl serde::Serialize for Timestamp {
    /// As its ISO text, so JSON output reads like the tables.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_fixed_width_iso_with_milliseconds() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_714_564_803_250).to_string(),
            "2024-05-01T12:00:03.250Z"
        );
    }

    #[test]
    fn text_order_is_time_order() {
        let a = Timestamp::parse("2024-05-01T12:00:03.000Z").unwrap();
        let b = Timestamp::parse("2024-05-01T12:00:03.05Z").unwrap();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn parses_what_it_writes_and_aws_second_precision() {
        for ms in [0, 951_782_400_000, 1_714_564_803_250, 4_102_444_799_999] {
            let t = Timestamp(ms);
            assert_eq!(Timestamp::parse(&t.to_string()), Some(t));
        }
        assert_eq!(
            Timestamp::parse("2024-02-29T23:59:59Z"),
            Some(Timestamp(1_709_251_199_000))
        );
    }

    #[test]
    fn rejects_text_that_is_not_a_utc_instant() {
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-13-01T00:00:00Z",
            "2024-05-01T12:00:00+01:00",
            "2024-05-01T12:00:00.x1Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn short_form_drops_the_fraction() {
        assert_eq!(Timestamp(1_714_564_803_250).short(), "2024-05-01 12:00:03");
    }
}
