//! Shared test support. Only Loki is emulated (no Loki binary can be had here). Prometheus,
//! PostgreSQL, the SMTP relay (aiosmtpd) and the pushgateway are real servers set up by
//! scripts/test.sh; S3 is a real server (s3s-fs) started in-process by `s3::S3Server`.
#![allow(dead_code)]

pub mod job;
pub mod loki_emulator;
pub mod pdf;
pub mod prometheus;
pub mod s3;
pub mod smtp;
