//! Platform-wide gauges and counters with no per-user label: JupyterHub's running servers and
//! user counts, Keycloak's event counters (aerogear metrics SPI and native `keycloak_user_events`).
//! They feed the KPI figures ("users online vs total", "active notebooks"), not the ledger.

use std::collections::BTreeMap;

use super::values::{decimal_units, CounterIncrease};
use super::{MetricSample, SampleParser, Tally, INSTANT_LOOKBACK_MS};
use crate::window::Window;

pub const METRICS: [&str; 7] = [
    "jupyterhub_running_servers",
    "jupyterhub_total_users",
    "jupyterhub_active_users",
    "keycloak_user_events_total",
    "keycloak_logins_total",
    "keycloak_failed_login_attempts_total",
    "keycloak_registrations_total",
];

/// Values are kept in 10^-9 units: exact for the integers these are, and for fractional gauges.
const SCALE: u32 = 9;

/// One series over the window: a row of `platform_metrics.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformSeries {
    pub metric: String,
    /// `k=v` pairs joined with `;`, sorted.
    pub labels: String,
    /// The last sample in `[end - 5m, end]`, `None` if there is none.
    pub at_end: Option<i128>,
    /// The largest sample in `[start, end]`.
    pub max: Option<i128>,
    /// Counters (`*_total`): the sum of increases between samples in `[start, end]`.
    pub increase: Option<i128>,
}

#[derive(Default)]
struct State {
    at_end: Option<(i64, i128)>,
    max: Option<i128>,
    counter: CounterIncrease,
}

pub struct PlatformParser {
    start_ms: i64,
    end_ms: i64,
    series: BTreeMap<(String, String), State>,
    tally: Tally,
}

impl PlatformParser {
    pub fn new(window: &Window) -> Self {
        PlatformParser {
            start_ms: window.start.timestamp_millis(),
            end_ms: window.end.timestamp_millis(),
            series: BTreeMap::new(),
            tally: Tally::default(),
        }
    }

    pub fn series(&self) -> Vec<PlatformSeries> {
        self.series
            .iter()
            .map(|((metric, labels), s)| PlatformSeries {
                metric: metric.clone(),
                labels: labels.clone(),
                at_end: s.at_end.map(|(_, v)| v),
                max: s.max,
                increase: metric.ends_with("_total").then_some(s.counter.increase),
            })
            .collect()
    }
}

/// Formats a value kept in 10^-9 units as the shortest exact decimal.
pub fn format_value(v: i128) -> String {
    let s = super::values::format_fixed(v, SCALE, SCALE);
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

impl SampleParser for PlatformParser {
    fn metric_names(&self) -> &'static [&'static str] {
        &METRICS
    }

    fn feed(&mut self, s: &MetricSample) {
        if !METRICS.contains(&s.name) {
            return;
        }
        self.tally.lines_read += 1;
        if s.ts_ms < self.start_ms || s.ts_ms > self.end_ms {
            return;
        }
        let Some(v) = decimal_units(s.value, SCALE) else {
            return self.tally.reject(s.value, "value is not a number");
        };
        let mut labels: Vec<String> = s
            .labels
            .iter()
            .filter(|(k, _)| k != "instance" && k != "job")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        labels.sort();
        let st = self
            .series
            .entry((s.name.to_string(), labels.join(";")))
            .or_default();
        if let Err(reason) = st.counter.add(s.ts_ms, v) {
            return self.tally.reject(s.name, reason);
        }
        st.max = Some(st.max.map_or(v, |m| m.max(v)));
        if s.ts_ms >= self.end_ms - INSTANT_LOOKBACK_MS {
            st.at_end = Some((s.ts_ms, v));
        }
    }

    fn tally(&mut self) -> &mut Tally {
        &mut self.tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_at_end_max_and_counter_increase() {
        let w = crate::window::test_day();
        let (s0, e0) = (w.start.timestamp_millis(), w.end.timestamp_millis());
        let mut p = PlatformParser::new(&w);
        let none: Vec<(String, String)> = vec![];
        let ev = vec![
            ("event".to_string(), "login".to_string()),
            ("instance".to_string(), "kc-0:9000".to_string()),
        ];
        let mut feed = |name, labels: &[(String, String)], v, ts| {
            p.feed(&MetricSample {
                name,
                labels,
                value: v,
                ts_ms: ts,
            })
        };
        feed("jupyterhub_running_servers", &none, "3", s0 - 1);
        feed("jupyterhub_running_servers", &none, "5", s0 + 3_600_000);
        feed("jupyterhub_running_servers", &none, "2", e0 - 60_000);
        feed("keycloak_user_events_total", &ev, "10", s0);
        feed("keycloak_user_events_total", &ev, "14", s0 + 60_000);
        feed("keycloak_user_events_total", &ev, "3", s0 + 120_000); // restart
        let rows = p.series();
        assert_eq!(rows.len(), 2);
        let hub = &rows[0];
        assert_eq!(
            (hub.at_end, hub.max, hub.increase),
            (Some(2_000_000_000), Some(5_000_000_000), None)
        );
        let kc = &rows[1];
        assert_eq!(kc.labels, "event=login");
        assert_eq!(kc.increase, Some(7_000_000_000));
        assert_eq!(kc.at_end, None);
        assert_eq!(format_value(7_000_000_000), "7");
        assert_eq!(format_value(1_500_000_000), "1.5");
    }
}
