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
    if !(text.starts_with('{') && text.contains("\"line\"")) {
        return Cow::Borrowed(text);
    }
    if let Some(line) = fast_line(text) {
        return line;
    }
    match serde_json::from_str(text) {
        Ok(LogcliRecord { line: Some(line) }) => line,
        _ => Cow::Borrowed(text),
    }
}

/// The `line` of a record shaped as logcli writes it (`{"labels":{…},"line":"…",…}` or
/// `{"line":"…",…}`), unescaped without a general JSON parse: half the cost of reading the
/// file is here. `None` on any other shape, and the caller falls back to serde.
fn fast_line(text: &str) -> Option<Cow<'_, str>> {
    let b = text.as_bytes();
    let mut i = 1;
    if text[i..].starts_with("\"labels\":{") {
        i += "\"labels\":{".len();
        // Skip the labels object: string keys and values only, so track strings, not depth.
        loop {
            let j = i + memchr::memchr2(b'"', b'}', &b[i..])?;
            if b[j] == b'}' {
                i = j + 1;
                break;
            }
            i = skip_string(b, j + 1)?;
        }
        if b.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
    }
    let rest = text.get(i..)?;
    let rest = rest
        .strip_prefix("\"line\":")
        .or_else(|| rest.strip_prefix("\"line\": "))?;
    let start = text.len() - rest.len();
    if b.get(start) != Some(&b'"') {
        return None;
    }
    unescape(text, start + 1)
}

/// Index just past the closing quote of a JSON string whose content starts at `i`.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[j] == b'"' {
            return Some(j + 1);
        }
        i = j + 2;
    }
}

/// Decodes the JSON string whose content starts at `start` (just after the opening quote).
fn unescape(text: &str, start: usize) -> Option<Cow<'_, str>> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let mut i = start;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[j] == b'"' {
            return Some(match out {
                None => Cow::Borrowed(&text[start..j]),
                Some(mut s) => {
                    s.push_str(&text[i..j]);
                    Cow::Owned(s)
                }
            });
        }
        let s = out.get_or_insert_with(|| String::with_capacity(text.len()));
        s.push_str(&text[i..j]);
        let esc = *b.get(j + 1)?;
        i = j + 2;
        match esc {
            b'"' => s.push('"'),
            b'\\' => s.push('\\'),
            b'/' => s.push('/'),
            b'n' => s.push('\n'),
            b't' => s.push('\t'),
            b'r' => s.push('\r'),
            b'b' => s.push('\u{8}'),
            b'f' => s.push('\u{c}'),
            b'u' => {
                let hi = u32::from_str_radix(text.get(i..i + 4)?, 16).ok()?;
                i += 4;
                let c = if (0xD800..0xDC00).contains(&hi) {
                    // A surrogate pair: \uD83D\uDE00.
                    if text.get(i..i + 2)? != "\\u" {
                        return None;
                    }
                    let lo = u32::from_str_radix(text.get(i + 2..i + 6)?, 16).ok()?;
                    i += 6;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo.checked_sub(0xDC00)?))?
                } else {
                    char::from_u32(hi)?
                };
                s.push(c);
            }
            _ => return None,
        }
    }
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
            // Prometheus stores no label for an empty value (`error=""`); do the same so the
            // file and the Prometheus path see identical series.
            if !value.is_empty() {
                labels.push((key.trim().to_string(), value));
            }
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
) -> Result<
    (
        Vec<crate::sources::litellm::LlmUsage>,
        Vec<crate::sources::litellm::LlmHour>,
        Tally,
    ),
    String,
> {
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
        // A label named "line" must not be taken for the record's line.
        let label_named_line =
            r#"{"labels":{"line":"x","a}b":"c\"}"},"line":"real","timestamp":"t"}"#;
        assert_eq!(unwrap_logcli(label_named_line), "real");
    }

    #[test]
    fn fast_unwrapping_agrees_with_serde_on_every_escape() {
        let lines = [
            r"plain",
            r#"tab\there \"quoted\" back\\slash \/slash"#,
            r#"QUERY_COMPLETED: {\"a\":\"b\\\"c\"}"#,
            r"unicode \u00e9 \u20ac pair \ud83d\ude00 ctl \u0001 \b\f\n\r",
            r"",
        ];
        for l in lines {
            let rec = format!(
                r#"{{"labels":{{"namespace":"x","pod":"p-0"}},"line":"{l}","timestamp":"2026-11-30T10:00:00Z"}}"#
            );
            let fast = fast_line(&rec).expect("logcli shape");
            let via_serde: LogcliRecord = serde_json::from_str(&rec).unwrap();
            assert_eq!(fast, via_serde.line.unwrap(), "{rec}");
        }
        // Shapes the fast path does not know go to serde.
        assert!(fast_line(r#"{"timestamp":"t","line":"x"}"#).is_none());
        assert_eq!(unwrap_logcli(r#"{"timestamp":"t","line":"x"}"#), "x");
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
        parse_sample(r#"{error="",event="login"} 1 2"#, &mut labels).unwrap();
        assert_eq!(
            labels,
            [("event".to_string(), "login".to_string())],
            "empty values are no label"
        );
        let (v, _) = parse_sample(" 7 1764460800", &mut labels).unwrap();
        assert_eq!((v, labels.len()), ("7", 0));
    }
}
