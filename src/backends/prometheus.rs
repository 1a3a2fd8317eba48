//! The Prometheus backend. Each metric a source needs is fetched as raw samples with a range
//! selector evaluated at the window's end (`name[<window>s]`, or `[5m]` for values "at end"),
//! and handed to the same sample parser the OpenMetrics files feed. Both paths therefore apply
//! one set of rules to the same samples, and give the same ledger. Extrapolating functions
//! (`increase`, `rate`) are avoided: they estimate, and a chargeback needs the recorded values.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::http::{Endpoint, RequestStats};
use crate::config::HttpBackend;
use crate::error::SourceError;
use crate::sources::values::decimal_units;
use crate::sources::{MetricSample, SampleParser};

pub struct Prometheus {
    endpoint: Endpoint,
}

#[derive(Deserialize)]
struct Answer<'a> {
    status: String,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(borrow)]
    result: Vec<Series<'a>>,
}

#[derive(Deserialize)]
struct Series<'a> {
    metric: std::collections::BTreeMap<String, String>,
    #[serde(borrow, default)]
    values: Vec<(&'a RawValue, String)>,
    #[serde(borrow, default)]
    value: Option<(&'a RawValue, String)>,
}

/// Seconds (a JSON number, possibly fractional) to milliseconds, exactly.
fn ts_ms(raw: &RawValue) -> Option<i64> {
    decimal_units(raw.get(), 3).and_then(|v| i64::try_from(v).ok())
}

impl Prometheus {
    pub fn new(cfg: &HttpBackend) -> Result<Self, SourceError> {
        Ok(Prometheus {
            endpoint: Endpoint::new(cfg)?,
        })
    }

    /// Runs an instant query at `time_s` and feeds every returned sample to `parser`; an error
    /// answer (`bad_data`, …) is returned with its type and text.
    pub async fn feed_query(
        &self,
        query: &str,
        time_s: i64,
        parser: &mut dyn SampleParser,
        stats: &mut RequestStats,
    ) -> Result<(), SourceError> {
        let params = [("query", query.to_string()), ("time", time_s.to_string())];
        let body = self.endpoint.get("/api/v1/query", &params, stats).await?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            SourceError::Failed(format!("query: answer is not Prometheus JSON: {e}"))
        })?;
        if answer.status != "success" {
            return Err(SourceError::Failed(format!(
                "query {query:?}: {}: {}",
                answer.error_type.unwrap_or_default(),
                answer.error.unwrap_or_default()
            )));
        }
        let data: Data = serde_json::from_str(answer.data.map(RawValue::get).unwrap_or("{}"))
            .map_err(|e| SourceError::Failed(format!("query {query:?}: unexpected data: {e}")))?;
        if data.result_type != "matrix" && data.result_type != "vector" {
            return Err(SourceError::Failed(format!(
                "query {query:?}: expected a matrix or vector, got {}",
                data.result_type
            )));
        }
        for s in data.result {
            let name = s.metric.get("__name__").cloned().unwrap_or_default();
            let labels: Vec<(String, String)> = s
                .metric
                .into_iter()
                .filter(|(k, _)| k != "__name__")
                .collect();
            for (ts, value) in s.values.iter().chain(s.value.iter()) {
                let Some(ts_ms) = ts_ms(ts) else {
                    let t = parser.tally();
                    t.lines_read += 1;
                    t.reject(ts.get(), "sample timestamp is not a number");
                    continue;
                };
                parser.feed(&MetricSample {
                    name: &name,
                    labels: &labels,
                    value,
                    ts_ms,
                });
            }
        }
        Ok(())
    }

    /// Feeds `parser` the samples of each metric it wants, `range_s` seconds back from `end_s`.
    /// `instant_metrics` are read "at end" (the last 5 minutes) whatever `range_s` is.
    pub async fn feed(
        &self,
        parser: &mut dyn SampleParser,
        end_s: i64,
        range_s: i64,
        instant_metrics: &[&str],
    ) -> Result<RequestStats, SourceError> {
        let mut stats = RequestStats::default();
        for name in parser.metric_names() {
            let range = if instant_metrics.contains(name) {
                300
            } else {
                range_s.max(1)
            };
            // `__name__` keeps the series name in the answer (a bare name would too, but a
            // function around it would drop it).
            let q = format!("{{__name__=\"{name}\"}}[{range}s]");
            self.feed_query(&q, end_s, parser, &mut stats).await?;
        }
        Ok(stats)
    }

    pub async fn probe(&self) -> Result<(), SourceError> {
        let mut stats = RequestStats::default();
        self.endpoint
            .get("/api/v1/query", &[("query", "1".to_string())], &mut stats)
            .await
            .map(|_| ())
    }
}
