//! The S3 evidence store against a real SigV4-checking S3 server (s3s-fs, in-process): the demo
//! day's evidence lands under its Hive-style keys with identical bytes and verifies; a wrong
//! secret, a tampered object, a rerun, a WORM bucket, presigned links and multipart uploads each
//! behave as delivery promises.

mod support;

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use akko_audit::config::delivery::S3Config;
use akko_audit::config::Config;
use akko_audit::deliver::s3::{self, S3Error};
use akko_audit::render::Artifact;
use akko_audit::verify::{verify, FileStatus};
use akko_audit::window::{Period, Window, WindowOrigin};
use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use support::s3::S3Server;

const ACCESS_KEY: &str = "AKIAAKKOAUDITTEST";
const SECRET: &str = "s3s-fs-secret-Zq8wLr2PvX";
const BUCKET: &str = "evidence";

/// The demo run's files (as the manifest lists them) and its manifest, built once by the real
/// binary and shared by every test.
fn demo_set() -> &'static (Vec<Artifact>, Artifact) {
    static SET: OnceLock<(Vec<Artifact>, Artifact)> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = support::job::run(&support::job::demo("akko-audit.toml"), dir.path(), &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read = |name: &str| Artifact {
            name: name.to_string(),
            bytes: std::fs::read(dir.path().join(name)).unwrap(),
            rows: 0,
        };
        let manifest = read("manifest.json");
        let listed: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
        let files: Vec<Artifact> = listed["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| read(f["name"].as_str().unwrap()))
            .collect();
        assert!(files.iter().any(|a| a.name == "usage_by_user.csv"));
        assert!(files.iter().any(|a| a.name == "report.pdf"));
        (files, manifest)
    })
}

/// The demo's window: the scheduled daily period 2026-11-30 (UTC).
fn demo_window() -> Window {
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    Window {
        start: t("2026-11-30T00:00:00Z"),
        end: t("2026-12-01T00:00:00Z"),
        origin: WindowOrigin::Scheduled {
            period: Period::Daily,
            schedule: "0 2 * * *".into(),
            fire_time: t("2026-12-01T02:00:00Z"),
            time_zone: "UTC".into(),
        },
    }
}

/// The `[s3]` section, validated by the real config code. Secrets go through mounted files
/// (`*_file`): `SecretRef::read` reads the process environment, which parallel tests should
/// not mutate.
struct Setup {
    cfg: S3Config,
    _secrets: tempfile::TempDir,
}

fn config(server_endpoint: &str, secret: &str, extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("access_key_id"), format!("{ACCESS_KEY}\n")).unwrap();
    std::fs::write(dir.path().join("secret_access_key"), format!("{secret}\n")).unwrap();
    let text = format!(
        "[s3]\nendpoint = \"{server_endpoint}\"\nbucket = \"{BUCKET}\"\nprefix = \"akko/audit\"\n\
         access_key_id_file = \"access_key_id\"\nsecret_access_key_file = \"secret_access_key\"\n\
         allow_http = true\nretries = 1\ntimeout = \"30s\"\n{extra}"
    );
    let c = Config::from_toml(&text, &dir.path().join("akko-audit.toml"), &|_| None).unwrap();
    Setup {
        cfg: c.s3.unwrap(),
        _secrets: dir,
    }
}

fn server() -> S3Server {
    S3Server::start(ACCESS_KEY, SECRET, BUCKET)
}

const PREFIX: &str = "akko/audit/period=daily/start=2026-11-30";

fn upload_demo(cfg: &S3Config) -> String {
    let (files, manifest) = demo_set();
    s3::upload_set(cfg, PREFIX, files, manifest)
        .unwrap()
        .location
}

fn get(url: &str) -> reqwest::Response {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { reqwest::get(url).await.unwrap() })
}

fn fetch(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::get(url).await.unwrap();
        let status = r.status().as_u16();
        let etag = r
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string());
        (status, etag, r.bytes().await.unwrap().to_vec())
    })
}

#[test]
fn the_demo_set_lands_under_its_window_keys_and_verifies() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "");
    assert_eq!(s3::key_prefix(&s.cfg, &demo_window()), PREFIX);
    let (files, manifest) = demo_set();
    let started = Instant::now();
    let location = s3::upload_set(&s.cfg, PREFIX, files, manifest)
        .unwrap()
        .location;
    let bytes: usize = files.iter().map(|a| a.bytes.len()).sum();
    eprintln!(
        "uploaded the demo set ({} files + manifest, {bytes} bytes) in {:?}",
        files.len(),
        started.elapsed()
    );
    assert_eq!(location, format!("s3://{BUCKET}/{PREFIX}/"));

    for a in files.iter().chain([manifest]) {
        let stored = std::fs::read(srv.object(&format!("{PREFIX}/{}", a.name)))
            .unwrap_or_else(|e| panic!("{} not stored: {e}", a.name));
        assert!(stored == a.bytes, "{} differs from the run's file", a.name);
        // S3 compared the SHA-256 sent with the upload against what it received.
        let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&a.bytes));
        assert_eq!(
            srv.checked_sha256(&format!("{PREFIX}/{}", a.name))
                .as_deref(),
            Some(sha.as_str()),
            "{} was not uploaded with a checked SHA-256",
            a.name
        );
    }
    let mut want: Vec<String> = files
        .iter()
        .chain([manifest])
        .map(|a| format!("{PREFIX}/{}", a.name))
        .collect();
    want.sort();
    assert_eq!(srv.keys(), want, "exactly the set, nothing else");

    let store = s3::evidence_store(&s.cfg, &location).unwrap();
    assert_eq!(store.describe(), format!("s3://{BUCKET}/{PREFIX}"));
    assert_eq!(store.get("no-such-file.csv").unwrap(), None);
    let v = verify(store.as_ref(), None).unwrap();
    assert_eq!(v.files.len(), files.len());
    assert!(
        v.files.iter().all(|(_, st)| *st == FileStatus::Ok),
        "{:?}",
        v.describe()
    );
    assert!(v.evidence_digest_ok);
    assert!(v.passed(false), "{:?}", v.describe());
}

#[test]
fn a_wrong_secret_names_the_setting_and_never_the_value() {
    let srv = server();
    let wrong = "wrong-secret-Kd93jfQx";
    let s = config(&srv.endpoint, wrong, "");
    let (files, manifest) = demo_set();
    let err = s3::upload_set(&s.cfg, PREFIX, files, manifest).unwrap_err();
    assert!(matches!(err, S3Error::Credentials { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("s3.secret_access_key"), "{msg}");
    assert!(msg.contains("s3.access_key_id"), "{msg}");
    assert!(msg.contains("SignatureDoesNotMatch"), "{msg}");
    assert!(!msg.contains(wrong), "the secret leaked: {msg}");
    assert!(!msg.contains(SECRET), "{msg}");
    assert!(!format!("{err:?}").contains(wrong), "{err:?}");
    assert_eq!(srv.keys(), Vec::<String>::new(), "nothing may be stored");
}

#[test]
fn a_tampered_object_fails_verification_naming_the_file() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "");
    let location = upload_demo(&s.cfg);
    let path = srv.object(&format!("{PREFIX}/usage_by_user.csv"));
    let mut bytes = std::fs::read(&path).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();

    let store = s3::evidence_store(&s.cfg, &location).unwrap();
    let v = verify(store.as_ref(), None).unwrap();
    let changed: Vec<&str> = v
        .files
        .iter()
        .filter(|(_, st)| *st != FileStatus::Ok)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(changed, ["usage_by_user.csv"]);
    assert!(matches!(
        v.files
            .iter()
            .find(|(n, _)| n == "usage_by_user.csv")
            .unwrap()
            .1,
        FileStatus::HashMismatch { .. }
    ));
    assert!(!v.passed(false));
    assert!(
        v.describe()
            .iter()
            .any(|l| l.starts_with("CHANGED   usage_by_user.csv")),
        "{:?}",
        v.describe()
    );
}

#[test]
fn a_rerun_writes_the_same_keys_with_identical_bytes() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "");
    let first_location = upload_demo(&s.cfg);
    let first_keys = srv.keys();
    let snapshot: Vec<Vec<u8>> = first_keys
        .iter()
        .map(|k| std::fs::read(srv.object(k)).unwrap())
        .collect();
    // Mark one object so the rerun provably replaced it rather than leaving it alone.
    let marked = srv.object(&format!("{PREFIX}/manifest.json"));
    std::fs::write(&marked, b"stale").unwrap();

    let second_location = upload_demo(&s.cfg);
    assert_eq!(first_location, second_location);
    assert_eq!(srv.keys(), first_keys);
    for (k, before) in first_keys.iter().zip(&snapshot) {
        assert!(
            std::fs::read(srv.object(k)).unwrap() == *before,
            "{k} differs after the rerun"
        );
    }
    let store = s3::evidence_store(&s.cfg, &format!("s3://{BUCKET}/{PREFIX}")).unwrap();
    let v = verify(store.as_ref(), None).unwrap();
    assert!(v.passed(false), "{:?}", v.describe());
}

/// The demo manifest as a later run of the same window writes it: another `generated_at`.
fn later_manifest(manifest: &Artifact) -> Artifact {
    let mut m: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    m["generated_at"] = "2026-12-01T02:45:00.000Z".into();
    Artifact {
        name: manifest.name.clone(),
        bytes: serde_json::to_vec_pretty(&m).unwrap(),
        rows: 0,
    }
}

#[test]
fn a_retry_with_the_same_evidence_keeps_the_stored_set_a_mail_may_quote() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "");
    upload_demo(&s.cfg);
    let stored = std::fs::read(srv.object(&format!("{PREFIX}/manifest.json"))).unwrap();
    let before = mtimes(&srv);
    let (files, manifest) = demo_set();
    let mut pdf_of_retry = files.clone();
    for a in &mut pdf_of_retry {
        if a.name == "report.pdf" {
            a.bytes.extend_from_slice(b"% another generated-at\n");
        }
    }
    let up = s3::upload_set(&s.cfg, PREFIX, &pdf_of_retry, &later_manifest(manifest)).unwrap();
    assert_eq!(
        up.already_stored,
        Some(hex::encode(Sha256::digest(&stored)))
    );
    let pdf = files.iter().find(|a| a.name == "report.pdf").unwrap();
    assert_eq!(up.stored_pdf.as_deref(), Some(pdf.bytes.as_slice()));
    assert_eq!(mtimes(&srv), before, "the stored set was rewritten");
    // A damaged stored set does not stand: the retry replaces it and it verifies again.
    std::fs::write(
        srv.object(&format!("{PREFIX}/usage_by_user.csv")),
        b"user\n",
    )
    .unwrap();
    let up = s3::upload_set(&s.cfg, PREFIX, files, manifest).unwrap();
    assert_eq!(up.already_stored, None);
    let store = s3::evidence_store(&s.cfg, &format!("s3://{BUCKET}/{PREFIX}")).unwrap();
    assert!(verify(store.as_ref(), None).unwrap().passed(false));
}

#[test]
fn a_rerun_removes_files_of_the_earlier_set_it_no_longer_writes() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "");
    let (files, manifest) = demo_set();
    // An earlier set of other evidence that also held a bill.
    let bill = Artifact {
        name: "focus_costs.csv".into(),
        bytes: b"BilledCost\n1.00\n".to_vec(),
        rows: 1,
    };
    let mut m: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    m["evidence_sha256"] = "0".repeat(64).into();
    m["files"].as_array_mut().unwrap().push(serde_json::json!({
        "name": bill.name, "sha256": hex::encode(Sha256::digest(&bill.bytes)),
        "bytes": bill.bytes.len(), "rows": 1
    }));
    let earlier = Artifact {
        name: manifest.name.clone(),
        bytes: serde_json::to_vec(&m).unwrap(),
        rows: 0,
    };
    let mut earlier_files = files.clone();
    earlier_files.push(bill);
    s3::upload_set(&s.cfg, PREFIX, &earlier_files, &earlier).unwrap();
    assert!(srv.keys().contains(&format!("{PREFIX}/focus_costs.csv")));
    let up = s3::upload_set(&s.cfg, PREFIX, files, manifest).unwrap();
    assert_eq!(up.already_stored, None);
    assert!(!srv.keys().contains(&format!("{PREFIX}/focus_costs.csv")));
    let store = s3::evidence_store(&s.cfg, &format!("s3://{BUCKET}/{PREFIX}")).unwrap();
    assert!(verify(store.as_ref(), None).unwrap().passed(false));
}

#[test]
fn verify_reports_a_set_stored_under_another_windows_key() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "");
    let (files, manifest) = demo_set();
    // The demo day's set (2026-11-30) under the next day's key: every hash matches, yet it is
    // not the evidence that key claims to hold.
    let wrong = "akko/audit/period=daily/start=2026-12-01";
    s3::upload_set(&s.cfg, wrong, files, manifest).unwrap();
    let store = s3::evidence_store(&s.cfg, &format!("s3://{BUCKET}/{wrong}")).unwrap();
    let v = verify(store.as_ref(), None).unwrap();
    assert!(v.files.iter().all(|(_, st)| *st == FileStatus::Ok));
    assert_eq!(
        v.window_mismatch,
        Some((
            "period=daily/start=2026-12-01".to_string(),
            "period=daily/start=2026-11-30".to_string()
        ))
    );
    assert!(!v.passed(false));
    let text = v.describe().join("\n");
    assert!(
        text.contains("WINDOW    the location names period=daily/start=2026-12-01, but manifest.json covers period=daily/start=2026-11-30"),
        "{text}"
    );
    // Under its own key the same set passes.
    upload_demo(&s.cfg);
    let store = s3::evidence_store(&s.cfg, &format!("s3://{BUCKET}/{PREFIX}")).unwrap();
    let v = verify(store.as_ref(), None).unwrap();
    assert_eq!(v.window_mismatch, None);
    assert!(v.passed(false), "{:?}", v.describe());
}

#[test]
fn a_rerun_that_dies_halfway_leaves_no_old_manifest_vouching_for_the_set() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "");
    let (files, manifest) = demo_set();
    let mut signed = files.clone();
    signed.push(Artifact {
        name: "manifest.json.sig".into(),
        bytes: vec![7; 64],
        rows: 0,
    });
    s3::upload_set(&s.cfg, PREFIX, &signed, manifest).unwrap();
    assert!(srv.keys().contains(&format!("{PREFIX}/manifest.json.sig")));

    // The rerun fails on its first file (a name S3 cannot store), before the signature (last)
    // is replaced: neither the old manifest nor the old signature may be left.
    let mut broken = vec![Artifact {
        name: "bad//name.csv".into(),
        bytes: b"x".to_vec(),
        rows: 0,
    }];
    broken.extend(signed.iter().cloned());
    s3::upload_set(&s.cfg, PREFIX, &broken, manifest).unwrap_err();
    let keys = srv.keys();
    assert!(
        !keys.contains(&format!("{PREFIX}/manifest.json")),
        "{keys:?}"
    );
    assert!(
        !keys.contains(&format!("{PREFIX}/manifest.json.sig")),
        "{keys:?}"
    );
    let store = s3::evidence_store(&s.cfg, &format!("s3://{BUCKET}/{PREFIX}")).unwrap();
    let e = verify(store.as_ref(), None).unwrap_err().to_string();
    assert!(e.contains("no manifest.json"), "{e}");

    // The next complete run restores a whole, verifiable set under the same keys.
    s3::upload_set(&s.cfg, PREFIX, &signed, manifest).unwrap();
    let v = verify(store.as_ref(), None).unwrap();
    assert!(v.passed(false), "{:?}", v.describe());
}

fn mtimes(srv: &S3Server) -> Vec<(String, std::time::SystemTime, Vec<u8>)> {
    srv.keys()
        .into_iter()
        .map(|k| {
            let p = srv.object(&k);
            let m = std::fs::metadata(&p).unwrap().modified().unwrap();
            (k, m, std::fs::read(&p).unwrap())
        })
        .collect()
}

#[test]
fn a_worm_bucket_refuses_a_delivered_window_before_writing_anything() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "object_lock = true\n");
    // The first delivery of the window goes through.
    upload_demo(&s.cfg);
    let before = mtimes(&srv);

    // A rerun with different bytes: anything written would show.
    let (files, manifest) = demo_set();
    let changed: Vec<Artifact> = files
        .iter()
        .map(|a| Artifact {
            bytes: [a.bytes.as_slice(), b"\nrerun"].concat(),
            ..a.clone()
        })
        .collect();
    let err = s3::upload_set(&s.cfg, PREFIX, &changed, manifest).unwrap_err();
    match &err {
        S3Error::AlreadyDelivered { location } => {
            assert_eq!(location, &format!("s3://{BUCKET}/{PREFIX}/"))
        }
        other => panic!("expected AlreadyDelivered, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("Object Lock") && msg.contains("nothing was uploaded"),
        "{msg}"
    );
    assert_eq!(mtimes(&srv), before, "an object was modified");
}

#[test]
fn a_worm_bucket_recognises_the_same_evidence_and_keeps_the_stored_set() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "object_lock = true\n");
    upload_demo(&s.cfg);
    let before = mtimes(&srv);
    let stored = std::fs::read(srv.object(&format!("{PREFIX}/manifest.json"))).unwrap();
    // A retried Job: the same CSVs (so the same evidence_sha256).
    let (files, manifest) = demo_set();
    let up = s3::upload_set(&s.cfg, PREFIX, files, manifest).unwrap();
    assert_eq!(up.location, format!("s3://{BUCKET}/{PREFIX}/"));
    assert_eq!(
        up.already_stored,
        Some(hex::encode(Sha256::digest(&stored))),
        "the stored manifest is the one to quote"
    );
    assert_eq!(mtimes(&srv), before, "an object was modified");
}

/// s3s-fs does not implement Object Lock (it ignores the retention headers), so this proves
/// what can be proven here: the headers ride in the SigV4 signature the server checks, the
/// set lands intact, and a misspelt setting fails config validation, before any request.
/// The header values themselves are unit-tested in `deliver::s3`.
#[test]
fn object_lock_retention_headers_are_signed_and_bad_settings_never_reach_the_network() {
    let srv = server();
    let s = config(
        &srv.endpoint,
        SECRET,
        "object_lock = true\nobject_lock_mode = \"COMPLIANCE\"\nobject_lock_retain_days = 2555\n",
    );
    let retention = s.cfg.retention.unwrap();
    assert_eq!(
        (retention.mode.as_str(), retention.days),
        ("COMPLIANCE", 2555)
    );
    upload_demo(&s.cfg);
    let store = s3::evidence_store(&s.cfg, &format!("s3://{BUCKET}/{PREFIX}")).unwrap();
    let v = verify(store.as_ref(), None).unwrap();
    assert!(v.passed(false), "{:?}", v.describe());

    let dir = tempfile::tempdir().unwrap();
    for (extra, field) in [
        (
            "object_lock = true\nobject_lock_mode = \"Compliance\"\nobject_lock_retain_days = 30\n",
            "s3.object_lock_mode",
        ),
        (
            "object_lock = true\nobject_lock_mode = \"GOVERNANCE\"\nobject_lock_retain_days = 0\n",
            "s3.object_lock_retain_days",
        ),
        (
            "object_lock_mode = \"GOVERNANCE\"\nobject_lock_retain_days = 30\n",
            "s3.object_lock_mode",
        ),
    ] {
        // A closed port: were anything sent, this would fail differently.
        let text = format!(
            "[s3]\nendpoint = \"http://127.0.0.1:1\"\nbucket = \"{BUCKET}\"\nallow_http = true\n\
             access_key_id_env = \"X\"\nsecret_access_key_env = \"Y\"\n{extra}"
        );
        let e = Config::from_toml(&text, &dir.path().join("a.toml"), &|_| None)
            .err()
            .unwrap_or_else(|| panic!("{extra} was accepted"))
            .to_string();
        assert!(e.contains(field), "{extra}: {e}");
    }
}

#[test]
fn a_worm_bucket_accepts_a_window_not_yet_delivered() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "object_lock = true\n");
    assert!(!s3::exists(&s.cfg, &format!("{PREFIX}/manifest.json")).unwrap());
    upload_demo(&s.cfg);
    assert!(s3::exists(&s.cfg, &format!("{PREFIX}/manifest.json")).unwrap());
    // The mailed marker is a new key next to the manifest: allowed.
    let marker = format!("{PREFIX}/mailed.json");
    s3::put(&s.cfg, &marker, b"{\"recipients\":1}").unwrap();
    assert_eq!(
        std::fs::read(srv.object(&marker)).unwrap(),
        b"{\"recipients\":1}"
    );
}

#[test]
fn a_presigned_link_returns_the_bytes_and_a_garbled_or_expired_one_does_not() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "");
    upload_demo(&s.cfg);
    let key = format!("{PREFIX}/usage_by_user.csv");
    let want = std::fs::read(srv.object(&key)).unwrap();

    let url = s3::presign_get(&s.cfg, &key, Duration::from_secs(3600)).unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(!url.contains(SECRET), "{url}");
    let (status, _, body) = fetch(&url);
    assert_eq!(status, 200);
    assert!(body == want, "the link returned other bytes");

    // Flip the signature's last hex digit.
    let last = url.chars().last().unwrap();
    let flipped = if last == '0' { '1' } else { '0' };
    let garbled = format!("{}{flipped}", &url[..url.len() - 1]);
    assert!(garbled.contains("X-Amz-Signature=") && garbled.ends_with(flipped));
    let (status, _, body) = fetch(&garbled);
    assert_eq!(status, 403);
    assert!(body != want);

    // A link for another key is not a link for this one.
    let other = url.replace("usage_by_user.csv", "report.pdf");
    assert_eq!(fetch(&other).0, 403);

    // Expiry: valid right away, refused once its second has passed (polled, at most 5 s).
    let short = s3::presign_get(&s.cfg, &key, Duration::from_secs(1)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        let st = get(&short).status().as_u16();
        if st != 200 || Instant::now() > deadline {
            break st;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status, 403, "an expired link still works");
}

#[test]
fn a_file_above_the_threshold_goes_up_in_parts_intact() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "multipart_threshold = \"5MiB\"\n");
    // 6 MiB + 123 bytes of non-repeating data: two parts (5 MiB + the rest).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let big: Vec<u8> = (0..(6 << 20) + 123)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let files = vec![
        Artifact {
            name: "trino_queries.csv".into(),
            bytes: big.clone(),
            rows: 0,
        },
        Artifact {
            name: "small.csv".into(),
            bytes: b"a,b\n1,2\n".to_vec(),
            rows: 1,
        },
    ];
    let manifest = Artifact {
        name: "manifest.json".into(),
        bytes: b"{}".to_vec(),
        rows: 0,
    };
    s3::upload_set(&s.cfg, PREFIX, &files, &manifest).unwrap();
    let key = format!("{PREFIX}/trino_queries.csv");
    assert!(std::fs::read(srv.object(&key)).unwrap() == big);
    // S3 names a multipart object's ETag `<md5 of part md5s>-<parts>`: proof it went in parts.
    let url = s3::presign_get(&s.cfg, &key, Duration::from_secs(60)).unwrap();
    let (status, etag, body) = fetch(&url);
    assert_eq!(status, 200);
    assert!(body == big);
    let etag = etag.unwrap();
    assert!(etag.trim_matches('"').ends_with("-2"), "ETag {etag}");
    // The small one went up in one PUT.
    let url = s3::presign_get(
        &s.cfg,
        &format!("{PREFIX}/small.csv"),
        Duration::from_secs(60),
    )
    .unwrap();
    let (_, etag, _) = fetch(&url);
    assert!(!etag.unwrap().contains('-'));
}

/// (A missing bucket cannot be shown here: s3s-fs creates the bucket directory on PUT; the
/// unit tests cover the `NoSuchBucket` message.)
#[test]
fn a_closed_port_names_the_endpoint() {
    // A port that was free a moment ago and is closed now.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let s = config(&closed, SECRET, "");
    let mut cfg = s.cfg.clone();
    cfg.retries = 0;
    let err = s3::exists(&cfg, "x").unwrap_err();
    assert!(matches!(err, S3Error::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&closed) && msg.contains("s3.endpoint"),
        "{msg}"
    );
}

#[test]
fn evidence_urls_must_be_s3() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "");
    assert!(s3::evidence_store(&s.cfg, "/tmp/x").is_err());
    let store = s3::evidence_store(&s.cfg, &format!("s3://{BUCKET}/nothing/here/")).unwrap();
    let e = verify(store.as_ref(), None).unwrap_err().to_string();
    assert!(e.contains("no manifest.json"), "{e}");
    assert!(Path::new(&srv.bucket_dir()).is_dir());
}

#[test]
fn encryption_settings_reach_the_server_and_a_bad_ca_file_is_named() {
    let srv = server();
    for (extra, key) in [
        ("sse = \"AES256\"\n", "sse/s3.json"),
        (
            "sse = \"aws:kms\"\nsse_kms_key_id = \"akko-evidence\"\n",
            "sse/kms.json",
        ),
    ] {
        let s = config(&srv.endpoint, SECRET, extra);
        s3::put(&s.cfg, key, b"{}").unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert_eq!(std::fs::read(srv.object(key)).unwrap(), b"{}");
    }
    let s = config(&srv.endpoint, SECRET, "ca_file = \"no-such-ca.pem\"\n");
    let err = s3::put(&s.cfg, "x.json", b"{}").unwrap_err().to_string();
    assert!(
        err.contains("s3.ca_file") && err.contains("no-such-ca.pem"),
        "{err}"
    );
    // A file that exists but holds no certificate (the access key file).
    let s = config(&srv.endpoint, SECRET, "ca_file = \"access_key_id\"\n");
    let err = s3::put(&s.cfg, "x.json", b"{}").unwrap_err().to_string();
    assert!(
        err.contains("s3.ca_file")
            && (err.contains("no certificate") || err.contains("not a PEM bundle")),
        "{err}"
    );
    assert!(!err.contains(ACCESS_KEY), "{err}");
}

/// A composed period and `backfill` ask the history in S3 which day tables exist (a HEAD each)
/// before reading any.
#[test]
fn the_history_store_tells_which_day_tables_exist() {
    let srv = server();
    let s = config(&srv.endpoint, SECRET, "");
    let key = s3::history_key(&s.cfg, "usage_by_user/date=2026-11-30/part-0.parquet");
    s3::put(&s.cfg, &key, b"PAR1").unwrap();
    let store = s3::evidence_store(&s.cfg, &s3::history_url(&s.cfg)).unwrap();
    assert!(store
        .exists("usage_by_user/date=2026-11-30/part-0.parquet")
        .unwrap());
    assert!(!store
        .exists("usage_by_user/date=2026-11-29/part-0.parquet")
        .unwrap());
    let missing = akko_audit::history::missing_tables(
        store.as_ref(),
        chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    )
    .unwrap();
    assert!(!missing.contains(&"usage_by_user"), "{missing:?}");
    assert!(missing.contains(&"notebook_sessions"), "{missing:?}");
}
