//! The Prometheus backend against a real Prometheus (Debian package) holding the demo metrics,
//! backfilled with `promtool tsdb create-blocks-from openmetrics` from the same OpenMetrics file
//! the file backend reads. scripts/test.sh installs the binaries.

mod support;

use std::path::Path;

use support::job::{self, demo};
use support::prometheus::{free_port, start_prometheus};

fn live_config(url: &str) -> String {
    let mut c = job::demo_head();
    c.push_str(&format!(
        "[backends.prometheus]\nurl = \"{url}\"\ntimeout = \"10s\"\nretention = \"36500d\"\n\n"
    ));
    for kind in ["storage", "databases", "pods", "platform"] {
        c.push_str(&format!("[sources.{kind}]\nbackend = \"prometheus\"\n\n"));
    }
    c.push_str(&job::file_sources_except(&[
        "storage",
        "databases",
        "pods",
        "platform",
    ]));
    c
}

#[test]
fn prometheus_path_gives_the_file_paths_evidence_byte_for_byte() {
    let prom = start_prometheus(&demo("metrics.om"));
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("files");
    job::file_run(&reference);
    let cfg = job::write_config(dir.path(), &live_config(&prom.url));
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
    assert_eq!(job::source_report(&live, "pods")["backend"], "prometheus");
    // Not vacuous: the live path saw real figures.
    assert!(job::column(&live, "storage_bytes").iter().any(|v| v != "0"));
    assert!(job::column(&live, "notebook_cpu_seconds")
        .iter()
        .any(|v| v != "0.000"));
}

#[test]
fn prometheus_down_leaves_its_columns_unknown_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = job::write_config(
        dir.path(),
        &live_config(&format!("http://127.0.0.1:{}", free_port())),
    );
    let out = dir.path().join("out");
    let o = job::run(&cfg, &out, &[]);
    assert_eq!(o.status.code(), Some(3));
    for col in [
        "storage_bytes",
        "notebook_cpu_seconds",
        "notebook_peak_memory_bytes",
    ] {
        assert!(
            job::column(&out, col).iter().all(String::is_empty),
            "{col} must be unknown"
        );
    }
    assert!(job::column(&out, "trino_queries")
        .iter()
        .any(|v| v != "0" && !v.is_empty()));
    assert_eq!(job::source_report(&out, "storage")["status"], "unavailable");
}

#[test]
fn a_bad_data_answer_is_an_error_with_its_type() {
    use akko_audit::backends::prometheus::Prometheus;
    use akko_audit::sources::storage::StorageParser;
    let prom = start_prometheus(&demo("metrics.om"));
    let cfg = akko_audit::config::Config::from_toml(
        &format!("[backends.prometheus]\nurl = \"{}\"\n", prom.url),
        Path::new("x.toml"),
        &|_| None,
    )
    .unwrap();
    let p = Prometheus::new(cfg.backends.prometheus.as_ref().unwrap()).unwrap();
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let w =
        akko_audit::window::Window::explicit(t("2026-11-30T00:00:00Z"), t("2026-12-01T00:00:00Z"))
            .unwrap();
    let mut parser = StorageParser::new(&w);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut stats = Default::default();
    let err = rt
        .block_on(p.feed_query(
            "sum(minio_bucket_usage_total_bytes",
            w.end.timestamp(),
            &mut parser,
            &mut stats,
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad_data"), "{err}");
    assert_eq!(stats.retries, 0, "a 400 is not retried");
}
