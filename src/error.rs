//! Error types the caller branches on, and the exit codes the CronJob sees.
//!
//! The exit code is the job's only channel to Kubernetes: a run that silently "succeeds" with a
//! source missing would let a hole in the evidence go unnoticed, so every outcome maps to a code.

use std::path::PathBuf;

/// Exit codes fixed by the design contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every source complete, everything delivered.
    Complete = 0,
    /// Anything unexpected.
    Failure = 1,
    /// Bad input or configuration, detected before any source was read.
    BadInput = 2,
    /// The report was produced but at least one source was partial or unavailable.
    Partial = 3,
    /// The report was produced but could not be delivered.
    DeliveryFailed = 4,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Bad input: a config field, a flag or a path the user must fix. Always names the field.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    #[error("cannot read config file {path}: {source}")]
    ConfigUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    ConfigSyntax { path: PathBuf, message: String },
}

impl InputError {
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        InputError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// A source could not be read (completely). The run goes on; the source is marked in the manifest.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A backend could not deliver (server down, retries exhausted, deadline, bad answer); the
    /// text names the endpoint path or file, never a credential.
    #[error("{0}")]
    Failed(String),
}
