//! modelmon's engine: everything that computes. Pure and synchronous; no AWS, no network.
//!
//! - [`dataset`]: readers (CSV, JSON Lines, Parquet) streaming into a profile;
//! - [`profile`]: mergeable column profiles and their `statistics.json`;
//! - [`sketch`]: the KLL quantile sketch (SageMaker's layout) and HyperLogLog;
//! - [`suggest`]: suggested `constraints.json`;
//! - [`types`]: Deequ's type inference.

pub mod dataset;
mod error;
pub mod profile;
pub mod sketch;
pub mod suggest;
pub mod types;

pub use error::EngineError;
