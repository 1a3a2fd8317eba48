//! `akko-audit verify`: re-reads a delivered evidence set (a run folder or its S3 prefix),
//! checks every file against the SHA-256 and size in `manifest.json`, the manifest against its
//! Ed25519 signature, and the evidence digest the PDF quotes — and says exactly what does not
//! match. Nothing is trusted from the store except the bytes.

use std::path::PathBuf;

use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::render::{manifest, signature};
use crate::window::{Period, Window, WindowOrigin};

/// Where an evidence set lives; implemented for a folder here and for S3 in `deliver::s3`.
pub trait EvidenceStore {
    /// The file's bytes, `None` if it does not exist.
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String>;
    /// Whether the file exists, without reading it where the store can tell (a HEAD in S3).
    fn exists(&self, name: &str) -> Result<bool, String> {
        self.get(name).map(|b| b.is_some())
    }
    /// Where this is, for messages.
    fn describe(&self) -> String;
}

pub struct Folder(pub PathBuf);

impl EvidenceStore for Folder {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        match std::fs::read(self.0.join(name)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", self.0.join(name).display())),
        }
    }
    fn exists(&self, name: &str) -> Result<bool, String> {
        self.0
            .join(name)
            .try_exists()
            .map_err(|e| format!("{}: {e}", self.0.join(name).display()))
    }
    fn describe(&self) -> String {
        self.0.display().to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    Ok,
    Missing,
    SizeMismatch { expected: u64, actual: u64 },
    HashMismatch { expected: String, actual: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    Valid,
    Invalid(String),
    /// No `manifest.json.sig` next to the manifest.
    Missing,
    /// No public key was given, so the signature was not checked.
    NotChecked,
}

#[derive(Debug)]
pub struct Verification {
    pub location: String,
    pub files: Vec<(String, FileStatus)>,
    pub signature: SignatureStatus,
    /// `evidence_sha256` recomputed from the files equals the manifest's.
    pub evidence_digest_ok: bool,
    /// The location names a window (`…/period=<p>/start=<d>`, as S3 keys do) and the
    /// manifest's window is another one: `(named by the location, the manifest's)`. A set copied
    /// or uploaded under the wrong key would otherwise verify as evidence for the wrong period.
    pub window_mismatch: Option<(String, String)>,
}

impl Verification {
    /// All files match and the digest holds; the signature must be valid unless
    /// `signature_required` is false.
    pub fn passed(&self, signature_required: bool) -> bool {
        self.files.iter().all(|(_, s)| *s == FileStatus::Ok)
            && self.evidence_digest_ok
            && self.window_mismatch.is_none()
            && match &self.signature {
                SignatureStatus::Valid => true,
                SignatureStatus::NotChecked | SignatureStatus::Missing => !signature_required,
                SignatureStatus::Invalid(_) => false,
            }
    }

    /// One line per problem (and a summary), for the terminal.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, s) in &self.files {
            match s {
                FileStatus::Ok => {}
                FileStatus::Missing => out.push(format!("MISSING   {name}")),
                FileStatus::SizeMismatch { expected, actual } => out.push(format!(
                    "CHANGED   {name}: {actual} bytes, the manifest says {expected}"
                )),
                FileStatus::HashMismatch { expected, actual } => out.push(format!(
                    "CHANGED   {name}: SHA-256 {actual}, the manifest says {expected}"
                )),
            }
        }
        if !self.evidence_digest_ok {
            out.push(
                "CHANGED   evidence_sha256: the CSVs' digest differs from the manifest's (and the PDF cover's)"
                    .into(),
            );
        }
        if let Some((named, manifest)) = &self.window_mismatch {
            out.push(format!(
                "WINDOW    the location names {named}, but manifest.json covers {manifest}"
            ));
        }
        out.push(match &self.signature {
            SignatureStatus::Valid => "signature valid (Ed25519, manifest.json.sig)".into(),
            SignatureStatus::Invalid(e) => format!("SIGNATURE INVALID: {e}"),
            SignatureStatus::Missing => "SIGNATURE MISSING: no manifest.json.sig".into(),
            SignatureStatus::NotChecked => {
                "signature not checked (give --public-key to check it)".into()
            }
        });
        let ok = self
            .files
            .iter()
            .filter(|(_, s)| *s == FileStatus::Ok)
            .count();
        out.push(format!(
            "{ok} of {} files match manifest.json at {}",
            self.files.len(),
            self.location
        ));
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}: no manifest.json (an evidence set without a manifest is incomplete)")]
    NoManifest(String),
    #[error("{0}: manifest.json does not parse: {1}")]
    BadManifest(String, String),
    #[error("reading {0}")]
    Read(String),
}

#[derive(serde::Deserialize)]
struct ManifestFiles {
    evidence_sha256: Option<String>,
    #[serde(default)]
    window: Option<serde_json::Value>,
    files: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    name: String,
    sha256: String,
    bytes: u64,
    rows: u64,
}

pub fn verify(
    store: &dyn EvidenceStore,
    key: Option<&VerifyingKey>,
) -> Result<Verification, VerifyError> {
    let location = store.describe();
    let manifest_bytes = store
        .get(manifest::NAME)
        .map_err(VerifyError::Read)?
        .ok_or_else(|| VerifyError::NoManifest(location.clone()))?;
    let m: ManifestFiles = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| VerifyError::BadManifest(location.clone(), e.to_string()))?;
    let mut files = Vec::new();
    let mut present = Vec::new();
    for e in &m.files {
        let status = match store.get(&e.name).map_err(VerifyError::Read)? {
            None => FileStatus::Missing,
            Some(b) => {
                let actual = hex::encode(Sha256::digest(&b));
                let status = if b.len() as u64 != e.bytes {
                    FileStatus::SizeMismatch {
                        expected: e.bytes,
                        actual: b.len() as u64,
                    }
                } else if actual != e.sha256 {
                    FileStatus::HashMismatch {
                        expected: e.sha256.clone(),
                        actual,
                    }
                } else {
                    FileStatus::Ok
                };
                present.push(crate::render::Artifact {
                    name: e.name.clone(),
                    bytes: b,
                    rows: e.rows,
                });
                status
            }
        };
        files.push((e.name.clone(), status));
    }
    let evidence_digest_ok = match &m.evidence_sha256 {
        // Sets written before the digest existed have nothing to compare.
        None => true,
        Some(d) => {
            files.iter().all(|(_, s)| *s == FileStatus::Ok)
                && *d == manifest::evidence_digest(&present)
        }
    };
    let signature = match store.get(signature::NAME).map_err(VerifyError::Read)? {
        None => SignatureStatus::Missing,
        Some(sig) => match key {
            None => SignatureStatus::NotChecked,
            Some(k) => match signature::check(k, &manifest_bytes, &sig) {
                Ok(()) => SignatureStatus::Valid,
                Err(e) => SignatureStatus::Invalid(e),
            },
        },
    };
    let window_mismatch = match (location_partition(&location), manifest_partition(&m.window)) {
        (Some(named), Some(actual)) if named != actual => Some((named, actual)),
        (Some(named), None) => Some((named, "no window it can be compared with".to_string())),
        _ => None,
    };
    Ok(Verification {
        location,
        files,
        signature,
        evidence_digest_ok,
        window_mismatch,
    })
}

/// `period=<p>/start=<…>` when the location's last two segments are a window partition
/// (`s3://bucket/prefix/period=daily/start=2026-11-30`), else `None`.
fn location_partition(location: &str) -> Option<String> {
    let mut segs = location.trim_end_matches('/').rsplit('/');
    let start = segs.next()?;
    let period = segs.next()?;
    (period.starts_with("period=") && start.starts_with("start="))
        .then(|| format!("{period}/{start}"))
}

/// The partition of the manifest's window, computed as the key was ([`Window::partition`]).
fn manifest_partition(w: &Option<serde_json::Value>) -> Option<String> {
    let w = w.as_ref()?;
    let time = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(w.get(k)?.as_str()?)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let (start, end) = (time("start")?, time("end")?);
    let origin = w.get("origin")?;
    let origin = match origin.get("kind")?.as_str()? {
        "explicit" => WindowOrigin::Explicit,
        "scheduled" => WindowOrigin::Scheduled {
            period: Period::parse(origin.get("period")?.as_str()?).ok()?,
            schedule: String::new(),
            fire_time: end,
            time_zone: origin.get("time_zone")?.as_str()?.to_string(),
        },
        _ => return None,
    };
    Some(Window { start, end, origin }.partition())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_names_a_partition_only_with_both_segments() {
        assert_eq!(
            location_partition("s3://b/akko/period=daily/start=2026-11-30/").as_deref(),
            Some("period=daily/start=2026-11-30")
        );
        assert_eq!(
            location_partition(
                "s3://b/period=custom/start=2026-07-01T000000Z_end=2026-10-01T000000Z"
            )
            .as_deref(),
            Some("period=custom/start=2026-07-01T000000Z_end=2026-10-01T000000Z")
        );
        assert_eq!(location_partition("out/demo"), None);
        assert_eq!(location_partition("s3://b/start=2026-11-30"), None);
    }

    #[test]
    fn the_manifest_window_gives_the_key_it_was_delivered_under() {
        let w = |start: &str, end: &str, origin: serde_json::Value| {
            Some(serde_json::json!({"start": start, "end": end, "origin": origin}))
        };
        let berlin = serde_json::json!({
            "kind": "scheduled", "period": "daily", "schedule": "0 2 * * *",
            "fire_time": "2026-12-01T01:00:00Z", "time_zone": "Europe/Berlin"
        });
        assert_eq!(
            manifest_partition(&w("2026-11-29T23:00:00Z", "2026-11-30T23:00:00Z", berlin))
                .as_deref(),
            Some("period=daily/start=2026-11-30")
        );
        let explicit = serde_json::json!({"kind": "explicit"});
        assert_eq!(
            manifest_partition(&w("2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z", explicit))
                .as_deref(),
            Some("period=custom/start=2026-07-01T000000Z_end=2026-10-01T000000Z")
        );
        assert_eq!(manifest_partition(&None), None);
    }
}
