use std::path::PathBuf;

use modelmon_engine::EngineError;
use modelmon_formats::FormatError;

/// Everything that can go wrong in the control plane, the analysis run and the adapters. The API
/// maps these to SageMaker's error codes in one place (`control::api_error`).
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The request breaks the API's rules (botocore's model, or a rule of the service).
    #[error("{0}")]
    Validation(String),
    /// A resource of this name exists (create), or is in use (delete).
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceLimitExceeded(String),
    /// Another request changed the resource at the same time.
    #[error("{0}")]
    Conflict(String),
    /// A port's conditional create found the key taken.
    #[error("{what} already exists")]
    AlreadyExists { what: String },
    /// A port's conditional update found another writer's version.
    #[error("{what} was changed by another request")]
    VersionConflict { what: String },
    #[error("{what} does not exist")]
    ItemNotFound { what: String },
    #[error("{uri}: no such object")]
    ObjectNotFound { uri: String },
    #[error("{uri}: {reason}")]
    InvalidUri { uri: String, reason: String },
    /// A call to an AWS service failed (after the SDK's retries).
    #[error("{service} {operation} failed: {message}")]
    Aws {
        service: &'static str,
        operation: &'static str,
        message: String,
    },
    /// A run's data or baseline is unusable: the engine's error, naming the objects.
    #[error("{0}")]
    Data(String),
    /// A user's script cannot run, or failed (naming the script, Python's error and its line).
    #[error("{0}")]
    Script(String),
    /// A bug or a crash inside modelmon (a panicked task), reported rather than lost.
    #[error("internal error: {0}")]
    Internal(String),
    /// A setting the function needs is missing or malformed.
    #[error("configuration: {0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Format(#[from] FormatError),
}

impl CloudError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CloudError::Io {
            path: path.into(),
            source,
        }
    }

    /// An SDK error with its whole chain of causes, which the SDK's own `Display` leaves out.
    #[cfg(feature = "aws-sdk")]
    pub fn aws<E: std::error::Error>(service: &'static str, operation: &'static str, error: E) -> Self {
        let message = aws_smithy_types::error::display::DisplayErrorContext(&error).to_string();
        CloudError::Aws {
            service,
            operation,
            message,
        }
    }
}
