//! Renders a realistic report and checks it with poppler, the way a reader would see it: text
//! extraction (fonts embedded with working ToUnicode maps), rasterisation of every page, and
//! the font list. poppler-utils is a test dependency (scripts/test-services.sh installs it); a
//! missing tool fails the test rather than skipping it, so CI cannot pass without looking.

mod support;

use std::path::Path;

use akko_audit::render::pdf::{document::*, render};
use support::pdf::{page_count, render_pages, tool};

fn kpi(label: &str, value: &str, note: &str) -> Kpi {
    Kpi {
        label: label.into(),
        value: value.into(),
        note: note.into(),
    }
}

const NAMES: [&str; 8] = [
    "Jürgen Çelik",
    "Zoë Ångström",
    "陈伟",
    "Олег Петров",
    "María José Núñez",
    "Łukasz Żółć",
    "Ólafur Þórsson",
    "田中 花子",
];

fn sample() -> Document {
    let rows: Vec<Vec<String>> = (0..400)
        .map(|i| {
            vec![
                format!("{} #{i:03}", NAMES[i % NAMES.len()]),
                format!("user{i:03}@example.org"),
                format!("{}", (i * 7919) % 100_000),
                format!("{}", (i * 31) % 977),
                if i % 5 == 0 {
                    "✓ partial".into()
                } else {
                    "✓".into()
                },
            ]
        })
        .collect();
    Document {
        title: "AKKO audit report — daily 2026-11-30".into(),
        created_at: "2026-12-01T00:05:00Z".into(),
        cover: Cover {
            title: "AKKO audit report".into(),
            subtitle: vec![
                "Window 2026-11-30T00:00:00Z — 2026-12-01T00:00:00Z (daily)".into(),
                "Platform akko-prod, generated for the data protection officer".into(),
            ],
            status: "PARTIAL".into(),
            complete: false,
            status_reasons: vec![
                "Source trino: 2 of 24 hourly files missing (03:00, 04:00)".into(),
                "Source litellm: database unreachable for 12 minutes; spend figures are a lower bound".into(),
            ],
            facts: vec![
                ("Generated at".into(), "2026-12-01T00:05:00Z".into()),
                ("Tool version".into(), "akko-audit 0.1.0".into()),
                (
                    "Evidence digest (SHA-256)".into(),
                    "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7".into(),
                ),
                ("Signed by".into(), "ed25519 key akko-audit-2026".into()),
            ],
            kpis: vec![
                kpi("Active users", "143", "of 412 known"),
                kpi("Trino queries", "n/a", "Trino partial"),
                kpi("Rows scanned", "1,234,567,890", "all catalogs"),
                kpi("OPA denials", "27", "3 users"),
                kpi("LLM tokens", "4.2M", "lower bound"),
            ],
        },
        sections: vec![
            Section {
                level: 1,
                title: "Summary".into(),
                blocks: vec![
                    Block::Paragraph(
                        "This report lists per-user usage of the AKKO data platform in the window. \
                         Figures come from the exported audit logs and were not sampled.\n\
                         - Trino: completed queries, rows and bytes scanned per user.\n\
                         - OPA: allow and deny decisions, with the policy that decided.\n\
                         - LiteLLM: prompt and completion tokens and spend per user and model, \
                         including the models that were only called once in the window."
                            .into(),
                    ),
                    Block::Notice(
                        "Source trino partial: columns below are incomplete for 03:00–05:00.".into(),
                    ),
                    Block::Kpis(vec![
                        kpi("Queries", "9,876", "completed"),
                        kpi("Denied", "27", "OPA"),
                        kpi("Spend", "€ 312.40", "LiteLLM"),
                    ]),
                ],
            },
            Section {
                level: 2,
                title: "Activity over the day".into(),
                blocks: vec![
                    Block::Lines(LineChart {
                        title: "Trino queries per hour".into(),
                        unit: "queries per hour".into(),
                        x_labels: (0..24).map(|h| format!("{h:02}:00")).collect(),
                        series: vec![
                            Series {
                                name: "completed".into(),
                                points: (0..24)
                                    .map(|h| (!(3..5).contains(&h)).then_some(f64::from(200 + (h * 97) % 900)))
                                    .collect(),
                            },
                            Series {
                                name: "failed".into(),
                                points: (0..24)
                                    .map(|h| (!(3..5).contains(&h)).then_some(f64::from((h * 13) % 70)))
                                    .collect(),
                            },
                        ],
                        stacked_columns: false,
                        empty_text: "No queries in the window".into(),
                    }),
                    Block::Lines(LineChart {
                        title: "OPA decisions per hour".into(),
                        unit: "decisions".into(),
                        x_labels: (0..24).map(|h| format!("{h:02}:00")).collect(),
                        series: vec![
                            Series {
                                name: "allow".into(),
                                points: (0..24).map(|h| Some(f64::from(1000 + (h * 311) % 4000))).collect(),
                            },
                            Series {
                                name: "deny".into(),
                                points: (0..24).map(|h| Some(f64::from((h * 7) % 40))).collect(),
                            },
                        ],
                        stacked_columns: true,
                        empty_text: "No decisions".into(),
                    }),
                ],
            },
            Section {
                level: 1,
                title: "LLM usage".into(),
                blocks: vec![Block::Bars(BarChart {
                    title: "Tokens by user (top 12)".into(),
                    unit: "tokens".into(),
                    series: vec!["prompt".into(), "completion".into()],
                    bars: (0..12)
                        .map(|i| {
                            let p = 50_000.0 + f64::from(i * 37_000 % 400_000);
                            let c = 10_000.0 + f64::from(i * 13_000 % 90_000);
                            Bar {
                                label: NAMES[i as usize % NAMES.len()].into(),
                                values: vec![p, c],
                                value_label: format!("{}", p + c),
                            }
                        })
                        .collect(),
                    empty_text: "No LLM calls".into(),
                })],
            },
            Section {
                level: 1,
                title: "Usage by user".into(),
                blocks: vec![Block::Table(Table {
                    columns: vec![
                        Column { title: "User".into(), numeric: false, weight: 3.0 },
                        Column { title: "E-mail".into(), numeric: false, weight: 3.0 },
                        Column { title: "Rows scanned".into(), numeric: true, weight: 1.5 },
                        Column { title: "Queries".into(), numeric: true, weight: 1.0 },
                        Column { title: "Complete".into(), numeric: false, weight: 1.2 },
                    ],
                    rows,
                    caption: Some("All 400 users; the same figures are in usage_by_user.csv".into()),
                    empty_text: "No users".into(),
                })],
            },
            Section {
                level: 2,
                title: "Denials".into(),
                blocks: vec![Block::Table(Table {
                    columns: vec![Column { title: "User".into(), numeric: false, weight: 1.0 }],
                    rows: vec![],
                    caption: None,
                    empty_text: "No denials in the window".into(),
                })],
            },
        ],
    }
}

#[test]
fn realistic_report_renders_and_reads_back_with_poppler() {
    let doc = sample();
    let bytes = render(&doc).expect("render");
    assert_eq!(
        bytes,
        render(&doc).expect("render twice"),
        "deterministic bytes"
    );

    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("report.pdf");
    std::fs::write(&pdf, &bytes).unwrap();
    if let Ok(keep) = std::env::var("AKKO_PDF_KEEP") {
        std::fs::write(&keep, &bytes).unwrap();
    }
    let p = pdf.to_str().unwrap();

    let pages = page_count(&pdf);
    assert!(pages >= 10, "400 rows need several pages, got {pages}");
    // Subset fonts: whole DejaVu + Droid would be ~3 MB.
    assert!(bytes.len() < 400_000, "{} bytes", bytes.len());

    let raw = tool("pdftotext", &["-layout", p, "-"]);
    // -layout turns gaps into runs of spaces whose length depends on the font; compare with
    // single spaces.
    let pages_text: Vec<String> = raw
        .split('\u{c}')
        .map(|page| {
            page.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    let by_page: Vec<&str> = pages_text.iter().map(String::as_str).collect();
    let text = pages_text.join("\n");
    for needle in [
        "AKKO audit report",
        "PARTIAL",
        "Source trino: 2 of 24 hourly files missing",
        "Contents",
        "1 Summary",
        "1.1 Activity over the day",
        "2 LLM usage",
        "3 Usage by user",
        "3.1 Denials",
        "No denials in the window",
        "Page 1 of",
        &format!("Page {pages} of {pages}"),
        "陈伟",
        "Jürgen Çelik",
        "Zoë Ångström",
        "✓",
        "Trino queries per hour",
        "queries per hour",
        "Tokens by user (top 12)",
        "Source trino partial",
        "All 400 users",
        "1,234,567,890",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the extracted text"
        );
    }
    // The 64-hex digest is never cut: its characters all come back (possibly over two lines).
    let squashed: String = by_page[0].chars().filter(|c| !c.is_whitespace()).collect();
    assert!(squashed.contains("3f2a9c0d4e5b6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"));

    // TOC entries carry page numbers: "3  Usage by user ....... N".
    let toc = by_page[1];
    let toc_line = toc
        .lines()
        .find(|l| l.contains("Usage by user"))
        .expect("TOC lists the table section");
    let toc_page: usize = toc_line
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .expect("page number");
    assert!(
        by_page[toc_page - 1].contains("3 Usage by user"),
        "TOC page {toc_page} is right"
    );

    // The table header repeats on every continuation page.
    let header_pages = by_page
        .iter()
        .filter(|p| {
            p.contains("Rows scanned") && p.contains("E-mail") && p.contains("@example.org")
        })
        .count();
    assert!(header_pages >= 5, "header repeated on {header_pages} pages");

    let pngs = render_pages(Path::new(p), dir.path(), 40);
    assert_eq!(pngs, pages, "one PNG per page");

    let fonts = tool("pdffonts", &[p]);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(rows.iter().any(|l| l.contains("DejaVuSans")), "{fonts}");
    assert!(
        rows.iter().any(|l| l.contains("DejaVuSans-Bold")),
        "{fonts}"
    );
    assert!(rows.iter().any(|l| l.contains("Droid")), "{fonts}");
    for r in &rows {
        // Columns: name type encoding emb sub uni object ID.
        let cols: Vec<&str> = r.split_whitespace().collect();
        let n = cols.len();
        assert_eq!(cols[n - 5], "yes", "font not embedded: {r}");
        assert_eq!(cols[n - 3], "yes", "font without ToUnicode: {r}");
        assert_eq!(
            cols[n - 4],
            "yes",
            "font embedded whole instead of subset: {r}"
        );
    }
}
