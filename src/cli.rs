//! The command line: argument parsing and dispatch only; the work lives in the library.

use std::io::IsTerminal;
use std::path::PathBuf;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand};

use crate::config::{parse_instant, Config};
use crate::error::{ExitStatus, InputError};
use crate::run::{run, RunRequest};
use crate::window::{rfc3339, scheduled_window, Period, Schedule, Window, WindowOrigin};

#[derive(Parser)]
#[command(
    name = "akko-audit",
    version,
    about = "Per-user compliance and usage evidence for the AKKO data platform",
    long_about = "Reads every audit source of the platform (Trino, OPA, Keycloak, JupyterHub, \
LiteLLM, storage, pods) for one time window, builds one ledger row per user and writes CSV \
evidence plus a manifest with SHA-256 hashes.\n\n\
Exit codes: 0 complete; 2 bad input or config (nothing was read); 3 report written but a \
source was partial or unavailable; 4 report produced but delivery failed; 1 anything else.\n\n\
Quick start: akko-audit run --config fixtures/demo/akko-audit.toml --out out/demo"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the evidence for one window and write it to a folder.
    ///
    /// Without --from/--to, the window is the calendar period (daily, weekly, monthly) that
    /// ended at or before the most recent fire time of the configured CronJob schedule, so a
    /// retried or late run reports the same window.
    Run(RunArgs),
    /// Print the window a run at a given time covers (no source is read).
    Window(WindowArgs),
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run every day of a range that is missing from the daily history (idempotent: days
    /// already there are skipped unless --force). Refuses days older than a source's retention.
    Backfill(BackfillArgs),
    /// Finance's monthly chargeback: the month composed from the daily history, priced with the
    /// rate card (chargeback_by_team.csv, focus_costs.csv). Same as `run --period monthly` for
    /// that month.
    Chargeback(ChargebackArgs),
    /// Check a delivered evidence set: every file against manifest.json's SHA-256 and size, the
    /// evidence digest the PDF quotes, and the manifest's Ed25519 signature. Prints what does
    /// not match; exit 0 only when everything matches.
    Verify(VerifyArgs),
    /// Probe every configured source backend (reachability, auth, one tiny query), the S3
    /// evidence store and the SMTP relay (TLS and login, nothing sent), and print latencies.
    /// Exit 0 only when every probe passes.
    Check {
        #[arg(long, env = "AKKO_AUDIT_CONFIG")]
        config: PathBuf,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Config file (TOML). Secrets are never in it: only env var names or mounted file paths.
    #[arg(long, env = "AKKO_AUDIT_CONFIG")]
    config: PathBuf,
    /// Explicit window start, RFC 3339 (inclusive). Needs --to.
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Explicit window end, RFC 3339 (exclusive). Needs --from.
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Calendar period to report: daily, weekly or monthly (overrides window.period).
    #[arg(long)]
    period: Option<String>,
    /// The "now" the window is derived from, RFC 3339 (default: window.at, else the clock).
    #[arg(long)]
    at: Option<String>,
    /// Output folder (default: output.dir of the config, else ./out).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Mail the report even if the evidence store records that this window was already mailed.
    #[arg(long)]
    force_mail: bool,
    /// auto (default): a day from the sources, two or more whole days from the daily history;
    /// sources: read the sources for any window (archived exports through the file backend);
    /// history: compose from the daily history.
    #[arg(long)]
    basis: Option<String>,
}

#[derive(Args)]
struct BackfillArgs {
    #[arg(long, env = "AKKO_AUDIT_CONFIG")]
    config: PathBuf,
    /// First day, YYYY-MM-DD (in window.time_zone).
    #[arg(long)]
    from: String,
    /// Last day, inclusive.
    #[arg(long)]
    to: String,
    /// Run days that are already in the history again.
    #[arg(long)]
    force: bool,
    /// Folder for each day's run folder (default: output.dir, else ./out).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ChargebackArgs {
    #[arg(long, env = "AKKO_AUDIT_CONFIG")]
    config: PathBuf,
    /// The month, YYYY-MM (default: the month before the current one, in window.time_zone —
    /// what the monthly CronJob wants).
    #[arg(long)]
    month: Option<String>,
    #[arg(long)]
    out: Option<PathBuf>,
    /// The "now" stamped on the report (default: the clock).
    #[arg(long)]
    at: Option<String>,
}

#[derive(Args)]
struct VerifyArgs {
    /// A run folder, or `s3://bucket/prefix` of an uploaded set (needs --config for the endpoint
    /// and credentials).
    target: String,
    /// The signer's Ed25519 public key: PEM (`openssl pkey -in key.pem -pubout`) or 64 hex digits.
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// Check hashes only; without this, a set whose signature was not checked fails.
    #[arg(long)]
    hashes_only: bool,
    /// Config with the `[s3]` section (s3:// targets only).
    #[arg(long, env = "AKKO_AUDIT_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct WindowArgs {
    /// Read schedule, zones and period from this config; the flags below override it.
    #[arg(long, env = "AKKO_AUDIT_CONFIG")]
    config: Option<PathBuf>,
    /// The CronJob's 5-field schedule (Kubernetes semantics, Sunday = 0), e.g. "0 2 * * *".
    #[arg(long)]
    schedule: Option<String>,
    /// The CronJob's spec.timeZone (default UTC).
    #[arg(long)]
    schedule_time_zone: Option<String>,
    /// Zone whose midnights bound the periods (default UTC).
    #[arg(long)]
    time_zone: Option<String>,
    /// daily, weekly or monthly.
    #[arg(long)]
    period: Option<String>,
    /// The "now" to evaluate at, RFC 3339 (default: the clock).
    #[arg(long)]
    at: Option<String>,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a config file: exit 0 if usable, 2 with the bad field named otherwise.
    Check {
        #[arg(long, env = "AKKO_AUDIT_CONFIG")]
        config: PathBuf,
    },
}

/// Parses the process arguments, runs the command and returns the exit status.
pub fn main() -> ExitStatus {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Run(a) => cmd_run(a),
        Command::Window(a) => cmd_window(a),
        Command::Config(ConfigCommand::Check { config }) => cmd_config_check(config),
        Command::Check { config } => cmd_check(config),
        Command::Verify(a) => cmd_verify(a),
        Command::Backfill(a) => cmd_backfill(a),
        Command::Chargeback(a) => cmd_chargeback(a),
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            if let Some(input) = e.downcast_ref::<InputError>() {
                eprintln!("error: {input}");
                ExitStatus::BadInput
            } else {
                eprintln!("error: {e:#}");
                ExitStatus::Failure
            }
        }
    }
}

/// JSON logs for the cluster's log shipper when stderr is not a terminal, readable text otherwise.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AKKO_AUDIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}

fn instant_arg(flag: &str, v: &str) -> Result<DateTime<Utc>, InputError> {
    parse_instant(v).map_err(|e| InputError::invalid(flag, e))
}

fn period_arg(v: Option<&str>, default: Period) -> Result<Period, InputError> {
    v.map(|p| Period::parse(p).map_err(|e| InputError::invalid("--period", e)))
        .transpose()
        .map(|p| p.unwrap_or(default))
}

fn cmd_run(a: RunArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(&a.config)?;
    let at =
        a.at.as_deref()
            .map(|v| instant_arg("--at", v))
            .transpose()?;
    let now = at.or(config.window.at).unwrap_or_else(Utc::now);
    let window = match (&a.from, &a.to) {
        (Some(f), Some(t)) => Window::explicit(instant_arg("--from", f)?, instant_arg("--to", t)?)?,
        _ => {
            let period = period_arg(a.period.as_deref(), config.window.period)?;
            scheduled_window(
                &config.window.schedule,
                period,
                config.window.time_zone,
                now,
            )
            .map_err(|e| InputError::invalid("window.schedule", e))?
        }
    };
    config.check_files_readable()?;
    let out_dir = out_dir_arg(a.out, &config);
    let outcome = run(RunRequest {
        config,
        window: window.clone(),
        out_dir,
        now,
        clock: Utc::now(),
        force_mail: a.force_mail,
        basis: match a.basis.as_deref() {
            None | Some("auto") => crate::run::Basis::Auto,
            Some("sources") => crate::run::Basis::Sources,
            Some("history") => crate::run::Basis::History,
            Some(other) => {
                return Err(InputError::invalid(
                    "--basis",
                    format!("{other:?}: use auto, sources or history"),
                )
                .into())
            }
        },
    })?;
    println!("window   {window}");
    println!("basis    {}", outcome.basis);
    for r in &outcome.reports {
        let extra = r
            .error
            .as_deref()
            .map(|e| format!("  ({e})"))
            .unwrap_or_default();
        println!(
            "source   {:<11} {:<11} read {:>9}  rejected {:>6}{extra}",
            r.source.name(),
            format!("{:?}", r.status).to_lowercase(),
            r.tally.lines_read,
            r.tally.lines_rejected,
        );
    }
    println!("users    {}", outcome.ledger.rows.len());
    let verdict = match outcome.status {
        ExitStatus::Complete => "COMPLETE",
        ExitStatus::Partial => "PARTIAL (see manifest.json: some figures are unknown, not zero)",
        _ => "NOT DELIVERED",
    };
    println!("status   {verdict}");
    println!("output   {}", outcome.out_dir.display());
    Ok(outcome.status)
}

/// `--out`, else `output.dir` of the config, else `./out`.
fn out_dir_arg(out: Option<PathBuf>, config: &Config) -> PathBuf {
    out.or_else(|| config.output_dir.clone())
        .unwrap_or_else(|| PathBuf::from("out"))
}

fn date_arg(flag: &str, v: &str) -> Result<chrono::NaiveDate, InputError> {
    chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        .map_err(|e| InputError::invalid(flag, format!("{v:?} is not a date like 2026-11-30: {e}")))
}

fn cmd_backfill(a: BackfillArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(&a.config)?;
    let from = date_arg("--from", &a.from)?;
    let to = date_arg("--to", &a.to)?;
    config.check_files_readable()?;
    let out_root = out_dir_arg(a.out, &config);
    let outcome = crate::backfill::backfill(crate::backfill::BackfillRequest {
        config,
        from,
        to,
        force: a.force,
        out_root,
        clock: Utc::now(),
    })?;
    if outcome.ran.is_empty() {
        println!(
            "nothing to do: all {} day(s) from {from} to {to} are already in the history (use --force to run them again)",
            outcome.skipped.len()
        );
    } else {
        for (d, status) in &outcome.ran {
            println!("ran      {d}  exit {}", *status as i32);
        }
        if !outcome.skipped.is_empty() {
            println!(
                "skipped  {} day(s) already in the history: {}",
                outcome.skipped.len(),
                outcome
                    .skipped
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(outcome.status)
}

fn cmd_chargeback(a: ChargebackArgs) -> anyhow::Result<ExitStatus> {
    let config = Config::load(&a.config)?;
    let tz = config.window.time_zone;
    let now =
        a.at.as_deref()
            .map(|v| instant_arg("--at", v))
            .transpose()?
            .or(config.window.at)
            .unwrap_or_else(Utc::now);
    let month = match &a.month {
        Some(m) => m.trim().to_string(),
        None => {
            let this = now.with_timezone(&tz).date_naive();
            let first_of_this = this.with_day(1).unwrap_or(this);
            (first_of_this - chrono::Days::new(1))
                .format("%Y-%m")
                .to_string()
        }
    };
    let first = date_arg("--month", &format!("{month}-01"))?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| InputError::invalid("--month", "out of range"))?;
    let window = Window {
        start: crate::window::local_midnight(tz, first),
        end: crate::window::local_midnight(tz, next),
        origin: WindowOrigin::Scheduled {
            period: Period::Monthly,
            schedule: "chargeback".into(),
            fire_time: crate::window::local_midnight(tz, next),
            time_zone: tz.name().to_string(),
        },
    };
    if config.chargeback.is_none() {
        return Err(InputError::invalid(
            "chargeback",
            "no [chargeback] rate card in the config: without it there is nothing to price",
        )
        .into());
    }
    let out_dir = out_dir_arg(a.out, &config);
    let outcome = run(RunRequest {
        config,
        window: window.clone(),
        out_dir,
        now,
        clock: Utc::now(),
        force_mail: false,
        basis: crate::run::Basis::History,
    })?;
    println!("month    {month} {window}");
    println!("basis    {}", outcome.basis);
    println!("output   {}", outcome.out_dir.display());
    Ok(outcome.status)
}

fn cmd_verify(a: VerifyArgs) -> anyhow::Result<ExitStatus> {
    use crate::verify::{verify, EvidenceStore, Folder};
    let key = a
        .public_key
        .as_deref()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| {
                InputError::invalid("--public-key", format!("cannot read {}: {e}", p.display()))
            })?;
            crate::render::signature::verifying_key(&text)
                .map_err(|e| InputError::invalid("--public-key", e))
        })
        .transpose()?;
    if key.is_none() && !a.hashes_only {
        return Err(InputError::invalid(
            "--public-key",
            "is needed to check the manifest's signature (or pass --hashes-only to check the files only)",
        )
        .into());
    }
    let store: Box<dyn EvidenceStore> = if a.target.starts_with("s3://") {
        let path = a.config.as_deref().ok_or_else(|| {
            InputError::invalid(
                "--config",
                "an s3:// target needs the config with the [s3] section",
            )
        })?;
        let config = Config::load(path)?;
        let s3 = config
            .s3
            .as_ref()
            .ok_or_else(|| InputError::invalid("s3", "the config has no [s3] section"))?;
        crate::deliver::s3::evidence_store(s3, &a.target)
            .map_err(|e| InputError::invalid("target", e))?
    } else {
        let dir = PathBuf::from(&a.target);
        if !dir.is_dir() {
            return Err(InputError::invalid(
                "target",
                format!("{} is not a folder (or an s3:// URL)", dir.display()),
            )
            .into());
        }
        Box::new(Folder(dir))
    };
    let v = verify(store.as_ref(), key.as_ref())?;
    for line in v.describe() {
        println!("{line}");
    }
    if v.passed(!a.hashes_only) {
        println!("VERIFIED");
        Ok(ExitStatus::Complete)
    } else {
        println!("NOT VERIFIED");
        Ok(ExitStatus::Failure)
    }
}

fn cmd_window(a: WindowArgs) -> anyhow::Result<ExitStatus> {
    let config = a.config.as_deref().map(Config::load).transpose()?;
    let tz = |flag: &str, v: Option<&String>, from_config: Option<Tz>| -> Result<Tz, InputError> {
        match v {
            Some(s) => s
                .parse::<Tz>()
                .map_err(|_| InputError::invalid(flag, format!("{s:?} is not an IANA time zone"))),
            None => Ok(from_config.unwrap_or(Tz::UTC)),
        }
    };
    let sched_tz = tz(
        "--schedule-time-zone",
        a.schedule_time_zone.as_ref(),
        config.as_ref().map(|c| c.window.schedule_time_zone),
    )?;
    let time_zone = tz(
        "--time-zone",
        a.time_zone.as_ref(),
        config.as_ref().map(|c| c.window.time_zone),
    )?;
    let schedule = match (&a.schedule, &config) {
        (Some(s), _) => {
            Schedule::parse(s, sched_tz).map_err(|e| InputError::invalid("--schedule", e))?
        }
        (None, Some(c)) if a.schedule_time_zone.is_none() => c.window.schedule.clone(),
        (None, Some(c)) => Schedule::parse(c.window.schedule.as_str(), sched_tz)
            .map_err(|e| InputError::invalid("window.schedule", e))?,
        (None, None) => {
            return Err(InputError::invalid("--schedule", "give --schedule or --config").into())
        }
    };
    let period = period_arg(
        a.period.as_deref(),
        config
            .as_ref()
            .map(|c| c.window.period)
            .unwrap_or(Period::Daily),
    )?;
    let at = match &a.at {
        Some(v) => instant_arg("--at", v)?,
        None => config
            .as_ref()
            .and_then(|c| c.window.at)
            .unwrap_or_else(Utc::now),
    };
    let w = scheduled_window(&schedule, period, time_zone, at)
        .map_err(|e| InputError::invalid("--schedule", e))?;
    println!("start      {}", rfc3339(w.start));
    println!("end        {}", rfc3339(w.end));
    println!("period     {period}");
    if let WindowOrigin::Scheduled { fire_time, .. } = &w.origin {
        println!("fire_time  {}", rfc3339(*fire_time));
    }
    println!("schedule   {} ({})", schedule.as_str(), sched_tz.name());
    println!("time_zone  {}", time_zone.name());
    Ok(ExitStatus::Complete)
}

fn cmd_check(path: PathBuf) -> anyhow::Result<ExitStatus> {
    let config = Config::load(&path)?;
    let probes = crate::check::check(&config);
    let mut all_ok = true;
    for p in &probes {
        all_ok &= p.ok;
        let verdict = if p.ok { "ok  " } else { "FAIL" };
        println!("{verdict}  {:>6} ms  {}  {}", p.millis, p.target, p.detail);
    }
    Ok(if all_ok {
        ExitStatus::Complete
    } else {
        ExitStatus::Failure
    })
}

fn cmd_config_check(path: PathBuf) -> anyhow::Result<ExitStatus> {
    let config = Config::load(&path)?;
    config.check_files_readable()?;
    println!("{}: ok", path.display());
    for s in &config.sources {
        println!(
            "  source {:<11} backend {}",
            s.kind.name(),
            s.backend.name()
        );
    }
    for kind in crate::sources::SourceKind::ALL {
        if config.source(kind).is_none() && !kind.optional() {
            println!(
                "  source {:<11} not configured (its columns will be unknown, exit 3)",
                kind.name()
            );
        }
    }
    Ok(ExitStatus::Complete)
}
