//! The PDF report (layout engine arrives on its own branch).

pub mod document;
