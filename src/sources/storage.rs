//! MinIO bucket sizes at the window's end (v2 and v3 metric names; every server reports every
//! bucket, so the per-bucket value is the max across series, as `max by (bucket)` would give).

use std::collections::BTreeMap;

use super::values::decimal_units;
use super::{MetricSample, SampleParser, Tally, INSTANT_LOOKBACK_MS};
use crate::window::Window;

pub const V2: &str = "minio_bucket_usage_total_bytes";
pub const V3: &str = "minio_cluster_usage_buckets_total_bytes";

#[derive(Debug, Clone, PartialEq)]
pub struct BucketSize {
    pub bucket: String,
    pub bytes: i128,
}

pub struct StorageParser {
    end_ms: i64,
    /// Series key -> (bucket, ts, bytes) of the latest sample in `[end - 5m, end]`.
    latest: BTreeMap<String, (String, i64, i128)>,
    tally: Tally,
}

impl StorageParser {
    pub fn new(window: &Window) -> Self {
        StorageParser {
            end_ms: window.end.timestamp_millis(),
            latest: BTreeMap::new(),
            tally: Tally::default(),
        }
    }

    pub fn buckets(&self) -> Vec<BucketSize> {
        let mut max: BTreeMap<&str, i128> = BTreeMap::new();
        for (bucket, _, bytes) in self.latest.values() {
            let e = max.entry(bucket.as_str()).or_insert(*bytes);
            *e = (*e).max(*bytes);
        }
        max.into_iter()
            .map(|(b, bytes)| BucketSize {
                bucket: b.to_string(),
                bytes,
            })
            .collect()
    }

    pub fn tally_ref(&self) -> &Tally {
        &self.tally
    }
}

impl SampleParser for StorageParser {
    fn metric_names(&self) -> &'static [&'static str] {
        &[V2, V3]
    }

    fn feed(&mut self, s: &MetricSample) {
        if s.name != V2 && s.name != V3 {
            return;
        }
        self.tally.lines_read += 1;
        let Some(bucket) = s.label("bucket") else {
            return self
                .tally
                .reject(s.name, "bucket size without a bucket label");
        };
        let Some(bytes) = decimal_units(s.value, 0) else {
            return self.tally.reject(s.value, "bucket size is not a number");
        };
        if s.ts_ms > self.end_ms || s.ts_ms < self.end_ms - INSTANT_LOOKBACK_MS {
            return;
        }
        let key = series_key(s);
        let e = self
            .latest
            .entry(key)
            .or_insert((bucket.to_string(), s.ts_ms, bytes));
        if s.ts_ms >= e.1 {
            *e = (bucket.to_string(), s.ts_ms, bytes);
        }
    }

    fn tally(&mut self) -> &mut Tally {
        &mut self.tally
    }
}

/// A series' identity: its name and all its labels.
pub(crate) fn series_key(s: &MetricSample) -> String {
    let mut labels: Vec<_> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    format!("{}{{{}}}", s.name, labels.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_at_end_max_over_servers_and_names() {
        let w = crate::window::test_day();
        let end = w.end.timestamp_millis();
        let mut p = StorageParser::new(&w);
        let l = |b: &str, srv: &str| {
            vec![
                ("bucket".to_string(), b.to_string()),
                ("server".to_string(), srv.to_string()),
            ]
        };
        let (a0, a1, b0) = (
            l("home-alice", "minio-0"),
            l("home-alice", "minio-1"),
            l("old", "minio-0"),
        );
        let feed = |p: &mut StorageParser, name, labels: &[(String, String)], v, ts| {
            p.feed(&MetricSample {
                name,
                labels,
                value: v,
                ts_ms: ts,
            })
        };
        feed(&mut p, V2, &a0, "1e+09", end - 600_000);
        feed(&mut p, V2, &a0, "5.36870912e+09", end - 60_000);
        feed(&mut p, V2, &a0, "9e9", end + 60_000); // after the end
        feed(&mut p, V2, &a1, "5368709000", end);
        feed(&mut p, V3, &b0, "10", end - 400_000); // stale: older than 5 minutes
        feed(&mut p, V2, &a0, "NaN", end);
        let got = p.buckets();
        assert_eq!(
            got,
            [BucketSize {
                bucket: "home-alice".into(),
                bytes: 5_368_709_120
            }]
        );
        assert_eq!(p.tally_ref().lines_rejected, 1);
    }
}
