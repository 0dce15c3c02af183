//! Every core, same reports: capture files and big batch files are profiled in parts on several
//! threads and merged in order, so one, two and many threads give byte-identical reports; chunks
//! of big files number their lines, rejections and errors as the whole file does; a source
//! named after an object names it in errors.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::write;
use modelmon_engine::analysis::{analyze, Analysis, AnalysisRequest, Input, InputFormat};
use modelmon_engine::capture::{profile_capture_sources, Window};
use modelmon_engine::dataset::{
    file_sources, profile_dataset, profile_sources, DatasetFormat, FileSource, ReadOptions, SourceRef,
};
use modelmon_engine::preprocess::RecordPreprocessor;
use modelmon_engine::profile::{DatasetProfile, RejectReason};
use modelmon_engine::random::SplitMix64;
use modelmon_engine::suggest::suggest_constraints;
use modelmon_engine::EngineError;
use modelmon_formats::scripts::{Preprocessed, RecordError};
use modelmon_formats::{Constraints, Statistics};
use serde_json::json;

const THREADS: [usize; 4] = [1, 2, 3, 8];

fn options(threads: usize, chunk_bytes: u64) -> ReadOptions {
    ReadOptions {
        chunk_bytes,
        ..ReadOptions::with_threads(threads)
    }
}

fn hour() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap()
}

fn window() -> Window {
    Window {
        start: hour(),
        end: hour() + Duration::hours(1),
    }
}

/// A row of `age,plan,income` (income missing now and then), with drift when `shift` is set.
fn row(rng: &mut SplitMix64, shift: f64) -> String {
    let age = 20 + rng.below(50);
    let plan = ["basic", "pro", "team", "\"pro, annual\""][rng.below(4) as usize];
    let income = if rng.below(20) == 0 {
        String::new()
    } else {
        format!("{:.2}", 30_000.0 + shift + 9_000.0 * rng.normal())
    };
    format!("{age},{plan},{income}")
}

fn baseline(dir: &Path) -> (Statistics, Constraints) {
    let mut rng = SplitMix64::new(7);
    let mut text = String::from("age,plan,income\n");
    for _ in 0..5_000 {
        text.push_str(&row(&mut rng, 0.0));
        text.push('\n');
    }
    let path = write(&dir.join("train.csv"), text);
    let statistics = profile_dataset(&[path], DatasetFormat::Csv { header: true }, &mut |_| {})
        .unwrap()
        .to_statistics();
    let constraints = suggest_constraints(&statistics);
    (statistics, constraints)
}

/// An hour of capture in files of uneven sizes, with records outside the window, shadow
/// traffic and broken lines here and there.
fn capture(root: &Path) -> Vec<PathBuf> {
    let mut rng = SplitMix64::new(11);
    let mut files = Vec::new();
    for file in 0..12u32 {
        let first = hour() + Duration::minutes(i64::from(file) * 5);
        let mut lines = Vec::new();
        for i in 0..(40 + 90 * (file % 4)) {
            let time = first + Duration::seconds(i64::from(i));
            let mut record = json!({
                "captureData": {
                    "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                      "data": row(&mut rng, 4_000.0), "encoding": "CSV"},
                    "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                       "data": format!("{:.3}", rng.uniform()), "encoding": "CSV"}
                },
                "eventMetadata": {"eventId": format!("e{file}-{i}"),
                                  "inferenceTime": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
                "eventVersion": "0"
            });
            match (file + i) % 37 {
                3 => record["eventMetadata"]["invocationSource"] = json!("ShadowExperiment"),
                5 => record["eventMetadata"]["inferenceTime"] = json!("2026-11-25T12:59:59Z"),
                _ => {}
            }
            let mut line = record.to_string();
            if (file * 7 + i) % 53 == 0 {
                line.truncate(line.len() / 2);
            }
            lines.push(line);
        }
        let path = root
            .join("ep/AllTraffic")
            .join(first.format("%Y/%m/%d/%H").to_string())
            .join(format!("{}-0000.jsonl", first.format("%M-%S")));
        files.push(write(&path, lines.join("\n") + "\n"));
    }
    files
}

/// The three report files' bytes, as the CLI and the functions write them.
fn reports(analysis: &Analysis) -> [String; 3] {
    [
        analysis.statistics.to_json(),
        analysis.violations().to_json(),
        serde_json::to_string_pretty(analysis).unwrap(),
    ]
}

fn run(
    sources: &[SourceRef],
    format: InputFormat,
    read: ReadOptions,
    baseline: &(Statistics, Constraints),
) -> Analysis {
    run_through(sources, format, read, None, baseline)
}

fn run_through(
    sources: &[SourceRef],
    format: InputFormat,
    read: ReadOptions,
    preprocessor: Option<&dyn RecordPreprocessor>,
    baseline: &(Statistics, Constraints),
) -> Analysis {
    let request = AnalysisRequest {
        input: Input::Sources(sources),
        format,
        window: (format == InputFormat::Capture).then(window),
        baseline: &baseline.0,
        constraints: &baseline.1,
        read,
        preprocessor,
    };
    analyze(&request, &mut |_| {}).unwrap()
}

/// A record preprocessor in Rust, called from every profiling thread: it keeps a capture
/// record's input CSV, drops the records whose age is 33 and raises for those whose age is 44;
/// it counts the records and batches it saw.
struct InputOnly {
    records: std::sync::atomic::AtomicUsize,
}

impl RecordPreprocessor for InputOnly {
    fn origin(&self) -> &str {
        "input_only.py"
    }
    fn batch_records(&self) -> usize {
        16
    }
    fn preprocess(&self, records: &[&str]) -> Result<Vec<Preprocessed>, String> {
        assert!(records.len() <= 16, "a batch of {}", records.len());
        self.records
            .fetch_add(records.len(), std::sync::atomic::Ordering::Relaxed);
        let outcome = |record: &&str| {
            let value: serde_json::Value = serde_json::from_str(record).expect("a capture record");
            let data = value["captureData"]["endpointInput"]["data"]
                .as_str()
                .unwrap()
                .to_string();
            match data.split(',').next() {
                Some("33") => Preprocessed::Dropped,
                Some("44") => Preprocessed::Raised(RecordError {
                    error_type: "ValueError".into(),
                    message: "age 44".into(),
                    line: Some(3),
                }),
                _ => Preprocessed::Csv(data),
            }
        };
        Ok(records.iter().map(outcome).collect())
    }
}

/// With a record preprocessor, each part's records go through it in that part's thread: the
/// reports are still byte-identical on any number of threads, the account adds up with the
/// dropped records, and a rejection names the file, the line and the script's exception.
#[test]
fn capture_reports_through_a_preprocessor_are_byte_identical_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = baseline(dir.path());
    let sources = file_sources(&capture(&dir.path().join("capture")));
    let mut whole_file_examples = None;
    for chunk_bytes in [ReadOptions::default().chunk_bytes, 9_000] {
        let mut expected = None;
        for threads in THREADS {
            let preprocessor = InputOnly {
                records: Default::default(),
            };
            let analysis = run_through(
                &sources,
                InputFormat::Capture,
                options(threads, chunk_bytes),
                Some(&preprocessor),
                &baseline,
            );
            let records = &analysis.records;
            assert!(records.dropped > 0, "{records:?}");
            assert_eq!(
                records.read,
                records.analysed + records.rejected_total() + records.dropped
            );
            let given = preprocessor.records.load(std::sync::atomic::Ordering::Relaxed) as u64;
            // Broken lines are rejected before the script; shadow and out-of-window records are
            // skipped before it (and not read).
            let broken = records.rejected[&RejectReason::MalformedJson].count;
            assert_eq!(
                given + broken,
                records.read,
                "every well-formed record of the window went through it"
            );
            let examples = &records.rejected[&RejectReason::Preprocessor].examples;
            assert!(
                examples[0].contains(".jsonl:")
                    && examples[0].ends_with("preprocess_handler (input_only.py) raised ValueError at line 3: age 44"),
                "{examples:?}"
            );
            // Chunks number their lines as the whole file does.
            match &whole_file_examples {
                None => whole_file_examples = Some(examples.clone()),
                Some(whole) => assert_eq!(examples, whole, "chunks of {chunk_bytes}"),
            }
            let reports = reports(&analysis);
            match &expected {
                None => expected = Some(reports),
                Some(expected) => assert_eq!(&reports, expected, "{threads} threads, chunks of {chunk_bytes}"),
            }
        }
    }
}

#[test]
fn capture_reports_are_byte_identical_on_one_two_and_many_threads() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = baseline(dir.path());
    let sources = file_sources(&capture(&dir.path().join("capture")));
    for chunk_bytes in [ReadOptions::default().chunk_bytes, 9_000] {
        let one = run(&sources, InputFormat::Capture, options(1, chunk_bytes), &baseline);
        assert!(one.records.rejected_total() > 5, "{:?}", one.records);
        let capture = one.capture.as_ref().unwrap();
        assert!(capture.outside_window > 0 && capture.shadow_skipped > 0, "{capture:?}");
        assert_eq!(capture.files, 12);
        assert_eq!(
            one.timings.read.parts > 12,
            chunk_bytes == 9_000,
            "big files are chunked"
        );
        assert!(!one.violations().violations.is_empty(), "the drift of income is seen");
        let expected = reports(&one);
        for threads in THREADS {
            let analysis = run(&sources, InputFormat::Capture, options(threads, chunk_bytes), &baseline);
            assert_eq!(analysis.timings.read.threads, threads.min(analysis.timings.read.parts));
            assert_eq!(
                reports(&analysis),
                expected,
                "{threads} threads, chunks of {chunk_bytes}"
            );
        }
    }
}

#[test]
fn batch_reports_of_big_files_are_byte_identical_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = baseline(dir.path());
    let mut rng = SplitMix64::new(5);
    let mut csv = String::new();
    let mut jsonl = String::new();
    for i in 0..6_000 {
        let line = row(&mut rng, 0.0);
        if i % 401 == 7 {
            csv.push_str("1,ragged\n");
        }
        if i % 977 == 11 {
            // A quoted line break: a chunk boundary may fall inside it.
            csv.push_str("33,\"two\nlines\",1.5\n");
        }
        csv.push_str(&line);
        csv.push('\n');
        let fields: Vec<&str> = line.splitn(3, ',').collect();
        jsonl.push_str(&json!({"age": fields[0].parse::<u64>().unwrap(), "plan": fields[1]}).to_string());
        jsonl.push('\n');
        if i % 613 == 0 {
            jsonl.push_str("{\"age\": \n");
        }
    }
    let csv_sources = file_sources(&[write(&dir.path().join("batch.csv"), &csv)]);
    let jsonl_sources = file_sources(&[write(&dir.path().join("batch.jsonl"), &jsonl)]);
    for (sources, format) in [
        (&csv_sources, InputFormat::Dataset(DatasetFormat::Csv { header: false })),
        (&jsonl_sources, InputFormat::Dataset(DatasetFormat::JsonLines)),
    ] {
        let one = run(sources, format, options(1, 20_000), &baseline);
        assert!(one.timings.read.parts > 5, "{format:?}: chunked");
        assert!(one.records.rejected_total() > 5, "{format:?}: {:?}", one.records);
        let expected = reports(&one);
        for threads in THREADS {
            let analysis = run(sources, format, options(threads, 20_000), &baseline);
            assert_eq!(reports(&analysis), expected, "{format:?} on {threads} threads");
        }
    }
}

/// Chunks number their lines on from the chunks before them: the account, with its examples'
/// `file:line`, is the whole file's.
#[test]
fn chunks_name_the_lines_of_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 1..=5_000u32 {
        match i % 997 {
            0 => text.push_str("{\"broken\": \n"),
            1 => text.push_str("{\"nested\": {\"x\": 1}}\n"),
            2 => text.push('\n'),
            _ => text.push_str(&format!("{{\"n\": {i}, \"s\": \"v{}\"}}\n", i % 9)),
        }
    }
    let path = write(&dir.path().join("data.jsonl"), &text);
    let whole = profile_with(&path, DatasetFormat::JsonLines, options(1, u64::MAX));
    assert_eq!(whole.records.rejected_total(), 11, "{:?}", whole.records);
    let example = &whole.records.rejected.values().next().unwrap().examples[0];
    assert!(example.starts_with(&format!("{}:997:", path.display())), "{example}");
    for (threads, chunk_bytes) in [(1, 1_000), (3, 1_000), (2, 4_096), (2, 30)] {
        let chunked = profile_with(&path, DatasetFormat::JsonLines, options(threads, chunk_bytes));
        assert_eq!(
            chunked.records, whole.records,
            "{threads} threads, chunks of {chunk_bytes}"
        );
        let (a, b) = (chunked.to_statistics(), whole.to_statistics());
        assert_eq!(a.dataset, b.dataset);
        for (x, y) in a.features.iter().zip(&b.features) {
            assert_eq!(
                (x.inferred_type, x.common()),
                (y.inferred_type, y.common()),
                "{}",
                x.name
            );
        }
    }
}

fn profile_with(path: &Path, format: DatasetFormat, read: ReadOptions) -> DatasetProfile {
    let mut profile = DatasetProfile::default();
    profile_sources(
        &file_sources(&[path.to_path_buf()]),
        format,
        read,
        &mut profile,
        &mut |_| {},
    )
    .unwrap();
    profile
}

/// A record that stops the run (input and output encodings differ) far into a big capture file:
/// the error names the file and its line there, whichever chunk and thread read it.
#[test]
fn an_error_in_a_later_chunk_names_its_line_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for i in 0..3_000 {
        let output_encoding = if i == 2_345 { "JSON" } else { "CSV" };
        let time = hour() + Duration::seconds(i);
        lines.push(
            json!({
                "captureData": {
                    "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2", "encoding": "CSV"},
                    "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.5", "encoding": output_encoding}
                },
                "eventMetadata": {"eventId": "e", "inferenceTime": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
                "eventVersion": "0"
            })
            .to_string(),
        );
    }
    let path = write(&dir.path().join("big.jsonl"), lines.join("\n") + "\n");
    let sources = file_sources(std::slice::from_ref(&path));
    for read in [options(1, u64::MAX), options(1, 10_000), options(3, 10_000)] {
        let mut profile = DatasetProfile::default();
        let err = profile_capture_sources(&sources, Some(window()), None, read, &mut profile, &mut |_| {}).unwrap_err();
        assert!(matches!(&err, EngineError::Capture { line: 2_346, .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("{}: line 2346: Encoding mismatch", path.display())),
            "{err}"
        );
    }
}

/// A source named after an object (a copy of it, or the object itself) is named so in the
/// account's examples and in errors: the engine reports what the caller calls its input.
#[test]
fn a_source_is_named_as_its_caller_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir.path().join("copy.csv"), "a,b\n1,2\n3\n\"4,5\n");
    let named: SourceRef = Arc::new(FileSource::named(&path, "s3://bucket/data/part-1.csv"));
    let mut profile = DatasetProfile::default();
    let read = ReadOptions::default();
    profile_sources(
        std::slice::from_ref(&named),
        DatasetFormat::Csv { header: true },
        read,
        &mut profile,
        &mut |_| {},
    )
    .unwrap();
    let examples: Vec<&String> = profile.records.rejected.values().flat_map(|r| &r.examples).collect();
    assert_eq!(
        examples,
        [
            "s3://bucket/data/part-1.csv:3: expected 2 fields, found 1",
            "s3://bucket/data/part-1.csv:4: a quoted field opened in this record is never closed (it runs to the end of the file)"
        ]
    );
    let other = write(&dir.path().join("other.csv"), "a,c\n1,2\n");
    let second: SourceRef = Arc::new(FileSource::named(&other, "s3://bucket/data/part-2.csv"));
    let err = profile_sources(
        &[named, second],
        DatasetFormat::Csv { header: true },
        read,
        &mut DatasetProfile::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "s3://bucket/data/part-2.csv: header [\"a\", \"c\"] does not match the header of s3://bucket/data/part-1.csv: [\"a\", \"b\"]"
    );
}
