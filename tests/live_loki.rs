//! The Loki backend against the Loki API emulator: the same ledger as the file path, through
//! paging, retries, faults, a dead Loki, a slow Loki and same-instant bursts.

mod support;

use std::path::Path;
use std::time::Duration;

use akko_audit::backends::loki::Loki;
use akko_audit::config::{HttpBackend, LokiOptions};
use support::job::{self, demo};
use support::loki_emulator::{load_logcli, Entry, Faults, LokiEmulator};

const LOG_SOURCES: [(&str, &str); 4] = [
    ("trino", "trino.jsonl"),
    ("opa", "opa.jsonl"),
    ("keycloak", "keycloak.jsonl"),
    ("jupyterhub", "jupyterhub.jsonl"),
];

fn demo_loki() -> LokiEmulator {
    let files: Vec<_> = LOG_SOURCES.iter().map(|(_, f)| demo(f)).collect();
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    LokiEmulator::start(load_logcli(&paths))
}

/// The demo config with the four log sources read from Loki (`backend_extra` tunes paging).
fn live_config(url: &str, backend_extra: &str) -> String {
    let mut c = job::demo_head();
    // The demo day is pinned in 2026-11: keep it inside Loki's retention unless a test says.
    let retention = if backend_extra.contains("retention") {
        ""
    } else {
        "retention = \"36500d\"\n"
    };
    c.push_str(&format!(
        "[backends.loki]\nurl = \"{url}\"\n{retention}{backend_extra}\n\n"
    ));
    for (kind, file) in LOG_SOURCES {
        c.push_str(&format!(
            "[sources.{kind}]\nbackend = \"loki\"\nselector = '{{filename=\"{file}\"}}'\n\n"
        ));
    }
    c.push_str(&job::file_sources_except(&[
        "trino",
        "opa",
        "keycloak",
        "jupyterhub",
    ]));
    c
}

#[test]
fn loki_path_gives_the_file_paths_evidence_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("files");
    job::file_run(&reference);
    let loki = demo_loki();
    // Small pages and sub-ranges make the demo day cross many page and range boundaries.
    let cfg = job::write_config(
        dir.path(),
        &live_config(&loki.url, "page_limit = 3\nsplit = \"3h\"\nconcurrency = 3"),
    );
    let live = dir.path().join("live");
    let o = job::run(&cfg, &live, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    job::assert_same_csvs(&reference, &live);
    assert!(
        loki.requests() > 60,
        "paging should have taken many requests, took {}",
        loki.requests()
    );
    let trino = job::source_report(&live, "trino");
    assert_eq!(trino["backend"], "loki");
    assert!(
        trino["notes"][0].as_str().unwrap().contains("requests"),
        "{trino}"
    );
}

#[test]
fn bursts_of_429_and_every_7th_request_failing_give_the_same_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("files");
    job::file_run(&reference);
    let loki = demo_loki();
    loki.set_faults(Faults {
        every: Some((7, 500)),
        burst: vec![429, 429, 429, 503],
        latency: Duration::ZERO,
    });
    let cfg = job::write_config(
        dir.path(),
        &live_config(&loki.url, "page_limit = 5\nretries = 8"),
    );
    let live = dir.path().join("live");
    let o = job::run(&cfg, &live, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    job::assert_same_csvs(&reference, &live);
    let retries: u64 = LOG_SOURCES
        .iter()
        .map(|(k, _)| {
            let note = job::source_report(&live, k)["notes"][0]
                .as_str()
                .unwrap()
                .to_string();
            let n = note
                .split('(')
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap();
            n
        })
        .sum();
    assert!(
        retries >= 4,
        "the injected faults must have been retried ({retries})"
    );
}

#[test]
fn loki_down_leaves_its_columns_unknown_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let url = {
        let gone = demo_loki();
        gone.url.clone()
    };
    std::thread::sleep(Duration::from_millis(100));
    let cfg = job::write_config(dir.path(), &live_config(&url, "retries = 2"));
    let out = dir.path().join("out");
    let o = job::run(&cfg, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    for col in ["trino_queries", "opa_denials", "logins", "notebook_seconds"] {
        assert!(
            job::column(&out, col).iter().all(String::is_empty),
            "{col} must be unknown, not zero"
        );
    }
    assert!(job::column(&out, "llm_requests")
        .iter()
        .any(|v| !v.is_empty() && v != "0"));
    let r = job::source_report(&out, "opa");
    assert_eq!(r["status"], "unavailable");
    assert!(r["error"].as_str().unwrap().contains("gave up"), "{r}");
    assert_eq!(job::manifest(&out)["status"], "partial");
}

#[test]
fn a_loki_slower_than_the_deadline_is_reported_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let loki = demo_loki();
    loki.set_faults(Faults {
        latency: Duration::from_millis(400),
        ..Faults::default()
    });
    let cfg = job::write_config(
        dir.path(),
        &live_config(&loki.url, "page_limit = 2\ndeadline = \"2s\""),
    );
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let o = job::run(&cfg, &out, &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(started.elapsed() < Duration::from_secs(30));
    let r = job::source_report(&out, "trino");
    assert_ne!(r["status"], "complete");
    assert!(r["error"].as_str().unwrap().contains("deadline"), "{r}");
    assert!(job::column(&out, "trino_queries")
        .iter()
        .all(String::is_empty));
}

#[test]
fn a_window_older_than_lokis_retention_is_partial_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    let loki = demo_loki();
    // The demo day (2026-11-30) is more than a day before any real "now" this test runs at.
    let cfg = job::write_config(dir.path(), &live_config(&loki.url, "retention = \"1d\""));
    let out = dir.path().join("out");
    let o = job::run(&cfg, &out, &[]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        loki.requests(),
        0,
        "nothing is asked of a server that no longer holds the window"
    );
    let r = job::source_report(&out, "trino");
    assert_eq!(r["status"], "unavailable");
    assert!(r["error"].as_str().unwrap().contains("retention"), "{r}");
    assert!(job::column(&out, "trino_queries")
        .iter()
        .all(String::is_empty));
}

fn backend(url: &str) -> HttpBackend {
    HttpBackend {
        url: url.to_string(),
        tenant: None,
        username: None,
        password_env: None,
        password_file: None,
        bearer_token_file: None,
        ca_file: None,
        timeout: Duration::from_secs(10),
        retention: Duration::from_secs(36500 * 86_400),
        loki: LokiOptions::default(),
    }
}

fn entry(ts: i64, pod: &str, line: String) -> Entry {
    Entry {
        ts,
        labels: [
            ("namespace".to_string(), "opa".to_string()),
            ("pod".to_string(), pod.to_string()),
        ]
        .into(),
        line,
    }
}

fn fetch_all(url: &str, opts: LokiOptions) -> Result<Vec<String>, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let loki = Loki::new(&backend(url), &opts).unwrap();
    let mut lines = Vec::new();
    rt.block_on(loki.stream(
        r#"{namespace="opa"} |= "decision""#,
        0,
        10_000_000_000,
        |l| lines.push(l.to_string()),
    ))
    .map(|_| lines)
    .map_err(|e| e.to_string())
}

#[test]
fn twelve_thousand_lines_in_one_nanosecond_cross_pages_without_loss_or_duplicates() {
    let t = 5_000_000_000;
    let mut entries = Vec::new();
    for i in 0..12_000 {
        entries.push(entry(t, &format!("opa-{}", i % 3), format!("decision {i}")));
    }
    for i in 0..50 {
        entries.push(entry(t - 1 - i, "opa-0", format!("decision before {i}")));
        entries.push(entry(t + 1 + i, "opa-1", format!("decision after {i}")));
        entries.push(entry(t + 1 + i, "opa-2", "noise".to_string()));
    }
    let loki = LokiEmulator::start(entries);
    let lines = fetch_all(&loki.url, LokiOptions::default()).unwrap();
    assert_eq!(lines.len(), 12_100);
    let unique: std::collections::HashSet<&String> = lines.iter().collect();
    assert_eq!(unique.len(), 12_100, "no line twice");
    assert!(lines.iter().all(|l| l.starts_with("decision")));
}

#[test]
fn one_stream_with_more_than_the_limit_in_one_instant_is_an_error_not_a_loss() {
    let entries: Vec<Entry> = (0..30)
        .map(|i| entry(7, "opa-0", format!("decision {i}")))
        .collect();
    let loki = LokiEmulator::start(entries);
    let opts = LokiOptions {
        page_limit: 10,
        ..LokiOptions::default()
    };
    let err = fetch_all(&loki.url, opts).unwrap_err();
    assert!(err.contains("share the instant"), "{err}");
}

#[test]
fn the_emulator_refuses_a_limit_above_5000_like_loki() {
    use std::io::{Read, Write};
    let loki = LokiEmulator::start(vec![entry(1, "opa-0", "decision".into())]);
    let mut s = std::net::TcpStream::connect(loki.url.trim_start_matches("http://")).unwrap();
    write!(s, "GET /loki/api/v1/query_range?query=%7Bnamespace%3D%22opa%22%7D&limit=5001&start=0&end=10 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("max entries limit"), "{answer}");
}
