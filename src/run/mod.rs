//! One run of the job. A day (or any span shorter than two days) is read from the sources:
//! window -> collect -> identities -> ledger -> evaluate -> render -> deliver. A longer span — a
//! week, a month, a quarter, or explicit dates — is composed from the daily history, because
//! the log servers no longer hold it.

mod finish;
mod from_history;
mod from_sources;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;

use crate::compliance::findings::Finding;
use crate::config::Config;
use crate::error::{ExitStatus, InputError};
use crate::history::compose::days_of;
use crate::identity::Pseudonymiser;
use crate::ledger::Ledger;
use crate::render::signature;
use crate::sources::SourceReport;
use crate::window::{local_midnight, Window};

pub use from_sources::render_all;

pub struct RunRequest {
    pub config: Config,
    pub window: Window,
    pub out_dir: PathBuf,
    /// The instant the run stands for (`--at`, or the clock): stamps the manifest.
    pub now: DateTime<Utc>,
    /// The real time, for the servers' retention horizons.
    pub clock: DateTime<Utc>,
    /// Mail even if the evidence store says this window was already mailed.
    pub force_mail: bool,
    /// Where the figures come from.
    pub basis: Basis,
}

/// `Auto`: a day (or less) from the sources, two or more whole days from the daily history.
/// `Sources` forces the sources for a long window — an auditor's run over archived exports
/// read through the file backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Basis {
    #[default]
    Auto,
    Sources,
    History,
}

pub struct RunOutcome {
    pub status: ExitStatus,
    pub out_dir: PathBuf,
    pub ledger: Ledger,
    pub reports: Vec<SourceReport>,
    pub findings: Vec<Finding>,
    /// Where the figures came from: `sources` or `history`.
    pub basis: &'static str,
}

/// Secrets the run needs, read before anything else: a missing key is bad input (exit 2), not
/// a run that then publishes real names or an unsigned set.
struct Secrets {
    pseudonymiser: Option<Pseudonymiser>,
    signing_key: Option<SigningKey>,
}

fn secrets(config: &Config) -> Result<Secrets, InputError> {
    config.check_delivery_secrets()?;
    let pseudonymiser = config
        .privacy
        .pseudonym_key
        .as_ref()
        .map(|k| {
            let key = k.read("privacy.pseudonym_key")?;
            Pseudonymiser::new(key).map_err(|e| InputError::invalid("privacy.pseudonym_key", e))
        })
        .transpose()?;
    let signing_key = config
        .signing
        .as_ref()
        .map(|s| {
            let secret = s.key.read("signing.key")?;
            signature::signing_key(&secret).map_err(|e| InputError::invalid("signing.key", e))
        })
        .transpose()?;
    Ok(Secrets {
        pseudonymiser,
        signing_key,
    })
}

/// The days to compose when the window is two or more whole local days; `None`: read the
/// sources (a day, or a span that does not start and end at midnight).
pub fn composed_days(config: &Config, window: &Window) -> Option<Vec<chrono::NaiveDate>> {
    let tz = config.window.time_zone;
    let days = days_of(window, tz);
    let aligned = days
        .first()
        .is_some_and(|d| local_midnight(tz, *d) == window.start)
        && days
            .last()
            .and_then(|d| d.succ_opt())
            .is_some_and(|d| local_midnight(tz, d) == window.end);
    (aligned && days.len() >= 2).then_some(days)
}

/// The single local day a window covers exactly, if it does: such runs feed the history.
pub fn single_day(config: &Config, window: &Window) -> Option<chrono::NaiveDate> {
    let tz = config.window.time_zone;
    let days = days_of(window, tz);
    match days.as_slice() {
        [d] if local_midnight(tz, *d) == window.start
            && d.succ_opt()
                .is_some_and(|n| local_midnight(tz, n) == window.end) =>
        {
            Some(*d)
        }
        _ => None,
    }
}

/// The priced chargeback, when a rate card is configured.
fn chargeback_for(
    config: &Config,
    ledger: &Ledger,
    llm: &[crate::sources::litellm::LlmUsage],
    storage_byte_parts: Option<&std::collections::BTreeMap<Option<String>, i128>>,
    database_byte_parts: Option<i128>,
) -> Option<crate::ledger::chargeback::Chargeback> {
    let rates = config.chargeback.as_ref()?;
    Some(crate::ledger::chargeback::compute(
        &crate::ledger::chargeback::ChargebackInput {
            ledger,
            llm,
            storage_byte_parts,
            database_byte_parts,
            rates,
        },
    ))
}

/// `report.pdf`, timed in the log (the benchmark reads it).
fn render_pdf(
    document: &crate::render::pdf::document::Document,
) -> anyhow::Result<crate::render::Artifact> {
    let started = std::time::Instant::now();
    let bytes = crate::render::pdf::render(document)
        .map_err(|e| anyhow::anyhow!("rendering report.pdf: {e}"))?;
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        bytes = bytes.len(),
        sections = document.sections.len(),
        "report.pdf rendered"
    );
    Ok(crate::render::Artifact {
        name: "report.pdf".into(),
        bytes,
        rows: 0,
    })
}

pub fn run(req: RunRequest) -> anyhow::Result<RunOutcome> {
    let secrets = secrets(&req.config)?;
    match (req.basis, composed_days(&req.config, &req.window)) {
        (Basis::Sources, _) | (Basis::Auto, None) => from_sources::run(req, secrets),
        (_, Some(days)) => from_history::run(req, secrets, &days),
        (Basis::History, None) => Err(InputError::invalid(
            "--basis",
            "history needs a window of whole days in window.time_zone (at least two)",
        )
        .into()),
    }
}
