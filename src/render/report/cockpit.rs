//! The cockpit's Usage tabs (Trino, LLM, Sessions, Storage, Resources) and the usage-by-user
//! table: the ledger's figures, formatted as the CSV prints them.

use super::*;

fn user_table(input: &ReportInput, columns: &[(&str, &str)]) -> Table {
    let mut t = Table {
        columns: std::iter::once(col("User", false, 1.6))
            .chain(columns.iter().map(|(_, title)| col(title, true, 1.0)))
            .collect(),
        empty_text: "No users".into(),
        ..Default::default()
    };
    for r in &input.ledger.rows {
        let cells: Vec<Option<i64>> = columns.iter().map(|(c, _)| r.figure(c)).collect();
        if cells.iter().all(|v| v.unwrap_or(0) == 0) {
            continue;
        }
        let mut row = vec![r.user.clone()];
        for ((c, _), v) in columns.iter().zip(cells) {
            let unit = COLUMNS
                .iter()
                .find(|(n, _, _)| n == c)
                .map_or(Unit::Count, |x| x.2);
            row.push(figure(v, unit));
        }
        t.rows.push(row);
    }
    t
}

pub(super) fn cockpit(input: &ReportInput) -> Vec<Section> {
    let mut out = vec![section(
        1,
        "Cockpit usage tabs",
        vec![Block::Kpis(kpis(input))],
    )];
    let mut b = gaps(input, &[SourceKind::Trino]);
    b.push(Block::Table(user_table(
        input,
        &[
            ("trino_queries", "Queries"),
            ("trino_failed_queries", "Failed"),
            ("trino_denied_queries", "Denied"),
            ("trino_rows_scanned", "Rows scanned"),
            ("trino_bytes_scanned", "Bytes scanned"),
            ("trino_cpu_seconds", "CPU s"),
        ],
    )));
    out.push(section(2, "Trino", b));
    let mut b = gaps(input, &[SourceKind::Litellm]);
    b.push(Block::Table(user_table(
        input,
        &[
            ("llm_requests", "Requests"),
            ("llm_failed_requests", "Failed"),
            ("llm_prompt_tokens", "Prompt tok."),
            ("llm_completion_tokens", "Compl. tok."),
            ("llm_cost_usd", "Cost USD"),
        ],
    )));
    let models = llm_models_table(&input.panels.llm_models);
    b.push(Block::Table(models));
    let mut by_model: BTreeMap<&str, i64> = BTreeMap::new();
    for u in input.llm_by_user_model {
        *by_model.entry(u.model.as_str()).or_default() += u.total_tokens;
    }
    let mut bm: Vec<_> = by_model.into_iter().collect();
    bm.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    b.push(Block::Bars(BarChart {
        title: "Tokens by model".into(),
        unit: "tokens".into(),
        series: vec!["tokens".into()],
        bars: bm
            .iter()
            .map(|(m, t)| Bar {
                label: m.to_string(),
                values: vec![*t as f64],
                value_label: t.to_string(),
            })
            .collect(),
        empty_text: "No LLM usage".into(),
    }));
    out.push(section(2, "LLM usage", b));
    let mut b = gaps(input, &[SourceKind::Jupyterhub, SourceKind::Keycloak]);
    b.push(Block::Table(user_table(
        input,
        &[
            ("notebook_sessions", "Sessions"),
            ("notebook_seconds", "Session s"),
            ("logins", "Logins"),
            ("login_failures", "Login failures"),
        ],
    )));
    out.push(section(2, "Sessions", b));
    let mut b = gaps(input, &[SourceKind::Storage, SourceKind::Databases]);
    let mut buckets = Table {
        columns: vec![
            col("Bucket", false, 2.5),
            col("Owner", false, 1.5),
            col("Bytes", true, 1.6),
            col("Size", true, 1.0),
        ],
        empty_text: "No bucket sizes".into(),
        ..Default::default()
    };
    for x in &input.collected.buckets {
        buckets.rows.push(vec![
            input.resolver.text(&x.bucket).into_owned(),
            bucket_owner(input.storage, &x.bucket)
                .map(|o| input.resolver.canonical(&o))
                .unwrap_or_else(|| "(shared)".into()),
            x.bytes.to_string(),
            bytes(x.bytes),
        ]);
    }
    b.push(Block::Table(buckets));
    let mut dbs: Vec<_> = input.collected.databases.iter().collect();
    dbs.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.database.cmp(&b.database)));
    b.push(Block::Bars(BarChart {
        title: "PostgreSQL database sizes".into(),
        unit: "bytes".into(),
        series: vec!["bytes".into()],
        bars: dbs
            .iter()
            .take(TOP_N)
            .map(|d| Bar {
                label: format!("{} ({})", input.resolver.text(&d.database), d.server),
                values: vec![d.bytes as f64],
                value_label: bytes(d.bytes),
            })
            .collect(),
        empty_text: "No database sizes".into(),
    }));
    out.push(section(2, "Storage", b));
    let mut b = gaps(input, &[SourceKind::Pods]);
    b.push(top_bars(
        input.ledger,
        "notebook_cpu_seconds",
        Unit::NanosAsSeconds,
        "Notebook CPU by user",
        "CPU seconds",
    ));
    b.push(top_bars(
        input.ledger,
        "notebook_peak_memory_bytes",
        Unit::Count,
        "Peak notebook memory by user",
        "bytes",
    ));
    out.push(section(2, "Resources", b));
    out
}

pub(super) fn usage_by_user(input: &ReportInput) -> Section {
    let mut t = user_table(
        input,
        &[
            ("trino_queries", "Trino q."),
            ("trino_rows_scanned", "Rows scanned"),
            ("llm_requests", "LLM req."),
            ("llm_total_tokens", "Tokens"),
            ("llm_cost_usd", "LLM USD"),
            ("notebook_seconds", "Notebook s"),
            ("storage_bytes", "Storage B"),
            ("opa_denials", "Denials"),
            ("logins", "Logins"),
        ],
    );
    // Every user, even one with only zeros or unknowns: the ledger has them all.
    t.rows.clear();
    let cols = [
        "trino_queries",
        "trino_rows_scanned",
        "llm_requests",
        "llm_total_tokens",
        "llm_cost_usd",
        "notebook_seconds",
        "storage_bytes",
        "opa_denials",
        "logins",
    ];
    for r in &input.ledger.rows {
        let mut row = vec![r.user.clone()];
        for c in cols {
            let unit = COLUMNS
                .iter()
                .find(|(n, _, _)| *n == c)
                .map_or(Unit::Count, |x| x.2);
            row.push(figure(r.figure(c), unit));
        }
        t.rows.push(row);
    }
    t.caption = Some(format!(
        "{} users. Empty cells are unknown (the source was not read in full), never zero. All 22 columns are in usage_by_user.csv.",
        input.ledger.rows.len()
    ));
    section(1, "Usage by user", vec![Block::Table(t)])
}
