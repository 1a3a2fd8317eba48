//! The whole job on the shipped demo day, through the real binary: the ledger must equal the one
//! derived by hand in fixtures/README.md, every file must match its manifest hash, and a rerun
//! must give byte-identical CSVs.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_demo(out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .args(["run", "--config"])
        .arg(repo().join("fixtures/demo/akko-audit.toml"))
        .arg("--out")
        .arg(out)
        .env_remove("AKKO_AUDIT_CONFIG")
        .output()
        .expect("run the binary")
}

const HEADER: &str = "user,team,trino_queries,trino_failed_queries,trino_denied_queries,trino_rows_scanned,trino_bytes_scanned,trino_cpu_seconds,llm_requests,llm_failed_requests,llm_prompt_tokens,llm_completion_tokens,llm_total_tokens,llm_cost_usd,notebook_sessions,notebook_seconds,notebook_cpu_seconds,notebook_peak_memory_bytes,storage_bytes,opa_denials,logins,login_failures";

#[test]
fn demo_day_matches_the_hand_derived_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_demo(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("COMPLETE"), "{stdout}");

    let got = std::fs::read_to_string(dir.path().join("usage_by_user.csv")).unwrap();
    assert_eq!(
        got.lines().next(),
        Some(HEADER),
        "the contract's header, exactly"
    );
    let expected =
        std::fs::read_to_string(repo().join("fixtures/demo/expected/usage_by_user.csv")).unwrap();
    if got != expected {
        let diff: Vec<String> = expected
            .lines()
            .zip(got.lines())
            .filter(|(e, g)| e != g)
            .map(|(e, g)| format!("expected {e}\n     got {g}"))
            .collect();
        panic!(
            "ledger differs from fixtures/demo/expected/usage_by_user.csv ({} vs {} lines):\n{}",
            expected.lines().count(),
            got.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn manifest_is_last_and_hashes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_demo(dir.path());
    assert_eq!(out.status.code(), Some(0));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["window"]["start"], "2026-11-30T00:00:00.000Z");
    assert_eq!(manifest["window"]["end"], "2026-12-01T00:00:00.000Z");
    assert_eq!(manifest["status"], "complete");
    let files = manifest["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    for required in [
        "usage_by_user.csv",
        "chargeback_by_team.csv",
        "trino_queries.csv",
        "opa_denials.csv",
        "auth_events.csv",
        "admin_events.csv",
        "notebook_sessions.csv",
        "llm_usage_by_user_model.csv",
        "storage_by_bucket.csv",
        "database_sizes.csv",
        "platform_metrics.csv",
    ] {
        assert!(
            names.contains(&required),
            "{required} missing from {names:?}"
        );
    }
    for f in files {
        let bytes = std::fs::read(dir.path().join(f["name"].as_str().unwrap())).unwrap();
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            hex::encode(Sha256::digest(&bytes))
        );
        assert_eq!(f["bytes"].as_u64().unwrap(), bytes.len() as u64);
        let rows = bytes.iter().filter(|b| **b == b'\n').count() as u64;
        assert!(
            f["rows"].as_u64().unwrap() < rows.max(1),
            "rows exclude the header"
        );
    }
    // Each model's provider (custom_llm_provider) is kept: the processors GDPR Art. 28/44 ask
    // about, and what a provider markup prices.
    let mut llm = csv::Reader::from_path(dir.path().join("llm_usage_by_user_model.csv")).unwrap();
    let provider = llm
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "provider")
        .unwrap();
    let providers: std::collections::BTreeSet<String> = llm
        .records()
        .map(|r| r.unwrap()[provider].to_string())
        .collect();
    assert!(providers.contains("openai"), "{providers:?}");
    // Every source reports what it read; the demo has malformed lines, and they are counted.
    let sources = manifest["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 9);
    let rejected: u64 = sources
        .iter()
        .map(|s| s["lines_rejected"].as_u64().unwrap())
        .sum();
    assert!(
        rejected > 0,
        "the demo's malformed lines must be counted as rejected"
    );
    for s in sources {
        assert_eq!(s["status"], "complete", "{s}");
    }
}

#[test]
fn rerun_of_the_same_window_is_byte_identical() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(run_demo(a.path()).status.code(), Some(0));
    let first_mail = std::fs::read(a.path().join("mail.eml")).unwrap();
    assert_eq!(run_demo(b.path()).status.code(), Some(0));
    let mut compared = 0;
    for entry in std::fs::read_dir(a.path()).unwrap() {
        let name = entry.unwrap().file_name();
        if name == "mail.eml" {
            continue; // names the folder it was delivered to: compared below, same place
        }
        let (x, y) = (
            std::fs::read(a.path().join(&name)).unwrap(),
            std::fs::read(b.path().join(&name)).unwrap(),
        );
        assert_eq!(x, y, "{name:?} differs between two runs of the same window");
        compared += 1;
    }
    assert!(compared >= 12);
    // A retried run delivering to the same place produces the same mail, byte for byte.
    assert_eq!(run_demo(a.path()).status.code(), Some(0));
    assert_eq!(
        std::fs::read(a.path().join("mail.eml")).unwrap(),
        first_mail
    );
}

#[test]
fn the_demo_writes_the_report_mail_as_eml() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_demo(dir.path()).status.code(), Some(0));
    let eml = std::fs::read_to_string(dir.path().join("mail.eml")).unwrap();
    assert!(
        eml.contains("Subject: [AKKO audit] daily 2026-11-30"),
        "{eml}"
    );
    assert!(eml.contains("COMPLETE"));
    assert!(eml.contains("To: \"Platform admin\" <platform-admin@akko.example>"));
    assert!(
        eml.contains("Date: Tue, 01 Dec 2026 02:00:00 +0000"),
        "the run's instant, not the clock"
    );
    // The CSVs travel as one zip beside the PDF (tests/smtp_delivery.rs opens both).
    assert!(
        eml.contains("\"evidence-csv-daily-2026-11-30.zip\"")
            && eml.contains("filename=\"report.pdf\""),
        "{eml}"
    );
    // The KPIs in the body are the ledger's totals.
    let csv = std::fs::read_to_string(dir.path().join("usage_by_user.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let sum = |col: &str| -> i64 {
        let i = header.iter().position(|h| *h == col).unwrap();
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').nth(i).unwrap().parse::<i64>().unwrap())
            .sum()
    };
    assert!(
        eml.contains(&format!(
            "Trino       {} queries, {} denied",
            sum("trino_queries"),
            sum("trino_denied_queries")
        )),
        "{eml}"
    );
    assert!(eml.contains(&format!("OPA         {} denials", sum("opa_denials"))));
    // The mail quotes the manifest it came with.
    let manifest = std::fs::read(dir.path().join("manifest.json")).unwrap();
    let sha = hex::encode(Sha256::digest(&manifest));
    assert!(
        eml.replace("=\r\n", "").contains(&sha),
        "the manifest hash is in the body"
    );
}

#[test]
fn sql_literals_can_be_redacted_without_touching_a_figure() {
    let dir = tempfile::tempdir().unwrap();
    let text = support::job::demo_config_absolute();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!("{text}\n[privacy]\nredact_sql_literals = true\n"),
    )
    .unwrap();
    let (plain, redacted) = (dir.path().join("plain"), dir.path().join("redacted"));
    assert_eq!(run_demo(&plain).status.code(), Some(0));
    let o = Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&redacted)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(
        read(&plain, "usage_by_user.csv"),
        read(&redacted, "usage_by_user.csv")
    );
    let (before, after) = (
        read(&plain, "trino_queries.csv"),
        read(&redacted, "trino_queries.csv"),
    );
    assert_eq!(before.lines().count(), after.lines().count());
    assert!(
        before.contains('\'') && !after.lines().skip(1).any(|l| l.contains("= '")),
        "string literals remain:\n{after}"
    );
    assert!(after.contains("= ?"), "{after}");
}

/// kemal is in no configured team; OPA saw him in the Keycloak group `contractors`. Naming that
/// group a team moves him from `unallocated` to it, and leaves every configured team as it was.
#[test]
fn keycloak_groups_place_users_the_team_map_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let text = support::job::demo_config_absolute().replacen(
        "[identity]\n",
        "[identity]\nteam_groups = [\"contractors\", \"finance\"]\n",
        1,
    );
    assert!(text.contains("team_groups"));
    let cfg = support::job::write_config(dir.path(), &text);
    let out = dir.path().join("out");
    let o = support::job::run(&cfg, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        support::job::output_text(&o)
    );
    let users = support::job::column(&out, "user");
    let teams = support::job::column(&out, "team");
    let team_of = |u: &str| teams[users.iter().position(|x| x == u).unwrap()].clone();
    assert_eq!(team_of("kemal"), "contractors");
    assert_eq!(team_of("alice"), "data-science", "the team map still wins");
    let chargeback = std::fs::read_to_string(out.join("chargeback_by_team.csv")).unwrap();
    assert!(
        chargeback.lines().any(|l| l.starts_with("contractors,1,")),
        "{chargeback}"
    );
}
