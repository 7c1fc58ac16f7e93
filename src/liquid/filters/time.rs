//! Time filters: `to_time`, `strftime`, `time_diff`, `time_ago`.
//!
//! Liquid's own `DateTime` wraps `time::OffsetDateTime`; payforms parses with
//! chrono, so values cross over through their exact instant and offset.

use chrono::{DateTime as ChronoDateTime, FixedOffset, NaiveDate, NaiveDateTime};
use liquid_core::model::DateTime;
use liquid_core::Expression;
use liquid_core::Runtime;
use liquid_core::{Display_filter, Filter, FilterParameters, FilterReflection, FromFilterParameters, ParseFilter};
use liquid_core::{Error, Result, Value, ValueView};

use super::filter_error;
use crate::liquid::value::{scalar_kind, ScalarKind};

/// chrono as Liquid `DateTime`, through liquid's own serialized form (the
/// only constructor liquid-core offers without naming the `time` crate).
pub(crate) fn from_chrono(date_time: &ChronoDateTime<FixedOffset>) -> Option<DateTime> {
    DateTime::from_str(&date_time.format("%Y-%m-%d %H:%M:%S%.f %z").to_string())
}

/// What `to_time` accepts: a date time, a date (midnight UTC), unix seconds
/// (integer or integer text), `now`, RFC 3339, `YYYY-MM-DD[ HH:MM:SS]`
/// (UTC) and the formats Liquid's `date` filter reads. Nil and empty text
/// give `Ok(None)`; anything else unreadable is an error message.
/// A value that is not a time this dialect reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum TimeError {
    #[error("cannot read a time from {0}")]
    Unreadable(String),
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("time {0} is out of range")]
    OutOfRange(String),
}

pub(crate) fn parse_time(input: &dyn ValueView) -> std::result::Result<Option<DateTime>, TimeError> {
    if input.is_nil() {
        return Ok(None);
    }
    let scalar = match input.as_scalar() {
        Some(scalar) => scalar,
        None if input.is_state() => return Ok(None),
        None => return Err(TimeError::Unreadable(input.type_name().to_string())),
    };
    match scalar_kind(&scalar) {
        ScalarKind::DateTime => Ok(scalar.to_date_time()),
        ScalarKind::Date => match scalar.to_date() {
            Some(date) => Ok(Some(DateTime::from_ymd(date.year(), date.month(), date.day()))),
            None => Err(TimeError::Invalid("date")),
        },
        ScalarKind::Integer => match scalar.to_integer() {
            Some(seconds) => from_unix_seconds(seconds).map(Some),
            None => Err(TimeError::Invalid("integer")),
        },
        ScalarKind::Str => parse_time_text(scalar.to_kstr().as_str()),
        ScalarKind::Float | ScalarKind::Bool => Err(TimeError::Unreadable(format!(
            "{} {}",
            scalar.type_name(),
            scalar.to_kstr()
        ))),
    }
}

fn from_unix_seconds(seconds: i64) -> std::result::Result<DateTime, TimeError> {
    ChronoDateTime::from_timestamp(seconds, 0)
        .map(|utc| utc.fixed_offset())
        .as_ref()
        .and_then(from_chrono)
        .ok_or_else(|| TimeError::OutOfRange(format!("unix {seconds}")))
}

fn parse_time_text(text: &str) -> std::result::Result<Option<DateTime>, TimeError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.eq_ignore_ascii_case("now") {
        return Ok(Some(DateTime::now()));
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = text
            .parse::<i64>()
            .map_err(|_| TimeError::OutOfRange(format!("unix {text}")))?;
        return from_unix_seconds(seconds).map(Some);
    }
    let out_of_range = || TimeError::OutOfRange(format!("{text:?}"));
    if let Ok(parsed) = ChronoDateTime::parse_from_rfc3339(text) {
        return from_chrono(&parsed).map(Some).ok_or_else(out_of_range);
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return from_chrono(&naive.and_utc().fixed_offset())
                .map(Some)
                .ok_or_else(out_of_range);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).ok_or_else(out_of_range)?;
        return from_chrono(&midnight.and_utc().fixed_offset())
            .map(Some)
            .ok_or_else(out_of_range);
    }
    DateTime::from_str(text)
        .map(Some)
        .ok_or_else(|| TimeError::Unreadable(format!("{text:?}")))
}

fn required_time(filter: &str, input: &dyn ValueView, what: &str) -> Result<DateTime> {
    match parse_time(input) {
        Ok(Some(time)) => Ok(time),
        Ok(None) => Err(filter_error(filter, format!("{what} is nil or empty"))),
        Err(why) => Err(filter_error(filter, format!("{what}: {why}"))),
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "to_time",
    description = "Reads a time (RFC 3339, YYYY-MM-DD, unix seconds, 'now') into a date time; nil stays nil.",
    parsed(ToTimeFilter)
)]
pub struct ToTime;

#[derive(Debug, Default, Display_filter)]
#[name = "to_time"]
struct ToTimeFilter;

impl Filter for ToTimeFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        match parse_time(input) {
            Ok(Some(time)) => Ok(Value::scalar(time)),
            Ok(None) => Ok(Value::Nil),
            Err(why) => Err(filter_error("to_time", why.to_string())),
        }
    }
}

#[derive(Debug, FilterParameters)]
struct StrftimeArgs {
    #[parameter(description = "strftime format, e.g. '%Y-%m-%d'.", arg_type = "str")]
    format: Expression,
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "strftime",
    description = "Formats a time (anything to_time reads) with a strftime format; nil stays nil.",
    parameters(StrftimeArgs),
    parsed(StrftimeFilter)
)]
pub struct Strftime;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "strftime"]
struct StrftimeFilter {
    #[parameters]
    args: StrftimeArgs,
}

impl Filter for StrftimeFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let time = match parse_time(input) {
            Ok(Some(time)) => time,
            Ok(None) => return Ok(Value::Nil),
            Err(why) => return Err(filter_error("strftime", why.to_string())),
        };
        time.format(args.format.as_str())
            .map(Value::scalar)
            .map_err(|err| filter_error("strftime", format!("invalid format {:?}: {err}", args.format)))
    }
}

#[derive(Debug, FilterParameters)]
struct TimeDiffArgs {
    #[parameter(description = "The later time.", arg_type = "any")]
    other: Expression,
    #[parameter(description = "Unit: ms (default), s, m, h or d.", arg_type = "str")]
    unit: Option<Expression>,
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "time_diff",
    description = "`a | time_diff: b, unit` is b - a in whole units (ms, s, m, h, d), truncated toward zero.",
    parameters(TimeDiffArgs),
    parsed(TimeDiffFilter)
)]
pub struct TimeDiff;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "time_diff"]
struct TimeDiffFilter {
    #[parameters]
    args: TimeDiffArgs,
}

impl Filter for TimeDiffFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let start = required_time("time_diff", input, "start time")?;
        let finish = required_time("time_diff", &args.other, "end time")?;
        let unit = args.unit.as_ref().map(|u| u.as_str()).unwrap_or("ms");
        let nanos_per_unit: i128 = match unit {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            other => {
                return Err(filter_error(
                    "time_diff",
                    format!("unknown unit {other:?} (use ms, s, m, h or d)"),
                ))
            }
        };
        let diff = (finish.unix_timestamp_nanos() - start.unix_timestamp_nanos()) / nanos_per_unit;
        i64::try_from(diff)
            .map(Value::scalar)
            .map_err(|_| Error::with_msg("time_diff result is out of range"))
    }
}

/// Seconds within which a time reads as "just now" (either way).
const JUST_NOW_SECONDS: i64 = 45;
/// Beyond this many days a time is shown as its date.
const RELATIVE_DAYS: i64 = 30;

/// `then` relative to `now` (unix seconds) in words: "just now",
/// "3 minutes ago", "1 hour ago", "yesterday", "5 days ago", "in 3
/// minutes", "tomorrow", or beyond 30 days "on 2026-11-02" (UTC). A pure
/// function of its inputs, so tests can fix the clock. "Yesterday" is
/// 24–48 hours, not a calendar day: there is no visitor time zone.
pub(crate) fn time_ago_text(then: i64, now: i64) -> String {
    let elapsed = now.saturating_sub(then);
    let future = elapsed < 0;
    let seconds = elapsed.unsigned_abs().min(i64::MAX as u64) as i64;
    let relative = |count: i64, unit: &str| {
        let plural = if count == 1 { "" } else { "s" };
        if future {
            format!("in {count} {unit}{plural}")
        } else {
            format!("{count} {unit}{plural} ago")
        }
    };
    if seconds < JUST_NOW_SECONDS {
        return "just now".to_string();
    }
    if seconds < 3_600 {
        return relative((seconds / 60).max(1), "minute");
    }
    if seconds < 86_400 {
        return relative(seconds / 3_600, "hour");
    }
    if seconds < 2 * 86_400 {
        return if future { "tomorrow" } else { "yesterday" }.to_string();
    }
    let days = seconds / 86_400;
    if days <= RELATIVE_DAYS {
        return relative(days, "day");
    }
    match ChronoDateTime::from_timestamp(then, 0) {
        Some(utc) => format!("on {}", utc.format("%Y-%m-%d")),
        None => String::new(),
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "time_ago",
    description = "A time (anything to_time reads) relative to now: 'just now', '3 minutes ago', 'yesterday', 'in 2 hours', 'on 2026-11-02'; nil or unreadable gives ''.",
    parsed(TimeAgoFilter)
)]
pub struct TimeAgo;

#[derive(Debug, Default, Display_filter)]
#[name = "time_ago"]
struct TimeAgoFilter;

impl Filter for TimeAgoFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        // Lenient: a missing or odd time prints nothing rather than failing the page.
        let text = match parse_time(input) {
            Ok(Some(time)) => time_ago_text(time.unix_timestamp(), chrono::Utc::now().timestamp()),
            Ok(None) | Err(_) => String::new(),
        };
        Ok(Value::scalar(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liquid_core::call_filter;

    fn unix(value: &Value) -> i64 {
        value
            .as_scalar()
            .and_then(|s| s.to_date_time())
            .map(|d| d.unix_timestamp())
            .unwrap()
    }

    #[test]
    fn to_time_reads_the_usual_forms() {
        let cases: &[(&str, i64)] = &[
            ("2024-01-31T10:00:00Z", 1706695200),
            ("2024-01-31T11:00:00+01:00", 1706695200),
            ("2024-01-31 10:00:00", 1706695200),
            ("2024-01-31T10:00:00.250", 1706695200),
            ("2024-01-31", 1706659200),
            ("1706695200", 1706695200),
            ("-86400", -86400),
            ("31 Jan 2024 10:00:00 +0000", 1706695200),
        ];
        for (text, expected) in cases {
            let value = call_filter!(ToTime, *text).unwrap();
            assert_eq!(unix(&value), *expected, "{text}");
        }
        assert_eq!(unix(&call_filter!(ToTime, 1706695200i64).unwrap()), 1706695200);
    }

    #[test]
    fn to_time_keeps_offset_and_fraction() {
        let value = call_filter!(ToTime, "2024-01-31T11:00:00.5+01:00").unwrap();
        let time = value.as_scalar().and_then(|s| s.to_date_time()).unwrap();
        assert_eq!(time.offset().whole_seconds(), 3600);
        assert_eq!(time.unix_timestamp_nanos(), 1_706_695_200_500_000_000);
    }

    #[test]
    fn to_time_now_is_current() {
        let value = call_filter!(ToTime, "now").unwrap();
        let now = chrono::Utc::now().timestamp();
        assert!((unix(&value) - now).abs() < 5);
    }

    #[test]
    fn to_time_nil_and_empty_stay_nil() {
        assert_eq!(call_filter!(ToTime, Value::Nil).unwrap(), Value::Nil);
        assert_eq!(call_filter!(ToTime, "  ").unwrap(), Value::Nil);
    }

    #[test]
    fn to_time_rejects_garbage() {
        for bad in ["yesterday-ish", "2024-13-45", "ünïcode"] {
            let err = call_filter!(ToTime, bad).unwrap_err().to_string();
            assert!(err.contains("to_time"), "{err}");
        }
        assert!(call_filter!(ToTime, 1.5f64).is_err());
        assert!(call_filter!(ToTime, true).is_err());
        assert!(call_filter!(ToTime, liquid_core::value!([1])).is_err());
        assert!(call_filter!(ToTime, "99999999999999999999").is_err());
    }

    #[test]
    fn strftime_formats_times_and_text() {
        assert_eq!(
            call_filter!(Strftime, "2024-01-31T10:05:00Z", "%Y-%m-%d %H:%M").unwrap(),
            Value::scalar("2024-01-31 10:05")
        );
        let time = call_filter!(ToTime, "2024-02-29").unwrap();
        assert_eq!(
            call_filter!(Strftime, time, "%d/%m/%Y – %A").unwrap(),
            Value::scalar("29/02/2024 – Thursday")
        );
        assert_eq!(call_filter!(Strftime, 0i64, "%s").unwrap(), Value::scalar("0"));
    }

    #[test]
    fn strftime_nil_is_nil_and_bad_format_errors() {
        assert_eq!(call_filter!(Strftime, Value::Nil, "%Y").unwrap(), Value::Nil);
        assert!(call_filter!(Strftime, "2024-01-31", "%").is_err());
        assert!(call_filter!(Strftime, "not a time", "%Y").is_err());
    }

    #[test]
    fn time_diff_in_each_unit() {
        let a = "2024-01-01T00:00:00Z";
        let b = "2024-01-02T01:01:01.5Z";
        let expected: &[(&str, i64)] = &[("ms", 90_061_500), ("s", 90_061), ("m", 1_501), ("h", 25), ("d", 1)];
        for (unit, value) in expected {
            assert_eq!(
                call_filter!(TimeDiff, a, b, *unit).unwrap(),
                Value::scalar(*value),
                "{unit}"
            );
        }
        assert_eq!(call_filter!(TimeDiff, a, b).unwrap(), Value::scalar(90_061_500i64));
    }

    #[test]
    fn time_diff_is_negative_when_end_is_earlier_and_truncates() {
        assert_eq!(
            call_filter!(TimeDiff, "2024-01-02", "2024-01-01T00:30:00Z", "d").unwrap(),
            Value::scalar(0i64)
        );
        assert_eq!(
            call_filter!(TimeDiff, "2024-01-03", "2024-01-01", "d").unwrap(),
            Value::scalar(-2i64)
        );
    }

    #[test]
    fn time_diff_errors() {
        assert!(call_filter!(TimeDiff, Value::Nil, "2024-01-01").is_err());
        assert!(call_filter!(TimeDiff, "2024-01-01", Value::Nil).is_err());
        assert!(call_filter!(TimeDiff, "2024-01-01", "2024-01-02", "weeks").is_err());
        assert!(call_filter!(TimeDiff, "2024-01-01").is_err());
    }

    #[test]
    fn time_ago_in_words_with_a_fixed_clock() {
        let now = 1_796_000_000; // 2026-11-30T…Z
        let cases: &[(i64, &str)] = &[
            (0, "just now"),
            (44, "just now"),
            (-44, "just now"),
            (45, "1 minute ago"),
            (3 * 60 + 59, "3 minutes ago"),
            (59 * 60, "59 minutes ago"),
            (3_600, "1 hour ago"),
            (2 * 3_600 + 10, "2 hours ago"),
            (23 * 3_600, "23 hours ago"),
            (24 * 3_600, "yesterday"),
            (47 * 3_600, "yesterday"),
            (5 * 86_400, "5 days ago"),
            (30 * 86_400, "30 days ago"),
            (-3 * 60, "in 3 minutes"),
            (-3_600, "in 1 hour"),
            (-30 * 3_600, "tomorrow"),
            (-5 * 86_400 - 7, "in 5 days"),
        ];
        for (ago, expected) in cases {
            assert_eq!(time_ago_text(now - ago, now), *expected, "{ago} s ago");
        }
        let then = 1_762_041_600; // 2025-11-02T00:00:00Z
        assert_eq!(time_ago_text(then, then + 31 * 86_400), "on 2025-11-02");
        assert_eq!(time_ago_text(then, then - 40 * 86_400), "on 2025-11-02");
        assert_eq!(time_ago_text(i64::MIN, i64::MAX), "");
    }

    #[test]
    fn time_ago_reads_what_to_time_reads_and_is_lenient() {
        let now = chrono::Utc::now();
        let rfc3339 = (now - chrono::Duration::minutes(3)).to_rfc3339();
        assert_eq!(call_filter!(TimeAgo, rfc3339).unwrap(), Value::scalar("3 minutes ago"));
        let unix = (now - chrono::Duration::hours(2)).timestamp();
        assert_eq!(call_filter!(TimeAgo, unix).unwrap(), Value::scalar("2 hours ago"));
        assert_eq!(call_filter!(TimeAgo, "now").unwrap(), Value::scalar("just now"));
        assert_eq!(
            call_filter!(TimeAgo, "2001-02-03T04:05:06Z").unwrap(),
            Value::scalar("on 2001-02-03")
        );
        for odd in [
            Value::Nil,
            Value::scalar(""),
            Value::scalar("not a time"),
            Value::scalar(1.5f64),
        ] {
            assert_eq!(call_filter!(TimeAgo, odd).unwrap(), Value::scalar(""));
        }
        assert_eq!(
            call_filter!(TimeAgo, liquid_core::value!([1])).unwrap(),
            Value::scalar("")
        );
    }
}
