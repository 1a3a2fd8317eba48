//! Where a finding starts: the thresholds of the findings rules, from `[findings]` in the config.
//! Defaults are deliberately conservative for a platform of tens to hundreds of users; every one
//! is printed in the report's methodology so a reader knows what "a burst" meant for this run.

use std::time::Duration;

use serde::Deserialize;

use crate::config::parse_duration;
use crate::error::InputError;
use crate::sources::litellm::COST_SCALE;
use crate::sources::values::decimal_units;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThresholds {
    /// LOGIN_ERROR events for one username within `burst_window` that make a brute-force finding.
    brute_force_per_user: Option<u32>,
    /// LOGIN_ERROR events from one IP address within `burst_window`.
    brute_force_per_ip: Option<u32>,
    /// Sliding window for the two brute-force rules, e.g. `"10m"`.
    burst_window: Option<String>,
    /// OPA denials of one user within any one hour (sliding) that make a denial-spike finding.
    denials_per_user_hour: Option<u32>,
    /// Failed / total Trino queries of one user, as a decimal fraction (`"0.25"`).
    failed_query_ratio: Option<String>,
    /// Users with fewer queries are not judged on their failure ratio.
    failed_query_min_queries: Option<u32>,
    /// A user's LLM cost above this multiple of the median user cost is an outlier.
    llm_spend_outlier_factor: Option<u32>,
    /// ... provided it is also at least this much (USD, decimal string): cents are not news.
    llm_spend_min_usd: Option<String>,
    /// Notebook sessions longer than this are reported (`"24h"`).
    notebook_session_max: Option<String>,
}

/// Validated thresholds; ratios and money kept exact (basis points, 10⁻¹² USD).
#[derive(Debug, Clone)]
pub struct Thresholds {
    pub brute_force_per_user: u32,
    pub brute_force_per_ip: u32,
    pub burst_window: Duration,
    pub denials_per_user_hour: u32,
    /// Parts per 10,000.
    pub failed_query_ratio_bp: u32,
    pub failed_query_min_queries: u32,
    pub llm_spend_outlier_factor: u32,
    pub llm_spend_min_units: i128,
    pub notebook_session_max: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            brute_force_per_user: 5,
            brute_force_per_ip: 10,
            burst_window: Duration::from_secs(600),
            denials_per_user_hour: 20,
            failed_query_ratio_bp: 2_500,
            failed_query_min_queries: 10,
            llm_spend_outlier_factor: 5,
            llm_spend_min_units: 10i128.pow(COST_SCALE),
            notebook_session_max: Duration::from_secs(24 * 3600),
        }
    }
}

impl Thresholds {
    /// Human-readable list for the methodology appendix.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mins = |d: Duration| format!("{} min", d.as_secs() / 60);
        vec![
            (
                "brute_force_per_user".into(),
                format!(
                    "{} failed logins for one username within {}",
                    self.brute_force_per_user,
                    mins(self.burst_window)
                ),
            ),
            (
                "brute_force_per_ip".into(),
                format!(
                    "{} failed logins from one IP address within {}",
                    self.brute_force_per_ip,
                    mins(self.burst_window)
                ),
            ),
            (
                "denials_per_user_hour".into(),
                format!(
                    "{} OPA denials of one user within any 60 min (sliding)",
                    self.denials_per_user_hour
                ),
            ),
            (
                "failed_query_ratio".into(),
                format!(
                    "{}.{:02} % of a user's Trino queries failed (users with at least {} queries)",
                    self.failed_query_ratio_bp / 100,
                    self.failed_query_ratio_bp % 100,
                    self.failed_query_min_queries
                ),
            ),
            (
                "llm_spend_outlier".into(),
                format!(
                    "LLM cost above {} × the median user cost and at least {} USD",
                    self.llm_spend_outlier_factor,
                    crate::sources::values::format_fixed(self.llm_spend_min_units, COST_SCALE, 2)
                ),
            ),
            (
                "notebook_session_max".into(),
                format!(
                    "notebook sessions longer than {} h",
                    self.notebook_session_max.as_secs() / 3600
                ),
            ),
        ]
    }
}

pub fn validate(raw: RawThresholds) -> Result<Thresholds, InputError> {
    let d = Thresholds::default();
    let positive = |field: &str, v: Option<u32>, default: u32| match v {
        None => Ok(default),
        Some(0) => Err(InputError::invalid(
            format!("findings.{field}"),
            "must be at least 1 (0 would flag every user; remove the key for the default)",
        )),
        Some(n) => Ok(n),
    };
    let duration = |field: &str, v: Option<String>, default: Duration| match v {
        None => Ok(default),
        Some(s) => parse_duration(&s)
            .and_then(|d| {
                if d.is_zero() {
                    Err("must be longer than 0".into())
                } else {
                    Ok(d)
                }
            })
            .map_err(|e| InputError::invalid(format!("findings.{field}"), e)),
    };
    let ratio_bp = match raw.failed_query_ratio {
        None => d.failed_query_ratio_bp,
        Some(s) => match decimal_units(&s, 4) {
            Some(bp) if bp > 0 && bp <= 10_000 => bp as u32,
            _ => {
                return Err(InputError::invalid(
                    "findings.failed_query_ratio",
                    format!("{s:?} is not a fraction in (0, 1]; write e.g. \"0.25\" for 25 %"),
                ))
            }
        },
    };
    let min_units = match raw.llm_spend_min_usd {
        None => d.llm_spend_min_units,
        Some(s) => match decimal_units(&s, COST_SCALE) {
            Some(u) if u >= 0 => u,
            _ => {
                return Err(InputError::invalid(
                    "findings.llm_spend_min_usd",
                    format!("{s:?} is not an amount in USD; write e.g. \"1.00\""),
                ))
            }
        },
    };
    Ok(Thresholds {
        brute_force_per_user: positive(
            "brute_force_per_user",
            raw.brute_force_per_user,
            d.brute_force_per_user,
        )?,
        brute_force_per_ip: positive(
            "brute_force_per_ip",
            raw.brute_force_per_ip,
            d.brute_force_per_ip,
        )?,
        burst_window: duration("burst_window", raw.burst_window, d.burst_window)?,
        denials_per_user_hour: positive(
            "denials_per_user_hour",
            raw.denials_per_user_hour,
            d.denials_per_user_hour,
        )?,
        failed_query_ratio_bp: ratio_bp,
        failed_query_min_queries: positive(
            "failed_query_min_queries",
            raw.failed_query_min_queries,
            d.failed_query_min_queries,
        )?,
        llm_spend_outlier_factor: positive(
            "llm_spend_outlier_factor",
            raw.llm_spend_outlier_factor,
            d.llm_spend_outlier_factor,
        )?,
        llm_spend_min_units: min_units,
        notebook_session_max: duration(
            "notebook_session_max",
            raw.notebook_session_max,
            d.notebook_session_max,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_exact_conversions() {
        let t = validate(RawThresholds::default()).unwrap();
        assert_eq!(t.failed_query_ratio_bp, 2_500);
        let t = validate(RawThresholds {
            failed_query_ratio: Some("0.1".into()),
            llm_spend_min_usd: Some("2.50".into()),
            burst_window: Some("5m".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(t.failed_query_ratio_bp, 1_000);
        assert_eq!(t.llm_spend_min_units, 2_500_000_000_000);
        assert_eq!(t.burst_window, Duration::from_secs(300));
    }

    #[test]
    fn bad_values_name_the_field() {
        for (raw, field) in [
            (
                RawThresholds {
                    failed_query_ratio: Some("25%".into()),
                    ..Default::default()
                },
                "findings.failed_query_ratio",
            ),
            (
                RawThresholds {
                    brute_force_per_ip: Some(0),
                    ..Default::default()
                },
                "findings.brute_force_per_ip",
            ),
            (
                RawThresholds {
                    notebook_session_max: Some("1 day".into()),
                    ..Default::default()
                },
                "findings.notebook_session_max",
            ),
        ] {
            let e = validate(raw).unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
    }
}
