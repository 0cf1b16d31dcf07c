//! Days since the Unix epoch to calendar dates and back, as `java.util.GregorianCalendar` counts
//! them in UTC: the Gregorian calendar from 1582-10-15, the Julian calendar before it (so a
//! pattern formats `0001-01-01T00:00Z` proleptic-Gregorian as Java does, `0001-01-03`).

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// Days since the epoch of 1582-10-15, the first Gregorian day.
const CUTOVER_DAY: i64 = -141_427;

/// A calendar date: year (astronomical: 0 is 1 BC), month 1..=12, day 1..=31.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
}

/// The date of `days` since the epoch.
pub fn civil_from_days(days: i64) -> Civil {
    if days >= CUTOVER_DAY {
        gregorian_from_days(days)
    } else {
        julian_from_days(days)
    }
}

/// Days since the epoch of a date whose month and day may be out of range (Java's lenient
/// calendar rolls them over: month 13 is January of the next year, day 32 the next month's 1st).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = year + (month - 1).div_euclid(12);
    let month = (month - 1).rem_euclid(12) + 1;
    let gregorian = gregorian_days(year, month) + day - 1;
    if gregorian >= CUTOVER_DAY {
        gregorian
    } else {
        julian_days(year, month) + day - 1
    }
}

/// Days since the epoch of the 1st of `month` (1..=12) in the proleptic Gregorian calendar.
fn gregorian_days(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn gregorian_from_days(days: i64) -> Civil {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil { year, month, day }
}

/// Days since the epoch of the 1st of `month` in the Julian calendar (4-year cycles of 1461
/// days, counted from 0000-03-01 Julian, which is two days before the Gregorian one).
fn julian_days(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let cycle = y.div_euclid(4);
    let yoc = y - cycle * 4;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5;
    cycle * 1461 + yoc * 365 + doy - 719_470
}

fn julian_from_days(days: i64) -> Civil {
    let z = days + 719_470;
    let cycle = z.div_euclid(1461);
    let doc = z - cycle * 1461;
    // The leap day ends the 4-year cycle (it is the last day of February of the 4th year).
    let yoc = (doc / 365).min(3);
    let doy = doc - 365 * yoc;
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = cycle * 4 + yoc + i64::from(month <= 2);
    Civil { year, month, day }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(year: i64, month: i64, day: i64) -> Civil {
        Civil { year, month, day }
    }

    #[test]
    fn gregorian_dates_around_the_epoch_and_leap_years() {
        assert_eq!(civil_from_days(0), civil(1970, 1, 1));
        assert_eq!(civil_from_days(-1), civil(1969, 12, 31));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(civil_from_days(11_016), civil(2000, 2, 29));
        assert_eq!(days_from_civil(2024, 3, 1), 19_783);
        assert_eq!(
            days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28),
            1
        );
        assert_eq!(days_from_civil(1582, 10, 15), CUTOVER_DAY);
    }

    #[test]
    fn before_the_cutover_dates_are_julian_as_in_java() {
        // The day before the cutover is Julian 1582-10-04.
        assert_eq!(civil_from_days(CUTOVER_DAY - 1), civil(1582, 10, 4));
        assert_eq!(days_from_civil(1582, 10, 4), CUTOVER_DAY - 1);
        // Proleptic-Gregorian 0001-01-01 (Java's Instant -62135596800000) is Julian 0001-01-03.
        assert_eq!(civil_from_days(-719_162), civil(1, 1, 3));
        assert_eq!(days_from_civil(1, 1, 3), -719_162);
        // A Julian leap year that is not Gregorian.
        assert_eq!(
            civil_from_days(days_from_civil(1500, 2, 29)),
            civil(1500, 2, 29)
        );
        for d in (-800_000..CUTOVER_DAY).step_by(97) {
            let c = civil_from_days(d);
            assert_eq!(days_from_civil(c.year, c.month, c.day), d, "{c:?}");
        }
    }

    #[test]
    fn out_of_range_fields_roll_over_as_javas_lenient_calendar() {
        assert_eq!(days_from_civil(2023, 13, 1), days_from_civil(2024, 1, 1));
        assert_eq!(days_from_civil(2024, 1, 32), days_from_civil(2024, 2, 1));
        assert_eq!(days_from_civil(2024, 0, 1), days_from_civil(2023, 12, 1));
    }
}
