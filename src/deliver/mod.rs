//! Deliverers put finished artifacts where people use them. They never render.

pub mod local;
