//! The cloud crate's integration tests, in one binary. The AWS tier (`aws_*`) runs against moto
//! server through the real SDK clients and is built with the `aws` feature only.

mod api_calls;
mod api_corpus;
#[cfg(feature = "aws")]
mod aws_adapters;
#[cfg(feature = "aws")]
mod aws_fanout;
#[cfg(feature = "aws")]
mod aws_faults;
#[cfg(feature = "aws")]
mod aws_stack;
#[cfg(feature = "aws")]
mod aws_streaming;
#[cfg(feature = "aws")]
mod common;
mod control_plane;
mod processing_jobs;
mod races;
mod scripts;

/// The analysis runner's settings in these tests: the captures under `capture` (an S3 URI),
/// the deployment's claim timeout (15 minutes), no scratch folder, the default reads.
pub fn run_settings(capture: Option<&str>) -> modelmon_cloud::run::RunSettings {
    modelmon_cloud::run::RunSettings {
        capture_destination: capture.map(|uri| modelmon_cloud::ObjectUri::parse(uri).unwrap()),
        claim_timeout: chrono::Duration::minutes(15),
        scratch: None,
        read: Default::default(),
    }
}
