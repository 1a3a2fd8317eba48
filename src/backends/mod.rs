//! Backends: how a source's data is read. Each hands records to a source's parser and never
//! interprets them.

pub mod files;
pub mod http;
pub mod loki;
pub mod postgres;
pub mod prometheus;
