//! One run of the job: window -> collect -> identities -> ledger -> render -> deliver.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use tracing::info;

use crate::collect::{collect, Collected};
use crate::compliance::catalog::{self, Catalog};
use crate::compliance::findings::{self, Finding, FindingsInput};
use crate::config::Config;
use crate::deliver::{deliver, pushgateway, DeliveryContext};
use crate::error::ExitStatus;
use crate::identity::{Pseudonymiser, Resolver};
use crate::ledger::panels::Panels;
use crate::ledger::{self, Ledger};
use crate::render::{
    compliance, csv, job_metrics, mail, manifest, pdf, report, signature, Artifact,
};
use crate::sources::{Completeness, SourceKind};
use crate::window::Window;

pub struct RunRequest {
    pub config: Config,
    pub window: Window,
    pub out_dir: PathBuf,
    /// The instant the run stands for (`--at`, or the clock): stamps the manifest.
    pub now: DateTime<Utc>,
    /// The real time, for the servers' retention horizons.
    pub clock: DateTime<Utc>,
    /// Mail even if the evidence store says this window was already mailed.
    pub force_mail: bool,
}

pub struct RunOutcome {
    pub status: ExitStatus,
    pub out_dir: PathBuf,
    pub ledger: Ledger,
    pub collected: Collected,
    pub findings: Vec<Finding>,
}

/// Renders every artifact of a run (manifest excluded), in a fixed order.
pub fn render_all(
    config: &Config,
    collected: &Collected,
    resolver: &Resolver,
    ledger: &Ledger,
) -> Vec<Artifact> {
    let (auth, admin) = csv::auth_events(collected, resolver);
    vec![
        csv::usage_by_user(ledger),
        csv::chargeback_by_team(&ledger.by_team()),
        csv::trino_queries(collected, resolver, config.privacy.redact_sql_literals),
        csv::opa_denials(collected, resolver),
        auth,
        admin,
        csv::notebook_sessions(collected, resolver),
        csv::notebook_pods(collected, resolver),
        csv::llm_usage(&ledger::llm_by_user_model(collected, resolver)),
        csv::storage_by_bucket(collected, resolver, &config.storage),
        csv::database_sizes(collected, resolver),
        csv::platform_metrics(collected),
    ]
}

pub fn run(req: RunRequest) -> anyhow::Result<RunOutcome> {
    let RunRequest {
        config,
        window,
        out_dir,
        now,
        clock,
        force_mail,
    } = req;
    let started = std::time::Instant::now();
    info!(window = %window, out = %out_dir.display(), "run started");
    // A broken catalog is a broken build, but say so before reading anything.
    let catalog = Catalog::load()?;
    // The key is read before any source: a missing secret is bad input (exit 2), not a run
    // that then publishes real names.
    let pseudonymiser = config
        .privacy
        .pseudonym_key
        .as_ref()
        .map(|k| {
            let key = k.read("privacy.pseudonym_key")?;
            Pseudonymiser::new(key)
                .map_err(|e| crate::error::InputError::invalid("privacy.pseudonym_key", e))
        })
        .transpose()?;
    let signing_key = config
        .signing
        .as_ref()
        .map(|s| {
            let secret = s.key.read("signing.key")?;
            signature::signing_key(&secret)
                .map_err(|e| crate::error::InputError::invalid("signing.key", e))
        })
        .transpose()?;
    let collected = collect(&config, &window, clock);
    let mut resolver = Resolver::new(&config.identity, &collected.keycloak_names);
    if let Some(p) = pseudonymiser {
        resolver = resolver.with_pseudonyms(p);
    }
    let ledger = ledger::build(&collected, &resolver, &config.storage)?;
    let findings = findings::evaluate(&FindingsInput {
        config: &config,
        thresholds: &config.findings,
        window: &window,
        collected: &collected,
        resolver: &resolver,
        ledger: &ledger,
        clock,
    });
    let controls = catalog::evaluate(&catalog, &collected, &findings);
    let mut artifacts = render_all(&config, &collected, &resolver, &ledger);
    artifacts.push(compliance::findings_csv(&findings, &catalog));
    artifacts.push(compliance::controls_csv(&controls, &catalog.version));
    let reports: Vec<_> = SourceKind::ALL
        .iter()
        .filter_map(|k| collected.reports.get(k))
        .collect();
    // The PDF quotes the CSVs' digest; the manifest then hashes the PDF with everything else.
    let evidence_sha256 = manifest::evidence_digest(&artifacts);
    let panels = Panels::build(&window, &collected, &resolver);
    let llm_by_user_model = ledger::llm_by_user_model(&collected, &resolver);
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
        llm_by_user_model: &llm_by_user_model,
        redact_sql: config.privacy.redact_sql_literals,
    });
    let pdf_bytes =
        pdf::render(&document).map_err(|e| anyhow::anyhow!("rendering report.pdf: {e}"))?;
    artifacts.push(Artifact {
        name: "report.pdf".into(),
        bytes: pdf_bytes,
        rows: 0,
    });
    let manifest = manifest::render(&window, now, &reports, &ledger.unresolved, &artifacts);
    // The signature travels with the set; the manifest is still the last file written.
    if let Some(key) = &signing_key {
        artifacts.push(signature::sign(key, &manifest.bytes));
    }
    let complete = reports.iter().all(|r| r.status == Completeness::Complete);
    let ctx = DeliveryContext {
        config: &config,
        window: &window,
        now,
        out_dir: &out_dir,
        force_mail,
    };
    let delivered = deliver(&ctx, &artifacts, &manifest, |location, links, zip| {
        let Some(cfg) = config.email.as_ref() else {
            return Ok(None);
        };
        mail::render(
            cfg,
            &mail::MailInput {
                window: &window,
                now,
                ledger: &ledger,
                reports: &reports,
                manifest_sha256: &manifest::sha256_hex(&manifest.bytes),
                findings: &findings,
                evidence_location: location,
                pdf: artifacts.iter().find(|a| a.name == "report.pdf"),
                zip_csvs: if zip {
                    artifacts
                        .iter()
                        .filter(|a| a.name.ends_with(".csv"))
                        .collect()
                } else {
                    Vec::new()
                },
                links_expire: (!links.is_empty()).then(|| {
                    now + chrono::Duration::from_std(cfg.link_expiry)
                        .unwrap_or(chrono::Duration::MAX)
                }),
                links,
            },
        )
        .map(Some)
    });
    let status = match delivered {
        Err(e) => {
            tracing::error!(error = %e, "delivery failed");
            eprintln!("delivery failed: {e:#}");
            ExitStatus::DeliveryFailed
        }
        Ok(()) if complete => ExitStatus::Complete,
        Ok(()) => ExitStatus::Partial,
    };
    if let Some(pg) = &config.pushgateway {
        let body = job_metrics::render(&job_metrics::JobMetrics {
            finished_at: Utc::now(),
            duration_seconds: started.elapsed().as_secs_f64(),
            exit_code: status as i32,
            reports: &reports,
            findings: &findings,
            users: ledger.rows.len(),
        });
        match pushgateway::push(pg, window.period_label(), body) {
            Ok(()) => info!(url = %pg.url, "job metrics pushed"),
            Err(e) => tracing::warn!(error = %e, "job metrics not pushed"),
        }
    }
    info!(users = ledger.rows.len(), findings = findings.len(), status = ?status, "run finished");
    Ok(RunOutcome {
        status,
        out_dir,
        ledger,
        collected,
        findings,
    })
}
