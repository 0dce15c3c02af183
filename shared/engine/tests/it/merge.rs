//! Profiles of parts of a dataset merge into the profile of the whole: exact for counts, min,
//! max, histograms and record accounts; within rounding for moments; within sketch error for
//! quantiles and distinct counts. Expected values are computed here from the generated rows.

use crate::common;

use common::{feature, numerical, write};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use modelmon_engine::dataset::{profile_dataset, DatasetFormat};
use modelmon_engine::profile::{DatasetProfile, RejectReason};
use modelmon_engine::random::SplitMix64;
use modelmon_formats::{InferredType, Statistics};

fn profile_of(path: &Path, format: DatasetFormat) -> DatasetProfile {
    profile_dataset(&[path.to_path_buf()], format, &mut |_| {}).expect("profiling succeeds")
}

fn histogram(stats: &Statistics, name: &str) -> Option<BTreeMap<String, u64>> {
    let strings = feature(stats, name).string_statistics.as_ref()?;
    let buckets = &strings.distribution.as_ref()?.categorical.as_ref()?.buckets;
    Some(buckets.iter().map(|b| (b.value.clone(), b.count)).collect())
}

fn count_values<'a>(values: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut map = BTreeMap::new();
    for value in values {
        *map.entry(value.to_string()).or_insert(0) += 1;
    }
    map
}

fn assert_relative(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance * expected.abs(),
        "{what}: {actual} vs {expected}"
    );
}

/// Estimated rank (weight of items <= x) read straight from SageMaker's `sketch.data` layout.
fn sketch_rank(data: &[Vec<f64>], x: f64) -> u64 {
    data.iter()
        .enumerate()
        .map(|(level, items)| items.iter().filter(|&&v| v <= x).count() as u64 * (1u64 << level))
        .sum()
}

const COLUMNS: [&str; 6] = ["normal", "count", "heavy", "category", "user", "flag"];
const ROWS: usize = 240_000;

/// Rows of text fields ("" = missing), generated with several shapes:
/// `normal` Fractional, `count` Integral (exponential), `heavy` log-normal with 3% missing,
/// `category` 90 values, `user` high-cardinality, `flag` true/false.
fn generate() -> Vec<[String; 6]> {
    let mut rng = SplitMix64::new(0xC0FFEE);
    (0..ROWS)
        .map(|_| {
            let normal = format!("{:.6}", 100.0 + 50.0 * rng.normal());
            let count = ((-20.0 * rng.open01().ln()) as u64).to_string();
            let heavy = if rng.below(100) < 3 {
                String::new()
            } else {
                format!("{:.4}", (1.5 * rng.normal()).exp())
            };
            let category = format!("c{}", (rng.below(90) * rng.below(90)) / 90);
            let user = format!("u{:x}", rng.below(400_000));
            let flag = (rng.below(4) == 0).to_string();
            [normal, count, heavy, category, user, flag]
        })
        .collect()
}

fn csv_text(header: &str, lines: &[String]) -> String {
    let mut text = format!("{header}\n");
    for line in lines {
        writeln!(text, "{line}").unwrap();
    }
    text
}

#[test]
fn merged_chunk_profiles_equal_the_whole() {
    let rows = generate();
    let mut lines: Vec<String> = rows.iter().map(|r| r.join(",")).collect();
    // Two bad rows, each in a different chunk: the accounts must add up across the merge.
    let bad = [(10_000, "1,2,3"), (200_000, "1,2,3,4,5,6,7")];
    for (at, text) in bad.iter().rev() {
        lines.insert(*at, text.to_string());
    }
    let header = COLUMNS.join(",");
    let dir = tempfile::tempdir().unwrap();
    let format = DatasetFormat::Csv { header: true };
    let whole = profile_of(&write(&dir.path().join("whole.csv"), csv_text(&header, &lines)), format);

    // Uneven chunks, including a one-row chunk and a header-only chunk.
    let cuts = [0, 1, 17, 5_003, 60_000, 60_000, 60_001, 151_234, 199_999, lines.len()];
    let mut merged = DatasetProfile::default();
    let mut chunk_reads = 0;
    for (i, w) in cuts.windows(2).enumerate() {
        let path = write(
            &dir.path().join(format!("chunk-{i}.csv")),
            csv_text(&header, &lines[w[0]..w[1]]),
        );
        let chunk = profile_of(&path, format);
        assert_eq!(chunk.records.read, (w[1] - w[0]) as u64);
        chunk_reads += chunk.records.read;
        merged.merge(&chunk).unwrap();
    }

    // Record accounts add up.
    let n = ROWS as u64;
    assert_eq!(chunk_reads, lines.len() as u64);
    for account in [&merged.records, &whole.records] {
        assert_eq!(account.read, n + 2);
        assert_eq!(account.analysed, n);
        assert_eq!(account.rejected_total(), 2);
        assert_eq!(account.rejected[&RejectReason::WrongFieldCount].count, 2);
        assert_eq!(account.read, account.analysed + account.rejected_total());
    }

    let merged_stats = merged.to_statistics();
    let whole_stats = whole.to_statistics();
    assert_eq!(merged_stats.dataset.item_count, n);
    assert_eq!(whole_stats.dataset.item_count, n);
    let feature_names = |s: &Statistics| s.features.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(feature_names(&merged_stats), COLUMNS);
    assert_eq!(feature_names(&whole_stats), COLUMNS);
    use InferredType::{Fractional, Integral, String as Text};
    for (stats, which) in [(&merged_stats, "merged"), (&whole_stats, "whole")] {
        let types: Vec<InferredType> = stats.features.iter().map(|f| f.inferred_type).collect();
        assert_eq!(types, [Fractional, Integral, Fractional, Text, Text, Text], "{which}");
    }

    // Numeric columns: exact counts and extremes, moments to 1e-9, sketch weight exact, rank
    // error within 1% at the deciles, buckets within 1%.
    for (index, name) in [(0, "normal"), (1, "count"), (2, "heavy")] {
        let mut values: Vec<f64> = rows
            .iter()
            .filter(|r| !r[index].is_empty())
            .map(|r| r[index].parse().unwrap())
            .collect();
        let count = values.len() as u64;
        let sum: f64 = values.iter().sum();
        let mean = sum / count as f64;
        let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count as f64;
        values.sort_unstable_by(f64::total_cmp);
        let (min, max) = (values[0], values[values.len() - 1]);

        let m = numerical(&merged_stats, name);
        let w = numerical(&whole_stats, name);
        for (stats, which) in [(m, "merged"), (w, "whole")] {
            let what = format!("{which} {name}");
            assert_eq!(stats.common.num_present, count, "{what}");
            assert_eq!(stats.common.num_missing, n - count, "{what}");
            assert_eq!((stats.min, stats.max), (min, max), "{what}");
            assert_relative(stats.sum, sum, 1e-9, &format!("{what} sum"));
            assert_relative(stats.mean, mean, 1e-9, &format!("{what} mean"));
            assert_relative(stats.std_dev, variance.sqrt(), 1e-9, &format!("{what} std_dev"));

            let kll = stats.distribution.as_ref().unwrap().kll.as_ref().unwrap();
            let data = &kll.sketch.as_ref().unwrap().data;
            let weight: u64 = data.iter().enumerate().map(|(i, l)| l.len() as u64 * (1 << i)).sum();
            assert_eq!(weight, count, "{what}: sketch weight");
            assert!(data.len() > 3, "{what}: the sketch compacted several times");
            for decile in 1..10 {
                let x = values[(decile * values.len()).div_ceil(10) - 1];
                let true_rank = values.partition_point(|&v| v <= x) as f64;
                let estimate = sketch_rank(data, x) as f64;
                assert!(
                    (estimate - true_rank).abs() <= 0.01 * count as f64,
                    "{what}: decile {decile} at {x}: rank {estimate} vs {true_rank}"
                );
            }
            let mut total = 0.0;
            for (i, bucket) in kll.buckets.iter().enumerate() {
                let lower = min + (max - min) * i as f64 / 10.0;
                let upper = min + (max - min) * (i + 1) as f64 / 10.0;
                assert_eq!((bucket.lower_bound, bucket.upper_bound), (lower, upper), "{what}");
                let from = values.partition_point(|&v| v < lower);
                let to = if i == 9 {
                    values.len()
                } else {
                    values.partition_point(|&v| v < upper)
                };
                let exact = (to - from) as f64;
                assert!(
                    (bucket.count - exact).abs() <= 0.01 * count as f64,
                    "{what}: bucket {i}: {} vs {exact}",
                    bucket.count
                );
                total += bucket.count;
            }
            assert_eq!(total, count as f64, "{what}: bucket counts add up");
        }
        // Merged and whole moments agree more tightly than with the reference.
        assert_relative(m.sum, w.sum, 1e-9, &format!("{name}: merged vs whole sum"));
        assert_relative(m.std_dev, w.std_dev, 1e-9, &format!("{name}: merged vs whole std_dev"));
    }

    // The integer column's distinct values (a few hundred at most): beyond 120, so estimated.
    let counts: HashSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    for stats in [&merged_stats, &whole_stats] {
        let estimate = numerical(stats, "count").approximate_num_distinct_values.unwrap() as f64;
        assert!((estimate - counts.len() as f64).abs() <= 0.02 * counts.len() as f64);
    }

    // String columns: histograms exact; distinct counts exact up to 120 values, within 2% above.
    for (index, name) in [(3, "category"), (4, "user"), (5, "flag")] {
        let exact = count_values(rows.iter().map(|r| r[index].as_str()));
        for (stats, which) in [(&merged_stats, "merged"), (&whole_stats, "whole")] {
            let strings = feature(stats, name).string_statistics.as_ref().unwrap();
            assert_eq!(strings.common.num_present, n, "{which} {name}");
            assert_eq!(strings.common.num_missing, 0, "{which} {name}");
            let distinct = exact.len() as f64;
            if exact.len() <= 120 {
                assert_eq!(histogram(stats, name).as_ref(), Some(&exact), "{which} {name}");
                assert_eq!(strings.distinct_count, distinct, "{which} {name}");
            } else {
                assert_eq!(histogram(stats, name), None, "{which} {name}");
                assert!(
                    (strings.distinct_count - distinct).abs() <= 0.02 * distinct,
                    "{which} {name}: distinct {} vs {distinct}",
                    strings.distinct_count
                );
            }
        }
    }
    assert!(count_values(rows.iter().map(|r| r[4].as_str())).len() > 100_000);
}

#[test]
fn merging_profiles_with_different_columns_counts_missing() {
    let dir = tempfile::tempdir().unwrap();
    // Part A: columns x, y (7 records); part B: x, z (5 records, one z null).
    let a: String = (0..7).map(|i| format!("{{\"x\": {i}, \"y\": \"a{i}\"}}\n")).collect();
    let b: String = (0..5)
        .map(|i| match i {
            2 => "{\"x\": 100, \"z\": null}\n".to_string(),
            _ => format!("{{\"x\": {}, \"z\": {}.5}}\n", 100 + i, i),
        })
        .collect();
    let path_a = write(&dir.path().join("a.jsonl"), a);
    let path_b = write(&dir.path().join("b.jsonl"), b);
    let mut merged = profile_of(&path_a, DatasetFormat::JsonLines);
    merged.merge(&profile_of(&path_b, DatasetFormat::JsonLines)).unwrap();
    let together = profile_dataset(&[path_a, path_b], DatasetFormat::JsonLines, &mut |_| {}).unwrap();

    for (profile, which) in [(&merged, "merged"), (&together, "one dataset")] {
        assert_eq!(profile.records.read, 12, "{which}");
        assert_eq!(profile.records.analysed, 12, "{which}");
        let stats = profile.to_statistics();
        assert_eq!(stats.dataset.item_count, 12);
        let names: Vec<&str> = stats.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["x", "y", "z"], "{which}");

        let x = numerical(&stats, "x");
        assert_eq!((x.common.num_present, x.common.num_missing), (12, 0), "{which}");
        assert_eq!(
            x.sum,
            (0..7).sum::<i32>() as f64 + 100.0 + 101.0 + 100.0 + 103.0 + 104.0
        );
        assert_eq!((x.min, x.max), (0.0, 104.0));

        let y = feature(&stats, "y").string_statistics.as_ref().unwrap();
        assert_eq!(
            (y.common.num_present, y.common.num_missing),
            (7, 5),
            "{which}: y only in A"
        );
        assert_eq!(y.completeness, Some(7.0 / 12.0));

        let z = numerical(&stats, "z");
        assert_eq!(feature(&stats, "z").inferred_type, InferredType::Fractional);
        assert_eq!(
            (z.common.num_present, z.common.num_missing),
            (4, 8),
            "{which}: z only in B"
        );
        assert_eq!(z.sum, 0.5 + 1.5 + 3.5 + 4.5);
        assert_eq!(z.completeness, Some(4.0 / 12.0));
    }
    // Beyond the checks above, the sketches agree exactly (the moments may differ in the last
    // bit: Chan's merge and Welford's update round differently).
    let kll = |p: &DatasetProfile, name: &str| {
        numerical(&p.to_statistics(), name)
            .distribution
            .clone()
            .unwrap()
            .kll
            .unwrap()
    };
    for name in ["x", "z"] {
        assert_eq!(kll(&merged, name), kll(&together, name), "{name}");
    }
}

#[test]
fn merging_csv_parts_with_different_headers_and_types() {
    let dir = tempfile::tempdir().unwrap();
    let format = DatasetFormat::Csv { header: true };
    // `v` is numeric in A and text in B: the merged column is String. `w` is numeric in A and
    // all missing in B: still numeric. `only_b` is new in B.
    let a = write(&dir.path().join("a.csv"), "k,v,w\n1,10,1.5\n2,20,2.5\n3,30,\n");
    let b = write(&dir.path().join("b.csv"), "k,only_b,v,w\n4,x,abc,\n5,y,40,\n");
    let mut merged = profile_of(&a, format);
    merged.merge(&profile_of(&b, format)).unwrap();
    assert_eq!((merged.records.read, merged.records.analysed), (5, 5));
    let stats = merged.to_statistics();
    let names: Vec<&str> = stats.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["k", "v", "w", "only_b"]);

    assert_eq!(numerical(&stats, "k").sum, 15.0);
    assert_eq!(feature(&stats, "k").inferred_type, InferredType::Integral);

    assert_eq!(feature(&stats, "v").inferred_type, InferredType::String);
    assert_eq!(
        histogram(&stats, "v"),
        Some(count_values(["10", "20", "30", "abc", "40"]))
    );

    let w = numerical(&stats, "w");
    assert_eq!(feature(&stats, "w").inferred_type, InferredType::Fractional);
    assert_eq!((w.common.num_present, w.common.num_missing), (2, 3));
    assert_eq!((w.sum, w.mean, w.min, w.max), (4.0, 2.0, 1.5, 2.5));

    let only_b = feature(&stats, "only_b").string_statistics.as_ref().unwrap();
    assert_eq!((only_b.common.num_present, only_b.common.num_missing), (2, 3));
}

#[test]
fn merged_histograms_keep_up_to_120_values_and_give_up_beyond() {
    let dir = tempfile::tempdir().unwrap();
    let format = DatasetFormat::Csv { header: true };
    let part = |name: &str, values: std::ops::Range<u32>| {
        let text: String = std::iter::once("v\n".to_string())
            .chain(values.map(|i| format!("x{i}\n")))
            .collect();
        profile_of(&write(&dir.path().join(name), text), format)
    };
    // 0..70 and 50..120: 120 distinct together, 20 of them in both parts.
    let mut merged = part("a.csv", 0..70);
    merged.merge(&part("b.csv", 50..120)).unwrap();
    let stats = merged.to_statistics();
    let mut expected: BTreeMap<String, u64> = (0..120).map(|i| (format!("x{i}"), 1)).collect();
    for i in 50..70 {
        expected.insert(format!("x{i}"), 2);
    }
    assert_eq!(histogram(&stats, "v"), Some(expected));
    assert_eq!(
        feature(&stats, "v").string_statistics.as_ref().unwrap().distinct_count,
        120.0
    );

    // One more value in a third part: 121 distinct, no histogram, an estimate near 121.
    merged.merge(&part("c.csv", 120..121)).unwrap();
    let stats = merged.to_statistics();
    assert_eq!(histogram(&stats, "v"), None);
    let estimate = feature(&stats, "v").string_statistics.as_ref().unwrap().distinct_count;
    assert!((estimate - 121.0).abs() <= 0.02 * 121.0, "{estimate}");
    assert_eq!(stats.dataset.item_count, 70 + 70 + 1);
}
