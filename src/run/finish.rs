//! The end every run shares: the manifest (last), the signature, delivery (folder, history, S3,
//! mail), the job metrics and the exit code.

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use tracing::info;

use crate::compliance::findings::Finding;
use crate::config::Config;
use crate::deliver::{deliver, pushgateway, DeliveryContext};
use crate::error::ExitStatus;
use crate::ledger::Ledger;
use crate::render::{job_metrics, mail, manifest, signature, Artifact};
use crate::sources::{Completeness, SourceReport};
use crate::window::Window;

pub struct Finish<'a> {
    pub config: &'a Config,
    pub window: &'a Window,
    pub now: DateTime<Utc>,
    pub out_dir: &'a Path,
    pub force_mail: bool,
    pub started: Instant,
    pub reports: &'a [&'a SourceReport],
    pub ledger: &'a Ledger,
    pub findings: &'a [Finding],
    pub artifacts: Vec<Artifact>,
    /// Daily history files (paths relative to the history root); empty for composed runs.
    pub history: Vec<Artifact>,
    pub signing_key: Option<&'a SigningKey>,
}

pub fn finish(f: Finish) -> ExitStatus {
    let Finish {
        config,
        window,
        now,
        out_dir,
        force_mail,
        started,
        reports,
        ledger,
        findings,
        mut artifacts,
        history,
        signing_key,
    } = f;
    let manifest = manifest::render(window, now, reports, &ledger.unresolved, &artifacts);
    // The signature travels with the set; the manifest is still the last file written.
    if let Some(key) = signing_key {
        artifacts.push(signature::sign(key, &manifest.bytes));
    }
    let complete = reports.iter().all(|r| r.status == Completeness::Complete);
    let ctx = DeliveryContext {
        config,
        window,
        now,
        out_dir,
        force_mail,
    };
    let delivered = deliver(&ctx, &artifacts, &manifest, &history, |plan| {
        let Some(cfg) = config.email.as_ref() else {
            return Ok(None);
        };
        let links = plan.links.clone();
        // When an earlier delivery of the same evidence stands, its PDF is the one its
        // manifest hashes; this run's differs in its generated-at.
        let stored_pdf = plan
            .stored_pdf
            .clone()
            .map(|bytes| crate::render::Artifact {
                name: "report.pdf".into(),
                bytes,
                rows: 0,
            });
        mail::render(
            cfg,
            &mail::MailInput {
                window,
                now,
                ledger,
                reports,
                manifest_sha256: &plan
                    .stored_manifest_sha256
                    .clone()
                    .unwrap_or_else(|| manifest::sha256_hex(&manifest.bytes)),
                findings,
                evidence_location: &plan.location,
                not_in_s3: plan.not_in_s3.as_deref(),
                pdf: stored_pdf
                    .as_ref()
                    .or_else(|| artifacts.iter().find(|a| a.name == "report.pdf")),
                zip_csvs: if plan.zip {
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
            reports,
            findings,
            users: ledger.rows.len(),
        });
        match pushgateway::push(pg, window.period_label(), body) {
            Ok(()) => info!(url = %pg.url, "job metrics pushed"),
            Err(e) => tracing::warn!(error = %e, "job metrics not pushed"),
        }
    }
    info!(users = ledger.rows.len(), findings = findings.len(), status = ?status, "run finished");
    status
}
