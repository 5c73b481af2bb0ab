//! Calendar dates as the policy language and data files use them.
//!
//! The engine needs only validation, ordering and whole-month/year counts by
//! anniversary (LANGUAGE.md section 5), so a small civil date type serves; no
//! time zones or clocks are involved anywhere.

use std::fmt;

/// A valid proleptic Gregorian date, `2024-01-05`.
///
/// ```
/// use mianshen::Date;
///
/// let d = Date::parse_iso("2024-02-29").expect("a leap day");
/// assert_eq!(d.add_years(1), Date::new(2025, 2, 28));
/// assert_eq!(d.months_until(Date::new(2024, 12, 31).expect("a date")), 10);
/// assert!(Date::parse_iso("2023-02-29").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// 1 to 9999: in 16 bits, so that a date takes 4 bytes (a ledger holds
    /// millions of them).
    year: i16,
    month: u8,
    day: u8,
}

impl std::hash::Hash for Date {
    /// As the year was hashed when it was held in 32 bits.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        i32::from(self.year).hash(state);
        self.month.hash(state);
        self.day.hash(state);
    }
}

impl Date {
    /// 1970-01-01, for places that need some date and none is meaningful.
    pub const EPOCH: Date = Date {
        year: 1970,
        month: 1,
        day: 1,
    };

    /// A date if `year-month-day` exists (29 February only in leap years).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month as u8) as u32 {
            return None;
        }
        Some(Date {
            year: i16::try_from(year).ok()?,
            month: month as u8,
            day: day as u8,
        })
    }

    pub fn year(self) -> i32 {
        i32::from(self.year)
    }
    pub fn month(self) -> u32 {
        self.month as u32
    }
    pub fn day(self) -> u32 {
        self.day as u32
    }

    /// Whole months from `self` to `to`, counted by anniversary: a month is
    /// complete once `to`'s day of the month reaches `self`'s. From a later to
    /// an earlier date the count is the negative of the reverse count.
    pub fn months_until(self, to: Date) -> i64 {
        if to < self {
            return -to.months_until(self);
        }
        let mut months =
            (to.year as i64 - self.year as i64) * 12 + (to.month as i64 - self.month as i64);
        if to.day < self.day {
            months -= 1;
        }
        months
    }

    /// Whole years from `self` to `to`, by anniversary (see [`Date::months_until`]).
    pub fn years_until(self, to: Date) -> i64 {
        let months = self.months_until(to);
        // Truncation toward zero keeps the symmetry: -(reverse count).
        months / 12
    }

    /// Days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
    pub fn days_since_epoch(self) -> i64 {
        let (y, m, day) = (
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01, if it is within the years
    /// 1 to 9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe.checked_add(era.checked_mul(400)?)? + i64::from(month <= 2);
        Date::new(i32::try_from(year).ok()?, month as u32, day as u32)
    }

    /// The date `n` days later (earlier for a negative `n`), if there is one.
    pub fn add_days(self, n: i64) -> Option<Date> {
        Date::from_days_since_epoch(self.days_since_epoch().checked_add(n)?)
    }

    /// The same day `n` years later (28 February for 29 February in a
    /// common year), if there is one.
    pub fn add_years(self, n: i32) -> Option<Date> {
        let y = self.year().checked_add(n)?;
        Date::new(y, self.month(), self.day()).or_else(|| Date::new(y, self.month(), 28))
    }

    /// Parses exactly `YYYY-MM-DD` (the policy language's only form).
    pub fn parse_iso(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = s.get(r)?;
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        Date::new(num(0..4)? as i32, num(5..7)?, num(8..10)?)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse_iso(s).unwrap()
    }

    #[test]
    fn validates_calendar() {
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(2024, 13, 1).is_none());
        assert!(Date::new(2024, 4, 31).is_none());
        assert!(Date::parse_iso("2024-1-01").is_none());
    }

    #[test]
    fn counts_days_both_ways() {
        assert_eq!(Date::EPOCH.days_since_epoch(), 0);
        assert_eq!(d("1970-01-02").days_since_epoch(), 1);
        for s in [
            "0001-01-01",
            "1969-12-31",
            "2000-02-29",
            "2024-12-31",
            "9999-12-31",
        ] {
            assert_eq!(
                Date::from_days_since_epoch(d(s).days_since_epoch()),
                Some(d(s))
            );
        }
        assert_eq!(d("2024-02-28").add_days(1), Some(d("2024-02-29")));
        assert_eq!(d("9999-12-31").add_days(1), None);
        assert_eq!(d("2024-02-29").add_years(1), Some(d("2025-02-28")));
        assert_eq!(d("2024-02-29").add_years(-4), Some(d("2020-02-29")));
    }

    #[test]
    fn months_by_anniversary() {
        assert_eq!(d("2024-01-15").months_until(d("2024-02-14")), 0);
        assert_eq!(d("2024-01-15").months_until(d("2024-02-15")), 1);
        assert_eq!(d("2024-01-31").months_until(d("2024-02-29")), 0);
        assert_eq!(d("2024-01-31").months_until(d("2024-03-01")), 1);
        assert_eq!(d("2024-02-15").months_until(d("2024-01-15")), -1);
        assert_eq!(d("2024-02-15").months_until(d("2024-01-16")), 0);
        assert_eq!(d("2020-02-29").years_until(d("2021-02-28")), 0);
        assert_eq!(d("2020-02-29").years_until(d("2021-03-01")), 1);
        assert_eq!(d("2021-03-01").years_until(d("2020-02-29")), -1);
        assert_eq!(d("2020-06-01").years_until(d("2024-05-31")), 3);
    }
}
