//! Bad input exits 2 with a message naming the problem, before any source is read (no output
//! folder appears). A source that cannot be read makes the run exit 3 with its columns empty.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn akko(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .args(args)
        .env_remove("AKKO_AUDIT_CONFIG")
        .output()
        .expect("run the binary")
}

/// `akko-audit run --config cfg --out out_dir`, with the environment `env` set.
fn run_into(cfg: &Path, out_dir: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .args(["run", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out_dir)
        .env_remove("AKKO_AUDIT_CONFIG")
        .envs(env.iter().copied())
        .output()
        .expect("run the binary")
}

/// The demo config (absolute paths) with `edit` applied.
fn demo_config_with(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = support::job::demo_config_absolute();
    let path = dir.join("config.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

fn assert_exit2_naming(out: &Output, needle: &str, out_dir: &Path) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(needle),
        "message should name {needle:?}: {stderr}"
    );
    assert!(!out_dir.exists(), "nothing may be written on bad input");
}

#[test]
fn typo_in_a_config_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config_with(dir.path(), |t| t.replace("late_margin =", "late_margn ="));
    let out_dir = dir.path().join("out");
    let out = run_into(&cfg, &out_dir, &[]);
    assert_exit2_naming(&out, "late_margn", &out_dir);
    let check = akko(&["config", "check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(2));
}

#[test]
fn delivery_settings_are_checked_before_any_request() {
    // Credentials in the pushgateway URL, a misspelt Object Lock mode, zero retention days:
    // each is exit 2 naming the field, nothing read or written, the password never echoed.
    let s3 =
        "\n[s3]\nendpoint = \"http://127.0.0.1:1\"\nbucket = \"evidence\"\nallow_http = true\n\
              access_key_id_env = \"A\"\nsecret_access_key_env = \"B\"\nobject_lock = true\n";
    let cases = [
        (
            "\n[pushgateway]\nurl = \"http://akko:hunter2@127.0.0.1:1\"\n".to_string(),
            "pushgateway.url",
        ),
        (
            "\n[email.smtp]\nurl = \"smtp://akko:hunter2@127.0.0.1:587\"\n".to_string(),
            "email.smtp.url",
        ),
        (
            format!("{s3}object_lock_mode = \"GOVERNANCE \"\nobject_lock_retain_days = 30\n"),
            "s3.object_lock_mode",
        ),
        (
            format!("{s3}object_lock_mode = \"COMPLIANCE\"\nobject_lock_retain_days = 0\n"),
            "s3.object_lock_retain_days",
        ),
    ];
    for (extra, field) in cases {
        let dir = tempfile::tempdir().unwrap();
        let cfg = demo_config_with(dir.path(), |t| format!("{t}{extra}"));
        let out_dir = dir.path().join("out");
        let out = run_into(&cfg, &out_dir, &[]);
        assert_exit2_naming(&out, field, &out_dir);
        assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
        let check = akko(&["config", "check", "--config", cfg.to_str().unwrap()]);
        assert_eq!(check.status.code(), Some(2), "{field}");
    }
}

#[test]
fn unknown_period() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config_with(dir.path(), |t| t);
    let out_dir = dir.path().join("out");
    let out = akko(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--period",
        "fortnightly",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_exit2_naming(&out, "fortnightly", &out_dir);
    let cfg2 = demo_config_with(dir.path(), |t| {
        t.replace("period = \"daily\"", "period = \"hourly\"")
    });
    let out = run_into(&cfg2, &out_dir, &[]);
    assert_exit2_naming(&out, "window.period", &out_dir);
}

#[test]
fn from_after_to() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config_with(dir.path(), |t| t);
    let out_dir = dir.path().join("out");
    let out = akko(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--from",
        "2026-12-01T00:00:00Z",
        "--to",
        "2026-11-30T00:00:00Z",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_exit2_naming(&out, "--from", &out_dir);
    let out = akko(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--from",
        "yesterday",
        "--to",
        "2026-11-30T00:00:00Z",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_exit2_naming(&out, "--from", &out_dir);
}

#[test]
fn unreadable_fixture_path() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config_with(dir.path(), |t| t.replace("opa.jsonl", "opa-missing.jsonl"));
    let out_dir = dir.path().join("out");
    let out = run_into(&cfg, &out_dir, &[]);
    assert_exit2_naming(&out, "sources.opa.files", &out_dir);
    assert!(String::from_utf8_lossy(&out.stderr).contains("opa-missing.jsonl"));
}

#[test]
fn a_source_that_cannot_be_read_is_unknown_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    // A directory opens but cannot be read: the OPA source fails at read time.
    let not_a_file = dir.path().join("opa-dir");
    std::fs::create_dir(&not_a_file).unwrap();
    let cfg = demo_config_with(dir.path(), |t| {
        t.replace(
            &format!("{}/opa.jsonl", repo().join("fixtures/demo").display()),
            not_a_file.to_str().unwrap(),
        )
    });
    let out_dir = dir.path().join("out");
    let out = run_into(&cfg, &out_dir, &[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("PARTIAL"));
    let csv = std::fs::read_to_string(out_dir.join("usage_by_user.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let opa = header.iter().position(|h| *h == "opa_denials").unwrap();
    let trino = header.iter().position(|h| *h == "trino_queries").unwrap();
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(
            cells[opa], "",
            "opa_denials must be empty (unknown): {line}"
        );
        assert!(
            !cells[trino].is_empty(),
            "other sources still filled: {line}"
        );
        rows += 1;
    }
    assert!(rows >= 12);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "partial");
    let opa_report = manifest["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "opa")
        .unwrap();
    assert_eq!(opa_report["status"], "unavailable");
    assert!(opa_report["error"].as_str().unwrap().contains("opa-dir"));
}

#[test]
fn an_unconfigured_source_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config_with(dir.path(), |t| {
        let i = t.find("[sources.keycloak]").unwrap();
        let j = t[i..].find("[sources.jupyterhub]").unwrap();
        format!("{}{}", &t[..i], &t[i + j..])
    });
    let out_dir = dir.path().join("out");
    let out = run_into(&cfg, &out_dir, &[]);
    assert_eq!(out.status.code(), Some(3));
    let csv = std::fs::read_to_string(out_dir.join("usage_by_user.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let logins = header.iter().position(|h| *h == "logins").unwrap();
    assert!(csv
        .lines()
        .skip(1)
        .all(|l| l.split(',').nth(logins) == Some("")));
}

#[test]
fn the_optional_platform_source_may_be_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_config_with(dir.path(), |t| {
        let i = t.find("[sources.platform]").unwrap();
        t[..i].to_string()
    });
    let out_dir = dir.path().join("out");
    let out = run_into(&cfg, &out_dir, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let expected =
        std::fs::read_to_string(repo().join("fixtures/demo/expected/usage_by_user.csv")).unwrap();
    assert_eq!(
        std::fs::read_to_string(out_dir.join("usage_by_user.csv")).unwrap(),
        expected
    );
}

#[test]
fn window_command_prints_the_scheduled_window() {
    let out = akko(&[
        "window",
        "--schedule",
        "0 2 * * 5",
        "--period",
        "weekly",
        "--at",
        "2026-12-03T12:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    // Friday 2026-11-27 02:00 fired last; the week that ended before it is Mon 16 .. Mon 23.
    assert!(s.contains("fire_time  2026-11-27T02:00:00.000Z"), "{s}");
    assert!(s.contains("start      2026-11-16T00:00:00.000Z"), "{s}");
    assert!(s.contains("end        2026-11-23T00:00:00.000Z"), "{s}");
    let bad = akko(&["window", "--schedule", "0 0 2 * * *"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// A delivery secret or CA bundle that cannot be read is bad input found before any source is
/// read (exit 2, nothing written), not an upload that fails (exit 4) after the whole run.
#[test]
fn unreadable_delivery_secrets_stop_the_run_first() {
    let s3 = "\n[s3]\nendpoint = \"https://127.0.0.1:1\"\nbucket = \"evidence\"\n\
              access_key_id_env = \"AKKO_TEST_S3_ID\"\nsecret_access_key_env = \"AKKO_TEST_S3_SECRET\"\n";
    let cases = [
        (
            format!("{s3}ca_file = \"/nonexistent/minio-ca.pem\"\n"),
            "s3.ca_file",
        ),
        (
            "\n[email.smtp]\nurl = \"smtp://127.0.0.1:1\"\nusername = \"akko\"\npassword_file = \"/nonexistent/smtp-password\"\n"
                .to_string(),
            "email.smtp.password_file",
        ),
    ];
    for (extra, field) in cases {
        let dir = tempfile::tempdir().unwrap();
        let cfg = demo_config_with(dir.path(), |t| format!("{t}{extra}"));
        let out_dir = dir.path().join("out");
        let out = run_into(
            &cfg,
            &out_dir,
            &[
                ("AKKO_TEST_S3_ID", "id"),
                ("AKKO_TEST_S3_SECRET", "hunter2"),
            ],
        );
        assert_exit2_naming(&out, field, &out_dir);
        assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
    }
}
