//! PostgreSQL database sizes at the window's end (`pg_database_size_bytes` of
//! postgres_exporter). Not a ledger column: a detail table for the storage evidence.

use std::collections::BTreeMap;

use super::values::decimal_units;
use super::{MetricSample, SampleParser, Tally, INSTANT_LOOKBACK_MS};
use crate::window::Window;

pub const METRIC: &str = "pg_database_size_bytes";

#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseSize {
    pub database: String,
    /// `server` (old exporters) or `instance` label.
    pub server: String,
    pub bytes: i128,
}

pub struct DatabasesParser {
    end_ms: i64,
    latest: BTreeMap<(String, String), (i64, i128)>,
    tally: Tally,
}

impl DatabasesParser {
    pub fn new(window: &Window) -> Self {
        DatabasesParser {
            end_ms: window.end.timestamp_millis(),
            latest: BTreeMap::new(),
            tally: Tally::default(),
        }
    }

    pub fn sizes(&self) -> Vec<DatabaseSize> {
        self.latest
            .iter()
            .map(|((database, server), (_, bytes))| DatabaseSize {
                database: database.clone(),
                server: server.clone(),
                bytes: *bytes,
            })
            .collect()
    }
}

impl SampleParser for DatabasesParser {
    fn metric_names(&self) -> &'static [&'static str] {
        &[METRIC]
    }

    fn feed(&mut self, s: &MetricSample) {
        if s.name != METRIC {
            return;
        }
        self.tally.lines_read += 1;
        let Some(db) = s.label("datname") else {
            return self.tally.reject(s.name, "database size without datname");
        };
        let Some(bytes) = decimal_units(s.value, 0) else {
            return self.tally.reject(s.value, "database size is not a number");
        };
        if s.ts_ms > self.end_ms || s.ts_ms < self.end_ms - INSTANT_LOOKBACK_MS {
            return;
        }
        let server = s
            .label("server")
            .or_else(|| s.label("instance"))
            .unwrap_or("");
        let e = self
            .latest
            .entry((db.to_string(), server.to_string()))
            .or_insert((s.ts_ms, bytes));
        if s.ts_ms >= e.0 {
            *e = (s.ts_ms, bytes);
        }
    }

    fn tally(&mut self) -> &mut Tally {
        &mut self.tally
    }
}
