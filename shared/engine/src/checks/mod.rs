//! The six checks of SageMaker's data-quality monitor, run on the profile of a monitoring
//! window against the baseline's `statistics.json` and `constraints.json`:
//!
//! - `missing_column_check`: a constraints feature with no column in the current data;
//! - `extra_column_check`: a current column the constraints do not know;
//! - `data_type_check`: fewer values of the expected type than `datatype_check_threshold`;
//! - `completeness_check`: fewer present values than the feature's `completeness`;
//! - `baseline_drift_check`: distribution distance above `comparison_threshold` (numerical:
//!   L-infinity distance of the KLL CDFs; categorical: L-infinity distance of the category
//!   frequencies, or a chi-squared p-value below `categorical_comparison_threshold`);
//! - `categorical_values_check`: fewer values inside the baseline domain than
//!   `domain_content_threshold`.
//!
//! Beside the violations, [`run_checks`] returns the metric values SageMaker publishes to
//! CloudWatch and, per feature, the numbers behind each verdict. Everything is deterministic.

mod chi_square;
mod describe;
mod distributions;
mod drift;
mod metrics;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use modelmon_formats::{
    CheckType, ConstraintViolations, Constraints, FeatureConstraints, FeatureStatistics, InferredType, Statistics,
    Violation,
};
use serde::{Deserialize, Serialize};

use crate::profile::{ColumnProfile, DatasetProfile};
use crate::types::ValueKind;
pub use distributions::{
    distributions, CategoryBar, CategoryBars, Distributions, Histogram, LargestGap, NumberSummary, OtherCategories,
    Summary, HISTOGRAM_BINS, TOP_CATEGORIES,
};
use drift::DriftOutcome;
use settings::FeatureSettings;

/// Everything one analysis found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The window held no records: nothing was checked, and nothing is reported.
    pub no_data: bool,
    /// In baseline feature order, then by check type; extra columns last.
    pub violations: Vec<Violation>,
    /// Empty when `emit_metrics` is Disabled.
    pub metrics: Vec<MetricValue>,
    /// One per constraints feature (baseline order), then one per extra column.
    pub features: Vec<FeatureCheck>,
}

impl CheckReport {
    /// The message SageMaker's analyzer leaves for `DescribeProcessingJob.ExitMessage`.
    pub fn exit_message(&self) -> String {
        match self.violations.len() {
            0 => "Completed: Job completed successfully with no violations.".to_string(),
            n => format!("CompletedWithViolations: Job completed successfully with {n} violations."),
        }
    }

    /// The violations as `constraint_violations.json` holds them.
    pub fn constraint_violations(&self) -> ConstraintViolations {
        ConstraintViolations {
            violations: self.violations.clone(),
        }
    }
}

/// One CloudWatch metric value, named like SageMaker's (`feature_baseline_drift_<feature>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    pub name: String,
    pub value: MetricData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricData {
    Value(f64),
    /// CloudWatch's `StatisticValues`, for `feature_data_<feature>`.
    StatisticSet {
        sample_count: f64,
        sum: f64,
        min: f64,
        max: f64,
    },
}

/// Where a feature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// In the constraints and in the current data.
    Both,
    /// In the constraints only.
    MissingFromCurrent,
    /// In the current data only.
    NotInBaseline,
}

/// The numbers behind the verdicts on one feature; `None` where a check did not apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureCheck {
    pub name: String,
    pub presence: Presence,
    /// Whether constraints were evaluated (`evaluate_constraints`, globally and per feature).
    /// When not, the numbers are still measured but never become violations.
    pub evaluated: bool,
    pub expected_type: Option<InferredType>,
    /// The current column's type by Deequ's rules; `None` if it has no values.
    pub observed_type: Option<InferredType>,
    /// Fraction of present values matching `expected_type`, against `datatype_check_threshold`.
    pub type_match: Option<Measure>,
    /// Fraction of records with a value, against the feature's `completeness`.
    pub completeness: Option<Measure>,
    pub drift: Option<Drift>,
    /// Fraction of present values inside the baseline domain, against `domain_content_threshold`.
    pub domain_compliance: Option<Measure>,
    /// Why a check that should have run could not (e.g. an unreadable baseline sketch).
    pub notes: Vec<String>,
    /// The violations reported for this feature.
    pub violations: Vec<CheckType>,
    /// Kept examples of present values not of `expected_type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_type_examples: Vec<String>,
    /// Kept examples of values outside the baseline domain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outside_domain_examples: Vec<String>,
    /// The baseline's and the current distributions, for the report's charts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributions: Option<Distributions>,
}

/// A measured ratio and the minimum it must reach.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    pub value: f64,
    pub threshold: f64,
    /// `value >= threshold`: meeting the threshold exactly is not a violation.
    pub met: bool,
}

impl Measure {
    fn at_least(value: f64, threshold: f64) -> Self {
        Self {
            value,
            threshold,
            met: value >= threshold,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    Numerical,
    Categorical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftMethod {
    /// Plain L-infinity distance (`comparison_method: Simple`).
    LinfSimple,
    /// L-infinity distance less `1.8 * sqrt((n + m) / (n m))`, floored at 0 (`Robust`).
    LinfRobust,
    /// Pearson's chi-squared test; the value is the p-value.
    ChiSquared,
}

/// The outcome of the baseline drift comparison of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub kind: DriftKind,
    pub method: DriftMethod,
    /// The distance (L-infinity methods) or the p-value (chi-squared), as published in
    /// `feature_baseline_drift_<feature>`.
    pub value: f64,
    pub threshold: f64,
    /// Distance `<=` threshold, or p-value `>=` threshold.
    pub met: bool,
    /// Values compared: sketch weights (numerical), category counts (categorical; for the
    /// chi-squared test the current count covers baseline categories only).
    pub baseline_count: u64,
    pub current_count: u64,
    pub baseline_median: Option<f64>,
    pub current_median: Option<f64>,
    /// The category whose share moved most (categorical drift).
    pub largest_change: Option<CategoryChange>,
    pub chi_squared: Option<ChiSquaredTest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryChange {
    pub value: String,
    pub baseline_share: f64,
    pub current_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChiSquaredTest {
    pub statistic: f64,
    pub degrees_of_freedom: u64,
    /// Small categories merged into others before the test.
    pub categories_merged: usize,
}

/// Runs every check of `constraints` on the `current` profile; `baseline` supplies the
/// distributions for drift. Never fails: what cannot be checked is noted in the report.
pub fn run_checks(baseline: &Statistics, constraints: &Constraints, current: &DatasetProfile) -> CheckReport {
    let item_count = current.item_count();
    if item_count == 0 {
        return CheckReport {
            no_data: true,
            ..CheckReport::default()
        };
    }
    let config = &constraints.monitoring_config;
    // A name listed twice (a hand-edited file) is checked once, as first listed.
    let mut names = HashSet::new();
    let features: Vec<&FeatureConstraints> = constraints
        .features
        .iter()
        .filter(|f| names.insert(f.name.as_str()))
        .collect();
    let columns = by_name(&current.columns, |c| c.name.as_str());
    let baseline_features = by_name(&baseline.features, |f| f.name.as_str());
    let counts = ColumnCounts {
        baseline: features.len(),
        current: current.columns.len(),
    };

    let mut report = CheckReport::default();
    for feature in features {
        let settings = FeatureSettings::for_feature(config, feature);
        let mut run = FeatureRun::new(&feature.name, Presence::Both, &settings);
        run.check.expected_type = Some(feature.inferred_type);
        match columns.get(feature.name.as_str()) {
            Some(column) => {
                let distribution = baseline_features.get(feature.name.as_str()).copied();
                check_column(&mut run, feature, column, distribution, item_count);
                run.check.distributions = Some(distributions(distribution, Some(column), item_count));
                if settings.emit_metrics {
                    let drift = run.check.drift.as_ref();
                    report
                        .metrics
                        .extend(metrics::feature_metrics(column, item_count, drift));
                }
            }
            None => {
                run.check.presence = Presence::MissingFromCurrent;
                let distribution = baseline_features.get(feature.name.as_str()).copied();
                run.check.distributions = distribution.map(|f| distributions(Some(f), None, item_count));
                run.report(
                    CheckType::MissingColumnCheck,
                    describe::missing_column(&feature.name, counts.baseline, counts.current),
                );
            }
        }
        run.finish(&mut report);
    }

    let global = FeatureSettings::global(config);
    for column in &current.columns {
        if names.contains(column.name.as_str()) {
            continue;
        }
        let mut run = FeatureRun::new(&column.name, Presence::NotInBaseline, &global);
        run.check.observed_type = observed_type(column);
        run.check.distributions = Some(distributions(None, Some(column), item_count));
        run.report(
            CheckType::ExtraColumnCheck,
            describe::extra_column(&column.name, counts.baseline, counts.current),
        );
        run.finish(&mut report);
    }
    report
}

/// Items by name; the first of a repeated name wins.
fn by_name<'a, T>(items: &'a [T], name: impl Fn(&'a T) -> &'a str) -> HashMap<&'a str, &'a T> {
    let mut map = HashMap::with_capacity(items.len());
    for item in items {
        map.entry(name(item)).or_insert(item);
    }
    map
}

struct ColumnCounts {
    baseline: usize,
    current: usize,
}

/// The check of one feature being assembled, with the violations it reports.
struct FeatureRun<'s> {
    check: FeatureCheck,
    violations: Vec<Violation>,
    settings: &'s FeatureSettings,
}

impl<'s> FeatureRun<'s> {
    fn new(name: &str, presence: Presence, settings: &'s FeatureSettings) -> Self {
        Self {
            check: FeatureCheck {
                name: name.to_string(),
                presence,
                evaluated: settings.evaluate_constraints,
                expected_type: None,
                observed_type: None,
                type_match: None,
                completeness: None,
                drift: None,
                domain_compliance: None,
                notes: Vec::new(),
                violations: Vec::new(),
                other_type_examples: Vec::new(),
                outside_domain_examples: Vec::new(),
                distributions: None,
            },
            violations: Vec::new(),
            settings,
        }
    }

    /// Records a failed check as a violation, unless constraints are not evaluated here.
    fn report(&mut self, check_type: CheckType, description: String) {
        if !self.check.evaluated {
            return;
        }
        self.check.violations.push(check_type);
        self.violations.push(Violation {
            feature_name: self.check.name.clone(),
            constraint_check_type: check_type,
            description,
        });
    }

    fn finish(self, report: &mut CheckReport) {
        report.violations.extend(self.violations);
        report.features.push(self.check);
    }
}

/// The checks of a feature present in the current data, in check-type order (so the
/// violations come out sorted).
fn check_column(
    run: &mut FeatureRun,
    feature: &FeatureConstraints,
    column: &ColumnProfile,
    baseline: Option<&FeatureStatistics>,
    item_count: u64,
) {
    let settings = run.settings;
    let present = column.present();
    run.check.observed_type = observed_type(column);

    if present > 0 {
        let expected = feature.inferred_type;
        let ratio = column.kinds.matching(expected) as f64 / present as f64;
        let measure = Measure::at_least(ratio, settings.datatype_check_threshold);
        run.check.type_match = Some(measure);
        if ratio < 1.0 {
            run.check.other_type_examples = other_kind_examples(column, expected);
        }
        if !measure.met {
            let description = describe::data_type(expected, measure.threshold, ratio, &run.check.other_type_examples);
            run.report(CheckType::DataTypeCheck, description);
        }
    }

    if let Some(expected) = feature.completeness {
        let measure = Measure::at_least(column.completeness(item_count), expected);
        run.check.completeness = Some(measure);
        if !measure.met {
            let missing = item_count.saturating_sub(present);
            run.report(
                CheckType::CompletenessCheck,
                describe::completeness(expected, measure.value, missing, item_count),
            );
        }
    }

    if settings.perform_comparison {
        match drift::drift(baseline, column, settings) {
            DriftOutcome::Computed(drift) => {
                if !drift.met {
                    let description = match drift.kind {
                        DriftKind::Numerical => describe::numerical_drift(&drift),
                        DriftKind::Categorical => describe::categorical_drift(&drift),
                    };
                    run.report(CheckType::BaselineDriftCheck, description);
                }
                run.check.drift = Some(drift);
            }
            DriftOutcome::Skipped(reason) => run.check.notes.push(reason),
            DriftOutcome::NotApplicable => {}
        }
    }

    let domain = feature
        .string_constraints
        .as_ref()
        .and_then(|s| s.domains.as_deref())
        .filter(|domain| !domain.is_empty());
    if let Some(domain) = domain {
        match domain_count(column, domain) {
            Some(count) if count.total() > 0 => {
                let compliance = count.inside as f64 / count.total() as f64;
                let measure = Measure::at_least(compliance, settings.domain_content_threshold);
                run.check.domain_compliance = Some(measure);
                run.check.outside_domain_examples = count.outside_examples.clone();
                if !measure.met {
                    run.report(
                        CheckType::CategoricalValuesCheck,
                        describe::domain(
                            measure.threshold,
                            compliance,
                            count.outside,
                            count.total(),
                            &count.outside_examples,
                        ),
                    );
                }
            }
            Some(_) => {}
            None => run.check.notes.push(format!(
                "the current data has more than {} distinct values and no domain tally, so the baseline \
                 domain was not checked",
                crate::profile::MAX_CATEGORIES
            )),
        }
    }
}

fn observed_type(column: &ColumnProfile) -> Option<InferredType> {
    (column.present() > 0).then(|| column.kinds.inferred_type())
}

/// Kept examples of the values that do not match `expected`, taking one of each other kind
/// in turn (strings first) so that different kinds of offenders show up.
fn other_kind_examples(column: &ColumnProfile, expected: InferredType) -> Vec<String> {
    const MAX_EXAMPLES: usize = 3;
    let matches = |kind: ValueKind| match expected {
        InferredType::Integral => kind == ValueKind::Integral,
        InferredType::Fractional => matches!(kind, ValueKind::Integral | ValueKind::Fractional),
        InferredType::Boolean => kind == ValueKind::Boolean,
        InferredType::String | InferredType::Unknown => true,
    };
    let lists: Vec<&[String]> = [
        ValueKind::String,
        ValueKind::Boolean,
        ValueKind::Fractional,
        ValueKind::Integral,
    ]
    .into_iter()
    .filter(|&kind| !matches(kind))
    .map(|kind| column.examples.get(kind))
    .collect();
    let mut examples = Vec::new();
    let longest = lists.iter().map(|list| list.len()).max().unwrap_or(0);
    for i in 0..longest {
        for list in &lists {
            if let Some(example) = list.get(i) {
                if examples.len() < MAX_EXAMPLES {
                    examples.push(example.clone());
                }
            }
        }
    }
    examples
}

/// Present values inside and outside a baseline domain.
struct DomainCount {
    inside: u64,
    outside: u64,
    outside_examples: Vec<String>,
}

impl DomainCount {
    fn total(&self) -> u64 {
        self.inside.saturating_add(self.outside)
    }
}

/// From the tally the profile kept, or else from the column's exact histogram (most frequent
/// outsiders first); `None` if the column has neither.
fn domain_count(column: &ColumnProfile, domain: &[String]) -> Option<DomainCount> {
    if let Some(tally) = column.domain.as_ref().filter(|t| t.inside + t.outside > 0) {
        return Some(DomainCount {
            inside: tally.inside,
            outside: tally.outside,
            outside_examples: tally.outside_examples.clone(),
        });
    }
    let histogram = column.categories.histogram()?;
    let domain: HashSet<&str> = domain.iter().map(String::as_str).collect();
    let mut count = DomainCount {
        inside: 0,
        outside: 0,
        outside_examples: Vec::new(),
    };
    for (value, n) in histogram {
        if domain.contains(value.as_str()) {
            count.inside += n;
        } else {
            count.outside += n;
            if count.outside_examples.len() < 3 {
                count.outside_examples.push(value);
            }
        }
    }
    Some(count)
}
