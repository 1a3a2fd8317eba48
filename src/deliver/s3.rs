//! The S3 evidence store (MinIO in production), through `object_store`.
//!
//! The public API is blocking because delivery is a synchronous step of the run; each call
//! builds a small current-thread tokio runtime and drives `object_store`'s async client on it.
//!
//! What this module guarantees:
//! - keys are deterministic per window ([`key_prefix`]), so a retried Job writes the same keys;
//! - `manifest.json` goes up last, so its presence means the set is whole, and a rerun deletes
//!   the old one (and its signature) before replacing any file;
//! - every upload carries an `x-amz-checksum-sha256` that S3 checks before storing the object;
//! - with `object_lock`, a window already delivered is refused before anything is written;
//! - credentials are read from their `SecretRef`s at call time and never appear in a message.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue};

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, Checksum};
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{
    BackoffConfig, Certificate, ClientOptions, GetOptions, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, RetryConfig, WriteMultipart,
};
use tokio::runtime::Runtime;
use tracing::{debug, info};

use crate::config::delivery::{Retention, S3Config, Sse};
use crate::render::Artifact;
use crate::verify::EvidenceStore;
use crate::window::Window;

/// Part size of multipart uploads: S3's minimum, so memory per in-flight part stays small.
const PART_SIZE: usize = 5 << 20;
/// Parts (and whole files) in flight at once: enough to fill a link, few enough for 2 cores.
const CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The `[s3]` section cannot be turned into a client (unreadable secret or CA file, ...).
    /// The message names the setting, never a secret's value.
    #[error("{0}")]
    Config(String),
    /// Object Lock (WORM) is on and the window's manifest is already stored, for other evidence
    /// than this run's (the same evidence is [`Uploaded::already_stored`], not an error).
    #[error(
        "evidence for this window is already in the WORM bucket at {location}, with other \
         evidence than this run's; Object Lock forbids replacing it; nothing was uploaded"
    )]
    AlreadyDelivered { location: String },
    /// 401/403 (SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied, ...).
    #[error(
        "{endpoint} refused the request ({detail}): check s3.access_key_id_env/_file and \
         s3.secret_access_key_env/_file, and that this key may write to bucket {bucket:?}"
    )]
    Credentials {
        endpoint: String,
        bucket: String,
        detail: String,
    },
    #[error("bucket {bucket:?} does not exist at {endpoint}: create it or fix s3.bucket")]
    NoSuchBucket { endpoint: String, bucket: String },
    /// Connection refused, DNS, TLS or timeout, after the configured retries.
    #[error("cannot reach the S3 endpoint {endpoint} (s3.endpoint): {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("{op} s3://{bucket}/{key} failed: {detail}")]
    Request {
        op: &'static str,
        bucket: String,
        key: String,
        detail: String,
    },
}

/// The key of a daily history file (`name` relative to the history root):
/// `<prefix>/history/<table>/date=YYYY-MM-DD/part-0.parquet`.
pub fn history_key(cfg: &S3Config, name: &str) -> String {
    if cfg.prefix.is_empty() {
        format!("history/{name}")
    } else {
        format!("{}/history/{name}", cfg.prefix)
    }
}

/// The history root as an `s3://` URL for [`evidence_store`].
pub fn history_url(cfg: &S3Config) -> String {
    format!(
        "s3://{}/{}",
        cfg.bucket,
        history_key(cfg, "").trim_end_matches('/')
    )
}

/// `<prefix>/period=<p>/start=<YYYY-MM-DD>` for the window (no bucket, no trailing slash).
///
/// Hive-style so the platform's Trino can partition on `period` and `start`. A calendar
/// period's start date is the local date in the time zone the period is aligned to (a Berlin
/// day starts at 23:00 UTC the day before). An explicit window is not a calendar period: it
/// gets `period=custom/start=<instant>_end=<instant>` so two different windows never share keys.
pub fn key_prefix(cfg: &S3Config, window: &Window) -> String {
    let tail = window.partition();
    if cfg.prefix.is_empty() {
        tail
    } else {
        format!("{}/{tail}", cfg.prefix)
    }
}

/// Where a set is in S3 after [`upload_set`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// `s3://bucket/<prefix>/`
    pub location: String,
    /// The window was already delivered with the same evidence (the same `evidence_sha256`, a
    /// stored set that still matches its manifest, the same tool version), so nothing was
    /// written and the stored set stands: a retried Job must not swap the manifest and PDF a
    /// sent mail quotes. This is the SHA-256 of the stored `manifest.json`, the one a mail must
    /// quote.
    pub already_stored: Option<String>,
    /// With [`Uploaded::already_stored`]: the stored `report.pdf`, the one a mail must attach.
    pub stored_pdf: Option<Vec<u8>>,
}

/// What an earlier delivery left under the prefix, read before anything is written.
#[derive(serde::Deserialize)]
struct StoredManifest {
    evidence_sha256: Option<String>,
    #[serde(default)]
    tool: serde_json::Value,
    #[serde(default)]
    files: Vec<StoredFile>,
}

#[derive(serde::Deserialize)]
struct StoredFile {
    name: String,
    sha256: String,
}

/// Uploads `files`, then `manifest` last.
///
/// A stored manifest for the window is read first. When the stored set holds the same
/// evidence (its `evidence_sha256` equals the digest of `files`: a retried Job) and still
/// matches its manifest, it stands ([`Uploaded::already_stored`]). Otherwise, with
/// `object_lock`, the bucket's retention forbids replacing it: [`S3Error::AlreadyDelivered`],
/// before any byte is written rather than halfway with a set of mixed versions; without, the
/// old manifest and signature are deleted first, then every file the old manifest listed that
/// the new set does not hold (a bill the rerun no longer writes must not linger next to it).
pub fn upload_set(
    cfg: &S3Config,
    prefix: &str,
    files: &[Artifact],
    manifest: &Artifact,
) -> Result<Uploaded, S3Error> {
    let client = Client::new(cfg)?;
    let location = format!("s3://{}/{}/", cfg.bucket, prefix.trim_matches('/'));
    let manifest_key = join(prefix, &manifest.name);
    client.rt.block_on(async {
        let mut stale: Vec<String> = Vec::new();
        if let Some(stored) = client.get(&manifest_key).await? {
            let digest = crate::render::manifest::evidence_digest(files);
            let parsed: Option<StoredManifest> = serde_json::from_slice(&stored).ok();
            let ours: Option<StoredManifest> = serde_json::from_slice(&manifest.bytes).ok();
            let same_evidence = parsed
                .as_ref()
                .is_some_and(|m| m.evidence_sha256.as_deref() == Some(digest.as_str()));
            let same_tool = match (&parsed, &ours) {
                (Some(a), Some(b)) => a.tool == b.tool,
                _ => false,
            };
            if same_evidence && (cfg.object_lock || same_tool) {
                let entries = parsed.as_ref().map_or(&[][..], |m| &m.files[..]);
                if let Some(pdf) = stored_set_intact(&client, prefix, entries).await? {
                    info!(location = %location, "already delivered with the same evidence; the stored set stands");
                    return Ok(Uploaded {
                        location: location.clone(),
                        already_stored: Some(crate::render::manifest::sha256_hex(&stored)),
                        stored_pdf: pdf,
                    });
                }
            }
            if cfg.object_lock {
                return Err(S3Error::AlreadyDelivered {
                    location: location.clone(),
                });
            }
            let keep: std::collections::BTreeSet<&str> =
                files.iter().map(|a| a.name.as_str()).collect();
            stale = parsed
                .map(|m| m.files)
                .unwrap_or_default()
                .into_iter()
                .map(|f| f.name)
                .filter(|n| !keep.contains(n.as_str()) && !n.contains('/'))
                .collect();
        }
        // A rerun replaces the set file by file. The old manifest (and its signature) go first:
        // were the run to die halfway, an old manifest would vouch for a half-replaced set,
        // whereas a prefix without a manifest is plainly incomplete (`verify` says so).
        if !cfg.object_lock {
            for name in [manifest.name.as_str(), crate::render::signature::NAME] {
                client.delete(&join(prefix, name)).await?;
            }
            for name in &stale {
                client.delete(&join(prefix, name)).await?;
            }
            if !stale.is_empty() {
                info!(location = %location, files = ?stale, "removed files of the earlier set that this run does not write");
            }
        }
        let started = std::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for a in files {
            while tasks.len() >= CONCURRENCY {
                join_next(&mut tasks).await?;
            }
            let (c, key, bytes) = (client.clone_async(), join(prefix, &a.name), a.bytes.clone());
            tasks.spawn(async move { c.upload_evidence(&key, bytes).await });
        }
        while !tasks.is_empty() {
            join_next(&mut tasks).await?;
        }
        // Only now: a manifest next to a partial set would claim a whole one.
        client
            .upload_evidence(&manifest_key, manifest.bytes.clone())
            .await?;
        info!(
            location = %location,
            files = files.len() + 1,
            bytes = files.iter().map(|a| a.bytes.len()).sum::<usize>() + manifest.bytes.len(),
            ms = started.elapsed().as_millis() as u64,
            "S3 upload complete"
        );
        Ok(Uploaded {
            location: location.clone(),
            already_stored: None,
            stored_pdf: None,
        })
    })
}

/// Whether every file the stored manifest lists is there with its hash; `Some(report.pdf's
/// bytes, if listed)` when it is, `None` when the stored set is damaged or incomplete (then a
/// rerun replaces it rather than vouching for it).
async fn stored_set_intact(
    client: &AsyncClient,
    prefix: &str,
    entries: &[StoredFile],
) -> Result<Option<Option<Vec<u8>>>, S3Error> {
    use sha2::Digest;
    if entries.is_empty() {
        return Ok(None);
    }
    let mut pdf = None;
    for e in entries {
        let Some(bytes) = client.get(&join(prefix, &e.name)).await? else {
            return Ok(None);
        };
        if hex::encode(sha2::Sha256::digest(&bytes)) != e.sha256 {
            return Ok(None);
        }
        if e.name == "report.pdf" {
            pdf = Some(bytes);
        }
    }
    Ok(Some(pdf))
}

async fn join_next(tasks: &mut tokio::task::JoinSet<Result<(), S3Error>>) -> Result<(), S3Error> {
    match tasks.join_next().await {
        None => Ok(()),
        Some(Ok(r)) => r,
        Some(Err(e)) => Err(S3Error::Config(format!("an upload task failed: {e}"))),
    }
}

/// Whether `key` exists (a HEAD request).
pub fn exists(cfg: &S3Config, key: &str) -> Result<bool, S3Error> {
    let client = Client::new(cfg)?;
    client.rt.block_on(client.head(key))
}

/// The object's bytes, `None` when it does not exist (the "mailed" marker).
pub fn get(cfg: &S3Config, key: &str) -> Result<Option<Vec<u8>>, S3Error> {
    let client = Client::new(cfg)?;
    client.rt.block_on(client.get(key))
}

/// A small object (the "mailed" marker), with the same checksum and encryption as the evidence.
pub fn put(cfg: &S3Config, key: &str, bytes: &[u8]) -> Result<(), S3Error> {
    let client = Client::new(cfg)?;
    client.rt.block_on(client.upload(key, bytes.to_vec()))
}

/// A presigned GET URL (SigV4 query string) valid for `expiry` (S3 allows at most 7 days):
/// mailed for CSVs too large to attach, so recipients need no S3 credentials.
pub fn presign_get(cfg: &S3Config, key: &str, expiry: Duration) -> Result<String, S3Error> {
    let client = Client::new(cfg)?;
    let path = client.path(key)?;
    client
        .rt
        .block_on(client.store.signed_url(reqwest::Method::GET, &path, expiry))
        .map(|u| u.to_string())
        .map_err(|e| client.error("presigning", key, e))
}

/// `s3://bucket/prefix` as an [`EvidenceStore`] for `verify`.
///
/// The URL's bucket is used with the configured endpoint and credentials: verification only
/// reads, the server's policy decides what this key may see, and an auditor may well verify a
/// replicated or archived copy in another bucket of the same endpoint.
pub fn evidence_store(cfg: &S3Config, url: &str) -> Result<Box<dyn EvidenceStore>, String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{url:?} is not an s3://bucket/prefix URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("{url:?} names no bucket; write s3://bucket/prefix"));
    }
    let mut cfg = cfg.clone();
    cfg.bucket = bucket.to_string();
    let prefix = prefix.trim_matches('/').to_string();
    let client = Client::new(&cfg).map_err(|e| e.to_string())?;
    Ok(Box::new(S3Evidence {
        url: format!("s3://{bucket}/{prefix}"),
        prefix,
        client,
    }))
}

struct S3Evidence {
    client: Client,
    prefix: String,
    url: String,
}

impl EvidenceStore for S3Evidence {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let key = join(&self.prefix, name);
        self.client
            .rt
            .block_on(self.client.get(&key))
            .map_err(|e| e.to_string())
    }

    fn exists(&self, name: &str) -> Result<bool, String> {
        let key = join(&self.prefix, name);
        self.client
            .rt
            .block_on(self.client.head(&key))
            .map_err(|e| e.to_string())
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

// ------------------------------------------------------------------------------------ client

/// `prefix/name`, or `name` alone when there is no prefix.
fn join(prefix: &str, name: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// The async half, cheap to clone into upload tasks.
#[derive(Clone)]
struct AsyncClient {
    store: Arc<AmazonS3>,
    /// For the evidence set: `store`, or with `object_lock_mode` a store whose every request
    /// carries the retention headers.
    evidence_store: Arc<AmazonS3>,
    evidence_multipart_threshold: u64,
    endpoint: String,
    bucket: String,
    multipart_threshold: u64,
    /// Scrubbed from every message, in case a server echoes them back.
    secrets: Arc<[String; 2]>,
}

struct Client {
    rt: Runtime,
    inner: AsyncClient,
}

impl std::ops::Deref for Client {
    type Target = AsyncClient;
    fn deref(&self) -> &AsyncClient {
        &self.inner
    }
}

impl Client {
    fn new(cfg: &S3Config) -> Result<Self, S3Error> {
        let secret = |r: &crate::config::SecretRef, field: &str| -> Result<String, S3Error> {
            let bytes = r.read(field).map_err(|e| S3Error::Config(e.to_string()))?;
            String::from_utf8(bytes)
                .map_err(|_| S3Error::Config(format!("{field}: the secret is not UTF-8 text")))
        };
        let access_key_id = secret(&cfg.access_key_id, "s3.access_key_id")?;
        let secret_access_key = secret(&cfg.secret_access_key, "s3.secret_access_key")?;

        let mut options = ClientOptions::new()
            .with_allow_http(cfg.allow_http)
            .with_timeout(cfg.timeout);
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                S3Error::Config(format!("s3.ca_file: cannot read {}: {e}", ca.display()))
            })?;
            let certs = Certificate::from_pem_bundle(&pem).map_err(|e| {
                S3Error::Config(format!(
                    "s3.ca_file: {} is not a PEM bundle: {e}",
                    ca.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(S3Error::Config(format!(
                    "s3.ca_file: {} holds no certificate",
                    ca.display()
                )));
            }
            for c in certs {
                options = options.with_root_certificate(c);
            }
        }
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(15),
                base: 2.0,
            },
            max_retries: cfg.retries as usize,
            retry_timeout: Duration::from_secs(180).max(cfg.timeout),
        };
        let mut builder = AmazonS3Builder::new()
            .with_endpoint(&cfg.endpoint)
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(&access_key_id)
            .with_secret_access_key(&secret_access_key)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(cfg.allow_http)
            .with_retry(retry)
            .with_checksum_algorithm(Checksum::SHA256);
        builder = with_sse(builder, cfg.sse.as_ref())?;
        let secrets = Arc::new([access_key_id, secret_access_key]);
        let scrub_cfg = |e: object_store::Error| S3Error::Config(scrub(&e.to_string(), &secrets));
        let store = Arc::new(
            builder
                .clone()
                .with_client_options(options.clone())
                .build()
                .map_err(scrub_cfg)?,
        );
        // object_store has no per-object retention option, but it signs the client's default
        // headers into every request (aws/client.rs): a store of its own for the evidence
        // uploads carries the two Object Lock headers, so reads, deletes, the marker and the
        // history never send them.
        let evidence_store = match &cfg.retention {
            None => store.clone(),
            Some(r) => Arc::new(
                builder
                    .with_client_options(options.with_default_headers(lock_headers(r, Utc::now())?))
                    .build()
                    .map_err(scrub_cfg)?,
            ),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| S3Error::Config(format!("cannot start the async runtime: {e}")))?;
        Ok(Client {
            rt,
            inner: AsyncClient {
                store,
                evidence_store,
                // The default headers would go on every part request too, where S3 does not
                // expect them: with retention every file is one PUT (S3 takes up to 5 GiB so).
                evidence_multipart_threshold: match cfg.retention {
                    None => cfg.multipart_threshold,
                    Some(_) => 5 << 30,
                },
                endpoint: cfg.endpoint.clone(),
                bucket: cfg.bucket.clone(),
                multipart_threshold: cfg.multipart_threshold,
                secrets,
            },
        })
    }

    fn clone_async(&self) -> AsyncClient {
        self.inner.clone()
    }
}

/// `x-amz-object-lock-mode` and `x-amz-object-lock-retain-until-date` (ISO 8601, UTC, whole
/// seconds) for uploads at `now`: locked until `now` + the configured days.
fn lock_headers(r: &Retention, now: DateTime<Utc>) -> Result<HeaderMap, S3Error> {
    let until = now + chrono::Duration::days(i64::from(r.days));
    let mut h = HeaderMap::new();
    let value = |v: String| {
        HeaderValue::from_str(&v)
            .map_err(|e| S3Error::Config(format!("s3.object_lock_mode: header value {v:?}: {e}")))
    };
    h.insert(
        "x-amz-object-lock-mode",
        value(r.mode.as_str().to_string())?,
    );
    h.insert(
        "x-amz-object-lock-retain-until-date",
        value(until.format("%Y-%m-%dT%H:%M:%SZ").to_string())?,
    );
    Ok(h)
}

/// The encryption settings for `sse`, as object_store config keys, each of which becomes one
/// request header (`x-amz-server-side-encryption`, `…-aws-kms-key-id`).
///
/// Without a KMS key id the key-id setting is left out altogether, so no key-id header is sent
/// and S3 uses the bucket's default KMS key: `with_sse_kms_encryption("")` would send the header
/// empty, which S3 rejects. (SSE-S3 has no typed setter in object_store 0.13 and the key enum is
/// not exported either: the documented config key names are the way in.)
fn sse_settings(sse: Option<&Sse>) -> Vec<(&'static str, String)> {
    match sse {
        None => Vec::new(),
        Some(Sse::S3) => vec![("aws_server_side_encryption", "AES256".to_string())],
        Some(Sse::Kms { key_id }) => {
            let mut v = vec![("aws_server_side_encryption", "aws:kms".to_string())];
            if let Some(id) = key_id.as_deref().filter(|id| !id.trim().is_empty()) {
                v.push(("aws_sse_kms_key_id", id.to_string()));
            }
            v
        }
    }
}

fn with_sse(mut builder: AmazonS3Builder, sse: Option<&Sse>) -> Result<AmazonS3Builder, S3Error> {
    for (name, value) in sse_settings(sse) {
        let key: AmazonS3ConfigKey = name
            .parse()
            .map_err(|e: object_store::Error| S3Error::Config(format!("s3.sse: {e}")))?;
        builder = builder.with_config(key, value);
    }
    Ok(builder)
}

impl AsyncClient {
    fn path(&self, key: &str) -> Result<ObjectPath, S3Error> {
        ObjectPath::parse(key).map_err(|e| S3Error::Request {
            op: "naming",
            bucket: self.bucket.clone(),
            key: key.to_string(),
            detail: e.to_string(),
        })
    }

    async fn head(&self, key: &str) -> Result<bool, S3Error> {
        let path = self.path(key)?;
        match self
            .store
            .get_opts(&path, GetOptions::new().with_head(true))
            .await
        {
            Ok(_) => Ok(true),
            // HEAD answers 404 without a body, so a missing bucket looks like a missing
            // object here; the upload that follows gets `NoSuchBucket` and says so.
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error("checking", key, e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let path = self.path(key)?;
        let result = match self.store.get_opts(&path, GetOptions::new()).await {
            Ok(r) => r,
            // A GET's 404 carries a body: a missing bucket is an error, not a missing file.
            Err(e @ object_store::Error::NotFound { .. })
                if !chain(&e).contains("NoSuchBucket") =>
            {
                return Ok(None)
            }
            Err(e) => return Err(self.error("reading", key, e)),
        };
        match result.bytes().await {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(e) => Err(self.error("reading", key, e)),
        }
    }

    /// Removes `key`; a key that does not exist is fine (S3 answers 204 either way).
    async fn delete(&self, key: &str) -> Result<(), S3Error> {
        let path = self.path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                debug!(key, "deleted");
                Ok(())
            }
            Err(e) => Err(self.error("deleting", key, e)),
        }
    }

    /// One object: a single PUT up to the threshold, multipart above it. Either way S3 checks
    /// the SHA-256 object_store sends with each request.
    async fn upload(&self, key: &str, bytes: Vec<u8>) -> Result<(), S3Error> {
        self.upload_to(&self.store, self.multipart_threshold, key, bytes)
            .await
    }

    /// A file of the evidence set: with the retention headers when configured.
    async fn upload_evidence(&self, key: &str, bytes: Vec<u8>) -> Result<(), S3Error> {
        let store = self.evidence_store.clone();
        self.upload_to(&store, self.evidence_multipart_threshold, key, bytes)
            .await
    }

    async fn upload_to(
        &self,
        store: &AmazonS3,
        multipart_threshold: u64,
        key: &str,
        bytes: Vec<u8>,
    ) -> Result<(), S3Error> {
        let path = self.path(key)?;
        let len = bytes.len();
        if (len as u64) <= multipart_threshold {
            store
                .put_opts(&path, PutPayload::from(bytes), PutOptions::default())
                .await
                .map_err(|e| self.error("uploading", key, e))?;
            debug!(key, bytes = len, "uploaded");
            return Ok(());
        }
        let upload = store
            .put_multipart_opts(&path, PutMultipartOptions::default())
            .await
            .map_err(|e| self.error("starting the multipart upload of", key, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        for chunk in bytes.chunks(PART_SIZE) {
            if let Err(e) = writer.wait_for_capacity(CONCURRENCY).await {
                // Best effort: a dangling upload only costs storage until the bucket's
                // lifecycle rule removes it; the error that matters is `e`.
                let _ = writer.abort().await;
                return Err(self.error("uploading a part of", key, e));
            }
            writer.write(chunk);
        }
        writer
            .finish()
            .await
            .map_err(|e| self.error("completing the multipart upload of", key, e))?;
        debug!(
            key,
            bytes = len,
            parts = len.div_ceil(PART_SIZE),
            "uploaded (multipart)"
        );
        Ok(())
    }

    fn error(&self, op: &'static str, key: &str, e: object_store::Error) -> S3Error {
        classify(&self.endpoint, &self.bucket, &self.secrets, op, key, &e)
    }
}

/// A readable error: credentials, a missing bucket and an unreachable endpoint each say what to
/// fix; the S3 error code and message are kept; secrets are scrubbed.
fn classify(
    endpoint: &str,
    bucket: &str,
    secrets: &[String; 2],
    op: &'static str,
    key: &str,
    e: &object_store::Error,
) -> S3Error {
    let text = scrub(&chain(e), secrets);
    let code = xml_tag(&text, "Code");
    let detail = match (&code, xml_tag(&text, "Message")) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        _ => shorten(&text),
    };
    let code = code.unwrap_or_default();
    let auth = matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AccessDenied",
        "InvalidSignature",
    ]
    .contains(&code.as_str());
    if auth {
        return S3Error::Credentials {
            endpoint: endpoint.to_string(),
            bucket: bucket.to_string(),
            detail,
        };
    }
    if code == "NoSuchBucket" {
        return S3Error::NoSuchBucket {
            endpoint: endpoint.to_string(),
            bucket: bucket.to_string(),
        };
    }
    let lower = text.to_ascii_lowercase();
    let unreachable = [
        "connection refused",
        "tcp connect error",
        "dns error",
        "error trying to connect",
        "timed out",
        "certificate",
    ];
    if unreachable.iter().any(|s| lower.contains(s)) {
        return S3Error::Unreachable {
            endpoint: endpoint.to_string(),
            detail: shorten(&text),
        };
    }
    S3Error::Request {
        op,
        bucket: bucket.to_string(),
        key: key.to_string(),
        detail,
    }
}

/// The error and its sources: reqwest hides "Connection refused" three levels down.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn scrub(text: &str, secrets: &[String; 2]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "<redacted>");
    }
    out
}

/// `<Code>…</Code>` from an S3 XML error body quoted in an error message.
fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].trim().to_string()).filter(|s| !s.is_empty())
}

fn shorten(text: &str) -> String {
    const MAX: usize = 400;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretRef;
    use crate::window::{Period, WindowOrigin};
    use chrono::TimeZone;

    fn cfg(prefix: &str) -> S3Config {
        S3Config {
            endpoint: "http://127.0.0.1:1".into(),
            bucket: "evidence".into(),
            prefix: prefix.into(),
            region: "us-east-1".into(),
            access_key_id: SecretRef::Env("UNUSED".into()),
            secret_access_key: SecretRef::Env("UNUSED".into()),
            allow_http: true,
            ca_file: None,
            sse: None,
            object_lock: false,
            retention: None,
            multipart_threshold: 64 << 20,
            retries: 0,
            timeout: Duration::from_secs(5),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn scheduled(period: Period, start: &str, end: &str, tz: &str) -> Window {
        Window {
            start: utc(start),
            end: utc(end),
            origin: WindowOrigin::Scheduled {
                period,
                schedule: "0 2 * * *".into(),
                fire_time: utc(end),
                time_zone: tz.into(),
            },
        }
    }

    #[test]
    fn calendar_periods_are_hive_partitions_by_local_start_date() {
        let cases = [
            (
                scheduled(
                    Period::Daily,
                    "2026-11-30T00:00:00Z",
                    "2026-12-01T00:00:00Z",
                    "UTC",
                ),
                "audit/period=daily/start=2026-11-30",
            ),
            (
                // A Berlin day starts at 23:00 UTC the day before: the key names the local day.
                scheduled(
                    Period::Daily,
                    "2026-11-29T23:00:00Z",
                    "2026-11-30T23:00:00Z",
                    "Europe/Berlin",
                ),
                "audit/period=daily/start=2026-11-30",
            ),
            (
                scheduled(
                    Period::Weekly,
                    "2026-11-23T00:00:00Z",
                    "2026-11-30T00:00:00Z",
                    "UTC",
                ),
                "audit/period=weekly/start=2026-11-23",
            ),
            (
                scheduled(
                    Period::Monthly,
                    "2026-11-01T00:00:00Z",
                    "2026-12-01T00:00:00Z",
                    "UTC",
                ),
                "audit/period=monthly/start=2026-11-01",
            ),
        ];
        for (w, want) in cases {
            assert_eq!(key_prefix(&cfg("audit"), &w), want);
        }
    }

    #[test]
    fn no_prefix_means_no_leading_slash() {
        let w = scheduled(
            Period::Daily,
            "2026-11-30T00:00:00Z",
            "2026-12-01T00:00:00Z",
            "UTC",
        );
        assert_eq!(key_prefix(&cfg(""), &w), "period=daily/start=2026-11-30");
    }

    #[test]
    fn custom_windows_name_both_ends_so_they_never_share_keys() {
        let a = Window::explicit(utc("2026-07-01T00:00:00Z"), utc("2026-10-01T00:00:00Z")).unwrap();
        let b = Window::explicit(utc("2026-07-01T00:00:00Z"), utc("2026-09-30T00:00:00Z")).unwrap();
        let c = Window::explicit(
            Utc.timestamp_millis_opt(1_782_864_000_000).unwrap(),
            Utc.timestamp_millis_opt(1_782_864_000_500).unwrap(),
        )
        .unwrap();
        let (ka, kb) = (key_prefix(&cfg("audit"), &a), key_prefix(&cfg("audit"), &b));
        assert_eq!(
            ka,
            "audit/period=custom/start=2026-07-01T000000Z_end=2026-10-01T000000Z"
        );
        assert_ne!(ka, kb);
        // The same day as a scheduled daily window must not collide with it either.
        let d = Window::explicit(utc("2026-11-30T00:00:00Z"), utc("2026-12-01T00:00:00Z")).unwrap();
        let s = scheduled(
            Period::Daily,
            "2026-11-30T00:00:00Z",
            "2026-12-01T00:00:00Z",
            "UTC",
        );
        assert_ne!(key_prefix(&cfg("a"), &d), key_prefix(&cfg("a"), &s));
        let kc = key_prefix(&cfg(""), &c);
        assert!(kc.contains(".500000000Z"), "{kc}");
        assert!(ObjectPath::parse(&kc).is_ok(), "{kc}");
    }

    #[test]
    fn s3_error_bodies_become_code_and_message() {
        let text = "Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature does not match</Message></Error>";
        assert_eq!(
            xml_tag(text, "Code").as_deref(),
            Some("SignatureDoesNotMatch")
        );
        assert_eq!(
            xml_tag(text, "Message").as_deref(),
            Some("The request signature does not match")
        );
        assert_eq!(xml_tag("no xml", "Code"), None);
        let secrets = ["AKID".to_string(), "s3cr3t".to_string()];
        assert_eq!(
            scrub("key AKID sig s3cr3t", &secrets),
            "key <redacted> sig <redacted>"
        );
    }

    #[test]
    fn errors_say_what_to_fix() {
        let secrets = ["AKID".to_string(), "s3cr3t".to_string()];
        let generic = |body: &str| object_store::Error::Generic {
            store: "S3",
            source: body.to_string().into(),
        };
        let c = |e: &object_store::Error| {
            classify(
                "http://minio:9000",
                "evidence",
                &secrets,
                "uploading",
                "k",
                e,
            )
        };
        let e = c(&generic(
            "404 Not Found: <Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>",
        ));
        assert!(matches!(e, S3Error::NoSuchBucket { .. }), "{e:?}");
        assert!(e
            .to_string()
            .contains("bucket \"evidence\" does not exist at http://minio:9000"));
        let e = c(&object_store::Error::PermissionDenied {
            path: "k".into(),
            source: "403 Forbidden: <Code>AccessDenied</Code> for s3cr3t".into(),
        });
        let msg = e.to_string();
        assert!(matches!(e, S3Error::Credentials { .. }), "{e:?}");
        assert!(msg.contains("s3.secret_access_key_env/_file"), "{msg}");
        assert!(!msg.contains("s3cr3t"), "{msg}");
        let e = c(&generic(
            "error sending request: client error (Connect): tcp connect error: Connection refused",
        ));
        assert!(matches!(e, S3Error::Unreachable { .. }), "{e:?}");
        let e = c(&generic(
            "500 Internal Server Error: <Code>InternalError</Code>",
        ));
        assert_eq!(
            e.to_string(),
            "uploading s3://evidence/k failed: InternalError"
        );
    }

    #[test]
    fn object_lock_headers_name_the_mode_and_the_retain_until_date() {
        use crate::config::delivery::LockMode;
        let now = utc("2026-12-01T02:03:04.567Z");
        let h = lock_headers(
            &Retention {
                mode: LockMode::Compliance,
                days: 2555,
            },
            now,
        )
        .unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h["x-amz-object-lock-mode"], "COMPLIANCE");
        // 2555 days = 7 years (with two leap days) later, whole seconds, UTC.
        assert_eq!(
            h["x-amz-object-lock-retain-until-date"],
            "2033-11-29T02:03:04Z"
        );
        let h = lock_headers(
            &Retention {
                mode: LockMode::Governance,
                days: 1,
            },
            now,
        )
        .unwrap();
        assert_eq!(h["x-amz-object-lock-mode"], "GOVERNANCE");
        assert_eq!(
            h["x-amz-object-lock-retain-until-date"],
            "2026-12-02T02:03:04Z"
        );
    }

    #[test]
    fn sse_kms_without_a_key_id_sends_no_key_id_header() {
        let kms = |key_id: Option<&str>| Sse::Kms {
            key_id: key_id.map(str::to_string),
        };
        let enc = ("aws_server_side_encryption", "aws:kms".to_string());
        assert_eq!(sse_settings(Some(&kms(None))), vec![enc.clone()]);
        assert_eq!(sse_settings(Some(&kms(Some("")))), vec![enc.clone()]);
        assert_eq!(
            sse_settings(Some(&kms(Some("arn:aws:kms:k")))),
            [enc, ("aws_sse_kms_key_id", "arn:aws:kms:k".to_string())]
        );
        assert_eq!(
            sse_settings(Some(&Sse::S3)),
            [("aws_server_side_encryption", "AES256".to_string())]
        );
        assert!(sse_settings(None).is_empty());
        // And what the builder ends up with: no key id at all, not an empty one.
        let key_id: AmazonS3ConfigKey = "aws_sse_kms_key_id".parse().unwrap();
        let b = with_sse(AmazonS3Builder::new(), Some(&kms(None))).unwrap();
        assert_eq!(b.get_config_value(&key_id), None);
        let b = with_sse(AmazonS3Builder::new(), Some(&kms(Some("k1")))).unwrap();
        assert_eq!(b.get_config_value(&key_id).as_deref(), Some("k1"));
    }

    #[test]
    fn bad_evidence_urls_are_refused_with_the_url() {
        for bad in ["https://x/y", "s3:///prefix"] {
            let e = evidence_store(&cfg(""), bad).err().unwrap();
            assert!(e.contains(bad), "{e}");
        }
    }
}
