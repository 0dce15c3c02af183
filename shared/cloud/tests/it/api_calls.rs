//! The control plane's HTTP edge called as a client calls it: an operation and a JSON body in,
//! the status and the JSON answer out.

use modelmon_cloud::control::api::handle;
use modelmon_cloud::control::ControlPlane;
use serde_json::Value;

pub async fn call(plane: &ControlPlane, operation: &str, body: Value) -> (u16, Value) {
    let target = format!("SageMaker.{operation}");
    let response = handle(plane, Some(&target), body.to_string().as_bytes()).await;
    (response.status, serde_json::from_slice(&response.body).unwrap())
}

/// The answer of a call that must succeed.
pub async fn ok(plane: &ControlPlane, operation: &str, body: Value) -> Value {
    let (status, response) = call(plane, operation, body).await;
    assert_eq!(status, 200, "{operation}: {response}");
    response
}

/// The message of a call that must fail with `code`.
pub async fn fails(plane: &ControlPlane, operation: &str, body: Value, code: &str) -> String {
    let (status, response) = call(plane, operation, body).await;
    assert_ne!(status, 200, "{operation} succeeded: {response}");
    assert_eq!(response["__type"], code, "{operation}: {response}");
    response["message"].as_str().unwrap().to_string()
}
