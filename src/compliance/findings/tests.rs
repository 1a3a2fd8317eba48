//! The findings rules on hand-built records, so each rule's edge (a burst across a clock hour,
//! an unseen session start, a failed query without failureInfo) is pinned without a demo run.

use super::*;
use crate::sources::opa::OpaDenial;

const MIN: i64 = 60_000_000_000;

/// Everything a rule reads, for the demo day (`test_day`), with no sources configured.
struct Fixture {
    config: Config,
    thresholds: Thresholds,
    window: Window,
    collected: Collected,
    resolver: Resolver,
    ledger: Ledger,
}

impl Fixture {
    fn new(collected: Collected) -> Fixture {
        let config =
            Config::from_toml("", std::path::Path::new("/etc/akko/a.toml"), &|_| None).unwrap();
        let resolver = Resolver::new(&config.identity, &collected.keycloak_names);
        let ledger = crate::ledger::build(&collected, &resolver, &config.storage).unwrap();
        Fixture {
            config,
            thresholds: Thresholds::default(),
            window: crate::window::test_day(),
            collected,
            resolver,
            ledger,
        }
    }

    fn run(&self) -> Vec<Finding> {
        self.run_at(self.window.end)
    }

    fn run_at(&self, clock: DateTime<Utc>) -> Vec<Finding> {
        evaluate(&FindingsInput {
            config: &self.config,
            thresholds: &self.thresholds,
            window: &self.window,
            collected: &self.collected,
            resolver: &self.resolver,
            ledger: &self.ledger,
            clock,
        })
    }
}

/// Collected records with every source read in full (so the ledger's figures are known).
fn complete() -> Collected {
    let mut c = Collected::default();
    for k in crate::sources::SourceKind::ALL {
        c.reports.insert(
            k,
            crate::sources::SourceReport {
                source: k,
                backend: "files".into(),
                status: Completeness::Complete,
                tally: Default::default(),
                error: None,
                notes: vec![],
            },
        );
    }
    c
}

fn of<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

fn denial(n: usize, time_ns: i64, user: &str) -> OpaDenial {
    OpaDenial {
        decision_id: format!("d{n}"),
        time_ns,
        user: user.into(),
        operation: "SelectFromColumns".into(),
        path: "trino/allow".into(),
        result: "false",
        query_id: String::new(),
        resource: "hive.hr.employees".into(),
    }
}

/// 20 denials from 10:40 to 11:19: 10 in each clock hour, so aligned hour buckets never
/// reach the threshold of 20, but one sliding hour holds all of them.
#[test]
fn denial_spike_straddling_the_hour_is_found() {
    let s = crate::window::test_day().start_ns();
    let t0 = s + 10 * 60 * MIN + 40 * MIN;
    let mut c = complete();
    c.opa_denials = (0..20)
        .map(|i| denial(i, t0 + i as i64 * 2 * MIN, "Kemal"))
        .collect();
    // Another user's 19 denials within minutes stay below the threshold.
    c.opa_denials
        .extend((20..39).map(|i| denial(i, s + i as i64 * MIN, "bob")));
    let f = Fixture::new(c);
    let all = f.run();
    let spikes = of(&all, "authz.denial_spike");
    assert_eq!(spikes.len(), 1, "{spikes:?}");
    let k = spikes[0];
    assert_eq!((k.subject.as_str(), k.count), ("kemal", 20));
    assert_eq!(k.first_ns, Some(t0));
    assert_eq!(k.last_ns, Some(t0 + 38 * MIN));
    assert!(
        k.summary
            .starts_with("20 OPA denials for kemal within one hour, from 2026-11-30T10:40:00Z"),
        "{}",
        k.summary
    );
    assert_eq!(k.evidence.len(), 20);
}

#[test]
fn densest_burst() {
    let m = 60_000_000_000i64;
    let times = [0, m, 20 * m, 21 * m, 22 * m, 29 * m, 30 * m, 60 * m];
    // 10-minute window: 20,21,22,29 (30 is 10 min after 20: excluded, half-open).
    assert_eq!(densest(&times, 10 * m), (2, 4));
    assert_eq!(densest(&[], 10 * m), (0, 0));
    assert_eq!(densest(&[5], 10 * m), (0, 1));
}

/// The ledger counts a failed query by `queryState = FAILED`; the finding's evidence must
/// list exactly those, whether or not the dialect carried a `failureInfo`.
#[test]
fn failed_query_evidence_follows_the_ledger_state_rule() {
    let s = crate::window::test_day().start_ns();
    let q = |n: i64, state: &str, code: Option<&str>| crate::sources::trino::TrinoQuery {
        query_id: format!("q{n}"),
        user: "Bob".into(),
        state: state.into(),
        error_code: code.map(Into::into),
        create_ns: None,
        end_ns: s + n * MIN,
        rows_scanned: 0,
        bytes_scanned: 0,
        cpu_ns: 0,
        client: None,
        query: String::new(),
    };
    let mut c = complete();
    c.trino = vec![
        q(0, "FAILED", Some("PERMISSION_DENIED")),
        q(1, "FAILED", Some("EXCEEDED_LOCAL_MEMORY_LIMIT")),
        // A failed event without failureInfo (e.g. an excluded field): still failed.
        q(2, "FAILED", None),
        q(3, "FAILED", None),
        // An error code on a finished query is not a failure.
        q(4, "FINISHED", Some("X")),
    ];
    c.trino.extend((5..10).map(|n| q(n, "FINISHED", None)));
    let f = Fixture::new(c);
    let row = &f.ledger.rows[0];
    assert_eq!(row.figure("trino_failed_queries"), Some(4));
    let all = f.run();
    let ratio = of(&all, "trino.failed_query_ratio");
    assert_eq!(ratio.len(), 1, "{all:?}");
    let r = ratio[0];
    assert_eq!(r.count, 4);
    assert_eq!(r.summary, "4 of 10 Trino queries of bob failed (40.00 %)");
    assert_eq!(r.evidence.len(), 4);
    assert!(
        r.evidence.iter().all(|e| e.contains(" FAILED")),
        "{:?}",
        r.evidence
    );
    assert!(!r.evidence.iter().any(|e| e.contains("q4")));
    assert_eq!((r.first_ns, r.last_ns), (Some(s), Some(s + 3 * MIN)));
}

/// An unseen start is no evidence of a long session: only a known duration (or a lower
/// bound from the window's start that is already too long) makes a finding.
#[test]
fn long_session_needs_a_known_duration() {
    use crate::sources::jupyterhub::NotebookSession;
    const H: i64 = 60 * MIN;
    let day = crate::window::test_day();
    let s = day.start_ns();
    let session = |user: &str, start_ns: Option<i64>, stop_ns: Option<i64>| NotebookSession {
        user: user.into(),
        server: String::new(),
        start_ns,
        stop_ns,
        overlap_ns: 0,
    };
    let mut c = complete();
    c.sessions = vec![
        // Stop at 02:00, start not seen: known to have run 2 h, not a finding.
        session("dmitri", None, Some(s + 2 * H)),
        // Start not seen and running at the end: at least the 24 h of the day, not more.
        session("erik", None, None),
        // Known: 30 h before the window's start to 01:00.
        session("carol", Some(s - 30 * H), Some(s + H)),
    ];
    let mut f = Fixture::new(c);
    let all = f.run();
    let long = of(&all, "notebook.long_session");
    assert_eq!(long.len(), 1, "{long:?}");
    assert_eq!(long[0].subject, "carol");
    assert!(long[0].summary.contains("ran 31 h"), "{}", long[0].summary);

    // Over a week, a stop on the fourth day without a seen start is at least 72 h long.
    let t = |x: &str| DateTime::parse_from_rfc3339(x).unwrap().with_timezone(&Utc);
    f.window = Window::explicit(t("2026-11-30T00:00:00Z"), t("2026-12-07T00:00:00Z")).unwrap();
    f.collected.sessions = vec![session("dmitri", None, Some(s + 72 * H + 5 * MIN))];
    let all = f.run();
    let long = of(&all, "notebook.long_session");
    assert_eq!(long.len(), 1, "{long:?}");
    assert!(
        long[0]
            .summary
            .contains("ran at least 72 h (its start was not seen"),
        "{}",
        long[0].summary
    );
    assert_eq!(long[0].first_ns, None);
    assert!(long[0].evidence[0].contains("start=(not seen)"));
}

/// Changes to how tokens are minted and users authenticate are privileged, not only role
/// mappings; routine admin operations are not findings.
#[test]
fn privileged_admin_resource_types() {
    let admin = |resource_type: &str, op: &str| KeycloakEvent {
        time_ns: 0,
        kind: EventKind::Admin,
        event_type: op.into(),
        realm: "akko".into(),
        client_id: String::new(),
        user_id: Some("grace".into()),
        username: None,
        ip_address: String::new(),
        error: String::new(),
        resource_type: resource_type.into(),
        resource_path: String::new(),
    };
    for t in [
        "REALM_SCOPE_MAPPING",
        "CLIENT_SCOPE_MAPPING",
        "PROTOCOL_MAPPER",
        "IDENTITY_PROVIDER",
        "IDENTITY_PROVIDER_MAPPER",
        "COMPONENT",
        "AUTH_FLOW",
        "AUTH_EXECUTION",
        "AUTH_EXECUTION_FLOW",
        "REQUIRED_ACTION",
        "CLIENT_ROLE",
        "REALM_ROLE",
        "CLIENT",
        "AUTHORIZATION_POLICY",
        "AUTHORIZATION_RESOURCE_SERVER",
        "REALM_ROLE_MAPPING",
    ] {
        assert_eq!(privileged(&admin(t, "UPDATE")), Some(Severity::High), "{t}");
    }
    assert_eq!(
        privileged(&admin("GROUP_MEMBERSHIP", "CREATE")),
        Some(Severity::Medium)
    );
    assert_eq!(privileged(&admin("USER", "DELETE")), Some(Severity::Medium));
    // Impersonation, an admin's password reset: ACTION on USER.
    assert_eq!(privileged(&admin("USER", "ACTION")), Some(Severity::High));
    for (t, op) in [
        ("USER", "UPDATE"),
        ("USER_SESSION", "DELETE"),
        ("USER_LOGIN_FAILURE", "DELETE"),
        ("CLUSTER_NODE", "CREATE"),
    ] {
        assert_eq!(privileged(&admin(t, op)), None, "{t} {op}");
    }
    // Through the rule: one finding per event, by the acting admin.
    let mut c = complete();
    c.keycloak = vec![
        admin("PROTOCOL_MAPPER", "CREATE"),
        admin("USER_SESSION", "DELETE"),
    ];
    let all = Fixture::new(c).run();
    let p = of(&all, "admin.privileged_change");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        (p[0].severity, p[0].subject.as_str()),
        (Severity::High, "grace")
    );
    assert!(
        p[0].summary.contains("CREATE on PROTOCOL_MAPPER"),
        "{}",
        p[0].summary
    );
}

/// The retention finding depends on the real clock only through the horizon's day: two
/// runs hours apart on the same day give the same text.
#[test]
fn retention_finding_is_not_clock_dependent_to_the_second() {
    let mut f = Fixture::new(complete());
    f.config = Config::from_toml(
        "[sources.opa]\nbackend = \"loki\"\n[backends.loki]\nurl = \"http://127.0.0.1:9\"\nretention = \"30d\"\n",
        std::path::Path::new("/etc/akko/a.toml"),
        &|_| None,
    )
    .unwrap();
    let t = |x: &str| DateTime::parse_from_rfc3339(x).unwrap().with_timezone(&Utc);
    let texts: Vec<Vec<String>> = ["2027-01-15T00:00:01.5Z", "2027-01-15T23:59:58Z"]
        .iter()
        .map(|c| {
            of(&f.run_at(t(c)), "evidence.beyond_retention")
                .iter()
                .map(|x| x.summary.clone())
                .collect()
        })
        .collect();
    assert_eq!(texts[0].len(), 1, "{texts:?}");
    assert_eq!(texts[0], texts[1]);
    assert_eq!(
        texts[0][0],
        "the window starts 2026-11-30T00:00:00.000Z but Loki keeps 30 days (its horizon was on 2026-12-16 when this ran): source opa cannot be complete; use an archived export (files backend) or the daily history"
    );
    // Within the retention: no finding.
    assert!(of(
        &f.run_at(t("2026-12-20T00:00:00Z")),
        "evidence.beyond_retention"
    )
    .is_empty());
    assert_eq!(
        retention_text(std::time::Duration::from_secs(36 * 3600)),
        "36 h"
    );
}
