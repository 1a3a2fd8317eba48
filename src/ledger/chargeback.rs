//! Priced usage per team: the rate card applied to the ledger, shared resources split across
//! teams, and what no team can be charged for kept in an explicit `unallocated` row. Money is
//! held in 10⁻¹² currency units and every division rounds half up once, at the line, so the
//! team totals add up exactly to the lines and, to the cent, to pricing `usage_by_user.csv`.

use std::collections::BTreeMap;

use super::{Ledger, NO_TEAM};
use crate::config::chargeback::{RateCard, SharedSplit, SCALE};
use crate::sources::litellm::LlmUsage;

const ONE: i128 = 1_000_000_000_000; // 10^SCALE

/// The least common multiple of 28, 29, 30 and 31: a day is `MONTH_PARTS / days in its month`
/// parts of a month, an exact integer for every month, so a quarter's GB-months weigh each day
/// by its own month and stay exact.
pub const MONTH_PARTS: i128 = 377_580;

/// The month parts of one day (see [`MONTH_PARTS`]).
pub fn day_parts(date: chrono::NaiveDate) -> i128 {
    use chrono::Datelike;
    let first = date.with_day(1).unwrap_or(date);
    let days = first
        .checked_add_months(chrono::Months::new(1))
        .map_or(30, |next| (next - first).num_days());
    MONTH_PARTS / i128::from(days.clamp(28, 31))
}

/// One priced line: a user's (or a team's share of a shared resource's) use of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    pub team: String,
    /// The user, the bucket, or `shared` for a team's share.
    pub resource: String,
    pub service: Service,
    /// Model for LLM lines, empty otherwise.
    pub detail: String,
    /// Consumed quantity in 10⁻¹² of the pricing unit (TB, hours, GB-months, USD).
    pub quantity: i128,
    /// Price per pricing unit, 10⁻¹² currency (for LLM: the markup-inclusive factor).
    pub unit_price: i128,
    pub cost: i128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    TrinoScan,
    TrinoCpu,
    NotebookHours,
    NotebookCpu,
    Storage,
    SharedStorage,
    Llm,
}

impl Service {
    pub const ALL: [Service; 7] = [
        Service::TrinoScan,
        Service::TrinoCpu,
        Service::NotebookHours,
        Service::NotebookCpu,
        Service::Storage,
        Service::SharedStorage,
        Service::Llm,
    ];
    /// The chargeback_by_team.csv column.
    pub fn column(self) -> &'static str {
        match self {
            Service::TrinoScan => "trino_scan_cost",
            Service::TrinoCpu => "trino_cpu_cost",
            Service::NotebookHours => "notebook_cost",
            Service::NotebookCpu => "notebook_cpu_cost",
            Service::Storage => "storage_cost",
            Service::SharedStorage => "shared_storage_cost",
            Service::Llm => "llm_cost",
        }
    }
    /// Short title for the PDF's table.
    pub fn title(self) -> &'static str {
        match self {
            Service::TrinoScan => "Trino scan",
            Service::TrinoCpu => "Trino CPU",
            Service::NotebookHours => "Notebooks",
            Service::NotebookCpu => "Notebook CPU",
            Service::Storage => "Storage",
            Service::SharedStorage => "Shared storage",
            Service::Llm => "LLM",
        }
    }
    /// FOCUS ServiceName, ServiceCategory, PricingUnit, ChargeDescription.
    pub fn focus(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Service::TrinoScan => ("Trino", "Analytics", "TB", "Trino data scanned"),
            Service::TrinoCpu => ("Trino", "Analytics", "CPU-Hours", "Trino CPU time"),
            Service::NotebookHours => ("JupyterHub", "Compute", "Hours", "Notebook server time"),
            Service::NotebookCpu => ("JupyterHub", "Compute", "CPU-Hours", "Notebook CPU time"),
            Service::Storage => ("MinIO", "Storage", "GB-Months", "Object storage"),
            Service::SharedStorage => (
                "MinIO and PostgreSQL",
                "Storage",
                "GB-Months",
                "Shared buckets and databases, split across teams",
            ),
            Service::Llm => (
                "LiteLLM",
                "AI and Machine Learning",
                "USD",
                "LLM gateway spend",
            ),
        }
    }
}

pub struct ChargebackInput<'a> {
    pub ledger: &'a Ledger,
    /// Per (canonical user, model): the LLM spend to price with per-model markups.
    pub llm: &'a [LlmUsage],
    /// Σ over the days of the window of end-of-day bytes × [`day_parts`], per owner (`None`:
    /// no owner, shared): byte-months in 1/[`MONTH_PARTS`]. `None` when the window's sizes
    /// over time are not known (a window read from the sources that is not one local day: one
    /// sample at its end says nothing about a month), so storage is not priced.
    pub storage_byte_parts: Option<&'a BTreeMap<Option<String>, i128>>,
    /// The same for the databases (they have no owner: shared); `None` when the databases
    /// source was not complete, so the shared storage is not priced.
    pub database_byte_parts: Option<i128>,
    pub rates: &'a RateCard,
}

#[derive(Debug, Clone)]
pub struct Chargeback {
    pub charges: Vec<Charge>,
    /// Services whose usage was unknown (a source not complete): not priced, the run is partial.
    pub unpriced: Vec<Service>,
}

impl Chargeback {
    /// team -> service -> cost, every team (and `unallocated`) present.
    pub fn by_team(&self) -> BTreeMap<String, BTreeMap<Service, i128>> {
        let mut m: BTreeMap<String, BTreeMap<Service, i128>> = BTreeMap::new();
        for c in &self.charges {
            *m.entry(c.team.clone())
                .or_default()
                .entry(c.service)
                .or_default() += c.cost;
        }
        m
    }

    pub fn total(&self) -> i128 {
        self.charges.iter().map(|c| c.cost).sum()
    }
}

/// `a × b / d`, rounded half up (all operands non-negative).
pub fn mul_div(a: i128, b: i128, d: i128) -> i128 {
    let p = a.saturating_mul(b);
    (p + d / 2) / d
}

fn team_of(ledger: &Ledger, user: &str) -> String {
    ledger
        .rows
        .iter()
        .find(|r| r.user == user)
        .and_then(|r| r.team.clone())
        .unwrap_or_else(|| NO_TEAM.to_string())
}

pub fn compute(input: &ChargebackInput) -> Chargeback {
    let r = input.rates;
    let l = input.ledger;
    let mut charges = Vec::new();
    let mut unpriced = Vec::new();
    // (service, ledger column, divisor from the stored unit to the pricing unit × 10^12, rate)
    let per_user = [
        (
            Service::TrinoScan,
            "trino_bytes_scanned",
            1_000_000_000_000i128,
            r.trino_per_tb_scanned,
        ),
        (
            Service::TrinoCpu,
            "trino_cpu_seconds",
            3_600_000_000_000,
            r.trino_per_cpu_hour,
        ),
        (
            Service::NotebookHours,
            "notebook_seconds",
            3_600,
            r.notebook_per_hour,
        ),
        (
            Service::NotebookCpu,
            "notebook_cpu_seconds",
            3_600_000_000_000,
            r.notebook_per_cpu_hour,
        ),
    ];
    for (service, column, per_unit, rate) in per_user {
        if l.rows.iter().any(|row| row.figure(column).is_none()) {
            unpriced.push(service);
            continue;
        }
        for row in &l.rows {
            let used = i128::from(row.figure(column).unwrap_or(0));
            if used == 0 {
                continue;
            }
            charges.push(Charge {
                team: row.team.clone().unwrap_or_else(|| NO_TEAM.to_string()),
                resource: row.user.clone(),
                service,
                detail: String::new(),
                quantity: mul_div(used, ONE, per_unit),
                unit_price: rate,
                cost: mul_div(used, rate, per_unit),
            });
        }
    }
    // LLM first: a usage-proportional split of the shared storage weighs every other service.
    let llm_known = !l
        .rows
        .iter()
        .any(|row| row.figure("llm_cost_usd").is_none());
    if !llm_known {
        unpriced.push(Service::Llm);
    } else {
        for u in input.llm {
            if u.cost_units == 0 {
                continue;
            }
            let markup = r.llm_markup_for(&u.model, &u.provider);
            // cost_usd × usd_rate × (1 + markup), each factor in 10^-12.
            let factor = mul_div(r.usd_rate, ONE + markup, ONE);
            charges.push(Charge {
                team: team_of(l, &u.user),
                resource: u.user.clone(),
                service: Service::Llm,
                detail: if u.provider.is_empty() {
                    u.model.clone()
                } else {
                    format!("{} ({})", u.model, u.provider)
                },
                quantity: u.cost_units,
                unit_price: factor,
                cost: mul_div(u.cost_units, factor, ONE),
            });
        }
    }
    // Storage owned by a user: GB-months = Σ bytes × day's share of its month / 10^9.
    let gb_month = 1_000_000_000i128 * MONTH_PARTS;
    let storage = input.storage_byte_parts.filter(|_| {
        !l.rows
            .iter()
            .any(|row| row.figure("storage_bytes").is_none())
    });
    if let Some(storage) = storage {
        for (owner, byte_parts) in storage {
            let Some(owner) = owner else { continue };
            if *byte_parts == 0 {
                continue;
            }
            charges.push(Charge {
                team: team_of(l, owner),
                resource: owner.clone(),
                service: Service::Storage,
                detail: String::new(),
                quantity: mul_div(*byte_parts, ONE, gb_month),
                unit_price: r.storage_per_gb_month,
                cost: mul_div(*byte_parts, r.storage_per_gb_month, gb_month),
            });
        }
    } else {
        unpriced.push(Service::Storage);
    }
    // The shared part needs the databases too, and a usage split needs every other service's
    // cost: a share weighed on partial charges would move cost between teams unseen.
    let split_known = r.shared_split == SharedSplit::Even || unpriced.is_empty();
    match (storage, input.database_byte_parts) {
        (Some(storage), Some(databases)) if split_known => {
            let shared_bytes = storage.get(&None).copied().unwrap_or(0) + databases;
            let shared_cost = mul_div(shared_bytes, r.storage_per_gb_month, gb_month);
            let shared_qty = mul_div(shared_bytes, ONE, gb_month);
            split_shared(
                &mut charges,
                l,
                r.shared_split,
                shared_cost,
                shared_qty,
                r.storage_per_gb_month,
            );
        }
        _ => unpriced.push(Service::SharedStorage),
    }
    charges.sort_by(|a, b| {
        (&a.team, a.service, &a.resource, &a.detail).cmp(&(
            &b.team,
            b.service,
            &b.resource,
            &b.detail,
        ))
    });
    Chargeback { charges, unpriced }
}

/// Splits a shared cost over the teams so the parts add up exactly (largest remainders).
fn split_shared(
    charges: &mut Vec<Charge>,
    ledger: &Ledger,
    how: SharedSplit,
    cost: i128,
    quantity: i128,
    unit_price: i128,
) {
    if cost == 0 && quantity == 0 {
        return;
    }
    let mut weights: BTreeMap<String, i128> = BTreeMap::new();
    for row in &ledger.rows {
        if let Some(t) = &row.team {
            weights.entry(t.clone()).or_insert(0);
        }
    }
    if how == SharedSplit::Usage {
        for c in charges.iter() {
            if c.team != NO_TEAM {
                *weights.entry(c.team.clone()).or_default() += c.cost;
            }
        }
    }
    let all_zero = weights.values().all(|w| *w == 0);
    if all_zero {
        for w in weights.values_mut() {
            *w = 1;
        }
    }
    if weights.is_empty() {
        charges.push(Charge {
            team: NO_TEAM.to_string(),
            resource: "shared".into(),
            service: Service::SharedStorage,
            detail: String::new(),
            quantity,
            unit_price,
            cost,
        });
        return;
    }
    let total: i128 = weights.values().sum();
    let parts = |amount: i128| -> Vec<i128> {
        let mut shares: Vec<(i128, i128)> = weights
            .values()
            .map(|w| (amount * w / total, amount * w % total))
            .collect();
        let mut left = amount - shares.iter().map(|s| s.0).sum::<i128>();
        let mut order: Vec<usize> = (0..shares.len()).collect();
        order.sort_by(|&a, &b| shares[b].1.cmp(&shares[a].1).then(a.cmp(&b)));
        for i in order {
            if left == 0 {
                break;
            }
            shares[i].0 += 1;
            left -= 1;
        }
        shares.into_iter().map(|s| s.0).collect()
    };
    let costs = parts(cost);
    let qty = parts(quantity);
    for (i, team) in weights.keys().enumerate() {
        charges.push(Charge {
            team: team.clone(),
            resource: "shared".into(),
            service: Service::SharedStorage,
            detail: String::new(),
            quantity: qty[i],
            unit_price,
            cost: costs[i],
        });
    }
}

/// SCALE is 12: keep the constant honest.
const _: () = assert!(SCALE == 12);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{LedgerRow, COLUMNS};

    fn row(user: &str, team: Option<&str>, set: &[(&str, i64)]) -> LedgerRow {
        let mut figures = vec![Some(0); COLUMNS.len()];
        for (c, v) in set {
            let i = COLUMNS.iter().position(|(n, _, _)| n == c).unwrap();
            figures[i] = Some(*v);
        }
        LedgerRow {
            user: user.into(),
            team: team.map(Into::into),
            figures,
        }
    }

    /// The rate card applied with no database storage.
    fn price(
        ledger: &Ledger,
        llm: &[LlmUsage],
        storage: &BTreeMap<Option<String>, i128>,
        rates: &RateCard,
    ) -> Chargeback {
        compute(&ChargebackInput {
            ledger,
            llm,
            storage_byte_parts: Some(storage),
            database_byte_parts: Some(0),
            rates,
        })
    }

    fn card() -> RateCard {
        crate::config::chargeback::validate(
            toml::from_str(
                r#"
currency = "EUR"
usd_exchange_rate = "0.90"
trino_per_tb_scanned = "5.00"
trino_per_cpu_hour = "0.05"
notebook_per_hour = "0.10"
storage_per_gb_month = "0.02"
llm_markup = "0.10"
llm_markup_by_model = { "gpt-4o" = "0.25" }
"#,
            )
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn prices_split_shared_and_keep_the_unallocated() {
        let ledger = Ledger {
            rows: vec![
                row(
                    "alice",
                    Some("ds"),
                    &[
                        ("trino_bytes_scanned", 2_000_000_000_000),
                        ("notebook_seconds", 5_400),
                    ],
                ),
                row(
                    "bob",
                    Some("fin"),
                    &[("trino_cpu_seconds", 1_800_000_000_000)],
                ),
                row("kemal", None, &[("trino_bytes_scanned", 500_000_000_000)]),
            ],
            unresolved: vec![],
        };
        let llm = vec![
            LlmUsage {
                user: "alice".into(),
                model: "gpt-4o".into(),
                cost_units: 2 * ONE,
                ..Default::default()
            },
            LlmUsage {
                user: "bob".into(),
                model: "mini".into(),
                cost_units: ONE,
                ..Default::default()
            },
        ];
        let storage: BTreeMap<Option<String>, i128> = [
            (Some("alice".to_string()), 30_000_000_000i128 * MONTH_PARTS),
            (None, 10_000_000_000 * MONTH_PARTS),
        ]
        .into();
        let rates = card();
        let cb = price(&ledger, &llm, &storage, &rates);
        let t = cb.by_team();
        let eur = |s: &str| crate::sources::values::decimal_units(s, 12).unwrap();
        // alice: 2 TB × 5 = 10; 1.5 h × 0.10 = 0.15; 30 GB-month × 0.02 = 0.60;
        // LLM 2 USD × 0.90 × 1.25 = 2.25; share of the shared 10 GB-month × 0.02 = 0.10 each.
        assert_eq!(t["ds"][&Service::TrinoScan], eur("10"));
        assert_eq!(t["ds"][&Service::NotebookHours], eur("0.15"));
        assert_eq!(t["ds"][&Service::Storage], eur("0.60"));
        assert_eq!(t["ds"][&Service::Llm], eur("2.25"));
        assert_eq!(t["ds"][&Service::SharedStorage], eur("0.10"));
        // bob: 0.5 CPU-h × 0.05 = 0.025; LLM 1 × 0.9 × 1.1 = 0.99.
        assert_eq!(t["fin"][&Service::TrinoCpu], eur("0.025"));
        assert_eq!(t["fin"][&Service::Llm], eur("0.99"));
        // kemal has no team: unallocated, not dropped.
        assert_eq!(t[NO_TEAM][&Service::TrinoScan], eur("2.5"));
        // 13.10 (ds) + 1.115 (fin, with its 0.10 share) + 2.5 (unallocated).
        assert_eq!(cb.total(), eur("16.715"));
        assert!(cb.unpriced.is_empty());
    }

    #[test]
    fn a_quarter_weighs_each_day_by_its_own_month() {
        let d = |m, day| chrono::NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert_eq!(day_parts(d(2, 10)) * 28, MONTH_PARTS);
        assert_eq!(day_parts(d(11, 30)) * 30, MONTH_PARTS);
        assert_eq!(day_parts(d(12, 1)) * 31, MONTH_PARTS);
        assert_eq!(
            day_parts(chrono::NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()) * 29,
            MONTH_PARTS
        );
        // 1 GB kept every day of October, November and December is exactly 3 GB-months
        // (dividing by the first month's 31 days would give 2.97).
        let mut parts = 0i128;
        let mut day = d(10, 1);
        while day < d(12, 31).succ_opt().unwrap() {
            parts += 1_000_000_000 * day_parts(day);
            day = day.succ_opt().unwrap();
        }
        let ledger = Ledger {
            rows: vec![row("alice", Some("ds"), &[])],
            unresolved: vec![],
        };
        let rates = card();
        let storage: BTreeMap<Option<String>, i128> = [(Some("alice".to_string()), parts)].into();
        let cb = price(&ledger, &[], &storage, &rates);
        let line = cb
            .charges
            .iter()
            .find(|c| c.service == Service::Storage)
            .unwrap();
        assert_eq!(line.quantity, 3 * ONE);
        assert_eq!(line.cost, 3 * rates.storage_per_gb_month);
    }

    #[test]
    fn llm_markup_by_model_then_provider_then_default() {
        let mut rates = card();
        rates.llm_markup_by_provider = [("azure".to_string(), ONE / 20)].into();
        assert_eq!(rates.llm_markup_for("gpt-4o", "azure"), ONE / 4);
        assert_eq!(rates.llm_markup_for("mini", "azure"), ONE / 20);
        assert_eq!(rates.llm_markup_for("mini", "openai"), ONE / 10);
        let ledger = Ledger {
            rows: vec![row("a", Some("ds"), &[("llm_cost_usd", 2_000_000_000_000)])],
            unresolved: vec![],
        };
        let llm = [
            LlmUsage {
                user: "a".into(),
                model: "mini".into(),
                provider: "azure".into(),
                cost_units: ONE,
                ..Default::default()
            },
            LlmUsage {
                user: "a".into(),
                model: "mini".into(),
                provider: "openai".into(),
                cost_units: ONE,
                ..Default::default()
            },
        ];
        let cb = price(&ledger, &llm, &BTreeMap::new(), &rates);
        let eur = |s: &str| crate::sources::values::decimal_units(s, 12).unwrap();
        // 1 USD × 0.90 × 1.05 (azure) + 1 USD × 0.90 × 1.10 (default).
        assert_eq!(
            cb.by_team()["ds"][&Service::Llm],
            eur("0.945") + eur("0.99")
        );
        let details: Vec<&str> = cb.charges.iter().map(|c| c.detail.as_str()).collect();
        assert_eq!(details, ["mini (azure)", "mini (openai)"]);
    }

    #[test]
    fn a_usage_split_counts_llm_spend() {
        // Team "ml" uses only the LLM: under a usage split it still carries its share of the
        // shared storage, which it would not if LLM lines were priced after the split.
        let ledger = Ledger {
            rows: vec![
                row(
                    "a",
                    Some("ds"),
                    &[("trino_bytes_scanned", 1_000_000_000_000)],
                ),
                row("b", Some("ml"), &[("llm_cost_usd", 1_000_000_000_000)]),
            ],
            unresolved: vec![],
        };
        let mut rates = card();
        rates.shared_split = SharedSplit::Usage;
        let llm = [LlmUsage {
            user: "b".into(),
            model: "mini".into(),
            cost_units: ONE,
            ..Default::default()
        }];
        let storage: BTreeMap<Option<String>, i128> =
            [(None, 100_000_000_000 * MONTH_PARTS)].into();
        let cb = price(&ledger, &llm, &storage, &rates);
        let t = cb.by_team();
        assert!(
            t["ml"].get(&Service::SharedStorage).copied().unwrap_or(0) > 0,
            "{t:?}"
        );
        assert_eq!(
            t["ds"][&Service::SharedStorage] + t["ml"][&Service::SharedStorage],
            100 * rates.storage_per_gb_month
        );
    }

    #[test]
    fn shared_storage_is_not_priced_on_unknown_parts() {
        let ledger = Ledger {
            rows: vec![
                row(
                    "a",
                    Some("ds"),
                    &[("trino_bytes_scanned", 1_000_000_000_000)],
                ),
                row("b", Some("ml"), &[]),
            ],
            unresolved: vec![],
        };
        let storage: BTreeMap<Option<String>, i128> = [
            (Some("a".to_string()), 10_000_000_000 * MONTH_PARTS),
            (None, 10_000_000_000 * MONTH_PARTS),
        ]
        .into();
        let rates = card();
        // Databases not read in full: the owned storage is priced, the shared part is not.
        let cb = compute(&ChargebackInput {
            ledger: &ledger,
            llm: &[],
            storage_byte_parts: Some(&storage),
            database_byte_parts: None,
            rates: &rates,
        });
        assert_eq!(cb.unpriced, [Service::SharedStorage]);
        assert!(cb.charges.iter().any(|c| c.service == Service::Storage));
        assert!(!cb
            .charges
            .iter()
            .any(|c| c.service == Service::SharedStorage));
        // No sizes over time (a multi-day window read from the sources): no storage at all.
        let cb = compute(&ChargebackInput {
            ledger: &ledger,
            llm: &[],
            storage_byte_parts: None,
            database_byte_parts: Some(0),
            rates: &rates,
        });
        assert_eq!(cb.unpriced, [Service::Storage, Service::SharedStorage]);
        // A usage split weighed on a service that could not be priced: not split.
        let mut partial = ledger.clone();
        partial.rows[1].figures[COLUMNS
            .iter()
            .position(|c| c.0 == "trino_cpu_seconds")
            .unwrap()] = None;
        let mut usage = card();
        usage.shared_split = SharedSplit::Usage;
        let cb = price(&partial, &[], &storage, &usage);
        assert!(cb.unpriced.contains(&Service::TrinoCpu));
        assert!(cb.unpriced.contains(&Service::SharedStorage));
        // An even split does not depend on the other charges.
        let cb = price(&partial, &[], &storage, &rates);
        assert!(!cb.unpriced.contains(&Service::SharedStorage));
    }

    #[test]
    fn shared_parts_add_up_exactly() {
        let ledger = Ledger {
            rows: vec![
                row("a", Some("t1"), &[]),
                row("b", Some("t2"), &[]),
                row("c", Some("t3"), &[]),
            ],
            unresolved: vec![],
        };
        let mut charges = Vec::new();
        split_shared(&mut charges, &ledger, SharedSplit::Even, 100, 10, 1);
        let costs: Vec<i128> = charges.iter().map(|c| c.cost).collect();
        assert_eq!(costs.iter().sum::<i128>(), 100);
        assert_eq!(costs, [34, 33, 33]);
    }
}
