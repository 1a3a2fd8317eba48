//! Sections only a report composed from the daily history has: the days it covers (and which
//! are missing) and the priced chargeback.

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
        "This report is composed from the daily history (the Parquet each nightly run keeps), not from the log servers, which keep 7 (Loki) and 15 (Prometheus) days. Sums add up day by day; storage is the value at the period's end; peak memory is the largest daily peak. The dashboard panels need the raw records and are in the daily reports.".into(),
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
