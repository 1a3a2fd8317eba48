//! The dashboard's time series: counts per time bucket over the window, for the report's
//! charts. Aggregated here, beside the ledger, so the PDF never counts anything itself. Buckets
//! are hours for windows up to two days and days beyond (a month of hours is unreadable).

use std::collections::{BTreeMap, BTreeSet};

use crate::collect::Collected;
use crate::identity::Resolver;
use crate::sources::keycloak::EventKind;
use crate::window::Window;

const HOUR: i64 = 3_600_000_000_000;

#[derive(Debug, Clone, Default)]
pub struct Panels {
    /// Bucket starts, ns since the epoch (the first is the window start).
    pub starts: Vec<i64>,
    pub bucket_ns: i64,
    pub trino_queries: Vec<i64>,
    pub trino_failed: Vec<i64>,
    /// OPA decision log lines (volume) and deduplicated denials.
    pub opa_lines: Vec<i64>,
    pub opa_denials: Vec<i64>,
    pub logins: Vec<i64>,
    pub login_failures: Vec<i64>,
    /// Other Keycloak user events (logout, token exchange, ...).
    pub other_user_events: Vec<i64>,
    pub admin_events: Vec<i64>,
    /// Notebook sessions running at any time in the bucket.
    pub active_sessions: Vec<i64>,
    /// Distinct users with a Trino query, a Keycloak user event, an OPA denial or a running
    /// notebook in the bucket.
    pub online_users: Vec<i64>,
    /// LLM requests per model per bucket.
    pub llm_requests: BTreeMap<String, Vec<i64>>,
    /// Per model over the window: (requests, failed, latency ms sum, requests with a latency).
    pub llm_models: BTreeMap<String, (i64, i64, i64, i64)>,
}

impl Panels {
    pub fn build(window: &Window, c: &Collected, resolver: &Resolver) -> Panels {
        let bucket_ns = if window.end_ns() - window.start_ns() <= 48 * HOUR {
            HOUR
        } else {
            24 * HOUR
        };
        Panels::bucketed(window, c, resolver, bucket_ns)
    }

    /// The window as one bucket: what the daily history keeps per day, since distinct users
    /// and running sessions of a day cannot be added up from its hours.
    pub fn whole(window: &Window, c: &Collected, resolver: &Resolver) -> Panels {
        Panels::bucketed(window, c, resolver, window.end_ns() - window.start_ns())
    }

    pub fn bucketed(window: &Window, c: &Collected, resolver: &Resolver, bucket_ns: i64) -> Panels {
        let start = window.start_ns();
        let end = window.end_ns();
        let bucket_ns = bucket_ns.max(1);
        let n = ((end - start + bucket_ns - 1) / bucket_ns).max(1) as usize;
        let idx = |t: i64| -> Option<usize> {
            (t >= start && t < end).then(|| ((t - start) / bucket_ns) as usize)
        };
        let zeros = vec![0i64; n];
        let mut p = Panels {
            starts: (0..n).map(|i| start + i as i64 * bucket_ns).collect(),
            bucket_ns,
            trino_queries: zeros.clone(),
            trino_failed: zeros.clone(),
            opa_lines: zeros.clone(),
            opa_denials: zeros.clone(),
            logins: zeros.clone(),
            login_failures: zeros.clone(),
            other_user_events: zeros.clone(),
            admin_events: zeros.clone(),
            active_sessions: zeros.clone(),
            online_users: zeros.clone(),
            ..Default::default()
        };
        let mut online: Vec<BTreeSet<String>> = vec![BTreeSet::new(); n];
        for q in &c.trino {
            if let Some(i) = idx(q.end_ns) {
                p.trino_queries[i] += 1;
                // The ledger's rule: the state, not the presence of an error code.
                p.trino_failed[i] += i64::from(q.failed());
                online[i].insert(resolver.canonical(&q.user));
            }
        }
        for (&hour, &lines) in &c.opa_lines_per_hour {
            if let Some(i) = idx(hour.max(start)) {
                p.opa_lines[i] += lines as i64;
            }
        }
        for d in &c.opa_denials {
            if let Some(i) = idx(d.time_ns) {
                p.opa_denials[i] += 1;
                if !d.user.is_empty() {
                    online[i].insert(resolver.canonical(&d.user));
                }
            }
        }
        for e in &c.keycloak {
            let Some(i) = idx(e.time_ns) else { continue };
            match (e.kind, e.event_type.as_str()) {
                (EventKind::Admin, _) => p.admin_events[i] += 1,
                (EventKind::User, "LOGIN") => p.logins[i] += 1,
                (EventKind::User, "LOGIN_ERROR") => p.login_failures[i] += 1,
                (EventKind::User, _) => p.other_user_events[i] += 1,
            }
            if e.kind == EventKind::User && e.error.is_empty() {
                if let Some(u) = e.username.as_deref().or(e.user_id.as_deref()) {
                    online[i].insert(resolver.canonical(u));
                }
            }
        }
        for s in &c.sessions {
            let from = s.start_ns.unwrap_or(start).max(start);
            let to = s.stop_ns.unwrap_or(end).min(end);
            if to <= from {
                continue;
            }
            let (first, last) = (
                ((from - start) / bucket_ns) as usize,
                ((to - 1 - start) / bucket_ns) as usize,
            );
            let user = resolver.canonical(&s.user);
            let last = last.min(n - 1);
            for (active, users) in p.active_sessions[first..=last]
                .iter_mut()
                .zip(&mut online[first..=last])
            {
                *active += 1;
                users.insert(user.clone());
            }
        }
        p.online_users = online.iter().map(|s| s.len() as i64).collect();
        for h in &c.llm_hours {
            if let Some(i) = idx(h.hour_ns.max(start)) {
                p.llm_requests
                    .entry(h.model.clone())
                    .or_insert_with(|| zeros.clone())[i] += h.requests;
            }
            let m = p.llm_models.entry(h.model.clone()).or_default();
            m.0 += h.requests;
            m.1 += h.failed;
            m.2 += h.latency_ms;
            m.3 += h.timed;
        }
        p
    }

    /// Peak of distinct users active in one bucket.
    pub fn peak_online(&self) -> i64 {
        self.online_users.iter().copied().max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::jupyterhub::NotebookSession;
    use crate::sources::trino::TrinoQuery;

    #[test]
    fn hourly_buckets_count_events_and_spanning_sessions() {
        let w = crate::window::test_day();
        let s = w.start_ns();
        let mut c = Collected::default();
        let q = |user: &str, t: i64, failed: bool| TrinoQuery {
            query_id: format!("{user}{t}"),
            user: user.into(),
            state: if failed { "FAILED" } else { "FINISHED" }.into(),
            error_code: failed.then(|| "X".into()),
            create_ns: None,
            end_ns: t,
            rows_scanned: 0,
            bytes_scanned: 0,
            cpu_ns: 0,
            client: None,
            query: String::new(),
        };
        c.trino = vec![
            q("Alice", s, false),
            q("alice", s + HOUR - 1, true),
            q("bob", s + 5 * HOUR, false),
        ];
        // Failure is the state, as in the ledger: FAILED without a failureInfo counts, an error
        // code on a FINISHED query does not.
        c.trino.push(TrinoQuery {
            error_code: None,
            ..q("dora", s + 3 * HOUR, true)
        });
        c.trino.push(TrinoQuery {
            error_code: Some("X".into()),
            ..q("erik", s + 3 * HOUR + 1, false)
        });
        // Began before the window, stopped in hour 2: counts in hours 0..=2.
        c.sessions = vec![NotebookSession {
            user: "carol".into(),
            server: String::new(),
            start_ns: Some(s - HOUR),
            stop_ns: Some(s + 2 * HOUR + 1),
            overlap_ns: 0,
        }];
        let r = Resolver::new(&Default::default(), &Default::default());
        let p = Panels::build(&w, &c, &r);
        assert_eq!(p.starts.len(), 24);
        assert_eq!(p.bucket_ns, HOUR);
        assert_eq!(p.trino_queries[0], 2);
        assert_eq!(p.trino_failed[0], 1);
        assert_eq!((p.trino_queries[3], p.trino_failed[3]), (2, 1));
        assert_eq!(p.trino_queries[5], 1);
        assert_eq!(&p.active_sessions[..4], &[1, 1, 1, 0]);
        // Alice twice (case) is one user; carol's notebook makes her online too.
        assert_eq!(p.online_users[0], 2);
        assert_eq!(p.peak_online(), 2);
    }
}
