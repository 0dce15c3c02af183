//! A feature's baseline and current distributions side by side, for the report's charts: both
//! KLL sketches binned on one shared axis, where their CDFs are furthest apart (the L-infinity
//! distance the drift check compares), the top categories' counts, and summary statistics.

use modelmon_formats::FeatureStatistics;
use serde::{Deserialize, Serialize};

use crate::profile::ColumnProfile;
use crate::sketch::{largest_gap_views, CdfView, KllSketch};
use crate::types::KindCounts;

/// Equal-width bins of a numerical histogram.
pub const HISTOGRAM_BINS: usize = 20;
/// Categories shown one by one; the rest are summed as "other".
pub const TOP_CATEGORIES: usize = 8;

/// Whatever of the two sides exists: a feature missing from the current data has only its
/// baseline, a column the baseline does not know only its current side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distributions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Summary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Summary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<CategoryBars>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub present: u64,
    pub missing: u64,
    /// The present values by kind; current data only (statistics.json keeps no type mix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<KindCounts>,
    /// The numeric values' statistics (also of a column typed String that holds numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<NumberSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NumberSummary {
    pub count: u64,
    pub mean: f64,
    pub std_dev: f64,
    pub min: f64,
    /// From the KLL sketch.
    pub median: Option<f64>,
    pub max: f64,
}

/// Both sketches' weights in [`HISTOGRAM_BINS`] equal-width bins over the range of both:
/// bin `i` covers `[edge(i), edge(i + 1))`, the last one also its upper edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub min: f64,
    pub max: f64,
    /// Empty when that side has no numbers.
    pub baseline: Vec<u64>,
    pub current: Vec<u64>,
    /// Where the two CDFs are furthest apart (before any robust correction); both sides only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub largest_gap: Option<LargestGap>,
}

impl Histogram {
    pub fn bins(&self) -> usize {
        self.baseline.len().max(self.current.len())
    }

    /// The lower edge of bin `i` (`edge(bins())` is the upper end), as [`CdfView::buckets`]
    /// computes it.
    pub fn edge(&self, i: usize) -> f64 {
        self.min + (self.max - self.min) * i as f64 / self.bins() as f64
    }
}

/// The CDFs (fraction of weight `<= at`) where they differ most.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LargestGap {
    pub at: f64,
    pub baseline: f64,
    pub current: f64,
}

/// The most prominent categories (by the larger of their two shares), then the rest summed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryBars {
    pub baseline_total: u64,
    /// 0 when there is no current side.
    pub current_total: u64,
    pub top: Vec<CategoryBar>,
    pub other: OtherCategories,
}

/// A count of 0 on one side is a new (baseline 0) or vanished (current 0) value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryBar {
    pub value: String,
    pub baseline: u64,
    pub current: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OtherCategories {
    pub categories: usize,
    pub baseline: u64,
    pub current: u64,
}

/// The distributions of a feature: `baseline` from statistics.json, `current` from the profile
/// of a window of `item_count` records.
pub fn distributions(
    baseline: Option<&FeatureStatistics>,
    current: Option<&ColumnProfile>,
    item_count: u64,
) -> Distributions {
    let baseline_view = baseline.and_then(baseline_view);
    let current_view = current
        .filter(|column| column.numeric.count > 0)
        .map(|column| column.numeric.sketch.cdf_view());
    // The baseline's type decides the chart; without a baseline, the current column's.
    let numerical = match baseline {
        Some(feature) => feature.numerical_statistics.is_some(),
        None => current.is_some_and(|column| column.kinds.inferred_type().is_numeric()),
    };
    let histogram = if numerical {
        let baseline_side = baseline_view
            .as_ref()
            .zip(baseline.and_then(|f| f.numerical_statistics.as_ref()));
        let current_side = current_view.as_ref().zip(current.map(|c| &c.numeric));
        histogram(
            baseline_side.map(|(view, stats)| (view, stats.min, stats.max)),
            current_side.map(|(view, numbers)| (view, numbers.min, numbers.max)),
        )
    } else {
        None
    };
    Distributions {
        baseline: baseline.map(|feature| baseline_summary(feature, baseline_view.as_ref())),
        current: current.map(|column| current_summary(column, item_count, current_view.as_ref())),
        histogram,
        categories: if numerical { None } else { categories(baseline, current) },
    }
}

fn baseline_view(feature: &FeatureStatistics) -> Option<CdfView> {
    let data = feature
        .numerical_statistics
        .as_ref()?
        .distribution
        .as_ref()?
        .kll
        .as_ref()?
        .sketch
        .as_ref()?;
    let k = data.parameters.k;
    let k = if k.is_finite() && k >= 0.0 { k as usize } else { 0 };
    let view = KllSketch::from_levels(data.parameters.c, k, data.data.clone())
        .ok()?
        .cdf_view();
    (!view.is_empty()).then_some(view)
}

fn baseline_summary(feature: &FeatureStatistics, view: Option<&CdfView>) -> Summary {
    let common = feature.common().copied().unwrap_or(modelmon_formats::Common {
        num_present: 0,
        num_missing: 0,
    });
    let numbers = feature
        .numerical_statistics
        .as_ref()
        .filter(|n| n.common.num_present > 0);
    let distinct = match (&feature.numerical_statistics, &feature.string_statistics) {
        (Some(numbers), _) => numbers.approximate_num_distinct_values,
        (None, Some(strings)) => Some(strings.distinct_count.round() as u64),
        (None, None) => None,
    };
    Summary {
        present: common.num_present,
        missing: common.num_missing,
        kinds: None,
        numbers: numbers.map(|n| NumberSummary {
            count: n.common.num_present,
            mean: n.mean,
            std_dev: n.std_dev,
            min: n.min,
            median: view.and_then(|v| v.quantile(0.5)),
            max: n.max,
        }),
        distinct,
    }
}

fn current_summary(column: &ColumnProfile, item_count: u64, view: Option<&CdfView>) -> Summary {
    let present = column.present();
    let numbers = &column.numeric;
    Summary {
        present,
        missing: item_count.saturating_sub(present),
        kinds: Some(column.kinds),
        numbers: (numbers.count > 0).then(|| NumberSummary {
            count: numbers.count,
            mean: numbers.mean(),
            std_dev: numbers.std_dev(),
            min: numbers.min,
            median: view.and_then(|v| v.quantile(0.5)),
            max: numbers.max,
        }),
        distinct: Some(column.distinct_count()),
    }
}

/// A sketch's CDF view with the exact min and max of its column.
type Side<'a> = (&'a CdfView, f64, f64);

fn histogram(baseline: Option<Side>, current: Option<Side>) -> Option<Histogram> {
    let sides = [baseline, current];
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for (view, low, high) in sides.iter().flatten() {
        // The exact extremes, and the sketch's own should a hand-edited file disagree.
        let values = view.values();
        min = min.min(*low).min(values[0]);
        max = max.max(*high).max(values[values.len() - 1]);
    }
    if !(min.is_finite() && max.is_finite()) {
        return None;
    }
    if min == max {
        // One value: a bin around it rather than bins of zero width.
        let pad = (min.abs() * 1e-3).max(0.5);
        (min, max) = (min - pad, max + pad);
    }
    let weights = |side: Option<Side>| match side {
        Some((view, _, _)) => view
            .buckets(min, max, HISTOGRAM_BINS)
            .into_iter()
            .map(|(_, _, count)| count as u64)
            .collect(),
        None => Vec::new(),
    };
    let largest_gap = match (baseline, current) {
        (Some((b, _, _)), Some((c, _, _))) => largest_gap_views(b, c).map(|gap| LargestGap {
            at: gap.at,
            baseline: gap.a,
            current: gap.b,
        }),
        _ => None,
    };
    Some(Histogram {
        min,
        max,
        baseline: weights(baseline),
        current: weights(current),
        largest_gap,
    })
}

fn categories(baseline: Option<&FeatureStatistics>, current: Option<&ColumnProfile>) -> Option<CategoryBars> {
    let baseline_buckets: Vec<(String, u64)> = match baseline {
        Some(feature) => {
            let buckets = &feature
                .string_statistics
                .as_ref()?
                .distribution
                .as_ref()?
                .categorical
                .as_ref()?
                .buckets;
            buckets.iter().map(|b| (b.value.clone(), b.count)).collect()
        }
        None => Vec::new(),
    };
    let current_buckets = match current {
        Some(column) => column.categories.histogram()?,
        None => Vec::new(),
    };
    if baseline_buckets.is_empty() && current_buckets.is_empty() {
        return None;
    }
    // Baseline categories in their order, then the current data's new ones in theirs.
    let mut bars: Vec<CategoryBar> = Vec::with_capacity(baseline_buckets.len());
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (value, count) in baseline_buckets {
        match index.get(&value) {
            Some(&i) => bars[i].baseline += count,
            None => {
                index.insert(value.clone(), bars.len());
                bars.push(CategoryBar {
                    value,
                    baseline: count,
                    current: 0,
                });
            }
        }
    }
    for (value, count) in current_buckets {
        match index.get(&value) {
            Some(&i) => bars[i].current += count,
            None => {
                index.insert(value.clone(), bars.len());
                bars.push(CategoryBar {
                    value,
                    baseline: 0,
                    current: count,
                });
            }
        }
    }
    let baseline_total: u64 = bars.iter().map(|b| b.baseline).sum();
    let current_total: u64 = bars.iter().map(|b| b.current).sum();
    let share = |count: u64, total: u64| if total == 0 { 0.0 } else { count as f64 / total as f64 };
    let prominence = |bar: &CategoryBar| share(bar.baseline, baseline_total).max(share(bar.current, current_total));
    bars.sort_by(|a, b| {
        prominence(b)
            .total_cmp(&prominence(a))
            .then_with(|| a.value.cmp(&b.value))
    });
    let rest = bars.split_off(bars.len().min(TOP_CATEGORIES));
    let other = rest
        .iter()
        .fold(OtherCategories::default(), |sum, bar| OtherCategories {
            categories: sum.categories + 1,
            baseline: sum.baseline + bar.baseline,
            current: sum.current + bar.current,
        });
    Some(CategoryBars {
        baseline_total,
        current_total,
        top: bars,
        other,
    })
}
