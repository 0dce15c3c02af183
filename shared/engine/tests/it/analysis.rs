//! End-to-end analysis on generated data: a baseline from a generated training CSV, an hour of
//! endpoint capture generated with one planted change at a time (and all together), and exactly
//! the violations each change must cause. The numbers behind the verdicts (completeness, type
//! match, domain compliance, drift distances) are recomputed here from the generated values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Duration, TimeZone, Utc};
use modelmon_engine::analysis::{analyze, Analysis, AnalysisRequest, Input, InputFormat, Outcome};
use modelmon_engine::capture::Window;
use modelmon_engine::checks::{FeatureCheck, Presence};
use modelmon_engine::dataset::{profile_dataset, DatasetFormat, ReadOptions};
use modelmon_engine::random::SplitMix64 as Rng;
use modelmon_engine::suggest::suggest_constraints;
use modelmon_formats::{CheckType, ComparisonMethod, Constraints, InferredType, Statistics};

// ---------------------------------------------------------------------------------------------
// The data: a churn model's output first, then its inputs (SageMaker's convention).

const FEATURES: [&str; 8] = ["score", "age", "tenure", "income", "calls", "plan", "region", "channel"];
const PLANS: [(&str, f64); 3] = [("basic", 0.5), ("standard", 0.35), ("premium", 0.15)];
const PLANS_SHIFTED: [(&str, f64); 3] = [("basic", 0.15), ("standard", 0.35), ("premium", 0.5)];
const REGIONS: [(&str, f64); 4] = [("north", 0.3), ("south", 0.25), ("east", 0.25), ("west", 0.2)];
const CHANNELS: [(&str, f64); 3] = [("web", 0.5), ("app", 0.3), ("store", 0.2)];

const TRAINING_ROWS: usize = 10_000;
const TRAFFIC: usize = 2_000;

/// One field as sent: a number (its literal text, valid in CSV and JSON alike), text, or nothing.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Number(String),
    Text(String),
    Missing,
}

impl Field {
    fn csv(&self) -> &str {
        match self {
            Field::Number(text) | Field::Text(text) => text,
            Field::Missing => "",
        }
    }

    fn json(&self) -> String {
        match self {
            Field::Number(text) => text.clone(),
            Field::Text(text) => serde_json::to_string(text).unwrap(),
            Field::Missing => "null".to_string(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Field::Number(text) => Some(text.parse().unwrap()),
            _ => None,
        }
    }
}

type Row = Vec<(&'static str, Field)>;

/// The planted changes. The counted ones hit fixed rows (by index), so their shares are exact.
#[derive(Debug, Clone, Copy, Default)]
struct Plant {
    /// `income` sent in cents (×100, whole numbers): a unit change upstream.
    income_in_cents: bool,
    /// Customers move from the basic to the premium plan.
    shifted_plans: bool,
    /// `tenure` missing in every 10th record.
    missing_tenure: bool,
    /// `age` sent as "unknown" in every 50th record.
    age_as_text: bool,
    /// `region` "central", unknown to the baseline, in every 50th record.
    new_region: bool,
    /// `channel` no longer sent (JSON capture: the key is absent).
    drop_channel: bool,
    /// A `coupon` key the baseline does not know (JSON capture).
    add_coupon: bool,
}

const ALL_CSV_PLANTS: Plant = Plant {
    income_in_cents: true,
    shifted_plans: true,
    missing_tenure: true,
    age_as_text: true,
    new_region: true,
    drop_channel: false,
    add_coupon: false,
};

const ALL_PLANTS: Plant = Plant {
    drop_channel: true,
    add_coupon: true,
    ..ALL_CSV_PLANTS
};

fn age_is_text(i: usize) -> bool {
    i.is_multiple_of(50)
}

fn tenure_is_missing(i: usize) -> bool {
    i % 10 == 3
}

fn region_is_new(i: usize) -> bool {
    i % 50 == 1
}

/// Record `i`. The random draws are the same whatever is planted: a plant changes only its field.
fn row(rng: &mut Rng, i: usize, plant: Plant) -> Row {
    let score = rng.uniform();
    let age = (40.0 + 12.0 * rng.normal()).clamp(18.0, 90.0).round() as i64;
    let tenure = (rng.uniform() * 72.0).floor() as i64;
    let income = format!("{:.2}", 30.0 + 170.0 * rng.uniform());
    let calls = (-(1.0 - rng.uniform()).ln() * 1.5).floor() as i64;
    let plan = rng.choose(if plant.shifted_plans { &PLANS_SHIFTED } else { &PLANS });
    let region = rng.choose(&REGIONS);
    let channel = rng.choose(&CHANNELS);

    let age = if plant.age_as_text && age_is_text(i) {
        Field::Text("unknown".into())
    } else {
        Field::Number(age.to_string())
    };
    let tenure = if plant.missing_tenure && tenure_is_missing(i) {
        Field::Missing
    } else {
        Field::Number(tenure.to_string())
    };
    let income = if plant.income_in_cents {
        let cents = (income.parse::<f64>().unwrap() * 100.0).round() as i64;
        Field::Number(cents.to_string())
    } else {
        Field::Number(income)
    };
    let region = if plant.new_region && region_is_new(i) {
        "central"
    } else {
        region
    };
    let mut fields = vec![
        ("score", Field::Number(format!("{score:.6}"))),
        ("age", age),
        ("tenure", tenure),
        ("income", income),
        ("calls", Field::Number(calls.to_string())),
        ("plan", Field::Text(plan.into())),
        ("region", Field::Text(region.into())),
    ];
    if !plant.drop_channel {
        fields.push(("channel", Field::Text(channel.into())));
    }
    if plant.add_coupon {
        fields.push(("coupon", Field::Text(format!("C{}", i % 5))));
    }
    fields
}

fn rows(n: usize, seed: u64, plant: Plant) -> Vec<Row> {
    let mut rng = Rng::new(seed);
    (0..n).map(|i| row(&mut rng, i, plant)).collect()
}

fn csv_line(fields: &[(&str, Field)]) -> String {
    fields.iter().map(|(_, f)| f.csv()).collect::<Vec<_>>().join(",")
}

fn field<'r>(row: &'r Row, name: &str) -> Option<&'r Field> {
    row.iter().find(|(n, _)| *n == name).map(|(_, f)| f)
}

// ---------------------------------------------------------------------------------------------
// The baseline (built once per test binary)

struct Baseline {
    rows: Vec<Row>,
    statistics: Statistics,
    constraints: Constraints,
}

fn baseline() -> &'static Baseline {
    static BASELINE: OnceLock<Baseline> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let rows = rows(TRAINING_ROWS, 1, Plant::default());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.csv");
        let mut text = FEATURES.join(",") + "\n";
        for row in &rows {
            text.push_str(&csv_line(row));
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        let profile = profile_dataset(&[path], DatasetFormat::Csv { header: true }, &mut |_| {}).unwrap();
        let statistics = profile.to_statistics();
        let constraints = suggest_constraints(&statistics);
        Baseline {
            rows,
            statistics,
            constraints,
        }
    })
}

#[test]
fn the_baseline_is_what_the_checks_assume() {
    let b = baseline();
    let names: Vec<&str> = b.statistics.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, FEATURES);
    let types: Vec<InferredType> = b.statistics.features.iter().map(|f| f.inferred_type).collect();
    use InferredType::*;
    assert_eq!(
        types,
        [Fractional, Integral, Integral, Fractional, Integral, String, String, String]
    );
    for feature in &b.constraints.features {
        assert_eq!(feature.completeness, Some(1.0), "{}", feature.name);
    }
    let domain = |name: &str| {
        let mut d = b
            .constraints
            .feature(name)
            .unwrap()
            .string_constraints
            .as_ref()
            .unwrap()
            .domains
            .clone()
            .unwrap();
        d.sort();
        d
    };
    assert_eq!(domain("plan"), ["basic", "premium", "standard"]);
    assert_eq!(domain("region"), ["east", "north", "south", "west"]);
    let config = &b.constraints.monitoring_config.distribution_constraints;
    assert_eq!(config.comparison_method, ComparisonMethod::Robust);
    assert_eq!(config.comparison_threshold, 0.1);
}

// ---------------------------------------------------------------------------------------------
// Capture traffic

#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Csv,
    Json,
}

fn window_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 10, 13, 0, 0).unwrap()
}

fn hour_window(start: DateTime<Utc>) -> Window {
    Window {
        start,
        end: start + Duration::hours(1),
    }
}

/// Writes `rows` as an hour of endpoint capture from `window_start()`, one file per five minutes
/// in SageMaker's layout. The output (score) is sent as the response, the rest as the request.
fn write_capture(root: &Path, rows: &[Row], encoding: Encoding) {
    let start = window_start();
    let mut files: BTreeMap<PathBuf, String> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let time = start + Duration::milliseconds((i as f64 * 3_600_000.0 / rows.len() as f64) as i64);
        let file_start = start + Duration::minutes((time - start).num_minutes() / 5 * 5);
        let path = root
            .join("churn-endpoint/AllTraffic")
            .join(file_start.format("%Y/%m/%d/%H").to_string())
            .join(format!(
                "{}-7f0c4a52-1b8e-4d7a-9a57-3c1f2e9d{:04}.jsonl",
                file_start.format("%M-%S-%3f"),
                (file_start - start).num_minutes()
            ));
        let (output, input) = row.split_at(1);
        let (content_type, encoding_name, output_data, input_data) = match encoding {
            Encoding::Csv => ("text/csv", "CSV", csv_line(output), csv_line(input)),
            Encoding::Json => {
                let object: Vec<String> = input
                    .iter()
                    .map(|(name, f)| format!("{}: {}", serde_json::to_string(name).unwrap(), f.json()))
                    .collect();
                (
                    "application/json",
                    "JSON",
                    output[0].1.json(),
                    format!("{{{}}}", object.join(", ")),
                )
            }
        };
        let line = format!(
            r#"{{"captureData":{{"endpointInput":{{"observedContentType":"{content_type}","mode":"INPUT","data":{},"encoding":"{encoding_name}"}},"endpointOutput":{{"observedContentType":"{content_type}","mode":"OUTPUT","data":{},"encoding":"{encoding_name}"}}}},"eventMetadata":{{"eventId":"e{i:08}","inferenceTime":"{}"}},"eventVersion":"0"}}"#,
            serde_json::to_string(&input_data).unwrap(),
            serde_json::to_string(&output_data).unwrap(),
            time.format("%Y-%m-%dT%H:%M:%SZ"),
        );
        let text = files.entry(path).or_default();
        text.push_str(&line);
        text.push('\n');
    }
    for (path, text) in files {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn run(paths: &[PathBuf], format: InputFormat, window: Option<Window>) -> Analysis {
    let b = baseline();
    let request = AnalysisRequest {
        input: Input::Paths(paths),
        format,
        window,
        baseline: &b.statistics,
        constraints: &b.constraints,
        read: ReadOptions::default(),
        preprocessor: None,
    };
    let analysis = analyze(&request, &mut |_| {}).unwrap_or_else(|e| panic!("analysis failed: {e}"));
    let records = &analysis.records;
    assert_eq!(records.read, records.analysed + records.rejected_total(), "{records:?}");
    analysis
}

/// An hour of generated traffic, captured and analysed.
struct Scenario {
    traffic: Vec<Row>,
    analysis: Analysis,
}

fn scenario(n: usize, plant: Plant, encoding: Encoding) -> Scenario {
    let traffic = rows(n, 2, plant);
    let dir = tempfile::tempdir().unwrap();
    write_capture(dir.path(), &traffic, encoding);
    let analysis = run(
        &[dir.path().to_path_buf()],
        InputFormat::Capture,
        Some(hour_window(window_start())),
    );
    assert_eq!(analysis.records.analysed, n as u64, "{:?}", analysis.records);
    assert_eq!(analysis.records.rejected_total(), 0, "{:?}", analysis.records);
    assert_eq!(analysis.statistics.dataset.item_count, n as u64);
    let capture = analysis.capture.as_ref().expect("a capture summary");
    assert_eq!(
        (capture.files, capture.outside_window, capture.shadow_skipped),
        (12, 0, 0)
    );
    Scenario { traffic, analysis }
}

fn violations(analysis: &Analysis) -> Vec<(String, CheckType)> {
    analysis
        .checks
        .violations
        .iter()
        .map(|v| (v.feature_name.clone(), v.constraint_check_type))
        .collect()
}

fn expect(pairs: &[(&str, CheckType)]) -> Vec<(String, CheckType)> {
    pairs.iter().map(|(f, c)| (f.to_string(), *c)).collect()
}

fn check<'a>(analysis: &'a Analysis, name: &str) -> &'a FeatureCheck {
    analysis
        .checks
        .features
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no check of {name}"))
}

fn assert_violations(analysis: &Analysis, expected: &[(&str, CheckType)]) {
    assert_eq!(
        violations(analysis),
        expect(expected),
        "{:#?}",
        analysis.checks.violations
    );
    assert_eq!(analysis.outcome, Outcome::CompletedWithViolations);
    assert_eq!(
        analysis.exit_message,
        format!(
            "CompletedWithViolations: Job completed successfully with {} violations.",
            expected.len()
        )
    );
    // Each feature's own list agrees with the report's.
    for feature in &analysis.checks.features {
        let mine: Vec<CheckType> = expected
            .iter()
            .filter(|(f, _)| *f == feature.name)
            .map(|(_, c)| *c)
            .collect();
        assert_eq!(feature.violations, mine, "{}", feature.name);
    }
}

fn assert_clean(analysis: &Analysis) {
    assert_eq!(analysis.checks.violations, [], "{:#?}", analysis.checks.violations);
    assert_eq!(analysis.outcome, Outcome::Completed);
    assert_eq!(
        analysis.exit_message,
        "Completed: Job completed successfully with no violations."
    );
}

// ---------------------------------------------------------------------------------------------
// Independent references for the numbers

/// Deequ's robust allowance for samples of sizes n and m.
fn allowance(n: usize, m: usize) -> f64 {
    let (n, m) = (n as f64, m as f64);
    1.8 * ((n + m) / (n * m)).sqrt()
}

/// The exact two-sample Kolmogorov–Smirnov distance: max over all values x of |F1(x) − F2(x)|.
fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => unreachable!(),
        };
        while a.get(i).is_some_and(|&v| v <= x) {
            i += 1;
        }
        while b.get(j).is_some_and(|&v| v <= x) {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

fn numbers_of(rows: &[Row], name: &str) -> Vec<f64> {
    rows.iter().filter_map(|r| field(r, name)?.number()).collect()
}

/// The robust L-infinity distance of a numeric feature between training and traffic, exactly.
fn numeric_drift(traffic: &[Row], name: &str) -> f64 {
    let a = numbers_of(&baseline().rows, name);
    let b = numbers_of(traffic, name);
    (ks_distance(&a, &b) - allowance(a.len(), b.len())).max(0.0)
}

fn counts_of(rows: &[Row], name: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for row in rows {
        if let Some(Field::Text(value)) = field(row, name) {
            *counts.entry(value.clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// The robust L-infinity distance between the category shares of training and traffic.
fn categorical_drift(traffic: &[Row], name: &str) -> f64 {
    let a = counts_of(&baseline().rows, name);
    let b = counts_of(traffic, name);
    let (n, m) = (a.values().sum::<usize>(), b.values().sum::<usize>());
    let linf = a
        .keys()
        .chain(b.keys())
        .map(|k| {
            let share = |c: &BTreeMap<String, usize>, total: usize| *c.get(k).unwrap_or(&0) as f64 / total as f64;
            (share(&a, n) - share(&b, m)).abs()
        })
        .fold(0.0, f64::max);
    (linf - allowance(n, m)).max(0.0)
}

/// Sketches approximate the numeric CDFs; categories are counted exactly.
const SKETCH_TOLERANCE: f64 = 0.01;

fn assert_drift_matches(s: &Scenario) {
    for name in ["score", "age", "tenure", "income", "calls"] {
        let feature = check(&s.analysis, name);
        let Some(drift) = &feature.drift else {
            continue;
        };
        let expected = numeric_drift(&s.traffic, name);
        assert!(
            (drift.value - expected).abs() <= SKETCH_TOLERANCE,
            "{name}: engine {} vs exact {expected}",
            drift.value
        );
        assert_eq!(
            drift.baseline_count,
            numbers_of(&baseline().rows, name).len() as u64,
            "{name}"
        );
        assert_eq!(drift.current_count, numbers_of(&s.traffic, name).len() as u64, "{name}");
    }
    for name in ["plan", "region", "channel"] {
        let Some(drift) = check(&s.analysis, name).drift.as_ref() else {
            continue;
        };
        let expected = categorical_drift(&s.traffic, name);
        assert!(
            (drift.value - expected).abs() < 1e-9,
            "{name}: engine {} vs exact {expected}",
            drift.value
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Clean traffic

fn assert_clean_scenario(n: usize, encoding: Encoding) {
    let s = scenario(n, Plant::default(), encoding);
    assert_clean(&s.analysis);
    for name in FEATURES {
        let feature = check(&s.analysis, name);
        assert_eq!(feature.presence, Presence::Both, "{name}");
        assert!(feature.drift.is_some(), "{name} was compared: {feature:?}");
        assert_eq!(feature.type_match.map(|m| m.value), Some(1.0), "{name}");
        assert_eq!(feature.completeness.map(|m| m.value), Some(1.0), "{name}");
    }
    assert_eq!(check(&s.analysis, "plan").domain_compliance.map(|m| m.value), Some(1.0));
    assert_drift_matches(&s);
}

#[test]
fn clean_traffic_of_1k_records_has_no_violations() {
    assert_clean_scenario(1_000, Encoding::Csv);
}

#[test]
fn clean_traffic_of_100k_records_has_no_violations() {
    assert_clean_scenario(100_000, Encoding::Csv);
}

#[test]
fn clean_json_traffic_has_no_violations() {
    assert_clean_scenario(TRAFFIC, Encoding::Json);
}

// ---------------------------------------------------------------------------------------------
// One planted change at a time

#[test]
fn unit_change_is_baseline_drift_of_that_feature_only() {
    let plant = Plant {
        income_in_cents: true,
        ..Plant::default()
    };
    let s = scenario(TRAFFIC, plant, Encoding::Csv);
    assert_violations(&s.analysis, &[("income", CheckType::BaselineDriftCheck)]);
    // Whole cents are Integral, which a Fractional feature accepts.
    assert_eq!(check(&s.analysis, "income").type_match.map(|m| m.value), Some(1.0));
    let drift = check(&s.analysis, "income").drift.clone().unwrap();
    // Every cent value is above every dollar value: the CDFs are 1 apart.
    assert_eq!(
        numeric_drift(&s.traffic, "income"),
        1.0 - allowance(TRAINING_ROWS, TRAFFIC)
    );
    assert_drift_matches(&s);
    assert!(drift.current_median.unwrap() > 100.0 * drift.baseline_median.unwrap() * 0.9);
}

#[test]
fn shifted_category_mix_is_baseline_drift_of_that_feature() {
    let plant = Plant {
        shifted_plans: true,
        ..Plant::default()
    };
    let s = scenario(TRAFFIC, plant, Encoding::Csv);
    assert_violations(&s.analysis, &[("plan", CheckType::BaselineDriftCheck)]);
    let drift = check(&s.analysis, "plan").drift.clone().unwrap();
    let expected = categorical_drift(&s.traffic, "plan");
    assert!(expected > 0.2, "{expected}");
    assert!((drift.value - expected).abs() < 1e-9, "{} vs {expected}", drift.value);
    // Every value is still inside the domain.
    assert_eq!(check(&s.analysis, "plan").domain_compliance.map(|m| m.value), Some(1.0));
}

#[test]
fn missing_values_are_a_completeness_violation() {
    let plant = Plant {
        missing_tenure: true,
        ..Plant::default()
    };
    let s = scenario(TRAFFIC, plant, Encoding::Csv);
    assert_violations(&s.analysis, &[("tenure", CheckType::CompletenessCheck)]);
    let missing = (0..TRAFFIC).filter(|&i| tenure_is_missing(i)).count();
    assert_eq!(missing, TRAFFIC / 10);
    let completeness = check(&s.analysis, "tenure").completeness.unwrap();
    assert_eq!(completeness.value, (TRAFFIC - missing) as f64 / TRAFFIC as f64);
    assert_eq!(completeness.threshold, 1.0);
    let tenure = s.analysis.statistics.feature("tenure").unwrap().common().unwrap();
    assert_eq!(
        (tenure.num_present, tenure.num_missing),
        ((TRAFFIC - missing) as u64, missing as u64)
    );
}

#[test]
fn text_in_an_integral_column_is_a_data_type_violation() {
    let plant = Plant {
        age_as_text: true,
        ..Plant::default()
    };
    let s = scenario(TRAFFIC, plant, Encoding::Csv);
    assert_violations(&s.analysis, &[("age", CheckType::DataTypeCheck)]);
    let text = (0..TRAFFIC).filter(|&i| age_is_text(i)).count();
    let age = check(&s.analysis, "age");
    assert_eq!(age.type_match.unwrap().value, (TRAFFIC - text) as f64 / TRAFFIC as f64);
    assert_eq!(age.expected_type, Some(InferredType::Integral));
    assert_eq!(age.observed_type, Some(InferredType::String));
    assert!(s.analysis.checks.violations[0].description.contains("Integral"));
}

#[test]
fn a_new_category_value_is_a_categorical_values_violation() {
    let plant = Plant {
        new_region: true,
        ..Plant::default()
    };
    let s = scenario(TRAFFIC, plant, Encoding::Csv);
    assert_violations(&s.analysis, &[("region", CheckType::CategoricalValuesCheck)]);
    let outside = (0..TRAFFIC).filter(|&i| region_is_new(i)).count();
    let compliance = check(&s.analysis, "region").domain_compliance.unwrap();
    assert_eq!(compliance.value, (TRAFFIC - outside) as f64 / TRAFFIC as f64);
    assert_eq!(compliance.threshold, 1.0);
    assert!(s.analysis.checks.violations[0].description.contains("central"));
    assert_drift_matches(&s);
}

#[test]
fn a_dropped_json_key_is_a_missing_column_violation() {
    let plant = Plant {
        drop_channel: true,
        ..Plant::default()
    };
    let s = scenario(TRAFFIC, plant, Encoding::Json);
    assert_violations(&s.analysis, &[("channel", CheckType::MissingColumnCheck)]);
    assert_eq!(check(&s.analysis, "channel").presence, Presence::MissingFromCurrent);
}

#[test]
fn an_added_json_key_is_an_extra_column_violation() {
    let plant = Plant {
        add_coupon: true,
        ..Plant::default()
    };
    let s = scenario(TRAFFIC, plant, Encoding::Json);
    assert_violations(&s.analysis, &[("coupon", CheckType::ExtraColumnCheck)]);
    assert_eq!(check(&s.analysis, "coupon").presence, Presence::NotInBaseline);
}

// ---------------------------------------------------------------------------------------------
// All together

/// In baseline feature order, by check type; extra columns last.
const ALL_CSV_VIOLATIONS: [(&str, CheckType); 5] = [
    ("age", CheckType::DataTypeCheck),
    ("tenure", CheckType::CompletenessCheck),
    ("income", CheckType::BaselineDriftCheck),
    ("plan", CheckType::BaselineDriftCheck),
    ("region", CheckType::CategoricalValuesCheck),
];

#[test]
fn all_csv_plants_together_give_exactly_their_violations() {
    let s = scenario(TRAFFIC, ALL_CSV_PLANTS, Encoding::Csv);
    assert_violations(&s.analysis, &ALL_CSV_VIOLATIONS);
    assert_drift_matches(&s);
}

#[test]
fn all_plants_together_in_json_capture_give_exactly_their_violations() {
    let s = scenario(TRAFFIC, ALL_PLANTS, Encoding::Json);
    let mut expected = ALL_CSV_VIOLATIONS.to_vec();
    expected.push(("channel", CheckType::MissingColumnCheck));
    expected.push(("coupon", CheckType::ExtraColumnCheck));
    assert_violations(&s.analysis, &expected);
    assert_drift_matches(&s);
}

// ---------------------------------------------------------------------------------------------
// No data

#[test]
fn an_empty_window_is_no_data_not_a_panic() {
    let traffic = rows(200, 2, Plant::default());
    let dir = tempfile::tempdir().unwrap();
    write_capture(dir.path(), &traffic, Encoding::Csv);
    let root = [dir.path().to_path_buf()];

    // A day later: no hour folder of the window exists.
    let later = run(
        &root,
        InputFormat::Capture,
        Some(hour_window(window_start() + Duration::days(1))),
    );
    assert_eq!(later.outcome, Outcome::NoData);
    assert!(later.checks.no_data);
    assert_eq!(later.checks.violations, []);
    assert_eq!(later.statistics.dataset.item_count, 0);
    assert_eq!(later.capture.as_ref().unwrap().files, 0);
    assert!(later.exit_message.starts_with("NoData:"), "{}", later.exit_message);
    assert!(later.exit_message.contains("no records"), "{}", later.exit_message);

    // The next hour: the traffic's folder is read (it is the hour before) but nothing is in it.
    let next = run(
        &root,
        InputFormat::Capture,
        Some(hour_window(window_start() + Duration::hours(1))),
    );
    assert_eq!(next.outcome, Outcome::NoData);
    let capture = next.capture.as_ref().unwrap();
    assert_eq!((capture.files, capture.outside_window), (12, 200));
    assert!(
        next.exit_message.contains("200 records outside the window"),
        "{}",
        next.exit_message
    );
}

// ---------------------------------------------------------------------------------------------
// Batch input

fn write_csv(path: &Path, rows: &[Row], header: bool) {
    let mut text = if header {
        FEATURES.join(",") + "\n"
    } else {
        String::new()
    };
    for row in rows {
        text.push_str(&csv_line(row));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn batch_csv_with_a_header_is_checked_by_column_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.csv");
    write_csv(&path, &rows(TRAFFIC, 3, Plant::default()), true);
    let analysis = run(&[path], InputFormat::Dataset(DatasetFormat::Csv { header: true }), None);
    assert_eq!(analysis.records.analysed, TRAFFIC as u64);
    assert!(analysis.capture.is_none());
    assert_clean(&analysis);

    let path = dir.path().join("batch-missing.csv");
    write_csv(
        &path,
        &rows(
            TRAFFIC,
            3,
            Plant {
                missing_tenure: true,
                ..Plant::default()
            },
        ),
        true,
    );
    let analysis = run(&[path], InputFormat::Dataset(DatasetFormat::Csv { header: true }), None);
    assert_violations(&analysis, &[("tenure", CheckType::CompletenessCheck)]);
}

/// SageMaker's batch input is header-less CSV (the CLI's default for `--format csv`): its
/// columns are the baseline's features by position, as for CSV capture. Named `_c0`, `_c1`, ...
/// instead, every feature would be "missing" and every column "extra".
#[test]
fn batch_csv_without_a_header_maps_columns_to_the_baseline_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.csv");
    write_csv(&path, &rows(TRAFFIC, 3, Plant::default()), false);
    let analysis = run(
        &[path],
        InputFormat::Dataset(DatasetFormat::Csv { header: false }),
        None,
    );
    assert_eq!(analysis.records.analysed, TRAFFIC as u64);
    let names: Vec<&str> = analysis.statistics.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, FEATURES);
    assert_clean(&analysis);
}

#[test]
fn batch_json_lines_are_checked_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.jsonl");
    let plant = Plant {
        add_coupon: true,
        ..Plant::default()
    };
    let text: String = rows(TRAFFIC, 3, plant)
        .iter()
        .map(|row| {
            let fields: Vec<String> = row
                .iter()
                .map(|(name, f)| format!("{}:{}", serde_json::to_string(name).unwrap(), f.json()))
                .collect();
            format!("{{{}}}\n", fields.join(","))
        })
        .collect();
    std::fs::write(&path, text).unwrap();
    let analysis = run(&[path], InputFormat::Dataset(DatasetFormat::JsonLines), None);
    assert_eq!(analysis.records.analysed, TRAFFIC as u64);
    assert_violations(&analysis, &[("coupon", CheckType::ExtraColumnCheck)]);
}

// ---------------------------------------------------------------------------------------------
// Determinism

#[test]
fn the_same_analysis_twice_gives_byte_identical_reports() {
    let traffic = rows(TRAFFIC, 4, ALL_PLANTS);
    let dir = tempfile::tempdir().unwrap();
    write_capture(dir.path(), &traffic, Encoding::Json);
    let root = [dir.path().to_path_buf()];
    let window = Some(hour_window(window_start()));
    let first = run(&root, InputFormat::Capture, window);
    let second = run(&root, InputFormat::Capture, window);
    assert_eq!(first.statistics.to_json(), second.statistics.to_json());
    assert_eq!(first.violations().to_json(), second.violations().to_json());
    assert_eq!(
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&second).unwrap(),
        "report.json"
    );
    assert!(!first.checks.violations.is_empty());
}
