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

/// Admin-API changes that grant or create power ([`PRIVILEGED_HIGH`]), and actions on a user
/// (Keycloak records impersonation, an admin's password reset and execute-actions e-mails as
/// `ACTION` on `USER`: each lets someone log in as, or change how, another user logs in);
/// group and organization membership and user creation or deletion change who is who (medium). Sessions, login
/// failures, cluster nodes and ordinary user updates are routine and not findings.
fn privileged(e: &KeycloakEvent) -> Option<Severity> {
    match (e.resource_type.as_str(), e.event_type.as_str()) {
        (t, _) if PRIVILEGED_HIGH.contains(&t) => Some(Severity::High),
        ("USER", "ACTION") => Some(Severity::High),
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
mod tests;
