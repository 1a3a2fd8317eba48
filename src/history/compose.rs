//! A week, a month, a quarter or any span of days composed from the daily history, never from
//! the log servers (they no longer hold it). Sums compose exactly: counts, bytes scanned, CPU,
//! tokens and cost add up day by day; storage is the value at the period's end (the last day's
//! end-of-day figure); peak memory is the largest daily peak. A column is known only if every
//! day of the span is in the history and its source was complete that day — a month missing a
//! day is not shown as the sum of the other days (that would be a plausible wrong number); the
//! days are named and the report is PARTIAL.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::table::{Table, TableError, Values};
use super::{
    missing_tables, path, stored_name, DATABASES, FINDINGS, LLM, SCHEMA_KEY, SCHEMA_VERSION,
    SESSIONS, SOURCES, STORAGE, USAGE,
};
use crate::identity::looks_unresolved;
use crate::ledger::{Ledger, LedgerRow, COLUMNS};
use crate::sources::databases::DatabaseSize;
use crate::sources::litellm::LlmUsage;
use crate::sources::{Completeness, SourceKind, SourceReport, Tally};
use crate::verify::EvidenceStore;
use crate::window::{local_midnight, Window};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayState {
    Present,
    /// Some of the day's tables are not in the history (all of them when the nightly run did
    /// not happen or failed); they are named in [`Day::missing_tables`].
    Missing,
}

#[derive(Debug, Clone)]
pub struct Day {
    pub date: NaiveDate,
    pub state: DayState,
    /// Per source: status and error as the day's run recorded them.
    pub sources: BTreeMap<SourceKind, (Completeness, Option<String>, u64, u64)>,
    /// The history tables of the day that are not there (empty when present).
    pub missing_tables: Vec<&'static str>,
}

impl Day {
    pub(crate) fn complete(&self, kind: SourceKind) -> bool {
        self.state == DayState::Present
            && self
                .sources
                .get(&kind)
                .is_some_and(|s| s.0 == Completeness::Complete)
    }
}

#[derive(Debug, Clone)]
pub struct Bucket {
    pub bucket: String,
    pub owner: Option<String>,
    pub bytes: i64,
}

#[derive(Debug)]
pub struct Composed {
    pub ledger: Ledger,
    pub days: Vec<Day>,
    pub llm: Vec<LlmUsage>,
    /// Bucket and database sizes of the last day (the period's end); empty if that day is missing.
    pub buckets: Vec<Bucket>,
    pub databases: Vec<DatabaseSize>,
    /// One per source, as if the span were one read: complete only if every day was.
    pub reports: Vec<SourceReport>,
    /// Σ over the days of end-of-day bucket bytes × the day's share of its month, per owner
    /// (`None`: no owner), for GB-months (see `ledger::chargeback::MONTH_PARTS`).
    pub storage_byte_parts: BTreeMap<Option<String>, i128>,
    /// The same for the databases.
    pub database_byte_parts: i128,
    /// Every bucket any day of the span held (one deleted before the end still held bytes),
    /// with the owner the nightly run stored and its sums over the days.
    pub bucket_use: Vec<crate::render::csv::BucketRow>,
    /// Every day's findings, in day order.
    pub findings: Vec<crate::compliance::findings::Finding>,
    /// The dashboard's series, one bucket per day.
    pub trend: super::activity::Trend,
}

impl Composed {
    pub fn missing_days(&self) -> Vec<NaiveDate> {
        self.days
            .iter()
            .filter(|d| d.state == DayState::Missing)
            .map(|d| d.date)
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("reading {0}: {1}")]
    Read(String, String),
    #[error("{0}: {1}")]
    Table(String, TableError),
    #[error("{0}: schema version {1:?}, this tool reads {SCHEMA_VERSION}")]
    Schema(String, String),
    #[error("{0}: {1}")]
    Shape(String, String),
    #[error("the sum of {0} overflows")]
    Overflow(String),
}

/// The local calendar days whose midnight lies in the window.
pub fn days_of(window: &Window, tz: Tz) -> Vec<NaiveDate> {
    let mut d = window.start.with_timezone(&tz).date_naive();
    let mut out = Vec::new();
    while local_midnight(tz, d) < window.end {
        if local_midnight(tz, d) >= window.start {
            out.push(d);
        }
        d = d.succ_opt().unwrap_or(d);
        if out.len() > 3660 {
            break;
        }
    }
    out
}

fn read(store: &dyn EvidenceStore, name: &str) -> Result<Option<Table>, ComposeError> {
    let Some(bytes) = store
        .get(name)
        .map_err(|e| ComposeError::Read(name.to_string(), e))?
    else {
        return Ok(None);
    };
    let t = Table::from_parquet(bytes).map_err(|e| ComposeError::Table(name.to_string(), e))?;
    match t.meta(SCHEMA_KEY) {
        Some(SCHEMA_VERSION) => Ok(Some(t)),
        other => Err(ComposeError::Schema(
            name.to_string(),
            other.unwrap_or("none").to_string(),
        )),
    }
}

fn strs<'t>(t: &'t Table, name: &str, file: &str) -> Result<&'t [Option<String>], ComposeError> {
    match t.column(name).map(|c| &c.values) {
        Some(Values::Str(v)) => Ok(v),
        _ => Err(ComposeError::Shape(
            file.into(),
            format!("no text column {name}"),
        )),
    }
}

fn ints<'t>(t: &'t Table, name: &str, file: &str) -> Result<&'t [Option<i64>], ComposeError> {
    match t.column(name).map(|c| &c.values) {
        Some(Values::Int(v)) => Ok(v),
        _ => Err(ComposeError::Shape(
            file.into(),
            format!("no integer column {name}"),
        )),
    }
}

fn status(s: &str) -> Completeness {
    match s {
        "complete" => Completeness::Complete,
        "partial" => Completeness::Partial,
        _ => Completeness::Unavailable,
    }
}

/// Per-user figures of one day.
type DayRows = BTreeMap<String, (Option<String>, Vec<Option<i64>>)>;

/// Each history file fetched once: the presence check, the tables and the daily trends all
/// read the same files, and from S3 each read is a GET.
struct Fetched<'a> {
    store: &'a dyn EvidenceStore,
    files: std::cell::RefCell<std::collections::HashMap<String, Option<Vec<u8>>>>,
}

impl EvidenceStore for Fetched<'_> {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        if let Some(hit) = self.files.borrow().get(name) {
            return Ok(hit.clone());
        }
        let got = self.store.get(name)?;
        self.files
            .borrow_mut()
            .insert(name.to_string(), got.clone());
        Ok(got)
    }

    fn describe(&self) -> String {
        self.store.describe()
    }
}

pub fn compose(store: &dyn EvidenceStore, dates: &[NaiveDate]) -> Result<Composed, ComposeError> {
    let fetched = Fetched {
        store,
        files: Default::default(),
    };
    let store: &dyn EvidenceStore = &fetched;
    let mut days = Vec::new();
    let mut day_rows: Vec<DayRows> = Vec::new();
    let mut llm: BTreeMap<(String, String, String), LlmUsage> = BTreeMap::new();
    let mut llm_days_ok = true;
    let mut storage_byte_parts: BTreeMap<Option<String>, i128> = BTreeMap::new();
    let mut bucket_use: BTreeMap<String, crate::render::csv::BucketRow> = BTreeMap::new();
    let mut database_byte_parts = 0i128;
    let mut findings = Vec::new();
    let mut unresolved_seen: BTreeSet<String> = BTreeSet::new();
    let mut sessions = SessionCount::default();
    for &date in dates {
        let usage_name = path(USAGE, date);
        let absent =
            missing_tables(store, date).map_err(|e| ComposeError::Read(usage_name.clone(), e))?;
        let (false, Some(usage), Some(sources)) = (
            !absent.is_empty(),
            read(store, &usage_name)?,
            read(store, &path(SOURCES, date))?,
        ) else {
            days.push(Day {
                date,
                state: DayState::Missing,
                sources: BTreeMap::new(),
                missing_tables: absent,
            });
            day_rows.push(BTreeMap::new());
            llm_days_ok = false;
            sessions.carry.clear();
            continue;
        };
        let sname = path(SOURCES, date);
        let mut srcs = BTreeMap::new();
        let (kinds, st, err) = (
            strs(&sources, "source", &sname)?,
            strs(&sources, "status", &sname)?,
            strs(&sources, "error", &sname)?,
        );
        let (read_, rejected) = (
            ints(&sources, "lines_read", &sname)?,
            ints(&sources, "lines_rejected", &sname)?,
        );
        for i in 0..sources.rows() {
            if let Some(k) = kinds[i].as_deref().and_then(SourceKind::from_name) {
                srcs.insert(
                    k,
                    (
                        status(st[i].as_deref().unwrap_or("")),
                        err[i].clone(),
                        read_[i].unwrap_or(0) as u64,
                        rejected[i].unwrap_or(0) as u64,
                    ),
                );
            }
        }
        let users = strs(&usage, "user", &usage_name)?;
        if let Ok(flags) = ints(&usage, "unresolved", &usage_name) {
            for (u, f) in users.iter().zip(flags) {
                if *f == Some(1) {
                    unresolved_seen.insert(u.clone().unwrap_or_default());
                }
            }
        }
        let teams = strs(&usage, "team", &usage_name)?;
        let figures: Vec<&[Option<i64>]> = COLUMNS
            .iter()
            .map(|(c, _, u)| ints(&usage, &stored_name(c, *u), &usage_name))
            .collect::<Result<_, _>>()?;
        let mut rows = BTreeMap::new();
        for i in 0..usage.rows() {
            let user = users[i].clone().unwrap_or_default();
            rows.insert(
                user,
                (teams[i].clone(), figures.iter().map(|f| f[i]).collect()),
            );
        }
        day_rows.push(rows);
        let parts = crate::ledger::chargeback::day_parts(date);
        if let Some(t) = read(store, &path(STORAGE, date))? {
            let n = path(STORAGE, date);
            let (b, o, x) = (
                strs(&t, "bucket", &n)?,
                strs(&t, "owner", &n)?,
                ints(&t, "bytes", &n)?,
            );
            for i in 0..t.rows() {
                let bytes = i128::from(x[i].unwrap_or(0));
                *storage_byte_parts.entry(o[i].clone()).or_default() += bytes * parts;
                let name = b[i].clone().unwrap_or_default();
                let u = bucket_use.entry(name.clone()).or_insert_with(|| {
                    crate::render::csv::BucketRow {
                        bucket: name,
                        owner: None,
                        bytes: 0,
                        held: Some((0, 0)),
                        days: dates.len() as i64,
                    }
                });
                u.owner = o[i].clone();
                if let Some((p, sum)) = &mut u.held {
                    *p += bytes * parts;
                    *sum += bytes;
                }
            }
        }
        if let Some(t) = read(store, &path(DATABASES, date))? {
            let n = path(DATABASES, date);
            database_byte_parts += ints(&t, "bytes", &n)?
                .iter()
                .map(|x| i128::from(x.unwrap_or(0)))
                .sum::<i128>()
                * parts;
        }
        if let Some(t) = read(store, &path(FINDINGS, date))? {
            findings.extend(day_findings(&t, &path(FINDINGS, date))?);
        }
        let day = Day {
            date,
            state: DayState::Present,
            sources: srcs,
            missing_tables: Vec::new(),
        };
        if let Some(t) = read(store, &path(SESSIONS, date))? {
            sessions.day(&t, date, &path(SESSIONS, date))?;
        }
        if day.complete(SourceKind::Litellm) {
            if let Some(t) = read(store, &path(LLM, date))? {
                let n = path(LLM, date);
                let (u, m, p) = (
                    strs(&t, "user", &n)?,
                    strs(&t, "model", &n)?,
                    strs(&t, "provider", &n)?,
                );
                let cols: Vec<&[Option<i64>]> = [
                    "requests",
                    "failed_requests",
                    "prompt_tokens",
                    "completion_tokens",
                    "total_tokens",
                    "cost_picousd",
                ]
                .iter()
                .map(|c| ints(&t, c, &n))
                .collect::<Result<_, _>>()?;
                for i in 0..t.rows() {
                    let (user, model, provider) = (
                        u[i].clone().unwrap_or_default(),
                        m[i].clone().unwrap_or_default(),
                        p[i].clone().unwrap_or_default(),
                    );
                    let e = llm
                        .entry((user.clone(), model.clone(), provider.clone()))
                        .or_insert_with(|| LlmUsage {
                            user,
                            model,
                            provider,
                            ..Default::default()
                        });
                    let v = |k: usize| cols[k][i].unwrap_or(0);
                    e.requests += v(0);
                    e.failed += v(1);
                    e.prompt_tokens += v(2);
                    e.completion_tokens += v(3);
                    e.total_tokens += v(4);
                    e.cost_units += i128::from(v(5));
                }
            } else {
                llm_days_ok = false;
            }
        } else {
            llm_days_ok = false;
        }
        days.push(day);
    }

    // Which columns are known over the whole span.
    let known: Vec<bool> = COLUMNS
        .iter()
        .map(|(_, kind, _)| !days.is_empty() && days.iter().all(|d| d.complete(*kind)))
        .collect();
    let users: BTreeSet<&String> = day_rows.iter().flat_map(|d| d.keys()).collect();
    let last = day_rows.len().saturating_sub(1);
    let mut rows = Vec::new();
    for user in users {
        let mut team = None;
        let mut figures = Vec::with_capacity(COLUMNS.len());
        for (c, (name, _, _)) in COLUMNS.iter().enumerate() {
            if !known[c] {
                figures.push(None);
                continue;
            }
            let mut values = day_rows
                .iter()
                .map(|d| d.get(user).and_then(|r| r.1[c]).unwrap_or(0));
            let v = match *name {
                // Distinct sessions of the span: one that ran across midnight is in two days.
                "notebook_sessions" => sessions.count(user),
                "storage_bytes" => day_rows[last].get(user).and_then(|r| r.1[c]).unwrap_or(0),
                "notebook_peak_memory_bytes" => values.max().unwrap_or(0),
                _ => values
                    .try_fold(0i64, i64::checked_add)
                    .ok_or_else(|| ComposeError::Overflow(name.to_string()))?,
            };
            figures.push(Some(v));
        }
        for d in &day_rows {
            if let Some((Some(t), _)) = d.get(user) {
                team = Some(t.clone());
            }
        }
        rows.push(LedgerRow {
            user: user.clone(),
            team,
            figures,
        });
    }
    // As each day's run judged it (pseudonyms hide an e-mail or a UUID); a day written before
    // the flag existed falls back to the name's look.
    let unresolved = rows
        .iter()
        .filter(|r| unresolved_seen.contains(&r.user) || looks_unresolved(&r.user))
        .map(|r| r.user.clone())
        .collect();

    // Sizes at the period's end: the last day's tables.
    let mut buckets = Vec::new();
    let mut databases = Vec::new();
    if let Some(d) = days.last().filter(|d| d.state == DayState::Present) {
        if let Some(t) = read(store, &path(STORAGE, d.date))? {
            let n = path(STORAGE, d.date);
            let (b, o, x) = (
                strs(&t, "bucket", &n)?,
                strs(&t, "owner", &n)?,
                ints(&t, "bytes", &n)?,
            );
            for i in 0..t.rows() {
                if let Some(u) = bucket_use.get_mut(b[i].as_deref().unwrap_or_default()) {
                    u.bytes = i128::from(x[i].unwrap_or(0));
                }
                buckets.push(Bucket {
                    bucket: b[i].clone().unwrap_or_default(),
                    owner: o[i].clone(),
                    bytes: x[i].unwrap_or(0),
                });
            }
        }
        if let Some(t) = read(store, &path(DATABASES, d.date))? {
            let n = path(DATABASES, d.date);
            let (db, s, x) = (
                strs(&t, "database", &n)?,
                strs(&t, "server", &n)?,
                ints(&t, "bytes", &n)?,
            );
            for i in 0..t.rows() {
                databases.push(DatabaseSize {
                    database: db[i].clone().unwrap_or_default(),
                    server: s[i].clone().unwrap_or_default(),
                    bytes: i128::from(x[i].unwrap_or(0)),
                });
            }
        }
    }

    // An optional source (platform gauges) counts where the nightly runs had it configured,
    // as it does in their own reports.
    let reports = SourceKind::ALL
        .iter()
        .filter(|k| !k.optional() || days.iter().any(|d| d.sources.contains_key(k)))
        .map(|&kind| span_report(kind, &days))
        .collect();
    let trend = super::activity::compose(store, &days);
    // The buckets at the period's end; with every day's storage known, also those an earlier
    // day held (deleted since: 0 bytes at the end, GB-months still held) and the sums.
    let all_known = days.iter().all(|d| d.complete(SourceKind::Storage));
    let at_end: BTreeSet<&str> = buckets.iter().map(|b| b.bucket.as_str()).collect();
    let bucket_use = bucket_use
        .into_values()
        .filter(|b| all_known || at_end.contains(b.bucket.as_str()))
        .map(|mut b| {
            if !all_known {
                b.held = None;
            }
            b
        })
        .collect();
    Ok(Composed {
        ledger: Ledger { rows, unresolved },
        llm: if llm_days_ok {
            llm.into_values().collect()
        } else {
            Vec::new()
        },
        buckets,
        databases,
        reports,
        days,
        storage_byte_parts,
        database_byte_parts,
        bucket_use,
        findings,
        trend,
    })
}

/// Which session a day's record is, so a session seen on several days counts once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SessionStart {
    Known(i64),
    /// Began before the lookback horizon of the first day that saw it.
    Unknown(NaiveDate),
}

#[derive(Debug, Default)]
struct SessionCount {
    /// Per (user, server): the session still running at the end of the previous day.
    carry: BTreeMap<(String, String), SessionStart>,
    seen: BTreeMap<String, BTreeSet<(String, SessionStart)>>,
}

impl SessionCount {
    /// A session's start is known on every day whose lookback reaches it, so the same start is
    /// the same session; a record without a start continues the session the previous day left
    /// running on that server, or is one that began before any day of the span could see.
    fn day(&mut self, t: &Table, date: NaiveDate, file: &str) -> Result<(), ComposeError> {
        let (users, servers) = (strs(t, "user", file)?, strs(t, "server", file)?);
        let (starts, stops) = (ints(t, "start_ns", file)?, ints(t, "stop_ns", file)?);
        let mut carry = BTreeMap::new();
        for i in 0..t.rows() {
            let key = (
                users[i].clone().unwrap_or_default(),
                servers[i].clone().unwrap_or_default(),
            );
            let start = match starts[i] {
                Some(s) => SessionStart::Known(s),
                None => self
                    .carry
                    .get(&key)
                    .cloned()
                    .unwrap_or(SessionStart::Unknown(date)),
            };
            if stops[i].is_none() {
                carry.insert(key.clone(), start.clone());
            }
            self.seen.entry(key.0).or_default().insert((key.1, start));
        }
        self.carry = carry;
        Ok(())
    }

    fn count(&self, user: &str) -> i64 {
        self.seen.get(user).map_or(0, |s| s.len() as i64)
    }
}

/// A day's findings back from its table; rules this version does not know are kept under the
/// nearest honest name rather than dropped.
fn day_findings(
    t: &Table,
    name: &str,
) -> Result<Vec<crate::compliance::findings::Finding>, ComposeError> {
    use crate::compliance::findings::{Finding, Severity, RULES};
    let (sev, rule, subject, summary, evidence) = (
        strs(t, "severity", name)?,
        strs(t, "rule", name)?,
        strs(t, "subject", name)?,
        strs(t, "summary", name)?,
        strs(t, "evidence", name)?,
    );
    let (count, first, last) = (
        ints(t, "count", name)?,
        ints(t, "first_ns", name)?,
        ints(t, "last_ns", name)?,
    );
    let mut out = Vec::new();
    for i in 0..t.rows() {
        let r = rule[i].as_deref().unwrap_or("");
        let Some((known, _)) = RULES.iter().find(|(k, _)| *k == r) else {
            continue;
        };
        out.push(Finding {
            rule: known,
            severity: match sev[i].as_deref() {
                Some("high") => Severity::High,
                Some("medium") => Severity::Medium,
                _ => Severity::Low,
            },
            subject: subject[i].clone().unwrap_or_default(),
            summary: summary[i].clone().unwrap_or_default(),
            count: count[i].unwrap_or(0) as u64,
            first_ns: first[i],
            last_ns: last[i],
            evidence: evidence[i]
                .as_deref()
                .unwrap_or("")
                .lines()
                .map(String::from)
                .collect(),
        });
    }
    Ok(out)
}

fn span_report(kind: SourceKind, days: &[Day]) -> SourceReport {
    let mut tally = Tally::default();
    let mut problems = Vec::new();
    for d in days {
        match (&d.state, d.sources.get(&kind)) {
            (DayState::Missing, _) => problems.push(format!("{} not in the history", d.date)),
            (_, None) => problems.push(format!("{}: not recorded", d.date)),
            (_, Some((status, err, read, rejected))) => {
                tally.lines_read += read;
                tally.lines_rejected += rejected;
                if *status != Completeness::Complete {
                    problems.push(format!(
                        "{}: {}",
                        d.date,
                        err.as_deref().unwrap_or("not complete")
                    ));
                }
            }
        }
    }
    let status = if problems.is_empty() && !days.is_empty() {
        Completeness::Complete
    } else if tally.lines_read > 0 {
        Completeness::Partial
    } else {
        Completeness::Unavailable
    };
    SourceReport {
        source: kind,
        backend: "history".into(),
        status,
        tally,
        error: (!problems.is_empty()).then(|| {
            let mut p = problems;
            if p.len() > 10 {
                let more = p.len() - 10;
                p.truncate(10);
                p.push(format!("and {more} more"));
            }
            p.join("; ")
        }),
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_of_windows() {
        let w = |a: &str, b: &str| {
            Window::explicit(
                chrono::DateTime::parse_from_rfc3339(a).unwrap().into(),
                chrono::DateTime::parse_from_rfc3339(b).unwrap().into(),
            )
            .unwrap()
        };
        let d = days_of(&w("2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"), Tz::UTC);
        assert_eq!(d.len(), 7);
        assert_eq!(d[0].to_string(), "2026-11-23");
        assert_eq!(d[6].to_string(), "2026-11-29");
        let berlin = days_of(
            &w("2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z"),
            chrono_tz::Europe::Berlin,
        );
        assert_eq!(berlin.len(), 30);
        assert_eq!(berlin[0].to_string(), "2026-11-01");
    }
}
