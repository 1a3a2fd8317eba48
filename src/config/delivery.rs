//! Where the evidence goes: the S3 evidence store, the manifest signing key, the SMTP relay and
//! the pushgateway. Raw serde sections, validated once; secrets are only ever named (an env var
//! or a mounted file), never written in the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{parse_duration, SecretRef};
use crate::error::InputError;

/// `*_env` / `*_file` pair -> where to read a secret; `required` names the error if neither.
fn secret(
    field: &str,
    env: Option<String>,
    file: Option<PathBuf>,
    base: &Path,
) -> Result<Option<SecretRef>, InputError> {
    match (env, file) {
        (Some(_), Some(_)) => Err(InputError::invalid(
            format!("{field}_env"),
            format!("set {field}_env or {field}_file, not both"),
        )),
        (Some(v), None) => Ok(Some(SecretRef::Env(v))),
        (None, Some(f)) => Ok(Some(SecretRef::File(base.join(f)))),
        (None, None) => Ok(None),
    }
}

fn required(field: &str, s: Option<SecretRef>) -> Result<SecretRef, InputError> {
    s.ok_or_else(|| {
        InputError::invalid(
            field,
            format!(
                "is required: set {field}_env (an environment variable) or {field}_file (a mounted secret)"
            ),
        )
    })
}

fn duration(field: &str, v: Option<String>, default: Duration) -> Result<Duration, InputError> {
    v.map_or(Ok(default), |s| {
        parse_duration(&s).map_err(|e| InputError::invalid(field, e))
    })
}

/// `10MiB`, `512KiB`, `1GiB` or plain bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 10MiB, 512KiB or 1048576"))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        u => {
            return Err(format!(
                "{s:?} has unknown unit {u:?}; use B, KiB, MiB or GiB"
            ))
        }
    };
    Ok(n * mult)
}

// ------------------------------------------------------------------------------------------ S3

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawS3 {
    /// `https://minio.example.org` (path-style addressing is used for custom endpoints).
    endpoint: String,
    bucket: String,
    /// Key prefix; objects go to `<prefix>/period=<p>/start=<YYYY-MM-DD>/<file>`.
    #[serde(default)]
    prefix: String,
    region: Option<String>,
    access_key_id_env: Option<String>,
    access_key_id_file: Option<PathBuf>,
    secret_access_key_env: Option<String>,
    secret_access_key_file: Option<PathBuf>,
    /// Plain-HTTP endpoints are refused unless this is set (in-cluster MinIO without TLS).
    #[serde(default)]
    allow_http: bool,
    /// PEM bundle for a private CA.
    ca_file: Option<PathBuf>,
    /// Server-side encryption: `"AES256"` or `"aws:kms"` (with `sse_kms_key_id`).
    sse: Option<String>,
    sse_kms_key_id: Option<String>,
    /// The bucket has Object Lock default retention (WORM): evidence already delivered for a
    /// window is never overwritten; a rerun refuses with exit 4 instead.
    #[serde(default)]
    object_lock: bool,
    /// Per-object retention sent with every evidence upload (needs `object_lock`):
    /// `"GOVERNANCE"` or `"COMPLIANCE"`, with `object_lock_retain_days`.
    object_lock_mode: Option<String>,
    /// Days from the upload the evidence stays locked (> 0).
    object_lock_retain_days: Option<i64>,
    /// Files larger than this go up in multipart uploads.
    multipart_threshold: Option<String>,
    /// Attempts per request on throttling, 5xx and connection errors.
    retries: Option<u32>,
    /// Per-request timeout.
    timeout: Option<String>,
}

#[derive(Debug, Clone)]
pub struct S3Config {
    pub endpoint: String,
    pub bucket: String,
    pub prefix: String,
    pub region: String,
    pub access_key_id: SecretRef,
    pub secret_access_key: SecretRef,
    pub allow_http: bool,
    pub ca_file: Option<PathBuf>,
    pub sse: Option<Sse>,
    pub object_lock: bool,
    /// Explicit Object Lock retention per evidence object; `None`: the bucket's default.
    pub retention: Option<Retention>,
    pub multipart_threshold: u64,
    pub retries: u32,
    pub timeout: Duration,
}

/// S3 Object Lock retention modes: GOVERNANCE can be lifted by a principal with
/// `s3:BypassGovernanceRetention`, COMPLIANCE by nobody until it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Governance,
    Compliance,
}

impl LockMode {
    /// The value of `x-amz-object-lock-mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub mode: LockMode,
    /// Locked until upload time + this many days.
    pub days: u32,
}

/// `object_lock_mode` + `object_lock_retain_days`, both or neither, and only with
/// `object_lock = true` (the refusal to replace a delivered window relies on it).
fn retention(
    object_lock: bool,
    mode: Option<String>,
    days: Option<i64>,
) -> Result<Option<Retention>, InputError> {
    let (mode, days) = match (mode, days) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(InputError::invalid(
                "s3.object_lock_retain_days",
                "is required with s3.object_lock_mode: how many days the evidence stays locked",
            ))
        }
        (None, Some(_)) => {
            return Err(InputError::invalid(
                "s3.object_lock_mode",
                "is required with s3.object_lock_retain_days: \"GOVERNANCE\" or \"COMPLIANCE\"",
            ))
        }
        (Some(m), Some(d)) => (m, d),
    };
    let mode = match mode.as_str() {
        "GOVERNANCE" => LockMode::Governance,
        "COMPLIANCE" => LockMode::Compliance,
        other => {
            return Err(InputError::invalid(
                "s3.object_lock_mode",
                format!(
                    "{other:?} is not an Object Lock mode; use \"GOVERNANCE\" or \"COMPLIANCE\""
                ),
            ))
        }
    };
    // 100 years is far beyond any retention duty and keeps the date arithmetic in range.
    let days = u32::try_from(days)
        .ok()
        .filter(|d| (1..=36_500).contains(d))
        .ok_or_else(|| {
            InputError::invalid(
                "s3.object_lock_retain_days",
                format!("{days} must be a whole number of days from 1 to 36500"),
            )
        })?;
    if !object_lock {
        return Err(InputError::invalid(
            "s3.object_lock_mode",
            "needs s3.object_lock = true (the bucket must have Object Lock enabled)",
        ));
    }
    Ok(Some(Retention { mode, days }))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sse {
    S3,
    Kms { key_id: Option<String> },
}

pub fn validate_s3(raw: RawS3, base: &Path) -> Result<S3Config, InputError> {
    let endpoint = raw.endpoint.trim_end_matches('/').to_string();
    let http = endpoint.starts_with("http://");
    if !http && !endpoint.starts_with("https://") {
        return Err(InputError::invalid(
            "s3.endpoint",
            format!("{endpoint:?} must start with https:// (or http:// with allow_http = true)"),
        ));
    }
    if http && !raw.allow_http {
        return Err(InputError::invalid(
            "s3.endpoint",
            "is plain http: evidence and credentials would travel unencrypted; use https:// or set s3.allow_http = true for an in-cluster endpoint",
        ));
    }
    if endpoint.contains('@') {
        return Err(InputError::invalid(
            "s3.endpoint",
            "credentials must not be written into the URL; use access_key_id_* and secret_access_key_*",
        ));
    }
    let bucket_ok = (3..=63).contains(&raw.bucket.len())
        && raw
            .bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !bucket_ok {
        return Err(InputError::invalid(
            "s3.bucket",
            format!(
                "{:?} is not an S3 bucket name (3-63 lowercase letters, digits, '-', '.')",
                raw.bucket
            ),
        ));
    }
    let sse = match raw.sse.as_deref() {
        None => {
            if raw.sse_kms_key_id.is_some() {
                return Err(InputError::invalid(
                    "s3.sse_kms_key_id",
                    "needs s3.sse = \"aws:kms\"",
                ));
            }
            None
        }
        Some("AES256") => Some(Sse::S3),
        Some("aws:kms") => Some(Sse::Kms {
            key_id: raw.sse_kms_key_id,
        }),
        Some(other) => {
            return Err(InputError::invalid(
                "s3.sse",
                format!("{other:?} is not supported; use \"AES256\" or \"aws:kms\""),
            ))
        }
    };
    let retention = retention(
        raw.object_lock,
        raw.object_lock_mode,
        raw.object_lock_retain_days,
    )?;
    let threshold = match raw.multipart_threshold {
        None => 64 << 20,
        Some(s) => parse_size(&s).map_err(|e| InputError::invalid("s3.multipart_threshold", e))?,
    };
    if threshold < 5 << 20 {
        return Err(InputError::invalid(
            "s3.multipart_threshold",
            "must be at least 5MiB (S3's smallest multipart part)",
        ));
    }
    Ok(S3Config {
        endpoint,
        bucket: raw.bucket,
        prefix: raw.prefix.trim_matches('/').to_string(),
        region: raw.region.unwrap_or_else(|| "us-east-1".to_string()),
        access_key_id: required(
            "s3.access_key_id",
            secret(
                "s3.access_key_id",
                raw.access_key_id_env,
                raw.access_key_id_file,
                base,
            )?,
        )?,
        secret_access_key: required(
            "s3.secret_access_key",
            secret(
                "s3.secret_access_key",
                raw.secret_access_key_env,
                raw.secret_access_key_file,
                base,
            )?,
        )?,
        allow_http: raw.allow_http,
        ca_file: raw.ca_file.map(|p| base.join(p)),
        sse,
        object_lock: raw.object_lock,
        retention,
        multipart_threshold: threshold,
        retries: raw.retries.unwrap_or(5),
        timeout: duration("s3.timeout", raw.timeout, Duration::from_secs(120))?,
    })
}

// ------------------------------------------------------------------------------------- signing

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSigning {
    /// Ed25519 private key: PKCS#8 PEM (`openssl genpkey -algorithm ed25519`) or a 64-hex seed.
    key_env: Option<String>,
    key_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct SigningConfig {
    pub key: SecretRef,
}

pub fn validate_signing(raw: RawSigning, base: &Path) -> Result<SigningConfig, InputError> {
    Ok(SigningConfig {
        key: required(
            "signing.key",
            secret("signing.key", raw.key_env, raw.key_file, base)?,
        )?,
    })
}

// ---------------------------------------------------------------------------------------- SMTP

/// The SMTP part of `[email]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    /// `smtp://host:587` (STARTTLS required) or `smtps://host:465` (implicit TLS). Without it the
    /// message is written as `mail.eml` into the run folder.
    pub url: Option<String>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    /// PEM bundle for a private CA.
    pub ca_file: Option<PathBuf>,
    /// Attempts before giving up (exit 4, evidence kept); default 4.
    pub retries: Option<u32>,
    /// The first pause between attempts, each next one 4 times longer (default 1s: 1, 4, 16 s).
    pub retry_backoff: Option<String>,
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain connect, then STARTTLS, refused if the server does not offer it.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretRef>,
    pub ca_file: Option<PathBuf>,
    pub retries: u32,
    /// The first pause between attempts; see [`crate::deliver::email`].
    pub retry_backoff: Duration,
    pub timeout: Duration,
}

pub fn validate_smtp(raw: RawSmtp, base: &Path) -> Result<Option<SmtpConfig>, InputError> {
    let password = secret(
        "email.smtp.password",
        raw.password_env,
        raw.password_file,
        base,
    )?;
    let Some(url) = raw.url else {
        if raw.username.is_some() || password.is_some() {
            return Err(InputError::invalid(
                "email.smtp.url",
                "credentials are set but no relay: add url = \"smtp://relay:587\" or \"smtps://relay:465\"",
            ));
        }
        return Ok(None);
    };
    let bad = |why: &str| {
        InputError::invalid(
            "email.smtp.url",
            format!("{url:?} {why}; write smtp://host:587 (STARTTLS) or smtps://host:465 (TLS)"),
        )
    };
    let (security, rest, default_port) = if let Some(r) = url.strip_prefix("smtps://") {
        (SmtpSecurity::Implicit, r, 465)
    } else if let Some(r) = url.strip_prefix("smtp://") {
        (SmtpSecurity::StartTls, r, 587)
    } else {
        return Err(bad("has an unknown scheme"));
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('@') {
        // Not `bad`: the URL itself holds the password, and errors reach logs.
        return Err(InputError::invalid(
            "email.smtp.url",
            "holds credentials (user:password@): remove them and use email.smtp.username and password_env/password_file",
        ));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>().map_err(|_| bad("has a bad port"))?,
        ),
        None => (rest.to_string(), default_port),
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if raw.username.is_some() != password.is_some() {
        return Err(InputError::invalid(
            "email.smtp.username",
            "AUTH needs both username and password_env/password_file",
        ));
    }
    Ok(Some(SmtpConfig {
        host,
        port,
        security,
        username: raw.username,
        password,
        ca_file: raw.ca_file.map(|p| base.join(p)),
        retries: raw.retries.unwrap_or(4).max(1),
        retry_backoff: duration(
            "email.smtp.retry_backoff",
            raw.retry_backoff,
            Duration::from_secs(1),
        )?,
        timeout: duration("email.smtp.timeout", raw.timeout, Duration::from_secs(60))?,
    }))
}

// --------------------------------------------------------------------------------- pushgateway

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPushgateway {
    /// `http://pushgateway.monitoring.svc:9091`
    url: String,
    /// The `job` grouping label (default `akko-audit`).
    job: Option<String>,
    timeout: Option<String>,
    /// HTTP basic auth in front of the gateway (never in the URL).
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct PushgatewayConfig {
    pub url: String,
    pub job: String,
    pub timeout: Duration,
    /// `(username, password)` for basic auth.
    pub auth: Option<(String, SecretRef)>,
}

pub fn validate_pushgateway(
    raw: RawPushgateway,
    base: &Path,
) -> Result<PushgatewayConfig, InputError> {
    let url = raw.url.trim_end_matches('/').to_string();
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return Err(InputError::invalid(
            "pushgateway.url",
            format!("{url:?} must start with http:// or https://"),
        ));
    };
    // Credentials in the URL would land in logs and error messages (the URL is printed when a
    // push fails); the value is not echoed here either.
    if rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .contains('@')
    {
        return Err(InputError::invalid(
            "pushgateway.url",
            "holds credentials (user:password@); remove them from the URL and set \
             pushgateway.username with pushgateway.password_file (a mounted secret) or \
             pushgateway.password_env",
        ));
    }
    let password = secret(
        "pushgateway.password",
        raw.password_env,
        raw.password_file,
        base,
    )?;
    let auth = match (raw.username, password) {
        (None, None) => None,
        (Some(u), Some(p)) => Some((u, p)),
        _ => {
            return Err(InputError::invalid(
                "pushgateway.username",
                "basic auth needs both pushgateway.username and pushgateway.password_env/_file",
            ))
        }
    };
    let job = raw.job.unwrap_or_else(|| "akko-audit".to_string());
    if job.is_empty() || job.contains('/') {
        return Err(InputError::invalid(
            "pushgateway.job",
            "must be a non-empty label value without '/'",
        ));
    }
    Ok(PushgatewayConfig {
        url,
        job,
        timeout: duration("pushgateway.timeout", raw.timeout, Duration::from_secs(10))?,
        auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_size("512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("10MB").is_err());
    }

    #[test]
    fn object_lock_retention_is_checked_naming_the_field() {
        let r = |lock, mode: Option<&str>, days| retention(lock, mode.map(str::to_string), days);
        assert_eq!(r(true, None, None).unwrap(), None);
        assert_eq!(
            r(true, Some("COMPLIANCE"), Some(365)).unwrap(),
            Some(Retention {
                mode: LockMode::Compliance,
                days: 365
            })
        );
        assert_eq!(
            r(true, Some("GOVERNANCE"), Some(1)).unwrap().unwrap().mode,
            LockMode::Governance
        );
        let err = |lock, mode, days| r(lock, mode, days).unwrap_err().to_string();
        let e = err(true, Some("compliance"), Some(30));
        assert!(
            e.contains("s3.object_lock_mode") && e.contains("COMPLIANCE"),
            "{e}"
        );
        assert!(err(true, Some("GOVERNENCE"), Some(30)).contains("s3.object_lock_mode"));
        for days in [0, -1, 36_501] {
            let e = err(true, Some("GOVERNANCE"), Some(days));
            assert!(e.contains("s3.object_lock_retain_days"), "{days}: {e}");
        }
        assert!(err(true, Some("GOVERNANCE"), None).contains("s3.object_lock_retain_days"));
        assert!(err(true, None, Some(30)).contains("s3.object_lock_mode"));
        let e = err(false, Some("GOVERNANCE"), Some(30));
        assert!(e.contains("s3.object_lock = true"), "{e}");
    }

    #[test]
    fn pushgateway_urls_with_credentials_are_refused_without_echoing_them() {
        let base = Path::new("/etc");
        let pg = |url: &str, user: Option<&str>, file: Option<&str>| {
            validate_pushgateway(
                RawPushgateway {
                    url: url.into(),
                    job: None,
                    timeout: None,
                    username: user.map(str::to_string),
                    password_env: None,
                    password_file: file.map(PathBuf::from),
                },
                base,
            )
        };
        for bad in [
            "http://admin:hunter2@pushgateway:9091",
            "https://admin@pushgateway:9091/",
        ] {
            let e = pg(bad, None, None).unwrap_err().to_string();
            assert!(e.contains("pushgateway.url"), "{e}");
            assert!(e.contains("pushgateway.password_file"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        // An '@' after the host is not userinfo.
        assert!(pg("http://pushgateway:9091/x@y", None, None).is_ok());
        let c = pg("http://pushgateway:9091", Some("akko"), Some("pg-password")).unwrap();
        let (user, secret) = c.auth.unwrap();
        assert_eq!(user, "akko");
        assert!(matches!(secret, SecretRef::File(p) if p == Path::new("/etc/pg-password")));
        let e = pg("http://pushgateway:9091", Some("akko"), None).unwrap_err();
        assert!(e.to_string().contains("pushgateway.username"), "{e}");
    }

    #[test]
    fn smtp_retry_backoff_is_configurable() {
        let cfg = |backoff: Option<&str>| {
            validate_smtp(
                RawSmtp {
                    url: Some("smtp://relay".into()),
                    retry_backoff: backoff.map(str::to_string),
                    ..Default::default()
                },
                Path::new("/etc"),
            )
        };
        let c = cfg(None).unwrap().unwrap();
        assert_eq!((c.retries, c.retry_backoff), (4, Duration::from_secs(1)));
        let c = cfg(Some("10ms")).unwrap().unwrap();
        assert_eq!(c.retry_backoff, Duration::from_millis(10));
        let e = cfg(Some("soon")).unwrap_err().to_string();
        assert!(e.contains("email.smtp.retry_backoff"), "{e}");
    }

    #[test]
    fn smtp_urls() {
        let base = Path::new("/etc");
        let cfg = |url: &str| {
            validate_smtp(
                RawSmtp {
                    url: Some(url.into()),
                    ..Default::default()
                },
                base,
            )
        };
        let c = cfg("smtp://relay.example.org").unwrap().unwrap();
        assert_eq!((c.port, c.security), (587, SmtpSecurity::StartTls));
        let c = cfg("smtps://relay.example.org:2465").unwrap().unwrap();
        assert_eq!((c.port, c.security), (2465, SmtpSecurity::Implicit));
        for bad in ["http://x", "smtp://u:p@x:25", "smtp://x:port", "smtp://"] {
            let e = cfg(bad).unwrap_err().to_string();
            assert!(e.contains("email.smtp.url"), "{bad}: {e}");
        }
    }
}
