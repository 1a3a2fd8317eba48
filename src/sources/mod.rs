//! Sources: one module per upstream system. Each parses what its backend hands it into typed
//! records and counts what it read, skipped and rejected. Sources never import each other and
//! never aggregate across users: the ledger does that.

pub mod databases;
pub mod jupyterhub;
pub mod keycloak;
pub mod litellm;
pub mod opa;
pub mod platform;
pub mod pods;
pub mod storage;
pub mod trino;
pub mod values;

use serde::Serialize;

/// The upstream systems the job knows, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Trino,
    Opa,
    Keycloak,
    Jupyterhub,
    Litellm,
    Storage,
    Databases,
    Pods,
    Platform,
}

impl SourceKind {
    pub const ALL: [SourceKind; 9] = [
        SourceKind::Trino,
        SourceKind::Opa,
        SourceKind::Keycloak,
        SourceKind::Jupyterhub,
        SourceKind::Litellm,
        SourceKind::Storage,
        SourceKind::Databases,
        SourceKind::Pods,
        SourceKind::Platform,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Trino => "trino",
            SourceKind::Opa => "opa",
            SourceKind::Keycloak => "keycloak",
            SourceKind::Jupyterhub => "jupyterhub",
            SourceKind::Litellm => "litellm",
            SourceKind::Storage => "storage",
            SourceKind::Databases => "databases",
            SourceKind::Pods => "pods",
            SourceKind::Platform => "platform",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Optional sources feed no ledger column: left unconfigured, they are simply absent, and a
    /// run without them can still be complete.
    pub fn optional(self) -> bool {
        self == SourceKind::Platform
    }

    /// Backends that can serve this source.
    pub fn backends(self) -> &'static [&'static str] {
        match self {
            SourceKind::Trino | SourceKind::Opa | SourceKind::Keycloak | SourceKind::Jupyterhub => {
                &["files", "loki"]
            }
            SourceKind::Litellm => &["files", "postgres"],
            SourceKind::Storage
            | SourceKind::Databases
            | SourceKind::Pods
            | SourceKind::Platform => &["files", "prometheus"],
        }
    }

    /// LogQL for the AKKO Helm deployment, used when a Loki source names no selector.
    pub fn default_selector(self) -> &'static str {
        match self {
            SourceKind::Trino => {
                r#"{namespace="trino", container="trino-coordinator"} |= "QUERY_COMPLETED""#
            }
            SourceKind::Opa => r#"{namespace="opa"} |= "decision_id""#,
            SourceKind::Keycloak => r#"{namespace="keycloak"} |= "org.keycloak.events""#,
            SourceKind::Jupyterhub => r#"{namespace="jhub", container="hub"} |= "server-action""#,
            _ => "",
        }
    }

    /// The ledger columns this source fills: left empty when the source was not fully seen.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            SourceKind::Trino => &[
                "trino_queries",
                "trino_failed_queries",
                "trino_denied_queries",
                "trino_rows_scanned",
                "trino_bytes_scanned",
                "trino_cpu_seconds",
            ],
            SourceKind::Opa => &["opa_denials"],
            SourceKind::Keycloak => &["logins", "login_failures"],
            SourceKind::Jupyterhub => &["notebook_sessions", "notebook_seconds"],
            SourceKind::Litellm => &[
                "llm_requests",
                "llm_failed_requests",
                "llm_prompt_tokens",
                "llm_completion_tokens",
                "llm_total_tokens",
                "llm_cost_usd",
            ],
            SourceKind::Storage => &["storage_bytes"],
            SourceKind::Databases | SourceKind::Platform => &[],
            SourceKind::Pods => &["notebook_cpu_seconds", "notebook_peak_memory_bytes"],
        }
    }
}

/// Whether the job saw all of a source for the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Completeness {
    Complete,
    Partial,
    Unavailable,
}

/// How many rejected lines are kept verbatim (truncated) for the manifest.
const REJECT_SAMPLES: usize = 5;
const SAMPLE_CHARS: usize = 240;

/// What a source read: the manifest's per-source completeness record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Lines (or rows, or samples) handed to the parser.
    pub lines_read: u64,
    /// Lines that belong to another stream or event type (e.g. `QUERY_CREATED`).
    pub lines_skipped: u64,
    /// Lines that looked like this source's records but could not be parsed.
    pub lines_rejected: u64,
    /// The first few rejected lines with the reason, truncated.
    pub reject_samples: Vec<String>,
}

impl Tally {
    pub fn reject(&mut self, line: &str, reason: &str) {
        self.lines_rejected += 1;
        if self.reject_samples.len() < REJECT_SAMPLES {
            let mut cut: String = line.chars().take(SAMPLE_CHARS).collect();
            if cut.len() < line.len() {
                cut.push('…');
            }
            self.reject_samples.push(format!("{reason}: {cut}"));
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.lines_read += other.lines_read;
        self.lines_skipped += other.lines_skipped;
        self.lines_rejected += other.lines_rejected;
        for s in other.reject_samples {
            if self.reject_samples.len() < REJECT_SAMPLES {
                self.reject_samples.push(s);
            }
        }
    }
}

/// The completeness record of one source in one run.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub source: SourceKind,
    pub backend: String,
    pub status: Completeness,
    #[serde(flatten)]
    pub tally: Tally,
    /// Why the source is partial or unavailable (never holds secrets).
    pub error: Option<String>,
    /// Facts a reader needs (e.g. denials without a user).
    pub notes: Vec<String>,
}

/// A parser fed one log line at a time by whichever backend reads the stream.
pub trait LineParser {
    fn feed(&mut self, line: &str);
}

/// One sample of a metric series, as a backend hands it over (OpenMetrics file or Prometheus).
#[derive(Debug, Clone, Copy)]
pub struct MetricSample<'a> {
    /// The sample name (`container_cpu_usage_seconds_total`, not the family name).
    pub name: &'a str,
    pub labels: &'a [(String, String)],
    /// The value exactly as printed (parsed exactly by the source).
    pub value: &'a str,
    pub ts_ms: i64,
}

impl MetricSample<'_> {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A parser fed metric samples; each series' samples arrive in time order.
pub trait SampleParser {
    /// Sample names this parser wants (the backend queries or filters on them).
    fn metric_names(&self) -> &'static [&'static str];
    fn feed(&mut self, sample: &MetricSample);
    fn tally(&mut self) -> &mut Tally;
}

/// Prometheus' default lookback for an instant query: a value "at end" is the last sample no
/// older than this.
pub const INSTANT_LOOKBACK_MS: i64 = 5 * 60 * 1000;
