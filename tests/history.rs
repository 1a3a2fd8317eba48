//! The daily history and what is built from it, through the real binary on the demo fixtures
//! (file backend, so any past day can be run): backfill is idempotent, a week composed from
//! seven daily runs equals their independently computed sum, a missing day makes the week
//! PARTIAL and is named, and the monthly chargeback reconciles with the usage to the cent.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::job::{demo_config_absolute, output_text, write_config};

const RATES: &str = r#"
[chargeback]
currency = "EUR"
usd_exchange_rate = "0.92"
shared_split = "usage"
trino_per_tb_scanned = "5.00"
trino_per_cpu_hour = "0.05"
notebook_per_hour = "0.10"
notebook_per_cpu_hour = "0.04"
storage_per_gb_month = "0.023"
llm_markup = "0.10"
"#;

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_akko-audit"))
        .args(args)
        .env_remove("AKKO_AUDIT_CONFIG")
        .output()
        .unwrap()
}

/// The demo config with a history folder (and the rate card) in `dir`.
fn config(dir: &Path) -> PathBuf {
    let history = dir.join("history");
    write_config(
        dir,
        &format!(
            "{}\n[history]\ndir = \"{}\"\n{RATES}",
            demo_config_absolute().replace("[output]\ndir = \"out/demo\"", ""),
            history.display()
        ),
    )
}

fn backfill(cfg: &Path, out: &Path, from: &str, to: &str) -> Output {
    bin(&[
        "backfill",
        "--config",
        cfg.to_str().unwrap(),
        "--from",
        from,
        "--to",
        to,
        "--out",
        out.to_str().unwrap(),
    ])
}

/// The week 2026-11-24 .. 2026-11-30 (whole days: composed from the history, unless `extra`
/// says `--basis sources`).
fn run_week_with(cfg: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--from",
        "2026-11-24T00:00:00Z",
        "--to",
        "2026-12-01T00:00:00Z",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    bin(&args)
}

fn run_week(cfg: &Path, out: &Path) -> Output {
    run_week_with(cfg, out, &[])
}

fn rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// A decimal cell in 10⁻⁹ units (exact for the ledger's 3 and 6 decimals).
fn units(s: &str) -> i128 {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac = format!("{frac:0<9}");
    int.parse::<i128>().unwrap() * 1_000_000_000 + frac[..9].parse::<i128>().unwrap()
}

#[test]
fn backfill_is_idempotent_and_a_week_is_the_sum_of_its_days() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let out = tmp.path().join("out");
    let o = backfill(&cfg, &out, "2026-11-24", "2026-11-30");
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert_eq!(
        output_text(&o).matches("ran ").count(),
        7,
        "{}",
        output_text(&o)
    );
    let usage_file = tmp
        .path()
        .join("history/usage_by_user/date=2026-11-30/part-0.parquet");
    let before = std::fs::metadata(&usage_file).unwrap().modified().unwrap();
    // The footer carries the schema version.
    let t = akko_audit::history::table::Table::from_parquet(std::fs::read(&usage_file).unwrap())
        .unwrap();
    assert_eq!(t.meta("akko_audit.schema_version"), Some("2"));
    assert!(t.column("trino_cpu_nanos").is_some());
    // Second time: nothing to do, nothing touched.
    let o = backfill(&cfg, &out, "2026-11-24", "2026-11-30");
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert!(
        output_text(&o).contains("nothing to do"),
        "{}",
        output_text(&o)
    );
    assert_eq!(
        std::fs::metadata(&usage_file).unwrap().modified().unwrap(),
        before
    );

    // The week from the history equals the sum of the seven daily ledgers.
    let week = tmp.path().join("week");
    let o = run_week(&cfg, &week);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    assert!(output_text(&o).contains("basis    history"));
    let mut expected: BTreeMap<String, Vec<i128>> = BTreeMap::new();
    let mut header = Vec::new();
    for day in 24..=30 {
        let (h, rs) = rows(&out.join(format!("daily-2026-11-{day}/usage_by_user.csv")));
        header = h;
        for r in rs {
            let e = expected
                .entry(r[0].clone())
                .or_insert_with(|| vec![0; r.len() - 2]);
            for (i, cell) in r[2..].iter().enumerate() {
                let v = units(cell);
                match header[i + 2].as_str() {
                    "storage_bytes" if day == 30 => e[i] = v,
                    "storage_bytes" => {}
                    "notebook_peak_memory_bytes" => e[i] = e[i].max(v),
                    // Distinct sessions of the week: checked against the sources below.
                    "notebook_sessions" => {}
                    _ => e[i] += v,
                }
            }
        }
    }
    let (wh, wrows) = rows(&week.join("usage_by_user.csv"));
    assert_eq!(wh, header);
    let got: BTreeMap<String, Vec<i128>> = wrows
        .iter()
        .map(|r| (r[0].clone(), r[2..].iter().map(|c| units(c)).collect()))
        .collect();
    // A session that ran across midnight is in two daily counts but is one session of the
    // week: the week's count equals the same week read straight from the sources.
    let direct = tmp.path().join("direct");
    let o = run_week_with(&cfg, &direct, &["--basis", "sources"]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    // Read from the sources, a week has one sample of sizes (at its end): what the buckets
    // held over the week is unknown, and storage is not priced.
    let (_, dstorage) = rows(&direct.join("storage_by_bucket.csv"));
    assert!(!dstorage.is_empty());
    assert!(
        dstorage.iter().all(|r| r[3].is_empty() && r[4].is_empty()),
        "{dstorage:?}"
    );
    let (ch, cteams) = rows(&direct.join("chargeback_by_team.csv"));
    let cell = ch.iter().position(|h| h == "storage_cost").unwrap();
    assert!(cteams.iter().all(|r| r[cell].is_empty()), "{cteams:?}");
    let sessions = header
        .iter()
        .position(|h| h == "notebook_sessions")
        .unwrap()
        - 2;
    let (_, drows) = rows(&direct.join("usage_by_user.csv"));
    for r in &drows {
        if let Some(e) = expected.get_mut(&r[0]) {
            e[sessions] = units(&r[sessions + 2]);
        }
    }
    let daily_sum: i128 = (24..=30)
        .map(|day| {
            let (_, rs) = rows(&out.join(format!("daily-2026-11-{day}/usage_by_user.csv")));
            rs.iter().map(|r| units(&r[sessions + 2])).sum::<i128>()
        })
        .sum();
    let week_sum: i128 = got.values().map(|v| v[sessions]).sum();
    assert!(
        week_sum < daily_sum,
        "sessions across midnight counted once: week {week_sum}, days {daily_sum}"
    );
    assert_eq!(got, expected);
    // Storage of the week: the size at its end, and the GB-months held (Σ of the daily sizes,
    // each day 1/30 of November) with the owner the nightly runs stored.
    let mut held: BTreeMap<String, (String, i128)> = BTreeMap::new();
    for day in 24..=30 {
        let (_, rs) = rows(&out.join(format!("daily-2026-11-{day}/storage_by_bucket.csv")));
        for r in rs {
            let e = held.entry(r[0].clone()).or_default();
            e.0 = r[1].clone();
            e.1 += r[2].parse::<i128>().unwrap();
        }
    }
    let (sh, srows) = rows(&week.join("storage_by_bucket.csv"));
    assert_eq!(
        sh,
        ["bucket", "owner", "bytes", "gb_months", "average_bytes"]
    );
    assert_eq!(srows.len(), held.len(), "every bucket any day held");
    for r in &srows {
        let (owner, byte_days) = &held[&r[0]];
        assert_eq!(&r[1], owner, "{r:?}");
        // GB-months to 6 decimals, rounded half up: byte-days / (10^9 × 30) in millionths.
        let micro = (byte_days + 15_000) / 30_000;
        assert_eq!(
            r[3],
            format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000),
            "{r:?}"
        );
        assert_eq!(r[4], ((byte_days + 3) / 7).to_string(), "{r:?}");
    }
    // Unresolved identities of the week: those the daily runs flagged.
    let mut daily_unresolved = std::collections::BTreeSet::new();
    for day in 24..=30 {
        let m = support::job::manifest(&out.join(format!("daily-2026-11-{day}")));
        for u in m["unresolved_identities"].as_array().unwrap() {
            daily_unresolved.insert(u.as_str().unwrap().to_string());
        }
    }
    let week_unresolved: std::collections::BTreeSet<String> = support::job::manifest(&week)
        ["unresolved_identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    assert!(!daily_unresolved.is_empty());
    assert_eq!(week_unresolved, daily_unresolved);
    // Sessions spanning days really did compose (carol's server ran for days).
    let ns = header.iter().position(|h| h == "notebook_seconds").unwrap() - 2;
    assert!(
        got["carol"][ns] > 86_400 * 1_000_000_000 * 3,
        "{:?}",
        got["carol"]
    );

    // The week's daily trend: each day's series is that day's count, the same records as its
    // ledger (not the sum of hours for distinct users).
    let (ah, arows) = rows(&week.join("activity_by_day.csv"));
    assert_eq!(arows.len(), 7);
    let acol = |n: &str| ah.iter().position(|h| h == n).unwrap();
    for (i, day) in (24..=30).enumerate() {
        let (h, rs) = rows(&out.join(format!("daily-2026-11-{day}/usage_by_user.csv")));
        let sum = |n: &str| -> i128 {
            let c = h.iter().position(|x| x == n).unwrap();
            rs.iter().map(|r| units(&r[c])).sum()
        };
        let a = &arows[i];
        assert_eq!(a[0], format!("2026-11-{day}"));
        for (series, column) in [
            ("trino_queries", "trino_queries"),
            ("trino_failed", "trino_failed_queries"),
            ("opa_denials", "opa_denials"),
            ("llm_requests", "llm_requests"),
        ] {
            assert_eq!(
                units(&a[acol(series)]),
                sum(column),
                "{series} on 2026-11-{day}"
            );
        }
        let online = units(&a[acol("online_users")]);
        assert!(online <= rs.len() as i128 * 1_000_000_000, "{a:?}");
    }
    assert!(arows.iter().any(|a| units(&a[acol("online_users")]) > 0));
    let text = Command::new("pdftotext")
        .args([week.join("report.pdf").to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Daily trends"), "{text}");
    // Every day complete, the platform gauges included: no control of the week is incomplete.
    let (ch, crows) = rows(&week.join("controls.csv"));
    let status = ch.iter().position(|h| h == "status").unwrap();
    let incomplete: Vec<&Vec<String>> =
        crows.iter().filter(|r| r[status] == "incomplete").collect();
    assert!(incomplete.is_empty(), "{incomplete:?}");
    assert!(text.contains("Users online vs active notebooks"), "{text}");

    // One day deleted from the history: PARTIAL, that day named, figures unknown (not summed).
    std::fs::remove_dir_all(tmp.path().join("history/usage_by_user/date=2026-11-27")).unwrap();
    let partial = tmp.path().join("partial");
    let o = run_week(&cfg, &partial);
    assert_eq!(o.status.code(), Some(3), "{}", output_text(&o));
    assert!(
        output_text(&o).contains("2026-11-27 not in the history"),
        "{}",
        output_text(&o)
    );
    let days = std::fs::read_to_string(partial.join("history_days.csv")).unwrap();
    assert!(days.contains("2026-11-27,false,usage_by_user,"), "{days}");
    let (_, prow) = rows(&partial.join("usage_by_user.csv"));
    let carol = prow.iter().find(|r| r[0] == "carol").unwrap();
    assert_eq!(carol[2], "", "a week missing a day has no trino total");
    // That day's trend is unknown (empty), the others are still there.
    let (_, arows) = rows(&partial.join("activity_by_day.csv"));
    let gap = arows.iter().find(|r| r[0] == "2026-11-27").unwrap();
    assert!(gap[1..].iter().all(String::is_empty), "{gap:?}");
    let other = arows.iter().find(|r| r[0] == "2026-11-26").unwrap();
    assert!(other[1..].iter().all(|c| !c.is_empty()), "{other:?}");
    let cover = Command::new("pdftotext")
        .args(["-l", "1", partial.join("report.pdf").to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    let cover = String::from_utf8_lossy(&cover.stdout);
    assert!(cover.contains("PARTIAL"), "{cover}");
    assert!(cover.contains("2026-11-27"), "{cover}");

    // A day without one of its tables (here the LLM detail a chargeback prices) is not kept:
    // named in the composed report, and backfill runs it again rather than skipping it.
    std::fs::remove_dir_all(
        tmp.path()
            .join("history/llm_usage_by_user_model/date=2026-11-29"),
    )
    .unwrap();
    let partial = tmp.path().join("partial-llm");
    let o = run_week(&cfg, &partial);
    assert_eq!(o.status.code(), Some(3), "{}", output_text(&o));
    let days = std::fs::read_to_string(partial.join("history_days.csv")).unwrap();
    assert!(
        days.contains("2026-11-29,false,llm_usage_by_user_model,"),
        "{days}"
    );
    let o = backfill(&cfg, &out, "2026-11-28", "2026-11-29");
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let text = output_text(&o);
    assert_eq!(text.matches("ran ").count(), 1, "{text}");
    assert!(text.contains("2026-11-29"), "{text}");
}

#[test]
fn backfill_refuses_days_beyond_retention_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg_text = std::fs::read_to_string(config(tmp.path())).unwrap();
    // JupyterHub from a Loki that keeps 7 days (never contacted: the refusal comes first).
    let i = cfg_text.find("[sources.jupyterhub]").unwrap();
    let j = i + cfg_text[i..].find("[sources.litellm]").unwrap();
    let cfg = write_config(
        tmp.path(),
        &format!(
            "{}[sources.jupyterhub]\nbackend = \"loki\"\nselector = '{{container=\"hub\"}}'\n\n{}\n[backends.loki]\nurl = \"http://127.0.0.1:9\"\nretention = \"7d\"\n",
            &cfg_text[..i],
            &cfg_text[j..]
        ),
    );
    let today = chrono::Utc::now().date_naive();
    let old = today - chrono::Days::new(30);
    let out = tmp.path().join("out");
    let o = backfill(
        &cfg,
        &out,
        &old.to_string(),
        &(old + chrono::Days::new(2)).to_string(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", output_text(&o));
    assert!(output_text(&o).contains("retention"), "{}", output_text(&o));
    assert!(
        output_text(&o).contains(&old.to_string()),
        "{}",
        output_text(&o)
    );
    assert!(!out.exists() && !tmp.path().join("history").exists());
}

#[test]
fn the_monthly_chargeback_reconciles_to_the_cent() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let out = tmp.path().join("out");
    let o = backfill(&cfg, &out, "2026-11-01", "2026-11-30");
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));
    let month = tmp.path().join("month");
    let o = bin(&[
        "chargeback",
        "--config",
        cfg.to_str().unwrap(),
        "--month",
        "2026-11",
        "--out",
        month.to_str().unwrap(),
        "--at",
        "2026-12-01T04:00:00Z",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", output_text(&o));

    // chargeback_by_team.csv total == FOCUS BilledCost total, exactly (12 decimals both).
    let (h, teams) = rows(&month.join("chargeback_by_team.csv"));
    let total_i = h.iter().position(|c| c == "total_cost").unwrap();
    let pico = |s: &str| -> i128 {
        let (a, b) = s.split_once('.').unwrap();
        a.parse::<i128>().unwrap() * 1_000_000_000_000
            + format!("{b:0<12}")[..12].parse::<i128>().unwrap()
    };
    let team_total: i128 = teams.iter().map(|r| pico(&r[total_i])).sum();
    assert!(
        teams.iter().any(|r| r[0] == "unallocated"),
        "explicit unallocated row"
    );
    let (fh, focus) = rows(&month.join("focus_costs.csv"));
    let billed = fh.iter().position(|c| c == "BilledCost").unwrap();
    let currency = fh.iter().position(|c| c == "BillingCurrency").unwrap();
    let period = fh.iter().position(|c| c == "BillingPeriodStart").unwrap();
    assert!(focus
        .iter()
        .all(|r| r[currency] == "EUR" && r[period] == "2026-11-01T00:00:00Z"));
    let focus_total: i128 = focus.iter().map(|r| pico(&r[billed])).sum();
    assert_eq!(team_total, focus_total);
    assert!(team_total > 0);

    // Independently priced from usage_by_user.csv (and the daily storage for GB-months).
    let (uh, users) = rows(&month.join("usage_by_user.csv"));
    let col = |name: &str| uh.iter().position(|c| c == name).unwrap();
    let sum = |name: &str| -> f64 {
        users
            .iter()
            .map(|r| r[col(name)].parse::<f64>().unwrap())
            .sum()
    };
    let mut expected = sum("trino_bytes_scanned") / 1e12 * 5.00
        + sum("trino_cpu_seconds") / 3600.0 * 0.05
        + sum("notebook_seconds") / 3600.0 * 0.10
        + sum("notebook_cpu_seconds") / 3600.0 * 0.04
        + sum("llm_cost_usd") * 0.92 * 1.10;
    let mut byte_days = 0f64;
    for day in 1..=30 {
        let dir = out.join(format!("daily-2026-11-{day:02}"));
        for (file, column) in [("storage_by_bucket.csv", 2), ("database_sizes.csv", 2)] {
            let (_, r) = rows(&dir.join(file));
            byte_days += r
                .iter()
                .map(|x| x[column].parse::<f64>().unwrap())
                .sum::<f64>();
        }
    }
    expected += byte_days / 1e9 / 30.0 * 0.023;
    let got = team_total as f64 / 1e12;
    assert!(
        (got - expected).abs() < 0.005,
        "chargeback {got:.6} EUR vs priced usage {expected:.6} EUR"
    );
}
