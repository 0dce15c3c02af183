//! The file formats modelmon shares with SageMaker Model Monitor: `statistics.json`,
//! `constraints.json` and `constraint_violations.json`, and the data-capture records they are
//! computed from.
//!
//! Reading is tolerant (unknown keys, legacy keys, integers written as doubles, overrides in both
//! places SageMaker puts them); writing reproduces SageMaker's files byte for byte in layout
//! (see [`jackson`]). [`api`] validates SageMaker API requests against botocore's service model;
//! [`scripts`] is the protocol of the runner of users' Python scripts.
//! No I/O beyond bytes in and strings out.

pub mod api;
pub mod capture;
pub mod constraints;
pub mod dataset_format;
mod error;
pub mod jackson;
mod lenient;
pub mod scripts;
pub mod statistics;
pub mod violations;

pub use capture::{CaptureData, CaptureRecord, Encoding, EventData, EventMetadata};
pub use constraints::{
    CategoricalDriftMethod, ComparisonMethod, Constraints, DistributionConstraints, FeatureConstraints,
    MonitoringConfig, MonitoringConfigOverrides, NumConstraints, StringConstraints, Toggle,
};
pub use dataset_format::DatasetFormatSpec;
pub use error::FormatError;
pub use jackson::{java_double, to_sagemaker_json};
pub use statistics::{
    CategoricalBucket, CategoricalDistribution, Common, Dataset, FeatureStatistics, InferredType, KllBucket,
    KllDistribution, KllParameters, KllSketchData, NumericalDistribution, NumericalStatistics, Statistics,
    StringDistribution, StringStatistics,
};
pub use violations::{CheckType, ConstraintViolations, Violation};

/// Parses a JSON document, naming the source, the line and column, and the field path on error.
pub fn from_json_slice<T: serde::de::DeserializeOwned>(bytes: &[u8], source: &str) -> Result<T, FormatError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        FormatError::Parse {
            source_name: source.to_string(),
            line: inner.line(),
            column: inner.column(),
            field,
            message: inner.to_string(),
        }
    })
}
