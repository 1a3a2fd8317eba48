//! Evaluate: turn the ledger and the collected records into audit evidence — findings (what a
//! reviewer must look at) and, per control of the catalog, a status an auditor can rely on.

pub mod catalog;
pub mod findings;
pub mod thresholds;
