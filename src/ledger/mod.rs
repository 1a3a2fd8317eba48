//! The ledger: one row per canonical user, every figure of `usage_by_user.csv`. This is the only
//! place figures are aggregated. Each source becomes a polars frame of `(user, figures…)`, grouped
//! per user and outer-joined on user; a source that was not fully seen leaves its columns empty
//! (unknown), never zero.
//!
//! All figures are integers in exact units (nanoseconds, 10^-12 USD, bytes) so no sum is ever
//! rounded twice; formatting to seconds and dollars happens once, in the renderer.

pub mod chargeback;
pub mod panels;

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;
use polars_ops::frame::join::JoinCoalesce;

use crate::collect::Collected;
use crate::config::StorageConfig;
use crate::identity::{bucket_owner, Resolver};
use crate::sources::keycloak::EventKind;
use crate::sources::SourceKind;

/// How a column's integer is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    /// Nanoseconds printed as seconds with 3 decimals.
    NanosAsSeconds,
    /// 10^-12 USD printed with 6 decimals.
    PicoUsd,
}

/// The contract's figure columns, in order, with their source and unit.
pub const COLUMNS: [(&str, SourceKind, Unit); 20] = [
    ("trino_queries", SourceKind::Trino, Unit::Count),
    ("trino_failed_queries", SourceKind::Trino, Unit::Count),
    ("trino_denied_queries", SourceKind::Trino, Unit::Count),
    ("trino_rows_scanned", SourceKind::Trino, Unit::Count),
    ("trino_bytes_scanned", SourceKind::Trino, Unit::Count),
    ("trino_cpu_seconds", SourceKind::Trino, Unit::NanosAsSeconds),
    ("llm_requests", SourceKind::Litellm, Unit::Count),
    ("llm_failed_requests", SourceKind::Litellm, Unit::Count),
    ("llm_prompt_tokens", SourceKind::Litellm, Unit::Count),
    ("llm_completion_tokens", SourceKind::Litellm, Unit::Count),
    ("llm_total_tokens", SourceKind::Litellm, Unit::Count),
    ("llm_cost_usd", SourceKind::Litellm, Unit::PicoUsd),
    ("notebook_sessions", SourceKind::Jupyterhub, Unit::Count),
    ("notebook_seconds", SourceKind::Jupyterhub, Unit::Count),
    (
        "notebook_cpu_seconds",
        SourceKind::Pods,
        Unit::NanosAsSeconds,
    ),
    ("notebook_peak_memory_bytes", SourceKind::Pods, Unit::Count),
    ("storage_bytes", SourceKind::Storage, Unit::Count),
    ("opa_denials", SourceKind::Opa, Unit::Count),
    ("logins", SourceKind::Keycloak, Unit::Count),
    ("login_failures", SourceKind::Keycloak, Unit::Count),
];

/// Where each column's figure is aggregated with max instead of sum.
const MAX_COLUMNS: [&str; 1] = ["notebook_peak_memory_bytes"];

/// Name a failed login is counted under when Keycloak printed neither username nor userId.
pub const UNKNOWN_USER: &str = "(unknown)";

#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    pub user: String,
    pub team: Option<String>,
    /// One per [`COLUMNS`] entry; `None` = unknown (the source was not fully seen).
    pub figures: Vec<Option<i64>>,
}

impl LedgerRow {
    pub fn figure(&self, column: &str) -> Option<i64> {
        let i = COLUMNS.iter().position(|(c, _, _)| *c == column)?;
        self.figures[i]
    }
}

#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub rows: Vec<LedgerRow>,
    /// Canonical users that still look like ids or e-mails.
    pub unresolved: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger aggregation failed: {0}")]
    Polars(#[from] PolarsError),
    /// A figure beyond i64 in its exact unit: refused rather than clamped to a wrong number.
    #[error("{0} does not fit the ledger's 64-bit exact units; the input is corrupt or the window far too long")]
    Overflow(&'static str),
}

/// Rows of one source's frame under construction: user + named integer columns.
struct Frame {
    users: Vec<String>,
    columns: Vec<(&'static str, Vec<i64>)>,
}

impl Frame {
    fn new(columns: &[&'static str]) -> Self {
        Frame {
            users: Vec::new(),
            columns: columns.iter().map(|c| (*c, Vec::new())).collect(),
        }
    }

    fn push(&mut self, user: String, values: &[i64]) {
        self.users.push(user);
        for (col, v) in self.columns.iter_mut().zip(values) {
            col.1.push(*v);
        }
    }

    /// Grouped per user: sums, or max for peak columns.
    fn grouped(self) -> PolarsResult<LazyFrame> {
        let height = self.users.len();
        let mut cols = vec![Column::new("user".into(), self.users)];
        let mut aggs = Vec::new();
        for (name, values) in self.columns {
            cols.push(Column::new(name.into(), values));
            aggs.push(if MAX_COLUMNS.contains(&name) {
                col(name).max()
            } else {
                col(name).sum()
            });
        }
        Ok(DataFrame::new(height, cols)?
            .lazy()
            .group_by([col("user")])
            .agg(aggs))
    }
}

/// An exact i128 figure as the ledger's i64, or an error naming it.
fn exact(v: i128, what: &'static str) -> Result<i64, LedgerError> {
    i64::try_from(v).map_err(|_| LedgerError::Overflow(what))
}

/// Builds the ledger from everything collected.
pub fn build(
    collected: &Collected,
    resolver: &Resolver,
    storage: &StorageConfig,
) -> Result<Ledger, LedgerError> {
    let mut frames = Vec::new();

    let mut trino = Frame::new(&COLUMNS[0..6].iter().map(|c| c.0).collect::<Vec<_>>());
    for q in &collected.trino {
        trino.push(
            resolver.canonical(&q.user),
            &[
                1,
                q.failed().into(),
                q.denied().into(),
                q.rows_scanned,
                q.bytes_scanned,
                q.cpu_ns,
            ],
        );
    }
    frames.push(trino);

    let mut llm = Frame::new(&COLUMNS[6..12].iter().map(|c| c.0).collect::<Vec<_>>());
    for u in &collected.llm {
        llm.push(
            resolver.canonical(&u.user),
            &[
                u.requests,
                u.failed,
                u.prompt_tokens,
                u.completion_tokens,
                u.total_tokens,
                exact(u.cost_units, "an LLM cost")?,
            ],
        );
    }
    frames.push(llm);

    // Session time is summed in nanoseconds and truncated to whole seconds after the sum.
    let mut hub = Frame::new(&["notebook_sessions", "notebook_ns"]);
    for s in &collected.sessions {
        hub.push(resolver.canonical(&s.user), &[1, s.overlap_ns]);
    }
    frames.push(hub);

    let mut pods = Frame::new(&["notebook_cpu_seconds", "notebook_peak_memory_bytes"]);
    for p in &collected.pods {
        if let Some(user) = &p.user {
            pods.push(
                resolver.canonical(user),
                &[
                    exact(p.cpu_ns, "a pod's CPU time")?,
                    exact(p.peak_memory_bytes, "a pod's memory")?,
                ],
            );
        }
    }
    frames.push(pods);

    let mut store = Frame::new(&["storage_bytes"]);
    for b in &collected.buckets {
        if let Some(owner) = bucket_owner(storage, &b.bucket) {
            store.push(
                resolver.canonical(&owner),
                &[exact(b.bytes, "a bucket size")?],
            );
        }
    }
    frames.push(store);

    let mut opa = Frame::new(&["opa_denials"]);
    for d in collected.opa_denials.iter().filter(|d| !d.user.is_empty()) {
        opa.push(resolver.canonical(&d.user), &[1]);
    }
    for u in &collected.opa_users {
        opa.push(resolver.canonical(u), &[0]);
    }
    frames.push(opa);

    let mut kc = Frame::new(&["logins", "login_failures"]);
    for e in collected
        .keycloak
        .iter()
        .filter(|e| e.kind == EventKind::User)
    {
        let who = e.username.as_deref().or(e.user_id.as_deref());
        let user = match who {
            Some(w) => resolver.canonical(w),
            None if e.event_type == "LOGIN_ERROR" => UNKNOWN_USER.to_string(),
            None => continue,
        };
        let login = i64::from(e.event_type == "LOGIN");
        let failure = i64::from(e.event_type == "LOGIN_ERROR");
        kc.push(user, &[login, failure]);
    }
    frames.push(kc);

    let mut joined: Option<LazyFrame> = None;
    for f in frames {
        let g = f.grouped()?;
        joined = Some(match joined {
            None => g,
            Some(j) => j.join(
                g,
                [col("user")],
                [col("user")],
                JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            ),
        });
    }
    let df = match joined {
        Some(j) => j.collect()?,
        None => return Ok(Ledger::default()),
    };
    extract(&df, collected, resolver)
}

fn extract(
    df: &DataFrame,
    collected: &Collected,
    resolver: &Resolver,
) -> Result<Ledger, LedgerError> {
    let users = df.column("user")?.str()?;
    let figure_col = |name: &str| -> PolarsResult<Vec<Option<i64>>> {
        let c = df.column(name)?.cast(&DataType::Int64)?;
        Ok(c.i64()?.iter().collect())
    };
    let mut values: BTreeMap<&str, Vec<Option<i64>>> = BTreeMap::new();
    for (name, _, _) in COLUMNS {
        let v = if name == "notebook_seconds" {
            figure_col("notebook_ns")?
                .into_iter()
                .map(|ns| ns.map(|ns| ns.div_euclid(1_000_000_000)))
                .collect()
        } else {
            figure_col(name)?
        };
        values.insert(name, v);
    }
    let mut rows: BTreeMap<String, LedgerRow> = BTreeMap::new();
    for (i, user) in users.iter().enumerate() {
        let Some(user) = user else { continue };
        let figures = COLUMNS
            .iter()
            .map(|(name, source, _)| {
                if collected.complete(*source) {
                    Some(values[name][i].unwrap_or(0))
                } else {
                    None
                }
            })
            .collect();
        rows.insert(
            user.to_string(),
            LedgerRow {
                user: user.to_string(),
                team: resolver.team(user).map(str::to_string),
                figures,
            },
        );
    }
    let unresolved: BTreeSet<String> = rows
        .keys()
        .filter(|u| resolver.is_unresolved(u))
        .cloned()
        .collect();
    Ok(Ledger {
        rows: rows.into_values().collect(),
        unresolved: unresolved.into_iter().collect(),
    })
}

/// The chargeback columns per team: sums of the members' figures.
pub const TEAM_COLUMNS: [(&str, Unit); 10] = [
    ("trino_queries", Unit::Count),
    ("trino_rows_scanned", Unit::Count),
    ("trino_bytes_scanned", Unit::Count),
    ("trino_cpu_seconds", Unit::NanosAsSeconds),
    ("llm_requests", Unit::Count),
    ("llm_total_tokens", Unit::Count),
    ("llm_cost_usd", Unit::PicoUsd),
    ("notebook_seconds", Unit::Count),
    ("notebook_cpu_seconds", Unit::NanosAsSeconds),
    ("storage_bytes", Unit::Count),
];

/// The chargeback row for everything no team can be charged for: users in no team, the
/// pseudo-users `(unknown)` and `(unattributed)`, and shared resources when no team exists.
/// Never dropped: finance sees what nobody pays for.
pub const NO_TEAM: &str = "unallocated";

#[derive(Debug, Clone, PartialEq)]
pub struct TeamRow {
    pub team: String,
    pub users: usize,
    pub figures: Vec<Option<i64>>,
}

impl Ledger {
    /// Per-team sums for finance; unknown stays unknown.
    pub fn by_team(&self) -> Vec<TeamRow> {
        let mut teams: BTreeMap<String, TeamRow> = BTreeMap::new();
        for r in &self.rows {
            let name = r.team.clone().unwrap_or_else(|| NO_TEAM.to_string());
            let t = teams.entry(name.clone()).or_insert_with(|| TeamRow {
                team: name,
                users: 0,
                figures: vec![Some(0); TEAM_COLUMNS.len()],
            });
            t.users += 1;
            for (i, (c, _)) in TEAM_COLUMNS.iter().enumerate() {
                t.figures[i] = match (t.figures[i], r.figure(c)) {
                    (Some(a), Some(b)) => Some(a.saturating_add(b)),
                    _ => None,
                };
            }
        }
        teams.into_values().collect()
    }
}

/// LLM usage per canonical user, model and provider (several spellings of one user merge).
pub fn llm_by_user_model(
    collected: &Collected,
    resolver: &Resolver,
) -> Vec<crate::sources::litellm::LlmUsage> {
    let mut out: BTreeMap<(String, String, String), crate::sources::litellm::LlmUsage> =
        BTreeMap::new();
    for u in &collected.llm {
        let user = resolver.canonical(&u.user);
        let e = out
            .entry((user.clone(), u.model.clone(), u.provider.clone()))
            .or_insert_with(|| crate::sources::litellm::LlmUsage {
                user,
                model: u.model.clone(),
                provider: u.provider.clone(),
                ..Default::default()
            });
        e.requests += u.requests;
        e.failed += u.failed;
        e.prompt_tokens += u.prompt_tokens;
        e.completion_tokens += u.completion_tokens;
        e.total_tokens += u.total_tokens;
        e.cost_units += u.cost_units;
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IdentityConfig;
    use crate::sources::jupyterhub::NotebookSession;
    use crate::sources::storage::BucketSize;
    use crate::sources::{Completeness, SourceReport, Tally};

    fn report(kind: SourceKind, status: Completeness) -> SourceReport {
        SourceReport {
            source: kind,
            backend: "files".into(),
            status,
            tally: Tally::default(),
            error: None,
            notes: vec![],
        }
    }

    fn collected(incomplete: &[SourceKind]) -> Collected {
        let mut c = Collected::default();
        for k in SourceKind::ALL {
            let status = if incomplete.contains(&k) {
                Completeness::Partial
            } else {
                Completeness::Complete
            };
            c.reports.insert(k, report(k, status));
        }
        c
    }

    fn session(user: &str, overlap_ns: i64) -> NotebookSession {
        NotebookSession {
            user: user.into(),
            server: String::new(),
            start_ns: Some(0),
            stop_ns: Some(1),
            overlap_ns,
        }
    }

    #[test]
    fn session_seconds_are_truncated_after_the_sum() {
        let mut c = collected(&[]);
        c.sessions = vec![session("Ann", 600_000_000), session("ann", 600_000_000)];
        let r = Resolver::new(&IdentityConfig::default(), &BTreeMap::new());
        let l = build(&c, &r, &StorageConfig::default()).unwrap();
        assert_eq!(l.rows.len(), 1, "one canonical user");
        assert_eq!(l.rows[0].figure("notebook_sessions"), Some(2));
        assert_eq!(
            l.rows[0].figure("notebook_seconds"),
            Some(1),
            "0.6 s + 0.6 s = 1 s, not 0 + 0"
        );
        assert_eq!(
            l.rows[0].figure("trino_queries"),
            Some(0),
            "complete source, nothing seen: 0"
        );
    }

    #[test]
    fn an_incomplete_source_is_unknown_for_everyone_but_its_users_remain() {
        let mut c = collected(&[SourceKind::Jupyterhub]);
        c.sessions = vec![session("bob", 5_000_000_000)];
        c.opa_users.insert("alice".into());
        let r = Resolver::new(&IdentityConfig::default(), &BTreeMap::new());
        let l = build(&c, &r, &StorageConfig::default()).unwrap();
        let users: Vec<&str> = l.rows.iter().map(|r| r.user.as_str()).collect();
        assert_eq!(users, ["alice", "bob"]);
        for row in &l.rows {
            assert_eq!(row.figure("notebook_seconds"), None, "{}", row.user);
            assert_eq!(row.figure("opa_denials"), Some(0), "{}", row.user);
        }
    }

    #[test]
    fn a_figure_beyond_64_bits_is_refused_not_clamped() {
        let mut c = collected(&[]);
        c.buckets = vec![BucketSize {
            bucket: "home-ann".into(),
            bytes: i128::from(i64::MAX) + 1,
        }];
        let storage = StorageConfig {
            owner_patterns: vec![("home-".into(), String::new())],
            ..Default::default()
        };
        let r = Resolver::new(&IdentityConfig::default(), &BTreeMap::new());
        let err = build(&c, &r, &storage).unwrap_err();
        assert!(err.to_string().contains("bucket size"), "{err}");
    }
}
