//! `modelmon analyze` as a user runs it: `modelmon baseline` on a training CSV, then an hour of
//! endpoint capture (written here in SageMaker's layout, with two planted changes) analysed
//! against it; the files it writes, what it prints, and how it refuses bad arguments.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common;

use common::{assert_failure, assert_success, modelmon, write};
use modelmon_engine::random::SplitMix64 as Rng;
use modelmon_formats::{CheckType, ConstraintViolations, Statistics};
use serde_json::{json, Value};

const PLANS: [&str; 3] = ["basic", "standard", "premium"];

/// (score, age, income, plan) for record `i`; traffic sends income in cents and leaves age
/// out of every 10th record.
fn fields(rng: &mut Rng, i: usize, drifted: bool) -> [String; 4] {
    let score = format!("{:.4}", rng.uniform());
    let age = (18.0 + rng.uniform() * 60.0).floor() as i64;
    let income = 30.0 + 170.0 * rng.uniform();
    let plan = PLANS[(rng.uniform() * 3.0) as usize];
    let age = if drifted && i.is_multiple_of(10) {
        String::new()
    } else {
        age.to_string()
    };
    let income = if drifted {
        format!("{:.0}", income * 100.0)
    } else {
        format!("{income:.2}")
    };
    [score, age, income, plan.to_string()]
}

const TRAINING_ROWS: usize = 2_000;
const TRAFFIC: usize = 300;
const BEFORE_WINDOW: usize = 5;
const START: &str = "2024-03-10T13:00:00Z";
const END: &str = "2024-03-10T14:00:00Z";

/// A capture line: score as the response, the rest as the request.
fn capture_line(fields: &[String; 4], time: &str) -> String {
    json!({
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": fields[1..].join(","), "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT", "data": fields[0], "encoding": "CSV"}
        },
        "eventMetadata": {"eventId": "d3c1a8f0-5b7e-4a52-9e1f-2c6b8d4e7a90", "inferenceTime": time},
        "eventVersion": "0"
    })
    .to_string()
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    capture: PathBuf,
    baseline: PathBuf,
}

/// Training data baselined with `modelmon baseline`; capture of 12:59 (outside the window) and
/// 13:00-14:00 under `{root}/capture/churn-endpoint/AllTraffic/2024/03/10/{12,13}/`.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let mut rng = Rng::new(7);
    let mut training = "score,age,income,plan\n".to_string();
    for i in 0..TRAINING_ROWS {
        training.push_str(&fields(&mut rng, i, false).join(","));
        training.push('\n');
    }
    let training = write(&root.join("train.csv"), &training);
    let baseline = root.join("baseline");
    assert_success(&modelmon(&[
        "baseline",
        "--dataset",
        training.to_str().unwrap(),
        "--output",
        baseline.to_str().unwrap(),
        "--quiet",
    ]));

    let capture = root.join("capture");
    let variant = capture.join("churn-endpoint/AllTraffic/2024/03/10");
    let before: Vec<String> = (0..BEFORE_WINDOW)
        .map(|i| capture_line(&fields(&mut rng, i, true), &format!("2024-03-10T12:59:5{i}Z")))
        .collect();
    write(
        &variant.join("12/59-50-000-0b7bfd33-c8a7-4adf-a09a-98fd0af79974.jsonl"),
        &(before.join("\n") + "\n"),
    );
    for part in 0..3 {
        let lines: Vec<String> = (0..TRAFFIC / 3)
            .map(|j| {
                let i = part * (TRAFFIC / 3) + j;
                let time = format!("2024-03-10T13:{:02}:{:02}Z", part * 20 + j / 5, (j % 5) * 10);
                capture_line(&fields(&mut rng, i, true), &time)
            })
            .collect();
        write(
            &variant.join(format!(
                "13/{:02}-00-000-5e0c1f7a-3d2b-4c8e-9f6a-1b2c3d4e5f6{part}.jsonl",
                part * 20
            )),
            &(lines.join("\n") + "\n"),
        );
    }
    Setup {
        _dir: dir,
        root,
        capture,
        baseline,
    }
}

fn analyze_args<'a>(setup: &'a Setup, output: &'a Path, start: &'a str, end: &'a str) -> Vec<String> {
    vec![
        "analyze".into(),
        "--dataset".into(),
        setup.capture.display().to_string(),
        "--format".into(),
        "capture".into(),
        "--statistics".into(),
        setup.baseline.join("statistics.json").display().to_string(),
        "--constraints".into(),
        setup.baseline.join("constraints.json").display().to_string(),
        "--output".into(),
        output.display().to_string(),
        "--start".into(),
        start.into(),
        "--end".into(),
        end.into(),
    ]
}

fn run_args(args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    modelmon(&args)
}

#[test]
fn analyze_writes_sagemakers_reports_and_lists_the_violations() {
    let setup = setup();
    let output = setup.root.join("report");
    let stdout = assert_success(&run_args(&analyze_args(&setup, &output, START, END)));

    let statistics = std::fs::read(output.join("statistics.json")).expect("statistics.json");
    let statistics = Statistics::from_json_slice(&statistics, "statistics.json").expect("statistics.json parses");
    assert_eq!(
        statistics.dataset.item_count, TRAFFIC as u64,
        "the 12:59 records are outside"
    );
    let names: Vec<&str> = statistics.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["score", "age", "income", "plan"]);
    let age = statistics.feature("age").unwrap().common().unwrap();
    assert_eq!(
        (age.num_present, age.num_missing),
        ((TRAFFIC - TRAFFIC / 10) as u64, (TRAFFIC / 10) as u64)
    );

    let violations = std::fs::read(output.join("constraint_violations.json")).expect("constraint_violations.json");
    let violations = ConstraintViolations::from_json_slice(&violations, "constraint_violations.json")
        .expect("constraint_violations.json parses");
    let found: BTreeSet<(String, CheckType)> = violations
        .violations
        .iter()
        .map(|v| (v.feature_name.clone(), v.constraint_check_type))
        .collect();
    let expected: BTreeSet<(String, CheckType)> = [
        ("age".to_string(), CheckType::CompletenessCheck),
        ("income".to_string(), CheckType::BaselineDriftCheck),
    ]
    .into();
    assert_eq!(found, expected, "{violations:#?}");
    assert_eq!(violations.violations.len(), 2);

    let report: Value = serde_json::from_slice(&std::fs::read(output.join("report.json")).expect("report.json"))
        .expect("report.json is JSON");
    assert_eq!(report["outcome"], "CompletedWithViolations");
    assert_eq!(report["records"]["read"], TRAFFIC as u64);
    assert_eq!(report["records"]["analysed"], TRAFFIC as u64);
    assert_eq!(report["checks"]["violations"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["capture"]["outside_window"], BEFORE_WINDOW as u64);
    assert_eq!(report["capture"]["files"], 4);

    for (feature, check) in &expected {
        assert!(
            stdout
                .lines()
                .any(|line| line.contains(feature.as_str()) && line.contains(check.as_str())),
            "stdout does not list {feature} / {check}:\n{stdout}"
        );
    }
    assert!(stdout.contains("2 violations"), "{stdout}");
}

#[test]
fn a_bad_start_time_is_refused_naming_the_flag() {
    let setup = setup();
    let output = setup.root.join("report");
    let stderr = assert_failure(&run_args(&analyze_args(&setup, &output, "yesterday", END)));
    assert!(stderr.contains("--start") && stderr.contains("yesterday"), "{stderr}");
    assert!(!output.join("constraint_violations.json").exists());

    let stderr = assert_failure(&run_args(&analyze_args(&setup, &output, START, "2024-03-10 14:00")));
    assert!(stderr.contains("--end"), "{stderr}");
}

#[test]
fn a_start_after_the_end_is_refused() {
    let setup = setup();
    let output = setup.root.join("report");
    let stderr = assert_failure(&run_args(&analyze_args(&setup, &output, END, START)));
    assert!(stderr.contains("--start") && stderr.contains(END), "{stderr}");
    // An empty window (start == end) is refused too.
    let stderr = assert_failure(&run_args(&analyze_args(&setup, &output, START, START)));
    assert!(stderr.contains("--start"), "{stderr}");
    assert!(!output.join("constraint_violations.json").exists());
}

#[test]
fn a_missing_statistics_file_is_refused_naming_it() {
    let setup = setup();
    let output = setup.root.join("report");
    let mut args = analyze_args(&setup, &output, START, END);
    let missing = setup.root.join("nowhere/statistics.json").display().to_string();
    let at = args.iter().position(|a| a == "--statistics").unwrap() + 1;
    args[at] = missing.clone();
    let stderr = assert_failure(&run_args(&args));
    assert!(stderr.contains(&missing), "{stderr}");
}

#[test]
fn a_corrupt_constraints_file_is_refused_naming_file_line_and_field() {
    let setup = setup();
    let output = setup.root.join("report");
    let original = std::fs::read_to_string(setup.baseline.join("constraints.json")).unwrap();
    // The second feature (age) gets a type SageMaker does not know.
    let lines: Vec<&str> = original.lines().collect();
    let target = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("\"inferred_type\""))
        .nth(1)
        .map(|(i, _)| i)
        .expect("two features");
    assert!(lines[target].contains("\"Integral\""), "{}", lines[target]);
    let corrupt: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == target {
                l.replace("\"Integral\"", "\"Integer\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    let path = write(
        &setup.root.join("corrupt/constraints.json"),
        &(corrupt.join("\n") + "\n"),
    );

    let mut args = analyze_args(&setup, &output, START, END);
    let at = args.iter().position(|a| a == "--constraints").unwrap() + 1;
    args[at] = path.display().to_string();
    let stderr = assert_failure(&run_args(&args));
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains(&format!("line {}", target + 1)), "{stderr}");
    assert!(stderr.contains("features[1].inferred_type"), "{stderr}");
}

#[test]
fn an_empty_window_reports_no_data_and_leaves_no_stale_reports() {
    let setup = setup();
    let output = setup.root.join("report");
    assert_success(&run_args(&analyze_args(&setup, &output, START, END)));
    assert!(output.join("constraint_violations.json").exists());
    // The same folder, a window with no traffic: only report.json, saying so.
    let stdout = assert_success(&run_args(&analyze_args(
        &setup,
        &output,
        "2024-03-11T13:00:00Z",
        "2024-03-11T14:00:00Z",
    )));
    assert!(stdout.contains("NoData"), "{stdout}");
    assert!(!output.join("statistics.json").exists(), "no statistics for no data");
    assert!(
        !output.join("constraint_violations.json").exists(),
        "no stale violations"
    );
    let report: Value = serde_json::from_slice(&std::fs::read(output.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["outcome"], "NoData");
}
