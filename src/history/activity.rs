//! The dashboard's time series kept per day, so a week or a month has a timeline too: the log
//! servers no longer hold the raw records when it is composed. Each nightly run keeps the hours
//! of its day and the day as one bucket (`granularity` = `hour` / `day`): distinct online users
//! and running notebooks of a day cannot be added up from its hours, so the day row is counted
//! on its own. A day's series is known only when its source was complete that day; a day
//! missing from the history is a gap in the chart and an empty cell, never a zero.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::compose::{Day, DayState};
use super::table::{Column, Table, TableError, Values};
use crate::collect::Collected;
use crate::identity::Resolver;
use crate::ledger::panels::Panels;
use crate::render::csv::Table as CsvTable;
use crate::render::Artifact;
use crate::sources::SourceKind;
use crate::verify::EvidenceStore;
use crate::window::Window;

pub const ACTIVITY: &str = "activity";
pub const LLM_ACTIVITY: &str = "llm_activity";

/// The stored series: column name, the sources that must be complete for it to be known, and
/// where it comes from in the panels.
pub const SERIES: [(&str, &[SourceKind]); 10] = [
    ("trino_queries", &[SourceKind::Trino]),
    ("trino_failed", &[SourceKind::Trino]),
    ("opa_decision_lines", &[SourceKind::Opa]),
    ("opa_denials", &[SourceKind::Opa]),
    ("keycloak_logins", &[SourceKind::Keycloak]),
    ("keycloak_login_failures", &[SourceKind::Keycloak]),
    ("keycloak_other_user_events", &[SourceKind::Keycloak]),
    ("keycloak_admin_events", &[SourceKind::Keycloak]),
    ("active_notebook_sessions", &[SourceKind::Jupyterhub]),
    // Seen in any of these: partial in one, the count is only a lower bound.
    (
        "online_users",
        &[
            SourceKind::Trino,
            SourceKind::Opa,
            SourceKind::Keycloak,
            SourceKind::Jupyterhub,
        ],
    ),
];

fn panel_series(p: &Panels) -> [&[i64]; 10] {
    [
        &p.trino_queries,
        &p.trino_failed,
        &p.opa_lines,
        &p.opa_denials,
        &p.logins,
        &p.login_failures,
        &p.other_user_events,
        &p.admin_events,
        &p.active_sessions,
        &p.online_users,
    ]
}

/// The two tables of one day: its hours (the panels the daily report drew) and the day whole.
pub fn daily_tables(
    window: &Window,
    hourly: &Panels,
    collected: &Collected,
    resolver: &Resolver,
    metadata: &[(String, String)],
) -> Result<[(&'static str, Table); 2], TableError> {
    let whole = Panels::whole(window, collected, resolver);
    let mut granularity = Vec::new();
    let mut starts = Vec::new();
    let mut widths = Vec::new();
    let mut values: Vec<Vec<Option<i64>>> = vec![Vec::new(); SERIES.len()];
    for (name, p) in [("hour", hourly), ("day", &whole)] {
        for (i, &s) in p.starts.iter().enumerate() {
            granularity.push(Some(name.to_string()));
            starts.push(Some(s));
            // The last hour of a window that does not end on the hour is shorter.
            widths.push(Some(p.bucket_ns.min(window.end_ns() - s)));
            for (v, series) in values.iter_mut().zip(panel_series(p)) {
                v.push(series.get(i).copied());
            }
        }
    }
    let mut columns = vec![
        Column::str("granularity", false, granularity),
        Column::int("bucket_start_ns", starts),
        Column::int("bucket_nanos", widths),
    ];
    for ((name, _), v) in SERIES.iter().zip(values) {
        columns.push(Column::int(name, v));
    }
    let activity = Table {
        columns,
        metadata: metadata.to_vec(),
    };

    // LLM: the source's own hourly rows, then the day per model.
    let (start, end) = (window.start_ns(), window.end_ns());
    let mut rows: Vec<(&str, i64, i64, &str, [i64; 4])> = collected
        .llm_hours
        .iter()
        .filter(|h| h.hour_ns < end && h.hour_ns + 3_600_000_000_000 > start)
        .map(|h| {
            let s = h.hour_ns.max(start);
            (
                "hour",
                s,
                (h.hour_ns + 3_600_000_000_000).min(end) - s,
                h.model.as_str(),
                [h.requests, h.failed, h.latency_ms, h.timed],
            )
        })
        .collect();
    rows.sort_by(|a, b| (a.1, a.3).cmp(&(b.1, b.3)));
    for (model, &(req, failed, lat, timed)) in &whole.llm_models {
        rows.push(("day", start, end - start, model, [req, failed, lat, timed]));
    }
    let mut llm = vec![
        Column::str(
            "granularity",
            false,
            rows.iter().map(|r| Some(r.0.to_string())).collect(),
        ),
        Column::int("bucket_start_ns", rows.iter().map(|r| Some(r.1)).collect()),
        Column::int("bucket_nanos", rows.iter().map(|r| Some(r.2)).collect()),
        Column::str(
            "model",
            false,
            rows.iter().map(|r| Some(r.3.to_string())).collect(),
        ),
    ];
    for (i, name) in [
        "requests",
        "failed_requests",
        "latency_ms_sum",
        "latency_timed_requests",
    ]
    .iter()
    .enumerate()
    {
        llm.push(Column::int(
            name,
            rows.iter().map(|r| Some(r.4[i])).collect(),
        ));
    }
    Ok([
        (ACTIVITY, activity),
        (
            LLM_ACTIVITY,
            Table {
                columns: llm,
                metadata: metadata.to_vec(),
            },
        ),
    ])
}

/// One value per day of the span (`None`: unknown that day).
#[derive(Debug, Clone, Default)]
pub struct Trend {
    pub dates: Vec<NaiveDate>,
    /// In the order of [`SERIES`].
    pub series: Vec<Vec<Option<i64>>>,
    /// LLM requests per model per day; a model absent on a known day is 0 that day.
    pub llm_requests: BTreeMap<String, Vec<Option<i64>>>,
    pub llm_known: Vec<bool>,
    /// Per model over the span: (requests, failed, latency ms sum, timed requests); `None`
    /// unless every day is known.
    pub llm_models: Option<BTreeMap<String, (i64, i64, i64, i64)>>,
}

impl Trend {
    pub fn get(&self, name: &str) -> Option<&[Option<i64>]> {
        SERIES
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| &self.series[i][..])
    }

    /// LLM requests per day over all models.
    pub fn llm_total(&self) -> Vec<Option<i64>> {
        (0..self.dates.len())
            .map(|d| {
                self.llm_known[d]
                    .then(|| self.llm_requests.values().map(|v| v[d].unwrap_or(0)).sum())
            })
            .collect()
    }

    /// The busiest day's distinct users, when every day is known.
    pub fn peak_online(&self) -> Option<i64> {
        let v = self.get("online_users")?;
        v.iter()
            .copied()
            .collect::<Option<Vec<i64>>>()
            .and_then(|v| v.into_iter().max())
    }

    /// `activity_by_day.csv`: the trend as evidence, an empty cell where a day is unknown.
    pub fn csv(&self) -> Artifact {
        let mut header = vec!["date"];
        header.extend(SERIES.iter().map(|(n, _)| *n));
        header.push("llm_requests");
        let mut t = CsvTable::new("activity_by_day.csv", &header);
        let llm = self.llm_total();
        let cell = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
        for (d, date) in self.dates.iter().enumerate() {
            let mut row = vec![date.to_string()];
            row.extend(self.series.iter().map(|s| cell(s[d])));
            row.push(cell(llm[d]));
            t.row(&row);
        }
        t.finish()
    }
}

fn read_day(store: &dyn EvidenceStore, table: &str, date: NaiveDate) -> Option<Table> {
    // A day written before these tables existed has none: its trend is unknown, not an error.
    let bytes = store.get(&super::path(table, date)).ok()??;
    Table::from_parquet(bytes).ok()
}

/// The rows of the day-long bucket.
fn day_rows(t: &Table) -> Option<Vec<usize>> {
    let Some(Values::Str(g)) = t.column("granularity").map(|c| &c.values) else {
        return None;
    };
    Some(
        (0..t.rows())
            .filter(|&i| g[i].as_deref() == Some("day"))
            .collect(),
    )
}

fn int_at(t: &Table, column: &str, row: usize) -> Option<i64> {
    match t.column(column).map(|c| &c.values) {
        Some(Values::Int(v)) => v.get(row).copied().flatten(),
        _ => None,
    }
}

fn str_at(t: &Table, column: &str, row: usize) -> Option<String> {
    match t.column(column).map(|c| &c.values) {
        Some(Values::Str(v)) => v.get(row).cloned().flatten(),
        _ => None,
    }
}

/// The span's trend, one bucket per day.
pub fn compose(store: &dyn EvidenceStore, days: &[Day]) -> Trend {
    let n = days.len();
    let mut trend = Trend {
        dates: days.iter().map(|d| d.date).collect(),
        series: vec![vec![None; n]; SERIES.len()],
        llm_known: vec![false; n],
        ..Default::default()
    };
    let mut models: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
    for (d, day) in days.iter().enumerate() {
        if day.state != DayState::Present {
            continue;
        }
        if let Some(t) = read_day(store, ACTIVITY, day.date) {
            if let Some([row]) = day_rows(&t).as_deref() {
                for (s, (name, kinds)) in SERIES.iter().enumerate() {
                    if kinds.iter().all(|k| day.complete(*k)) {
                        trend.series[s][d] = int_at(&t, name, *row);
                    }
                }
            }
        }
        if !day.complete(SourceKind::Litellm) {
            continue;
        }
        let Some(t) = read_day(store, LLM_ACTIVITY, day.date) else {
            continue;
        };
        let Some(rows) = day_rows(&t) else {
            continue;
        };
        trend.llm_known[d] = true;
        for row in rows {
            let model = str_at(&t, "model", row).unwrap_or_default();
            let v = |c: &str| int_at(&t, c, row).unwrap_or(0);
            trend
                .llm_requests
                .entry(model.clone())
                .or_insert_with(|| vec![None; n])[d] = Some(v("requests"));
            let m = models.entry(model).or_default();
            m.0 += v("requests");
            m.1 += v("failed_requests");
            m.2 += v("latency_ms_sum");
            m.3 += v("latency_timed_requests");
        }
    }
    // A model with no request on a known day had zero that day.
    for v in trend.llm_requests.values_mut() {
        for (x, known) in v.iter_mut().zip(&trend.llm_known) {
            if *known && x.is_none() {
                *x = Some(0);
            }
        }
    }
    if n > 0 && trend.llm_known.iter().all(|k| *k) {
        trend.llm_models = Some(models);
    }
    trend
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::jupyterhub::NotebookSession;
    use crate::sources::litellm::LlmHour;
    use crate::sources::Completeness;
    use crate::verify::Folder;

    const HOUR: i64 = 3_600_000_000_000;

    fn day(date: NaiveDate, trino: Completeness) -> Day {
        let mut sources = BTreeMap::new();
        for k in SourceKind::ALL {
            sources.insert(k, (Completeness::Complete, None, 1, 0));
        }
        sources.insert(SourceKind::Trino, (trino, Some("loki 500".into()), 1, 0));
        Day {
            date,
            state: DayState::Present,
            sources,
            missing_tables: Vec::new(),
        }
    }

    #[test]
    fn a_day_is_counted_whole_and_unknown_series_stay_unknown() {
        let w = crate::window::test_day();
        let s = w.start_ns();
        // One user with a notebook across the whole day: one distinct user, one session for
        // the day, though 24 hours each count them once.
        let sessions = vec![NotebookSession {
            user: "carol".into(),
            server: String::new(),
            start_ns: Some(s - HOUR),
            stop_ns: None,
            overlap_ns: 0,
        }];
        let llm_hours = vec![
            LlmHour {
                hour_ns: s,
                model: "gpt-4o".into(),
                requests: 3,
                failed: 1,
                latency_ms: 900,
                timed: 3,
            },
            LlmHour {
                hour_ns: s + 5 * HOUR,
                model: "gpt-4o".into(),
                requests: 2,
                failed: 0,
                latency_ms: 400,
                timed: 2,
            },
        ];
        let c = Collected {
            sessions,
            llm_hours,
            ..Default::default()
        };
        let r = Resolver::new(&Default::default(), &Default::default());
        let hourly = Panels::build(&w, &c, &r);
        let [(a_name, activity), (l_name, llm)] = daily_tables(&w, &hourly, &c, &r, &[]).unwrap();
        assert_eq!(activity.rows(), 25, "24 hours and the day");
        let dir = tempfile::tempdir().unwrap();
        let date = w.start.date_naive();
        for (name, t) in [(a_name, &activity), (l_name, &llm)] {
            let p = dir.path().join(super::super::path(name, date));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t.to_parquet().unwrap()).unwrap();
        }
        let next = date.succ_opt().unwrap();
        let days = [
            day(date, Completeness::Complete),
            day(next, Completeness::Partial),
        ];
        let t = compose(&Folder(dir.path().to_path_buf()), &days);
        assert_eq!(t.get("active_notebook_sessions").unwrap()[0], Some(1));
        assert_eq!(t.get("online_users").unwrap()[0], Some(1));
        assert_eq!(t.get("trino_queries").unwrap()[0], Some(0));
        // The second day has no tables: unknown, not zero.
        assert_eq!(t.get("trino_queries").unwrap()[1], None);
        assert_eq!(t.llm_total(), vec![Some(5), None]);
        assert_eq!(t.peak_online(), None);
        assert!(t.llm_models.is_none(), "one day unknown");
        let one = compose(&Folder(dir.path().to_path_buf()), &days[..1]);
        assert_eq!(one.llm_models.as_ref().unwrap()["gpt-4o"], (5, 1, 1300, 5));
        assert_eq!(one.peak_online(), Some(1));
        // A day whose Trino read was partial: its Trino series and online users are unknown,
        // the Keycloak series still known.
        let partial = compose(
            &Folder(dir.path().to_path_buf()),
            &[day(date, Completeness::Partial)],
        );
        assert_eq!(partial.get("trino_queries").unwrap()[0], None);
        assert_eq!(partial.get("online_users").unwrap()[0], None);
        assert_eq!(partial.get("keycloak_logins").unwrap()[0], Some(0));
        let csv = String::from_utf8(partial.csv().bytes).unwrap();
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .starts_with(&format!("{date},,,0,")),
            "{csv}"
        );
    }
}
