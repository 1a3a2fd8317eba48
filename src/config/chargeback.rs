//! `[chargeback]`: the rate card finance agreed, and how shared resources are split. Rates are
//! decimal strings kept exact (10⁻¹² currency units), so a priced figure is never off by a
//! float's rounding.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::InputError;
use crate::sources::values::decimal_units;

/// Money and rates are held in 10⁻¹² of the currency unit.
pub const SCALE: u32 = 12;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChargeback {
    /// ISO 4217 code of the invoice, e.g. `"EUR"`.
    currency: Option<String>,
    /// Currency units per USD, for LLM spend (LiteLLM records USD). Required unless USD.
    usd_exchange_rate: Option<String>,
    /// `"even"` (every team the same share) or `"usage"` (in proportion to each team's own
    /// priced usage).
    shared_split: Option<String>,
    trino_per_tb_scanned: Option<String>,
    trino_per_cpu_hour: Option<String>,
    notebook_per_hour: Option<String>,
    notebook_per_cpu_hour: Option<String>,
    storage_per_gb_month: Option<String>,
    /// Markup on LLM cost as a fraction (`"0.10"` = +10 %); 0 = at cost.
    llm_markup: Option<String>,
    /// Per-model markups overriding `llm_markup_by_provider` and `llm_markup`.
    #[serde(default)]
    llm_markup_by_model: BTreeMap<String, String>,
    /// Per-provider (`custom_llm_provider`) markups overriding `llm_markup`.
    #[serde(default)]
    llm_markup_by_provider: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedSplit {
    Even,
    Usage,
}

#[derive(Debug, Clone)]
pub struct RateCard {
    pub currency: String,
    /// Currency units per USD × 10¹².
    pub usd_rate: i128,
    pub shared_split: SharedSplit,
    pub trino_per_tb_scanned: i128,
    pub trino_per_cpu_hour: i128,
    pub notebook_per_hour: i128,
    pub notebook_per_cpu_hour: i128,
    pub storage_per_gb_month: i128,
    pub llm_markup: i128,
    pub llm_markup_by_model: BTreeMap<String, i128>,
    pub llm_markup_by_provider: BTreeMap<String, i128>,
}

impl RateCard {
    /// The markup of one model served by one provider: the model's, else the provider's, else
    /// the default.
    pub fn llm_markup_for(&self, model: &str, provider: &str) -> i128 {
        self.llm_markup_by_model
            .get(model)
            .or_else(|| self.llm_markup_by_provider.get(provider))
            .copied()
            .unwrap_or(self.llm_markup)
    }
}

fn rate(field: &str, v: Option<String>) -> Result<i128, InputError> {
    match v {
        None => Ok(0),
        Some(s) => match decimal_units(&s, SCALE) {
            Some(u) if u >= 0 => Ok(u),
            _ => Err(InputError::invalid(
                format!("chargeback.{field}"),
                format!("{s:?} is not a non-negative decimal; write e.g. \"5.00\""),
            )),
        },
    }
}

pub fn validate(raw: RawChargeback) -> Result<RateCard, InputError> {
    let currency = raw.currency.unwrap_or_else(|| "USD".into());
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(InputError::invalid(
            "chargeback.currency",
            format!("{currency:?} is not an ISO 4217 code such as \"EUR\""),
        ));
    }
    let usd_rate = match (currency.as_str(), raw.usd_exchange_rate) {
        ("USD", None) => 10i128.pow(SCALE),
        (_, Some(r)) => rate("usd_exchange_rate", Some(r))?,
        (c, None) => {
            return Err(InputError::invalid(
                "chargeback.usd_exchange_rate",
                format!(
                    "LLM spend is recorded in USD; give the {c} per USD rate used for this invoice"
                ),
            ))
        }
    };
    let shared_split = match raw.shared_split.as_deref() {
        None | Some("even") => SharedSplit::Even,
        Some("usage") => SharedSplit::Usage,
        Some(other) => {
            return Err(InputError::invalid(
                "chargeback.shared_split",
                format!("{other:?}: use \"even\" or \"usage\""),
            ))
        }
    };
    let mut by_model = BTreeMap::new();
    for (m, v) in raw.llm_markup_by_model {
        let r = rate(&format!("llm_markup_by_model.{m}"), Some(v))?;
        by_model.insert(m, r);
    }
    let mut by_provider = BTreeMap::new();
    for (p, v) in raw.llm_markup_by_provider {
        let r = rate(&format!("llm_markup_by_provider.{p}"), Some(v))?;
        by_provider.insert(p, r);
    }
    Ok(RateCard {
        currency,
        usd_rate,
        shared_split,
        trino_per_tb_scanned: rate("trino_per_tb_scanned", raw.trino_per_tb_scanned)?,
        trino_per_cpu_hour: rate("trino_per_cpu_hour", raw.trino_per_cpu_hour)?,
        notebook_per_hour: rate("notebook_per_hour", raw.notebook_per_hour)?,
        notebook_per_cpu_hour: rate("notebook_per_cpu_hour", raw.notebook_per_cpu_hour)?,
        storage_per_gb_month: rate("storage_per_gb_month", raw.storage_per_gb_month)?,
        llm_markup: rate("llm_markup", raw.llm_markup)?,
        llm_markup_by_model: by_model,
        llm_markup_by_provider: by_provider,
    })
}
