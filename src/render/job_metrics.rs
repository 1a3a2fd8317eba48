//! The job's own metrics in the Prometheus text format, for the pushgateway (the convention for
//! batch jobs: a CronJob cannot be scraped, so it pushes once at the end). Alerting on
//! `time() - akko_audit_last_success_timestamp_seconds` catches a job that stopped running as
//! well as one that keeps failing.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::compliance::findings::{Finding, Severity};
use crate::sources::{Completeness, SourceReport};

pub struct JobMetrics<'a> {
    pub finished_at: DateTime<Utc>,
    pub duration_seconds: f64,
    /// The process exit code the run ends with.
    pub exit_code: i32,
    pub reports: &'a [&'a SourceReport],
    pub findings: &'a [Finding],
    pub users: usize,
}

/// A per-source gauge: name, help, and the value of one source's report.
type PerSource = (&'static str, &'static str, fn(&SourceReport) -> u64);

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

pub fn render(m: &JobMetrics) -> String {
    let mut out = String::new();
    let ts = m.finished_at.timestamp_millis() as f64 / 1000.0;
    gauge(
        &mut out,
        "akko_audit_last_run_timestamp_seconds",
        "When the last run finished (any outcome).",
    );
    let _ = writeln!(out, "akko_audit_last_run_timestamp_seconds {ts}");
    if m.exit_code == 0 {
        // Only a complete, delivered run moves this; the pushgateway keeps the old value
        // otherwise (metrics are POSTed, which replaces only the names sent).
        gauge(
            &mut out,
            "akko_audit_last_success_timestamp_seconds",
            "When the last complete and delivered run finished.",
        );
        let _ = writeln!(out, "akko_audit_last_success_timestamp_seconds {ts}");
    }
    gauge(
        &mut out,
        "akko_audit_last_run_duration_seconds",
        "Wall time of the last run.",
    );
    let _ = writeln!(
        out,
        "akko_audit_last_run_duration_seconds {:.3}",
        m.duration_seconds
    );
    gauge(
        &mut out,
        "akko_audit_last_run_exit_code",
        "0 complete, 1 error, 2 bad input, 3 partial, 4 delivery failed.",
    );
    let _ = writeln!(out, "akko_audit_last_run_exit_code {}", m.exit_code);
    gauge(
        &mut out,
        "akko_audit_users",
        "Ledger rows (users seen) in the last run.",
    );
    let _ = writeln!(out, "akko_audit_users {}", m.users);
    let per_source: [PerSource; 3] = [
        (
            "akko_audit_source_complete",
            "1 when the source was read in full in the last run.",
            |r| u64::from(r.status == Completeness::Complete),
        ),
        (
            "akko_audit_source_lines_read",
            "Lines (rows, samples) read per source in the last run.",
            |r| r.tally.lines_read,
        ),
        (
            "akko_audit_source_lines_rejected",
            "Lines per source that looked like records but could not be parsed.",
            |r| r.tally.lines_rejected,
        ),
    ];
    for (name, help, value) in per_source {
        gauge(&mut out, name, help);
        for r in m.reports {
            let _ = writeln!(out, "{name}{{source=\"{}\"}} {}", r.source.name(), value(r));
        }
    }
    gauge(
        &mut out,
        "akko_audit_findings",
        "Findings of the last run by severity.",
    );
    for s in [Severity::High, Severity::Medium, Severity::Low] {
        let n = m.findings.iter().filter(|f| f.severity == s).count();
        let _ = writeln!(out, "akko_audit_findings{{severity=\"{}\"}} {n}", s.name());
    }
    out
}
