//! The evaluation and the PDF, end to end through the real binary:
//! - the demo day: every report section, KPI figures equal to the ledger, every control id,
//!   every page renders, and the same inputs give the same PDF bytes;
//! - an incident day (the demo day plus a brute-force burst, a denial storm and a privileged
//!   role grant, with JupyterHub's Loki down): the matching findings, controls judged
//!   incomplete where their evidence is missing, and a PARTIAL cover.
//!
//! Reading the PDF uses Debian's poppler-utils (`pdftotext`, `pdfinfo`, `pdftoppm`), which the
//! README's test command installs; a missing tool fails the test rather than skipping it.

mod support;

use std::path::Path;

use support::job::{demo, demo_config_absolute, manifest, run, write_config};
use support::pdf::{page_count, render_pages, tool};

fn pdf_text(pdf: &Path) -> String {
    tool("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"])
}

fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap())
        .collect()
}

fn ledger_sum(dir: &Path, column: &str) -> i64 {
    support::job::column(dir, column)
        .iter()
        .map(|v| v.parse::<i64>().unwrap())
        .sum()
}

/// The first word printed under a KPI label that `is_value` accepts (`text` from
/// `pdftotext -layout`).
fn kpi_under(text: &str, label: &str, is_value: impl Fn(&str) -> bool) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no KPI {label:?}:\n{text}"));
    let col = lines[i].find(label).unwrap();
    lines[i + 1..]
        .iter()
        .find_map(|l| {
            let rest = l.get(col..)?;
            let v = rest.split_whitespace().next()?;
            is_value(v).then(|| v.to_string())
        })
        .unwrap_or_else(|| panic!("no value under {label:?}:\n{text}"))
}

/// The figure printed under a KPI label on the cover (the first page).
fn cover_kpi(cover: &str, label: &str) -> String {
    kpi_under(cover, label, |v| v.chars().all(|c| c.is_ascii_digit()))
}

#[test]
fn demo_pdf_has_every_section_the_ledger_kpis_and_every_control() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run(&demo("akko-audit.toml"), &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let pdf = out.join("report.pdf");
    let text = pdf_text(&pdf);
    for section in [
        "Contents",
        "Summary",
        "Activity timeline",
        "Top users by Trino queries",
        "Top users by LLM tokens",
        "JupyterHub active sessions",
        "JupyterHub total users",
        "Users online vs total",
        "Storage by bucket",
        "CPU usage by user pods",
        "Memory usage by user pods",
        "Keycloak auth events",
        "Trino query log",
        "OPA authorization decisions",
        "LiteLLM request rate",
        "Audit event volume",
        "Cockpit usage tabs",
        "LLM usage",
        "Sessions",
        "Resources",
        "Usage by user",
        "GDPR controls",
        "SOC 2 controls",
        "ISO/IEC 27001 controls",
        "Findings",
        "Appendix A: data completeness",
        "Appendix B: methodology",
        "Page 1 of",
    ] {
        assert!(text.contains(section), "the PDF lacks {section:?}");
    }
    // Cover: status, the evidence digest of the manifest, and KPI figures equal to the ledger.
    let cover = tool(
        "pdftotext",
        &["-layout", "-l", "1", pdf.to_str().unwrap(), "-"],
    );
    assert!(cover.contains("COMPLETE"));
    let m = manifest(&out);
    assert!(cover.contains(m["evidence_sha256"].as_str().unwrap()));
    let users = support::job::column(&out, "user").len();
    assert_eq!(cover_kpi(&cover, "Total users"), users.to_string());
    assert_eq!(
        cover_kpi(&cover, "Trino queries"),
        ledger_sum(&out, "trino_queries").to_string()
    );
    assert_eq!(
        cover_kpi(&cover, "LLM requests"),
        ledger_sum(&out, "llm_requests").to_string()
    );
    // Every control of controls.csv appears under its framework.
    for row in csv_rows(&out.join("controls.csv")) {
        assert!(
            text.contains(&row[2]),
            "control {} missing from the PDF",
            &row[2]
        );
    }
    for id in [
        "Art. 5(1)(e)",
        "Art. 44",
        "CC6.1",
        "C1.2",
        "A1.1",
        "5.15",
        "8.16",
    ] {
        assert!(text.contains(id), "{id}");
    }
    // Unicode names survive as text (the embedded font, not WinAnsi '?').
    assert!(text.contains("Jürgen") || text.contains("jurgen"));
    // Every page renders.
    let pages = page_count(&pdf);
    assert!(pages >= 20, "{pages} pages");
    assert_eq!(render_pages(&pdf, tmp.path(), 30), pages);
    // The manifest hashes the PDF, and a rerun gives the same bytes.
    let entry = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "report.pdf")
        .expect("report.pdf in the manifest");
    let bytes = std::fs::read(&pdf).unwrap();
    assert_eq!(entry["bytes"], bytes.len());
    let again = tmp.path().join("again");
    assert_eq!(
        run(&demo("akko-audit.toml"), &again, &[]).status.code(),
        Some(0)
    );
    assert!(
        bytes == std::fs::read(again.join("report.pdf")).unwrap(),
        "same inputs and --at must give the same PDF bytes"
    );
}

/// Keycloak text-console and JSON-console lines, in the logcli wrapper the demo uses.
fn keycloak_login_error(t: &str, user: &str, ip: &str) -> String {
    let line = format!(
        "{} WARN  [org.keycloak.events] (executor-thread-7) type=LOGIN_ERROR, realmId=f768064f-9585-47ad-a39e-ed24c2c063fe, clientId=account-console, userId=null, ipAddress={ip}, error=invalid_user_credentials, auth_method=openid-connect, username={user}",
        t.replace('T', " ").replace('Z', "").replace('.', ",")
    );
    serde_json::json!({
        "labels": {"container": "keycloak", "namespace": "keycloak", "pod": "keycloak-1"},
        "line": line,
        "timestamp": t,
    })
    .to_string()
}

fn keycloak_role_grant(t: &str) -> String {
    let message = "operationType=\"CREATE\", realmId=\"f768064f-9585-47ad-a39e-ed24c2c063fe\", realmName=\"akko\", clientId=\"33393138-3701-403f-b745-3614dba55617\", userId=\"3c19c840-d9f9-4acd-a62d-2465be71c2d9\", ipAddress=\"10.42.7.20\", resourceType=\"CLIENT_ROLE_MAPPING\", resourcePath=\"users/5d1e0c55-1111-4b7a-9c1e-0c0ffee00001/role-mappings/clients/realm-management\"";
    let inner = serde_json::json!({
        "timestamp": t,
        "sequence": 9001,
        "loggerClassName": "org.jboss.logging.Logger",
        "loggerName": "org.keycloak.events",
        "level": "INFO",
        "message": message,
        "threadName": "executor-thread-2",
    });
    serde_json::json!({
        "labels": {"container": "keycloak", "namespace": "keycloak", "pod": "keycloak-0"},
        "line": inner.to_string(),
        "timestamp": t,
    })
    .to_string()
}

fn opa_denial(t: &str, id: usize, user: &str) -> String {
    let inner = serde_json::json!({
        "decision_id": format!("d0d0d0d0-0000-4000-8000-{id:012}"),
        "input": {
            "action": {"operation": "SelectFromColumns", "resource": {"table": {
                "catalogName": "hive", "schemaName": "hr", "tableName": "salaries",
                "columns": ["employee_id", "salary"]}}},
            "context": {"identity": {"user": user, "groups": ["contractors"]},
                        "softwareStack": {"trinoVersion": "480"}},
        },
        "level": "info",
        "msg": "Decision Log",
        "path": "trino/allow",
        "result": false,
        "timestamp": t,
        "type": "openpolicyagent.org/decision_logs",
    });
    serde_json::json!({
        "labels": {"container": "opa", "namespace": "opa", "pod": "opa-5c6b7d9f8e-t7pzd"},
        "line": inner.to_string(),
        "timestamp": t,
    })
    .to_string()
}

#[test]
fn incident_day_raises_the_findings_and_a_partial_cover() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Brute force: 12 failed logins for "eve.m" from one address within 4 minutes.
    let mut keycloak = std::fs::read_to_string(demo("keycloak.jsonl")).unwrap();
    for i in 0..12 {
        keycloak.push_str(&keycloak_login_error(
            &format!("2026-11-30T13:{:02}:{:02}.250Z", 10 + i / 3, (i % 3) * 20),
            "eve.m",
            "203.0.113.66",
        ));
        keycloak.push('\n');
    }
    keycloak.push_str(&keycloak_role_grant("2026-11-30T15:02:03.100Z"));
    keycloak.push('\n');
    // Denial storm: 40 denials for "mallory" between 16:00 and 16:40.
    let mut opa = std::fs::read_to_string(demo("opa.jsonl")).unwrap();
    for i in 0..40 {
        opa.push_str(&opa_denial(
            &format!("2026-11-30T16:{i:02}:07Z"),
            i,
            "mallory",
        ));
        opa.push('\n');
    }
    std::fs::write(dir.join("keycloak.jsonl"), keycloak).unwrap();
    std::fs::write(dir.join("opa.jsonl"), opa).unwrap();
    let fixtures = demo("").display().to_string();
    let config = demo_config_absolute()
        .replace(
            &format!("{fixtures}keycloak.jsonl"),
            &dir.join("keycloak.jsonl").display().to_string(),
        )
        .replace(
            &format!("{fixtures}opa.jsonl"),
            &dir.join("opa.jsonl").display().to_string(),
        );
    // JupyterHub's logs come from a Loki that is down.
    let i = config.find("[sources.jupyterhub]").unwrap();
    let j = i + config[i..].find("[sources.litellm]").unwrap();
    let config = format!(
        "{}[sources.jupyterhub]\nbackend = \"loki\"\nselector = '{{container=\"hub\"}}'\n\n{}\n[backends.loki]\nurl = \"http://127.0.0.1:9\"\nretries = 1\ndeadline = \"10s\"\nretention = \"36500d\"\n",
        &config[..i],
        &config[j..]
    );
    let cfg = write_config(dir, &config);
    let out = dir.join("out");
    let o = run(&cfg, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let findings = csv_rows(&out.join("findings.csv"));
    let has = |rule: &str, subject: &str, severity: &str| {
        findings
            .iter()
            .any(|f| &f[1] == rule && &f[2] == subject && &f[0] == severity)
    };
    assert!(
        has("auth.brute_force_user", "eve.m", "high"),
        "{findings:?}"
    );
    assert!(has("auth.brute_force_ip", "203.0.113.66", "high"));
    assert!(has("authz.denial_spike", "mallory", "medium"));
    assert!(has("evidence.source_incomplete", "jupyterhub", "high"));
    let grant = findings
        .iter()
        .find(|f| &f[1] == "admin.privileged_change" && f[3].contains("CLIENT_ROLE_MAPPING"))
        .expect("the role grant is a finding");
    assert_eq!(&grant[0], "high");
    assert!(grant[7].contains("ISO/IEC 27001 8.2"), "{:?}", &grant[7]);
    let storm = findings
        .iter()
        .find(|f| &f[1] == "authz.denial_spike")
        .unwrap();
    assert_eq!(&storm[4], "40");
    assert_eq!(&storm[5], "2026-11-30T16:00:07Z");

    let controls = csv_rows(&out.join("controls.csv"));
    let status = |fw: &str, id: &str| {
        controls
            .iter()
            .find(|c| &c[0] == fw && &c[2] == id)
            .map(|c| c[5].to_string())
            .unwrap()
    };
    // Needs JupyterHub: cannot be judged. Does not: judged, with exceptions.
    assert_eq!(status("GDPR", "Art. 30"), "incomplete");
    assert_eq!(status("SOC 2", "CC7.2"), "incomplete");
    assert_eq!(status("SOC 2", "CC6.2"), "exceptions");
    assert_eq!(status("ISO/IEC 27001", "8.2"), "exceptions");
    assert_eq!(status("GDPR", "Art. 28"), "manual");

    let cover = tool(
        "pdftotext",
        &[
            "-layout",
            "-l",
            "1",
            out.join("report.pdf").to_str().unwrap(),
            "-",
        ],
    );
    assert!(cover.contains("PARTIAL"), "{cover}");
    assert!(cover.contains("jupyterhub unavailable"), "{cover}");
    // Users online need JupyterHub's sessions: unknown, not a number that looks complete.
    let known = |v: &str| v == "n/a" || v.chars().all(|c| c.is_ascii_digit());
    assert_eq!(kpi_under(&cover, "Online users", known), "n/a", "{cover}");
    // The card's note (wrapped by pdftotext: "source jupyterhub" / "unavailable").
    assert!(cover.contains("source jupyterhub"), "{cover}");
    // Likewise the notebook users card (the ledger's notebook column is empty).
    let text = pdf_text(&out.join("report.pdf"));
    assert_eq!(
        kpi_under(&text, "Notebook users in the window", known),
        "n/a"
    );
    assert_eq!(manifest(&out)["status"], "partial");
}

/// Without the optional platform source, the capacity controls cannot be judged; the report
/// says which source is missing and that it is not configured (not that a read failed).
#[test]
fn an_unconfigured_optional_source_is_named_in_the_control_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let config = demo_config_absolute();
    let i = config.find("[sources.platform]").unwrap();
    let cfg = write_config(tmp.path(), &config[..i]);
    let out = tmp.path().join("out");
    let o = run(&cfg, &out, &[]);
    // Optional: the run is still complete.
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let controls = csv_rows(&out.join("controls.csv"));
    for (fw, id) in [("SOC 2", "A1.1"), ("ISO/IEC 27001", "8.6")] {
        let c = controls
            .iter()
            .find(|c| &c[0] == fw && &c[2] == id)
            .unwrap();
        assert_eq!((&c[5], &c[7]), ("incomplete", "platform"), "{c:?}");
    }
    let text = tool(
        "pdftotext",
        &[out.join("report.pdf").to_str().unwrap(), "-"],
    );
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "Incomplete sources: platform (not configured: add a [sources.platform] section)"
        ),
        "{flat}"
    );
}
