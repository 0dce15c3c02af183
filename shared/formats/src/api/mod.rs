//! Request validation for modelmon's SageMaker-compatible JSON API (awsJson1_1).
//!
//! The rules come from botocore's own SageMaker service model, cut down to the monitoring operations
//! by `infra/api-model/extract.py` and embedded here, so that modelmon rejects exactly what SageMaker
//! rejects, with SageMaker's messages, and a botocore upgrade is a re-run of the script.

mod model;
mod validate;

pub use model::compile_pattern;
pub use validate::validate_request;

/// The operations the API serves, in alphabetical order.
pub fn operation_names() -> impl Iterator<Item = &'static str> {
    model::model().operations.keys().map(String::as_str)
}

/// Whether `name` (an `X-Amz-Target` operation without the `SageMaker.` prefix) is served.
pub fn is_known_operation(name: &str) -> bool {
    model::model().operations.contains_key(name)
}
