//! The baseline statistics of generated datasets, checked against values computed here from the
//! generated rows (never from the engine's output): counts, moments, types, histograms, distinct
//! counts, KLL buckets and sketch weights; and the input rules (no header, quoting, directories,
//! several paths, JSON Lines, Parquet).

use crate::common;

use common::{feature, numerical, write};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use modelmon_engine::dataset::{list_data_files, profile_dataset, DatasetFormat};
use modelmon_engine::profile::DatasetProfile;
use modelmon_engine::random::SplitMix64;
use modelmon_engine::suggest::suggest_constraints;
use modelmon_formats::{InferredType, Statistics, StringStatistics};

// ---------------------------------------------------------------------------------------------
// Helpers, all independent of the engine.

fn profile(paths: &[PathBuf], format: DatasetFormat) -> DatasetProfile {
    profile_dataset(paths, format, &mut |_| {}).expect("profiling succeeds")
}

/// The files profiled one by one and merged in order: what a dataset of several files is (each
/// file is a part of its own, so the result does not depend on the threads).
fn merged_in_order(files: &[PathBuf], format: DatasetFormat) -> DatasetProfile {
    let mut merged = DatasetProfile::default();
    for file in files {
        merged.merge(&profile(std::slice::from_ref(file), format)).unwrap();
    }
    merged
}

fn csv_header() -> DatasetFormat {
    DatasetFormat::Csv { header: true }
}

fn strings<'a>(stats: &'a Statistics, name: &str) -> &'a StringStatistics {
    let feature = feature(stats, name);
    feature
        .string_statistics
        .as_ref()
        .unwrap_or_else(|| panic!("`{name}` has no string statistics: {feature:?}"))
}

fn names(stats: &Statistics) -> Vec<&str> {
    stats.features.iter().map(|f| f.name.as_str()).collect()
}

/// The categorical histogram as a map (SageMaker's bucket order is unspecified).
fn histogram(stats: &Statistics, name: &str) -> Option<BTreeMap<String, u64>> {
    let categorical = strings(stats, name).distribution.as_ref()?.categorical.as_ref()?;
    let mut map = BTreeMap::new();
    for bucket in &categorical.buckets {
        assert!(
            map.insert(bucket.value.clone(), bucket.count).is_none(),
            "`{name}`: value {:?} has two buckets",
            bucket.value
        );
    }
    Some(map)
}

fn count_values<'a>(values: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut map = BTreeMap::new();
    for value in values {
        *map.entry(value.to_string()).or_insert(0) += 1;
    }
    map
}

/// Sum with an error term carried along (TwoSum), far more accurate than a plain loop.
fn accurate_sum(values: &[f64]) -> f64 {
    let (mut sum, mut error) = (0.0f64, 0.0f64);
    for &v in values {
        let t = sum + v;
        let bp = t - sum;
        error += (sum - (t - bp)) + (v - bp);
        sum = t;
    }
    sum + error
}

/// Moments by the textbook two-pass method.
struct Moments {
    count: u64,
    sum: f64,
    mean: f64,
    std_dev: f64,
    min: f64,
    max: f64,
}

fn moments(values: &[f64]) -> Moments {
    let n = values.len() as f64;
    let sum = accurate_sum(values);
    let mean = sum / n;
    let squares: Vec<f64> = values.iter().map(|v| (v - mean) * (v - mean)).collect();
    Moments {
        count: values.len() as u64,
        sum,
        mean,
        std_dev: (accurate_sum(&squares) / n).sqrt(),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

fn assert_close(actual: f64, expected: f64, relative: f64, what: &str) {
    let scale = expected.abs().max(f64::MIN_POSITIVE);
    assert!(
        (actual - expected).abs() <= relative * scale,
        "{what}: {actual} vs expected {expected} (relative tolerance {relative})"
    );
}

/// SageMaker's 10 equal-width buckets counted exactly: `[lower, upper)`, the last `[lower, max]`.
fn exact_buckets(values: &[f64], min: f64, max: f64) -> Vec<(f64, f64, f64)> {
    (0..10)
        .map(|i| {
            let lower = min + (max - min) * i as f64 / 10.0;
            let upper = min + (max - min) * (i + 1) as f64 / 10.0;
            let count = values
                .iter()
                .filter(|&&v| v >= lower && if i == 9 { v <= max } else { v < upper })
                .count();
            (lower, upper, count as f64)
        })
        .collect()
}

fn sketch_weight(data: &[Vec<f64>]) -> u64 {
    data.iter()
        .enumerate()
        .map(|(level, items)| items.len() as u64 * (1u64 << level))
        .sum()
}

/// Checks a numeric feature against its values: counts, moments, buckets and sketch.
/// With `exact_sketch`, the column is small enough that the sketch never compacted: bucket
/// counts must be exact and the sketch must hold every value in insertion order.
fn check_numeric(stats: &Statistics, name: &str, values: &[f64], item_count: u64, exact_sketch: bool) {
    let numbers = numerical(stats, name);
    let expected = moments(values);
    assert_eq!(numbers.common.num_present, expected.count, "{name}: num_present");
    assert_eq!(
        numbers.common.num_missing,
        item_count - expected.count,
        "{name}: num_missing"
    );
    assert_close(numbers.sum, expected.sum, 1e-12, &format!("{name}: sum"));
    assert_close(numbers.mean, expected.mean, 1e-12, &format!("{name}: mean"));
    assert_close(numbers.std_dev, expected.std_dev, 1e-10, &format!("{name}: std_dev"));
    assert_eq!(numbers.min, expected.min, "{name}: min");
    assert_eq!(numbers.max, expected.max, "{name}: max");
    assert_eq!(
        numbers.completeness,
        Some(expected.count as f64 / item_count as f64),
        "{name}: completeness"
    );

    let kll = numbers
        .distribution
        .as_ref()
        .and_then(|d| d.kll.as_ref())
        .unwrap_or_else(|| panic!("{name}: no KLL distribution"));
    let sketch = kll.sketch.as_ref().expect("a sketch");
    assert_eq!((sketch.parameters.c, sketch.parameters.k), (0.64, 2048.0), "{name}");
    assert_eq!(sketch_weight(&sketch.data), expected.count, "{name}: sketch weight");

    let buckets = exact_buckets(values, expected.min, expected.max);
    assert_eq!(kll.buckets.len(), 10, "{name}: bucket count");
    let mut total = 0.0;
    for (i, (bucket, &(lower, upper, count))) in kll.buckets.iter().zip(&buckets).enumerate() {
        assert_eq!(bucket.lower_bound, lower, "{name}: bucket {i} lower bound");
        assert_eq!(bucket.upper_bound, upper, "{name}: bucket {i} upper bound");
        if exact_sketch {
            assert_eq!(bucket.count, count, "{name}: bucket {i} [{lower}, {upper}) count");
        } else {
            assert!(
                (bucket.count - count).abs() <= 0.01 * expected.count as f64,
                "{name}: bucket {i} [{lower}, {upper}) count {} vs exact {count}",
                bucket.count
            );
        }
        total += bucket.count;
    }
    assert_eq!(total, expected.count as f64, "{name}: bucket counts sum to num_present");
    if exact_sketch {
        assert_eq!(
            sketch.data,
            vec![values.to_vec()],
            "{name}: uncompacted sketch holds every value"
        );
    } else {
        assert!(sketch.data.len() > 1, "{name}: the sketch should have compacted");
    }
}

fn check_distinct(actual: f64, exact: usize, what: &str) {
    if exact <= 120 {
        assert_eq!(actual, exact as f64, "{what}: distinct count is exact up to 120 values");
    } else {
        assert!(
            (actual - exact as f64).abs() <= 0.02 * exact as f64,
            "{what}: distinct count {actual} vs exact {exact}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The generated dataset.

const COLUMNS: [&str; 6] = ["id", "price", "category", "user", "flag", "mixed"];

/// One generated table, as the CSV text and the fields (`None` = empty field).
struct Table {
    csv: String,
    rows: Vec<[Option<String>; 6]>,
}

impl Table {
    fn column(&self, index: usize) -> Vec<Option<&str>> {
        self.rows.iter().map(|row| row[index].as_deref()).collect()
    }

    fn present(&self, index: usize) -> Vec<&str> {
        self.column(index).into_iter().flatten().collect()
    }

    fn numbers(&self, index: usize) -> Vec<f64> {
        self.present(index)
            .into_iter()
            .map(|text| text.parse::<f64>().expect("a number"))
            .collect()
    }
}

/// `n` rows: `id` Integral (negative too), `price` Fractional with ~10% empty and some integer
/// and exponent forms, `category` 37 skewed categories with ~5% empty, `user` high-cardinality,
/// `flag` true/false, `mixed` small integers and one text value (so String).
fn generate(n: usize, seed: u64) -> Table {
    let mut rng = SplitMix64::new(seed);
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let id = rng.below(20_001) as i64 - 5_000;
        let price = match rng.below(20) {
            0 | 1 => None,
            2 => Some(format!("{}", rng.below(500))),
            3 => Some(format!("{}.{}e{}", rng.below(9) + 1, rng.below(10), rng.below(3))),
            _ => {
                let thousandths = (rng.uniform() * rng.uniform() * 1_000_000.0) as u64;
                Some(format!("{}.{:03}", thousandths / 1000, thousandths % 1000))
            }
        };
        let category = if rng.below(20) == 0 {
            None
        } else {
            Some(format!("cat{:02}", rng.below(37).min(rng.below(37))))
        };
        let user = format!("user-{}", rng.below(1_000_000));
        let flag = if rng.below(3) == 0 { "true" } else { "false" };
        let mixed = if i == n / 2 {
            "n/a".to_string()
        } else {
            rng.below(60).to_string()
        };
        rows.push([
            Some(id.to_string()),
            price,
            category,
            Some(user),
            Some(flag.to_string()),
            Some(mixed),
        ]);
    }
    let mut csv = COLUMNS.join(",") + "\n";
    for row in &rows {
        let fields: Vec<&str> = row.iter().map(|f| f.as_deref().unwrap_or("")).collect();
        writeln!(csv, "{}", fields.join(",")).unwrap();
    }
    Table { csv, rows }
}

fn check_table(stats: &Statistics, table: &Table, exact_sketch: bool) {
    let n = table.rows.len() as u64;
    assert_eq!(stats.dataset.item_count, n);
    assert_eq!(names(stats), COLUMNS);

    let types: Vec<InferredType> = stats.features.iter().map(|f| f.inferred_type).collect();
    // Deequ: integers only -> Integral; any fraction -> Fractional; any text -> String;
    // true/false only -> Boolean, which SageMaker's files write as String.
    use InferredType::{Fractional, Integral, String as Text};
    assert_eq!(types, [Integral, Fractional, Text, Text, Text, Text]);

    check_numeric(stats, "id", &table.numbers(0), n, exact_sketch);
    check_numeric(stats, "price", &table.numbers(1), n, exact_sketch);
    let ids: HashSet<&str> = table.present(0).into_iter().collect();
    check_distinct(
        numerical(stats, "id").approximate_num_distinct_values.unwrap() as f64,
        ids.len(),
        "id",
    );

    for (index, name) in COLUMNS.iter().enumerate().skip(2) {
        let present = table.present(index);
        let string_stats = strings(stats, name);
        assert_eq!(
            string_stats.common.num_present,
            present.len() as u64,
            "{name}: num_present"
        );
        assert_eq!(
            string_stats.common.num_missing,
            n - present.len() as u64,
            "{name}: num_missing"
        );
        assert_eq!(
            string_stats.completeness,
            Some(present.len() as f64 / n as f64),
            "{name}"
        );
        let counts = count_values(present);
        check_distinct(string_stats.distinct_count, counts.len(), name);
        if counts.len() <= 120 {
            assert_eq!(
                histogram(stats, name).as_ref(),
                Some(&counts),
                "{name}: categorical buckets"
            );
        } else {
            assert_eq!(histogram(stats, name), None, "{name}: no histogram beyond 120 values");
        }
    }
    // The generator's shapes really are what the checks above assume.
    assert!(count_values(table.present(3)).len() > 120);
    assert_eq!(count_values(table.present(4)).len(), 2);
}

#[test]
fn small_csv_is_exact_including_kll_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let table = generate(300, 1);
    let path = write(&dir.path().join("small.csv"), &table.csv);
    let profile = profile(&[path], csv_header());
    assert_eq!((profile.records.read, profile.records.analysed), (300, 300));
    assert_eq!(profile.records.rejected_total(), 0);
    let stats = profile.to_statistics();
    check_table(&stats, &table, true);

    // Suggested constraints follow from the same data.
    let constraints = suggest_constraints(&stats);
    let price_present = table.present(1).len() as f64;
    let price = constraints.feature("price").unwrap();
    assert_eq!(price.completeness, Some(price_present / 300.0));
    let ids = table.numbers(0);
    assert_eq!(
        constraints
            .feature("id")
            .unwrap()
            .num_constraints
            .as_ref()
            .unwrap()
            .is_non_negative,
        Some(ids.iter().all(|&v| v >= 0.0))
    );
    assert_eq!(
        price.num_constraints.as_ref().unwrap().is_non_negative,
        Some(true),
        "prices are never negative"
    );
    for (index, name) in [(2, "category"), (4, "flag"), (5, "mixed")] {
        let domain: HashSet<String> = constraints
            .feature(name)
            .unwrap()
            .string_constraints
            .as_ref()
            .and_then(|s| s.domains.clone())
            .unwrap_or_else(|| panic!("{name}: a domain"))
            .into_iter()
            .collect();
        let values: HashSet<String> = table.present(index).into_iter().map(String::from).collect();
        assert_eq!(domain, values, "{name}: domain");
    }
    assert!(constraints.feature("user").unwrap().string_constraints.is_none());
}

#[test]
fn large_csv_is_exact_where_it_can_be_and_within_sketch_error_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let table = generate(50_000, 2);
    let path = write(&dir.path().join("large.csv"), &table.csv);
    let profile = profile(&[path], csv_header());
    assert_eq!((profile.records.read, profile.records.analysed), (50_000, 50_000));
    check_table(&profile.to_statistics(), &table, false);
}

#[test]
fn no_header_csv_names_columns_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir.path().join("data.csv"), "1,a,2.5\n2,b,\n3,a,0.5\n");
    let stats = profile(&[path], DatasetFormat::Csv { header: false }).to_statistics();
    assert_eq!(names(&stats), ["_c0", "_c1", "_c2"]);
    assert_eq!(stats.dataset.item_count, 3, "the first line is data, not a header");
    let c0 = numerical(&stats, "_c0");
    assert_eq!((c0.sum, c0.min, c0.max), (6.0, 1.0, 3.0));
    assert_eq!(feature(&stats, "_c0").inferred_type, InferredType::Integral);
    assert_eq!(
        histogram(&stats, "_c1"),
        Some(count_values(["a", "b", "a"])),
        "string column"
    );
    let c2 = numerical(&stats, "_c2");
    assert_eq!((c2.common.num_present, c2.common.num_missing), (2, 1));
    assert_eq!(c2.mean, 1.5);
    assert_eq!(feature(&stats, "_c2").inferred_type, InferredType::Fractional);
}

#[test]
fn quoted_fields_keep_commas_newlines_and_escaped_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let expected = ["a, b", "line1\nline2", "say \"hi\"", "plain", "", "x\r\ny"];
    for (file, eol) in [("lf.csv", "\n"), ("crlf.csv", "\r\n")] {
        let text = [
            "id,text,n",
            "1,\"a, b\",10",
            "2,\"line1\nline2\",20",
            "3,\"say \"\"hi\"\"\",30",
            "4,plain,40",
            "5,\"\",50",
            "6,\"x\r\ny\",60",
        ]
        .join(eol)
            + eol;
        let path = write(&dir.path().join(file), text);
        let stats = profile(&[path], csv_header()).to_statistics();
        assert_eq!(stats.dataset.item_count, 6, "{file}");
        assert_eq!(names(&stats), ["id", "text", "n"], "{file}");
        let text_stats = strings(&stats, "text");
        // A quoted empty field is still an empty field: missing.
        assert_eq!(
            (text_stats.common.num_present, text_stats.common.num_missing),
            (5, 1),
            "{file}"
        );
        let present = expected.iter().copied().filter(|v| !v.is_empty());
        assert_eq!(histogram(&stats, "text"), Some(count_values(present)), "{file}");
        let n = numerical(&stats, "n");
        assert_eq!(
            (n.sum, n.min, n.max),
            (210.0, 10.0, 60.0),
            "{file}: the last field has no \\r"
        );
        assert_eq!(feature(&stats, "n").inferred_type, InferredType::Integral, "{file}");
    }
}

/// Splits `table`'s rows into files with the same header.
fn split_csv(table: &Table, cuts: &[usize]) -> Vec<String> {
    let lines: Vec<&str> = table.csv.lines().collect();
    let (header, rows) = lines.split_first().unwrap();
    cuts.windows(2)
        .map(|w| {
            let mut text = format!("{header}\n");
            for row in &rows[w[0]..w[1]] {
                text.push_str(row);
                text.push('\n');
            }
            text
        })
        .collect()
}

#[test]
fn directory_is_read_recursively_in_name_order_skipping_hidden_files() {
    let dir = tempfile::tempdir().unwrap();
    let table = generate(3_000, 3);
    let whole = write(&dir.path().join("whole.csv"), &table.csv);
    let parts = split_csv(&table, &[0, 700, 1_900, 3_000]);

    let data = dir.path().join("data");
    // Name order: "nested" < "part-0001.csv" < "part-0002.csv".
    let first = write(&data.join("nested/part-0003.csv"), &parts[0]);
    let second = write(&data.join("part-0001.csv"), &parts[1]);
    let third = write(&data.join("part-0002.csv"), &parts[2]);
    // These would break the header check or the counts if they were read.
    write(&data.join("_SUCCESS"), "");
    write(&data.join(".part-0001.csv.crc"), [0u8, 159, 146, 150]);
    write(&data.join(".hidden/part-9.csv"), "other,header\n1,2\n");
    write(&data.join("_temporary/0/part-9.csv"), "other,header\n1,2\n");

    let files = list_data_files(std::slice::from_ref(&data), csv_header()).unwrap();
    assert_eq!(files, [first, second, third]);

    let from_dir = profile(&[data], csv_header());
    let from_file = profile(&[whole], csv_header());
    assert_eq!(from_dir.records.read, 3_000);
    assert_eq!(from_dir.records.analysed, 3_000);
    assert!(
        from_dir.records.empty_files.is_empty(),
        "_SUCCESS is skipped, not read as empty"
    );
    // The files in name order, each profiled apart and merged: exactly that, sketches included;
    // the same rows as the whole file, so the same numbers (sketches within their error).
    assert_eq!(
        from_dir.to_statistics(),
        merged_in_order(&files, csv_header()).to_statistics()
    );
    assert_eq!(from_dir.records, from_file.records);
    check_table(&from_dir.to_statistics(), &table, false);
    check_table(&from_file.to_statistics(), &table, false);
}

#[test]
fn several_paths_are_one_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let table = generate(2_000, 4);
    let whole = write(&dir.path().join("whole.csv"), &table.csv);
    let parts = split_csv(&table, &[0, 1, 1_200, 2_000]);
    let a = write(&dir.path().join("z-first.csv"), &parts[0]);
    let b = write(&dir.path().join("more/b.csv"), &parts[1]);
    let c = write(&dir.path().join("a-last.csv"), &parts[2]);
    // The paths' order is kept as given (not sorted); a directory is expanded in place.
    let from_paths = profile(&[a.clone(), dir.path().join("more"), c.clone()], csv_header());
    let from_file = profile(&[whole], csv_header());
    assert_eq!(from_paths.records, from_file.records);
    assert_eq!(
        from_paths.to_statistics(),
        merged_in_order(&[a, b, c], csv_header()).to_statistics()
    );
    // 2,000 values fit the sketch uncompacted: the merge keeps them all, in order.
    check_table(&from_paths.to_statistics(), &table, true);
}

#[test]
fn json_lines_columns_missing_and_types() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"a": 1, "b": "x", "c": 1.5, "e": 1}"#,
        r#"{"a": 2, "b": null, "c": 2, "e": 2.0}"#,
        r#"{"a": 3, "b": "y", "d": "true"}"#,
        r#"{"a": "4", "c": 1e3, "d": "false", "f": true}"#,
        r#"{"b": "x", "c": -0.25, "d": "true", "g": "3.5", "h": "12"}"#,
        r#"{}"#,
    ];
    let path = write(&dir.path().join("data.jsonl"), lines.join("\n") + "\n");
    let profile = profile(&[path], DatasetFormat::JsonLines);
    assert_eq!((profile.records.read, profile.records.analysed), (6, 6));
    let stats = profile.to_statistics();
    // Columns in order of first appearance.
    assert_eq!(names(&stats), ["a", "b", "c", "e", "d", "f", "g", "h"]);
    assert_eq!(stats.dataset.item_count, 6);

    // JSON numbers 1, 2, 3 and the JSON string "4" (typed by its text): Integral.
    let a = numerical(&stats, "a");
    assert_eq!(feature(&stats, "a").inferred_type, InferredType::Integral);
    assert_eq!((a.common.num_present, a.common.num_missing), (4, 2));
    assert_eq!((a.sum, a.mean, a.min, a.max), (10.0, 2.5, 1.0, 4.0));
    assert_close(a.std_dev, 1.25f64.sqrt(), 1e-15, "a: std_dev");

    // null is missing; a key absent from a record is missing.
    let b = strings(&stats, "b");
    assert_eq!((b.common.num_present, b.common.num_missing), (3, 3));
    assert_eq!(histogram(&stats, "b"), Some(count_values(["x", "y", "x"])));

    // 1.5, 2, 1e3, -0.25: a number's form decides; 1e3 is Fractional.
    let c = numerical(&stats, "c");
    assert_eq!(feature(&stats, "c").inferred_type, InferredType::Fractional);
    assert_eq!((c.common.num_present, c.common.num_missing), (4, 2));
    assert_eq!((c.sum, c.min, c.max), (1003.25, -0.25, 1000.0));

    // 1 and 2.0: 2.0 is written as a fraction, so Fractional.
    assert_eq!(feature(&stats, "e").inferred_type, InferredType::Fractional);
    assert_eq!(numerical(&stats, "e").common.num_missing, 4);

    // "true"/"false" strings: Boolean by their text, written as String; first seen in record
    // 3, so the two records before it count as missing.
    assert_eq!(feature(&stats, "d").inferred_type, InferredType::String);
    let d = strings(&stats, "d");
    assert_eq!((d.common.num_present, d.common.num_missing), (3, 3));
    assert_eq!(histogram(&stats, "d"), Some(count_values(["true", "false", "true"])));

    // A JSON boolean.
    assert_eq!(feature(&stats, "f").inferred_type, InferredType::String);
    assert_eq!(histogram(&stats, "f"), Some(count_values(["true"])));

    // JSON strings holding numbers are typed by their text.
    assert_eq!(feature(&stats, "g").inferred_type, InferredType::Fractional);
    assert_eq!(numerical(&stats, "g").sum, 3.5);
    assert_eq!(feature(&stats, "h").inferred_type, InferredType::Integral);
    assert_eq!(numerical(&stats, "h").common.num_missing, 5);
}

#[test]
fn json_lines_numbers_match_csv_numbers() {
    // The same values as JSON numbers and as CSV text give the same moments and buckets.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = SplitMix64::new(5);
    let values: Vec<i64> = (0..500).map(|_| rng.below(1_000) as i64 - 300).collect();
    let jsonl: String = values.iter().map(|v| format!("{{\"v\": {v}}}\n")).collect();
    let csv: String = std::iter::once("v\n".to_string())
        .chain(values.iter().map(|v| format!("{v}\n")))
        .collect();
    let json_stats = profile(&[write(&dir.path().join("v.jsonl"), jsonl)], DatasetFormat::JsonLines).to_statistics();
    let csv_stats = profile(&[write(&dir.path().join("v.csv"), csv)], csv_header()).to_statistics();
    let floats: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    check_numeric(&json_stats, "v", &floats, 500, true);
    check_numeric(&csv_stats, "v", &floats, 500, true);
    assert_eq!(feature(&json_stats, "v").inferred_type, InferredType::Integral);
    assert_eq!(
        json_stats.features[0].numerical_statistics,
        csv_stats.features[0].numerical_statistics
    );
}

#[test]
fn parquet_columns_keep_their_types_and_exact_statistics() {
    use polars::prelude::*;

    const ROWS: usize = 1_000;
    let mut rng = SplitMix64::new(6);
    let ints: Vec<Option<i64>> = (0..ROWS)
        .map(|i| (i % 97 != 5).then(|| rng.below(10_000) as i64 - 2_000))
        .collect();
    let floats: Vec<Option<f64>> = (0..ROWS)
        .map(|i| match i % 50 {
            7 => None,
            8 => Some(f64::NAN),
            _ => Some((rng.uniform() - 0.3) * 1e3),
        })
        .collect();
    let texts: Vec<Option<String>> = (0..ROWS)
        .map(|i| (i % 11 != 3).then(|| format!("s{}", rng.below(25))))
        .collect();
    let bools: Vec<Option<bool>> = (0..ROWS).map(|i| (i % 13 != 0).then(|| rng.below(2) == 0)).collect();
    // Strings holding integers are typed by their text, as Deequ does.
    let numeric_texts: Vec<Option<String>> = (0..ROWS).map(|i| Some((i * 3).to_string())).collect();

    let mut frame = DataFrame::new_infer_height(vec![
        Column::new("i".into(), &ints),
        Column::new("f".into(), &floats),
        Column::new("s".into(), &texts),
        Column::new("b".into(), &bools),
        Column::new("t".into(), &numeric_texts),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.parquet");
    let mut file = std::fs::File::create(&path).unwrap();
    // Several row groups, each read on its own.
    ParquetWriter::new(&mut file)
        .with_row_group_size(Some(256))
        .finish(&mut frame)
        .unwrap();
    drop(file);

    let profile = profile(&[path], DatasetFormat::Parquet);
    assert_eq!(
        (profile.records.read, profile.records.analysed),
        (ROWS as u64, ROWS as u64)
    );
    let stats = profile.to_statistics();
    assert_eq!(names(&stats), ["i", "f", "s", "b", "t"]);
    let types: Vec<InferredType> = stats.features.iter().map(|f| f.inferred_type).collect();
    use InferredType::{Fractional, Integral, String as Text};
    assert_eq!(types, [Integral, Fractional, Text, Text, Integral]);

    let int_values: Vec<f64> = ints.iter().flatten().map(|&v| v as f64).collect();
    check_numeric(&stats, "i", &int_values, ROWS as u64, true);
    // Null and NaN are both missing.
    let float_values: Vec<f64> = floats.iter().flatten().copied().filter(|v| !v.is_nan()).collect();
    assert_eq!(float_values.len(), ROWS - 2 * (ROWS / 50));
    check_numeric(&stats, "f", &float_values, ROWS as u64, true);
    let t_values: Vec<f64> = (0..ROWS).map(|i| (i * 3) as f64).collect();
    check_numeric(&stats, "t", &t_values, ROWS as u64, true);

    let s_values = count_values(texts.iter().flatten().map(String::as_str));
    let s = strings(&stats, "s");
    assert_eq!(s.common.num_present, s_values.values().sum::<u64>());
    assert_eq!(s.common.num_missing, ROWS as u64 - s.common.num_present);
    assert_eq!(histogram(&stats, "s"), Some(s_values.clone()));
    assert_eq!(s.distinct_count, s_values.len() as f64);

    let b_values = count_values(bools.iter().flatten().map(|&b| if b { "true" } else { "false" }));
    assert_eq!(strings(&stats, "b").common.num_missing, (ROWS as u64).div_ceil(13));
    assert_eq!(histogram(&stats, "b"), Some(b_values));
}

#[test]
fn deequ_type_rules_on_single_columns() {
    // Each column's values and the type Deequ's rules give it.
    let cases: [(&[&str], InferredType); 9] = [
        (&["1", "-2", "+3", "- 4"], InferredType::Integral),
        (&["1", "2.5"], InferredType::Fractional),
        (&["1", "1e5"], InferredType::Fractional),
        (&["3.0", "4.0"], InferredType::Fractional),
        (&["1", ".5"], InferredType::String),
        (&["true", "false"], InferredType::String), // Boolean, written as String
        (&["true", "1"], InferredType::String),
        (&["1", "NaN"], InferredType::String),
        (&["1", "5."], InferredType::String),
    ];
    let dir = tempfile::tempdir().unwrap();
    let expected: HashMap<String, InferredType> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| (format!("c{i}"), *kind))
        .collect();
    // One column per case: a JSON Lines file where each record holds one key (JSON strings are
    // typed by their text, like CSV fields).
    let jsonl: String = cases
        .iter()
        .enumerate()
        .flat_map(|(i, (values, _))| values.iter().map(move |v| format!("{{\"c{i}\": \"{v}\"}}\n")))
        .collect();
    let stats = profile(&[write(&dir.path().join("t.jsonl"), jsonl)], DatasetFormat::JsonLines).to_statistics();
    for (name, kind) in &expected {
        assert_eq!(feature(&stats, name).inferred_type, *kind, "column {name}");
    }
    // "- 4" is Integral by Deequ's pattern and counts as -4.
    assert_eq!(numerical(&stats, "c0").sum, 1.0 - 2.0 + 3.0 - 4.0);
}

#[test]
fn json_integer_literal_beyond_64_bits_keeps_its_value() {
    // A known limit, documented in the README: serde_json holds an integer literal beyond 64 bits
    // as an f64, so it is typed Fractional (in CSV the same text is Integral). The value is kept.
    let dir = tempfile::tempdir().unwrap();
    let big = "100000000000000000000";
    let jsonl = write(
        &dir.path().join("big.jsonl"),
        format!("{{\"a\": {big}}}\n{{\"a\": 2}}\n"),
    );
    let csv = write(&dir.path().join("big.csv"), format!("a\n{big}\n2\n"));
    let csv_stats = profile(&[csv], csv_header()).to_statistics();
    assert_eq!(feature(&csv_stats, "a").inferred_type, InferredType::Integral);
    let json_stats = profile(&[jsonl], DatasetFormat::JsonLines).to_statistics();
    assert_eq!(numerical(&json_stats, "a").max, 1e20);
    assert_eq!(numerical(&json_stats, "a").common.num_present, 2);
    assert_eq!(feature(&json_stats, "a").inferred_type, InferredType::Fractional);
}

#[test]
fn progress_reports_are_monotone_and_end_at_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut bytes_total = 0u64;
    for (i, rows) in [150_000usize, 10, 70_000].into_iter().enumerate() {
        let mut text = String::from("a,b\n");
        for r in 0..rows {
            writeln!(text, "{},{}", r % 1000, r % 7).unwrap();
        }
        bytes_total += text.len() as u64;
        paths.push(write(&dir.path().join(format!("{i}.csv")), text));
    }
    let mut reports = Vec::new();
    let profile = profile_dataset(&paths, csv_header(), &mut |p| reports.push(p)).unwrap();
    assert_eq!(profile.records.read, 220_010);
    assert!(
        reports.len() >= 3 + 3,
        "a report per file and every 2^16 records: {reports:?}"
    );
    for pair in reports.windows(2) {
        assert!(pair[0].bytes_done <= pair[1].bytes_done, "{pair:?}");
        assert!(pair[0].records <= pair[1].records, "{pair:?}");
    }
    assert!(reports
        .iter()
        .all(|p| p.bytes_total == bytes_total && p.bytes_done <= bytes_total));
    let last = reports.last().unwrap();
    assert_eq!((last.bytes_done, last.records), (bytes_total, 220_010));
}

#[test]
fn categorical_histogram_up_to_exactly_120_values() {
    let dir = tempfile::tempdir().unwrap();
    // Column `at` has exactly 120 distinct values, each value i appearing i+1 times; `over` is
    // the same with one occurrence of w1 replaced by a 121st value.
    let mut text = String::from("at,over\n");
    let mut at_values = Vec::new();
    let mut over_values = Vec::new();
    for i in 0..120 {
        for _ in 0..=i {
            at_values.push(format!("v{i}"));
            over_values.push(format!("w{i}"));
        }
    }
    over_values[1] = "the 121st".to_string();
    for (a, o) in at_values.iter().zip(&over_values) {
        writeln!(text, "{a},{o}").unwrap();
    }
    let stats = profile(&[write(&dir.path().join("c.csv"), text)], csv_header()).to_statistics();
    let expected = count_values(at_values.iter().map(String::as_str));
    assert_eq!(expected.len(), 120);
    assert_eq!(histogram(&stats, "at"), Some(expected));
    assert_eq!(strings(&stats, "at").distinct_count, 120.0);
    assert_eq!(count_values(over_values.iter().map(String::as_str)).len(), 121);
    assert_eq!(histogram(&stats, "over"), None);
    check_distinct(strings(&stats, "over").distinct_count, 121, "over");
    let constraints = suggest_constraints(&stats);
    assert_eq!(
        constraints
            .feature("at")
            .unwrap()
            .string_constraints
            .as_ref()
            .unwrap()
            .domains
            .as_ref()
            .unwrap()
            .len(),
        120
    );
    assert!(constraints.feature("over").unwrap().string_constraints.is_none());
}
