//! The report mail over a real SMTP relay (aiosmtpd with STARTTLS or implicit TLS and AUTH): the
//! real binary runs the demo with an `[email.smtp]` section, and the message the relay stored is
//! parsed and compared with the run folder. Refusals (wrong password, no STARTTLS, unknown CA)
//! exit 4, keep the evidence and never print the password.

mod support;

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;
use std::process::Output;

use mailparse::{MailHeaderMap, ParsedMail};
use support::job;
use support::smtp::{self, Mode, SmtpServer, PASSWORD, USER};

const PASSWORD_ENV: &str = "AKKO_TEST_SMTP_PASSWORD";

/// Runs the demo with `[email.smtp]` pointing at `server`; `ca` names the trusted certificate.
fn run(server: &SmtpServer, scheme: &str, ca: bool, password: &str) -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = job::demo_config_absolute();
    text.push_str(&format!(
        "\n[email.smtp]\nurl = \"{scheme}://127.0.0.1:{}\"\nusername = \"{USER}\"\n\
         password_env = \"{PASSWORD_ENV}\"\nretries = 3\nretry_backoff = \"10ms\"\ntimeout = \"20s\"\n",
        server.port
    ));
    if ca {
        text.push_str(&format!("ca_file = \"{}\"\n", server.ca.display()));
    }
    let config = job::write_config(dir.path(), &text);
    let out = dir.path().join("out");
    let output = job::run(&config, &out, &[(PASSWORD_ENV, password)]);
    (dir, output)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn leaves<'a>(m: &'a ParsedMail<'a>, out: &mut Vec<&'a ParsedMail<'a>>) {
    if m.subparts.is_empty() {
        out.push(m);
    }
    for p in &m.subparts {
        leaves(p, out);
    }
}

fn findings_rows(out: &Path) -> usize {
    csv::Reader::from_path(out.join("findings.csv"))
        .unwrap()
        .records()
        .inspect(|r| assert!(r.is_ok(), "findings.csv: {r:?}"))
        .count()
}

/// What a delivered run must show: the message the relay stored equals the run folder's evidence.
fn assert_delivered(server: &SmtpServer, out: &Path, o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stderr(o), server.log());
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "exactly one message arrives");
    assert_eq!(server.auth_attempts(), ["ok"], "one successful login");
    assert!(
        !out.join("mail.eml").exists(),
        "mailed over SMTP: no local copy"
    );
    let mail = mailparse::parse_mail(&messages[0]).unwrap();

    let n = findings_rows(out);
    let phrase = match n {
        0 => "no findings".to_string(),
        1 => "1 finding".to_string(),
        n => format!("{n} findings"),
    };
    assert_eq!(
        mail.headers.get_first_value("Subject").unwrap(),
        format!("[AKKO audit] daily 2026-11-30 — COMPLETE — {phrase}")
    );
    assert_eq!(
        mail.headers.get_first_value("From").unwrap(),
        "\"AKKO audit\" <akko-audit@akko.example>"
    );
    assert_eq!(
        mail.headers.get_first_value("To").unwrap(),
        "\"Platform admin\" <platform-admin@akko.example>"
    );
    // The envelope, as the relay saw it (aiosmtpd records it in X-MailFrom / X-RcptTo).
    assert_eq!(
        mail.headers.get_first_value("X-MailFrom").unwrap(),
        "akko-audit@akko.example"
    );
    assert_eq!(
        mail.headers.get_first_value("X-RcptTo").unwrap(),
        "platform-admin@akko.example"
    );

    let mut parts = Vec::new();
    leaves(&mail, &mut parts);
    let html: Vec<_> = parts
        .iter()
        .filter(|p| p.ctype.mimetype == "text/html")
        .collect();
    assert_eq!(html.len(), 1, "one HTML body");
    let manifest = std::fs::read(out.join("manifest.json")).unwrap();
    let sha = sha256_hex(&manifest);
    assert!(
        html[0].get_body().unwrap().contains(&sha),
        "the HTML body quotes the manifest hash"
    );
    let attachment = |name: &str| -> Vec<u8> {
        let found: Vec<_> = parts
            .iter()
            .filter(|p| {
                p.get_content_disposition()
                    .params
                    .get("filename")
                    .map(String::as_str)
                    == Some(name)
            })
            .collect();
        assert_eq!(found.len(), 1, "one attachment named {name}");
        found[0].get_body_raw().unwrap()
    };
    assert_eq!(
        attachment("report.pdf"),
        std::fs::read(out.join("report.pdf")).unwrap(),
        "the attached PDF is the run's report.pdf"
    );
    let zip_bytes = attachment("evidence-csv-daily-2026-11-30.zip");
    let mut zip = zip::ZipArchive::new(Cursor::new(zip_bytes)).unwrap();
    let mut zipped = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        zipped.insert(entry.name().to_string(), bytes);
    }
    let folder: BTreeMap<String, Vec<u8>> = job::csvs(out)
        .into_keys()
        .map(|name| {
            let bytes = std::fs::read(out.join(&name)).unwrap();
            (name, bytes)
        })
        .collect();
    assert!(
        folder.len() >= 5,
        "the demo writes its CSVs: {:?}",
        folder.keys()
    );
    assert_eq!(
        zipped.keys().collect::<Vec<_>>(),
        folder.keys().collect::<Vec<_>>(),
        "the zip holds exactly the run's CSVs"
    );
    for (name, bytes) in &folder {
        assert!(
            zipped[name] == *bytes,
            "{name} differs from the run folder's"
        );
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A refused delivery: exit 4, the evidence kept, nothing stored, the password never printed.
fn assert_refused(server: &SmtpServer, dir: &Path, o: &Output, password: &str, names: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains(names), "stderr names {names:?}: {err}");
    assert!(
        err.contains(&format!("127.0.0.1:{}", server.port)),
        "stderr names the relay: {err}"
    );
    for stream in [&o.stderr, &o.stdout] {
        assert!(
            !String::from_utf8_lossy(stream).contains(password),
            "the password leaked"
        );
    }
    assert!(server.messages().is_empty(), "nothing was delivered");
    // Permanent refusals are not retried (retries = 3 would log "retrying" and back off).
    assert!(
        !err.contains("retrying"),
        "a permanent refusal was retried: {err}"
    );
    let out = dir.join("out");
    for file in [
        "manifest.json",
        "report.pdf",
        "findings.csv",
        "usage_by_user.csv",
    ] {
        assert!(out.join(file).is_file(), "{file} is kept in the run folder");
    }
}

#[test]
fn the_report_arrives_over_starttls_with_auth() {
    let server = smtp::start(Mode::StartTls);
    let (dir, o) = run(&server, "smtp", true, PASSWORD);
    assert_delivered(&server, &dir.path().join("out"), &o);
}

#[test]
fn the_report_arrives_over_implicit_tls() {
    let server = smtp::start(Mode::Implicit);
    let (dir, o) = run(&server, "smtps", true, PASSWORD);
    assert_delivered(&server, &dir.path().join("out"), &o);
}

#[test]
fn a_wrong_password_exits_4_once_and_keeps_the_evidence() {
    let server = smtp::start(Mode::StartTls);
    let wrong = "Wr0ng-Pa55word-4711";
    let (dir, o) = run(&server, "smtp", true, wrong);
    assert_refused(&server, dir.path(), &o, wrong, "email.smtp.password_env");
    // Refused credentials are permanent: one attempt, no retry (retries = 3).
    assert_eq!(server.auth_attempts(), ["fail"]);
}

#[test]
fn a_relay_without_starttls_is_refused() {
    let server = smtp::start(Mode::Plain);
    let (dir, o) = run(&server, "smtp", true, PASSWORD);
    assert_refused(&server, dir.path(), &o, PASSWORD, "STARTTLS");
    assert!(
        server.auth_attempts().is_empty(),
        "credentials are never sent in clear"
    );
}

#[test]
fn an_unknown_ca_is_refused() {
    let server = smtp::start(Mode::StartTls);
    let (dir, o) = run(&server, "smtp", false, PASSWORD);
    assert_refused(&server, dir.path(), &o, PASSWORD, "email.smtp.ca_file");
    assert!(server.auth_attempts().is_empty());
}
