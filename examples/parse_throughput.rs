//! Where parsing time goes: the logcli unwrapping alone, then unwrapping plus each source parser,
//! over an in-memory copy of a file (no I/O), single-threaded. For tuning, not for CI:
//!
//!   cargo run --release --example parse_throughput -- opa.jsonl trino.jsonl
//!
//! Prints MB/s per core for each stage.

use std::time::Instant;

use akko_audit::backends::files::unwrap_logcli;
use akko_audit::sources::opa::OpaParser;
use akko_audit::sources::trino::TrinoParser;
use akko_audit::sources::LineParser;
use akko_audit::window::Window;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let w = Window::explicit(t("2026-11-30T00:00:00Z"), t("2026-12-01T00:00:00Z")).unwrap();
    for path in &args {
        let text = std::fs::read_to_string(path).unwrap();
        let mb = text.len() as f64 / 1e6;
        let lines: Vec<&str> = text.lines().collect();
        let rate = |label: &str, f: &mut dyn FnMut()| {
            let s = Instant::now();
            f();
            let secs = s.elapsed().as_secs_f64();
            println!(
                "{path}: {label:<28} {:>8.1} MB/s  ({} lines, {mb:.0} MB, {secs:.2}s)",
                mb / secs,
                lines.len()
            );
        };
        rate("unwrap only", &mut || {
            let mut n = 0usize;
            for l in &lines {
                n += unwrap_logcli(l).len();
            }
            assert!(n > 0);
        });
        rate("unwrap + OPA parser", &mut || {
            let mut p = OpaParser::new(w.clone(), "trino/allow");
            for l in &lines {
                p.feed(&unwrap_logcli(l));
            }
            std::hint::black_box(p.denials.len());
        });
        rate("unwrap + Trino parser", &mut || {
            let mut p = TrinoParser::new(w.clone());
            for l in &lines {
                p.feed(&unwrap_logcli(l));
            }
            std::hint::black_box(p.queries.len());
        });
    }
}
