//! `findings.csv` and `controls.csv`: the evaluation in the same importable form as the ledger.
//! Each finding names the controls it touches; each control names its evidence and how many
//! findings it has, so an auditor can go from either side to the other.

use super::csv::{instant, Table};
use super::Artifact;
use crate::compliance::catalog::{Catalog, ControlResult};
use crate::compliance::findings::Finding;

pub fn findings_csv(findings: &[Finding], catalog: &Catalog) -> Artifact {
    let by_rule = catalog.controls_by_rule();
    let mut t = Table::new(
        "findings.csv",
        &[
            "severity",
            "rule",
            "subject",
            "summary",
            "count",
            "first_seen",
            "last_seen",
            "controls",
            "evidence",
        ],
    );
    for f in findings {
        let controls = by_rule
            .get(f.rule)
            .map(|c| c.join("; "))
            .unwrap_or_default();
        t.row(&[
            f.severity.name().to_string(),
            f.rule.to_string(),
            f.subject.clone(),
            f.summary.clone(),
            f.count.to_string(),
            f.first_ns.map(instant).unwrap_or_default(),
            f.last_ns.map(instant).unwrap_or_default(),
            controls,
            f.evidence.join("\n"),
        ]);
    }
    t.finish()
}

pub fn controls_csv(results: &[ControlResult], catalog_version: &str) -> Artifact {
    let mut t = Table::new(
        "controls.csv",
        &[
            "framework",
            "framework_version",
            "control",
            "title",
            "evidence_type",
            "status",
            "evidence",
            "sources_incomplete",
            "rules",
            "finding_count",
            "human_check",
            "catalog_version",
        ],
    );
    for r in results {
        t.row(&[
            r.framework.name.clone(),
            r.framework.version.clone(),
            r.control.id.clone(),
            r.control.title.clone(),
            r.control.evidence_type.name().to_string(),
            r.status.name().to_string(),
            r.control.evidence.join("; "),
            r.missing
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join("; "),
            r.control.rules.join("; "),
            r.findings.to_string(),
            r.control.human.clone().unwrap_or_default(),
            catalog_version.to_string(),
        ]);
    }
    t.finish()
}
