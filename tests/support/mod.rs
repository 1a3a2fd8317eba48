//! Shared test support. Only Loki is emulated (no Loki binary can be had here); Prometheus,
//! PostgreSQL and the SMTP relay (aiosmtpd) are real servers set up by scripts/test.sh.
#![allow(dead_code)]

pub mod job;
pub mod loki_emulator;
pub mod prometheus;
pub mod smtp;
