//! Finance's files: `chargeback_by_team.csv` (usage sums per team and, with a rate card, the
//! priced services and the total) and `focus_costs.csv`, one priced line per user and service in
//! the FinOps FOCUS 1.x column set, so it loads into tools that read FOCUS. Costs are printed
//! with all 12 decimals they are held in, so both files add up to exactly the same total.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::csv::{figure, Table};
use super::Artifact;
use crate::config::chargeback::{RateCard, SCALE};
use crate::ledger::chargeback::{Chargeback, Service};
use crate::ledger::{TeamRow, NO_TEAM, TEAM_COLUMNS};
use crate::sources::values::format_fixed;
use crate::window::{local_midnight, Window};
use chrono_tz::Tz;

fn money(units: i128) -> String {
    format_fixed(units, SCALE, SCALE)
}

pub fn chargeback_by_team(teams: &[TeamRow], cb: Option<(&Chargeback, &RateCard)>) -> Artifact {
    let mut header: Vec<&str> = vec!["team", "users"];
    header.extend(TEAM_COLUMNS.iter().map(|c| c.0));
    if cb.is_some() {
        header.push("currency");
        header.extend(Service::ALL.iter().map(|s| s.column()));
        header.push("total_cost");
    }
    let mut t = Table::new("chargeback_by_team.csv", &header);
    let by_team = cb.map(|(c, _)| c.by_team()).unwrap_or_default();
    let mut names: Vec<String> = teams.iter().map(|r| r.team.clone()).collect();
    for k in by_team.keys() {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    // The unallocated row is always there, even at zero: its absence would look like "all
    // charged".
    if cb.is_some() && !names.iter().any(|n| n == NO_TEAM) {
        names.push(NO_TEAM.to_string());
    }
    names.sort_by(|a, b| (a == NO_TEAM, a).cmp(&(b == NO_TEAM, b)));
    for name in names {
        let row = teams.iter().find(|r| r.team == name);
        let mut cells = vec![name.clone(), row.map_or(0, |r| r.users).to_string()];
        cells.extend(
            TEAM_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, (_, unit))| figure(row.map_or(Some(0), |r| r.figures[i]), *unit)),
        );
        if let Some((c, card)) = cb {
            cells.push(card.currency.clone());
            let costs = by_team.get(&name);
            let mut total = 0i128;
            for s in Service::ALL {
                if c.unpriced.contains(&s) {
                    cells.push(String::new());
                    continue;
                }
                let v = costs.and_then(|m| m.get(&s)).copied().unwrap_or(0);
                total += v;
                cells.push(money(v));
            }
            cells.push(if c.unpriced.is_empty() {
                money(total)
            } else {
                String::new()
            });
        }
        t.row(&cells);
    }
    t.finish()
}

/// The local calendar month (in the report's time zone) holding the window: FOCUS's billing
/// period, as UTC instants. `None` when the window runs into the next month, since one FOCUS
/// line belongs to one billing period.
fn billing_period(w: &Window, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let d = w.start.with_timezone(&tz).date_naive();
    let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1)?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let (start, end) = (local_midnight(tz, first), local_midnight(tz, next));
    (w.end <= end).then_some((start, end))
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `focus_costs.csv`, or why it is not written: a FOCUS file is loaded into finance tools as
/// the bill, so one with a service left out (its usage unknown) or spanning two billing periods
/// would be a plausible wrong invoice. `chargeback_by_team.csv` still shows what is known.
pub fn focus_costs(
    cb: &Chargeback,
    card: &RateCard,
    w: &Window,
    tz: Tz,
) -> Result<Artifact, String> {
    if !cb.unpriced.is_empty() {
        let names: Vec<&str> = cb.unpriced.iter().map(|s| s.column()).collect();
        return Err(format!(
            "focus_costs.csv not written: {} could not be priced (usage unknown for the window); the bill would be incomplete",
            names.join(", ")
        ));
    }
    let Some((bp_start, bp_end)) = billing_period(w, tz) else {
        return Err(format!(
            "focus_costs.csv not written: the window {} .. {} spans more than one calendar month in {tz}; run `akko-audit chargeback --month YYYY-MM` per month",
            iso(w.start),
            iso(w.end)
        ));
    };
    let mut t = Table::new(
        "focus_costs.csv",
        &[
            "BillingAccountId",
            "BillingAccountName",
            "BillingCurrency",
            "BillingPeriodStart",
            "BillingPeriodEnd",
            "ChargePeriodStart",
            "ChargePeriodEnd",
            "ChargeCategory",
            "ChargeClass",
            "ChargeDescription",
            "ChargeFrequency",
            "BilledCost",
            "EffectiveCost",
            "ListCost",
            "ListUnitPrice",
            "ContractedCost",
            "ContractedUnitPrice",
            "PricingCategory",
            "PricingQuantity",
            "PricingUnit",
            "ConsumedQuantity",
            "ConsumedUnit",
            "ProviderName",
            "PublisherName",
            "InvoiceIssuerName",
            "ServiceName",
            "ServiceCategory",
            "ResourceId",
            "ResourceName",
            "ResourceType",
            "SubAccountId",
            "SubAccountName",
            "Tags",
        ],
    );
    for c in &cb.charges {
        let (service, category, unit, description) = c.service.focus();
        let description = if c.detail.is_empty() {
            description.to_string()
        } else {
            format!("{description}: {}", c.detail)
        };
        let resource_type = match c.service {
            Service::SharedStorage => "Shared",
            Service::Storage => "Bucket owner",
            _ => "User",
        };
        let tags = serde_json::json!({
            "akko-audit/team": c.team,
            "akko-audit/service": c.service.column(),
            "akko-audit/model": c.detail,
        })
        .to_string();
        t.row(&[
            "akko".to_string(),
            "AKKO data platform".to_string(),
            card.currency.clone(),
            iso(bp_start),
            iso(bp_end),
            iso(w.start),
            iso(w.end),
            "Usage".to_string(),
            String::new(),
            description,
            "Usage-Based".to_string(),
            money(c.cost),
            money(c.cost),
            money(c.cost),
            money(c.unit_price),
            money(c.cost),
            money(c.unit_price),
            "Standard".to_string(),
            money(c.quantity),
            unit.to_string(),
            money(c.quantity),
            unit.to_string(),
            "AKKO platform team".to_string(),
            "AKKO platform team".to_string(),
            "AKKO platform team".to_string(),
            service.to_string(),
            category.to_string(),
            format!("{}:{}", c.service.column(), c.resource),
            c.resource.clone(),
            resource_type.to_string(),
            c.team.clone(),
            c.team.clone(),
            tags,
        ]);
    }
    Ok(t.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(a: &str, b: &str) -> Window {
        Window::explicit(
            DateTime::parse_from_rfc3339(a).unwrap().into(),
            DateTime::parse_from_rfc3339(b).unwrap().into(),
        )
        .unwrap()
    }

    fn card() -> RateCard {
        crate::config::chargeback::validate(
            toml::from_str("currency = \"EUR\"\nusd_exchange_rate = \"0.9\"\nstorage_per_gb_month = \"0.02\"\n")
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn the_billing_period_is_the_local_month() {
        let berlin = chrono_tz::Europe::Berlin;
        let november = window("2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z");
        let (s, e) = billing_period(&november, berlin).unwrap();
        assert_eq!(iso(s), "2026-10-31T23:00:00Z");
        assert_eq!(iso(e), "2026-11-30T23:00:00Z");
        // The same UTC month is not one Berlin month: its last hour is in December.
        assert!(billing_period(
            &window("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"),
            berlin
        )
        .is_none());
        let (s, _) = billing_period(
            &window("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"),
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(iso(s), "2026-11-01T00:00:00Z");
    }

    #[test]
    fn no_focus_file_for_a_quarter_or_an_unpriced_service() {
        let cb = Chargeback {
            charges: Vec::new(),
            unpriced: Vec::new(),
        };
        let quarter = window("2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z");
        let why = focus_costs(&cb, &card(), &quarter, Tz::UTC).unwrap_err();
        assert!(why.contains("more than one calendar month"), "{why}");
        let month = window("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
        assert!(focus_costs(&cb, &card(), &month, Tz::UTC).is_ok());
        let cb = Chargeback {
            charges: Vec::new(),
            unpriced: vec![Service::Llm],
        };
        let why = focus_costs(&cb, &card(), &month, Tz::UTC).unwrap_err();
        assert!(why.contains(Service::Llm.column()), "{why}");
    }
}
