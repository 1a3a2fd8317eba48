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

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), DeliveryError> {
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
    // A stale manifest from an earlier run must not vouch for files being replaced, and a
    // file it listed that this run does not write (a bill no longer written) must not stay.
    let manifest_path = dir.join(&manifest.name);
    if let Ok(old) = fs::read(&manifest_path) {
        let keep: std::collections::BTreeSet<&str> =
            artifacts.iter().map(|a| a.name.as_str()).collect();
        let mut gone = listed_files(&old);
        gone.retain(|n| !keep.contains(n.as_str()) && !n.contains(['/', '\\']) && n != "..");
        gone.push(manifest.name.clone());
        for name in gone {
            let path = dir.join(&name);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(DeliveryError {
                        path: path.display().to_string(),
                        source,
                    })
                }
            }
        }
    }
    for a in artifacts {
        write_file(&dir.join(&a.name), &a.bytes)?;
    }
    write_file(&manifest_path, &manifest.bytes)
}

/// The file names a manifest lists (none if it does not parse).
fn listed_files(manifest: &[u8]) -> Vec<String> {
    serde_json::from_slice::<serde_json::Value>(manifest)
        .ok()
        .and_then(|v| {
            v.get("files")?.as_array().map(|files| {
                files
                    .iter()
                    .filter_map(|f| f.get("name")?.as_str().map(String::from))
                    .collect()
            })
        })
        .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, bytes: &[u8]) -> Artifact {
        Artifact {
            name: name.into(),
            bytes: bytes.to_vec(),
            rows: 0,
        }
    }

    #[test]
    fn a_rerun_removes_what_the_earlier_set_listed_and_this_one_does_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = |names: &[&str]| {
            let files: Vec<_> = names
                .iter()
                .map(|n| serde_json::json!({"name": n}))
                .collect();
            file(
                "manifest.json",
                serde_json::json!({ "files": files }).to_string().as_bytes(),
            )
        };
        let first = [
            file("usage_by_user.csv", b"a"),
            file("focus_costs.csv", b"b"),
        ];
        deliver(
            dir.path(),
            &first,
            &manifest(&["usage_by_user.csv", "focus_costs.csv"]),
        )
        .unwrap();
        std::fs::write(dir.path().join("mail.eml"), b"kept: not in the manifest").unwrap();
        let second = [file("usage_by_user.csv", b"c")];
        deliver(dir.path(), &second, &manifest(&["usage_by_user.csv"])).unwrap();
        assert!(!dir.path().join("focus_costs.csv").exists());
        assert_eq!(
            std::fs::read(dir.path().join("usage_by_user.csv")).unwrap(),
            b"c"
        );
        assert!(dir.path().join("mail.eml").exists());
        assert!(dir.path().join("manifest.json").exists());
    }
}
