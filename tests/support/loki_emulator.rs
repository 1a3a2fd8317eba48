//! A Loki HTTP API emulator serving logcli jsonl exports, for tests and the benchmark.
//!
//! Faithful where the job depends on it: `GET /loki/api/v1/query_range` with label matchers
//! (`=`, `!=`, `=~`, `!~`, regexes fully anchored) and line filters (`|=`, `!=`, `|~`, `!~`),
//! `start` inclusive and `end` exclusive in nanoseconds (or RFC 3339), `limit` (default 100; a
//! limit above 5000 is refused with 400 like `max_entries_limit_per_query`), `direction`
//! (default backward), the entries with the lowest (forward) or highest (backward) timestamps
//! across all streams, answered as `{"status":"success","data":{"resultType":"streams",...}}`
//! with ns timestamps as strings; `/loki/api/v1/series`, `/loki/api/v1/labels`, `/ready`.
//! Faults: every Nth request answered with a status, a burst of statuses, added latency.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const MAX_ENTRIES: usize = 5000;

#[derive(Debug, Clone)]
pub struct Entry {
    pub ts: i64,
    pub labels: BTreeMap<String, String>,
    pub line: String,
}

#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer every Nth request (1-based count) with this status.
    pub every: Option<(u64, u16)>,
    /// Answer the next requests with these statuses, in order.
    pub burst: Vec<u16>,
    /// Sleep before answering.
    pub latency: Duration,
}

struct State {
    entries: Vec<Entry>,
    faults: Mutex<Faults>,
    requests: AtomicU64,
    served_lines: AtomicU64,
    stop: AtomicBool,
}

pub struct LokiEmulator {
    pub url: String,
    state: Arc<State>,
    addr: std::net::SocketAddr,
}

impl Drop for LokiEmulator {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads logcli jsonl files; each entry also gets `filename=<file name>`, as promtail adds.
pub fn load_logcli(files: &[&Path]) -> Vec<Entry> {
    let mut out = Vec::new();
    for f in files {
        let filename = f.file_name().unwrap().to_string_lossy().to_string();
        let reader = BufReader::new(std::fs::File::open(f).unwrap());
        for raw in reader
            .lines()
            .map(Result::unwrap)
            .filter(|l| !l.trim().is_empty())
        {
            let raw = raw.as_str();
            let v: serde_json::Value = serde_json::from_str(raw).expect("logcli jsonl record");
            let mut labels: BTreeMap<String, String> = v["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default();
            labels.insert("filename".into(), filename.clone());
            let ts = chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap())
                .unwrap()
                .timestamp_nanos_opt()
                .unwrap();
            out.push(Entry {
                ts,
                labels,
                line: v["line"].as_str().unwrap().to_string(),
            });
        }
    }
    out
}

impl LokiEmulator {
    pub fn start(entries: Vec<Entry>) -> Self {
        Self::start_at("127.0.0.1:0", entries)
    }

    /// Serves on `addr` (`127.0.0.1:0` picks a free port).
    pub fn start_at(addr: &str, mut entries: Vec<Entry>) -> Self {
        entries.sort_by(|a, b| (a.ts, &a.labels, &a.line).cmp(&(b.ts, &b.labels, &b.line)));
        // Loki drops an entry identical in stream, timestamp and line to one it has.
        entries.dedup_by(|a, b| a.ts == b.ts && a.labels == b.labels && a.line == b.line);
        let listener = TcpListener::bind(addr).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            entries,
            faults: Mutex::new(Faults::default()),
            requests: AtomicU64::new(0),
            served_lines: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let st = st.clone();
                    std::thread::spawn(move || serve(conn, &st));
                }
            }
        });
        LokiEmulator {
            url: format!("http://{addr}"),
            state,
            addr,
        }
    }

    pub fn set_faults(&self, f: Faults) {
        *self.state.faults.lock().unwrap() = f;
    }

    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    pub fn served_lines(&self) -> u64 {
        self.state.served_lines.load(Ordering::SeqCst)
    }
}

fn serve(mut conn: TcpStream, st: &State) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut content_length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; content_length];
    let _ = reader.read_exact(&mut body);
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut params = parse_form(query);
    params.extend(parse_form(&String::from_utf8_lossy(&body)));
    let n = st.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let fault = {
        let mut f = st.faults.lock().unwrap();
        std::thread::sleep(f.latency);
        if !f.burst.is_empty() {
            Some(f.burst.remove(0))
        } else {
            f.every
                .and_then(|(every, status)| n.is_multiple_of(every).then_some(status))
        }
    };
    let (status, json) = match fault {
        Some(s) => (
            s,
            format!("{{\"status\":\"error\",\"error\":\"injected fault {s}\"}}"),
        ),
        None => route(path, &params, st),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
}

fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

fn time_param(v: Option<&str>, default: i64) -> Result<i64, String> {
    match v {
        None => Ok(default),
        Some(v) => v.parse::<i64>().or_else(|_| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.timestamp_nanos_opt().unwrap())
                .map_err(|_| format!("invalid time {v:?}"))
        }),
    }
}

fn bad(msg: &str) -> (u16, String) {
    (
        400,
        serde_json::json!({"status": "error", "errorType": "bad_data", "error": msg}).to_string(),
    )
}

fn route(path: &str, p: &[(String, String)], st: &State) -> (u16, String) {
    match path {
        "/ready" => (200, "ready".into()),
        "/loki/api/v1/labels" => {
            let names: BTreeSet<&String> =
                st.entries.iter().flat_map(|e| e.labels.keys()).collect();
            (
                200,
                serde_json::json!({"status": "success", "data": names}).to_string(),
            )
        }
        "/loki/api/v1/series" => {
            let Some(sel) = param(p, "match[]") else {
                return bad("match[] is required");
            };
            let q = match Query::parse(sel) {
                Ok(q) => q,
                Err(e) => return bad(&e),
            };
            let (start, end) = match (
                time_param(param(p, "start"), 0),
                time_param(param(p, "end"), i64::MAX),
            ) {
                (Ok(s), Ok(e)) => (s, e),
                _ => return bad("invalid start/end"),
            };
            let set: BTreeSet<&BTreeMap<String, String>> = st
                .entries
                .iter()
                .filter(|e| e.ts >= start && e.ts < end && q.matches_labels(&e.labels))
                .map(|e| &e.labels)
                .collect();
            (
                200,
                serde_json::json!({"status": "success", "data": set}).to_string(),
            )
        }
        "/loki/api/v1/query_range" => query_range(p, st),
        _ => (404, "{\"status\":\"error\",\"error\":\"not found\"}".into()),
    }
}

fn query_range(p: &[(String, String)], st: &State) -> (u16, String) {
    let Some(text) = param(p, "query") else {
        return bad("query is required");
    };
    let q = match Query::parse(text) {
        Ok(q) => q,
        Err(e) => return bad(&e),
    };
    let limit: usize = match param(p, "limit").map(str::parse).unwrap_or(Ok(100)) {
        Ok(l) => l,
        Err(_) => return bad("invalid limit"),
    };
    if limit > MAX_ENTRIES {
        return bad(&format!("max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {MAX_ENTRIES})"));
    }
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let (start, end) = match (
        time_param(param(p, "start"), now - 3_600_000_000_000),
        time_param(param(p, "end"), now),
    ) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return bad(&e),
    };
    let forward = match param(p, "direction").unwrap_or("backward") {
        "forward" => true,
        "backward" => false,
        d => return bad(&format!("invalid direction {d:?}")),
    };
    let lo = st.entries.partition_point(|e| e.ts < start);
    let hi = st.entries.partition_point(|e| e.ts < end);
    let window = &st.entries[lo..hi];
    let picked: Vec<&Entry> = if forward {
        window.iter().filter(|e| q.matches(e)).take(limit).collect()
    } else {
        window
            .iter()
            .rev()
            .filter(|e| q.matches(e))
            .take(limit)
            .collect()
    };
    st.served_lines
        .fetch_add(picked.len() as u64, Ordering::SeqCst);
    let mut streams: BTreeMap<&BTreeMap<String, String>, Vec<[String; 2]>> = BTreeMap::new();
    for e in picked {
        streams
            .entry(&e.labels)
            .or_default()
            .push([e.ts.to_string(), e.line.clone()]);
    }
    let result: Vec<serde_json::Value> = streams
        .into_iter()
        .map(|(labels, values)| serde_json::json!({"stream": labels, "values": values}))
        .collect();
    let body = serde_json::json!({
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": result,
            "stats": {"summary": {"bytesProcessedPerSecond": 0, "linesProcessedPerSecond": 0, "totalBytesProcessed": 0, "totalLinesProcessed": 0, "execTime": 0.001}}
        }
    });
    (200, body.to_string())
}

enum LabelOp {
    Eq(String),
    Ne(String),
    Re(regex::Regex),
    Nre(regex::Regex),
}

enum LineOp {
    Contains(String),
    NotContains(String),
    Re(regex::Regex),
    Nre(regex::Regex),
}

/// A parsed log query: a stream selector and line filters (nothing else is supported; a metric
/// query or a parser stage is refused with 400, as an unsupported feature should be).
struct Query {
    labels: Vec<(String, LabelOp)>,
    lines: Vec<LineOp>,
}

fn read_string(s: &str) -> Result<(String, &str), String> {
    let s = s.trim_start();
    if let Some(rest) = s.strip_prefix('`') {
        let end = rest.find('`').ok_or("unterminated raw string")?;
        return Ok((rest[..end].to_string(), &rest[end + 1..]));
    }
    let rest = s
        .strip_prefix('"')
        .ok_or_else(|| format!("expected a string at {s:?}"))?;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    out.push(match n {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                }
            }
            '"' => return Ok((out, &rest[i + 1..])),
            c => out.push(c),
        }
    }
    Err("unterminated string".into())
}

impl Query {
    fn parse(text: &str) -> Result<Query, String> {
        let mut s = text
            .trim()
            .strip_prefix('{')
            .ok_or("a log query starts with {")?;
        let mut labels = Vec::new();
        loop {
            s = s.trim_start().trim_start_matches(',').trim_start();
            if let Some(rest) = s.strip_prefix('}') {
                s = rest;
                break;
            }
            let name_end = s
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .ok_or("bad matcher")?;
            let name = s[..name_end].to_string();
            s = s[name_end..].trim_start();
            let (op, rest) = ["=~", "!~", "!=", "="]
                .iter()
                .find_map(|op| s.strip_prefix(op).map(|r| (*op, r)))
                .ok_or_else(|| format!("bad matcher operator at {s:?}"))?;
            let (value, rest) = read_string(rest)?;
            s = rest;
            let anchored =
                || regex::Regex::new(&format!("^(?:{value})$")).map_err(|e| e.to_string());
            labels.push((
                name,
                match op {
                    "=" => LabelOp::Eq(value.clone()),
                    "!=" => LabelOp::Ne(value.clone()),
                    "=~" => LabelOp::Re(anchored()?),
                    _ => LabelOp::Nre(anchored()?),
                },
            ));
        }
        if labels.is_empty() {
            return Err("queries require at least one matcher".into());
        }
        let mut lines = Vec::new();
        loop {
            s = s.trim_start();
            if s.is_empty() {
                break;
            }
            let (op, rest) = ["|=", "!=", "|~", "!~"]
                .iter()
                .find_map(|op| s.strip_prefix(op).map(|r| (*op, r)))
                .ok_or_else(|| format!("unsupported pipeline stage at {s:?}"))?;
            let (value, rest) = read_string(rest)?;
            s = rest;
            let re = || regex::Regex::new(&value).map_err(|e| e.to_string());
            lines.push(match op {
                "|=" => LineOp::Contains(value.clone()),
                "!=" => LineOp::NotContains(value.clone()),
                "|~" => LineOp::Re(re()?),
                _ => LineOp::Nre(re()?),
            });
        }
        Ok(Query { labels, lines })
    }

    fn matches_labels(&self, l: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(name, op)| {
            let v = l.get(name).map(String::as_str).unwrap_or("");
            match op {
                LabelOp::Eq(x) => v == x,
                LabelOp::Ne(x) => v != x,
                LabelOp::Re(r) => r.is_match(v),
                LabelOp::Nre(r) => !r.is_match(v),
            }
        })
    }

    fn matches(&self, e: &Entry) -> bool {
        self.matches_labels(&e.labels)
            && self.lines.iter().all(|f| match f {
                LineOp::Contains(x) => e.line.contains(x.as_str()),
                LineOp::NotContains(x) => !e.line.contains(x.as_str()),
                LineOp::Re(r) => r.is_match(&e.line),
                LineOp::Nre(r) => !r.is_match(&e.line),
            })
    }
}
