//! Configuration: raw TOML (serde, unknown keys rejected) validated once into [`Config`].
//!
//! Every check that can fail on user input happens here, before any source is read, so a typo
//! costs a clear message and exit 2 instead of a half-run job. Secrets never live in the file:
//! only the *name* of an env var or the path of a mounted secret file.

pub mod chargeback;
pub mod delivery;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::error::InputError;
use crate::sources::SourceKind;
use crate::window::{Period, Schedule};

// ---------------------------------------------------------------------------------------------
// Raw, as written in TOML.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    window: RawWindow,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    identity: RawIdentity,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    backends: RawBackends,
    #[serde(default)]
    sources: BTreeMap<String, RawSource>,
    email: Option<RawEmail>,
    #[serde(default)]
    privacy: RawPrivacy,
    #[serde(default)]
    findings: crate::compliance::thresholds::RawThresholds,
    s3: Option<delivery::RawS3>,
    signing: Option<delivery::RawSigning>,
    pushgateway: Option<delivery::RawPushgateway>,
    history: Option<RawHistory>,
    chargeback: Option<chargeback::RawChargeback>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHistory {
    /// Local folder of the daily Parquet history (`history/<table>/date=…/`). With `[s3]` the
    /// history also goes to `<s3.prefix>/history/`, and longer reports read it from there.
    dir: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivacy {
    /// Replace string and number literals in the Trino query log with `?`.
    #[serde(default)]
    redact_sql_literals: bool,
    /// Replace every user id in the exports with a keyed pseudonym (HMAC-SHA256).
    #[serde(default)]
    pseudonymise: bool,
    /// Environment variable holding the pseudonymisation key (at least 16 bytes).
    pseudonym_key_env: Option<String>,
    /// File holding the key (a mounted Secret); trailing newlines are ignored.
    pseudonym_key_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    /// Sender, e.g. `"AKKO audit <akko-audit@example.org>"`.
    from: String,
    /// Fixed recipient list (reports hold personal data: never derived from the data).
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    reply_to: Option<String>,
    subject_prefix: Option<String>,
    /// CSVs are attached as one zip up to this size (`"10MiB"`); above it the mail carries
    /// presigned S3 links instead.
    attach_csv_max: Option<String>,
    /// Lifetime of those links (`"7d"`; S3 allows at most 7 days).
    link_expiry: Option<String>,
    #[serde(default)]
    smtp: delivery::RawSmtp,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    /// The CronJob's `spec.schedule`.
    schedule: Option<String>,
    /// The CronJob's `spec.timeZone` (the zone the schedule is read in).
    schedule_time_zone: Option<String>,
    /// The zone whose midnights bound daily, weekly and monthly periods.
    time_zone: Option<String>,
    period: Option<String>,
    /// Pins "now" (RFC 3339); for demos and re-runs of a past day. `--at` overrides it.
    at: Option<String>,
    /// How long after `end` late lines may still arrive in Loki.
    late_margin: Option<String>,
    /// How far before `start` to look for the start of sessions still running.
    lookback: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    #[serde(default)]
    aliases: BTreeMap<String, String>,
    #[serde(default)]
    teams: BTreeMap<String, Vec<String>>,
    /// Keycloak groups that are teams, in priority order: a user missing from `teams` is in the
    /// first of these groups OPA saw them in (`input.context.identity.groups`).
    #[serde(default)]
    team_groups: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    #[serde(default)]
    bucket_owners: BTreeMap<String, String>,
    owner_patterns: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackends {
    loki: Option<RawHttpBackend>,
    prometheus: Option<RawHttpBackend>,
    postgres: Option<RawPostgres>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpBackend {
    url: String,
    /// Loki `X-Scope-OrgID`.
    tenant: Option<String>,
    username: Option<String>,
    /// Name of the env var holding the password (basic auth).
    password_env: Option<String>,
    /// Path of a mounted file holding the password.
    password_file: Option<PathBuf>,
    /// Path of a mounted file holding a bearer token.
    bearer_token_file: Option<PathBuf>,
    /// PEM bundle of extra CAs to trust.
    ca_file: Option<PathBuf>,
    timeout: Option<String>,
    /// Loki only: entries per request (at most 5000, Loki's max_entries_limit_per_query).
    page_limit: Option<usize>,
    /// Loki only: length of the sub-ranges the window is split into.
    split: Option<String>,
    /// Loki only: sub-ranges fetched at once.
    concurrency: Option<usize>,
    /// Loki only: attempts per request on 429, 5xx, timeouts.
    retries: Option<u32>,
    /// Loki only: how long one source may take before it is reported partial.
    deadline: Option<String>,
    /// How far back the server keeps data (Loki 7d, Prometheus 15d by default): a window
    /// reaching further back is reported partial instead of read as empty.
    retention: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostgres {
    /// Name of the env var holding the connection URL (it contains the password).
    url_env: Option<String>,
    /// Path of a mounted file holding the connection URL.
    url_file: Option<PathBuf>,
    statement_timeout: Option<String>,
    /// PEM bundle of extra CAs for TLS (`sslmode=require` in the URL).
    ca_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    backend: String,
    /// File backend: exported files (logcli jsonl, OpenMetrics text, spend-log CSV).
    #[serde(default)]
    files: Vec<PathBuf>,
    /// Loki backend: the LogQL stream selector and line filters.
    selector: Option<String>,
    /// OPA only: the decision path of the allow rule (default `trino/allow`).
    allow_path: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Validated.

/// Who the report is mailed to, and how: over the `[email.smtp]` relay, or written as
/// `mail.eml` into the run folder when no relay is configured.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub from: lettre::message::Mailbox,
    pub to: Vec<lettre::message::Mailbox>,
    pub cc: Vec<lettre::message::Mailbox>,
    pub reply_to: Option<lettre::message::Mailbox>,
    pub subject_prefix: String,
    pub attach_csv_max: u64,
    pub link_expiry: Duration,
    /// `None`: the message is written as `mail.eml` into the run folder (local mode).
    pub smtp: Option<delivery::SmtpConfig>,
}

/// Where a source's data comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// Exported files, paths absolute.
    Files(Vec<PathBuf>),
    Loki {
        selector: String,
    },
    Prometheus,
    Postgres,
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Files(_) => "files",
            Backend::Loki { .. } => "loki",
            Backend::Prometheus => "prometheus",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub kind: SourceKind,
    pub backend: Backend,
    /// OPA: the allow rule's path without a leading `/`.
    pub allow_path: String,
}

#[derive(Debug, Clone)]
pub struct WindowConfig {
    pub schedule: Schedule,
    pub schedule_time_zone: Tz,
    pub time_zone: Tz,
    pub period: Period,
    pub at: Option<DateTime<Utc>>,
    pub late_margin: Duration,
    pub lookback: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct IdentityConfig {
    /// Lowercased spelling -> lowercased canonical user.
    pub aliases: BTreeMap<String, String>,
    /// Canonical user -> team.
    pub teams: BTreeMap<String, String>,
    /// Keycloak groups that are teams, in priority order (after `teams`).
    pub team_groups: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct StorageConfig {
    /// Bucket -> lowercased owner.
    pub bucket_owners: BTreeMap<String, String>,
    /// `(prefix, suffix)` around `{user}`.
    pub owner_patterns: Vec<(String, String)>,
}

/// How the Loki backend pages and splits a window.
#[derive(Debug, Clone)]
pub struct LokiOptions {
    pub page_limit: usize,
    pub split: Duration,
    pub concurrency: usize,
    pub retries: u32,
    pub deadline: Duration,
}

impl Default for LokiOptions {
    fn default() -> Self {
        LokiOptions {
            page_limit: 5000,
            split: Duration::from_secs(3600),
            concurrency: 4,
            retries: 6,
            deadline: Duration::from_secs(1800),
        }
    }
}

/// An HTTP backend with its secret resolved lazily (never printed).
#[derive(Debug, Clone)]
pub struct HttpBackend {
    pub url: String,
    pub tenant: Option<String>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub bearer_token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub retention: Duration,
    pub loki: LokiOptions,
}

#[derive(Debug, Clone)]
pub struct PostgresBackend {
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
    pub statement_timeout: Duration,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct Backends {
    pub loki: Option<HttpBackend>,
    pub prometheus: Option<HttpBackend>,
    pub postgres: Option<PostgresBackend>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub window: WindowConfig,
    pub output_dir: Option<PathBuf>,
    pub identity: IdentityConfig,
    pub storage: StorageConfig,
    pub backends: Backends,
    /// Configured sources in the fixed order of [`SourceKind::ALL`].
    pub sources: Vec<SourceConfig>,
    pub email: Option<EmailConfig>,
    pub privacy: PrivacyConfig,
    /// Thresholds of the findings rules (`[findings]`).
    pub findings: crate::compliance::thresholds::Thresholds,
    /// The evidence store (`[s3]`); `None`: the run folder is the only copy.
    pub s3: Option<delivery::S3Config>,
    /// Ed25519 key for `manifest.json.sig` (`[signing]`).
    pub signing: Option<delivery::SigningConfig>,
    /// Job metrics pushed at the end (`[pushgateway]`).
    pub pushgateway: Option<delivery::PushgatewayConfig>,
    /// Local root of the daily history (`[history] dir`).
    pub history_dir: Option<PathBuf>,
    /// The rate card (`[chargeback]`); without it the chargeback has usage but no prices.
    pub chargeback: Option<chargeback::RateCard>,
}

/// GDPR minimisation options; all off by default.
#[derive(Debug, Clone, Default)]
pub struct PrivacyConfig {
    pub redact_sql_literals: bool,
    /// Where the pseudonymisation key is, when pseudonymisation is on.
    pub pseudonym_key: Option<SecretRef>,
}

/// A secret named in the config: never its value, only where to read it.
#[derive(Debug, Clone)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    /// Reads the secret; the error names `field` and never the value.
    pub fn read(&self, field: &str) -> Result<Vec<u8>, InputError> {
        let value = match self {
            SecretRef::Env(var) => std::env::var(var).map_err(|_| {
                InputError::invalid(
                    format!("{field}_env"),
                    format!("environment variable {var} is not set; export it or use {field}_file"),
                )
            })?,
            SecretRef::File(path) => std::fs::read_to_string(path).map_err(|e| {
                InputError::invalid(
                    format!("{field}_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?,
        };
        Ok(value.trim_end_matches(['\n', '\r']).as_bytes().to_vec())
    }
}

impl Config {
    /// Reads and validates a config file. Env overrides: `AKKO_AUDIT_LOKI_URL`,
    /// `AKKO_AUDIT_PROMETHEUS_URL`.
    pub fn load(path: &Path) -> Result<Config, InputError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| InputError::ConfigUnreadable {
                path: path.to_path_buf(),
                source,
            })?;
        Self::from_toml(&text, path, &|k| std::env::var(k).ok())
    }

    /// Validates TOML text; `env` is injected so tests need not touch the process environment.
    pub fn from_toml(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, InputError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| InputError::ConfigSyntax {
            path: path.to_path_buf(),
            message: describe_toml_error(&e),
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        validate(raw, path, &base, env)
    }

    pub fn source(&self, kind: SourceKind) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.kind == kind)
    }

    /// Every file a file-backed source will read must open now, so a wrong path is exit 2
    /// before any work, not a silent hole in the evidence.
    /// The delivery secrets and CA bundles, read once before any source is queried: a missing
    /// `ca.pem` or password found only at upload time would fail the run (exit 4, retried)
    /// after every source was read, where it is bad input (exit 2) that names its field.
    pub fn check_delivery_secrets(&self) -> Result<(), InputError> {
        fn ca(path: &std::path::Path, field: &str) -> Result<(), InputError> {
            let pem = std::fs::read(path).map_err(|e| {
                InputError::invalid(field, format!("cannot read {}: {e}", path.display()))
            })?;
            let certs = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| InputError::invalid(field, format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(InputError::invalid(
                    field,
                    format!(
                        "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                        path.display()
                    ),
                ));
            }
            Ok(())
        }
        if let Some(s3) = &self.s3 {
            s3.access_key_id.read("s3.access_key_id")?;
            s3.secret_access_key.read("s3.secret_access_key")?;
            if let Some(p) = &s3.ca_file {
                ca(p, "s3.ca_file")?;
            }
        }
        if let Some(smtp) = self.email.as_ref().and_then(|e| e.smtp.as_ref()) {
            if let Some(p) = &smtp.password {
                p.read("email.smtp.password")?;
            }
            if let Some(p) = &smtp.ca_file {
                ca(p, "email.smtp.ca_file")?;
            }
        }
        if let Some((_, p)) = self.pushgateway.as_ref().and_then(|p| p.auth.as_ref()) {
            p.read("pushgateway.password")?;
        }
        Ok(())
    }

    pub fn check_files_readable(&self) -> Result<(), InputError> {
        for s in &self.sources {
            if let Backend::Files(files) = &s.backend {
                for f in files {
                    if let Err(e) = std::fs::File::open(f) {
                        return Err(InputError::invalid(
                            format!("sources.{}.files", s.kind.name()),
                            format!(
                                "cannot read {}: {e}; fix the path (relative paths are resolved \
                                 against the config file's folder)",
                                f.display()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// toml's messages name the key and show the line; keep them, but make sure the
/// "unknown field" case says what to do.
fn describe_toml_error(e: &toml::de::Error) -> String {
    let msg = e.to_string();
    if msg.contains("unknown field") {
        format!("{msg}\n(unknown keys are errors: check the spelling against the documented keys)")
    } else {
        msg
    }
}

fn validate_privacy(raw: RawPrivacy, base: &Path) -> Result<PrivacyConfig, InputError> {
    let key = match (raw.pseudonym_key_env, raw.pseudonym_key_file) {
        (Some(_), Some(_)) => {
            return Err(InputError::invalid(
                "privacy.pseudonym_key_env",
                "set pseudonym_key_env or pseudonym_key_file, not both",
            ))
        }
        (Some(v), None) => Some(SecretRef::Env(v)),
        (None, Some(f)) => Some(SecretRef::File(base.join(f))),
        (None, None) => None,
    };
    if raw.pseudonymise && key.is_none() {
        return Err(InputError::invalid(
            "privacy.pseudonymise",
            "needs a key: set privacy.pseudonym_key_env (an environment variable) or \
             privacy.pseudonym_key_file (a mounted secret); the key keeps pseudonyms stable \
             across runs and must not be in the config",
        ));
    }
    Ok(PrivacyConfig {
        redact_sql_literals: raw.redact_sql_literals,
        pseudonym_key: if raw.pseudonymise { key } else { None },
    })
}

fn validate(
    raw: RawConfig,
    path: &Path,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, InputError> {
    let window = validate_window(raw.window)?;
    let identity = validate_identity(raw.identity)?;
    let storage = validate_storage(raw.storage)?;
    let backends = validate_backends(raw.backends, base, env)?;

    let mut sources = Vec::new();
    for (name, _) in raw.sources.iter() {
        if SourceKind::from_name(name).is_none() {
            return Err(InputError::invalid(
                format!("sources.{name}"),
                format!(
                    "unknown source; known sources are {}",
                    SourceKind::ALL.map(|k| k.name()).join(", ")
                ),
            ));
        }
    }
    let mut raw_sources = raw.sources;
    for kind in SourceKind::ALL {
        if let Some(rs) = raw_sources.remove(kind.name()) {
            sources.push(validate_source(kind, rs, base, &backends)?);
        }
    }
    let email = raw.email.map(|e| validate_email(e, base)).transpose()?;
    let s3 = raw.s3.map(|r| delivery::validate_s3(r, base)).transpose()?;
    let signing = raw
        .signing
        .map(|r| delivery::validate_signing(r, base))
        .transpose()?;
    let pushgateway = raw
        .pushgateway
        .map(|r| delivery::validate_pushgateway(r, base))
        .transpose()?;
    let findings = crate::compliance::thresholds::validate(raw.findings)?;
    let chargeback = raw.chargeback.map(chargeback::validate).transpose()?;
    Ok(Config {
        findings,
        history_dir: raw.history.map(|h| base.join(h.dir)),
        chargeback,
        s3,
        signing,
        pushgateway,
        privacy: validate_privacy(raw.privacy, base)?,
        email,
        path: path.to_path_buf(),
        window,
        output_dir: raw.output.dir.map(|d| base.join(d)),
        identity,
        storage,
        backends,
        sources,
    })
}

fn validate_email(raw: RawEmail, base: &Path) -> Result<EmailConfig, InputError> {
    let mailbox = |field: String, v: &str| {
        v.parse::<lettre::message::Mailbox>().map_err(|e| {
            InputError::invalid(
                field,
                format!("{v:?} is not an e-mail address ({e}); e.g. \"Name <a@b.org>\""),
            )
        })
    };
    if raw.to.is_empty() {
        return Err(InputError::invalid(
            "email.to",
            "at least one recipient is needed",
        ));
    }
    let list = |name: &str, v: &[String]| -> Result<Vec<_>, InputError> {
        v.iter()
            .enumerate()
            .map(|(i, a)| mailbox(format!("email.{name}[{i}]"), a))
            .collect()
    };
    Ok(EmailConfig {
        from: mailbox("email.from".into(), &raw.from)?,
        to: list("to", &raw.to)?,
        cc: list("cc", &raw.cc)?,
        reply_to: raw
            .reply_to
            .as_deref()
            .map(|a| mailbox("email.reply_to".into(), a))
            .transpose()?,
        subject_prefix: raw
            .subject_prefix
            .unwrap_or_else(|| "[AKKO audit]".to_string()),
        attach_csv_max: match raw.attach_csv_max {
            None => 10 << 20,
            Some(s) => delivery::parse_size(&s)
                .map_err(|e| InputError::invalid("email.attach_csv_max", e))?,
        },
        link_expiry: {
            let d = parse_duration_field("email.link_expiry", raw.link_expiry, 7 * 86_400)?;
            if d > Duration::from_secs(7 * 86_400) || d.is_zero() {
                return Err(InputError::invalid(
                    "email.link_expiry",
                    "must be between 1s and 7d (the longest an S3 presigned URL may live)",
                ));
            }
            d
        },
        smtp: delivery::validate_smtp(raw.smtp, base)?,
    })
}

fn parse_tz(field: &str, v: Option<String>) -> Result<Tz, InputError> {
    match v {
        None => Ok(Tz::UTC),
        Some(s) => s.parse::<Tz>().map_err(|_| {
            InputError::invalid(
                field,
                format!("{s:?} is not an IANA time zone name (e.g. \"UTC\", \"Europe/Berlin\")"),
            )
        }),
    }
}

fn validate_window(w: RawWindow) -> Result<WindowConfig, InputError> {
    let schedule_time_zone = parse_tz("window.schedule_time_zone", w.schedule_time_zone)?;
    let time_zone = parse_tz("window.time_zone", w.time_zone)?;
    let schedule_text = w.schedule.unwrap_or_else(|| "0 2 * * *".to_string());
    let schedule = Schedule::parse(&schedule_text, schedule_time_zone)
        .map_err(|e| InputError::invalid("window.schedule", e))?;
    let period = match w.period {
        None => Period::Daily,
        Some(p) => Period::parse(&p).map_err(|e| InputError::invalid("window.period", e))?,
    };
    let at =
        w.at.map(|s| parse_instant(&s).map_err(|e| InputError::invalid("window.at", e)))
            .transpose()?;
    let late_margin = parse_duration_field("window.late_margin", w.late_margin, 15 * 60)?;
    let lookback = parse_duration_field("window.lookback", w.lookback, 7 * 86_400)?;
    Ok(WindowConfig {
        schedule,
        schedule_time_zone,
        time_zone,
        period,
        at,
        late_margin,
        lookback,
    })
}

fn validate_identity(raw: RawIdentity) -> Result<IdentityConfig, InputError> {
    let mut aliases = BTreeMap::new();
    for (from, to) in raw.aliases {
        let (from_l, to_l) = (from.trim().to_lowercase(), to.trim().to_lowercase());
        if from_l.is_empty() || to_l.is_empty() {
            return Err(InputError::invalid(
                format!("identity.aliases.{from:?}"),
                "alias and target must not be empty",
            ));
        }
        if let Some(prev) = aliases.insert(from_l.clone(), to_l.clone()) {
            if prev != to_l {
                return Err(InputError::invalid(
                    format!("identity.aliases.{from:?}"),
                    format!("maps to both {prev:?} and {to_l:?} (keys are case-insensitive)"),
                ));
            }
        }
    }
    let mut teams = BTreeMap::new();
    for (team, members) in raw.teams {
        for m in members {
            let user = m.trim().to_lowercase();
            let user = aliases.get(&user).cloned().unwrap_or(user);
            if let Some(other) = teams.insert(user.clone(), team.clone()) {
                if other != team {
                    return Err(InputError::invalid(
                        format!("identity.teams.{team}"),
                        format!(
                            "user {user:?} is also in team {other:?}; a user belongs to one \
                             team (chargeback would count them twice)"
                        ),
                    ));
                }
            }
        }
    }
    let mut team_groups = Vec::new();
    for g in raw.team_groups {
        let g = g.trim().trim_start_matches('/').to_string();
        if g.is_empty() {
            return Err(InputError::invalid(
                "identity.team_groups",
                "a group name must not be empty",
            ));
        }
        if !team_groups.contains(&g) {
            team_groups.push(g);
        }
    }
    Ok(IdentityConfig {
        aliases,
        teams,
        team_groups,
    })
}

fn validate_storage(raw: RawStorage) -> Result<StorageConfig, InputError> {
    let patterns = raw
        .owner_patterns
        .unwrap_or_else(|| vec!["home-{user}".to_string()]);
    let mut owner_patterns = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        let parts: Vec<&str> = p.split("{user}").collect();
        if parts.len() != 2 {
            return Err(InputError::invalid(
                format!("storage.owner_patterns[{i}]"),
                format!("{p:?} must contain {{user}} exactly once, e.g. \"home-{{user}}\""),
            ));
        }
        owner_patterns.push((parts[0].to_string(), parts[1].to_string()));
    }
    let bucket_owners = raw
        .bucket_owners
        .into_iter()
        .map(|(b, o)| (b, o.trim().to_lowercase()))
        .collect();
    Ok(StorageConfig {
        bucket_owners,
        owner_patterns,
    })
}

fn validate_http(
    field: &str,
    raw: RawHttpBackend,
    base: &Path,
    env_url: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HttpBackend, InputError> {
    let url = env_url.unwrap_or(raw.url);
    // Checked first: the other messages echo the URL, and this one must not.
    if url.contains('@') {
        return Err(InputError::invalid(
            format!("{field}.url"),
            "credentials must not be written into the URL; use username + password_env or \
             password_file",
        ));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(InputError::invalid(
            format!("{field}.url"),
            format!("{url:?} must start with http:// or https://"),
        ));
    }
    if let Some(var) = &raw.password_env {
        if env(var).is_none() {
            return Err(InputError::invalid(
                format!("{field}.password_env"),
                format!("environment variable {var} is not set"),
            ));
        }
    }
    let is_loki = field == "backends.loki";
    let loki_only = [
        ("page_limit", raw.page_limit.is_some()),
        ("split", raw.split.is_some()),
        ("concurrency", raw.concurrency.is_some()),
        ("retries", raw.retries.is_some()),
        ("deadline", raw.deadline.is_some()),
    ];
    if let Some((key, _)) = loki_only.iter().find(|(_, set)| *set && !is_loki) {
        return Err(InputError::invalid(
            format!("{field}.{key}"),
            "only [backends.loki] takes this key",
        ));
    }
    let defaults = LokiOptions::default();
    let page_limit = raw.page_limit.unwrap_or(defaults.page_limit);
    if page_limit == 0 || page_limit > 5000 {
        return Err(InputError::invalid(
            format!("{field}.page_limit"),
            format!("{page_limit} is outside 1..=5000 (Loki refuses a limit above max_entries_limit_per_query, 5000 by default)"),
        ));
    }
    let concurrency = raw.concurrency.unwrap_or(defaults.concurrency);
    if concurrency == 0 || concurrency > 64 {
        return Err(InputError::invalid(
            format!("{field}.concurrency"),
            "must be between 1 and 64",
        ));
    }
    let loki = LokiOptions {
        page_limit,
        split: parse_duration_field(
            &format!("{field}.split"),
            raw.split,
            defaults.split.as_secs(),
        )?,
        concurrency,
        retries: raw.retries.unwrap_or(defaults.retries),
        deadline: parse_duration_field(
            &format!("{field}.deadline"),
            raw.deadline,
            defaults.deadline.as_secs(),
        )?,
    };
    if loki.split.is_zero() {
        return Err(InputError::invalid(
            format!("{field}.split"),
            "must be longer than 0s",
        ));
    }
    let default_retention = if is_loki { 7 * 86_400 } else { 15 * 86_400 };
    Ok(HttpBackend {
        retention: parse_duration_field(
            &format!("{field}.retention"),
            raw.retention,
            default_retention,
        )?,
        loki,
        url: url.trim_end_matches('/').to_string(),
        tenant: raw.tenant,
        username: raw.username,
        password_env: raw.password_env,
        password_file: raw.password_file.map(|p| base.join(p)),
        bearer_token_file: raw.bearer_token_file.map(|p| base.join(p)),
        ca_file: raw.ca_file.map(|p| base.join(p)),
        timeout: parse_duration_field(&format!("{field}.timeout"), raw.timeout, 60)?,
    })
}

fn validate_backends(
    raw: RawBackends,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Backends, InputError> {
    let loki = raw
        .loki
        .map(|l| validate_http("backends.loki", l, base, env("AKKO_AUDIT_LOKI_URL"), env))
        .transpose()?;
    let prometheus = raw
        .prometheus
        .map(|p| {
            validate_http(
                "backends.prometheus",
                p,
                base,
                env("AKKO_AUDIT_PROMETHEUS_URL"),
                env,
            )
        })
        .transpose()?;
    let postgres = raw
        .postgres
        .map(|p| {
            if p.url_env.is_none() && p.url_file.is_none() {
                return Err(InputError::invalid(
                    "backends.postgres",
                    "set url_env (name of an env var) or url_file (a mounted secret): the URL \
                     holds a password and never goes into the config file",
                ));
            }
            Ok(PostgresBackend {
                url_env: p.url_env,
                url_file: p.url_file.map(|f| base.join(f)),
                statement_timeout: parse_duration_field(
                    "backends.postgres.statement_timeout",
                    p.statement_timeout,
                    300,
                )?,
                ca_file: p.ca_file.map(|f| base.join(f)),
            })
        })
        .transpose()?;
    Ok(Backends {
        loki,
        prometheus,
        postgres,
    })
}

fn validate_source(
    kind: SourceKind,
    rs: RawSource,
    base: &Path,
    backends: &Backends,
) -> Result<SourceConfig, InputError> {
    let field = format!("sources.{}", kind.name());
    if rs.allow_path.is_some() && kind != SourceKind::Opa {
        return Err(InputError::invalid(
            format!("{field}.allow_path"),
            "only sources.opa takes allow_path",
        ));
    }
    let backend = match rs.backend.as_str() {
        "files" => {
            if rs.files.is_empty() {
                return Err(InputError::invalid(
                    format!("{field}.files"),
                    "the files backend needs at least one file",
                ));
            }
            Backend::Files(rs.files.iter().map(|f| base.join(f)).collect())
        }
        "loki" => {
            if backends.loki.is_none() {
                return Err(InputError::invalid(
                    format!("{field}.backend"),
                    "\"loki\" needs a [backends.loki] section with its url",
                ));
            }
            Backend::Loki {
                selector: rs
                    .selector
                    .unwrap_or_else(|| kind.default_selector().to_string()),
            }
        }
        "prometheus" => {
            if backends.prometheus.is_none() {
                return Err(InputError::invalid(
                    format!("{field}.backend"),
                    "\"prometheus\" needs a [backends.prometheus] section with its url",
                ));
            }
            Backend::Prometheus
        }
        "postgres" => {
            if backends.postgres.is_none() {
                return Err(InputError::invalid(
                    format!("{field}.backend"),
                    "\"postgres\" needs a [backends.postgres] section",
                ));
            }
            Backend::Postgres
        }
        other => {
            return Err(InputError::invalid(
                format!("{field}.backend"),
                format!(
                    "unknown backend {other:?}; use one of {}",
                    kind.backends().join(", ")
                ),
            ))
        }
    };
    if !kind.backends().contains(&backend.name()) {
        return Err(InputError::invalid(
            format!("{field}.backend"),
            format!(
                "{} cannot read {}; use one of {}",
                kind.name(),
                backend.name(),
                kind.backends().join(", ")
            ),
        ));
    }
    if !matches!(backend, Backend::Files(_)) && !rs.files.is_empty() {
        return Err(InputError::invalid(
            format!("{field}.files"),
            "files are read only with backend = \"files\"",
        ));
    }
    let allow_path = rs
        .allow_path
        .unwrap_or_else(|| "trino/allow".to_string())
        .trim_start_matches('/')
        .to_string();
    Ok(SourceConfig {
        kind,
        backend,
        allow_path,
    })
}

/// RFC 3339 instant (`2026-12-01T02:00:00Z`, any offset), normalised to UTC.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time (e.g. 2026-12-01T02:00:00Z): {e}"))
}

/// `90s`, `15m`, `36h`, `7d` (or plain seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 15m, 36h or 7d"))?;
    let secs = match unit {
        // Milliseconds: for short pauses (tests set retry backoffs this way).
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(format!(
                "{s:?} has unknown unit {unit:?}; use ms, s, m, h or d"
            ))
        }
    };
    Ok(Duration::from_secs(secs))
}

fn parse_duration_field(
    field: &str,
    v: Option<String>,
    default_secs: u64,
) -> Result<Duration, InputError> {
    match v {
        None => Ok(Duration::from_secs(default_secs)),
        Some(s) => parse_duration(&s).map_err(|e| InputError::invalid(field, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, InputError> {
        Config::from_toml(text, Path::new("/etc/akko/akko-audit.toml"), &|_| None)
    }

    #[test]
    fn typo_in_a_key_is_an_error_naming_it() {
        let err = load("[window]\nperiode = \"daily\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("periode"), "{err}");
        let err = load("[sources.trino]\nbackend = \"files\"\nfile = [\"a\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("file"), "{err}");
    }

    #[test]
    fn unknown_period_and_source_are_named() {
        let err = load("[window]\nperiod = \"hourly\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("window.period") && err.contains("hourly"),
            "{err}"
        );
        let err = load("[sources.trinoo]\nbackend = \"files\"\nfiles = [\"x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sources.trinoo"), "{err}");
    }

    #[test]
    fn files_resolve_against_the_config_folder() {
        let c = load("[sources.opa]\nbackend = \"files\"\nfiles = [\"opa.jsonl\"]\n").unwrap();
        let s = c.source(SourceKind::Opa).unwrap();
        assert_eq!(
            s.backend,
            Backend::Files(vec![PathBuf::from("/etc/akko/opa.jsonl")])
        );
        assert_eq!(s.allow_path, "trino/allow");
        assert!(c
            .check_files_readable()
            .unwrap_err()
            .to_string()
            .contains("sources.opa.files"));
    }

    #[test]
    fn a_user_in_two_teams_is_rejected() {
        let err = load("[identity.teams]\na = [\"Alice\"]\nb = [\"alice\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("identity.teams") && err.contains("alice"),
            "{err}"
        );
    }

    #[test]
    fn a_password_in_a_url_is_refused() {
        let err = load("[backends.loki]\nurl = \"http://u:p@loki:3100\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("backends.loki.url"), "{err}");
        assert!(!err.contains("u:p"), "the secret must not be echoed: {err}");
    }

    #[test]
    fn env_overrides_the_loki_url() {
        let c = Config::from_toml(
            "[backends.loki]\nurl = \"http://loki:3100\"\n",
            Path::new("c.toml"),
            &|k| (k == "AKKO_AUDIT_LOKI_URL").then(|| "http://127.0.0.1:9/".to_string()),
        )
        .unwrap();
        assert_eq!(c.backends.loki.unwrap().url, "http://127.0.0.1:9");
    }

    #[test]
    fn loki_paging_options_are_checked() {
        let err = load("[backends.loki]\nurl = \"http://l\"\npage_limit = 10000\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("backends.loki.page_limit"), "{err}");
        let err = load("[backends.prometheus]\nurl = \"http://p\"\nsplit = \"1h\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("backends.prometheus.split"), "{err}");
        let c = load("[backends.loki]\nurl = \"http://l\"\nsplit = \"30m\"\n").unwrap();
        assert_eq!(
            c.backends.loki.unwrap().loki.split,
            Duration::from_secs(1800)
        );
    }

    #[test]
    fn email_addresses_are_checked() {
        let err =
            load("[email]\nfrom = \"audit@x.org\"\nto = [\"admin@x.org\", \"not an address\"]\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("email.to[1]"), "{err}");
        let c =
            load("[email]\nfrom = \"AKKO audit <audit@x.org>\"\nto = [\"admin@x.org\"]\n").unwrap();
        assert_eq!(c.email.unwrap().subject_prefix, "[AKKO audit]");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("7w").unwrap_err().contains("unit"));
        let err = load("[window]\nlookback = \"a week\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("window.lookback"), "{err}");
    }
}
