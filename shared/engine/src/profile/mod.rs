//! Profiles: one-pass, mergeable summaries of a dataset's columns, and their conversion to
//! SageMaker's `statistics.json`.

mod account;
mod categories;
mod numeric;

use std::collections::HashMap;

use modelmon_formats::{
    CategoricalBucket, CategoricalDistribution, Common, Dataset, FeatureStatistics, InferredType, KllBucket,
    KllDistribution, KllParameters, KllSketchData, NumericalDistribution, NumericalStatistics, Statistics,
    StringDistribution, StringStatistics,
};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

pub use account::{RecordAccount, RejectReason, Rejections};
pub use categories::{CategoryCounts, ValueSet, MAX_CATEGORIES};
pub use numeric::NumericSummary;

use crate::sketch::{HyperLogLog, DEFAULT_BUCKET_COUNT};
use crate::types::{typed_value, KindCounts, ValueKind};
use crate::EngineError;

/// Everything known about one column so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub kinds: KindCounts,
    /// The numeric values, even when others are text: a few stray strings must not hide the
    /// drift of the numbers (the data type check reports the strings).
    pub numeric: NumericSummary,
    pub distinct: HyperLogLog,
    pub categories: CategoryCounts,
    /// The first few values seen of each kind, to name offending values in violations.
    pub examples: KindExamples,
    /// Set for analysis when the baseline has a domain for this column: counts values inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainTally>,
}

/// How many examples of each value kind a column keeps.
const EXAMPLES_PER_KIND: usize = 3;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindExamples {
    pub integral: Vec<String>,
    pub fractional: Vec<String>,
    pub boolean: Vec<String>,
    pub string: Vec<String>,
}

impl KindExamples {
    fn slot(&mut self, kind: ValueKind) -> &mut Vec<String> {
        match kind {
            ValueKind::Integral => &mut self.integral,
            ValueKind::Fractional => &mut self.fractional,
            ValueKind::Boolean => &mut self.boolean,
            ValueKind::String => &mut self.string,
        }
    }

    fn wants(&self, kind: ValueKind) -> bool {
        self.get(kind).len() < EXAMPLES_PER_KIND
    }

    fn offer(&mut self, kind: ValueKind, text: impl FnOnce() -> String) {
        let slot = self.slot(kind);
        if slot.len() < EXAMPLES_PER_KIND {
            let text = text();
            if !slot.contains(&text) {
                slot.push(text);
            }
        }
    }

    fn merge(&mut self, other: &KindExamples) {
        for kind in [
            ValueKind::Integral,
            ValueKind::Fractional,
            ValueKind::Boolean,
            ValueKind::String,
        ] {
            for text in other.get(kind) {
                self.offer(kind, || text.clone());
            }
        }
    }

    pub fn get(&self, kind: ValueKind) -> &[String] {
        match kind {
            ValueKind::Integral => &self.integral,
            ValueKind::Fractional => &self.fractional,
            ValueKind::Boolean => &self.boolean,
            ValueKind::String => &self.string,
        }
    }
}

/// Values inside and outside a baseline domain (the allowed values of a categorical column).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainTally {
    pub domain: ValueSet,
    pub inside: u64,
    pub outside: u64,
    /// The first few values outside the domain.
    pub outside_examples: Vec<String>,
}

impl DomainTally {
    pub fn new(domain: impl IntoIterator<Item = String>) -> Self {
        Self {
            domain: domain.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Counts `text`, whose `xxh3_64` is `hash`.
    fn observe(&mut self, text: &str, hash: u64) {
        if self.domain.contains(text, hash) {
            self.inside += 1;
        } else {
            self.outside += 1;
            if self.outside_examples.len() < EXAMPLES_PER_KIND && !self.outside_examples.iter().any(|e| e == text) {
                self.outside_examples.push(text.to_string());
            }
        }
    }

    fn merge(&mut self, other: &DomainTally) {
        self.inside += other.inside;
        self.outside += other.outside;
        for example in &other.outside_examples {
            if self.outside_examples.len() < EXAMPLES_PER_KIND && !self.outside_examples.contains(example) {
                self.outside_examples.push(example.clone());
            }
        }
    }
}

impl ColumnProfile {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kinds: KindCounts::default(),
            numeric: NumericSummary::default(),
            distinct: HyperLogLog::default(),
            categories: CategoryCounts::default(),
            examples: KindExamples::default(),
            domain: None,
        }
    }

    /// A present value given as text (CSV fields, JSON strings): typed by Deequ's patterns.
    pub fn observe_text(&mut self, text: &str) {
        let (kind, number) = typed_value(text);
        self.record_kind(kind, number);
        self.examples.offer(kind, || text.to_string());
        let hash = xxh3_64(text.as_bytes());
        self.distinct.insert_hash(hash);
        self.categories.observe_hashed(text, hash);
        if let Some(domain) = &mut self.domain {
            domain.observe(text, hash);
        }
    }

    /// A present value that arrived typed (JSON numbers, Parquet columns). NaN and infinities
    /// have no place in moments or sketches: the caller counts them as missing.
    pub fn observe_number(&mut self, value: f64, kind: ValueKind) {
        debug_assert!(value.is_finite());
        self.record_kind(kind, Some(value));
        self.distinct.insert(&value.to_bits().to_le_bytes());
        // Formatting a number is the costly part: only when something still wants the text.
        if self.categories.gave_up() && self.domain.is_none() && !self.examples.wants(kind) {
            return;
        }
        let text = number_text(value, kind);
        self.examples.offer(kind, || text.clone());
        let hash = xxh3_64(text.as_bytes());
        if let Some(domain) = &mut self.domain {
            domain.observe(&text, hash);
        }
        self.categories.observe_hashed(&text, hash);
    }

    /// A flat JSON value: `null` is missing, a number is Integral or Fractional by its JSON form, a
    /// string is typed by its text. Objects and arrays are the caller's to reject; here they are
    /// ignored.
    pub fn observe_json(&mut self, value: &serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Null | Value::Array(_) | Value::Object(_) => {}
            Value::Bool(b) => self.observe_bool(*b),
            Value::Number(number) => {
                let kind = if number.is_f64() {
                    ValueKind::Fractional
                } else {
                    ValueKind::Integral
                };
                match number.as_f64().filter(|v| v.is_finite()) {
                    Some(v) => self.observe_number(v, kind),
                    None => self.observe_text(&number.to_string()),
                }
            }
            Value::String(text) => self.observe_text(text),
        }
    }

    pub fn observe_bool(&mut self, value: bool) {
        self.observe_text(if value { "true" } else { "false" });
    }

    fn record_kind(&mut self, kind: ValueKind, number: Option<f64>) {
        self.kinds.add(kind);
        if let (ValueKind::Integral | ValueKind::Fractional, Some(value)) = (kind, number) {
            self.numeric.observe(value);
        }
    }

    pub fn merge(&mut self, other: &ColumnProfile) -> Result<(), EngineError> {
        self.kinds.merge(&other.kinds);
        self.numeric.merge(&other.numeric)?;
        self.distinct.merge(&other.distinct);
        self.categories.merge(&other.categories);
        self.examples.merge(&other.examples);
        match (&mut self.domain, &other.domain) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, Some(theirs)) => self.domain = Some(theirs.clone()),
            _ => {}
        }
        Ok(())
    }

    pub fn present(&self) -> u64 {
        self.kinds.present()
    }

    /// The share of the dataset's `item_count` records that have a value here.
    pub fn completeness(&self, item_count: u64) -> f64 {
        Common {
            num_present: self.present(),
            num_missing: item_count.saturating_sub(self.present()),
        }
        .completeness()
    }

    /// Distinct values: exact while the column is low-cardinality, HyperLogLog beyond.
    pub fn distinct_count(&self) -> u64 {
        match self.categories.histogram() {
            Some(histogram) => histogram.len() as u64,
            None => self.distinct.estimate().round() as u64,
        }
    }

    /// This column's `features[]` entry for a dataset of `item_count` records.
    pub fn to_feature_statistics(&self, item_count: u64) -> FeatureStatistics {
        let present = self.present();
        let common = Common {
            num_present: present,
            num_missing: item_count.saturating_sub(present),
        };
        let completeness = Some(common.completeness());
        let inferred_type = self.kinds.inferred_type();
        let summary = &self.numeric;
        match inferred_type.is_numeric() {
            true => FeatureStatistics {
                name: self.name.clone(),
                inferred_type,
                numerical_statistics: Some(NumericalStatistics {
                    common,
                    mean: summary.mean(),
                    sum: summary.sum(),
                    std_dev: summary.std_dev(),
                    min: summary.min,
                    max: summary.max,
                    approximate_num_distinct_values: Some(self.distinct_count()),
                    completeness,
                    distribution: Some(NumericalDistribution {
                        kll: Some(kll_distribution(summary)),
                    }),
                }),
                string_statistics: None,
            },
            false => FeatureStatistics {
                name: self.name.clone(),
                // Booleans are profiled as strings: SageMaker's files know no Boolean features.
                inferred_type: if inferred_type == InferredType::Boolean {
                    InferredType::String
                } else {
                    inferred_type
                },
                numerical_statistics: None,
                string_statistics: Some(StringStatistics {
                    common,
                    distinct_count: self.distinct_count() as f64,
                    completeness,
                    distribution: self.categories.histogram().filter(|h| !h.is_empty()).map(|histogram| {
                        StringDistribution {
                            categorical: Some(CategoricalDistribution {
                                buckets: histogram
                                    .into_iter()
                                    .map(|(value, count)| CategoricalBucket { value, count })
                                    .collect(),
                            }),
                        }
                    }),
                }),
            },
        }
    }
}

fn number_text(value: f64, kind: ValueKind) -> String {
    if kind == ValueKind::Integral && value.fract() == 0.0 && value.abs() < 1e18 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

fn kll_distribution(summary: &NumericSummary) -> KllDistribution {
    let sketch = &summary.sketch;
    KllDistribution {
        buckets: sketch
            .buckets(summary.min, summary.max, DEFAULT_BUCKET_COUNT)
            .into_iter()
            .map(|(lower_bound, upper_bound, count)| KllBucket {
                lower_bound,
                upper_bound,
                count,
            })
            .collect(),
        sketch: Some(KllSketchData {
            parameters: KllParameters {
                c: sketch.c(),
                k: sketch.k() as f64,
            },
            data: sketch.levels().to_vec(),
        }),
    }
}

/// A dataset's profile: its columns in order of first appearance and the account of its records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetProfile {
    pub columns: Vec<ColumnProfile>,
    pub records: RecordAccount,
    #[serde(skip)]
    /// xxh3 rather than SipHash: looked up for every field of every JSON and capture record.
    index: HashMap<String, usize, xxhash_rust::xxh3::Xxh3DefaultBuilder>,
    /// Baseline domains to tally when the named columns appear (for categorical_values_check).
    #[serde(skip)]
    domains: HashMap<String, Vec<String>>,
    /// Names for columns known only by position (header-less CSV): the baseline's features.
    #[serde(skip)]
    positional_names: Vec<String>,
    /// The column of each position seen so far: looked up for every field of every capture
    /// record, where building the name and hashing it showed.
    #[serde(skip)]
    positional_columns: Vec<Option<usize>>,
}

impl DatasetProfile {
    pub fn with_columns<S: AsRef<str>>(names: &[S]) -> Self {
        let mut profile = Self::default();
        for name in names {
            profile.column_index(name.as_ref());
        }
        profile
    }

    /// A profile that also counts, for each named column, the values inside its baseline domain.
    pub fn with_domains(domains: HashMap<String, Vec<String>>) -> Self {
        Self {
            domains,
            ..Self::default()
        }
    }

    /// An empty profile with the same settings (domains to tally, positional names): for the
    /// parts of a dataset profiled apart and merged.
    pub fn empty_like(&self) -> Self {
        Self {
            domains: self.domains.clone(),
            positional_names: self.positional_names.clone(),
            ..Self::default()
        }
    }

    /// Names header-less columns after `names` (the baseline's features, in order) instead of
    /// Spark's `_c0`, `_c1`, ... so batch data lines up with its baseline.
    pub fn with_positional_names(mut self, names: Vec<String>) -> Self {
        self.positional_names = names;
        self.positional_columns.clear();
        self
    }

    pub fn has_positional_names(&self) -> bool {
        !self.positional_names.is_empty()
    }

    /// Whether `name` is one of the positional names (a baseline feature's).
    pub fn has_positional_name(&self, name: &str) -> bool {
        self.positional_names.iter().any(|n| n == name)
    }

    /// The name of the column at `position` when the data does not name it.
    pub fn positional_name(&self, position: usize) -> String {
        self.positional_names
            .get(position)
            .cloned()
            .unwrap_or_else(|| format!("_c{position}"))
    }

    /// The index of the column at `position` when the data does not name it, adding it if new.
    pub fn positional_column(&mut self, position: usize) -> usize {
        if self.index.len() != self.columns.len() {
            self.rebuild_index();
        }
        if let Some(&Some(i)) = self.positional_columns.get(position) {
            return i;
        }
        let i = self.column_index(&self.positional_name(position));
        if self.positional_columns.len() <= position {
            self.positional_columns.resize(position + 1, None);
        }
        self.positional_columns[position] = Some(i);
        i
    }

    /// The position of column `name`, adding it (with every earlier record missing it) if new.
    pub fn column_index(&mut self, name: &str) -> usize {
        if self.index.len() != self.columns.len() {
            self.rebuild_index();
        }
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let mut column = ColumnProfile::new(name);
        column.domain = self
            .domains
            .get(name)
            .map(|domain| DomainTally::new(domain.iter().cloned()));
        self.columns.push(column);
        self.index.insert(name.to_string(), self.columns.len() - 1);
        self.columns.len() - 1
    }

    fn rebuild_index(&mut self) {
        self.positional_columns.clear();
        self.index = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
    }

    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn item_count(&self) -> u64 {
        self.records.analysed
    }

    /// Adds the profile of another part of the same dataset (another file, chunk or Lambda).
    /// Columns are matched by name; a column only one side has is missing in the other's records.
    pub fn merge(&mut self, other: &DatasetProfile) -> Result<(), EngineError> {
        for column in &other.columns {
            let i = self.column_index(&column.name);
            self.columns[i].merge(column)?;
        }
        self.records.merge(&other.records);
        Ok(())
    }

    pub fn to_statistics(&self) -> Statistics {
        let item_count = self.item_count();
        Statistics {
            version: 0.0,
            dataset: Dataset { item_count },
            features: self
                .columns
                .iter()
                .map(|c| c.to_feature_statistics(item_count))
                .collect(),
        }
    }
}
