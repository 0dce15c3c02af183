//! HTTP request in, SageMaker JSON response out; everything else is the control plane's.

use lambda_http::{Body, Request, Response};
use modelmon_cloud::control::api::{self, ApiResponse};
use modelmon_cloud::control::ControlPlane;

pub async fn respond(plane: &ControlPlane, request: Request) -> Response<Body> {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok());
    let answer = api::handle(plane, target, request.body().as_ref()).await;
    to_http(answer)
}

fn to_http(answer: ApiResponse) -> Response<Body> {
    let mut response = Response::builder().status(answer.status);
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    response
        .body(Body::from(answer.body))
        .expect("status and headers are valid")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use lambda_http::http::header::CONTENT_TYPE;
    use lambda_http::http::StatusCode;
    use modelmon_cloud::control::ControlSettings;
    use modelmon_cloud::local::{FileTable, LocalScheduler};
    use serde_json::Value;

    use super::*;

    const EVENT: &str = include_str!("../../../infra/events/create-schedule.json");

    fn plane(dir: &std::path::Path) -> ControlPlane {
        let settings = ControlSettings {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            max_schedules: 10,
        };
        ControlPlane::new(
            Arc::new(FileTable::new(dir.join("table"))),
            Arc::new(LocalScheduler::new(dir.join("scheduler.json"))),
            settings,
        )
    }

    fn body(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[tokio::test]
    async fn an_api_gateway_event_is_answered_in_sagemakers_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let request = lambda_http::request::from_str(EVENT).unwrap();
        let response = respond(&plane(dir.path()), request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/x-amz-json-1.1");
        assert_eq!(body(&response), serde_json::json!({"MonitoringScheduleSummaries": []}));
    }

    #[tokio::test]
    async fn errors_carry_their_code_in_body_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let event = EVENT
            .replace(
                "SageMaker.ListMonitoringSchedules",
                "SageMaker.DescribeMonitoringSchedule",
            )
            .replace(
                r#"{\"SortBy\": \"Name\", \"SortOrder\": \"Ascending\"}"#,
                r#"{\"MonitoringScheduleName\": \"missing\"}"#,
            );
        let response = respond(&plane(dir.path()), lambda_http::request::from_str(&event).unwrap()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["x-amzn-errortype"], "ResourceNotFound");
        assert_eq!(body(&response)["__type"], "ResourceNotFound");
        assert_eq!(
            body(&response)["message"],
            "Monitoring schedule 'missing' does not exist"
        );

        let without_target = EVENT.replace("\"x-amz-target\": \"SageMaker.ListMonitoringSchedules\",", "");
        let response = respond(
            &plane(dir.path()),
            lambda_http::request::from_str(&without_target).unwrap(),
        )
        .await;
        assert_eq!(body(&response)["__type"], "UnknownOperationException");
    }

    #[tokio::test]
    async fn a_base64_body_is_decoded() {
        use base64::Engine;
        let dir = tempfile::tempdir().unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(r#"{"MaxResults": 0}"#);
        let event = EVENT
            .replace(
                r#""{\"SortBy\": \"Name\", \"SortOrder\": \"Ascending\"}""#,
                &format!("\"{encoded}\""),
            )
            .replace("\"isBase64Encoded\": false", "\"isBase64Encoded\": true");
        let response = respond(&plane(dir.path()), lambda_http::request::from_str(&event).unwrap()).await;
        let answer = body(&response);
        assert_eq!(answer["__type"], "ValidationException", "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("maxResults"), "{answer}");
    }
}
