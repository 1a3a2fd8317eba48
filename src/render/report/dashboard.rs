//! The 14 panels of the platform's audit dashboard, for the window: time series from the
//! ledger's panels, top users, and the log panels as the latest rows with a pointer to the CSV.

use super::*;

pub(super) fn dashboard(input: &ReportInput) -> Vec<Section> {
    let p = input.panels;
    let c = input.collected;
    let l = input.ledger;
    let mut out = vec![section(
        1,
        "Audit trail & usage dashboard",
        vec![Block::Paragraph(
            "The 14 panels of the platform's akko-audit-usage dashboard, for the report window. Stat and time-series panels are drawn from the same records as the ledger; log panels list the latest rows and point to the detail CSV that holds all of them."
                .into(),
        )],
    )];
    // 1. Activity timeline: the unified log as volume per source, then the latest events.
    let mut events: Vec<(i64, &str, String, String)> = Vec::new();
    for q in &c.trino {
        events.push((
            q.end_ns,
            "trino",
            input.resolver.canonical(&q.user),
            format!("query {} {}", q.query_id, q.state),
        ));
    }
    for d in &c.opa_denials {
        events.push((
            d.time_ns,
            "opa",
            input.resolver.canonical(&d.user),
            format!("deny {}", d.operation),
        ));
    }
    for e in &c.keycloak {
        let who = e
            .username
            .as_deref()
            .or(e.user_id.as_deref())
            .map(|u| input.resolver.canonical(u))
            .unwrap_or_default();
        events.push((
            e.time_ns,
            "keycloak",
            who,
            match e.kind {
                EventKind::User => format!("{} {}", e.event_type, e.error),
                EventKind::Admin => format!("admin {} {}", e.event_type, e.resource_type),
            },
        ));
    }
    events.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let n_events = events.len();
    let mut timeline = Table {
        columns: vec![
            col("Time (UTC)", false, 2.0),
            col("Source", false, 1.0),
            col("User", false, 1.5),
            col("Event", false, 3.5),
        ],
        empty_text: "No events in the window".into(),
        caption: Some(format!(
            "Latest {} of {n_events} events (Trino queries, OPA denials, Keycloak events); all of them are in the detail CSVs.",
            n_events.min(DETAIL_ROWS)
        )),
        ..Default::default()
    };
    for (t, s, u, e) in events.into_iter().take(DETAIL_ROWS) {
        timeline.rows.push(vec![ts(t), s.into(), u, e]);
    }
    let mut b = gaps(
        input,
        &[SourceKind::Trino, SourceKind::Opa, SourceKind::Keycloak],
    );
    b.push(line_chart(
        p,
        "Events by source",
        "events",
        vec![
            series("Trino queries", &p.trino_queries),
            series("OPA denials", &p.opa_denials),
            series(
                "Keycloak events",
                &p.logins
                    .iter()
                    .zip(&p.login_failures)
                    .zip(&p.other_user_events)
                    .zip(&p.admin_events)
                    .map(|(((a, b), c), d)| a + b + c + d)
                    .collect::<Vec<_>>(),
            ),
        ],
        false,
    ));
    b.push(Block::Table(timeline));
    out.push(section(2, "Activity timeline", b));
    // 2, 3: top users.
    let mut b = gaps(input, &[SourceKind::Trino]);
    b.push(top_bars(
        l,
        "trino_queries",
        Unit::Count,
        "Top users by Trino queries",
        "queries",
    ));
    b.push(top_bars(
        l,
        "trino_rows_scanned",
        Unit::Count,
        "Top users by rows scanned",
        "rows scanned",
    ));
    out.push(section(2, "Top users by Trino queries", b));
    let mut b = gaps(input, &[SourceKind::Litellm]);
    let mut tok: Vec<(i64, i64, &str)> = l
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                r.figure("llm_prompt_tokens")?,
                r.figure("llm_completion_tokens")?,
                r.user.as_str(),
            ))
        })
        .filter(|(a, b, _)| a + b > 0)
        .collect();
    tok.sort_by(|a, b| (b.0 + b.1).cmp(&(a.0 + a.1)).then(a.2.cmp(b.2)));
    b.push(Block::Bars(BarChart {
        title: "Top users by LLM tokens".into(),
        unit: "tokens".into(),
        series: vec!["prompt".into(), "completion".into()],
        bars: tok
            .iter()
            .take(TOP_N)
            .map(|(pr, co, u)| Bar {
                label: u.to_string(),
                values: vec![*pr as f64, *co as f64],
                value_label: (pr + co).to_string(),
            })
            .collect(),
        empty_text: "No LLM usage in the window".into(),
    }));
    out.push(section(2, "Top users by LLM tokens", b));
    // 4, 5, 6: sessions and users.
    let mut b = gaps(input, &[SourceKind::Jupyterhub]);
    b.push(line_chart(
        p,
        "Notebook servers running",
        "servers",
        vec![series("active sessions", &p.active_sessions)],
        false,
    ));
    out.push(section(2, "JupyterHub active sessions", b));
    let hub_total = c
        .platform
        .iter()
        .find(|s| s.metric == "jupyterhub_total_users")
        .and_then(|s| s.at_end);
    let hub_active = c
        .platform
        .iter()
        .find(|s| s.metric == "jupyterhub_active_users")
        .and_then(|s| s.at_end);
    // A card whose source was not read in full says so instead of showing a number (a user
    // count of 0 from a hub whose logs were down reads like "nobody used it").
    let card = |label: &str, kinds: &[SourceKind], value: Option<String>, note: &str| Kpi {
        label: label.into(),
        value: match not_known(input, kinds) {
            None => value.unwrap_or_else(|| "n/a".into()),
            Some(_) => "n/a".into(),
        },
        note: not_known(input, kinds).unwrap_or_else(|| note.into()),
    };
    let metric = |v: Option<i128>| v.map(crate::sources::platform::format_value);
    let notebook_users = l
        .rows
        .iter()
        .map(|r| r.figure("notebook_sessions").map(|n| i64::from(n > 0)))
        .sum::<Option<i64>>();
    let mut b = gaps(input, &[SourceKind::Platform]);
    b.push(Block::Kpis(vec![
        card(
            "JupyterHub total users",
            &[SourceKind::Platform],
            metric(hub_total),
            "jupyterhub_total_users at the window's end",
        ),
        card(
            "JupyterHub active users",
            &[SourceKind::Platform],
            metric(hub_active),
            "jupyterhub_active_users at the window's end",
        ),
        card(
            "Notebook users in the window",
            &[SourceKind::Jupyterhub],
            notebook_users.map(|n| n.to_string()),
            "users with a session overlapping the window",
        ),
    ]));
    out.push(section(2, "JupyterHub total users", b));
    let total_users = l.rows.len() as i64;
    let mut b = gaps(input, &ONLINE_SOURCES);
    b.push(line_chart(
        p,
        "Distinct active users vs users seen in the window",
        "users",
        vec![
            series("online", &p.online_users),
            series("total", &vec![total_users; p.starts.len()]),
        ],
        false,
    ));
    out.push(section(2, "Users online vs total", b));
    // 7. Storage by bucket.
    let mut b = gaps(input, &[SourceKind::Storage]);
    let mut buckets: Vec<_> = c.buckets.iter().collect();
    buckets.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.bucket.cmp(&b.bucket)));
    b.push(Block::Bars(BarChart {
        title: "Largest buckets at the window's end".into(),
        unit: "bytes".into(),
        series: vec!["bytes".into()],
        bars: buckets
            .iter()
            .take(TOP_N)
            .map(|x| Bar {
                label: input.resolver.text(&x.bucket).into_owned(),
                values: vec![x.bytes as f64],
                value_label: bytes(x.bytes),
            })
            .collect(),
        empty_text: "No bucket sizes".into(),
    }));
    out.push(section(2, "Storage by bucket", b));
    // 8, 9. CPU and memory by user pod: window totals and peaks (the job keeps no per-sample
    // series, so these are bars where the live dashboard draws lines).
    let mut pods: Vec<_> = c.pods.iter().collect();
    pods.sort_by(|a, b| b.cpu_ns.cmp(&a.cpu_ns).then(a.pod.cmp(&b.pod)));
    let pod_label = |x: &crate::sources::pods::PodUsage| match &x.user {
        Some(u) => format!(
            "{} ({})",
            input.resolver.text(&x.pod),
            input.resolver.canonical(u)
        ),
        None => input.resolver.text(&x.pod).into_owned(),
    };
    let mut b = gaps(input, &[SourceKind::Pods]);
    b.push(Block::Bars(BarChart {
        title: "CPU core-seconds per notebook pod in the window".into(),
        unit: "CPU seconds".into(),
        series: vec!["CPU seconds".into()],
        bars: pods
            .iter()
            .take(TOP_N)
            .map(|x| Bar {
                label: pod_label(x),
                values: vec![x.cpu_ns as f64 / 1e9],
                value_label: format_fixed(x.cpu_ns, 9, 3),
            })
            .collect(),
        empty_text: "No notebook pods in the window".into(),
    }));
    b.push(Block::Table(pods_table(input)));
    out.push(section(2, "CPU usage by user pods", b));
    pods.sort_by(|a, b| {
        b.peak_memory_bytes
            .cmp(&a.peak_memory_bytes)
            .then(a.pod.cmp(&b.pod))
    });
    let mut b = gaps(input, &[SourceKind::Pods]);
    b.push(Block::Bars(BarChart {
        title: "Peak memory (working set) per notebook pod".into(),
        unit: "bytes".into(),
        series: vec!["bytes".into()],
        bars: pods
            .iter()
            .take(TOP_N)
            .map(|x| Bar {
                label: pod_label(x),
                values: vec![x.peak_memory_bytes as f64],
                value_label: bytes(x.peak_memory_bytes),
            })
            .collect(),
        empty_text: "No notebook pods in the window".into(),
    }));
    out.push(section(2, "Memory usage by user pods", b));
    // 9. Keycloak auth events.
    let mut b = gaps(input, &[SourceKind::Keycloak]);
    b.push(line_chart(
        p,
        "Keycloak events",
        "events",
        vec![
            series("logins", &p.logins),
            series("login failures", &p.login_failures),
            series("other user events", &p.other_user_events),
            series("admin events", &p.admin_events),
        ],
        true,
    ));
    b.push(Block::Table(auth_table(input)));
    out.push(section(2, "Keycloak auth events", b));
    // 10. Trino query log.
    let mut b = gaps(input, &[SourceKind::Trino]);
    b.push(Block::Table(trino_table(input)));
    out.push(section(2, "Trino query log", b));
    // 11. OPA decisions.
    let mut b = gaps(input, &[SourceKind::Opa]);
    b.push(line_chart(
        p,
        "OPA decision log lines and denials",
        "decisions",
        vec![
            series("decision log lines", &p.opa_lines),
            series("denials", &p.opa_denials),
        ],
        false,
    ));
    b.push(Block::Table(denials_table(input)));
    out.push(section(2, "OPA authorization decisions", b));
    // 12. LiteLLM request rate.
    let mut b = gaps(input, &[SourceKind::Litellm]);
    b.push(line_chart(
        p,
        "LLM requests per model",
        "requests",
        p.llm_requests.iter().map(|(m, v)| series(m, v)).collect(),
        false,
    ));
    out.push(section(2, "LiteLLM request rate", b));
    // 13. Audit event volume.
    out.push(section(
        2,
        "Audit event volume",
        vec![line_chart(
            p,
            "Audit events by type",
            "events",
            vec![
                series("trino query", &p.trino_queries),
                series("opa decision", &p.opa_lines),
                series("keycloak login", &p.logins),
                series("keycloak login error", &p.login_failures),
                series("keycloak admin", &p.admin_events),
            ],
            true,
        )],
    ));
    out
}

fn pods_table(input: &ReportInput) -> Table {
    let mut pods: Vec<_> = input.collected.pods.iter().collect();
    pods.sort_by(|a, b| b.cpu_ns.cmp(&a.cpu_ns).then(a.pod.cmp(&b.pod)));
    let n = pods.len();
    Table {
        columns: vec![
            col("Pod", false, 2.5),
            col("User", false, 1.5),
            col("CPU seconds", true, 1.2),
            col("Peak memory", true, 1.2),
        ],
        rows: pods
            .iter()
            .take(DETAIL_ROWS)
            .map(|x| {
                vec![
                    input.resolver.text(&x.pod).into_owned(),
                    x.user
                        .as_deref()
                        .map(|u| input.resolver.canonical(u))
                        .unwrap_or_else(|| "(no label)".into()),
                    format_fixed(x.cpu_ns, 9, 3),
                    bytes(x.peak_memory_bytes),
                ]
            })
            .collect(),
        caption: (n > DETAIL_ROWS)
            .then(|| format!("{DETAIL_ROWS} of {n} pods; all are in notebook_pods.csv")),
        empty_text: "No notebook pods in the window".into(),
    }
}

fn auth_table(input: &ReportInput) -> Table {
    let ev: Vec<_> = input
        .collected
        .keycloak
        .iter()
        .filter(|e| e.kind == EventKind::User && !e.error.is_empty())
        .collect();
    let n = ev.len();
    Table {
        columns: vec![
            col("Time (UTC)", false, 2.0),
            col("Type", false, 1.5),
            col("Username", false, 1.5),
            col("IP", false, 1.3),
            col("Error", false, 2.0),
        ],
        rows: ev
            .iter()
            .take(DETAIL_ROWS)
            .map(|e| {
                vec![
                    ts(e.time_ns),
                    e.event_type.clone(),
                    input
                        .resolver
                        .text(e.username.as_deref().unwrap_or(""))
                        .into_owned(),
                    e.ip_address.clone(),
                    e.error.clone(),
                ]
            })
            .collect(),
        caption: Some(format!(
            "Failed authentication events: {} of {n}; every event is in auth_events.csv.",
            n.min(DETAIL_ROWS)
        )),
        empty_text: "No failed authentication in the window".into(),
    }
}

fn trino_table(input: &ReportInput) -> Table {
    let mut q: Vec<_> = input.collected.trino.iter().collect();
    q.sort_by(|a, b| b.end_ns.cmp(&a.end_ns).then(a.query_id.cmp(&b.query_id)));
    let n = q.len();
    Table {
        columns: vec![
            col("End (UTC)", false, 2.0),
            col("User", false, 1.3),
            col("State", false, 1.1),
            col("Duration s", true, 1.1),
            col("Rows scanned", true, 1.3),
            col("CPU s", true, 1.0),
            col("Query", false, 4.0),
        ],
        rows: q
            .iter()
            .take(DETAIL_ROWS)
            .map(|x| {
                let query = if input.redact_sql {
                    input
                        .resolver
                        .text(&crate::render::redact::redact_sql_literals(&x.query))
                        .into_owned()
                } else {
                    input.resolver.text(&x.query).into_owned()
                };
                let mut sql: String = query.chars().take(160).collect();
                if query.chars().count() > 160 {
                    sql.push('…');
                }
                vec![
                    ts(x.end_ns),
                    input.resolver.canonical(&x.user),
                    match &x.error_code {
                        Some(e) => format!("{} {e}", x.state),
                        None => x.state.clone(),
                    },
                    x.create_ns
                        .map(|c| format_fixed((x.end_ns - c).into(), 9, 3))
                        .unwrap_or_default(),
                    x.rows_scanned.to_string(),
                    format_fixed(x.cpu_ns.into(), 9, 3),
                    sql,
                ]
            })
            .collect(),
        caption: Some(format!(
            "Latest {} of {n} queries; all of them, with the full SQL, are in trino_queries.csv.",
            n.min(DETAIL_ROWS)
        )),
        empty_text: "No Trino queries in the window".into(),
    }
}

fn denials_table(input: &ReportInput) -> Table {
    let d = &input.collected.opa_denials;
    let n = d.len();
    Table {
        columns: vec![
            col("Time (UTC)", false, 2.0),
            col("User", false, 1.3),
            col("Operation", false, 1.8),
            col("Resource", false, 4.0),
        ],
        rows: d
            .iter()
            .take(DETAIL_ROWS)
            .map(|x| {
                vec![
                    ts(x.time_ns),
                    if x.user.is_empty() {
                        "(no user)".into()
                    } else {
                        input.resolver.canonical(&x.user)
                    },
                    x.operation.clone(),
                    input.resolver.text(&x.resource).chars().take(200).collect(),
                ]
            })
            .collect(),
        caption: Some(format!(
            "Denials: {} of {n}; all are in opa_denials.csv.",
            n.min(DETAIL_ROWS)
        )),
        empty_text: "No OPA denials in the window".into(),
    }
}
