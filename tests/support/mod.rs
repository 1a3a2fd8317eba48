//! Shared test support. Only Loki is emulated (no Loki binary can be had here); Prometheus and
//! PostgreSQL are real servers started by scripts/test.sh.
#![allow(dead_code)]

pub mod job;
pub mod loki_emulator;
pub mod prometheus;
