//! The protocol of modelmon's runner of users' scripts (`functions/scripts/runner.py`): a
//! SageMaker record preprocessor run over a batch of records, or a post-analytics processor run
//! once. One JSON request, one JSON answer; the scripts Lambda function takes the request as its
//! event, the local runner one request per line.
//!
//! A preprocess answer holds one result per record, in order, and may stop early when the next
//! result would pass `max_response_bytes` (the sender sends the rest again). Named rows give
//! their keys as an index into the answer's `key_sets`, so a batch of rows with the same keys
//! carries each key once.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version both sides speak.
pub const PROTOCOL: u32 = 1;

/// A user's script: where it came from (named in every message, and as the file of its
/// tracebacks) and its text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Script {
    pub origin: String,
    pub source: String,
}

/// What a preprocessor's records are, and so what its handler is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordFormat {
    /// SageMaker capture records: the handler gets SageMaker's record object.
    Capture,
    /// Lines of a CSV dataset: the handler gets the line.
    Csv,
    /// JSON Lines values: the handler gets the parsed value.
    Json,
}

/// The parts of a preprocess request other than its records.
#[derive(Debug, Clone, Serialize)]
pub struct PreprocessRequest<'a> {
    pub handler: &'static str,
    pub script: &'a Script,
    pub environment: &'a BTreeMap<String, String>,
    pub record_format: RecordFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<usize>,
}

impl<'a> PreprocessRequest<'a> {
    pub fn new(script: &'a Script, environment: &'a BTreeMap<String, String>, record_format: RecordFormat) -> Self {
        PreprocessRequest {
            handler: "preprocess",
            script,
            environment,
            record_format,
            max_response_bytes: None,
        }
    }

    /// The request's bytes without records, and what each record adds: its text and a comma
    /// (capture and JSON records are sent as the JSON they are; CSV lines as JSON strings).
    pub fn overhead(&self) -> usize {
        self.head().len() + "\"records\":[]}".len()
    }

    /// The request with `records`, which for `Capture` and `Json` must each be one JSON value
    /// (they are spliced in as they are: a capture line is not parsed twice).
    pub fn write<'r>(&self, records: impl IntoIterator<Item = &'r str>) -> Vec<u8> {
        let mut out = self.head().into_bytes();
        out.extend_from_slice(b"\"records\":[");
        for (i, record) in records.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match self.record_format {
                RecordFormat::Capture | RecordFormat::Json => out.extend_from_slice(record.trim_end().as_bytes()),
                RecordFormat::Csv => {
                    serde_json::to_writer(&mut out, record).expect("a string serialises");
                }
            }
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// The size `record` adds to a request.
    pub fn record_size(&self, record: &str) -> usize {
        1 + match self.record_format {
            RecordFormat::Capture | RecordFormat::Json => record.trim_end().len(),
            // Quotes, and escapes at most doubling a character (\u00XX for control characters).
            RecordFormat::Csv => 2 + record.len() + record.bytes().filter(|b| needs_escape(*b)).count() * 5,
        }
    }

    /// `{...,` : the serialised fields, open for `records`.
    fn head(&self) -> String {
        let mut head = serde_json::to_string(self).expect("a request serialises");
        head.pop();
        if head.len() > 1 {
            head.push(',');
        }
        head
    }
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The answer to a preprocess request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PreprocessAnswer {
    pub protocol: u32,
    #[serde(default)]
    pub results: Vec<Option<RecordResult>>,
    #[serde(default)]
    pub key_sets: Vec<Vec<String>>,
    /// The script cannot run: it does not import, or lacks its handler.
    pub failure: Option<ScriptFailure>,
}

/// What the handler made of one record (a dropped record is `None` in `results`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordResult {
    Rows(Vec<WireRow>),
    /// A CSV string: rows by position.
    Csv(String),
    Error(RecordError),
}

/// A row as sent: `k` indexes the answer's key sets (a dict); without it, values by position.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WireRow {
    #[serde(rename = "k")]
    pub key_set: Option<usize>,
    #[serde(rename = "v")]
    pub values: Vec<Value>,
}

/// An exception the handler raised on a record (or a return value that is no rows).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordError {
    #[serde(rename = "type")]
    pub error_type: String,
    pub message: String,
    /// The line of the script nearest the failure, when the script is in its traceback.
    pub line: Option<u32>,
}

impl std::fmt::Display for RecordError {
    /// `KeyError at line 7: 'age'`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} at line {line}: {}", self.error_type, self.message),
            None => write!(f, "{}: {}", self.error_type, self.message),
        }
    }
}

/// Why a script cannot run (or, for a post-analytics processor, why it failed).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScriptFailure {
    #[serde(rename = "type")]
    pub error_type: String,
    pub message: String,
    pub line: Option<u32>,
    /// Python's traceback, or the offending line of a syntax error.
    pub traceback: Option<String>,
}

impl std::fmt::Display for ScriptFailure {
    /// `SyntaxError at line 4: expected ':' (def preprocess_handler(inference_record))`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} at line {line}: {}", self.error_type, self.message)?,
            None => write!(f, "{}: {}", self.error_type, self.message)?,
        }
        match &self.traceback {
            Some(text) if self.error_type == "SyntaxError" => write!(f, " ({text})"),
            _ => Ok(()),
        }
    }
}

/// One record's outcome, with its rows' keys resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Preprocessed {
    Rows(Vec<Row>),
    Csv(String),
    /// `[]` or `None`: the script dropped the record.
    Dropped,
    Raised(RecordError),
}

/// One row: values by key (a dict), or by position (`keys` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub keys: Option<Arc<[String]>>,
    pub values: Vec<Value>,
}

impl PreprocessAnswer {
    /// The results with their keys resolved; an error names what does not fit the protocol.
    pub fn into_outcomes(self) -> Result<Vec<Preprocessed>, String> {
        if self.protocol != PROTOCOL {
            return Err(format!(
                "the script runner speaks protocol {}, modelmon {PROTOCOL}",
                self.protocol
            ));
        }
        let key_sets: Vec<Arc<[String]>> = self.key_sets.into_iter().map(Arc::from).collect();
        self.results
            .into_iter()
            .map(|result| {
                Ok(match result {
                    None => Preprocessed::Dropped,
                    Some(RecordResult::Csv(text)) => Preprocessed::Csv(text),
                    Some(RecordResult::Error(error)) => Preprocessed::Raised(error),
                    Some(RecordResult::Rows(rows)) => {
                        Preprocessed::Rows(
                            rows.into_iter()
                                .map(|row| {
                                    let keys =
                                        match row.key_set {
                                            None => None,
                                            Some(i) => Some(key_sets.get(i).cloned().ok_or_else(|| {
                                                format!("a row names key set {i} of {}", key_sets.len())
                                            })?),
                                        };
                                    if keys.as_ref().is_some_and(|k| k.len() != row.values.len()) {
                                        return Err("a row has more or fewer values than keys".to_string());
                                    }
                                    Ok(Row {
                                        keys,
                                        values: row.values,
                                    })
                                })
                                .collect::<Result<_, String>>()?,
                        )
                    }
                })
            })
            .collect()
    }
}

/// A post-analytics processor's run: the files it is given (under a fresh folder; the reports in
/// `output/`), the environment variables that hold paths in that folder, and the job's
/// environment.
#[derive(Debug, Clone, Serialize)]
pub struct PostprocessRequest<'a> {
    pub handler: &'static str,
    pub script: &'a Script,
    pub environment: &'a BTreeMap<String, String>,
    pub inputs: Vec<ScriptInput>,
    /// Variable -> path relative to the run's folder (`output_path` -> `output`).
    pub paths: BTreeMap<String, String>,
    /// The most the files written may hold together (the answer carries them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<usize>,
}

/// A file for the script, by URL (fetched by the runner) or inline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptInput {
    pub path: String,
    #[serde(flatten)]
    pub source: InputSource,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputSource {
    Url(String),
    Base64(String),
}

/// The answer to a postprocess request: the files the script wrote under `output_path`, other
/// than the ones it was given.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PostprocessAnswer {
    pub protocol: u32,
    #[serde(default)]
    pub files: Vec<WrittenFile>,
    pub failure: Option<ScriptFailure>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WrittenFile {
    /// Relative to `output_path`, with `/`.
    pub path: String,
    pub base64: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        Script {
            origin: "s3://code/pre.py".into(),
            source: "def preprocess_handler(r):\n    return {}\n".into(),
        }
    }

    #[test]
    fn records_are_spliced_into_the_request_and_sizes_add_up() {
        let script = script();
        let environment = BTreeMap::from([("team".to_string(), "risk".to_string())]);
        let mut request = PreprocessRequest::new(&script, &environment, RecordFormat::Capture);
        request.max_response_bytes = Some(1000);
        let records = [r#"{"a":1}"#, "{\"b\":\"x\"}\n"];
        let bytes = request.write(records);
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["records"], serde_json::json!([{"a": 1}, {"b": "x"}]));
        assert_eq!(value["handler"], "preprocess");
        assert_eq!(value["record_format"], "capture");
        assert_eq!(value["max_response_bytes"], 1000);
        assert_eq!(value["environment"]["team"], "risk");
        let sizes: usize = records.iter().map(|r| request.record_size(r)).sum();
        assert_eq!(
            bytes.len(),
            request.overhead() + sizes - 1,
            "one comma fewer than records"
        );
    }

    #[test]
    fn csv_lines_go_as_strings_within_their_estimated_size() {
        let script = script();
        let environment = BTreeMap::new();
        let request = PreprocessRequest::new(&script, &environment, RecordFormat::Csv);
        let lines = ["31,\"pro\"", "a\tb\\c"];
        let value: Value = serde_json::from_slice(&request.write(lines)).unwrap();
        assert_eq!(value["records"], serde_json::json!(lines));
        for line in lines {
            assert!(request.record_size(line) > serde_json::to_string(line).unwrap().len());
        }
    }

    #[test]
    fn answers_resolve_their_key_sets() {
        let answer: PreprocessAnswer = serde_json::from_str(
            r#"{"protocol":1,"results":[{"rows":[{"k":0,"v":[1,"x"]},{"v":[2]}]},null,
                {"csv":"1,2"},{"error":{"type":"KeyError","message":"'age'","line":7}}],
                "key_sets":[["a","b"]]}"#,
        )
        .unwrap();
        let outcomes = answer.into_outcomes().unwrap();
        let keys: Arc<[String]> = Arc::from(vec!["a".to_string(), "b".to_string()]);
        assert_eq!(
            outcomes,
            vec![
                Preprocessed::Rows(vec![
                    Row {
                        keys: Some(keys),
                        values: vec![1.into(), "x".into()]
                    },
                    Row {
                        keys: None,
                        values: vec![2.into()]
                    },
                ]),
                Preprocessed::Dropped,
                Preprocessed::Csv("1,2".into()),
                Preprocessed::Raised(RecordError {
                    error_type: "KeyError".into(),
                    message: "'age'".into(),
                    line: Some(7)
                }),
            ]
        );
        let Preprocessed::Raised(error) = &outcomes[3] else {
            unreachable!()
        };
        assert_eq!(error.to_string(), "KeyError at line 7: 'age'");
    }

    #[test]
    fn answers_that_break_the_protocol_are_errors() {
        let parse = |text: &str| serde_json::from_str::<PreprocessAnswer>(text).unwrap().into_outcomes();
        assert_eq!(
            parse(r#"{"protocol":1,"results":[{"rows":[{"k":3,"v":[]}]}],"key_sets":[]}"#).unwrap_err(),
            "a row names key set 3 of 0"
        );
        assert_eq!(
            parse(r#"{"protocol":1,"results":[{"rows":[{"k":0,"v":[1,2]}]}],"key_sets":[["a"]]}"#).unwrap_err(),
            "a row has more or fewer values than keys"
        );
        assert_eq!(
            parse(r#"{"protocol":2,"results":[]}"#).unwrap_err(),
            "the script runner speaks protocol 2, modelmon 1"
        );
    }

    #[test]
    fn postprocess_inputs_are_urls_or_inline() {
        let script = script();
        let environment = BTreeMap::new();
        let request = PostprocessRequest {
            handler: "postprocess",
            script: &script,
            environment: &environment,
            inputs: vec![
                ScriptInput {
                    path: "output/statistics.json".into(),
                    source: InputSource::Url("https://x/y".into()),
                },
                ScriptInput {
                    path: "output/report.json".into(),
                    source: InputSource::Base64("e30=".into()),
                },
            ],
            paths: BTreeMap::from([("output_path".to_string(), "output".to_string())]),
            max_output_bytes: None,
        };
        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(
            value["inputs"],
            serde_json::json!([
                {"path": "output/statistics.json", "url": "https://x/y"},
                {"path": "output/report.json", "base64": "e30="}
            ])
        );
        assert!(value.get("max_output_bytes").is_none());
    }

    #[test]
    fn failures_read_as_python_says_them() {
        let failure = ScriptFailure {
            error_type: "SyntaxError".into(),
            message: "expected ':'".into(),
            line: Some(4),
            traceback: Some("def preprocess_handler(inference_record)".into()),
        };
        assert_eq!(
            failure.to_string(),
            "SyntaxError at line 4: expected ':' (def preprocess_handler(inference_record))"
        );
    }
}
