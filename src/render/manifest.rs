//! `manifest.json`: what the run covered, how complete each source was, and the SHA-256, size and
//! row count of every file. It is written last, so its presence means the set is whole, and an
//! auditor can verify every file against it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Artifact;
use crate::sources::{Completeness, SourceReport};
use crate::window::{rfc3339, Window, WindowOrigin};

pub const NAME: &str = "manifest.json";

#[derive(Serialize)]
struct Manifest<'a> {
    tool: Tool,
    window: WindowOut<'a>,
    status: Completeness,
    generated_at: String,
    sources: Vec<&'a SourceReport>,
    unresolved_identities: &'a [String],
    /// [`evidence_digest`] of the CSV files: the value printed on the PDF's cover (a file
    /// cannot hold its own hash, so the report quotes this one and the manifest hashes the PDF).
    evidence_sha256: String,
    files: Vec<FileEntry>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct WindowOut<'a> {
    start: String,
    end: String,
    period: &'static str,
    origin: &'a WindowOrigin,
}

#[derive(Serialize)]
pub struct FileEntry {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows: u64,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of the `sha256sum` listing (`<hex>  <name>` lines, sorted by name) of the CSV
/// evidence files. Anyone can recompute it with
/// `sha256sum *.csv | sort -k2 | sha256sum`.
pub fn evidence_digest(artifacts: &[Artifact]) -> String {
    let mut lines: Vec<String> = artifacts
        .iter()
        .filter(|a| a.name.ends_with(".csv"))
        .map(|a| format!("{}  {}\n", sha256_hex(&a.bytes), a.name))
        .collect();
    lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
    sha256_hex(lines.concat().as_bytes())
}

/// The `evidence_sha256` a rendered (or stored) manifest holds; `None` if it has none.
pub fn evidence_sha256_of(manifest: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    v.get("evidence_sha256")?.as_str().map(str::to_string)
}

/// Renders the manifest over the finished artifacts.
pub fn render(
    window: &Window,
    generated_at: DateTime<Utc>,
    reports: &[&SourceReport],
    unresolved: &[String],
    artifacts: &[Artifact],
) -> Artifact {
    let status = if reports.iter().all(|r| r.status == Completeness::Complete) {
        Completeness::Complete
    } else {
        Completeness::Partial
    };
    let m = Manifest {
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
        window: WindowOut {
            start: rfc3339(window.start),
            end: rfc3339(window.end),
            period: window.period_label(),
            origin: &window.origin,
        },
        status,
        generated_at: rfc3339(generated_at),
        sources: reports.to_vec(),
        unresolved_identities: unresolved,
        evidence_sha256: evidence_digest(artifacts),
        files: artifacts
            .iter()
            .map(|a| FileEntry {
                name: a.name.clone(),
                sha256: sha256_hex(&a.bytes),
                bytes: a.bytes.len() as u64,
                rows: a.rows,
            })
            .collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&m).unwrap_or_default();
    bytes.push(b'\n');
    Artifact {
        name: NAME.to_string(),
        bytes,
        rows: 0,
    }
}
