//! SageMaker data capture into a profile: capture files are built here in SageMaker's layout
//! (`{root}/{endpoint}/{variant}/yyyy/mm/dd/hh/MM-SS-mmm-uuid.jsonl`), and every expected column,
//! count and sum is worked out by hand from the records written.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use modelmon_engine::capture::{list_capture_files, profile_capture, CaptureSummary, Window};
use modelmon_engine::profile::{DatasetProfile, RejectReason};
use modelmon_engine::EngineError;
use modelmon_formats::{CaptureRecord, InferredType, Statistics};
use serde_json::{json, Value};

const ENDPOINT: &str = "churn-endpoint";
const VARIANT: &str = "AllTraffic";

// ---------------------------------------------------------------------------------------------
// Building capture files

fn part(content_type: &str, mode: &str, data: &str, encoding: &str) -> Value {
    json!({"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding})
}

fn csv_in(data: &str) -> Value {
    part("text/csv", "INPUT", data, "CSV")
}

fn csv_out(data: &str) -> Value {
    part("text/csv; charset=utf-8", "OUTPUT", data, "CSV")
}

fn json_in(data: &str) -> Value {
    part("application/json", "INPUT", data, "JSON")
}

fn json_out(data: &str) -> Value {
    part("application/json", "OUTPUT", data, "JSON")
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// One capture line. `input`/`output` absent when that side was not captured.
fn record(input: Option<Value>, output: Option<Value>, time: &str) -> String {
    record_with(input, output, time, None)
}

fn record_with(input: Option<Value>, output: Option<Value>, time: &str, source: Option<&str>) -> String {
    let mut capture = serde_json::Map::new();
    if let Some(input) = input {
        capture.insert("endpointInput".into(), input);
    }
    if let Some(output) = output {
        capture.insert("endpointOutput".into(), output);
    }
    let mut metadata = json!({"eventId": "5a1e4f3c-0000-4000-8000-000000000000", "inferenceTime": time});
    if let Some(source) = source {
        metadata["invocationSource"] = json!(source);
    }
    json!({"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}).to_string()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// Writes `lines` as a capture file whose first record was at `first`, where SageMaker puts it.
fn capture_file(root: &Path, first: DateTime<Utc>, lines: &[String]) -> PathBuf {
    let path = root
        .join(ENDPOINT)
        .join(VARIANT)
        .join(first.format("%Y/%m/%d/%H").to_string())
        .join(format!(
            "{}-0b7bfd33-c8a7-4adf-a09a-98fd0af79974.jsonl",
            first.format("%M-%S-%3f")
        ));
    write_bytes(&path, (lines.join("\n") + "\n").as_bytes());
    path
}

fn write_bytes(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Reading it back

fn run(
    paths: &[PathBuf],
    window: Option<Window>,
    feature_names: &[String],
) -> Result<(DatasetProfile, CaptureSummary), EngineError> {
    let mut profile = DatasetProfile::default().with_positional_names(feature_names.to_vec());
    let summary = profile_capture(paths, window, None, &mut profile, &mut |_| {})?;
    Ok((profile, summary))
}

/// Profiles successfully and checks that every record read is analysed or rejected.
fn profile_ok(paths: &[PathBuf], window: Option<Window>, feature_names: &[String]) -> (DatasetProfile, CaptureSummary) {
    let (profile, summary) = run(paths, window, feature_names).unwrap_or_else(|e| panic!("capture failed: {e}"));
    let records = &profile.records;
    assert_eq!(
        records.read,
        records.analysed + records.rejected_total(),
        "read = analysed + rejected: {records:?}"
    );
    (profile, summary)
}

fn column_names(profile: &DatasetProfile) -> Vec<&str> {
    profile.columns.iter().map(|c| c.name.as_str()).collect()
}

/// (sum, num_present, num_missing) of a numeric feature.
fn numbers(stats: &Statistics, name: &str) -> (f64, u64, u64) {
    let feature = stats.feature(name).unwrap_or_else(|| panic!("no feature {name}"));
    let n = feature
        .numerical_statistics
        .as_ref()
        .unwrap_or_else(|| panic!("{name} is not numeric: {feature:?}"));
    (n.sum, n.common.num_present, n.common.num_missing)
}

/// The categorical buckets of a string feature, sorted by value.
fn categories(stats: &Statistics, name: &str) -> Vec<(String, u64)> {
    let feature = stats.feature(name).unwrap();
    let strings = feature
        .string_statistics
        .as_ref()
        .unwrap_or_else(|| panic!("{name} is not a string: {feature:?}"));
    let mut buckets: Vec<(String, u64)> = strings
        .distribution
        .as_ref()
        .and_then(|d| d.categorical.as_ref())
        .map(|c| c.buckets.iter().map(|b| (b.value.clone(), b.count)).collect())
        .unwrap_or_default();
    buckets.sort();
    buckets
}

fn rejected(profile: &DatasetProfile, reason: RejectReason) -> u64 {
    profile.records.rejected.get(&reason).map_or(0, |r| r.count)
}

fn assert_example(profile: &DatasetProfile, reason: RejectReason, path: &Path, line: u64, contains: &str) {
    let prefix = format!("{}:{line}:", path.display());
    let examples = profile
        .records
        .rejected
        .get(&reason)
        .map_or(&[][..], |r| r.examples.as_slice());
    assert!(
        examples.iter().any(|e| e.starts_with(&prefix) && e.contains(contains)),
        "no {reason:?} example starting with {prefix:?} containing {contains:?} in {examples:#?}"
    );
}

const T: &str = "2024-03-10T13:15:00Z";

fn t() -> DateTime<Utc> {
    utc(T)
}

// ---------------------------------------------------------------------------------------------
// Payload encodings and how they become columns

#[test]
fn csv_input_and_output_give_output_columns_first_named_by_baseline_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[
            record(Some(csv_in("30,1000.5,basic")), Some(csv_out("0.5")), T),
            record(Some(csv_in("40,2000.25,premium")), Some(csv_out("0.25")), T),
        ],
    );
    // Three baseline names for four captured fields: the fourth is named by position.
    let (profile, _) = profile_ok(&[path], None, &names(&["score", "age", "income"]));
    assert_eq!(column_names(&profile), ["score", "age", "income", "_c3"]);
    assert_eq!(profile.records.analysed, 2);
    let stats = profile.to_statistics();
    assert_eq!(stats.dataset.item_count, 2);
    assert_eq!(numbers(&stats, "score"), (0.75, 2, 0));
    assert_eq!(numbers(&stats, "age"), (70.0, 2, 0));
    assert_eq!(numbers(&stats, "income"), (3000.75, 2, 0));
    assert_eq!(stats.feature("age").unwrap().inferred_type, InferredType::Integral);
    assert_eq!(stats.feature("income").unwrap().inferred_type, InferredType::Fractional);
    assert_eq!(
        categories(&stats, "_c3"),
        [("basic".to_string(), 1), ("premium".to_string(), 1)]
    );
}

#[test]
fn input_only_capture_gives_the_input_columns_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[
            record(Some(csv_in("1,2,3")), None, T),
            record(Some(csv_in("10,20,30")), None, T),
        ],
    );
    let (profile, _) = profile_ok(&[path], None, &names(&["a", "b", "c"]));
    assert_eq!(column_names(&profile), ["a", "b", "c"]);
    let stats = profile.to_statistics();
    assert_eq!(numbers(&stats, "a"), (11.0, 2, 0));
    assert_eq!(numbers(&stats, "b"), (22.0, 2, 0));
    assert_eq!(numbers(&stats, "c"), (33.0, 2, 0));
}

#[test]
fn json_flat_objects_map_columns_by_key_not_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[
            record(
                Some(json_in(r#"{"age": 30, "plan": "basic", "income": 1000.5}"#)),
                Some(json_out(r#"{"score": 0.5}"#)),
                T,
            ),
            // Keys in another order, one null, one key the baseline does not know.
            record(
                Some(json_in(
                    r#"{"income": 2000.25, "age": null, "plan": "premium", "coupon": "X1"}"#,
                )),
                Some(json_out(r#"{"score": 0.25}"#)),
                T,
            ),
        ],
    );
    // The baseline lists the features in yet another order: keys, not positions, decide.
    let (profile, _) = profile_ok(&[path], None, &names(&["score", "income", "plan", "age"]));
    let mut columns = column_names(&profile);
    columns.sort();
    assert_eq!(columns, ["age", "coupon", "income", "plan", "score"]);
    assert_eq!(profile.columns[0].name, "score", "output columns come first");
    let stats = profile.to_statistics();
    assert_eq!(numbers(&stats, "score"), (0.75, 2, 0));
    assert_eq!(numbers(&stats, "age"), (30.0, 1, 1), "null is missing");
    assert_eq!(numbers(&stats, "income"), (3000.75, 2, 0));
    assert_eq!(stats.feature("age").unwrap().inferred_type, InferredType::Integral);
    assert_eq!(stats.feature("income").unwrap().inferred_type, InferredType::Fractional);
    assert_eq!(
        categories(&stats, "plan"),
        [("basic".to_string(), 1), ("premium".to_string(), 1)]
    );
    let coupon = stats.feature("coupon").unwrap().common().unwrap();
    assert_eq!((coupon.num_present, coupon.num_missing), (1, 1));
}

#[test]
fn json_arrays_map_columns_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[
            // A scalar output and an array input: positions run on from the output's.
            record(Some(json_in(r#"[30, 1000.5, "basic"]"#)), Some(json_out("0.5")), T),
            // An array of rows is one row each (a batch of two invocations' worth).
            record(
                Some(json_in(r#"[[40, 2000.25, "premium"], [50, 10, "basic"]]"#)),
                Some(json_out("[[0.25], [0.125]]")),
                T,
            ),
        ],
    );
    let (profile, _) = profile_ok(&[path], None, &names(&["score", "age", "income", "plan"]));
    assert_eq!(column_names(&profile), ["score", "age", "income", "plan"]);
    assert_eq!(profile.records.analysed, 3);
    let stats = profile.to_statistics();
    assert_eq!(numbers(&stats, "score"), (0.875, 3, 0));
    assert_eq!(numbers(&stats, "age"), (120.0, 3, 0));
    assert_eq!(numbers(&stats, "income"), (3010.75, 3, 0));
    // 1000.5 and 2000.25 are fractional JSON numbers, 10 an integral one: the column is Fractional.
    assert_eq!(stats.feature("income").unwrap().inferred_type, InferredType::Fractional);
    assert_eq!(
        categories(&stats, "plan"),
        [("basic".to_string(), 2), ("premium".to_string(), 1)]
    );
}

#[test]
fn json_lines_payloads_give_one_row_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[record(
            Some(json_in(
                "{\"age\": 30, \"plan\": \"basic\"}\n{\"age\": 40, \"plan\": \"premium\"}\n",
            )),
            Some(json_out("0.5\n0.25\n")),
            T,
        )],
    );
    let (profile, _) = profile_ok(&[path], None, &names(&["score", "age", "plan"]));
    assert_eq!(profile.records.analysed, 2, "{:?}", profile.records);
    assert_eq!(column_names(&profile), ["score", "age", "plan"]);
    let stats = profile.to_statistics();
    assert_eq!(numbers(&stats, "score"), (0.75, 2, 0));
    assert_eq!(numbers(&stats, "age"), (70.0, 2, 0));
}

#[test]
fn quoted_csv_fields_keep_their_commas() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[record(Some(csv_in("\"Smith, Jr.\",42")), Some(csv_out("0.5")), T)],
    );
    let (profile, _) = profile_ok(&[path], None, &names(&["score", "name", "age"]));
    assert_eq!(column_names(&profile), ["score", "name", "age"]);
    let stats = profile.to_statistics();
    assert_eq!(categories(&stats, "name"), [("Smith, Jr.".to_string(), 1)]);
    assert_eq!(numbers(&stats, "age"), (42.0, 1, 0));
}

#[test]
fn json_object_output_with_array_input_puts_the_inputs_after_the_output() {
    // The output is named by key, the input by position: the input's first value is the
    // baseline's second feature (the output takes the first), as for CSV capture.
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[record(
            Some(json_in("[30, 1000.5]")),
            Some(json_out(r#"{"score": 0.5}"#)),
            T,
        )],
    );
    let (profile, _) = profile_ok(&[path], None, &names(&["score", "age", "income"]));
    assert_eq!(column_names(&profile), ["score", "age", "income"]);
    let stats = profile.to_statistics();
    assert_eq!(numbers(&stats, "score"), (0.5, 1, 0));
    assert_eq!(numbers(&stats, "age"), (30.0, 1, 0));
    assert_eq!(numbers(&stats, "income"), (1000.5, 1, 0));
}

#[test]
fn base64_payloads_of_csv_and_json_content_types_are_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let b64_part = |content_type: &str, mode: &str, text: &str| part(content_type, mode, &b64(text), "BASE64");
    let path = capture_file(
        dir.path(),
        t(),
        &[
            record(
                Some(b64_part("text/csv", "INPUT", "30,1000.5")),
                Some(b64_part("text/csv; charset=utf-8", "OUTPUT", "0.5")),
                T,
            ),
            record(
                Some(b64_part(
                    "application/json",
                    "INPUT",
                    r#"{"age": 40, "income": 2000.25}"#,
                )),
                Some(b64_part("application/json", "OUTPUT", r#"{"score": 0.25}"#)),
                T,
            ),
        ],
    );
    let (profile, _) = profile_ok(&[path], None, &names(&["score", "age", "income"]));
    assert_eq!(profile.records.analysed, 2, "{:?}", profile.records);
    assert_eq!(column_names(&profile), ["score", "age", "income"]);
    let stats = profile.to_statistics();
    assert_eq!(numbers(&stats, "score"), (0.75, 2, 0));
    assert_eq!(numbers(&stats, "age"), (70.0, 2, 0));
    assert_eq!(numbers(&stats, "income"), (3000.75, 2, 0));
}

#[test]
fn undecodable_records_are_rejected_with_reason_and_file_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = record(Some(csv_in("1,2")), Some(csv_out("0.5")), T);
    let npy = record(
        Some(part("application/x-npy", "INPUT", &b64("\u{93}NUMPY"), "BASE64")),
        Some(part("application/x-npy", "OUTPUT", &b64("0.5"), "BASE64")),
        T,
    );
    let not_base64 = record(
        Some(part("text/csv", "INPUT", "%%%not-base64%%%", "BASE64")),
        Some(part("text/csv", "OUTPUT", &b64("0.5"), "BASE64")),
        T,
    );
    let truncated = r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"#;
    let nested = record(
        Some(json_in(r#"{"features": {"age": 30}}"#)),
        Some(json_out(r#"{"score": 0.5}"#)),
        T,
    );
    let bad_time = record(Some(csv_in("3,4")), Some(csv_out("0.25")), "yesterday");
    let lines = [
        good.clone(), // 1
        npy,          // 2
        not_base64,   // 3
        truncated.to_string(),
        nested,        // 5
        String::new(), // 6: a blank line is no record
        bad_time,      // 7
        good,          // 8
    ];
    let mut bytes = (lines.join("\n") + "\n").into_bytes();
    // Line 9: invalid UTF-8 inside the CSV payload.
    bytes.extend_from_slice(b"{\"captureData\":{\"endpointInput\":{\"observedContentType\":\"text/csv\",\"mode\":\"INPUT\",\"data\":\"1,\xff\",\"encoding\":\"CSV\"}},\"eventMetadata\":{\"inferenceTime\":\"2024-03-10T13:15:00Z\"}}\n");
    let path = dir
        .path()
        .join(ENDPOINT)
        .join(VARIANT)
        .join("2024/03/10/13/15-00-000-0b7bfd33-c8a7-4adf-a09a-98fd0af79974.jsonl");
    write_bytes(&path, &bytes);

    let (profile, _) = profile_ok(std::slice::from_ref(&path), None, &names(&["score", "a", "b"]));
    let records = &profile.records;
    assert_eq!(records.read, 8, "eight records (the blank line is none): {records:?}");
    assert_eq!(records.analysed, 2);
    assert_eq!(rejected(&profile, RejectReason::BadPayload), 3, "{records:?}");
    assert_eq!(rejected(&profile, RejectReason::MalformedJson), 1, "{records:?}");
    assert_eq!(rejected(&profile, RejectReason::NestedValue), 1, "{records:?}");
    assert_eq!(rejected(&profile, RejectReason::InvalidUtf8), 1, "{records:?}");
    assert_example(&profile, RejectReason::BadPayload, &path, 2, "application/x-npy");
    assert_example(&profile, RejectReason::BadPayload, &path, 3, "base64");
    assert_example(&profile, RejectReason::MalformedJson, &path, 4, "");
    assert_example(&profile, RejectReason::NestedValue, &path, 5, "features");
    assert_example(&profile, RejectReason::BadPayload, &path, 7, "yesterday");
    assert_example(&profile, RejectReason::InvalidUtf8, &path, 9, "");

    // Only the two good records reached the profile.
    let stats = profile.to_statistics();
    assert_eq!(stats.dataset.item_count, 2);
    assert_eq!(numbers(&stats, "score"), (1.0, 2, 0));
    assert_eq!(numbers(&stats, "a"), (2.0, 2, 0));
    assert_eq!(numbers(&stats, "b"), (4.0, 2, 0));
}

#[test]
fn encoding_mismatch_between_input_and_output_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[
            record(Some(csv_in("1,2")), Some(csv_out("0.5")), T),
            record(Some(csv_in("1,2")), Some(json_out(r#"{"score": 0.5}"#)), T),
        ],
    );
    let err = run(std::slice::from_ref(&path), None, &names(&["score", "a", "b"])).unwrap_err();
    match &err {
        EngineError::Capture {
            path: err_path,
            line,
            message,
        } => {
            assert_eq!(err_path, &path);
            assert_eq!(*line, 2);
            assert!(message.contains("Encoding mismatch"), "{message}");
            assert!(
                message.contains("CSV for endpointInput") && message.contains("JSON for endpointOutput"),
                "{message}"
            );
        }
        other => panic!("expected EngineError::Capture, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("line 2"),
        "{text}"
    );
}

#[test]
fn shadow_variant_records_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[
            record_with(Some(csv_in("1")), Some(csv_out("0.5")), T, Some("ShadowExperiment")),
            record_with(Some(csv_in("10")), Some(csv_out("0.25")), T, None),
            record_with(Some(csv_in("100")), Some(csv_out("0.125")), T, Some("ShadowExperiment")),
            // Any other source is ordinary traffic.
            record_with(Some(csv_in("1000")), Some(csv_out("0.0625")), T, Some("Something")),
        ],
    );
    let (profile, summary) = profile_ok(&[path], None, &names(&["score", "a"]));
    assert_eq!(summary.shadow_skipped, 2);
    assert_eq!(summary.outside_window, 0);
    assert_eq!(profile.records.analysed, 2);
    assert_eq!(profile.records.rejected_total(), 0);
    let stats = profile.to_statistics();
    assert_eq!(numbers(&stats, "a"), (1010.0, 2, 0));
    assert_eq!(numbers(&stats, "score"), (0.3125, 2, 0));
}

#[test]
fn window_is_start_inclusive_end_exclusive_by_inference_time() {
    let dir = tempfile::tempdir().unwrap();
    let row = |value: &str, time: &str| record(Some(csv_in(value)), Some(csv_out("0.5")), time);
    // The previous hour's last file holds records on both sides of the start; the window's
    // last file holds a record stamped exactly at the end.
    let before = capture_file(
        dir.path(),
        utc("2024-03-10T12:59:58Z"),
        &[
            row("1", "2024-03-10T12:59:58Z"),
            row("2", "2024-03-10T12:59:59Z"),
            row("10", "2024-03-10T13:00:00Z"),
        ],
    );
    let during = capture_file(
        dir.path(),
        utc("2024-03-10T13:30:00Z"),
        &[
            row("100", "2024-03-10T13:30:00Z"),
            // 14:30 at +01:00 is 13:30 UTC: inside.
            row("1000", "2024-03-10T14:30:00+01:00"),
            row("10000", "2024-03-10T13:59:59Z"),
        ],
    );
    let last = capture_file(
        dir.path(),
        utc("2024-03-10T13:59:59Z"),
        &[
            row("100000", "2024-03-10T14:00:00Z"),
            row("1000000", "2024-03-10T14:00:01Z"),
        ],
    );
    let window = Window {
        start: utc("2024-03-10T13:00:00Z"),
        end: utc("2024-03-10T14:00:00Z"),
    };
    let (profile, summary) = profile_ok(&[dir.path().to_path_buf()], Some(window), &names(&["score", "a"]));
    assert_eq!(summary.files, 3, "{:?}", [before, during, last]);
    assert_eq!(summary.outside_window, 4, "12:59:58, 12:59:59, 14:00:00, 14:00:01");
    assert_eq!(profile.records.analysed, 4);
    let (sum, present, _) = numbers(&profile.to_statistics(), "a");
    assert_eq!((sum, present), (10.0 + 100.0 + 1000.0 + 10000.0, 4));
}

#[test]
fn only_the_hour_folders_of_the_window_and_the_hour_before_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for hour in 10..=14 {
        let first = Utc.with_ymd_and_hms(2024, 3, 10, hour, 30, 0).unwrap();
        // Every file also holds a record stamped inside the window: were folders 10, 11 or 14
        // read, it would be analysed.
        files.push(capture_file(
            dir.path(),
            first,
            &[
                record(
                    Some(csv_in(&hour.to_string())),
                    Some(csv_out("0.5")),
                    &first.to_rfc3339(),
                ),
                record(Some(csv_in("1000")), Some(csv_out("0.5")), "2024-03-10T13:45:00Z"),
            ],
        ));
    }
    let window = Window {
        start: utc("2024-03-10T13:00:00Z"),
        end: utc("2024-03-10T14:00:00Z"),
    };
    let root = [dir.path().to_path_buf()];
    assert_eq!(list_capture_files(&root, Some(window)).unwrap(), files[2..4]);
    let (profile, summary) = profile_ok(&root, Some(window), &names(&["score", "a"]));
    assert_eq!(summary.files, 2);
    // Folder 12: 12:30 is outside, 13:45 inside; folder 13: both inside.
    assert_eq!(summary.outside_window, 1);
    assert_eq!(profile.records.analysed, 3);
    let (sum, _, _) = numbers(&profile.to_statistics(), "a");
    assert_eq!(sum, 13.0 + 1000.0 * 2.0);

    // Without a window every file is read, whatever folder it sits in.
    assert_eq!(list_capture_files(&root, None).unwrap(), files);
    let (profile, summary) = profile_ok(&root, None, &names(&["score", "a"]));
    assert_eq!(summary.files, 5);
    assert_eq!(profile.records.analysed, 10);

    // Pointing at the endpoint or variant folder reads the same hours.
    let variant = [dir.path().join(ENDPOINT).join(VARIANT)];
    assert_eq!(list_capture_files(&variant, Some(window)).unwrap(), files[2..4]);
}

#[test]
fn multi_row_csv_payloads_give_one_row_each_and_mismatched_row_counts_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[
            record(Some(csv_in("1,2\n3,4")), Some(csv_out("0.1\n0.2")), T),
            // The trailing newline a client sends is no extra row.
            record(Some(csv_in("5,6\n")), Some(csv_out("0.3\n")), T),
            record(Some(csv_in("7,8\n9,10")), Some(csv_out("0.4")), T),
        ],
    );
    let (profile, _) = profile_ok(std::slice::from_ref(&path), None, &names(&["score", "a", "b"]));
    assert_eq!(profile.records.analysed, 3, "{:?}", profile.records);
    assert_eq!(rejected(&profile, RejectReason::BadPayload), 1);
    assert_example(&profile, RejectReason::BadPayload, &path, 3, "rows");
    let stats = profile.to_statistics();
    let (score, n, _) = numbers(&stats, "score");
    assert!((score - 0.6).abs() < 1e-12, "{score}");
    assert_eq!(n, 3);
    assert_eq!(numbers(&stats, "a"), (9.0, 3, 0));
    assert_eq!(numbers(&stats, "b"), (12.0, 3, 0));
}

#[test]
fn an_empty_csv_field_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture_file(
        dir.path(),
        t(),
        &[
            record(Some(csv_in("1,,3")), Some(csv_out("0.5")), T),
            record(Some(csv_in(",5,6")), Some(csv_out("0.25")), T),
            record(Some(csv_in("7,8,")), Some(csv_out("0.125")), T),
        ],
    );
    let (profile, _) = profile_ok(&[path], None, &names(&["score", "a", "b", "c"]));
    assert_eq!(profile.records.analysed, 3, "{:?}", profile.records);
    assert_eq!(column_names(&profile), ["score", "a", "b", "c"]);
    let stats = profile.to_statistics();
    assert_eq!(numbers(&stats, "a"), (8.0, 2, 1));
    assert_eq!(numbers(&stats, "b"), (13.0, 2, 1));
    assert_eq!(numbers(&stats, "c"), (9.0, 2, 1));
    assert_eq!(stats.feature("b").unwrap().inferred_type, InferredType::Integral);
}

/// The SageMaker Python SDK's `captured-data.jsonl` test fixture, verbatim in shape: JSON
/// encoding, pretty-printed output payload, and `{"instances": [...]}` / `{"predictions": [...]}`
/// bodies, which are nested and need a record preprocessor in SageMaker too.
const SDK_FIXTURE: &str = concat!(
    r#"{"captureData":{"endpointInput":{"observedContentType":"application/json","mode":"INPUT","data":"{\"instances\": [1.0, 2.0, 5.0]}","encoding":"JSON"},"endpointOutput":{"observedContentType":"application/json","mode":"OUTPUT","data":"{\n    \"predictions\": [3.5, 4.0, 5.5\n    ]\n}","encoding":"JSON"}},"eventMetadata":{"eventId":"12b73486-e916-45de-9d82-7fa23d4a39a6","inferenceTime":"2019-11-24T07:30:50Z"},"eventVersion":"0"}"#,
    "\n",
    r#"{"captureData":{"endpointInput":{"observedContentType":"application/json","mode":"INPUT","data":"{\"instances\": [1.0, 2.0, 5.0]}","encoding":"JSON"},"endpointOutput":{"observedContentType":"application/json","mode":"OUTPUT","data":"{\n    \"predictions\": [3.5, 4.0, 5.5\n    ]\n}","encoding":"JSON"}},"eventMetadata":{"eventId":"f9305ead-ba10-401d-953c-8bfb981da274","inferenceTime":"2019-11-24T07:31:30Z"},"eventVersion":"0"}"#,
    "\n",
);

/// A line of a real endpoint's capture (SageMaker's churn example, 2022), CSV both ways.
const CHURN_LINE: &str = r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"132,10,182.9,54,292.4,68,142.3,116,11.5,4,0","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.036397725343704224","encoding":"CSV"}},"eventMetadata":{"eventId":"f04a8538-696c-4648-8064-8b680b2e3318","inferenceTime":"2022-04-18T00:21:48Z"},"eventVersion":"0"}"#;

#[test]
fn sagemaker_sdk_fixture_records_parse_and_their_nested_bodies_are_rejected() {
    for line in SDK_FIXTURE.lines().chain([CHURN_LINE]) {
        let record: CaptureRecord = serde_json::from_str(line).expect("a SageMaker capture record");
        assert!(record.capture_data.endpoint_input.is_some() && record.capture_data.endpoint_output.is_some());
        assert!(!record.event_metadata.is_shadow());
    }

    let dir = tempfile::tempdir().unwrap();
    let fixture = dir
        .path()
        .join(ENDPOINT)
        .join(VARIANT)
        .join("2019/11/24/07/30-50-000-12b73486-e916-45de-9d82-7fa23d4a39a6.jsonl");
    write_bytes(&fixture, SDK_FIXTURE.as_bytes());
    let churn = dir
        .path()
        .join(ENDPOINT)
        .join(VARIANT)
        .join("2022/04/18/00/20-48-871-0b7bfd33-c8a7-4adf-a09a-98fd0af79974.jsonl");
    write_bytes(&churn, format!("{CHURN_LINE}\n").as_bytes());

    let (profile, summary) = profile_ok(&[dir.path().to_path_buf()], None, &names(&["churn"]));
    assert_eq!(summary.files, 2);
    assert_eq!(profile.records.read, 3);
    assert_eq!(profile.records.analysed, 1);
    assert_eq!(
        rejected(&profile, RejectReason::NestedValue),
        2,
        "{:?}",
        profile.records
    );
    // The output is read first; its `predictions` array is what is nested.
    assert_example(&profile, RejectReason::NestedValue, &fixture, 1, "predictions");
    assert_example(&profile, RejectReason::NestedValue, &fixture, 2, "predictions");

    // The churn record: output first (named by the baseline), then 11 inputs by position.
    let expected: Vec<String> = std::iter::once("churn".to_string())
        .chain((1..12).map(|i| format!("_c{i}")))
        .collect();
    assert_eq!(column_names(&profile), expected);
    let stats = profile.to_statistics();
    assert_eq!(numbers(&stats, "churn"), (0.036397725343704224, 1, 0));
    assert_eq!(numbers(&stats, "_c1"), (132.0, 1, 0));
    assert_eq!(numbers(&stats, "_c3"), (182.9, 1, 0));
    assert_eq!(numbers(&stats, "_c11"), (0.0, 1, 0));
}

#[test]
fn a_column_named_by_the_output_and_reached_by_an_input_position_keeps_the_first_value() {
    let dir = tempfile::tempdir().unwrap();
    // Output {"age": 7} takes position 0; input [30, 40] then lands on positions 1 and 2, and
    // position 1 is `age` again: one record holds one value per column, the output's.
    let line = record(
        Some(json_in("[30, 40]")),
        Some(json_out(r#"{"age": 7}"#)),
        "2024-03-10T13:00:00Z",
    );
    let path = capture_file(dir.path(), utc("2024-03-10T13:00:00Z"), &[line]);
    let (profile, _) = profile_ok(&[path], None, &names(&["score", "age", "income"]));
    let stats = profile.to_statistics();
    let age = stats.feature("age").unwrap().numerical_statistics.as_ref().unwrap();
    assert_eq!((age.common.num_present, age.max), (1, 7.0));
    let income = stats.feature("income").unwrap().numerical_statistics.as_ref().unwrap();
    assert_eq!((income.common.num_present, income.max), (1, 40.0));
    assert_eq!(stats.dataset.item_count, 1);
}
