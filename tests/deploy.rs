//! The Kubernetes manifests in `cronjobs/`, read as Kubernetes would read them (every YAML
//! document of every file), checked against each other and against the real binary: the
//! CronJobs' schedules give the calendar windows they claim, the ConfigMap's config passes
//! `config check`, and nothing in the folder weakens the job's isolation or leaks a secret.
//!
//! Every object is validated against the Kubernetes OpenAPI schemas with `kubernetes-validate
//! --strict` (PyPI; scripts/test-services.sh installs it and exports
//! `AKKO_TEST_KUBERNETES_VALIDATE`): an unknown or misspelt field fails, as `kubectl apply
//! --validate=strict` would. What this cannot check: admission by a real API server (no cluster
//! here), and that the secret files exist in the cluster: `config check` does not open `*_file` paths, so the test instead
//! proves every such path points into the mounted Secret at a key the template defines.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_yaml_ng::Value;

/// One YAML document of one manifest file.
struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
}

fn cronjobs_dir() -> PathBuf {
    support::job::repo().join("cronjobs")
}

fn yaml_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cronjobs_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().to_string()
}

/// Every document of every manifest, multi-document files included (`---`).
fn docs() -> Vec<Doc> {
    let mut out = Vec::new();
    for path in yaml_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for de in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = Value::deserialize(de)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
            // An empty document (a trailing `---`) is no object; kubectl skips it too.
            if !value.is_null() {
                out.push(Doc {
                    file: file_name(&path),
                    value,
                });
            }
        }
    }
    out
}

fn of_kind<'a>(docs: &'a [Doc], kind: &str) -> Vec<&'a Doc> {
    docs.iter().filter(|d| d.kind() == kind).collect()
}

fn one<'a>(docs: &'a [Doc], kind: &str) -> &'a Doc {
    let found = of_kind(docs, kind);
    assert_eq!(found.len(), 1, "expected exactly one {kind} in cronjobs/");
    found[0]
}

/// The pod template of a CronJob.
fn pod(cj: &Doc) -> &Value {
    &cj.value["spec"]["jobTemplate"]["spec"]["template"]
}

/// The job's one container.
fn container(cj: &Doc) -> &Value {
    let cs = pod(cj)["spec"]["containers"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{}: no containers", cj.file));
    assert_eq!(cs.len(), 1, "{}: one container expected", cj.file);
    &cs[0]
}

/// The value after `--period` in the container's args.
fn period_arg(cj: &Doc) -> String {
    let args: Vec<&str> = container(cj)["args"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{}: no args", cj.file))
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    // `chargeback` reports the month before the current one: a monthly period.
    if args.first() == Some(&"chargeback") {
        return "monthly".to_string();
    }
    let i = args
        .iter()
        .position(|a| *a == "--period")
        .unwrap_or_else(|| panic!("{}: args {args:?} lack --period", cj.file));
    args[i + 1].to_string()
}

fn int(v: &Value, what: &str) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("{what} must be an integer, is {v:?}"))
}

fn akko(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .args(args)
        // A developer's own config must not leak into `window` (it reads AKKO_AUDIT_CONFIG).
        .env_remove("AKKO_AUDIT_CONFIG")
        .output()
        .expect("run akko-audit")
}

/// The config the ConfigMap carries, written to `dir/akko-audit.toml`.
fn configmap_toml(docs: &[Doc]) -> String {
    one(docs, "ConfigMap").value["data"]["akko-audit.toml"]
        .as_str()
        .expect("the ConfigMap holds data.akko-audit.toml")
        .to_string()
}

#[test]
fn every_document_is_a_kubernetes_object() {
    let docs = docs();
    assert!(!docs.is_empty(), "no manifests in cronjobs/");
    for d in &docs {
        for key in ["apiVersion", "kind"] {
            let v = d.value[key].as_str().unwrap_or("");
            assert!(!v.is_empty(), "{}: {key} missing", d.file);
        }
        assert!(!d.name().is_empty(), "{}: metadata.name missing", d.file);
    }
    let kinds: BTreeSet<&str> = docs.iter().map(Doc::kind).collect();
    for kind in [
        "ConfigMap",
        "CronJob",
        "Kustomization",
        "NetworkPolicy",
        "Secret",
        "ServiceAccount",
    ] {
        assert!(kinds.contains(kind), "no {kind} in cronjobs/ ({kinds:?})");
    }
    // Two objects of one kind and name would silently replace each other on apply.
    let mut seen = BTreeSet::new();
    for d in &docs {
        assert!(
            seen.insert((d.kind(), d.name())),
            "{} {} defined twice",
            d.kind(),
            d.name()
        );
    }
}

fn kubernetes_validate(files: &[PathBuf]) -> Output {
    let tool = std::env::var("AKKO_TEST_KUBERNETES_VALIDATE")
        .unwrap_or_else(|_| "kubernetes-validate".to_string());
    Command::new(&tool)
        .arg("--strict")
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {tool} ({e}): run scripts/test-services.sh, which installs it and exports AKKO_TEST_KUBERNETES_VALIDATE"
            )
        })
}

#[test]
fn every_object_passes_the_kubernetes_schema_strictly() {
    // Kustomization is a kustomize file, not an API object: it has no schema there.
    let files: Vec<PathBuf> = yaml_files()
        .into_iter()
        .filter(|f| file_name(f) != "kustomization.yaml")
        .collect();
    let o = kubernetes_validate(&files);
    let text = support::job::output_text(&o);
    assert!(o.status.success(), "{text}");
    for f in &files {
        assert!(
            text.lines()
                .any(|l| l.contains(&f.display().to_string()) && l.contains("passed")),
            "{} not validated: {text}",
            f.display()
        );
    }
    // The validator really is strict: a misspelt field of the daily CronJob fails.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("cronjob-daily.yaml");
    let daily = std::fs::read_to_string(cronjobs_dir().join("cronjob-daily.yaml")).unwrap();
    assert!(daily.contains("startingDeadlineSeconds:"));
    std::fs::write(
        &bad,
        daily.replace("startingDeadlineSeconds:", "startingDeadlineSecond:"),
    )
    .unwrap();
    let o = kubernetes_validate(&[bad]);
    let text = support::job::output_text(&o);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains("startingDeadlineSecond"), "{text}");
}

#[test]
fn kustomization_lists_every_manifest_but_the_secret_template() {
    let docs = docs();
    let k = one(&docs, "Kustomization");
    assert_eq!(k.file, "kustomization.yaml");
    let resources: BTreeSet<String> = k.value["resources"]
        .as_sequence()
        .expect("kustomization resources")
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    for r in &resources {
        assert!(
            cronjobs_dir().join(r).is_file(),
            "kustomization lists {r}, which does not exist"
        );
    }
    let expected: BTreeSet<String> = yaml_files()
        .iter()
        .map(|p| file_name(p))
        .filter(|f| f != "kustomization.yaml" && !f.contains(".template."))
        .collect();
    assert_eq!(
        resources, expected,
        "kustomization resources must be exactly the manifests except the templates"
    );
    // The Secret template must never be applied by `kubectl apply -k`: it would overwrite the
    // real credentials with placeholders.
    let secret = one(&docs, "Secret");
    assert!(
        secret.file.contains(".template."),
        "the Secret lives in {}, which is not named as a template",
        secret.file
    );
    assert!(!resources.contains(&secret.file));

    // `images:` only rewrites images whose name matches: every CronJob must use that name.
    let images = k.value["images"]
        .as_sequence()
        .expect("kustomization images");
    let names: Vec<&str> = images.iter().map(|i| i["name"].as_str().unwrap()).collect();
    for cj in of_kind(&docs, "CronJob") {
        let image = container(cj)["image"].as_str().unwrap();
        let name = image.split(':').next().unwrap();
        assert!(
            names.contains(&name),
            "{}: image {image} is not covered by kustomization images {names:?}",
            cj.file
        );
    }
    for i in images {
        assert!(i["newTag"].as_str().is_some_and(|t| !t.is_empty()));
    }
    let labels = &k.value["labels"][0];
    assert!(labels["pairs"].as_mapping().is_some_and(|m| !m.is_empty()));
    // Labels on selectors would have to be mirrored by hand in the NetworkPolicy.
    assert_eq!(labels["includeSelectors"].as_bool(), Some(false));
}

#[test]
fn cronjobs_are_locked_down_and_fail_fast_on_bad_config() {
    let docs = docs();
    let cronjobs = of_kind(&docs, "CronJob");
    let periods: BTreeSet<String> = cronjobs.iter().map(|c| period_arg(c)).collect();
    assert_eq!(
        periods,
        ["daily", "monthly", "weekly"]
            .map(String::from)
            .into_iter()
            .collect(),
        "one CronJob per period"
    );
    let sa = one(&docs, "ServiceAccount").name().to_string();
    let cm = one(&docs, "ConfigMap").name().to_string();
    let secret = one(&docs, "Secret").name().to_string();
    for cj in cronjobs {
        let f = &cj.file;
        let spec = &cj.value["spec"];
        let job = &spec["jobTemplate"]["spec"];
        let pod = &pod(cj)["spec"];
        let c = container(cj);
        assert_eq!(spec["timeZone"].as_str(), Some("UTC"), "{f}: timeZone");
        assert_eq!(
            spec["concurrencyPolicy"].as_str(),
            Some("Forbid"),
            "{f}: overlapping runs would race on the same evidence keys"
        );
        let period_secs = match period_arg(cj).as_str() {
            "daily" => 86_400,
            "weekly" => 7 * 86_400,
            _ => 28 * 86_400,
        };
        let starting = int(&spec["startingDeadlineSeconds"], "startingDeadlineSeconds");
        assert!(starting > 0 && starting < period_secs, "{f}: {starting}");
        for h in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
            assert!((1..=10).contains(&int(&spec[h], h)), "{f}: {h}");
        }
        assert!((1..=6).contains(&int(&job["backoffLimit"], "backoffLimit")));
        // All attempts must end before the next fire time, or a retry would run beside it.
        let active = int(&job["activeDeadlineSeconds"], "activeDeadlineSeconds");
        assert!(active > 0 && active < period_secs, "{f}: {active}");
        assert!(int(&job["ttlSecondsAfterFinished"], "ttlSecondsAfterFinished") > 0);

        // podFailurePolicy: exit 2 fails the Job at once, and only exit 2 does.
        assert_eq!(pod["restartPolicy"].as_str(), Some("Never"), "{f}");
        let rules = job["podFailurePolicy"]["rules"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{f}: podFailurePolicy.rules missing"));
        let first_for_2 = rules
            .iter()
            .find(|r| {
                let codes = &r["onExitCodes"];
                let listed = codes["values"]
                    .as_sequence()
                    .is_some_and(|v| v.iter().any(|x| x.as_i64() == Some(2)));
                match codes["operator"].as_str() {
                    Some("In") => listed,
                    Some("NotIn") => !listed,
                    _ => false,
                }
            })
            .unwrap_or_else(|| panic!("{f}: no podFailurePolicy rule matches exit code 2"));
        assert_eq!(first_for_2["action"].as_str(), Some("FailJob"), "{f}");
        assert_eq!(first_for_2["onExitCodes"]["operator"].as_str(), Some("In"));
        let codes: Vec<i64> = first_for_2["onExitCodes"]["values"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(
            codes,
            [2],
            "{f}: exits 1, 3 and 4 may be transient and must retry"
        );
        if let Some(name) = first_for_2["onExitCodes"]["containerName"].as_str() {
            assert_eq!(Some(name), c["name"].as_str(), "{f}: containerName");
        }

        // Identity and isolation.
        assert_eq!(pod["serviceAccountName"].as_str(), Some(sa.as_str()), "{f}");
        assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
        let psc = &pod["securityContext"];
        assert_eq!(psc["runAsNonRoot"].as_bool(), Some(true), "{f}");
        assert_eq!(psc["runAsUser"].as_i64(), Some(65532), "{f}");
        assert_eq!(psc["runAsGroup"].as_i64(), Some(65532), "{f}");
        assert_eq!(
            psc["seccompProfile"]["type"].as_str(),
            Some("RuntimeDefault")
        );
        let csc = &c["securityContext"];
        assert_eq!(csc["allowPrivilegeEscalation"].as_bool(), Some(false));
        assert_eq!(csc["readOnlyRootFilesystem"].as_bool(), Some(true), "{f}");
        assert_ne!(csc["privileged"].as_bool(), Some(true));
        assert_ne!(csc["runAsNonRoot"].as_bool(), Some(false));
        let drop: Vec<&str> = csc["capabilities"]["drop"]
            .as_sequence()
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert!(drop.contains(&"ALL"), "{f}: capabilities.drop {drop:?}");
        assert!(
            csc["capabilities"]["add"].is_null(),
            "{f}: adds capabilities"
        );
        let res = &c["resources"];
        for (k, v) in [
            ("requests", "cpu"),
            ("requests", "memory"),
            ("limits", "cpu"),
            ("limits", "memory"),
        ] {
            assert!(res[k][v].as_str().is_some(), "{f}: resources.{k}.{v}");
        }

        // Arguments: `run`, a period, and no config path or secret in argv.
        let args: Vec<&str> = c["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            matches!(args.first(), Some(&"run") | Some(&"chargeback")),
            "{f}: {args:?}"
        );
        assert!(!args.contains(&"--config"), "{f}: config goes via env");
        assert!(!args.contains(&"--at"), "{f}: --at would pin the window");
        assert!(!args.contains(&"--from") && !args.contains(&"--to"), "{f}");

        // Volumes: config and Secret read-only, writes only to emptyDirs.
        let volumes = pod["volumes"].as_sequence().expect("volumes");
        let volume = |name: &str| -> &Value {
            volumes
                .iter()
                .find(|v| v["name"].as_str() == Some(name))
                .unwrap_or_else(|| panic!("{f}: no volume {name}"))
        };
        let mounts = c["volumeMounts"].as_sequence().expect("volumeMounts");
        let mut config_dir = None;
        let mut saw_secret = false;
        let mut writable = Vec::new();
        for m in mounts {
            let v = volume(m["name"].as_str().unwrap());
            let path = m["mountPath"].as_str().unwrap().to_string();
            let ro = m["readOnly"].as_bool() == Some(true);
            if !v["configMap"].is_null() {
                assert!(ro, "{f}: config mount must be read-only");
                assert_eq!(v["configMap"]["name"].as_str(), Some(cm.as_str()), "{f}");
                config_dir = Some(path);
            } else if !v["secret"].is_null() {
                assert!(ro, "{f}: secret mount must be read-only");
                assert_eq!(v["secret"]["secretName"].as_str(), Some(secret.as_str()));
                saw_secret = true;
            } else {
                assert!(
                    !v["emptyDir"].is_null(),
                    "{f}: {path} is neither config, secret nor emptyDir"
                );
                writable.push(path);
            }
        }
        assert!(saw_secret, "{f}: the Secret is not mounted");
        assert!(
            writable.iter().any(|p| p == "/tmp"),
            "{f}: no /tmp emptyDir"
        );
        let config_dir = config_dir.unwrap_or_else(|| panic!("{f}: config not mounted"));
        let env = c["env"].as_sequence().expect("env");
        let config_env = env
            .iter()
            .find(|e| e["name"].as_str() == Some("AKKO_AUDIT_CONFIG"))
            .unwrap_or_else(|| panic!("{f}: AKKO_AUDIT_CONFIG not set"));
        assert_eq!(
            config_env["value"].as_str(),
            Some(format!("{config_dir}/akko-audit.toml").as_str()),
            "{f}: AKKO_AUDIT_CONFIG must name the mounted ConfigMap key"
        );

        // The config's output folder must be on a writable volume (the root is read-only).
        let config: toml::Value = toml::from_str(&configmap_toml(&docs)).unwrap();
        let out = config["output"]["dir"].as_str().expect("output.dir");
        assert!(
            writable.iter().any(|w| Path::new(out).starts_with(w)),
            "{f}: output.dir {out} is not on a writable volume {writable:?}"
        );
    }
}

/// `akko-audit window` output as key -> value.
fn window(args: &[&str]) -> std::collections::BTreeMap<String, String> {
    let mut all = vec!["window"];
    all.extend_from_slice(args);
    let o = akko(&all);
    assert_eq!(
        o.status.code(),
        Some(0),
        "akko-audit {all:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(char::is_whitespace))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// An RFC 3339 instant `secs` seconds after `t`.
fn plus(t: &str, secs: i64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(t).unwrap() + chrono::Duration::seconds(secs);
    t.with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `"M H ..."` -> seconds after midnight of the fire (the schedules fire once a day at most).
fn fire_second_of_day(cj: &Doc) -> i64 {
    let schedule = cj.value["spec"]["schedule"].as_str().unwrap();
    let f: Vec<&str> = schedule.split_whitespace().collect();
    let num = |s: &str| -> i64 {
        s.parse()
            .unwrap_or_else(|_| panic!("{}: {schedule:?}: one fixed minute and hour", cj.file))
    };
    num(f[1]) * 3600 + num(f[0]) * 60
}

#[test]
fn weekly_and_monthly_fire_only_after_the_daily_job_that_writes_their_history_has_ended() {
    // The daily Job starts at most startingDeadlineSeconds late and runs (all retries) at most
    // activeDeadlineSeconds: after that bound yesterday's history day exists or never will.
    let docs = docs();
    let cronjobs = of_kind(&docs, "CronJob");
    let daily = cronjobs.iter().find(|c| period_arg(c) == "daily").unwrap();
    let spec = &daily.value["spec"];
    let daily_done = fire_second_of_day(daily)
        + int(&spec["startingDeadlineSeconds"], "startingDeadlineSeconds")
        + int(
            &spec["jobTemplate"]["spec"]["activeDeadlineSeconds"],
            "activeDeadlineSeconds",
        );
    for cj in cronjobs.iter().filter(|c| period_arg(c) != "daily") {
        let fire = fire_second_of_day(cj);
        assert!(
            daily_done + 1800 <= fire,
            "{}: fires at {}s after midnight, but the daily Job may still run until {}s (keep \
             at least 30 min of margin)",
            cj.file,
            fire,
            daily_done
        );
    }
}

#[test]
fn cronjob_schedules_report_the_calendar_period_that_just_ended() {
    // For each period: a fire time of its CronJob and the window that run must report. Days are
    // UTC days, weeks Monday 00:00 to Monday 00:00 (2026-11-30 is a Monday), months calendar
    // months. The printed fire_time proves the CronJob's schedule really fires then.
    let table = [
        (
            "daily",
            "2026-12-01T02:00:00.000Z",
            "2026-11-30T00:00:00.000Z",
            "2026-12-01T00:00:00.000Z",
        ),
        (
            "weekly",
            "2026-11-30T07:00:00.000Z",
            "2026-11-23T00:00:00.000Z",
            "2026-11-30T00:00:00.000Z",
        ),
        (
            "monthly",
            "2026-12-01T08:00:00.000Z",
            "2026-11-01T00:00:00.000Z",
            "2026-12-01T00:00:00.000Z",
        ),
    ];
    let docs = docs();
    let dir = tempfile::tempdir().unwrap();
    let config = support::job::write_config(dir.path(), &configmap_toml(&docs));
    let config = config.to_str().unwrap();
    let cronjobs = of_kind(&docs, "CronJob");
    assert_eq!(cronjobs.len(), table.len());
    for cj in cronjobs {
        let period = period_arg(cj);
        let (_, fire, start, end) = table
            .iter()
            .find(|(p, ..)| *p == period)
            .unwrap_or_else(|| panic!("{}: unexpected period {period}", cj.file));
        let schedule = cj.value["spec"]["schedule"].as_str().unwrap();
        let tz = cj.value["spec"]["timeZone"].as_str().unwrap();
        // Just after the fire time (the first attempt), and 3 hours later (a late retry).
        for at in [plus(fire, 30), plus(fire, 3 * 3600)] {
            let w = window(&[
                "--schedule",
                schedule,
                "--schedule-time-zone",
                tz,
                "--period",
                &period,
                "--at",
                &at,
            ]);
            let what = format!("{}: schedule {schedule:?} at {at}", cj.file);
            assert_eq!(w["fire_time"], *fire, "{what}: fire time");
            assert_eq!(
                (w["start"].as_str(), w["end"].as_str()),
                (*start, *end),
                "{what}"
            );
            // What `run` really uses: window.schedule and time_zone of the ConfigMap's config
            // (`run` has no --schedule flag), with the CronJob's --period.
            let w = window(&["--config", config, "--period", &period, "--at", &at]);
            assert_eq!(
                (w["start"].as_str(), w["end"].as_str()),
                (*start, *end),
                "{}: the ConfigMap's window.schedule gives another window at {at}",
                cj.file
            );
        }
    }
}

#[test]
fn configmap_config_passes_config_check_and_points_into_the_secret() {
    let docs = docs();
    let text = configmap_toml(&docs);
    let dir = tempfile::tempdir().unwrap();
    let path = support::job::write_config(dir.path(), &text);
    // The file exactly as the pod sees it: no path rewritten, no env var set.
    let o = akko(&["config", "check", "--config", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for (source, backend) in [
        ("trino", "loki"),
        ("opa", "loki"),
        ("keycloak", "loki"),
        ("jupyterhub", "loki"),
        ("litellm", "postgres"),
        ("storage", "prometheus"),
        ("databases", "prometheus"),
        ("pods", "prometheus"),
        ("platform", "prometheus"),
    ] {
        let line = format!("source {source:<11} backend {backend}");
        assert!(stdout.contains(&line), "missing {line:?} in:\n{stdout}");
    }

    // The documented, commented-out options (CA bundles, SSE, Object Lock) are valid as written.
    let options = [
        "ca_file",
        "sse",
        "sse_kms_key_id",
        "object_lock",
        "object_lock_mode",
        "object_lock_retain_days",
    ];
    let mut enabled = Vec::new();
    let uncommented: String = text
        .lines()
        .map(|l| {
            let opt = l
                .strip_prefix("# ")
                .filter(|rest| options.iter().any(|o| rest.starts_with(&format!("{o} = "))));
            match opt {
                Some(rest) => {
                    enabled.push(rest.split(" = ").next().unwrap().to_string());
                    rest.to_string()
                }
                None => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    enabled.sort();
    enabled.dedup();
    assert_eq!(enabled.len(), options.len(), "documented: {enabled:?}");
    let all = dir.path().join("all-options.toml");
    std::fs::write(&all, &uncommented).unwrap();
    let o = akko(&["config", "check", "--config", all.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let all: toml::Value = toml::from_str(&uncommented).unwrap();
    for section in [&all["s3"], &all["email"]["smtp"]] {
        assert!(
            section["ca_file"]
                .as_str()
                .is_some_and(|f| f.starts_with("/var/run/secrets/akko-audit/")),
            "ca_file must come from the mounted Secret"
        );
    }

    // A broken config exits 2, the code podFailurePolicy turns into an immediate Job failure.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, format!("{text}\nno_such_key = 1\n")).unwrap();
    let o = akko(&["config", "check", "--config", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "a bad config must exit 2");

    // `config check` does not open secret files, so check what it cannot: every *_file path
    // lies in the mounted Secret at a key the template defines, and every *_env variable is set.
    let config: toml::Value = toml::from_str(&text).unwrap();
    let mut files = Vec::new();
    let mut envs = Vec::new();
    collect_secret_refs(&config, "", &mut files, &mut envs);
    assert!(
        !files.is_empty(),
        "the live config reads no secret file at all?"
    );
    let secret = one(&docs, "Secret");
    let keys: BTreeSet<String> = secret.value["stringData"]
        .as_mapping()
        .expect("stringData")
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    for cj in of_kind(&docs, "CronJob") {
        let c = container(cj);
        let secret_vol = pod(cj)["spec"]["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| !v["secret"].is_null())
            .unwrap()["name"]
            .as_str()
            .unwrap();
        let mount = c["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["name"].as_str() == Some(secret_vol))
            .unwrap()["mountPath"]
            .as_str()
            .unwrap();
        for (key, file) in &files {
            let rel = Path::new(file).strip_prefix(mount).unwrap_or_else(|_| {
                panic!("{key} = {file:?} is not under the Secret mount {mount}")
            });
            let rel = rel.to_str().unwrap();
            assert!(
                keys.contains(rel),
                "{key} = {file:?}: the Secret template has no key {rel:?} ({keys:?})"
            );
        }
        let env: Vec<&str> = c["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        for (key, var) in &envs {
            assert!(
                env.contains(&var.as_str()),
                "{key} = {var:?} is not set in {}",
                cj.file
            );
        }
    }
    // The window must follow the clock: a pinned `at` would report the same day forever.
    assert!(config["window"].get("at").is_none(), "window.at is set");
    // The config's schedule zone is the CronJobs' spec.timeZone.
    for cj in of_kind(&docs, "CronJob") {
        assert_eq!(
            config["window"]["schedule_time_zone"].as_str(),
            cj.value["spec"]["timeZone"].as_str(),
            "{}",
            cj.file
        );
    }
}

/// Every `*_file` (except file-backend `files`) and `*_env` key of the config, with its value.
fn collect_secret_refs(
    v: &toml::Value,
    at: &str,
    files: &mut Vec<(String, String)>,
    envs: &mut Vec<(String, String)>,
) {
    if let toml::Value::Table(t) = v {
        for (k, v) in t {
            let key = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            match v {
                toml::Value::String(s) if k.ends_with("_file") => files.push((key, s.clone())),
                toml::Value::String(s) if k.ends_with("_env") => envs.push((key, s.clone())),
                _ => collect_secret_refs(v, &key, files, envs),
            }
        }
    }
}

#[test]
fn network_policy_denies_ingress_and_allows_only_named_egress() {
    let docs = docs();
    let np = one(&docs, "NetworkPolicy");
    let spec = &np.value["spec"];
    let types: BTreeSet<&str> = spec["policyTypes"]
        .as_sequence()
        .expect("policyTypes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(types, BTreeSet::from(["Egress", "Ingress"]));
    // No ingress rule at all: with policyType Ingress that denies every inbound connection.
    assert!(
        spec["ingress"].as_sequence().is_none_or(|s| s.is_empty()),
        "the job serves nothing; no ingress rule may exist"
    );
    let egress = spec["egress"].as_sequence().expect("egress rules");
    assert!(!egress.is_empty());
    let mut dns = false;
    for (i, rule) in egress.iter().enumerate() {
        // A rule without `to` (or with an empty one) allows every destination.
        let to = rule["to"]
            .as_sequence()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| panic!("egress[{i}] has no `to`: it would allow everything"));
        for peer in to {
            let ns = peer["namespaceSelector"]["matchLabels"].as_mapping();
            let pods = peer["podSelector"]["matchLabels"].as_mapping();
            let ip = peer["ipBlock"]["cidr"].as_str();
            assert!(
                ip.is_some_and(|c| c != "0.0.0.0/0" && c != "::/0")
                    || (ns.is_some_and(|m| !m.is_empty()) && pods.is_some_and(|m| !m.is_empty())),
                "egress[{i}]: every peer names a namespace and pods (or a narrow ipBlock): {peer:?}"
            );
        }
        // Without ports a rule opens every port of the peer.
        let ports = rule["ports"]
            .as_sequence()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| panic!("egress[{i}] has no ports"));
        dns |= ports.iter().any(|p| p["port"].as_i64() == Some(53));
    }
    assert!(dns, "no DNS egress: no backend name would resolve");
    // The policy must select the job's pods, or it protects nothing.
    let selector = spec["podSelector"]["matchLabels"]
        .as_mapping()
        .filter(|m| !m.is_empty())
        .expect("podSelector.matchLabels");
    for cj in of_kind(&docs, "CronJob") {
        let labels = pod(cj)["metadata"]["labels"].as_mapping().unwrap();
        for (k, v) in selector {
            assert_eq!(labels.get(k), Some(v), "{}: pods lack label {k:?}", cj.file);
        }
    }
}

#[test]
fn service_account_mounts_no_token() {
    let docs = docs();
    let sa = one(&docs, "ServiceAccount");
    assert_eq!(
        sa.value["automountServiceAccountToken"].as_bool(),
        Some(false),
        "the job needs no Kubernetes API access"
    );
}

#[test]
fn secret_template_holds_placeholders_only() {
    let docs = docs();
    let secret = one(&docs, "Secret");
    // base64 `data` could hide anything; a template uses readable stringData only.
    assert!(
        secret.value["data"].is_null(),
        "use stringData in the template"
    );
    let data = secret.value["stringData"].as_mapping().expect("stringData");
    let placeholder = regex::Regex::new(r"^REPLACE_ME$").unwrap();
    for (k, v) in data {
        let v = v.as_str().unwrap_or("");
        assert!(
            placeholder.is_match(v),
            "secret template key {k:?} holds {v:?}, not a placeholder"
        );
    }
    let keys: BTreeSet<&str> = data.keys().filter_map(Value::as_str).collect();
    for key in [
        "loki-password",
        "litellm-database-url",
        "s3-access-key-id",
        "s3-secret-access-key",
        "smtp-password",
        "manifest-signing-key",
        "pseudonymisation-key",
    ] {
        assert!(keys.contains(key), "secret template lacks {key:?}");
    }
}
