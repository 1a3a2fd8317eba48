//! `akko-audit backfill`: runs each day of a range that is missing from the daily history,
//! once. A day already there is skipped (unless `--force`), so running the same range twice does
//! nothing the second time. Days older than a source's retention are refused up front: a
//! backfill that silently produced partial days would fill the history with holes that look
//! like data.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::{Backend, Config};
use crate::error::{ExitStatus, InputError};
use crate::run::{run, RunRequest};
use crate::verify::{EvidenceStore, Folder};
use crate::window::{local_midnight, Period, Window, WindowOrigin};

pub struct BackfillRequest {
    pub config: Config,
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    pub force: bool,
    /// Each day's run folder goes under here (`daily-YYYY-MM-DD`).
    pub out_root: PathBuf,
    pub clock: DateTime<Utc>,
}

pub struct BackfillOutcome {
    pub status: ExitStatus,
    pub ran: Vec<(NaiveDate, ExitStatus)>,
    pub skipped: Vec<NaiveDate>,
}

fn history_store(config: &Config) -> Result<Box<dyn EvidenceStore>, InputError> {
    match (&config.s3, &config.history_dir) {
        (Some(s3), _) => {
            crate::deliver::s3::evidence_store(s3, &crate::deliver::s3::history_url(s3))
                .map_err(|e| InputError::invalid("s3", e))
        }
        (None, Some(dir)) => Ok(Box::new(Folder(dir.clone()))),
        (None, None) => Err(InputError::invalid(
            "history.dir",
            "backfill fills the daily history: set [history] dir (or [s3]) so the days are kept",
        )),
    }
}

/// The oldest day each log or metrics backend still holds, for the sources that use it.
fn horizons(config: &Config, clock: DateTime<Utc>) -> Vec<(String, DateTime<Utc>, u64)> {
    let b = &config.backends;
    let mut out = Vec::new();
    for sc in &config.sources {
        let (name, retention) = match &sc.backend {
            Backend::Loki { .. } => ("Loki", b.loki.as_ref().map(|l| l.retention)),
            Backend::Prometheus => ("Prometheus", b.prometheus.as_ref().map(|p| p.retention)),
            _ => continue,
        };
        if let Some(r) = retention {
            let horizon = clock - chrono::Duration::from_std(r).unwrap_or(chrono::Duration::MAX);
            out.push((
                format!("{name} (source {})", sc.kind.name()),
                horizon,
                r.as_secs() / 86_400,
            ));
        }
    }
    out
}

pub fn backfill(req: BackfillRequest) -> anyhow::Result<BackfillOutcome> {
    let BackfillRequest {
        config,
        from,
        to,
        force,
        out_root,
        clock,
    } = req;
    if from > to {
        return Err(InputError::invalid(
            "--from/--to",
            format!("--from {from} is after --to {to}"),
        )
        .into());
    }
    let tz = config.window.time_zone;
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let today = clock.with_timezone(&tz).date_naive();
    if let Some(d) = days.iter().find(|d| **d >= today) {
        return Err(InputError::invalid(
            "--to",
            format!("{d} has not ended yet; backfill only whole past days"),
        )
        .into());
    }
    // Refuse before reading anything: which days can no longer be read in full.
    for (what, horizon, keep_days) in horizons(&config, clock) {
        let too_old: Vec<String> = days
            .iter()
            .filter(|d| local_midnight(tz, **d) < horizon)
            .map(|d| d.to_string())
            .collect();
        if !too_old.is_empty() {
            return Err(InputError::invalid(
                "--from",
                format!(
                    "{} day(s) are older than {what}'s retention ({keep_days} days, horizon {}): {}; read archived exports with the files backend instead",
                    too_old.len(),
                    horizon.format("%Y-%m-%d %H:%M UTC"),
                    too_old.join(", ")
                ),
            )
            .into());
        }
    }
    let store = history_store(&config)?;
    let mut todo = Vec::new();
    let mut skipped = Vec::new();
    for d in &days {
        // The same test a composed report applies: a day with any table missing is not kept.
        let there = crate::history::missing_tables(store.as_ref(), *d)
            .map_err(|e| anyhow::anyhow!("reading the history at {}: {e}", store.describe()))?
            .is_empty();
        if there && !force {
            skipped.push(*d);
        } else {
            todo.push(*d);
        }
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(todo.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} days {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut ran = Vec::new();
    let mut worst = ExitStatus::Complete;
    for d in todo {
        bar.set_message(d.to_string());
        let Some(next) = d.succ_opt() else { break };
        let window = Window {
            start: local_midnight(tz, d),
            end: local_midnight(tz, next),
            origin: WindowOrigin::Scheduled {
                period: Period::Daily,
                schedule: format!("backfill ({})", config.window.schedule.as_str()),
                fire_time: local_midnight(tz, next),
                time_zone: tz.name().to_string(),
            },
        };
        let outcome = run(RunRequest {
            config: config.clone(),
            window,
            out_dir: out_root.join(format!("daily-{d}")),
            now: clock,
            clock,
            force_mail: false,
            basis: crate::run::Basis::Sources,
        })?;
        tracing::info!(day = %d, status = ?outcome.status, "backfilled");
        if (outcome.status as i32) > (worst as i32) {
            worst = outcome.status;
        }
        ran.push((d, outcome.status));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(BackfillOutcome {
        status: worst,
        ran,
        skipped,
    })
}
