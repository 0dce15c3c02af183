//! The formats read tolerantly and write exactly as SageMaker does.

use modelmon_formats::{
    CategoricalDriftMethod, CheckType, ComparisonMethod, ConstraintViolations, Constraints, FormatError, InferredType,
    Statistics, Toggle,
};

const STATISTICS: &str = include_str!("fixtures/statistics.json");
const CONSTRAINTS: &str = include_str!("fixtures/constraints.json");
const LEGACY_CONSTRAINTS: &str = include_str!("fixtures/constraints-legacy.json");
const VIOLATIONS: &str = include_str!("fixtures/constraint_violations.json");

#[test]
fn statistics_round_trip_byte_for_byte() {
    let stats = Statistics::from_json_slice(STATISTICS.as_bytes(), "statistics.json").unwrap();
    assert_eq!(stats.dataset.item_count, 6);
    let price = stats.feature("price").unwrap();
    assert_eq!(price.inferred_type, InferredType::Fractional);
    let numbers = price.numerical_statistics.as_ref().unwrap();
    assert_eq!(numbers.max, 3.8e7);
    assert_eq!(numbers.approximate_num_distinct_values, Some(6));
    let sketch = numbers
        .distribution
        .as_ref()
        .unwrap()
        .kll
        .as_ref()
        .unwrap()
        .sketch
        .as_ref()
        .unwrap();
    assert_eq!(sketch.parameters.k, 2048.0);
    assert_eq!(sketch.data, vec![vec![3.8e7, 1e-4, 2.5, 73738.0], vec![2.0]]);
    let state = stats.feature("state").unwrap().string_statistics.as_ref().unwrap();
    assert_eq!(state.common.num_missing, 1);
    assert_eq!(
        state
            .distribution
            .as_ref()
            .unwrap()
            .categorical
            .as_ref()
            .unwrap()
            .buckets[1]
            .value,
        "Utah"
    );
    assert_eq!(stats.to_json(), STATISTICS);
}

#[test]
fn constraints_round_trip_byte_for_byte() {
    let constraints = Constraints::from_json_slice(CONSTRAINTS.as_bytes(), "constraints.json").unwrap();
    assert_eq!(constraints.features.len(), 2);
    assert_eq!(
        constraints
            .feature("price")
            .unwrap()
            .num_constraints
            .as_ref()
            .unwrap()
            .is_non_negative,
        Some(true)
    );
    assert_eq!(constraints.to_json(), CONSTRAINTS);
}

#[test]
fn violations_round_trip_byte_for_byte() {
    let violations = ConstraintViolations::from_json_slice(VIOLATIONS.as_bytes(), "v.json").unwrap();
    assert_eq!(
        violations.violations[1].constraint_check_type,
        CheckType::BaselineDriftCheck
    );
    assert_eq!(violations.to_json(), VIOLATIONS);
}

#[test]
fn legacy_constraints_read_with_defaults_and_overrides() {
    let constraints = Constraints::from_json_slice(LEGACY_CONSTRAINTS.as_bytes(), "legacy.json").unwrap();
    let config = &constraints.monitoring_config;
    // Missing thresholds take the container's defaults, not the docs' 0.1.
    assert_eq!(config.datatype_check_threshold, 1.0);
    assert_eq!(config.domain_content_threshold, 1.0);
    let distribution = &config.distribution_constraints;
    assert_eq!(
        distribution.perform_comparison,
        Toggle::Disabled,
        "enable_comparisons: false"
    );
    assert_eq!(distribution.comparison_threshold, 1.0);
    assert_eq!(
        distribution.categorical_comparison_threshold, 1.0,
        "falls back to comparison_threshold"
    );
    assert_eq!(distribution.comparison_method, ComparisonMethod::Robust);
    assert_eq!(distribution.categorical_drift_method, CategoricalDriftMethod::LInfinity);

    let message = constraints.feature("message").unwrap().overrides();
    assert_eq!(
        message.evaluate_constraints,
        Some(Toggle::Disabled),
        "SDK spelling inside string_constraints"
    );
    let amount = constraints.feature("amount").unwrap().overrides();
    assert_eq!(
        amount.comparison_threshold,
        Some(0.3),
        "documented monitoringConfigOverrides spelling"
    );
    assert_eq!(
        amount.comparison_method,
        Some(ComparisonMethod::Simple),
        "linf_simple alias"
    );
    assert_eq!(
        constraints.feature("message").unwrap().completeness,
        Some(1.0),
        "integer read as double"
    );
}

#[test]
fn integers_written_as_doubles_are_accepted() {
    let text = r#"{"version": 0, "dataset": {"item_count": 418.0}, "features": [{"name": "a",
        "inferred_type": "Integral", "numerical_statistics": {"common": {"num_present": 4.0, "num_missing": 0},
        "mean": 1, "sum": 4, "std_dev": 0, "min": 1, "max": 1}}]}"#;
    let stats = Statistics::from_json_slice(text.as_bytes(), "s.json").unwrap();
    assert_eq!(stats.dataset.item_count, 418);
    assert_eq!(stats.features[0].common().unwrap().num_present, 4);
}

#[test]
fn errors_name_the_file_line_and_field() {
    let text = "{\n  \"version\": 0,\n  \"dataset\": {\"item_count\": 3},\n  \"features\": [{\"name\": \"a\",\n    \"inferred_type\": \"Complex\"}]\n}";
    let err = Statistics::from_json_slice(text.as_bytes(), "s3://bucket/statistics.json").unwrap_err();
    let FormatError::Parse {
        source_name,
        line,
        field,
        ..
    } = &err
    else {
        panic!("expected a parse error, got {err:?}");
    };
    assert_eq!(source_name, "s3://bucket/statistics.json");
    assert_eq!(*line, 5);
    assert_eq!(field, "features[0].inferred_type");
    let message = err.to_string();
    assert!(message.contains("Complex"), "{message}");

    let fractional_count = r#"{"dataset": {"item_count": 2.5}}"#;
    let err = Statistics::from_json_slice(fractional_count.as_bytes(), "s.json").unwrap_err();
    assert!(err.to_string().contains("dataset.item_count"), "{err}");

    let truncated = r#"{"violations": [{"feature_name": "a""#;
    let err = ConstraintViolations::from_json_slice(truncated.as_bytes(), "v.json").unwrap_err();
    assert!(err.to_string().starts_with("v.json: line 1"), "{err}");
}

#[test]
fn overrides_at_feature_level_win_over_nested_ones() {
    let text = r#"{"features": [{"name": "a", "inferred_type": "String",
        "monitoringConfigOverrides": {"evaluate_constraints": "Enabled"},
        "string_constraints": {"monitoring_config_overrides": {"evaluate_constraints": "Disabled", "emit_metrics": "disabled"}}}]}"#;
    let constraints = Constraints::from_json_slice(text.as_bytes(), "c.json").unwrap();
    let overrides = constraints.features[0].overrides();
    assert_eq!(overrides.evaluate_constraints, Some(Toggle::Enabled));
    assert_eq!(overrides.emit_metrics, Some(Toggle::Disabled));
    assert_eq!(
        constraints.monitoring_config,
        Default::default(),
        "absent monitoring_config takes defaults"
    );
}
