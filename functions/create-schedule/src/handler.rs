//! HTTP request in, SageMaker JSON response out; everything else is the control plane's.

use lambda_http::http::header::CONTENT_TYPE;
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
    let mut response = Response::builder()
        .status(answer.status)
        .header(CONTENT_TYPE, api::CONTENT_TYPE);
    if let Some(code) = &answer.error_type {
        response = response.header("x-amzn-errortype", code.as_str());
    }
    response
        .body(Body::from(answer.body))
        .expect("status and headers are valid")
}
