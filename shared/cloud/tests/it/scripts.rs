//! Users' scripts (tests/scripts/) through the local Python runner and `run::scripts`: the record
//! preprocessor over capture records in batches, its errors, and the post-analytics processor.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use modelmon_cloud::local::{FsObjectStore, LocalPython};
use modelmon_cloud::ports::{ObjectStore, ScriptRunner};
use modelmon_cloud::run::scripts::{script_from_bytes, PostAnalyticsProcessor, Preprocessor, MAX_BATCH_RECORDS};
use modelmon_cloud::{CloudError, ObjectUri};
use modelmon_formats::scripts::{Preprocessed, RecordFormat, Row, Script};
use serde_json::{json, Value};

fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/scripts")
}

fn script(name: &str) -> Script {
    let path = scripts_dir().join(name);
    script_from_bytes(&path.display().to_string(), std::fs::read(&path).unwrap()).unwrap()
}

fn inline(origin: &str, source: &str) -> Script {
    script_from_bytes(origin, source.as_bytes().to_vec()).unwrap()
}

fn python() -> Arc<dyn ScriptRunner> {
    Arc::new(LocalPython::from_env().unwrap())
}

/// A capture line with CSV input and output.
fn csv_line(event_id: &str, input: &str, output: &str) -> String {
    json!({
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": input, "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": output, "encoding": "CSV"}
        },
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-11-25T13:00:05Z"},
        "eventVersion": "0"
    })
    .to_string()
}

fn json_line(event_id: &str, input: &Value) -> String {
    json!({
        "captureData": {
            "endpointInput": {"observedContentType": "application/json", "mode": "INPUT",
                              "data": input.to_string(), "encoding": "JSON"}
        },
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-11-25T13:00:05Z"},
        "eventVersion": "0"
    })
    .to_string()
}

async fn preprocess(
    scripts: Arc<dyn ScriptRunner>,
    script: Script,
    lines: &[String],
) -> Result<Vec<Preprocessed>, CloudError> {
    let preprocessor = Preprocessor::new(scripts, script, BTreeMap::new(), RecordFormat::Capture);
    let records: Vec<&str> = lines.iter().map(String::as_str).collect();
    preprocessor.run(&records).await
}

/// Each row as (key or position, value) pairs.
fn cells(row: &Row) -> Vec<(String, Value)> {
    let names: Vec<String> = match &row.keys {
        Some(keys) => keys.to_vec(),
        None => (0..row.values.len()).map(|i| format!("#{i}")).collect(),
    };
    names.into_iter().zip(row.values.iter().cloned()).collect()
}

fn one_row(outcome: &Preprocessed) -> Vec<(String, Value)> {
    match outcome {
        Preprocessed::Rows(rows) if rows.len() == 1 => cells(&rows[0]),
        other => panic!("one row expected, got {other:?}"),
    }
}

#[tokio::test]
async fn the_docs_example_keys_the_output_then_the_input_by_position() {
    let lines = [
        csv_line("e1", "31,pro,12.5", "0.9\n"),
        csv_line("e2", "45,basic,", "0.1"),
    ];
    let outcomes = preprocess(python(), script("docs_csv_preprocessor.py"), &lines)
        .await
        .unwrap();
    let key = |i: usize| format!("{i:020}");
    assert_eq!(
        one_row(&outcomes[0]),
        vec![
            (key(0), json!("0.9")),
            (key(1), json!("31")),
            (key(2), json!("pro")),
            (key(3), json!("12.5"))
        ]
    );
    assert_eq!(one_row(&outcomes[1])[3], (key(3), json!("")));
}

#[tokio::test]
async fn the_flattener_makes_one_flat_row_of_nested_json() {
    let request = json!({"customer": {"age": 31, "plan": {"name": "pro"}}, "features": [0.5, 2]});
    let outcomes = preprocess(python(), script("flatten_nested_json.py"), &[json_line("e", &request)])
        .await
        .unwrap();
    assert_eq!(
        one_row(&outcomes[0]),
        vec![
            ("customer.age".to_string(), json!(31)),
            ("customer.plan.name".to_string(), json!("pro")),
            ("features.0".to_string(), json!(0.5)),
            ("features.1".to_string(), json!(2)),
        ]
    );
}

#[tokio::test]
async fn the_sampler_drops_records_and_returns_csv_for_the_others() {
    let lines: Vec<String> = (0..4)
        .map(|i| csv_line(&format!("e{i}"), &format!("{i},pro"), "0.5"))
        .collect();
    let outcomes = preprocess(python(), script("sample_one_in_two.py"), &lines)
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            Preprocessed::Csv("0.5,0,pro".into()),
            Preprocessed::Dropped,
            Preprocessed::Csv("0.5,2,pro".into()),
            Preprocessed::Dropped
        ]
    );
}

#[tokio::test]
async fn a_raising_handler_rejects_its_record_with_the_scripts_line() {
    let lines = [
        json_line("ok", &json!({"age": 31})),
        json_line("missing", &json!({"plan": "pro"})),
        json_line("bad", &json!({"age": "n/a"})),
    ];
    let outcomes = preprocess(python(), script("raise_on_some.py"), &lines).await.unwrap();
    assert_eq!(
        one_row(&outcomes[0]),
        vec![("age".to_string(), json!(31)), ("plan".to_string(), Value::Null)]
    );
    let Preprocessed::Raised(missing) = &outcomes[1] else {
        panic!("{:?}", outcomes[1])
    };
    assert_eq!(missing.to_string(), "KeyError at line 7: 'age'");
    let Preprocessed::Raised(bad) = &outcomes[2] else {
        panic!("{:?}", outcomes[2])
    };
    assert_eq!(
        bad.to_string(),
        "ValueError at line 8: invalid literal for int() with base 10: 'n/a'"
    );
}

#[tokio::test]
async fn a_syntax_error_or_a_missing_handler_fails_the_run_with_pythons_error() {
    let lines = [csv_line("e", "1", "2")];
    let syntax = script("syntax_error.py");
    let origin = syntax.origin.clone();
    let err = preprocess(python(), syntax, &lines).await.unwrap_err();
    assert!(matches!(err, CloudError::Script(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "the record preprocessor {origin} cannot run: SyntaxError at line 4: "
        )),
        "{message}"
    );
    assert!(
        message.ends_with("(def preprocess_handler(inference_record))"),
        "{message}"
    );

    let err = preprocess(python(), script("no_handler.py"), &lines).await.unwrap_err();
    assert!(
        err.to_string().contains("NotImplementedError: ") && err.to_string().contains("has no preprocess_handler"),
        "{err}"
    );
}

/// The local runner, with a small payload limit: forces many batches and answers that stop
/// early. Counts the requests, and the answers that held fewer results than records.
struct Limited {
    inner: LocalPython,
    limit: usize,
    requests: AtomicUsize,
    short_answers: AtomicUsize,
}

impl Limited {
    fn new(limit: usize) -> Limited {
        Limited {
            inner: LocalPython::from_env().unwrap(),
            limit,
            requests: AtomicUsize::new(0),
            short_answers: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl ScriptRunner for Limited {
    fn payload_limit(&self) -> usize {
        self.limit
    }

    fn parallelism(&self) -> usize {
        3
    }

    async fn answer(&self, request: Vec<u8>) -> Result<Vec<u8>, CloudError> {
        assert!(request.len() <= self.limit, "a request of {} bytes", request.len());
        let sent = serde_json::from_slice::<Value>(&request).unwrap()["records"]
            .as_array()
            .unwrap()
            .len();
        let answer = self.inner.answer(request).await?;
        assert!(answer.len() <= self.limit, "an answer of {} bytes", answer.len());
        let answered = serde_json::from_slice::<Value>(&answer).unwrap()["results"]
            .as_array()
            .unwrap()
            .len();
        self.requests.fetch_add(1, Ordering::Relaxed);
        if answered < sent {
            self.short_answers.fetch_add(1, Ordering::Relaxed);
        }
        Ok(answer)
    }
}

#[tokio::test]
async fn batches_and_early_answers_keep_every_record_in_order() {
    // Many one-character fields: each row is larger in the answer than its record in the
    // request, so answers fill before requests do.
    let wide = "1,".repeat(150);
    let lines: Vec<String> = (0..MAX_BATCH_RECORDS + 500)
        .map(|i| csv_line(&format!("e{i}"), &format!("{i},{wide}"), "0.5"))
        .collect();
    let whole = preprocess(python(), script("docs_csv_preprocessor.py"), &lines)
        .await
        .unwrap();
    assert_eq!(whole.len(), lines.len());
    for (i, outcome) in whole.iter().enumerate() {
        assert_eq!(one_row(outcome)[1].1, json!(i.to_string()), "record {i}");
    }
    let limited = Arc::new(Limited::new(64 * 1024 + 200_000));
    let runner: Arc<dyn ScriptRunner> = limited.clone();
    let parts = preprocess(runner, script("docs_csv_preprocessor.py"), &lines[..2000])
        .await
        .unwrap();
    assert_eq!(parts, whole[..2000]);
    assert!(limited.requests.load(Ordering::Relaxed) > 4, "several batches");
    assert!(
        limited.short_answers.load(Ordering::Relaxed) > 0,
        "answers that stopped early"
    );
}

#[tokio::test]
async fn a_record_larger_than_a_request_is_rejected_not_sent() {
    let limited = Arc::new(Limited::new(64 * 1024 + 4096));
    let lines = [
        csv_line("small", "1", "2"),
        csv_line("huge", &"9,".repeat(10_000), "2"),
        csv_line("small2", "3", "4"),
    ];
    let outcomes = preprocess(limited, script("docs_csv_preprocessor.py"), &lines)
        .await
        .unwrap();
    assert_eq!(one_row(&outcomes[0])[1].1, json!("1"));
    let Preprocessed::Raised(error) = &outcomes[1] else {
        panic!("{:?}", outcomes[1])
    };
    assert_eq!(error.error_type, "RecordTooLarge");
    assert!(error.message.starts_with("the record is 20"), "{}", error.message);
    assert_eq!(one_row(&outcomes[2])[1].1, json!("3"));
}

#[tokio::test]
async fn the_jobs_environment_reaches_the_script() {
    let source = "import os\ndef preprocess_handler(r):\n    return {'team': os.environ.get('team')}\n";
    let environment = BTreeMap::from([("team".to_string(), "risk".to_string())]);
    let preprocessor = Preprocessor::new(python(), inline("env.py", source), environment, RecordFormat::Capture);
    let line = csv_line("e", "1", "2");
    let outcomes = preprocessor.run(&[line.as_str()]).await.unwrap();
    assert_eq!(one_row(&outcomes[0]), vec![("team".to_string(), json!("risk"))]);
}

#[tokio::test]
async fn a_missing_python_is_a_clear_error() {
    let missing = LocalPython::new("/nonexistent/python3").unwrap();
    let err = missing.check().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration: `/nonexistent/python3` was not found: modelmon runs record preprocessor and \
         post-analytics processor scripts with Python 3 (install it, or set MODELMON_PYTHON to its path)"
    );
    let version = LocalPython::from_env().unwrap().check().await.unwrap();
    assert!(version.starts_with("3."), "{version}");
}

#[tokio::test]
async fn a_runner_that_dies_says_how_and_the_next_call_gets_a_new_one() {
    let source = "import os, sys\ndef preprocess_handler(r):\n    if r.event_metadata.event_id == 'die':\n        \
                  sys.stderr.write('about to exit\\n')\n        os._exit(3)\n    return {'ok': 1}\n";
    let runner = python();
    let dying = Preprocessor::new(
        Arc::clone(&runner),
        inline("dies.py", source),
        BTreeMap::new(),
        RecordFormat::Capture,
    );
    let line = csv_line("die", "1", "2");
    let err = dying.run(&[line.as_str()]).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("stopped with exit status: 3: about to exit"),
        "{message}"
    );
    let line = csv_line("live", "1", "2");
    let outcomes = dying.run(&[line.as_str()]).await.unwrap();
    assert_eq!(one_row(&outcomes[0]), vec![("ok".to_string(), json!(1))]);
}

async fn reports(store: &FsObjectStore, prefix: &ObjectUri) -> Vec<(String, ObjectUri)> {
    let statistics = json!({"version": 0.0, "dataset": {"item_count": 3600}, "features": []});
    let violations = json!({"violations": [{"feature_name": "age", "constraint_check_type": "data_type_check"}]});
    let mut inputs = Vec::new();
    for (name, body) in [
        ("statistics.json", statistics),
        ("constraint_violations.json", violations),
        ("report.json", json!({})),
    ] {
        let uri = prefix.join(name);
        store
            .put(&uri, body.to_string().into_bytes(), "application/json")
            .await
            .unwrap();
        inputs.push((format!("output/{name}"), uri));
    }
    inputs
}

#[tokio::test]
async fn the_postprocessor_reads_the_reports_and_its_files_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path());
    let prefix = ObjectUri::parse("s3://reports/ep/sched/2026/11/25/14/").unwrap();
    let inputs = reports(&store, &prefix).await;
    let environment = BTreeMap::from([
        ("sagemaker_monitoring_schedule_name".to_string(), "sched".to_string()),
        ("team".to_string(), "risk".to_string()),
    ]);
    let processor = PostAnalyticsProcessor::new(python(), script("postprocessor_summary.py"), environment);
    let paths = BTreeMap::from([("output_path".to_string(), "output".to_string())]);
    let files = processor.run(&store, &inputs, paths.clone()).await.unwrap();
    let [(path, bytes)] = files.as_slice() else {
        panic!("{files:?}")
    };
    assert_eq!(path, "custom/summary.json");
    let summary: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(
        summary,
        json!({"items": 3600, "schedule": "sched", "team": "risk", "violations": ["age:data_type_check"]})
    );

    let raising = PostAnalyticsProcessor::new(python(), script("postprocessor_raises.py"), BTreeMap::new());
    let err = raising.run(&store, &inputs, paths).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the post-analytics processor {} failed: RuntimeError at line 7: the alerting service is unreachable",
            raising.script().origin
        )
    );
}
