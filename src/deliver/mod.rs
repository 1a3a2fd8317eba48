//! Deliverers put finished artifacts where people use them. They never render: the mail is
//! rendered by a callback once delivery knows where the evidence landed (the S3 location and,
//! for large CSVs, presigned links).
//!
//! Order: the run folder, then the S3 evidence store (manifest last), then the mail, then the
//! "mailed" marker next to the manifest. A failure at one step does not skip the others that can
//! still keep the evidence: a mail that cannot be sent leaves the set in S3 and the folder, and
//! the run exits 4. A set that did not reach S3 is exit 4 too, and the mail then says the
//! evidence is NOT in S3 rather than naming keys that do not exist.

pub mod email;
pub mod local;
pub mod marker;
pub mod pushgateway;
pub mod s3;

use std::path::Path;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::config::{Config, EmailConfig};
use crate::render::{manifest as manifest_file, Artifact};
use crate::window::Window;

pub use marker::NAME as MAILED_MARKER;

pub struct DeliveryContext<'a> {
    pub config: &'a Config,
    pub window: &'a Window,
    pub now: DateTime<Utc>,
    pub out_dir: &'a Path,
    pub force_mail: bool,
}

/// What the mail must say about where the evidence is; handed to the mail renderer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailPlan {
    /// `s3://bucket/prefix/` when the set is in S3, else the run folder.
    pub location: String,
    /// `[s3]` is configured but the set is NOT there (why): the mail must say so instead of
    /// pointing at keys that do not exist, and the run exits 4.
    pub not_in_s3: Option<String>,
    /// `(file name, presigned URL)` for CSVs too large to attach.
    pub links: Vec<(String, String)>,
    /// Whether the CSVs go as one zip.
    pub zip: bool,
    /// The SHA-256 of the manifest the set in S3 holds, when that is not this run's (an
    /// earlier delivery of the same evidence stands); `None`: this run's manifest.
    pub stored_manifest_sha256: Option<String>,
    /// With `stored_manifest_sha256`: the stored `report.pdf`, to attach instead of this run's
    /// (whose generated-at differs, so its hash is not in the stored manifest).
    pub stored_pdf: Option<Vec<u8>>,
}

/// Where the S3 step left the evidence.
enum S3State {
    NotConfigured,
    Delivered {
        prefix: String,
        location: String,
        stored_manifest_sha256: Option<String>,
        stored_pdf: Option<Vec<u8>>,
    },
    Failed(String),
    /// Object Lock keeps another evidence set for this window: no retry can store this one.
    Refused(String),
}

/// `render_mail(plan)`: the mail, told where the evidence is (see [`MailPlan`]).
pub fn deliver(
    ctx: &DeliveryContext,
    artifacts: &[Artifact],
    manifest: &Artifact,
    history: &[Artifact],
    render_mail: impl Fn(&MailPlan) -> Result<Option<Artifact>, String>,
) -> anyhow::Result<()> {
    let mut failures: Vec<String> = Vec::new();
    if let Err(e) = local::deliver(ctx.out_dir, artifacts, manifest) {
        failures.push(e.to_string());
    }
    // The daily history: its own root, so longer reports can find every day in one place.
    if !history.is_empty() {
        if let Some(dir) = &ctx.config.history_dir {
            if let Err(e) = local::write_tree(dir, history) {
                failures.push(format!("history: {e}"));
            }
        }
        if let Some(cfg) = &ctx.config.s3 {
            for h in history {
                let key = s3::history_key(cfg, &h.name);
                if let Err(e) = s3::put(cfg, &key, &h.bytes) {
                    failures.push(format!("history to S3: {e}"));
                    break;
                }
            }
        }
        if ctx.config.history_dir.is_none() && ctx.config.s3.is_none() {
            info!("no [history] dir and no [s3]: this day is not kept for longer reports");
        }
    }
    let s3_state = match &ctx.config.s3 {
        None => S3State::NotConfigured,
        Some(cfg) => {
            let prefix = s3::key_prefix(cfg, ctx.window);
            match s3::upload_set(cfg, &prefix, artifacts, manifest) {
                Ok(up) => {
                    if up.already_stored.is_none() {
                        info!(location = %up.location, files = artifacts.len() + 1, "evidence uploaded");
                    }
                    S3State::Delivered {
                        prefix,
                        location: up.location,
                        stored_manifest_sha256: up.already_stored,
                        stored_pdf: up.stored_pdf,
                    }
                }
                Err(e @ s3::S3Error::AlreadyDelivered { .. }) => {
                    failures.push(format!("S3: {e}"));
                    S3State::Refused(e.to_string())
                }
                Err(e) => {
                    failures.push(format!("S3: {e}"));
                    S3State::Failed(e.to_string())
                }
            }
        }
    };
    if let Some(email) = &ctx.config.email {
        mail(
            ctx,
            email,
            artifacts,
            manifest,
            &s3_state,
            &render_mail,
            &mut failures,
        );
    }
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(failures.join("; "))
    }
}

/// The mail step: the marker check, presigned links, rendering, sending, the marker.
///
/// When the S3 upload failed the mail is still sent (its attachments may be the only copy a
/// CronJob's lost folder leaves), but it says the evidence is NOT in S3, and no marker is
/// written: the retry that reaches S3 mails where the evidence really is.
fn mail(
    ctx: &DeliveryContext,
    email: &EmailConfig,
    artifacts: &[Artifact],
    manifest: &Artifact,
    s3_state: &S3State,
    render_mail: &dyn Fn(&MailPlan) -> Result<Option<Artifact>, String>,
    failures: &mut Vec<String>,
) {
    let evidence_sha256 = manifest_file::evidence_digest(artifacts);
    let folder = ctx.out_dir.display().to_string();
    let (location, not_in_s3, stored_manifest_sha256, stored_pdf) = match s3_state {
        S3State::NotConfigured => (folder, None, None, None),
        S3State::Delivered {
            location,
            stored_manifest_sha256,
            stored_pdf,
            ..
        } => (
            location.clone(),
            None,
            stored_manifest_sha256.clone(),
            stored_pdf.clone(),
        ),
        S3State::Failed(why) => (folder, Some(why.clone()), None, None),
        // The window's evidence was delivered (and mailed) by an earlier run; a mail for a set
        // that no retry can store would repeat on every retry and contradict the stored one.
        S3State::Refused(why) => {
            warn!(reason = %why, folder = %folder, "not mailing: Object Lock keeps another evidence set for this window; this run's set is in the run folder only");
            return;
        }
    };
    // The marker lives next to the manifest where the evidence is; only a mail that was really
    // sent (not mail.eml) is marked.
    let marker_store = match (s3_state, &ctx.config.s3) {
        _ if email.smtp.is_none() => None,
        (S3State::Delivered { prefix, .. }, Some(cfg)) => Some(marker::Store::S3 {
            cfg,
            key: format!("{prefix}/{}", marker::NAME),
        }),
        (S3State::NotConfigured, _) => Some(marker::Store::Folder(ctx.out_dir.join(marker::NAME))),
        _ => None,
    };
    if let (Some(store), false) = (&marker_store, ctx.force_mail) {
        match store.read() {
            Err(e) => warn!(error = %e, "cannot tell whether this window was mailed; mailing"),
            Ok(bytes) => match marker::verdict(bytes.as_deref(), &evidence_sha256) {
                marker::Verdict::NotMailed => {}
                marker::Verdict::Mailed => {
                    info!(marker = %store.describe(), "this evidence was already mailed; not mailing again (use --force-mail)");
                    return;
                }
                marker::Verdict::OtherEvidence { mailed } => {
                    info!(marker = %store.describe(), mailed = %mailed, now = %evidence_sha256, "the evidence changed since it was mailed; mailing the new report");
                }
            },
        }
    }
    let csvs: Vec<&Artifact> = artifacts
        .iter()
        .filter(|a| a.name.ends_with(".csv"))
        .collect();
    let csv_bytes: u64 = csvs.iter().map(|a| a.bytes.len() as u64).sum();
    let zip = csv_bytes <= email.attach_csv_max;
    let mut links = Vec::new();
    // A mail missing links is sent (exit 4), but not marked: the retry sends them.
    let mut presign_failed = false;
    if let (false, Some(cfg), S3State::Delivered { prefix, .. }) = (zip, &ctx.config.s3, s3_state) {
        for a in &csvs {
            match s3::presign_get(cfg, &format!("{prefix}/{}", a.name), email.link_expiry) {
                Ok(url) => links.push((a.name.clone(), url)),
                Err(e) => {
                    failures.push(format!("presigning {}: {e}", a.name));
                    presign_failed = true;
                }
            }
        }
    }
    let plan = MailPlan {
        location: location.clone(),
        not_in_s3,
        links,
        zip,
        stored_manifest_sha256: stored_manifest_sha256.clone(),
        stored_pdf,
    };
    let message = match render_mail(&plan) {
        Err(e) => return failures.push(format!("rendering the mail: {e}")),
        Ok(None) => return,
        Ok(Some(m)) => m,
    };
    let Some(smtp) = &email.smtp else {
        if let Err(e) = local::write_eml(ctx.out_dir, &message) {
            failures.push(e.to_string());
        }
        return;
    };
    let rcpt: Vec<_> = email.to.iter().chain(&email.cc).cloned().collect();
    if let Err(e) = email::send(smtp, &email.from, &rcpt, &message.bytes) {
        return failures.push(format!("SMTP: {e}; the evidence is kept at {location}"));
    }
    info!(recipients = rcpt.len(), "report mailed");
    if let (Some(store), false) = (&marker_store, presign_failed) {
        let m = marker::Marker {
            mailed_at: crate::window::rfc3339(Utc::now()),
            run_at: crate::window::rfc3339(ctx.now),
            recipients: rcpt.len(),
            evidence_sha256: Some(evidence_sha256),
            manifest_sha256: Some(
                stored_manifest_sha256
                    .unwrap_or_else(|| manifest_file::sha256_hex(&manifest.bytes)),
            ),
        };
        if let Err(e) = store.write(&m) {
            warn!(error = %e, "mailed, but the marker could not be written; a retry may mail again");
        }
    }
}
