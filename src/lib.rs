//! akko-audit: per-user compliance and usage evidence for the AKKO data platform.
//!
//! Data flows one way: window -> collect (sources through backends) -> identity -> ledger ->
//! render -> deliver. See `docs/counting-rules.md` for how every figure is counted.
#![forbid(unsafe_code)]

pub mod backends;
pub mod backfill;
pub mod check;
pub mod cli;
pub mod collect;
pub mod compliance;
pub mod config;
pub mod deliver;
pub mod error;
pub mod history;
pub mod identity;
pub mod ledger;
pub mod render;
pub mod run;
pub mod sources;
pub mod verify;
pub mod window;
