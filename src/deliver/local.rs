//! The run folder: every artifact, then the manifest last (written to a temporary name and
//! renamed), so a folder with a manifest is always a complete set.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::render::Artifact;

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct DeliveryError {
    pub path: String,
    pub source: std::io::Error,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), DeliveryError> {
    let err = |source| DeliveryError {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("partial");
    let mut f = fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

/// Writes `artifacts` into `dir`, then `manifest`.
pub fn deliver(
    dir: &Path,
    artifacts: &[Artifact],
    manifest: &Artifact,
) -> Result<(), DeliveryError> {
    fs::create_dir_all(dir).map_err(|source| DeliveryError {
        path: dir.display().to_string(),
        source,
    })?;
    // A stale manifest from an earlier run must not vouch for files being replaced.
    let manifest_path = dir.join(&manifest.name);
    if manifest_path.exists() {
        fs::remove_file(&manifest_path).map_err(|source| DeliveryError {
            path: manifest_path.display().to_string(),
            source,
        })?;
    }
    for a in artifacts {
        write_file(&dir.join(&a.name), &a.bytes)?;
    }
    write_file(&manifest_path, &manifest.bytes)
}

/// Writes the report mail as an `.eml` file (local mode: the demo and an auditor's laptop).
pub fn write_eml(dir: &Path, mail: &Artifact) -> Result<(), DeliveryError> {
    write_file(&dir.join(&mail.name), &mail.bytes)
}

/// Writes files whose names are relative paths (`usage_by_user/date=…/part-0.parquet`) under
/// `root`, creating folders; each file atomically.
pub fn write_tree(root: &Path, files: &[Artifact]) -> Result<(), DeliveryError> {
    for f in files {
        let path = root.join(&f.name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| DeliveryError {
                path: parent.display().to_string(),
                source,
            })?;
        }
        write_file(&path, &f.bytes)?;
    }
    Ok(())
}
