//! modelmon's engine: everything that computes. Pure and synchronous; no AWS, no network.
//!
//! - [`analysis`]: one analysis run, from input files to the reports' contents;
//! - [`capture`]: SageMaker data-capture records (endpoint traffic) into a profile;
//! - [`checks`]: the six checks against a baseline, violations and metric values;
//! - [`dataset`]: readers (CSV, JSON Lines, Parquet) streaming into a profile;
//! - [`preprocess`]: rows from a user's record preprocessor (SageMaker's `preprocess_handler`);
//! - [`profile`]: mergeable column profiles and their `statistics.json`;
//! - [`random`]: seeded pseudo-random numbers for generated data (demo, tests);
//! - [`sketch`]: the KLL quantile sketch (SageMaker's layout) and HyperLogLog;
//! - [`suggest`]: suggested `constraints.json`;
//! - [`types`]: Deequ's type inference.

pub mod analysis;
pub mod capture;
pub mod checks;
pub mod dataset;
mod error;
pub mod preprocess;
pub mod profile;
pub mod random;
pub mod sketch;
pub mod suggest;
pub mod types;

pub use error::EngineError;
