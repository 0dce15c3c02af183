//! Exact value counts for low-cardinality columns, given up once a column has too many values.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

/// SageMaker (Deequ's `lowCardinalityHistogramThreshold`) keeps a categorical histogram only
/// for columns with at most this many distinct values.
pub const MAX_CATEGORIES: usize = 120;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoryCounts {
    /// xxh3 rather than SipHash: this map is probed once per value of every column.
    counts: HashMap<String, u64, Xxh3DefaultBuilder>,
    overflowed: bool,
}

impl CategoryCounts {
    pub fn observe(&mut self, value: &str) {
        if self.overflowed {
            return;
        }
        if let Some(count) = self.counts.get_mut(value) {
            *count += 1;
        } else if self.counts.len() < MAX_CATEGORIES {
            self.counts.insert(value.to_string(), 1);
        } else {
            self.give_up();
        }
    }

    /// True once the column has shown more than [`MAX_CATEGORIES`] distinct values.
    pub fn gave_up(&self) -> bool {
        self.overflowed
    }

    fn give_up(&mut self) {
        self.overflowed = true;
        self.counts = HashMap::default();
    }

    pub fn merge(&mut self, other: &CategoryCounts) {
        if other.overflowed {
            self.give_up();
        }
        if self.overflowed {
            return;
        }
        for (value, count) in &other.counts {
            *self.counts.entry(value.clone()).or_insert(0) += count;
        }
        if self.counts.len() > MAX_CATEGORIES {
            self.give_up();
        }
    }

    /// The exact histogram, most frequent first (ties by value, so output is deterministic);
    /// `None` when the column has more than [`MAX_CATEGORIES`] distinct values.
    pub fn histogram(&self) -> Option<Vec<(String, u64)>> {
        if self.overflowed {
            return None;
        }
        let mut buckets: Vec<(String, u64)> = self.counts.iter().map(|(v, c)| (v.clone(), *c)).collect();
        buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Some(buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_exact_counts_up_to_the_limit() {
        let mut counts = CategoryCounts::default();
        for i in 0..MAX_CATEGORIES {
            for _ in 0..=i % 3 {
                counts.observe(&format!("v{i}"));
            }
        }
        let histogram = counts.histogram().unwrap();
        assert_eq!(histogram.len(), MAX_CATEGORIES);
        assert_eq!(
            histogram.iter().map(|(_, c)| c).sum::<u64>(),
            (0..120u64).map(|i| i % 3 + 1).sum::<u64>()
        );
        // v2, v5, v8, ... occur 3 times; among them "v101" sorts first.
        assert_eq!(
            histogram[0],
            ("v101".to_string(), 3),
            "most frequent first, ties by value"
        );
        counts.observe("one more");
        assert_eq!(counts.histogram(), None);
    }

    #[test]
    fn merging_past_the_limit_gives_up() {
        let mut a = CategoryCounts::default();
        let mut b = CategoryCounts::default();
        for i in 0..100 {
            a.observe(&format!("a{i}"));
            b.observe(&format!("b{i}"));
        }
        let mut same = a.clone();
        same.merge(&a);
        assert_eq!(same.histogram().unwrap()[0].1, 2);
        a.merge(&b);
        assert_eq!(a.histogram(), None);
    }
}
