//! `modelmon demo`: the report of its hour of traffic holds exactly the planted changes, and a
//! second run writes the same bytes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use crate::common;

use common::{assert_success, modelmon};
use modelmon_formats::{CheckType, ConstraintViolations, Statistics};

const REPORT_DIR: &str = "reports/churn-endpoint/churn-hourly/2026/11/25/14";

fn demo(output: &Path) -> Output {
    let result = modelmon(&["demo", "--output", output.to_str().unwrap()]);
    assert_success(&result);
    result
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(REPORT_DIR).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_demo_reports_exactly_the_planted_drift_and_reproduces_byte_for_byte() {
    let first = tempfile::tempdir().unwrap();
    let stdout = String::from_utf8(demo(first.path()).stdout).unwrap();

    let violations = ConstraintViolations::from_json_slice(
        &read(first.path(), "constraint_violations.json"),
        "constraint_violations.json",
    )
    .expect("constraint_violations.json parses");
    let found: Vec<(String, CheckType)> = violations
        .violations
        .iter()
        .map(|v| (v.feature_name.clone(), v.constraint_check_type))
        .collect();
    let planted: BTreeSet<(String, CheckType)> = [
        ("age", CheckType::DataTypeCheck),
        ("monthly_charges", CheckType::CompletenessCheck),
        ("total_spend", CheckType::BaselineDriftCheck),
        ("plan", CheckType::BaselineDriftCheck),
    ]
    .into_iter()
    .map(|(f, c)| (f.to_string(), c))
    .collect();
    assert_eq!(found.len(), planted.len(), "no duplicates, nothing else: {found:#?}");
    assert_eq!(found.into_iter().collect::<BTreeSet<_>>(), planted);
    assert!(stdout.contains("4 violations"), "{stdout}");

    let statistics = Statistics::from_json_slice(&read(first.path(), "statistics.json"), "statistics.json")
        .expect("statistics.json parses");
    assert!(statistics.dataset.item_count > 0);

    let second = tempfile::tempdir().unwrap();
    demo(second.path());
    for name in ["statistics.json", "constraint_violations.json"] {
        assert!(
            read(first.path(), name) == read(second.path(), name),
            "{name} differs between two runs"
        );
    }
    for name in ["baseline/statistics.json", "baseline/constraints.json"] {
        let a = std::fs::read(first.path().join(name)).unwrap();
        let b = std::fs::read(second.path().join(name)).unwrap();
        assert!(a == b, "{name} differs between two runs");
    }
}
