//! Findings: what a reviewer must look at, each with the rule that raised it, a severity, and
//! the rows that triggered it (so an auditor can find them in the detail CSVs). Rules read only
//! the collected records and the ledger; which controls a rule touches lives in the catalog.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::thresholds::Thresholds;
use crate::collect::Collected;
use crate::config::{Backend, Config};
use crate::identity::Resolver;
use crate::ledger::Ledger;
use crate::sources::keycloak::{EventKind, KeycloakEvent};
use crate::sources::litellm::COST_SCALE;
use crate::sources::values::format_fixed;
use crate::sources::Completeness;
use crate::window::{rfc3339, Window};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

/// Every rule the engine knows, with what it means; the catalog may only name these.
pub const RULES: [(&str, &str); 11] = [
    (
        "auth.brute_force_user",
        "burst of failed logins for one username",
    ),
    (
        "auth.brute_force_ip",
        "burst of failed logins from one IP address",
    ),
    (
        "auth.unknown_username",
        "login attempts for a username Keycloak does not know",
    ),
    (
        "authz.denial_spike",
        "OPA denials of one user spike within an hour",
    ),
    (
        "admin.privileged_change",
        "roles, scopes, mappers, login flows, identity providers, clients, users or the realm changed through the admin API",
    ),
    (
        "trino.failed_query_ratio",
        "high share of a user's Trino queries failed",
    ),
    ("llm.spend_outlier", "LLM cost far above the median user"),
    (
        "notebook.long_session",
        "notebook session longer than allowed",
    ),
    (
        "identity.unresolved",
        "identities that no alias or Keycloak event resolves",
    ),
    (
        "evidence.source_incomplete",
        "a source was partial or unavailable: figures are missing",
    ),
    (
        "evidence.beyond_retention",
        "the window starts before a source's retention horizon",
    ),
];

/// How many triggering rows a finding lists; the detail CSVs hold all of them.
const MAX_EVIDENCE_ROWS: usize = 25;

#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    /// Who or what: a username, an IP address, a source.
    pub subject: String,
    pub summary: String,
    /// Triggering events (or affected items).
    pub count: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    /// The triggering rows, as found in the detail CSVs (at most [`MAX_EVIDENCE_ROWS`], then
    /// a line saying how many more).
    pub evidence: Vec<String>,
}

pub struct FindingsInput<'a> {
    pub config: &'a Config,
    pub thresholds: &'a Thresholds,
    pub window: &'a Window,
    pub collected: &'a Collected,
    pub resolver: &'a Resolver,
    pub ledger: &'a Ledger,
    /// The real time: the sources' retention horizons are relative to it.
    pub clock: DateTime<Utc>,
}

/// All findings, ordered by severity, then rule, then subject (stable across reruns).
pub fn evaluate(input: &FindingsInput) -> Vec<Finding> {
    let mut out = Vec::new();
    brute_force(input, &mut out);
    unknown_usernames(input, &mut out);
    denial_spikes(input, &mut out);
    privileged_changes(input, &mut out);
    failed_query_ratio(input, &mut out);
    llm_spend_outliers(input, &mut out);
    long_sessions(input, &mut out);
    unresolved(input, &mut out);
    completeness(input, &mut out);
    out.sort_by(|a, b| {
        (a.severity, a.rule, &a.subject, a.first_ns)
            .cmp(&(b.severity, b.rule, &b.subject, b.first_ns))
    });
    out
}

/// Instants as the detail CSVs print them, so an evidence row can be searched for verbatim.
fn ts(ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn server_name(s: &str) -> &str {
    if s.is_empty() {
        "(default)"
    } else {
        s
    }
}

fn capped(rows: impl Iterator<Item = String>, total: usize) -> Vec<String> {
    let mut v: Vec<String> = rows.take(MAX_EVIDENCE_ROWS).collect();
    if total > v.len() {
        v.push(format!("… and {} more", total - v.len()));
    }
    v
}

fn is_login_error(e: &KeycloakEvent) -> bool {
    e.kind == EventKind::User && e.event_type == "LOGIN_ERROR"
}

fn auth_row(e: &KeycloakEvent, r: &Resolver) -> String {
    format!(
        "auth_events.csv: {} LOGIN_ERROR username={} ip={} error={} client={}",
        ts(e.time_ns),
        r.text(e.username.as_deref().unwrap_or("")),
        e.ip_address,
        e.error,
        e.client_id
    )
}

/// The densest run of `times` (sorted) within `span_ns`: (start index, length).
fn densest(times: &[i64], span_ns: i64) -> (usize, usize) {
    let (mut best, mut lo) = ((0, 0), 0);
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= span_ns {
            lo += 1;
        }
        if hi + 1 - lo > best.1 {
            best = (lo, hi + 1 - lo);
        }
    }
    best
}

fn brute_force(input: &FindingsInput, out: &mut Vec<Finding>) {
    let t = input.thresholds;
    let span = t.burst_window.as_nanos() as i64;
    let mut by_user: BTreeMap<String, Vec<&KeycloakEvent>> = BTreeMap::new();
    let mut by_ip: BTreeMap<String, Vec<&KeycloakEvent>> = BTreeMap::new();
    for e in input
        .collected
        .keycloak
        .iter()
        .filter(|e| is_login_error(e))
    {
        // The name that was tried, else the account Keycloak matched.
        let who = e
            .username
            .as_deref()
            .or(e.user_id.as_deref())
            .map(|u| input.resolver.canonical(u))
            .unwrap_or_else(|| "(no username)".to_string());
        by_user.entry(who).or_default().push(e);
        if !e.ip_address.is_empty() {
            by_ip.entry(e.ip_address.clone()).or_default().push(e);
        }
    }
    for (rule, groups, limit, what) in [
        (
            "auth.brute_force_user",
            by_user,
            t.brute_force_per_user,
            "username",
        ),
        (
            "auth.brute_force_ip",
            by_ip,
            t.brute_force_per_ip,
            "IP address",
        ),
    ] {
        for (subject, mut events) in groups {
            events.sort_by_key(|e| e.time_ns);
            let times: Vec<i64> = events.iter().map(|e| e.time_ns).collect();
            let (lo, n) = densest(&times, span);
            if n < limit as usize {
                continue;
            }
            let burst = &events[lo..lo + n];
            out.push(Finding {
                rule,
                severity: Severity::High,
                summary: format!(
                    "{n} failed logins for {what} {subject} within {} min ({} in the window)",
                    t.burst_window.as_secs() / 60,
                    events.len()
                ),
                subject,
                count: n as u64,
                first_ns: Some(burst[0].time_ns),
                last_ns: Some(burst[n - 1].time_ns),
                evidence: capped(burst.iter().map(|e| auth_row(e, input.resolver)), n),
            });
        }
    }
}

fn unknown_usernames(input: &FindingsInput, out: &mut Vec<Finding>) {
    let mut tried: BTreeMap<String, Vec<&KeycloakEvent>> = BTreeMap::new();
    for e in input
        .collected
        .keycloak
        .iter()
        .filter(|e| is_login_error(e))
    {
        if e.error == "user_not_found" {
            let name = input
                .resolver
                .text(e.username.as_deref().unwrap_or("").trim())
                .to_lowercase();
            tried.entry(name).or_default().push(e);
        }
    }
    for (name, events) in tried {
        let n = events.len();
        out.push(Finding {
            rule: "auth.unknown_username",
            severity: Severity::Medium,
            summary: format!("{n} login attempt(s) for unknown username {name:?}"),
            subject: name,
            count: n as u64,
            first_ns: events.iter().map(|e| e.time_ns).min(),
            last_ns: events.iter().map(|e| e.time_ns).max(),
            evidence: capped(events.iter().map(|e| auth_row(e, input.resolver)), n),
        });
    }
}

/// Per user, the densest run of denials within any hour (a sliding window, like the
/// brute-force rules): a burst from 10:40 to 11:20 is one spike, not two halves that each stay
/// under the threshold because a clock hour happened to split them.
fn denial_spikes(input: &FindingsInput, out: &mut Vec<Finding>) {
    const HOUR: i64 = 3_600_000_000_000;
    let denials = &input.collected.opa_denials;
    let mut per: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, d) in denials.iter().enumerate() {
        if d.user.is_empty() {
            continue;
        }
        per.entry(input.resolver.canonical(&d.user))
            .or_default()
            .push(i);
    }
    let limit = input.thresholds.denials_per_user_hour as usize;
    for (user, mut idx) in per {
        // Time order, then the record order for equal instants (stable across reruns).
        idx.sort_by_key(|&i| (denials[i].time_ns, i));
        let times: Vec<i64> = idx.iter().map(|&i| denials[i].time_ns).collect();
        let (lo, n) = densest(&times, HOUR);
        if n < limit {
            continue;
        }
        let burst = &idx[lo..lo + n];
        out.push(Finding {
            rule: "authz.denial_spike",
            severity: Severity::Medium,
            summary: format!(
                "{n} OPA denials for {user} within one hour, from {} ({} in the window)",
                ts(times[lo]),
                idx.len()
            ),
            subject: user,
            count: n as u64,
            first_ns: Some(times[lo]),
            last_ns: Some(times[lo + n - 1]),
            evidence: capped(
                burst.iter().map(|&i| {
                    let d = &denials[i];
                    format!(
                        "opa_denials.csv: {} {} {} decision={}",
                        ts(d.time_ns),
                        d.operation,
                        input.resolver.text(&d.resource),
                        d.decision_id
                    )
                }),
                n,
            ),
        });
    }
}

/// Admin-API resource types (Keycloak's `ResourceType` names) whose every change can grant
/// power or weaken authentication, so each one is high: who holds which role or scope, what a
/// token carries (client scopes, protocol mappers), how users log in (flows, executions,
/// authenticator configs, required actions, identity providers and their mappers, user
/// federation and other components such as key providers), fine-grained authorization, and the
/// realm, its roles and clients themselves (and initial access tokens, which register clients).
const PRIVILEGED_HIGH: [&str; 26] = [
    "REALM_ROLE_MAPPING",
    "CLIENT_ROLE_MAPPING",
    "REALM_SCOPE_MAPPING",
    "CLIENT_SCOPE_MAPPING",
    "CLIENT_SCOPE_CLIENT_MAPPING",
    "REALM",
    "REALM_ROLE",
    "CLIENT",
    "CLIENT_ROLE",
    "CLIENT_SCOPE",
    "PROTOCOL_MAPPER",
    "AUTH_FLOW",
    "AUTH_EXECUTION",
    "AUTH_EXECUTION_FLOW",
    "AUTHENTICATOR_CONFIG",
    "REQUIRED_ACTION",
    "IDENTITY_PROVIDER",
    "IDENTITY_PROVIDER_MAPPER",
    "COMPONENT",
    "USER_FEDERATION_PROVIDER",
    "USER_FEDERATION_MAPPER",
    "AUTHORIZATION_RESOURCE_SERVER",
    "AUTHORIZATION_RESOURCE",
    "AUTHORIZATION_SCOPE",
    "AUTHORIZATION_POLICY",
    "CLIENT_INITIAL_ACCESS_MODEL",
];

/// Admin-API changes that grant or create power ([`PRIVILEGED_HIGH`]); group and organization
/// membership and user creation or deletion change who is who (medium). Sessions, login
/// failures, cluster nodes and ordinary user updates are routine and not findings.
fn privileged(e: &KeycloakEvent) -> Option<Severity> {
    match (e.resource_type.as_str(), e.event_type.as_str()) {
        (t, _) if PRIVILEGED_HIGH.contains(&t) => Some(Severity::High),
        ("GROUP_MEMBERSHIP" | "ORGANIZATION_MEMBERSHIP", _) | ("USER", "CREATE" | "DELETE") => {
            Some(Severity::Medium)
        }
        _ => None,
    }
}

fn privileged_changes(input: &FindingsInput, out: &mut Vec<Finding>) {
    for e in input.collected.keycloak.iter() {
        if e.kind != EventKind::Admin {
            continue;
        }
        let Some(severity) = privileged(e) else {
            continue;
        };
        let admin = e
            .user_id
            .as_deref()
            .map(|u| input.resolver.canonical(u))
            .unwrap_or_else(|| "(unknown admin)".to_string());
        out.push(Finding {
            rule: "admin.privileged_change",
            severity,
            summary: format!(
                "{admin} did {} on {} {} in realm {}",
                e.event_type,
                e.resource_type,
                input.resolver.text(&e.resource_path),
                e.realm
            ),
            subject: admin,
            count: 1,
            first_ns: Some(e.time_ns),
            last_ns: Some(e.time_ns),
            evidence: vec![format!(
                "admin_events.csv: {} {} {} {} ip={}",
                ts(e.time_ns),
                e.event_type,
                e.resource_type,
                input.resolver.text(&e.resource_path),
                e.ip_address
            )],
        });
    }
}

fn failed_query_ratio(input: &FindingsInput, out: &mut Vec<Finding>) {
    let t = input.thresholds;
    for row in &input.ledger.rows {
        let (Some(q), Some(f)) = (
            row.figure("trino_queries"),
            row.figure("trino_failed_queries"),
        ) else {
            continue;
        };
        if q < i64::from(t.failed_query_min_queries)
            || f * 10_000 < i64::from(t.failed_query_ratio_bp) * q
        {
            continue;
        }
        // The ledger's rule (`queryState = FAILED`), so the evidence lists exactly the queries
        // the ratio counted; an error code alone is not a failure.
        let failed: Vec<_> = input
            .collected
            .trino
            .iter()
            .filter(|x| x.failed() && input.resolver.canonical(&x.user) == row.user)
            .collect();
        out.push(Finding {
            rule: "trino.failed_query_ratio",
            severity: Severity::Low,
            summary: format!(
                "{f} of {q} Trino queries of {} failed ({} %)",
                row.user,
                format_fixed(i128::from(f) * 10_000 / i128::from(q), 2, 2)
            ),
            subject: row.user.clone(),
            count: f as u64,
            first_ns: failed.iter().map(|x| x.end_ns).min(),
            last_ns: failed.iter().map(|x| x.end_ns).max(),
            evidence: capped(
                failed.iter().map(|x| {
                    format!(
                        "trino_queries.csv: {} {} {}",
                        x.query_id,
                        x.state,
                        x.error_code.as_deref().unwrap_or("")
                    )
                }),
                failed.len(),
            ),
        });
    }
}

fn llm_spend_outliers(input: &FindingsInput, out: &mut Vec<Finding>) {
    let t = input.thresholds;
    let mut costs: Vec<(i64, &str)> = input
        .ledger
        .rows
        .iter()
        .filter_map(|r| r.figure("llm_cost_usd").map(|c| (c, r.user.as_str())))
        .filter(|(c, _)| *c > 0)
        .collect();
    if costs.len() < 3 {
        // A median of one or two users says nothing about what is normal.
        return;
    }
    costs.sort();
    let n = costs.len();
    // Twice the median, so an even count stays exact: 2·m = a + b.
    let twice_median = if n % 2 == 1 {
        2 * i128::from(costs[n / 2].0)
    } else {
        i128::from(costs[n / 2 - 1].0) + i128::from(costs[n / 2].0)
    };
    for &(cost, user) in costs.iter().rev() {
        let cost = i128::from(cost);
        if 2 * cost <= i128::from(t.llm_spend_outlier_factor) * twice_median
            || cost < t.llm_spend_min_units
        {
            continue;
        }
        out.push(Finding {
            rule: "llm.spend_outlier",
            severity: Severity::Low,
            summary: format!(
                "{user} spent {} USD on LLM calls; the median user spent {} USD",
                format_fixed(cost, COST_SCALE, 6),
                format_fixed(twice_median / 2, COST_SCALE, 6)
            ),
            subject: user.to_string(),
            count: 1,
            first_ns: None,
            last_ns: None,
            evidence: vec![format!(
                "usage_by_user.csv: {user} llm_cost_usd={}",
                format_fixed(cost, COST_SCALE, 6)
            )],
        });
    }
}

/// Sessions whose known duration exceeds the maximum. A session whose start was not seen (a
/// stop with no start in what was read) is only known to have run since the window's start:
/// the export or the server may not reach back as far as the lookback, so "older than the
/// lookback" would be a guess. It is flagged only when that lower bound alone is too long, and
/// the summary says "at least".
fn long_sessions(input: &FindingsInput, out: &mut Vec<Finding>) {
    const HOUR: i64 = 3_600_000_000_000;
    let max = input.thresholds.notebook_session_max.as_nanos() as i64;
    let (start_w, end) = (input.window.start_ns(), input.window.end_ns());
    for s in &input.collected.sessions {
        let stop = s.stop_ns.unwrap_or(end);
        let length = match s.start_ns {
            Some(start) if stop - start > max => format!("{} h", (stop - start) / HOUR),
            None if stop - start_w > max => format!(
                "at least {} h (its start was not seen; counted from the window's start)",
                (stop - start_w) / HOUR
            ),
            _ => continue,
        };
        let user = input.resolver.canonical(&s.user);
        out.push(Finding {
            rule: "notebook.long_session",
            severity: Severity::Low,
            summary: format!(
                "notebook server {} of {user} ran {length}{}",
                server_name(&input.resolver.text(&s.server)),
                if s.stop_ns.is_none() {
                    " and is still running at the window's end"
                } else {
                    ""
                }
            ),
            subject: user,
            count: 1,
            first_ns: s.start_ns,
            last_ns: s.stop_ns,
            evidence: vec![format!(
                "notebook_sessions.csv: server={} start={} stop={}",
                server_name(&input.resolver.text(&s.server)),
                s.start_ns.map(ts).unwrap_or_else(|| "(not seen)".into()),
                s.stop_ns.map(ts).unwrap_or_else(|| "running".into())
            )],
        });
    }
}

fn unresolved(input: &FindingsInput, out: &mut Vec<Finding>) {
    let names = &input.ledger.unresolved;
    if names.is_empty() {
        return;
    }
    out.push(Finding {
        rule: "identity.unresolved",
        severity: Severity::Medium,
        subject: format!("{} identities", names.len()),
        summary: format!(
            "{} identities look like ids or e-mails no alias or Keycloak event resolves; they are separate rows in usage_by_user.csv (add them to identity.aliases)",
            names.len()
        ),
        count: names.len() as u64,
        first_ns: None,
        last_ns: None,
        evidence: capped(
            names.iter().map(|n| format!("usage_by_user.csv: {n}")),
            names.len(),
        ),
    });
}

fn completeness(input: &FindingsInput, out: &mut Vec<Finding>) {
    for (kind, report) in &input.collected.reports {
        if report.status != Completeness::Complete {
            out.push(Finding {
                rule: "evidence.source_incomplete",
                severity: Severity::High,
                subject: kind.name().to_string(),
                summary: format!(
                    "source {} is {}: {}; its ledger columns are empty (unknown), not zero",
                    kind.name(),
                    match report.status {
                        Completeness::Partial => "partial",
                        _ => "unavailable",
                    },
                    report.error.as_deref().unwrap_or("no reason recorded")
                ),
                count: 1,
                first_ns: None,
                last_ns: None,
                evidence: vec![format!("manifest.json: sources[{}]", kind.name())],
            });
        }
    }
    // Independently of whether the read failed: a window older than the retention cannot be
    // complete from that backend, and the reader should know why.
    let b = &input.config.backends;
    for sc in &input.config.sources {
        let (backend, retention) = match &sc.backend {
            Backend::Loki { .. } => ("Loki", b.loki.as_ref().map(|l| l.retention)),
            Backend::Prometheus => ("Prometheus", b.prometheus.as_ref().map(|p| p.retention)),
            _ => continue,
        };
        let Some(retention) = retention else { continue };
        let horizon =
            input.clock - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        if input.window.start < horizon {
            out.push(Finding {
                rule: "evidence.beyond_retention",
                severity: Severity::High,
                subject: sc.kind.name().to_string(),
                // The horizon moves with the real clock: print its day, not its second, so a
                // rerun with the same inputs and `--at` on the same day writes the same bytes.
                summary: format!(
                    "the window starts {} but {backend} keeps {} (its horizon was on {} when this ran): source {} cannot be complete; use an archived export (files backend) or the daily history",
                    rfc3339(input.window.start),
                    retention_text(retention),
                    horizon.date_naive(),
                    sc.kind.name()
                ),
                count: 1,
                first_ns: None,
                last_ns: None,
                evidence: vec![format!("config: sources.{}.backend", sc.kind.name())],
            });
        }
    }
}

/// A retention as a reader states it: whole days, else hours.
fn retention_text(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86_400) {
        format!("{} days", s / 86_400)
    } else {
        format!("{} h", s / 3_600)
    }
}

#[cfg(test)]
mod tests {
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
}
