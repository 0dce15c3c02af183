//! Inputs streamed from S3 (moto, through the real SDK client): objects read as ranged GETs from
//! any offset, and the baselines and analyses made of them byte for byte what the same objects
//! give when first copied to local files (staged), on any number of threads.

use crate::common;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use modelmon_cloud::aws::{CloudWatchMetrics, DynamoTable, EventBridgeScheduler, S3Store};
use modelmon_cloud::control::api::handle;
use modelmon_cloud::control::ControlPlane;
use modelmon_cloud::ports::{ObjectInfo, ObjectStore};
use modelmon_cloud::run::{
    data_objects, object_sources, run_baseline, AnalysisRunner, BaselineJob, RunResult, RunSettings, ScheduledRun,
    PART_BYTES,
};
use modelmon_cloud::{AllowedBuckets, ObjectUri};
use modelmon_engine::analysis::{analyze, Analysis, AnalysisRequest, Input, InputFormat};
use modelmon_engine::capture::Window;
use modelmon_engine::dataset::{profile_sources, DatasetFormat, FileSource, ReadOptions, SourceRef};
use modelmon_engine::profile::DatasetProfile;
use modelmon_engine::random::SplitMix64;
use modelmon_engine::suggest::suggest_constraints;
use modelmon_formats::{Constraints, Statistics};
use serde_json::json;

use common::scenario::{self, ENDPOINT};
use common::{sdk_config, unique};

async fn bucket() -> (Arc<dyn ObjectStore>, String) {
    let s3 = S3Store::new(&sdk_config().await);
    let bucket = unique("bucket");
    s3.client.create_bucket().bucket(&bucket).send().await.unwrap();
    (Arc::new(s3), bucket)
}

fn uri(bucket: &str, key: &str) -> ObjectUri {
    scenario::uri(bucket, key)
}

/// Copies `objects` to files under `dir` (the old way: everything staged before profiling) and
/// names each after its object.
async fn staged(store: &Arc<dyn ObjectStore>, objects: &[ObjectInfo], dir: &Path) -> Vec<SourceRef> {
    let mut sources = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        let path = dir.join(format!("{i}"));
        std::fs::write(&path, store.get(&object.uri).await.unwrap()).unwrap();
        sources.push(Arc::new(FileSource::named(path, object.uri.to_string())) as SourceRef);
    }
    sources
}

fn profile(sources: Vec<SourceRef>, format: DatasetFormat, read: ReadOptions) -> DatasetProfile {
    let mut profile = DatasetProfile::default();
    profile_sources(&sources, format, read, &mut profile, &mut |_| {}).unwrap();
    profile
}

/// The engine reads blocking: off the async threads, as the runs do.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_stream_from_s3_in_ranged_parts_from_any_offset() {
    let (store, bucket) = bucket().await;
    let mut rng = SplitMix64::new(3);
    let size = 2 * PART_BYTES + 12_345;
    let body: Vec<u8> = (0..size).map(|_| rng.below(256) as u8).collect();
    store.put(&uri(&bucket, "big.bin"), body.clone(), "").await.unwrap();
    store.put(&uri(&bucket, "empty.bin"), Vec::new(), "").await.unwrap();
    let objects = store.list(&uri(&bucket, "")).await.unwrap();
    assert_eq!(objects.iter().map(|o| o.size).collect::<Vec<_>>(), [size, 0]);
    let sources = object_sources(&store, &objects, None).unwrap();
    assert_eq!(sources[0].name(), format!("s3://{bucket}/big.bin"));

    let read = blocking(move || {
        let all = |start: u64, until: u64| {
            let mut bytes = Vec::new();
            sources[0].open(start, until).unwrap().read_to_end(&mut bytes).unwrap();
            bytes
        };
        // The whole object (three parts at once), a stretch over a part boundary, and a read
        // that goes on far past where it expected to stop (fetched on demand).
        let whole = all(0, size);
        let middle = all(PART_BYTES - 7, PART_BYTES + 9);
        let past = all(10, 20);
        let mut empty = Vec::new();
        sources[1].open(0, 0).unwrap().read_to_end(&mut empty).unwrap();
        let mut head = vec![0u8; 5];
        sources[0].open(size - 5, size).unwrap().read_exact(&mut head).unwrap();
        (whole, middle, past, empty, head)
    })
    .await;
    assert!(read.0 == body, "the whole object");
    assert!(read.1 == body[(PART_BYTES - 7) as usize..], "from an offset to the end");
    assert!(read.2 == body[10..], "on past the expected end");
    assert!(read.3.is_empty());
    assert_eq!(read.4, body[body.len() - 5..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_changes_or_goes_while_it_is_read_is_an_error_naming_it() {
    let (store, bucket) = bucket().await;
    let object = uri(&bucket, "data.csv");
    store.put(&object, b"a,b\n1,2\n3,4\n".to_vec(), "").await.unwrap();
    let listed = store.list(&object).await.unwrap();
    let sources = object_sources(&store, &listed, None).unwrap();
    store.put(&object, b"a,b\n".to_vec(), "").await.unwrap();
    let (format, read) = (DatasetFormat::Csv { header: true }, ReadOptions::default());
    let changed = sources.clone();
    let err = blocking(move || profile_sources(&changed, format, read, &mut DatasetProfile::default(), &mut |_| {}))
        .await
        .unwrap_err();
    let message = modelmon_cloud::run::engine_failure(err).to_string();
    assert!(message.starts_with(&format!("{object}: ")), "{message}");
    assert!(message.contains("the object changed while it was read"), "{message}");

    store.put(&object, b"a,b\n1,2\n3,4\n".to_vec(), "").await.unwrap();
    aws_sdk_s3::Client::new(&sdk_config().await)
        .delete_object()
        .bucket(&bucket)
        .key("data.csv")
        .send()
        .await
        .unwrap();
    let err = blocking(move || profile_sources(&sources, format, read, &mut DatasetProfile::default(), &mut |_| {}))
        .await
        .unwrap_err();
    assert_eq!(
        modelmon_cloud::run::engine_failure(err).to_string(),
        format!("{object}: no such object")
    );
}

/// An error deep in a streamed object (past its first ranged GET, in a later chunk) names the
/// object and the line of the whole object, on one thread and in chunks on two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_past_the_first_part_of_an_object_names_the_object_and_its_line() {
    let (store, bucket) = bucket().await;
    let hour = Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap();
    let bad_line = 29_000;
    let mut body = String::new();
    for line in 1..=32_000u64 {
        let output_encoding = if line == bad_line { "JSON" } else { "CSV" };
        let time = hour + Duration::milliseconds(line as i64);
        body.push_str(
            &json!({
                "captureData": {
                    "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2,3,4,5,6,7,8", "encoding": "CSV"},
                    "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.5", "encoding": output_encoding}
                },
                "eventMetadata": {"eventId": format!("event-{line:08}"), "inferenceTime": time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
                "eventVersion": "0"
            })
            .to_string(),
        );
        body.push('\n');
    }
    let object = uri(&bucket, "datacapture/e/AllTraffic/2026/11/25/13/00-00-000-x.jsonl");
    let bad_offset = body.match_indices('\n').nth(bad_line as usize - 2).unwrap().0 as u64;
    assert!(bad_offset > PART_BYTES, "the bad line is in the second ranged part");
    store.put(&object, body.into_bytes(), "").await.unwrap();
    let sources = object_sources(&store, &store.list(&object).await.unwrap(), None).unwrap();
    let window = Window {
        start: hour,
        end: hour + Duration::hours(1),
    };
    for read in [
        ReadOptions::with_threads(1),
        ReadOptions {
            chunk_bytes: 1 << 20,
            ..ReadOptions::with_threads(2)
        },
    ] {
        let sources = sources.clone();
        let err = blocking(move || {
            modelmon_engine::capture::profile_capture_sources(
                &sources,
                Some(window),
                None,
                read,
                &mut DatasetProfile::default(),
                &mut |_| {},
            )
        })
        .await
        .unwrap_err();
        let message = modelmon_cloud::run::engine_failure(err).to_string();
        let expected = format!("{object}: line {bad_line}: Encoding mismatch");
        assert!(message.starts_with(&expected), "{message}");
    }
}

/// A dataset of several objects with a ragged row, a quoted line break and Spark's marker.
async fn dataset(store: &Arc<dyn ObjectStore>, bucket: &str) -> String {
    let mut rng = SplitMix64::new(9);
    for part in 0..3 {
        let mut text = String::from("id,plan,score\n");
        for i in 0..4_000 {
            let plan = ["basic", "pro", "\"team,\nannual\""][rng.below(3) as usize];
            text.push_str(&format!("{i},{plan},{:.4}\n", rng.normal()));
            if i % 1_500 == 3 {
                text.push_str("7,ragged\n");
            }
        }
        let key = format!("training/part-{part:05}.csv");
        store
            .put(&uri(bucket, &key), text.into_bytes(), "text/csv")
            .await
            .unwrap();
    }
    store
        .put(&uri(bucket, "training/_SUCCESS"), Vec::new(), "")
        .await
        .unwrap();
    uri(bucket, "training/").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_streamed_from_s3_is_the_staged_one_byte_for_byte() {
    let (store, bucket) = bucket().await;
    let job = BaselineJob {
        dataset_source: dataset(&store, &bucket).await,
        dataset_format: r#"{"csv": {"header": true}}"#.into(),
        output_path: uri(&bucket, "baseline").to_string(),
    };
    let outputs = run_baseline(&store, &job, &AllowedBuckets::any(), None).await.unwrap();
    assert_eq!(outputs.records.rejected_total(), 9, "{:?}", outputs.records);
    let example = &outputs.records.rejected.values().next().unwrap().examples[0];
    let at = example.strip_prefix(&format!("s3://{bucket}/training/part-00000.csv:"));
    let (line, what) = at.and_then(|at| at.split_once(": ")).expect(example);
    assert!(
        line.parse::<u64>().is_ok() && what == "expected 3 fields, found 2",
        "{example}"
    );

    let root = uri(&bucket, "training/");
    let objects = data_objects(store.list(&root).await.unwrap(), &root);
    assert_eq!(objects.len(), 3, "the marker is not data");
    let dir = tempfile::tempdir().unwrap();
    let sources = staged(&store, &objects, dir.path()).await;
    let format = DatasetFormat::Csv { header: true };
    let staged = blocking(move || profile(sources, format, ReadOptions::default())).await;
    assert_eq!(staged.records, outputs.records);
    let statistics = staged.to_statistics();
    let written = |key: &str| {
        let (store, object) = (store.clone(), uri(&bucket, key));
        async move { String::from_utf8(store.get(&object).await.unwrap()).unwrap() }
    };
    assert_eq!(written("baseline/statistics.json").await, statistics.to_json());
    assert_eq!(
        written("baseline/constraints.json").await,
        suggest_constraints(&statistics).to_json()
    );
}

/// Objects in chunks (many ranged reads per object, boundaries inside quoted fields among them)
/// on one, two and three threads: what the staged files give in the same chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_objects_profile_as_the_staged_files_on_any_threads() {
    let (store, bucket) = bucket().await;
    let root = ObjectUri::parse(&dataset(&store, &bucket).await).unwrap();
    let objects = data_objects(store.list(&root).await.unwrap(), &root);
    let dir = tempfile::tempdir().unwrap();
    let local = staged(&store, &objects, dir.path()).await;
    let format = DatasetFormat::Csv { header: true };
    let chunked = |threads| ReadOptions {
        chunk_bytes: 10_000,
        ..ReadOptions::with_threads(threads)
    };
    let expected = blocking(move || profile(local, format, chunked(1))).await;
    assert_eq!(expected.records.analysed, 12_000);
    for threads in [1, 2, 3] {
        let sources = object_sources(&store, &objects, None).unwrap();
        let streamed = blocking(move || profile(sources, format, chunked(threads))).await;
        assert_eq!(streamed.records, expected.records, "{threads} threads");
        assert_eq!(
            streamed.to_statistics().to_json(),
            expected.to_statistics().to_json(),
            "{threads} threads"
        );
    }
}

/// A schedule's table, timers and bucket, with runners reading on given threads.
struct Stack {
    sdk: aws_config::SdkConfig,
    table_name: String,
    bucket: String,
    store: Arc<dyn ObjectStore>,
    plane: ControlPlane,
}

impl Stack {
    async fn new() -> Stack {
        let sdk = sdk_config().await;
        let (table_name, group) = common::table_and_group(&sdk).await;
        let (store, bucket) = bucket().await;
        let settings = scenario::scheduler_settings(&group, "arn:aws:lambda:us-east-1:123456789012:function:analyze");
        let plane = ControlPlane::new(
            Arc::new(DynamoTable::new(&sdk, &table_name)),
            Arc::new(EventBridgeScheduler::new(&sdk, settings)),
            scenario::control_settings(),
        );
        Stack {
            sdk,
            table_name,
            bucket,
            store,
            plane,
        }
    }

    fn runner(&self, read: ReadOptions) -> AnalysisRunner {
        AnalysisRunner::new(
            Arc::new(DynamoTable::new(&self.sdk, &self.table_name)),
            self.store.clone(),
            Arc::new(CloudWatchMetrics::new(&self.sdk)),
            RunSettings {
                read,
                ..crate::run_settings(Some(&format!("s3://{}/datacapture", self.bucket)))
            },
        )
    }

    async fn schedule(&self, name: &str) {
        let request = scenario::create_request(&self.bucket, name, "cron(0 * ? * * *)");
        let response = handle(
            &self.plane,
            Some("SageMaker.CreateMonitoringSchedule"),
            request.to_string().as_bytes(),
        )
        .await;
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    }

    async fn text(&self, key: &str) -> String {
        String::from_utf8(self.store.get(&uri(&self.bucket, key)).await.unwrap()).unwrap()
    }
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, hour, 0, 0).unwrap()
}

/// Big capture objects of the window's hour: drifted ages, broken lines, shadow traffic.
async fn capture(stack: &Stack) {
    scenario::capture(&stack.store, &stack.bucket, at(12), false).await;
    for file in 0..3 {
        let mut lines = Vec::new();
        for i in 0..700 {
            let time = at(13) + Duration::seconds(file * 1_000 + i);
            let mut metadata = json!({"eventId": format!("e{i}"), "inferenceTime": time.to_rfc3339()});
            if i % 97 == 5 {
                metadata["invocationSource"] = json!("ShadowExperiment");
            }
            let record = json!({
                "captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                                  "data": format!("{},{}", 30 + i % 70, ["basic", "pro"][i as usize % 2]),
                                                  "encoding": "CSV"}},
                "eventMetadata": metadata,
                "eventVersion": "0"
            });
            let line = record.to_string();
            lines.push(if i % 131 == 7 { line[..40].to_string() } else { line });
        }
        let key = format!("datacapture/{ENDPOINT}/AllTraffic/2026/11/25/13/{file:02}-00-000-x.jsonl");
        let body = (lines.join("\n") + "\n").into_bytes();
        stack.store.put(&uri(&stack.bucket, &key), body, "").await.unwrap();
    }
}

/// What the same objects, copied to local files first, give the engine.
async fn staged_analysis(stack: &Stack, read: ReadOptions) -> Analysis {
    let root = uri(&stack.bucket, &format!("datacapture/{ENDPOINT}/"));
    let window = Window {
        start: at(13),
        end: at(14),
    };
    let in_hours: Vec<ObjectInfo> = stack
        .store
        .list(&root)
        .await
        .unwrap()
        .into_iter()
        .filter(|o| {
            window
                .hour_folders()
                .iter()
                .any(|hour| o.uri.key.contains(hour.as_str()))
        })
        .collect();
    let objects = data_objects(in_hours, &root);
    let dir = tempfile::tempdir().unwrap();
    let sources = staged(&stack.store, &objects, dir.path()).await;
    let statistics = Statistics::from_json_slice(stack.text("baseline/statistics.json").await.as_bytes(), "s").unwrap();
    let constraints =
        Constraints::from_json_slice(stack.text("baseline/constraints.json").await.as_bytes(), "c").unwrap();
    blocking(move || {
        let request = AnalysisRequest {
            input: Input::Sources(&sources),
            format: InputFormat::Capture,
            window: Some(window),
            baseline: &statistics,
            constraints: &constraints,
            read,
            preprocessor: None,
        };
        let analysis = analyze(&request, &mut |_| {}).unwrap();
        drop(dir);
        analysis
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_streamed_from_s3_reports_what_the_staged_files_give_on_any_threads() {
    let stack = Stack::new().await;
    scenario::baseline(&stack.store, &stack.bucket).await;
    capture(&stack).await;
    let read = |threads| ReadOptions {
        chunk_bytes: 50_000,
        ..ReadOptions::with_threads(threads)
    };
    let staged = staged_analysis(&stack, read(1)).await;
    assert!(staged.records.rejected_total() >= 15, "{:?}", staged.records);
    let expected = [staged.statistics.to_json(), staged.violations().to_json()];
    let expected_report = serde_json::to_value(&staged).unwrap();
    for threads in [1, 2, 3] {
        let name = unique(&format!("streamed-{threads}"));
        stack.schedule(&name).await;
        let event = ScheduledRun {
            schedule_name: name.clone(),
            scheduled_time: at(14),
        };
        let RunResult::Finished(record) = stack.runner(read(threads)).run(&event).await.unwrap() else {
            panic!("skipped")
        };
        assert_eq!(
            format!("{:?}", record.summary.monitoring_execution_status),
            "CompletedWithViolations"
        );
        let timings = record.timings.expect("the run's timings");
        assert_eq!(timings.threads, threads);
        assert!(timings.parts > 3, "big objects in chunks: {timings:?}");
        let phases = timings.claim_ms
            + timings.baseline_ms
            + timings.listing_ms
            + timings.profiling_ms
            + timings.checks_ms
            + timings.writes_ms
            + timings.metrics_ms;
        assert!(phases <= timings.total_ms && timings.writes_ms > 0.0, "{timings:?}");
        let folder = format!("reports/{ENDPOINT}/{name}/2026/11/25/14");
        let reports = [
            stack.text(&format!("{folder}/statistics.json")).await,
            stack.text(&format!("{folder}/constraint_violations.json")).await,
        ];
        assert_eq!(reports, expected, "{threads} threads");
        // report.json is the analysis with, for the page, modelmon's version, the run's context
        // (schedule, window, inputs) and the constraints' monitoring_config.
        let mut report: serde_json::Value =
            serde_json::from_str(&stack.text(&format!("{folder}/report.json")).await).unwrap();
        let added = report.as_object_mut().unwrap();
        assert!(added.remove("modelmon_version").unwrap().is_string());
        assert_eq!(added.remove("run").unwrap()["schedule"], name.as_str());
        assert!(added.remove("monitoring_config").unwrap().is_object());
        assert_eq!(report, expected_report, "{threads} threads");
    }
    let example = &staged.records.rejected.values().next().unwrap().examples[0];
    let object = format!(
        "s3://{}/datacapture/{ENDPOINT}/AllTraffic/2026/11/25/13/00-00-000-x.jsonl:8: ",
        stack.bucket
    );
    assert!(example.starts_with(&object), "{example}");
}
