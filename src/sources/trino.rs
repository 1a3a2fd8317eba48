//! Trino `QueryCompletedEvent`s, in the three shapes a deployment emits:
//! the logger listener's airlift text line (`… QUERY_COMPLETED: {json}`), the same inside an
//! airlift JSON-format log line (`"message":"QUERY_COMPLETED: {json}"`), and the bare event the
//! http listener posts. Instants and durations come in several dialects (values.rs).

use std::borrow::Cow;
use std::collections::HashSet;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::values::{duration_ns, epoch_seconds_ns, rfc3339_ns};
use super::{LineParser, Tally};
use crate::window::Window;

const COMPLETED: &str = "QUERY_COMPLETED: ";

/// One completed query in the window: a row of `trino_queries.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrinoQuery {
    pub query_id: String,
    /// `context.user` as printed (identity resolution happens later).
    pub user: String,
    pub state: String,
    pub error_code: Option<String>,
    pub create_ns: Option<i64>,
    pub end_ns: i64,
    pub rows_scanned: i64,
    pub bytes_scanned: i64,
    pub cpu_ns: i64,
    pub client: Option<String>,
    pub query: String,
}

impl TrinoQuery {
    pub fn failed(&self) -> bool {
        self.state == "FAILED"
    }

    pub fn denied(&self) -> bool {
        self.error_code.as_deref() == Some("PERMISSION_DENIED")
    }
}

/// A bare event, or an airlift JSON log record (then only `message` is set): one parse for both.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    metadata: Option<Metadata<'a>>,
    statistics: Option<Statistics<'a>>,
    #[serde(borrow)]
    context: Option<Context<'a>>,
    #[serde(rename = "failureInfo", borrow)]
    failure_info: Option<FailureInfo<'a>>,
    #[serde(rename = "createTime", borrow)]
    create_time: Option<&'a RawValue>,
    #[serde(rename = "endTime", borrow)]
    end_time: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(rename = "queryId", borrow)]
    query_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    query: Option<Cow<'a, str>>,
    #[serde(rename = "queryState", borrow)]
    query_state: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Statistics<'a> {
    #[serde(rename = "cpuTime", borrow)]
    cpu_time: Option<&'a RawValue>,
    #[serde(rename = "physicalInputRows", default)]
    physical_input_rows: Option<i64>,
    #[serde(rename = "physicalInputBytes", default)]
    physical_input_bytes: Option<i64>,
}

#[derive(Deserialize)]
struct Context<'a> {
    #[serde(borrow)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct FailureInfo<'a> {
    #[serde(rename = "errorCode", borrow)]
    error_code: Option<ErrorCode<'a>>,
}

#[derive(Deserialize)]
struct ErrorCode<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

/// Parses Trino lines and keeps the completed queries that ended in the window.
pub struct TrinoParser {
    window: Window,
    seen: HashSet<String>,
    pub queries: Vec<TrinoQuery>,
    pub tally: Tally,
}

impl TrinoParser {
    pub fn new(window: Window) -> Self {
        TrinoParser {
            window,
            seen: HashSet::new(),
            queries: Vec::new(),
            tally: Tally::default(),
        }
    }

    fn event_json(&mut self, raw_line: &str, json: &str) {
        match serde_json::from_str::<Event>(json) {
            Ok(ev) => self.event(raw_line, ev),
            Err(e) => self
                .tally
                .reject(raw_line, &format!("event JSON does not parse ({e})")),
        }
    }

    fn event(&mut self, raw_line: &str, ev: Event) {
        // A created event (http listener with log-created on) has no statistics and no endTime.
        if ev.end_time.is_none() && ev.statistics.is_none() {
            self.tally.lines_skipped += 1;
            return;
        }
        let Some(md) = ev.metadata else {
            return self
                .tally
                .reject(raw_line, "completed event without metadata");
        };
        let Some(query_id) = md.query_id.filter(|q| !q.is_empty()) else {
            return self
                .tally
                .reject(raw_line, "completed event without metadata.queryId");
        };
        let Some(user) = ev.context.as_ref().and_then(|c| c.user.clone()) else {
            return self
                .tally
                .reject(raw_line, "completed event without context.user");
        };
        let Some(state) = md.query_state else {
            return self
                .tally
                .reject(raw_line, "completed event without metadata.queryState");
        };
        let Some(end_ns) = ev.end_time.and_then(instant_ns) else {
            return self
                .tally
                .reject(raw_line, "endTime missing or not an instant");
        };
        let stats = ev.statistics;
        let cpu_ns = match stats.as_ref().and_then(|s| s.cpu_time) {
            None => 0,
            Some(raw) => match duration_ns(raw.get()) {
                Some(ns) => ns,
                None => {
                    return self
                        .tally
                        .reject(raw_line, "statistics.cpuTime not a duration")
                }
            },
        };
        if !self.seen.insert(query_id.to_string()) {
            return; // the same query reported twice (two listeners, or a re-shipped line)
        }
        if !self.window.contains_ns(end_ns) {
            return;
        }
        self.queries.push(TrinoQuery {
            query_id: query_id.into_owned(),
            user: user.into_owned(),
            state: state.into_owned(),
            error_code: ev
                .failure_info
                .and_then(|f| f.error_code)
                .and_then(|c| c.name)
                .map(Cow::into_owned),
            create_ns: ev.create_time.and_then(instant_ns),
            end_ns,
            rows_scanned: stats
                .as_ref()
                .and_then(|s| s.physical_input_rows)
                .unwrap_or(0),
            bytes_scanned: stats
                .as_ref()
                .and_then(|s| s.physical_input_bytes)
                .unwrap_or(0),
            cpu_ns,
            client: ev.context.and_then(|c| c.source).map(Cow::into_owned),
            query: md.query.map(Cow::into_owned).unwrap_or_default(),
        });
    }
}

/// An instant as epoch-seconds number or RFC 3339 string.
fn instant_ns(raw: &RawValue) -> Option<i64> {
    let t = raw.get().trim();
    if let Some(s) = t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        rfc3339_ns(s)
    } else {
        epoch_seconds_ns(t)
    }
}

impl LineParser for TrinoParser {
    fn feed(&mut self, line: &str) {
        self.tally.lines_read += 1;
        let trimmed = line.trim();
        if trimmed.starts_with('{') {
            return match serde_json::from_str::<Event>(trimmed) {
                // An airlift JSON log line: the event, if any, is inside the message.
                Ok(Event {
                    message: Some(msg),
                    metadata: None,
                    ..
                }) => match msg.find(COMPLETED) {
                    Some(i) => self.event_json(line, &msg[i + COMPLETED.len()..]),
                    None => self.tally.lines_skipped += 1,
                },
                // A bare event from the http listener.
                Ok(ev) => self.event(line, ev),
                // Another source's JSON sharing the stream is not ours: an event has metadata.
                Err(_) if !trimmed.contains("\"metadata\"") && !trimmed.contains(COMPLETED) => {
                    self.tally.lines_skipped += 1
                }
                Err(e) => self
                    .tally
                    .reject(line, &format!("event JSON does not parse ({e})")),
            };
        }
        if let Some(i) = trimmed.find(COMPLETED) {
            let json = &trimmed[i + COMPLETED.len()..];
            return self.event_json(line, json);
        }
        // QUERY_CREATED lines and the rest of the server log are not ours.
        self.tally.lines_skipped += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        crate::window::test_day()
    }

    const ISO: &str = r#"{"metadata":{"queryId":"q1","query":"SELECT 1","queryState":"FINISHED"},"statistics":{"cpuTime":3.412000000,"wallTime":2.0,"physicalInputBytes":700,"physicalInputRows":12},"context":{"user":"Alice","source":"trino-cli"},"ioMetadata":{"inputs":[]},"warnings":[],"createTime":"2026-11-30T10:15:00.012Z","endTime":"2026-11-30T10:15:02.101Z"}"#;

    #[test]
    fn text_listener_line() {
        let mut p = TrinoParser::new(window());
        p.feed(&format!("2026-11-30T10:15:02.117Z\tINFO\tdispatcher-query-42\tio.trino.plugin.eventlistener.logger.LoggerEventListener\tQUERY_COMPLETED: {ISO}"));
        assert_eq!(p.queries.len(), 1);
        let q = &p.queries[0];
        assert_eq!(
            (q.user.as_str(), q.rows_scanned, q.bytes_scanned, q.cpu_ns),
            ("Alice", 12, 700, 3_412_000_000)
        );
        assert_eq!(q.client.as_deref(), Some("trino-cli"));
    }

    #[test]
    fn airlift_json_log_line_and_duplicate_bare_event() {
        let mut p = TrinoParser::new(window());
        let record = serde_json::json!({
            "timestamp": "2026-11-30T10:15:02.117Z", "level": "INFO",
            "logger": "io.trino.plugin.eventlistener.logger.LoggerEventListener",
            "message": format!("QUERY_COMPLETED: {ISO}"),
        });
        p.feed(&record.to_string());
        p.feed(ISO);
        assert_eq!(p.queries.len(), 1, "same queryId counted once");
        assert_eq!(p.tally.lines_read, 2);
        assert_eq!(p.tally.lines_rejected, 0);
    }

    #[test]
    fn numeric_instants_and_pt_durations() {
        let mut p = TrinoParser::new(window());
        p.feed(r#"{"metadata":{"queryId":"q2","queryState":"FAILED"},"statistics":{"cpuTime":"PT1M2.5S","physicalInputRows":5},"context":{"user":"bob"},"failureInfo":{"errorCode":{"code":4,"name":"PERMISSION_DENIED","type":"USER_ERROR"}},"createTime":1796033700.5,"endTime":1796033702.117000000}"#);
        p.feed(r#"{"metadata":{"queryId":"q3","queryState":"FINISHED"},"statistics":{"cpuTime":"1.50s"},"context":{"user":"bob"},"endTime":"2026-11-30T23:59:59.999Z"}"#);
        assert_eq!(p.queries.len(), 2);
        assert!(p.queries[0].failed() && p.queries[0].denied());
        assert_eq!(p.queries[0].cpu_ns, 62_500_000_000);
        assert_eq!(p.queries[1].cpu_ns, 1_500_000_000);
    }

    #[test]
    fn window_edges_created_events_and_garbage() {
        let mut p = TrinoParser::new(window());
        let at = |id: &str, end: &str| {
            format!(
                r#"x QUERY_COMPLETED: {{"metadata":{{"queryId":"{id}","queryState":"FINISHED"}},"statistics":{{"cpuTime":0.0}},"context":{{"user":"c"}},"endTime":"{end}"}}"#
            )
        };
        p.feed(&at("a", "2026-11-29T23:59:59.999Z"));
        p.feed(&at("b", "2026-11-30T00:00:00.000Z"));
        p.feed(&at("c", "2026-12-01T00:00:00.000Z"));
        p.feed(r#"2026-11-30T10:15:00.012Z	INFO	q	io.trino.plugin.eventlistener.logger.LoggerEventListener	QUERY_CREATED: {"metadata":{"queryId":"z"}}"#);
        p.feed(r#"{"createTime":"2026-11-30T10:15:00.012Z","context":{"user":"c"},"metadata":{"queryId":"z","queryState":"QUEUED"}}"#);
        p.feed("2026-11-30T10:15:00.012Z\tINFO\tmain\tio.trino.server.Server\t======== SERVER STARTED ========");
        p.feed(r#"x QUERY_COMPLETED: {"metadata":{"queryId":"t""#);
        p.feed(r#"{"metadata":{"queryState":"FINISHED"},"statistics":{},"context":{"user":"c"},"endTime":"2026-11-30T01:00:00Z"}"#);
        let ids: Vec<_> = p.queries.iter().map(|q| q.query_id.as_str()).collect();
        assert_eq!(ids, ["b"]);
        assert_eq!(p.tally.lines_skipped, 3);
        assert_eq!(p.tally.lines_rejected, 2);
        assert!(p.tally.reject_samples[1].contains("queryId"));
    }
}
