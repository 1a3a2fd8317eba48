//! The "mailed" marker, `mailed.json` next to the manifest: a retried Job finds it and does not
//! mail the same evidence twice (unless `--force-mail`).
//!
//! It records the `evidence_sha256` that was mailed, so "the same evidence" is decided by the
//! CSVs' digest, not by the marker's mere presence: a rerun whose evidence is byte-identical is
//! recognised and stays quiet, while a rerun that replaced the set with different evidence (a
//! source that was down is back) mails the new report. It lives where the evidence lives: next
//! to the manifest in S3 when `[s3]` is set, else in the run folder, so local runs are covered
//! too.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::s3;
use crate::config::delivery::S3Config;

pub const NAME: &str = "mailed.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub mailed_at: String,
    pub run_at: String,
    pub recipients: usize,
    /// The `evidence_sha256` of the set that was mailed. Markers written before it existed have
    /// none and count as "this window was mailed".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_sha256: Option<String>,
    /// SHA-256 of the `manifest.json` the mail quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
}

/// What a marker says about mailing `evidence_sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No marker: never mailed.
    NotMailed,
    /// Mailed already, for this evidence (or by a version that did not record which).
    Mailed,
    /// Mailed, but for other evidence: the set was replaced since, so the new one is mailed.
    OtherEvidence { mailed: String },
}

/// Decides from a marker's bytes (`None`: no marker). An unreadable marker counts as mailed:
/// a second mail is the worse mistake than a missing one, which `--force-mail` can fix.
pub fn verdict(marker: Option<&[u8]>, evidence_sha256: &str) -> Verdict {
    let Some(bytes) = marker else {
        return Verdict::NotMailed;
    };
    match serde_json::from_slice::<Marker>(bytes) {
        Ok(Marker {
            evidence_sha256: Some(mailed),
            ..
        }) if mailed != evidence_sha256 => Verdict::OtherEvidence { mailed },
        _ => Verdict::Mailed,
    }
}

/// Where the marker is kept.
pub enum Store<'a> {
    S3 { cfg: &'a S3Config, key: String },
    Folder(PathBuf),
}

impl Store<'_> {
    pub fn read(&self) -> Result<Option<Vec<u8>>, String> {
        match self {
            Store::S3 { cfg, key } => s3::get(cfg, key).map_err(|e| e.to_string()),
            Store::Folder(path) => match std::fs::read(path) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", path.display())),
            },
        }
    }

    pub fn write(&self, marker: &Marker) -> Result<(), String> {
        let body = serde_json::to_vec(marker).map_err(|e| e.to_string())?;
        match self {
            Store::S3 { cfg, key } => s3::put(cfg, key, &body).map_err(|e| e.to_string()),
            // Atomically: a torn marker would read as "mailed" and silence the next mail.
            Store::Folder(path) => super::local::write_file(path, &body).map_err(|e| e.to_string()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Store::S3 { cfg, key } => format!("s3://{}/{key}", cfg.bucket),
            Store::Folder(path) => path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(evidence: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&Marker {
            mailed_at: "2026-12-01T02:10:00Z".into(),
            run_at: "2026-12-01T02:00:00Z".into(),
            recipients: 2,
            evidence_sha256: evidence.map(str::to_string),
            manifest_sha256: None,
        })
        .unwrap()
    }

    #[test]
    fn same_evidence_is_mailed_other_evidence_is_not() {
        assert_eq!(verdict(None, "aa"), Verdict::NotMailed);
        assert_eq!(verdict(Some(&marker(Some("aa"))), "aa"), Verdict::Mailed);
        assert_eq!(
            verdict(Some(&marker(Some("bb"))), "aa"),
            Verdict::OtherEvidence {
                mailed: "bb".into()
            }
        );
        // Older markers and unreadable ones: treated as mailed, never as a reason to mail twice.
        assert_eq!(verdict(Some(b"{\"recipients\":1}"), "aa"), Verdict::Mailed);
        assert_eq!(verdict(Some(b"not json"), "aa"), Verdict::Mailed);
    }
}
