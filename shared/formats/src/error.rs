use thiserror::Error;

/// AWS lists at most this many violations in a validation message (the count still covers all).
const MAX_REPORTED_VIOLATIONS: usize = 10;

/// Everything that can go wrong reading a SageMaker file or validating a SageMaker API request.
#[derive(Debug, Error)]
pub enum FormatError {
    #[error("{source_name}: line {line}, column {column}, field `{field}`: {message}")]
    Parse {
        source_name: String,
        line: usize,
        column: usize,
        field: String,
        message: String,
    },
    /// An API operation that the embedded SageMaker model does not contain.
    #[error("Unknown operation {0}")]
    UnknownOperation(String),
    /// A request body that breaks its input shape; `errors` holds every violation, worded as AWS does.
    #[error("{}", validation_message(.errors))]
    InvalidRequest { errors: Vec<String> },
}

/// `2 validation errors detected: Value ... ; Value ...`, SageMaker's ValidationException message.
fn validation_message(errors: &[String]) -> String {
    let count = errors.len();
    let noun = if count == 1 { "error" } else { "errors" };
    let shown: Vec<&str> = errors
        .iter()
        .take(MAX_REPORTED_VIOLATIONS)
        .map(String::as_str)
        .collect();
    format!("{count} validation {noun} detected: {}", shown.join("; "))
}
