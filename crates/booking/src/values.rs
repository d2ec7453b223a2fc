//! Typed values of the API: times of day and time zones, parsed where a
//! request is read (dates are [`chrono::NaiveDate`], `YYYY-MM-DD`).
//!
//! A body with a malformed value is refused as it is read (`invalid_body`,
//! naming the field), so the domain modules never re-parse strings.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A time of day `HH:MM`, 00:00–24:00 (24:00 closes a day), kept as minutes
/// after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u16);

/// The end of a day.
const DAY_MINUTES: u16 = 24 * 60;

impl ClockTime {
    /// From minutes after midnight (at most 1440).
    pub fn from_minutes(minutes: u16) -> Option<Self> {
        (minutes <= DAY_MINUTES).then_some(Self(minutes))
    }

    /// From a stored minute count; `None` when out of range.
    pub fn from_stored(minutes: i64) -> Option<Self> {
        u16::try_from(minutes).ok().and_then(Self::from_minutes)
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// Whether it lies on the 15-minute booking grid.
    pub fn on_grid(self) -> bool {
        self.0.is_multiple_of(15)
    }
}

/// A value that is not `HH:MM` between 00:00 and 24:00.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a time HH:MM (00:00–24:00)")]
pub struct InvalidClockTime(String);

impl FromStr for ClockTime {
    type Err = InvalidClockTime;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidClockTime(value.chars().take(16).collect());
        let (hours, minutes) = value.split_once(':').ok_or_else(bad)?;
        let digits = |text: &str| text.bytes().all(|byte| byte.is_ascii_digit());
        if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 || !digits(hours) || !digits(minutes) {
            return Err(bad());
        }
        let hours: u16 = hours.parse().map_err(|_| bad())?;
        let minutes: u16 = minutes.parse().map_err(|_| bad())?;
        if minutes >= 60 {
            return Err(bad());
        }
        Self::from_minutes(hours * 60 + minutes).ok_or_else(bad)
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone, e.g. `Europe/Helsinki`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(pub Tz);

impl Default for TimeZone {
    fn default() -> Self {
        Self(chrono_tz::Europe::Helsinki)
    }
}

/// A name that is not an IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone `{0}`")]
pub struct UnknownTimeZone(String);

impl FromStr for TimeZone {
    type Err = UnknownTimeZone;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        value.parse::<Tz>().map(Self).map_err(|_| UnknownTimeZone(value.chars().take(64).collect()))
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Reads a date exactly `YYYY-MM-DD` (chrono alone also takes `2026-1-5`
/// and surrounding spaces, which the document's `format: date` does not).
/// For `#[serde(deserialize_with = "date")]`.
pub fn date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    let text = String::deserialize(deserializer)?;
    let shaped = text.len() == 10
        && text
            .bytes()
            .enumerate()
            .all(|(at, byte)| if at == 4 || at == 7 { byte == b'-' } else { byte.is_ascii_digit() });
    let parsed = shaped.then(|| NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()).flatten();
    parsed.ok_or_else(|| {
        serde::de::Error::custom(format!("`{}` is not a date YYYY-MM-DD", text.chars().take(16).collect::<String>()))
    })
}

/// Reads a whole number as JSON Schema's `integer` has it: `2`, `2.0` or
/// `2e0` alike (a fraction or a value out of range is refused). For
/// `#[serde(deserialize_with = "whole")]`.
pub fn whole<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    let number = serde_json::Number::deserialize(deserializer)?;
    let value = if let Some(value) = number.as_u64() {
        T::try_from(value).ok()
    } else if let Some(value) = number.as_i64() {
        T::try_from(value).ok()
    } else {
        // `as` saturates; the bounds check keeps only exact conversions.
        number
            .as_f64()
            .filter(|value| value.fract() == 0.0 && (-9.0e15..=9.0e15).contains(value))
            .and_then(|value| T::try_from(value as i64).ok())
    };
    value.ok_or_else(|| serde::de::Error::custom(format!("{number} is not a whole number in range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_parse_and_print_alike() {
        for (text, minutes) in [("00:00", 0), ("9:15", 555), ("09:15", 555), ("23:59", 1439), ("24:00", 1440)] {
            let time: ClockTime = text.parse().expect(text);
            assert_eq!(time.minutes(), minutes);
            assert_eq!(time.to_string().parse::<ClockTime>().ok(), Some(time));
        }
        for bad in
            ["", "9", "24:01", "25:00", "12:60", "12:5", "-1:00", "12:00:00", "ab:cd", "123:00", "+9:00", "09:+5"]
        {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn dates_are_exactly_year_month_day() {
        #[derive(Deserialize)]
        struct Day {
            #[serde(deserialize_with = "date")]
            value: NaiveDate,
        }
        let day: Day = serde_json::from_str(r#"{"value": "2026-01-05"}"#).expect("a date");
        assert_eq!(day.value, NaiveDate::from_ymd_opt(2026, 1, 5).unwrap());
        for bad in ["2026-1-5", " 2026-01-05", "2026-01-05 ", "2026-02-30", "2026/01/05", "+2026-01-05", "2026-01-0٥"]
        {
            assert!(serde_json::from_str::<Day>(&format!("{{\"value\": \"{bad}\"}}")).is_err(), "{bad}");
        }
    }

    #[test]
    fn whole_numbers_may_be_written_as_floats() {
        #[derive(Deserialize)]
        struct Score {
            #[serde(deserialize_with = "whole")]
            value: u8,
        }
        for (text, value) in [("5", 5), ("5.0", 5), ("5e0", 5), ("0.5e1", 5), ("255", 255)] {
            let score: Score = serde_json::from_str(&format!("{{\"value\": {text}}}")).expect(text);
            assert_eq!(score.value, value);
        }
        for bad in ["5.5", "-1", "256", "1e300", "\"5\"", "null"] {
            assert!(serde_json::from_str::<Score>(&format!("{{\"value\": {bad}}}")).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones_round_trip_through_json() {
        let zone: TimeZone = serde_json::from_str("\"Europe/Stockholm\"").expect("zone");
        assert_eq!(serde_json::to_string(&zone).expect("json"), "\"Europe/Stockholm\"");
        let err = serde_json::from_str::<TimeZone>("\"Mars/Olympus\"").expect_err("unknown zone");
        assert!(err.to_string().contains("unknown time zone"));
    }
}
