//! The tests' Loki API emulator as a standalone server, for benchmarks and manual runs:
//!
//!   cargo run --release --example loki_emulator -- 127.0.0.1:3100 trino.jsonl opa.jsonl
//!
//! Serves the given logcli jsonl exports (each entry labelled `filename=<file name>`) until
//! killed. Set LOKI_FAIL_EVERY=7 to answer every 7th request with HTTP 500.

#[path = "../tests/support/loki_emulator.rs"]
#[allow(dead_code)]
mod loki_emulator;

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().expect("usage: loki_emulator ADDR FILE...");
    let files: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let started = std::time::Instant::now();
    let entries = loki_emulator::load_logcli(&paths);
    eprintln!(
        "loaded {} entries in {:.1}s",
        entries.len(),
        started.elapsed().as_secs_f64()
    );
    let emu = loki_emulator::LokiEmulator::start_at(&addr, entries);
    if let Some(n) = std::env::var("LOKI_FAIL_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        emu.set_faults(loki_emulator::Faults {
            every: Some((n, 500)),
            ..Default::default()
        });
    }
    println!("listening on {}", emu.url);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(5));
        eprintln!(
            "requests {} lines served {}",
            emu.requests(),
            emu.served_lines()
        );
    }
}
