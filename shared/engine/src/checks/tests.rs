//! Scenarios for `run_checks`, each with its outcome worked out by hand.

use std::collections::HashMap;

use modelmon_formats::{
    CategoricalDriftMethod, CheckType, ComparisonMethod, Constraints, MonitoringConfigOverrides, Statistics, Toggle,
};

use super::*;
use crate::profile::DatasetProfile;
use crate::sketch::testing::SplitMix64;
use crate::suggest::suggest_constraints;

// ---------------------------------------------------------------------------------------------
// Building profiles and baselines

type Column = (&'static str, Vec<Option<String>>);

/// Every value present.
fn present<T: ToString>(values: impl IntoIterator<Item = T>) -> Vec<Option<String>> {
    values.into_iter().map(|v| Some(v.to_string())).collect()
}

/// `count` copies of `value`.
fn repeat(value: &str, count: usize) -> Vec<Option<String>> {
    vec![Some(value.to_string()); count]
}

/// Category counts as a column, values in the order given (each repeated `count` times).
fn categories(counts: &[(&str, usize)]) -> Vec<Option<String>> {
    counts.iter().flat_map(|&(value, count)| repeat(value, count)).collect()
}

/// A profile of as many records as the longest column; `None` is a missing value.
fn profile(columns: &[Column]) -> DatasetProfile {
    fill(DatasetProfile::default(), columns)
}

/// Same, tallying values against baseline domains as the analysis does.
fn profile_with_domains(domains: &[(&str, &[&str])], columns: &[Column]) -> DatasetProfile {
    let domains: HashMap<String, Vec<String>> = domains
        .iter()
        .map(|(name, values)| (name.to_string(), values.iter().map(|v| v.to_string()).collect()))
        .collect();
    fill(DatasetProfile::with_domains(domains), columns)
}

fn fill(mut profile: DatasetProfile, columns: &[Column]) -> DatasetProfile {
    let records = columns.iter().map(|(_, values)| values.len()).max().unwrap_or(0);
    for (name, values) in columns {
        let i = profile.column_index(name);
        for value in values.iter().flatten() {
            profile.columns[i].observe_text(value);
        }
    }
    profile.records.analysed_many(records as u64);
    profile
}

/// A one-column profile of typed numbers (as JSON or Parquet input gives them).
fn numbers(name: &str, values: impl IntoIterator<Item = f64>) -> DatasetProfile {
    let mut profile = DatasetProfile::default();
    let i = profile.column_index(name);
    let mut records = 0;
    for value in values {
        profile.columns[i].observe_number(value, crate::types::ValueKind::Fractional);
        records += 1;
    }
    profile.records.analysed_many(records);
    profile
}

/// Statistics and suggested constraints of a baseline dataset, as the baselining job makes them.
fn baseline(columns: &[Column]) -> (Statistics, Constraints) {
    baseline_of(&profile(columns))
}

fn baseline_of(profile: &DatasetProfile) -> (Statistics, Constraints) {
    let statistics = profile.to_statistics();
    let constraints = suggest_constraints(&statistics);
    (statistics, constraints)
}

fn feature_mut<'a>(constraints: &'a mut Constraints, name: &str) -> &'a mut FeatureConstraints {
    constraints
        .features
        .iter_mut()
        .find(|f| f.name == name)
        .expect("feature in constraints")
}

fn set_overrides(constraints: &mut Constraints, name: &str, overrides: MonitoringConfigOverrides) {
    feature_mut(constraints, name).monitoring_config_overrides = Some(overrides);
}

fn check<'a>(report: &'a CheckReport, name: &str) -> &'a FeatureCheck {
    report
        .features
        .iter()
        .find(|f| f.name == name)
        .expect("feature in report")
}

fn kinds(report: &CheckReport) -> Vec<(&str, CheckType)> {
    report
        .violations
        .iter()
        .map(|v| (v.feature_name.as_str(), v.constraint_check_type))
        .collect()
}

fn descriptions(report: &CheckReport, check_type: CheckType) -> Vec<&str> {
    report
        .violations
        .iter()
        .filter(|v| v.constraint_check_type == check_type)
        .map(|v| v.description.as_str())
        .collect()
}

fn metric<'a>(report: &'a CheckReport, name: &str) -> Option<&'a MetricData> {
    report.metrics.iter().find(|m| m.name == name).map(|m| &m.value)
}

fn drift_value(report: &CheckReport, name: &str) -> Option<f64> {
    check(report, name).drift.as_ref().map(|d| d.value)
}

/// Three columns: an integer, a category, a decimal.
fn three_columns() -> Vec<Column> {
    vec![
        ("a", present(1..=4)),
        ("b", present(["x", "y", "x", "y"])),
        ("c", present(["0.5", "1.5", "2.5", "3.5"])),
    ]
}

// ---------------------------------------------------------------------------------------------
// Windows, columns, report

#[test]
fn empty_window_reports_no_data() {
    let (statistics, constraints) = baseline(&three_columns());
    for empty in [
        DatasetProfile::default(),
        DatasetProfile::with_columns(&["a", "b", "c"]),
    ] {
        let report = run_checks(&statistics, &constraints, &empty);
        assert!(report.no_data);
        assert!(report.violations.is_empty());
        assert!(report.metrics.is_empty());
        assert_eq!(
            report.exit_message(),
            "Completed: Job completed successfully with no violations."
        );
    }
}

#[test]
fn identical_window_has_no_violations() {
    let columns = three_columns();
    let (statistics, constraints) = baseline(&columns);
    let report = run_checks(&statistics, &constraints, &profile(&columns));
    assert!(!report.no_data);
    assert_eq!(report.violations, vec![]);
    assert_eq!(report.features.len(), 3);
    for feature in &report.features {
        assert_eq!(feature.presence, Presence::Both);
        assert!(feature.evaluated);
        assert_eq!(feature.type_match.map(|m| m.value), Some(1.0));
        assert_eq!(feature.completeness.map(|m| m.value), Some(1.0));
        assert_eq!(feature.drift.as_ref().map(|d| d.value), Some(0.0));
        assert!(feature.notes.is_empty(), "{:?}", feature.notes);
    }
    assert_eq!(check(&report, "b").domain_compliance.map(|m| m.value), Some(1.0));
    assert_eq!(check(&report, "a").domain_compliance, None);
    assert_eq!(check(&report, "c").observed_type, Some(InferredType::Fractional));
}

#[test]
fn missing_column_names_the_column_counts() {
    let (statistics, constraints) = baseline(&three_columns());
    let current = profile(&[("a", present(1..=4)), ("c", present(["0.5", "1.5", "2.5", "3.5"]))]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(kinds(&report), vec![("b", CheckType::MissingColumnCheck)]);
    assert_eq!(
        report.violations[0].description,
        "Column b is missing from the current dataset. Baseline has 3 columns, current dataset has 2."
    );
    assert_eq!(check(&report, "b").presence, Presence::MissingFromCurrent);
    assert_eq!(check(&report, "b").violations, vec![CheckType::MissingColumnCheck]);
    assert!(report.metrics.iter().all(|m| !m.name.ends_with("_b")));
    assert_eq!(
        report.exit_message(),
        "CompletedWithViolations: Job completed successfully with 1 violations."
    );
}

#[test]
fn extra_column_is_reported() {
    let mut columns = three_columns();
    columns.push(("d", present(["p", "q", "r", "s"])));
    let (statistics, constraints) = baseline(&three_columns());
    let report = run_checks(&statistics, &constraints, &profile(&columns));
    assert_eq!(kinds(&report), vec![("d", CheckType::ExtraColumnCheck)]);
    assert_eq!(
        report.violations[0].description,
        "Column d is not in the baseline. Baseline has 3 columns, current dataset has 4."
    );
    let extra = check(&report, "d");
    assert_eq!(extra.presence, Presence::NotInBaseline);
    assert_eq!(extra.observed_type, Some(InferredType::String));
    assert!(
        report.metrics.iter().all(|m| !m.name.ends_with("_d")),
        "no metrics for unknown features"
    );
}

#[test]
fn violations_follow_baseline_order_then_check_type_with_extra_columns_last() {
    let (statistics, constraints) = baseline(&three_columns());
    // Current column order d, c, a; b is missing; a is incomplete and has a string.
    let current = profile(&[
        ("d", present(["p", "q", "r", "s"])),
        ("c", present(["0.5", "1.5", "2.5", "3.5"])),
        ("a", vec![Some("1".into()), None, Some("oops".into()), Some("4".into())]),
    ]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(
        kinds(&report),
        vec![
            ("a", CheckType::DataTypeCheck),
            ("a", CheckType::CompletenessCheck),
            ("b", CheckType::MissingColumnCheck),
            ("d", CheckType::ExtraColumnCheck),
        ]
    );
    let names: Vec<&str> = report.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
    assert_eq!(
        report.exit_message(),
        "CompletedWithViolations: Job completed successfully with 4 violations."
    );
}

#[test]
fn column_without_values_is_incomplete_but_not_mistyped() {
    let (statistics, constraints) = baseline(&three_columns());
    let current = profile(&[
        ("a", vec![None; 4]),
        ("b", present(["x", "y", "x", "y"])),
        ("c", present(["0.5", "1.5", "2.5", "3.5"])),
    ]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(kinds(&report), vec![("a", CheckType::CompletenessCheck)]);
    assert_eq!(
        report.violations[0].description,
        "Data completeness requirement is not met. Expected completeness: 100.0%. Observed: 0.0% of data is \
         complete (4 of 4 values missing)."
    );
    let a = check(&report, "a");
    assert_eq!(a.type_match, None);
    assert_eq!(a.drift, None);
    assert_eq!(a.observed_type, None);
    assert_eq!(metric(&report, "feature_non_null_a"), Some(&MetricData::Value(0.0)));
    assert_eq!(metric(&report, "feature_data_a"), None);
}

#[test]
fn report_serializes() {
    let (statistics, constraints) = baseline(&three_columns());
    let report = run_checks(&statistics, &constraints, &profile(&three_columns()));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["no_data"], false);
    assert_eq!(json["features"][0]["presence"], "both");
    assert_eq!(json["features"][0]["drift"]["method"], "linf_robust");
    assert_eq!(json["features"][0]["drift"]["kind"], "numerical");
    let data = report.metrics.iter().find(|m| m.name == "feature_data_a").unwrap();
    assert_eq!(
        serde_json::to_value(data).unwrap(),
        serde_json::json!({"name": "feature_data_a", "value": {"statistic_set": {
            "sample_count": 4.0, "sum": 10.0, "min": 1.0, "max": 4.0}}})
    );
    assert_eq!(
        serde_json::to_value(&report.metrics[0]).unwrap(),
        serde_json::json!({"name": "feature_non_null_a", "value": {"value": 1.0}})
    );
}

// ---------------------------------------------------------------------------------------------
// data_type_check and completeness_check

#[test]
fn data_type_violation_quotes_other_values() {
    let (statistics, constraints) = baseline(&[("age", present(20..30))]);
    let mut values = present(21..29);
    values.extend(present(["unknown", "3.5"]));
    let report = run_checks(&statistics, &constraints, &profile(&[("age", values)]));
    assert_eq!(
        descriptions(&report, CheckType::DataTypeCheck),
        [
            "Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. \
          Observed: Only 80.0% of data is Integral. Examples of other values: \"unknown\", \"3.5\"."
        ]
    );
    let age = check(&report, "age");
    assert_eq!(age.observed_type, Some(InferredType::String));
    // The strings are the data type check's business; the 9 numbers (21..29 and 3.5) are still
    // compared with the baseline, so a stray string cannot hide a drift of the numbers.
    let drift = age
        .drift
        .as_ref()
        .expect("numbers among the strings still get a distance");
    assert_eq!(drift.current_count, 9);
    assert_eq!(drift.baseline_count, 10);
    assert!(age.notes.is_empty(), "{:?}", age.notes);
}

#[test]
fn a_unit_change_is_caught_despite_stray_strings() {
    let (statistics, constraints) = baseline(&[("spend", present(1..=200))]);
    let mut values = present((1..=200).map(|v| v * 100));
    values.extend(present(["n/a"]));
    let report = run_checks(&statistics, &constraints, &profile(&[("spend", values)]));
    let checks: Vec<CheckType> = report.violations.iter().map(|v| v.constraint_check_type).collect();
    assert_eq!(checks, [CheckType::DataTypeCheck, CheckType::BaselineDriftCheck]);
}

#[test]
fn examples_take_turns_between_kinds() {
    let (statistics, constraints) = baseline(&[("n", present(0..10))]);
    let current = profile(&[("n", present(["a", "b", "c", "1.5", "true", "1"]))]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(
        descriptions(&report, CheckType::DataTypeCheck),
        [
            "Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. \
          Observed: Only 16.666666666666664% of data is Integral. Examples of other values: \"a\", \"true\", \
          \"1.5\"."
        ]
    );
}

#[test]
fn integral_values_match_fractional_and_everything_matches_string() {
    let (statistics, constraints) = baseline(&[("f", present(["0.5", "1.5", "2.5"])), ("s", present(["x", "y", "z"]))]);
    let current = profile(&[("f", present(["1", "2", "2.5"])), ("s", present(["1", "true", "z"]))]);
    let report = run_checks(&statistics, &constraints, &current);
    assert!(descriptions(&report, CheckType::DataTypeCheck).is_empty());
    assert_eq!(check(&report, "f").type_match.map(|m| m.value), Some(1.0));
    assert_eq!(check(&report, "s").type_match.map(|m| m.value), Some(1.0));
}

#[test]
fn ratios_exactly_at_the_threshold_pass() {
    let (statistics, mut constraints) = baseline(&[("a", present(1..=5))]);
    // 3 of 4 present values are Integral, and 4 of 5 records have a value.
    let values = vec![
        Some("1".into()),
        Some("2".into()),
        Some("3".into()),
        Some("x".into()),
        None,
    ];
    let current = profile(&[("a", values)]);
    constraints.monitoring_config.datatype_check_threshold = 0.75;
    feature_mut(&mut constraints, "a").completeness = Some(0.8);
    let report = run_checks(&statistics, &constraints, &current);
    let a = check(&report, "a");
    assert_eq!(a.type_match.map(|m| (m.value, m.met)), Some((0.75, true)));
    assert_eq!(a.completeness.map(|m| (m.value, m.met)), Some((0.8, true)));
    assert!(report.violations.is_empty(), "{:?}", report.violations);

    constraints.monitoring_config.datatype_check_threshold = 0.76;
    feature_mut(&mut constraints, "a").completeness = Some(0.81);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(
        descriptions(&report, CheckType::DataTypeCheck),
        [
            "Data type match requirement is not met. Expected data type: Integral, Expected match: 76.0%. \
          Observed: Only 75.0% of data is Integral. Examples of other values: \"x\"."
        ]
    );
    assert_eq!(
        descriptions(&report, CheckType::CompletenessCheck),
        [
            "Data completeness requirement is not met. Expected completeness: 81.0%. Observed: 80.0% of data is \
          complete (1 of 5 values missing)."
        ]
    );
}

#[test]
fn completeness_violation_description() {
    let (statistics, constraints) = baseline(&[("a", present(1..=4))]);
    let current = profile(&[("a", vec![Some("1".into()), None, Some("3".into()), Some("2".into())])]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(
        descriptions(&report, CheckType::CompletenessCheck),
        [
            "Data completeness requirement is not met. Expected completeness: 100.0%. Observed: 75.0% of data is \
          complete (1 of 4 values missing)."
        ]
    );
}

#[test]
fn feature_without_completeness_constraint_is_not_checked() {
    let (statistics, mut constraints) = baseline(&[("a", present(1..=4))]);
    feature_mut(&mut constraints, "a").completeness = None;
    let current = profile(&[("a", vec![Some("1".into()), None])]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(check(&report, "a").completeness, None);
    assert!(report.violations.is_empty());
}

// ---------------------------------------------------------------------------------------------
// baseline_drift_check, numerical

#[test]
fn equal_constant_columns_have_no_distance() {
    let (statistics, constraints) = baseline(&[("k", repeat("5", 100))]);
    let report = run_checks(&statistics, &constraints, &profile(&[("k", repeat("5", 100))]));
    assert_eq!(drift_value(&report, "k"), Some(0.0));
    assert_eq!(
        metric(&report, "feature_baseline_drift_k"),
        Some(&MetricData::Value(0.0))
    );
    assert!(report.violations.is_empty());
}

#[test]
fn different_constant_columns_are_fully_apart() {
    let (statistics, mut constraints) = baseline(&[("k", repeat("5", 100))]);
    let current = profile(&[("k", repeat("7", 100))]);
    // Robust: 1 - 1.8 * sqrt(200 / 10000) = 0.7454415587728429.
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(
        descriptions(&report, CheckType::BaselineDriftCheck),
        [
            "Numerical distance: 0.7454415587728429 exceeds numerical threshold: 0.1 (Robust L-infinity distance \
          of the CDFs, baseline n=100, current n=100; baseline median 5.0, current median 7.0)"
        ]
    );
    constraints.monitoring_config.distribution_constraints.comparison_method = ComparisonMethod::Simple;
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(drift_value(&report, "k"), Some(1.0));
    assert_eq!(
        descriptions(&report, CheckType::BaselineDriftCheck),
        [
            "Numerical distance: 1.0 exceeds numerical threshold: 0.1 (Simple L-infinity distance of the CDFs, \
          baseline n=100, current n=100; baseline median 5.0, current median 7.0)"
        ]
    );
}

#[test]
fn robust_forgives_a_shift_that_small_samples_can_show_by_chance() {
    // Baseline 1..=50, current 16..=65: the CDFs are 15/50 = 0.3 apart (1 - 35/50 in floating
    // point), under the robust allowance 1.8 * sqrt(2/50) = 0.36.
    let (statistics, mut constraints) = baseline(&[("x", present(1..=50))]);
    let current = profile(&[("x", present(16..=65))]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(drift_value(&report, "x"), Some(0.0));
    assert!(report.violations.is_empty());

    constraints.monitoring_config.distribution_constraints.comparison_method = ComparisonMethod::Simple;
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(
        descriptions(&report, CheckType::BaselineDriftCheck),
        [
            "Numerical distance: 0.30000000000000004 exceeds numerical threshold: 0.1 (Simple L-infinity distance \
          of the CDFs, baseline n=50, current n=50; baseline median 25.0, current median 40.0)"
        ]
    );
    let drift = check(&report, "x").drift.clone().unwrap();
    assert_eq!(drift.method, DriftMethod::LinfSimple);
    assert_eq!((drift.baseline_count, drift.current_count), (50, 50));
}

#[test]
fn distance_exactly_at_the_threshold_passes_and_feature_overrides_apply() {
    // {1,2,3,4} against {3,4,5,6}: the CDFs are 0.5 apart at x = 2 and x = 4.
    let (statistics, mut constraints) = baseline(&[("x", present(1..=4)), ("y", present(1..=4))]);
    let current = profile(&[("x", present(3..=6)), ("y", present(3..=6))]);
    let simple_at = |threshold| MonitoringConfigOverrides {
        comparison_threshold: Some(threshold),
        comparison_method: Some(ComparisonMethod::Simple),
        ..MonitoringConfigOverrides::default()
    };
    set_overrides(&mut constraints, "x", simple_at(0.5));
    set_overrides(&mut constraints, "y", simple_at(0.49));
    let report = run_checks(&statistics, &constraints, &current);
    let x = check(&report, "x").drift.clone().unwrap();
    assert_eq!((x.value, x.threshold, x.met), (0.5, 0.5, true));
    assert_eq!(kinds(&report), vec![("y", CheckType::BaselineDriftCheck)]);
    assert!(report.violations[0]
        .description
        .starts_with("Numerical distance: 0.5 exceeds numerical threshold: 0.49 (Simple"));
}

#[test]
fn unreadable_baseline_sketch_is_noted_not_fatal() {
    fn kll(statistics: &mut Statistics) -> &mut modelmon_formats::KllDistribution {
        statistics.features[0]
            .numerical_statistics
            .as_mut()
            .and_then(|n| n.distribution.as_mut())
            .and_then(|d| d.kll.as_mut())
            .expect("numeric baseline")
    }
    let (mut statistics, constraints) = baseline(&[("x", present(1..=4))]);
    kll(&mut statistics).sketch.as_mut().unwrap().parameters.c = 0.0;
    let report = run_checks(&statistics, &constraints, &profile(&[("x", present(1..=4))]));
    let x = check(&report, "x");
    assert_eq!(x.drift, None);
    assert_eq!(x.notes.len(), 1);
    assert!(x.notes[0].starts_with("the baseline KLL sketch cannot be read: invalid KLL parameters"));
    assert_eq!(metric(&report, "feature_baseline_drift_x"), None);

    kll(&mut statistics).sketch = None;
    let report = run_checks(&statistics, &constraints, &profile(&[("x", present(1..=4))]));
    assert_eq!(
        check(&report, "x").notes,
        ["the baseline statistics have no KLL sketch to compare with"]
    );
    assert!(report.violations.is_empty());
}

#[test]
fn perform_comparison_disabled_skips_drift() {
    let (statistics, mut constraints) = baseline(&[("k", repeat("5", 100))]);
    constraints
        .monitoring_config
        .distribution_constraints
        .perform_comparison = Toggle::Disabled;
    let report = run_checks(&statistics, &constraints, &profile(&[("k", repeat("7", 100))]));
    assert!(report.violations.is_empty());
    assert_eq!(check(&report, "k").drift, None);
    assert_eq!(metric(&report, "feature_baseline_drift_k"), None);
    assert!(metric(&report, "feature_data_k").is_some());
}

// ---------------------------------------------------------------------------------------------
// baseline_drift_check, categorical

#[test]
fn categorical_linf_names_the_category_that_moved_most() {
    let plans = |basic, premium, gold| categories(&[("basic", basic), ("premium", premium), ("gold", gold)]);
    let (statistics, mut constraints) = baseline(&[("plan", plans(600, 300, 100))]);
    let current = profile(&[("plan", plans(200, 240, 60))]);
    // Shares .6/.3/.1 against .4/.48/.12: the largest gap is basic's, 0.6 - 0.4; the robust
    // allowance 1.8 * sqrt(1500 / 500000) brings it to 0.10140993964907005, just over 0.1.
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(
        descriptions(&report, CheckType::BaselineDriftCheck),
        [
            "Categorical distance: 0.10140993964907005 exceeds categorical threshold: 0.1 (Robust L-infinity \
          distance of the category frequencies, baseline n=1000, current n=500; largest change: \"basic\" \
          60.0% -> 40.0%)"
        ]
    );
    assert_eq!(kinds(&report), vec![("plan", CheckType::BaselineDriftCheck)]);
    let drift = check(&report, "plan").drift.clone().unwrap();
    assert_eq!(drift.kind, DriftKind::Categorical);
    assert_eq!(
        metric(&report, "feature_baseline_drift_plan"),
        Some(&MetricData::Value(0.10140993964907005))
    );

    constraints.monitoring_config.distribution_constraints.comparison_method = ComparisonMethod::Simple;
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(drift_value(&report, "plan"), Some(0.19999999999999996));
}

#[test]
fn single_category() {
    let (statistics, mut constraints) = baseline(&[("one", repeat("x", 20))]);
    let same = profile_with_domains(&[("one", &["x"])], &[("one", repeat("x", 20))]);
    let report = run_checks(&statistics, &constraints, &same);
    assert_eq!(drift_value(&report, "one"), Some(0.0));
    assert!(report.violations.is_empty());

    // Half the values are a new category: 0.5 apart (Simple), half outside the domain.
    constraints.monitoring_config.distribution_constraints.comparison_method = ComparisonMethod::Simple;
    let current = profile_with_domains(&[("one", &["x"])], &[("one", categories(&[("x", 10), ("y", 10)]))]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(
        report
            .violations
            .iter()
            .map(|v| v.description.as_str())
            .collect::<Vec<_>>(),
        [
            "Categorical distance: 0.5 exceeds categorical threshold: 0.1 (Simple L-infinity distance of the \
             category frequencies, baseline n=20, current n=20; largest change: \"x\" 100.0% -> 50.0%)",
            "Categorical value requirement is not met. Expected: 100.0% of values in the baseline domain. \
             Observed: only 50.0% (10 of 20 values outside it, e.g. \"y\")."
        ]
    );

    // One category leaves nothing to test with chi-squared.
    constraints
        .monitoring_config
        .distribution_constraints
        .categorical_drift_method = CategoricalDriftMethod::ChiSquared;
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(check(&report, "one").drift, None);
    assert_eq!(
        check(&report, "one").notes,
        ["fewer than 2 categories are left after merging the small ones (1 before), so there is no chi-squared test"]
    );
    assert_eq!(metric(&report, "feature_baseline_drift_one"), None);
}

fn chi_squared_baseline(columns: &[Column]) -> (Statistics, Constraints) {
    let (statistics, mut constraints) = baseline(columns);
    constraints
        .monitoring_config
        .distribution_constraints
        .categorical_drift_method = CategoricalDriftMethod::ChiSquared;
    (statistics, constraints)
}

#[test]
fn chi_squared_merges_small_categories() {
    let (statistics, mut constraints) = chi_squared_baseline(&[(
        "c",
        categories(&[("a", 500), ("b", 300), ("c", 100), ("d", 50), ("e", 30), ("f", 20)]),
    )]);
    // 100 current values in baseline categories (5 more in "z", which the test leaves out):
    // expected 50, 30, 10, 5, 3, 2. Six categories allow one expected count below 5; there are
    // two, so f (2) merges into e (3): observed 4, expected 5. Statistic
    // 10²/50 + 5²/30 + 2²/10 + 2²/5 + 1²/5 = 4.2333..., 4 degrees of freedom, and
    // p = e^(-s/2) (1 + s/2) = 0.3753476514157271 (closed form for 4 degrees of freedom).
    let current = profile(&[(
        "c",
        categories(&[("a", 60), ("b", 25), ("c", 8), ("d", 3), ("e", 2), ("f", 2), ("z", 5)]),
    )]);
    let report = run_checks(&statistics, &constraints, &current);
    let drift = check(&report, "c").drift.clone().unwrap();
    let test = drift.chi_squared.clone().unwrap();
    assert_eq!(drift.method, DriftMethod::ChiSquared);
    assert_eq!((test.degrees_of_freedom, test.categories_merged), (4, 1));
    assert!((test.statistic - 4.233_333_333_333_333).abs() < 1e-12);
    assert!((drift.value - 0.375_347_651_415_727_1).abs() < 1e-12, "{}", drift.value);
    assert_eq!((drift.baseline_count, drift.current_count), (1000, 100));
    assert!(drift.met, "p-value 0.375 is not below 0.1");
    // z is outside the domain: 100 of 105 inside, counted from the histogram (no tally).
    assert_eq!(
        descriptions(&report, CheckType::CategoricalValuesCheck),
        [
            "Categorical value requirement is not met. Expected: 100.0% of values in the baseline domain. \
          Observed: only 95.23809523809523% (5 of 105 values outside it, e.g. \"z\")."
        ]
    );
    assert!(descriptions(&report, CheckType::BaselineDriftCheck).is_empty());

    constraints
        .monitoring_config
        .distribution_constraints
        .categorical_comparison_threshold = 0.5;
    let report = run_checks(&statistics, &constraints, &current);
    let drift = check(&report, "c").drift.clone().unwrap();
    let test = drift.chi_squared.clone().unwrap();
    assert_eq!(
        descriptions(&report, CheckType::BaselineDriftCheck),
        [format!(
            "Categorical drift p-value: {} is below categorical threshold: 0.5 (chi-squared statistic {}, 4 \
             degrees of freedom)",
            modelmon_formats::java_double(drift.value),
            modelmon_formats::java_double(test.statistic)
        )]
    );
    assert_eq!(
        metric(&report, "feature_baseline_drift_c"),
        Some(&MetricData::Value(drift.value))
    );
}

#[test]
fn chi_squared_with_two_categories_needs_ten_expected_each() {
    let (statistics, constraints) = chi_squared_baseline(&[("c", categories(&[("yes", 900), ("no", 100)]))]);
    // Expected 90 and 10: tested as is. Statistic 5²/90 + 5²/10 = 2.7777..., 1 degree of
    // freedom, p = erfc(sqrt(s/2)) = 0.0955807045456294: below 0.1.
    let current = profile(&[("c", categories(&[("yes", 95), ("no", 5)]))]);
    let report = run_checks(&statistics, &constraints, &current);
    let drift = check(&report, "c").drift.clone().unwrap();
    assert!((drift.value - 0.095_580_704_545_629_4).abs() < 1e-12, "{}", drift.value);
    assert_eq!(
        descriptions(&report, CheckType::BaselineDriftCheck),
        [format!(
            "Categorical drift p-value: {} is below categorical threshold: 0.1 (chi-squared statistic \
             2.7777777777777777, 1 degree of freedom)",
            modelmon_formats::java_double(drift.value)
        )]
    );

    // Expected 95 and 5: the 5 merges into the 95, leaving nothing to test.
    let (statistics, constraints) = chi_squared_baseline(&[("c", categories(&[("yes", 950), ("no", 50)]))]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(check(&report, "c").drift, None);
    assert_eq!(
        check(&report, "c").notes,
        ["fewer than 2 categories are left after merging the small ones (2 before), so there is no chi-squared test"]
    );
    assert!(report.violations.is_empty());
}

#[test]
fn categorical_drift_needs_a_current_histogram() {
    let (statistics, constraints) = baseline(&[("c", categories(&[("a", 5), ("b", 5)]))]);
    let current = profile(&[("c", present((0..200).map(|i| format!("v{i}"))))]);
    let report = run_checks(&statistics, &constraints, &current);
    let c = check(&report, "c");
    assert_eq!(c.drift, None);
    assert_eq!(
        c.notes,
        [
            "the current data has more than 120 distinct values, so there is no categorical distance",
            "the current data has more than 120 distinct values and no domain tally, so the baseline domain was \
             not checked"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// categorical_values_check

#[test]
fn domain_violation_lists_values_outside() {
    let domain: &[&str] = &["basic", "premium", "gold"];
    let (statistics, mut constraints) =
        baseline(&[("plan", categories(&[("basic", 600), ("premium", 300), ("gold", 100)]))]);
    let mut values = categories(&[("basic", 575), ("premium", 300), ("gold", 100)]);
    // 25 outsiders, "platinum" seen first.
    values.splice(10..10, categories(&[("platinum", 20), ("diamond", 5)]));
    let current = profile_with_domains(&[("plan", domain)], &[("plan", values)]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(
        descriptions(&report, CheckType::CategoricalValuesCheck),
        [
            "Categorical value requirement is not met. Expected: 100.0% of values in the baseline domain. \
          Observed: only 97.5% (25 of 1000 values outside it, e.g. \"platinum\", \"diamond\")."
        ]
    );
    assert_eq!(
        check(&report, "plan").domain_compliance,
        Some(Measure {
            value: 0.975,
            threshold: 1.0,
            met: false
        })
    );

    // Exactly at the threshold: no violation.
    constraints.monitoring_config.domain_content_threshold = 0.975;
    let report = run_checks(&statistics, &constraints, &current);
    assert!(descriptions(&report, CheckType::CategoricalValuesCheck).is_empty());
}

// ---------------------------------------------------------------------------------------------
// evaluate_constraints and emit_metrics

#[test]
fn evaluate_constraints_disabled_globally_reports_nothing_but_measures() {
    let (statistics, mut constraints) = baseline(&three_columns());
    constraints.monitoring_config.evaluate_constraints = Toggle::Disabled;
    let current = profile(&[("a", vec![Some("x".into()), None]), ("d", present(["p", "q"]))]);
    let report = run_checks(&statistics, &constraints, &current);
    assert!(report.violations.is_empty());
    assert_eq!(
        report.exit_message(),
        "Completed: Job completed successfully with no violations."
    );
    let a = check(&report, "a");
    assert!(!a.evaluated);
    assert_eq!(a.type_match.map(|m| m.met), Some(false));
    assert_eq!(a.completeness.map(|m| m.value), Some(0.5));
    assert!(report.features.iter().all(|f| f.violations.is_empty()));
    assert!(
        metric(&report, "feature_non_null_a").is_some(),
        "metrics do not depend on evaluation"
    );
}

#[test]
fn evaluate_constraints_disabled_per_feature_in_both_places() {
    let constraints = Constraints::from_json_slice(
        br#"{
          "features": [
            {"name": "a", "inferred_type": "Integral", "completeness": 1.0,
             "monitoringConfigOverrides": {"evaluate_constraints": "Disabled"}},
            {"name": "b", "inferred_type": "String", "completeness": 1.0,
             "string_constraints": {"domains": ["x"],
               "monitoring_config_overrides": {"evaluate_constraints": "Disabled"}}},
            {"name": "c", "inferred_type": "Integral", "completeness": 1.0}
          ]
        }"#,
        "constraints.json",
    )
    .unwrap();
    // a is missing; b is incomplete and outside its domain; c is incomplete. The baseline
    // statistics know none of them, so there is no drift to compute either.
    let statistics = profile(&[]).to_statistics();
    let current = profile(&[("b", vec![Some("y".into()), None]), ("c", vec![Some("1".into()), None])]);
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(kinds(&report), vec![("c", CheckType::CompletenessCheck)]);
    assert_eq!(check(&report, "b").domain_compliance.map(|m| m.value), Some(0.0));
    assert!(!check(&report, "a").evaluated && !check(&report, "b").evaluated);
    assert!(check(&report, "c").evaluated);
}

#[test]
fn feature_override_cannot_reenable_what_is_disabled_globally() {
    let (statistics, mut constraints) = baseline(&[("a", present(1..=4))]);
    constraints.monitoring_config.evaluate_constraints = Toggle::Disabled;
    constraints.monitoring_config.emit_metrics = Toggle::Disabled;
    set_overrides(
        &mut constraints,
        "a",
        MonitoringConfigOverrides {
            evaluate_constraints: Some(Toggle::Enabled),
            emit_metrics: Some(Toggle::Enabled),
            ..MonitoringConfigOverrides::default()
        },
    );
    let report = run_checks(&statistics, &constraints, &profile(&[("a", present(["x"]))]));
    assert!(report.violations.is_empty());
    assert!(report.metrics.is_empty());
}

#[test]
fn emit_metrics_disabled_globally_and_per_feature() {
    let columns = three_columns();
    let (statistics, mut constraints) = baseline(&columns);
    set_overrides(
        &mut constraints,
        "b",
        MonitoringConfigOverrides {
            emit_metrics: Some(Toggle::Disabled),
            ..MonitoringConfigOverrides::default()
        },
    );
    let report = run_checks(&statistics, &constraints, &profile(&columns));
    assert!(report.metrics.iter().all(|m| !m.name.ends_with("_b")));
    assert!(metric(&report, "feature_non_null_a").is_some());
    assert!(metric(&report, "feature_non_null_c").is_some());

    constraints.monitoring_config.emit_metrics = Toggle::Disabled;
    let report = run_checks(&statistics, &constraints, &profile(&columns));
    assert!(report.metrics.is_empty());
}

#[test]
fn metrics_per_feature() {
    let (statistics, constraints) = baseline(&[("n", present(["1", "2", "3.5"])), ("s", present(["x", "y", "x"]))]);
    let current = profile(&[
        ("n", vec![Some("1".into()), Some("2".into()), Some("3.5".into()), None]),
        ("s", present(["x", "y", "x", "x"])),
    ]);
    let report = run_checks(&statistics, &constraints, &current);
    let value = MetricData::Value;
    let expected = vec![
        ("feature_non_null_n", value(0.75)),
        ("feature_null_n", value(1.0)),
        ("feature_integral_counts_n", value(2.0)),
        ("feature_fractional_counts_n", value(1.0)),
        ("feature_string_counts_n", value(0.0)),
        ("feature_boolean_counts_n", value(0.0)),
        ("feature_estimated_unique_values_n", value(3.0)),
        (
            "feature_data_n",
            MetricData::StatisticSet {
                sample_count: 3.0,
                sum: 6.5,
                min: 1.0,
                max: 3.5,
            },
        ),
        // Identical values: 0 apart.
        ("feature_baseline_drift_n", value(0.0)),
        ("feature_non_null_s", value(1.0)),
        ("feature_null_s", value(0.0)),
        ("feature_integral_counts_s", value(0.0)),
        ("feature_fractional_counts_s", value(0.0)),
        ("feature_string_counts_s", value(4.0)),
        ("feature_boolean_counts_s", value(0.0)),
        ("feature_estimated_unique_values_s", value(2.0)),
        // x 2/3 -> 3/4: 1/12 apart, well inside the robust allowance 1.8 * sqrt(7/12).
        ("feature_baseline_drift_s", value(0.0)),
    ];
    let actual: Vec<(&str, MetricData)> = report
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), m.value.clone()))
        .collect();
    assert_eq!(actual, expected);
}

// ---------------------------------------------------------------------------------------------
// Calibration: the robust distance of two samples of one distribution stays far below the
// default threshold at every size, and a real shift is caught.

fn normal_sample(seed: u64, size: usize, shift: f64) -> impl Iterator<Item = f64> {
    let mut rng = SplitMix64::new(seed);
    (0..size).map(move |_| rng.normal() + shift)
}

#[test]
fn same_distribution_shows_no_drift_at_any_size() {
    for (size, seed) in [(1_000, 10), (100_000, 20), (1_000_000, 30)] {
        let (statistics, constraints) = baseline_of(&numbers("x", normal_sample(seed, size, 0.0)));
        let current = numbers("x", normal_sample(seed + 1, size, 0.0));
        let report = run_checks(&statistics, &constraints, &current);
        assert!(report.violations.is_empty(), "n = {size}: {:?}", report.violations);
        let drift = check(&report, "x").drift.clone().unwrap();
        assert_eq!(drift.method, DriftMethod::LinfRobust);
        assert!(drift.value < 0.02, "n = {size}: robust distance {}", drift.value);
    }
}

#[test]
fn half_a_standard_deviation_shift_is_flagged() {
    let (statistics, constraints) = baseline_of(&numbers("x", normal_sample(40, 100_000, 0.0)));
    let current = numbers("x", normal_sample(41, 100_000, 0.5));
    let report = run_checks(&statistics, &constraints, &current);
    assert_eq!(kinds(&report), vec![("x", CheckType::BaselineDriftCheck)]);
    // The true Kolmogorov–Smirnov distance of N(0,1) and N(0.5,1) is 2Φ(0.25) - 1 = 0.1974,
    // less the robust allowance 1.8 * sqrt(2/100000) = 0.0080.
    let value = drift_value(&report, "x").unwrap();
    assert!((value - 0.1894).abs() < 0.01, "robust distance {value}");
}
