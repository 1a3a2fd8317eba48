//! The S3 evidence store (MinIO in production). CONTRACT STUB: implemented on its own branch.

use std::time::Duration;

use crate::config::delivery::S3Config;
use crate::render::Artifact;
use crate::verify::EvidenceStore;
use crate::window::Window;

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("S3 delivery is not built yet")]
    NotBuilt,
}

/// `<prefix>/period=<p>/start=<YYYY-MM-DD>` for the window (no bucket, no trailing slash).
pub fn key_prefix(_cfg: &S3Config, _window: &Window) -> String {
    String::new()
}

/// Uploads `files`, then `manifest` last; returns `s3://bucket/<prefix>/`.
pub fn upload_set(
    _cfg: &S3Config,
    _prefix: &str,
    _files: &[Artifact],
    _manifest: &Artifact,
) -> Result<String, S3Error> {
    Err(S3Error::NotBuilt)
}

pub fn exists(_cfg: &S3Config, _key: &str) -> Result<bool, S3Error> {
    Err(S3Error::NotBuilt)
}

pub fn put(_cfg: &S3Config, _key: &str, _bytes: &[u8]) -> Result<(), S3Error> {
    Err(S3Error::NotBuilt)
}

pub fn presign_get(_cfg: &S3Config, _key: &str, _expiry: Duration) -> Result<String, S3Error> {
    Err(S3Error::NotBuilt)
}

/// `s3://bucket/prefix` as an [`EvidenceStore`] for `verify`.
pub fn evidence_store(_cfg: &S3Config, _url: &str) -> Result<Box<dyn EvidenceStore>, String> {
    Err("S3 delivery is not built yet".into())
}
