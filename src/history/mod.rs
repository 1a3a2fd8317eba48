//! Daily history: every daily run keeps its ledger and the tables later reports need as
//! Parquet, Hive-partitioned (`history/<table>/date=YYYY-MM-DD/part-0.parquet`), because Loki
//! keeps 7 days and Prometheus 15: a month or a quarter can only be composed from what the
//! nightly runs kept. Figures are stored in the ledger's exact integer units (ns, 10⁻¹² USD,
//! bytes) with the unit in the column name; null is unknown, as in the CSV.

pub mod activity;
pub mod compose;
pub mod table;

use chrono::NaiveDate;

use crate::collect::Collected;
use crate::config::StorageConfig;
use crate::identity::{bucket_owner, Resolver};
use crate::ledger::{Ledger, Unit, COLUMNS};
use crate::render::Artifact;
use crate::sources::litellm::LlmUsage;
use crate::sources::{Completeness, SourceReport};
use crate::window::{rfc3339, Window};
use table::{Column, Table, TableError};

/// Bumped when a table's columns change; written into every file's footer.
pub const SCHEMA_VERSION: &str = "2";
pub const SCHEMA_KEY: &str = "akko_audit.schema_version";

pub const USAGE: &str = "usage_by_user";
pub const LLM: &str = "llm_usage_by_user_model";
pub const STORAGE: &str = "storage_by_bucket";
pub const DATABASES: &str = "database_sizes";
pub const SOURCES: &str = "sources";
pub const FINDINGS: &str = "findings";
/// The day's notebook sessions with their start and stop: a month counts a session that ran
/// across midnight once, which the daily counts alone cannot tell.
pub const SESSIONS: &str = "notebook_sessions";
pub const TABLES: [&str; 9] = [
    USAGE,
    LLM,
    STORAGE,
    DATABASES,
    SOURCES,
    FINDINGS,
    SESSIONS,
    activity::ACTIVITY,
    activity::LLM_ACTIVITY,
];

/// The tables of `date` not in the history: a day counts as kept only if all of them are,
/// since a month priced from a day without its storage or LLM table would charge zero for it.
pub fn missing_tables(
    store: &dyn crate::verify::EvidenceStore,
    date: NaiveDate,
) -> Result<Vec<&'static str>, String> {
    let mut missing = Vec::new();
    for t in TABLES {
        if !store.exists(&path(t, date))? {
            missing.push(t);
        }
    }
    Ok(missing)
}

/// The key of one day's table, relative to the history root (`[history] dir`, or
/// `<s3.prefix>/history/` in the evidence store).
pub fn path(table: &str, date: NaiveDate) -> String {
    format!("{table}/date={}/part-0.parquet", date.format("%Y-%m-%d"))
}

/// The Parquet column of a ledger column: exact units, named so a SQL reader cannot mistake
/// nanoseconds for seconds.
pub fn stored_name(column: &str, unit: Unit) -> String {
    match unit {
        Unit::Count => column.to_string(),
        Unit::NanosAsSeconds => format!("{}_nanos", column.trim_end_matches("_seconds")),
        Unit::PicoUsd => format!("{}_picousd", column.trim_end_matches("_usd")),
    }
}

pub struct DailyInput<'a> {
    pub window: &'a Window,
    pub date: NaiveDate,
    pub ledger: &'a Ledger,
    pub llm_by_user_model: &'a [LlmUsage],
    pub collected: &'a Collected,
    pub resolver: &'a Resolver,
    pub storage: &'a StorageConfig,
    pub reports: &'a [&'a SourceReport],
    /// The day's findings: a month's report lists every day's, since the raw records are gone.
    pub findings: &'a [crate::compliance::findings::Finding],
    /// The day's hourly panels, as its report drew them.
    pub panels: &'a crate::ledger::panels::Panels,
}

fn metadata(w: &Window) -> Vec<(String, String)> {
    vec![
        (SCHEMA_KEY.into(), SCHEMA_VERSION.into()),
        ("akko_audit.window_start".into(), rfc3339(w.start)),
        ("akko_audit.window_end".into(), rfc3339(w.end)),
        (
            "akko_audit.tool_version".into(),
            env!("CARGO_PKG_VERSION").into(),
        ),
    ]
}

fn owned(v: &[String]) -> Vec<Option<String>> {
    v.iter().cloned().map(Some).collect()
}

/// The Parquet files of one daily run, one per table of [`TABLES`].
pub fn daily_artifacts(d: &DailyInput) -> Result<Vec<Artifact>, TableError> {
    let meta = metadata(d.window);
    let rows = &d.ledger.rows;
    let mut usage = vec![
        Column::str(
            "user",
            false,
            owned(&rows.iter().map(|r| r.user.clone()).collect::<Vec<_>>()),
        ),
        Column::str("team", true, rows.iter().map(|r| r.team.clone()).collect()),
        // Whether no alias or Keycloak event resolved the name: with pseudonyms on, the name
        // alone no longer says so.
        Column::int(
            "unresolved",
            rows.iter()
                .map(|r| Some(i64::from(d.ledger.unresolved.contains(&r.user))))
                .collect(),
        ),
    ];
    for (i, (name, _, unit)) in COLUMNS.iter().enumerate() {
        usage.push(Column::int(
            &stored_name(name, *unit),
            rows.iter().map(|r| r.figures[i]).collect(),
        ));
    }
    let llm = d.llm_by_user_model;
    let llm_cols = vec![
        Column::str(
            "user",
            false,
            llm.iter().map(|u| Some(u.user.clone())).collect(),
        ),
        Column::str(
            "model",
            false,
            llm.iter().map(|u| Some(u.model.clone())).collect(),
        ),
        Column::str(
            "provider",
            false,
            llm.iter().map(|u| Some(u.provider.clone())).collect(),
        ),
        Column::int("requests", llm.iter().map(|u| Some(u.requests)).collect()),
        Column::int(
            "failed_requests",
            llm.iter().map(|u| Some(u.failed)).collect(),
        ),
        Column::int(
            "prompt_tokens",
            llm.iter().map(|u| Some(u.prompt_tokens)).collect(),
        ),
        Column::int(
            "completion_tokens",
            llm.iter().map(|u| Some(u.completion_tokens)).collect(),
        ),
        Column::int(
            "total_tokens",
            llm.iter().map(|u| Some(u.total_tokens)).collect(),
        ),
        Column::int(
            "cost_picousd",
            llm.iter()
                .map(|u| i64::try_from(u.cost_units).ok())
                .collect(),
        ),
    ];
    let b = &d.collected.buckets;
    let storage = vec![
        Column::str(
            "bucket",
            false,
            // Names built from user ids (home-<user>) are pseudonymised like every export.
            b.iter()
                .map(|x| Some(d.resolver.text(&x.bucket).into_owned()))
                .collect(),
        ),
        Column::str(
            "owner",
            true,
            b.iter()
                .map(|x| bucket_owner(d.storage, &x.bucket).map(|o| d.resolver.canonical(&o)))
                .collect(),
        ),
        Column::int(
            "bytes",
            b.iter().map(|x| i64::try_from(x.bytes).ok()).collect(),
        ),
    ];
    let db = &d.collected.databases;
    let databases = vec![
        Column::str(
            "database",
            false,
            db.iter()
                .map(|x| Some(d.resolver.text(&x.database).into_owned()))
                .collect(),
        ),
        Column::str(
            "server",
            false,
            db.iter().map(|x| Some(x.server.clone())).collect(),
        ),
        Column::int(
            "bytes",
            db.iter().map(|x| i64::try_from(x.bytes).ok()).collect(),
        ),
    ];
    let r = d.reports;
    let status = |s: Completeness| match s {
        Completeness::Complete => "complete",
        Completeness::Partial => "partial",
        Completeness::Unavailable => "unavailable",
    };
    let sources = vec![
        Column::str(
            "source",
            false,
            r.iter().map(|x| Some(x.source.name().into())).collect(),
        ),
        Column::str(
            "backend",
            false,
            r.iter().map(|x| Some(x.backend.clone())).collect(),
        ),
        Column::str(
            "status",
            false,
            r.iter().map(|x| Some(status(x.status).into())).collect(),
        ),
        Column::int(
            "lines_read",
            r.iter()
                .map(|x| i64::try_from(x.tally.lines_read).ok())
                .collect(),
        ),
        Column::int(
            "lines_rejected",
            r.iter()
                .map(|x| i64::try_from(x.tally.lines_rejected).ok())
                .collect(),
        ),
        Column::str("error", true, r.iter().map(|x| x.error.clone()).collect()),
    ];
    let f = d.findings;
    let findings = vec![
        Column::str(
            "severity",
            false,
            f.iter().map(|x| Some(x.severity.name().into())).collect(),
        ),
        Column::str(
            "rule",
            false,
            f.iter().map(|x| Some(x.rule.into())).collect(),
        ),
        Column::str(
            "subject",
            false,
            f.iter().map(|x| Some(x.subject.clone())).collect(),
        ),
        Column::str(
            "summary",
            false,
            f.iter().map(|x| Some(x.summary.clone())).collect(),
        ),
        Column::int(
            "count",
            f.iter().map(|x| i64::try_from(x.count).ok()).collect(),
        ),
        Column::int("first_ns", f.iter().map(|x| x.first_ns).collect()),
        Column::int("last_ns", f.iter().map(|x| x.last_ns).collect()),
        Column::str(
            "evidence",
            false,
            f.iter().map(|x| Some(x.evidence.join("\n"))).collect(),
        ),
    ];
    let mut sessions: Vec<_> = d
        .collected
        .sessions
        .iter()
        .map(|s| {
            (
                d.resolver.canonical(&s.user),
                d.resolver.text(&s.server).into_owned(),
                s.start_ns,
                s.stop_ns,
                s.overlap_ns,
            )
        })
        .collect();
    sessions.sort();
    let sessions = vec![
        Column::str(
            "user",
            false,
            sessions.iter().map(|s| Some(s.0.clone())).collect(),
        ),
        Column::str(
            "server",
            false,
            sessions.iter().map(|s| Some(s.1.clone())).collect(),
        ),
        // Null: began before the run's lookback horizon (start) or still running at the
        // window's end (stop).
        Column::int("start_ns", sessions.iter().map(|s| s.2).collect()),
        Column::int("stop_ns", sessions.iter().map(|s| s.3).collect()),
        Column::int(
            "overlap_nanos",
            sessions.iter().map(|s| Some(s.4)).collect(),
        ),
    ];
    let mut out = Vec::new();
    for (name, t) in activity::daily_tables(d.window, d.panels, d.collected, d.resolver, &meta)? {
        out.push(Artifact {
            name: path(name, d.date),
            bytes: t.to_parquet()?,
            rows: t.rows() as u64,
        });
    }
    for (name, columns) in [
        (USAGE, usage),
        (LLM, llm_cols),
        (STORAGE, storage),
        (DATABASES, databases),
        (SOURCES, sources),
        (FINDINGS, findings),
        (SESSIONS, sessions),
    ] {
        let t = Table {
            columns,
            metadata: meta.clone(),
        };
        out.push(Artifact {
            name: path(name, d.date),
            bytes: t.to_parquet()?,
            rows: t.rows() as u64,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_carry_their_unit() {
        assert_eq!(
            stored_name("trino_cpu_seconds", Unit::NanosAsSeconds),
            "trino_cpu_nanos"
        );
        assert_eq!(
            stored_name("llm_cost_usd", Unit::PicoUsd),
            "llm_cost_picousd"
        );
        assert_eq!(stored_name("logins", Unit::Count), "logins");
        assert_eq!(
            path(USAGE, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
            "usage_by_user/date=2026-11-30/part-0.parquet"
        );
    }
}
