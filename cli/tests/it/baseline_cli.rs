//! `modelmon baseline` as a user runs it: exit codes, the files it writes, what it prints.

use std::path::Path;
use std::process::Output;

use crate::common;

use common::{assert_failure, assert_success, modelmon, text, write};
use modelmon_formats::{Constraints, InferredType, Statistics};

fn baseline(dataset: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "baseline",
        "--dataset",
        dataset.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    modelmon(&args)
}

fn read_outputs(output: &Path) -> (Statistics, Constraints) {
    let statistics = std::fs::read(output.join("statistics.json")).expect("statistics.json exists");
    let constraints = std::fs::read(output.join("constraints.json")).expect("constraints.json exists");
    (
        Statistics::from_json_slice(&statistics, "statistics.json").expect("statistics.json parses"),
        Constraints::from_json_slice(&constraints, "constraints.json").expect("constraints.json parses"),
    )
}

#[test]
fn baseline_of_a_small_csv() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(
        &dir.path().join("train.csv"),
        "age,income,city,member\n\
         34,52000.5,Paris,true\n\
         41,,Lyon,false\n\
         29,38000,Paris,true\n\
         this,row,has,too,many\n\
         -3,71000.25,Nice,true\n\
         55,61000,Paris,false\n",
    );
    let out = dir.path().join("out");
    let result = baseline(&data, &out, &[]);
    assert_success(&result);
    let stdout = text(&result.stdout);
    assert!(
        stdout.contains("Records: read 6, analysed 5, rejected 1 (wrong field count 1)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{}:5:", data.display())),
        "the rejected row's file:line\n{stdout}"
    );

    let (statistics, constraints) = read_outputs(&out);
    assert_eq!(statistics.dataset.item_count, 5);
    let names: Vec<&str> = statistics.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["age", "income", "city", "member"]);

    let age = statistics.feature("age").unwrap();
    assert_eq!(age.inferred_type, InferredType::Integral);
    let age = age.numerical_statistics.as_ref().unwrap();
    let ages = [34.0, 41.0, 29.0, -3.0, 55.0];
    let mean = ages.iter().sum::<f64>() / 5.0;
    let std = (ages.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / 5.0).sqrt();
    assert_eq!((age.sum, age.min, age.max), (156.0, -3.0, 55.0));
    assert_eq!(age.mean, mean);
    assert!((age.std_dev - std).abs() <= 1e-12 * std);

    let income = statistics.feature("income").unwrap();
    assert_eq!(income.inferred_type, InferredType::Fractional);
    let income = income.numerical_statistics.as_ref().unwrap();
    assert_eq!((income.common.num_present, income.common.num_missing), (4, 1));
    assert_eq!(income.sum, 52000.5 + 38000.0 + 71000.25 + 61000.0);

    let city = statistics.feature("city").unwrap().string_statistics.as_ref().unwrap();
    assert_eq!(city.distinct_count, 3.0);
    // Booleans are String features in SageMaker's files.
    assert_eq!(
        statistics.feature("member").unwrap().inferred_type,
        InferredType::String
    );

    assert_eq!(
        constraints
            .feature("age")
            .unwrap()
            .num_constraints
            .as_ref()
            .unwrap()
            .is_non_negative,
        Some(false)
    );
    assert_eq!(constraints.feature("income").unwrap().completeness, Some(0.8));
    let mut domain = constraints
        .feature("city")
        .unwrap()
        .string_constraints
        .as_ref()
        .unwrap()
        .domains
        .clone()
        .unwrap();
    domain.sort();
    assert_eq!(domain, ["Lyon", "Nice", "Paris"]);

    // The files are SageMaker's layout, ending with a newline.
    let raw = std::fs::read_to_string(out.join("statistics.json")).unwrap();
    assert!(
        raw.contains("\"item_count\" : 5,") || raw.contains("\"item_count\" : 5\n"),
        "{raw}"
    );
    assert!(raw.ends_with("}\n"));

    // And they are exactly what the engine computes for the same input.
    let profile = modelmon_engine::dataset::profile_dataset(
        &[data],
        modelmon_engine::dataset::DatasetFormat::Csv { header: true },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(raw, profile.to_statistics().to_json());
}

#[test]
fn quiet_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(&dir.path().join("d.csv"), "a\n1\n2\n");
    let out = dir.path().join("out");
    let result = baseline(&data, &out, &["--quiet"]);
    assert_success(&result);
    assert_eq!(text(&result.stdout), "");
    assert_eq!(text(&result.stderr), "");
    assert_eq!(read_outputs(&out).0.dataset.item_count, 2);
}

#[test]
fn missing_path_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere/train.csv");
    let out = dir.path().join("out");
    let stderr = assert_failure(&baseline(&missing, &out, &[]));
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(!out.join("statistics.json").exists(), "nothing written on failure");
    assert!(!out.join("constraints.json").exists(), "nothing written on failure");
}

#[test]
fn all_rejected_dataset_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(&dir.path().join("bad.csv"), "a,b,c\n1,2\n3\n");
    let out = dir.path().join("out");
    let stderr = assert_failure(&baseline(&data, &out, &[]));
    assert!(stderr.contains("no records"), "{stderr}");
    assert!(stderr.contains("read 2, analysed 0, rejected 2"), "{stderr}");
    assert!(stderr.contains("wrong field count 2"), "{stderr}");
    assert!(!out.join("statistics.json").exists());
}

#[test]
fn header_mismatch_fails_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(&dir.path().join("a.csv"), "x,y\n1,2\n");
    let second = write(&dir.path().join("b.csv"), "x,z\n1,2\n");
    let out = dir.path().join("out");
    let result = modelmon(&[
        "baseline",
        "--dataset",
        first.to_str().unwrap(),
        "--dataset",
        second.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    let stderr = assert_failure(&result);
    assert!(stderr.contains(first.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains(second.to_str().unwrap()), "{stderr}");
}

#[test]
fn several_datasets_are_one() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(&dir.path().join("a.csv"), "x,y\n1,p\n2,q\n");
    let second = write(&dir.path().join("b.csv"), "x,y\n3,p\n");
    let out = dir.path().join("out");
    let result = modelmon(&[
        "baseline",
        "--dataset",
        first.to_str().unwrap(),
        "--dataset",
        second.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_success(&result);
    assert!(text(&result.stdout).contains("Records: read 3, analysed 3, rejected 0"));
    let (statistics, _) = read_outputs(&out);
    assert_eq!(statistics.dataset.item_count, 3);
    assert_eq!(
        statistics
            .feature("x")
            .unwrap()
            .numerical_statistics
            .as_ref()
            .unwrap()
            .sum,
        6.0
    );
}

#[test]
fn no_header_names_columns_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(&dir.path().join("d.csv"), "1,a,0.5\n2,b,1.5\n3,a,\n");
    let out = dir.path().join("out");
    assert_success(&baseline(&data, &out, &["--no-header"]));
    let (statistics, constraints) = read_outputs(&out);
    assert_eq!(statistics.dataset.item_count, 3);
    let names: Vec<&str> = statistics.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["_c0", "_c1", "_c2"]);
    let c2 = statistics.feature("_c2").unwrap();
    assert_eq!(c2.inferred_type, InferredType::Fractional);
    assert_eq!(c2.common().unwrap().num_missing, 1);
    assert_eq!(constraints.feature("_c2").unwrap().completeness, Some(2.0 / 3.0));

    // The same file with a header: its first line names the columns.
    let out = dir.path().join("out-header");
    assert_success(&baseline(&data, &out, &["--header"]));
    let (statistics, _) = read_outputs(&out);
    assert_eq!(statistics.dataset.item_count, 2);
    assert_eq!(statistics.features[0].name, "1");
}

#[test]
fn json_lines_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(
        &dir.path().join("d.jsonl"),
        "{\"a\": 1, \"b\": \"x\"}\n{\"a\": 2.5}\n{\"a\": 3, \"b\": \"y\", \"c\": true}\nnot json\n",
    );
    let out = dir.path().join("out");
    let result = baseline(&data, &out, &["--format", "json"]);
    assert_success(&result);
    let stdout = text(&result.stdout);
    assert!(
        stdout.contains("Records: read 4, analysed 3, rejected 1 (malformed JSON 1)"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("{}:4:", data.display())), "{stdout}");
    let (statistics, constraints) = read_outputs(&out);
    assert_eq!(statistics.dataset.item_count, 3);
    let names: Vec<&str> = statistics.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let a = statistics.feature("a").unwrap();
    assert_eq!(a.inferred_type, InferredType::Fractional);
    assert_eq!(a.numerical_statistics.as_ref().unwrap().sum, 6.5);
    assert_eq!(statistics.feature("b").unwrap().common().unwrap().num_missing, 1);
    assert_eq!(statistics.feature("c").unwrap().common().unwrap().num_missing, 2);
    assert_eq!(constraints.feature("c").unwrap().completeness, Some(1.0 / 3.0));
}
