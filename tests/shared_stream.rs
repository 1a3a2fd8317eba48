//! One export holding every source's lines (an admin's single logcli query over several
//! namespaces): each parser keeps only its own records and neither rejects nor counts the others.

mod support;

use std::path::PathBuf;

use akko_audit::backends::files::read_logs;
use akko_audit::sources::jupyterhub::JupyterhubParser;
use akko_audit::sources::keycloak::KeycloakParser;
use akko_audit::sources::opa::OpaParser;
use akko_audit::sources::trino::TrinoParser;
use akko_audit::sources::Tally;
use akko_audit::window::Window;

fn demo(f: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/demo")
        .join(f)
}

fn window() -> Window {
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    Window::explicit(t("2026-11-30T00:00:00Z"), t("2026-12-01T00:00:00Z")).unwrap()
}

const FILES: [&str; 4] = [
    "trino.jsonl",
    "opa.jsonl",
    "keycloak.jsonl",
    "jupyterhub.jsonl",
];

/// Files of the other sources than `own`.
fn others(own: &str) -> Vec<PathBuf> {
    FILES
        .iter()
        .filter(|f| **f != own)
        .map(|f| demo(f))
        .collect()
}

fn assert_all_skipped(t: &Tally, what: &str) {
    assert_eq!(
        t.lines_rejected, 0,
        "{what} rejected foreign lines: {:?}",
        t.reject_samples
    );
    assert_eq!(
        t.lines_skipped, t.lines_read,
        "{what}: every foreign line is skipped"
    );
}

#[test]
fn every_parser_skips_every_other_sources_lines() {
    let mut trino = TrinoParser::new(window());
    read_logs(&others("trino.jsonl"), &mut trino).unwrap();
    assert!(trino.queries.is_empty());
    assert_all_skipped(&trino.tally, "trino");

    let mut opa = OpaParser::new(window(), "trino/allow");
    read_logs(&others("opa.jsonl"), &mut opa).unwrap();
    assert!(opa.denials.is_empty() && opa.users_seen.is_empty());
    assert_all_skipped(&opa.tally, "opa");

    let mut kc = KeycloakParser::new(window());
    read_logs(&others("keycloak.jsonl"), &mut kc).unwrap();
    assert!(kc.events.is_empty());
    assert_all_skipped(&kc.tally, "keycloak");

    let mut hub = JupyterhubParser::new(window(), std::time::Duration::from_secs(7 * 86_400));
    read_logs(&others("jupyterhub.jsonl"), &mut hub).unwrap();
    assert!(hub.sessions().is_empty());
    assert_all_skipped(&hub.tally, "jupyterhub");
}

#[test]
fn one_combined_export_for_all_log_sources_gives_the_same_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let combined = dir.path().join("all-logs.jsonl");
    let text: String = FILES
        .iter()
        .map(|f| std::fs::read_to_string(demo(f)).unwrap())
        .collect();
    std::fs::write(&combined, text).unwrap();
    let mut config = support::job::demo_config_absolute();
    for f in FILES {
        config = config.replace(
            &demo(f).display().to_string(),
            &combined.display().to_string(),
        );
    }
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, config).unwrap();
    let out = dir.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let expected = std::fs::read_to_string(demo("expected/usage_by_user.csv")).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("usage_by_user.csv")).unwrap(),
        expected
    );
    // Every log source read the combined file (all four sources' lines), not its own export.
    let all_lines = std::fs::read_to_string(&combined).unwrap().lines().count() as u64;
    for s in m_sources(&out) {
        if ["trino", "opa", "keycloak", "jupyterhub"].contains(&s["source"].as_str().unwrap()) {
            assert_eq!(s["lines_read"], all_lines, "{s}");
        }
    }
    // Each source rejected only its own malformed line.
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    for s in m["sources"].as_array().unwrap().iter().filter(|s| {
        ["trino", "opa", "keycloak", "jupyterhub"].contains(&s["source"].as_str().unwrap())
    }) {
        assert_eq!(s["lines_rejected"], 1, "{s}");
    }
}

fn m_sources(out: &std::path::Path) -> Vec<serde_json::Value> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    m["sources"].as_array().unwrap().clone()
}
