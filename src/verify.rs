//! `akko-audit verify`: re-reads a delivered evidence set (a run folder or its S3 prefix),
//! checks every file against the SHA-256 and size in `manifest.json`, the manifest against its
//! Ed25519 signature, and the evidence digest the PDF quotes — and says exactly what does not
//! match. Nothing is trusted from the store except the bytes.

use std::path::PathBuf;

use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::render::{manifest, signature};

/// Where an evidence set lives; implemented for a folder here and for S3 in `deliver::s3`.
pub trait EvidenceStore {
    /// The file's bytes, `None` if it does not exist.
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String>;
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
}

impl Verification {
    /// All files match and the digest holds; the signature must be valid unless
    /// `signature_required` is false.
    pub fn passed(&self, signature_required: bool) -> bool {
        self.files.iter().all(|(_, s)| *s == FileStatus::Ok)
            && self.evidence_digest_ok
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
    Ok(Verification {
        location,
        files,
        signature,
        evidence_digest_ok,
    })
}
