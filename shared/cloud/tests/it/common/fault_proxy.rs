//! A fault-injecting HTTP/1.1 proxy between the SDK clients and the emulator: each request is
//! forwarded to moto unless a rule the test set matches it, in which case the proxy answers with
//! the fault instead (a 500, the service's throttling error, a stall past the client's timeout,
//! or a connection closed without an answer).
//!
//! A request is matched by a substring of its description: the request line, the headers
//! (lower-case names) and, for the query and JSON protocols (CloudWatch, DynamoDB), the body. So
//! `"DynamoDB_20120810.PutItem"` (the `x-amz-target` header), `"Action=PutMetricData"`,
//! `"PUT /bucket/key"` (S3, path style) or `"DELETE /schedules/"` (EventBridge Scheduler) pick
//! one operation.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does instead of forwarding a matching request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// HTTP 500 with the service's InternalError (the SDK retries it as transient).
    InternalError,
    /// The service's throttling error (the SDK retries it as throttling).
    Throttle,
    /// No answer for this long, then a 500; the request never reaches moto.
    Delay(Duration),
    /// The connection closed without an answer; the request never reaches moto.
    Drop,
    /// The request reaches moto and takes effect, but the connection closes before the answer:
    /// the client cannot tell this from `Drop`, and its retry meets its own first attempt.
    LoseAnswer,
}

struct Rule {
    pattern: String,
    fault: Fault,
    /// How many more matching requests get the fault (`usize::MAX`: all of them).
    remaining: usize,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// The description of every request the proxy received, in order.
    seen: Vec<String>,
}

/// The proxy, listening on 127.0.0.1 until the test ends.
pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:port`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream
            .strip_prefix("http://")
            .expect("an http:// upstream")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (state, upstream) = (shared.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |request| handle(request, state.clone(), upstream.clone()));
                    // An error here is a dropped connection (ours or the client's).
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { url, state }
    }

    /// The next `times` requests matching `pattern` get `fault`.
    pub fn inject(&self, pattern: &str, fault: Fault, times: usize) {
        self.state.lock().unwrap().rules.push(Rule {
            pattern: pattern.to_string(),
            fault,
            remaining: times,
        });
    }

    /// Every request matching `pattern` gets `fault`, until [`FaultProxy::clear`].
    pub fn always(&self, pattern: &str, fault: Fault) {
        self.inject(pattern, fault, usize::MAX);
    }

    /// No more faults.
    pub fn clear(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// How many requests matching `pattern` the proxy received (faulted or forwarded).
    pub fn seen(&self, pattern: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|d| d.contains(pattern))
            .count()
    }

    /// The first lines of the last 20 requests (for failure messages).
    pub fn log(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        let from = state.seen.len().saturating_sub(20);
        state.seen[from..]
            .iter()
            .map(|d| d.lines().next().unwrap_or_default().to_string())
            .collect()
    }
}

type Answer = Response<Full<Bytes>>;

async fn handle(
    request: Request<Incoming>,
    state: Arc<Mutex<State>>,
    upstream: String,
) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let mut description = format!(
        "{} {}\n",
        parts.method,
        parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    for (name, value) in &parts.headers {
        description.push_str(&format!("{}: {}\n", name, String::from_utf8_lossy(value.as_bytes())));
    }
    // The bodies of the query and JSON protocols (CloudWatch's Action=..., DynamoDB's
    // ConditionExpression), not S3's objects.
    let protocol_body = parts.headers.get(hyper::header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(b"application/x-www-form-urlencoded") || v.starts_with(b"application/x-amz-json")
    });
    if protocol_body {
        description.push_str(&String::from_utf8_lossy(&body));
    }
    let fault = {
        let mut state = state.lock().unwrap();
        state.seen.push(description.clone());
        let rule = state
            .rules
            .iter_mut()
            .find(|rule| rule.remaining > 0 && description.contains(&rule.pattern));
        rule.map(|rule| {
            rule.remaining = rule.remaining.saturating_sub(1);
            rule.fault
        })
    };
    match fault {
        None => forward(parts, body, &upstream).await,
        Some(Fault::Drop) => Err("fault: dropped connection".into()),
        Some(Fault::LoseAnswer) => {
            forward(parts, body, &upstream).await?;
            Err("fault: answer lost".into())
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(error_answer(&description, Fault::InternalError))
        }
        Some(fault) => Ok(error_answer(&description, fault)),
    }
}

async fn forward(
    parts: hyper::http::request::Parts,
    body: Bytes,
    upstream: &str,
) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(Request::from_parts(parts, Full::new(body))).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// The service's own error for `fault`, told apart by the request: DynamoDB's JSON protocol,
/// CloudWatch's query protocol, EventBridge Scheduler's REST JSON, else S3's XML.
fn error_answer(description: &str, fault: Fault) -> Answer {
    let throttle = fault == Fault::Throttle;
    let (status, content_type, error_type, body) = if description.contains("x-amz-target: DynamoDB_") {
        let (status, code) = if throttle {
            (400, "ThrottlingException")
        } else {
            (500, "InternalServerError")
        };
        (
            status,
            "application/x-amz-json-1.0",
            None,
            format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"injected fault"}}"#),
        )
    } else if description.contains("Action=") {
        let (status, code) = if throttle {
            (400, "Throttling")
        } else {
            (500, "InternalFailure")
        };
        (
            status,
            "text/xml",
            None,
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected fault</Message></Error>\
                 <RequestId>fault</RequestId></ErrorResponse>"
            ),
        )
    } else if description.contains(" /schedules/") || description.contains(" /schedule-groups/") {
        let (status, code) = if throttle {
            (429, "ThrottlingException")
        } else {
            (500, "InternalServerException")
        };
        (
            status,
            "application/json",
            Some(code),
            r#"{"Message":"injected fault"}"#.to_string(),
        )
    } else {
        let (status, code) = if throttle {
            (503, "SlowDown")
        } else {
            (500, "InternalError")
        };
        (
            status,
            "application/xml",
            None,
            format!("<Error><Code>{code}</Code><Message>injected fault</Message><RequestId>fault</RequestId></Error>"),
        )
    };
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", content_type)
        .header("x-amzn-requestid", "fault");
    if let Some(error_type) = error_type {
        response = response.header("x-amzn-errortype", error_type);
    }
    response.body(Full::new(Bytes::from(body))).unwrap()
}
