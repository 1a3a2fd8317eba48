//! The control catalog (`report-templates/controls.toml`) and each control's status for a run.
//! The catalog is data reviewed by compliance; this file only checks that everything it names
//! exists and applies the status rules written at the top of the catalog.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::findings::{Finding, RULES};
use crate::collect::Collected;
use crate::ledger::COLUMNS;
use crate::sources::{Completeness, SourceKind};

/// Compiled in, so a binary always carries the catalog its tests checked.
pub const CATALOG_TOML: &str = include_str!("../../report-templates/controls.toml");

/// Detail files a control may cite, and the sources whose completeness they depend on.
pub const TABLES: [(&str, &[SourceKind]); 14] = [
    ("usage_by_user.csv", &LEDGER_SOURCES),
    ("chargeback_by_team.csv", &LEDGER_SOURCES),
    ("trino_queries.csv", &[SourceKind::Trino]),
    ("opa_denials.csv", &[SourceKind::Opa]),
    ("auth_events.csv", &[SourceKind::Keycloak]),
    ("admin_events.csv", &[SourceKind::Keycloak]),
    ("notebook_sessions.csv", &[SourceKind::Jupyterhub]),
    ("notebook_pods.csv", &[SourceKind::Pods]),
    ("llm_usage_by_user_model.csv", &[SourceKind::Litellm]),
    ("storage_by_bucket.csv", &[SourceKind::Storage]),
    ("database_sizes.csv", &[SourceKind::Databases]),
    ("platform_metrics.csv", &[SourceKind::Platform]),
    ("findings.csv", &[]),
    ("controls.csv", &[]),
];

const LEDGER_SOURCES: [SourceKind; 8] = [
    SourceKind::Trino,
    SourceKind::Opa,
    SourceKind::Keycloak,
    SourceKind::Jupyterhub,
    SourceKind::Litellm,
    SourceKind::Storage,
    SourceKind::Databases,
    SourceKind::Pods,
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub version: String,
    #[serde(rename = "framework")]
    pub frameworks: Vec<Framework>,
    #[serde(rename = "control")]
    pub controls: Vec<Control>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    pub id: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceType {
    Automated,
    Partial,
    Manual,
}

impl EvidenceType {
    pub fn name(self) -> &'static str {
        match self {
            EvidenceType::Automated => "automated",
            EvidenceType::Partial => "partial",
            EvidenceType::Manual => "manual",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub framework: String,
    pub id: String,
    pub title: String,
    pub evidence_type: EvidenceType,
    pub evidence: Vec<String>,
    pub rules: Vec<String>,
    #[serde(default)]
    pub human: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("control catalog does not parse: {0}")]
    Syntax(String),
    #[error("control catalog, control {control:?}: {problem}")]
    Invalid { control: String, problem: String },
}

/// One evidence item, resolved to the sources it needs.
fn evidence_sources(item: &str) -> Option<Vec<SourceKind>> {
    if item == "manifest" {
        return Some(Vec::new());
    }
    let (kind, name) = item.split_once(':')?;
    match kind {
        "ledger" => COLUMNS
            .iter()
            .find(|(c, _, _)| *c == name)
            .map(|(_, s, _)| vec![*s]),
        "table" => TABLES
            .iter()
            .find(|(t, _)| *t == name)
            .map(|(_, s)| s.to_vec()),
        "completeness" => SourceKind::from_name(name).map(|k| vec![k]),
        _ => None,
    }
}

impl Catalog {
    pub fn load() -> Result<Catalog, CatalogError> {
        Self::parse(CATALOG_TOML)
    }

    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let c: Catalog = toml::from_str(text).map_err(|e| CatalogError::Syntax(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), CatalogError> {
        let mut seen = std::collections::BTreeSet::new();
        for ctl in &self.controls {
            let bad = |problem: String| CatalogError::Invalid {
                control: format!("{} {}", ctl.framework, ctl.id),
                problem,
            };
            if !self.frameworks.iter().any(|f| f.id == ctl.framework) {
                return Err(bad(format!("unknown framework {:?}", ctl.framework)));
            }
            if !seen.insert((ctl.framework.clone(), ctl.id.clone())) {
                return Err(bad("listed twice".into()));
            }
            if ctl.evidence.is_empty() {
                return Err(bad("names no evidence item".into()));
            }
            for item in &ctl.evidence {
                if evidence_sources(item).is_none() {
                    return Err(bad(format!(
                        "unknown evidence item {item:?} (use ledger:<column>, table:<file>, completeness:<source> or manifest)"
                    )));
                }
            }
            for rule in &ctl.rules {
                if !RULES.iter().any(|(r, _)| r == rule) {
                    return Err(bad(format!("unknown findings rule {rule:?}")));
                }
            }
            if ctl.evidence_type != EvidenceType::Automated && ctl.human.is_none() {
                return Err(bad(
                    "a partial or manual control must say what a human checks (`human`)".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn framework(&self, id: &str) -> Option<&Framework> {
        self.frameworks.iter().find(|f| f.id == id)
    }

    /// rule -> the controls it touches ("soc2 CC6.1"), for findings.csv.
    pub fn controls_by_rule(&self) -> BTreeMap<&str, Vec<String>> {
        let mut m: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for c in &self.controls {
            let name = self
                .framework(&c.framework)
                .map_or(c.framework.as_str(), |f| &f.name);
            for r in &c.rules {
                m.entry(r.as_str())
                    .or_default()
                    .push(format!("{name} {}", c.id));
            }
        }
        m
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlStatus {
    Incomplete,
    Exceptions,
    NoExceptions,
    Manual,
}

impl ControlStatus {
    pub fn name(self) -> &'static str {
        match self {
            ControlStatus::Incomplete => "incomplete",
            ControlStatus::Exceptions => "exceptions",
            ControlStatus::NoExceptions => "no_exceptions",
            ControlStatus::Manual => "manual",
        }
    }
}

/// A control judged for one run.
#[derive(Debug, Clone)]
pub struct ControlResult<'c> {
    pub control: &'c Control,
    pub framework: &'c Framework,
    pub status: ControlStatus,
    /// Sources the evidence needs that were not read in full (or not configured).
    pub missing: Vec<SourceKind>,
    pub findings: usize,
}

pub fn evaluate<'c>(
    catalog: &'c Catalog,
    collected: &Collected,
    findings: &[Finding],
) -> Vec<ControlResult<'c>> {
    catalog
        .controls
        .iter()
        .filter_map(|c| {
            let framework = catalog.framework(&c.framework)?;
            let mut missing: Vec<SourceKind> = c
                .evidence
                .iter()
                .flat_map(|e| evidence_sources(e).unwrap_or_default())
                .filter(|k| {
                    collected
                        .reports
                        .get(k)
                        .is_none_or(|r| r.status != Completeness::Complete)
                })
                .collect();
            missing.sort();
            missing.dedup();
            let n = findings
                .iter()
                .filter(|f| c.rules.iter().any(|r| r == f.rule))
                .count();
            let status = if c.evidence_type == EvidenceType::Manual {
                ControlStatus::Manual
            } else if !missing.is_empty() {
                ControlStatus::Incomplete
            } else if n > 0 {
                ControlStatus::Exceptions
            } else {
                ControlStatus::NoExceptions
            };
            Some(ControlResult {
                control: c,
                framework,
                status,
                missing,
                findings: n,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped catalog parses, and every evidence item and rule it names exists.
    #[test]
    fn shipped_catalog_is_valid_and_covers_the_required_controls() {
        let c = Catalog::load().unwrap();
        let has = |fw: &str, id: &str| c.controls.iter().any(|x| x.framework == fw && x.id == id);
        for id in [
            "Art. 5(1)(e)",
            "Art. 5(2)",
            "Art. 25",
            "Art. 28",
            "Art. 30",
            "Art. 32",
            "Art. 33",
            "Art. 44",
        ] {
            assert!(has("gdpr", id), "{id}");
        }
        for id in [
            "CC6.1", "CC6.2", "CC6.3", "CC6.6", "CC6.8", "CC7.2", "CC7.3", "CC8.1", "A1.1", "C1.2",
        ] {
            assert!(has("soc2", id), "{id}");
        }
        for id in [
            "5.15", "5.16", "5.17", "5.18", "8.2", "8.3", "8.5", "8.6", "8.10", "8.15", "8.16",
        ] {
            assert!(has("iso27001", id), "{id}");
        }
        // Every rule the engine has is used by some control (else its findings touch nothing).
        for (rule, _) in RULES {
            assert!(
                c.controls.iter().any(|x| x.rules.iter().any(|r| r == rule)),
                "rule {rule} is in no control"
            );
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        let base = r#"
version = "t"
[[framework]]
id = "soc2"
name = "SOC 2"
version = "2017"
[[control]]
framework = "soc2"
id = "CC6.1"
title = "x"
evidence_type = "automated"
"#;
        for (tail, needle) in [
            (
                "evidence = [\"ledger:no_such\"]\nrules = []",
                "ledger:no_such",
            ),
            ("evidence = [\"table:x.csv\"]\nrules = []", "table:x.csv"),
            (
                "evidence = [\"manifest\"]\nrules = [\"auth.nope\"]",
                "auth.nope",
            ),
            (
                "evidence = [\"completeness:ldap\"]\nrules = []",
                "completeness:ldap",
            ),
        ] {
            let e = Catalog::parse(&format!("{base}{tail}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{e}");
        }
        let manual = base.replace("automated", "manual");
        let e = Catalog::parse(&format!("{manual}evidence = [\"manifest\"]\nrules = []"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("human"), "{e}");
    }
}
