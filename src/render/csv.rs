//! CSV evidence: the ledger (`usage_by_user.csv`, the contract finance and auditors import), the
//! team chargeback, and one detail table per source so every figure can be traced to its rows.
//!
//! Output is byte-identical for the same input: rows are sorted on stable keys, instants are
//! printed in one format, numbers are integers formatted once. Cells that a spreadsheet would
//! run as a formula (`= + - @`, tab, CR first) are neutralised with a leading `'`.

use chrono::{DateTime, Utc};

use super::Artifact;
use crate::collect::Collected;
use crate::config::StorageConfig;
use crate::identity::{bucket_owner, Resolver};
use crate::ledger::{Ledger, TeamRow, Unit, COLUMNS, TEAM_COLUMNS};
use crate::sources::keycloak::EventKind;
use crate::sources::values::format_fixed;

/// Makes a cell safe to open in a spreadsheet.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// A ledger figure as every output prints it; `None` (unknown) is an empty cell.
pub(crate) fn figure(v: Option<i64>, unit: Unit) -> String {
    match (v, unit) {
        (None, _) => String::new(),
        (Some(v), Unit::Count) => v.to_string(),
        (Some(v), Unit::NanosAsSeconds) => format_fixed(v.into(), 9, 3),
        (Some(v), Unit::PicoUsd) => format_fixed(v.into(), 12, 6),
    }
}

pub(super) fn instant(ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Builds one CSV artifact from a header and rows of cells.
pub struct Table {
    name: &'static str,
    writer: csv::Writer<Vec<u8>>,
    rows: u64,
}

impl Table {
    pub fn new(name: &'static str, header: &[&str]) -> Self {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(header);
        Table {
            name,
            writer,
            rows: 0,
        }
    }

    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        let _ = self
            .writer
            .write_record(cells.iter().map(|c| neutralise(c.as_ref()).into_owned()));
        self.rows += 1;
    }

    pub fn finish(self) -> Artifact {
        let bytes = self.writer.into_inner().unwrap_or_default();
        Artifact {
            name: self.name.to_string(),
            bytes,
            rows: self.rows,
        }
    }
}

pub fn usage_by_user(ledger: &Ledger) -> Artifact {
    let mut header = vec!["user", "team"];
    header.extend(COLUMNS.iter().map(|c| c.0));
    let mut t = Table::new("usage_by_user.csv", &header);
    for r in &ledger.rows {
        let mut cells = vec![r.user.clone(), r.team.clone().unwrap_or_default()];
        cells.extend(
            COLUMNS
                .iter()
                .zip(&r.figures)
                .map(|((_, _, unit), v)| figure(*v, *unit)),
        );
        t.row(&cells);
    }
    t.finish()
}

pub fn chargeback_by_team(teams: &[TeamRow]) -> Artifact {
    let mut header = vec!["team", "users"];
    header.extend(TEAM_COLUMNS.iter().map(|c| c.0));
    let mut t = Table::new("chargeback_by_team.csv", &header);
    for r in teams {
        let mut cells = vec![r.team.clone(), r.users.to_string()];
        cells.extend(
            TEAM_COLUMNS
                .iter()
                .zip(&r.figures)
                .map(|((_, unit), v)| figure(*v, *unit)),
        );
        t.row(&cells);
    }
    t.finish()
}

/// `redact`: SQL literals replaced by `?` (privacy.redact_sql_literals).
pub fn trino_queries(c: &Collected, r: &Resolver, redact: bool) -> Artifact {
    let mut t = Table::new(
        "trino_queries.csv",
        &[
            "end_time",
            "query_id",
            "user",
            "raw_user",
            "state",
            "error_code",
            "create_time",
            "rows_scanned",
            "bytes_scanned",
            "cpu_seconds",
            "client",
            "query",
        ],
    );
    let mut qs: Vec<_> = c.trino.iter().collect();
    qs.sort_by(|a, b| (a.end_ns, &a.query_id).cmp(&(b.end_ns, &b.query_id)));
    for q in qs {
        t.row(&[
            instant(q.end_ns),
            q.query_id.clone(),
            r.canonical(&q.user),
            r.text(&q.user).into_owned(),
            q.state.clone(),
            q.error_code.clone().unwrap_or_default(),
            q.create_ns.map(instant).unwrap_or_default(),
            q.rows_scanned.to_string(),
            q.bytes_scanned.to_string(),
            format_fixed(q.cpu_ns.into(), 9, 3),
            q.client.clone().unwrap_or_default(),
            if redact {
                r.text(&super::redact::redact_sql_literals(&q.query))
                    .into_owned()
            } else {
                r.text(&q.query).into_owned()
            },
        ]);
    }
    t.finish()
}

pub fn opa_denials(c: &Collected, r: &Resolver) -> Artifact {
    let mut t = Table::new(
        "opa_denials.csv",
        &[
            "time",
            "decision_id",
            "user",
            "raw_user",
            "operation",
            "path",
            "result",
            "query_id",
            "resource",
        ],
    );
    let mut ds: Vec<_> = c.opa_denials.iter().collect();
    ds.sort_by(|a, b| (a.time_ns, &a.decision_id).cmp(&(b.time_ns, &b.decision_id)));
    for d in ds {
        let user = if d.user.is_empty() {
            String::new()
        } else {
            r.canonical(&d.user)
        };
        t.row(&[
            instant(d.time_ns),
            d.decision_id.clone(),
            user,
            r.text(&d.user).into_owned(),
            d.operation.clone(),
            d.path.clone(),
            d.result.to_string(),
            d.query_id.clone(),
            r.text(&d.resource).into_owned(),
        ]);
    }
    t.finish()
}

pub fn auth_events(c: &Collected, r: &Resolver) -> (Artifact, Artifact) {
    let mut user = Table::new(
        "auth_events.csv",
        &[
            "time",
            "type",
            "user",
            "username",
            "user_id",
            "client_id",
            "ip_address",
            "error",
            "realm",
        ],
    );
    let mut admin = Table::new(
        "admin_events.csv",
        &[
            "time",
            "operation_type",
            "resource_type",
            "resource_path",
            "actor",
            "actor_user_id",
            "client_id",
            "ip_address",
            "error",
            "realm",
        ],
    );
    let mut evs: Vec<_> = c.keycloak.iter().collect();
    evs.sort_by_key(|e| e.time_ns);
    for e in evs {
        let who = e
            .username
            .as_deref()
            .or(e.user_id.as_deref())
            .map(|w| r.canonical(w))
            .unwrap_or_default();
        match e.kind {
            EventKind::User => user.row(&[
                instant(e.time_ns),
                e.event_type.clone(),
                who,
                r.text(e.username.as_deref().unwrap_or("")).into_owned(),
                r.text(e.user_id.as_deref().unwrap_or("")).into_owned(),
                e.client_id.clone(),
                e.ip_address.clone(),
                e.error.clone(),
                e.realm.clone(),
            ]),
            EventKind::Admin => admin.row(&[
                instant(e.time_ns),
                e.event_type.clone(),
                e.resource_type.clone(),
                r.text(&e.resource_path).into_owned(),
                who,
                r.text(e.user_id.as_deref().unwrap_or("")).into_owned(),
                e.client_id.clone(),
                e.ip_address.clone(),
                e.error.clone(),
                e.realm.clone(),
            ]),
        }
    }
    (user.finish(), admin.finish())
}

pub fn notebook_sessions(c: &Collected, r: &Resolver) -> Artifact {
    let mut t = Table::new(
        "notebook_sessions.csv",
        &[
            "user",
            "server",
            "start",
            "stop",
            "seconds_in_window",
            "note",
        ],
    );
    let mut ss: Vec<_> = c.sessions.iter().collect();
    ss.sort_by(|a, b| {
        (r.canonical(&a.user), &a.server, a.start_ns).cmp(&(
            r.canonical(&b.user),
            &b.server,
            b.start_ns,
        ))
    });
    for s in ss {
        let note = match (s.start_ns, s.stop_ns) {
            (None, _) => "start not seen (before the lookback horizon, or its event is missing)",
            (_, None) => "running at window end",
            _ => "",
        };
        t.row(&[
            r.canonical(&s.user),
            r.text(&s.server).into_owned(),
            s.start_ns.map(instant).unwrap_or_default(),
            s.stop_ns.map(instant).unwrap_or_default(),
            format_fixed(s.overlap_ns.into(), 9, 3),
            note.to_string(),
        ]);
    }
    t.finish()
}

pub fn notebook_pods(c: &Collected, r: &Resolver) -> Artifact {
    let mut t = Table::new(
        "notebook_pods.csv",
        &[
            "namespace",
            "pod",
            "user",
            "cpu_seconds",
            "peak_memory_bytes",
        ],
    );
    for p in &c.pods {
        t.row(&[
            p.namespace.clone(),
            r.text(&p.pod).into_owned(),
            p.user
                .as_deref()
                .map(|u| r.canonical(u))
                .unwrap_or_default(),
            format_fixed(p.cpu_ns, 9, 3),
            p.peak_memory_bytes.to_string(),
        ]);
    }
    t.finish()
}

pub fn llm_usage(usage: &[crate::sources::litellm::LlmUsage]) -> Artifact {
    let mut t = Table::new(
        "llm_usage_by_user_model.csv",
        &[
            "user",
            "model",
            "provider",
            "requests",
            "failed_requests",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cost_usd",
        ],
    );
    for u in usage {
        t.row(&[
            u.user.clone(),
            u.model.clone(),
            u.provider.clone(),
            u.requests.to_string(),
            u.failed.to_string(),
            u.prompt_tokens.to_string(),
            u.completion_tokens.to_string(),
            u.total_tokens.to_string(),
            format_fixed(u.cost_units, 12, 6),
        ]);
    }
    t.finish()
}

/// One bucket of `storage_by_bucket.csv`: its size at the window's end and what it held over
/// the window (the GB-months a chargeback prices, and the mean end-of-day size).
#[derive(Debug, Clone, PartialEq)]
pub struct BucketRow {
    /// As exported (pseudonymised where built from a user id).
    pub bucket: String,
    pub owner: Option<String>,
    pub bytes: i128,
    /// Σ over the days of end-of-day bytes × the day's share of its month
    /// (`ledger::chargeback::MONTH_PARTS`) and Σ of the end-of-day bytes; `None` when not
    /// every day's sizes are known.
    pub held: Option<(i128, i128)>,
    pub days: i64,
}

/// The buckets of a window read from the sources: the sizes at its end, and for one whole
/// local day (`day_parts` of its month, `None` otherwise or when the read was not complete)
/// what they held over it.
pub fn bucket_rows(
    c: &Collected,
    r: &Resolver,
    storage: &StorageConfig,
    day_parts: Option<i128>,
) -> Vec<BucketRow> {
    c.buckets
        .iter()
        .map(|b| BucketRow {
            bucket: r.text(&b.bucket).into_owned(),
            owner: bucket_owner(storage, &b.bucket).map(|o| r.canonical(&o)),
            bytes: b.bytes,
            held: day_parts.map(|p| (b.bytes * p, b.bytes)),
            days: 1,
        })
        .collect()
}

pub fn storage_by_bucket(rows: &[BucketRow]) -> Artifact {
    use crate::ledger::chargeback::{mul_div, MONTH_PARTS};
    let mut t = Table::new(
        "storage_by_bucket.csv",
        &["bucket", "owner", "bytes", "gb_months", "average_bytes"],
    );
    for b in rows {
        t.row(&[
            b.bucket.clone(),
            b.owner.clone().unwrap_or_default(),
            b.bytes.to_string(),
            b.held.map_or_else(String::new, |(parts, _)| {
                format_fixed(mul_div(parts, 1_000_000, 1_000_000_000 * MONTH_PARTS), 6, 6)
            }),
            b.held.map_or_else(String::new, |(_, sum)| {
                mul_div(sum, 1, i128::from(b.days.max(1))).to_string()
            }),
        ]);
    }
    t.finish()
}

pub fn platform_metrics(c: &Collected) -> Artifact {
    use crate::sources::platform::format_value;
    let mut t = Table::new(
        "platform_metrics.csv",
        &[
            "metric",
            "labels",
            "value_at_end",
            "max_in_window",
            "increase_in_window",
        ],
    );
    for s in &c.platform {
        let f = |v: Option<i128>| v.map(format_value).unwrap_or_default();
        t.row(&[
            s.metric.clone(),
            s.labels.clone(),
            f(s.at_end),
            f(s.max),
            f(s.increase),
        ]);
    }
    t.finish()
}

pub fn database_sizes(c: &Collected, r: &Resolver) -> Artifact {
    let mut t = Table::new("database_sizes.csv", &["database", "server", "bytes"]);
    for d in &c.databases {
        t.row(&[
            r.text(&d.database).into_owned(),
            d.server.clone(),
            d.bytes.to_string(),
        ]);
    }
    t.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for bad in ["=SUM(A1)", "+1", "-2", "@cmd", "\tx", "\rx"] {
            assert!(neutralise(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralise("alice"), "alice");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn unknown_figures_are_empty_not_zero() {
        assert_eq!(figure(None, Unit::Count), "");
        assert_eq!(figure(Some(0), Unit::Count), "0");
        assert_eq!(figure(Some(1_500_000_000), Unit::NanosAsSeconds), "1.500");
        assert_eq!(figure(Some(2_310_000_000), Unit::PicoUsd), "0.002310");
    }
}
