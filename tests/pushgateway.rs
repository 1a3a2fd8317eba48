//! Job metrics pushed to a real Prometheus pushgateway (Debian `prometheus-pushgateway`, which
//! the README's test command installs): after a run, the gateway serves the run's status, the
//! lines read per source as the manifest counts them, and the findings by severity. A failed
//! run keeps the last success time; a gateway that is down does not change the exit code.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::job::{demo_config_absolute, manifest, run, write_config};
use support::prometheus::free_port;

struct Gateway {
    child: Child,
    addr: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_gateway() -> Gateway {
    let bin = std::env::var("AKKO_TEST_PUSHGATEWAY")
        .unwrap_or_else(|_| "prometheus-pushgateway".to_string());
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(&bin)
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{bin} (Debian prometheus-pushgateway) must be installed; scripts/test-services.sh does it: {e}")
        });
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return Gateway { child, addr };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("pushgateway did not listen on {addr}");
}

fn metrics(addr: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
}

/// The value of the first sample whose line starts with `prefix` (name and labels as the
/// gateway prints them, with its job/period grouping labels first).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .find(|l| {
            let (head, _) = l.rsplit_once(' ').unwrap();
            head[name.len()..].starts_with(['{', ' '])
                && labels
                    .iter()
                    .all(|(k, v)| head.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit_once(' ').unwrap().1.parse().ok())
}

#[test]
fn a_run_pushes_its_metrics_and_a_failed_run_keeps_the_last_success() {
    let gw = start_gateway();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(
        tmp.path(),
        &format!(
            "{}\n[pushgateway]\nurl = \"http://{}\"\n",
            demo_config_absolute(),
            gw.addr
        ),
    );
    let out = tmp.path().join("out");
    let o = run(&cfg, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = metrics(&gw.addr);
    let group = [("job", "akko-audit"), ("period", "daily")];
    assert_eq!(
        sample(&text, "akko_audit_last_run_exit_code", &group),
        Some(0.0)
    );
    let success = sample(&text, "akko_audit_last_success_timestamp_seconds", &group)
        .expect("a complete run sets the last success time");
    assert!(success > 1.7e9, "{success}");
    // Lines read per source equal the manifest's.
    let m = manifest(&out);
    for s in m["sources"].as_array().unwrap() {
        let source = s["source"].as_str().unwrap();
        let mut labels = group.to_vec();
        labels.push(("source", source));
        assert_eq!(
            sample(&text, "akko_audit_source_lines_read", &labels),
            Some(s["lines_read"].as_f64().unwrap()),
            "{source}"
        );
        assert_eq!(
            sample(&text, "akko_audit_source_complete", &labels),
            Some(1.0)
        );
    }
    // Findings by severity equal findings.csv.
    let findings = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    for sev in ["high", "medium", "low"] {
        let n = findings
            .lines()
            .filter(|l| l.starts_with(&format!("{sev},")))
            .count();
        let mut labels = group.to_vec();
        labels.push(("severity", sev));
        assert_eq!(
            sample(&text, "akko_audit_findings", &labels),
            Some(n as f64)
        );
    }

    // A partial run (trino unreadable: a file that is a directory) pushes exit code 3 and
    // leaves the last success time as it was.
    std::thread::sleep(Duration::from_millis(1100));
    let broken = std::fs::read_to_string(&cfg).unwrap().replace(
        &format!(
            "{}/trino.jsonl",
            support::job::demo("")
                .display()
                .to_string()
                .trim_end_matches('/')
        ),
        tmp.path().to_str().unwrap(),
    );
    assert_ne!(broken, std::fs::read_to_string(&cfg).unwrap());
    let cfg2 = tmp.path().join("partial.toml");
    std::fs::write(&cfg2, broken).unwrap();
    let o = run(&cfg2, &tmp.path().join("out2"), &[]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = metrics(&gw.addr);
    assert_eq!(
        sample(&text, "akko_audit_last_run_exit_code", &group),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "akko_audit_last_success_timestamp_seconds", &group),
        Some(success)
    );
    let mut trino = group.to_vec();
    trino.push(("source", "trino"));
    assert_eq!(
        sample(&text, "akko_audit_source_complete", &trino),
        Some(0.0)
    );
}

#[test]
fn a_gateway_that_is_down_does_not_fail_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(
        tmp.path(),
        &format!(
            "{}\n[pushgateway]\nurl = \"http://127.0.0.1:{}\"\ntimeout = \"2s\"\n",
            demo_config_absolute(),
            free_port()
        ),
    );
    let o = run(&cfg, &tmp.path().join("out"), &[("AKKO_AUDIT_LOG", "warn")]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("job metrics not pushed"),
        "the failed push is logged"
    );
}
