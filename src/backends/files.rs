//! The file backend: what an admin can export by hand, so an auditor can run the job on archived
//! evidence past Loki's retention. Everything is streamed: one line (or CSV record) in memory at
//! a time.
//!
//! - logs: `logcli query --output=jsonl` (`{"labels":{…},"line":"…","timestamp":"…"}` per line);
//!   a line that is not such a wrapper is taken as the raw log line itself, so plain exports work.
//! - metrics: OpenMetrics text, the same file `promtool tsdb create-blocks-from openmetrics`
//!   backfills into Prometheus (timestamps in seconds).
//! - LiteLLM: the CSV `\copy "LiteLLM_SpendLogs" TO … CSV HEADER` writes.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::SourceError;
use crate::sources::litellm::SpendLogParser;
use crate::sources::values::decimal_units;
use crate::sources::{LineParser, MetricSample, SampleParser, Tally};
use crate::window::Window;

fn open(path: &Path) -> Result<BufReader<File>, SourceError> {
    File::open(path)
        .map(|f| BufReader::with_capacity(1 << 20, f))
        .map_err(|source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Calls `f` with each line of `path` (without the line break; invalid UTF-8 replaced).
fn for_each_line(path: &Path, mut f: impl FnMut(&str)) -> Result<(), SourceError> {
    let mut reader = open(path)?;
    let mut buf = Vec::with_capacity(1 << 16);
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        if buf.is_empty() {
            continue;
        }
        f(&String::from_utf8_lossy(&buf));
    }
}

#[derive(Deserialize)]
struct LogcliRecord<'a> {
    #[serde(borrow)]
    line: Option<Cow<'a, str>>,
}

/// Unwraps one logcli jsonl record; anything else is already the raw line.
pub fn unwrap_logcli(text: &str) -> Cow<'_, str> {
    // Cheap pre-check first: bare JSON events without a "line" key skip the second parse.
    if text.starts_with('{') && text.contains("\"line\"") {
        if let Ok(LogcliRecord { line: Some(line) }) = serde_json::from_str(text) {
            return line;
        }
    }
    Cow::Borrowed(text)
}

/// Streams every log line of `files` into `parser`.
pub fn read_logs(files: &[PathBuf], parser: &mut dyn LineParser) -> Result<(), SourceError> {
    for path in files {
        for_each_line(path, |text| parser.feed(&unwrap_logcli(text)))?;
    }
    Ok(())
}

/// Streams every sample of `files` whose name the parser wants into it.
pub fn read_metrics(files: &[PathBuf], parser: &mut dyn SampleParser) -> Result<(), SourceError> {
    let wanted = parser.metric_names();
    let mut labels: Vec<(String, String)> = Vec::new();
    for path in files {
        for_each_line(path, |text| {
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                return;
            }
            let name_end = text.find(['{', ' ']).unwrap_or(text.len());
            let name = &text[..name_end];
            if !wanted.contains(&name) {
                return;
            }
            match parse_sample(&text[name_end..], &mut labels) {
                Ok((value, ts_ms)) => parser.feed(&MetricSample {
                    name,
                    labels: &labels,
                    value,
                    ts_ms,
                }),
                Err(reason) => {
                    let t = parser.tally();
                    t.lines_read += 1;
                    t.reject(text, reason);
                }
            }
        })?;
    }
    Ok(())
}

/// Parses `{k="v",…} value timestamp` after the metric name.
fn parse_sample<'a>(
    rest: &'a str,
    labels: &mut Vec<(String, String)>,
) -> Result<(&'a str, i64), &'static str> {
    labels.clear();
    let mut rest = rest;
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let consumed;
        loop {
            while matches!(chars.peek(), Some((_, ' ' | ','))) {
                chars.next();
            }
            match chars.peek() {
                Some((i, '}')) => {
                    consumed = i + 1;
                    break;
                }
                None => return Err("unterminated label set"),
                _ => {}
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value is not quoted");
            }
            let mut value = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => return Err("dangling escape in label value"),
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err("unterminated label value");
            }
            labels.push((key.trim().to_string(), value));
        }
        rest = &body[consumed..];
    }
    let mut parts = rest.split_whitespace();
    let value = parts.next().ok_or("sample without a value")?;
    let ts = parts.next().ok_or("sample without a timestamp")?;
    let ts_ms = decimal_units(ts, 3)
        .and_then(|v| i64::try_from(v).ok())
        .ok_or("timestamp is not a number of seconds")?;
    Ok((value, ts_ms))
}

/// Streams the spend-log CSV exports into per-(user, model) usage; one parser spans all files so
/// a request exported twice counts once.
pub fn read_spend_logs(
    files: &[PathBuf],
    window: &Window,
) -> Result<(Vec<crate::sources::litellm::LlmUsage>, Tally), String> {
    let mut parser = SpendLogParser::new(window.clone());
    let mut record = csv::StringRecord::new();
    for path in files {
        let reader = open(path).map_err(|e| e.to_string())?;
        let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let header = csv
            .headers()
            .map_err(|e| format!("{}: cannot read the CSV header: {e}", path.display()))?
            .clone();
        let header: Vec<&str> = header.iter().collect();
        parser
            .header(&header)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        loop {
            match csv.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let fields: Vec<&str> = record.iter().collect();
                    parser.feed(&fields);
                }
                Err(e) if e.is_io_error() => return Err(format!("{}: {e}", path.display())),
                Err(e) => {
                    parser.tally.lines_read += 1;
                    parser
                        .tally
                        .reject(&e.to_string(), "CSV record does not parse");
                }
            }
        }
    }
    Ok(parser.usage())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logcli_records_and_raw_lines() {
        let rec = r#"{"labels":{"namespace":"opa"},"line":"{\"msg\":\"Decision Log\"}","timestamp":"2026-11-30T10:00:00.123456789Z"}"#;
        assert_eq!(unwrap_logcli(rec), r#"{"msg":"Decision Log"}"#);
        let no_labels = r#"{"line": "plain text", "timestamp": "2026-11-30T10:00:00Z"}"#;
        assert_eq!(unwrap_logcli(no_labels), "plain text");
        let sql_mentions_line = r#"{"metadata":{"query":"SELECT \"line\" FROM t"}}"#;
        assert_eq!(unwrap_logcli(sql_mentions_line), sql_mentions_line);
        let bare = r#"{"decision_id":"x","msg":"Decision Log"}"#;
        assert_eq!(unwrap_logcli(bare), bare);
        assert_eq!(unwrap_logcli("2026-11-30 INFO x"), "2026-11-30 INFO x");
    }

    #[test]
    fn openmetrics_samples() {
        let mut labels = Vec::new();
        let (v, ts) = parse_sample(
            r#"{bucket="home-alice",server="minio-0:9000",note="a \"q\" b"} 5.36870912e+09 1764460800.5"#,
            &mut labels,
        )
        .unwrap();
        assert_eq!((v, ts), ("5.36870912e+09", 1_764_460_800_500));
        assert_eq!(labels[2].1, "a \"q\" b");
        assert!(parse_sample(" 1", &mut labels).is_err());
        assert!(parse_sample(r#"{a="b} 1 2"#, &mut labels).is_err());
        let (v, _) = parse_sample(" 7 1764460800", &mut labels).unwrap();
        assert_eq!((v, labels.len()), ("7", 0));
    }
}
