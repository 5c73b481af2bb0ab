//! Dates: the reference day and day arithmetic (from date.rs) for drawing dates.

use super::*;

pub(super) fn reference_day() -> Date {
    let (y, m, d) = REFERENCE_DAY;
    Date::new(y, m, d).unwrap_or(Date::EPOCH)
}

pub(super) fn to_days(d: Date) -> i64 {
    d.days_since_epoch()
}

pub(super) fn from_days(z: i64) -> Date {
    Date::from_days_since_epoch(z).unwrap_or_else(reference_day)
}

pub(super) fn add_days(d: Date, n: i64) -> Date {
    d.add_days(n).unwrap_or(d)
}

pub(super) fn add_years(d: Date, n: i32) -> Date {
    d.add_years(n).unwrap_or(d)
}

/// A day in `from..=to`, uniformly.
pub(super) fn rng_day(rng: &mut Rng, from: Date, to: Date) -> Date {
    let (a, b) = (to_days(from), to_days(to));
    if b <= a {
        return from;
    }
    from_days(rng.range(a, b))
}
