//! How long the PDF report takes for a large platform: 5,000 users in one table plus a few
//! charts, the size the renderer is expected to handle in under 3 s.
//!
//! `cargo run --release --example pdf_bench [USERS] [OUT.pdf]`

use std::time::Instant;

use akko_audit::render::pdf::{document::*, render};

const NAMES: [&str; 6] = [
    "Jürgen Çelik",
    "Zoë Ångström",
    "陈伟",
    "Олег Петров",
    "María Núñez",
    "田中 花子",
];

fn document(users: usize) -> Document {
    let rows = (0..users)
        .map(|i| {
            vec![
                format!("{} {i:05}", NAMES[i % NAMES.len()]),
                format!("user{i:05}@example.org"),
                format!("{}", (i * 7919) % 1_000_000),
                format!("{}", (i * 31) % 977),
                format!("{}", (i * 17) % 5000),
                if i % 7 == 0 {
                    "✓ partial".into()
                } else {
                    "✓".into()
                },
            ]
        })
        .collect();
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}:00")).collect();
    let series = |name: &str, k: u32| Series {
        name: name.into(),
        points: (0..24u32)
            .map(|h| (h != 4).then_some(f64::from((h * k) % 900 + 50)))
            .collect(),
    };
    Document {
        title: "AKKO audit report — benchmark".into(),
        created_at: "2026-12-01T00:05:00Z".into(),
        cover: Cover {
            title: "AKKO audit report".into(),
            subtitle: vec![format!("{users} users")],
            status: "COMPLETE".into(),
            complete: true,
            facts: vec![("Evidence digest (SHA-256)".into(), "ab".repeat(32))],
            kpis: (0..5)
                .map(|i| Kpi {
                    label: format!("KPI {i}"),
                    value: format!("{}", i * 1234),
                    note: "note".into(),
                })
                .collect(),
            ..Cover::default()
        },
        sections: vec![
            Section {
                level: 1,
                title: "Activity".into(),
                blocks: vec![
                    Block::Lines(LineChart {
                        title: "Queries per hour".into(),
                        unit: "queries".into(),
                        x_labels: hours.clone(),
                        series: vec![series("completed", 97), series("failed", 13)],
                        stacked_columns: false,
                        empty_text: String::new(),
                    }),
                    Block::Lines(LineChart {
                        title: "Decisions per hour".into(),
                        unit: "decisions".into(),
                        x_labels: hours,
                        series: vec![series("allow", 311), series("deny", 7)],
                        stacked_columns: true,
                        empty_text: String::new(),
                    }),
                    Block::Bars(BarChart {
                        title: "Tokens by user (top 20)".into(),
                        unit: "tokens".into(),
                        series: vec!["prompt".into(), "completion".into()],
                        bars: (0..20)
                            .map(|i| Bar {
                                label: NAMES[i % NAMES.len()].into(),
                                values: vec![(i * 1000) as f64, 500.0],
                                value_label: format!("{}", i * 1000 + 500),
                            })
                            .collect(),
                        empty_text: String::new(),
                    }),
                ],
            },
            Section {
                level: 1,
                title: "Usage by user".into(),
                blocks: vec![Block::Table(Table {
                    columns: [
                        "User",
                        "E-mail",
                        "Rows scanned",
                        "Queries",
                        "Tokens",
                        "Complete",
                    ]
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Column {
                        title: (*t).into(),
                        numeric: (2..5).contains(&i),
                        weight: if i < 2 { 3.0 } else { 1.2 },
                    })
                    .collect(),
                    rows,
                    caption: Some(format!("All {users} users")),
                    empty_text: String::new(),
                })],
            },
        ],
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let users: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let doc = document(users);

    // Font parsing happens once per process; report it apart from the per-document cost.
    let t0 = Instant::now();
    let warm = render(&Document {
        sections: vec![],
        ..doc.clone()
    })?;
    let first = t0.elapsed();

    let t1 = Instant::now();
    let bytes = render(&doc)?;
    let elapsed = t1.elapsed();
    let pages = bytes
        .windows(b"/Type/Page/".len())
        .filter(|w| w == b"/Type/Page/")
        .count();
    println!("users:            {users}");
    println!(
        "first render:     {:.3} s (includes parsing the embedded fonts; {} bytes)",
        first.as_secs_f64(),
        warm.len()
    );
    println!("render {users} users: {:.3} s", elapsed.as_secs_f64());
    println!(
        "pdf size:         {} bytes ({:.2} MB)",
        bytes.len(),
        bytes.len() as f64 / 1e6
    );
    println!("pages:            {pages}");
    if let Some(out) = args.next() {
        std::fs::write(&out, &bytes)?;
        println!("written:          {out}");
    }
    Ok(())
}
