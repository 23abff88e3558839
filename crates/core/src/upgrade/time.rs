//! Time without a clock: a UTC [`Timestamp`] (milliseconds, RFC 3339 on the wire) and a
//! calendar [`Date`] (business dates, `YYYY-MM-DD`). Callers pass `now`; core never reads
//! the clock.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MS_PER_DAY: i64 = 86_400_000;

/// A UTC instant with millisecond precision, written `2026-11-23T21:05:00.123Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A calendar day (proleptic Gregorian), written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Timestamp {
    pub fn from_unix_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub fn unix_millis(self) -> i64 {
        self.0
    }

    /// The UTC day this instant falls on.
    pub fn date(self) -> Date {
        Date(i32::try_from(self.0.div_euclid(MS_PER_DAY)).unwrap_or(i32::MAX))
    }

    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0 - earlier.0
    }
}

impl Date {
    /// The date, if `month` and `day` exist in `year`.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then(|| Self(days_from_civil(year, month, day)))
    }

    /// (year, month, day)
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// `self` minus `n` days.
    pub fn days_before(self, n: u32) -> Date {
        Date(self.0.saturating_sub_unsigned(n))
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-from-days algorithms.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i32::from(m <= 2);
    (y, m, d)
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let in_day = self.0.rem_euclid(MS_PER_DAY);
        let (h, rest) = (in_day / 3_600_000, in_day % 3_600_000);
        let (min, rest) = (rest / 60_000, rest % 60_000);
        let (s, ms) = (rest / 1000, rest % 1000);
        write!(f, "{}T{h:02}:{min:02}:{s:02}.{ms:03}Z", self.date())
    }
}

fn number(s: &str, digits: usize) -> Option<u32> {
    (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl FromStr for Date {
    type Err = String;

    /// Strictly `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a date of the form YYYY-MM-DD");
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let (y, m, d) = (
            number(y, 4).ok_or_else(bad)?,
            number(m, 2).ok_or_else(bad)?,
            number(d, 2).ok_or_else(bad)?,
        );
        Date::from_ymd(y as i32, m, d).ok_or_else(bad)
    }
}

/// Parses `hh:mm` or `hh:mm:ss` into milliseconds of the day.
pub(crate) fn time_of_day(s: &str) -> Option<i64> {
    let mut parts = s.split(':');
    let h = number(parts.next()?, 2)?;
    let m = number(parts.next()?, 2)?;
    let sec = match parts.next() {
        Some(sec) => number(sec, 2)?,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(i64::from(h * 3600 + m * 60 + sec) * 1000)
}

impl FromStr for Timestamp {
    type Err = String;

    /// `YYYY-MM-DDThh:mm:ss[.fff]Z` (UTC only).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a UTC time of the form YYYY-MM-DDThh:mm:ss.fffZ");
        let rest = s.strip_suffix('Z').ok_or_else(bad)?;
        let (date, time) = rest.split_once('T').ok_or_else(bad)?;
        let date: Date = date.parse().map_err(|_| bad())?;
        let (time, ms) = match time.split_once('.') {
            Some((t, frac))
                if (1..=3).contains(&frac.len()) && frac.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let ms: i64 = format!("{frac:0<3}").parse().map_err(|_| bad())?;
                (t, ms)
            }
            Some(_) => return Err(bad()),
            None => (time, 0),
        };
        let tod = time_of_day(time)
            .filter(|_| time.len() == 8)
            .ok_or_else(bad)?;
        Ok(Timestamp(i64::from(date.0) * MS_PER_DAY + tod + ms))
    }
}

macro_rules! serde_as_string {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_as_string!(Timestamp);
serde_as_string!(Date);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_across_leap_years_and_eras() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "2024-02-29",
            "2026-11-23",
            "1969-12-31",
            "2100-03-01",
        ] {
            let d: Date = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
        assert_eq!("1970-01-01".parse::<Date>().unwrap(), Date(0));
        assert_eq!(
            "2026-03-01"
                .parse::<Date>()
                .unwrap()
                .days_before(1)
                .to_string(),
            "2026-02-28"
        );
        assert_eq!(
            "2024-03-01"
                .parse::<Date>()
                .unwrap()
                .days_before(1)
                .to_string(),
            "2024-02-29"
        );
        assert_eq!(
            "2026-01-02"
                .parse::<Date>()
                .unwrap()
                .days_before(8)
                .to_string(),
            "2025-12-25"
        );
    }

    #[test]
    fn invalid_dates_are_refused() {
        for s in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-01-01",
            "2026-01-32",
            "2026-01-01x",
            "",
        ] {
            let err = s.parse::<Date>().unwrap_err();
            assert_eq!(err, format!("`{s}` is not a date of the form YYYY-MM-DD"));
        }
    }

    #[test]
    fn timestamps_round_trip() {
        let t: Timestamp = "2026-11-23T21:05:07.042Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-23T21:05:07.042Z");
        assert_eq!(t.date().to_string(), "2026-11-23");
        let whole: Timestamp = "2026-11-23T21:05:07Z".parse().unwrap();
        assert_eq!(t.millis_since(whole), 42);
        assert_eq!(
            Timestamp::from_unix_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-11-23T21:05:07.042Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        for bad in [
            "2026-11-23 21:05:07Z",
            "2026-11-23T21:05:07",
            "2026-11-23T24:00:00Z",
            "2026-11-23T21:05:07.1234Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }
}
