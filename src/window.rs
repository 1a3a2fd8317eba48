//! The report window: `[start, end)` in UTC, derived from the CronJob's schedule.
//!
//! The window is computed from the most recent *scheduled* fire time at or before "now", never
//! from "now" itself, so a Job that Kubernetes retries hours later, or that starts late, reports
//! exactly the same window as the first attempt (idempotent keys, byte-identical CSVs).
//!
//! Schedules follow Kubernetes (Vixie cron) semantics: 5 fields, Sunday = 0, and day-of-month OR
//! day-of-week when both are restricted. The `cron` crate differs on all three (6+ fields,
//! 1 = Sunday, AND), so `croner` is used with seconds and years disallowed.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::Serialize;
use std::fmt;

use crate::error::InputError;

/// A calendar period the job reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
    Quarterly,
}

impl Period {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" => Ok(Period::Daily),
            "weekly" => Ok(Period::Weekly),
            "monthly" => Ok(Period::Monthly),
            "quarterly" => Ok(Period::Quarterly),
            other => Err(format!(
                "unknown period {other:?}; use one of daily, weekly, monthly, quarterly"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Quarterly => "quarterly",
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the window was chosen; stated in every output so a reader knows what the figures cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowOrigin {
    /// `--from/--to` given explicitly.
    Explicit,
    /// A calendar period ending at or before the schedule's most recent fire time.
    Scheduled {
        period: Period,
        schedule: String,
        fire_time: DateTime<Utc>,
        time_zone: String,
    },
}

/// A half-open UTC interval `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub origin: WindowOrigin,
}

impl Window {
    pub fn explicit(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, InputError> {
        // The manifest, the S3 key and `verify` write instants to the millisecond: a finer
        // window would be recorded as another one than was read.
        for (flag, t) in [("--from", start), ("--to", end)] {
            if t.timestamp_subsec_nanos() % 1_000_000 != 0 {
                return Err(InputError::invalid(
                    flag,
                    format!(
                        "{} is finer than a millisecond; windows are recorded to the millisecond, give at most 3 decimals",
                        t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                    ),
                ));
            }
        }
        if start >= end {
            return Err(InputError::invalid(
                "--from/--to",
                format!("--from ({start}) must be before --to ({end}); the window is [from, to)"),
            ));
        }
        Ok(Window {
            start,
            end,
            origin: WindowOrigin::Explicit,
        })
    }

    /// Whether an event at `t` belongs to the window (start inclusive, end exclusive).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// Same as [`Window::contains`] on epoch nanoseconds: the hot path of every parser.
    pub fn contains_ns(&self, ns: i64) -> bool {
        self.start_ns() <= ns && ns < self.end_ns()
    }

    pub fn start_ns(&self) -> i64 {
        self.start.timestamp_nanos_opt().unwrap_or(i64::MIN)
    }

    pub fn end_ns(&self) -> i64 {
        self.end.timestamp_nanos_opt().unwrap_or(i64::MAX)
    }

    /// The period name used in keys and subjects: the scheduled period, or `custom`.
    pub fn period_label(&self) -> &'static str {
        match &self.origin {
            WindowOrigin::Explicit => "custom",
            WindowOrigin::Scheduled { period, .. } => period.as_str(),
        }
    }

    /// The date a reader knows the window by: for a calendar period the local date of its start
    /// in the zone the period is aligned to (a Berlin day starts at 23:00 UTC the day before),
    /// for an explicit window the UTC date. S3 keys and the mail subject both use it, so the
    /// subject names the same day as the key the evidence is under.
    pub fn start_date(&self) -> NaiveDate {
        match &self.origin {
            WindowOrigin::Scheduled { time_zone, .. } => match time_zone.parse::<Tz>() {
                Ok(tz) => self.start.with_timezone(&tz).date_naive(),
                Err(_) => self.start.date_naive(),
            },
            WindowOrigin::Explicit => self.start.date_naive(),
        }
    }

    /// `period=<p>/start=<YYYY-MM-DD>` (explicit windows: `period=custom/start=<t>_end=<t>`):
    /// the Hive-style partition of the window's evidence under the S3 prefix. Two different
    /// explicit windows never share it; `verify` compares it with the manifest's window.
    pub fn partition(&self) -> String {
        match &self.origin {
            WindowOrigin::Scheduled { .. } => format!(
                "period={}/start={}",
                self.period_label(),
                self.start_date().format("%Y-%m-%d")
            ),
            WindowOrigin::Explicit => format!(
                "period={}/start={}_end={}",
                self.period_label(),
                compact_instant(self.start),
                compact_instant(self.end)
            ),
        }
    }
}

/// `2026-11-30T000000Z` (colons are awkward in keys and URLs); sub-second parts are kept when
/// present, so windows that differ by milliseconds still differ.
fn compact_instant(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_nanos() == 0 {
        t.format("%Y-%m-%dT%H%M%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H%M%S%.9fZ").to_string()
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", rfc3339(self.start), rfc3339(self.end))
    }
}

/// RFC 3339 with milliseconds and `Z`: the one format every output uses for instants.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A parsed Kubernetes CronJob schedule evaluated in its time zone (`spec.timeZone`).
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
    tz: Tz,
}

impl Schedule {
    pub fn parse(text: &str, tz: Tz) -> Result<Self, String> {
        let fields = text.split_whitespace().count();
        if fields != 5 && !text.trim_start().starts_with('@') {
            return Err(format!(
                "{text:?} has {fields} fields; a Kubernetes schedule has 5 \
                 (minute hour day-of-month month day-of-week), e.g. \"0 2 * * *\""
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(text)
            .map_err(|e| format!("{text:?} is not a valid schedule: {e}"))?;
        Ok(Schedule {
            text: text.to_string(),
            cron,
            tz,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The most recent fire time at or before `now`.
    pub fn last_fire_at_or_before(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
        let local = now.with_timezone(&self.tz);
        self.cron
            .find_previous_occurrence(&local, true)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("schedule {:?} never fired before {now}: {e}", self.text))
    }

    /// The next fire time strictly after `t` (used by tests and `akko-audit window`).
    pub fn next_fire_after(&self, t: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
        let local = t.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("schedule {:?} never fires after {t}: {e}", self.text))
    }
}

/// The calendar period (in `tz`) that ends at or before the schedule's last fire time ≤ `now`.
pub fn scheduled_window(
    schedule: &Schedule,
    period: Period,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Window, String> {
    let fire = schedule.last_fire_at_or_before(now)?;
    let (start, end) = period_ending_at_or_before(period, tz, fire);
    Ok(Window {
        start,
        end,
        origin: WindowOrigin::Scheduled {
            period,
            schedule: schedule.as_str().to_string(),
            fire_time: fire,
            time_zone: tz.name().to_string(),
        },
    })
}

/// The last complete calendar period whose end is ≤ `t`, boundaries at local midnight in `tz`.
pub fn period_ending_at_or_before(
    period: Period,
    tz: Tz,
    t: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let local_date = t.with_timezone(&tz).date_naive();
    // The boundary at or before t: today's midnight, this week's Monday, this month's 1st.
    let mut end_date = match period {
        Period::Daily => local_date,
        Period::Weekly => {
            local_date - Days::new(u64::from(local_date.weekday().num_days_from_monday()))
        }
        Period::Monthly => local_date.with_day(1).unwrap_or(local_date),
        Period::Quarterly => {
            let first = local_date.with_day(1).unwrap_or(local_date);
            first - Months::new(first.month0() % 3)
        }
    };
    // Midnight of `end_date` may still lie after t when the day starts late (a DST gap at
    // midnight); then the period before it is the one that has ended.
    if local_midnight(tz, end_date) > t {
        end_date = step_back(period, end_date);
    }
    let start_date = step_back(period, end_date);
    (local_midnight(tz, start_date), local_midnight(tz, end_date))
}

fn step_back(period: Period, d: NaiveDate) -> NaiveDate {
    match period {
        Period::Daily => d - Days::new(1),
        Period::Weekly => d - Days::new(7),
        Period::Monthly => d - Months::new(1),
        Period::Quarterly => d - Months::new(3),
    }
}

/// The first instant of a local calendar day. Where midnight does not exist (a DST gap at
/// 00:00, as in some American zones), the day starts at the first valid local minute.
pub fn local_midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let mut naive = d.and_time(NaiveTime::MIN);
    for _ in 0..(24 * 4) {
        if let Some(t) = tz.from_local_datetime(&naive).earliest() {
            return t.with_timezone(&Utc);
        }
        naive += chrono::Duration::minutes(15);
    }
    Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
}

/// The demo day `[2026-11-30, 2026-12-01)` UTC, shared by the parsers' unit tests.
#[cfg(test)]
pub(crate) fn test_day() -> Window {
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    Window::explicit(t("2026-11-30T00:00:00Z"), t("2026-12-01T00:00:00Z")).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sched(s: &str, tz: Tz) -> Schedule {
        Schedule::parse(s, tz).unwrap()
    }

    #[test]
    fn explicit_windows_are_whole_milliseconds() {
        let e = Window::explicit(
            utc("2026-11-30T00:00:00.000000001Z"),
            utc("2026-12-01T00:00:00Z"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("--from"), "{e}");
        assert!(
            Window::explicit(utc("2026-11-30T00:00:00.123Z"), utc("2026-12-01T00:00:00Z")).is_ok()
        );
    }

    #[test]
    fn friday_schedule_fires_on_fridays_with_sunday_zero() {
        // Kubernetes: 5 = Friday. The `cron` crate would read 5 as Thursday.
        let s = sched("0 2 * * 5", Tz::UTC);
        let mut t = utc("2026-11-01T00:00:00Z");
        for _ in 0..8 {
            t = s.next_fire_after(t).unwrap();
            assert_eq!(t.weekday(), Weekday::Fri, "{t}");
            assert_eq!((t.hour_(), t.minute_()), (2, 0));
        }
        let sunday = sched("0 3 * * 0", Tz::UTC);
        assert_eq!(
            sunday.next_fire_after(utc("2026-11-30T00:00:00Z")).unwrap(),
            utc("2026-12-06T03:00:00Z")
        );
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        // "0 2 13 * 5": the 13th OR any Friday (Vixie/Kubernetes), not "Friday the 13th".
        let s = sched("0 2 13 * 5", Tz::UTC);
        let mut t = utc("2026-11-01T00:00:00Z");
        let mut fires = Vec::new();
        while t < utc("2026-12-01T00:00:00Z") {
            t = s.next_fire_after(t).unwrap();
            fires.push(t.date_naive().to_string());
        }
        // November 2026: Fridays 6, 13, 20, 27; the 13th is itself a Friday; then Dec 4.
        assert_eq!(
            fires,
            [
                "2026-11-06",
                "2026-11-13",
                "2026-11-20",
                "2026-11-27",
                "2026-12-04"
            ]
        );
        let mut t = utc("2027-01-01T00:00:00Z");
        let mut jan = Vec::new();
        while t < utc("2027-01-31T00:00:00Z") {
            t = s.next_fire_after(t).unwrap();
            jan.push(t.day());
        }
        // January 2027: Fridays 1 (at 02:00, after start), 8, 15, 22, 29 and Wednesday the 13th.
        assert_eq!(jan, [1, 8, 13, 15, 22, 29, 5]);
    }

    #[test]
    fn quarters_are_calendar_quarters() {
        let q = |t: &str| period_ending_at_or_before(Period::Quarterly, Tz::UTC, utc(t));
        assert_eq!(
            q("2026-12-03T12:00:00Z"),
            (utc("2026-07-01T00:00:00Z"), utc("2026-10-01T00:00:00Z"))
        );
        assert_eq!(
            q("2026-10-01T00:00:00Z"),
            (utc("2026-07-01T00:00:00Z"), utc("2026-10-01T00:00:00Z"))
        );
        assert_eq!(
            q("2026-02-15T00:00:00Z"),
            (utc("2025-10-01T00:00:00Z"), utc("2026-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn six_field_schedules_are_rejected() {
        let err = Schedule::parse("0 0 2 * * *", Tz::UTC).unwrap_err();
        assert!(err.contains("5"), "{err}");
        assert!(Schedule::parse("61 2 * * *", Tz::UTC).is_err());
    }

    #[test]
    fn daily_window_is_the_day_before_the_fire_time() {
        let s = sched("0 2 * * *", Tz::UTC);
        let w = scheduled_window(&s, Period::Daily, Tz::UTC, utc("2026-12-01T02:00:00Z")).unwrap();
        assert_eq!(w.start, utc("2026-11-30T00:00:00Z"));
        assert_eq!(w.end, utc("2026-12-01T00:00:00Z"));
    }

    #[test]
    fn a_retry_three_hours_late_gets_the_same_window() {
        let s = sched("0 2 * * *", Tz::UTC);
        let first = scheduled_window(&s, Period::Daily, Tz::UTC, utc("2026-12-01T02:00:07Z"));
        let retry = scheduled_window(&s, Period::Daily, Tz::UTC, utc("2026-12-01T05:01:00Z"));
        assert_eq!(first.unwrap(), retry.unwrap());
        // Just before the fire time the previous run's window is still the current one.
        let before = scheduled_window(&s, Period::Daily, Tz::UTC, utc("2026-12-01T01:59:59Z"));
        assert_eq!(before.unwrap().end, utc("2026-11-30T00:00:00Z"));
    }

    #[test]
    fn month_ends_and_leap_day() {
        let s = sched("30 1 1 * *", Tz::UTC);
        let w =
            scheduled_window(&s, Period::Monthly, Tz::UTC, utc("2028-03-01T09:00:00Z")).unwrap();
        assert_eq!(
            (w.start, w.end),
            (utc("2028-02-01T00:00:00Z"), utc("2028-03-01T00:00:00Z"))
        );
        assert_eq!((w.end - w.start).num_days(), 29, "2028 is a leap year");
        let d = sched("0 2 * * *", Tz::UTC);
        let leap =
            scheduled_window(&d, Period::Daily, Tz::UTC, utc("2028-03-01T02:00:00Z")).unwrap();
        assert_eq!(leap.start, utc("2028-02-29T00:00:00Z"));
        let dec =
            scheduled_window(&s, Period::Monthly, Tz::UTC, utc("2027-01-01T01:30:00Z")).unwrap();
        assert_eq!(
            (dec.start, dec.end),
            (utc("2026-12-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"))
        );
        let jan31 =
            period_ending_at_or_before(Period::Monthly, Tz::UTC, utc("2027-03-05T00:00:00Z"));
        assert_eq!(jan31.0, utc("2027-02-01T00:00:00Z"));
    }

    #[test]
    fn berlin_days_across_dst_transitions_are_23_and_25_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let s = sched("0 2 * * *", tz);
        // 2026-03-29: clocks go 02:00 -> 03:00, so 02:00 does not exist; croner fires at 03:00.
        let spring = scheduled_window(&s, Period::Daily, tz, utc("2026-03-30T06:00:00Z")).unwrap();
        assert_eq!(spring.start, utc("2026-03-28T23:00:00Z"));
        assert_eq!(spring.end, utc("2026-03-29T22:00:00Z"));
        assert_eq!((spring.end - spring.start).num_hours(), 23);
        // 2026-10-25: clocks go 03:00 -> 02:00; the day has 25 hours.
        let autumn = scheduled_window(&s, Period::Daily, tz, utc("2026-10-26T06:00:00Z")).unwrap();
        assert_eq!(autumn.start, utc("2026-10-24T22:00:00Z"));
        assert_eq!(autumn.end, utc("2026-10-25T23:00:00Z"));
        assert_eq!((autumn.end - autumn.start).num_hours(), 25);
        // On the spring-forward night itself the run (03:00 CEST = 01:00Z) reports the 28th.
        let night = scheduled_window(&s, Period::Daily, tz, utc("2026-03-29T01:30:00Z")).unwrap();
        assert_eq!(night.end, utc("2026-03-28T23:00:00Z"));
    }

    #[test]
    fn schedule_time_zone_decides_the_fire_instant() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let s = sched("0 2 * * *", tz);
        assert_eq!(
            s.last_fire_at_or_before(utc("2026-12-01T05:00:00Z"))
                .unwrap(),
            utc("2026-12-01T01:00:00Z")
        );
    }

    #[test]
    fn weekly_periods_are_monday_to_monday() {
        let s = sched("0 3 * * 1", Tz::UTC);
        // Monday 2026-11-30 03:00 -> the week Mon 11-23 .. Mon 11-30.
        let w = scheduled_window(&s, Period::Weekly, Tz::UTC, utc("2026-12-02T12:00:00Z")).unwrap();
        assert_eq!(
            (w.start, w.end),
            (utc("2026-11-23T00:00:00Z"), utc("2026-11-30T00:00:00Z"))
        );
        assert_eq!(w.start.date_naive().weekday(), Weekday::Mon);
        // A daily schedule with a weekly period still reports the last complete week.
        let d = sched("0 2 * * *", Tz::UTC);
        let w = scheduled_window(&d, Period::Weekly, Tz::UTC, utc("2026-12-03T16:00:00Z")).unwrap();
        assert_eq!(w.end, utc("2026-11-30T00:00:00Z"));
        // A week that spans a DST change in Berlin is 7*24+1 hours long.
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let (a, b) = period_ending_at_or_before(Period::Weekly, tz, utc("2026-10-27T12:00:00Z"));
        assert_eq!((b - a).num_hours(), 169);
    }

    #[test]
    fn midnight_that_does_not_exist_starts_the_day_at_one() {
        // America/Havana skips 00:00 -> 01:00 on 2026-03-08.
        let tz: Tz = "America/Havana".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        assert_eq!(local_midnight(tz, d), utc("2026-03-08T05:00:00Z"));
    }

    #[test]
    fn explicit_window_rejects_reversed_bounds() {
        let err = Window::explicit(utc("2026-12-02T00:00:00Z"), utc("2026-12-01T00:00:00Z"));
        assert!(err.unwrap_err().to_string().contains("--from"));
        let w = Window::explicit(utc("2026-12-01T00:00:00Z"), utc("2026-12-02T00:00:00Z")).unwrap();
        assert!(w.contains(utc("2026-12-01T00:00:00Z")));
        assert!(!w.contains(utc("2026-12-02T00:00:00Z")));
        assert_eq!(w.period_label(), "custom");
    }

    trait HourMinute {
        fn hour_(&self) -> u32;
        fn minute_(&self) -> u32;
    }
    impl HourMinute for DateTime<Utc> {
        fn hour_(&self) -> u32 {
            chrono::Timelike::hour(self)
        }
        fn minute_(&self) -> u32 {
            chrono::Timelike::minute(self)
        }
    }
}
