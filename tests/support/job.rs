//! Running the real binary on a config derived from the demo one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn demo(file: &str) -> PathBuf {
    repo().join("fixtures/demo").join(file)
}

/// The demo config with every file path made absolute, so it can be written anywhere.
pub fn demo_config_absolute() -> String {
    std::fs::read_to_string(demo("akko-audit.toml"))
        .unwrap()
        .replace(
            "files = [\"",
            &format!("files = [\"{}/", repo().join("fixtures/demo").display()),
        )
}

/// The demo config's window, identity and storage sections (everything before the sources).
pub fn demo_head() -> String {
    let text = std::fs::read_to_string(demo("akko-audit.toml")).unwrap();
    let i = text.find("[sources.").unwrap();
    text[..i].to_string()
}

/// A `[sources.X]` section reading the demo file through the file backend.
pub fn file_source(kind: &str, file: &str) -> String {
    format!(
        "[sources.{kind}]\nbackend = \"files\"\nfiles = [\"{}\"]\n\n",
        demo(file).display()
    )
}

/// Every demo source and the file it reads.
pub const DEMO_SOURCES: [(&str, &str); 9] = [
    ("trino", "trino.jsonl"),
    ("opa", "opa.jsonl"),
    ("keycloak", "keycloak.jsonl"),
    ("jupyterhub", "jupyterhub.jsonl"),
    ("litellm", "litellm_spendlogs.csv"),
    ("storage", "metrics.om"),
    ("databases", "metrics.om"),
    ("pods", "metrics.om"),
    ("platform", "metrics.om"),
];

/// File-backend sections for every demo source except those read live.
pub fn file_sources_except(live: &[&str]) -> String {
    DEMO_SOURCES
        .iter()
        .filter(|(kind, _)| !live.contains(kind))
        .map(|(kind, file)| file_source(kind, file))
        .collect()
}

pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("akko-audit.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn run(config: &Path, out: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_akko-audit"));
    cmd.args(["run", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out);
    cmd.env_remove("AKKO_AUDIT_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the binary")
}

/// The demo run through the file backend only: the reference the live paths must equal.
pub fn file_run(out: &Path) {
    let o = run(&demo("akko-audit.toml"), out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every CSV of a run folder.
pub fn csvs(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

/// Asserts two run folders hold byte-identical CSVs.
pub fn assert_same_csvs(reference: &Path, live: &Path) {
    let (a, b) = (csvs(reference), csvs(live));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, text) in &a {
        if text != &b[name] {
            let diff: Vec<String> = text
                .lines()
                .zip(b[name].lines())
                .filter(|(x, y)| x != y)
                .take(5)
                .map(|(x, y)| format!("  file: {x}\n  live: {y}"))
                .collect();
            panic!(
                "{name} differs between the file and the live path:\n{}",
                diff.join("\n")
            );
        }
    }
}

pub fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

pub fn source_report(dir: &Path, source: &str) -> serde_json::Value {
    manifest(dir)["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == source)
        .unwrap()
        .clone()
}

/// The values of one column of usage_by_user.csv.
pub fn column(dir: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("usage_by_user.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(i).unwrap_or("").to_string())
        .collect()
}

/// stdout and stderr of a finished command, for messages and `contains` checks.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the `openssl` CLI (keys and certificates are made the way an operator would).
pub fn openssl(args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(o.status.success(), "openssl {args:?}: {}", output_text(&o));
}

/// An Ed25519 key pair made by OpenSSL in `dir`: (private PKCS#8 PEM, public SPKI PEM).
pub fn ed25519_keypair(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("signing.pem");
    let public = dir.join("signing.pub.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        key.to_str().unwrap(),
    ]);
    openssl(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    (key, public)
}
