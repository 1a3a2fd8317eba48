//! The report mail: a plain-text summary (window, status, KPIs, per-source completeness, where
//! the evidence is and the manifest's hash) with the ledger and the chargeback attached.
//!
//! Rendered deterministically (Date from the run's instant, Message-ID and MIME boundary from
//! the manifest hash), so a rerun of the same window gives the same bytes.

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::Message;

use super::Artifact;
use crate::config::EmailConfig;
use crate::ledger::Ledger;
use crate::sources::values::format_fixed;
use crate::sources::{Completeness, SourceReport};
use crate::window::{rfc3339, Window};

pub const NAME: &str = "mail.eml";

/// Sums a ledger column over all users; `None` when the column is unknown.
fn total(ledger: &Ledger, column: &str) -> Option<i64> {
    ledger.rows.iter().try_fold(0i64, |acc, r| {
        r.figure(column).map(|v| acc.saturating_add(v))
    })
}

fn kpi(v: Option<i64>) -> String {
    v.map(|v| v.to_string())
        .unwrap_or_else(|| "UNKNOWN (source not complete)".into())
}

pub struct MailInput<'a> {
    pub window: &'a Window,
    pub now: DateTime<Utc>,
    pub ledger: &'a Ledger,
    pub reports: &'a [&'a SourceReport],
    pub manifest_sha256: &'a str,
    pub findings: &'a [crate::compliance::findings::Finding],
    /// Where the evidence set lives: `s3://bucket/prefix/` when uploaded, else the run folder.
    pub evidence_location: &'a str,
    /// `report.pdf`, attached as it is.
    pub pdf: Option<&'a Artifact>,
    /// CSVs to attach as one zip; empty when they travel as links instead.
    pub zip_csvs: Vec<&'a Artifact>,
    /// `(file name, presigned URL)` for CSVs too large to attach.
    pub links: Vec<(String, String)>,
    /// When those links stop working.
    pub links_expire: Option<DateTime<Utc>>,
}

pub fn render(cfg: &EmailConfig, m: &MailInput) -> Result<Artifact, String> {
    let complete = m.reports.iter().all(|r| r.status == Completeness::Complete);
    let status = if complete { "COMPLETE" } else { "PARTIAL" };
    let day = m.window.start.format("%Y-%m-%d");
    let subject = format!(
        "{} {} {day} — {status}",
        cfg.subject_prefix,
        m.window.period_label()
    );

    let mut body = String::new();
    body.push_str(&format!("AKKO audit report — {status}\n\n"));
    body.push_str(&format!(
        "Window      [{}, {}) UTC\n",
        rfc3339(m.window.start),
        rfc3339(m.window.end)
    ));
    body.push_str(&format!("Users       {}\n", m.ledger.rows.len()));
    body.push_str(&format!(
        "Trino       {} queries, {} denied\n",
        kpi(total(m.ledger, "trino_queries")),
        kpi(total(m.ledger, "trino_denied_queries"))
    ));
    let cost =
        total(m.ledger, "llm_cost_usd").map(|c| format!("{} USD", format_fixed(c.into(), 12, 2)));
    body.push_str(&format!(
        "LLM         {} requests, {}\n",
        kpi(total(m.ledger, "llm_requests")),
        cost.unwrap_or_else(|| "cost UNKNOWN".into())
    ));
    body.push_str(&format!(
        "Notebooks   {} sessions\n",
        kpi(total(m.ledger, "notebook_sessions"))
    ));
    body.push_str(&format!(
        "OPA         {} denials\n",
        kpi(total(m.ledger, "opa_denials"))
    ));
    body.push_str(&format!(
        "Keycloak    {} logins, {} failed logins\n\n",
        kpi(total(m.ledger, "logins")),
        kpi(total(m.ledger, "login_failures"))
    ));
    body.push_str("Sources\n");
    for r in m.reports {
        let status = format!("{:?}", r.status).to_lowercase();
        let why = r
            .error
            .as_deref()
            .map(|e| format!(" — {e}"))
            .unwrap_or_default();
        body.push_str(&format!(
            "  {:<11} {:<11} {} read, {} rejected{why}\n",
            r.source.name(),
            status,
            r.tally.lines_read,
            r.tally.lines_rejected
        ));
    }
    if !m.ledger.unresolved.is_empty() {
        body.push_str(&format!(
            "\nUnresolved identities: {}\n",
            m.ledger.unresolved.join(", ")
        ));
    }
    body.push_str(&format!(
        "\nEvidence    {}\nmanifest.json SHA-256 {}\n",
        m.evidence_location, m.manifest_sha256
    ));

    let tag = &m.manifest_sha256[..16.min(m.manifest_sha256.len())];
    let mut parts = MultiPart::mixed()
        .boundary(format!("akko-audit-{tag}"))
        .singlepart(SinglePart::plain(body));
    let csv = ContentType::parse("text/csv; charset=utf-8").map_err(|e| e.to_string())?;
    for a in &m.zip_csvs {
        parts =
            parts.singlepart(Attachment::new(a.name.clone()).body(a.bytes.clone(), csv.clone()));
    }
    let mut builder = Message::builder()
        .from(cfg.from.clone())
        .subject(subject)
        .date(m.now.into())
        .message_id(Some(format!(
            "<{}.{day}.{tag}@akko-audit>",
            m.window.period_label()
        )));
    for to in &cfg.to {
        builder = builder.to(to.clone());
    }
    for cc in &cfg.cc {
        builder = builder.cc(cc.clone());
    }
    let message = builder.multipart(parts).map_err(|e| e.to_string())?;
    Ok(Artifact {
        name: NAME.to_string(),
        bytes: message.formatted(),
        rows: 0,
    })
}
