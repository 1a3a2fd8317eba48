//! A run read from the sources: window -> collect -> identities -> ledger -> evaluate -> render.

use std::collections::BTreeMap;

use tracing::info;

use super::finish::{finish, Finish};
use super::{chargeback_for, single_day, RunOutcome, RunRequest, Secrets};
use crate::collect::{collect, Collected};
use crate::compliance::catalog::{self, Catalog};
use crate::compliance::findings::{self, FindingsInput};
use crate::config::Config;
use crate::history;
use crate::identity::{bucket_owner, Resolver};
use crate::ledger::chargeback::Chargeback;
use crate::ledger::panels::Panels;
use crate::ledger::{self, Ledger};
use crate::render::{chargeback, compliance, csv, manifest, report, Artifact};
use crate::sources::SourceKind;
use crate::window::Window;

/// Renders every artifact of a run (manifest excluded), in a fixed order.
pub fn render_all(
    config: &Config,
    window: &Window,
    collected: &Collected,
    resolver: &Resolver,
    ledger: &Ledger,
    cb: Option<&Chargeback>,
) -> Vec<Artifact> {
    let (auth, admin) = csv::auth_events(collected, resolver);
    let priced = cb.zip(config.chargeback.as_ref());
    let mut out = vec![
        csv::usage_by_user(ledger),
        chargeback::chargeback_by_team(&ledger.by_team(), priced),
        csv::trino_queries(collected, resolver, config.privacy.redact_sql_literals),
        csv::opa_denials(collected, resolver),
        auth,
        admin,
        csv::notebook_sessions(collected, resolver),
        csv::notebook_pods(collected, resolver),
        csv::llm_usage(&ledger::llm_by_user_model(collected, resolver)),
        csv::storage_by_bucket(&csv::bucket_rows(
            collected,
            resolver,
            &config.storage,
            super::single_day(config, window)
                .filter(|_| collected.complete(crate::sources::SourceKind::Storage))
                .map(crate::ledger::chargeback::day_parts),
        )),
        csv::database_sizes(collected, resolver),
        csv::platform_metrics(collected),
    ];
    if let Some((cb, card)) = priced {
        match chargeback::focus_costs(cb, card, window, config.window.time_zone) {
            Ok(a) => out.push(a),
            Err(why) => tracing::warn!("{why}"),
        }
    }
    out
}

pub(super) fn run(req: RunRequest, secrets: Secrets) -> anyhow::Result<RunOutcome> {
    let RunRequest {
        config,
        window,
        out_dir,
        now,
        clock,
        force_mail,
        basis: _,
    } = req;
    let started = std::time::Instant::now();
    info!(window = %window, out = %out_dir.display(), "run started");
    // A broken catalog is a broken build, but say so before reading anything.
    let catalog = Catalog::load()?;
    let collected = collect(&config, &window, clock);
    let mut resolver = Resolver::new(&config.identity, &collected.keycloak_names)
        .with_groups(&config.identity.team_groups, &collected.user_groups);
    if let Some(p) = secrets.pseudonymiser {
        resolver = resolver.with_pseudonyms(p);
    }
    let ledger = ledger::build(&collected, &resolver, &config.storage)?;
    let findings = findings::evaluate(&FindingsInput {
        config: &config,
        thresholds: &config.findings,
        window: &window,
        collected: &collected,
        resolver: &resolver,
        ledger: &ledger,
        clock,
    });
    let controls = catalog::evaluate(&catalog, &collected, &findings);
    let llm_by_user_model = ledger::llm_by_user_model(&collected, &resolver);
    // One local day: the sizes at its end are that day's share of its month. Any other window
    // read from the sources has one sample of sizes, which says nothing about the time they
    // were held, so its storage is not priced.
    let parts = single_day(&config, &window).map(crate::ledger::chargeback::day_parts);
    let mut storage_byte_parts: BTreeMap<Option<String>, i128> = BTreeMap::new();
    for b in &collected.buckets {
        let owner = bucket_owner(&config.storage, &b.bucket).map(|o| resolver.canonical(&o));
        *storage_byte_parts.entry(owner).or_default() += b.bytes * parts.unwrap_or(0);
    }
    let database_byte_parts = parts
        .filter(|_| collected.complete(crate::sources::SourceKind::Databases))
        .map(|p| collected.databases.iter().map(|d| d.bytes).sum::<i128>() * p);
    let cb = chargeback_for(
        &config,
        &ledger,
        &llm_by_user_model,
        parts.map(|_| &storage_byte_parts),
        database_byte_parts,
    );
    let mut artifacts = render_all(
        &config,
        &window,
        &collected,
        &resolver,
        &ledger,
        cb.as_ref(),
    );
    artifacts.push(compliance::findings_csv(&findings, &catalog));
    artifacts.push(compliance::controls_csv(&controls, &catalog.version));
    let reports: Vec<_> = SourceKind::ALL
        .iter()
        .filter_map(|k| collected.reports.get(k))
        .collect();
    // The PDF quotes the CSVs' digest; the manifest then hashes the PDF with everything else.
    let evidence_sha256 = manifest::evidence_digest(&artifacts);
    let panels = Panels::build(&window, &collected, &resolver);
    let document = report::build(&report::ReportInput {
        window: &window,
        now,
        reports: &reports,
        evidence_sha256: &evidence_sha256,
        catalog: &catalog,
        controls: &controls,
        findings: &findings,
        thresholds: &config.findings,
        ledger: &ledger,
        panels: &panels,
        collected: &collected,
        resolver: &resolver,
        storage: &config.storage,
        llm_by_user_model: &llm_by_user_model,
        redact_sql: config.privacy.redact_sql_literals,
        composed: None,
    });
    artifacts.push(super::render_pdf(&document)?);
    let history = match single_day(&config, &window) {
        Some(date) => history::daily_artifacts(&history::DailyInput {
            window: &window,
            date,
            ledger: &ledger,
            llm_by_user_model: &llm_by_user_model,
            collected: &collected,
            resolver: &resolver,
            storage: &config.storage,
            reports: &reports,
            findings: &findings,
            panels: &panels,
        })
        .map_err(|e| anyhow::anyhow!("writing the daily history: {e}"))?,
        None => Vec::new(),
    };
    let status = finish(Finish {
        config: &config,
        window: &window,
        now,
        out_dir: &out_dir,
        force_mail,
        started,
        reports: &reports,
        ledger: &ledger,
        findings: &findings,
        artifacts,
        history,
        signing_key: secrets.signing_key.as_ref(),
    });
    let reports = reports.into_iter().cloned().collect();
    Ok(RunOutcome {
        status,
        out_dir,
        ledger,
        reports,
        findings,
        basis: "sources",
    })
}
