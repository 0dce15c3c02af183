//! The engine's integration tests, in one binary: one module per subject.

mod analysis;
mod bad_input;
mod baseline_exact;
mod capture;
mod common;
mod corpus;
mod manifest;
mod merge;
mod parallel;
