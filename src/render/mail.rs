//! The report mail: a text and an HTML body (window, status, KPIs, per-source completeness, the
//! findings, where the evidence is and the manifest's hash) with `report.pdf` and the CSVs as
//! one zip attached, or presigned links to the CSVs when they are too large to attach.
//!
//! Rendered deterministically (Date from the run's instant; Message-ID, every MIME boundary and
//! the zip's entry timestamps from the inputs), so a rerun of the same window gives the same
//! bytes and a retried Job cannot be told apart from the first attempt by its mail.

use std::io::{Cursor, Write};

use chrono::{DateTime, Datelike, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::Message;

use super::Artifact;
use crate::compliance::findings::Finding;
use crate::config::EmailConfig;
use crate::ledger::Ledger;
use crate::sources::values::format_fixed;
use crate::sources::{Completeness, SourceReport};
use crate::window::{rfc3339, Window};

pub const NAME: &str = "mail.eml";

/// How many findings the bodies list; the rest are in findings.csv and the PDF. A bad day must
/// not produce a mail no client renders.
const MAX_LISTED_FINDINGS: usize = 50;

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
    pub findings: &'a [Finding],
    /// Where the evidence set lives: `s3://bucket/prefix/` when uploaded, else the run folder.
    pub evidence_location: &'a str,
    /// `[s3]` is set but the upload failed (why): the mail says the evidence is NOT in S3 (in
    /// the subject too), so nobody goes looking for keys that do not exist.
    pub not_in_s3: Option<&'a str>,
    /// `report.pdf`, attached as it is.
    pub pdf: Option<&'a Artifact>,
    /// CSVs to attach as one zip; empty when they travel as links instead.
    pub zip_csvs: Vec<&'a Artifact>,
    /// `(file name, presigned URL)` for CSVs too large to attach.
    pub links: Vec<(String, String)>,
    /// When those links stop working.
    pub links_expire: Option<DateTime<Utc>>,
}

/// `3 findings`, `1 finding`, `no findings`: the subject tells a reader whether to open the mail.
fn findings_phrase(n: usize) -> String {
    match n {
        0 => "no findings".to_string(),
        1 => "1 finding".to_string(),
        n => format!("{n} findings"),
    }
}

/// `[AKKO audit] daily 2026-11-30 — COMPLETE — 3 findings`, with `— evidence NOT in S3`
/// appended when the upload failed. The date is the window's [`Window::start_date`], the one
/// in its S3 key (a Berlin day starts at 23:00 UTC the day before: the UTC date would name the
/// wrong day).
pub fn subject(cfg: &EmailConfig, m: &MailInput) -> String {
    let mut s = format!(
        "{} {} {} — {} — {}",
        cfg.subject_prefix,
        m.window.period_label(),
        m.window.start_date().format("%Y-%m-%d"),
        status(m),
        findings_phrase(m.findings.len())
    );
    if m.not_in_s3.is_some() {
        s.push_str(" — evidence NOT in S3");
    }
    s
}

/// The "where is the evidence" paragraph (text), shared in meaning with the HTML one.
fn evidence_text(m: &MailInput) -> String {
    match m.not_in_s3 {
        None => format!("Evidence    {}\n", m.evidence_location),
        Some(why) => format!(
            "Evidence    NOT in S3: the upload failed ({why}).\n            \
             Only in the run folder {} (lost with a CronJob's pod) and in what is attached \
             to this mail; the run exits 4 and a retry uploads it.\n",
            m.evidence_location
        ),
    }
}

/// PARTIAL as soon as one source was not read completely: its figures are missing.
fn status(m: &MailInput) -> &'static str {
    if m.reports.iter().all(|r| r.status == Completeness::Complete) {
        "COMPLETE"
    } else {
        "PARTIAL"
    }
}

/// `evidence-csv-daily-2026-11-30.zip`: names the window, so saved attachments do not collide.
pub fn zip_name(window: &Window) -> String {
    format!(
        "evidence-csv-{}-{}.zip",
        window.period_label(),
        window.start_date().format("%Y-%m-%d")
    )
}

/// The CSVs as one zip, sorted by name, every entry stamped with the window's first day (not
/// the clock) so the same evidence always gives the same bytes.
pub fn zip_csvs(window: &Window, csvs: &[&Artifact]) -> Result<Vec<u8>, String> {
    let stamp = zip::DateTime::from_date_and_time(
        u16::try_from(window.start.year()).unwrap_or(1980),
        u8::try_from(window.start.month()).unwrap_or(1),
        u8::try_from(window.start.day()).unwrap_or(1),
        0,
        0,
        0,
    )
    .unwrap_or_default();
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(stamp)
        .unix_permissions(0o644);
    let mut sorted: Vec<&&Artifact> = csvs.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for a in sorted {
        zip.start_file(a.name.as_str(), options)
            .map_err(|e| format!("zipping {}: {e}", a.name))?;
        zip.write_all(&a.bytes)
            .map_err(|e| format!("zipping {}: {e}", a.name))?;
    }
    let out = zip.finish().map_err(|e| format!("zipping the CSVs: {e}"))?;
    Ok(out.into_inner())
}

/// Text for HTML element content and attribute values: every interpolated value goes through
/// here, since user names, SQL-derived subjects and source errors come from the platform's logs.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What both bodies say, computed once so the text and the HTML cannot disagree.
struct Facts {
    status: &'static str,
    window: String,
    /// `(label, value)`: users, then the KPIs.
    kpis: Vec<(&'static str, String)>,
    /// `(source, status, lines read, lines rejected, why)`.
    sources: Vec<(String, String, u64, u64, Option<String>)>,
    attachments: Vec<String>,
}

fn facts(m: &MailInput, zip_name: Option<&str>) -> Facts {
    let cost =
        total(m.ledger, "llm_cost_usd").map(|c| format!("{} USD", format_fixed(c.into(), 12, 2)));
    let kpis = vec![
        ("Users", m.ledger.rows.len().to_string()),
        (
            "Trino",
            format!(
                "{} queries, {} denied",
                kpi(total(m.ledger, "trino_queries")),
                kpi(total(m.ledger, "trino_denied_queries"))
            ),
        ),
        (
            "LLM",
            format!(
                "{} requests, {}",
                kpi(total(m.ledger, "llm_requests")),
                cost.unwrap_or_else(|| "cost UNKNOWN".into())
            ),
        ),
        (
            "Notebooks",
            format!("{} sessions", kpi(total(m.ledger, "notebook_sessions"))),
        ),
        (
            "OPA",
            format!("{} denials", kpi(total(m.ledger, "opa_denials"))),
        ),
        (
            "Keycloak",
            format!(
                "{} logins, {} failed logins",
                kpi(total(m.ledger, "logins")),
                kpi(total(m.ledger, "login_failures"))
            ),
        ),
    ];
    let sources = m
        .reports
        .iter()
        .map(|r| {
            (
                r.source.name().to_string(),
                format!("{:?}", r.status).to_lowercase(),
                r.tally.lines_read,
                r.tally.lines_rejected,
                r.error.clone(),
            )
        })
        .collect();
    let mut attachments = Vec::new();
    if let Some(pdf) = m.pdf {
        attachments.push(pdf.name.clone());
    }
    if let Some(z) = zip_name {
        attachments.push(format!("{z} ({} CSV files)", m.zip_csvs.len()));
    }
    Facts {
        status: status(m),
        window: format!(
            "[{}, {}) UTC",
            rfc3339(m.window.start),
            rfc3339(m.window.end)
        ),
        kpis,
        sources,
        attachments,
    }
}

fn finding_line(f: &Finding) -> String {
    format!(
        "[{}] {} — {}: {}",
        f.severity.name(),
        f.rule,
        f.subject,
        f.summary
    )
}

fn text_body(m: &MailInput, f: &Facts) -> String {
    let mut b = String::new();
    b.push_str(&format!("AKKO audit report — {}\n\n", f.status));
    b.push_str(&format!("{:<11} {}\n", "Window", f.window));
    for (label, value) in &f.kpis {
        b.push_str(&format!("{label:<11} {value}\n"));
    }
    b.push_str("\nSources\n");
    for (name, status, read, rejected, why) in &f.sources {
        let why = why
            .as_deref()
            .map(|e| format!(" — {e}"))
            .unwrap_or_default();
        b.push_str(&format!(
            "  {name:<11} {status:<11} {read} read, {rejected} rejected{why}\n"
        ));
    }
    if m.findings.is_empty() {
        b.push_str("\nFindings\n  No findings.\n");
    } else {
        b.push_str(&format!("\nFindings ({})\n", m.findings.len()));
        for finding in m.findings.iter().take(MAX_LISTED_FINDINGS) {
            b.push_str(&format!("  {}\n", finding_line(finding)));
        }
        if m.findings.len() > MAX_LISTED_FINDINGS {
            b.push_str(&format!(
                "  … and {} more in findings.csv and report.pdf\n",
                m.findings.len() - MAX_LISTED_FINDINGS
            ));
        }
    }
    if !m.ledger.unresolved.is_empty() {
        b.push_str(&format!(
            "\nUnresolved identities: {}\n",
            m.ledger.unresolved.join(", ")
        ));
    }
    if !m.links.is_empty() {
        let until = m
            .links_expire
            .map(|t| format!(" (the links expire {})", rfc3339(t)))
            .unwrap_or_default();
        b.push_str(&format!("\nCSV files, too large to attach{until}\n"));
        for (name, url) in &m.links {
            b.push_str(&format!("  {name}\n    {url}\n"));
        }
    }
    if !f.attachments.is_empty() {
        b.push_str(&format!("\nAttached    {}\n", f.attachments.join(", ")));
    }
    b.push_str(&format!(
        "\n{}manifest.json SHA-256 {}\n",
        evidence_text(m),
        m.manifest_sha256
    ));
    b
}

fn html_body(m: &MailInput, f: &Facts) -> String {
    let mut b = String::new();
    b.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n");
    b.push_str("<body style=\"font-family: sans-serif\">\n");
    b.push_str(&format!("<h2>AKKO audit report — {}</h2>\n", esc(f.status)));
    b.push_str("<table>\n");
    b.push_str(&format!(
        "<tr><th align=\"left\">Window</th><td>{}</td></tr>\n",
        esc(&f.window)
    ));
    for (label, value) in &f.kpis {
        b.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
            esc(label),
            esc(value)
        ));
    }
    b.push_str("</table>\n<h3>Sources</h3>\n<table>\n");
    b.push_str("<tr><th align=\"left\">source</th><th align=\"left\">status</th><th>read</th><th>rejected</th><th align=\"left\">why</th></tr>\n");
    for (name, status, read, rejected, why) in &f.sources {
        b.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td align=\"right\">{read}</td><td align=\"right\">{rejected}</td><td>{}</td></tr>\n",
            esc(name),
            esc(status),
            esc(why.as_deref().unwrap_or(""))
        ));
    }
    b.push_str("</table>\n");
    if m.findings.is_empty() {
        b.push_str("<h3>Findings</h3>\n<p>No findings.</p>\n");
    } else {
        b.push_str(&format!(
            "<h3>Findings ({})</h3>\n<table>\n",
            m.findings.len()
        ));
        b.push_str("<tr><th align=\"left\">severity</th><th align=\"left\">rule</th><th align=\"left\">subject</th><th align=\"left\">summary</th></tr>\n");
        for finding in m.findings.iter().take(MAX_LISTED_FINDINGS) {
            b.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(finding.severity.name()),
                esc(finding.rule),
                esc(&finding.subject),
                esc(&finding.summary)
            ));
        }
        b.push_str("</table>\n");
        if m.findings.len() > MAX_LISTED_FINDINGS {
            b.push_str(&format!(
                "<p>… and {} more in findings.csv and report.pdf</p>\n",
                m.findings.len() - MAX_LISTED_FINDINGS
            ));
        }
    }
    if !m.ledger.unresolved.is_empty() {
        b.push_str(&format!(
            "<p>Unresolved identities: {}</p>\n",
            esc(&m.ledger.unresolved.join(", "))
        ));
    }
    if !m.links.is_empty() {
        let until = m
            .links_expire
            .map(|t| format!(" (the links expire {})", rfc3339(t)))
            .unwrap_or_default();
        b.push_str(&format!(
            "<h3>CSV files, too large to attach{}</h3>\n<ul>\n",
            esc(&until)
        ));
        for (name, url) in &m.links {
            b.push_str(&format!(
                "<li><a href=\"{}\">{}</a></li>\n",
                esc(url),
                esc(name)
            ));
        }
        b.push_str("</ul>\n");
    }
    if !f.attachments.is_empty() {
        b.push_str(&format!(
            "<p>Attached: {}</p>\n",
            esc(&f.attachments.join(", "))
        ));
    }
    let evidence = match m.not_in_s3 {
        None => format!("Evidence: <code>{}</code>", esc(m.evidence_location)),
        Some(why) => format!(
            "<strong>Evidence NOT in S3</strong>: the upload failed ({}). Only in the run folder \
             <code>{}</code> (lost with a CronJob's pod) and in what is attached to this mail; \
             the run exits 4 and a retry uploads it.",
            esc(why),
            esc(m.evidence_location)
        ),
    };
    b.push_str(&format!(
        "<p>{evidence}<br>\nmanifest.json SHA-256 <code>{}</code></p>\n",
        esc(m.manifest_sha256)
    ));
    b.push_str("</body></html>\n");
    b
}

pub fn render(cfg: &EmailConfig, m: &MailInput) -> Result<Artifact, String> {
    let day = m.window.start_date().format("%Y-%m-%d");
    let zip = if m.zip_csvs.is_empty() {
        None
    } else {
        Some((zip_name(m.window), zip_csvs(m.window, &m.zip_csvs)?))
    };
    let facts = facts(m, zip.as_ref().map(|(n, _)| n.as_str()));

    // lettre draws random boundaries unless told: derive each from the manifest hash. No
    // boundary is a prefix of another, so no part can end another part early.
    let tag = &m.manifest_sha256[..16.min(m.manifest_sha256.len())];
    let bodies = MultiPart::alternative()
        .boundary(format!("akko-audit-{tag}-alt"))
        .singlepart(SinglePart::plain(text_body(m, &facts)))
        .singlepart(SinglePart::html(html_body(m, &facts)));
    let mut parts = MultiPart::mixed()
        .boundary(format!("akko-audit-{tag}-mixed"))
        .multipart(bodies);
    if let Some(pdf) = m.pdf {
        let ct = ContentType::parse("application/pdf").map_err(|e| e.to_string())?;
        parts = parts.singlepart(Attachment::new(pdf.name.clone()).body(pdf.bytes.clone(), ct));
    }
    if let Some((name, bytes)) = zip {
        let ct = ContentType::parse("application/zip").map_err(|e| e.to_string())?;
        parts = parts.singlepart(Attachment::new(name).body(bytes, ct));
    }
    let mut builder = Message::builder()
        .from(cfg.from.clone())
        .subject(subject(cfg, m))
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
    if let Some(reply_to) = &cfg.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    let message = builder.multipart(parts).map_err(|e| e.to_string())?;
    Ok(Artifact {
        name: NAME.to_string(),
        bytes: message.formatted(),
        rows: 0,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use chrono::TimeZone;
    use mailparse::{MailHeaderMap, ParsedMail};

    use super::*;
    use crate::compliance::findings::Severity;
    use crate::sources::{SourceKind, Tally};
    use crate::window::{Period, WindowOrigin};

    fn window() -> Window {
        Window {
            start: Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
            origin: WindowOrigin::Scheduled {
                period: Period::Daily,
                schedule: "0 2 * * *".into(),
                fire_time: Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap(),
                time_zone: "UTC".into(),
            },
        }
    }

    fn config() -> EmailConfig {
        EmailConfig {
            from: "AKKO audit <akko-audit@akko.example>".parse().unwrap(),
            to: vec!["Platform admin <platform-admin@akko.example>"
                .parse()
                .unwrap()],
            cc: vec!["dpo@akko.example".parse().unwrap()],
            reply_to: Some("Security <security@akko.example>".parse().unwrap()),
            subject_prefix: "[AKKO audit]".into(),
            attach_csv_max: 10 << 20,
            link_expiry: std::time::Duration::from_secs(86_400),
            smtp: None,
        }
    }

    fn report(source: SourceKind, status: Completeness) -> SourceReport {
        SourceReport {
            source,
            backend: "files".into(),
            status,
            tally: Tally::default(),
            error: (status != Completeness::Complete).then(|| "Loki <timed out>".into()),
            notes: vec![],
        }
    }

    fn finding(subject: &str) -> Finding {
        Finding {
            rule: "auth.brute_force_user",
            severity: Severity::High,
            subject: subject.into(),
            summary: "12 failed logins in 5 min & then a success".into(),
            count: 12,
            first_ns: None,
            last_ns: None,
            evidence: vec![],
        }
    }

    fn artifact(name: &str, bytes: &[u8]) -> Artifact {
        Artifact {
            name: name.into(),
            bytes: bytes.to_vec(),
            rows: 1,
        }
    }

    struct Fixture {
        window: Window,
        ledger: Ledger,
        reports: Vec<SourceReport>,
        findings: Vec<Finding>,
        pdf: Artifact,
        csvs: Vec<Artifact>,
    }

    impl Fixture {
        fn new(findings: Vec<Finding>) -> Self {
            Fixture {
                window: window(),
                ledger: Ledger {
                    rows: vec![],
                    unresolved: vec![],
                },
                reports: vec![
                    report(SourceKind::Trino, Completeness::Complete),
                    report(SourceKind::Opa, Completeness::Complete),
                ],
                findings,
                pdf: artifact("report.pdf", b"%PDF-1.7\n\x00\xff binary\n%%EOF\n"),
                // Not sorted: the zip sorts them.
                csvs: vec![
                    artifact("usage_by_user.csv", b"user,trino_queries\nalice,3\n"),
                    artifact(
                        "findings.csv",
                        b"severity,rule\nhigh,auth.brute_force_user\n",
                    ),
                    artifact(
                        "chargeback_by_team.csv",
                        "team,cost\nr\u{e9}seau,1.00\n".as_bytes(),
                    ),
                ],
            }
        }

        fn render(&self, sha: &str, links: Vec<(String, String)>) -> Vec<u8> {
            self.render_at(
                sha,
                links,
                "s3://evidence/akko/period=daily/start=2026-11-30/",
                None,
            )
        }

        fn render_at(
            &self,
            sha: &str,
            links: Vec<(String, String)>,
            location: &str,
            not_in_s3: Option<&str>,
        ) -> Vec<u8> {
            let reports: Vec<&SourceReport> = self.reports.iter().collect();
            let links_expire =
                (!links.is_empty()).then(|| Utc.with_ymd_and_hms(2026, 12, 8, 2, 0, 0).unwrap());
            let zip_csvs = if links.is_empty() {
                self.csvs.iter().collect()
            } else {
                vec![]
            };
            render(
                &config(),
                &MailInput {
                    window: &self.window,
                    now: Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap(),
                    ledger: &self.ledger,
                    reports: &reports,
                    manifest_sha256: sha,
                    findings: &self.findings,
                    evidence_location: location,
                    not_in_s3,
                    pdf: Some(&self.pdf),
                    zip_csvs,
                    links,
                    links_expire,
                },
            )
            .unwrap()
            .bytes
        }
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn subject_of(raw: &[u8]) -> String {
        mailparse::parse_mail(raw)
            .unwrap()
            .headers
            .get_first_value("Subject")
            .unwrap()
    }

    /// Every leaf part, depth first.
    fn leaves<'a>(m: &'a ParsedMail<'a>, out: &mut Vec<&'a ParsedMail<'a>>) {
        if m.subparts.is_empty() {
            out.push(m);
        }
        for p in &m.subparts {
            leaves(p, out);
        }
    }

    fn body_of(raw: &[u8], mime: &str) -> String {
        let mail = mailparse::parse_mail(raw).unwrap();
        let mut parts = Vec::new();
        leaves(&mail, &mut parts);
        let found: Vec<_> = parts.iter().filter(|p| p.ctype.mimetype == mime).collect();
        assert_eq!(found.len(), 1, "exactly one {mime} part");
        found[0].get_body().unwrap()
    }

    fn attachment(raw: &[u8], name: &str) -> Option<(String, Vec<u8>)> {
        let mail = mailparse::parse_mail(raw).unwrap();
        let mut parts = Vec::new();
        leaves(&mail, &mut parts);
        parts
            .iter()
            .find(|p| {
                p.get_content_disposition()
                    .params
                    .get("filename")
                    .map(String::as_str)
                    == Some(name)
            })
            .map(|p| (p.ctype.mimetype.clone(), p.get_body_raw().unwrap()))
    }

    #[test]
    fn subject_counts_findings_and_says_partial() {
        let f = Fixture::new(vec![finding("alice"), finding("bob"), finding("carol")]);
        assert_eq!(
            subject_of(&f.render(SHA, vec![])),
            "[AKKO audit] daily 2026-11-30 — COMPLETE — 3 findings"
        );
        let f = Fixture::new(vec![finding("alice")]);
        assert_eq!(
            subject_of(&f.render(SHA, vec![])),
            "[AKKO audit] daily 2026-11-30 — COMPLETE — 1 finding"
        );
        let mut f = Fixture::new(vec![]);
        assert_eq!(
            subject_of(&f.render(SHA, vec![])),
            "[AKKO audit] daily 2026-11-30 — COMPLETE — no findings"
        );
        f.reports
            .push(report(SourceKind::Keycloak, Completeness::Unavailable));
        assert_eq!(
            subject_of(&f.render(SHA, vec![])),
            "[AKKO audit] daily 2026-11-30 — PARTIAL — no findings"
        );
    }

    #[test]
    fn a_failed_upload_is_said_in_subject_and_bodies_and_no_s3_key_is_named() {
        let f = Fixture::new(vec![]);
        let raw = f.render_at(
            SHA,
            vec![],
            "/var/lib/akko-audit/out",
            Some("S3 endpoint unreachable <x>"),
        );
        assert_eq!(
            subject_of(&raw),
            "[AKKO audit] daily 2026-11-30 — COMPLETE — no findings — evidence NOT in S3"
        );
        let text = body_of(&raw, "text/plain");
        assert!(
            text.contains("Evidence    NOT in S3: the upload failed (S3 endpoint unreachable <x>)"),
            "{text}"
        );
        assert!(text.contains("/var/lib/akko-audit/out"), "{text}");
        let html = body_of(&raw, "text/html");
        assert!(
            html.contains("<strong>Evidence NOT in S3</strong>"),
            "{html}"
        );
        assert!(html.contains("unreachable &lt;x&gt;"), "{html}");
        for body in [&text, &html] {
            assert!(!body.contains("s3://"), "{body}");
        }
    }

    #[test]
    fn subject_names_the_local_day_of_the_s3_key() {
        // A Berlin day: [2026-11-29T23:00Z, 2026-11-30T23:00Z) is 30 November there.
        let mut f = Fixture::new(vec![]);
        f.window = Window {
            start: Utc.with_ymd_and_hms(2026, 11, 29, 23, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap(),
            origin: WindowOrigin::Scheduled {
                period: Period::Daily,
                schedule: "0 2 * * *".into(),
                fire_time: Utc.with_ymd_and_hms(2026, 12, 1, 1, 0, 0).unwrap(),
                time_zone: "Europe/Berlin".into(),
            },
        };
        let subject = subject_of(&f.render(SHA, vec![]));
        assert_eq!(
            subject,
            "[AKKO audit] daily 2026-11-30 — COMPLETE — no findings"
        );
        assert!(f.window.partition().ends_with("start=2026-11-30"));
        assert_eq!(zip_name(&f.window), "evidence-csv-daily-2026-11-30.zip");
    }

    #[test]
    fn structure_headers_and_bodies() {
        let f = Fixture::new(vec![finding("alice")]);
        let raw = f.render(SHA, vec![]);
        let mail = mailparse::parse_mail(&raw).unwrap();
        assert_eq!(mail.ctype.mimetype, "multipart/mixed");
        assert_eq!(mail.subparts[0].ctype.mimetype, "multipart/alternative");
        let alt: Vec<_> = mail.subparts[0]
            .subparts
            .iter()
            .map(|p| p.ctype.mimetype.as_str())
            .collect();
        assert_eq!(alt, ["text/plain", "text/html"]);
        let names: Vec<_> = mail.subparts[1..]
            .iter()
            .map(|p| p.get_content_disposition().params["filename"].clone())
            .collect();
        assert_eq!(names, ["report.pdf", "evidence-csv-daily-2026-11-30.zip"]);
        let h = &mail.headers;
        assert_eq!(
            h.get_first_value("Reply-To").unwrap(),
            "Security <security@akko.example>"
        );
        assert_eq!(h.get_first_value("Cc").unwrap(), "dpo@akko.example");
        assert_eq!(
            h.get_first_value("Message-ID").unwrap(),
            "<daily.2026-11-30.0123456789abcdef@akko-audit>"
        );
        assert_eq!(
            h.get_first_value("Date").unwrap(),
            "Tue, 01 Dec 2026 02:00:00 +0000"
        );
        let (ct, pdf) = attachment(&raw, "report.pdf").unwrap();
        assert_eq!((ct.as_str(), pdf), ("application/pdf", f.pdf.bytes.clone()));
        for mime in ["text/plain", "text/html"] {
            let body = body_of(&raw, mime);
            for needle in [
                "2026-11-30T00:00:00.000Z",
                "COMPLETE",
                "auth.brute_force_user",
                "high",
                "alice",
                "Trino",
                "opa",
                "s3://evidence/akko/period=daily/start=2026-11-30/",
                SHA,
                "evidence-csv-daily-2026-11-30.zip",
            ] {
                assert!(body.contains(needle), "{mime} lacks {needle:?}:\n{body}");
            }
            assert!(!body.contains("No findings"), "{mime}");
        }
        // No findings is said, not left blank: the mail goes out on quiet days too.
        let raw = Fixture::new(vec![]).render(SHA, vec![]);
        for mime in ["text/plain", "text/html"] {
            assert!(body_of(&raw, mime).contains("No findings."), "{mime}");
        }
    }

    #[test]
    fn html_escapes_every_value() {
        let mut f = Fixture::new(vec![finding("<script>alert('x')</script>")]);
        f.reports
            .push(report(SourceKind::Keycloak, Completeness::Partial));
        f.ledger.unresolved = vec!["<img src=x onerror=y>".into()];
        let raw = f.render(SHA, vec![]);
        let html = body_of(&raw, "text/html");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<timed out>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("5 min &amp; then"), "{html}");
        assert!(html.contains("Loki &lt;timed out&gt;"), "{html}");
        // The text body keeps the name as it is.
        assert!(body_of(&raw, "text/plain").contains("<script>alert('x')</script>"));
    }

    #[test]
    fn the_zip_holds_exactly_the_csvs() {
        let f = Fixture::new(vec![]);
        let raw = f.render(SHA, vec![]);
        let (ct, bytes) = attachment(&raw, "evidence-csv-daily-2026-11-30.zip").unwrap();
        assert_eq!(ct, "application/zip");
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let names: Vec<String> = zip.file_names().map(String::from).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "entries sorted by name");
        assert_eq!(
            names,
            [
                "chargeback_by_team.csv",
                "findings.csv",
                "usage_by_user.csv"
            ]
        );
        for a in &f.csvs {
            let mut entry = zip.by_name(&a.name).unwrap();
            assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
            let stamp = entry.last_modified().unwrap();
            assert_eq!((stamp.year(), stamp.month(), stamp.day()), (2026, 11, 30));
            let mut got = Vec::new();
            entry.read_to_end(&mut got).unwrap();
            assert_eq!(got, a.bytes, "{}", a.name);
        }
        // No CSVs to attach: no zip at all.
        let f = Fixture::new(vec![]);
        let raw = f.render(SHA, vec![("big.csv".into(), "https://s3/x?a=1&b=2".into())]);
        assert!(attachment(&raw, "evidence-csv-daily-2026-11-30.zip").is_none());
    }

    #[test]
    fn links_are_listed_with_their_expiry() {
        let f = Fixture::new(vec![]);
        let raw = f.render(
            SHA,
            vec![(
                "usage_by_user.csv".into(),
                "https://minio.example/evidence/u.csv?X-Amz-Expires=86400&X-Amz-Signature=ab"
                    .into(),
            )],
        );
        let text = body_of(&raw, "text/plain");
        assert!(text.contains("usage_by_user.csv"), "{text}");
        assert!(
            text.contains(
                "https://minio.example/evidence/u.csv?X-Amz-Expires=86400&X-Amz-Signature=ab"
            ),
            "{text}"
        );
        assert!(text.contains("expire 2026-12-08T02:00:00.000Z"), "{text}");
        let html = body_of(&raw, "text/html");
        assert!(
            html.contains("href=\"https://minio.example/evidence/u.csv?X-Amz-Expires=86400&amp;X-Amz-Signature=ab\""),
            "{html}"
        );
        assert!(html.contains("expire 2026-12-08T02:00:00.000Z"), "{html}");
    }

    #[test]
    fn same_input_same_bytes() {
        let f = Fixture::new(vec![finding("alice")]);
        let a = f.render(SHA, vec![]);
        assert_eq!(a, f.render(SHA, vec![]));
        assert_eq!(a, Fixture::new(vec![finding("alice")]).render(SHA, vec![]));
        // Every boundary comes from the manifest hash, none from lettre's random generator.
        let text = String::from_utf8_lossy(&a);
        let boundaries: Vec<&str> = text
            .match_indices("boundary=\"")
            .map(|(i, _)| {
                let rest = &text[i + 10..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        assert_eq!(
            boundaries,
            [
                "akko-audit-0123456789abcdef-mixed",
                "akko-audit-0123456789abcdef-alt"
            ]
        );
        // Another manifest: another Message-ID and other boundaries.
        let other = f.render(&SHA.replace('0', "f"), vec![]);
        assert_ne!(a, other);
        assert!(!String::from_utf8_lossy(&other).contains("0123456789abcdef"));
    }
}
