//! Bad input: every record is either analysed or rejected with its reason and `file:line`, and
//! every fatal problem is an error naming the file (and line). Nothing panics, nothing is lost.

use crate::common;

use common::write;
use std::path::{Path, PathBuf};

use modelmon_engine::dataset::{profile_dataset, DatasetFormat};
use modelmon_engine::profile::{DatasetProfile, RejectReason};
use modelmon_engine::EngineError;
use modelmon_formats::{InferredType, Statistics};

const CSV: DatasetFormat = DatasetFormat::Csv { header: true };
const JSON: DatasetFormat = DatasetFormat::JsonLines;

fn run(paths: &[PathBuf], format: DatasetFormat) -> Result<DatasetProfile, EngineError> {
    profile_dataset(paths, format, &mut |_| {})
}

/// Profiles successfully and checks that every record read is accounted for.
fn profile_ok(paths: &[PathBuf], format: DatasetFormat) -> DatasetProfile {
    let profile = run(paths, format).unwrap_or_else(|e| panic!("profiling failed: {e}"));
    let records = &profile.records;
    assert_eq!(
        records.read,
        records.analysed + records.rejected_total(),
        "read = analysed + rejected: {records:?}"
    );
    assert_eq!(profile.item_count(), records.analysed);
    profile
}

fn examples_of(profile: &DatasetProfile, reason: RejectReason) -> &[String] {
    profile
        .records
        .rejected
        .get(&reason)
        .map_or(&[], |r| r.examples.as_slice())
}

fn rejected(profile: &DatasetProfile, reason: RejectReason) -> u64 {
    profile.records.rejected.get(&reason).map_or(0, |r| r.count)
}

fn names(stats: &Statistics) -> Vec<&str> {
    stats.features.iter().map(|f| f.name.as_str()).collect()
}

/// `path:line:` as rejection examples start.
fn at(path: &Path, line: u64) -> String {
    format!("{}:{line}:", path.display())
}

fn assert_example(examples: &[String], path: &Path, line: u64, contains: &str) {
    let prefix = at(path, line);
    assert!(
        examples.iter().any(|e| e.starts_with(&prefix) && e.contains(contains)),
        "no example starting with {prefix:?} containing {contains:?} in {examples:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// CSV

#[test]
fn ragged_rows_are_rejected_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir.path().join("ragged.csv"),
        "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n\"multi\nline\",13,14\n15\n",
    );
    let profile = profile_ok(std::slice::from_ref(&path), CSV);
    assert_eq!(profile.records.read, 6);
    assert_eq!(profile.records.analysed, 3);
    assert_eq!(rejected(&profile, RejectReason::WrongFieldCount), 3);
    assert_eq!(profile.records.rejected.len(), 1, "one reason only");
    let examples = examples_of(&profile, RejectReason::WrongFieldCount);
    assert_example(examples, &path, 3, "expected 3 fields, found 2");
    assert_example(examples, &path, 4, "expected 3 fields, found 4");
    // Lines count physical lines: the quoted field spans lines 6 and 7, so `15` is on line 8.
    assert_example(examples, &path, 8, "expected 3 fields, found 1");

    let stats = profile.to_statistics();
    assert_eq!(stats.dataset.item_count, 3);
    let a = stats.feature("a").unwrap();
    assert_eq!(a.inferred_type, InferredType::String, "`multi\\nline` is text");
    let b = stats.feature("b").unwrap().numerical_statistics.as_ref().unwrap();
    assert_eq!((b.sum, b.common.num_present), (2.0 + 11.0 + 13.0, 3));
}

#[test]
fn unclosed_quote_that_breaks_the_field_count_is_rejected_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    // The quote opened on line 3 runs to the end of the file: one record of 2 fields.
    let path = write(
        &dir.path().join("unclosed.csv"),
        "a,b,c\n1,2,3\n4,\"oops,6\n7,8,9\n10,11,12\n",
    );
    let profile = profile_ok(std::slice::from_ref(&path), CSV);
    assert_eq!(profile.records.read, 2);
    assert_eq!(profile.records.analysed, 1);
    // The precise reason wins over the field count it also breaks.
    assert_eq!(rejected(&profile, RejectReason::UnclosedQuote), 1);
    assert_example(
        examples_of(&profile, RejectReason::UnclosedQuote),
        &path,
        3,
        "is never closed",
    );
}

#[test]
fn unclosed_quote_in_the_last_field_is_not_silently_analysed() {
    let dir = tempfile::tempdir().unwrap();
    // The quote opened on line 3 swallows lines 4 and 5 into the last field: the field count
    // still matches, so nothing but the quote tells that three records became one.
    let path = write(&dir.path().join("unclosed.csv"), "a,b\n1,2\n3,\"oops\n5,6\n7,8\n");
    let profile = profile_ok(std::slice::from_ref(&path), CSV);
    assert_eq!(
        profile.records.analysed, 1,
        "only line 2 is a sound record: {:?}",
        profile.records
    );
    assert_eq!(profile.records.rejected_total(), 1, "{:?}", profile.records);
    let all: Vec<String> = profile
        .records
        .rejected
        .values()
        .flat_map(|r| r.examples.clone())
        .collect();
    assert_example(&all, &path, 3, "quote");
}

#[test]
fn invalid_utf8_field_is_rejected_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir.path().join("latin1.csv"),
        b"a,name\n1,ok\n2,caf\xe9\n3,fine\n4,\xff\xfe\n".as_slice(),
    );
    let profile = profile_ok(std::slice::from_ref(&path), CSV);
    assert_eq!(profile.records.read, 4);
    assert_eq!(profile.records.analysed, 2);
    assert_eq!(rejected(&profile, RejectReason::InvalidUtf8), 2);
    let examples = examples_of(&profile, RejectReason::InvalidUtf8);
    assert_example(examples, &path, 3, "field `name`");
    assert_example(examples, &path, 5, "field `name`");
    let stats = profile.to_statistics();
    let a = stats.feature("a").unwrap().numerical_statistics.as_ref().unwrap();
    assert_eq!((a.sum, a.min, a.max), (4.0, 1.0, 3.0), "rows 1 and 3 only");

    // Without a header the field is named by position.
    let path = write(&dir.path().join("latin1-no-header.csv"), b"1,ok\n2,\xe9\n".as_slice());
    let profile = profile_ok(std::slice::from_ref(&path), DatasetFormat::Csv { header: false });
    assert_eq!((profile.records.read, profile.records.analysed), (2, 1));
    assert_example(
        examples_of(&profile, RejectReason::InvalidUtf8),
        &path,
        2,
        "field `_c1`",
    );
}

#[test]
fn invalid_utf8_in_the_header_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir.path().join("header.csv"), b"a,caf\xe9\n1,2\n".as_slice());
    let err = run(std::slice::from_ref(&path), CSV).unwrap_err();
    assert!(
        matches!(&err, EngineError::Csv { path: p, line: 1, .. } if *p == path),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&format!("{}: line 1:", path.display())),
        "{err}"
    );
}

#[test]
fn empty_files_are_listed_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [
        ("empty.csv", CSV),
        ("empty-no-header.csv", DatasetFormat::Csv { header: false }),
        ("empty.jsonl", JSON),
        ("empty.parquet", DatasetFormat::Parquet),
    ] {
        let path = write(&dir.path().join(name), b"");
        let profile = profile_ok(std::slice::from_ref(&path), format);
        assert_eq!(profile.records.read, 0, "{name}");
        assert_eq!(profile.records.empty_files, [path.display().to_string()], "{name}");
        assert!(profile.columns.is_empty(), "{name}");
    }

    // An empty file among others: the others are read as usual.
    let empty = write(&dir.path().join("set/a.csv"), b"");
    write(&dir.path().join("set/b.csv"), "x,y\n1,2\n3,4\n");
    let profile = profile_ok(&[dir.path().join("set")], CSV);
    assert_eq!((profile.records.read, profile.records.analysed), (2, 2));
    assert_eq!(profile.records.empty_files, [empty.display().to_string()]);
    assert_eq!(names(&profile.to_statistics()), ["x", "y"]);
}

#[test]
fn header_only_file_has_columns_and_no_records() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("with-newline.csv", "a,b\n"), ("without-newline.csv", "a,b")] {
        let path = write(&dir.path().join(name), text);
        let profile = profile_ok(&[path], CSV);
        assert_eq!(profile.records.read, 0, "{name}");
        assert!(profile.records.empty_files.is_empty(), "{name}: not an empty file");
        let stats = profile.to_statistics();
        assert_eq!(stats.dataset.item_count, 0);
        assert_eq!(names(&stats), ["a", "b"], "{name}");
        for feature in &stats.features {
            assert_eq!(feature.inferred_type, InferredType::Unknown, "{name}: no values");
            assert_eq!(feature.common().unwrap().num_present, 0);
        }
    }
}

#[test]
fn missing_path_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(&dir.path().join("good.csv"), "a\n1\n");
    let missing = dir.path().join("no/such/file.csv");
    let err = run(&[good, missing.clone()], CSV).unwrap_err();
    assert!(
        matches!(&err, EngineError::MissingPath { path } if *path == missing),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: no such file or directory", missing.display())
    );
}

#[test]
fn directory_without_data_files_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let markers = dir.path().join("markers");
    write(&markers.join("_SUCCESS"), "");
    write(&markers.join(".hidden.csv"), "a\n1\n");
    std::fs::create_dir_all(markers.join("sub/deeper")).unwrap();
    for path in [empty, markers] {
        let err = run(std::slice::from_ref(&path), CSV).unwrap_err();
        assert!(
            matches!(&err, EngineError::NoDataFiles { path: p, .. } if *p == path),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{}: no data files", path.display())),
            "{text}"
        );
        assert!(text.contains("CSV"), "{text}");
    }
}

#[test]
fn files_with_different_headers_are_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(&dir.path().join("data/1.csv"), "a,b\n1,2\n");
    let second = write(&dir.path().join("data/2.csv"), "a,c\n3,4\n");
    let err = run(&[dir.path().join("data")], CSV).unwrap_err();
    match &err {
        EngineError::HeaderMismatch {
            path,
            first_path,
            expected,
            found,
        } => {
            assert_eq!((path, first_path), (&second, &first));
            assert_eq!(
                (expected.as_slice(), found.as_slice()),
                (
                    ["a", "b"].map(String::from).as_slice(),
                    ["a", "c"].map(String::from).as_slice()
                )
            );
        }
        other => panic!("expected HeaderMismatch, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&second.display().to_string()), "{text}");
    assert!(text.contains(&first.display().to_string()), "{text}");

    // The same columns in another order are a different header too.
    write(&dir.path().join("data/2.csv"), "b,a\n3,4\n");
    assert!(matches!(
        run(&[dir.path().join("data")], CSV),
        Err(EngineError::HeaderMismatch { .. })
    ));
}

#[test]
fn duplicate_header_name_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir.path().join("dup.csv"), "id,price,id\n1,2,3\n");
    let err = run(std::slice::from_ref(&path), CSV).unwrap_err();
    assert!(
        matches!(&err, EngineError::DuplicateColumn { path: p, name } if *p == path && name == "id"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("`id`"),
        "{text}"
    );
}

#[test]
fn utf8_bom_is_not_part_of_the_first_column_name() {
    // Spreadsheet exports often start with a byte-order mark.
    let dir = tempfile::tempdir().unwrap();
    let with_bom = write(&dir.path().join("data/1.csv"), "\u{feff}id,name\n1,a\n");
    let without = write(&dir.path().join("data/2.csv"), "id,name\n2,b\n");
    let profile = profile_ok(&[with_bom, without], CSV);
    assert_eq!(names(&profile.to_statistics()), ["id", "name"]);
    assert_eq!(profile.records.analysed, 2);
}

#[test]
fn huge_field_is_profiled() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "x".repeat(1 << 20);
    let path = write(
        &dir.path().join("huge.csv"),
        format!("id,text\n1,{huge}\n2,small\n3,\"{huge}\"\n"),
    );
    let profile = profile_ok(&[path], CSV);
    assert_eq!((profile.records.read, profile.records.analysed), (3, 3));
    let stats = profile.to_statistics();
    let text = stats.feature("text").unwrap().string_statistics.as_ref().unwrap();
    assert_eq!(text.distinct_count, 2.0);
    let buckets = &text
        .distribution
        .as_ref()
        .unwrap()
        .categorical
        .as_ref()
        .unwrap()
        .buckets;
    let big = buckets
        .iter()
        .find(|b| b.value.len() == 1 << 20)
        .expect("the huge value");
    assert_eq!(big.count, 2);

    let path = write(
        &dir.path().join("huge.jsonl"),
        format!("{{\"text\": \"{huge}\"}}\n{{\"text\": \"small\"}}\n"),
    );
    let profile = profile_ok(&[path], JSON);
    assert_eq!((profile.records.read, profile.records.analysed), (2, 2));
}

#[test]
fn number_too_long_for_f64_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let digits = format!("9{}", "0".repeat(399));
    assert_eq!(digits.len(), 400);
    let fraction = format!("{digits}.5");
    let path = write(
        &dir.path().join("long.csv"),
        format!("a,b\n{digits},{fraction}\n5,1.5\n"),
    );
    let profile = profile_ok(&[path], CSV);
    assert_eq!((profile.records.read, profile.records.analysed), (2, 2));
    let stats = profile.to_statistics();
    for name in ["a", "b"] {
        let feature = stats.feature(name).unwrap();
        assert_eq!(feature.common().unwrap().num_present, 2, "{name}");
        // An infinite value cannot enter moments or sketches: the column is taken as text.
        assert_eq!(feature.inferred_type, InferredType::String, "{name}");
    }
    // The written file stays valid JSON (no Infinity).
    let json = stats.to_json();
    assert!(Statistics::from_json_slice(json.as_bytes(), "stats").is_ok());

    // As a JSON number it cannot be parsed: the record is rejected with its line, not a panic.
    let path = write(
        &dir.path().join("long.jsonl"),
        format!("{{\"a\": 1}}\n{{\"a\": {digits}}}\n{{\"a\": 2}}\n"),
    );
    let profile = profile_ok(std::slice::from_ref(&path), JSON);
    assert_eq!((profile.records.read, profile.records.analysed), (3, 2));
    assert_example(examples_of(&profile, RejectReason::MalformedJson), &path, 2, "");
}

/// Found by fuzzing (fuzz/, target `dataset_csv`): finite numbers near `f64::MAX` are profiled
/// and every record is accounted for.
#[test]
fn numbers_near_f64_max_are_profiled() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir.path().join("huge.csv"), "x\n1e308\n0\n-1e308\n");
    let profile = profile_ok(&[path], CSV);
    assert_eq!((profile.records.read, profile.records.analysed), (3, 3));
    let stats = profile.to_statistics();
    assert_eq!(stats.feature("x").unwrap().inferred_type, InferredType::Fractional);
    assert!(!stats.to_json().is_empty());
}

/// Found by fuzzing (fuzz/, target `dataset_csv`): the squared deviations of finite values near
/// `f64::MAX` overflow (the standard deviation, Welford's `delta * delta`), and so do the KLL
/// bucket bounds; the writer writes those infinities as `null`, which the reader refused, so such
/// a baseline could not be read back. The reader now takes `null` doubles as NaN.
#[test]
fn statistics_of_numbers_near_f64_max_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir.path().join("huge.csv"), "x\n1e308\n0\n-1e308\n");
    let json = profile_ok(&[path], CSV).to_statistics().to_json();
    let statistics = match Statistics::from_json_slice(json.as_bytes(), "statistics.json") {
        Ok(statistics) => statistics,
        Err(err) => panic!("the statistics written do not read back: {err}\n{json}"),
    };
    let numbers = statistics.features[0].numerical_statistics.as_ref().unwrap();
    // The finite numbers stay exact; what overflowed is written as null and reads back as NaN.
    assert_eq!((numbers.min, numbers.max, numbers.sum), (-1e308, 1e308, 0.0));
    assert!(numbers.std_dev.is_nan(), "{json}");
}

// ---------------------------------------------------------------------------------------------
// JSON Lines

#[test]
fn bad_json_lines_are_rejected_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let lines: [&[u8]; 14] = [
        br#"{"a": 1, "b": "x"}"#,  // 1 ok
        br#"{"a": 2,}"#,           // 2 malformed
        br#"[1, 2]"#,              // 3 an array
        b"",                       // 4 blank: skipped
        br#"{"a": {"b": 1}}"#,     // 5 nested object
        b"   \t ",                 // 6 blank: skipped
        br#"{"a": 3, "c": [1]}"#,  // 7 nested array
        b"42",                     // 8 a number, not an object
        br#"{"a": 4}"#,            // 9 ok
        b"{\"a\": \"caf\xe9\"}",   // 10 invalid UTF-8
        br#"{"a": 5"#,             // 11 truncated
        br#""just a string""#,     // 12 a string
        br#"null"#,                // 13 null
        br#"{"a": 6, "b": null}"#, // 14 ok, no trailing newline
    ];
    let path = write(&dir.path().join("bad.jsonl"), lines.join(&b'\n'));
    let profile = profile_ok(std::slice::from_ref(&path), JSON);
    assert_eq!(profile.records.read, 12, "blank lines are not records");
    assert_eq!(profile.records.analysed, 3);
    assert_eq!(rejected(&profile, RejectReason::MalformedJson), 6);
    assert_eq!(rejected(&profile, RejectReason::NestedValue), 2);
    assert_eq!(rejected(&profile, RejectReason::InvalidUtf8), 1);

    // Five examples are kept per reason: the first five malformed lines.
    let malformed = examples_of(&profile, RejectReason::MalformedJson);
    assert_eq!(malformed.len(), 5);
    for line in [2, 3, 8, 11, 12] {
        assert_example(malformed, &path, line, "");
    }
    let nested = examples_of(&profile, RejectReason::NestedValue);
    assert_example(nested, &path, 5, "field `a` holds an object");
    assert_example(nested, &path, 7, "field `c` holds an array");
    assert_example(examples_of(&profile, RejectReason::InvalidUtf8), &path, 10, "UTF-8");

    // A rejected record leaves no trace: `c` appears only in the rejected line 7.
    let stats = profile.to_statistics();
    assert_eq!(names(&stats), ["a", "b"]);
    let a = stats.feature("a").unwrap().numerical_statistics.as_ref().unwrap();
    assert_eq!((a.common.num_present, a.sum), (3, 1.0 + 4.0 + 6.0));
    let b = stats.feature("b").unwrap();
    assert_eq!(b.common().unwrap().num_present, 1);
    assert_eq!(b.common().unwrap().num_missing, 2);
}

#[test]
fn jsonl_utf8_bom_is_not_a_malformed_first_line() {
    // Editors on Windows save UTF-8 with a byte-order mark; the CSV reader already skips it.
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir.path().join("bom.jsonl"), "\u{feff}{\"a\": 1}\n{\"a\": 2}\n");
    let profile = profile_ok(&[path], JSON);
    assert_eq!(profile.records.rejected_total(), 0, "{:?}", profile.records);
    assert_eq!((profile.records.read, profile.records.analysed), (2, 2));
    let stats = profile.to_statistics();
    assert_eq!(names(&stats), ["a"]);
}

#[test]
fn jsonl_with_crlf_and_blank_lines_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir.path().join("crlf.jsonl"), "{\"a\": 1}\r\n\r\n{\"a\": 2}\r\n");
    let profile = profile_ok(&[path], JSON);
    assert_eq!((profile.records.read, profile.records.analysed), (2, 2));

    let blank = write(&dir.path().join("blank.jsonl"), "\n\n  \n");
    let profile = profile_ok(&[blank], JSON);
    assert_eq!(profile.records.read, 0);
}

// ---------------------------------------------------------------------------------------------
// Parquet

/// What reading a corrupt Parquet file did, if not the expected clean error naming it.
fn parquet_error_problem(path: &Path) -> Option<String> {
    let result = std::panic::catch_unwind(|| run(&[path.to_path_buf()], DatasetFormat::Parquet));
    let shown = path.display();
    let err = match result {
        Ok(Err(err)) => err,
        Ok(Ok(profile)) => return Some(format!("{shown}: a corrupt file was read: {:?}", profile.records)),
        Err(_) => return Some(format!("{shown}: reading a corrupt Parquet file panicked")),
    };
    if !matches!(&err, EngineError::Parquet { path: p, .. } if p == path) {
        return Some(format!(
            "{shown}: expected EngineError::Parquet naming the file, got {err:?}"
        ));
    }
    if !err.to_string().starts_with(&format!("{shown}: ")) {
        return Some(format!("{shown}: the message does not start with the file: {err}"));
    }
    None
}

fn assert_parquet_errors(paths: &[PathBuf]) {
    let problems: Vec<String> = paths.iter().filter_map(|p| parquet_error_problem(p)).collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn corrupt_parquet_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x1234_5678_9abc_def0u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    assert_parquet_errors(&[
        write(&dir.path().join("random.parquet"), &random),
        write(&dir.path().join("csv.parquet"), "a,b\n1,2\n"),
        write(&dir.path().join("short.parquet"), "PAR1"),
    ]);
}

#[test]
fn truncated_parquet_is_an_error_naming_the_file() {
    use polars::prelude::*;

    let mut frame =
        df!("a" => (0..5_000i64).collect::<Vec<_>>(), "b" => (0..5_000).map(|i| format!("s{i}")).collect::<Vec<_>>())
            .unwrap();
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut frame).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The sound file reads; cut it anywhere and it must fail cleanly.
    let sound = write(&dir.path().join("sound.parquet"), &bytes);
    assert_eq!(profile_ok(&[sound], DatasetFormat::Parquet).records.analysed, 5_000);
    // Valid footer, damaged data pages.
    let mut damaged = bytes.clone();
    for byte in &mut damaged[8..bytes.len() / 2] {
        *byte = 0xAB;
    }
    assert_parquet_errors(&[
        write(&dir.path().join("head.parquet"), &bytes[..bytes.len() / 2]),
        // The footer is intact but points at column chunks beyond the end of the file.
        write(&dir.path().join("tail.parquet"), &bytes[bytes.len() / 2..]),
        write(&dir.path().join("damaged.parquet"), &damaged),
    ]);
}

#[test]
fn parquet_without_rows_names_its_columns() {
    use polars::prelude::*;

    let mut frame = df!("x" => Vec::<i64>::new(), "y" => Vec::<String>::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty-rows.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut frame)
        .unwrap();
    let profile = profile_ok(&[path], DatasetFormat::Parquet);
    assert_eq!(profile.records.read, 0);
    assert!(profile.records.empty_files.is_empty());
    assert_eq!(names(&profile.to_statistics()), ["x", "y"]);
}

#[test]
fn parquet_nested_column_is_an_error_naming_file_and_column() {
    use polars::prelude::*;

    let lists = Series::new(
        "tags".into(),
        &[Series::new("".into(), &[1i64, 2]), Series::new("".into(), &[3i64])],
    );
    let mut frame =
        DataFrame::new_infer_height(vec![Column::new("id".into(), &[1i64, 2]), Column::from(lists)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut frame)
        .unwrap();
    let result = std::panic::catch_unwind(|| run(std::slice::from_ref(&path), DatasetFormat::Parquet));
    let err = match result {
        Ok(Err(err)) => err,
        Ok(Ok(profile)) => panic!("a list column was profiled: {:?}", profile.records),
        Err(_) => panic!("reading a list column panicked"),
    };
    assert!(
        matches!(&err, EngineError::Parquet { path: p, .. } if *p == path),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.starts_with(&format!("{}: ", path.display())), "{text}");
    // Where, not only what: the column that cannot be profiled.
    assert!(
        text.contains("tags"),
        "the message should name the column `tags`: {text}"
    );
}
