//! The nightly shape: every source live at once (Loki emulator, real Prometheus, real
//! PostgreSQL), `akko-audit check` probing them, and the evidence equal to the file path's.

mod support;

use std::path::Path;
use std::process::Command;

use support::job::{self, demo};
use support::loki_emulator::{load_logcli, LokiEmulator};
use support::prometheus::start_prometheus;

fn config(loki: &str, prom: &str) -> String {
    let mut c = job::demo_head();
    c.push_str(&format!(
        "[backends.loki]\nurl = \"{loki}\"\npage_limit = 10\nretries = 2\nretention = \"36500d\"\n\n\
         [backends.prometheus]\nurl = \"{prom}\"\nretention = \"36500d\"\n\n\
         [backends.postgres]\nurl_env = \"AKKO_TEST_PG_URL\"\n\n"
    ));
    for (kind, file) in [
        ("trino", "trino.jsonl"),
        ("opa", "opa.jsonl"),
        ("keycloak", "keycloak.jsonl"),
        ("jupyterhub", "jupyterhub.jsonl"),
    ] {
        c.push_str(&format!(
            "[sources.{kind}]\nbackend = \"loki\"\nselector = '{{filename=\"{file}\"}}'\n\n"
        ));
    }
    c.push_str("[sources.litellm]\nbackend = \"postgres\"\n\n");
    for kind in ["storage", "databases", "pods", "platform"] {
        c.push_str(&format!("[sources.{kind}]\nbackend = \"prometheus\"\n\n"));
    }
    c
}

fn check(cfg: &Path) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .args(["check", "--config"])
        .arg(cfg)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn every_source_live_equals_the_file_path_and_check_probes_them() {
    assert!(
        std::env::var("AKKO_TEST_PG_URL").is_ok(),
        "run through scripts/test.sh (starts PostgreSQL)"
    );
    let files: Vec<_> = [
        "trino.jsonl",
        "opa.jsonl",
        "keycloak.jsonl",
        "jupyterhub.jsonl",
    ]
    .map(demo)
    .to_vec();
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let loki = LokiEmulator::start(load_logcli(&paths));
    let prom = start_prometheus(&demo("metrics.om"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = job::write_config(dir.path(), &config(&loki.url, &prom.url));

    let (code, table) = check(&cfg);
    assert_eq!(code, Some(0), "{table}");
    assert_eq!(
        table.lines().filter(|l| l.starts_with("ok")).count(),
        3,
        "{table}"
    );

    let reference = dir.path().join("files");
    job::file_run(&reference);
    let live = dir.path().join("live");
    let o = job::run(&cfg, &live, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    job::assert_same_csvs(&reference, &live);

    drop(loki);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let (code, table) = check(&cfg);
    assert_eq!(code, Some(1), "a dead Loki must fail the check: {table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains("loki")),
        "{table}"
    );
}
