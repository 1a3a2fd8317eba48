//! What the PDF report says: the cover, the cockpit's KPI cards, one section per dashboard
//! panel and cockpit tab, one page per framework, the findings and the appendices — as a
//! [`Document`] of text, tables and chart values. Every figure is formatted here, from the
//! ledger, the panels, the findings and the control results; the layout engine only places it.

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
const COUNTING_RULES: &str = include_str!("../../docs/counting-rules.md");

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
            sections.extend(dashboard(input));
            sections.extend(cockpit(input));
        }
        Some(c) => {
            sections.push(days_section(c));
            if let Some(cb) = c.chargeback {
                sections.push(chargeback_section(input, cb));
            }
        }
    }
    sections.push(usage_by_user(input));
    sections.extend(frameworks(input));
    sections.push(findings(input));
    sections.push(completeness(input));
    sections.extend(methodology(input));
    Document {
        title: title.clone(),
        created_at: rfc3339(input.now),
        cover: cover(input, all_complete),
        sections,
    }
}

fn kpis(input: &ReportInput) -> Vec<Kpi> {
    let l = input.ledger;
    if input.composed.is_some() {
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
    let show = |v: Option<i64>, kind: SourceKind| match v {
        Some(v) if complete(input, kind) => (v.to_string(), String::new()),
        _ => (
            "n/a".to_string(),
            format!("{} not read in full", kind.name()),
        ),
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
            value: input.panels.peak_online().to_string(),
            note: format!("peak active {}", bucket_unit(input.panels)),
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

fn dashboard(input: &ReportInput) -> Vec<Section> {
    let p = input.panels;
    let c = input.collected;
    let l = input.ledger;
    let mut out = vec![section(
        1,
        "Audit trail & usage dashboard",
        vec![Block::Paragraph(
            "The 14 panels of the platform's akko-audit-usage dashboard, for the report window. Stat and time-series panels are drawn from the same records as the ledger; log panels list the latest rows and point to the detail CSV that holds all of them."
                .into(),
        )],
    )];
    // 1. Activity timeline: the unified log as volume per source, then the latest events.
    let mut events: Vec<(i64, &str, String, String)> = Vec::new();
    for q in &c.trino {
        events.push((
            q.end_ns,
            "trino",
            input.resolver.canonical(&q.user),
            format!("query {} {}", q.query_id, q.state),
        ));
    }
    for d in &c.opa_denials {
        events.push((
            d.time_ns,
            "opa",
            input.resolver.canonical(&d.user),
            format!("deny {}", d.operation),
        ));
    }
    for e in &c.keycloak {
        let who = e
            .username
            .as_deref()
            .or(e.user_id.as_deref())
            .map(|u| input.resolver.canonical(u))
            .unwrap_or_default();
        events.push((
            e.time_ns,
            "keycloak",
            who,
            match e.kind {
                EventKind::User => format!("{} {}", e.event_type, e.error),
                EventKind::Admin => format!("admin {} {}", e.event_type, e.resource_type),
            },
        ));
    }
    events.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let n_events = events.len();
    let mut timeline = Table {
        columns: vec![
            col("Time (UTC)", false, 2.0),
            col("Source", false, 1.0),
            col("User", false, 1.5),
            col("Event", false, 3.5),
        ],
        empty_text: "No events in the window".into(),
        caption: Some(format!(
            "Latest {} of {n_events} events (Trino queries, OPA denials, Keycloak events); all of them are in the detail CSVs.",
            n_events.min(DETAIL_ROWS)
        )),
        ..Default::default()
    };
    for (t, s, u, e) in events.into_iter().take(DETAIL_ROWS) {
        timeline.rows.push(vec![ts(t), s.into(), u, e]);
    }
    let mut b = gaps(
        input,
        &[SourceKind::Trino, SourceKind::Opa, SourceKind::Keycloak],
    );
    b.push(line_chart(
        p,
        "Events by source",
        "events",
        vec![
            series("Trino queries", &p.trino_queries),
            series("OPA denials", &p.opa_denials),
            series(
                "Keycloak events",
                &p.logins
                    .iter()
                    .zip(&p.login_failures)
                    .zip(&p.other_user_events)
                    .zip(&p.admin_events)
                    .map(|(((a, b), c), d)| a + b + c + d)
                    .collect::<Vec<_>>(),
            ),
        ],
        false,
    ));
    b.push(Block::Table(timeline));
    out.push(section(2, "Activity timeline", b));
    // 2, 3: top users.
    let mut b = gaps(input, &[SourceKind::Trino]);
    b.push(top_bars(
        l,
        "trino_queries",
        Unit::Count,
        "Top users by Trino queries",
        "queries",
    ));
    b.push(top_bars(
        l,
        "trino_rows_scanned",
        Unit::Count,
        "Top users by rows scanned",
        "rows scanned",
    ));
    out.push(section(2, "Top users by Trino queries", b));
    let mut b = gaps(input, &[SourceKind::Litellm]);
    let mut tok: Vec<(i64, i64, &str)> = l
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                r.figure("llm_prompt_tokens")?,
                r.figure("llm_completion_tokens")?,
                r.user.as_str(),
            ))
        })
        .filter(|(a, b, _)| a + b > 0)
        .collect();
    tok.sort_by(|a, b| (b.0 + b.1).cmp(&(a.0 + a.1)).then(a.2.cmp(b.2)));
    b.push(Block::Bars(BarChart {
        title: "Top users by LLM tokens".into(),
        unit: "tokens".into(),
        series: vec!["prompt".into(), "completion".into()],
        bars: tok
            .iter()
            .take(TOP_N)
            .map(|(pr, co, u)| Bar {
                label: u.to_string(),
                values: vec![*pr as f64, *co as f64],
                value_label: (pr + co).to_string(),
            })
            .collect(),
        empty_text: "No LLM usage in the window".into(),
    }));
    out.push(section(2, "Top users by LLM tokens", b));
    // 4, 5, 6: sessions and users.
    let mut b = gaps(input, &[SourceKind::Jupyterhub]);
    b.push(line_chart(
        p,
        "Notebook servers running",
        "servers",
        vec![series("active sessions", &p.active_sessions)],
        false,
    ));
    out.push(section(2, "JupyterHub active sessions", b));
    let hub_total = c
        .platform
        .iter()
        .find(|s| s.metric == "jupyterhub_total_users")
        .and_then(|s| s.at_end);
    let hub_active = c
        .platform
        .iter()
        .find(|s| s.metric == "jupyterhub_active_users")
        .and_then(|s| s.at_end);
    let metric = |v: Option<i128>| {
        v.map(crate::sources::platform::format_value)
            .unwrap_or_else(|| "n/a".into())
    };
    let mut b = gaps(input, &[SourceKind::Platform]);
    b.push(Block::Kpis(vec![
        Kpi {
            label: "JupyterHub total users".into(),
            value: metric(hub_total),
            note: "jupyterhub_total_users at the window's end".into(),
        },
        Kpi {
            label: "JupyterHub active users".into(),
            value: metric(hub_active),
            note: "jupyterhub_active_users at the window's end".into(),
        },
        Kpi {
            label: "Notebook users in the window".into(),
            value: l
                .rows
                .iter()
                .filter(|r| r.figure("notebook_sessions").unwrap_or(0) > 0)
                .count()
                .to_string(),
            note: "users with a session overlapping the window".into(),
        },
    ]));
    out.push(section(2, "JupyterHub total users", b));
    let total_users = l.rows.len() as i64;
    out.push(section(
        2,
        "Users online vs total",
        vec![line_chart(
            p,
            "Distinct active users vs users seen in the window",
            "users",
            vec![
                series("online", &p.online_users),
                series("total", &vec![total_users; p.starts.len()]),
            ],
            false,
        )],
    ));
    // 7. Storage by bucket.
    let mut b = gaps(input, &[SourceKind::Storage]);
    let mut buckets: Vec<_> = c.buckets.iter().collect();
    buckets.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.bucket.cmp(&b.bucket)));
    b.push(Block::Bars(BarChart {
        title: "Largest buckets at the window's end".into(),
        unit: "bytes".into(),
        series: vec!["bytes".into()],
        bars: buckets
            .iter()
            .take(TOP_N)
            .map(|x| Bar {
                label: input.resolver.text(&x.bucket).into_owned(),
                values: vec![x.bytes as f64],
                value_label: bytes(x.bytes),
            })
            .collect(),
        empty_text: "No bucket sizes".into(),
    }));
    out.push(section(2, "Storage by bucket", b));
    // 8, 9. CPU and memory by user pod: window totals and peaks (the job keeps no per-sample
    // series, so these are bars where the live dashboard draws lines).
    let mut pods: Vec<_> = c.pods.iter().collect();
    pods.sort_by(|a, b| b.cpu_ns.cmp(&a.cpu_ns).then(a.pod.cmp(&b.pod)));
    let pod_label = |x: &crate::sources::pods::PodUsage| match &x.user {
        Some(u) => format!(
            "{} ({})",
            input.resolver.text(&x.pod),
            input.resolver.canonical(u)
        ),
        None => input.resolver.text(&x.pod).into_owned(),
    };
    let mut b = gaps(input, &[SourceKind::Pods]);
    b.push(Block::Bars(BarChart {
        title: "CPU core-seconds per notebook pod in the window".into(),
        unit: "CPU seconds".into(),
        series: vec!["CPU seconds".into()],
        bars: pods
            .iter()
            .take(TOP_N)
            .map(|x| Bar {
                label: pod_label(x),
                values: vec![x.cpu_ns as f64 / 1e9],
                value_label: format_fixed(x.cpu_ns, 9, 3),
            })
            .collect(),
        empty_text: "No notebook pods in the window".into(),
    }));
    b.push(Block::Table(pods_table(input)));
    out.push(section(2, "CPU usage by user pods", b));
    pods.sort_by(|a, b| {
        b.peak_memory_bytes
            .cmp(&a.peak_memory_bytes)
            .then(a.pod.cmp(&b.pod))
    });
    let mut b = gaps(input, &[SourceKind::Pods]);
    b.push(Block::Bars(BarChart {
        title: "Peak memory (working set) per notebook pod".into(),
        unit: "bytes".into(),
        series: vec!["bytes".into()],
        bars: pods
            .iter()
            .take(TOP_N)
            .map(|x| Bar {
                label: pod_label(x),
                values: vec![x.peak_memory_bytes as f64],
                value_label: bytes(x.peak_memory_bytes),
            })
            .collect(),
        empty_text: "No notebook pods in the window".into(),
    }));
    out.push(section(2, "Memory usage by user pods", b));
    // 9. Keycloak auth events.
    let mut b = gaps(input, &[SourceKind::Keycloak]);
    b.push(line_chart(
        p,
        "Keycloak events",
        "events",
        vec![
            series("logins", &p.logins),
            series("login failures", &p.login_failures),
            series("other user events", &p.other_user_events),
            series("admin events", &p.admin_events),
        ],
        true,
    ));
    b.push(Block::Table(auth_table(input)));
    out.push(section(2, "Keycloak auth events", b));
    // 10. Trino query log.
    let mut b = gaps(input, &[SourceKind::Trino]);
    b.push(Block::Table(trino_table(input)));
    out.push(section(2, "Trino query log", b));
    // 11. OPA decisions.
    let mut b = gaps(input, &[SourceKind::Opa]);
    b.push(line_chart(
        p,
        "OPA decision log lines and denials",
        "decisions",
        vec![
            series("decision log lines", &p.opa_lines),
            series("denials", &p.opa_denials),
        ],
        false,
    ));
    b.push(Block::Table(denials_table(input)));
    out.push(section(2, "OPA authorization decisions", b));
    // 12. LiteLLM request rate.
    let mut b = gaps(input, &[SourceKind::Litellm]);
    b.push(line_chart(
        p,
        "LLM requests per model",
        "requests",
        p.llm_requests.iter().map(|(m, v)| series(m, v)).collect(),
        false,
    ));
    out.push(section(2, "LiteLLM request rate", b));
    // 13. Audit event volume.
    out.push(section(
        2,
        "Audit event volume",
        vec![line_chart(
            p,
            "Audit events by type",
            "events",
            vec![
                series("trino query", &p.trino_queries),
                series("opa decision", &p.opa_lines),
                series("keycloak login", &p.logins),
                series("keycloak login error", &p.login_failures),
                series("keycloak admin", &p.admin_events),
            ],
            true,
        )],
    ));
    out
}

fn pods_table(input: &ReportInput) -> Table {
    let mut pods: Vec<_> = input.collected.pods.iter().collect();
    pods.sort_by(|a, b| b.cpu_ns.cmp(&a.cpu_ns).then(a.pod.cmp(&b.pod)));
    let n = pods.len();
    Table {
        columns: vec![
            col("Pod", false, 2.5),
            col("User", false, 1.5),
            col("CPU seconds", true, 1.2),
            col("Peak memory", true, 1.2),
        ],
        rows: pods
            .iter()
            .take(DETAIL_ROWS)
            .map(|x| {
                vec![
                    input.resolver.text(&x.pod).into_owned(),
                    x.user
                        .as_deref()
                        .map(|u| input.resolver.canonical(u))
                        .unwrap_or_else(|| "(no label)".into()),
                    format_fixed(x.cpu_ns, 9, 3),
                    bytes(x.peak_memory_bytes),
                ]
            })
            .collect(),
        caption: (n > DETAIL_ROWS)
            .then(|| format!("{DETAIL_ROWS} of {n} pods; all are in notebook_pods.csv")),
        empty_text: "No notebook pods in the window".into(),
    }
}

fn auth_table(input: &ReportInput) -> Table {
    let ev: Vec<_> = input
        .collected
        .keycloak
        .iter()
        .filter(|e| e.kind == EventKind::User && !e.error.is_empty())
        .collect();
    let n = ev.len();
    Table {
        columns: vec![
            col("Time (UTC)", false, 2.0),
            col("Type", false, 1.5),
            col("Username", false, 1.5),
            col("IP", false, 1.3),
            col("Error", false, 2.0),
        ],
        rows: ev
            .iter()
            .take(DETAIL_ROWS)
            .map(|e| {
                vec![
                    ts(e.time_ns),
                    e.event_type.clone(),
                    input
                        .resolver
                        .text(e.username.as_deref().unwrap_or(""))
                        .into_owned(),
                    e.ip_address.clone(),
                    e.error.clone(),
                ]
            })
            .collect(),
        caption: Some(format!(
            "Failed authentication events: {} of {n}; every event is in auth_events.csv.",
            n.min(DETAIL_ROWS)
        )),
        empty_text: "No failed authentication in the window".into(),
    }
}

fn trino_table(input: &ReportInput) -> Table {
    let mut q: Vec<_> = input.collected.trino.iter().collect();
    q.sort_by(|a, b| b.end_ns.cmp(&a.end_ns).then(a.query_id.cmp(&b.query_id)));
    let n = q.len();
    Table {
        columns: vec![
            col("End (UTC)", false, 2.0),
            col("User", false, 1.3),
            col("State", false, 1.1),
            col("Duration s", true, 1.1),
            col("Rows scanned", true, 1.3),
            col("CPU s", true, 1.0),
            col("Query", false, 4.0),
        ],
        rows: q
            .iter()
            .take(DETAIL_ROWS)
            .map(|x| {
                let query = if input.redact_sql {
                    input
                        .resolver
                        .text(&super::redact::redact_sql_literals(&x.query))
                        .into_owned()
                } else {
                    input.resolver.text(&x.query).into_owned()
                };
                let mut sql: String = query.chars().take(160).collect();
                if query.chars().count() > 160 {
                    sql.push('…');
                }
                vec![
                    ts(x.end_ns),
                    input.resolver.canonical(&x.user),
                    match &x.error_code {
                        Some(e) => format!("{} {e}", x.state),
                        None => x.state.clone(),
                    },
                    x.create_ns
                        .map(|c| format_fixed((x.end_ns - c).into(), 9, 3))
                        .unwrap_or_default(),
                    x.rows_scanned.to_string(),
                    format_fixed(x.cpu_ns.into(), 9, 3),
                    sql,
                ]
            })
            .collect(),
        caption: Some(format!(
            "Latest {} of {n} queries; all of them, with the full SQL, are in trino_queries.csv.",
            n.min(DETAIL_ROWS)
        )),
        empty_text: "No Trino queries in the window".into(),
    }
}

fn denials_table(input: &ReportInput) -> Table {
    let d = &input.collected.opa_denials;
    let n = d.len();
    Table {
        columns: vec![
            col("Time (UTC)", false, 2.0),
            col("User", false, 1.3),
            col("Operation", false, 1.8),
            col("Resource", false, 4.0),
        ],
        rows: d
            .iter()
            .take(DETAIL_ROWS)
            .map(|x| {
                vec![
                    ts(x.time_ns),
                    if x.user.is_empty() {
                        "(no user)".into()
                    } else {
                        input.resolver.canonical(&x.user)
                    },
                    x.operation.clone(),
                    input.resolver.text(&x.resource).chars().take(200).collect(),
                ]
            })
            .collect(),
        caption: Some(format!(
            "Denials: {} of {n}; all are in opa_denials.csv.",
            n.min(DETAIL_ROWS)
        )),
        empty_text: "No OPA denials in the window".into(),
    }
}

fn user_table(input: &ReportInput, columns: &[(&str, &str)]) -> Table {
    let mut t = Table {
        columns: std::iter::once(col("User", false, 1.6))
            .chain(columns.iter().map(|(_, title)| col(title, true, 1.0)))
            .collect(),
        empty_text: "No users".into(),
        ..Default::default()
    };
    for r in &input.ledger.rows {
        let cells: Vec<Option<i64>> = columns.iter().map(|(c, _)| r.figure(c)).collect();
        if cells.iter().all(|v| v.unwrap_or(0) == 0) {
            continue;
        }
        let mut row = vec![r.user.clone()];
        for ((c, _), v) in columns.iter().zip(cells) {
            let unit = COLUMNS
                .iter()
                .find(|(n, _, _)| n == c)
                .map_or(Unit::Count, |x| x.2);
            row.push(figure(v, unit));
        }
        t.rows.push(row);
    }
    t
}

fn cockpit(input: &ReportInput) -> Vec<Section> {
    let mut out = vec![section(
        1,
        "Cockpit usage tabs",
        vec![Block::Kpis(kpis(input))],
    )];
    let mut b = gaps(input, &[SourceKind::Trino]);
    b.push(Block::Table(user_table(
        input,
        &[
            ("trino_queries", "Queries"),
            ("trino_failed_queries", "Failed"),
            ("trino_denied_queries", "Denied"),
            ("trino_rows_scanned", "Rows scanned"),
            ("trino_bytes_scanned", "Bytes scanned"),
            ("trino_cpu_seconds", "CPU s"),
        ],
    )));
    out.push(section(2, "Trino", b));
    let mut b = gaps(input, &[SourceKind::Litellm]);
    b.push(Block::Table(user_table(
        input,
        &[
            ("llm_requests", "Requests"),
            ("llm_failed_requests", "Failed"),
            ("llm_prompt_tokens", "Prompt tok."),
            ("llm_completion_tokens", "Compl. tok."),
            ("llm_cost_usd", "Cost USD"),
        ],
    )));
    let mut models = Table {
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
    for (m, (req, failed, lat, timed)) in &input.panels.llm_models {
        models.rows.push(vec![
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
    b.push(Block::Table(models));
    let mut by_model: BTreeMap<&str, i64> = BTreeMap::new();
    for u in input.llm_by_user_model {
        *by_model.entry(u.model.as_str()).or_default() += u.total_tokens;
    }
    let mut bm: Vec<_> = by_model.into_iter().collect();
    bm.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    b.push(Block::Bars(BarChart {
        title: "Tokens by model".into(),
        unit: "tokens".into(),
        series: vec!["tokens".into()],
        bars: bm
            .iter()
            .map(|(m, t)| Bar {
                label: m.to_string(),
                values: vec![*t as f64],
                value_label: t.to_string(),
            })
            .collect(),
        empty_text: "No LLM usage".into(),
    }));
    out.push(section(2, "LLM usage", b));
    let mut b = gaps(input, &[SourceKind::Jupyterhub, SourceKind::Keycloak]);
    b.push(Block::Table(user_table(
        input,
        &[
            ("notebook_sessions", "Sessions"),
            ("notebook_seconds", "Session s"),
            ("logins", "Logins"),
            ("login_failures", "Login failures"),
        ],
    )));
    out.push(section(2, "Sessions", b));
    let mut b = gaps(input, &[SourceKind::Storage, SourceKind::Databases]);
    let mut buckets = Table {
        columns: vec![
            col("Bucket", false, 2.5),
            col("Owner", false, 1.5),
            col("Bytes", true, 1.6),
            col("Size", true, 1.0),
        ],
        empty_text: "No bucket sizes".into(),
        ..Default::default()
    };
    for x in &input.collected.buckets {
        buckets.rows.push(vec![
            input.resolver.text(&x.bucket).into_owned(),
            bucket_owner(input.storage, &x.bucket)
                .map(|o| input.resolver.canonical(&o))
                .unwrap_or_else(|| "(shared)".into()),
            x.bytes.to_string(),
            bytes(x.bytes),
        ]);
    }
    b.push(Block::Table(buckets));
    let mut dbs: Vec<_> = input.collected.databases.iter().collect();
    dbs.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.database.cmp(&b.database)));
    b.push(Block::Bars(BarChart {
        title: "PostgreSQL database sizes".into(),
        unit: "bytes".into(),
        series: vec!["bytes".into()],
        bars: dbs
            .iter()
            .take(TOP_N)
            .map(|d| Bar {
                label: format!("{} ({})", input.resolver.text(&d.database), d.server),
                values: vec![d.bytes as f64],
                value_label: bytes(d.bytes),
            })
            .collect(),
        empty_text: "No database sizes".into(),
    }));
    out.push(section(2, "Storage", b));
    let mut b = gaps(input, &[SourceKind::Pods]);
    b.push(top_bars(
        input.ledger,
        "notebook_cpu_seconds",
        Unit::NanosAsSeconds,
        "Notebook CPU by user",
        "CPU seconds",
    ));
    b.push(top_bars(
        input.ledger,
        "notebook_peak_memory_bytes",
        Unit::Count,
        "Peak notebook memory by user",
        "bytes",
    ));
    out.push(section(2, "Resources", b));
    out
}

fn usage_by_user(input: &ReportInput) -> Section {
    let mut t = user_table(
        input,
        &[
            ("trino_queries", "Trino q."),
            ("trino_rows_scanned", "Rows scanned"),
            ("llm_requests", "LLM req."),
            ("llm_total_tokens", "Tokens"),
            ("llm_cost_usd", "LLM USD"),
            ("notebook_seconds", "Notebook s"),
            ("storage_bytes", "Storage B"),
            ("opa_denials", "Denials"),
            ("logins", "Logins"),
        ],
    );
    // Every user, even one with only zeros or unknowns: the ledger has them all.
    t.rows.clear();
    let cols = [
        "trino_queries",
        "trino_rows_scanned",
        "llm_requests",
        "llm_total_tokens",
        "llm_cost_usd",
        "notebook_seconds",
        "storage_bytes",
        "opa_denials",
        "logins",
    ];
    for r in &input.ledger.rows {
        let mut row = vec![r.user.clone()];
        for c in cols {
            let unit = COLUMNS
                .iter()
                .find(|(n, _, _)| *n == c)
                .map_or(Unit::Count, |x| x.2);
            row.push(figure(r.figure(c), unit));
        }
        t.rows.push(row);
    }
    t.caption = Some(format!(
        "{} users. Empty cells are unknown (the source was not read in full), never zero. All 22 columns are in usage_by_user.csv.",
        input.ledger.rows.len()
    ));
    section(1, "Usage by user", vec![Block::Table(t)])
}

fn frameworks(input: &ReportInput) -> Vec<Section> {
    input
        .catalog
        .frameworks
        .iter()
        .map(|fw| {
            let results: Vec<_> = input
                .controls
                .iter()
                .filter(|c| c.framework.id == fw.id)
                .collect();
            let count = |s: ControlStatus| results.iter().filter(|c| c.status == s).count();
            let mut t = Table {
                columns: vec![
                    col("Control", false, 1.7),
                    col("Title", false, 2.1),
                    col("Evidence", false, 1.5),
                    col("Status", false, 1.9),
                    col("Findings", true, 1.3),
                    col("Evidence items / human check", false, 3.5),
                ],
                empty_text: "No controls".into(),
                ..Default::default()
            };
            for c in &results {
                let mut ev = c.control.evidence.join(", ");
                if !c.missing.is_empty() {
                    ev.push_str(&format!(
                        ". Incomplete sources: {}",
                        c.missing
                            .iter()
                            .map(|k| k.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if let Some(h) = &c.control.human {
                    ev.push_str(&format!(". Human check: {h}"));
                }
                t.rows.push(vec![
                    c.control.id.clone(),
                    c.control.title.clone(),
                    c.control.evidence_type.name().into(),
                    c.status.name().into(),
                    c.findings.to_string(),
                    ev,
                ]);
            }
            section(
                1,
                &format!("{} controls", fw.name),
                vec![
                    Block::Paragraph(format!(
                        "{} ({}). {} controls: {} no_exceptions, {} exceptions, {} incomplete, {} manual. Status rules: incomplete = a source the evidence needs was not read in full; exceptions = findings of the control's rules were raised; manual = an organisational control a human must judge.",
                        fw.name,
                        fw.version,
                        results.len(),
                        count(ControlStatus::NoExceptions),
                        count(ControlStatus::Exceptions),
                        count(ControlStatus::Incomplete),
                        count(ControlStatus::Manual),
                    )),
                    Block::Table(t),
                ],
            )
        })
        .collect()
}

fn findings(input: &ReportInput) -> Section {
    let by_rule = input.catalog.controls_by_rule();
    let mut t = Table {
        columns: vec![
            col("Severity", false, 1.0),
            col("Rule", false, 1.8),
            col("Subject", false, 1.4),
            col("Summary and evidence", false, 5.0),
        ],
        empty_text: "No findings: no rule reached its threshold in the window.".into(),
        caption: Some("Every finding, with all its evidence rows, is in findings.csv.".into()),
        ..Default::default()
    };
    for f in input.findings {
        let mut text = f.summary.clone();
        if let Some(c) = by_rule.get(f.rule) {
            text.push_str(&format!("\nControls: {}", c.join(", ")));
        }
        for e in f.evidence.iter().take(5) {
            text.push_str(&format!("\n{e}"));
        }
        if f.evidence.len() > 5 {
            text.push_str(&format!(
                "\n… {} more rows in findings.csv",
                f.evidence.len() - 5
            ));
        }
        t.rows.push(vec![
            f.severity.name().into(),
            f.rule.into(),
            f.subject.clone(),
            text,
        ]);
    }
    section(1, "Findings", vec![Block::Table(t)])
}

fn completeness(input: &ReportInput) -> Section {
    let mut blocks = vec![
        Block::Paragraph(
            "What the job could and could not see. A source that is partial or unavailable leaves its ledger columns empty (unknown), never zero, and the run exits 3.".into(),
        ),
        Block::Table(sources_table(input)),
    ];
    let unresolved = &input.ledger.unresolved;
    blocks.push(Block::Paragraph(if unresolved.is_empty() {
        "Every identity resolved to a username.".into()
    } else {
        format!(
            "Unresolved identities ({}), each its own row in the ledger:\n{}",
            unresolved.len(),
            unresolved
                .iter()
                .map(|u| format!("- {u}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    }));
    section(1, "Appendix A: data completeness", blocks)
}

fn methodology(input: &ReportInput) -> Vec<Section> {
    let mut out = vec![section(
        1,
        "Appendix B: methodology",
        vec![Block::Paragraph(
            "How every figure is counted (docs/counting-rules.md of this tool version), then the findings rules and their thresholds for this run.".into(),
        )],
    )];
    let mut title = String::new();
    let mut text = String::new();
    let flush = |title: &str, text: &mut String, out: &mut Vec<Section>| {
        if !title.is_empty() && !text.trim().is_empty() {
            out.push(section(
                2,
                title,
                vec![Block::Paragraph(text.trim().replace('`', ""))],
            ));
        }
        text.clear();
    };
    for line in COUNTING_RULES.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            flush(&title, &mut text, &mut out);
            title = format!("Counting: {}", h.replace('`', ""));
        } else if !line.starts_with("# ") {
            text.push_str(line);
            text.push('\n');
        }
    }
    flush(&title, &mut text, &mut out);
    let mut t = Table {
        columns: vec![col("Rule", false, 2.0), col("Raised when", false, 5.0)],
        empty_text: String::new(),
        ..Default::default()
    };
    for (rule, what) in RULES {
        t.rows.push(vec![rule.to_string(), what.to_string()]);
    }
    for (k, v) in input.thresholds.describe() {
        t.rows.push(vec![format!("threshold {k}"), v]);
    }
    out.push(section(
        2,
        "Findings rules and thresholds",
        vec![Block::Table(t)],
    ));
    out
}

fn days_section(c: &Composed) -> Section {
    use crate::history::compose::DayState;
    let mut t = Table {
        columns: vec![
            col("Day", false, 1.2),
            col("In history", false, 1.0),
            col("Sources not complete that day", false, 5.0),
        ],
        empty_text: "No days".into(),
        ..Default::default()
    };
    for d in c.days {
        let incomplete: Vec<String> = d
            .sources
            .iter()
            .filter(|(_, s)| s.0 != Completeness::Complete)
            .map(|(k, s)| {
                format!(
                    "{} ({})",
                    k.name(),
                    s.1.as_deref().unwrap_or("not complete")
                )
            })
            .collect();
        t.rows.push(vec![
            d.date.to_string(),
            match d.state {
                DayState::Present => "yes".into(),
                DayState::Missing => "MISSING".into(),
            },
            incomplete.join("; "),
        ]);
    }
    let missing: Vec<String> = c
        .days
        .iter()
        .filter(|d| d.state == DayState::Missing)
        .map(|d| d.date.to_string())
        .collect();
    let mut blocks = vec![Block::Paragraph(
        "This report is composed from the daily history (the Parquet each nightly run keeps), not from the log servers, which keep 7 (Loki) and 15 (Prometheus) days. Sums add up day by day; storage is the value at the period's end; peak memory is the largest daily peak. The dashboard panels need the raw records and are in the daily reports.".into(),
    )];
    if !missing.is_empty() {
        blocks.push(Block::Notice(format!(
            "Days missing from the history: {}. Every figure that needs them is left empty (unknown). Fill the gap with `akko-audit backfill --from {} --to {}` while the sources still hold those days.",
            missing.join(", "),
            missing[0],
            missing[missing.len() - 1]
        )));
    }
    blocks.push(Block::Table(t));
    section(1, "Days in this report", blocks)
}

fn chargeback_section(
    input: &ReportInput,
    (cb, card): (
        &crate::ledger::chargeback::Chargeback,
        &crate::config::chargeback::RateCard,
    ),
) -> Section {
    use crate::ledger::chargeback::Service;
    let money = |v: i128| format_fixed(v, 12, 2);
    let mut t = Table {
        columns: std::iter::once(col("Team", false, 1.6))
            .chain(Service::ALL.iter().map(|s| col(s.title(), true, 1.0)))
            .chain(std::iter::once(col("Total", true, 1.1)))
            .collect(),
        empty_text: "Nothing to charge".into(),
        caption: Some(format!(
            "{} (rounded to cents here; chargeback_by_team.csv and focus_costs.csv hold the exact figures).",
            card.currency
        )),
        ..Default::default()
    };
    for (team, costs) in cb.by_team() {
        let mut row = vec![team];
        let mut total = 0;
        for s in Service::ALL {
            let v = costs.get(&s).copied().unwrap_or(0);
            total += v;
            row.push(if cb.unpriced.contains(&s) {
                String::new()
            } else {
                money(v)
            });
        }
        row.push(if cb.unpriced.is_empty() {
            money(total)
        } else {
            String::new()
        });
        t.rows.push(row);
    }
    let mut blocks = gaps(input, &[]);
    if !cb.unpriced.is_empty() {
        blocks.push(Block::Notice(format!(
            "Not priced (usage unknown for part of the period): {}.",
            cb.unpriced
                .iter()
                .map(|s| s.column())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    blocks.push(Block::Table(t));
    section(1, "Chargeback by team", blocks)
}
