//! Deliverers put finished artifacts where people use them. They never render: the mail is
//! rendered by a callback once delivery knows where the evidence landed (the S3 location and,
//! for large CSVs, presigned links).
//!
//! Order: the run folder, then the S3 evidence store (manifest last), then the mail, then the
//! "mailed" marker next to the manifest. A failure at one step does not skip the others that can
//! still keep the evidence: a mail that cannot be sent leaves the set in S3 and the folder, and
//! the run exits 4.

pub mod email;
pub mod local;
pub mod pushgateway;
pub mod s3;

use std::path::Path;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::config::Config;
use crate::render::Artifact;
use crate::window::Window;

/// Marker written next to the manifest once the report was mailed: a retried Job finds it and
/// does not mail the same window twice (unless `--force-mail`).
pub const MAILED_MARKER: &str = "mailed.json";

pub struct DeliveryContext<'a> {
    pub config: &'a Config,
    pub window: &'a Window,
    pub now: DateTime<Utc>,
    pub out_dir: &'a Path,
    pub force_mail: bool,
}

/// `render_mail(location, links, zip)`: the mail, told where the evidence is, the presigned
/// links for CSVs too large to attach, and whether the CSVs go as one zip.
pub fn deliver(
    ctx: &DeliveryContext,
    artifacts: &[Artifact],
    manifest: &Artifact,
    history: &[Artifact],
    render_mail: impl Fn(&str, Vec<(String, String)>, bool) -> Result<Option<Artifact>, String>,
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
    let mut location = ctx.out_dir.display().to_string();
    let mut s3_prefix = None;
    if let Some(cfg) = &ctx.config.s3 {
        let prefix = s3::key_prefix(cfg, ctx.window);
        match s3::upload_set(cfg, &prefix, artifacts, manifest) {
            Ok(loc) => {
                info!(location = %loc, files = artifacts.len() + 1, "evidence uploaded");
                location = loc;
                s3_prefix = Some(prefix);
            }
            Err(e) => failures.push(format!("S3: {e}")),
        }
    }
    if let Some(email) = &ctx.config.email {
        let marker = s3_prefix.as_ref().map(|p| format!("{p}/{MAILED_MARKER}"));
        let already = match (&ctx.config.s3, &marker) {
            (Some(cfg), Some(key)) if !ctx.force_mail => s3::exists(cfg, key).unwrap_or_else(|e| {
                warn!(error = %e, "cannot tell whether this window was mailed; mailing");
                false
            }),
            _ => false,
        };
        if already {
            info!(marker = ?marker, "this window was already mailed; not mailing again (use --force-mail)");
        } else {
            let csvs: Vec<&Artifact> = artifacts
                .iter()
                .filter(|a| a.name.ends_with(".csv"))
                .collect();
            let csv_bytes: u64 = csvs.iter().map(|a| a.bytes.len() as u64).sum();
            let zip = csv_bytes <= email.attach_csv_max;
            let mut links = Vec::new();
            if let (false, Some(cfg), Some(prefix)) = (zip, &ctx.config.s3, &s3_prefix) {
                for a in &csvs {
                    match s3::presign_get(cfg, &format!("{prefix}/{}", a.name), email.link_expiry) {
                        Ok(url) => links.push((a.name.clone(), url)),
                        Err(e) => failures.push(format!("presigning {}: {e}", a.name)),
                    }
                }
            }
            match render_mail(&location, links, zip) {
                Err(e) => failures.push(format!("rendering the mail: {e}")),
                Ok(None) => {}
                Ok(Some(message)) => match &email.smtp {
                    None => {
                        if let Err(e) = local::write_eml(ctx.out_dir, &message) {
                            failures.push(e.to_string());
                        }
                    }
                    Some(smtp) => {
                        let rcpt: Vec<_> = email.to.iter().chain(&email.cc).cloned().collect();
                        match email::send(smtp, &email.from, &rcpt, &message.bytes) {
                            Ok(()) => {
                                info!(recipients = rcpt.len(), "report mailed");
                                if let (Some(cfg), Some(key)) = (&ctx.config.s3, &marker) {
                                    let body = serde_json::json!({
                                        "mailed_at": crate::window::rfc3339(Utc::now()),
                                        "run_at": crate::window::rfc3339(ctx.now),
                                        "recipients": rcpt.len(),
                                    });
                                    if let Err(e) = s3::put(cfg, key, body.to_string().as_bytes()) {
                                        warn!(error = %e, "mailed, but the marker could not be written; a retry may mail again");
                                    }
                                }
                            }
                            Err(e) => failures
                                .push(format!("SMTP: {e}; the evidence is kept at {location}")),
                        }
                    }
                },
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(failures.join("; "))
    }
}
