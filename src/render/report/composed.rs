//! Sections only a report composed from the daily history has: the days it covers (and which
//! are missing), the dashboard's series day by day, and the priced chargeback.

use super::*;

pub(super) fn days_section(c: &Composed) -> Section {
    use crate::history::compose::DayState;
    let mut t = Table {
        columns: vec![
            col("Day", false, 1.2),
            col("In history", false, 1.0),
            col("Sources not complete that day", false, 5.0),
        ],
        empty_text: "No days".into(),
        ..Default::default()
    };
    for d in c.days {
        let incomplete: Vec<String> = d
            .sources
            .iter()
            .filter(|(_, s)| s.0 != Completeness::Complete)
            .map(|(k, s)| {
                format!(
                    "{} ({})",
                    k.name(),
                    s.1.as_deref().unwrap_or("not complete")
                )
            })
            .collect();
        t.rows.push(vec![
            d.date.to_string(),
            match d.state {
                DayState::Present => "yes".into(),
                DayState::Missing if d.missing_tables.len() < crate::history::TABLES.len() => {
                    format!("MISSING {}", d.missing_tables.join(", "))
                }
                DayState::Missing => "MISSING".into(),
            },
            incomplete.join("; "),
        ]);
    }
    let missing: Vec<String> = c
        .days
        .iter()
        .filter(|d| d.state == DayState::Missing)
        .map(|d| d.date.to_string())
        .collect();
    let mut blocks = vec![Block::Paragraph(
        "This report is composed from the daily history (the Parquet each nightly run keeps), not from the log servers, which keep 7 (Loki) and 15 (Prometheus) days. Sums add up day by day; storage is the value at the period's end; peak memory is the largest daily peak. The daily trends come from the series each nightly run kept; the log panels (latest events) need the raw records and are in the daily reports. Detail tables a control cites but this set does not hold (trino_queries.csv, opa_denials.csv, auth_events.csv, admin_events.csv, notebook_sessions.csv, notebook_pods.csv, platform_metrics.csv) are in each day's evidence set (period=daily/start=<day>/), signed by that day's manifest.".into(),
    )];
    if !missing.is_empty() {
        blocks.push(Block::Notice(format!(
            "Days missing from the history: {}. Every figure that needs them is left empty (unknown). Fill the gap with `akko-audit backfill --from {} --to {}` while the sources still hold those days.",
            missing.join(", "),
            missing[0],
            missing[missing.len() - 1]
        )));
    }
    blocks.push(Block::Table(t));
    section(1, "Days in this report", blocks)
}

pub(super) fn chargeback_section(
    input: &ReportInput,
    (cb, card): (
        &crate::ledger::chargeback::Chargeback,
        &crate::config::chargeback::RateCard,
    ),
) -> Section {
    use crate::ledger::chargeback::Service;
    let money = |v: i128| format_fixed(v, 12, 2);
    let mut t = Table {
        columns: std::iter::once(col("Team", false, 1.6))
            .chain(Service::ALL.iter().map(|s| col(s.title(), true, 1.0)))
            .chain(std::iter::once(col("Total", true, 1.1)))
            .collect(),
        empty_text: "Nothing to charge".into(),
        caption: Some(format!(
            "{} (rounded to cents here; chargeback_by_team.csv and focus_costs.csv hold the exact figures).",
            card.currency
        )),
        ..Default::default()
    };
    for (team, costs) in cb.by_team() {
        let mut row = vec![team];
        let mut total = 0;
        for s in Service::ALL {
            let v = costs.get(&s).copied().unwrap_or(0);
            total += v;
            row.push(if cb.unpriced.contains(&s) {
                String::new()
            } else {
                money(v)
            });
        }
        row.push(if cb.unpriced.is_empty() {
            money(total)
        } else {
            String::new()
        });
        t.rows.push(row);
    }
    let mut blocks = gaps(input, &[]);
    if !cb.unpriced.is_empty() {
        blocks.push(Block::Notice(format!(
            "Not priced (usage unknown for part of the period): {}.",
            cb.unpriced
                .iter()
                .map(|s| s.column())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    blocks.push(Block::Table(t));
    section(1, "Chargeback by team", blocks)
}

fn day_series(name: &str, v: &[Option<i64>]) -> Series {
    Series {
        name: name.to_string(),
        points: v.iter().map(|x| x.map(|x| x as f64)).collect(),
    }
}

/// Element-wise sum; unknown if any part is.
fn sum_of(parts: &[&[Option<i64>]]) -> Vec<Option<i64>> {
    let n = parts.first().map_or(0, |p| p.len());
    (0..n)
        .map(|i| parts.iter().map(|p| p[i]).sum::<Option<i64>>())
        .collect()
}

/// The dashboard's time series for a composed span, one bucket per day, from what each nightly
/// run kept (`activity` and `llm_activity` in the history).
pub(super) fn trends_section(c: &Composed) -> Section {
    let t = c.trend;
    let labels: Vec<String> = t
        .dates
        .iter()
        .map(|d| d.format("%m-%d").to_string())
        .collect();
    let get = |n: &str| t.get(n).map(<[Option<i64>]>::to_vec).unwrap_or_default();
    let keycloak = sum_of(&[
        &get("keycloak_logins"),
        &get("keycloak_login_failures"),
        &get("keycloak_other_user_events"),
        &get("keycloak_admin_events"),
    ]);
    let succeeded: Vec<Option<i64>> = get("trino_queries")
        .iter()
        .zip(get("trino_failed"))
        .map(|(q, f)| Some((*q)? - f?))
        .collect();
    let chart = |title: &str, unit: &str, series: Vec<Series>, stacked: bool| {
        Block::Lines(LineChart {
            title: title.to_string(),
            unit: format!("{unit} per day"),
            x_labels: labels.clone(),
            series,
            stacked_columns: stacked,
            empty_text: "No data in the period".to_string(),
        })
    };
    let unknown_days = t
        .series
        .iter()
        .flat_map(|s| s.iter().enumerate().filter(|(_, v)| v.is_none()))
        .map(|(i, _)| i)
        .collect::<std::collections::BTreeSet<_>>();
    let mut b = vec![Block::Paragraph(
        "The dashboard's series for the period, one point per day, as each nightly run counted them from the raw records (history tables activity and llm_activity; all figures in activity_by_day.csv). Online users and active notebooks are distinct per day, not sums of hours.".into(),
    )];
    if !unknown_days.is_empty() {
        b.push(Block::Notice(format!(
            "Unknown on {} of {} days (day missing from the history, a source not complete that day, or a day kept before these series existed): shown as gaps and empty cells, not zeros.",
            unknown_days.len(),
            t.dates.len()
        )));
    }
    b.push(chart(
        "Events by source",
        "events",
        vec![
            day_series("Trino queries", &get("trino_queries")),
            day_series("OPA denials", &get("opa_denials")),
            day_series("Keycloak events", &keycloak),
        ],
        false,
    ));
    b.push(chart(
        "Users online vs active notebooks",
        "users",
        vec![
            day_series("Online users", &get("online_users")),
            day_series("Active notebook sessions", &get("active_notebook_sessions")),
        ],
        false,
    ));
    b.push(chart(
        "Trino queries",
        "queries",
        vec![
            day_series("Succeeded", &succeeded),
            day_series("Failed", &get("trino_failed")),
        ],
        true,
    ));
    b.push(chart(
        "Keycloak auth events",
        "events",
        vec![
            day_series("LOGIN", &get("keycloak_logins")),
            day_series("LOGIN_ERROR", &get("keycloak_login_failures")),
            day_series("Other user events", &get("keycloak_other_user_events")),
            day_series("Admin events", &get("keycloak_admin_events")),
        ],
        true,
    ));
    b.push(chart(
        "LLM requests by model",
        "requests",
        t.llm_requests
            .iter()
            .map(|(m, v)| day_series(m, v))
            .collect(),
        true,
    ));
    b.push(chart(
        "Audit event volume",
        "lines",
        vec![
            day_series("OPA decision log lines", &get("opa_decision_lines")),
            day_series("Trino query events", &get("trino_queries")),
            day_series("Keycloak events", &keycloak),
        ],
        false,
    ));
    let cell = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_else(|| "—".into());
    let llm = t.llm_total();
    let mut table = Table {
        columns: vec![
            col("Day", false, 1.2),
            col("Trino queries", true, 1.0),
            col("Failed", true, 0.8),
            col("OPA lines", true, 1.0),
            col("OPA denials", true, 1.0),
            col("Logins", true, 0.8),
            col("Login errors", true, 0.9),
            col("Admin events", true, 0.9),
            col("Notebooks", true, 0.9),
            col("Online users", true, 0.9),
            col("LLM requests", true, 1.0),
        ],
        empty_text: "No days".into(),
        caption: Some("— = unknown that day.".into()),
        ..Default::default()
    };
    for (i, d) in t.dates.iter().enumerate() {
        let at = |n: &str| cell(get(n).get(i).copied().flatten());
        table.rows.push(vec![
            d.to_string(),
            at("trino_queries"),
            at("trino_failed"),
            at("opa_decision_lines"),
            at("opa_denials"),
            at("keycloak_logins"),
            at("keycloak_login_failures"),
            at("keycloak_admin_events"),
            at("active_notebook_sessions"),
            at("online_users"),
            cell(llm[i]),
        ]);
    }
    b.push(Block::Table(table));
    match &t.llm_models {
        Some(m) => b.push(Block::Table(llm_models_table(m))),
        None => b.push(Block::Notice(
            "LLM requests, error rate and latency per model are not shown for the period: at least one day's LiteLLM figures are unknown.".into(),
        )),
    }
    section(1, "Daily trends", b)
}
