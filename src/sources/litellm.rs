//! LiteLLM spend logs (`"LiteLLM_SpendLogs"`, one row per request), reduced to usage per
//! (user, model) as they stream by: memory grows with users and models, not requests. The
//! PostgreSQL backend pushes the same reduction into SQL.

use std::collections::{BTreeMap, HashSet};

use super::values::{decimal_units, hour_of, naive_utc_ns};
use super::Tally;
use crate::window::Window;

/// Spend is summed exactly in 10^-12 USD.
pub const COST_SCALE: u32 = 12;
/// The ledger name for requests whose `user` is empty.
pub const UNATTRIBUTED: &str = "(unattributed)";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmUsage {
    pub user: String,
    pub model: String,
    /// `custom_llm_provider` (who serves the model: the processor a DPA and a transfer
    /// assessment are about, and what a provider markup prices); empty when not recorded.
    pub provider: String,
    pub requests: i64,
    pub failed: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cost_units: i128,
}

/// Column positions found from the CSV header (the export's column order is not fixed).
/// Requests of one model in one UTC hour: the "LiteLLM request rate" and latency panels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmHour {
    /// Start of the hour, ns since the epoch.
    pub hour_ns: i64,
    pub model: String,
    pub requests: i64,
    pub failed: i64,
    /// Sum of `endTime - startTime` in ms over the requests that have an `endTime`.
    pub latency_ms: i64,
    /// Requests with an `endTime` (the latency average's denominator).
    pub timed: i64,
}

struct Columns {
    request_id: usize,
    user: usize,
    model: usize,
    provider: Option<usize>,
    start: usize,
    end: Option<usize>,
    status: Option<usize>,
    spend: usize,
    prompt: usize,
    completion: usize,
    total: usize,
}

pub struct SpendLogParser {
    window: Window,
    cols: Option<Columns>,
    seen: HashSet<String>,
    usage: BTreeMap<(String, String, String), LlmUsage>,
    hours: BTreeMap<(i64, String), LlmHour>,
    pub tally: Tally,
}

impl SpendLogParser {
    pub fn new(window: Window) -> Self {
        SpendLogParser {
            window,
            cols: None,
            seen: HashSet::new(),
            usage: BTreeMap::new(),
            hours: BTreeMap::new(),
            tally: Tally::default(),
        }
    }

    /// Reads the next file's header (exports may order columns differently). Fails with the
    /// missing column's name when the header is not a spend-log export.
    pub fn header(&mut self, header: &[&str]) -> Result<(), String> {
        let find = |name: &str| {
            header.iter().position(|h| h.trim() == name).ok_or_else(|| {
                format!(
                    "spend-log CSV has no column {name:?} (header: {})",
                    header.join(",")
                )
            })
        };
        let cols = Columns {
            request_id: find("request_id")?,
            user: find("user")?,
            model: find("model")?,
            provider: find("custom_llm_provider").ok(),
            start: find("startTime")?,
            end: find("endTime").ok(),
            status: find("status").ok(),
            spend: find("spend")?,
            prompt: find("prompt_tokens")?,
            completion: find("completion_tokens")?,
            total: find("total_tokens")?,
        };
        self.cols = Some(cols);
        Ok(())
    }

    /// One CSV record, as fields.
    pub fn feed(&mut self, fields: &[&str]) {
        let raw = || fields.join(",");
        self.tally.lines_read += 1;
        let Some(c) = &self.cols else {
            return self.tally.reject(&raw(), "row before a header");
        };
        let get = |i: usize| fields.get(i).copied().unwrap_or("");
        let request_id = get(c.request_id);
        if request_id.is_empty() {
            return self.tally.reject(&raw(), "row without request_id");
        }
        let Some(start) = naive_utc_ns(get(c.start)) else {
            return self.tally.reject(&raw(), "startTime is not a timestamp");
        };
        let int = |i: usize| -> Option<i64> {
            let v = get(i);
            if v.is_empty() {
                Some(0)
            } else {
                v.trim().parse().ok()
            }
        };
        let (Some(p), Some(cpl), Some(t)) = (int(c.prompt), int(c.completion), int(c.total)) else {
            return self.tally.reject(&raw(), "token counts are not integers");
        };
        let spend = get(c.spend);
        let Some(cost) = (if spend.is_empty() {
            Some(0)
        } else {
            decimal_units(spend, COST_SCALE)
        }) else {
            return self.tally.reject(&raw(), "spend is not a number");
        };
        if !self.seen.insert(request_id.to_string()) {
            return;
        }
        if !self.window.contains_ns(start) {
            return;
        }
        let user = match get(c.user).trim() {
            "" => UNATTRIBUTED.to_string(),
            u => u.to_string(),
        };
        let model = get(c.model).to_string();
        let failed = c.status.map(|i| get(i) == "failure").unwrap_or(false);
        let latency_ms = c
            .end
            .and_then(|i| naive_utc_ns(get(i)))
            .map(|end| (end - start) / 1_000_000);
        let h = self
            .hours
            .entry((hour_of(start), model.clone()))
            .or_insert_with(|| LlmHour {
                hour_ns: hour_of(start),
                model: model.clone(),
                ..Default::default()
            });
        h.requests += 1;
        h.failed += i64::from(failed);
        if let Some(ms) = latency_ms {
            h.latency_ms += ms;
            h.timed += 1;
        }
        let provider = c.provider.map(|i| get(i).trim()).unwrap_or("").to_string();
        let u = self
            .usage
            .entry((user.clone(), model.clone(), provider.clone()))
            .or_insert_with(|| LlmUsage {
                user,
                model,
                provider,
                ..Default::default()
            });
        u.requests += 1;
        u.failed += i64::from(failed);
        u.prompt_tokens += p;
        u.completion_tokens += cpl;
        u.total_tokens += t;
        u.cost_units += cost;
    }

    pub fn usage(self) -> (Vec<LlmUsage>, Vec<LlmHour>, Tally) {
        (
            self.usage.into_values().collect(),
            self.hours.into_values().collect(),
            self.tally,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_reduce_per_user_and_model() {
        let w = crate::window::test_day();
        let header = [
            "request_id",
            "spend",
            "total_tokens",
            "prompt_tokens",
            "completion_tokens",
            "startTime",
            "model",
            "user",
            "status",
        ];
        let mut p = SpendLogParser::new(w.clone());
        p.header(&header).unwrap();
        let rows = [
            [
                "r1",
                "0.00231",
                "1534",
                "1210",
                "324",
                "2026-11-30 10:20:11.402",
                "gpt-4o-mini",
                "alice",
                "success",
            ],
            [
                "r2",
                "1e-05",
                "10",
                "10",
                "0",
                "2026-11-30 00:00:00",
                "gpt-4o-mini",
                "alice",
                "failure",
            ],
            [
                "r1",
                "0.00231",
                "1534",
                "1210",
                "324",
                "2026-11-30 10:20:11.402",
                "gpt-4o-mini",
                "alice",
                "success",
            ],
            [
                "r3",
                "0.5",
                "1",
                "1",
                "0",
                "2026-12-01 00:00:00",
                "gpt-4o-mini",
                "alice",
                "success",
            ],
            [
                "r4",
                "0.1",
                "1",
                "1",
                "0",
                "2026-11-29 23:59:59.999",
                "gpt-4o-mini",
                "alice",
                "success",
            ],
            [
                "r5",
                "0.1",
                "1",
                "1",
                "0",
                "yesterday",
                "gpt-4o-mini",
                "alice",
                "success",
            ],
            [
                "r6",
                "0.2",
                "3",
                "2",
                "1",
                "2026-11-30 12:00:00",
                "claude",
                "",
                "success",
            ],
        ];
        for r in rows {
            p.feed(&r);
        }
        let (usage, _hours, tally) = p.usage();
        assert_eq!(usage.len(), 2);
        assert_eq!(usage[0].user, UNATTRIBUTED);
        let a = &usage[1];
        assert_eq!((a.requests, a.failed, a.total_tokens), (2, 1, 1544));
        assert_eq!(a.cost_units, 2_320_000_000);
        assert_eq!(tally.lines_rejected, 1);
        let err = SpendLogParser::new(w).header(&["id"]).unwrap_err();
        assert!(err.contains("request_id"), "{err}");
    }
}
