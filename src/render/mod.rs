//! Renderers turn the ledger and the collected records into files (bytes in memory). They never
//! query a source and never write anywhere: delivery does that.

pub mod chargeback;
pub mod compliance;
pub mod csv;
pub mod job_metrics;
pub mod mail;
pub mod manifest;
pub mod pdf;
pub mod redact;
pub mod report;
pub mod signature;

/// One output file of a run.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    pub bytes: Vec<u8>,
    /// Data rows (CSV rows without the header).
    pub rows: u64,
}
