//! The Loki backend: `/loki/api/v1/query_range` log queries, paged past the per-query limit.
//!
//! The window (plus the late margin, minus a source's lookback) is split into sub-ranges fetched
//! concurrently with a bounded number in flight; pages are handed to the source's parser as they
//! arrive, so memory holds a few pages, not the day. Within a sub-range, paging follows logcli:
//! forward, restart at the last timestamp seen, skip the entries already emitted there. When a
//! whole page shares one nanosecond (a burst larger than the limit), the instant is fetched again
//! per stream (`/series`), and if one stream alone holds more than the limit at one instant the
//! source is reported partial: a line is never silently lost or counted twice.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tokio::sync::{mpsc, Semaphore};

use super::http::{Endpoint, RequestStats};
use crate::config::{HttpBackend, LokiOptions};
use crate::error::SourceError;

/// The most entries Loki returns for one query (`max_entries_limit_per_query`).
pub const MAX_LIMIT: usize = 5000;

#[derive(Clone)]
pub struct Loki {
    endpoint: Endpoint,
    opts: LokiOptions,
}

/// One log entry: its stream, its nanosecond timestamp and its line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    ts: i64,
    labels: String,
    line: String,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    data: Option<serde_json::Value>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Streams {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Stream>,
}

#[derive(Deserialize)]
struct Stream {
    stream: BTreeMap<String, String>,
    values: Vec<Value>,
}

/// `[ "<ns>", "<line>" ]`, tolerating a third element (structured metadata).
struct Value(String, String);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("[timestamp, line, …]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let ts: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let line: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Value(ts, line))
            }
        }
        d.deserialize_seq(V)
    }
}

fn labels_key(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\u{1}")
}

/// Splits a LogQL log query into its stream selector `{…}` and the pipeline after it.
pub fn split_selector(query: &str) -> Option<(&str, &str)> {
    let start = query.find('{')?;
    let mut in_str: Option<char> = None;
    let mut escaped = false;
    for (i, c) in query[start..].char_indices() {
        match (in_str, c) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => in_str = None,
            (None, '"' | '`') => in_str = Some(c),
            (None, '}') => {
                let end = start + i + 1;
                return Some((&query[start..end], &query[end..]));
            }
            _ => {}
        }
        escaped = false;
    }
    None
}

fn exact_selector(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// What a Loki-backed source fetched, for the manifest.
#[derive(Debug, Default, Clone, Copy)]
pub struct LokiStats {
    pub requests: u64,
    pub retries: u64,
    pub entries: u64,
}

impl Loki {
    pub fn new(cfg: &HttpBackend, opts: &LokiOptions) -> Result<Self, SourceError> {
        let mut endpoint = Endpoint::new(cfg)?;
        endpoint.retry.attempts = opts.retries.max(1);
        Ok(Loki {
            endpoint,
            opts: opts.clone(),
        })
    }

    async fn query_range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        stats: &mut RequestStats,
    ) -> Result<Vec<Entry>, SourceError> {
        let params = [
            ("query", query.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("limit", self.opts.page_limit.to_string()),
            ("direction", "forward".to_string()),
        ];
        let body = self
            .endpoint
            .get("/loki/api/v1/query_range", &params, stats)
            .await?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            SourceError::Failed(format!("query_range: answer is not Loki JSON: {e}"))
        })?;
        if answer.status != "success" {
            return Err(SourceError::Failed(format!(
                "query_range: status {}: {}",
                answer.status,
                answer.error.unwrap_or_default()
            )));
        }
        let streams: Streams = serde_json::from_value(answer.data.unwrap_or_default())
            .map_err(|e| SourceError::Failed(format!("query_range: unexpected data: {e}")))?;
        if streams.result_type != "streams" {
            return Err(SourceError::Failed(format!(
                "query_range: expected streams, got {} (is the query a metric query?)",
                streams.result_type
            )));
        }
        let mut entries = Vec::new();
        for s in streams.result {
            let key = labels_key(&s.stream);
            for Value(ts, line) in s.values {
                let ts = ts.parse::<i64>().map_err(|_| {
                    SourceError::Failed(format!("query_range: timestamp {ts:?} is not ns"))
                })?;
                entries.push(Entry {
                    ts,
                    labels: key.clone(),
                    line,
                });
            }
        }
        entries.sort();
        Ok(entries)
    }

    async fn series(
        &self,
        selector: &str,
        start: i64,
        end: i64,
        stats: &mut RequestStats,
    ) -> Result<Vec<BTreeMap<String, String>>, SourceError> {
        let params = [
            ("match[]", selector.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
        ];
        let body = self
            .endpoint
            .get("/loki/api/v1/series", &params, stats)
            .await?;
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| SourceError::Failed(format!("series: answer is not Loki JSON: {e}")))?;
        serde_json::from_value(answer.data.unwrap_or_default())
            .map_err(|e| SourceError::Failed(format!("series: unexpected data: {e}")))
    }

    /// Every entry at exactly `ts`, fetched stream by stream.
    async fn one_instant(
        &self,
        query: &str,
        ts: i64,
        stats: &mut RequestStats,
    ) -> Result<Vec<Entry>, SourceError> {
        let (selector, pipeline) = split_selector(query).ok_or_else(|| {
            SourceError::Failed(format!("query {query:?} has no stream selector"))
        })?;
        let mut all = Vec::new();
        for labels in self.series(selector, ts, ts + 1, stats).await? {
            let q = format!("{}{pipeline}", exact_selector(&labels));
            let got = self.query_range(&q, ts, ts + 1, stats).await?;
            if got.len() >= self.opts.page_limit {
                return Err(SourceError::Failed(format!(
                    "more than {} lines share the instant {ts} ns in one stream; they cannot be \
                     paged through the Loki API (raise max_entries_limit_per_query and page_limit)",
                    self.opts.page_limit
                )));
            }
            all.extend(got);
        }
        all.sort();
        Ok(all)
    }

    /// Pages through `[start, end)`, sending each page's new entries to `tx`.
    async fn fetch_range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        tx: &mpsc::Sender<Result<Vec<String>, SourceError>>,
        stats: &mut RequestStats,
    ) -> Result<(), SourceError> {
        let limit = self.opts.page_limit;
        let mut from = start;
        // Entries at `from` already emitted by the previous page (same stream and line).
        let mut seen_at_from: HashSet<(String, String)> = HashSet::new();
        while from < end {
            let page = self.query_range(query, from, end, stats).await?;
            let full = page.len() >= limit;
            let last_ts = page.last().map(|e| e.ts);
            if full && last_ts == Some(from) {
                // The whole page is one instant: fetch it completely, then move past it.
                let burst = self.one_instant(query, from, stats).await?;
                let fresh = burst
                    .into_iter()
                    .filter(|e| !seen_at_from.contains(&(e.labels.clone(), e.line.clone())))
                    .map(|e| e.line)
                    .collect();
                send(tx, fresh).await?;
                from += 1;
                seen_at_from.clear();
                continue;
            }
            let mut fresh = Vec::with_capacity(page.len());
            let mut at_last = HashSet::new();
            for e in page {
                if e.ts == from && seen_at_from.contains(&(e.labels.clone(), e.line.clone())) {
                    continue;
                }
                if full && Some(e.ts) == last_ts {
                    at_last.insert((e.labels.clone(), e.line.clone()));
                }
                fresh.push(e.line);
            }
            send(tx, fresh).await?;
            match (full, last_ts) {
                (true, Some(ts)) => {
                    if ts != from {
                        seen_at_from.clear();
                    }
                    seen_at_from.extend(at_last);
                    from = ts;
                }
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// Streams every line of `query` in `[start, end)` (ns) into `emit`, in pages as they arrive.
    pub async fn stream(
        &self,
        query: &str,
        start: i64,
        end: i64,
        mut emit: impl FnMut(&str),
    ) -> Result<LokiStats, SourceError> {
        let deadline = self.opts.deadline;
        let work = async {
            let step = i64::try_from(self.opts.split.as_nanos())
                .unwrap_or(i64::MAX)
                .max(1);
            let (tx, mut rx) = mpsc::channel(self.opts.concurrency * 2);
            let permits = Arc::new(Semaphore::new(self.opts.concurrency));
            let mut tasks = tokio::task::JoinSet::new();
            let mut a = start;
            while a < end {
                let b = a.saturating_add(step).min(end);
                let (me, q, tx, permits) =
                    (self.clone(), query.to_string(), tx.clone(), permits.clone());
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let mut stats = RequestStats::default();
                    if let Err(e) = me.fetch_range(&q, a, b, &tx, &mut stats).await {
                        let _ = tx.send(Err(e)).await;
                    }
                    stats
                });
                a = b;
            }
            drop(tx);
            let mut out = LokiStats::default();
            let mut first_error = None;
            while let Some(page) = rx.recv().await {
                match page {
                    Ok(lines) => {
                        out.entries += lines.len() as u64;
                        lines.iter().for_each(|l| emit(l));
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                        tasks.abort_all();
                    }
                }
            }
            while let Some(done) = tasks.join_next().await {
                if let Ok(s) = done {
                    out.requests += s.requests;
                    out.retries += s.retries;
                }
            }
            match first_error {
                Some(e) => Err((e, out)),
                None => Ok(out),
            }
        };
        match tokio::time::timeout(deadline, work).await {
            Ok(Ok(stats)) => Ok(stats),
            Ok(Err((e, stats))) => Err(SourceError::Failed(format!(
                "{e} ({} requests, {} retries)",
                stats.requests, stats.retries
            ))),
            Err(_) => Err(SourceError::Failed(format!(
                "Loki did not answer the whole window within the source deadline of {}s",
                deadline.as_secs()
            ))),
        }
    }

    /// A tiny query for `akko-audit check`.
    pub async fn probe(&self) -> Result<(), SourceError> {
        let mut stats = RequestStats::default();
        self.endpoint
            .get("/loki/api/v1/labels", &[], &mut stats)
            .await
            .map(|_| ())
    }
}

async fn send(
    tx: &mpsc::Sender<Result<Vec<String>, SourceError>>,
    lines: Vec<String>,
) -> Result<(), SourceError> {
    if lines.is_empty() {
        return Ok(());
    }
    tx.send(Ok(lines))
        .await
        .map_err(|_| SourceError::Failed("the consumer stopped".to_string()))
}

/// Default sub-range length and concurrency; see `LokiOptions`.
pub const DEFAULT_SPLIT: Duration = Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_and_pipeline() {
        let (s, p) = split_selector(r#"{namespace="opa", app=~"a|b}"} |= "decision_id""#).unwrap();
        assert_eq!(s, r#"{namespace="opa", app=~"a|b}"}"#);
        assert_eq!(p, r#" |= "decision_id""#);
        let labels: BTreeMap<String, String> = [
            ("pod".to_string(), "a\"b".to_string()),
            ("ns".to_string(), "x".to_string()),
        ]
        .into();
        assert_eq!(exact_selector(&labels), r#"{ns="x", pod="a\"b"}"#);
        assert!(split_selector("no selector").is_none());
    }
}
