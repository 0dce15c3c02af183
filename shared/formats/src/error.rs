use thiserror::Error;

/// Everything that can go wrong reading a SageMaker file.
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
}
