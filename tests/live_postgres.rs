//! The PostgreSQL backend against a real PostgreSQL holding the real `"LiteLLM_SpendLogs"` schema
//! and the demo rows (scripts/test-services.sh loads them and exports AKKO_TEST_PG_URL).

mod support;

use support::job;

fn pg_url() -> String {
    std::env::var("AKKO_TEST_PG_URL")
        .expect("AKKO_TEST_PG_URL is not set: run the tests through scripts/test.sh, which starts PostgreSQL")
}

fn live_config(url_env: &str) -> String {
    let mut c = job::demo_head();
    c.push_str(&format!(
        "[backends.postgres]\nurl_env = \"{url_env}\"\nstatement_timeout = \"30s\"\n\n"
    ));
    c.push_str("[sources.litellm]\nbackend = \"postgres\"\n\n");
    c.push_str(&job::file_sources_except(&["litellm"]));
    c
}

#[test]
fn postgres_path_gives_the_file_paths_evidence_byte_for_byte() {
    let url = pg_url();
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("files");
    job::file_run(&reference);
    let cfg = job::write_config(dir.path(), &live_config("AKKO_TEST_LITELLM_URL"));
    let live = dir.path().join("live");
    let o = job::run(&cfg, &live, &[("AKKO_TEST_LITELLM_URL", &url)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    job::assert_same_csvs(&reference, &live);
    assert!(job::column(&live, "llm_cost_usd")
        .iter()
        .any(|v| v != "0.000000"));
    let r = job::source_report(&live, "litellm");
    assert_eq!(r["backend"], "postgres");
    // The password is never echoed into the evidence or the output.
    let manifest = std::fs::read_to_string(live.join("manifest.json")).unwrap();
    assert!(!manifest.contains("akko:akko"), "{manifest}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("akko:akko"));
}

#[test]
fn postgres_down_leaves_llm_columns_unknown_and_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = job::write_config(dir.path(), &live_config("AKKO_TEST_DEAD_PG"));
    let out = dir.path().join("out");
    let url = format!("postgresql://akko:s3cret-pw@127.0.0.1:{port}/litellm_demo");
    let o = job::run(&cfg, &out, &[("AKKO_TEST_DEAD_PG", &url)]);
    assert_eq!(o.status.code(), Some(3));
    for col in ["llm_requests", "llm_cost_usd", "llm_total_tokens"] {
        assert!(
            job::column(&out, col).iter().all(String::is_empty),
            "{col} must be unknown"
        );
    }
    let r = job::source_report(&out, "litellm");
    assert_eq!(r["status"], "unavailable");
    let everything = format!(
        "{}{}{}",
        std::fs::read_to_string(out.join("manifest.json")).unwrap(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !everything.contains("s3cret-pw"),
        "the password leaked: {everything}"
    );
}
