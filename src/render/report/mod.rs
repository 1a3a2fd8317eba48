//! What the PDF report says: the cover, the cockpit's KPI cards, one section per dashboard
//! panel and cockpit tab, one page per framework, the findings and the appendices — as a
//! [`Document`] of text, tables and chart values. Every figure is formatted here, from the
//! ledger, the panels, the findings and the control results; the layout engine only places it.

mod cockpit;
mod composed;
mod dashboard;
mod evidence;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::csv::figure;
use super::pdf::document::{
    Bar, BarChart, Block, Column, Cover, Document, Kpi, LineChart, Section, Series, Table,
};
use crate::collect::Collected;
use crate::compliance::catalog::{Catalog, ControlResult, ControlStatus};
use crate::compliance::findings::{Finding, Severity, RULES};
use crate::compliance::thresholds::Thresholds;
use crate::config::StorageConfig;
use crate::identity::{bucket_owner, Resolver};
use crate::ledger::panels::Panels;
use crate::ledger::{Ledger, Unit, COLUMNS};
use crate::sources::keycloak::EventKind;
use crate::sources::litellm::LlmUsage;
use crate::sources::values::format_fixed;
use crate::sources::{Completeness, SourceKind, SourceReport};
use crate::window::{rfc3339, Window};

/// The counting rules, printed as the methodology appendix (the same text as the repository's).
const COUNTING_RULES: &str = include_str!("../../../docs/counting-rules.md");

/// Rows a detail table shows in the PDF before pointing to its CSV.
const DETAIL_ROWS: usize = 200;
const TOP_N: usize = 15;

pub struct ReportInput<'a> {
    pub window: &'a Window,
    pub now: DateTime<Utc>,
    pub reports: &'a [&'a SourceReport],
    /// SHA-256 over the evidence files (see `manifest::evidence_digest`).
    pub evidence_sha256: &'a str,
    pub catalog: &'a Catalog,
    pub controls: &'a [ControlResult<'a>],
    pub findings: &'a [Finding],
    pub thresholds: &'a Thresholds,
    pub ledger: &'a Ledger,
    pub panels: &'a Panels,
    pub collected: &'a Collected,
    pub resolver: &'a Resolver,
    pub storage: &'a StorageConfig,
    pub llm_by_user_model: &'a [LlmUsage],
    /// `[privacy] redact_sql_literals`: the PDF's query log follows the CSV's.
    pub redact_sql: bool,
    /// Set for a report composed from the daily history (no raw records, no panels).
    pub composed: Option<Composed<'a>>,
}

/// What a report composed from the daily history adds: the days it covers and the priced
/// chargeback.
pub struct Composed<'a> {
    pub days: &'a [crate::history::compose::Day],
    pub trend: &'a crate::history::activity::Trend,
    pub chargeback: Option<(
        &'a crate::ledger::chargeback::Chargeback,
        &'a crate::config::chargeback::RateCard,
    )>,
}

fn ts(ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Bytes for a reader: exact integer plus a binary-prefixed approximation.
fn bytes(v: i128) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if v < 1024 {
        return format!("{v} B");
    }
    let mut f = v as f64;
    let mut u = "B";
    for unit in UNITS {
        if f < 1024.0 {
            break;
        }
        f /= 1024.0;
        u = unit;
    }
    format!("{f:.1} {u}")
}

fn col(title: &str, numeric: bool, weight: f32) -> Column {
    Column {
        title: title.to_string(),
        numeric,
        weight,
    }
}

fn section(level: u8, title: &str, blocks: Vec<Block>) -> Section {
    Section {
        level,
        title: title.to_string(),
        blocks,
    }
}

fn complete(input: &ReportInput, kind: SourceKind) -> bool {
    input
        .reports
        .iter()
        .any(|r| r.source == kind && r.status == Completeness::Complete)
}

/// The sources users count as online from (counting rules, "Report charts").
const ONLINE_SOURCES: [SourceKind; 4] = [
    SourceKind::Trino,
    SourceKind::Opa,
    SourceKind::Keycloak,
    SourceKind::Jupyterhub,
];

/// Why a figure counted from `kinds` is unknown ("source jupyterhub partial"), or `None` when
/// every one of them was read in full. A KPI card then shows "n/a" with this note: a count
/// from a partial source is a lower bound that would read like a real figure, even zero.
fn not_known(input: &ReportInput, kinds: &[SourceKind]) -> Option<String> {
    let bad: Vec<String> = kinds
        .iter()
        .filter(|k| !complete(input, **k))
        .map(|k| format!("{} {}", k.name(), source_state(input, *k)))
        .collect();
    match bad.len() {
        0 => None,
        1 => Some(format!("source {}", bad[0])),
        _ => Some(format!("sources {}", bad.join(", "))),
    }
}

/// A source's state in words: "complete", "partial", "unavailable", or "not configured" (an
/// optional source without a `[sources.…]` section has no report at all).
fn source_state(input: &ReportInput, kind: SourceKind) -> &'static str {
    match input
        .reports
        .iter()
        .find(|r| r.source == kind)
        .map(|r| r.status)
    {
        Some(Completeness::Complete) => "complete",
        Some(Completeness::Partial) => "partial",
        Some(Completeness::Unavailable) => "unavailable",
        None => "not configured",
    }
}

/// A notice for each source a panel depends on that was not read in full.
fn gaps(input: &ReportInput, kinds: &[SourceKind]) -> Vec<Block> {
    kinds
        .iter()
        .filter(|k| !complete(input, **k))
        .map(|k| {
            let why = input
                .reports
                .iter()
                .find(|r| r.source == *k)
                .and_then(|r| r.error.clone())
                .unwrap_or_else(|| "not configured".to_string());
            Block::Notice(format!(
                "Source {} was not read in full ({why}). Figures from it below are incomplete; the ledger leaves its columns empty (unknown).",
                k.name()
            ))
        })
        .collect()
}

/// The sum of a ledger column, `None` when the column is unknown.
fn total(ledger: &Ledger, column: &str) -> Option<i64> {
    let mut sum = 0i64;
    for r in &ledger.rows {
        sum = sum.checked_add(r.figure(column)?)?;
    }
    Some(sum)
}

fn x_labels(p: &Panels) -> Vec<String> {
    let fmt = if p.bucket_ns < 86_400_000_000_000 {
        "%H:%M"
    } else {
        "%m-%d"
    };
    p.starts
        .iter()
        .map(|&s| {
            DateTime::<Utc>::from_timestamp_nanos(s)
                .format(fmt)
                .to_string()
        })
        .collect()
}

fn series(name: &str, v: &[i64]) -> Series {
    Series {
        name: name.to_string(),
        points: v.iter().map(|&x| Some(x as f64)).collect(),
    }
}

fn bucket_unit(p: &Panels) -> &'static str {
    if p.bucket_ns < 86_400_000_000_000 {
        "per hour (UTC)"
    } else {
        "per day (UTC)"
    }
}

fn line_chart(p: &Panels, title: &str, unit: &str, s: Vec<Series>, stacked: bool) -> Block {
    Block::Lines(LineChart {
        title: title.to_string(),
        unit: format!("{unit} {}", bucket_unit(p)),
        x_labels: x_labels(p),
        series: s,
        stacked_columns: stacked,
        empty_text: "No data in the window".to_string(),
    })
}

/// Per model: requests, failures, error rate and mean latency.
fn llm_models_table(models: &BTreeMap<String, (i64, i64, i64, i64)>) -> Table {
    let mut t = Table {
        columns: vec![
            col("Model", false, 2.5),
            col("Requests", true, 1.0),
            col("Failed", true, 1.0),
            col("Error rate", true, 1.0),
            col("Mean latency ms", true, 1.3),
        ],
        empty_text: "No LLM requests".into(),
        caption: Some(
            "Latency is endTime − startTime of each spend-log row; error rate = failed / requests."
                .into(),
        ),
        ..Default::default()
    };
    for (m, (req, failed, lat, timed)) in models {
        t.rows.push(vec![
            m.clone(),
            req.to_string(),
            failed.to_string(),
            if *req > 0 {
                format!(
                    "{} %",
                    format_fixed(i128::from(*failed) * 10_000 / i128::from(*req), 2, 2)
                )
            } else {
                String::new()
            },
            if *timed > 0 {
                (lat / timed).to_string()
            } else {
                "n/a".into()
            },
        ]);
    }
    t
}

/// Top users by one ledger column, as bars.
fn top_bars(ledger: &Ledger, column: &str, unit: Unit, title: &str, axis: &str) -> Block {
    let mut rows: Vec<(i64, &str)> = ledger
        .rows
        .iter()
        .filter_map(|r| r.figure(column).map(|v| (v, r.user.as_str())))
        .filter(|(v, _)| *v > 0)
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    Block::Bars(BarChart {
        title: title.to_string(),
        unit: axis.to_string(),
        series: vec![axis.to_string()],
        bars: rows
            .iter()
            .take(TOP_N)
            .map(|(v, u)| Bar {
                label: u.to_string(),
                values: vec![*v as f64],
                value_label: figure(Some(*v), unit),
            })
            .collect(),
        empty_text: "No usage in the window".to_string(),
    })
}

pub fn build(input: &ReportInput) -> Document {
    let w = input.window;
    let all_complete = input
        .reports
        .iter()
        .all(|r| r.status == Completeness::Complete);
    let title = format!(
        "AKKO audit report — {} {}",
        w.period_label(),
        w.start.format("%Y-%m-%d")
    );
    let mut sections = vec![summary(input)];
    match &input.composed {
        None => {
            sections.extend(dashboard::dashboard(input));
            sections.extend(cockpit::cockpit(input));
        }
        Some(c) => {
            sections.push(composed::days_section(c));
            sections.push(composed::trends_section(c));
            if let Some(cb) = c.chargeback {
                sections.push(composed::chargeback_section(input, cb));
            }
        }
    }
    sections.push(cockpit::usage_by_user(input));
    sections.extend(evidence::frameworks(input));
    sections.push(evidence::findings(input));
    sections.push(evidence::completeness(input));
    sections.extend(evidence::methodology(input));
    Document {
        title: title.clone(),
        created_at: rfc3339(input.now),
        cover: cover(input, all_complete),
        sections,
    }
}

fn kpis(input: &ReportInput) -> Vec<Kpi> {
    let l = input.ledger;
    if let Some(composed) = &input.composed {
        let show = |column: &str, kind: SourceKind| match total(l, column) {
            Some(v) if complete(input, kind) => (v.to_string(), "in the period".to_string()),
            _ => (
                "n/a".to_string(),
                format!("{} not complete for every day", kind.name()),
            ),
        };
        let card = |label: &str, (value, note): (String, String)| Kpi {
            label: label.into(),
            value,
            note,
        };
        return vec![
            card(
                "Total users",
                (l.rows.len().to_string(), "seen on any day".into()),
            ),
            card(
                "Online users",
                match composed.trend.peak_online() {
                    Some(v) => (v.to_string(), "busiest day, distinct".into()),
                    None => ("n/a".into(), "not known for every day".into()),
                },
            ),
            card("Trino queries", show("trino_queries", SourceKind::Trino)),
            card("LLM requests", show("llm_requests", SourceKind::Litellm)),
            card(
                "Notebook sessions",
                show("notebook_sessions", SourceKind::Jupyterhub),
            ),
            card("OPA denials", show("opa_denials", SourceKind::Opa)),
        ];
    }
    let c = input.collected;
    let show = |v: Option<i64>, kind: SourceKind| match (v, not_known(input, &[kind])) {
        (Some(v), None) => (v.to_string(), String::new()),
        (_, why) => ("n/a".to_string(), why.unwrap_or_default()),
    };
    let (online, online_note) = match not_known(input, &ONLINE_SOURCES) {
        None => (
            input.panels.peak_online().to_string(),
            format!("peak active {}", bucket_unit(input.panels)),
        ),
        Some(why) => ("n/a".to_string(), why),
    };
    let (trino, trino_note) = show(total(l, "trino_queries"), SourceKind::Trino);
    let (llm, llm_note) = show(total(l, "llm_requests"), SourceKind::Litellm);
    let running = c.sessions.iter().filter(|s| s.stop_ns.is_none()).count() as i64;
    let (notebooks, nb_note) = show(Some(running), SourceKind::Jupyterhub);
    vec![
        Kpi {
            label: "Total users".into(),
            value: l.rows.len().to_string(),
            note: "seen in any source".into(),
        },
        Kpi {
            label: "Online users".into(),
            value: online,
            note: online_note,
        },
        Kpi {
            label: "Trino queries".into(),
            value: trino,
            note: if trino_note.is_empty() {
                "in the window".into()
            } else {
                trino_note
            },
        },
        Kpi {
            label: "LLM requests".into(),
            value: llm,
            note: if llm_note.is_empty() {
                "in the window".into()
            } else {
                llm_note
            },
        },
        Kpi {
            label: "Active notebooks".into(),
            value: notebooks,
            note: if nb_note.is_empty() {
                "running at the window's end".into()
            } else {
                nb_note
            },
        },
    ]
}

fn cover(input: &ReportInput, all_complete: bool) -> Cover {
    let w = input.window;
    let reasons = input
        .reports
        .iter()
        .filter(|r| r.status != Completeness::Complete)
        .map(|r| {
            format!(
                "{} {}: {}",
                r.source.name(),
                match r.status {
                    Completeness::Partial => "partial",
                    _ => "unavailable",
                },
                r.error.as_deref().unwrap_or("no reason recorded")
            )
        })
        .collect();
    let by_sev = |s: Severity| input.findings.iter().filter(|f| f.severity == s).count();
    Cover {
        title: "AKKO audit report".into(),
        subtitle: vec![
            format!(
                "Window {} — {} ({}, half-open, UTC)",
                rfc3339(w.start),
                rfc3339(w.end),
                w.period_label()
            ),
            "Usage ledger, compliance evidence (GDPR, SOC 2, ISO/IEC 27001:2022) and findings"
                .into(),
        ],
        status: if all_complete { "COMPLETE" } else { "PARTIAL" }.into(),
        complete: all_complete,
        status_reasons: reasons,
        facts: vec![
            ("Generated at".into(), rfc3339(input.now)),
            (
                "Tool".into(),
                format!("akko-audit {}", env!("CARGO_PKG_VERSION")),
            ),
            ("Control catalog".into(), input.catalog.version.clone()),
            (
                "Findings".into(),
                format!(
                    "{} high, {} medium, {} low",
                    by_sev(Severity::High),
                    by_sev(Severity::Medium),
                    by_sev(Severity::Low)
                ),
            ),
            (
                "Evidence SHA-256".into(),
                input.evidence_sha256.to_string(),
            ),
            (
                "Verify".into(),
                "manifest.json lists the SHA-256 of every file, this report included; the digest above is its evidence_sha256 (the CSV files)".into(),
            ),
        ],
        kpis: kpis(input),
    }
}

fn summary(input: &ReportInput) -> Section {
    let mut blocks = vec![Block::Kpis(kpis(input))];
    let mut t = Table {
        columns: vec![
            col("Severity", false, 1.0),
            col("Rule", false, 2.0),
            col("Findings", true, 1.0),
        ],
        empty_text: "No findings in the window".into(),
        ..Default::default()
    };
    let mut counts: BTreeMap<(Severity, &str), usize> = BTreeMap::new();
    for f in input.findings {
        *counts.entry((f.severity, f.rule)).or_default() += 1;
    }
    for ((s, r), n) in counts {
        t.rows
            .push(vec![s.name().to_string(), r.to_string(), n.to_string()]);
    }
    blocks.push(Block::Paragraph(
        "Findings by severity and rule (details in the Findings section and findings.csv):".into(),
    ));
    blocks.push(Block::Table(t));
    let mut status: BTreeMap<&str, usize> = BTreeMap::new();
    for c in input.controls {
        *status.entry(c.status.name()).or_default() += 1;
    }
    blocks.push(Block::Paragraph(format!(
        "Controls: {} judged — {}.",
        input.controls.len(),
        status
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    )));
    blocks.push(Block::Table(sources_table(input)));
    section(1, "Summary", blocks)
}

fn sources_table(input: &ReportInput) -> Table {
    let mut t = Table {
        columns: vec![
            col("Source", false, 1.2),
            col("Backend", false, 1.0),
            col("Status", false, 1.0),
            col("Lines read", true, 1.2),
            col("Rejected", true, 1.0),
            col("Error / notes", false, 4.0),
        ],
        empty_text: "No source configured".into(),
        ..Default::default()
    };
    for r in input.reports {
        let mut notes: Vec<String> = r.error.iter().cloned().collect();
        notes.extend(r.notes.iter().cloned());
        t.rows.push(vec![
            r.source.name().into(),
            r.backend.clone(),
            format!("{:?}", r.status).to_lowercase(),
            r.tally.lines_read.to_string(),
            r.tally.lines_rejected.to_string(),
            notes.join("; "),
        ]);
    }
    t
}
