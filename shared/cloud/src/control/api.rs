//! The HTTP edge of the control plane: SageMaker's JSON protocol (awsJson1_1). A request is
//! `POST /` with `X-Amz-Target: SageMaker.<Operation>` and a JSON body; an error is HTTP 4xx/5xx
//! with `{"__type": code, "message": text}`. Errors become responses here and nowhere else.

use serde_json::{json, Value};

use super::ControlPlane;
use crate::CloudError;

/// Requests larger than this are refused before parsing (API Gateway's own limit is 10 MB; a
/// real request is a few KB).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A response to send: status, JSON body and, for errors, the code also as `X-Amzn-ErrorType`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub error_type: Option<String>,
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// The response's headers: the content type, and for errors `X-Amzn-ErrorType`.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let error_type = self.error_type.as_deref().map(|code| ("x-amzn-errortype", code));
        std::iter::once(("content-type", CONTENT_TYPE)).chain(error_type)
    }

    fn ok(body: &Value) -> Self {
        ApiResponse {
            status: 200,
            error_type: None,
            body: body.to_string().into_bytes(),
        }
    }

    pub fn error(status: u16, code: &str, message: &str) -> Self {
        // Both spellings: the protocol's `message` and the modelled errors' `Message`.
        let body = json!({ "__type": code, "message": message, "Message": message });
        ApiResponse {
            status,
            error_type: Some(code.to_string()),
            body: body.to_string().into_bytes(),
        }
    }
}

/// Handles one request: `target` is the `X-Amz-Target` header, `body` the raw body.
pub async fn handle(plane: &ControlPlane, target: Option<&str>, body: &[u8]) -> ApiResponse {
    let operation = match target.and_then(|t| t.strip_prefix("SageMaker.")) {
        Some(operation) if modelmon_formats::api::is_known_operation(operation) => operation,
        _ => {
            let shown = target.unwrap_or("(none)");
            return ApiResponse::error(
                400,
                "UnknownOperationException",
                &format!("X-Amz-Target '{shown}' is not an operation of this API"),
            );
        }
    };
    if body.len() > MAX_REQUEST_BYTES {
        return ApiResponse::error(
            413,
            "ValidationException",
            &format!(
                "The request body of {} bytes exceeds the limit of {MAX_REQUEST_BYTES} bytes",
                body.len()
            ),
        );
    }
    let request: Value = match serde_json::from_slice(if body.is_empty() { b"{}" } else { body }) {
        Ok(value) => value,
        Err(err) => {
            return ApiResponse::error(
                400,
                "SerializationException",
                &format!("The request body is not JSON: {err}"),
            )
        }
    };
    if let Err(err) = modelmon_formats::api::validate_request(operation, &request) {
        return ApiResponse::error(400, "ValidationException", &err.to_string());
    }
    match plane.call(operation, &request).await {
        Ok(response) => ApiResponse::ok(&response),
        Err(err) => error_response(operation, &err),
    }
}

/// The one mapping from errors to SageMaker's error responses. Client errors carry their
/// message; anything else is logged in full and answered without internals.
pub fn error_response(operation: &str, err: &CloudError) -> ApiResponse {
    let (status, code) = match err {
        CloudError::Validation(_) | CloudError::InvalidUri { .. } => (400, "ValidationException"),
        CloudError::ResourceInUse(_) => (400, "ResourceInUse"),
        CloudError::ResourceNotFound(_) => (400, "ResourceNotFound"),
        CloudError::ResourceLimitExceeded(_) => (400, "ResourceLimitExceeded"),
        CloudError::Conflict(_) => (400, "ConflictException"),
        _ => {
            tracing::error!(operation, error = %err, "request failed");
            return ApiResponse::error(
                500,
                "InternalFailure",
                &format!("{operation} failed on the service side; the function's log has the cause"),
            );
        }
    };
    ApiResponse::error(status, code, &err.to_string())
}
