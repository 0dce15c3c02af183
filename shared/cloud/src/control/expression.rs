//! SageMaker's schedule expressions and ISO 8601 offsets, turned into a [`Cadence`] and the
//! analysis window of each run.

use chrono::{DateTime, Duration, Utc};

use crate::ports::Cadence;
use crate::CloudError;

const EXPECTED: &str = "expected cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H), \
cron(0 H/N ? * * *) (every N hours from hour H), NOW (once, with DataAnalysisStartTime and \
DataAnalysisEndTime), or modelmon's rate(N minutes) with N dividing 60";

/// A parsed `ScheduleExpression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expression {
    Repeating(Cadence),
    /// `NOW`: one run, at once.
    Now,
}

/// Parses a schedule expression as SageMaker accepts it: hour-aligned crons (minute 0, any day),
/// `NOW`; plus `rate(N minutes)` for sub-hourly runs.
pub fn parse_expression(text: &str) -> Result<Expression, CloudError> {
    let invalid = || CloudError::Validation(format!("Invalid ScheduleExpression '{text}': {EXPECTED}."));
    let text_trimmed = text.trim();
    if text_trimmed == "NOW" {
        return Ok(Expression::Now);
    }
    if let Some(rate) = text_trimmed.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let (count, unit) = rate.trim().split_once(' ').ok_or_else(invalid)?;
        let minutes: u32 = count.parse().map_err(|_| invalid())?;
        if !matches!(unit.trim(), "minute" | "minutes") || minutes == 0 || 60 % minutes != 0 {
            return Err(invalid());
        }
        return Ok(Expression::Repeating(if minutes == 60 {
            Cadence::Hours {
                first_hour: 0,
                every_hours: 1,
            }
        } else {
            Cadence::Minutes { minutes }
        }));
    }
    let fields: Vec<&str> = text_trimmed
        .strip_prefix("cron(")
        .and_then(|c| c.strip_suffix(')'))
        .ok_or_else(invalid)?
        .split_whitespace()
        .collect();
    // cron(minutes hours day-of-month month day-of-week year): SageMaker writes `? * *` for the
    // last four, EventBridge `* * ? *`; any day of any month is all either means.
    let [minute, hour, day, month, weekday, year] = fields[..] else {
        return Err(invalid());
    };
    let any_day = matches!((day, weekday), ("?", "*") | ("*", "?")) && month == "*" && year == "*";
    if minute != "0" || !any_day {
        return Err(invalid());
    }
    let hour_number = |h: &str| h.parse::<u32>().ok().filter(|h| *h < 24);
    let cadence = match hour.split_once('/') {
        None if hour == "*" => Cadence::Hours {
            first_hour: 0,
            every_hours: 1,
        },
        None => Cadence::Hours {
            first_hour: hour_number(hour).ok_or_else(invalid)?,
            every_hours: 24,
        },
        Some((first, every)) => {
            let first_hour = if first == "*" {
                0
            } else {
                hour_number(first).ok_or_else(invalid)?
            };
            let every_hours = every
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=24).contains(n))
                .ok_or_else(invalid)?;
            Cadence::Hours {
                first_hour,
                every_hours,
            }
        }
    };
    Ok(Expression::Repeating(cadence))
}

/// How long one period of a cadence is: the default analysis window ends at the scheduled time
/// and is one period long (an hourly run at 05:00 analyses 04:00 to 05:00).
pub fn period(cadence: &Cadence) -> Duration {
    match *cadence {
        Cadence::Hours { every_hours, .. } => Duration::hours(i64::from(every_hours)),
        Cadence::Minutes { minutes } => Duration::minutes(i64::from(minutes)),
        Cadence::Once { .. } => Duration::hours(1),
    }
}

/// Parses an ISO 8601 offset such as `-PT1H`, `-P1D`, `-PT30M`, `-PT0H` or `-P1DT6H`: the sign
/// and days, hours, minutes and seconds (whole numbers). Months and years are refused: their
/// length depends on the date.
pub fn parse_offset(text: &str, field: &str) -> Result<Duration, CloudError> {
    let invalid = || {
        CloudError::Validation(format!(
            "Invalid {field} '{text}': expected an ISO 8601 duration such as -PT1H, -PT30M or -P1D"
        ))
    };
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let rest = rest.strip_prefix('P').ok_or_else(invalid)?;
    let (date_part, time_part) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return Err(invalid()),
        None => (rest, None),
    };
    let mut total = Duration::zero();
    let mut seen_any = false;
    let mut add_units = |part: &str, units: &[(char, i64)]| -> Result<(), CloudError> {
        let mut number = String::new();
        let mut allowed = units;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let position = allowed.iter().position(|(unit, _)| *unit == c).ok_or_else(invalid)?;
            let value: i64 = number.parse().map_err(|_| invalid())?;
            total += Duration::seconds(value.checked_mul(allowed[position].1).ok_or_else(invalid)?);
            allowed = &allowed[position + 1..];
            number.clear();
            seen_any = true;
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(invalid())
        }
    };
    add_units(date_part, &[('W', 7 * 86_400), ('D', 86_400)])?;
    if let Some(time) = time_part {
        add_units(time, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    if !seen_any {
        return Err(invalid());
    }
    if total > Duration::days(366) {
        // A well-formed duration: say what is wrong with it, not that it is malformed.
        return Err(CloudError::Validation(format!(
            "Invalid {field} '{text}': an offset must be at most 366 days"
        )));
    }
    Ok(if negative { -total } else { total })
}

/// The analysis window `[start, end)` of a run scheduled at `scheduled`: the offsets when given,
/// otherwise one period ending at the scheduled time.
pub fn window(
    scheduled: DateTime<Utc>,
    cadence: &Cadence,
    offsets: Option<(Duration, Duration)>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    match offsets {
        Some((start, end)) => (scheduled + start, scheduled + end),
        None => (scheduled - period(cadence), scheduled),
    }
}

/// Checks a pair of window offsets: start before end, neither after the run, at most 24 hours
/// apart (SageMaker's rule); the error names the fields.
pub fn check_offsets(start: Duration, end: Duration, fields: (&str, &str)) -> Result<(), CloudError> {
    if start > Duration::zero() || end > Duration::zero() {
        return Err(CloudError::Validation(format!(
            "{} and {} must be zero or negative offsets from the scheduled time (such as -PT1H and -PT0H)",
            fields.0, fields.1
        )));
    }
    if start >= end {
        return Err(CloudError::Validation(format!(
            "{} must be before {}",
            fields.0, fields.1
        )));
    }
    if end - start > Duration::hours(24) {
        return Err(CloudError::Validation(format!(
            "{} must not precede {} by more than 24 hours",
            fields.0, fields.1
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hours(first_hour: u32, every_hours: u32) -> Expression {
        Expression::Repeating(Cadence::Hours {
            first_hour,
            every_hours,
        })
    }

    #[test]
    fn parses_the_sdks_expressions() {
        assert_eq!(parse_expression("cron(0 * ? * * *)").unwrap(), hours(0, 1));
        assert_eq!(parse_expression("cron(0 * * * ? *)").unwrap(), hours(0, 1));
        assert_eq!(parse_expression("cron(0 17 ? * * *)").unwrap(), hours(17, 24));
        assert_eq!(parse_expression("cron(0 17/12 ? * * *)").unwrap(), hours(17, 12));
        assert_eq!(parse_expression("cron(0 0/2 ? * * *)").unwrap(), hours(0, 2));
        assert_eq!(parse_expression("NOW").unwrap(), Expression::Now);
        assert_eq!(
            parse_expression("rate(15 minutes)").unwrap(),
            Expression::Repeating(Cadence::Minutes { minutes: 15 })
        );
    }

    #[test]
    fn refuses_what_sagemaker_refuses() {
        for bad in [
            "Hourly: cron(0 * ? * * *)",
            "cron(30 * ? * * *)",
            "cron(0 24 ? * * *)",
            "cron(0 1/25 ? * * *)",
            "cron(0 * ? * MON *)",
            "cron(0 * 1 * ? *)",
            "cron(0 * ? *)",
            "rate(7 minutes)",
            "rate(0 minutes)",
            "rate(1 day)",
            "now",
            "",
        ] {
            let err = parse_expression(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("Invalid ScheduleExpression '{bad}'")), "{err}");
        }
    }

    #[test]
    fn parses_offsets() {
        assert_eq!(parse_offset("-PT1H", "f").unwrap(), Duration::hours(-1));
        assert_eq!(parse_offset("-PT0H", "f").unwrap(), Duration::zero());
        assert_eq!(parse_offset("-P1D", "f").unwrap(), Duration::days(-1));
        assert_eq!(
            parse_offset("-P1DT6H30M", "f").unwrap(),
            -(Duration::hours(30) + Duration::minutes(30))
        );
        assert_eq!(parse_offset("PT5M", "f").unwrap(), Duration::minutes(5));
        for bad in [
            "-1H", "-PT", "-P", "-PT1H1H", "-P1M", "-PTH", "-PT1.5H", "P9999D", "-P1Y",
        ] {
            assert!(
                parse_offset(bad, "StartTimeOffset")
                    .unwrap_err()
                    .to_string()
                    .contains("StartTimeOffset"),
                "{bad}"
            );
        }
    }

    #[test]
    fn windows_end_at_the_scheduled_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 5, 0, 0).unwrap();
        let hourly = Cadence::Hours {
            first_hour: 0,
            every_hours: 1,
        };
        assert_eq!(window(at, &hourly, None), (at - Duration::hours(1), at));
        let daily = Cadence::Hours {
            first_hour: 5,
            every_hours: 24,
        };
        assert_eq!(window(at, &daily, None).0, at - Duration::hours(24));
        let offsets = (Duration::hours(-5), Duration::hours(-1));
        assert_eq!(
            window(at, &hourly, Some(offsets)),
            (at - Duration::hours(5), at - Duration::hours(1))
        );
        assert!(check_offsets(Duration::hours(-1), Duration::zero(), ("a", "b")).is_ok());
        assert!(check_offsets(Duration::zero(), Duration::hours(-1), ("a", "b")).is_err());
        assert!(check_offsets(Duration::hours(1), Duration::hours(2), ("a", "b")).is_err());
        assert!(check_offsets(Duration::hours(-25), Duration::zero(), ("a", "b")).is_err());
    }
}
