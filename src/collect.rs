//! Collect: every configured source read concurrently, each into its typed records plus a
//! completeness report. A source that fails is reported, never fatal: the run goes on and the
//! figures it would have given are marked unknown.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use tokio::runtime::Handle;
use tracing::{info, warn};

use crate::backends::loki::Loki;
use crate::backends::prometheus::Prometheus;
use crate::backends::{files, postgres};
use crate::config::{Backend, Config, SourceConfig};
use crate::sources::databases::{DatabaseSize, DatabasesParser};
use crate::sources::jupyterhub::{JupyterhubParser, NotebookSession};
use crate::sources::keycloak::{KeycloakEvent, KeycloakParser};
use crate::sources::litellm::{LlmHour, LlmUsage};
use crate::sources::opa::{OpaDenial, OpaParser};
use crate::sources::platform::{PlatformParser, PlatformSeries};
use crate::sources::pods::{PodUsage, PodsParser};
use crate::sources::storage::{BucketSize, StorageParser};
use crate::sources::trino::{TrinoParser, TrinoQuery};
use crate::sources::{databases, storage};
use crate::sources::{Completeness, LineParser, SampleParser, SourceKind, SourceReport, Tally};
use crate::window::Window;

/// Everything the sources returned for one window.
#[derive(Debug, Default)]
pub struct Collected {
    pub reports: BTreeMap<SourceKind, SourceReport>,
    pub trino: Vec<TrinoQuery>,
    pub opa_denials: Vec<OpaDenial>,
    pub opa_users: BTreeSet<String>,
    pub keycloak: Vec<KeycloakEvent>,
    /// Keycloak `userId` -> `username` pairs, for identity resolution.
    pub keycloak_names: BTreeMap<String, String>,
    pub sessions: Vec<NotebookSession>,
    pub llm: Vec<LlmUsage>,
    /// Requests per (hour, model), for the request-rate and latency panels.
    pub llm_hours: Vec<LlmHour>,
    /// OPA decision log lines per hour (volume, not deduplicated decisions).
    pub opa_lines_per_hour: BTreeMap<i64, u64>,
    /// Keycloak groups per raw user name, as OPA saw them.
    pub user_groups: BTreeMap<String, Vec<String>>,
    pub buckets: Vec<BucketSize>,
    pub databases: Vec<DatabaseSize>,
    pub pods: Vec<PodUsage>,
    pub platform: Vec<PlatformSeries>,
}

impl Collected {
    /// Whether a source's figures can be trusted for the whole window.
    pub fn complete(&self, kind: SourceKind) -> bool {
        self.reports
            .get(&kind)
            .is_some_and(|r| r.status == Completeness::Complete)
    }

    pub fn all_complete(&self) -> bool {
        SourceKind::ALL.iter().all(|k| self.complete(*k))
    }
}

/// One source's result before it is merged.
enum Records {
    Trino(Vec<TrinoQuery>),
    Opa(
        Vec<OpaDenial>,
        BTreeSet<String>,
        BTreeMap<i64, u64>,
        BTreeMap<String, Vec<String>>,
    ),
    Keycloak(Vec<KeycloakEvent>, BTreeMap<String, String>),
    Jupyterhub(Vec<NotebookSession>),
    Litellm(Vec<LlmUsage>, Vec<LlmHour>),
    Storage(Vec<BucketSize>),
    Databases(Vec<DatabaseSize>),
    Pods(Vec<PodUsage>),
    Platform(Vec<PlatformSeries>),
}

impl Records {
    fn empty(kind: SourceKind) -> Records {
        match kind {
            SourceKind::Trino => Records::Trino(Vec::new()),
            SourceKind::Opa => Records::Opa(
                Vec::new(),
                BTreeSet::new(),
                BTreeMap::new(),
                BTreeMap::new(),
            ),
            SourceKind::Keycloak => Records::Keycloak(Vec::new(), BTreeMap::new()),
            SourceKind::Jupyterhub => Records::Jupyterhub(Vec::new()),
            SourceKind::Litellm => Records::Litellm(Vec::new(), Vec::new()),
            SourceKind::Storage => Records::Storage(Vec::new()),
            SourceKind::Databases => Records::Databases(Vec::new()),
            SourceKind::Pods => Records::Pods(Vec::new()),
            SourceKind::Platform => Records::Platform(Vec::new()),
        }
    }
}

/// Reads every source of `config` for `window`, concurrently: one thread per source parses,
/// while the HTTP backends fetch on a shared async runtime.
///
fn source_bar(kind: SourceKind, backend: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner().with_message("reading");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {prefix:<11} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_prefix(format!("{} ({backend})", kind.name()));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// `clock` is the real time, used only for the servers' retention horizons: a pinned `--at` must
/// not make data a server has already deleted look present.
pub fn collect(config: &Config, window: &Window, clock: DateTime<Utc>) -> Collected {
    let mut out = Collected::default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            for sc in &config.sources {
                out.reports.insert(
                    sc.kind,
                    unavailable(sc.kind, sc.backend.name(), format!("no async runtime: {e}")),
                );
            }
            return out;
        }
    };
    let rt = runtime.handle();
    // One spinner per source on a terminal; indicatif draws nothing when stderr is not a TTY
    // (a CronJob's logs get the JSON "source read" events instead).
    let progress =
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
    let results: Vec<(SourceKind, String, Driven)> = std::thread::scope(|scope| {
        let handles: Vec<_> = config
            .sources
            .iter()
            .map(|sc| {
                let kind = sc.kind;
                let backend = sc.backend.name().to_string();
                (
                    kind,
                    backend,
                    scope.spawn({
                        let bar = progress.add(source_bar(kind, sc.backend.name()));
                        move || {
                            let driven = read_source(config, sc, window, rt, clock);
                            let (_, result, tally) = &driven;
                            bar.finish_with_message(match result {
                                Ok(_) => format!("done, {} read", tally.lines_read),
                                Err(e) => format!("FAILED after {} read: {e}", tally.lines_read),
                            });
                            driven
                        }
                    }),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(kind, backend, h)| {
                let outcome = h.join().unwrap_or_else(|_| {
                    (
                        Records::empty(kind),
                        Err("the source's reader panicked".to_string()),
                        Tally::default(),
                    )
                });
                (kind, backend, outcome)
            })
            .collect()
    });

    for kind in SourceKind::ALL {
        if config.source(kind).is_none() && !kind.optional() {
            out.reports.insert(
                kind,
                unavailable(
                    kind,
                    "",
                    format!("not configured: add a [sources.{}] section", kind.name()),
                ),
            );
        }
    }

    for (kind, backend, (records, result, tally)) in results {
        let (status, error) = match &result {
            Ok(_) => (Completeness::Complete, None),
            Err(e) if tally.lines_read > 0 => (Completeness::Partial, Some(e.clone())),
            Err(e) => (Completeness::Unavailable, Some(e.clone())),
        };
        match &error {
            None => info!(
                source = kind.name(),
                lines = tally.lines_read,
                rejected = tally.lines_rejected,
                "source read"
            ),
            Some(e) => {
                warn!(source = kind.name(), status = ?status, error = %e, "source not complete")
            }
        }
        let mut notes = Vec::new();
        if let Ok(note) = result {
            notes.extend(note);
        }
        // Records of a partial source are kept for the detail tables (the manifest says they are
        // partial); the ledger leaves the source's columns empty.
        match records {
            Records::Trino(q) => out.trino = q,
            Records::Opa(d, users, hours, groups) => {
                let anonymous = d.iter().filter(|d| d.user.is_empty()).count();
                if anonymous > 0 {
                    notes.push(format!(
                            "{anonymous} denial(s) carry no user (input erased or masked); they are in opa_denials.csv but in no user's row"
                        ));
                }
                out.opa_denials = d;
                out.opa_users = users;
                out.opa_lines_per_hour = hours;
                out.user_groups = groups;
            }
            Records::Keycloak(e, names) => {
                out.keycloak = e;
                out.keycloak_names = names;
            }
            Records::Jupyterhub(s) => out.sessions = s,
            Records::Litellm(u, h) => {
                out.llm = u;
                out.llm_hours = h;
            }
            Records::Storage(b) => out.buckets = b,
            Records::Databases(d) => out.databases = d,
            Records::Pods(p) => {
                let unlabelled = p.iter().filter(|p| p.user.is_none()).count();
                if unlabelled > 0 {
                    notes.push(format!(
                            "{unlabelled} notebook pod(s) have no hub.jupyter.org/username label in kube_pod_labels; their usage is in notebook_pods.csv only"
                        ));
                }
                out.pods = p;
            }
            Records::Platform(p) => out.platform = p,
        }
        out.reports.insert(
            kind,
            SourceReport {
                source: kind,
                backend,
                status,
                tally,
                error,
                notes,
            },
        );
    }
    settle(&mut out);
    out
}

/// One order for the records whatever order the backend returned them in (Loki answers its
/// sub-ranges as they finish): the capped evidence rows of a finding, the PDF's first rows and
/// the evidence digest must be the same on every run over the same data.
fn settle(out: &mut Collected) {
    out.trino
        .sort_by(|a, b| (a.end_ns, &a.query_id).cmp(&(b.end_ns, &b.query_id)));
    out.opa_denials
        .sort_by(|a, b| (a.time_ns, &a.decision_id).cmp(&(b.time_ns, &b.decision_id)));
    // Every field: two events at the same instant may differ in any of them.
    let kc = |e: &KeycloakEvent| {
        (
            e.time_ns,
            e.kind == crate::sources::keycloak::EventKind::Admin,
            e.event_type.clone(),
            e.realm.clone(),
            e.client_id.clone(),
            e.user_id.clone(),
            e.username.clone(),
            e.ip_address.clone(),
            e.error.clone(),
            e.resource_type.clone(),
            e.resource_path.clone(),
        )
    };
    out.keycloak.sort_by_cached_key(kc);
    out.sessions.sort_by(|a, b| {
        (&a.user, &a.server, a.start_ns, a.stop_ns)
            .cmp(&(&b.user, &b.server, b.start_ns, b.stop_ns))
    });
    out.llm
        .sort_by(|a, b| (&a.user, &a.model, &a.provider).cmp(&(&b.user, &b.model, &b.provider)));
    out.llm_hours
        .sort_by(|a, b| (a.hour_ns, &a.model).cmp(&(b.hour_ns, &b.model)));
    out.buckets.sort_by(|a, b| a.bucket.cmp(&b.bucket));
    out.databases
        .sort_by(|a, b| (&a.server, &a.database).cmp(&(&b.server, &b.database)));
    out.pods
        .sort_by(|a, b| (&a.namespace, &a.pod).cmp(&(&b.namespace, &b.pod)));
    out.platform
        .sort_by(|a, b| (&a.metric, &a.labels).cmp(&(&b.metric, &b.labels)));
}

/// Feeds a line parser from the source's backend; returns a note on what was fetched.
fn unavailable(kind: SourceKind, backend: &str, error: String) -> SourceReport {
    SourceReport {
        source: kind,
        backend: backend.to_string(),
        status: Completeness::Unavailable,
        tally: Tally::default(),
        error: Some(error),
        notes: Vec::new(),
    }
}

/// The oldest instant a server still holds, and whether the window reaches before it.
fn retention_check(
    what: &str,
    retention: std::time::Duration,
    window: &Window,
    clock: DateTime<Utc>,
) -> Result<i64, String> {
    let horizon = clock - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    if window.start < horizon {
        // The horizon's day, not its second: this text reaches findings.csv, the manifest and
        // the PDF, which must not change between two reruns of the same window on one day.
        return Err(format!(
            "the window starts before {what}'s retention horizon (on {}, {} days before now): \
             data older than that is gone, so the figures cannot be complete; use the file \
             backend with archived exports",
            horizon.date_naive(),
            retention.as_secs() / 86_400
        ));
    }
    Ok(horizon.timestamp_nanos_opt().unwrap_or(i64::MIN))
}

fn drive_lines(
    config: &Config,
    sc: &SourceConfig,
    window: &Window,
    rt: &Handle,
    clock: DateTime<Utc>,
    parser: &mut dyn LineParser,
) -> Result<Option<String>, String> {
    match &sc.backend {
        Backend::Files(files) => files::read_logs(files, parser)
            .map(|_| None)
            .map_err(|e| e.to_string()),
        Backend::Loki { selector } => {
            let cfg = config.backends.loki.as_ref().ok_or("no [backends.loki]")?;
            let horizon = retention_check("Loki", cfg.retention, window, clock)?;
            let loki = Loki::new(cfg, &cfg.loki).map_err(|e| e.to_string())?;
            let lookback = if sc.kind == SourceKind::Jupyterhub {
                i64::try_from(config.window.lookback.as_nanos()).unwrap_or(0)
            } else {
                0
            };
            let margin = i64::try_from(config.window.late_margin.as_nanos()).unwrap_or(0);
            // The lookback for sessions that began earlier never reaches past the retention.
            let from = (window.start_ns() - lookback).max(horizon);
            let to = window.end_ns().saturating_add(margin);
            let stats = rt
                .block_on(loki.stream(selector, from, to, |line| parser.feed(line)))
                .map_err(|e| e.to_string())?;
            Ok(Some(format!(
                "loki: {} entries in {} requests ({} retries)",
                stats.entries, stats.requests, stats.retries
            )))
        }
        other => Err(format!(
            "{} cannot be read from {}",
            sc.kind.name(),
            other.name()
        )),
    }
}

/// Feeds a sample parser from the source's backend. `instant` metrics are read at `end` only.
fn drive_samples(
    config: &Config,
    sc: &SourceConfig,
    window: &Window,
    rt: &Handle,
    clock: DateTime<Utc>,
    parser: &mut dyn SampleParser,
    instant: &[&str],
) -> Result<Option<String>, String> {
    match &sc.backend {
        Backend::Files(files) => files::read_metrics(files, parser)
            .map(|_| None)
            .map_err(|e| e.to_string()),
        Backend::Prometheus => {
            let cfg = config
                .backends
                .prometheus
                .as_ref()
                .ok_or("no [backends.prometheus]")?;
            retention_check("Prometheus", cfg.retention, window, clock)?;
            let prom = Prometheus::new(cfg).map_err(|e| e.to_string())?;
            let range = (window.end - window.start).num_seconds();
            let stats = rt
                .block_on(prom.feed(parser, window.end.timestamp(), range, instant))
                .map_err(|e| e.to_string())?;
            Ok(Some(format!(
                "prometheus: {} requests ({} retries)",
                stats.requests, stats.retries
            )))
        }
        other => Err(format!(
            "{} cannot be read from {}",
            sc.kind.name(),
            other.name()
        )),
    }
}

/// What one source gave: its records (possibly partial), whether reading completed (with a
/// note on what was fetched), and its tally.
type Driven = (Records, Result<Option<String>, String>, Tally);

fn read_source(
    config: &Config,
    sc: &SourceConfig,
    window: &Window,
    rt: &Handle,
    clock: DateTime<Utc>,
) -> Driven {
    let w = window.clone();
    match sc.kind {
        SourceKind::Trino => {
            let mut p = TrinoParser::new(w);
            let r = drive_lines(config, sc, window, rt, clock, &mut p);
            (Records::Trino(p.queries), r, p.tally)
        }
        SourceKind::Opa => {
            let mut p = OpaParser::new(w, &sc.allow_path);
            let r = drive_lines(config, sc, window, rt, clock, &mut p);
            (
                Records::Opa(p.denials, p.users_seen, p.lines_per_hour, p.user_groups),
                r,
                p.tally,
            )
        }
        SourceKind::Keycloak => {
            let mut p = KeycloakParser::new(w);
            let r = drive_lines(config, sc, window, rt, clock, &mut p);
            (Records::Keycloak(p.events, p.user_names), r, p.tally)
        }
        SourceKind::Jupyterhub => {
            let mut p = JupyterhubParser::new(w, config.window.lookback);
            let r = drive_lines(config, sc, window, rt, clock, &mut p);
            let sessions = p.sessions();
            (Records::Jupyterhub(sessions), r, p.tally)
        }
        SourceKind::Litellm => match &sc.backend {
            Backend::Files(files) => match files::read_spend_logs(files, &w) {
                Ok((usage, hours, tally)) => (Records::Litellm(usage, hours), Ok(None), tally),
                Err(e) => (
                    Records::Litellm(Vec::new(), Vec::new()),
                    Err(e),
                    Tally::default(),
                ),
            },
            Backend::Postgres => {
                let result = match config.backends.postgres.as_ref() {
                    Some(cfg) => rt
                        .block_on(postgres::llm_usage(cfg, window.start, window.end))
                        .map_err(|e| e.to_string()),
                    None => Err("no [backends.postgres]".to_string()),
                };
                match result {
                    Ok((usage, hours)) => {
                        let tally = Tally {
                            lines_read: usage.iter().map(|u| u.requests as u64).sum(),
                            ..Tally::default()
                        };
                        let note = format!("postgres: {} (user, model) groups", usage.len());
                        (Records::Litellm(usage, hours), Ok(Some(note)), tally)
                    }
                    Err(e) => (
                        Records::Litellm(Vec::new(), Vec::new()),
                        Err(e),
                        Tally::default(),
                    ),
                }
            }
            other => (
                Records::Litellm(Vec::new(), Vec::new()),
                Err(format!("litellm cannot be read from {}", other.name())),
                Tally::default(),
            ),
        },
        SourceKind::Storage => {
            let mut p = StorageParser::new(&w);
            let r = drive_samples(
                config,
                sc,
                window,
                rt,
                clock,
                &mut p,
                &[storage::V2, storage::V3],
            );
            let buckets = p.buckets();
            (Records::Storage(buckets), r, std::mem::take(p.tally()))
        }
        SourceKind::Databases => {
            let mut p = DatabasesParser::new(&w);
            let r = drive_samples(config, sc, window, rt, clock, &mut p, &[databases::METRIC]);
            let sizes = p.sizes();
            (Records::Databases(sizes), r, std::mem::take(p.tally()))
        }
        SourceKind::Pods => {
            let mut p = PodsParser::new(&w);
            let r = drive_samples(config, sc, window, rt, clock, &mut p, &[]);
            let pods = p.pods();
            (Records::Pods(pods), r, std::mem::take(p.tally()))
        }
        SourceKind::Platform => {
            let mut p = PlatformParser::new(&w);
            let r = drive_samples(config, sc, window, rt, clock, &mut p, &[]);
            let series = p.series();
            (Records::Platform(series), r, std::mem::take(p.tally()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: &str, end_ns: i64) -> TrinoQuery {
        TrinoQuery {
            query_id: id.into(),
            user: "ann".into(),
            state: "FINISHED".into(),
            error_code: None,
            create_ns: None,
            end_ns,
            rows_scanned: 0,
            bytes_scanned: 0,
            cpu_ns: 0,
            client: None,
            query: String::new(),
        }
    }

    #[test]
    fn records_settle_in_one_order_whatever_the_arrival() {
        let mut a = Collected {
            trino: vec![query("q3", 30), query("q1", 10), query("q2", 10)],
            buckets: vec![
                BucketSize {
                    bucket: "b".into(),
                    bytes: 1,
                },
                BucketSize {
                    bucket: "a".into(),
                    bytes: 2,
                },
            ],
            ..Default::default()
        };
        let mut b = Collected {
            trino: vec![query("q2", 10), query("q3", 30), query("q1", 10)],
            buckets: a.buckets.iter().rev().cloned().collect(),
            ..Default::default()
        };
        settle(&mut a);
        settle(&mut b);
        assert_eq!(a.trino, b.trino);
        let ids: Vec<&str> = a.trino.iter().map(|q| q.query_id.as_str()).collect();
        assert_eq!(ids, ["q1", "q2", "q3"]);
        assert_eq!(a.buckets, b.buckets);
        assert_eq!(a.buckets[0].bucket, "a");
    }
}
