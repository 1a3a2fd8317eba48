//! Collect: every configured source read concurrently, each into its typed records plus a
//! completeness report. A source that fails is reported, never fatal: the run goes on and the
//! figures it would have given are marked unknown.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use tracing::{info, warn};

use crate::backends::files;
use crate::config::{Backend, Config, SourceConfig};
use crate::sources::databases::{DatabaseSize, DatabasesParser};
use crate::sources::jupyterhub::{JupyterhubParser, NotebookSession};
use crate::sources::keycloak::{KeycloakEvent, KeycloakParser};
use crate::sources::litellm::LlmUsage;
use crate::sources::opa::{OpaDenial, OpaParser};
use crate::sources::pods::{PodUsage, PodsParser};
use crate::sources::storage::{BucketSize, StorageParser};
use crate::sources::trino::{TrinoParser, TrinoQuery};
use crate::sources::{Completeness, SampleParser, SourceKind, SourceReport, Tally};
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
    pub buckets: Vec<BucketSize>,
    pub databases: Vec<DatabaseSize>,
    pub pods: Vec<PodUsage>,
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
    Opa(Vec<OpaDenial>, BTreeSet<String>),
    Keycloak(Vec<KeycloakEvent>, BTreeMap<String, String>),
    Jupyterhub(Vec<NotebookSession>),
    Litellm(Vec<LlmUsage>),
    Storage(Vec<BucketSize>),
    Databases(Vec<DatabaseSize>),
    Pods(Vec<PodUsage>),
}

type Outcome = (Result<Records, String>, Tally);

/// Reads every source of `config` for `window`, concurrently (one thread per source).
pub fn collect(config: &Config, window: &Window) -> Collected {
    let mut out = Collected::default();
    let results: Vec<(SourceKind, String, Outcome)> = std::thread::scope(|scope| {
        let handles: Vec<_> = config
            .sources
            .iter()
            .map(|sc| {
                let kind = sc.kind;
                let backend = sc.backend.name().to_string();
                (
                    kind,
                    backend,
                    scope.spawn(move || read_source(config, sc, window)),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(kind, backend, h)| {
                let outcome = h.join().unwrap_or_else(|_| {
                    (
                        Err("the source's reader panicked".to_string()),
                        Tally::default(),
                    )
                });
                (kind, backend, outcome)
            })
            .collect()
    });

    for kind in SourceKind::ALL {
        if config.source(kind).is_none() {
            out.reports.insert(
                kind,
                SourceReport {
                    source: kind,
                    backend: String::new(),
                    status: Completeness::Unavailable,
                    tally: Tally::default(),
                    error: Some(format!(
                        "not configured: add a [sources.{}] section",
                        kind.name()
                    )),
                    notes: Vec::new(),
                },
            );
        }
    }

    for (kind, backend, (result, tally)) in results {
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
        if let Ok(records) = result {
            match records {
                Records::Trino(q) => out.trino = q,
                Records::Opa(d, users) => {
                    let anonymous = d.iter().filter(|d| d.user.is_empty()).count();
                    if anonymous > 0 {
                        notes.push(format!(
                            "{anonymous} denial(s) carry no user (input erased or masked); they are in opa_denials.csv but in no user's row"
                        ));
                    }
                    out.opa_denials = d;
                    out.opa_users = users;
                }
                Records::Keycloak(e, names) => {
                    out.keycloak = e;
                    out.keycloak_names = names;
                }
                Records::Jupyterhub(s) => out.sessions = s,
                Records::Litellm(u) => out.llm = u,
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
            }
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
    out
}

fn read_source(config: &Config, sc: &SourceConfig, window: &Window) -> Outcome {
    let files: &[PathBuf] = match &sc.backend {
        Backend::Files(f) => f,
        other => {
            return (
                Err(format!(
                    "the {} backend is not available in this build; use backend = \"files\"",
                    other.name()
                )),
                Tally::default(),
            )
        }
    };
    let w = window.clone();
    match sc.kind {
        SourceKind::Trino => {
            let mut p = TrinoParser::new(w);
            let r = files::read_logs(files, &mut p).map_err(|e| e.to_string());
            (r.map(|_| Records::Trino(p.queries)), p.tally)
        }
        SourceKind::Opa => {
            let mut p = OpaParser::new(w, &sc.allow_path);
            let r = files::read_logs(files, &mut p).map_err(|e| e.to_string());
            (r.map(|_| Records::Opa(p.denials, p.users_seen)), p.tally)
        }
        SourceKind::Keycloak => {
            let mut p = KeycloakParser::new(w);
            let r = files::read_logs(files, &mut p).map_err(|e| e.to_string());
            (
                r.map(|_| Records::Keycloak(p.events, p.user_names)),
                p.tally,
            )
        }
        SourceKind::Jupyterhub => {
            let mut p = JupyterhubParser::new(w, config.window.lookback);
            let r = files::read_logs(files, &mut p).map_err(|e| e.to_string());
            let sessions = p.sessions();
            (r.map(|_| Records::Jupyterhub(sessions)), p.tally)
        }
        SourceKind::Litellm => match files::read_spend_logs(files, &w) {
            Ok((usage, tally)) => (Ok(Records::Litellm(usage)), tally),
            Err(e) => (Err(e), Tally::default()),
        },
        SourceKind::Storage => {
            let mut p = StorageParser::new(&w);
            let r = files::read_metrics(files, &mut p).map_err(|e| e.to_string());
            let buckets = p.buckets();
            (
                r.map(|_| Records::Storage(buckets)),
                std::mem::take(p.tally()),
            )
        }
        SourceKind::Databases => {
            let mut p = DatabasesParser::new(&w);
            let r = files::read_metrics(files, &mut p).map_err(|e| e.to_string());
            let sizes = p.sizes();
            (
                r.map(|_| Records::Databases(sizes)),
                std::mem::take(p.tally()),
            )
        }
        SourceKind::Pods => {
            let mut p = PodsParser::new(&w);
            let r = files::read_metrics(files, &mut p).map_err(|e| e.to_string());
            let pods = p.pods();
            (r.map(|_| Records::Pods(pods)), std::mem::take(p.tally()))
        }
    }
}
