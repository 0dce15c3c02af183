//! baseline_drift_check: how far the current distribution of a feature is from the baseline's.
//!
//! Numerical features compare the CDFs of the two KLL sketches (Deequ's
//! `Distance.numericalDistance`); categorical ones compare the category counts, by L-infinity
//! distance or by Pearson's chi-squared test (Deequ's `Distance.categoricalDistance`).

use std::collections::HashMap;

use modelmon_formats::{CategoricalDriftMethod, ComparisonMethod, FeatureStatistics, KllSketchData};

use super::chi_square::chi_squared_p_value;
use super::describe::linf_method;
use super::settings::FeatureSettings;
use super::{CategoryChange, ChiSquaredTest, Drift, DriftKind, DriftMethod};
use crate::profile::{ColumnProfile, NumericSummary};
use crate::sketch::{linf_distance_views, robust_correction, KllSketch};

/// What the drift check made of one feature.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum DriftOutcome {
    /// The baseline has no distribution for this feature, or the current data has no values.
    NotApplicable,
    /// A comparison was expected but could not be made; the reason, for the report.
    Skipped(String),
    Computed(Drift),
}

/// Compares the current column with the baseline feature's distribution, as `settings` say.
pub(super) fn drift(
    baseline: Option<&FeatureStatistics>,
    column: &ColumnProfile,
    settings: &FeatureSettings,
) -> DriftOutcome {
    let Some(baseline) = baseline else {
        return DriftOutcome::NotApplicable;
    };
    if let Some(numbers) = &baseline.numerical_statistics {
        let sketch = numbers
            .distribution
            .as_ref()
            .and_then(|d| d.kll.as_ref())
            .and_then(|kll| kll.sketch.as_ref());
        let Some(sketch) = sketch else {
            return DriftOutcome::Skipped("the baseline statistics have no KLL sketch to compare with".into());
        };
        // Text among the numbers is the data type check's business; the numbers still drift.
        return match column.numeric.count {
            0 => DriftOutcome::NotApplicable,
            _ => numerical(sketch, &column.numeric, settings),
        };
    }
    let buckets = baseline
        .string_statistics
        .as_ref()
        .and_then(|s| s.distribution.as_ref())
        .and_then(|d| d.categorical.as_ref())
        .map(|c| &c.buckets)
        .filter(|buckets| !buckets.is_empty());
    let Some(buckets) = buckets else {
        return DriftOutcome::NotApplicable;
    };
    if column.present() == 0 {
        return DriftOutcome::NotApplicable;
    }
    let Some(current) = column.categories.histogram() else {
        return DriftOutcome::Skipped(format!(
            "the current data has more than {} distinct values, so there is no categorical distance",
            crate::profile::MAX_CATEGORIES
        ));
    };
    let baseline_counts = Counts::from_pairs(buckets.iter().map(|b| (b.value.as_str(), b.count)));
    let current_counts = Counts::from_pairs(current.iter().map(|(value, count)| (value.as_str(), *count)));
    match settings.categorical_drift_method {
        CategoricalDriftMethod::LInfinity => categorical_linf(
            &baseline_counts,
            &current_counts,
            settings.comparison_method,
            settings.categorical_comparison_threshold,
        ),
        CategoricalDriftMethod::ChiSquared => chi_squared(
            &baseline_counts,
            &current_counts,
            settings.categorical_comparison_threshold,
        ),
    }
}

fn numerical(baseline: &KllSketchData, current: &NumericSummary, settings: &FeatureSettings) -> DriftOutcome {
    let baseline = match load_sketch(baseline) {
        Ok(sketch) => sketch,
        Err(reason) => return DriftOutcome::Skipped(reason),
    };
    let (baseline, current) = (baseline.cdf_view(), current.sketch.cdf_view());
    let Some(simple) = linf_distance_views(&baseline, &current) else {
        return DriftOutcome::Skipped("the baseline KLL sketch is empty".into());
    };
    let (n, m) = (baseline.total_weight(), current.total_weight());
    let value = corrected(simple, n, m, settings.comparison_method);
    let threshold = settings.comparison_threshold;
    DriftOutcome::Computed(Drift {
        kind: DriftKind::Numerical,
        method: linf_method(settings.comparison_method),
        value,
        threshold,
        met: value <= threshold,
        baseline_count: n,
        current_count: m,
        baseline_median: baseline.quantile(0.5),
        current_median: current.quantile(0.5),
        largest_change: None,
        chi_squared: None,
    })
}

/// The baseline's sketch from `statistics.json`. Only its CDF matters here, so `k` is not
/// required to be a whole number.
fn load_sketch(data: &KllSketchData) -> Result<KllSketch, String> {
    let k = data.parameters.k;
    let k = if k.is_finite() && k >= 0.0 { k as usize } else { 0 };
    KllSketch::from_levels(data.parameters.c, k, data.data.clone())
        .map_err(|error| format!("the baseline KLL sketch cannot be read: {error}"))
}

/// Deequ's `selectMetrics`: the plain distance, or less the Kolmogorov–Smirnov allowance for
/// samples of sizes `n` and `m`, floored at 0.
fn corrected(simple: f64, n: u64, m: u64, method: ComparisonMethod) -> f64 {
    match method {
        ComparisonMethod::Simple => simple,
        ComparisonMethod::Robust => (simple - robust_correction(n as f64, m as f64)).max(0.0),
    }
}

/// Category counts in first-seen order (baseline buckets are listed most frequent first), so
/// every walk over them, and every tie, resolves the same way on every run.
#[derive(Debug, Default)]
struct Counts<'a> {
    entries: Vec<(&'a str, u64)>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Counts<'a> {
    /// Repeated values (possible in a hand-edited file) add up.
    fn from_pairs(pairs: impl IntoIterator<Item = (&'a str, u64)>) -> Self {
        let mut counts = Counts::default();
        for (value, count) in pairs {
            match counts.index.get(value) {
                Some(&i) => counts.entries[i].1 = counts.entries[i].1.saturating_add(count),
                None => {
                    counts.index.insert(value, counts.entries.len());
                    counts.entries.push((value, count));
                }
            }
        }
        counts
    }

    fn get(&self, value: &str) -> u64 {
        self.index.get(value).map_or(0, |&i| self.entries[i].1)
    }

    fn total(&self) -> u64 {
        self.entries
            .iter()
            .fold(0u64, |sum, (_, count)| sum.saturating_add(*count))
    }
}

/// `max |baseline(k)/n - current(k)/m|` over the union of categories, with the robust
/// correction when `method` is Robust; also the category where the maximum is reached.
fn categorical_linf(baseline: &Counts, current: &Counts, method: ComparisonMethod, threshold: f64) -> DriftOutcome {
    let (n, m) = (baseline.total(), current.total());
    if n == 0 || m == 0 {
        return DriftOutcome::NotApplicable;
    }
    let union = baseline.entries.iter().map(|(value, _)| *value).chain(
        current
            .entries
            .iter()
            .map(|(value, _)| *value)
            .filter(|v| !baseline.index.contains_key(v)),
    );
    let mut simple = 0.0f64;
    let mut largest_change = None;
    for value in union {
        let baseline_share = baseline.get(value) as f64 / n as f64;
        let current_share = current.get(value) as f64 / m as f64;
        let gap = (baseline_share - current_share).abs();
        if largest_change.is_none() || gap > simple {
            simple = gap;
            largest_change = Some(CategoryChange {
                value: value.to_string(),
                baseline_share,
                current_share,
            });
        }
    }
    let value = corrected(simple, n, m, method);
    DriftOutcome::Computed(Drift {
        kind: DriftKind::Categorical,
        method: linf_method(method),
        value,
        threshold,
        met: value <= threshold,
        baseline_count: n,
        current_count: m,
        baseline_median: None,
        current_median: None,
        largest_change,
        chi_squared: None,
    })
}

/// Observed and expected counts of one (possibly merged) category.
#[derive(Debug, Clone, PartialEq)]
struct Cell {
    observed: f64,
    expected: f64,
}

/// Pearson's goodness of fit of the current counts (of baseline categories only) against the
/// baseline's proportions, after Deequ's regrouping of small categories. The p-value is the
/// drift value: a small p-value means the current data is unlikely under the baseline.
fn chi_squared(baseline: &Counts, current: &Counts, threshold: f64) -> DriftOutcome {
    // Categories the baseline never saw have no expected count; Deequ leaves them out.
    let baseline_total = baseline.total();
    let current_total = baseline
        .entries
        .iter()
        .fold(0u64, |sum, (value, _)| sum.saturating_add(current.get(value)));
    if baseline_total == 0 {
        return DriftOutcome::NotApplicable;
    }
    if current_total == 0 {
        return DriftOutcome::Skipped(
            "no current value is a baseline category, so there is no chi-squared test".into(),
        );
    }
    // Zero-count baseline buckets have no expected count either (Spark would reject them).
    let cells: Vec<Cell> = baseline
        .entries
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(value, count)| Cell {
            observed: current.get(value) as f64,
            // Deequ's order of operations, so regrouping thresholds fall the same way.
            expected: *count as f64 / baseline_total as f64 * current_total as f64,
        })
        .collect();
    let categories = cells.len();
    let cells = regroup(cells);
    let Some(test) = pearson(&cells, categories - cells.len()) else {
        return DriftOutcome::Skipped(format!(
            "fewer than 2 categories are left after merging the small ones ({categories} before), \
             so there is no chi-squared test"
        ));
    };
    let Some(p_value) = chi_squared_p_value(test.statistic, test.degrees_of_freedom) else {
        return DriftOutcome::Skipped("the chi-squared statistic is not a number".into());
    };
    // Which category moved most, for the report (not part of the test).
    let largest_change = match categorical_linf(baseline, current, ComparisonMethod::Simple, threshold) {
        DriftOutcome::Computed(linf) => linf.largest_change,
        _ => None,
    };
    DriftOutcome::Computed(Drift {
        kind: DriftKind::Categorical,
        method: DriftMethod::ChiSquared,
        value: p_value,
        threshold,
        met: p_value >= threshold,
        baseline_count: baseline_total,
        current_count: current_total,
        baseline_median: None,
        current_median: None,
        largest_change,
        chi_squared: Some(test),
    })
}

/// Deequ's `regroupCategories`: while too many expected counts are small, merge the smallest
/// category into the second smallest. "Too many": with 2 categories, any expected count below
/// 10 (Cochran); with more, more than floor(0.2 × categories) below 5 (Yates). Ties go to the
/// category listed first (Deequ's choice among equals depends on hash order).
fn regroup(mut cells: Vec<Cell>) -> Vec<Cell> {
    while cells.len() >= 2 {
        let (limit, allowed_below) = if cells.len() == 2 {
            (10.0, 0)
        } else {
            (5.0, (0.2 * cells.len() as f64) as usize)
        };
        if cells.iter().filter(|c| c.expected < limit).count() <= allowed_below {
            break;
        }
        let smallest = cells.remove(smallest_expected(&cells));
        let second = smallest_expected(&cells);
        cells[second].expected += smallest.expected;
        cells[second].observed += smallest.observed;
    }
    cells
}

/// Index of the first cell with the smallest expected count; `cells` is not empty.
fn smallest_expected(cells: &[Cell]) -> usize {
    let mut best = 0;
    for (i, cell) in cells.iter().enumerate().skip(1) {
        if cell.expected < cells[best].expected {
            best = i;
        }
    }
    best
}

/// Pearson's statistic `Σ (observed - expected)² / expected` (Spark's `chiSqTest`), or `None`
/// with fewer than 2 cells.
fn pearson(cells: &[Cell], categories_merged: usize) -> Option<ChiSquaredTest> {
    if cells.len() < 2 {
        return None;
    }
    let statistic = cells
        .iter()
        .map(|c| (c.observed - c.expected).powi(2) / c.expected)
        .sum();
    Some(ChiSquaredTest {
        statistic,
        degrees_of_freedom: cells.len() as u64 - 1,
        categories_merged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(pairs: &[(f64, f64)]) -> Vec<Cell> {
        pairs
            .iter()
            .map(|&(observed, expected)| Cell { observed, expected })
            .collect()
    }

    #[test]
    fn regrouping_merges_smallest_into_second_smallest() {
        // 6 categories allow floor(1.2) = 1 expected count below 5; two are (3 and 2): the 2
        // goes into the 3. Then 5 categories allow 1, and none is below 5.
        let merged = regroup(cells(&[
            (60.0, 50.0),
            (25.0, 30.0),
            (8.0, 10.0),
            (3.0, 5.0),
            (2.0, 3.0),
            (2.0, 2.0),
        ]));
        assert_eq!(
            merged,
            cells(&[(60.0, 50.0), (25.0, 30.0), (8.0, 10.0), (3.0, 5.0), (4.0, 5.0)])
        );
    }

    #[test]
    fn regrouping_cascades() {
        // 4 categories allow 0 below 5: 1 into 2 (→ 3), then 3 categories allow 0: 3 into 4
        // (→ 7), then 2 categories need 10 each: 7 into 20.
        let merged = regroup(cells(&[(20.0, 20.0), (4.0, 4.0), (1.0, 2.0), (2.0, 1.0)]));
        assert_eq!(merged, cells(&[(27.0, 27.0)]));
        assert_eq!(pearson(&merged, 3), None);
    }

    #[test]
    fn two_categories_need_ten_each() {
        assert_eq!(regroup(cells(&[(95.0, 90.0), (5.0, 10.0)])).len(), 2);
        assert_eq!(regroup(cells(&[(95.0, 91.0), (5.0, 9.0)])).len(), 1);
    }

    #[test]
    fn ties_merge_the_first_listed() {
        let merged = regroup(cells(&[(50.0, 50.0), (1.0, 1.0), (2.0, 1.0), (3.0, 1.0)]));
        // 1st tie (obs 1) into 2nd (obs 2) → (3, 2); then (3, 1) is smallest, into (3, 2) → (6, 3);
        // then 2 categories, 3 < 10: merged into 50.
        assert_eq!(merged, cells(&[(56.0, 53.0)]));
    }

    #[test]
    fn pearson_statistic() {
        let test = pearson(&cells(&[(95.0, 90.0), (5.0, 10.0)]), 0).unwrap();
        assert!((test.statistic - (25.0 / 90.0 + 2.5)).abs() < 1e-12);
        assert_eq!(test.degrees_of_freedom, 1);
    }

    #[test]
    fn robust_correction_floors_at_zero() {
        assert_eq!(corrected(0.3, 50, 50, ComparisonMethod::Simple), 0.3);
        assert_eq!(corrected(0.3, 50, 50, ComparisonMethod::Robust), 0.0);
        let robust = corrected(0.5, 100, 100, ComparisonMethod::Robust);
        assert!((robust - (0.5 - 1.8 * 0.02f64.sqrt())).abs() < 1e-15);
    }
}
