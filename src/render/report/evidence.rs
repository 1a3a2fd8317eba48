//! What an auditor reads: one section per framework with each control's status, the findings,
//! the data-completeness appendix and the methodology (counting rules and thresholds).

use super::*;

pub(super) fn frameworks(input: &ReportInput) -> Vec<Section> {
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
                    // Say why, so an `incomplete` caused by an optional source nobody
                    // configured is not mistaken for a failed read (and the fix is named).
                    ev.push_str(&format!(
                        ". Incomplete sources: {}",
                        c.missing
                            .iter()
                            .map(|k| {
                                if input.reports.iter().any(|r| r.source == *k) {
                                    format!("{} ({})", k.name(), source_state(input, *k))
                                } else {
                                    format!(
                                        "{} (not configured: add a [sources.{}] section)",
                                        k.name(),
                                        k.name()
                                    )
                                }
                            })
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

pub(super) fn findings(input: &ReportInput) -> Section {
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

pub(super) fn completeness(input: &ReportInput) -> Section {
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

pub(super) fn methodology(input: &ReportInput) -> Vec<Section> {
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
