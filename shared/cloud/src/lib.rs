//! The serverless half of modelmon: ports (small traits for the object store, the table, the
//! scheduler and the metrics sink) with their AWS and local adapters, the SageMaker-compatible
//! control plane and the analysis run, both written once against the ports.

#[cfg(feature = "aws-sdk")]
pub mod aws;
pub mod config;
pub mod control;
mod error;
pub mod local;
pub mod ports;
pub mod run;
pub mod uri;

pub use error::CloudError;
pub use uri::{AllowedBuckets, ObjectUri};
