//! A run composed from the daily history: a week, a month, a quarter or explicit whole days.
//! Nothing is read from Loki, Prometheus or PostgreSQL; days missing from the history are
//! named, their figures left unknown, and the run exits 3.

use std::time::Instant;

use chrono::NaiveDate;
use tracing::info;

use super::finish::{finish, Finish};
use super::{chargeback_for, RunOutcome, RunRequest, Secrets};
use crate::collect::Collected;
use crate::compliance::catalog::{self, Catalog};
use crate::compliance::findings::{Finding, Severity};
use crate::error::InputError;
use crate::history::compose::{compose, DayState};
use crate::identity::Resolver;
use crate::ledger::panels::Panels;
use crate::render::csv::Table;
use crate::render::{chargeback, compliance, csv, manifest, report, Artifact};
use crate::sources::databases::DatabaseSize;
use crate::sources::storage::BucketSize;
use crate::sources::Completeness;
use crate::verify::{EvidenceStore, Folder};

fn history_days_csv(days: &[crate::history::compose::Day]) -> Artifact {
    let mut t = Table::new(
        "history_days.csv",
        &[
            "date",
            "in_history",
            "missing_tables",
            "sources_not_complete",
        ],
    );
    for d in days {
        let incomplete: Vec<String> = d
            .sources
            .iter()
            .filter(|(_, s)| s.0 != Completeness::Complete)
            .map(|(k, _)| k.name().to_string())
            .collect();
        t.row(&[
            d.date.to_string(),
            (d.state == DayState::Present).to_string(),
            d.missing_tables.join(";"),
            incomplete.join(";"),
        ]);
    }
    t.finish()
}

pub(super) fn run(
    req: RunRequest,
    secrets: Secrets,
    dates: &[NaiveDate],
) -> anyhow::Result<RunOutcome> {
    let RunRequest {
        config,
        window,
        out_dir,
        now,
        clock: _,
        force_mail,
        basis: _,
    } = req;
    let started = Instant::now();
    let store: Box<dyn EvidenceStore> = match (&config.s3, &config.history_dir) {
        (Some(s3), _) => crate::deliver::s3::evidence_store(s3, &crate::deliver::s3::history_url(s3))
            .map_err(|e| InputError::invalid("s3", e))?,
        (None, Some(dir)) => Box::new(Folder(dir.clone())),
        (None, None) => {
            return Err(InputError::invalid(
                "history.dir",
                format!(
                    "the window {window} spans {} days: longer reports are composed from the daily history; set [history] dir (or [s3]) where the nightly runs keep it",
                    dates.len()
                ),
            )
            .into())
        }
    };
    info!(window = %window, days = dates.len(), history = %store.describe(), "composing from the daily history");
    let catalog = Catalog::load()?;
    let composed = compose(store.as_ref(), dates)?;
    let missing = composed.missing_days();
    let ledger = composed.ledger;

    // Every day's findings (the security rules ran nightly on the raw records), then what the
    // composition itself can state: what is missing.
    let mut findings: Vec<Finding> = composed.findings.clone();
    for d in &missing {
        findings.push(Finding {
            rule: "evidence.source_incomplete",
            severity: Severity::High,
            subject: d.to_string(),
            summary: format!(
                "day {d} is not (wholly) in the daily history: every figure of the period is unknown; run `akko-audit backfill --from {d} --to {d}` while the sources still hold it"
            ),
            count: 1,
            first_ns: None,
            last_ns: None,
            evidence: vec!["history_days.csv".into()],
        });
    }
    for r in composed
        .reports
        .iter()
        .filter(|r| r.status != Completeness::Complete)
    {
        if missing.is_empty() {
            findings.push(Finding {
                rule: "evidence.source_incomplete",
                severity: Severity::High,
                subject: r.source.name().to_string(),
                summary: format!(
                    "source {} was not complete on every day: {}",
                    r.source.name(),
                    r.error.as_deref().unwrap_or("")
                ),
                count: 1,
                first_ns: None,
                last_ns: None,
                evidence: vec!["history_days.csv".into()],
            });
        }
    }
    findings.sort_by(|a, b| {
        (a.severity, a.rule, &a.subject, a.first_ns)
            .cmp(&(b.severity, b.rule, &b.subject, b.first_ns))
    });
    let mut collected = Collected::default();
    for r in &composed.reports {
        collected.reports.insert(r.source, r.clone());
    }
    collected.buckets = composed
        .buckets
        .iter()
        .map(|b| BucketSize {
            bucket: b.bucket.clone(),
            bytes: i128::from(b.bytes),
        })
        .collect();
    collected.databases = composed
        .databases
        .iter()
        .map(|d| DatabaseSize {
            database: d.database.clone(),
            server: d.server.clone(),
            bytes: d.bytes,
        })
        .collect();
    let controls = catalog::evaluate(&catalog, &collected, &findings);
    let resolver = Resolver::new(&config.identity, &Default::default());
    let databases_known = composed.reports.iter().any(|r| {
        r.source == crate::sources::SourceKind::Databases && r.status == Completeness::Complete
    });
    let cb = chargeback_for(
        &config,
        &ledger,
        &composed.llm,
        Some(&composed.storage_byte_parts),
        databases_known.then_some(composed.database_byte_parts),
    );
    let priced = cb.as_ref().zip(config.chargeback.as_ref());
    let mut artifacts = vec![
        csv::usage_by_user(&ledger),
        chargeback::chargeback_by_team(&ledger.by_team(), priced),
        csv::llm_usage(&composed.llm),
        // The owners the nightly runs stored: pseudonymised as they were, and as configured then.
        csv::storage_by_bucket(&composed.bucket_use),
        csv::database_sizes(&collected, &resolver),
        history_days_csv(&composed.days),
        composed.trend.csv(),
        compliance::findings_csv(&findings, &catalog),
        compliance::controls_csv(&controls, &catalog.version),
    ];
    if let Some((cb, card)) = priced {
        match chargeback::focus_costs(cb, card, &window, config.window.time_zone) {
            Ok(a) => artifacts.push(a),
            Err(why) => tracing::warn!("{why}"),
        }
    }
    let reports: Vec<_> = composed.reports.iter().collect();
    let evidence_sha256 = manifest::evidence_digest(&artifacts);
    let panels = Panels::default();
    let document = report::build(&report::ReportInput {
        window: &window,
        now,
        reports: &reports,
        evidence_sha256: &evidence_sha256,
        catalog: &catalog,
        controls: &controls,
        findings: &findings,
        thresholds: &config.findings,
        ledger: &ledger,
        panels: &panels,
        collected: &collected,
        resolver: &resolver,
        storage: &config.storage,
        llm_by_user_model: &composed.llm,
        redact_sql: config.privacy.redact_sql_literals,
        composed: Some(report::Composed {
            days: &composed.days,
            trend: &composed.trend,
            chargeback: priced,
        }),
    });
    artifacts.push(super::render_pdf(&document)?);
    let status = finish(Finish {
        config: &config,
        window: &window,
        now,
        out_dir: &out_dir,
        force_mail,
        started,
        reports: &reports,
        ledger: &ledger,
        findings: &findings,
        artifacts,
        history: Vec::new(),
        signing_key: secrets.signing_key.as_ref(),
    });
    let reports = composed.reports.clone();
    Ok(RunOutcome {
        status,
        out_dir,
        ledger,
        reports,
        findings,
        basis: "history",
    })
}
