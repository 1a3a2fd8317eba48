//! The whole delivery path through the real binary against real servers: the demo run uploads
//! its signed set to a SigV4-checking S3 server (s3s-fs), mails it over STARTTLS + AUTH
//! (aiosmtpd), writes the daily history next to it; `verify` passes from S3 and fails once a
//! byte is flipped there; a retried run does not mail twice; a wrong S3 secret is exit 4 with
//! the evidence kept in the run folder.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::job::{demo_config_absolute, output_text, run, write_config};
use support::s3::S3Server;
use support::smtp::{self, Mode, PASSWORD, USER};

const KEY: &str = "AKKOTESTACCESSKEY";
const SECRET: &str = "akko-test-secret-key-0123456789";

fn config(
    dir: &Path,
    s3: &S3Server,
    mail: &smtp::SmtpServer,
    secret_file: &Path,
) -> std::path::PathBuf {
    let key = dir.join("signing.pem");
    if !key.exists() {
        support::job::ed25519_keypair(dir);
        std::fs::write(dir.join("access-key"), KEY).unwrap();
    }
    write_config(
        dir,
        &format!(
            "{}\n[s3]\nendpoint = \"{}\"\nbucket = \"{}\"\nprefix = \"evidence\"\nallow_http = true\n\
             access_key_id_file = \"{}\"\nsecret_access_key_file = \"{}\"\nretries = 1\n\n\
             [signing]\nkey_file = \"{}\"\n\n\
             [email.smtp]\nurl = \"smtp://127.0.0.1:{}\"\nusername = \"{USER}\"\n\
             password_env = \"AKKO_TEST_SMTP_PASSWORD\"\nca_file = \"{}\"\nretries = 1\n",
            demo_config_absolute(),
            s3.endpoint,
            s3.bucket,
            dir.join("access-key").display(),
            secret_file.display(),
            key.display(),
            mail.port,
            mail.ca.display(),
        ),
    )
}

/// The text and HTML bodies of a received message, concatenated.
fn bodies(raw: &[u8]) -> String {
    let parsed = mailparse::parse_mail(raw).unwrap();
    let mut bodies = String::new();
    let mut stack = vec![&parsed];
    while let Some(p) = stack.pop() {
        if p.ctype.mimetype.starts_with("text/") {
            bodies.push_str(&p.get_body().unwrap());
        }
        stack.extend(p.subparts.iter());
    }
    bodies
}

fn subject(raw: &[u8]) -> String {
    use mailparse::MailHeaderMap;
    let parsed = mailparse::parse_mail(raw).unwrap();
    parsed
        .headers
        .get_first_value("Subject")
        .unwrap_or_default()
}

fn evidence_sha256(dir: &Path) -> String {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m["evidence_sha256"].as_str().unwrap().to_string()
}

fn check(cfg: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_akko-audit"));
    cmd.args(["check", "--config"])
        .arg(cfg)
        .env_remove("AKKO_AUDIT_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn verify_s3(cfg: &Path, url: &str, public: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .args(["verify", url, "--config"])
        .arg(cfg)
        .arg("--public-key")
        .arg(public)
        .env_remove("AKKO_AUDIT_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn a_run_uploads_signs_mails_and_verifies_from_s3() {
    let s3 = S3Server::start(KEY, SECRET, "akko-evidence");
    let mail = smtp::start(Mode::StartTls);
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret-key");
    std::fs::write(&secret, SECRET).unwrap();
    let cfg = config(tmp.path(), &s3, &mail, &secret);
    let env = [("AKKO_TEST_SMTP_PASSWORD", PASSWORD)];
    // `check` reaches both sinks before anything is produced.
    let c = check(&cfg, &env);
    assert_eq!(c.status.code(), Some(0), "{}", output_text(&c));
    assert!(
        output_text(&c).contains("credentials accepted"),
        "{}",
        output_text(&c)
    );
    assert!(
        output_text(&c).contains("TLS and login accepted"),
        "{}",
        output_text(&c)
    );
    assert!(mail.messages().is_empty(), "check sends nothing");
    let out = tmp.path().join("out");
    let o = run(&cfg, &out, &env);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));

    // The set is in S3 under the window's Hive-style prefix, byte-identical to the folder,
    // signature included; the daily history beside it.
    let prefix = "evidence/period=daily/start=2026-11-30";
    for f in [
        "usage_by_user.csv",
        "report.pdf",
        "manifest.json",
        "manifest.json.sig",
    ] {
        assert_eq!(
            std::fs::read(s3.object(&format!("{prefix}/{f}"))).unwrap(),
            std::fs::read(out.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(s3
        .keys()
        .contains(&"evidence/history/usage_by_user/date=2026-11-30/part-0.parquet".to_string()));
    assert!(s3.keys().contains(&format!("{prefix}/mailed.json")));
    // The mail arrived once, saying where the evidence is.
    let msgs = mail.messages();
    assert_eq!(msgs.len(), 1);
    let bodies = bodies(&msgs[0]);
    assert!(
        bodies.contains("s3://akko-evidence/evidence/period=daily/start=2026-11-30"),
        "no S3 location in the mail:\n{bodies}"
    );

    // verify from S3 passes; a byte flipped in S3 makes it fail, naming the file.
    let public = tmp.path().join("signing.pub.pem");
    let url = format!("s3://akko-evidence/{prefix}");
    let v = verify_s3(&cfg, &url, &public);
    assert_eq!(v.status.code(), Some(0), "{}", output_text(&v));
    let obj = s3.object(&format!("{prefix}/findings.csv"));
    let mut bytes = std::fs::read(&obj).unwrap();
    bytes[10] ^= 0x20;
    std::fs::write(&obj, &bytes).unwrap();
    let v = verify_s3(&cfg, &url, &public);
    assert_eq!(v.status.code(), Some(1), "{}", output_text(&v));
    assert!(
        output_text(&v).contains("CHANGED   findings.csv"),
        "{}",
        output_text(&v)
    );

    // A retry of the same window: same keys, byte-identical CSVs, and no second mail.
    let keys = s3.keys();
    let again = tmp.path().join("again");
    let o = run(&cfg, &again, &env);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert_eq!(s3.keys(), keys);
    assert_eq!(
        std::fs::read(s3.object(&format!("{prefix}/usage_by_user.csv"))).unwrap(),
        std::fs::read(out.join("usage_by_user.csv")).unwrap()
    );
    assert_eq!(
        mail.messages().len(),
        1,
        "a retried run must not mail twice"
    );
    assert_eq!(
        verify_s3(&cfg, &url, &public).status.code(),
        Some(0),
        "the rerun replaced the flipped object"
    );
}

#[test]
fn a_wrong_s3_secret_is_exit_4_and_keeps_the_folder() {
    let s3 = S3Server::start(KEY, SECRET, "akko-evidence");
    let mail = smtp::start(Mode::StartTls);
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret-key");
    std::fs::write(&secret, "not-the-secret-at-all").unwrap();
    let cfg = config(tmp.path(), &s3, &mail, &secret);
    let c = check(&cfg, &[("AKKO_TEST_SMTP_PASSWORD", "wrong")]);
    assert_eq!(c.status.code(), Some(1), "{}", output_text(&c));
    let t = output_text(&c);
    assert!(
        t.contains("FAIL") && t.contains("s3.secret_access_key"),
        "{t}"
    );
    assert!(t.contains("email.smtp.password"), "{t}");
    assert!(!t.contains("not-the-secret-at-all"));
    let out = tmp.path().join("out");
    let o = run(&cfg, &out, &[("AKKO_TEST_SMTP_PASSWORD", PASSWORD)]);
    assert_eq!(o.status.code(), Some(4), "{}", output_text(&o));
    assert!(
        output_text(&o).contains("s3.secret_access_key"),
        "{}",
        output_text(&o)
    );
    assert!(!output_text(&o).contains("not-the-secret-at-all"));
    assert!(
        out.join("manifest.json").exists(),
        "the run folder keeps the evidence"
    );
    assert!(s3.keys().is_empty(), "nothing half-written in S3");
    // The mail still goes out (its attachments may be the only copy that survives the pod),
    // but it says the evidence is NOT in S3 and names no S3 key.
    let msgs = mail.messages();
    assert_eq!(msgs.len(), 1, "{}", output_text(&o));
    assert!(
        subject(&msgs[0]).ends_with("— evidence NOT in S3"),
        "{}",
        subject(&msgs[0])
    );
    let b = bodies(&msgs[0]);
    assert!(b.contains("NOT in S3"), "{b}");
    assert!(!b.contains("s3://akko-evidence/"), "{b}");
    assert!(b.contains(&out.display().to_string()), "{b}");
    // No marker anywhere: the retry that reaches S3 must mail where the evidence really is.
    assert!(!out.join("mailed.json").exists());
}

#[test]
fn worm_rerun_with_the_same_evidence_mails_the_stored_set_once() {
    let s3 = S3Server::start(KEY, SECRET, "akko-evidence");
    let mail = smtp::start(Mode::StartTls);
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret-key");
    std::fs::write(&secret, SECRET).unwrap();
    let cfg = config(tmp.path(), &s3, &mail, &secret);
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "retries = 1\n\n[signing]",
        "retries = 1\nobject_lock = true\n\n[signing]",
    );
    assert!(text.contains("object_lock = true"));
    std::fs::write(&cfg, text).unwrap();
    let prefix = "evidence/period=daily/start=2026-11-30";

    // First attempt: the set reaches the WORM bucket, the mail does not (wrong password).
    let first = tmp.path().join("first");
    let o = run(&cfg, &first, &[("AKKO_TEST_SMTP_PASSWORD", "wrong")]);
    assert_eq!(o.status.code(), Some(4), "{}", output_text(&o));
    assert!(s3.keys().contains(&format!("{prefix}/manifest.json")));
    assert!(mail.messages().is_empty());
    let stored_manifest = std::fs::read(s3.object(&format!("{prefix}/manifest.json"))).unwrap();

    // The retry: Object Lock keeps the stored set, which holds the same evidence, so this is a
    // delivery (exit 0), the mail names the S3 location and quotes the stored manifest's hash.
    let env = [("AKKO_TEST_SMTP_PASSWORD", PASSWORD)];
    let second = tmp.path().join("second");
    let o = run(&cfg, &second, &env);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let msgs = mail.messages();
    assert_eq!(msgs.len(), 1);
    let b = bodies(&msgs[0]);
    assert!(b.contains(&format!("s3://akko-evidence/{prefix}")), "{b}");
    assert!(!b.contains("NOT in S3"), "{b}");
    use sha2::Digest;
    let stored_sha = hex::encode(sha2::Sha256::digest(&stored_manifest));
    assert!(b.contains(&stored_sha), "{b}");
    assert_eq!(
        std::fs::read(s3.object(&format!("{prefix}/manifest.json"))).unwrap(),
        stored_manifest,
        "the WORM set was not touched"
    );
    // The marker records the evidence that was mailed; a third run stays quiet.
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s3.object(&format!("{prefix}/mailed.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(m["evidence_sha256"], evidence_sha256(&second).as_str());
    let o = run(&cfg, &tmp.path().join("third"), &env);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert_eq!(mail.messages().len(), 1, "the same evidence is mailed once");
}

#[test]
fn local_mode_keeps_the_marker_in_the_folder() {
    let mail = smtp::start(Mode::StartTls);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(
        tmp.path(),
        &format!(
            "{}\n[email.smtp]\nurl = \"smtp://127.0.0.1:{}\"\nusername = \"{USER}\"\n\
             password_env = \"AKKO_TEST_SMTP_PASSWORD\"\nca_file = \"{}\"\nretries = 1\n",
            demo_config_absolute(),
            mail.port,
            mail.ca.display(),
        ),
    );
    let env = [("AKKO_TEST_SMTP_PASSWORD", PASSWORD)];
    let out = tmp.path().join("out");
    let o = run(&cfg, &out, &env);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert_eq!(mail.messages().len(), 1);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("mailed.json")).unwrap()).unwrap();
    assert_eq!(m["evidence_sha256"], evidence_sha256(&out).as_str());
    // A rerun into the same folder with the same evidence does not mail again ...
    let o = run(&cfg, &out, &env);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert_eq!(mail.messages().len(), 1, "a rerun must not mail twice");
    // ... while a marker for other evidence (the set was replaced since) does not stop the mail.
    let mut m = m;
    m["evidence_sha256"] = "0".repeat(64).into();
    std::fs::write(out.join("mailed.json"), m.to_string()).unwrap();
    let o = run(&cfg, &out, &env);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert_eq!(mail.messages().len(), 2, "new evidence is mailed");
}
